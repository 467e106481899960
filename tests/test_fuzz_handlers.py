"""Fuzzing every handler through the production dispatcher: a reporter, an inspector, a team leader
and a stranger are put in each conversation state they can reach, then send hostile text, every
kind of media, forged and foreign button data and commands out of place. Whatever they send:
no update ends in the unhandled-error path, every reply is one Telegram accepts with the user's
text escaped, and no case the sender may not touch changes.

Profiles: ``ci`` (the default, derandomized, part of ``make test``) and ``soak``
(``HYPOTHESIS_PROFILE=soak``, many more examples). Each test prints how many examples and updates
ran; ``LIANKA_FUZZ_SUMMARY=path`` also appends them there as JSON lines.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiogram.fsm.state import State
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, func, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.inspectors import get_actor
from bot.services.policy import Policy
from bot.services.relay import ask_reporter
from bot.services.requests import request_extension
from bot.services.resolution import resolve_case
from handlers.followup import FollowupStates
from handlers.inspector import CaseFlow
from handlers.relay import RelayFlow
from handlers.states import Intake, Material, Track
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.case import Case, Outcome, reported_by
from models.clock import CaseClock
from models.event import CaseEvent
from models.notification import Notification
from models.relay import RelayMessage
from models.reporter import Reporter
from models.request import ApprovalRequest
from models.team import Inspector, Team
from notifications.render import telegram_html
from tests.factories import make_reporter
from tests.fuzzing import Action, Media, Press, Tally, Text, actions, check_calls, check_html
from tests.harness import Telegram, TgUser
from tests.inspector_support import (
    BUSINESS_LEADER,
    INSPECTOR,
    REPORTER,
    SAFETY,
    SOE,
    People,
    build,
    make_people,
    submit,
)
from tests.intake_helpers import REFUND, TOKEN, make_card

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
_COMMON: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
}
settings.register_profile("ci", max_examples=30, derandomize=True, **_COMMON)
settings.register_profile("soak", max_examples=500, **_COMMON)
FUZZ = settings.get_profile(PROFILE)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(4 * 3600 if PROFILE == "soak" else 300)]


def examples(weight: float) -> settings:
    """The profile, with ``weight`` times its examples (people with more states get more)."""
    return settings(FUZZ, max_examples=int(FUZZ.max_examples * weight))


STRANGER = 7_300_001
OTHER_REPORTER = 7_100_002


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the handlers are the same on PostgreSQL, and the fuzz runs thousands of
    updates."""
    return f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"


Saved = dict[str, tuple[str | None, dict[str, Any]]]
Steps = Callable[[TgUser], Awaitable[Any]]


@dataclass
class World:
    telegram: Telegram
    sessions: SessionFactory
    people: People
    worked: int  # the reporter's case, accepted by INSPECTOR, a question and an extension open
    fresh: int  # the reporter's case, assigned to INSPECTOR, not yet signed for
    signed: int  # the reporter's case, accepted by INSPECTOR, nothing pending
    resolved: int  # the reporter's case, resolved, awaiting 回访
    foreign: int  # another enterprise's case, in another team (安全生产组)
    foreign_soe: int  # another enterprise's case, in the 国资国企 team
    relay_id: int
    request_id: int
    team_ids: list[int]
    tally: Tally = field(default_factory=lambda: Tally(PROFILE))
    saved: Saved = field(default_factory=dict)
    persona: str = ""
    started: float = 0.0
    protected: list[int] | None = None
    last_snapshot: dict[str, Any] = field(default_factory=dict)

    @property
    def case_ids(self) -> list[int]:
        return [
            self.worked,
            self.fresh,
            self.signed,
            self.resolved,
            self.foreign,
            self.foreign_soe,
        ]

    @property
    def other_ids(self) -> list[int]:
        return [self.relay_id, self.request_id, *self.team_ids, *self.people.ids.values()]


