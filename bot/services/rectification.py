"""反馈整改 and 核验: the assignee of an appeal records what the responsible unit must rectify,
within how many working days; the ``rectify`` clock runs to that deadline with the usual ladder
(the sweep warns the assignee, marks it overdue, escalates once); the assignee verifies it before
办结. A clue takes the disposition path instead (``bot.services.dispositions``).

办结 waits for the 核验 (``require_settled``): refused while a rectification is open, and 已整改
only with a verified one. The team leader may withdraw an open 整改 that no longer stands, with
a reason (``withdraw_rectification``). A case leaving its team or its step (退回, 转办, 合并办理, 撤回) lapses
the open rectification and stops its clock (``lapse_rectification``); 改派 within the team does
not: the unit's obligation stands and the new assignee verifies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.clocks import cancel_clock, get_clock, meet_clock, start_clock
from bot.services.notices import tell_inspectors, tell_reporter
from bot.services.permissions import (
    actor_of,
    clean_note,
    leads_team,
    load_case,
    moved_on,
    require_assignee,
    require_team_leader,
    stands_in,
    works_on,
)
from bot.services.policy import Policy
from models.case import WORKING_STATUSES, Case, Outcome
from models.clock import ClockKind, ClockState
from models.errors import InvalidInput
from models.event import SYSTEM, EventKind, record_event
from models.org import Track
from models.rectification import (
    NOTE_MAX,
    REQUIREMENT_MAX,
    UNIT_MAX,
    Rectification,
    RectificationState,
)
from models.team import Inspector, Role
from models.types import utc

CLUE_REFUSED = "问题线索不适用整改：请点“提出处置意见”，经组长审核、委领导批准后处置。"
OPEN_ALREADY = "该问题已有整改要求尚未核验，请先核验整改情况。"
NOTHING_TO_VERIFY = "该问题没有待核验的整改要求。"
VERIFY_FIRST = "该问题的整改尚未核验，请先核验整改情况，再办结。"
NOTHING_TO_WITHDRAW = "该问题没有待核验的整改要求，无需撤销。"
RECTIFY_FIRST = "办理结果为“已整改”的，请先反馈整改并核验通过，再办结。"


async def open_rectification(session: AsyncSession, case_id: int) -> Rectification | None:
    """The case's rectification waiting for its 核验, if any."""
    return (
        await session.exec(
            select(Rectification).where(
                Rectification.case_id == case_id,
                Rectification.state == RectificationState.OPEN,
            )
        )
    ).first()


async def list_rectifications(session: AsyncSession, case_id: int) -> list[Rectification]:
    """Every rectification of the case, the latest first."""
    rows = await session.exec(
        select(Rectification)
        .where(Rectification.case_id == case_id)
        .order_by(col(Rectification.id).desc())
    )
    return list(rows.all())


def _refuse_clue(case: Case) -> None:
    if case.track is Track.CLUE:
        raise InvalidInput(CLUE_REFUSED, detail=f"case {case.id} is a clue: no 整改")


def parse_workdays(text: str, policy: Policy) -> int:
    """整改期限 as typed (``15``, ``15个工作日``, ``15天``): 1 to ``[rectification] max_days``."""
    most = policy.config.rectification.max_days
    value = text.strip().removesuffix("个工作日").removesuffix("工作日").removesuffix("天").strip()
    if not (value.isdecimal() and len(value) <= 3 and 1 <= int(value) <= most):
        raise InvalidInput(f"请输入1至{most}之间的工作日数，例如 15。")
    return int(value)


