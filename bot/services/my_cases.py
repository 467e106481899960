"""The reporter's own cases: 我的问题, a case's timeline, 补充材料, 撤回 and 跟踪 by receipt code."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.inspectors import team_leaders
from bot.services.reporters import AttemptGuard, TooManyAttempts, Verdict, get_reporter
from bot.services.withdrawal import withdraw_for
from models.anonymity import confidential
from models.attachment import Attachment
from models.case import (
    AWAITING_ACCEPTANCE,
    OPEN_STATUSES,
    WORKING_STATUSES,
    Case,
    CaseStatus,
    Satisfaction,
    reported_by,
    reporter_actor_id,
    reporter_index,
    reporter_status,
)
from models.clock import CaseClock, ClockKind
from models.errors import InvalidInput, NotFound
from models.event import Actor, ActorType, CaseEvent, EventKind, record_event
from models.intake import Evidence, MaterialDraft, reporter_file
from models.notification import Notice, Offer
from models.org import Category, Track
from models.reporter import (
    CaseFollower,
    Reporter,
    normalize_receipt_code,
    receipt_hash,
    receipt_shaped,
)
from models.team import Inspector
from notifications.outbox import notify_inspectors
from notifications.texts import preview

MY_CASES_LIMIT = 20
TIMELINE_MAX = 20  # the latest entries; a phone screen, and Telegram's 4096 characters
NOTE_MAX = 100  # 20 entries × (100 + a date and a label) + the description stay under 4096
DESCRIPTION_PREVIEW = 300

REPORTER_EVENT_LABELS = {
    EventKind.SUBMITTED: "已提交",
    EventKind.ACCEPTED: "已受理",
    EventKind.FIRST_REPLY: "受理告知",
    EventKind.PROGRESS: "办理进展",
    EventKind.QUESTION: "工作人员提问",
    EventKind.ANSWER: "您的答复",
    EventKind.MATERIAL_ADDED: "补充材料",
    EventKind.EXTENSION_APPROVED: "办理期限延长",
    EventKind.RESOLVED: "已办结",
    EventKind.FOLLOWUP_ANSWERED: "回访评价",
    EventKind.REOPENED: "重新办理",
    EventKind.CLOSED: "已结案",
    EventKind.WITHDRAWN: "已撤回",
    EventKind.DEADLINE_CHANGED: "办理期限调整",
    EventKind.REOPEN_REFERRED: "已报请委领导研究",
    EventKind.REOPEN_DECLINED: "经委领导研究不再重办，已结案",
}
"""What a reporter reads for an event on their timeline (the inspectors' words are internal)."""


@dataclass(frozen=True, slots=True)
class CaseSummary:
    """One line of 我的问题."""

    id: int
    number: str
    category: str
    track: Track
    status: CaseStatus
    status_label: str
    created_at: datetime
    due_label: str | None  # 受理期限 / 办结期限
    due_at: datetime | None
    due_provisional: bool
    followed: bool  # followed by receipt code, not reported from this account

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    label: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class CaseView:
    """A case as its reporter may see it."""

    summary: CaseSummary
    description: str
    attachments: int
    timeline: tuple[TimelineEntry, ...]


@dataclass(frozen=True, slots=True)
class MaterialAdded:
    number: str
    files: int
    noted: bool


async def _summaries(
    session: AsyncSession, cases: Sequence[Case], followed: set[int]
) -> list[CaseSummary]:
    ids = [c.id for c in cases if c.id is not None]
    if not ids:
        return []
    categories = {c.id: c.name for c in (await session.exec(select(Category))).all()}
    clocks = {
        (k.case_id, k.kind): k
        for k in (
            await session.exec(
                select(CaseClock).where(
                    col(CaseClock.case_id).in_(ids),
                    col(CaseClock.kind).in_(
                        [ClockKind.ACCEPT, ClockKind.FIRST_REPLY, ClockKind.RESOLVE]
                    ),
                )
            )
        ).all()
    }
    result = []
    for case in cases:
        assert case.id is not None
        due_label, clock = None, None
        if case.track is Track.APPEAL and case.status in AWAITING_ACCEPTANCE:
            # the date told at submission (受理告知), while it runs; after a 退回, the 签收's
            told = clocks.get((case.id, ClockKind.FIRST_REPLY))
            told = told if told is not None and not told.stopped else None
            due_label, clock = "受理期限", told or clocks.get((case.id, ClockKind.ACCEPT))
        elif case.track is Track.APPEAL and case.status in WORKING_STATUSES:
            due_label, clock = "办结期限", clocks.get((case.id, ClockKind.RESOLVE))
        result.append(
            CaseSummary(
                id=case.id,
                number=case.number,
                category=categories.get(case.category_id, ""),
                track=case.track,
                status=case.status,
                status_label=reporter_status(case),
                created_at=case.created_at,
                due_label=due_label if clock else None,
                due_at=clock.due_at if clock else None,
                due_provisional=clock.provisional if clock else False,
                followed=case.id in followed,
            )
        )
    return result


async def list_my_cases(
    session: AsyncSession, telegram_user_id: int, limit: int = MY_CASES_LIMIT
) -> list[CaseSummary]:
    """The account's own cases and those it follows by receipt code, newest first."""
    reporter = await get_reporter(session, telegram_user_id)
    if reporter is None or reporter.id is None:
        return []
    followed = set(
        (
            await session.exec(
                select(CaseFollower.case_id).where(CaseFollower.reporter_id == reporter.id)
            )
        ).all()
    )
    cases = (
        await session.exec(
            select(Case)
            .where(
                (col(Case.reporter_id) == reporter.id)
                | (col(Case.reporter_index) == reporter_index(reporter.id))
                | col(Case.id).in_(followed)
            )
            .order_by(col(Case.created_at).desc(), col(Case.id).desc())
            .limit(limit)
        )
    ).all()
    own = {c.id for c in cases if reported_by(c, reporter.id)}
    return await _summaries(session, cases, followed - own)


async def _readable_case(
    session: AsyncSession, telegram_user_id: int, case_id: int
) -> tuple[Reporter, Case, bool]:
    """The case if this account reported or follows it; anything else is "not found"."""
    reporter = await get_reporter(session, telegram_user_id)
    case = await session.get(Case, case_id)
    if reporter is None or case is None:
        raise NotFound("未找到该问题。")
    if reported_by(case, reporter.id):
        return reporter, case, False
    follower = await session.get(CaseFollower, (case_id, reporter.id))
    if follower is None:
        raise NotFound("未找到该问题。")
    return reporter, case, True


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, marking the cut."""
    text = text.strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "……"


def _public_timeline(case: Case, events: Sequence[CaseEvent]) -> tuple[TimelineEntry, ...]:
    """Appeals: the public events. Clues: only 已提交, 已受理 (once a person accepted it) and
    已办结, each the first time."""
    if case.track is Track.CLUE:
        shown = {
            EventKind.SUBMITTED: "已提交",
            EventKind.ACCEPTED: "已受理",
            EventKind.RESOLVED: "已办结",
            EventKind.CLOSED: "已办结",  # a clue closed by its disposition (集体研判)
            EventKind.CLUE_OBJECTED: "已提出异议",
        }
        firsts: dict[str, TimelineEntry] = {}
        for event in events:
            label = shown.get(event.kind)
            if label is not None and label not in firsts:
                firsts[label] = TimelineEntry(event.created_at, label)
        return tuple(firsts.values())
    entries = [_reporter_entry(event) for event in events if event.public]
    return tuple(entries[-TIMELINE_MAX:])


def _reporter_entry(event: CaseEvent) -> TimelineEntry:
    """One public event as the reporter reads it: a rating says which (回访评价：不满意), and
    the 重办 it leads to does not repeat the reason given with it."""
    label = REPORTER_EVENT_LABELS.get(event.kind, event.kind.label)
    rating = (event.data or {}).get("satisfaction")
    if event.kind is EventKind.FOLLOWUP_ANSWERED and rating in set(Satisfaction):
        label = f"{label}：{Satisfaction(rating).label}"
    note = None if event.kind in (EventKind.REOPENED, EventKind.REOPEN_REFERRED) else event.note
    return TimelineEntry(event.created_at, label, shorten(note, NOTE_MAX) if note else None)


async def reporter_view(session: AsyncSession, case: Case, *, followed: bool = False) -> CaseView:
    """What a case's reporter sees, however they came: status, the due date that matters to them
    and the public timeline the track allows (a clue: only 已提交, 已受理 and 已办结)."""
    assert case.id is not None
    (summary,) = await _summaries(session, [case], {case.id} if followed else set())
    events = (
        await session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(col(CaseEvent.seq))
        )
    ).all()
    attachments = len(
        (await session.exec(select(Attachment.id).where(Attachment.case_id == case.id))).all()
    )
    return CaseView(
        summary=summary,
        description=shorten(case.description, DESCRIPTION_PREVIEW),
        attachments=attachments,
        timeline=_public_timeline(case, events),
    )


async def case_timeline(session: AsyncSession, telegram_user_id: int, case_id: int) -> CaseView:
    """A case as its reporter (or a follower by receipt code) sees it: status, the due date that
    matters to them and the public timeline; a clue shows only 已提交, 已受理 and 已办结."""
    _, case, followed = await _readable_case(session, telegram_user_id, case_id)
    return await reporter_view(session, case, followed=followed)


async def _holders(session: AsyncSession, case: Case) -> list[Inspector]:
    """Who holds the case now: the assignee; with none, the team's leaders (for an appeal, the
    admins if it has none)."""
    if case.assignee_id is not None:
        assignee = await session.get(Inspector, case.assignee_id)
        if assignee is not None and assignee.active:
            return [assignee]
    return await team_leaders(session, case.team_id, track=case.track)


async def add_material(
    session: AsyncSession,
    telegram_user_id: int,
    case_id: int,
    *,
    material: MaterialDraft,
    now: datetime,
) -> MaterialAdded:
    """补充材料 to an open case: the files and note are kept, the timeline shows 补充材料, and the
    assignee (or, with none, the team leaders) is told in the same transaction."""
    reporter, case, _ = await _readable_case(session, telegram_user_id, case_id)
    return await add_material_for(session, reporter, case, material=material, now=now)


MATERIAL_CLOSED = "该问题已办结，不能再补充材料。如有新情况，请重新反映。"
MATERIAL_REPEATED = "这些材料已经补充过了，无需重复提交。"


def material_open(case: Case) -> bool:
    """补充材料 is open while the case is."""
    return case.status in OPEN_STATUSES


async def add_material_for(
    session: AsyncSession,
    reporter: Reporter,
    case: Case,
    *,
    material: MaterialDraft,
    now: datetime,
) -> MaterialAdded:
    """补充材料 by ``reporter``, already known to be the case's reporter (or a follower), in
    whatever channel: the files and note kept, 补充材料 on the timeline, and the assignee (or,
    with none, the team leaders) told in the same transaction."""
    assert case.id is not None and reporter.id is not None
    if not material_open(case):
        raise InvalidInput(MATERIAL_CLOSED)
    items, note = await _not_yet_added(session, case.id, *material.ready())
    if not items and note is None:  # the same form sent again (a reload of its answer page)
        raise InvalidInput(MATERIAL_REPEATED)
    for item in items:
        session.add(reporter_file(case.id, item, now, keep_name=not confidential(case)))
    session.add(
        record_event(
            case,
            EventKind.MATERIAL_ADDED,
            Actor(ActorType.REPORTER, reporter_actor_id(case, reporter.id)),
            now,
            note=note,
            data={"files": len(items)},
            public=True,
        )
    )
    session.add(case)
    await session.flush()
    notice = Notice.of(
        "reporter_material_added",
        number=case.number,
        files=len(items),
        note=preview(note) if note else None,
    )
    await notify_inspectors(
        session,
        case.id,
        await _holders(session, case),
        kind="material",
        stage=case.event_count,
        notice=notice,
        now=now,
        offer=Offer.CASE_MATERIALS.on(case.id),
    )
    await session.commit()
    return MaterialAdded(case.number, len(items), note is not None)


async def _not_yet_added(
    session: AsyncSession, case_id: int, items: tuple[Evidence, ...], note: str | None
) -> tuple[tuple[Evidence, ...], str | None]:
    """What of a 补充材料 the case does not hold yet: files it has are not added twice, nor a
    note the same as the last one added."""
    attachments = await session.exec(
        select(Attachment).where(
            Attachment.case_id == case_id, Attachment.added_by == ActorType.REPORTER
        )
    )
    held = {
        f"sha256:{a.blob_sha256}" if a.blob_sha256 else a.file_unique_id for a in attachments.all()
    }
    last = (
        await session.exec(
            select(CaseEvent.note)
            .where(CaseEvent.case_id == case_id, CaseEvent.kind == EventKind.MATERIAL_ADDED)
            .order_by(col(CaseEvent.seq).desc())
            .limit(1)
        )
    ).first()
    fresh = tuple(item for item in items if item.identity not in held)
    return fresh, None if note is not None and note == last else note


async def withdraw_case(
    session: AsyncSession,
    telegram_user_id: int,
    case_id: int,
    *,
    now: datetime,
) -> Case:
    """撤回: the reporter (or a follower by receipt code) withdraws a case nobody has signed for
    yet (``withdrawal.withdraw_for``: a clue's 撤回 is a request its team leader decides)."""
    reporter, case, _ = await _readable_case(session, telegram_user_id, case_id)
    return await withdraw_for(session, reporter, case, now=now)


WRONG_RECEIPT = "未找到该回执码对应的问题，请核对后重新输入（回执码共12位，如 7KQM-4TXD-92HP）。"
NOT_A_RECEIPT = (
    "回执码为12位字母和数字，如 7KQM-4TXD-92HP，请核对后重新输入；不再查询请发送 /cancel。"
)


async def find_by_receipt(session: AsyncSession, code: str) -> Case | None:
    """The case a receipt code opens, as people type it (spaces, dashes, lower case, full width);
    None for a wrong one."""
    normalized = normalize_receipt_code(code)
    if not normalized:
        return None
    return (
        await session.exec(select(Case).where(Case.receipt_hash == receipt_hash(normalized)))
    ).first()


async def track_case(
    session: AsyncSession,
    guard: AttemptGuard,
    *,
    code: str,
    telegram_user_id: int,
    chat_id: int,
    now: datetime,
) -> CaseSummary | None:
    """/track <receipt code>: this account follows the anonymous case from now on. Wrong codes
    count as failures: after too many, refused once with "请稍后再试", then silently (None).
    What cannot be a code (``receipt_shaped``) is answered with the code's form, uncounted."""
    verdict = guard.verdict("receipt", telegram_user_id, now)
    if verdict is Verdict.SILENT:
        return None
    if verdict is Verdict.WARN:
        raise TooManyAttempts
    if not receipt_shaped(code):  # e.g. a message meant for something else: not counted
        raise InvalidInput(NOT_A_RECEIPT)
    case = await find_by_receipt(session, code)
    if case is None:
        guard.fail("receipt", telegram_user_id, now)
        raise NotFound(WRONG_RECEIPT)
    assert case.id is not None
    reporter = await get_reporter(session, telegram_user_id)
    if reporter is None:
        reporter = Reporter(telegram_user_id=telegram_user_id, chat_id=chat_id, created_at=now)
    reporter.chat_id = chat_id
    reporter.last_seen_at = now
    session.add(reporter)
    await session.flush()
    assert reporter.id is not None
    own = reported_by(case, reporter.id)
    if not own and await session.get(CaseFollower, (case.id, reporter.id)) is None:
        session.add(CaseFollower(case_id=case.id, reporter_id=reporter.id, created_at=now))
    (summary,) = await _summaries(session, [case], set() if own else {case.id})
    await session.commit()
    return summary