@pytest.fixture
async def world(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> AsyncIterator[World]:
    people = await make_people(sessions, clock)
    async with sessions() as session:
        await make_card(session, clock.now())
        other = await make_reporter(
            session, clock.now(), telegram_user_id=OTHER_REPORTER, enterprise_name="另一企业"
        )
    worked = await submit(sessions, catalog, calendar, clock, people.reporter)
    fresh = await submit(sessions, catalog, calendar, clock, people.reporter)
    signed = await submit(sessions, catalog, calendar, clock, people.reporter)
    resolved = await submit(sessions, catalog, calendar, clock, people.reporter)
    foreign = await submit(
        sessions, catalog, calendar, clock, other, category="work_safety", description=SAFETY
    )
    foreign_soe = await submit(
        sessions, catalog, calendar, clock, other, category="soe_corruption", description=SOE
    )
    assert worked.id and fresh.id and signed.id and resolved.id and foreign.id and foreign_soe.id
    async with sessions() as session:
        actor = await get_actor(session, INSPECTOR)
        await accept_case(
            session, actor, worked.id, policy=Policy(catalog, calendar), now=clock.now()
        )
        relay = await ask_reporter(
            session, actor, worked.id, question="请提供承诺函。", now=clock.now()
        )
        request = await request_extension(
            session, actor, worked.id, days=5, reason="等待会议。", now=clock.now()
        )
        await accept_case(
            session, actor, signed.id, policy=Policy(catalog, calendar), now=clock.now()
        )
        await accept_case(
            session, actor, resolved.id, policy=Policy(catalog, calendar), now=clock.now()
        )
        await resolve_case(
            session,
            actor,
            resolved.id,
            outcome=Outcome.SOLVED,
            summary="资金已拨付。",
            amount_yuan=None,
            policy=Policy(catalog, calendar),
            now=clock.now(),
        )
        teams = [t.id for t in (await session.exec(select(Team))).all() if t.id]
    assert relay.id and request.id
    w = World(
        telegram=build(sessions, catalog, calendar, clock),
        sessions=sessions,
        people=people,
        worked=worked.id,
        fresh=fresh.id,
        signed=signed.id,
        resolved=resolved.id,
        foreign=foreign.id,
        foreign_soe=foreign_soe.id,
        relay_id=relay.id,
        request_id=request.id,
        team_ids=teams,
    )
    yield w
    if w.persona:
        w.tally.record(w.persona, time.monotonic() - w.started)


def name(state: State) -> str:
    assert state.state is not None
    return state.state


# --- what the fuzzing found, kept as plain tests -------------------------------------------------


async def _press_all(
    w: World, telegram_id: int, buttons: list[str], error_log: ErrorLog
) -> list[str]:
    person = w.telegram.user(first_name="测试用户", user_id=telegram_id)
    alerts = []
    for data in buttons:
        answered = len(w.telegram.session.callback_answers)
        await person.press(data)
        assert not [r.getMessage() for r in error_log.records], data
        assert len(w.telegram.session.callback_answers) == answered + 1, data
        alerts.append(w.telegram.session.callback_answers[-1].text or "")
    return alerts


async def test_a_button_with_an_id_too_large_for_the_database_is_refused_politely(
    world: World, error_log: ErrorLog
) -> None:
    huge = 2**63
    buttons = [
        f"ca1:acc:{huge}",
        f"cs1:out:{huge}:solved",
        f"ta1:asg:{world.fresh}:{huge}:0",
        f"rq1:{huge}:1:0",
        f"fu1:{huge}:s",
        f"rr1:{huge}",
        f"qp1:{huge}",
        f"ad1:off:{huge}",
        f"rk1:v:{huge}",
        f"ri1:x:cat:{huge}",
    ]
    for telegram_id in (REPORTER, INSPECTOR, BUSINESS_LEADER):
        alerts = await _press_all(world, telegram_id, buttons, error_log)
        assert all("过期" in a or "不是" in a or "无权" in a for a in alerts), alerts


async def test_a_button_nobody_knows_is_answered_as_expired(
    world: World, error_log: ErrorLog
) -> None:
    alerts = await _press_all(world, STRANGER, ["", "zz", "rm1:zzz", "fu1:1:x", "rk1"], error_log)
    assert alerts == ["此操作已过期，请重新开始。"] * 5


async def test_an_inspector_typing_odd_digits_for_the_extension_is_asked_again(
    world: World, error_log: ErrorLog
) -> None:
    inspector = world.telegram.user(first_name="李监督", user_id=INSPECTOR)
    for typed in ("²", "9" * 5_000, "0", "99"):
        await inspector.press(f"ca1:ext:{world.signed}")
        await inspector.send(typed)
        assert not [r.getMessage() for r in error_log.records], typed
        assert "请输入1至" in inspector.last, typed
    await inspector.send("５")  # full-width digits are digits
    assert inspector.last == "请输入延期理由。"


async def test_a_forged_step_value_that_is_not_a_plain_number_is_refused(
    world: World, error_log: ErrorLog
) -> None:
    x = world.signed
    buttons = [
        f"cs1:days:{x}:²",
        f"cs1:days:{x}:{'9' * 40}",
        f"cs1:to:{x}:²",
        f"cs1:to:{x}:{'9' * 40}",
    ]
    alerts = await _press_all(world, INSPECTOR, [f"ca1:ext:{x}", *buttons[:2]], error_log)
    assert alerts[1:] == ["此操作已过期，请重新开始。"] * 2
    alerts = await _press_all(world, INSPECTOR, [f"ca1:ret:{x}", *buttons[2:]], error_log)
    assert alerts[1:] == ["此操作已过期，请重新开始。"] * 2


# --- reaching each state ---------------------------------------------------------------------


async def _fsm(w: World, person: TgUser) -> Any:
    return w.telegram.dispatcher.fsm.get_context(
        w.telegram.bot, chat_id=person.id, user_id=person.id
    )


async def reach(w: World, person: TgUser, routes: dict[str, Steps]) -> Saved:
    """Play each route from a clear state through the production dispatcher and keep the state
    and draft it ends in; a route that does not reach its state fails the test."""
    saved: Saved = {}
    context = await _fsm(w, person)
    for expected, steps in routes.items():
        await context.clear()
        await steps(person)
        state, data = await context.get_state(), await context.get_data()
        assert state == (None if expected == "idle" else expected), (expected, state, person.last)
        saved[expected] = (state, data)
    await context.clear()
    return saved


def reporter_routes(w: World) -> dict[str, Steps]:
    async def intake(person: TgUser, upto: str) -> None:
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            (name(Intake.category), lambda: person.send("/report")),
            (name(Intake.description), lambda: person.click("营商环境")),
            (name(Intake.evidence), lambda: person.send(REFUND)),
            (name(Intake.amount), lambda: person.click("完成")),
            (name(Intake.identity), lambda: person.click("跳过")),
            (name(Intake.contact), lambda: person.click("实名")),
            (name(Intake.name), lambda: person.click("手动输入")),
            (name(Intake.phone), lambda: person.send("宋利剑")),
            (name(Intake.summary), lambda: person.send("13812345678")),
        ]
        for state, step in steps:
            await step()
            if state == upto:
                return

    routes: dict[str, Steps] = {"idle": lambda p: p.start(TOKEN)}
    for state in Intake.__states__:
        routes[name(state)] = functools.partial(intake, upto=name(state))
    routes[name(Material.collect)] = lambda p: p.press(f"rk1:m:{w.worked}")
    routes[name(Track.code)] = lambda p: p.send("/track")
    routes[name(FollowupStates.reason)] = lambda p: p.press(f"fu1:{w.resolved}:u")
    routes[name(RelayFlow.answer)] = lambda p: p.press(f"rr1:{w.relay_id}")
    return routes


