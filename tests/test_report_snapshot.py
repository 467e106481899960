"""The report reads one snapshot: a case received while its statements run is in none of them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

import reports.figures
from bot.config import LiankaConfig
from bot.db import SessionFactory, create_engine, create_session_factory
from bot.services.console_reports import ConsoleReport, ReportQuery, build_console_report
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.services.reports import send_month_report, send_periodic_report
from models.calendar import WorkCalendar
from models.intake import CaseDraft
from models.notification import Notification
from models.org import Track
from models.reporter import Reporter
from models.team import Inspector, Role
from reports.figures import resolve_scope
from reports.report import build_report, snapshot
from tests.report_history import NOW, OCTOBER, REFUND, at, build_history, read_report

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("catalog")]


async def test_a_case_received_while_the_report_is_read_is_not_listed_without_its_deadlines(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The month's case ids are read once and its clocks in later statements: a case committed
    in between (received in October, its 签收 clock with it) was listed among October's cases
    with no deadline, one more than the figures counted. Read from one snapshot it is in none."""
    reporters = await build_history(sessions, catalog, calendar)
    cohort_ids = reports.figures._cohort_ids
    received: list[str] = []

    async def ids_then_a_new_case(*args: Any) -> Any:
        found = await cohort_ids(*args)
        if not received:
            async with sessions() as other:
                reporter = await other.get(Reporter, reporters["E3"].id)
                assert reporter is not None
                submitted = await submit_case(
                    other,
                    reporter,
                    CaseDraft(category_code="business_env", description=REFUND, anonymous=True),
                    policy=Policy(catalog, calendar),
                    now=at("10-30 10:00"),
                )
                received.append(submitted.case.number)
        return found

    monkeypatch.setattr(reports.figures, "_cohort_ids", ids_then_a_new_case)
    report = await read_report(sessions, catalog, calendar)
    assert received  # the case was committed while the report was being read
    assert report.cases is not None
    listed = [line.number for line in report.cases]
    assert received[0] not in listed
    clues = sum(s.count for s in report.figures.by_track if s.name == Track.CLUE.label)
    assert len(listed) + clues == report.figures.received == 7  # appeals listed, clues counted
    assert sum(share.count for share in report.figures.by_category) == 7
    monkeypatch.undo()
    async with sessions() as session:  # the next report has it, with its deadline
        again = await build_report(
            session,
            config=catalog,
            calendar=calendar,
            period=OCTOBER,
            scope=await resolve_scope(session),
            now=NOW,
        )
    assert again.cases is not None and again.figures.received == 8
    (line,) = [line for line in again.cases if line.number == received[0]]
    assert line.due_at is not None


async def test_the_report_reads_in_a_read_only_repeatable_read_transaction(
    sessions: SessionFactory,
) -> None:
    async with sessions() as session, snapshot(session) as reading:
        connection = await reading.connection()
        if connection.dialect.name == "postgresql":
            shown = [
                (await connection.exec_driver_sql(f"SHOW {name}")).scalar()
                for name in ("transaction_isolation", "transaction_read_only")
            ]
            assert shown == ["repeatable read", "on"]
        else:
            raw = await connection.get_raw_connection()
            assert raw.driver_connection is not None
            assert raw.driver_connection._conn.in_transaction  # BEGIN sent: one read snapshot


async def test_reports_asked_for_at_once_by_more_people_than_the_pool_has_connections_all_arrive(
    sessions: SessionFactory,
    schema: str,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    tmp_path: Path,
) -> None:
    """Each report reads on a connection of its own: a caller still holding the one it read
    the leader or the form with, while waiting for the report's, held half the pool — enough
    leaders and console users at once (the 1st of the month) and all of them waited for each
    other until the pool gave up. With a pool of one connection, three at once all arrive."""
    await build_history(sessions, catalog, calendar)
    async with sessions() as session:
        leader = (await session.exec(select(Inspector).where(Inspector.role == Role.LEADER))).one()
    assert leader.telegram_user_id is not None
    policy = Policy(catalog, calendar)
    # A wait for the one connection that never ends (the old deadlock) still fails at 60 s; a
    # report rendered slowly on a busy machine while the others wait for it does not.
    engine = create_engine(schema, pool_size=1, max_overflow=0, pool_timeout=60)
    one_connection = create_session_factory(engine)

    async def asked_in_telegram() -> None:
        async with one_connection() as session:
            await send_month_report(
                session,
                leader.telegram_user_id or 0,
                policy=policy,
                now=NOW,
                chat_id=leader.telegram_user_id or 0,
                request_id=1,
                out_dir=tmp_path,
            )

    async def opened_in_the_console() -> ConsoleReport:
        async with one_connection() as session:
            return await build_console_report(
                session, leader, ReportQuery(), policy=policy, now=NOW
            )

    try:
        _, on_the_page, queued = await asyncio.gather(
            asked_in_telegram(),
            opened_in_the_console(),
            send_periodic_report(
                one_connection, policy=policy, now=NOW, period=OCTOBER, out_dir=tmp_path
            ),
        )
    finally:
        await engine.dispose()
    assert on_the_page.report is not None and on_the_page.report.figures.received == 7
    assert queued == len(catalog.reports.files)
    async with sessions() as session:
        kinds = await session.exec(select(Notification.key).where(Notification.kind == "report"))
        assert len(kinds.all()) == queued + 1  # the month so far, as a PDF, and October's files
