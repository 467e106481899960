"""问题/诉求/线索: a reported case, its states and the allowed transitions between them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models import keys
from models.errors import InvalidTransition
from models.notification import Channel
from models.org import Track
from models.types import UTCDateTime, enum_type

if TYPE_CHECKING:
    from models.reporter import Reporter


class CaseStatus(enum.StrEnum):
    SUBMITTED = "submitted"  # in a team's queue, nobody assigned yet
    ASSIGNED = "assigned"  # an inspector must sign for it
    ACCEPTED = "accepted"  # 签收
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"  # 办结, waiting for the follow-up
    CLOSED = "closed"
    RETURNED = "returned"  # 退回, back to the dispatcher for re-routing
    REOPENED = "reopened"  # 重办
    WITHDRAWN = "withdrawn"  # by the reporter, before acceptance

    @property
    def label(self) -> str:
        """The name inspectors and leaders see."""
        return STATUS_LABELS[self]


STATUS_LABELS = {
    CaseStatus.SUBMITTED: "待分办",
    CaseStatus.ASSIGNED: "待签收",
    CaseStatus.ACCEPTED: "已签收",
    CaseStatus.IN_PROGRESS: "办理中",
    CaseStatus.RESOLVED: "已办结",
    CaseStatus.CLOSED: "已结案",
    CaseStatus.RETURNED: "已退回",
    CaseStatus.REOPENED: "重办中",
    CaseStatus.WITHDRAWN: "已撤回",
}

ALLOWED: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.SUBMITTED: frozenset(
        {CaseStatus.ASSIGNED, CaseStatus.RETURNED, CaseStatus.WITHDRAWN}
    ),
    CaseStatus.ASSIGNED: frozenset(
        {
            CaseStatus.ACCEPTED,
            CaseStatus.SUBMITTED,  # unassigned: back to the team leader's queue
            CaseStatus.RETURNED,
            CaseStatus.WITHDRAWN,
        }
    ),
    CaseStatus.ACCEPTED: frozenset(
        {
            CaseStatus.IN_PROGRESS,
            CaseStatus.RESOLVED,
            CaseStatus.RETURNED,
            CaseStatus.SUBMITTED,  # 转办 to another team
        }
    ),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.RESOLVED, CaseStatus.SUBMITTED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.CLOSED, CaseStatus.REOPENED}),
    CaseStatus.REOPENED: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED}),
    CaseStatus.RETURNED: frozenset(
        {CaseStatus.SUBMITTED, CaseStatus.ASSIGNED, CaseStatus.WITHDRAWN}
    ),
    CaseStatus.CLOSED: frozenset(),
    CaseStatus.WITHDRAWN: frozenset(),
}

OPEN_STATUSES = frozenset(
    {
        CaseStatus.SUBMITTED,
        CaseStatus.ASSIGNED,
        CaseStatus.ACCEPTED,
        CaseStatus.IN_PROGRESS,
        CaseStatus.RETURNED,
        CaseStatus.REOPENED,
    }
)
"""Cases someone on the commission's side still has to work."""

WORKING_STATUSES = frozenset({CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS, CaseStatus.REOPENED})
"""Cases in hand: an inspector has signed for them (签收) and not yet resolved them."""

AWAITING_ACCEPTANCE = frozenset({CaseStatus.SUBMITTED, CaseStatus.ASSIGNED, CaseStatus.RETURNED})
"""Cases nobody has signed for yet: the 签收 clock runs and the reporter may still withdraw."""

FINISHED_STATUSES = frozenset({CaseStatus.RESOLVED, CaseStatus.CLOSED})
"""Cases whose work is done (办结, then perhaps 结案): the reporter sees 已办结."""

RETURNABLE = frozenset({CaseStatus.ASSIGNED, CaseStatus.ACCEPTED})
"""退回 to the dispatcher: before the work has started (the transition table says so)."""

TRANSFERABLE = frozenset({CaseStatus.ASSIGNED, CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS})
"""Cases that can go back to a team's queue (转办 to another team, or unassigned when their
inspector leaves): assigned or worked, not yet resolved (a 重办 case stays with its team)."""