def inspector_routes(w: World) -> dict[str, Steps]:
    x, fresh, signed = w.worked, w.fresh, w.signed

    async def steps(person: TgUser, *moves: str) -> None:
        for move in moves:
            if move.startswith(("ca1:", "cs1:")):
                await person.press(move)
            else:
                await person.send(move)

    return {
        "idle": lambda p: p.send("/cancel"),
        name(CaseFlow.return_target): lambda p: steps(p, f"ca1:ret:{fresh}"),
        name(CaseFlow.return_reason): lambda p: steps(p, f"ca1:ret:{fresh}", f"cs1:to:{fresh}:0"),
        name(CaseFlow.question): lambda p: steps(p, f"ca1:ask:{x}"),
        name(CaseFlow.progress): lambda p: steps(p, f"ca1:prg:{x}"),
        name(CaseFlow.progress_visibility): lambda p: steps(p, f"ca1:prg:{x}", "已约谈财政局。"),
        name(CaseFlow.extension_days): lambda p: steps(p, f"ca1:ext:{signed}"),
        name(CaseFlow.extension_reason): lambda p: steps(p, f"ca1:ext:{signed}", "5"),
        name(CaseFlow.outcome): lambda p: steps(p, f"ca1:res:{x}"),
        name(CaseFlow.summary): lambda p: steps(p, f"ca1:res:{x}", f"cs1:out:{x}:solved"),
        name(CaseFlow.amount): lambda p: steps(
            p, f"ca1:res:{x}", f"cs1:out:{x}:solved", "资金已拨付到位。"
        ),
    }


