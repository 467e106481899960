"""The sweep writes its clocks in batches: what a batch must never do (overwrite a case a user
changed meanwhile, break a case's history) and what it must still do when one clock in it cannot
be written (act on the others)."""

from __future__ import annotations

import asyncio
import gc
import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

import bot.services.sweep as sweep_module
import bot.services.sweep_batch as sweep_batch
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.audit import verify_audit
from bot.services.people import Directory
from bot.services.policy import Policy
from bot.services.supervision import supervise_case
from bot.services.sweep import sweep_deadlines
from bot.services.sweep_digest import Digests
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import CaseClock, ClockKind, ClockStage, ClockState
from models.event import CaseEvent, EventKind
from models.notification import Notification, NotificationStatus
from models.types import UTCDateTime
from notifications.render import telegram_html
from tests.casework import clock_of, make_staff, outbox, report, sh
from tests.conftest import DEFAULT_NOW

pytestmark = pytest.mark.both_databases


@pytest.fixture(autouse=True)
def _forget_failing_clocks() -> Any:
    """The sweep remembers, per process, the clocks that failed alone; a test's must not route
    another test's clock (the same id in a fresh database) alone."""
    sweep_module._failing.ids.clear()
    yield
    sweep_module._failing.ids.clear()


SUBMITTED = DEFAULT_NOW  # Thursday 26 Nov 2026, 10:00 in Shanghai
ACCEPT_WARNING = sh(2026, 11, 27, 9)  # 签收 due Friday 27 Nov 18:00: warned that morning


@pytest.fixture
async def three_reports_due_in_batches_of_two(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> datetime:
    """Three reports from consecutive people, each case with two clocks past due (签收 and
    受理告知) by the Wednesday after, written in batches of two: three batches, each folding
    notices into the same people's digests (the assignee's, chat 501, the team leader's, 601).
    Returns that Wednesday 10:00, when the process is back up and sweeps."""
    monkeypatch.setattr(sweep_batch, "CHUNK", 2)
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    for n in range(3):
        await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_030 + n)
    return sh(2026, 12, 2, 10)


def digests_to(rows: list[Notification], chat: int) -> list[Notification]:
    """The deadline digests queued to ``chat``, in the order written."""
    return [r for r in rows if r.kind == "deadline_digest" and r.chat_id == chat]


def folded_for(rows: list[Notification], chat: int) -> list[Notification]:
    """The notices to ``chat`` folded into a digest (never sent alone)."""
    return [r for r in rows if r.chat_id == chat and r.status is NotificationStatus.DIGESTED]


def says_in_all(digest: Notification) -> int:
    """How many notices the digest says it holds, as the person reads it (您有 N 项…)."""
    return int(telegram_html(digest).split("您有 ")[1].split(" 项")[0])


async def sent_by_a_sender(sessions: SessionFactory, row_ids: list[int]) -> None:
    """A sender takes these rows and sends them (as far as the outbox can tell)."""
    async with sessions() as session:
        connection = await session.connection()
        table = Notification.__table__  # type: ignore[attr-defined]
        await connection.execute(
            sa.update(table).where(table.c.id.in_(row_ids)).values(status=NotificationStatus.SENT)
        )
        await session.commit()


async def take_its_next_event(sessions: SessionFactory, case: Case) -> None:
    """A row written into the case's history behind its back, in the place its next event
    would take: no clock of the case can be written any more."""
    async with sessions() as session:
        connection = await session.connection()
        table = CaseEvent.__table__  # type: ignore[attr-defined]
        await connection.execute(
            sa.insert(table).values(
                case_id=case.id,
                seq=case.event_count + 1,
                kind=EventKind.PROGRESS,
                actor_type="system",
                data={},
                public=False,
                created_at=SUBMITTED,
                prev_hash="0" * 64,
                hash="0" * 64,
            )
        )
        await session.commit()


@contextmanager
def statements(
    sessions: SessionFactory, when: Callable[[], bool] = lambda: True
) -> Iterator[list[str]]:
    """The statements sent on the engine of ``sessions`` while the block runs (those sent while
    ``when()`` holds), each on one line."""
    said: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if when():
            said.append(" ".join(sql.split()))

    engine = sessions.kw["bind"].sync_engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield said
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


