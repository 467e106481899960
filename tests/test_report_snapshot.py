"""The report reads one snapshot: a case received while its statements run is in none of them."""

from __future__ import annotations

from typing import Any

import pytest

import reports.figures
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.intake import submit_case
from bot.services.policy import Policy
from models.calendar import WorkCalendar
from models.intake import CaseDraft
from models.reporter import Reporter
from reports.figures import resolve_scope
from reports.report import build_report, snapshot
from tests.report_history import NOW, OCTOBER, REFUND, at, build_history

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
    async with sessions() as session:
        report = await build_report(
            session,
            config=catalog,
            calendar=calendar,
            period=OCTOBER,
            scope=await resolve_scope(session),
            now=NOW,
        )
    assert received  # the case was committed while the report was being read
    assert report.cases is not None
    listed = [line.number for line in report.cases]
    assert received[0] not in listed
    assert len(listed) == report.figures.received == 7
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