async def check_set(session: AsyncSession, actor: Inspector, case_id: int) -> Case:
    """Before 反馈整改 is typed: the checks ``set_rectification`` makes at the end."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "反馈整改")
    _refuse_clue(case)
    assert case.id is not None
    if await open_rectification(session, case.id) is not None:
        raise InvalidInput(OPEN_ALREADY)
    return case


@dataclass(frozen=True, slots=True)
class RectificationSet:
    case: Case
    rectification: Rectification
    after_resolve_due: bool  # the 整改期限 falls after the case's 办结期限 (延期 may be needed)


async def set_rectification(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    requirement: str,
    unit: str,
    days: int | None,
    policy: Policy,
    now: datetime,
) -> RectificationSet:
    """反馈整改: the assignee of an appeal in work records what the responsible unit must
    rectify and within how many working days (``[rectification] days`` by default); the
    ``rectify`` clock starts, the event is in the trail, and the reporter is told that 整改 was
    required and by when."""
    case = await check_set(session, actor, case_id)
    assert case.id is not None and actor.id is not None
    what = clean_note(requirement, "整改事项", REQUIREMENT_MAX)
    who = clean_note(unit, "责任单位", UNIT_MAX)
    config = policy.config.rectification
    workdays = config.days if days is None else days
    if not 1 <= workdays <= config.max_days:
        raise InvalidInput(f"整改期限应为1至{config.max_days}个工作日。")
    clock = await start_clock(
        session, case, ClockKind.RECTIFICATION, workdays=workdays, calendar=policy.calendar,
        now=now, warn_before=config.warn_before,
    )  # fmt: skip
    rectification = Rectification(
        case_id=case.id, requirement=what, unit=who, working_days=workdays, due_at=clock.due_at,
        provisional=clock.provisional, set_by_id=actor.id, set_at=utc(now),
    )  # fmt: skip
    event = record_event(
        case,
        EventKind.RECTIFICATION_SET,
        actor_of(actor),
        now,
        note=what,
        data={"unit": who, "workdays": workdays, "due_at": clock.due_at.isoformat()},
        public=True,
    )
    session.add(rectification)
    try:
        await session.flush()  # the database keeps a second open one out (a race)
    except IntegrityError as e:
        await session.rollback()
        if not _one_open_refused(e):
            raise
        raise InvalidInput(OPEN_ALREADY) from None
    session.add_all([case, event])
    await tell_reporter(
        session, case, "case_rectification", stage=event.seq, now=now, unit=who,
        requirement=what, due=clock.due_at, provisional=clock.provisional,
    )  # fmt: skip
    resolve = await get_clock(session, case.id, ClockKind.RESOLVE)
    later = resolve is not None and not resolve.stopped and clock.due_at > resolve.due_at
    await session.commit()
    return RectificationSet(case, rectification, later)


def _one_open_refused(error: IntegrityError) -> bool:
    """The database refused a second open rectification of a case (PostgreSQL names the index,
    SQLite the column)."""
    said = str(error.orig)
    return "uq_rectifications_open" in said or "rectifications.case_id" in said


async def check_verify(
    session: AsyncSession, actor: Inspector, case_id: int
) -> tuple[Case, Rectification]:
    """Before the 核验 is entered: the checks ``verify_rectification`` makes at the end."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "核验整改")
    _refuse_clue(case)
    assert case.id is not None
    rectification = await open_rectification(session, case.id)
    if rectification is None:
        raise InvalidInput(NOTHING_TO_VERIFY)
    return case, rectification


@dataclass(frozen=True, slots=True)
class Verified:
    case: Case
    rectification: Rectification
    passed: bool


