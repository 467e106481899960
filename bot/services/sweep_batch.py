"""The deadline sweep's writing: the plans of a batch of claimed clocks applied in one transaction.

``bot.services.sweep`` claims the due clocks and plans each one (``plan_clock``); this applies the
plans of up to ``CHUNK`` clocks at once, with a handful of statements whatever their number:

1. lock: on PostgreSQL the batch's cases (``FOR UPDATE``, in id order) and then its clocks; on
   SQLite a write to the clocks takes the database's write lock first. Nobody changes them until
   the commit.
2. compare: a case whose ``version`` moved since the sweep read it (a user acted on it
   meanwhile) is not written here: its clocks are left to the per-clock path, which reads the case
   afresh. A clock changed meanwhile (extended, paused, met, no longer ours: its columns' text,
   ``seen``, is not what the claim read) is read again, planned again from what it says now,
   or skipped when it no longer runs.
3. write: the clocks (one ``UPDATE`` run over all rows), the cases that have new history (with
   their version checked and raised), the events (appended to each case's hash chain, as
   ``record_event`` does one by one, so ``lianka audit verify`` holds) and the notices (one
   ``INSERT … ON CONFLICT (key) DO NOTHING`` per thousand: each notice queues once; what was
   written is counted).

A case's clocks are always in one batch: its chain is extended in one place. Anything that fails
rolls the whole batch back, and the caller acts on its clocks one by one as before.
"""

from __future__ import annotations

import asyncio
import operator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.assist_notices import TOLD_OF, tell_assist_teams
from bot.services.sweep_digest import Digests, Staged
from bot.services.sweep_plan import (
    AnyCase,
    AnyClock,
    CaseRow,
    ClockPlan,
    ClockRow,
    Notice,
    SweepContext,
    plan_clock,
)
from models.bulk import among, insert_rows, update_rows
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.clock import CaseClock, ClockState
from models.event import SYSTEM, CaseEvent, EventKind, chained, moved
from models.notification import Recipient
from notifications.outbox import enqueue_many, queued, ready

CHUNK = 500
"""Clocks per transaction: a bigger sweep is written in several. 1,000 was tried (issue 18): on
1,000 due among 100,000 the sweep's CPU fell a little (PostgreSQL 113–127 → 108–111 ms, SQLite
175–215 → 176–191 ms), but 10,000 due among 1,000,000 took 4.9–5.3 s instead of 2.6–2.9 s at
the same CPU on both sides (client ~1,080 ms, server ~1,150 ms; load 4.5–5): time spent waiting,
not computing. EXPLAIN (ANALYZE, BUFFERS) of the lock and write statements at 500 and 1,000 ids
among 1,000,000 shows the same plans (index scans, nested loops over ``unnest``) and buffers in
proportion; at loads of 5-8 the sweep's wall time there was 3-5 times its CPU (the process's and
the server's) whatever the batch, so the waiting is most likely the machine's, not a plan's."""

CLOCK_FIELDS = (
    "state",
    "stage",
    "started_at",
    "workdays",
    "due_at",
    "provisional",
    "next_action_at",
    "paused_at",
    "met_at",
    "extended_days",
)
"""What a plan reads of a clock, and what applying it may change."""

CASE_FIELDS = (
    "status",
    "satisfaction",
    "closed_at",
    "updated_at",
    "event_count",
    "last_event_hash",
)
"""What applying a plan may change on a case (with its version)."""

CHAIN_FIELDS = ("updated_at", "event_count", "last_event_hash")
"""What history alone changes on a case (``models.event.chained``)."""


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def seen(dialect: str) -> Any:
    """A clock's ``CLOCK_FIELDS`` as one text, read with the clock (``ClockRow.seen``): equal
    texts, equal values (PostgreSQL's JSON array of the columns, SQLite's ``quote`` of each
    column: a NULL, an empty text and a number are told apart; a time in JSON is ISO 8601 with
    its offset whatever the session's ``DateStyle``, where the text of a row would follow it and
    two instants could read alike in two time zones). So a batch, once it has locked its clocks,
    reads this text of each instead of every column again, and only a clock whose text changed
    since the claim (extended, paused, met meanwhile) is read again whole (``_changed``)."""
    if dialect == "postgresql":
        sql = f"CAST(json_build_array({', '.join(CLOCK_FIELDS)}) AS TEXT)"
    else:
        sql = " || ',' || ".join(f"quote({name})" for name in CLOCK_FIELDS)
    return sa.literal_column(sql, sa.Text)


