"""Sign-ins to the console sent all at once, as a script trying names would: each is refused as a
wrong password is, and while their passwords are checked (Argon2, a quarter of a second of a core
each) they hold none of the database's connections and none of the threads the reporters' pages
share, so a reporter following their case is served meanwhile."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services import accounts
from models.calendar import WorkCalendar
from tests.console_support import Client, console_app, csrf_of
from tests.test_track_guessing_burst import post_code
from tests.tracking_support import web_case

BURST = 30
CHECK_S = 0.4  # each password check made this slow, so that a burst lasts long enough to see
# Before: the burst held all the pool's 15 connections and the default threads through its
# checks (the reporter's page waited over a second, alone on the machine); now the checks run on
# Argon2's own threads with no connection held. The page's bound is loose (a busy test machine).
PAGE_WAIT_S = 5.0
HELD_AT_MOST = 5  # connections in use while a check runs: the sign-ins' short reads, at most


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    async with console_app(sessions, catalog, clock=clock) as test_client:
        yield test_client


@dataclass
class Checks:
    threads: set[str] = field(default_factory=set)
    held: list[int] = field(default_factory=list)  # connections checked out as each check ends


@pytest.fixture
def slow_checks(monkeypatch: pytest.MonkeyPatch, sessions: SessionFactory) -> Checks:
    check, seen = accounts._password_matches, Checks()
    engine = sessions.kw["bind"]

    def slow(stored: str | None, password: str) -> bool:
        seen.threads.add(threading.current_thread().name.rsplit("_", 1)[0])
        time.sleep(CHECK_S)  # as Argon2 does, off the event loop and without the GIL
        seen.held.append(engine.sync_engine.pool.checkedout())  # the burst's reads long done
        return check(stored, password)

    monkeypatch.setattr(accounts, "_password_matches", slow)
    return seen


async def _sign_in(http: aiohttp.ClientSession, url: str, token: str) -> int:
    data = {"csrf_token": token, "username": f"guess-{secrets.token_hex(4)}", "password": "x" * 12}
    async with http.post(url, data=data, allow_redirects=False) as answer:
        await answer.read()
        return answer.status


@pytest.mark.both_databases
@pytest.mark.slow
async def test_a_burst_of_sign_ins_with_made_up_names_stalls_no_reporter(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    slow_checks: Checks,
) -> None:
    theirs = await web_case(sessions, catalog, calendar)
    reporter = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        async with reporter.get(client.make_url("/t")) as form:
            form_token = csrf_of(await form.text())
        status, _ = await post_code(reporter, str(client.make_url("/t")), form_token, theirs.code)
        assert status == 303

        async def their_page() -> tuple[int, float, float]:
            await asyncio.sleep(0.3)  # while the sign-ins are being checked
            started = time.monotonic()
            async with reporter.get(client.make_url("/t/case"), allow_redirects=False) as page:
                await page.read()
                served = time.monotonic() - started
            started = time.monotonic()
            await asyncio.to_thread(lambda: None)  # the pool an upload is checked on
            return page.status, served, time.monotonic() - started

        login = await client.get("/console/login")
        token = csrf_of(await login.text())
        url = str(client.make_url("/console/login"))
        page = asyncio.create_task(their_page())
        answers = Counter(
            await asyncio.gather(*(_sign_in(client.session, url, token) for _ in range(BURST)))
        )
        page_status, page_wait, thread_wait = await page
    finally:
        await reporter.close()

    assert answers == {401: BURST}, answers  # each one refused as a wrong password, none failed
    assert slow_checks.threads == {"lianka-argon2"}  # not the threads uploads are checked on
    assert max(slow_checks.held) <= HELD_AT_MOST, slow_checks.held  # not the pool's 15
    assert page_status == 200
    assert page_wait < PAGE_WAIT_S, page_wait
    assert thread_wait < PAGE_WAIT_S, thread_wait
