"""开始核验 in the background: at a province's million cases the check takes minutes, longer
than a proxy waits for a page. The page follows the run (how far, refreshing itself), every
instance shows the same run and refuses a second, and a run cut short says so. Screenshot:
``var/screenshots/console-audit-running.png``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.audit_worker import run_audit_in_child
from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory, shared_database_url
from bot.services import audit, audit_runs
from bot.services.audit import AuditReport
from models.audit_run import AuditRun, AuditRunState
from models.calendar import WorkCalendar
from tests.audit_support import tamper
from tests.casework import Staff, make_staff, report, sh, until
from tests.console_support import Client, SignedIn, console_app, sign_in, text_of
from tests.test_console_reports_browser import SHOTS, signed_in_context
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser

NOW = sh(2026, 11, 10, 10)
RUNNING = "正在核验"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(NOW)


@pytest.fixture
async def staff(sessions: SessionFactory) -> Staff:
    async with sessions() as session:
        return await make_staff(session, sh(2026, 11, 2, 9))


@pytest.fixture
async def three_cases(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, staff: Staff
) -> list[str]:
    numbers = []
    for day in (3, 4, 5):
        case = await report(
            sessions, catalog, calendar, sh(2026, 11, day, 9), telegram_user_id=7_000_000 + day
        )
        numbers.append(case.number)
    return numbers


@pytest.fixture
def in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check made in the serving process (as for a database no other process can open),
    where a test can hold or break it."""
    monkeypatch.setattr("web.console.audit.shared_database_url", lambda _sessions: None)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch, in_this_process: None) -> asyncio.Event:
    """The check goes one case at a time and waits at this gate after its first case (a big
    database, seen mid-run); 开始核验 shows the page after 0.2 s instead of 5."""
    held = asyncio.Event()
    monkeypatch.setattr(audit, "AUDIT_CHUNK", 1)
    monkeypatch.setattr("web.console.audit.RESULT_WAIT_S", 0.2)
    check = audit.verify_audit

    async def held_after_the_first_case(session: Any, **kwargs: Any) -> AuditReport:
        told = kwargs.pop("progress")

        async def progress(report: AuditReport) -> None:
            await told(report)
            await held.wait()

        return await check(session, progress=progress, **kwargs)

    monkeypatch.setattr(audit_runs, "verify_audit", held_after_the_first_case)
    return held


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    async with console_app(sessions, catalog, clock=clock) as test_client:
        yield test_client


def _url(sessions: SessionFactory) -> str:
    url = shared_database_url(sessions)
    assert url is not None
    return url


async def audit_page(person: SignedIn) -> tuple[str, str]:
    answer = await person.get("/console/audit")
    html = await answer.text()
    assert answer.status == 200, html
    return html, text_of(html)


async def showing(person: SignedIn, words: str) -> tuple[str, str]:
    """The page once it shows ``words`` (the run writes its progress as it goes)."""
    shown = ("", "")

    async def there() -> bool:
        nonlocal shown
        shown = await audit_page(person)
        return words in shown[1]

    await until(there, limit=15)
    return shown


async def finished(person: SignedIn) -> str:
    """The page once the run under way has finished."""
    shown = ""

    async def done() -> bool:
        nonlocal shown
        _, shown = await audit_page(person)
        return RUNNING not in shown

    await until(done, limit=15)
    return shown


async def test_a_long_check_shows_its_progress_on_every_instance_and_runs_once(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    client: Client,
    three_cases: list[str],
    gate: asyncio.Event,
) -> None:
    admin = await sign_in(client, sessions, role="admin", team=None)
    started = await admin.post("/console/audit/verify")
    assert started.status == 303 and started.headers["Location"] == "/console/audit"
    html, page = await showing(admin, "正在核验：已核验1件问题，共约3件（33%）")
    assert f"由{admin.person.name}于2026-11-10 10:00开始" in page
    assert '<meta http-equiv="refresh" content="5">' in html
    assert "开始核验" not in page  # no second run from here

    async with console_app(sessions, catalog, clock=clock) as other:
        leader = await sign_in(other, sessions, role="leader", team=None)
        _, elsewhere = await audit_page(leader)
        assert "正在核验：已核验1件问题，共约3件" in elsewhere
        refused = await leader.post("/console/audit/verify")
        assert refused.status == 303
        _, told = await audit_page(leader)
        assert "已有一次核验正在进行，请等待其完成后查看结果。" in told

        gate.set()
        done = await finished(leader)
        assert "核验通过：3件问题、" in done and "条流转记录均完整" in done
    html, page = await audit_page(admin)
    assert "核验通过：3件问题、" in page and "http-equiv" not in html
    async with sessions() as session:
        runs = (await session.exec(select(AuditRun))).all()
    assert [(run.state, run.cases_checked) for run in runs] == [(AuditRunState.PASSED, 3)]


