"""``lianka demo-data``: a realistic history, the same rows in bulk as through the use cases."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, col, select

import demo.bulk
from bot.config import LiankaConfig
from bot.db import SessionFactory, create_engine, create_session_factory
from bot.services.audit import verify_audit
from bot.services.intake import submit_case
from bot.services.policy import Policy
from demo import NotEmpty, generate_demo
from demo.plan import make_uscc
from models import keys
from models.calendar import WorkCalendar
from models.case import WORKING_STATUSES, Case, CaseStatus, Outcome, reporter_context
from models.clock import CaseClock, ClockKind
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from models.enterprise import Enterprise, is_valid_uscc
from models.event import CaseEvent, EventKind, verify_chain
from models.intake import CaseDraft
from models.notification import Notification, NotificationStatus
from models.org import Track
from models.rectification import Rectification, RectificationState
from models.reporter import Reporter, contact_context
from reports.figures import resolve_scope
from reports.periods import custom, last_month
from reports.report import build_report

pytestmark = pytest.mark.both_databases

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
TABLES = (
    "cases",
    "case_events",
    "case_clocks",
    "approval_requests",
    "clue_dispositions",
    "rectifications",
    "notifications",
    "inspectors",
    "case_counters",
    "card_scans",
    "cards",
    "enterprises",
    "reporters",
    "reporter_contacts",
)
KEYED = {"cases", "inspectors", "cards", "enterprises", "reporters"}


async def _fresh(path: Path) -> tuple[Any, SessionFactory]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    return engine, create_session_factory(engine)


async def _dump(sessions: SessionFactory) -> dict[str, list[str]]:
    """Every row of every table, without surrogate ids of child rows, the optimistic-lock
    version, and the (random) receipt hash reduced to whether there is one."""
    tables: dict[str, list[str]] = {}
    async with sessions() as session:
        connection = await session.connection()
        for table in TABLES:
            rows = []
            for row in (await connection.execute(sa.text(f"SELECT * FROM {table}"))).mappings():
                values = dict(row)
                if table not in KEYED:
                    values.pop("id", None)
                values.pop("version", None)
                if "receipt_hash" in values:
                    values["receipt_hash"] = values["receipt_hash"] is not None
                _open_sealed(table, values)
                rows.append(repr(sorted(values.items())))
            tables[table] = sorted(rows)
    return tables


def _open_sealed(table: str, values: dict[str, Any]) -> None:
    """Sealed values differ each time (a fresh nonce): compared by what they open to."""
    ring = keys.current()
    if table == "reporter_contacts":
        for column in ("name", "phone"):
            context = contact_context(column, values["case_id"])
            values[column] = ring.open(values[column], context=context)
    if table == "cases" and values.get("reporter_ref") is not None:
        values["reporter_ref"] = ring.open(
            values["reporter_ref"], context=reporter_context(values["id"])
        )


@pytest.mark.slow
async def test_the_bulk_path_writes_exactly_the_rows_of_the_use_cases(
    tmp_path: Path, config: LiankaConfig, calendar: WorkCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    # batches of 16: each written while the next is worked out, later ones naming earlier cases
    monkeypatch.setattr(demo.bulk, "BATCH", 16)
    monkeypatch.setattr(demo.bulk, "YIELD_EVERY", 3)
    dumps = []
    for bulk in (False, True):
        engine, sessions = await _fresh(tmp_path / f"demo-{bulk}.db")
        summary = await generate_demo(
            sessions, config, calendar, NOW, cases=80, seed=11, months=3, bulk=bulk
        )
        dumps.append(await _dump(sessions))
        await engine.dispose()
    through_use_cases, in_bulk = dumps
    for table in TABLES:
        assert in_bulk[table] == through_use_cases[table], table
    assert len(in_bulk["case_events"]) > 6 * 80
    prompted = [row for row in in_bulk["cases"] if "('prompted_by_id', None)" not in row]
    assert summary.cases == 80 and prompted  # with the clue a 有 opened


async def _emptied(sessions: SessionFactory, path: Path) -> tuple[Any, SessionFactory]:
    """An empty database, its ids starting from 1: PostgreSQL's emptied, a new SQLite file."""
    engine = sessions.kw["bind"]
    if engine.dialect.name != "postgresql":
        return await _fresh(path)
    tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    return None, sessions