async def test_a_case_supervised_after_the_sweep_read_it_keeps_its_supervision_and_is_warned_as_supervised(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The leader's 督办 lands between the sweep's read and its write: the batch must not write
    the case from what it read (its history would lose the 督办 event's link), and the clock is
    acted on from the case as it is now — the team leader is warned too, marked 【督办】."""
    async with sessions() as session:
        staff = await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, SUBMITTED)
    other = await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_002)
    assert case.id is not None and other.id is not None
    act_in_bulk = sweep_module._act_in_bulk

    async def supervised_meanwhile(*args: Any, **kwargs: Any) -> Any:
        async with sessions() as session:
            await supervise_case(
                session,
                staff.leader,
                case.id or 0,
                policy=Policy(catalog, calendar),
                now=ACCEPT_WARNING,
            )
        return await act_in_bulk(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_act_in_bulk", supervised_meanwhile)
    swept = await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)

    assert sorted(plan.case_number for plan in swept.plans) == [case.number, other.number]
    assert "acting on them one by one" not in caplog.text  # the other case went in the batch
    warnings = [w for w in await outbox(sessions, "accept_warning") if w.case_id == case.id]
    assert sorted(w.chat_id or 0 for w in warnings) == [501, 601]
    assert all(telegram_html(w).startswith("【督办】【催办】") for w in warnings)
    async with sessions() as session:
        kinds = (
            await session.exec(
                select(CaseEvent.kind)
                .where(CaseEvent.case_id == case.id)
                .order_by(col(CaseEvent.seq))
            )
        ).all()
        assert kinds[-2:] == [EventKind.SUPERVISED, EventKind.REMINDED]
        assert (await verify_audit(session)).ok
    clock = await clock_of(sessions, case.id, ClockKind.ACCEPT)
    assert (clock.stage, clock.claimed_by) == (ClockStage.WARNED, None)

    again = await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)
    assert again.plans == [] and again.queued == 0


async def test_clocks_changed_after_the_claim_are_acted_on_as_they_are_when_their_batch_is_written(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Between the sweep's claim and its batch, one case's 签收 deadline is extended to Monday
    and another's clock is paused: the batch does not act on what the claim read — the first
    is warned of Monday's deadline (and waits for it next), the second is not warned at all."""
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    extended, paused = [
        await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_070 + n)
        for n in range(2)
    ]
    assert extended.id is not None and paused.id is not None
    monday = sh(2026, 11, 30, 18)
    act_in_bulk = sweep_module._act_in_bulk

    async def changed_meanwhile(*args: Any, **kwargs: Any) -> Any:
        async with sessions() as session:
            table = sa.table(
                "case_clocks", sa.column("case_id"), sa.column("kind"), sa.column("due_at"),
                sa.column("state"), sa.column("paused_at"),
            )  # fmt: skip
            accept = table.c.kind == ClockKind.ACCEPT.value
            connection = await session.connection()
            await connection.execute(
                sa.update(table)
                .where(table.c.case_id == extended.id, accept)
                .values(due_at=sa.bindparam("due", monday, type_=UTCDateTime()))
            )
            await connection.execute(
                sa.update(table)
                .where(table.c.case_id == paused.id, accept)
                .values(
                    state="paused",
                    paused_at=sa.bindparam("at", ACCEPT_WARNING, type_=UTCDateTime()),
                )
            )
            await session.commit()
        return await act_in_bulk(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "_act_in_bulk", changed_meanwhile)
    await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)

    warnings = await outbox(sessions, "accept_warning")
    assert {w.case_id for w in warnings} == {extended.id}
    assert all(w.key.split(":")[2] == "202611301000" for w in warnings)  # Monday 18:00
    assert all("11月30日 18:00" in telegram_html(w) for w in warnings)
    warned = await clock_of(sessions, extended.id, ClockKind.ACCEPT)
    assert (warned.stage, warned.next_action_at) == (ClockStage.WARNED, monday)
    still = await clock_of(sessions, paused.id, ClockKind.ACCEPT)
    assert (still.state, still.stage) == (ClockState.PAUSED, ClockStage.NONE)


async def test_a_clock_that_cannot_be_written_does_not_hold_up_the_others_in_its_batch(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    """One case's history has a row written behind its back (its next place in the chain is
    taken): its clock cannot be written, the batch falls back to one clock at a time, and the
    other cases are warned as if nothing had happened."""
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    cases = [
        await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_010 + n)
        for n in range(3)
    ]
    broken = cases[1]
    await take_its_next_event(sessions, broken)

    swept = await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)

    assert sorted(plan.case_number for plan in swept.plans) == [cases[0].number, cases[2].number]
    assert swept.skipped == 1
    warned = {w.case_id for w in await outbox(sessions, "accept_warning")}
    assert warned == {cases[0].id, cases[2].id}
    assert broken.id is not None
    stuck = await clock_of(sessions, broken.id, ClockKind.ACCEPT)
    assert stuck.stage == ClockStage.NONE  # still due: tried again once its claim lapses


