"""问题线索处置: how a clue is disposed of, decided collectively (集体研判).

The assignee proposes a disposition with a reason; the team leader reviews it (agrees: it goes
to a 委领导; disagrees: back to the assignee with a note); a 委领导 approves or refuses. One row
per proposal; an approved one is the clue's current disposition until the next is approved
(``ended_at``). 立案审查 and 予以了结 close the clue in Lianka: a case placed on file is handled
outside, in the 审查调查 system.
"""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, enum_type


class Disposition(enum.StrEnum):
    TALK = "talk"  # 谈话函询
    VERIFY = "verify"  # 初步核实
    HOLD = "hold"  # 暂存待查
    DISMISS = "dismiss"  # 予以了结
    FILE = "file"  # 立案审查

    @property
    def label(self) -> str:
        return DISPOSITION_LABELS[self]

    @property
    def closes(self) -> bool:
        """立案审查 and 予以了结 end the clue's life in Lianka."""
        return self in (Disposition.DISMISS, Disposition.FILE)


DISPOSITION_LABELS = {
    Disposition.TALK: "谈话函询",
    Disposition.VERIFY: "初步核实",
    Disposition.HOLD: "暂存待查",
    Disposition.DISMISS: "予以了结",
    Disposition.FILE: "立案审查",
}

NEXT: dict[Disposition | None, tuple[Disposition, ...]] = {
    None: (Disposition.TALK, Disposition.VERIFY, Disposition.HOLD, Disposition.DISMISS),
    Disposition.TALK: (Disposition.DISMISS, Disposition.VERIFY),
    Disposition.VERIFY: (Disposition.FILE, Disposition.DISMISS),
    Disposition.HOLD: (
        Disposition.TALK,
        Disposition.VERIFY,
        Disposition.DISMISS,
    ),  # 暂存待查 picked up again
    Disposition.DISMISS: (),
    Disposition.FILE: (),
}
"""What may be proposed after the current approved disposition (None: the first proposal)."""


REPORTER_RESULTS = {
    Disposition.FILE: "已立案审查",
    Disposition.DISMISS: "经核查，予以了结",
}
"""What a 实名 reporter reads of a closing disposition (never who was talked to or checked)."""


class ProposalStatus(enum.StrEnum):
    PROPOSED = "proposed"  # waiting for the team leader's review
    REVIEWED = "reviewed"  # the team leader agreed (or the review was skipped): a 委领导 decides
    SENT_BACK = "sent_back"  # the team leader disagreed: back to the assignee
    APPROVED = "approved"
    REFUSED = "refused"  # the 委领导 refused: nothing changed
    LAPSED = "lapsed"  # the clue moved on (reassigned, withdrawn) before a decision

    @property
    def label(self) -> str:
        return PROPOSAL_LABELS[self]


PROPOSAL_LABELS = {
    ProposalStatus.PROPOSED: "待组长审核",
    ProposalStatus.REVIEWED: "待委领导审批",
    ProposalStatus.SENT_BACK: "组长退回修改",
    ProposalStatus.APPROVED: "已批准",
    ProposalStatus.REFUSED: "委领导未批准",
    ProposalStatus.LAPSED: "已失效",
}

PENDING = frozenset({ProposalStatus.PROPOSED, ProposalStatus.REVIEWED})


class ClueDisposition(SQLModel, table=True):
    """One proposed disposition of a clue and what became of it."""

    __tablename__ = "clue_dispositions"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: Disposition = Field(sa_type=enum_type(Disposition, 12))
    status: ProposalStatus = Field(sa_type=enum_type(ProposalStatus, 12))
    reason: str = Field(sa_type=sa.Text)
    people: int | None = None  # 立案审查: people placed on file (人); the case is one 件
    proposed_by_id: int = Field(foreign_key="inspectors.id")
    proposed_at: datetime = Field(sa_type=UTCDateTime)
    reviewed_by_id: int | None = Field(default=None, foreign_key="inspectors.id")
    reviewed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    review_note: str | None = Field(default=None, sa_type=sa.Text)
    review_skipped: bool = False
    decided_by_id: int | None = Field(default=None, foreign_key="inspectors.id")
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    decision_note: str | None = Field(default=None, sa_type=sa.Text)
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    objection: str | None = Field(default=None, sa_type=sa.Text)  # the reporter's one 异议
    objected_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
