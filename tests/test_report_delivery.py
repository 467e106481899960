"""Leaders get the report: on schedule through the outbox, once per period, and with /report."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.services.reports import get_month_report, send_due_reports, send_periodic_report
from bot.settings import Settings
from models.calendar import WorkCalendar
from models.document import StoredDocument
from models.errors import PermissionDenied
from models.notification import Notification, SendMethod
from models.team import Inspector, Role
from reports.periods import last_month
from tests.factories import make_inspector
from tests.harness import Telegram
from tests.report_history import NOW, build_history


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


async def test_each_leader_gets_the_monthly_pdf_once_through_the_outbox(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    await build_history(sessions, catalog, calendar)
    async with sessions() as session:
        second = await make_inspector(
            session, NOW, team_code=None, role=Role.LEADER, name="李书记", telegram_user_id=880_001
        )
        await make_inspector(
            session,
            NOW,
            team_code=None,
            role=Role.LEADER,
            name="已离任",
            telegram_user_id=880_002,
            active=False,
        )
    on_the_first_workday = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Monday 2 Nov, 09:00
    period = last_month(on_the_first_workday)
    queued = await send_periodic_report(
        sessions, catalog, calendar, on_the_first_workday, period, out_dir=tmp_path
    )
    again = await send_periodic_report(
        sessions, catalog, calendar, on_the_first_workday, period, out_dir=tmp_path
    )
    assert (queued, again) == (2, 0)
    async with sessions() as session:
        rows = (await session.exec(select(Notification).where(Notification.kind == "report"))).all()
        first = (
            await session.exec(select(Inspector).where(Inspector.telegram_user_id == 800_011))
        ).one()
    assert sorted(r.chat_id or 0 for r in rows) == [800_011, 880_001]
    assert sorted(r.key for r in rows) == [
        f"-:report:month-2026-10:i{first.id}",
        f"-:report:month-2026-10:i{second.id}",
    ]
    assert all(r.method is SendMethod.DOCUMENT for r in rows)
    # One copy of the PDF, in the database, so any instance's sender can deliver both rows.
    assert len({r.document_id for r in rows}) == 1
    async with sessions() as session:
        document = await session.get(StoredDocument, rows[0].document_id)
    assert document is not None
    assert document.filename == "lianka-report-month-2026-10.pdf"
    assert document.content.startswith(b"%PDF") and document.size == len(document.content)
    assert "受理企业反映问题 7 件，已办结 4 件" in rows[0].text
    assert "2026年10月" in rows[0].text


async def test_reports_go_out_on_mondays_and_the_first_working_day_only(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    async with sessions() as session:
        await make_inspector(
            session, NOW, team_code=None, role=Role.LEADER, telegram_user_id=880_010
        )

    async def sent_on(day: date) -> int:
        moment = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
        return await send_due_reports(sessions, catalog, calendar, moment, out_dir=tmp_path)

    assert await sent_on(date(2026, 10, 1)) == 0  # 国庆: not a working day, not a Monday
    assert await sent_on(date(2026, 10, 5)) == 1  # a Monday in the holiday: the weekly report
    assert await sent_on(date(2026, 10, 8)) == 1  # the first working day of October: September's
    assert await sent_on(date(2026, 10, 9)) == 0
    async with sessions() as session:
        keys = sorted((await session.exec(select(Notification.key))).all())
    assert keys == ["-:report:month-2026-09:i1", "-:report:week-2026-w40:i1"]


async def test_a_leader_gets_this_months_report_with_slash_report(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    await build_history(sessions, catalog, calendar)
    dispatcher = create_dispatcher(
        settings=Settings(var_dir=tmp_path / "var"),
        config=catalog,
        sessions=sessions,
        calendar=calendar,
        clock=FrozenClock(NOW),
    )
    telegram = Telegram.create(dispatcher)
    leader = telegram.user(first_name="张琪", user_id=800_011)
    await leader.send("/report")
    (sent,) = telegram.in_chat(leader.id)
    assert sent.method == "sendDocument"
    assert sent.document.filename == "lianka-report-month-20261101-20261126.pdf"
    assert "2026年11月" in sent.text and "详见附件" in sent.text
    assert names(tmp_path / "var" / "reports") == [sent.document.filename]


async def test_for_anyone_but_a_leader_slash_report_is_still_reporting_a_problem(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    async with sessions() as session:
        await make_inspector(session, NOW, team_code="business_env", telegram_user_id=880_020)
        await make_inspector(
            session, NOW, team_code=None, role=Role.LEADER, telegram_user_id=880_021, active=False
        )
    dispatcher = create_dispatcher(
        settings=Settings(var_dir=tmp_path / "var"),
        config=catalog,
        sessions=sessions,
        calendar=calendar,
        clock=FrozenClock(NOW),
    )
    telegram = Telegram.create(dispatcher)
    for user in (telegram.user(user_id=880_020), telegram.user(user_id=880_021), telegram.user()):
        await user.send("/report")
        assert "sendDocument" not in [s.method for s in telegram.in_chat(user.id)]
        assert "分析研判" not in user.last
    assert names(tmp_path / "var") == []
    async with sessions() as session:
        with pytest.raises(PermissionDenied):
            await get_month_report(session, 880_021, catalog, calendar, NOW, out_dir=tmp_path)


async def test_the_reports_run_at_nine_unless_both_are_switched_off(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    from apscheduler.triggers.cron import CronTrigger

    from bot.config import ReportsConfig
    from bot.scheduler import create_scheduler
    from models.calendar import SHANGHAI

    monday = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
    job = create_scheduler(sessions=sessions, config=config, clock=FrozenClock(monday)).get_job(
        "reports"
    )
    assert job is not None and isinstance(job.trigger, CronTrigger)
    assert job.trigger.get_next_fire_time(None, monday) == datetime(
        2026, 12, 1, 9, 0, tzinfo=SHANGHAI
    )
    morning = datetime(2026, 11, 30, 1, 40, tzinfo=UTC)  # 09:40: started after the hour
    scheduler = create_scheduler(sessions=sessions, config=config, clock=FrozenClock(morning))
    scheduler.start(paused=True)
    try:
        assert scheduler.get_job("reports").next_run_time == morning + timedelta(minutes=5)
    finally:
        scheduler.shutdown(wait=False)
    quiet = config.model_copy(update={"reports": ReportsConfig(weekly=False, monthly=False)})
    assert (
        create_scheduler(sessions=sessions, config=quiet, clock=FrozenClock(monday)).get_job(
            "reports"
        )
        is None
    )
