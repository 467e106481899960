"""The deadline sweep: warnings, overdue notices, escalations and follow-ups, on schedule.

A sweep claims the clocks that are due in one statement, so that two processes on one database
never act on the same clock, plans each (``bot.services.sweep_plan``), then writes them in batches
of up to 500, one transaction each (``bot.services.sweep_batch``). A clock whose case changed
since the sweep read it, and every clock of a batch that could not be written, is acted on in a
transaction of its own. How a clock moves (``stage`` and ``next_action_at``):

签收 / 受理告知 / 办结 (accept, first_reply, resolve)
    stage 0 → 1 WARNED at ``next_action_at`` (the warning time ``start_clock`` set): the assignee
    is warned (the team leaders if nobody is assigned); next: ``due_at``.
    → 2 OVERDUE at ``due_at``: the assignee and the team leaders; next: the end of the office day
    ``escalate_after`` working days later. A clock found past its deadline skips the warning.
    → 3 ESCALATED then: the leaders (Role.LEADER; the admins if there are none); next: none.
    督办 cases go a step earlier: the team leaders hear at the warning, and the leaders at the
    deadline, where the clock goes straight to 3.
回访 (followup)
    stage 0 at 09:00 of its due day: the reporter of an appeal is asked 满意 · 基本满意 · 不满意
    and the clock restarts for ``followup_wait`` working days at stage 1; a clue case is closed
    without a question (clock met).
    stage 1 at ``due_at`` without an answer: the case is closed as 未评价, clock met at stage 2.

Every notice has the key ``<case>:<clock kind>_<step>:<due_at as YYYYmmddHHMM UTC>:<recipient>``,
so a repeated sweep queues nothing twice and an extended deadline warns afresh. A recipient
with ``DIGEST_THRESHOLD`` or more deadline notices from one sweep (a process catching up after a
day down) gets one digest instead: their notices are written already folded, in the same
transaction as a part of their digest, and the parts are merged into one digest once written
(``bot.services.sweep_digest``), which waits until the sweep is done. The job's run of sweeps
(``bot.scheduler``) shares one digest a person across them, every later notice folded in it.
The digest is a notice like the others (``deadline_digest``): its parameters list the folded
notices' digest lines (number, clock, step, due: plain values made when they were planned), so
it is rendered by its channel like any row and never concatenates rendered texts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, any_, func, or_, update
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.collector import cycles_afterwards
from bot.services.sweep_batch import (
    Batch,
    Sweep,
    act_in_bulk,
    advance,
    chunks,
    history,
    queue_notices,
    read_clocks,
    wait_for,
)
from bot.services.sweep_digest import Digests, Staged, busy
from bot.services.sweep_plan import (
    CaseRow,
    ClockPlan,
    ClockRow,
    Notice,
    plan_clock,
    plan_clocks,
)
from bot.services.sweep_setting import load_reporters, read_setting
from models.bulk import among
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import CaseClock, ClockState
from models.event import CaseEvent
from models.notification import Recipient
from models.types import utc
from notifications.outbox import enqueue

__all__ = [
    "ClockPlan",
    "Notice",
    "SweepReport",
    "claim_due_clocks",
    "list_due_clocks",
    "plan_clock",
    "sweep_deadlines",
]

logger = logging.getLogger(__name__)

CLAIM_LIMIT = 5_000
"""Clocks one sweep claims and acts on, in batches of 500, with one digest per busy person; the
job's run sweeps again while a sweep finds this many due (``bot.scheduler.SWEEP_ROUNDS_FOR``)."""
IN_FLIGHT = 2
"""Batches written at once on PostgreSQL, each in a transaction (and on a connection) of its
own: while the server writes one, the process prepares the next, and the server can write both
on two cores. A batch's cases and clocks are its own, and so are the digest parts it writes
(``bot.services.sweep_digest``), so batches never wait for one another while they hold locks;
only the merge of a batch's parts into the people's digests waits until the batch before it is
done (``wait_for``), after its own transaction has committed, so that each person's digest is
extended in order and no staff action can end up waiting on a batch that waits. On SQLite,
whose writers take turns anyway, one at a time."""
CLAIM_FOR = timedelta(minutes=5)
DIGEST_THRESHOLD = 4
DIGEST_HOLD = timedelta(minutes=10)