async def verify_rectification(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    passed: bool,
    note: str,
    now: datetime,
) -> Verified:
    """核验: the assignee records the check with a note. Passed: the rectification is verified
    (late when after its deadline), the clock met, the event in the trail. Not passed: it stays
    open, the note is recorded as an event, and the clock runs on."""
    case, rectification = await check_verify(session, actor, case_id)
    assert case.id is not None and actor.id is not None
    text = clean_note(note, "核验情况", NOTE_MAX)
    clock = await get_clock(session, case.id, ClockKind.RECTIFICATION)
    if clock is not None and clock.state in (ClockState.RUNNING, ClockState.PAUSED):
        rectification.due_at = clock.due_at  # a deadline moved by a loaded calendar
    data: dict[str, object] = {
        "unit": rectification.unit,
        "due_at": rectification.due_at.isoformat(),
    }
    if passed:
        rectification.verify(actor.id, text, now)
        await meet_clock(session, case.id, ClockKind.RECTIFICATION, now)
        data["late"] = rectification.late
        event = record_event(
            case, EventKind.RECTIFICATION_VERIFIED, actor_of(actor), now, note=text, data=data
        )  # the note is the staff's: the reporter hears the result at 办结
    else:
        data["late"] = utc(now) > rectification.due_at
        event = record_event(
            case, EventKind.RECTIFICATION_REJECTED, actor_of(actor), now, note=text, data=data
        )
    session.add_all([rectification, case, event])
    await session.commit()
    return Verified(case, rectification, passed)


async def require_settled(session: AsyncSession, case: Case, outcome: Outcome) -> None:
    """办结 (and its 组长审核) waits for the 核验: refused while a rectification is open, and
    the outcome 已整改 needs a verified one."""
    assert case.id is not None
    if await open_rectification(session, case.id) is not None:
        raise InvalidInput(VERIFY_FIRST, detail=f"case {case.id}: rectification open")
    if outcome is Outcome.RECTIFIED:
        verified = (
            await session.exec(
                select(Rectification.id).where(
                    Rectification.case_id == case.id,
                    Rectification.state == RectificationState.VERIFIED,
                )
            )
        ).first()
        if verified is None:
            raise InvalidInput(RECTIFY_FIRST, detail=f"case {case.id}: no verified rectification")


async def lapse_rectification(
    session: AsyncSession, case: Case, now: datetime, *, why: str
) -> None:
    """The case left the step (退回, 转办, 合并办理, 撤回): an open rectification lapses, its
    clock stops, and the trail says so. Nothing when none is open. The caller commits."""
    assert case.id is not None
    rectification = await open_rectification(session, case.id)
    if rectification is None:
        return
    rectification.lapse(now)
    await cancel_clock(session, case.id, ClockKind.RECTIFICATION)
    event = record_event(
        case, EventKind.RECTIFICATION_LAPSED, SYSTEM, now, note=why,
        data={"unit": rectification.unit},
    )  # fmt: skip
    session.add_all([rectification, case, event])


@dataclass(frozen=True, slots=True)
class Withdrawn:
    rectification: Rectification
    told_assignee: bool  # the assignee was told (not when none, or when they withdrew it)


async def check_withdraw(
    session: AsyncSession, actor: Inspector, case_id: int
) -> tuple[Case, Rectification, bool]:
    """Before the reason is asked for: the checks ``withdraw_rectification`` makes (the case,
    its open 整改, and whether the actor is an admin standing in)."""
    case = await load_case(session, case_id)
    stand_in = await require_team_leader(session, actor, case)
    if case.status not in WORKING_STATUSES:
        raise moved_on(case, "撤销整改要求")
    _refuse_clue(case)
    assert case.id is not None
    rectification = await open_rectification(session, case.id)
    if rectification is None:
        raise InvalidInput(NOTHING_TO_WITHDRAW)
    return case, rectification, stand_in


async def may_withdraw(session: AsyncSession, actor: Inspector, case: Case) -> bool:
    """撤销整改要求 is offered: a team leader of the case's team (an admin only standing in for a
    team without one), on an appeal at work with a 整改 open."""
    return (
        case.track is Track.APPEAL
        and case.status in WORKING_STATUSES
        and leads_team(actor, case)
        and (actor.role is not Role.ADMIN or await stands_in(session, actor, case))
        and case.id is not None
        and await open_rectification(session, case.id) is not None
    )