@pytest.mark.both_databases
async def test_a_check_whose_process_died_shows_as_interrupted_and_can_be_started_again(
    sessions: SessionFactory,
    clock: FrozenClock,
    client: Client,
    three_cases: list[str],
) -> None:
    admin = await sign_in(client, sessions, role="admin", team=None)
    async with sessions() as session:  # a run whose process was killed after a minute's work
        await audit_runs.start_audit_run(
            session, admin.person, now=NOW - timedelta(minutes=1), anchored=False
        )
    refused = await admin.post("/console/audit/verify")
    assert refused.status == 303
    _, page = await audit_page(admin)
    assert "正在核验" in page and "已有一次核验正在进行" in page

    clock.set(NOW + timedelta(minutes=2))  # no heartbeat for three minutes
    _, page = await audit_page(admin)
    assert "上次核验未完成：服务在核验中途停止（已核验0件问题）。请重新开始核验。" in page
    assert "开始核验" in page

    await admin.post("/console/audit/verify")
    page = await finished(admin)
    assert "核验通过：3件问题、" in page
    async with sessions() as session:
        runs = (await session.exec(select(AuditRun).order_by(col(AuditRun.id)))).all()
    assert [run.state for run in runs] == [AuditRunState.INTERRUPTED, AuditRunState.PASSED]
    assert runs[0].finished_at == NOW - timedelta(minutes=1)  # its last sign of life


@pytest.mark.both_databases
async def test_a_check_under_way_when_the_server_stops_is_shown_as_interrupted_at_once(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    three_cases: list[str],
    gate: asyncio.Event,
) -> None:
    async with console_app(sessions, catalog, clock=clock) as stopping:
        admin = await sign_in(stopping, sessions, role="admin", team=None)
        await admin.post("/console/audit/verify")
        await showing(admin, "正在核验：已核验1件问题")
    async with sessions() as session:
        run = (await session.exec(select(AuditRun))).one()
    assert run.state == AuditRunState.INTERRUPTED and run.finished_at == NOW
    assert run.cases_checked == 1

    async with console_app(sessions, catalog, clock=clock) as restarted:
        leader = await sign_in(restarted, sessions, role="leader", team=None)
        _, page = await audit_page(leader)
    assert "上次核验未完成：服务在核验中途停止（已核验1件问题）" in page