def default_instance() -> str:
    """Who claims: host and process, so a claim can be traced to the process that made it."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}"


@dataclass(slots=True)
class SweepReport:
    """What one sweep did, or would do with ``dry_run``."""

    now: datetime
    dry_run: bool
    claimed: int = 0  # the clocks it claimed (found due, with ``dry_run``), acted on or not
    failed: int = 0  # of those, the clocks it could not act on (tried again alone)
    plans: list[ClockPlan] = field(default_factory=list)
    digests: dict[Recipient, int] = field(default_factory=dict)
    queued: int = 0
    skipped: int = 0
    admin_notices: list[Notice] = field(default_factory=list)

    @property
    def notices(self) -> list[Notice]:
        return [n for plan in self.plans for n in plan.notices] + self.admin_notices


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


def _due_filter(now: datetime) -> Any:
    table = CaseClock.__table__  # type: ignore[attr-defined]
    return and_(
        table.c.state == ClockState.RUNNING,
        table.c.next_action_at <= now,
        or_(table.c.claimed_until.is_(None), table.c.claimed_until < now),
    )


async def claim_due_clocks(
    session: AsyncSession,
    now: datetime,
    instance: str,
    limit: int = CLAIM_LIMIT,
) -> tuple[list[ClockRow], dict[int, CaseRow]]:
    """Claim up to ``limit`` due clocks for ``instance`` in one statement that returns them, in
    id order, with their cases by id; commits the claim. On PostgreSQL the claimed ids are an
    array the update looks up by primary key (``= ANY(ARRAY(…))``), where ``IN (…)`` let the
    planner scan every clock, and the cases come from the same statement (the update a ``WITH``
    that the read of the cases joins), one round trip for both; SQLite, which cannot, reads
    them next."""
    table = CaseClock.__table__  # type: ignore[attr-defined]
    dialect = _dialect(session)
    due = (
        select(table.c.id)
        .where(_due_filter(now))
        .order_by(table.c.next_action_at, table.c.id)
        .limit(limit)
    )
    if dialect == "postgresql":
        claimed = table.c.id == any_(
            func.array(due.with_for_update(skip_locked=True).scalar_subquery())
        )
    else:
        claimed = table.c.id.in_(due.scalar_subquery())
    columns = read_clocks(dialect)
    statement = (
        update(table)
        .where(claimed)
        .values(claimed_by=instance, claimed_until=utc(now + CLAIM_FOR))
        .returning(*columns[:-1], columns[-1].label("seen"))
    )
    connection = await session.connection()
    cases: dict[int, CaseRow] = {}
    if dialect == "postgresql":
        done, case_table = statement.cte("claimed"), Case.__table__  # type: ignore[attr-defined]
        rows = (
            await connection.execute(
                select(*done.c, *(case_table.c[name] for name in CaseRow.COLUMNS)).join_from(
                    done, case_table, case_table.c.id == done.c.case_id
                )
            )
        ).all()
        cases.update((case.id, case) for case in (CaseRow(row[len(columns) :]) for row in rows))
    else:
        rows = (await connection.execute(statement)).all()
    clocks = [ClockRow(row[: len(columns) - 1], row[len(columns) - 1]) for row in rows]
    await session.commit()
    if dialect != "postgresql":
        cases = await _load_cases(session, clocks)
    return sorted(clocks, key=lambda clock: clock.id), cases


async def list_due_clocks(session: AsyncSession, now: datetime, limit: int) -> list[ClockRow]:
    """The clocks a sweep would claim now, in id order (for a dry run: reads only)."""
    table = CaseClock.__table__  # type: ignore[attr-defined]
    rows = await session.exec(
        select(*read_clocks(_dialect(session)))
        .where(_due_filter(now))
        .order_by(table.c.next_action_at, table.c.id)
        .limit(limit)
    )
    return sorted((ClockRow(row[:-1], row[-1]) for row in rows.all()), key=lambda c: c.id)


def _in_parts(ids: list[int]) -> Iterator[list[int]]:
    """``ids`` in parts of at most 10,000, one statement's worth (SQLite takes at most 32,766
    parameters)."""
    for start in range(0, len(ids), 10_000):
        yield ids[start : start + 10_000]


async def _load_cases(session: AsyncSession, clocks: list[ClockRow]) -> dict[int, CaseRow]:
    """The clocks' cases, by id."""
    table = Case.__table__  # type: ignore[attr-defined]
    ids = sorted({clock.case_id for clock in clocks})
    cases: dict[int, CaseRow] = {}
    for part in _in_parts(ids):
        rows = await session.exec(
            select(*(table.c[name] for name in CaseRow.COLUMNS)).where(
                among(table.c.id, part, _dialect(session))
            )
        )
        cases.update((case.id, case) for case in map(CaseRow, rows.all()))
    return cases