async def test_a_clock_that_failed_alone_is_acted_on_alone_next_time_and_its_batch_goes_in_bulk(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The clock whose case's history is broken failed its batch and then failed alone: when
    its claim has lapsed, the next sweep tries it alone first-hand, and the other clocks due
    then are written in their batch at once instead of one by one again."""
    failing = sweep_module._failing
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    cases = [
        await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_050 + n)
        for n in range(3)
    ]
    broken = cases[1]
    assert broken.id is not None
    await take_its_next_event(sessions, broken)
    await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)
    assert "acting on them one by one" in caplog.text
    caplog.clear()

    deadline = sh(2026, 11, 27, 18)  # 签收 due: the others are overdue, the broken one still due
    swept = await sweep_deadlines(sessions, catalog, calendar, deadline)

    assert "acting on them one by one" not in caplog.text
    assert "not acted on" in caplog.text  # the broken clock, tried alone
    assert sorted(plan.case_number for plan in swept.plans) == [cases[0].number, cases[2].number]
    overdue = {w.case_id for w in await outbox(sessions, "accept_overdue")}
    assert overdue == {cases[0].id, cases[2].id}
    stuck = await clock_of(sessions, broken.id, ClockKind.ACCEPT)
    assert stuck.stage == ClockStage.NONE and (stuck.id or 0) in failing


async def each_overdue_and_escalated_once(sessions: SessionFactory, case_ids: set[int]) -> None:
    """Every history verifies, and each of these cases, its 签收 and 受理告知 both past due, was
    told overdue twice (签收, 受理告知) and escalated once (签收): no clock acted on twice, none
    left out."""
    async with sessions() as session:
        assert (await verify_audit(session)).ok
        swept = (
            await session.exec(
                select(CaseEvent.case_id, CaseEvent.kind).where(
                    col(CaseEvent.kind).in_([EventKind.REMINDED, EventKind.ESCALATED])
                )
            )
        ).all()
    assert Counter(swept) == Counter(
        {
            **{(case_id, EventKind.REMINDED): 2 for case_id in case_ids},
            **{(case_id, EventKind.ESCALATED): 1 for case_id in case_ids},
        }
    )


async def test_a_catch_up_in_several_batches_keeps_every_history_verifiable_and_each_notice_once(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Back after days down: each case has two clocks due (签收 and 受理告知), whose events
    chain one after the other in one transaction; batches of three clocks keep a case's clocks
    together. Every chain verifies, the digest folds what it should, a second sweep adds
    nothing."""
    monkeypatch.setattr(sweep_batch, "CHUNK", 3)
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    cases = [
        await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_020 + n)
        for n in range(3)
    ]
    back_up = sh(2026, 12, 2, 10)

    first = await sweep_deadlines(sessions, catalog, calendar, back_up)

    assert len(first.plans) == 6 and first.skipped == 0
    assert len(await outbox(sessions, "accept_escalated")) == 3
    digests = await outbox(sessions, "deadline_digest")
    assert sorted(d.chat_id or 0 for d in digests) == [501, 601]
    assert sorted(first.digests.values()) == [6, 6]
    await each_overdue_and_escalated_once(sessions, {c.id or 0 for c in cases})
    rows = len(await outbox(sessions))

    again = await sweep_deadlines(sessions, catalog, calendar, back_up)
    assert again.plans == [] and again.queued == 0
    assert len(await outbox(sessions)) == rows


def after_the_first_batch(
    monkeypatch: pytest.MonkeyPatch, then: Callable[[list[int]], Awaitable[None]]
) -> list[int]:
    """The sweep's batches act as they do; once the first is done, ``then`` is given the row
    ids of the people's digests so far (what a sender may take meanwhile). Returns the count
    of batches acted on, kept up to date."""
    act_in_bulk = sweep_module._act_in_bulk
    batches = [0]

    async def acting(*args: Any, **kwargs: Any) -> Any:
        batch = await act_in_bulk(*args, **kwargs)
        batches[0] += 1
        if batches[0] == 1:
            await then([digest.row_id for digest in args[1].digests.current.values()])
        return batch

    monkeypatch.setattr(sweep_module, "_act_in_bulk", acting)
    return batches


