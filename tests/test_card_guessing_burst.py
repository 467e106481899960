"""Unknown card tokens sent to the landing page all at once, as a script would from one address:
each is refused with the card's words or, once counted, with 请稍后再试, none with an error page,
and the guesses never tie up the database's connections, so another reporter's card opens
meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from tests.intake_helpers import TOKEN, make_card

BURST = 40
POOL_TIMEOUT_S = 30  # SQLAlchemy's default wait for a connection of the pool
GUESSER = {"X-Forwarded-For": "203.0.113.5"}
REPORTER = {"X-Forwarded-For": "198.51.100.7"}
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    """The web channel behind a proxy (each client its own address), on the engine's default
    pool (5 + 10)."""
    async with sessions() as session:
        await make_card(session, clock.now())
    settings = Settings(_env_file=None, trusted_proxies="127.0.0.1")
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def status_of(client: Client, path: str, headers: dict[str, str]) -> tuple[int, float]:
    started = time.monotonic()
    async with client.get(path, headers=headers, allow_redirects=False) as response:
        await response.read()
        return response.status, time.monotonic() - started


@pytest.mark.both_databases
@pytest.mark.slow
async def test_a_burst_of_unknown_cards_gets_no_error_and_stalls_nobody(client: Client) -> None:
    async def their_card() -> tuple[int, float]:
        await asyncio.sleep(0.2)  # while the guesses are in flight
        return await status_of(client, f"/c/{TOKEN}", REPORTER)

    card = asyncio.create_task(their_card())
    answers = await asyncio.gather(
        *(status_of(client, f"/c/c_Guess{n:020d}", GUESSER) for n in range(BURST))
    )
    card_status, card_wait = await card

    statuses = Counter(status for status, _ in answers)
    assert statuses[500] == 0, statuses
    assert set(statuses) <= {404, 429}, statuses
    assert card_status == 200 and card_wait < POOL_TIMEOUT_S / 3, (card_status, card_wait)
    status, _ = await status_of(client, f"/c/{TOKEN}", GUESSER)
    assert status == 429  # and the guesser is held back afterwards, from every card
