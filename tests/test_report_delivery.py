"""Leaders get the report: on schedule through the outbox, once per period, and with /report,
through the outbox too, so a failed upload is tried again."""

from __future__ import annotations

import asyncio
import io
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from docx import Document
from sqlalchemy import update
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.services.policy import Policy
from bot.services.reports import send_due_reports, send_month_report, send_periodic_report
from bot.settings import Settings
from handlers.errors import UNEXPECTED
from models.calendar import WorkCalendar
from models.document import StoredDocument
from models.errors import PermissionDenied
from models.notification import Notification, NotificationStatus, SendMethod
from models.team import Inspector, Role
from notifications.render import telegram_html
from notifications.sender import RetryPolicy, Sender
from reports.periods import last_month
from sandbox import Emulator, FaultPlan
from tests.casework import until
from tests.factories import make_inspector
from tests.harness import Telegram
from tests.live import BOT_TOKEN
from tests.report_history import NOW, build_history

pytestmark = [pytest.mark.slow, pytest.mark.both_databases]

REPORT_SENT = "本月分析研判报告已生成，正在发送，请稍候。"
THIS_MONTHS_PDF = "lianka-report-month-20261101-20261126.pdf"


def names(folder: Path) -> list[str]:
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


async def test_each_leader_gets_the_monthly_pdf_and_word_file_once_through_the_outbox(
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
        sessions,
        policy=Policy(catalog, calendar),
        now=on_the_first_workday,
        period=period,
        out_dir=tmp_path,
    )
    again = await send_periodic_report(
        sessions,
        policy=Policy(catalog, calendar),
        now=on_the_first_workday,
        period=period,
        out_dir=tmp_path,
    )
    assert (queued, again) == (4, 0)
    async with sessions() as session:
        rows = (await session.exec(select(Notification).where(Notification.kind == "report"))).all()
        first = (
            await session.exec(select(Inspector).where(Inspector.telegram_user_id == 800_011))
        ).one()
    assert sorted(r.chat_id or 0 for r in rows) == [800_011, 800_011, 880_001, 880_001]
    assert sorted(r.key for r in rows) == [
        f"-:report:month-2026-10-docx:i{first.id}",
        f"-:report:month-2026-10-docx:i{second.id}",
        f"-:report:month-2026-10:i{first.id}",
        f"-:report:month-2026-10:i{second.id}",
    ]
    assert all(r.method is SendMethod.DOCUMENT for r in rows)
    # One copy of each file, in the database, so any instance's sender can deliver every row.
    assert len({r.document_id for r in rows}) == 2
    async with sessions() as session:
        documents = {
            d.filename: d
            for d in [await session.get(StoredDocument, r.document_id) for r in rows]
            if d is not None
        }
    pdf = documents["lianka-report-month-2026-10.pdf"]
    assert pdf.content.startswith(b"%PDF") and pdf.size == len(pdf.content)
    word = documents["lianka-report-month-2026-10.docx"]
    assert word.content.startswith(b"PK")  # a DOCX is a zip
    headings = [
        p.text
        for p in Document(io.BytesIO(word.content)).paragraphs
        if p.style is not None and p.style.name == "Heading 1"
    ]
    assert headings[0] == "一、总体情况" and len(headings) == 6
    assert "受理企业反映问题 7 件，已办结 4 件" in telegram_html(rows[0])
    assert "2026年10月" in telegram_html(rows[0])


