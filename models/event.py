"""流转记录: the append-only, hash-chained history of a case."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models import keys
from models.case import Case, CaseStatus, Outcome, Satisfaction, check_transition
from models.types import JSONType, UTCDateTime, enum_type, utc

if TYPE_CHECKING:
    from models.team import Inspector, Team


class ActorType(enum.StrEnum):
    SYSTEM = "system"
    REPORTER = "reporter"
    INSPECTOR = "inspector"
    ADMIN = "admin"


class EventKind(enum.StrEnum):
    """What happened. Status changes and the other facts worth keeping share one chain."""

    SUBMITTED = "submitted"
    ROUTED = "routed"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    ACCEPTED = "accepted"  # 签收
    FIRST_REPLY = "first_reply"  # 受理告知
    RETURN_REQUESTED = "return_requested"
    RETURN_APPROVED = "return_approved"
    RETURN_REFUSED = "return_refused"
    TRANSFERRED = "transferred"  # 转办
    TRANSFER_REQUESTED = "transfer_requested"
    TRANSFER_REFUSED = "transfer_refused"
    PROGRESS = "progress"  # 记录进展
    QUESTION = "question"  # 提问
    ANSWER = "answer"
    MATERIAL_ADDED = "material_added"  # 补充材料
    EXTENSION_REQUESTED = "extension_requested"
    EXTENSION_APPROVED = "extension_approved"
    EXTENSION_REFUSED = "extension_refused"
    RESOLVED = "resolved"  # 办结
    FOLLOWUP_ANSWERED = "followup_answered"  # 回访
    REOPENED = "reopened"  # 重办
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    WITHDRAW_REQUESTED = "withdraw_requested"  # a clue's 撤回 by receipt code, for the leader
    WITHDRAW_REFUSED = "withdraw_refused"
    SUPERVISED = "supervised"  # 督办
    IDENTITY_VIEWED = "identity_viewed"
    REMINDED = "reminded"  # 催办
    ESCALATED = "escalated"
    DEADLINE_CHANGED = "deadline_changed"
    REOPEN_REFERRED = "reopen_referred"  # 不满意 past the 重办 limit, to the 委领导
    REOPEN_DECLINED = "reopen_declined"  # the 委领导 closed it without another 重办
    RESOLUTION_SUBMITTED = "resolution_submitted"  # 办结 proposed, for 组长审核
    RESOLUTION_RETURNED = "resolution_returned"  # 组长审核 not passed
    DISPOSITION_PROPOSED = "disposition_proposed"  # 提出处置意见 (集体研判)
    DISPOSITION_REVIEWED = "disposition_reviewed"  # 组长审核同意
    DISPOSITION_SENT_BACK = "disposition_sent_back"  # 组长不同意, back to the assignee
    DISPOSITION_APPROVED = "disposition_approved"  # 委领导批准
    DISPOSITION_REFUSED = "disposition_refused"  # 委领导不批准
    DISPOSITION_LAPSED = "disposition_lapsed"  # the clue moved on before a decision
    CLUE_RESULT_TOLD = "clue_result_told"  # the 实名 reporter told the result
    CLUE_OBJECTED = "clue_objected"  # the reporter's 异议
    SUPERVISION_REPLIED = "supervision_replied"  # 督办回复
    REPEAT_FLAGGED = "repeat_flagged"  # 疑似重复件, linked at intake
    MERGED = "merged"  # 合并办理: this repeat closed into an earlier case
    ASSIST_ADDED = "assist_added"  # 室组联动: a 协办 team added
    ASSIST_REMOVED = "assist_removed"  # a 协办 team removed
    ASSIST_PROGRESS = "assist_progress"  # a 协办 team's progress note (internal)
    RECTIFICATION_SET = "rectification_set"  # 反馈整改: what, which unit, by when
    RECTIFICATION_VERIFIED = "rectification_verified"  # 核验: the 整改 is done
    RECTIFICATION_REJECTED = "rectification_rejected"  # 核验: not yet done, the clock runs on
    RECTIFICATION_LAPSED = "rectification_lapsed"  # the case left the step before 核验
    AFTERCARE_ASKED = "aftercare_asked"  # 防打击报复回访 asked
    AFTERCARE_ANSWERED = "aftercare_answered"  # its answer (data: none / yes)
    AFTERCARE_UNANSWERED = "aftercare_unanswered"  # not answered in time: 未答复
    AFTERCARE_CLUE = "aftercare_clue"  # on the clue a 有 opened: which case prompted it

    @property
    def label(self) -> str:
        return EVENT_LABELS.get(self, self.value)


EVENT_LABELS = {
    EventKind.SUBMITTED: "提交",
    EventKind.ROUTED: "分办",
    EventKind.ASSIGNED: "交办",
    EventKind.UNASSIGNED: "收回",
    EventKind.ACCEPTED: "签收",
    EventKind.FIRST_REPLY: "受理告知",
    EventKind.RETURN_REQUESTED: "申请退回",
    EventKind.RETURN_APPROVED: "同意退回",
    EventKind.RETURN_REFUSED: "不同意退回",
    EventKind.TRANSFERRED: "转办",
    EventKind.TRANSFER_REQUESTED: "申请转办",
    EventKind.TRANSFER_REFUSED: "不同意转办",
    EventKind.PROGRESS: "办理进展",
    EventKind.QUESTION: "向反映人提问",
    EventKind.ANSWER: "反映人答复",
    EventKind.MATERIAL_ADDED: "补充材料",
    EventKind.EXTENSION_REQUESTED: "申请延期",
    EventKind.EXTENSION_APPROVED: "同意延期",
    EventKind.EXTENSION_REFUSED: "不同意延期",
    EventKind.RESOLVED: "办结",
    EventKind.FOLLOWUP_ANSWERED: "回访评价",
    EventKind.REOPENED: "重办",
    EventKind.CLOSED: "结案",
    EventKind.WITHDRAWN: "撤回",
    EventKind.WITHDRAW_REQUESTED: "申请撤回",
    EventKind.WITHDRAW_REFUSED: "不同意撤回",
    EventKind.SUPERVISED: "督办",
    EventKind.IDENTITY_VIEWED: "查看反映人身份",
    EventKind.REMINDED: "催办",
    EventKind.ESCALATED: "升级提醒",
    EventKind.DEADLINE_CHANGED: "期限调整",
    EventKind.REOPEN_REFERRED: "报请领导决定是否重办",
    EventKind.REOPEN_DECLINED: "领导决定不再重办",
    EventKind.RESOLUTION_SUBMITTED: "提交办结审核",
    EventKind.RESOLUTION_RETURNED: "办结审核未通过",
    EventKind.DISPOSITION_PROPOSED: "提出处置意见",
    EventKind.DISPOSITION_REVIEWED: "组长审核同意处置意见",
    EventKind.DISPOSITION_SENT_BACK: "组长退回处置意见",
    EventKind.DISPOSITION_APPROVED: "委领导批准处置意见",
    EventKind.DISPOSITION_REFUSED: "委领导不同意处置意见",
    EventKind.DISPOSITION_LAPSED: "处置意见失效",
    EventKind.CLUE_RESULT_TOLD: "告知处置结果",
    EventKind.CLUE_OBJECTED: "反映人提出异议",
    EventKind.SUPERVISION_REPLIED: "督办回复",
    EventKind.REPEAT_FLAGGED: "疑似重复件",
    EventKind.MERGED: "合并办理",
    EventKind.ASSIST_ADDED: "增加协办组",
    EventKind.ASSIST_REMOVED: "撤销协办组",
    EventKind.ASSIST_PROGRESS: "协办进展",
    EventKind.RECTIFICATION_SET: "要求整改",
    EventKind.RECTIFICATION_VERIFIED: "整改核验通过",
    EventKind.RECTIFICATION_REJECTED: "整改核验未通过",
    EventKind.RECTIFICATION_LAPSED: "整改要求失效",
    EventKind.AFTERCARE_ASKED: "防打击报复回访",
    EventKind.AFTERCARE_ANSWERED: "防打击报复回访已答复",
    EventKind.AFTERCARE_UNANSWERED: "防打击报复回访未答复",
    EventKind.AFTERCARE_CLUE: "防打击报复回访线索",
}

GENESIS_HASH = "0" * 64


class CaseEvent(SQLModel, table=True):
    """One entry of a case's history. Never updated, never deleted."""

    __tablename__ = "case_events"

    __table_args__ = (
        sa.UniqueConstraint("case_id", "seq"),
        # events of a kind in a period (the report's 打击报复回访 steps), not every event
        sa.Index("ix_case_events_kind_created_at", "kind", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # found by the unique (case_id, seq) index: no index of its own (migration 0028)
    case_id: int = Field(foreign_key="cases.id")
    seq: int
    kind: EventKind = Field(sa_type=enum_type(EventKind, 24))
    from_status: CaseStatus | None = Field(default=None, sa_type=enum_type(CaseStatus, 16))
    to_status: CaseStatus | None = Field(default=None, sa_type=enum_type(CaseStatus, 16))
    actor_type: ActorType = Field(sa_type=enum_type(ActorType, 12))
    actor_id: int | None = None
    note: str | None = Field(default=None, sa_type=sa.Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    public: bool = False  # shown on the reporter's timeline
    # looked for by kind in a period (ix_case_events_kind_created_at), never alone (0028)
    created_at: datetime = Field(sa_type=UTCDateTime)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


def canonical_event(
    *,
    case_number: str,
    seq: int,
    kind: str,
    from_status: str | None,
    to_status: str | None,
    actor_type: str,
    actor_id: int | None,
    note: str | None,
    data: dict[str, Any],
    public: bool,
    created_at: datetime,
    prev_hash: str,
) -> bytes:
    """The canonical JSON of an event's content and the previous event's hash: what is hashed."""
    payload = {
        "case": case_number,
        "seq": seq,
        "kind": kind,
        "from": from_status,
        "to": to_status,
        "actor": [actor_type, actor_id],
        "note": note,
        "data": data,
        "public": public,
        "at": utc(created_at).isoformat(timespec="microseconds"),
        "prev": prev_hash,
    }
    return _CANONICAL.encode(payload).encode("utf-8")


_CANONICAL = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""``json.dumps(…, ensure_ascii=False, sort_keys=True, separators=(",", ":"))``, the canonical
form, made once rather than for each event (a sweep hashes thousands)."""


CHAIN_PURPOSE = "chain"
DIGEST_PURPOSE = "digest"


def event_digest(**content: Any) -> str:
    """HMAC-SHA256 under the audit key (``LIANKA_AUDIT_KEY``, held outside the database) of the
    event's canonical JSON: whoever can write to the database but lacks the key cannot forge,
    re-hash or re-chain an event."""
    return keys.current().mac(CHAIN_PURPOSE, canonical_event(**content))


def legacy_event_digest(**content: Any) -> str:
    """The plain SHA-256 the chain used before migration 0014 (to check old chains once)."""
    return hashlib.sha256(canonical_event(**content)).hexdigest()


def digest_of(event: EventLike, case_number: str) -> str:
    """Recompute the hash an event should carry."""
    return event_digest(**event_content(event, case_number))


def event_content(event: EventLike, case_number: str) -> dict[str, Any]:
    """An event's hashed content, as ``canonical_event`` takes it."""
    return dict(
        case_number=case_number,
        seq=event.seq,
        kind=str(event.kind),
        from_status=str(event.from_status) if event.from_status else None,
        to_status=str(event.to_status) if event.to_status else None,
        actor_type=str(event.actor_type),
        actor_id=event.actor_id,
        note=event.note,
        data=event.data,
        public=event.public,
        created_at=event.created_at,
        prev_hash=event.prev_hash,
    )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the system, a reporter, an inspector (by id) or an admin."""

    type: ActorType
    id: int | None = None


SYSTEM = Actor(ActorType.SYSTEM)


class ChainHead(Protocol):
    """What ``chained`` reads of a case and moves on: a ``Case``, or a row a writer in bulk read
    (the sweep's ``CaseRow``)."""

    @property
    def id(self) -> int | None: ...
    @property
    def number(self) -> str: ...

    event_count: int
    last_event_hash: str
    updated_at: datetime
    status: CaseStatus


def chained(
    case: ChainHead,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
    from_status: CaseStatus | None = None,
    to_status: CaseStatus | None = None,
) -> dict[str, Any]:
    """The column values of the case's next event, its hash included, and the case's chain
    moved on to it: what ``record_event`` makes an event of, and what writers in bulk (the demo
    generator) insert as it is."""
    if case.id is None:
        raise ValueError("the case must be flushed before events are recorded")
    seq = case.event_count + 1
    created_at = utc(now)
    payload = dict(data or {})
    prev_hash = case.last_event_hash or GENESIS_HASH
    digest = event_digest(
        case_number=case.number,
        seq=seq,
        kind=str(kind),
        from_status=str(from_status) if from_status else None,
        to_status=str(to_status) if to_status else None,
        actor_type=str(actor.type),
        actor_id=actor.id,
        note=note,
        data=payload,
        public=public,
        created_at=created_at,
        prev_hash=prev_hash,
    )
    case.event_count = seq
    case.last_event_hash = digest
    case.updated_at = created_at
    return {
        "case_id": case.id,
        "seq": seq,
        "kind": kind,
        "from_status": from_status,
        "to_status": to_status,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "note": note,
        "data": payload,
        "public": public,
        "created_at": created_at,
        "prev_hash": prev_hash,
        "hash": digest,
    }


def record_event(
    case: Case,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
    from_status: CaseStatus | None = None,
    to_status: CaseStatus | None = None,
) -> CaseEvent:
    """Append an event to the case's chain; the caller adds it to the session with the case."""
    return CaseEvent(
        **chained(
            case,
            kind,
            actor,
            now,
            note=note,
            data=data,
            public=public,
            from_status=from_status,
            to_status=to_status,
        )
    )


def moved(
    case: ChainHead,
    target: CaseStatus,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    """``transition`` as column values (``chained``)."""
    current = CaseStatus(case.status)
    check_transition(current, target)
    case.status = target
    return chained(
        case,
        kind,
        actor,
        now,
        note=note,
        data=data,
        public=public,
        from_status=current,
        to_status=target,
    )


def transition(
    case: Case,
    target: CaseStatus,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
) -> CaseEvent:
    """Move the case to ``target`` if the table allows it, and record the event."""
    return CaseEvent(**moved(case, target, kind, actor, now, note=note, data=data, public=public))


class MaterialLike(Protocol):
    """A file as kept (``Attachment``) or as sent (``Evidence``)."""

    @property
    def kind(self) -> Any: ...
    @property
    def file_unique_id(self) -> str | None: ...
    @property
    def blob_sha256(self) -> str | None: ...


def material_ref(item: MaterialLike) -> str:
    """What names a file for good: its kind and its bytes' SHA-256 (web) or Telegram's
    file_unique_id (chat); never its name, which may be cleaned."""
    return f"{item.kind}:{item.blob_sha256 or item.file_unique_id or ''}"


def description_digest(text: str) -> str:
    return keys.current().keyed_hash(DIGEST_PURPOSE, f"description\n{text}")


def materials_digest(refs: Sequence[str]) -> str:
    return keys.current().keyed_hash(DIGEST_PURPOSE, "materials\n" + "\n".join(refs))


def contact_digest(name: str, phone: str) -> str:
    return keys.current().keyed_hash(DIGEST_PURPOSE, f"contact\n{name}\n{phone}")


def report_digests(
    description: str, materials: Sequence[str], contact: tuple[str, str] | None
) -> dict[str, str | None]:
    """Keyed digests of what was reported, kept in the submitted event: an edited description,
    a swapped file or contact then no longer matches (``lianka audit verify``); the digests
    reveal nothing without the audit key."""
    return {
        "description": description_digest(description),
        "materials": materials_digest(materials),
        "contact": contact_digest(*contact) if contact is not None else None,
    }


def submitted(
    case: Case,
    now: datetime,
    *,
    evidence: int,
    materials: Sequence[str] = (),
    contact: tuple[str, str] | None = None,
) -> CaseEvent:
    """The first event of a case: its reporter submitted it, with ``evidence`` files (their
    ``material_ref``s in order) and, for a named report, the ``contact`` (name, phone)."""
    return CaseEvent(
        **submitted_values(case, now, evidence=evidence, materials=materials, contact=contact)
    )


def submitted_values(
    case: Case,
    now: datetime,
    *,
    evidence: int,
    materials: Sequence[str] = (),
    contact: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """``submitted`` as column values (``chained``)."""
    return chained(
        case,
        EventKind.SUBMITTED,
        Actor(ActorType.REPORTER, case.reporter_id),
        now,
        public=True,
        data={
            "evidence": evidence,
            "anonymous": case.anonymous,
            "digests": report_digests(case.description, materials, contact),
        },
    )


def route_to(case: Case, team: Team, *, rule: str | None, actor: Actor, now: datetime) -> CaseEvent:
    """The case reaches a team's queue (by the routing ``rule``, or by hand when None): nobody
    is assigned in the new team yet."""
    return CaseEvent(**routed(case, team, rule=rule, actor=actor, now=now))


def routed(
    case: Case, team: Team, *, rule: str | None, actor: Actor, now: datetime
) -> dict[str, Any]:
    """``route_to`` as column values (``chained``)."""
    assert team.id is not None
    case.team_id = team.id
    case.routed_by = rule
    case.assignee_id = None
    return chained(case, EventKind.ROUTED, actor, now, data={"team": team.code, "rule": rule})


def assign_to(
    case: Case, inspector: Inspector, actor: Actor, now: datetime, *, stand_in: bool = False
) -> CaseEvent:
    """Give the case to ``inspector``: from the queue (submitted, returned) it becomes ASSIGNED;
    otherwise it keeps its status and the event says who has it now; ``stand_in``: an admin
    acting for a team with no leader, which the event says."""
    return CaseEvent(**assigned(case, inspector, actor, now, stand_in=stand_in))


def assigned(
    case: Case, inspector: Inspector, actor: Actor, now: datetime, *, stand_in: bool = False
) -> dict[str, Any]:
    """``assign_to`` as column values (``chained``)."""
    assert inspector.id is not None
    data: dict[str, Any] = {"inspector": inspector.id, "previous": case.assignee_id}
    if stand_in:
        data["stand_in"] = True
    if case.status in (CaseStatus.SUBMITTED, CaseStatus.RETURNED):
        values = moved(case, CaseStatus.ASSIGNED, EventKind.ASSIGNED, actor, now, data=data)
    else:
        values = chained(case, EventKind.ASSIGNED, actor, now, data=data)
    case.assignee_id = inspector.id
    case.assigned_at = now
    inspector.last_assigned_at = now
    return values


class EventLike(Protocol):
    """An event as the checks read it: a ``CaseEvent``, or a row of its columns (``lianka audit
    verify`` reads plain rows: a hundred thousand ORM objects cost more than their hashes)."""

    @property
    def id(self) -> int | None: ...
    @property
    def seq(self) -> int: ...
    @property
    def kind(self) -> EventKind: ...
    @property
    def from_status(self) -> CaseStatus | None: ...
    @property
    def to_status(self) -> CaseStatus | None: ...
    @property
    def actor_type(self) -> ActorType: ...
    @property
    def actor_id(self) -> int | None: ...
    @property
    def note(self) -> str | None: ...
    @property
    def data(self) -> dict[str, Any]: ...
    @property
    def public(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


class CaseLike(Protocol):
    """A case as the checks read it: a ``Case``, or a row of its columns."""

    @property
    def number(self) -> str: ...
    @property
    def event_count(self) -> int: ...
    @property
    def last_event_hash(self) -> str | None: ...
    @property
    def description(self) -> str: ...
    @property
    def outcome(self) -> Outcome | None: ...
    @property
    def outcome_summary(self) -> str | None: ...
    @property
    def amount_coordinated_yuan(self) -> int | None: ...
    @property
    def satisfaction(self) -> Satisfaction | None: ...
    @property
    def assignee_id(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """One thing wrong with a case's chain, for ``lianka audit verify``."""

    case_number: str
    seq: int | None
    problem: str


def verify_chain(case: CaseLike, events: Sequence[EventLike]) -> list[ChainProblem]:
    """Check the chain: every hash recomputes, every link holds, nothing is missing at the end."""

    problems: list[ChainProblem] = []
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for event in sorted(events, key=lambda e: (e.seq, e.id or 0)):
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(
                    case.number,
                    event.seq,
                    f"sequence gap: expected {expected_seq}, found {event.seq}",
                )
            )
        if event.prev_hash != expected_prev:
            problems.append(
                ChainProblem(
                    case.number, event.seq, "link broken: an event before it is missing or changed"
                )
            )
        if digest_of(event, case.number) != event.hash:
            problems.append(
                ChainProblem(case.number, event.seq, "content edited: hash does not match")
            )
        expected_prev = event.hash
        expected_seq = event.seq + 1
    if len(events) != case.event_count or expected_prev != (case.last_event_hash or GENESIS_HASH):
        problems.append(
            ChainProblem(
                case.number,
                None,
                f"chain end does not match the case: {len(events)} events, case records "
                f"{case.event_count}",
            )
        )
    return problems


_CLEARS_ASSIGNEE = frozenset(
    {
        EventKind.ROUTED,
        EventKind.UNASSIGNED,
        EventKind.RETURN_APPROVED,
        EventKind.TRANSFERRED,
    }
)


@dataclass(frozen=True, slots=True)
class Reported:
    """What the case's rows say now, to compare with the digests in its history: the refs of
    the files sent with the report (in order), and the contact (None when there is no row:
    never given, or purged under the retention rules)."""

    materials: list[str]
    contact: tuple[str, str] | None


def verify_reported(
    case: CaseLike, events: Sequence[EventLike], reported: Reported
) -> list[ChainProblem]:
    """The case's rows must still say what its (verified) history recorded: the description,
    files and contact of the submitted event's digests, the outcome, summary and amount of the
    last 办结, the rating of the last 回访, the assignee of the last 交办."""
    ordered = sorted(events, key=lambda e: (e.seq, e.id or 0))
    problems: list[ChainProblem] = []

    def problem(seq: int | None, text: str) -> None:
        problems.append(ChainProblem(case.number, seq, text))

    first = ordered[0] if ordered else None
    digests = first.data.get("digests") if first is not None else None
    if first is not None and first.kind is EventKind.SUBMITTED and isinstance(digests, dict):
        if digests.get("description") != description_digest(case.description):
            problem(first.seq, "description edited: does not match the submitted report")
        if digests.get("materials") != materials_digest(reported.materials):
            problem(first.seq, "materials changed: the files do not match the submitted report")
        if reported.contact is not None:
            expected = digests.get("contact")
            if expected is None:
                problem(first.seq, "contact added: the submitted report had none")
            elif expected != contact_digest(*reported.contact):
                problem(first.seq, "contact edited: does not match the submitted report")
    resolved = [e for e in ordered if e.kind is EventKind.RESOLVED]
    if resolved:
        last = resolved[-1]
        if case.outcome is not None and str(case.outcome) != last.data.get("outcome"):
            problem(last.seq, "outcome edited: does not match the resolution recorded")
        if case.outcome_summary is not None and case.outcome_summary != last.note:
            problem(last.seq, "summary edited: does not match the resolution recorded")
        if case.amount_coordinated_yuan != last.data.get(
            "amount_yuan", case.amount_coordinated_yuan
        ):
            problem(last.seq, "amount edited: does not match the resolution recorded")
    elif case.outcome is not None or case.amount_coordinated_yuan is not None:
        problem(None, "outcome without a resolution: no 办结 event records it")
    since = resolved[-1].seq if resolved else 0  # a rating before a 重办's new 办结 is past
    rated = [e for e in ordered if e.seq > since and e.data.get("satisfaction") is not None]
    if (
        case.satisfaction is not None
        and rated
        and str(case.satisfaction) != rated[-1].data["satisfaction"]
    ):
        problem(rated[-1].seq, "satisfaction edited: does not match the reporter's rating")
    if case.assignee_id is not None:
        given: int | None = None
        given_seq: int | None = None
        for event in ordered:
            if event.kind is EventKind.ASSIGNED:
                given, given_seq = event.data.get("inspector"), event.seq
            elif event.kind in _CLEARS_ASSIGNEE:
                given, given_seq = None, event.seq
        if given != case.assignee_id:
            problem(given_seq, "assignee changed: not the inspector the history gave the case to")
    return problems
