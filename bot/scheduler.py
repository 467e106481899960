"""The clock of ``lianka run``: APScheduler's AsyncIOScheduler (Asia/Shanghai) firing a few
jobs; the database holds every deadline, so there is no job per case and no job store.

The outbox is drained by a long-running ``Sender.run`` task started beside the scheduler rather
than by a job: its pace (the next allowed send per chat and overall) must carry over from one
drain to the next, new rows go out within a second instead of at the next tick, and a long drain
after an outage would otherwise collide with the job's own next run (``max_instances``).
"""

from __future__ import annotations

import logging
import time as time_module
from collections.abc import Awaitable, Callable
from datetime import time, timedelta
from pathlib import Path
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.blobs import BlobStore, purge_orphan_blobs
from bot.clock import Clock, SystemClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.metrics import Metrics
from bot.services.agenda import send_agenda
from bot.services.anchors import write_anchor
from bot.services.calendar import load_calendar
from bot.services.console_sessions import purge_sessions
from bot.services.policy import Policy
from bot.services.reports import DEFAULT_OUT_DIR, send_due_reports
from bot.services.retention import purge
from bot.services.supervision import send_overdue_notice
from bot.services.sweep import CLAIM_LIMIT, DIGEST_HOLD, sweep_deadlines
from bot.services.sweep_digest import Digests
from bot.services.updates import prune_processed_updates
from bot.services.web_intake import purge_expired_web_drafts
from models.calendar import SHANGHAI
from notifications.page_notices import ReporterMessenger, relay_web_notices

logger = logging.getLogger(__name__)

AGENDA_AT = time(9, 0)
AGENDA_CATCH_UP_UNTIL = time(12, 0)
RETENTION_PURGE_AT = time(3, 30)
REPORTS_CATCH_UP_AFTER = timedelta(minutes=5)
"""Started in the morning, the reports due today go out once the process has settled."""


SWEEP_ROUNDS_FOR = 30.0
"""Seconds a deadline-sweep run goes on sweeping again while each sweep claims all it may
(``CLAIM_LIMIT``). On a province's first working day after 春节 tens of thousands of clocks fall
due at 09:00 (the README's capacity plan): one sweep a minute of 5,000 took some ten minutes
for them on one instance, where the work is a few seconds (``sweep_ms_1m_10k``: 10,000 in
1.7–5.3 s on the 2-core development machines). Each sweep stays 5,000 at most, planned 500 at
a time; the run stops well within its minute, and the next run goes on. A busy person gets one
digest for the run (``Digests`` shared by its sweeps), not one a sweep seconds apart."""


async def run_deadline_sweep(
    sessions: SessionFactory,
    config: LiankaConfig,
    clock: Clock,
    metrics: Metrics | None = None,
    *,
    limit: int = CLAIM_LIMIT,
    rounds_for: float = SWEEP_ROUNDS_FOR,
) -> int:
    """Every minute: warnings, overdue notices, escalations and follow-ups that are due, in
    sweeps of ``limit`` clocks, one after the other while a sweep finds ``limit`` due, fails on
    none of them (one skipped, its case changed meanwhile, is no failure) and ``rounds_for``
    seconds have not passed; a busy person's notices of them all in one digest, sent when the
    run is done. Returns the sweeps run. The calendar is read afresh, so a year loaded by
    ``lianka calendar load`` counts at once."""
    started = time_module.perf_counter()
    async with sessions() as session:
        calendar = await load_calendar(session, config)
    sweeps = 0
    digests = Digests.held_from(clock.now(), DIGEST_HOLD)  # one a busy person, for the run
    try:
        while True:
            report = await sweep_deadlines(
                sessions, config, calendar, clock.now(), limit=limit, digests=digests
            )
            sweeps += 1
            if (
                report.claimed < limit
                or report.failed  # a clock it could not act on: the next minute's run
                or time_module.perf_counter() - started >= rounds_for
            ):
                break
    finally:
        try:
            await digests.release_in(sessions)
        except Exception:
            logger.warning(
                "deadline sweep: digests not released; sent once their hold ends", exc_info=True
            )
    if sweeps > 1:
        logger.info("deadline sweep: %s sweeps of up to %s clocks in one run", sweeps, limit)
    if metrics is not None:
        metrics.sweep_seconds.observe(time_module.perf_counter() - started)
    return sweeps


