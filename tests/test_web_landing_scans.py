"""A card's landing page opened many times, as a busy card is: every scan counted as the bot
counts it (the card's counter, its last scan, a ``CardScan`` each), written behind in batches,
and the page itself answered from memory for a few seconds — the same bytes, the same headers,
the guard against guessing first every time; a revoked card stops within those seconds, and its
report refuses at once."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.card_scans import FLUSH_EVERY, ScanBuffer
from bot.services.cards import revoke_card
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.card import Card, CardScan
from tests.intake_helpers import ENTERPRISE, TOKEN, make_card
from tests.live import lianka_web
from tests.test_cli import lianka
from web.context import CHANNEL, WebChannel
from web.landing_cache import LANDING_TTL

pytestmark = pytest.mark.both_databases

BOT = "AnjuLiankaBot"
UNKNOWN = "c_Unknown0000000000000000"
Client = TestClient[web.Request, web.Application]


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def web_app(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, *, every: float = 3600
) -> web.Application:
    """The web channel with its scans written when a test says (``flush``, or the server's stop),
    not by the every-second writer racing a busy machine; ``every`` gives the writer back."""
    settings = Settings(_env_file=None, bot_username=BOT)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    app[CHANNEL].scans = ScanBuffer(sessions, every=every)
    return app


def channel_of(client: Client) -> WebChannel:
    return client.app[CHANNEL]


@pytest.fixture
async def card_id(sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock) -> int:
    async with sessions() as session:
        card = await make_card(session, clock.now())
    assert card.id is not None
    return card.id


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, card_id: int
) -> AsyncIterator[Client]:
    async with TestClient(TestServer(web_app(sessions, catalog, clock))) as test_client:
        yield test_client


async def stored_card(sessions: SessionFactory, card_id: int) -> Card:
    async with sessions() as session:
        card = await session.get(Card, card_id)
    assert card is not None
    return card


async def stored_scans(sessions: SessionFactory) -> list[CardScan]:
    async with sessions() as session:
        return list((await session.exec(select(CardScan).order_by(col(CardScan.id)))).all())


async def open_landing(client: Client, token: str = TOKEN) -> tuple[int, str]:
    response = await client.get(f"/c/{token}")
    return response.status, await response.text()


async def test_a_card_opened_thirty_times_counts_thirty_scans_each_with_its_time(
    client: Client, sessions: SessionFactory, clock: FrozenClock, card_id: int
) -> None:
    opened_at = []
    for _ in range(30):  # over a minute: some pages from memory, some rendered again
        status, html = await open_landing(client)
        assert status == 200 and ENTERPRISE in text_of(html)
        opened_at.append(clock.now())
        clock.advance(timedelta(seconds=3))
    written = await channel_of(client).scans.flush()
    assert written == 30
    card = await stored_card(sessions, card_id)
    assert card.scan_count == 30
    assert card.last_scan_at == opened_at[-1]
    scans = await stored_scans(sessions)
    assert [s.scanned_at for s in scans] == opened_at
    assert {(s.card_id, s.reporter_id) for s in scans} == {(card_id, None)}


async def test_scans_not_yet_written_are_written_when_the_server_stops(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, card_id: int
) -> None:
    async with TestClient(TestServer(web_app(sessions, catalog, clock))) as test_client:
        for _ in range(12):
            assert (await open_landing(test_client))[0] == 200
        assert channel_of(test_client).scans.pending > 0  # not written yet: in hand
    # the server stopped (as on SIGTERM): what was in hand is written
    assert (await stored_card(sessions, card_id)).scan_count == 12
    assert len(await stored_scans(sessions)) == 12


async def test_scans_are_written_every_second_while_the_server_runs(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, card_id: int
) -> None:
    app = web_app(sessions, catalog, clock, every=FLUSH_EVERY)
    async with TestClient(TestServer(app)) as test_client:
        for _ in range(3):
            assert (await open_landing(test_client))[0] == 200
        for _ in range(600):  # the writer's own second, however busy the machine (30 s at most)
            if (await stored_card(sessions, card_id)).scan_count == 3:
                break
            await asyncio.sleep(0.05)
        assert (await stored_card(sessions, card_id)).scan_count == 3
        assert len(await stored_scans(sessions)) == 3


async def test_a_full_batch_is_written_without_waiting_for_the_second(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, card_id: int
) -> None:
    app = web_app(sessions, catalog, clock)
    app[CHANNEL].scans = ScanBuffer(sessions, every=3600, batch=5)
    async with TestClient(TestServer(app)) as test_client:
        for _ in range(5):
            assert (await open_landing(test_client))[0] == 200
        for _ in range(3000):  # no second to wait for: written as soon as the writer runs
            if (await stored_card(sessions, card_id)).scan_count == 5:
                break
            await asyncio.sleep(0.01)
        assert (await stored_card(sessions, card_id)).scan_count == 5


async def test_a_failed_write_keeps_the_scans_for_the_next_one(
    client: Client, sessions: SessionFactory, card_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(4):
        assert (await open_landing(client))[0] == 200
    scans = channel_of(client).scans
    async with sessions() as session:  # the scans' table away: the write fails half-way
        await session.exec(text("ALTER TABLE card_scans RENAME TO card_scans_away"))  # type: ignore[call-overload]
        await session.commit()
    try:
        with caplog.at_level(logging.WARNING, logger="bot.services.card_scans"):
            assert await scans.flush() == 0
        assert "card scans not written" in caplog.text
        assert scans.pending == 4
        assert (await open_landing(client))[0] == 200  # the page is still served
        # one transaction: the counter was not raised without its rows
        assert (await stored_card(sessions, card_id)).scan_count == 0
    finally:
        async with sessions() as session:
            await session.exec(text("ALTER TABLE card_scans_away RENAME TO card_scans"))  # type: ignore[call-overload]
            await session.commit()
    assert await scans.flush() == 5
    assert (await stored_card(sessions, card_id)).scan_count == 5
    assert len(await stored_scans(sessions)) == 5


async def test_while_writes_fail_the_scans_kept_are_capped_and_the_dropped_ones_logged(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    card_id: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = web_app(sessions, catalog, clock)
    app[CHANNEL].scans = scans = ScanBuffer(sessions, every=3600, cap=5)
    async with TestClient(TestServer(app)) as test_client:
        async with sessions() as session:
            await session.exec(text("ALTER TABLE card_scans RENAME TO card_scans_away"))  # type: ignore[call-overload]
            await session.commit()
        try:
            for _ in range(3):
                assert (await open_landing(test_client))[0] == 200
            assert await scans.flush() == 0
            for _ in range(5):
                assert (await open_landing(test_client))[0] == 200
            assert (scans.pending, scans.dropped) == (5, 3)
        finally:
            async with sessions() as session:
                await session.exec(text("ALTER TABLE card_scans_away RENAME TO card_scans"))  # type: ignore[call-overload]
                await session.commit()
        with caplog.at_level(logging.WARNING, logger="bot.services.card_scans"):
            assert await scans.flush() == 5
        assert "3 scans were dropped" in caplog.text
    assert (await stored_card(sessions, card_id)).scan_count == 5


async def test_two_instances_count_their_scans_on_the_same_card_without_losing_any(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, card_id: int
) -> None:
    async with (
        TestClient(TestServer(web_app(sessions, catalog, clock))) as one,
        TestClient(TestServer(web_app(sessions, catalog, clock))) as two,
    ):
        for _ in range(7):
            assert (await open_landing(one))[0] == 200
        for _ in range(9):
            assert (await open_landing(two))[0] == 200
        written = await asyncio.gather(channel_of(one).scans.flush(), channel_of(two).scans.flush())
        assert sorted(written) == [7, 9]
    assert (await stored_card(sessions, card_id)).scan_count == 16
    assert len(await stored_scans(sessions)) == 16


async def test_a_page_from_memory_is_the_same_bytes_and_headers_and_sets_no_cookie(
    client: Client,
) -> None:
    first = await client.get(f"/c/{TOKEN}")
    again = await client.get(f"/c/{TOKEN}")
    assert channel_of(client).landings.get(TOKEN, channel_of(client).clock.now()) is not None
    assert (first.status, again.status) == (200, 200)
    assert await again.read() == await first.read()

    def headers(response: aiohttp.ClientResponse) -> list[tuple[str, str]]:
        return [(k, v) for k, v in response.headers.items() if k != "Date"]

    assert headers(again) == headers(first)
    assert again.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in again.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in again.headers and "Set-Cookie" not in first.headers


async def test_a_revoked_card_stops_within_seconds_and_its_report_refuses_at_once(
    client: Client, sessions: SessionFactory, clock: FrozenClock, card_id: int
) -> None:
    assert (await open_landing(client))[0] == 200
    report = await client.get(f"/c/{TOKEN}/report")  # a report started before the revocation
    form = dict(
        re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', await report.text())
    )
    async with sessions() as session:
        await revoke_card(session, card_id, clock.now())
    # The landing page kept in this process may still show, for less than LANDING_TTL …
    clock.advance(LANDING_TTL - timedelta(seconds=1))
    assert (await open_landing(client))[0] == 200
    # … but the report reads the card every time: its page and its form refuse at once.
    page = await client.get(f"/c/{TOKEN}/report")
    assert page.status == 404 and "无法打开此联系卡" in text_of(await page.text())
    sent = await client.post(f"/c/{TOKEN}/report", data=form | {"action": "next"})
    assert sent.status == 404 and "无法打开此联系卡" in text_of(await sent.text())
    clock.advance(timedelta(seconds=1))  # LANDING_TTL after the page was kept
    status, html = await open_landing(client)
    assert status == 404 and "无法打开此联系卡" in text_of(html)
    await channel_of(client).scans.flush()
    assert (await stored_card(sessions, card_id)).scan_count == 2  # the pages it did show


async def test_an_unknown_token_is_never_kept_and_guessing_stops_even_a_kept_card(
    client: Client, sessions: SessionFactory, card_id: int
) -> None:
    assert (await open_landing(client))[0] == 200  # the real card's page, kept
    for attempt in range(5):
        status, html = await open_landing(client, f"c_Guess{attempt:020d}")
        assert status == 404 and "无法打开此联系卡" in text_of(html)
    now = channel_of(client).clock.now()
    assert [
        token
        for token in (UNKNOWN, *(f"c_Guess{n:020d}" for n in range(5)))
        if channel_of(client).landings.get(token, now)
    ] == []
    for _ in range(2):  # the guard comes before the pages kept in memory
        status, html = await open_landing(client)
        assert status == 429 and "请稍后再试" in text_of(html)
    await channel_of(client).scans.flush()
    assert (await stored_card(sessions, card_id)).scan_count == 1


@pytest.mark.slow
async def test_lianka_web_stopped_with_sigterm_has_counted_every_page_it_served(
    tmp_path: Path,
) -> None:
    assert lianka("init", cwd=tmp_path).returncode == 0
    issued = lianka("cards", "issue", "--enterprise", ENTERPRISE, "--json", cwd=tmp_path)
    assert issued.returncode == 0, issued.stdout + issued.stderr
    token = json.loads(issued.stdout)["token"]
    async with lianka_web(tmp_path) as web, aiohttp.ClientSession() as http:
        for _ in range(40):
            async with http.get(f"{web.url}/c/{token}") as response:
                assert response.status == 200
    listed = lianka("cards", "list", "--json", cwd=tmp_path)
    [card] = json.loads(listed.stdout)
    assert card["scans"] == 40