async def test_a_digest_a_sender_took_mid_sweep_is_left_as_sent_and_later_notices_start_another(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    three_reports_due_in_batches_of_two: datetime,
) -> None:
    """A sweep that outlasts the digest's hold (a busy machine acting clock by clock): a sender
    takes the person's digest between two batches. The later batches do not change what was
    sent; they start a new digest. Each folded notice is in exactly one digest, and the
    digests are due once the sweep is done."""
    back_up = three_reports_due_in_batches_of_two
    # the people's digests so far (a part of a batch written alongside, not merged yet, might
    # be taken too: it would go out alone, its notices in it)
    batches = after_the_first_batch(monkeypatch, lambda given: sent_by_a_sender(sessions, given))
    swept = await sweep_deadlines(sessions, catalog, calendar, back_up)

    assert batches == [3] and len(swept.plans) == 6
    rows = await outbox(sessions)
    for chat in (501, 601):
        # in either order: on PostgreSQL the second batch may write its part before the first
        sent, later = sorted(
            digests_to(rows, chat), key=lambda d: d.status is not NotificationStatus.SENT
        )
        assert (sent.status, later.status) == (NotificationStatus.SENT, NotificationStatus.PENDING)
        # the first batch's two clocks, then the other four
        assert (says_in_all(sent), says_in_all(later)) == (2, 4)
        assert len(folded_for(rows, chat)) == 6 == swept.digests[next(
            r for r in swept.digests if r.chat_id == chat
        )]  # fmt: skip
        assert later.next_attempt_at == back_up  # released when the sweep was done


async def told_to_retry_later(sessions: SessionFactory, row_ids: list[int], at: datetime) -> None:
    """A sender took these rows and Telegram answered 429: they wait until ``at``, as the
    sender reschedules them (``Sender._reschedule``: pending again, the attempt not counted,
    the error kept)."""
    async with sessions() as session:
        connection = await session.connection()
        table = Notification.__table__  # type: ignore[attr-defined]
        await connection.execute(
            sa.update(table)
            .where(table.c.id.in_(row_ids))
            .values(
                status=NotificationStatus.PENDING,
                next_attempt_at=at,
                claimed_by=None,
                claimed_until=None,
                attempted_at=None,
                last_error="TelegramRetryAfter: Flood control exceeded. Retry in 30 seconds.",
            )
        )
        await session.commit()


async def test_a_digest_telegram_asked_to_retry_later_is_not_sent_before_then(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    three_reports_due_in_batches_of_two: datetime,
) -> None:
    """A sweep that outlasts the digest's hold: between two batches a sender tries a person's
    digest and Telegram says 429, retry in 30 s. The later batches still add to it (it never
    reached the person), but the sweep, when it is done, does not bring it forward: it goes
    out when Telegram said, with every folded notice in it."""
    back_up = three_reports_due_in_batches_of_two
    retry_at = back_up + sweep_module.DIGEST_HOLD + timedelta(seconds=30)
    batches = after_the_first_batch(
        monkeypatch, lambda given: told_to_retry_later(sessions, given, retry_at)
    )
    swept = await sweep_deadlines(sessions, catalog, calendar, back_up)

    assert batches == [3] and len(swept.plans) == 6
    rows = await outbox(sessions)
    retried = [r for r in rows if r.kind == "deadline_digest" and r.last_error is not None]
    assert retried, "no digest was merged before the second batch"
    for digest in retried:
        assert digest.status is NotificationStatus.PENDING
        assert digest.next_attempt_at == retry_at  # not the sweep's end: Telegram said later
    for chat in (501, 601):
        assert sum(says_in_all(d) for d in digests_to(rows, chat)) == 6
        assert len(folded_for(rows, chat)) == 6


