"""流转记录核验 from the console, in the background: ``start_audit_run`` writes the run's row
(refused while another is under way, on any instance), ``run_audit`` makes the check and writes
its progress after every chunk and its result at the end, ``latest_audit_run`` is what the 审计
page shows. The check is ``verify_audit``, the same as ``lianka audit verify``.

A run whose process stops (a restart, a kill) stops writing its heartbeat: the page shows it as
interrupted once the heartbeat is ``AUDIT_RUN_STALE_AFTER`` old, and the next 开始核验 closes it.
A run stopped in an orderly way (the process shutting down) closes itself at once. 停止核验
(``stop_audit_run``) closes the run under way as stopped, with who stopped it; the process making
it, on whichever instance, finds its row closed at its next heartbeat and stops there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.db import SessionFactory
from bot.services.audit import AuditReport, ProblemLine, problem_text, require_auditor, verify_audit
from models.audit_run import AUDIT_RUN_STALE_AFTER, PROBLEMS_KEPT, AuditRun, AuditRunState
from models.case import Case
from models.errors import DomainError
from models.event import ChainProblem
from models.team import Inspector
from models.types import utc

logger = logging.getLogger(__name__)

_RUNS: sa.Table = AuditRun.__table__  # type: ignore[attr-defined]


class AuditRunBusy(DomainError):
    message = "已有一次核验正在进行，请等待其完成后查看结果。"


class NoAuditRun(DomainError):
    message = "当前没有正在进行的核验。"


class AuditRunClosed(Exception):
    """The run's row is no longer running (closed elsewhere: interrupted, or stopped by a
    person): stop checking."""


async def start_audit_run(
    session: AsyncSession, actor: Inspector, *, now: datetime, anchored: bool
) -> AuditRun:
    """A new run, started by an admin or leader; a run whose heartbeat stopped is closed as
    interrupted first. ``AuditRunBusy`` while another is under way (two at once, one wins)."""
    require_auditor(actor)
    assert actor.id is not None
    await _close_stale(session, now)
    total = (await session.exec(select(func.count()).select_from(Case))).one()
    run = AuditRun(
        started_by_id=actor.id,
        started_at=utc(now),
        heartbeat_at=utc(now),
        cases_total=int(total),
        anchored=anchored,
    )
    session.add(run)
    try:
        await session.commit()
    except IntegrityError as error:  # uq_audit_runs_running: another run is under way
        await session.rollback()
        raise AuditRunBusy(detail=f"audit run refused: inspector {actor.id}") from error
    return run


async def stop_audit_run(session: AsyncSession, actor: Inspector, *, now: datetime) -> None:
    """停止核验, by an admin or leader: the run under way is closed as stopped, by ``actor``; its
    process stops at its next heartbeat (seconds: one chunk of cases) and keeps no result.
    ``NoAuditRun`` when none is under way (one whose process died is closed as interrupted)."""
    require_auditor(actor)
    assert actor.id is not None
    await _close_stale(session, now)
    stopped = await (await session.connection()).execute(
        _RUNS.update()
        .where(_RUNS.c.state == AuditRunState.RUNNING)
        .values(state=AuditRunState.STOPPED, stopped_by_id=actor.id, finished_at=utc(now))
    )
    await session.commit()
    if stopped.rowcount == 0:
        raise NoAuditRun(detail=f"audit stop refused, none running: inspector {actor.id}")
    logger.info("audit run stopped by inspector %s", actor.id)


async def _close_stale(session: AsyncSession, now: datetime) -> None:
    await (await session.connection()).execute(
        _RUNS.update()
        .where(
            _RUNS.c.state == AuditRunState.RUNNING,
            _RUNS.c.heartbeat_at < utc(now) - AUDIT_RUN_STALE_AFTER,
        )
        .values(state=AuditRunState.INTERRUPTED, finished_at=_RUNS.c.heartbeat_at)
    )


async def run_audit(
    sessions: SessionFactory, run_id: int, *, clock: Clock, anchor_file: Path | None
) -> None:
    """Make the check for run ``run_id``, writing its progress after every chunk and its result
    at the end. Cancelled (the process stopping), the run is closed as interrupted; an error is
    logged and the run closed as one."""
    try:
        async with sessions() as session:

            async def progress(report: AuditReport) -> None:
                await _write(sessions, run_id, _counts(report), clock.now())

            report = await verify_audit(session, anchor_file=anchor_file, progress=progress)
        await _write(sessions, run_id, _result(report), clock.now(), finished=True)
    except AuditRunClosed:
        logger.warning("audit run %s was closed while it ran; its result is not kept", run_id)
    except asyncio.CancelledError:
        await asyncio.shield(
            close_audit_run(sessions, run_id, AuditRunState.INTERRUPTED, clock.now())
        )
        raise
    except Exception:
        logger.exception("audit run %s failed", run_id)
        await close_audit_run(sessions, run_id, AuditRunState.ERROR, clock.now())


def _counts(report: AuditReport) -> dict[str, object]:
    return {
        "cases_checked": report.cases,
        "events_checked": report.events,
        "problem_count": len(report.problems),
    }


def _result(report: AuditReport) -> dict[str, object]:
    return {
        **_counts(report),
        "state": AuditRunState.PASSED if report.ok else AuditRunState.FAILED,
        "problems": [
            {"case_number": p.case_number, "seq": p.seq, "problem": p.problem}
            for p in report.problems[:PROBLEMS_KEPT]
        ],
        "anchors": report.anchors,
        "last_anchor_day": report.last_anchor.day if report.last_anchor is not None else None,
    }


async def _write(
    sessions: SessionFactory,
    run_id: int,
    values: dict[str, object],
    now: datetime,
    *,
    finished: bool = False,
) -> None:
    """The run's row, while it is still running (else ``AuditRunClosed``)."""
    if finished:
        values = {**values, "finished_at": utc(now)}
    async with sessions() as session:
        written = await (await session.connection()).execute(
            _RUNS.update()
            .where(_RUNS.c.id == run_id, _RUNS.c.state == AuditRunState.RUNNING)
            .values(heartbeat_at=utc(now), **values)
        )
        await session.commit()
    if written.rowcount != 1:
        raise AuditRunClosed(run_id)