async def _release(sessions: SessionFactory, clock_ids: list[int], instance: str) -> None:
    """Give claims back so that the next sweep tries the clocks again."""
    async with sessions() as session:
        table = CaseClock.__table__  # type: ignore[attr-defined]
        for part in _in_parts(clock_ids):
            await session.exec(
                update(table)
                .where(among(table.c.id, part, _dialect(session)), table.c.claimed_by == instance)
                .values(claimed_by=None, claimed_until=None)
            )
        await session.commit()


async def _give_back(sessions: SessionFactory, clock_ids: list[int], instance: str) -> None:
    """A sweep stopped midway gives back the claims of the clocks it did not act on (those it
    did were given back as they were written), so that the next sweep, here or on another
    instance, acts on them at once rather than after ``CLAIM_FOR``; if it cannot, the claims run
    out as they would after a crash."""
    try:
        await _release(sessions, clock_ids, instance)
    except Exception:
        logger.warning("sweep: claims not given back, free again in %s", CLAIM_FOR)


async def _act(sweep: Sweep, sessions: SessionFactory, clock_id: int) -> ClockPlan | None:
    """One clock, one transaction: advance it, record the history, queue the notices (the path
    of a clock whose batch could not be written, or whose case changed since the sweep read it).
    A case changed meanwhile by someone else (its version moved) gives the clock back for the
    next sweep; any other failure leaves it claimed, to be tried again once the claim lapses."""
    try:
        return await _apply(sweep, sessions, clock_id)
    except StaleDataError:
        logger.info("clock %s: the case changed meanwhile; retried next sweep", clock_id)
        await _release(sessions, [clock_id], sweep.instance)
        return None
    except Exception:  # one clock that cannot be written does not hold up the others
        logger.exception("clock %s: not acted on; retried once its claim lapses", clock_id)
        _failing.add(clock_id)
        return None


class _Failing:
    """The clocks this process could not act on even alone (a row that breaks a constraint, a
    history written behind the sweep's back): the next sweeps act on them alone rather than in
    a batch, which one such clock would otherwise fail — and send clock by clock — every time
    its claim lapses. A clock is forgotten once acted on (and the oldest beyond ``LIMIT``)."""

    LIMIT = 10_000

    def __init__(self) -> None:
        self.ids: dict[int, None] = {}

    def __contains__(self, clock_id: int) -> bool:
        return clock_id in self.ids

    def add(self, clock_id: int) -> None:
        self.ids.pop(clock_id, None)
        self.ids[clock_id] = None
        while len(self.ids) > self.LIMIT:
            del self.ids[next(iter(self.ids))]

    def discard(self, clock_id: int) -> None:
        self.ids.pop(clock_id, None)


_failing = _Failing()


async def _apply(sweep: Sweep, sessions: SessionFactory, clock_id: int) -> ClockPlan | None:
    ctx, now = sweep.ctx, sweep.now
    async with sessions() as session:
        case_id = (
            await session.exec(select(CaseClock.case_id).where(CaseClock.id == clock_id))
        ).first()
        if case_id is None:
            return None
        # the case's row before its clock's, the order every writer locks them in (the batch,
        # the use cases' flushes): the other order could deadlock with a staff action
        case = await session.get(Case, case_id, with_for_update=True)
        clock = await session.get(CaseClock, clock_id, with_for_update=True)  # our claim held
        if (
            case is None
            or clock is None
            or clock.claimed_by != sweep.instance
            or clock.state is not ClockState.RUNNING
        ):
            return None
        plan = plan_clock(ctx, clock, case, now)
        advance(clock, plan, ctx.calendar, now)
        session.add_all([CaseEvent(**row) for row in history(case, plan, now)])
        session.add_all([clock, case])
        await session.flush()
        staged = await queue_notices(session, sweep, [plan])
        await session.commit()
    sweep.digests.settle(staged)
    _failing.discard(clock_id)
    await _merge(sweep, sessions, staged)  # the batches before are done: the caller waited
    return plan