async def withdraw_rectification(
    session: AsyncSession, actor: Inspector, case_id: int, *, reason: str, now: datetime
) -> Withdrawn:
    """撤销整改要求: the team leader (组长负责制; an admin only standing in for a team without
    one) withdraws an open 整改 that no longer stands — the finding changed, or the unit cannot
    be made to rectify — with a reason: it lapses, its clock stops, the trail names who and
    why (internal: the reporter hears the result at 办结), and the assignee is told. A
    withdrawn 整改 is left out of the 整改到位率 like a lapsed one; the trail keeps it."""
    case, rectification, stand_in = await check_withdraw(session, actor, case_id)
    assert case.id is not None
    text = clean_note(reason, "撤销理由", NOTE_MAX)
    rectification.lapse(now)
    await cancel_clock(session, case.id, ClockKind.RECTIFICATION)
    data: dict[str, object] = {"unit": rectification.unit, "withdrawn": True}
    if stand_in:
        data["stand_in"] = True
    event = record_event(
        case, EventKind.RECTIFICATION_LAPSED, actor_of(actor), now, note=text, data=data
    )
    session.add_all([rectification, case, event])
    holder = await session.get(Inspector, case.assignee_id) if case.assignee_id else None
    told = holder is not None and holder.id != actor.id
    if holder is not None and told:
        await tell_inspectors(
            session, case, [holder], "inspector_rectification_withdrawn", stage=event.seq,
            now=now, unit=rectification.unit, reason=text, stand_in=stand_in,
        )  # fmt: skip
    await session.commit()
    return Withdrawn(rectification, told)


# --- what a page or a chat shows ---


def may_set(actor: Inspector, case: Case, current: Rectification | None) -> bool:
    """反馈整改 is open to the assignee of an appeal in work with none open."""
    return (
        works_on(actor, case)
        and case.track is Track.APPEAL
        and case.status in WORKING_STATUSES
        and current is None
    )


def may_verify(actor: Inspector, case: Case, current: Rectification | None) -> bool:
    """核验整改 is open to the assignee while a rectification is open."""
    return (
        works_on(actor, case)
        and case.track is Track.APPEAL
        and case.status in WORKING_STATUSES
        and current is not None
    )


@dataclass(frozen=True, slots=True)
class RectificationLine:
    """One rectification as staff read it."""

    requirement: str
    unit: str
    working_days: int
    due_at: datetime
    provisional: bool
    state: RectificationState
    set_at: datetime
    verified_at: datetime | None
    verify_note: str | None
    late: bool
    overdue: bool  # open and past its deadline now


@dataclass(frozen=True, slots=True)
class RectificationPanel:
    """The 整改 of a case on its page: the rectifications and what this person may do."""

    lines: list[RectificationLine]
    may_set: bool
    may_verify: bool
    may_withdraw: bool  # 撤销整改要求: the team leader, while one is open
    default_days: int
    max_days: int


def _line(row: Rectification, now: datetime) -> RectificationLine:
    is_open = row.state is RectificationState.OPEN
    return RectificationLine(
        requirement=row.requirement, unit=row.unit, working_days=row.working_days,
        due_at=row.due_at, provisional=row.provisional, state=row.state, set_at=row.set_at,
        verified_at=row.verified_at, verify_note=row.verify_note, late=bool(row.late),
        overdue=is_open and utc(now) > row.due_at,
    )  # fmt: skip


async def rectification_panel(
    session: AsyncSession, actor: Inspector, case: Case, *, policy: Policy, now: datetime
) -> RectificationPanel | None:
    """The 整改 panel of an appeal's page (None for a clue); the caller checked the view."""
    if case.track is not Track.APPEAL:
        return None
    assert case.id is not None
    rows = await list_rectifications(session, case.id)
    current = next((r for r in rows if r.state is RectificationState.OPEN), None)
    config = policy.config.rectification
    return RectificationPanel(
        lines=[_line(r, now) for r in rows],
        may_set=may_set(actor, case, current),
        may_verify=may_verify(actor, case, current),
        may_withdraw=current is not None and await may_withdraw(session, actor, case),
        default_days=config.days,
        max_days=config.max_days,
    )
