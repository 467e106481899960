"""Requests a team leader decides: 申请延期 (extension), 退回 (return), 转办 (transfer), filed by
the assignee; 撤回 (withdrawal) of a clue, filed by a reporter by receipt code; and the one the
委领导 decide: 重办 after a 不满意 past the configured number of 重办."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.clock import ClockKind
from models.types import NullableJSON, UTCDateTime, enum_type


class RequestKind(enum.StrEnum):
    EXTENSION = "extension"
    RETURN = "return"
    TRANSFER = "transfer"
    WITHDRAWAL = "withdrawal"  # a clue's 撤回 by receipt code (filed by a reporter)
    REOPEN = "reopen"  # 不满意 past ``[limits] max_reopens``: the 委领导 decide on 重办
    RESOLUTION = "resolution"  # 组长审核: the assignee's 办结 before it reaches the reporter

    @property
    def label(self) -> str:
        return REQUEST_LABELS[self]

    @property
    def by_reporter(self) -> bool:
        """Filed by (or for) a reporter, not by the case's assignee."""
        return self in (RequestKind.WITHDRAWAL, RequestKind.REOPEN)


REQUEST_LABELS = {
    RequestKind.EXTENSION: "延期",
    RequestKind.RETURN: "退回",
    RequestKind.TRANSFER: "转办",
    RequestKind.WITHDRAWAL: "撤回",
    RequestKind.REOPEN: "重办",
    RequestKind.RESOLUTION: "办结审核",
}


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {
            "pending": "待审批",
            "approved": "已同意",
            "refused": "未同意",
            "cancelled": "已撤销",
        }[self.value]


class ApprovalRequest(SQLModel, table=True):
    """An inspector's request (or a reporter's, for a clue's 撤回) that waits for the team
    leader."""

    __tablename__ = "approval_requests"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: RequestKind = Field(sa_type=enum_type(RequestKind, 12))
    status: RequestStatus = Field(
        default=RequestStatus.PENDING, sa_type=enum_type(RequestStatus, 12), index=True
    )
    requested_by_id: int | None = Field(default=None, foreign_key="inspectors.id")
    """The inspector who asked; None for a reporter's request (``reporter_id``)."""
    reporter_id: int | None = Field(default=None, foreign_key="reporters.id")
    reason: str = Field(sa_type=sa.Text)
    clock: ClockKind | None = Field(default=None, sa_type=enum_type(ClockKind, 12))
    days: int | None = None  # working days asked for (extension)
    target_team_id: int | None = Field(default=None, foreign_key="teams.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    decided_by_id: int | None = Field(default=None, foreign_key="inspectors.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note: str | None = Field(default=None, sa_type=sa.Text)
    proposal: dict[str, Any] | None = Field(default=None, sa_type=NullableJSON)
    """办结审核: the outcome, summary and amount the assignee proposes."""

    @classmethod
    def filed(
        cls,
        case_id: int,
        kind: RequestKind,
        *,
        by: int,
        reason: str,
        at: datetime,
        days: int | None = None,
        target_team_id: int | None = None,
    ) -> ApprovalRequest:
        """A request as an inspector files it, waiting for the team leader; an extension is
        always on the 办结 clock."""
        return cls(
            case_id=case_id,
            kind=kind,
            requested_by_id=by,
            reason=reason,
            clock=ClockKind.RESOLVE if kind is RequestKind.EXTENSION else None,
            days=days,
            target_team_id=target_team_id,
            created_at=at,
        )

    @classmethod
    def withdrawal(
        cls, case_id: int, *, reporter_id: int | None, reason: str, at: datetime
    ) -> ApprovalRequest:
        """A clue's 撤回 as a reporter asks it by receipt code, waiting for the team leader."""
        return cls(
            case_id=case_id,
            kind=RequestKind.WITHDRAWAL,
            reporter_id=reporter_id,
            reason=reason,
            created_at=at,
        )

    @classmethod
    def reopen(cls, case_id: int, *, reason: str, at: datetime) -> ApprovalRequest:
        """A 不满意 the 委领导 decide on (重办 or 结案): it names no reporter row (the case's
        reporter is the one who answered; an anonymous case's link stays sealed)."""
        return cls(case_id=case_id, kind=RequestKind.REOPEN, reason=reason, created_at=at)

    def decide(self, *, by: int, approve: bool, at: datetime) -> None:
        """The team leader's decision: 已同意 or 未同意, by whom and when."""
        self.status = RequestStatus.APPROVED if approve else RequestStatus.REFUSED
        self.decided_by_id = by
        self.decided_at = at