async def _merge(sweep: Sweep, sessions: SessionFactory, staged: Staged) -> None:
    """Merge a committed transaction's digest parts into the people's digests, in a transaction
    of its own (``Digests.merge``); parts whose merge fails go out on their own (``strand``)."""
    if not staged.parts:
        return
    try:
        async with sessions() as session:
            merged = await sweep.digests.merge(session, staged)
            await session.commit()
        sweep.digests.merged(merged)
    except Exception:
        logger.warning("deadline sweep: digest parts not merged; sent as they are", exc_info=True)
        sweep.digests.strand(staged)


async def _act_in_bulk(
    sessions: SessionFactory,
    sweep: Sweep,
    clocks: list[ClockRow],
    cases: dict[int, CaseRow],
    plans: dict[int, ClockPlan],
    *,
    after: asyncio.Future[Any] | None = None,
) -> Batch:
    """A batch of clocks in one transaction (``bot.services.sweep_batch``); if it cannot be
    written (a clash with another writer, a row that breaks a constraint), nothing of it is, and
    its clocks are acted on one by one, each in a transaction of its own. Once it commits and
    ``after`` (the batch before) is done, its digest parts are merged (``_merge``)."""
    try:
        async with sessions() as session:
            batch = await act_in_bulk(session, sweep, clocks, cases, plans)
            await session.commit()
    except Exception:
        logger.warning(
            "deadline sweep: a batch of %s clocks failed; acting on them one by one",
            len(clocks),
            exc_info=True,
        )
        return Batch(alone=[clock.id for clock in clocks if clock.id is not None])
    sweep.digests.settle(batch.staged)
    await wait_for(after)  # committed: no lock held while the batch before finishes
    await _merge(sweep, sessions, batch.staged)
    return batch


async def _act_on_group(
    sessions: SessionFactory,
    sweep: Sweep,
    group: list[ClockRow],
    cases: dict[int, CaseRow],
    plans: dict[int, ClockPlan],
    *,
    after: asyncio.Future[Any] | None,
) -> SweepReport:
    """One batch, then the clocks it left to act on one by one (once the batch before it is
    done: their digest parts merge after its); what they did."""
    done = SweepReport(now=sweep.now, dry_run=False)
    batch = await _act_in_bulk(sessions, sweep, group, cases, plans, after=after)
    done.plans += batch.plans
    done.skipped += batch.skipped
    if batch.alone:
        await wait_for(after)
        await _act_alone(sweep, sessions, batch.alone, done)
    return done


async def _act_on_groups(
    sessions: SessionFactory,
    sweep: Sweep,
    groups: list[list[ClockRow]],
    cases: dict[int, CaseRow],
    plans: dict[int, ClockPlan],
    *,
    in_flight: int,
) -> SweepReport:
    """The groups' batches, up to ``in_flight`` at once (``IN_FLIGHT``), into one report in
    the groups' order."""
    # a batch's merge waits for the group just before it, which merged only after its own
    # predecessor: the merges go in order however many batches are written at once
    assert 1 <= in_flight <= 2
    done = SweepReport(now=sweep.now, dry_run=False)
    running: deque[asyncio.Task[SweepReport]] = deque()
    after: asyncio.Task[SweepReport] | None = None
    try:
        for group in groups:
            if len(running) >= in_flight:
                _add(done, await running.popleft())
            after = asyncio.ensure_future(
                _act_on_group(sessions, sweep, group, cases, plans, after=after)
            )
            running.append(after)
        while running:
            _add(done, await running.popleft())
    finally:
        for task in running:  # only when one failed beyond its own handling
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    return done


def _add(report: SweepReport, done: SweepReport) -> None:
    report.plans += done.plans
    report.skipped += done.skipped


async def _act_alone(
    sweep: Sweep, sessions: SessionFactory, clock_ids: list[int], report: SweepReport
) -> None:
    """Act on these clocks one by one (``_act``), into the report."""
    for clock_id in clock_ids:
        plan = await _act(sweep, sessions, clock_id)
        if plan is None:
            report.skipped += 1
        else:
            report.plans.append(plan)


async def _queue_admin_notices(
    sessions: SessionFactory, notices: list[Notice], now: datetime, report: SweepReport
) -> None:
    """The admins' notices of the years whose deadlines count without the official schedule
    (each once, by its key), into the report."""
    if not notices:
        return
    async with sessions() as session:
        for notice in notices:
            if await enqueue(
                session,
                key=notice.key,
                kind=notice.kind,
                to=notice.recipient,
                notice=notice.says,
                now=now,
            ):
                report.admin_notices.append(notice)
        await session.commit()