ASSIGNABLE = AWAITING_ACCEPTANCE | WORKING_STATUSES
"""Cases a team leader may (re)assign to an inspector: open and not yet resolved."""

NAMED_WITH_MATERIALS = "实名（点“查看材料”查看联系方式，查看将被记录）"
"""A named reporter in the assignment notice: the contact is behind a logged button."""

CLUE_REPORTER_LINE = "问题线索，反映人信息保密"
"""How staff see the reporter of a clue: never who it is (检举控告工作规则)."""


def reporter_line(track: Track, *, anonymous: bool, named: str) -> str:
    """Who reported the case, as staff see it: a clue's reporter stays confidential, an
    anonymous one is 匿名, a named one is shown as ``named`` (实名, with a hint where useful)."""
    if track is Track.CLUE:
        return CLUE_REPORTER_LINE
    return "匿名" if anonymous else named


def check_transition(current: CaseStatus, target: CaseStatus) -> None:
    """Refuse any transition the table does not allow."""
    if target not in ALLOWED[current]:
        raise InvalidTransition(current.value, target.value)


def reporter_label(status: CaseStatus, track: Track) -> str:
    """The status a reporter sees; a clue shows only 已受理 (once a person accepted it) and
    已办结 (检举控告工作规则), and before that 已提交，待受理 as an appeal does."""
    if status is CaseStatus.WITHDRAWN:
        return "已撤回"
    if status in FINISHED_STATUSES:
        return "已办结"
    if track is Track.CLUE:
        return "已提交，待受理" if status in AWAITING_ACCEPTANCE else "已受理"
    return {
        CaseStatus.SUBMITTED: "已提交，待受理",
        CaseStatus.ASSIGNED: "已提交，待受理",
        CaseStatus.RETURNED: "已提交，待受理",
        CaseStatus.ACCEPTED: "已受理",
        CaseStatus.IN_PROGRESS: "办理中",
        CaseStatus.REOPENED: "重新办理中",
    }[status]


def reporter_status(case: Case) -> str:
    """``reporter_label`` of a case: a clue its reporter was told is 已受理 stays so while it
    changes hands inside the commission (they are told of 受理 once, not of the move)."""
    told = case.first_reply_at is not None and case.status in AWAITING_ACCEPTANCE
    if case.track is Track.CLUE and told:
        return "已受理"
    return reporter_label(case.status, case.track)


class Outcome(enum.StrEnum):
    """How a case was resolved (办结)."""

    SOLVED = "solved"
    RECTIFIED = "rectified"
    UNFOUNDED = "unfounded"
    CLUE_TRANSFERRED = "clue_transferred"
    OTHER = "other"

    @property
    def label(self) -> str:
        return OUTCOME_LABELS[self]


OUTCOME_LABELS = {
    Outcome.SOLVED: "问题已解决",
    Outcome.RECTIFIED: "已整改",
    Outcome.UNFOUNDED: "反映不实",
    Outcome.CLUE_TRANSFERRED: "移交线索",
    Outcome.OTHER: "其他",
}


class Satisfaction(enum.StrEnum):
    """The reporter's answer at follow-up (回访)."""

    SATISFIED = "satisfied"
    BASIC = "basic"
    UNSATISFIED = "unsatisfied"
    UNRATED = "unrated"

    @property
    def label(self) -> str:
        return SATISFACTION_LABELS[self]


SATISFACTION_LABELS = {
    Satisfaction.SATISFIED: "满意",
    Satisfaction.BASIC: "基本满意",
    Satisfaction.UNSATISFIED: "不满意",
    Satisfaction.UNRATED: "未评价",
}


_VERSION = sa.Column("version", sa.Integer, nullable=False)


OPEN_PREDICATE = "status IN ({})".format(", ".join(f"'{s}'" for s in sorted(OPEN_STATUSES)))
"""``OPEN_STATUSES`` as the predicate of ``ix_cases_open`` (``case_lists.is_open`` names it)."""


