"""Small helpers shared by templates' callers: shortening text people typed, and the fields of a
case or a request that notices show, as plain values."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from models.case import Outcome
from models.org import Track
from models.request import ApprovalRequest

PREVIEW_LIMIT = 600

IDENTITY_CHOICES = {
    "named": (
        "留下姓名和手机号，便于工作人员联系核实。"
        "诉求件的姓名和电话仅承办人员、本组组长和委领导可以查看，每次查看都有记录；"
        "问题线索的姓名和电话不向办理人员显示。"
    ),
    "anonymous": (
        "不留姓名和电话，提交后获得回执码，凭回执码查询进展。"
        "诉求件中企业名称承办人员可见（办理需要）；问题线索中企业名称也不向承办人员显示。"
    ),
}
"""What 实名 and 匿名 mean, said the same in the chat and on the web (反映方式): who can see what."""


REPORTER_OUTCOMES: dict[Outcome, str | None] = {
    Outcome.SOLVED: "问题已解决",
    Outcome.RECTIFIED: "问题已整改",
    Outcome.UNFOUNDED: "经核查，反映问题不属实",
    Outcome.CLUE_TRANSFERRED: "已作为问题线索依规依纪处理",
    Outcome.OTHER: None,  # nothing to name: the 办理情况 says it
}
"""How a reporter reads an appeal's 办理结果 (staff lists keep the short labels of ``Outcome``)."""


def reporter_outcome(outcome: Outcome | None) -> str | None:
    """The 办理结果 told to the reporter, or None where the summary alone says it."""
    return REPORTER_OUTCOMES.get(outcome) if outcome is not None else None


def preview(text: str, limit: int = PREVIEW_LIMIT) -> str:
    """At most ``limit`` characters of a description, marking the cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + "……（全文请点“查看材料”）"


class CaseFields(Protocol):
    """What ``case_params`` reads of a case (a ``Case``, or a row the sweep read)."""

    @property
    def number(self) -> str: ...
    @property
    def track(self) -> Track: ...
    @property
    def supervised(self) -> bool: ...
    @property
    def reopen_count(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...


def case_params(case: CaseFields) -> dict[str, Any]:
    """The fields of a case that notices show, as plain values for ``Notice.of(case=...)``."""
    return {
        "number": case.number,
        "track": case.track,
        "supervised": case.supervised,
        "reopen_count": case.reopen_count,
        "created_at": case.created_at,
    }


def request_params(request: ApprovalRequest) -> dict[str, Any]:
    """The fields of an approval request that notices show, as plain values."""
    return {
        "kind": request.kind,
        "kind_label": request.kind.label,
        "days": request.days,
        "reason": request.reason,
        # 办结审核: what the assignee proposes (the reviewer signs off the amount too)
        "amount_yuan": (request.proposal or {}).get("amount_yuan"),
    }