async def sweep_deadlines(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    *,
    dry_run: bool = False,
    instance: str | None = None,
    limit: int = CLAIM_LIMIT,
    digests: Digests | None = None,
) -> SweepReport:
    """Warn, mark overdue, escalate and follow up every clock that is due at ``now``, each
    notice once; ``dry_run`` reports what would be sent and changes nothing. ``digests``, a run
    of sweeps' (the caller releases them when the run is done): a person with a digest in it
    has the notices of every later sweep folded into that one digest, however few."""
    with cycles_afterwards:
        return await _sweep(
            sessions, config, calendar, now, dry_run=dry_run, instance=instance, limit=limit,
            digests=digests,
        )  # fmt: skip


async def _sweep(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    *,
    dry_run: bool,
    instance: str | None,
    limit: int,
    digests: Digests | None,
) -> SweepReport:
    now = utc(now)
    run = digests  # a run's digests, released by the run; else this sweep's own
    digests = run or Digests.held_from(now, DIGEST_HOLD)
    instance = instance or default_instance()
    report = SweepReport(now=now, dry_run=dry_run)
    # who is who and the provisional years read on a connection of their own: on PostgreSQL
    # meanwhile, the server claiming the clocks while the process reads them; on SQLite first
    # (each connection's work is a thread of its own, and beside each other they take turns at
    # the interpreter: both cost more than one after the other)
    reading = asyncio.ensure_future(read_setting(sessions, calendar, now))
    engine = sessions.kw.get("bind")
    if engine is None or engine.dialect.name != "postgresql":
        await reading  # a failed read claims nothing
    try:
        async with sessions() as session:
            if dry_run:
                clocks = await list_due_clocks(session, now, limit)
                cases = await _load_cases(session, clocks)
            else:
                clocks, cases = await claim_due_clocks(session, now, instance, limit)
            reporters = await load_reporters(session, clocks, cases)
            dialect = _dialect(session)
    except BaseException:  # nothing waits for the setting any more
        reading.cancel()
        await asyncio.gather(reading, return_exceptions=True)
        raise
    report.claimed = len(clocks)
    try:
        setting = await reading
    except (Exception, asyncio.CancelledError):  # the claims given back, not left to run out
        if not dry_run:
            await _give_back(sessions, [clock.id for clock in clocks], instance)
        raise
    ctx = setting.context(config, calendar, reporters)
    folded_before = dict(digests.folded)
    try:  # stopped midway (the process shutting down): the claims given back
        plans = await plan_clocks(ctx, clocks, cases, now)  # (a turn every PLAN_TURN clocks)
        held = busy(plans, DIGEST_THRESHOLD) | set(digests.current)
        if dry_run:
            report.plans = plans
            report.admin_notices = setting.admin_notices
            report.digests = {
                r: sum(
                    n.recipient == r and n.digest_line is not None for p in plans for n in p.notices
                )
                for r in held
            }
            return report
        await _queue_admin_notices(sessions, setting.admin_notices, now, report)
        sweep = Sweep(ctx, instance, now, frozenset(held), digests)
        by_id = {plan.clock_id: plan for plan in plans}
        known_to_fail = [clock.id for clock in clocks if clock.id in _failing]
        groups = chunks([clock for clock in clocks if clock.id not in _failing])
        in_flight = IN_FLIGHT if dialect == "postgresql" else 1
        done = await _act_on_groups(sessions, sweep, groups, cases, by_id, in_flight=in_flight)
        _add(report, done)
        await _act_alone(sweep, sessions, known_to_fail, report)
    except asyncio.CancelledError:
        if not dry_run:
            await _give_back(sessions, [clock.id for clock in clocks], instance)
        raise
    report.failed = sum(clock.id in _failing for clock in clocks)
    if run is None:
        await digests.release_in(sessions)
    report.digests = {  # this sweep's, of a run's shared digests
        r: count - folded_before.get(r, 0)
        for r, count in digests.folded.items()
        if count > folded_before.get(r, 0)
    }
    report.queued = sum(plan.queued for plan in report.plans) + len(report.admin_notices)
    if report.plans:
        logger.info(
            "deadline sweep at %s: %s clocks, %s notices, %s digests",
            now.isoformat(),
            len(report.plans),
            report.queued,
            len(report.digests),
        )
    return report