async def test_a_leader_stops_a_check_under_way_on_another_instance_and_the_page_says_who(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    client: Client,
    three_cases: list[str],
    gate: asyncio.Event,
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = await sign_in(client, sessions, role="admin", team=None)
    await admin.post("/console/audit/verify")
    html, page = await showing(admin, "正在核验：已核验1件问题")
    assert 'action="/console/audit/stop"' in html and "停止核验" in page

    async with console_app(sessions, catalog, clock=clock) as other:
        leader = await sign_in(other, sessions, role="leader", team=None)
        stopped = await leader.post("/console/audit/stop")
        assert stopped.status == 303 and stopped.headers["Location"] == "/console/audit"
        _, told = await audit_page(leader)
    assert "已停止核验，未得出核验结论。" in told
    assert f"上次核验已由{leader.person.name}停止（已核验1件问题），未得出核验结论。" in told
    assert "开始核验" in told and RUNNING not in told

    with caplog.at_level(logging.WARNING, logger="bot.services.audit_runs"):
        gate.set()  # the check goes on to its next heartbeat, and finds its run stopped

        async def gave_up() -> bool:
            return any("was closed while it ran" in r.getMessage() for r in caplog.records)

        await until(gave_up, limit=15)
    async with sessions() as session:
        run = (await session.exec(select(AuditRun))).one()
    assert (run.state, run.stopped_by_id, run.finished_at) == (
        AuditRunState.STOPPED,
        leader.person.id,
        NOW,
    )
    assert (run.cases_checked, run.problem_count) == (1, 0)  # nothing after the stop was kept
    _, page = await audit_page(admin)
    assert f"上次核验已由{leader.person.name}停止" in page and "核验通过" not in page


@pytest.mark.both_databases
async def test_only_an_admin_or_a_leader_may_stop_a_check(
    sessions: SessionFactory, client: Client, staff: Staff
) -> None:
    async with sessions() as session:
        run = await audit_runs.start_audit_run(session, staff.leader, now=NOW, anchored=False)
    for role in ("inspector", "team_leader"):
        person = await sign_in(client, sessions, role=role, team="business_env")
        refused = await person.post("/console/audit/stop")
        assert refused.status == 403, role
        assert "审计记录仅向管理员和委领导提供。" in text_of(await refused.text())
    async with sessions() as session:
        still = await session.get(AuditRun, run.id)
    assert still is not None and still.state == AuditRunState.RUNNING


async def test_stopping_when_no_check_is_under_way_says_so_and_changes_nothing(
    sessions: SessionFactory, client: Client, three_cases: list[str], in_this_process: None
) -> None:
    admin = await sign_in(client, sessions, role="admin", team=None)
    await admin.post("/console/audit/verify")
    await finished(admin)
    answer = await admin.post("/console/audit/stop")
    assert answer.status == 303
    _, page = await audit_page(admin)
    assert "当前没有正在进行的核验。" in page and "核验通过：3件问题、" in page
    async with sessions() as session:
        run = (await session.exec(select(AuditRun))).one()
    assert (run.state, run.stopped_by_id) == (AuditRunState.PASSED, None)


async def test_a_check_that_fails_says_so_and_the_log_has_why(
    sessions: SessionFactory,
    client: Client,
    three_cases: list[str],
    in_this_process: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> AuditReport:
        raise ConnectionResetError("the database went away")

    monkeypatch.setattr(audit_runs, "verify_audit", broken)
    admin = await sign_in(client, sessions, role="admin", team=None)
    with caplog.at_level(logging.ERROR, logger="bot.services.audit_runs"):
        await admin.post("/console/audit/verify")
        page = await finished(admin)
    assert "上次核验因系统错误未能完成（已核验0件问题）。请稍后重新开始核验" in page
    assert "核验通过" not in page
    assert any("audit run" in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.both_databases
async def test_a_rewritten_history_lists_the_first_problems_and_says_how_many_in_all(
    sessions: SessionFactory,
    client: Client,
    three_cases: list[str],
    in_this_process: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit_runs, "PROBLEMS_KEPT", 2)
    async with sessions() as session:
        await tamper(session, "UPDATE cases SET description = '无问题。'")
        await session.commit()
    admin = await sign_in(client, sessions, role="admin", team=None)
    await admin.post("/console/audit/verify")
    page = await finished(admin)
    assert "核验发现3处问题（共核验3件问题、" in page
    first, second, third = three_cases
    assert f"{first} 第1条 问题描述被改动" in page and f"{second} 第1条 问题描述被改动" in page
    assert third not in page
    assert "此处列出前2处；全部问题请在服务器上运行 lianka audit verify 查看。" in page


@pytest.mark.both_databases
async def test_the_check_runs_in_a_process_of_its_own_and_the_server_does_none_of_it(
    sessions: SessionFactory,
    client: Client,
    three_cases: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The serving process goes on serving while the check hashes every event elsewhere: a
    check made here would fail (it is broken in this process), the child's passes."""

    async def not_here(*args: Any, **kwargs: Any) -> AuditReport:
        raise AssertionError("the check ran in the serving process")

    monkeypatch.setattr(audit_runs, "verify_audit", not_here)
    admin = await sign_in(client, sessions, role="admin", team=None)
    await admin.post("/console/audit/verify")
    page = await finished(admin)
    assert "核验通过：3件问题、" in page
    async with sessions() as session:
        run = (await session.exec(select(AuditRun))).one()
    assert (run.state, run.cases_checked, run.problem_count) == (AuditRunState.PASSED, 3, 0)


async def test_the_check_s_process_works_with_the_server_s_own_keys(
    sessions: SessionFactory,
    client: Client,
    three_cases: list[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A sandbox makes its keys at start, in its process, and has none in its environment:
    the check's process works with those, not with none (a failed run) or with others."""
    for name in ("LIANKA_DATA_KEY", "LIANKA_AUDIT_KEY", "LIANKA_OLD_DATA_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # and no .env to fall back on
    admin = await sign_in(client, sessions, role="admin", team=None)
    await admin.post("/console/audit/verify")
    page = await finished(admin)
    assert "核验通过：3件问题、" in page


@pytest.mark.both_databases
async def test_a_check_stopped_with_the_server_stops_its_process_and_says_interrupted(
    sessions: SessionFactory, clock: FrozenClock, three_cases: list[str], staff: Staff
) -> None:
    async with sessions() as session:
        run = await audit_runs.start_audit_run(session, staff.leader, now=NOW, anchored=False)
    assert run.id is not None
    checking = asyncio.create_task(
        run_audit_in_child(
            sessions, run.id, database_url=_url(sessions), anchor_file=None, clock=clock
        )
    )
    await asyncio.sleep(0.3)  # the child is still starting
    checking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await checking
    async with sessions() as session:
        closed = await session.get(AuditRun, run.id)
    assert closed is not None and closed.state == AuditRunState.INTERRUPTED


@pytest.mark.both_databases
async def test_a_check_in_its_own_process_stopped_from_the_console_keeps_no_result(
    sessions: SessionFactory, clock: FrozenClock, three_cases: list[str], staff: Staff
) -> None:
    """The process finds its run stopped at its first heartbeat and ends; the server, seeing
    it end, leaves the run as stopped (not failed)."""
    async with sessions() as session:
        run = await audit_runs.start_audit_run(session, staff.leader, now=NOW, anchored=False)
    assert run.id is not None
    checking = asyncio.create_task(
        run_audit_in_child(
            sessions, run.id, database_url=_url(sessions), anchor_file=None, clock=clock
        )
    )
    async with sessions() as session:
        await audit_runs.stop_audit_run(session, staff.leader, now=NOW)
    await asyncio.wait_for(checking, 90)
    async with sessions() as session:
        closed = await session.get(AuditRun, run.id)
    assert closed is not None
    assert (closed.state, closed.stopped_by_id) == (AuditRunState.STOPPED, staff.leader.id)
    assert (closed.cases_checked, closed.events_checked) == (0, 0)


async def test_a_check_whose_process_cannot_open_the_database_is_closed_as_failed(
    sessions: SessionFactory,
    clock: FrozenClock,
    three_cases: list[str],
    staff: Staff,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with sessions() as session:
        run = await audit_runs.start_audit_run(session, staff.leader, now=NOW, anchored=False)
    assert run.id is not None
    with caplog.at_level(logging.ERROR, logger="bot.audit_worker"):
        await run_audit_in_child(
            sessions,
            run.id,
            database_url="sqlite+aiosqlite:///" + "/proc/no-such-dir/lianka.db",
            anchor_file=None,
            clock=clock,
        )
    async with sessions() as session:
        closed = await session.get(AuditRun, run.id)
    assert closed is not None and closed.state == AuditRunState.ERROR
    assert any("its process ended with" in r.getMessage() for r in caplog.records)


async def test_a_check_whose_process_cannot_be_started_fails_at_once(
    sessions: SessionFactory,
    clock: FrozenClock,
    three_cases: list[str],
    staff: Staff,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No process to be had (the user's limit reached): the page says the run failed now, not
    two minutes later when its heartbeat has run out."""

    async def no_process(*args: Any, **kwargs: Any) -> Any:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr("bot.audit_worker.asyncio.create_subprocess_exec", no_process)
    async with sessions() as session:
        run = await audit_runs.start_audit_run(session, staff.leader, now=NOW, anchored=False)
    assert run.id is not None
    await run_audit_in_child(
        sessions, run.id, database_url=_url(sessions), anchor_file=None, clock=clock
    )
    async with sessions() as session:
        closed = await session.get(AuditRun, run.id)
    assert closed is not None and closed.state == AuditRunState.ERROR


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_in_a_browser_the_progress_page_refreshes_itself_into_the_result(
    sessions: SessionFactory,
    client: Client,
    three_cases: list[str],
    gate: asyncio.Event,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At 1366×768 in Chromium: 开始核验, the progress bar, then (nobody clicking) the result.
    Screenshot: ``var/screenshots/console-audit-running.png``."""
    _need_browser()
    from playwright.async_api import async_playwright, expect

    monkeypatch.setattr("web.console.audit.REFRESH_S", 1)
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            admin = await signed_in_context(browser, client, sessions, "admin")
            page = await admin.new_page()
            page.on("console", lambda message: errors.append(message.text))
            await page.goto(str(client.make_url("/console/audit")))
            await page.get_by_role("button", name="开始核验").click()
            await expect(
                page.get_by_text("正在核验：已核验1件问题，共约3件（33%）")
            ).to_be_visible()
            await expect(page.get_by_role("progressbar", name="核验进度")).to_be_visible()
            await expect(page.get_by_role("button", name="开始核验")).to_have_count(0)
            await page.screenshot(path=str(SHOTS / "console-audit-running.png"))
            gate.set()
            await expect(page.get_by_text("核验通过：3件问题")).to_be_visible(timeout=15_000)
            await expect(page.get_by_role("button", name="开始核验")).to_be_visible()
        finally:
            await browser.close()
    assert errors == []