@pytest.mark.slow
async def test_batches_worked_out_by_several_processes_are_the_rows_of_one_process(
    sessions: SessionFactory,
    tmp_path: Path,
    config: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # batches of at most 16: five in one process, six of at most 14 over three processes at a
    # time (PostgreSQL; SQLite writes in one process)
    monkeypatch.setattr(demo.bulk, "BATCH", 16)
    dumps = []
    for workers in (1, 3):
        engine, empty = await _emptied(sessions, tmp_path / f"demo-{workers}.db")
        await generate_demo(
            empty, config, calendar, NOW, cases=80, seed=11, months=3, workers=workers
        )
        dumps.append(await _dump(empty))
        async with empty() as session:
            audit = await verify_audit(session)
        if engine is not None:
            await engine.dispose()
        assert audit.ok, audit.problems[:3]
    one, several = dumps
    for table in TABLES:
        assert several[table] == one[table], table
    assert len(several["cases"]) == 80 and len(several["case_events"]) > 6 * 80


async def test_demo_data_has_a_whole_life_of_cases_and_valid_enterprises(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    summary = await generate_demo(sessions, catalog, calendar, NOW, cases=400, seed=3, months=4)
    statuses = summary.statuses
    assert statuses["closed"] > 250 and statuses["withdrawn"] >= 1
    assert statuses.get("in_progress", 0) + statuses.get("accepted", 0) > 0
    async with sessions() as session:
        usccs = (await session.exec(select(Enterprise.uscc))).all()
        cases = (await session.exec(select(Case))).all()
        unsent = (
            await session.exec(
                select(Notification).where(Notification.status == NotificationStatus.PENDING)
            )
        ).all()
        first = cases[0]
        events = (await session.exec(select(CaseEvent).where(CaseEvent.case_id == first.id))).all()
        report = await build_report(
            session,
            config=catalog,
            calendar=calendar,
            period=last_month(NOW),
            scope=await resolve_scope(session),
            now=NOW,
        )
    assert usccs and all(is_valid_uscc(u or "") for u in usccs)
    assert sum(c.reopen_count for c in cases) > 0
    assert any(c.satisfaction is not None and c.satisfaction.value == "unrated" for c in cases)
    assert any(c.supervised for c in cases)
    assert unsent == []  # history is not sent when a bot starts on demo data
    assert verify_chain(first, list(events)) == []
    f = report.figures
    assert f.received > 50 and f.extensions > 0 and f.overdue_count > 0
    assert (
        f.amount_coordinated_yuan > 0 and f.clues_transferred > 0 and f.cards_scanned > f.received
    )
    assert f.recurring_count > 0


async def test_demo_clues_are_disposed_of_collectively_and_repeats_are_linked_and_merged(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await generate_demo(sessions, catalog, calendar, NOW, cases=400, seed=3, months=4)
    async with sessions() as session:
        audit = await verify_audit(session)
        proposals = (await session.exec(select(ClueDisposition))).all()
        cases = {c.id: c for c in (await session.exec(select(Case))).all()}
        kinds = [
            e.kind
            for e in (await session.exec(select(CaseEvent).order_by(col(CaseEvent.id)))).all()
        ]
        clocks = (
            await session.exec(select(CaseClock).where(CaseClock.kind == ClockKind.DISPOSITION))
        ).all()
        report = await build_report(
            session,
            config=catalog,
            calendar=calendar,
            period=custom(date(2026, 7, 1), date(2026, 11, 25)),
            scope=await resolve_scope(session),
            now=NOW,
        )
    assert audit.ok, audit.problems[:3]  # what `lianka audit verify` checks
    # 集体研判: every approved disposition was proposed with a reason, reviewed, then approved
    approved = [p for p in proposals if p.status is ProposalStatus.APPROVED]
    assert {p.kind for p in approved} == set(Disposition)
    assert all(p.reason and p.reviewed_by_id and p.decided_by_id for p in approved)
    assert any(p.status in (ProposalStatus.PROPOSED, ProposalStatus.REVIEWED) for p in proposals)
    filed = [p for p in approved if p.kind is Disposition.FILE]
    assert all(1 <= (p.people or 0) <= 3 for p in filed)
    assert all(cases[p.case_id].status is CaseStatus.CLOSED for p in filed)
    assert all(cases[p.case_id].track is Track.CLUE for p in proposals)
    assert {p.case_id for p in filed} <= {
        p.case_id for p in approved if p.kind is Disposition.VERIFY
    }  # 立案审查 after 初步核实
    assert clocks and kinds.count(EventKind.DISPOSITION_REVIEWED) >= len(approved)
    # 重复件: linked to an earlier case of the same enterprise and category, some merged into it
    repeats = [c for c in cases.values() if c.repeat_of_id is not None]
    assert repeats and kinds.count(EventKind.REPEAT_FLAGGED) == len(repeats)
    for repeat in repeats:
        earlier = cases[repeat.repeat_of_id]
        assert earlier.created_at < repeat.created_at
        assert (earlier.enterprise_id, earlier.category_id) == (
            repeat.enterprise_id,
            repeat.category_id,
        )
    merged = [c for c in repeats if c.merged_into_id is not None]
    assert merged and all(
        c.status is CaseStatus.CLOSED and c.merged_into_id == c.repeat_of_id for c in merged
    )
    # the report over those months shows them
    f = report.figures
    assert f.filed.cases == len([p for p in filed if p.decided_at and p.decided_at < NOW])
    assert f.filed.cases > 0 and f.filed.people >= f.filed.cases
    assert f.repeats.flagged > 0 and f.repeats.merged > 0
    assert 0 < f.repeats.flagged < f.received / 3  # some, not most


async def test_the_database_takes_new_cases_after_demo_data(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await generate_demo(sessions, catalog, calendar, NOW, cases=30, seed=5, months=2)
    async with sessions() as session:
        reporter = (await session.exec(select(Reporter))).first()
        assert reporter is not None
        result = await submit_case(
            session,
            reporter,
            CaseDraft(
                category_code="business_env",
                description="土地出让金返还迟迟未到位，企业资金链紧张。",
            ),
            policy=Policy(catalog, calendar),
            now=NOW,
        )
    assert result.case.id == 31 and result.case.status is CaseStatus.ASSIGNED
    with pytest.raises(NotEmpty):
        await generate_demo(sessions, catalog, calendar, NOW, cases=5)


def test_made_up_credit_codes_pass_the_national_check() -> None:
    import random

    rng = random.Random(1)
    codes = [make_uscc(rng) for _ in range(500)]
    assert all(is_valid_uscc(code) and code.startswith("91510904") for code in codes)


async def test_demo_appeals_rectified_are_verified_first_and_reporters_are_asked_about_retaliation(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await generate_demo(sessions, catalog, calendar, NOW, cases=400, seed=3, months=4)
    async with sessions() as session:
        audit = await verify_audit(session)
        rows = (await session.exec(select(Rectification))).all()
        cases = {c.id: c for c in (await session.exec(select(Case))).all()}
        events = (await session.exec(select(CaseEvent).order_by(col(CaseEvent.id)))).all()
        report = await build_report(
            session,
            config=catalog,
            calendar=calendar,
            period=custom(date(2026, 7, 1), date(2026, 11, 25)),
            scope=await resolve_scope(session),
            now=NOW,
        )
    assert audit.ok, audit.problems[:3]
    # 已整改 only after a 整改 passed its 核验 (办结 waits for it)
    verified = {r.case_id: r for r in rows if r.state is RectificationState.VERIFIED}
    rectified = [c for c in cases.values() if c.outcome is Outcome.RECTIFIED]
    assert rectified and all(c.id in verified for c in rectified)
    for case in rectified:
        check = verified[case.id or 0]
        assert check.verified_at and case.resolved_at and check.verified_at <= case.resolved_at
    assert all(r.unit and r.requirement and r.working_days > 0 for r in rows)
    late = [r for r in verified.values() if r.late]
    assert 0 < len(late) < len(verified) / 2  # most on time, some late
    kinds = Counter(e.kind for e in events)
    assert kinds[EventKind.RECTIFICATION_SET] == len(rows)
    assert kinds[EventKind.RECTIFICATION_REJECTED] > 0  # a few not passed once first
    still_open = [r for r in rows if r.state is RectificationState.OPEN]
    assert still_open and all(cases[r.case_id].status in WORKING_STATUSES for r in still_open)
    # 防打击报复回访: asked 20 working days after 办结, mostly 没有, some 未答复
    answers = Counter(
        (e.data or {}).get("answer") for e in events if e.kind is EventKind.AFTERCARE_ANSWERED
    )
    asked = kinds[EventKind.AFTERCARE_ASKED]
    assert asked > 50 and answers["none"] > kinds[EventKind.AFTERCARE_UNANSWERED] > 0
    assert asked >= answers["none"] + kinds[EventKind.AFTERCARE_UNANSWERED]
    for event in events:
        if event.kind is EventKind.AFTERCARE_ASKED:
            case = cases[event.case_id]
            assert case.resolved_at is not None and event.created_at > case.resolved_at
    # a 有 opened a confidential 打击报复 clue, by the same reporter, linked to the first case
    clues = [c for c in cases.values() if c.prompted_by_id is not None]
    assert answers["yes"] == len(clues) > 0
    opened = [e for e in events if e.kind is EventKind.AFTERCARE_CLUE]
    assert sorted(e.case_id for e in opened) == sorted(c.id or 0 for c in clues)
    for clue in clues:
        first = cases[clue.prompted_by_id]
        assert clue.track is Track.CLUE and clue.created_at > (first.resolved_at or NOW)
        assert (clue.enterprise_id, clue.anonymous) == (first.enterprise_id, first.anonymous)
        assert first.number in clue.description and clue.number > first.number
    assert [e.data for e in opened if e.case_id == clues[0].id] == [
        {"prompted_by": cases[clues[0].prompted_by_id].number}
    ]
    # the report over those months shows both
    f = report.figures
    assert f.rectification.set > 0 and f.rectification.verified_late > 0
    assert f.rectification.rate is not None and 0.5 < f.rectification.rate < 1
    assert f.rectification.overdue > 0 and f.rectification.overdue_units  # 逾期未核验
    assert f.aftercare.asked > 0 and f.aftercare.answered_none > 0 and f.aftercare.unanswered > 0
    assert f.aftercare.answered_yes > 0