def read_clocks(dialect: str) -> list[Any]:
    """What the sweep reads of a due clock: ``ClockRow.COLUMNS``, then ``seen``."""
    table = _table(CaseClock)
    return [*(table.c[name] for name in ClockRow.COLUMNS), seen(dialect)]


def advanced(
    clock: AnyClock, plan: ClockPlan, calendar: WorkCalendar, now: datetime
) -> dict[str, Any]:
    """Where the plan moves the clock: the fields that change (restarted for the 回访 answer if
    asked); its claim is given back besides."""
    moved: dict[str, Any] = {
        "stage": plan.stage,
        "state": plan.state,
        "next_action_at": plan.next_action_at,
    }
    if plan.state is ClockState.MET:
        moved["met_at"] = now
    if plan.restart_workdays is not None:
        deadline = calendar.deadline(now, plan.restart_workdays)
        moved |= {
            "started_at": now,
            "workdays": plan.restart_workdays,
            "due_at": deadline.due_at,
            "provisional": deadline.provisional,
            "next_action_at": deadline.due_at,
        }
    return moved


def advance(clock: CaseClock, plan: ClockPlan, calendar: WorkCalendar, now: datetime) -> None:
    """Move the clock where its plan says (``advanced``), its claim given back."""
    for name, value in advanced(clock, plan, calendar, now).items():
        setattr(clock, name, value)
    clock.claimed_by = None
    clock.claimed_until = None


def history(case: AnyCase, plan: ClockPlan, now: datetime) -> list[dict[str, Any]]:
    """The plan's events appended to the case's chain (their columns, as ``chained`` makes
    them), and the case closed if the plan says so."""
    events = [chained(case, kind, SYSTEM, now, data=data) for kind, data in plan.events]
    if plan.close:
        if plan.close_as is not None:
            case.satisfaction = plan.close_as
        case.closed_at = now
        data = {"satisfaction": plan.close_as.value if plan.close_as else None}
        events.append(moved(case, CaseStatus.CLOSED, EventKind.CLOSED, SYSTEM, now, data=data))
    return events


def chunks(clocks: list[ClockRow], size: int | None = None) -> list[list[ClockRow]]:
    """The clocks in order, in groups of about ``size`` (``CHUNK``); a case's clocks all in one
    group."""
    size = size or CHUNK
    by_case: dict[int, list[ClockRow]] = {}
    for clock in clocks:
        by_case.setdefault(clock.case_id, []).append(clock)
    groups: list[list[ClockRow]] = [[]]
    for same_case in by_case.values():
        if groups[-1] and len(groups[-1]) + len(same_case) > size:
            groups.append([])
        groups[-1].extend(same_case)
    return [group for group in groups if group]


@dataclass(slots=True)
class Batch:
    """What one batch did: the plans applied, the clocks skipped (no longer running or no longer
    ours), the clocks left to act on one by one (their case changed since it was read), and
    what it did to the digests (settled and merged once it commits)."""

    plans: list[ClockPlan] = field(default_factory=list)
    skipped: int = 0
    alone: list[int] = field(default_factory=list)
    staged: Staged = field(default_factory=Staged)


@dataclass(frozen=True, slots=True)
class Sweep:
    """What every batch of one sweep shares."""

    ctx: SweepContext
    instance: str
    now: datetime
    held: frozenset[Recipient]  # their notices are folded into their digests
    digests: Digests


async def wait_for(before: asyncio.Future[Any] | None) -> None:
    """Until ``before`` (the batch before, running alongside) is done, however it ended. Only
    ever between transactions, holding no lock: PostgreSQL cannot see a wait in the process, so
    a staff action holding a row of the batch before and asking for one held here would close a
    cycle its deadlock detector never breaks (the sweep and those cases stuck for good)."""
    if before is not None and not before.done():
        await asyncio.wait([before])


