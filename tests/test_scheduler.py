"""The scheduler is a clock only: a sweep every minute (and at once on start), the agenda at
09:00 Shanghai, no job per case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.clock import FrozenClock, SystemClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.scheduler import create_scheduler
from models.calendar import SHANGHAI, WorkCalendar
from tests.casework import make_staff, outbox, report, sh, until


def test_the_jobs_are_the_sweep_every_minute_the_agenda_at_nine_and_the_hourly_prune(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    scheduler = create_scheduler(
        sessions=sessions, config=config, clock=FrozenClock(sh(2026, 11, 27, 14))
    )
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert sorted(jobs) == [
        "agenda",
        "console-session-purge",
        "deadline-sweep",
        "overdue-notice",
        "reports",
        "retention-purge",
        "update-prune",
        "web-draft-purge",
    ]
    for hourly in ("update-prune", "web-draft-purge", "console-session-purge"):
        prune = jobs[hourly].trigger
        assert isinstance(prune, IntervalTrigger) and prune.interval == timedelta(hours=1)
    sweep = jobs["deadline-sweep"].trigger
    assert isinstance(sweep, IntervalTrigger) and sweep.interval == timedelta(minutes=1)
    agenda = jobs["agenda"].trigger
    assert isinstance(agenda, CronTrigger) and str(agenda.timezone) == "Asia/Shanghai"
    assert agenda.get_next_fire_time(None, sh(2026, 11, 27, 14)) == datetime(
        2026, 11, 28, 9, 0, tzinfo=SHANGHAI
    )
    retention = jobs["retention-purge"].trigger
    assert isinstance(retention, CronTrigger)
    assert retention.get_next_fire_time(None, sh(2026, 11, 27, 14)) == datetime(
        2026, 11, 28, 3, 30, tzinfo=SHANGHAI
    )


async def test_started_in_the_morning_the_agenda_runs_at_once_too(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    morning = sh(2026, 11, 27, 9, 40)
    afternoon = sh(2026, 11, 27, 14)
    for now, expected in (
        (morning, morning),
        (afternoon, datetime(2026, 11, 28, 9, tzinfo=SHANGHAI)),
    ):
        scheduler = create_scheduler(sessions=sessions, config=config, clock=FrozenClock(now))
        scheduler.start(paused=True)
        try:
            if now == afternoon:
                # the next 09:00 from the real clock is computed at start; only its time matters
                fire = scheduler.get_job("agenda").next_run_time
                assert fire.astimezone(SHANGHAI).time() == expected.time()
            else:
                assert scheduler.get_job("agenda").next_run_time == expected
            assert scheduler.get_job("deadline-sweep").next_run_time == now
        finally:
            scheduler.shutdown(wait=False)


async def test_a_started_scheduler_sweeps_at_once(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=20)
    async with sessions() as session:
        await make_staff(session, long_ago)
    await report(sessions, catalog, calendar, long_ago)
    scheduler = create_scheduler(sessions=sessions, config=catalog, clock=SystemClock())
    scheduler.start()
    try:

        async def swept() -> bool:
            return bool(await outbox(sessions, "accept_"))

        await until(swept, 90)  # only to stop a hang: a started scheduler sweeps at once
    finally:
        scheduler.shutdown(wait=False)
    kinds = {n.kind for n in await outbox(sessions, "accept_")}
    assert "accept_overdue" in kinds
