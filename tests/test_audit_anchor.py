"""审计锚点: the daily job writes one anchor a day (0600, appended, chained to the day before),
and every 分析研判 report prints the newest one."""

from __future__ import annotations

import os
import stat
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.scheduler import run_audit_anchor
from bot.services.anchors import anchor_path, verify_anchors
from models.anchor import ANCHOR_GENESIS, AnchorLine, AuditAnchor
from models.calendar import WorkCalendar
from reports.figures import resolve_scope
from reports.outputs import Format, write_report
from reports.report import build_report
from tests.factories import make_case
from tests.report_history import NOW, OCTOBER

pytestmark = pytest.mark.both_databases


async def test_the_daily_job_anchors_once_a_day_each_day_chained_to_the_last(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, tmp_path: Path
) -> None:
    async with sessions() as session:
        await make_case(session, clock.now())
    path = anchor_path(tmp_path / "var")
    await run_audit_anchor(sessions, clock, path)
    clock.advance(timedelta(hours=3))
    await run_audit_anchor(sessions, clock, path)  # the same day: nothing more
    clock.advance(timedelta(days=1))
    await run_audit_anchor(sessions, clock, path)
    lines = [AnchorLine.parse(text) for text in path.read_text().splitlines()]
    assert [line.prev for line in lines] == [ANCHOR_GENESIS, lines[0].digest]
    assert lines[0].heads == {"AJ-2026-00001": (1, lines[0].heads["AJ-2026-00001"][1])}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    async with sessions() as session:
        rows = (await session.exec(select(AuditAnchor).order_by(col(AuditAnchor.id)))).all()
        assert [row.digest for row in rows] == [line.digest for line in lines]
        check = await verify_anchors(session, path, {"AJ-2026-00001": (1, {})})
    assert check.lines == 2
    assert [p.problem for p in check.problems] == [
        f"history rewritten since the anchor of {lines[1].day}"  # the hashes given were empty
    ]


@pytest.mark.slow
async def test_every_report_prints_the_newest_anchor_in_one_line(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    async with sessions() as session:
        await make_case(session, NOW)
    await run_audit_anchor(sessions, FrozenClock(NOW), anchor_path(tmp_path / "var"))
    async with sessions() as session:
        report = await build_report(
            session,
            config=catalog,
            calendar=calendar,
            period=OCTOBER,
            scope=await resolve_scope(session),
            now=NOW,
        )
        newest = (await session.exec(select(AuditAnchor))).one()
    line = f"审计锚点：{newest.day} {newest.digest[:16]}…（共1件）"
    assert report.anchor == line
    written = write_report(report, [Format.PDF, Format.HTML], tmp_path)
    text = _pdf_text(written[Format.PDF])
    assert newest.digest[:16] in text and "审计锚点" in text
    assert line in written[Format.HTML].read_text()


def _pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