async def queue_notices(session: AsyncSession, sweep: Sweep, plans: list[ClockPlan]) -> Staged:
    """Queue the plans' notices (each key once; ``plan.queued`` counts the rows written) in the
    session's transaction, a held person's folded into a part of their digest
    (``Digests.fold``: nothing shared with the batches alongside, so nothing waited for); the
    caller merges the parts once it commits."""
    rows: list[dict[str, Any]] = []
    by_key: dict[str, tuple[ClockPlan, Notice]] = {}
    for plan in plans:
        for notice in plan.notices:
            values = queued(
                key=notice.key,
                kind=notice.kind,
                to=notice.recipient,
                case_id=notice.case_id,
                notice=notice.says,
                offer=notice.offer,
                now=sweep.now,
            )
            if notice.recipient in sweep.held and notice.digest_line is not None:
                values = sweep.digests.folded_row(values)
            rows.append(ready(values, notice.says, sweep.digests.checked, shaped=notice.shape))
            by_key.setdefault(notice.key, (plan, notice))
    folded: list[tuple[Recipient, int, dict[str, str]]] = []
    for key, row_id in (await enqueue_many(session, rows)).items():
        plan, notice = by_key[key]
        plan.queued += 1
        if notice.recipient in sweep.held and notice.digest_line is not None:
            folded.append((notice.recipient, row_id, notice.digest_line))
    return await sweep.digests.fold(session, folded)


async def _lock(
    session: AsyncSession, clocks: list[ClockRow], instance: str
) -> tuple[dict[int, str], dict[int, int]]:
    """Lock the batch's cases and clocks (see the module's docstring) and read what the clocks
    still claimed by ``instance`` say now (``seen``, by id) and the cases' versions (on SQLite
    only of the cases with a clock still ours: the others' clocks are skipped).

    No deadlock with a staff action or another batch: every writer locks a case's row before
    its clocks' (the use cases' flushes, ``_apply``), and here too — on PostgreSQL the cases
    first, in id order, then the clocks, in id order; the batches' cases are disjoint (a case's
    clocks are all in one batch) and a batch waits for the one before only once it has
    committed (``wait_for``). On SQLite the first statement is a write, which takes the
    database's one write lock for the whole transaction. Reading ``seen`` rather than every
    column changes what the statements return, not what they lock or in which order."""
    clock_table, case_table = _table(CaseClock), _table(Case)
    clock_ids = [c.id for c in clocks]
    connection = await session.connection()
    dialect = connection.dialect.name
    ours = sa.and_(
        among(clock_table.c.id, clock_ids, dialect), clock_table.c.claimed_by == instance
    )
    columns = [clock_table.c.id, seen(dialect)]
    if dialect == "postgresql":
        versions = (
            sa.select(case_table.c.id, case_table.c.version)
            .where(among(case_table.c.id, sorted({c.case_id for c in clocks}), dialect))
            .order_by(case_table.c.id)
            .with_for_update()
        )
        version_rows = (await connection.execute(versions)).all()
        clock_rows = (
            await connection.execute(
                sa.select(*columns).where(ours).order_by(clock_table.c.id).with_for_update()
            )
        ).all()
        return (
            {int(clock_id): text for clock_id, text in clock_rows},
            {int(row.id): int(row.version) for row in version_rows},
        )
    # SQLite: a write first, which takes the write lock until the commit; it returns each
    # clock's case and the case's version too, one statement where a read of the versions
    # would be another (a clock no longer ours is skipped whatever its case's version)
    version = (
        sa.select(case_table.c.version)
        .where(case_table.c.id == clock_table.c.case_id)
        .correlate(clock_table)
        .scalar_subquery()
    )
    touch = sa.update(clock_table).where(ours).values(claimed_by=clock_table.c.claimed_by)
    rows = (
        await connection.execute(touch.returning(*columns, clock_table.c.case_id, version))
    ).all()
    return (
        {int(clock_id): text for clock_id, text, _, _ in rows},
        {int(case_id): int(v) for _, _, case_id, v in rows if v is not None},
    )


async def _changed(
    session: AsyncSession, clocks: list[ClockRow], now_seen: dict[int, str]
) -> dict[int, Any]:
    """The clocks (locked, still ours) whose columns changed since the sweep read them, read
    again whole (id, then ``CLOCK_FIELDS``), by id; nearly always none, and then no statement."""
    ids = [c.id for c in clocks if c.id in now_seen and now_seen[c.id] != c.seen]
    if not ids:
        return {}
    table = _table(CaseClock)
    connection = await session.connection()
    rows = await connection.execute(
        sa.select(table.c.id, *(table.c[f] for f in CLOCK_FIELDS)).where(
            among(table.c.id, ids, connection.dialect.name)
        )
    )
    return {int(row.id): row for row in rows.all()}


_clock_fields = operator.attrgetter(*CLOCK_FIELDS)


