"""督办: a leader flags an open case they may see (``can_view``: never a clue) with a 督办期限 in
working days; the team answers with a 督办回复 by then, or the deadline sweep reminds, marks it
overdue and takes it to the leaders (the ``supervision`` clock). Weekly, a 超期通报 counts the
overdue cases by team and zone for the leaders (clues as one total, never a row)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.case_lists import require_view
from bot.services.clocks import get_clock, meet_clock, start_clock
from bot.services.inspectors import team_leaders
from bot.services.notices import tell_inspectors
from bot.services.permissions import actor_of, clean_note, load_case, moved_on
from bot.services.policy import Policy
from bot.services.repeats import in_team
from models import notification
from models.calendar import WorkCalendar
from models.case import OPEN_STATUSES, Case
from models.clock import DEADLINE_CLOCKS, CaseClock, ClockKind, overdue_clock
from models.errors import InvalidInput, PermissionDenied
from models.event import EventKind, record_event
from models.notification import Offer, Recipient
from models.org import Track, Zone
from models.team import Inspector, Role, Team
from models.types import utc
from notifications.outbox import enqueue, notification_key, reachable
from notifications.texts import preview

SUPERVISION_DAYS_MAX = 60
REPLY_MAX = 1000


async def supervise_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    policy: Policy,
    now: datetime,
    note: str | None = None,
    days: int | None = None,
) -> Case:
    """督办: a leader flags an open case with a 督办期限 of ``days`` working days (the
    configured ``[supervision] reply_days`` by default); its team leaders and assignee are told,
    the 督办回复 clock starts, and every list and message shows 【督办】 from then on."""
    case = await load_case(session, case_id)
    if actor.role is not Role.LEADER:
        raise PermissionDenied(
            "只有委领导可以督办。", detail=f"inspector {actor.id} is not a leader"
        )
    await require_view(session, actor, case)  # before anything that names a clue or its status
    if case.status not in OPEN_STATUSES:
        raise moved_on(case, "督办")
    if case.supervised:
        raise InvalidInput(f"问题 {case.number} 已在督办中。")
    workdays = policy.config.supervision.reply_days if days is None else days
    if not 1 <= workdays <= SUPERVISION_DAYS_MAX:
        raise InvalidInput(f"督办期限应为1至{SUPERVISION_DAYS_MAX}个工作日。")
    assert case.id is not None
    text = clean_note(note, "督办意见", 300) if note else None
    clock = await start_clock(
        session,
        case,
        ClockKind.SUPERVISION,
        workdays=workdays,
        calendar=policy.calendar,
        now=now,
        warn_before=policy.warn_before,
    )
    case.supervised = True
    case.supervised_at = now
    case.supervised_by_id = actor.id
    case.supervision_due_at = clock.due_at
    case.supervision_replied_at = None
    event = record_event(
        case,
        EventKind.SUPERVISED,
        actor_of(actor),
        now,
        note=text,
        data={"workdays": workdays, "due_at": clock.due_at.isoformat()},
    )
    session.add_all([case, event])
    await _tell_team(session, case, actor, stage=event.seq, now=now, note=text, clock=clock)
    await session.commit()
    return case


async def _tell_team(
    session: AsyncSession,
    case: Case,
    actor: Inspector,
    *,
    stage: int,
    now: datetime,
    note: str | None,
    clock: CaseClock,
) -> None:
    assert case.id is not None
    people = await team_leaders(session, case.team_id, track=case.track)
    if case.assignee_id is not None:
        assignee = await session.get(Inspector, case.assignee_id)
        if assignee is not None:
            people.append(assignee)
    offer = (
        Offer.LEADER_ASSIGN.on(case.id)
        if case.assignee_id is None
        else Offer.SUPERVISION_REPLY.on(case.id)
    )
    await tell_inspectors(
        session,
        case,
        people,
        "inspector_supervised",
        stage=stage,
        now=now,
        offer=offer,
        leader=actor.name,
        note=note,
        status=case.status.label,
        description=preview(case.description, 200),
        due=clock.due_at,
        workdays=clock.workdays,
        provisional=clock.provisional,
    )


def may_reply_supervision(actor: Inspector, case: Case) -> bool:
    """督办回复: the assignee or a team leader of the case's team, on an open 督办 case whose
    reply has not come yet."""
    return (
        in_team(actor, case)
        and case.supervised
        and case.supervision_replied_at is None
        and case.status in OPEN_STATUSES
    )


async def check_supervision_reply(session: AsyncSession, actor: Inspector, case_id: int) -> Case:
    """Before the 督办回复 is typed: the checks ``reply_supervision`` makes at the end."""
    case = await load_case(session, case_id)
    if not may_reply_supervision(actor, case):
        if in_team(actor, case):
            if case.status not in OPEN_STATUSES:
                raise moved_on(case, "报送督办回复")
            if case.supervised and case.supervision_replied_at is not None:
                raise InvalidInput(f"问题 {case.number} 的督办回复已报送。")
            raise InvalidInput(f"问题 {case.number} 未被督办，无需报送督办回复。")
        raise PermissionDenied(
            "只有承办人或本组组长可以报送督办回复。",
            detail=f"case {case.id}: inspector {actor.id} may not reply to its 督办",
        )
    return case


@dataclass(frozen=True, slots=True)
class SupervisionReply:
    case: Case
    late: bool
    due_at: datetime | None


async def reply_supervision(
    session: AsyncSession, actor: Inspector, case_id: int, text: str, *, now: datetime
) -> SupervisionReply:
    """督办回复: recorded in the history (late or not), the 督办回复 clock met, and the leader
    who marked the 督办 told what the team says (all leaders when that one has left)."""
    case = await check_supervision_reply(session, actor, case_id)
    assert case.id is not None
    reply = clean_note(text, "督办回复", REPLY_MAX)
    due_at = case.supervision_due_at
    late = due_at is not None and utc(now) > due_at
    case.supervision_replied_at = now
    await meet_clock(session, case.id, ClockKind.SUPERVISION, now)
    event = record_event(
        case,
        EventKind.SUPERVISION_REPLIED,
        actor_of(actor),
        now,
        note=reply,
        data={"late": late, "due_at": due_at.isoformat() if due_at else None},
    )
    session.add_all([case, event])
    leader = await session.get(Inspector, case.supervised_by_id) if case.supervised_by_id else None
    leaders = [leader] if leader is not None and leader.active else []
    if not leaders:
        leaders = await reachable(session, Role.LEADER)
    await tell_inspectors(
        session,
        case,
        leaders,
        "leader_supervision_replied",
        stage=event.seq,
        now=now,
        offer=Offer.CASE_MATERIALS.on(case.id),
        name=actor.name,
        reply=reply,
        late=late,
        due=due_at,
    )
    await session.commit()
    return SupervisionReply(case, late, due_at)


# --- the weekly 超期通报 ---


@dataclass(slots=True)
class OverdueNotice:
    """Overdue open cases: appeals by team and by zone, clues as one total, and how many 督办
    replies are late."""

    total: int = 0  # appeals and clues
    by_team: list[tuple[str, int]] = field(default_factory=list)
    by_zone: list[tuple[str, int]] = field(default_factory=list)
    clues: int = 0  # of ``total``
    supervision_late: int = 0  # of ``total``: 督办 cases whose 督办回复 is late

    @property
    def appeals(self) -> int:
        return self.total - self.clues


async def overdue_notice(session: AsyncSession, now: datetime) -> OverdueNotice:
    """The open cases with a deadline (签收, 受理告知, 办结, 线索处置, 督办回复) past at
    ``now``, each counted once however many of its deadlines passed."""
    rows = (
        await session.exec(
            select(Case, CaseClock.kind)
            .join(CaseClock, col(CaseClock.case_id) == col(Case.id))
            .where(
                col(Case.status).in_(OPEN_STATUSES),
                overdue_clock(utc(now)),  # a clock paused after its deadline included
                col(CaseClock.kind).in_(DEADLINE_CLOCKS),
            )
        )
    ).all()
    teams = {t.id: t.name for t in (await session.exec(select(Team))).all()}
    zones = {z.id: z.name for z in (await session.exec(select(Zone))).all()}
    cases: dict[int, Case] = {}
    late: set[int] = set()
    for case, kind in rows:
        assert case.id is not None
        cases[case.id] = case
        if kind is ClockKind.SUPERVISION:
            late.add(case.id)
    appeals = [c for c in cases.values() if c.track is Track.APPEAL]
    by_team = Counter(teams.get(c.team_id, "未分办") if c.team_id else "未分办" for c in appeals)
    by_zone = Counter(
        zones.get(c.zone_id, "未知园区") if c.zone_id else "未知园区" for c in appeals
    )
    return OverdueNotice(
        total=len(cases),
        by_team=sorted(by_team.items(), key=lambda item: (-item[1], item[0])),
        by_zone=sorted(by_zone.items(), key=lambda item: (-item[1], item[0])),
        clues=len(cases) - len(appeals),
        supervision_late=len(late),
    )


async def send_overdue_notice(
    session: AsyncSession, calendar: WorkCalendar, now: datetime
) -> list[Recipient]:
    """The 超期通报 to every leader, once per ISO week whatever runs it; nothing when no case
    is overdue. Counts only: no case number, no reporter, and a clue never more than a total."""
    figures = await overdue_notice(session, now)
    if figures.total == 0:
        return []
    local = now.astimezone(calendar.tz)
    year, week, _ = local.isocalendar()
    says = notification.Notice.of(
        "leader_overdue_notice",
        day=f"{local.month}月{local.day}日",
        total=figures.total,
        appeals=figures.appeals,
        by_team=[list(item) for item in figures.by_team],
        by_zone=[list(item) for item in figures.by_zone],
        clues=figures.clues,
        supervision_late=figures.supervision_late,
    )
    told = []
    for leader in await reachable(session, Role.LEADER):
        to = Recipient.inspector(leader)
        key = notification_key("overdue_notice", stage=f"{year}W{week:02d}", recipient=to.tag)
        if await enqueue(session, key=key, kind="overdue_notice", to=to, notice=says, now=now):
            told.append(to)
    await session.commit()
    return told


async def supervision_clock(session: AsyncSession, case_id: int) -> CaseClock | None:
    """The case's 督办回复 clock, if it was ever supervised with a deadline."""
    return await get_clock(session, case_id, ClockKind.SUPERVISION)
