"""One run of the deadline-sweep job sweeps again while a sweep finds all it may claim due: a
province's first working day after 春节 is acted on within the minute, not a sweep a minute."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import col, select

import bot.scheduler as scheduler
import bot.services.sweep as sweep_module
import bot.services.sweep_plan as sweep_plan
from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.scheduler import run_deadline_sweep
from bot.services.audit import verify_audit
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import CaseClock
from models.notification import NotificationStatus
from tests.casework import make_staff, outbox, report, sh
from tests.conftest import DEFAULT_NOW
from tests.test_sweep_batch import digests_to, folded_for, says_in_all, take_its_next_event

pytestmark = pytest.mark.both_databases

BACK_UP = sh(2026, 12, 2, 10)  # the Wednesday after: every report's 签收 and 受理告知 overdue


@pytest.fixture(autouse=True)
def _forget_failing_clocks() -> Iterator[None]:
    """The clocks that failed alone are remembered per process: a test's must not route
    another's clock (the same id in a fresh database) alone."""
    sweep_module._failing.ids.clear()
    yield
    sweep_module._failing.ids.clear()


@pytest.fixture
async def five_reports_overdue(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> datetime:
    """Five reports on Thursday, none signed for by the Wednesday after: ten clocks due."""
    async with sessions() as session:
        await make_staff(session, DEFAULT_NOW)
    for n in range(5):
        await report(sessions, catalog, calendar, DEFAULT_NOW, telegram_user_id=7_000_050 + n)
    return BACK_UP


async def still_due(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, now: datetime
) -> int:
    due = await sweep_deadlines(sessions, config, calendar, now, dry_run=True, limit=1_000)
    return len(due.plans)


async def test_one_run_acts_on_every_due_clock_when_more_are_due_than_a_sweep_claims(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    five_reports_overdue: datetime,
) -> None:
    now = five_reports_overdue
    assert await still_due(sessions, catalog, calendar, now) == 10

    sweeps = await run_deadline_sweep(sessions, catalog, FrozenClock(now), limit=3)

    assert sweeps == 4  # 3 + 3 + 3 + 1: the fourth found fewer than it may claim, and stopped
    assert await still_due(sessions, catalog, calendar, now) == 0
    overdue = await outbox(sessions, "accept_overdue")
    keys = [n.key for n in overdue]
    assert len(keys) == len(set(keys))  # each notice once
    assert len({n.case_id for n in overdue}) == 5  # every report's 签收 overdue told
    async with sessions() as session:
        assert (await verify_audit(session)).ok

    assert await run_deadline_sweep(sessions, catalog, FrozenClock(now), limit=3) == 1
    assert [n.key for n in await outbox(sessions, "accept_overdue")] == keys  # nothing again


async def test_a_run_stops_sweeping_once_its_time_is_up_and_the_next_run_goes_on(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    five_reports_overdue: datetime,
) -> None:
    now = five_reports_overdue
    clock = FrozenClock(now)

    assert await run_deadline_sweep(sessions, catalog, clock, limit=3, rounds_for=0) == 1
    assert await still_due(sessions, catalog, calendar, now) == 7

    assert await run_deadline_sweep(sessions, catalog, clock, limit=3) == 3
    assert await still_due(sessions, catalog, calendar, now) == 0


async def test_a_run_with_less_due_than_a_sweep_claims_sweeps_once(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    five_reports_overdue: datetime,
) -> None:
    now = five_reports_overdue

    assert await run_deadline_sweep(sessions, catalog, FrozenClock(now)) == 1
    assert await still_due(sessions, catalog, calendar, now) == 0


async def test_a_sweep_that_could_not_act_on_a_clock_ends_the_run_and_the_next_run_goes_on(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    five_reports_overdue: datetime,
) -> None:
    """The first report's history has a row written behind its back: its two clocks cannot be
    written. A sweep that claimed one ends its run rather than claiming on; the next runs act
    on the others, and the two wait for their claims to lapse."""
    now = five_reports_overdue
    async with sessions() as session:
        first = (await session.exec(select(Case).order_by(col(Case.id)))).first()
    assert first is not None
    await take_its_next_event(sessions, first)

    clock = FrozenClock(now)

    assert await run_deadline_sweep(sessions, catalog, clock, limit=3) == 1
    assert await still_due(sessions, catalog, calendar, now) == 7  # one of the two claimed
    assert await run_deadline_sweep(sessions, catalog, clock, limit=3) == 1  # the other
    assert await still_due(sessions, catalog, calendar, now) == 4
    assert await run_deadline_sweep(sessions, catalog, clock, limit=3) == 2
    assert await still_due(sessions, catalog, calendar, now) == 0
    told = {n.case_id for n in await outbox(sessions, "accept_overdue")}
    assert first.id not in told and len(told) == 4


async def test_other_work_goes_on_while_a_sweep_plans_its_clocks(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    five_reports_overdue: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sweep plans its clocks a part at a time, the event loop given a turn between parts:
    the updates and pages its process serves are not held up for the whole plan (5,000
    clocks planned in one go held them about 90 ms on the development machine)."""
    monkeypatch.setattr(sweep_plan, "PLAN_TURN", 4)
    turns = 0
    seen: list[int] = []
    plan_clock = sweep_plan.plan_clock

    def planning(*args: Any) -> Any:
        seen.append(turns)
        return plan_clock(*args)

    monkeypatch.setattr(sweep_plan, "plan_clock", planning)
    done = asyncio.Event()

    async def another_update() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    served = asyncio.create_task(another_update())
    await run_deadline_sweep(sessions, catalog, FrozenClock(five_reports_overdue))
    done.set()
    await served

    assert len(seen) == 10
    assert seen[3] < seen[4] and seen[7] < seen[8]  # a turn after every four clocks planned


async def test_a_busy_person_gets_one_digest_for_a_run_of_sweeps(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    five_reports_overdue: datetime,
) -> None:
    """Ten clocks due, sweeps of four: the assignee (chat 501) and the team leader (601) have
    four notices in the first sweep (a digest), four in the second and two in the third. All
    ten go into the one digest the run gives each of them, not a digest a sweep and two
    notices on their own; each notice is in exactly one message."""
    now = five_reports_overdue

    assert await run_deadline_sweep(sessions, catalog, FrozenClock(now), limit=4) == 3

    rows = await outbox(sessions)
    for chat in (501, 601):
        (digest,) = digests_to(rows, chat)
        folded = folded_for(rows, chat)
        assert says_in_all(digest) == len(folded) == 10
        swept = [r for r in rows if r.chat_id == chat and r.created_at >= now]
        assert [r for r in swept if r.kind != "deadline_digest"] == folded  # none on its own
        assert digest.status is NotificationStatus.PENDING and digest.next_attempt_at <= now


async def test_a_run_that_fails_midway_still_sends_the_digests_of_its_sweeps_so_far(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    five_reports_overdue: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second sweep of the run fails (the database gone, say): the first sweep's notices
    are folded in the digests it wrote, which go out now rather than when their hold ends."""
    now = five_reports_overdue
    sweeps = 0

    async def failing_second(*args: Any, **kwargs: Any) -> Any:
        nonlocal sweeps
        sweeps += 1
        if sweeps == 2:
            raise RuntimeError("database gone")
        return await sweep_deadlines(*args, **kwargs)

    monkeypatch.setattr(scheduler, "sweep_deadlines", failing_second)
    with pytest.raises(RuntimeError):
        await run_deadline_sweep(sessions, catalog, FrozenClock(now), limit=4)

    rows = await outbox(sessions)
    for chat in (501, 601):
        (digest,) = digests_to(rows, chat)
        assert says_in_all(digest) == len(folded_for(rows, chat)) == 4
        assert digest.next_attempt_at is not None and digest.next_attempt_at <= now


async def test_a_sweep_stopped_while_it_plans_gives_its_claims_back_at_once(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    five_reports_overdue: datetime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process is shut down while a sweep plans its clocks (it lets the event loop run
    between parts of its plan, so that is where a shutdown reaches it): the clocks it claimed
    are claimed by nobody, and the next sweep acts on them all at once, not five minutes on."""
    now = five_reports_overdue
    monkeypatch.setattr(sweep_plan, "PLAN_TURN", 2)
    plan_clock, planned = sweep_plan.plan_clock, [0]
    sweeping: asyncio.Future[Any] | None = None

    def stopped_on_the_third(*args: Any) -> Any:
        planned[0] += 1
        if planned[0] == 3 and sweeping is not None:
            sweeping.cancel()  # lands at the next turn of the event loop
        return plan_clock(*args)

    monkeypatch.setattr(sweep_plan, "plan_clock", stopped_on_the_third)
    sweeping = asyncio.ensure_future(sweep_deadlines(sessions, catalog, calendar, now))
    with pytest.raises(asyncio.CancelledError):
        await sweeping

    assert planned[0] == 4  # stopped in its plan, before acting on any clock
    async with sessions() as session:
        clocks = (await session.exec(select(CaseClock))).all()
    assert len(clocks) == 10 and {c.claimed_by for c in clocks} == {None}
    assert await still_due(sessions, catalog, calendar, now) == 10
    monkeypatch.setattr(sweep_plan, "plan_clock", plan_clock)
    assert len((await sweep_deadlines(sessions, catalog, calendar, now)).plans) == 10
