"""Wrong receipt codes sent to ``/t`` all at once, as a script would from one browser: every guess
is counted before it is answered, so no more than ``WRONG_CODES`` get an answer and the rest get
the limit's refusal; none fails with an error page; and the guesses never tie up the database's
connections, so another reporter's page is served meanwhile. A right code uses up no guess."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter

import aiohttp
import pytest

from bot.db import SessionFactory
from bot.services.tracking import WRONG_CODES
from tests.test_web_track import Client, client, csrf_of, text_of
from tests.tracking_support import web_case
from web.session import CSRF_FIELD

__all__ = ["client"]  # the web channel as ``lianka web`` serves it, on the default pool (5 + 10)

BURST = 40
POOL_TIMEOUT_S = 30  # SQLAlchemy's default wait for a connection of the pool


def wrong_code() -> str:
    return "-".join(secrets.token_hex(2).upper() for _ in range(3))


async def post_code(
    http: aiohttp.ClientSession, url: str, token: str, code: str
) -> tuple[int, str]:
    async with http.post(
        url, data={CSRF_FIELD: token, "code": code}, allow_redirects=False
    ) as response:
        return response.status, text_of(await response.text())


@pytest.mark.both_databases
@pytest.mark.slow
async def test_a_burst_of_wrong_codes_is_answered_no_more_than_the_limit_and_stalls_nobody(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    theirs = await web_case(sessions, catalog, calendar)
    # another reporter follows their own case, in a browser of their own
    reporter = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        async with reporter.get(client.make_url("/t")) as form:
            theirs_token = csrf_of(await form.text())
        status, _ = await post_code(reporter, str(client.make_url("/t")), theirs_token, theirs.code)
        assert status == 303

        token = csrf_of(await (await client.get("/t")).text())
        url = str(client.make_url("/t"))

        async def their_page() -> tuple[int, float]:
            await asyncio.sleep(0.2)  # while the guesses are in flight
            started = time.monotonic()
            async with reporter.get(client.make_url("/t/case"), allow_redirects=False) as page:
                await page.read()
                return page.status, time.monotonic() - started

        page = asyncio.create_task(their_page())
        answers = await asyncio.gather(
            *(post_code(client.session, url, token, wrong_code()) for _ in range(BURST))
        )
        page_status, page_wait = await page
    finally:
        await reporter.close()

    statuses = Counter(status for status, _ in answers)
    assert statuses[500] == 0, statuses
    assert set(statuses) <= {404, 429}, statuses
    assert statuses[404] <= WRONG_CODES, statuses  # each guess counted before its answer
    assert all("回执码输入错误次数过多" in text for status, text in answers if status == 429)
    assert page_status == 200 and page_wait < POOL_TIMEOUT_S / 3, (page_status, page_wait)
    # and the guesser is held back afterwards, the right code too
    status, text = await post_code(client.session, url, token, theirs.code)
    assert status == 429 and "回执码输入错误次数过多" in text


@pytest.mark.both_databases
async def test_a_right_code_typed_again_and_again_uses_up_no_guess(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    theirs = await web_case(sessions, catalog, calendar)
    url = str(client.make_url("/t"))
    token = csrf_of(await (await client.get("/t")).text())
    for _ in range(WRONG_CODES + 2):
        status, _ = await post_code(client.session, url, token, theirs.code)
        assert status == 303
    for _ in range(WRONG_CODES - 1):
        status, text = await post_code(client.session, url, token, wrong_code())
        assert status == 404 and "未找到该回执码对应的问题" in text
    status, _ = await post_code(client.session, url, token, theirs.code)
    assert status == 303  # nine wrong ones: still within the ten
    status, _ = await post_code(client.session, url, token, wrong_code())
    assert status == 404
    status, text = await post_code(client.session, url, token, theirs.code)
    assert status == 429 and "回执码输入错误次数过多" in text