async def run_agenda(
    sessions: SessionFactory, config: LiankaConfig, clock: Clock, metrics: Metrics | None = None
) -> None:
    """09:00 on working days (make-up weekend days included): the morning agenda."""
    async with sessions() as session:
        calendar = await load_calendar(session, config)
        report = await send_agenda(session, calendar, clock.now())
    if report.sent:
        logger.info("agenda of %s sent to %s people", report.day, len(report.sent))


async def run_reports(
    sessions: SessionFactory, config: LiankaConfig, clock: Clock, report_dir: Path
) -> None:
    """09:00: last week's analysis report on Mondays; last month's, quarter's and half-year's on
    the first working day after them, to every leader through the outbox (each once per period,
    file and leader)."""
    now = clock.now()
    async with sessions() as session:
        calendar = await load_calendar(session, config)
    await send_due_reports(sessions, policy=Policy(config, calendar), now=now, out_dir=report_dir)


async def run_overdue_notice(sessions: SessionFactory, config: LiankaConfig, clock: Clock) -> None:
    """09:00 on the configured weekday: the 超期通报 of overdue cases to the leaders (each
    leader once per week whatever runs it)."""
    async with sessions() as session:
        calendar = await load_calendar(session, config)
        told = await send_overdue_notice(session, calendar, clock.now())
    if told:
        logger.info("overdue notice sent to %s leaders", len(told))


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


async def run_update_prune(sessions: SessionFactory, clock: Clock) -> None:
    """Hourly: forget the handled updates Telegram can no longer deliver again."""
    pruned = await prune_processed_updates(sessions, clock.now())
    if pruned:
        logger.info("forgot %s handled updates", pruned)


async def run_web_draft_purge(sessions: SessionFactory, clock: Clock) -> None:
    """Hourly: delete the web reports left unfinished for seven days, and the rate counters
    of windows that have passed."""
    purged = await purge_expired_web_drafts(sessions, clock.now())
    if purged:
        logger.info("deleted %s expired web drafts", purged)


async def run_console_session_purge(sessions: SessionFactory, clock: Clock) -> None:
    """Hourly: delete console sessions idle for 30 minutes or 12 hours old."""
    async with sessions() as session:
        purged = await purge_sessions(session, clock.now())
    if purged:
        logger.info("deleted %s expired console sessions", purged)


async def run_retention_purge(sessions: SessionFactory, config: LiankaConfig, clock: Clock) -> None:
    """03:30 daily: remove the drafts, notice texts, contacts and receipt codes kept past
    ``[retention]`` (``lianka purge`` does it by hand)."""
    async with sessions() as session:
        await purge(session, config, clock.now())


async def run_audit_anchor(sessions: SessionFactory, clock: Clock, anchor_file: Path) -> None:
    """Hourly: the day's audit anchor, when the anchor file has none of today yet."""
    async with sessions() as session:
        anchor = await write_anchor(session, anchor_file, clock.now(), daily=True)
    if anchor is not None:
        logger.info("audit anchor of %s written (%s cases)", anchor.day, anchor.cases)


async def run_blob_purge(sessions: SessionFactory, blobs: BlobStore, clock: Clock) -> None:
    """Hourly: remove the web uploads nothing references (an upload cut off, a file deleted
    from a draft, a draft expired) a day after they were last put."""
    purge = await purge_orphan_blobs(blobs, sessions, now=clock.now())
    if purge.removed:
        logger.info("removed %s blobs nothing referenced", purge.removed)


async def run_web_notice_relay(
    sessions: SessionFactory, messenger: ReporterMessenger, clock: Clock
) -> None:
    """Every 30 s, given a messenger: web reporters' new notices handed to it, each once."""
    told = await relay_web_notices(sessions, messenger, now=clock.now())
    if told:
        logger.info("handed %s web notices to the messenger", told)