async def test_the_garbage_collector_runs_again_once_every_sweep_is_over_even_one_that_failed(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sweeps hold the cycle collector off while they run: two at once in one process, then
    one that fails, leave it on as the process had it."""
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    for n in range(2):
        await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_040 + n)
    assert gc.isenabled()
    await asyncio.gather(
        sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING, instance="a", limit=1),
        sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING, instance="b", limit=1),
    )
    assert gc.isenabled()

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(sweep_module, "claim_due_clocks", broken)
    with pytest.raises(RuntimeError):
        await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)
    assert gc.isenabled()


async def test_batches_written_alongside_each_other_still_give_each_person_one_digest(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    three_reports_due_in_batches_of_two: datetime,
) -> None:
    """On PostgreSQL two batches may be written at once. The first one is slow to finish (a
    busy server): the second, which folds notices for the same people, is written meanwhile
    (those notices in a digest part of its own) and merges its part into their digests only
    once the first is done — one digest each, every folded notice in it."""
    back_up = three_reports_due_in_batches_of_two
    act_in_bulk = sweep_batch.act_in_bulk
    running = most = calls = 0
    parts: dict[int, dict[Any, Any]] = {}  # each batch's digest parts, by the batch's place

    async def slow_first(*args: Any, **kwargs: Any) -> Any:
        nonlocal running, most, calls
        calls += 1
        place = calls
        running += 1
        most = max(most, running)
        try:
            batch = await act_in_bulk(*args, **kwargs)
            parts[place] = batch.staged.parts
            if place == 1:
                await asyncio.sleep(0.3)  # folded, not yet committed
            return batch
        finally:
            running -= 1

    monkeypatch.setattr(sweep_module, "act_in_bulk", slow_first)
    swept = await sweep_deadlines(sessions, catalog, calendar, back_up)

    assert calls == 3 and len(swept.plans) == 6
    assert most == (2 if database_url.startswith("postgresql") else 1)  # alongside
    rows = await outbox(sessions)
    for chat in (501, 601):
        digests = digests_to(rows, chat)
        assert len(digests) == 1 and digests[0].status is NotificationStatus.PENDING
        total = says_in_all(digests[0])
        folded = folded_for(rows, chat)
        assert total == len(folded) == 6
    # each digest lists its lines in the batches' order, whichever batch finished first
    in_order = sorted(
        json.dumps(
            [line for place in sorted(parts) for line in parts[place][person].lines],
            sort_keys=True,
        )
        for person in parts[1]
    )
    listed = sorted(
        json.dumps((r.params or {})["items"], sort_keys=True)
        for r in rows
        if r.kind == "deadline_digest"
    )
    assert listed == in_order and len(listed) == 2
    async with sessions() as session:
        assert (await verify_audit(session)).ok


async def test_a_staff_action_holding_a_case_of_one_batch_and_asking_for_the_next_ones_is_not_stuck(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    three_reports_due_in_batches_of_two: datetime,
) -> None:
    """A staff action (a merge of two repeats, say) holds a case of the sweep's first batch and
    then asks for a case of the second. The second batch folds notices for the people the first
    one folds for: had it waited for the first while holding its cases' locks, the staff action
    would wait on it, it on the first batch, the first batch on the staff action, a cycle
    PostgreSQL cannot see (the sweep and the cases stuck). A batch waits for the one before only
    after it has committed, to merge its digest parts."""
    if not database_url.startswith("postgresql"):
        pytest.skip("two batches at once and row locks are PostgreSQL's")
    async with sessions() as session:
        every_case = {int(i) for i in (await session.exec(select(Case.id))).all() if i is not None}
    act_in_bulk = sweep_batch.act_in_bulk
    first_batch: set[int] = set()
    held = asyncio.Event()
    async with sessions() as staff:
        connection = await staff.connection()
        await connection.execute(sa.text("SET LOCAL lock_timeout = '5s'"))

        async def staff_holds_the_first_batchs_cases(
            session: Any, sweep: Any, clocks: list[Any], *args: Any, **kwargs: Any
        ) -> Any:
            if not first_batch:
                first_batch.update(clock.case_id for clock in clocks)
                await connection.execute(
                    sa.text("SELECT id FROM cases WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
                    {"ids": sorted(first_batch)},
                )
                held.set()
            return await act_in_bulk(session, sweep, clocks, *args, **kwargs)

        monkeypatch.setattr(sweep_module, "act_in_bulk", staff_holds_the_first_batchs_cases)
        sweeping = asyncio.ensure_future(
            sweep_deadlines(sessions, catalog, calendar, three_reports_due_in_batches_of_two)
        )
        await held.wait()
        await asyncio.sleep(1.5)  # the second batch under way meanwhile
        others = sorted(every_case - first_batch)
        got = (
            await connection.execute(
                sa.text("SELECT id FROM cases WHERE id = ANY(:ids) ORDER BY id FOR UPDATE"),
                {"ids": others},
            )
        ).all()  # refused after 5 s (lock_timeout) if a waiting batch held them
        assert [row.id for row in got] == others
        await staff.commit()
    swept = await asyncio.wait_for(sweeping, timeout=60)
    assert len(swept.plans) == 6
    rows = await outbox(sessions)
    for chat in (501, 601):
        assert len(digests_to(rows, chat)) == 1


async def test_a_sweep_that_dies_between_a_batch_and_its_merge_leaves_its_part_to_go_out_alone(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    three_reports_due_in_batches_of_two: datetime,
) -> None:
    """The second batch's digest parts are never merged (the database went away): they go out
    on their own when the sweep is done, with the digests (a process that died there leaves
    them waiting until the hold ends). The other batches still make one digest per person;
    each folded notice is in exactly one digest, none lost, none twice."""
    back_up = three_reports_due_in_batches_of_two
    merge = Digests.merge
    merges = 0

    async def the_second_merge_fails(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal merges
        merges += 1
        if merges == 2:
            raise RuntimeError("the database went away")
        return await merge(self, *args, **kwargs)

    monkeypatch.setattr(Digests, "merge", the_second_merge_fails)
    swept = await sweep_deadlines(sessions, catalog, calendar, back_up)

    assert merges == 3 and len(swept.plans) == 6
    rows = await outbox(sessions)
    for chat in (501, 601):
        digests = digests_to(rows, chat)
        assert [d.status for d in digests] == [NotificationStatus.PENDING] * 2
        totals = [says_in_all(d) for d in digests]
        assert sorted(totals) == [2, 4]  # the first and third batches', and the second's alone
        assert [d.next_attempt_at for d in digests] == [back_up, back_up]  # not held back
        folded = folded_for(rows, chat)
        assert len(folded) == sum(totals) == 6
    again = await sweep_deadlines(sessions, catalog, calendar, back_up)
    assert again.plans == [] and len(await outbox(sessions)) == len(rows)


async def test_a_sweep_stopped_midway_gives_back_the_clocks_it_had_not_acted_on_at_once(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    three_reports_due_in_batches_of_two: datetime,
) -> None:
    """The process is shut down while the sweep writes its second batch: the sweep stops, its
    connections go back to the pool, and the clocks it had not acted on are claimed by nobody,
    so the very next sweep (the same minute, here or on another instance) acts on them rather
    than five minutes later. Between the two sweeps every clock is acted on exactly once: each
    case warned and escalated as once, every history verifiable."""
    back_up = three_reports_due_in_batches_of_two
    act_in_bulk = sweep_batch.act_in_bulk
    calls, stuck, stopping = [0], asyncio.Event(), [True]

    async def the_later_batches_hang(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        if calls[0] > 1 and stopping[0]:
            stuck.set()
            await asyncio.Event().wait()  # until the sweep is stopped
        return await act_in_bulk(*args, **kwargs)

    monkeypatch.setattr(sweep_module, "act_in_bulk", the_later_batches_hang)
    sweeping = asyncio.ensure_future(sweep_deadlines(sessions, catalog, calendar, back_up))
    await asyncio.wait_for(stuck.wait(), timeout=10)
    sweeping.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sweeping
    assert sessions.kw["bind"].pool.checkedout() == 0
    async with sessions() as session:
        clocks = (await session.exec(select(CaseClock))).all()
    assert len(clocks) == 6 and {c.claimed_by for c in clocks} == {None}
    untouched = [c for c in clocks if c.stage == ClockStage.NONE]
    assert untouched  # the hung batches wrote nothing

    stopping[0] = False
    again = await sweep_deadlines(sessions, catalog, calendar, back_up)

    assert sorted(p.clock_id for p in again.plans) == sorted(c.id or 0 for c in untouched)
    await each_overdue_and_escalated_once(sessions, {c.case_id for c in clocks})
    assert (await sweep_deadlines(sessions, catalog, calendar, back_up)).plans == []


async def test_a_merge_whose_commit_the_sweep_never_heard_of_loses_no_line_of_it(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    three_reports_due_in_batches_of_two: datetime,
) -> None:
    """The second merge reached the database but the sweep did not learn it (the connection
    dropped as it committed): the person's digest holds more lines than the sweep knows. The
    third merge must not write the digest over from what the sweep knows — the second part's
    lines, deleted with its merge, would be in no message; its part goes out on its own."""
    back_up = three_reports_due_in_batches_of_two
    merged = Digests.merged
    merges = 0

    def the_second_unheard_of(self: Any, digests: Any) -> None:
        nonlocal merges
        merges += 1
        if merges != 2:
            merged(self, digests)

    monkeypatch.setattr(Digests, "merged", the_second_unheard_of)
    swept = await sweep_deadlines(sessions, catalog, calendar, back_up)

    assert merges == 3 and len(swept.plans) == 6
    rows = await outbox(sessions)
    for chat in (501, 601):
        digests = digests_to(rows, chat)
        totals = sorted(says_in_all(d) for d in digests)
        folded = folded_for(rows, chat)
        assert totals == [2, 4] and sum(totals) == len(folded) == 6  # every line in one message
        assert [d.next_attempt_at for d in digests] == [back_up, back_up]  # both sent when done


async def test_a_part_a_sender_took_before_its_merge_is_left_as_sent_and_not_merged(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
    three_reports_due_in_batches_of_two: datetime,
) -> None:
    """A sweep that outlasts the hold: a sender takes the second batch's digest part before it
    is merged. The part stays as sent, its notices in it alone; the first and third batches'
    notices make the person's digest — each folded notice in exactly one message."""
    back_up = three_reports_due_in_batches_of_two
    merge = Digests.merge
    merges = 0

    async def sent_before_the_second_merge(self: Any, session: Any, staged: Any) -> Any:
        nonlocal merges
        merges += 1
        if merges == 2:
            await sent_by_a_sender(sessions, [part.row_id for part in staged.parts.values()])
        return await merge(self, session, staged)

    monkeypatch.setattr(Digests, "merge", sent_before_the_second_merge)
    swept = await sweep_deadlines(sessions, catalog, calendar, back_up)

    assert merges == 3 and len(swept.plans) == 6
    rows = await outbox(sessions)
    for chat in (501, 601):
        digests = digests_to(rows, chat)  # in either order: two batches write at once
        said = sorted((d.status, says_in_all(d)) for d in digests)
        # the first and third batches' lines in one digest; the second's part, sent alone
        assert said == [(NotificationStatus.PENDING, 4), (NotificationStatus.SENT, 2)]
        assert len(folded_for(rows, chat)) == 6


async def test_a_clock_changed_in_any_one_field_after_the_claim_reads_as_changed(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    """What a batch compares with the claim (``seen``) differs whenever a clock differs in one
    field — a missing time set, a time moved by a microsecond, a stage, a flag, a count, a
    state — so no clock changed meanwhile is acted on as the claim read it."""
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    case = await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_090)
    clock = await clock_of(sessions, case.id or 0, ClockKind.ACCEPT)
    table = sa.table(
        "case_clocks", sa.column("id"), sa.column("state"), sa.column("stage"),
        sa.column("started_at"), sa.column("workdays"), sa.column("due_at"),
        sa.column("provisional"), sa.column("next_action_at"), sa.column("paused_at"),
        sa.column("met_at"), sa.column("extended_days"),
    )  # fmt: skip

    def at(moment: datetime) -> Any:
        return sa.bindparam(None, moment, type_=UTCDateTime())

    assert clock.met_at is None and clock.paused_at is None
    tick = timedelta(microseconds=1)
    changes: dict[str, dict[str, Any]] = {
        "met": {"met_at": at(SUBMITTED)},
        "paused": {"paused_at": at(SUBMITTED)},
        "due a microsecond later": {"due_at": at(clock.due_at + tick)},
        "started a microsecond later": {"started_at": at(clock.started_at + tick)},
        "next action moved": {"next_action_at": at(SUBMITTED + timedelta(days=3))},
        "stage": {"stage": int(clock.stage) + 1},
        "provisional": {"provisional": not clock.provisional},
        "workdays": {"workdays": clock.workdays + 1},
        "extended": {"extended_days": clock.extended_days + 1},
        "state": {"state": ClockState.PAUSED.value},
    }
    seen: dict[str, str] = {}
    async with sessions() as session:
        connection = await session.connection()
        dialect = connection.dialect.name
        read = sa.select(sweep_batch.seen(dialect)).select_from(table)
        read = read.where(table.c.id == clock.id)
        seen["as claimed"] = (await connection.execute(read)).scalar_one()
        await session.rollback()
    for change, values in changes.items():
        async with sessions() as session:
            connection = await session.connection()
            await connection.execute(sa.update(table).where(table.c.id == clock.id).values(values))
            seen[change] = (await connection.execute(read)).scalar_one()
            await session.rollback()
    assert len(set(seen.values())) == len(seen), seen


async def test_a_batch_on_sqlite_reads_its_cases_versions_with_the_write_that_locks_it(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three clocks warned in one batch: on SQLite the write that takes the lock returns the
    cases' versions with the clocks (no statement of its own to read them), and the batch is
    written in five statements; PostgreSQL locks the cases, then the clocks (six)."""
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    for n in range(3):
        await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_090 + n)
    in_batch = False
    act_in_bulk = sweep_module.act_in_bulk  # type: ignore[attr-defined]

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal in_batch
        in_batch = True
        try:
            return await act_in_bulk(*args, **kwargs)
        finally:
            in_batch = False

    monkeypatch.setattr(sweep_module, "act_in_bulk", counted)
    with statements(sessions, when=lambda: in_batch) as said:
        report_ = await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)
    assert len(report_.plans) == 3 and report_.queued == 3
    async with sessions() as session:
        dialect = (await session.connection()).dialect.name
    assert len(said) == (6 if dialect == "postgresql" else 5), said


async def test_who_is_who_is_read_while_the_database_claims_the_clocks(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The directory, categories and teams are read on a connection of their own while the
    claim runs (the claim here waits until they are being read), and the sweep still warns."""
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_095)
    reading = asyncio.Event()
    load, claim = Directory.load, sweep_module.claim_due_clocks

    async def read_marked(_cls: type[Directory], session: Any) -> Directory:
        reading.set()
        return await load(session)

    async def claim_once_reading(*args: Any, **kwargs: Any) -> Any:
        await asyncio.wait_for(reading.wait(), timeout=5)
        return await claim(*args, **kwargs)

    monkeypatch.setattr(Directory, "load", classmethod(read_marked))
    monkeypatch.setattr(sweep_module, "claim_due_clocks", claim_once_reading)
    done = await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)
    assert len(done.plans) == 1 and done.queued == 1


