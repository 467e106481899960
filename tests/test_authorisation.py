"""Every button and command on the inspectors' side is authorised from the database.

A reporter, an inspector or leader of another team, a deactivated inspector, the assignee on the
leader's buttons, and tampered or replayed callback data: each press is refused with a Chinese
alert, logged without identities, and changes nothing (cases, events, notices, requests,
questions, clocks and people compared before and after).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.inspectors import get_actor
from bot.services.policy import Policy
from bot.services.relay import ask_reporter
from bot.services.requests import request_extension
from models.calendar import WorkCalendar
from models.team import Role, Team
from tests.factories import make_reporter
from tests.harness import Telegram
from tests.inspector_support import (
    ADMIN,
    BUSINESS_LEADER,
    INSPECTOR,
    REPORTER,
    SAFETY,
    SAFETY_INSPECTOR,
    SECOND_INSPECTOR,
    SOE_LEADER,
    People,
    build,
    make_people,
    snapshot,
    submit,
    user,
)

DEACTIVATED = 504
OTHER_REPORTER = 7_100_002
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class World:
    telegram: Telegram
    people: People
    case_id: int  # 营商环境组, accepted by INSPECTOR, a question open, an extension pending
    other_case_id: int  # 安全生产组, assigned to SAFETY_INSPECTOR
    request_id: int
    relay_id: int
    safety_team_id: int


@pytest.fixture
async def world(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> World:
    people = await make_people(
        sessions,
        clock,
        extra=(
            (DEACTIVATED, "business_env", Role.INSPECTOR, "停用监督员"),
            (SECOND_INSPECTOR, "business_env", Role.INSPECTOR, "赵监督"),
        ),
    )
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.id is not None
    async with sessions() as session:
        await make_reporter(
            session, clock.now(), telegram_user_id=OTHER_REPORTER, enterprise_name="另一企业"
        )
        other_reporter = await make_reporter(
            session, clock.now(), telegram_user_id=7_100_003, zone_code="anju"
        )
    other = await submit(
        sessions,
        catalog,
        calendar,
        clock,
        other_reporter,
        category="work_safety",
        description=SAFETY,
    )
    async with sessions() as session:
        actor = await get_actor(session, INSPECTOR)
        await accept_case(
            session, actor, case.id, policy=Policy(catalog, calendar), now=clock.now()
        )
        relay = await ask_reporter(
            session, actor, case.id, question="请提供承诺函。", now=clock.now()
        )
        request = await request_extension(
            session, actor, case.id, days=5, reason="等待会议研究。", now=clock.now()
        )
        deactivated = await get_actor(session, DEACTIVATED)
        deactivated.active = False
        session.add(deactivated)
        await session.commit()
        safety = (await session.exec(select(Team).where(Team.code == "safety"))).one()
    assert other.id and request.id and relay.id and safety.id
    return World(
        build(sessions, catalog, calendar, clock),
        people,
        case.id,
        other.id,
        request.id,
        relay.id,
        safety.id,
    )


def inspector_buttons(w: World) -> list[str]:
    """Every button an inspector, team leader, leader or admin presses, for the worked case."""
    x, other_inspector = w.case_id, w.people.id(SECOND_INSPECTOR)
    return [
        *(f"ca1:{act}:{x}" for act in ("acc", "ret", "mat", "ask", "prg", "ext", "res")),
        f"cs1:out:{x}:solved",
        f"cs1:days:{x}:5",
        f"cs1:vis:{x}:1",
        f"cs1:amt:{x}:",
        f"cs1:to:{x}:0",
        f"ta1:asg:{x}:0:0",
        f"ta1:to:{x}:{other_inspector}:0",
        f"ta1:rte:{x}:0:0",
        f"ta1:rt:{x}:0:{w.safety_team_id}",
        f"ta1:sup:{x}:0:0",
        f"rq1:{w.request_id}:1:0",
        f"rq1:{w.request_id}:0:0",
        f"ad1:off:{w.people.id(INSPECTOR)}",
        f"ad1:offok:{w.people.id(INSPECTOR)}",
    ]


def leader_buttons(w: World) -> list[str]:
    """The buttons of team leaders, leaders and admins only."""
    return [b for b in inspector_buttons(w) if b.split(":")[0] in ("ta1", "rq1", "ad1")]


async def assert_refused(
    sessions: SessionFactory,
    w: World,
    telegram_id: int,
    buttons: list[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    person = user(w.telegram, telegram_id)
    answers = w.telegram.session.callback_answers
    for data in buttons:
        before = await snapshot(sessions)
        count = len(answers)
        caplog.clear()
        with caplog.at_level(logging.INFO):
            await person.press(data)
        assert len(answers) == count + 1, data
        alert = answers[-1]
        assert alert.show_alert and alert.text and CJK.search(alert.text), (data, alert.text)
        assert await snapshot(sessions) == before, data
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert "refused update" in logged, data
        for identity in (telegram_id, REPORTER):  # as a number of its own, not inside another
            assert not re.search(rf"(?<!\d){identity}(?!\d)", logged), data


async def test_a_reporter_cannot_press_any_inspector_button(
    sessions: SessionFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await assert_refused(sessions, world, REPORTER, [*inspector_buttons(world), "qp1:1"], caplog)
    assert "您不是登记的监督人员" in world.telegram.session.callback_answers[-1].text


async def test_an_inspector_of_another_team_is_refused_everything(
    sessions: SessionFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await assert_refused(sessions, world, SAFETY_INSPECTOR, inspector_buttons(world), caplog)


async def test_a_team_leader_of_another_team_is_refused_everything(
    sessions: SessionFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await assert_refused(sessions, world, SOE_LEADER, inspector_buttons(world), caplog)


async def test_a_deactivated_inspector_of_the_team_is_refused_everything(
    sessions: SessionFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await assert_refused(sessions, world, DEACTIVATED, inspector_buttons(world), caplog)


async def test_the_assignee_cannot_press_the_leaders_buttons(
    sessions: SessionFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    await assert_refused(sessions, world, INSPECTOR, leader_buttons(world), caplog)


async def test_the_team_leader_cannot_press_the_assignees_buttons(
    sessions: SessionFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    x = world.case_id
    buttons = [f"ca1:{act}:{x}" for act in ("acc", "ret", "ask", "prg", "ext", "res")]
    await assert_refused(sessions, world, BUSINESS_LEADER, buttons, caplog)


async def test_tampered_and_replayed_callback_data_is_refused(
    sessions: SessionFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    x, y = world.case_id, world.other_case_id
    await assert_refused(
        sessions,
        world,
        INSPECTOR,
        [
            f"ca1:acc:{y}",  # another team's case
            f"ca1:res:{y}",
            "ca1:acc:999999",  # no such case
            f"ca1:acc:{x}",  # replayed: the case was signed for already
            "ca1:acc:abc",  # malformed
            f"ca1:zzz:{x}",
            "ca1:acc",
            f"ca1:acc:{x}:1",
            f"rq1:{world.request_id}",
            f"ta1:xx:{x}:0:0",
            f"cs1:out:{x}:solved",  # a step outside its conversation
            f"cs1:out:{x}:bogus",
            f"rr1:{world.relay_id}",  # the reporter's button
        ],
        caplog,
    )
    await assert_refused(
        sessions,
        world,
        BUSINESS_LEADER,
        [
            f"ta1:to:{x}:{world.people.id(SAFETY_INSPECTOR)}:0",  # not a member of the team
            f"ta1:to:{x}:{world.people.id(DEACTIVATED)}:0",  # deactivated member
            f"ta1:rt:{x}:0:{world.safety_team_id}",  # only the dispatcher or an admin routes
            "rq1:999999:1:0",
            f"rq1:{world.request_id}:1:{world.safety_team_id}",  # a team for an extension
            f"ta1:sup:{x}:0:0",  # only leaders mark 督办
            f"ad1:offok:{world.people.id(INSPECTOR)}",
        ],
        caplog,
    )


async def test_a_reporter_can_only_answer_their_own_open_question(
    sessions: SessionFactory,
    world: World,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await assert_refused(sessions, world, OTHER_REPORTER, [f"rr1:{world.relay_id}"], caplog)
    await assert_refused(sessions, world, SAFETY_INSPECTOR, [f"rr1:{world.relay_id}"], caplog)
    await assert_refused(sessions, world, REPORTER, ["rr1:999999"], caplog)


async def test_a_decision_pressed_twice_is_refused_the_second_time(
    sessions: SessionFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    leader = user(world.telegram, BUSINESS_LEADER)
    await leader.press(f"rq1:{world.request_id}:1:0")
    assert "已同意延期5个工作日" in leader.last
    await assert_refused(sessions, world, BUSINESS_LEADER, [f"rq1:{world.request_id}:0:0"], caplog)


async def test_commands_are_refused_to_reporters_and_stats_to_inspectors(
    sessions: SessionFactory, world: World
) -> None:
    before = await snapshot(sessions)
    reporter = user(world.telegram, REPORTER)
    for command in (
        "/queue",
        "/stats",
        "/case AJ-2026-00001",
        "/reroute AJ-2026-00001",
        "/inspectors",
    ):
        await reporter.send(command)
        assert reporter.last == "您不是登记的监督人员，无权进行此操作。", command
    other = user(world.telegram, SAFETY_INSPECTOR)
    await other.send("/case AJ-2026-00001")
    assert other.last == "您无权查看该问题。"
    for command in ("/stats", "/reroute AJ-2026-00001", "/inspectors"):
        await user(world.telegram, INSPECTOR).send(command)
        assert "只有" in user(world.telegram, INSPECTOR).last, command
    assert await snapshot(sessions) == before


async def test_an_inspector_deactivated_mid_conversation_cannot_finish_it(
    sessions: SessionFactory, world: World
) -> None:
    inspector = user(world.telegram, INSPECTOR)
    await inspector.press(f"ca1:prg:{world.case_id}")
    assert "请输入办理进展" in inspector.last
    admin = user(world.telegram, ADMIN)
    await admin.send("/inspectors")
    await admin.click(f"停用 {world.people.id(INSPECTOR)}. 李监督")
    await admin.click("确认停用")
    assert "已停用李监督" in admin.last
    before = await snapshot(sessions)
    await inspector.send("已约谈财政局。")
    assert inspector.last == "您不是登记的监督人员，无权进行此操作。"
    await inspector.press(f"cs1:vis:{world.case_id}:0")
    assert (
        world.telegram.session.callback_answers[-1].text == "您不是登记的监督人员，无权进行此操作。"
    )
    assert await snapshot(sessions) == before