def create_scheduler(
    *,
    sessions: SessionFactory,
    config: LiankaConfig,
    clock: Clock | None = None,
    metrics: Metrics | None = None,
    report_dir: Path = DEFAULT_OUT_DIR,
    blobs: BlobStore | None = None,
    messenger: ReporterMessenger | None = None,
    anchor_file: Path | None = None,
) -> AsyncIOScheduler:
    """The sweep every minute (first run at once: a process that was down catches up on start),
    the agenda at 09:00 Shanghai (at once too when started between 09:00 and 12:00; the agenda is
    sent once per day whatever runs it) and the analysis reports at 09:00 (5 minutes after a
    start between 09:00 and 12:00; each goes to each leader once whatever runs it), and every
    hour (first at once) the handled updates older than three days are forgotten, the web
    drafts untouched for seven days deleted and, given the web channel's ``blobs``, the uploads
    nothing references removed a day after their last put."""
    clock = clock or SystemClock()
    scheduler = AsyncIOScheduler(timezone=SHANGHAI)
    now = clock.now()
    arguments = (sessions, config, clock, metrics)
    scheduler.add_job(
        run_deadline_sweep,
        IntervalTrigger(minutes=1, timezone=SHANGHAI),
        args=arguments,
        id="deadline-sweep",
        name="deadline sweep",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=30,
        next_run_time=now,
    )
    hourly: list[tuple[Callable[..., Awaitable[Any]], tuple[Any, ...], str, str]] = [
        (run_update_prune, (sessions, clock), "update-prune", "forget old handled updates"),
        (
            run_web_draft_purge,
            (sessions, clock),
            "web-draft-purge",
            "delete expired web drafts and rate counters",
        ),
        (
            run_console_session_purge,
            (sessions, clock),
            "console-session-purge",
            "delete expired console sessions",
        ),
    ]
    if anchor_file is not None:
        hourly.append(
            (run_audit_anchor, (sessions, clock, anchor_file), "audit-anchor", "daily audit anchor")
        )
    if blobs is not None:
        hourly.append(
            (
                run_blob_purge,
                (sessions, blobs, clock),
                "blob-purge",
                "remove web uploads nothing references",
            )
        )
    if messenger is not None:  # a text-message gateway for web reporters, where there is one
        scheduler.add_job(
            run_web_notice_relay,
            IntervalTrigger(seconds=30, timezone=SHANGHAI),
            args=(sessions, messenger, clock),
            id="web-notices",
            name="hand web reporters' notices to the messenger",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=30,
            next_run_time=now,
        )
    for job, args, job_id, name in hourly:
        scheduler.add_job(
            job,
            IntervalTrigger(hours=1, timezone=SHANGHAI),
            args=args,
            id=job_id,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=600,
            next_run_time=now,
        )
    scheduler.add_job(
        run_retention_purge,
        CronTrigger(
            hour=RETENTION_PURGE_AT.hour, minute=RETENTION_PURGE_AT.minute, timezone=SHANGHAI
        ),
        args=(sessions, config, clock),
        id="retention-purge",
        name="remove personal data kept past [retention]",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    local = now.astimezone(SHANGHAI).time()
    scheduler.add_job(
        run_agenda,
        CronTrigger(hour=AGENDA_AT.hour, minute=AGENDA_AT.minute, timezone=SHANGHAI),
        args=arguments,
        id="agenda",
        name="morning agenda",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
        **({"next_run_time": now} if AGENDA_AT <= local < AGENDA_CATCH_UP_UNTIL else {}),
    )
    if config.supervision.overdue_notice:
        scheduler.add_job(
            run_overdue_notice,
            CronTrigger(
                day_of_week=WEEKDAYS[config.supervision.notice_weekday - 1],
                hour=AGENDA_AT.hour,
                minute=AGENDA_AT.minute,
                timezone=SHANGHAI,
            ),
            args=(sessions, config, clock),
            id="overdue-notice",
            name="weekly overdue notice (超期通报) to the leaders",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
        )
    if config.reports.scheduled:
        scheduler.add_job(
            run_reports,
            CronTrigger(hour=AGENDA_AT.hour, minute=AGENDA_AT.minute, timezone=SHANGHAI),
            args=(sessions, config, clock, report_dir),
            id="reports",
            name="analysis reports to the leaders",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=3600,
            **(
                {"next_run_time": now + REPORTS_CATCH_UP_AFTER}
                if AGENDA_AT <= local < AGENDA_CATCH_UP_UNTIL
                else {}
            ),
        )
    return scheduler