def _refreshed(clock: ClockRow, row: Any) -> bool:
    """Bring the clock up to date with its row (its id, then ``CLOCK_FIELDS`` in order, as
    ``_changed`` reads it); True when anything had changed."""
    now = tuple(row)[1:]
    if _clock_fields(clock) == now:
        return False
    changed = False
    for name, value in zip(CLOCK_FIELDS, now, strict=True):
        if getattr(clock, name) != value:
            setattr(clock, name, value)
            changed = True
    return changed


async def act_in_bulk(
    session: AsyncSession,
    sweep: Sweep,
    clocks: list[ClockRow],
    cases: dict[int, CaseRow],
    plans: dict[int, ClockPlan],
) -> Batch:
    """Apply the plans of ``clocks`` (planned from ``cases`` as the sweep read them) in the
    session's transaction; the caller commits, then merges ``Batch.staged``. See the module's
    docstring."""
    ctx, now = sweep.ctx, sweep.now
    still_ours, versions = await _lock(session, clocks, sweep.instance)
    rows = await _changed(session, clocks, still_ours)
    batch = Batch()
    clock_rows: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    touched: dict[int, int] = {}  # case id → its version when read
    closing: set[int] = set()
    for clock in clocks:
        assert clock.id is not None
        row = rows.get(clock.id)
        case = cases[clock.case_id]
        if clock.id not in still_ours or (row is not None and row.state != ClockState.RUNNING):
            batch.skipped += 1  # alone it would be skipped too, whatever its case's version
            continue
        if versions.get(clock.case_id) != case.version:
            batch.alone.append(clock.id)
            continue
        plan = plans[clock.id]
        if (row is not None and _refreshed(clock, row)) or clock.case_id in touched:
            plan = plan_clock(ctx, clock, case, now)  # planned again from what is true now
        moved = advanced(clock, plan, ctx.calendar, now)
        # only what changes: SQLite then leaves the indexes of the other columns alone
        clock_rows.append(
            {"id": clock.id} | {f: v for f, v in moved.items() if getattr(clock, f) != v}
        )
        new_events = history(case, plan, now)
        if new_events:
            events += new_events
            touched.setdefault(clock.case_id, case.version)
        if plan.close:
            closing.add(clock.case_id)
        batch.plans.append(plan)
    written = {cid: cases[cid] for cid in touched}
    await _write(session, clock_rows, written, _Versions(touched, closing), events)
    # written as rows, so the flush listener that tells 协办 teams does not see them
    told = [CaseEvent(**values) for values in events if values["kind"] in TOLD_OF]
    if told:
        await session.run_sync(tell_assist_teams, told)
    batch.staged = await queue_notices(session, sweep, batch.plans)
    for case_id, version in touched.items():
        cases[case_id].version = version + 1
    return batch


@dataclass(frozen=True, slots=True)
class _Versions:
    """The cases a batch writes: each one's version when read, and the ones it closes."""

    read: dict[int, int]
    closing: set[int]


async def _write(
    session: AsyncSession,
    clock_rows: list[dict[str, Any]],
    cases: dict[int, CaseRow],
    versions: _Versions,
    events: list[dict[str, Any]],
) -> None:
    """The clocks, the cases with new history (each only at the version it was read at) and
    their events: a statement each, and one for each set of columns that change (a warning
    moves a clock's stage and next action, a 回访 closes the case too)."""
    connection = await session.connection()
    for group in _same_columns(clock_rows):
        await update_rows(
            connection,
            _table(CaseClock),
            group,
            constants={"claimed_by": None, "claimed_until": None},
        )
    case_rows = [
        {"id": case_id, "read": versions.read[case_id], "version": versions.read[case_id] + 1}
        | {
            f: getattr(case, f)
            for f in (CASE_FIELDS if case_id in versions.closing else CHAIN_FIELDS)
        }
        for case_id, case in cases.items()
    ]
    updated = 0
    for group in _same_columns(case_rows):
        updated += await update_rows(
            connection, _table(Case), group, where_equal=[("version", "read")]
        )
    if connection.dialect.supports_sane_multi_rowcount and updated != len(case_rows):
        raise StaleDataError("a case changed while the sweep held it")  # rolled back
    await insert_rows(connection, _table(CaseEvent), events)


def _same_columns(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The rows in groups of the same keys, in order of first appearance."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    return list(groups.values())