# --- the cases a sender may not touch ----------------------------------------------------------


async def untouchable(w: World, persona: str) -> list[int]:
    """Cases outside the sender's reach: not their report, not assigned to them, not their team."""
    async with w.sessions() as session:
        cases = (await session.exec(select(Case))).all()
        if persona == "reporter":
            reporter = (
                await session.exec(select(Reporter).where(Reporter.telegram_user_id == REPORTER))
            ).one()
            return [c.id for c in cases if c.id and not reported_by(c, reporter.id)]
        if persona == "inspector":
            return [c.id for c in cases if c.id and c.assignee_id != w.people.id(INSPECTOR)]
        if persona == "team_leader":
            leader = await session.get(Inspector, w.people.id(BUSINESS_LEADER))
            assert leader is not None
            return [c.id for c in cases if c.id and c.team_id != leader.team_id]
        return [c.id for c in cases if c.id]


async def snapshot(w: World, case_ids: list[int]) -> dict[str, Any]:
    async with w.sessions() as session:

        async def rows(model: Any, column: Any) -> list[dict[str, Any]]:
            query = select(model).where(col(column).in_(case_ids)).order_by(model.id)
            return [r.model_dump() for r in (await session.exec(query)).all()]

        people = (await session.exec(select(Inspector).order_by(col(Inspector.id)))).all()
        return {
            "cases": await rows(Case, Case.id),
            "events": await rows(CaseEvent, CaseEvent.case_id),
            "notifications": await rows(Notification, Notification.case_id),
            "requests": await rows(ApprovalRequest, ApprovalRequest.case_id),
            "relays": await rows(RelayMessage, RelayMessage.case_id),
            "clocks": await rows(CaseClock, CaseClock.case_id),
            "attachments": await rows(Attachment, Attachment.case_id),
            "people": [p.model_dump(exclude={"last_assigned_at", "chat_id"}) for p in people],
        }