async def close_audit_run(
    sessions: SessionFactory, run_id: int, state: AuditRunState, now: datetime
) -> None:
    """Close the run as ``state`` unless it is already closed (its result written)."""
    try:
        await _write(sessions, run_id, {"state": state}, now, finished=True)
    except AuditRunClosed:
        pass
    except Exception:  # the database is gone too: the heartbeat runs out instead
        logger.exception("audit run %s could not be closed as %s", run_id, state.value)


@dataclass(frozen=True, slots=True)
class AuditRunView:
    """The latest run as the 审计 page shows it."""

    state: AuditRunState
    started_by: str
    started_at: datetime
    stopped_by: str | None  # 停止核验's admin or leader
    finished_at: datetime | None
    cases_total: int
    cases_checked: int
    events_checked: int
    problem_count: int
    problems: list[ProblemLine]
    anchored: bool
    anchors: int
    last_anchor_day: str | None

    @property
    def running(self) -> bool:
        return self.state == AuditRunState.RUNNING

    @property
    def percent(self) -> int:
        """How far it has got (cases arriving meanwhile can take it past the count it began with;
        it shows 99 until the end)."""
        if not self.cases_total:
            return 99
        return min(99, self.cases_checked * 100 // self.cases_total)


async def latest_audit_run(
    session: AsyncSession, actor: Inspector, *, now: datetime
) -> AuditRunView | None:
    """The newest run for an admin or leader (a running one whose heartbeat stopped shows as
    interrupted, from its last heartbeat)."""
    require_auditor(actor)
    found = (
        await session.exec(
            select(AuditRun, Inspector)
            .join(Inspector, col(Inspector.id) == col(AuditRun.started_by_id))
            .order_by(col(AuditRun.id).desc())
            .limit(1)
        )
    ).first()
    if found is None:
        return None
    run, person = found
    stale = run.stale(now)
    stopper = None
    if run.stopped_by_id is not None:
        stopper = await session.get(Inspector, run.stopped_by_id)
    return AuditRunView(
        state=AuditRunState.INTERRUPTED if stale else run.state,
        started_by=person.name,
        started_at=run.started_at,
        stopped_by=stopper.name if stopper is not None else None,
        finished_at=run.heartbeat_at if stale else run.finished_at,
        cases_total=run.cases_total,
        cases_checked=run.cases_checked,
        events_checked=run.events_checked,
        problem_count=run.problem_count,
        problems=[
            ProblemLine(p.case_number, p.seq, problem_text(p)) for p in map(_problem, run.problems)
        ],
        anchored=run.anchored,
        anchors=run.anchors,
        last_anchor_day=run.last_anchor_day,
    )


def _problem(kept: dict[str, object]) -> ChainProblem:
    return ChainProblem(str(kept["case_number"]), _seq(kept["seq"]), str(kept["problem"]))


def _seq(value: object) -> int | None:
    return value if isinstance(value, int) else None