async def test_reports_go_out_on_mondays_and_the_first_working_day_only(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    async with sessions() as session:
        await make_inspector(
            session, NOW, team_code=None, role=Role.LEADER, telegram_user_id=880_010
        )

    async def sent_on(day: date) -> int:
        moment = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
        return await send_due_reports(
            sessions, policy=Policy(catalog, calendar), now=moment, out_dir=tmp_path
        )

    assert await sent_on(date(2026, 10, 1)) == 0  # 国庆: not a working day, not a Monday
    assert await sent_on(date(2026, 10, 5)) == 2  # a Monday in the holiday: the weekly report
    # the first working day of October: September's and the third quarter's
    assert await sent_on(date(2026, 10, 8)) == 4
    assert await sent_on(date(2026, 10, 9)) == 0
    async with sessions() as session:
        keys = sorted((await session.exec(select(Notification.key))).all())
    assert keys == [
        "-:report:month-2026-09-docx:i1",
        "-:report:month-2026-09:i1",
        "-:report:quarter-2026-q3-docx:i1",
        "-:report:quarter-2026-q3:i1",
        "-:report:week-2026-w40-docx:i1",
        "-:report:week-2026-w40:i1",
    ]


async def history_delivered(sessions: SessionFactory) -> None:
    """What the history queued went out long ago: the outbox holds only what a test adds."""
    async with sessions() as session:
        await session.exec(update(Notification).values(status=NotificationStatus.SENT))
        await session.commit()


def leaders_telegram(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> Telegram:
    return Telegram.create(
        create_dispatcher(
            settings=Settings(var_dir=tmp_path / "var"),
            config=catalog,
            sessions=sessions,
            calendar=calendar,
            clock=FrozenClock(NOW),
        )
    )


async def test_a_leader_gets_this_months_report_with_slash_report(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    await build_history(sessions, catalog, calendar)
    await history_delivered(sessions)
    telegram = leaders_telegram(sessions, catalog, calendar, tmp_path)
    leader = telegram.user(first_name="张琪", user_id=800_011)
    await leader.send("/report")
    assert leader.replies == [REPORT_SENT]
    assert await Sender(sessions, telegram.bot, clock=FrozenClock(NOW)).drain() == 1
    sent = telegram.in_chat(leader.id)[-1]
    assert sent.method == "sendDocument"
    assert sent.document.filename == THIS_MONTHS_PDF
    assert "2026年11月" in sent.text and "详见附件" in sent.text
    assert names(tmp_path / "var" / "reports") == [sent.document.filename]
    async with sessions() as session:
        (row,) = (
            await session.exec(select(Notification).where(Notification.kind == "report"))
        ).all()
    assert row.key.startswith("-:report:asked-800011-")


async def test_a_leaders_report_gets_through_a_proxy_failing_the_upload_a_few_times(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    tmp_path: Path,
    emulator: Emulator,
) -> None:
    await build_history(sessions, catalog, calendar)
    await history_delivered(sessions)
    telegram = leaders_telegram(sessions, catalog, calendar, tmp_path)
    leader = telegram.user(first_name="张琪", user_id=800_011)
    await leader.send("/report")
    assert leader.replies == [REPORT_SENT]

    in_telegram = emulator.add_user(800_011, "张琪")
    in_telegram.chat.started = True
    # seed 9: the proxy's 502 page for the first three uploads, then Telegram
    emulator.faults = FaultPlan(error_html=0.5, seed=9, methods=frozenset({"sendDocument"}))
    bot = Bot(BOT_TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url)))
    sender = Sender(sessions, bot, retry=RetryPolicy(base=0.01, cap=0.05), idle_interval=0.05)
    stop = asyncio.Event()
    sending = asyncio.create_task(sender.run(stop))

    async def sent() -> bool:
        async with sessions() as session:
            row = (
                await session.exec(select(Notification).where(Notification.kind == "report"))
            ).one()
        return row.status is NotificationStatus.SENT

    try:
        await until(sent)
    finally:
        stop.set()
        await sending
        await bot.session.close()
    (document,) = in_telegram.replies
    assert document.content["document"]["file_name"] == THIS_MONTHS_PDF
    assert "2026年11月" in document.text
    assert (emulator.stats.injected["html"], emulator.stats.calls["sendDocument"]) == (3, 4)
    assert UNEXPECTED not in leader.replies


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
            await send_month_report(
                session,
                880_021,
                policy=Policy(catalog, calendar),
                now=NOW,
                chat_id=880_021,
                request_id=1,
                out_dir=tmp_path,
            )


async def test_the_reports_run_at_nine_unless_all_are_switched_off(
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
    quiet = config.model_copy(
        update={
            "reports": ReportsConfig(
                weekly=False, monthly=False, quarterly=False, half_yearly=False
            )
        }
    )
    assert (
        create_scheduler(sessions=sessions, config=quiet, clock=FrozenClock(monday)).get_job(
            "reports"
        )
        is None
    )


async def report_keys(sessions: SessionFactory) -> list[str]:
    async with sessions() as session:
        rows = (await session.exec(select(Notification).where(Notification.kind == "report"))).all()
    return sorted(row.key.split(":")[2] for row in rows)


async def test_quarter_and_half_year_reports_go_out_on_the_first_working_day_after_them(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    from bot.scheduler import run_reports

    async with sessions() as session:
        await make_inspector(
            session, NOW, team_code=None, role=Role.LEADER, telegram_user_id=880_030
        )
    june_30 = datetime(2026, 6, 30, 1, 0, tzinfo=UTC)  # Tuesday 09:00
    await run_reports(sessions, catalog, FrozenClock(june_30), tmp_path)
    assert await report_keys(sessions) == []
    july_1 = datetime(2026, 7, 1, 1, 0, tzinfo=UTC)  # Wednesday 09:00, July's first working day
    await run_reports(sessions, catalog, FrozenClock(july_1), tmp_path)
    await run_reports(sessions, catalog, FrozenClock(july_1), tmp_path)  # a re-run: nothing new
    assert await report_keys(sessions) == [
        "half-2026-h1",
        "half-2026-h1-docx",
        "month-2026-06",
        "month-2026-06-docx",
        "quarter-2026-q2",
        "quarter-2026-q2-docx",
    ]
    assert "lianka-report-half-2026-h1.docx" in names(tmp_path)
    async with sessions() as session:
        half = (
            await session.exec(
                select(Notification).where(
                    col(Notification.key).startswith("-:report:half-2026-h1:")
                )
            )
        ).one()
    assert "2026年上半年" in telegram_html(half)


async def test_quarter_and_half_year_reports_can_be_switched_off(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    from bot.scheduler import run_reports

    async with sessions() as session:
        await make_inspector(
            session, NOW, team_code=None, role=Role.LEADER, telegram_user_id=880_031
        )
    only_monthly = catalog.model_copy(
        update={
            "reports": catalog.reports.model_copy(
                update={"quarterly": False, "half_yearly": False, "files": ("pdf",)}
            )
        }
    )
    # Sunday 4 January 2026: a make-up working day after 元旦, January's first working day
    make_up_sunday = datetime(2026, 1, 4, 1, 0, tzinfo=UTC)
    await run_reports(sessions, only_monthly, FrozenClock(make_up_sunday), tmp_path)
    assert await report_keys(sessions) == ["month-2025-12"]
    await run_reports(sessions, catalog, FrozenClock(make_up_sunday), tmp_path)
    assert await report_keys(sessions) == [
        "half-2025-h2",
        "half-2025-h2-docx",
        "month-2025-12",
        "month-2025-12-docx",
        "quarter-2025-q4",
        "quarter-2025-q4-docx",
    ]