class Case(SQLModel, table=True):
    """A reported issue and where it stands; its history is in ``CaseEvent``."""

    __tablename__ = "cases"

    __table_args__ = (
        # the report's 合并办理 count of a period reads the merged cases only
        sa.Index(
            "ix_cases_merged_closed_at",
            "closed_at",
            sqlite_where=sa.text("merged_into_id IS NOT NULL"),
            postgresql_where=sa.text("merged_into_id IS NOT NULL"),
        ),
        # the console's counts read these indexes alone on PostgreSQL (migration 0025): by team
        # and status (/stats, the 工作台), and the open cases (a leader's hidden clues, a team's)
        sa.Index(
            "ix_cases_team_status",
            "team_id",
            "status",
            postgresql_include=["supervised", "amount_coordinated_yuan"],
        ),
        sa.Index(  # the lists' newest first, what a line's visibility needs beside it
            "ix_cases_newest",
            "created_at",
            "id",
            postgresql_include=["status", "track", "team_id", "assignee_id"],
        ),
        sa.Index(  # the 超期 list's cases looked up by id from their late clocks (0027)
            "ix_cases_by_id",
            "id",
            postgresql_include=["created_at", "status", "track", "team_id", "assignee_id"],
        ),
        sa.Index(
            "ix_cases_open",
            "team_id",
            "assignee_id",
            sqlite_where=sa.text(OPEN_PREDICATE),
            postgresql_where=sa.text(OPEN_PREDICATE),
            postgresql_include=["track", "id", "supervised", "status"],
        ),
    )
    __mapper_args__ = {"version_id_col": _VERSION}

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=24, unique=True)
    track: Track = Field(sa_type=enum_type(Track, 8))
    status: CaseStatus = Field(sa_type=enum_type(CaseStatus, 16), index=True)
    category_id: int = Field(foreign_key="categories.id", index=True)
    zone_id: int | None = Field(default=None, foreign_key="zones.id", index=True)
    enterprise_id: int | None = Field(default=None, foreign_key="enterprises.id", index=True)
    card_id: int | None = Field(default=None, foreign_key="cards.id")
    team_id: int | None = Field(default=None, foreign_key="teams.id", index=True)
    assignee_id: int | None = Field(default=None, foreign_key="inspectors.id", index=True)
    reporter_id: int | None = Field(default=None, foreign_key="reporters.id", index=True)
    reporter_ref: str | None = Field(default=None, max_length=255)  # anonymous: sealed link
    reporter_index: str | None = Field(default=None, max_length=64, index=True)
    anonymous: bool = True
    receipt_hash: str | None = Field(default=None, max_length=64, unique=True)
    submission_key: str | None = Field(default=None, max_length=80, unique=True)
    description: str = Field(sa_type=sa.Text)
    amount_involved_yuan: int | None = Field(default=None, sa_type=sa.BigInteger)
    amount_coordinated_yuan: int | None = Field(default=None, sa_type=sa.BigInteger)
    outcome: Outcome | None = Field(default=None, sa_type=enum_type(Outcome, 20))
    outcome_summary: str | None = Field(default=None, sa_type=sa.Text)
    satisfaction: Satisfaction | None = Field(default=None, sa_type=enum_type(Satisfaction, 12))
    satisfaction_note: str | None = Field(default=None, sa_type=sa.Text)
    supervised: bool = False  # 督办
    supervised_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    supervised_by_id: int | None = Field(default=None, foreign_key="inspectors.id")
    routed_by: str | None = Field(default=None, max_length=60)
    reopen_count: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    accepted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    first_reply_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    event_count: int = 0
    last_event_hash: str = Field(default="", max_length=64)
    version: int = Field(default=1, sa_column=_VERSION)
    # 督办期限 and 督办回复 (issue 17): when the team's reply to a 督办 is due, and when it came
    supervision_due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    supervision_replied_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # 重复件 (issue 17): the earlier case this one repeats, and the case it was merged into
    # (case ids; no foreign key, so that SQLite adds and drops them without rebuilding cases)
    repeat_of_id: int | None = Field(default=None, index=True)
    merged_into_id: int | None = None
    # 防打击报复回访 (issue 17): the case whose 回访 brought this clue (the reporter answered 有);
    # like repeat_of_id a plain indexed id, no foreign key (migration 0022)
    prompted_by_id: int | None = Field(default=None, index=True)


