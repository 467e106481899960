"""督办 with a 督办期限 and a 督办回复, through the production dispatcher: the leader marks it, the
sweep reminds the assignee, an unanswered 督办 goes to the leader once at its deadline, the late
reply is recorded as late and reaches the leader; the weekly 超期通报 counts, never details."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig, SupervisionConfig
from bot.db import SessionFactory
from bot.scheduler import create_scheduler
from bot.services.inspectors import get_actor
from bot.services.policy import Policy
from bot.services.supervision import reply_supervision, send_overdue_notice, supervise_case
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.clock import ClockKind, ClockStage, ClockState
from models.errors import InvalidInput, PermissionDenied
from models.event import EventKind
from models.notification import Notification
from notifications.render import telegram_html
from tests.casework import outbox, sh
from tests.inspector_support import (
    BUSINESS_LEADER,
    INSPECTOR,
    LEADER,
    PROJECTS_INSPECTOR,
    SOE,
    build,
    clocks,
    deliver,
    events,
    load,
    make_people,
    submit,
    user,
)
from tests.intake_helpers import assert_telegram_html

pytestmark = pytest.mark.both_databases

# submitted Thursday 26 Nov 2026 10:00 (Shanghai); 督办 at once with the default 5 working days
SUPERVISION_DUE = sh(2026, 12, 3, 18)  # Fri 27, Mon 30, Tue 1, Wed 2, Thu 3 Dec
SUPERVISION_WARNING = sh(2026, 12, 2, 18)  # one working day before


async def test_a_supervision_answered_late_is_escalated_to_the_leader_once_and_recorded_late(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    boss, leader, inspector = user(tg, LEADER), user(tg, BUSINESS_LEADER), user(tg, INSPECTOR)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.id is not None
    await deliver(tg, sessions)
    await inspector.click("签收")

    await boss.send(f"/case {case.number}")
    await boss.click("督办")
    assert "列为督办事项" in boss.last and "督办期限：12月03日 18:00" in boss.last
    assert (await clocks(sessions, case.id))["supervision"].due_at == SUPERVISION_DUE
    await deliver(tg, sessions)
    assert "督办期限：12月03日 18:00（5个工作日）" in inspector.last
    assert "督办回复" in inspector.messages[-1].button_texts
    assert "督办期限" in leader.last

    await sweep_deadlines(sessions, catalog, calendar, SUPERVISION_WARNING)
    await deliver(tg, sessions)
    assert inspector.last.startswith("【督办】【催办】")
    assert "督办回复期限为" in inspector.last and "请及时报送督办回复" in inspector.last
    assert "督办回复" in inspector.messages[-1].button_texts

    for moment in (SUPERVISION_DUE, SUPERVISION_DUE + timedelta(hours=1), sh(2026, 12, 7, 10)):
        await sweep_deadlines(sessions, catalog, calendar, moment)
    escalated = await outbox(sessions, "supervision_escalated")
    assert [row.chat_id for row in escalated] == [LEADER]  # once, to the leader
    await deliver(tg, sessions)
    assert boss.last.startswith(f"【督办】问题 {case.number} 督办回复已逾期（期限 ")
    assert "请您督促办理" in boss.last
    assert (await clocks(sessions, case.id))["supervision"].stage == ClockStage.ESCALATED

    clock.set(sh(2026, 12, 7, 11))
    await inspector.click("督办回复")
    assert "请输入问题" in inspector.last
    await inspector.send("已约谈经开区管委会，返还资金本月底前拨付到位。")
    assert "督办回复已报送（已超过督办期限）" in inspector.last
    await deliver(tg, sessions)
    assert f"【督办回复】{case.number}" in boss.last and "已超过督办期限" in boss.last
    assert "本月底前拨付到位" in boss.last

    replied = [
        e for e in await events(sessions, case.id) if e.kind is EventKind.SUPERVISION_REPLIED
    ]
    assert len(replied) == 1 and replied[0].data["late"] is True
    assert replied[0].actor_id == people.id(INSPECTOR)
    supervision = (await clocks(sessions, case.id))["supervision"]
    assert supervision.state is ClockState.MET
    before = len(await outbox(sessions))
    await sweep_deadlines(sessions, catalog, calendar, sh(2026, 12, 9, 10))
    assert [r.kind for r in (await outbox(sessions))[before:] if "supervision" in r.kind] == []
    assert (await load(sessions, case.number)).supervision_replied_at is not None
    assert_telegram_html(tg)


async def test_a_reply_in_time_is_not_late_and_the_leader_may_choose_the_days(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.id is not None
    policy = Policy(catalog, calendar)
    async with sessions() as session:
        boss = await get_actor(session, LEADER)
        with pytest.raises(InvalidInput):
            await supervise_case(session, boss, case.id, policy=policy, now=clock.now(), days=0)
        flagged = await supervise_case(
            session, boss, case.id, policy=policy, now=clock.now(), days=2, note="请一周内办结"
        )
    assert flagged.supervision_due_at == sh(2026, 11, 30, 18)  # Fri 27, Mon 30
    async with sessions() as session:
        other = await get_actor(session, PROJECTS_INSPECTOR)  # another team
        with pytest.raises(PermissionDenied):
            await reply_supervision(session, other, case.id, "由我来答复", now=clock.now())
        team_leader = await get_actor(session, BUSINESS_LEADER)
        reply = await reply_supervision(
            session, team_leader, case.id, "已安排专人督促，周五前办结。", now=clock.now()
        )
    assert reply.late is False
    async with sessions() as session:
        inspector = await get_actor(session, INSPECTOR)
        with pytest.raises(InvalidInput, match="督办回复已报送"):
            await reply_supervision(session, inspector, case.id, "再补充一次", now=clock.now())
    assert (await clocks(sessions, case.id))["supervision"].state is ClockState.MET


async def test_the_weekly_overdue_notice_counts_by_team_and_zone_and_never_details_a_clue(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    appeal = await submit(sessions, catalog, calendar, clock, people.reporter)
    clue = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=SOE,
    )  # fmt: skip
    async with sessions() as session:
        assert await send_overdue_notice(session, calendar, clock.now()) == []  # nothing overdue
    monday = sh(2026, 12, 7, 9)
    async with sessions() as session:
        told = await send_overdue_notice(session, calendar, monday)
    assert [to.chat_id for to in told] == [LEADER]
    async with sessions() as session:
        again = await send_overdue_notice(session, calendar, monday + timedelta(hours=3))
    assert again == []  # once a week
    (row,) = await outbox(sessions, "overdue_notice")
    text = telegram_html(row)
    # the total includes the clue, and says so; the rows are the appeals'
    assert (
        "截至12月7日，已超过办理期限、尚未办理完毕的问题共2件，其中诉求1件、问题线索1件。" in text
    )
    assert "诉求按承办组：\n· “营商环境”立项监督组：1件" in text
    assert "诉求按园区：\n· 安居经开区：1件" in text
    assert "问题线索按规定只通报件数，不列明细。" in text and "另有" not in text
    assert appeal.number not in text and clue.number not in text
    assert "国企" not in text and "反映人" not in text
    async with sessions() as session:
        rows = (await session.exec(select(Notification).order_by(col(Notification.id)))).all()
    assert all(r.case_id is None for r in rows if r.kind == "overdue_notice")


async def test_the_weekly_overdue_notice_counts_a_late_supervised_case_once_and_says_so(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    appeal = await submit(sessions, catalog, calendar, clock, people.reporter)
    async with sessions() as session:
        await supervise_case(
            session, await get_actor(session, LEADER), appeal.id or 0,
            policy=Policy(catalog, calendar), now=clock.now(), days=1,
        )  # fmt: skip
    async with sessions() as session:
        await send_overdue_notice(session, calendar, sh(2026, 12, 7, 9))
    (row,) = await outbox(sessions, "overdue_notice")
    text = telegram_html(row)
    assert "尚未办理完毕的问题共1件。" in text  # 签收 and 督办回复 both late: one case
    assert "上述问题中，有1件督办件未按期报送督办回复。" in text
    assert "问题线索" not in text


async def test_a_supervision_clock_runs_only_on_a_supervised_case(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.id is not None
    assert ClockKind.SUPERVISION.value not in await clocks(sessions, case.id)
    async with sessions() as session:
        inspector = await get_actor(session, INSPECTOR)
        with pytest.raises(InvalidInput, match="未被督办"):
            await reply_supervision(session, inspector, case.id, "无", now=clock.now())


async def test_a_leader_chooses_the_supervision_days_in_the_chat(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    boss, inspector = user(tg, LEADER), user(tg, INSPECTOR)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    await boss.send(f"/supervise {case.number} 十")
    assert "请写为 /supervise 问题编号 工作日数" in boss.last
    await boss.send(f"/supervise {case.number} 99")
    assert "督办期限应为1至60个工作日" in boss.last
    await inspector.send(f"/supervise {case.number} 3")
    assert "只有委领导可以督办" in inspector.last
    await boss.send(f"/supervise {case.number} 3")
    assert "督办期限：12月01日 18:00" in boss.last
    assert (await load(sessions, case.number)).supervision_due_at == sh(2026, 12, 1, 18)


def test_the_overdue_notice_is_scheduled_weekly_at_nine_on_the_configured_day(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    now = sh(2026, 11, 27, 14)  # a Friday
    scheduler = create_scheduler(sessions=sessions, config=config, clock=FrozenClock(now))
    trigger = {job.id: job for job in scheduler.get_jobs()}["overdue-notice"].trigger
    assert trigger.get_next_fire_time(None, now) == sh(2026, 11, 30, 9)  # Monday
    wednesday = config.model_copy(update={"supervision": SupervisionConfig(notice_weekday=3)})
    scheduler = create_scheduler(sessions=sessions, config=wednesday, clock=FrozenClock(now))
    trigger = {job.id: job for job in scheduler.get_jobs()}["overdue-notice"].trigger
    assert trigger.get_next_fire_time(None, now) == sh(2026, 12, 2, 9)
    off = config.model_copy(update={"supervision": SupervisionConfig(overdue_notice=False)})
    scheduler = create_scheduler(sessions=sessions, config=off, clock=FrozenClock(now))
    assert "overdue-notice" not in {job.id for job in scheduler.get_jobs()}