async def test_a_claim_that_fails_while_who_is_who_is_read_fails_the_sweep_and_frees_both_connections(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The claim fails while the directory is being read on the other connection (PostgreSQL:
    SQLite reads it first): the sweep fails with the claim's error, the read is stopped half-way,
    and no connection is left out of the pool (the next sweep would wait for it)."""
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
        if (await session.connection()).dialect.name != "postgresql":
            pytest.skip("SQLite reads who is who before the claim")
    await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_093)
    reading, never = asyncio.Event(), asyncio.Event()

    async def read_for_ever(_cls: type[Directory], session: Any) -> Directory:
        await session.connection()  # its connection taken, then stopped here
        reading.set()
        await never.wait()
        raise AssertionError("the read should have been stopped")

    async def claim_fails(*args: Any, **kwargs: Any) -> Any:
        await asyncio.wait_for(reading.wait(), timeout=5)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Directory, "load", classmethod(read_for_ever))
    monkeypatch.setattr(sweep_module, "claim_due_clocks", claim_fails)
    with pytest.raises(RuntimeError, match="went away"):
        await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)
    assert sessions.kw["bind"].pool.checkedout() == 0


async def test_a_failed_read_of_who_is_who_fails_the_sweep_and_frees_both_connections(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The directory cannot be read: the sweep fails with that error, warns nobody, leaves no
    connection out of the pool, and leaves no clock claimed (SQLite claims none; PostgreSQL,
    which claims meanwhile, gives the claims back): the next sweep, a minute later, acts."""
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
    await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_094)
    before = [n.id for n in await outbox(sessions)]

    async def read_fails(_cls: type[Directory], session: Any) -> Directory:
        await session.connection()
        raise RuntimeError("the directory could not be read")

    monkeypatch.setattr(Directory, "load", classmethod(read_fails))
    with pytest.raises(RuntimeError, match="could not be read"):
        await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)
    assert sessions.kw["bind"].pool.checkedout() == 0
    assert [n.id for n in await outbox(sessions)] == before
    async with sessions() as session:
        claimed = (await session.exec(select(CaseClock.claimed_by))).all()
    assert claimed and set(claimed) == {None}


async def test_on_postgresql_the_claim_reads_the_clocks_cases_in_the_same_statement(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
) -> None:
    """One round trip claims the due clocks and reads their cases on PostgreSQL (the update a
    ``WITH`` the read joins); SQLite, which cannot, reads the cases next, in one statement."""
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
        dialect = (await session.connection()).dialect.name
    for n in range(2):
        await report(sessions, catalog, calendar, SUBMITTED, telegram_user_id=7_000_097 + n)
    with statements(sessions) as said:
        done = await sweep_deadlines(sessions, catalog, calendar, ACCEPT_WARNING)
    assert len(done.plans) == 2 and done.queued == 2
    claims = [s for s in said if "SET claimed_by=" in s and "claimed_until=" in s]
    reads = [s for s in said if s.startswith("SELECT cases.id, cases.number")]
    assert len(claims) == 1
    if dialect == "postgresql":
        assert claims[0].startswith("WITH claimed AS (UPDATE case_clocks") and not reads
    else:
        assert claims[0].startswith("UPDATE case_clocks") and len(reads) == 1