class CaseCounter(SQLModel, table=True):
    """The last case number handed out per prefix and year (AJ-2026-00042)."""

    __tablename__ = "case_counters"

    prefix: str = Field(max_length=8, primary_key=True)
    year: int = Field(primary_key=True)
    last: int = 0


def format_case_number(prefix: str, year: int, seq: int) -> str:
    """``AJ-2026-00042``: prefix, year and a five-digit sequence (wider past 99,999)."""

    return f"{prefix}-{year}-{seq:05d}"


def submitted_case(
    reporter: Reporter,
    *,
    number: str,
    track: Track,
    category_id: int,
    anonymous: bool,
    receipt_hash: str | None,
    submission_key: str | None,
    description: str,
    amount_yuan: int | None,
    now: datetime,
) -> Case:
    """A case as its reporter submits it: in the queue (SUBMITTED), in the zone, enterprise and
    card the reporter came through. An anonymous case gets no reporter id: once it has an id,
    ``link_reporter`` keeps the link sealed."""
    return Case(
        **submission(
            reporter,
            number=number,
            track=track,
            category_id=category_id,
            anonymous=anonymous,
            receipt_hash=receipt_hash,
            submission_key=submission_key,
            description=description,
            amount_yuan=amount_yuan,
            now=now,
        )
    )


def submission(
    reporter: Reporter,
    *,
    number: str,
    track: Track,
    category_id: int,
    anonymous: bool,
    receipt_hash: str | None,
    submission_key: str | None,
    description: str,
    amount_yuan: int | None,
    now: datetime,
) -> dict[str, Any]:
    """``submitted_case`` as the values given to the case (for writers in bulk: the demo
    generator)."""
    return {
        "number": number,
        "track": track,
        "status": CaseStatus.SUBMITTED,
        "category_id": category_id,
        "zone_id": reporter.zone_id,
        "enterprise_id": reporter.enterprise_id,
        "card_id": reporter.card_id,
        "reporter_id": None if anonymous else reporter.id,
        "anonymous": anonymous,
        "receipt_hash": receipt_hash,
        "submission_key": submission_key,
        "description": description,
        "amount_involved_yuan": amount_yuan,
        "created_at": now,
        "updated_at": now,
    }


def reporter_context(case_id: int) -> str:
    return f"cases.reporter:{case_id}"


def reporter_index(reporter_id: int) -> str:
    """The keyed blind index of an anonymous case's reporter: finds the reporter's own cases
    (我的反映) with the key, tells nothing without it."""
    return keys.current().keyed_hash("case-reporter", str(reporter_id))


def link_reporter(case: Case, reporter_id: int) -> None:
    """An anonymous case's link to its reporter's chat, sealed under the data key and bound to
    this case; the plain ``reporter_id`` stays empty."""
    assert case.id is not None
    case.reporter_id = None
    case.reporter_ref = keys.current().seal(str(reporter_id), context=reporter_context(case.id))
    case.reporter_index = reporter_index(reporter_id)


def reporter_of(case: Case) -> int | None:
    """The reporter's id: plain on a named case, opened from the seal on an anonymous one."""
    if case.reporter_id is not None:
        return case.reporter_id
    if case.reporter_ref is None or case.id is None:
        return None
    return int(keys.current().open(case.reporter_ref, context=reporter_context(case.id)))


def reported_by(case: Case, reporter_id: int | None) -> bool:
    """Whether this reporter made the case (named or anonymous)."""
    return reporter_id is not None and reporter_of(case) == reporter_id


def aftercare_reachable(reporter: Reporter, case: Case) -> bool:
    """防打击报复回访 can reach the case's reporter: a Telegram chat that has not blocked the bot,
    or the web tracking page, while the case still opens with its receipt code."""
    if reporter.channel is Channel.WEB:
        return case.receipt_hash is not None
    return reporter.chat_id is not None and reporter.blocked_at is None


def reporter_actor_id(case: Case, reporter_id: int | None) -> int | None:
    """Who to name as the actor of a reporter's step in the case's history: nobody on an
    anonymous case (its events do not link it to a chat)."""
    return None if case.anonymous else reporter_id
