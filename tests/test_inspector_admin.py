"""What admins do in Telegram: re-route a case to another team, deactivate a person (their open
cases go back to the team leader, a 重办 case keeping its status)."""

from __future__ import annotations

from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.inspectors import deactivate_inspector, get_actor
from bot.services.permissions import STAND_IN_REFUSED
from bot.services.policy import Policy
from bot.services.resolution import resolve_case
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Outcome
from models.clock import ClockState
from models.event import SYSTEM, EventKind, transition
from models.notification import Notification, NotificationStatus
from models.team import Inspector
from notifications.sender import Sender
from tests.factories import make_inspector
from tests.inspector_support import (
    ADMIN,
    BUSINESS_LEADER,
    INSPECTOR,
    REPORTER,
    SAFETY_INSPECTOR,
    SECOND_INSPECTOR,
    build,
    clocks,
    deliver,
    events,
    load,
    make_people,
    reporter_notices,
    submit,
    user,
)


async def test_an_admin_re_routes_a_case_being_worked_to_another_team(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """An admin stands in only for a team with no team leader: refused while it has one."""
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.id is not None
    inspector, admin = user(tg, INSPECTOR), user(tg, ADMIN)
    await deliver(tg, sessions)
    await inspector.click("签收")
    await user(tg, BUSINESS_LEADER).send(f"/reroute {case.number}")
    assert user(tg, BUSINESS_LEADER).last == "只有管理员可以进行此操作。"
    await admin.send(f"/reroute {case.number.lower()}")
    assert admin.last == STAND_IN_REFUSED
    async with sessions() as session:
        await deactivate_inspector(session, people.id(BUSINESS_LEADER), clock.now())
    await admin.send(f"/reroute {case.number.lower()}")
    assert f"请选择 {case.number} 的承办组" in admin.last
    await admin.click("分办：“安全生产”立项监督组")
    assert "已分办至“安全生产”立项监督组，由孙监督承办" in admin.last
    await deliver(tg, sessions)
    assert "改由“安全生产”立项监督组办理" in inspector.last
    assert f"新交办问题 {case.number}" in user(tg, SAFETY_INSPECTOR).last
    assert "已转由“安全生产”立项监督组办理" in user(tg, REPORTER).last
    moved = await load(sessions, case.number)
    assert (moved.status, moved.assignee_id) == (CaseStatus.ASSIGNED, people.id(SAFETY_INSPECTOR))
    kinds = [e.kind for e in await events(sessions, case.id)]
    assert kinds[-3:] == [EventKind.TRANSFERRED, EventKind.ROUTED, EventKind.ASSIGNED]
    assert (await clocks(sessions, case.id))["resolve"].state is ClockState.CANCELLED
    assert await reporter_notices(sessions) == ["case_accepted", "case_transferred"]
    transferred = [e for e in await events(sessions, case.id) if e.kind is EventKind.TRANSFERRED]
    assert transferred[-1].data["stand_in"] is True


async def test_an_admin_deactivates_an_inspector_and_the_leader_gets_their_cases_back(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    signed, reopened, waiting = [
        await submit(sessions, catalog, calendar, clock, people.reporter) for _ in range(3)
    ]
    assert signed.id and reopened.id and waiting.id
    async with sessions() as session:
        zhao = await make_inspector(
            session,
            clock.now(),
            team_code="business_env",
            name="赵监督",
            telegram_user_id=SECOND_INSPECTOR,
        )
        actor = await get_actor(session, INSPECTOR)
        for case_id in (signed.id, reopened.id):
            await accept_case(
                session, actor, case_id, policy=Policy(catalog, calendar), now=clock.now()
            )
        await resolve_case(
            session,
            actor,
            reopened.id,
            outcome=Outcome.SOLVED,
            summary="已办结。",
            amount_yuan=None,
            policy=Policy(catalog, calendar),
            now=clock.now(),
        )
        case = await session.get(Case, reopened.id)
        assert case is not None
        session.add(transition(case, CaseStatus.REOPENED, EventKind.REOPENED, SYSTEM, clock.now()))
        session.add(case)
        await session.commit()
    await deliver(tg, sessions)

    admin, leader = user(tg, ADMIN), user(tg, BUSINESS_LEADER)
    await admin.send("/inspectors")
    assert "李监督 · 监督员 · “营商环境”立项监督组 · 在办3件" in admin.last
    await admin.click(f"停用 {people.id(INSPECTOR)}. 李监督")
    await admin.click("确认停用")
    assert (
        f"已停用李监督。3件在办问题已退回组长：{signed.number}、{reopened.number}、{waiting.number}"
        in admin.last
    )
    await deliver(tg, sessions)
    back = [m for m in leader.messages if "待重新分派" in m.text]
    assert [m.text.split()[1].removesuffix("</b>") for m in back] == [
        signed.number,
        reopened.number,
        waiting.number,
    ]

    after = {c.number: await load(sessions, c.number) for c in (signed, reopened, waiting)}
    assert [(c.status, c.assignee_id) for c in after.values()] == [
        (CaseStatus.SUBMITTED, None),
        (CaseStatus.REOPENED, None),  # 重办 stays 重办; the leader re-assigns it
        (CaseStatus.SUBMITTED, None),
    ]
    await leader.click("分派", message=back[1])
    await leader.click("赵监督（0）")
    again = await load(sessions, reopened.number)
    assert (again.status, again.assignee_id) == (CaseStatus.REOPENED, zhao.id)
    await deliver(tg, sessions)
    second = user(tg, SECOND_INSPECTOR)
    assert f"新交办问题 {reopened.number}" in second.last
    await second.click("记录进展")
    await second.send("重新约谈管委会。")
    await second.click("仅内部记录")
    assert (await load(sessions, reopened.number)).status is CaseStatus.IN_PROGRESS

    told = await reporter_notices(sessions)
    await leader.click("分派", message=back[0])
    await leader.click("赵监督（1）")
    await deliver(tg, sessions)
    await second.click("签收")
    signed_again = await load(sessions, signed.number)
    assert (signed_again.status, signed_again.assignee_id) == (CaseStatus.ACCEPTED, zhao.id)
    assert await reporter_notices(sessions) == told  # same team: the reporter was told already

    await user(tg, INSPECTOR).send("/queue")
    assert user(tg, INSPECTOR).last == "您不是登记的监督人员，无权进行此操作。"
    async with sessions() as session:
        nobody = (
            await session.exec(select(Case).where(Case.assignee_id == people.id(INSPECTOR)))
        ).all()
    assert nobody == []


async def test_notices_queued_for_a_person_deactivated_meanwhile_are_never_sent_to_them(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """A notice waits in the outbox (Telegram down, a retry, the morning's digest); meanwhile its
    inspector is deactivated: it is withdrawn, not delivered with the case and its buttons."""
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter, named=True)
    async with sessions() as session:
        queued = (
            await session.exec(
                select(Notification).where(Notification.recipient_id == people.id(INSPECTOR))
            )
        ).all()
        assert [row.status for row in queued] == [NotificationStatus.PENDING]
        await deactivate_inspector(session, people.id(INSPECTOR), clock.now())
    async with sessions() as session:  # invited again, to another team, before the sender ran
        person = await session.get(Inspector, people.id(INSPECTOR))
        assert person is not None
        person.active, person.team_id = True, None
        session.add(person)
        await session.commit()
    await Sender(sessions, tg.bot, clock=clock).drain()
    assert tg.in_chat(INSPECTOR) == []  # not the assignment, with the enterprise and 签收
    assert case.number in user(tg, BUSINESS_LEADER).last  # the case is back with the team
    async with sessions() as session:
        row = await session.get(Notification, queued[0].id)
        assert row is not None and row.status is NotificationStatus.WITHDRAWN