def changes(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The rows that differ, table by table."""
    lines = []
    for table, rows in before.items():
        if after[table] == rows:
            continue
        old = {r["id"]: r for r in rows}
        new = {r["id"]: r for r in after[table]}
        for key in sorted(old.keys() | new.keys()):
            if old.get(key) != new.get(key):
                a, b = old.get(key) or {}, new.get(key) or {}
                diff = {
                    f: (a.get(f), b.get(f)) for f in a.keys() | b.keys() if a.get(f) != b.get(f)
                }
                lines.append(f"  {table} #{key}: {diff}")
    return "\n".join(lines)


async def last_notification(w: World) -> int:
    async with w.sessions() as session:
        return (await session.exec(select(func.max(Notification.id)))).one() or 0


async def queued_since(w: World, after: int) -> list[Notification]:
    async with w.sessions() as session:
        query = select(Notification).where(col(Notification.id) > after)
        return list((await session.exec(query)).all())


# --- one example -------------------------------------------------------------------------------


class ErrorLog(logging.Handler):
    """Collects every ERROR record (the dispatcher's "unhandled error" among them)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


async def play(person: TgUser, action: Action) -> bool:
    """Send ``action``; True when it was a button press (which Telegram expects answered)."""
    if isinstance(action, Text):
        await person.send(action.text)
        return False
    if isinstance(action, Media):
        await person.send_message(**action.fields)
        return False
    if isinstance(action, Press):
        await person.press(action.data)
        return True
    shown = [(s, b) for s in person.messages[-3:] for b in s.inline_buttons + s.reply_buttons]
    if not shown:
        await person.send("/start")
        return False
    sent, button = shown[action.index % len(shown)]
    await person.click(button.text, message=sent)
    return getattr(button, "callback_data", None) is not None


async def run_example(
    w: World,
    person: TgUser,
    persona: str,
    saved: Saved,
    state_name: str,
    moves: list[Action],
    error_log: ErrorLog,
) -> None:
    state, data = saved[state_name]
    context = await _fsm(w, person)
    await context.set_state(state)
    await context.set_data(data)
    if w.protected is None:
        w.protected = await untouchable(w, persona)
        w.last_snapshot = await snapshot(w, w.protected)
    before = w.last_snapshot
    first_call = len(w.telegram.session.calls)
    first_row = await last_notification(w)
    error_log.records.clear()

    for move in moves:
        answered = len(w.telegram.session.callback_answers)
        try:
            pressed = await play(person, move)
        except Exception as error:  # an exception escaping the dispatcher and its error router
            raise AssertionError(f"{persona} in {state_name}: {move!r} raised {error!r}") from error
        errors = [r.getMessage() for r in error_log.records]
        assert not errors, f"{persona} in {state_name}: {move!r} logged {errors}"
        if pressed:
            assert len(w.telegram.session.callback_answers) == answered + 1, (
                f"{persona} in {state_name}: {move!r} left the button press unanswered"
            )

    check_calls(w.telegram.session.calls[first_call:])
    for row in await queued_since(w, first_row):
        check_html(telegram_html(row), 4096, f"outbox {row.kind}")
    w.last_snapshot = after = await snapshot(w, w.protected)
    if after != before:
        raise AssertionError(
            f"{persona} in {state_name} changed what they may not touch with {moves!r}:\n"
            + changes(before, after)
            + "\nreplies:\n"
            + "\n".join(person.replies)
        )
    w.tally.count(persona, state_name, len(moves))


async def fuzz_once(
    w: World,
    error_log: ErrorLog,
    data: st.DataObject,
    persona: str,
    telegram_id: int,
    routes: Callable[[World], dict[str, Steps]],
) -> None:
    """One example: the first reaches every state of ``routes`` through the dispatcher, then each
    example starts in one of them and plays a few hostile moves."""
    person = w.telegram.user(first_name="测试用户", user_id=telegram_id)
    if not w.saved:
        w.saved = await reach(w, person, routes(w))
        w.persona = persona
        w.started = time.monotonic()
    state_name = data.draw(st.sampled_from(sorted(w.saved)), label="state")
    drafts = [str(d["draft_id"]) for _s, d in w.saved.values() if d.get("draft_id")]
    moves = data.draw(actions(w.case_ids, w.other_ids, drafts), label="actions")
    await run_example(w, person, persona, w.saved, state_name, moves, error_log)


@examples(4)
@given(data=st.data())
async def test_a_reporter_in_any_step_cannot_break_the_bot_or_touch_others_cases(
    world: World, error_log: ErrorLog, data: st.DataObject
) -> None:
    await fuzz_once(world, error_log, data, "reporter", REPORTER, reporter_routes)


@examples(3)
@given(data=st.data())
async def test_an_inspector_in_any_step_cannot_break_the_bot_or_touch_others_cases(
    world: World, error_log: ErrorLog, data: st.DataObject
) -> None:
    await fuzz_once(world, error_log, data, "inspector", INSPECTOR, inspector_routes)


@examples(1.5)
@given(data=st.data())
async def test_a_team_leader_cannot_break_the_bot_or_touch_other_teams_cases(
    world: World, error_log: ErrorLog, data: st.DataObject
) -> None:
    await fuzz_once(
        world, error_log, data, "team_leader", BUSINESS_LEADER, lambda w: {"idle": _queue}
    )


@examples(1)
@given(data=st.data())
async def test_a_stranger_cannot_break_the_bot_or_touch_any_case(
    world: World, error_log: ErrorLog, data: st.DataObject
) -> None:
    await fuzz_once(world, error_log, data, "stranger", STRANGER, lambda w: {"idle": _help})


async def _queue(person: TgUser) -> None:
    await person.send("/queue")


async def _help(person: TgUser) -> None:
    await person.send("/help")
