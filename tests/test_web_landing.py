"""A card opened in a phone's browser, over HTTP against the web channel's real routes: the
landing page, the refusals the bot gives, the throttle, the scan counted as the bot counts it, and
the headers every page carries."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.card_scans import ScanBuffer
from bot.services.rate_limits import SqlRateLimiter
from bot.services.reporters import (
    AttemptGuard,
    CardRefused,
    TooManyAttempts,
    open_card,
    scan_card_on_web,
)
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.card import Card, CardScan, CardStatus
from notifications.render import render
from tests.intake_helpers import ENTERPRISE, TOKEN, make_card
from web.channel import MAX_BODY, SECURITY_HEADERS
from web.context import CHANNEL, ROUTE_PREFIX

pytestmark = pytest.mark.both_databases

BOT = "AnjuLiankaBot"
UNKNOWN = "c_Unknown0000000000000000"


def refusal(config: LiankaConfig, reason: str) -> str:
    organisation = config.organisation
    return render(
        "reporter_card_refused",
        reason=reason,
        organisation=organisation.name,
        hotline=organisation.hotline,
        national_hotline=organisation.national_hotline,
    )


def text_of(html: str) -> str:
    """The page's visible text, tags dropped and whitespace squeezed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with sessions() as session:
        await make_card(session, clock.now())
        await make_card(
            session,
            clock.now(),
            token="c_RevokedCard000000000001",
            enterprise_name="已注销联系卡的企业",
            status=CardStatus.REVOKED,
        )
    settings = Settings(_env_file=None, bot_username=BOT)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def card(sessions: SessionFactory, token: str = TOKEN) -> Card:
    async with sessions() as session:
        return (await session.exec(select(Card).where(Card.token == token))).one()


async def scans(sessions: SessionFactory) -> list[CardScan]:
    async with sessions() as session:
        return list((await session.exec(select(CardScan))).all())


async def test_the_landing_page_names_the_card_and_offers_three_ways(
    client, sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    response = await client.get(f"/c/{TOKEN}")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    text = text_of(html)
    assert "安居经开区纪工委" in text  # the card's issuing unit, as the bot greets
    assert ENTERPRISE in text
    for line in catalog.organisation.privacy_notice:
        assert line in text
    assert f'href="/c/{TOKEN}/report"' in html
    assert f'href="https://t.me/{BOT}?start={TOKEN}"' in html
    assert 'href="/t"' in html
    for label in ("网页反映", "用 Telegram 反映", "查询进展"):
        assert label in text
    assert "安居区纪委监委" in text and "0825-12388" in text and "12388" in text
    assert 'href="tel:0825-12388"' in html and 'href="tel:12388"' in html
    assert "<script" not in html and "<form" not in html
    assert html.startswith("<!doctype html>") and 'lang="zh-CN"' in html

    await client.app[CHANNEL].scans.flush()  # the scans are written behind, within a second
    counted = await card(sessions)
    assert counted.scan_count == 1 and counted.last_scan_at == clock.now()
    [scan] = await scans(sessions)
    assert (scan.card_id, scan.reporter_id, scan.scanned_at) == (counted.id, None, clock.now())


async def test_every_page_carries_the_security_headers_and_pages_are_not_cached(client) -> None:
    for path in (f"/c/{TOKEN}", f"/c/{UNKNOWN}", f"/c/{TOKEN}/report", "/t", "/", "/nowhere"):
        response = await client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
        assert response.headers["Cache-Control"] == "no-store", path
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "script-src" not in csp and "'none'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp and "unsafe" not in csp


async def test_the_page_and_its_assets_are_served_here_and_stay_small(client) -> None:
    response = await client.get(f"/c/{TOKEN}")
    html = await response.text()
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert len(assets) == 2  # the stylesheet and the icon
    total = len(html.encode())
    for asset in assets:
        served = await client.get(asset)
        assert served.status == 200
        assert served.headers["X-Content-Type-Options"] == "nosniff"
        assert "max-age" in served.headers["Cache-Control"]
        total += len(await served.read())
    assert total < 100 * 1024
    external = [
        link
        for link in re.findall(r'(?:href|src)="([^"]+)"', html)
        if not link.startswith(("/", "tel:", f"https://t.me/{BOT}"))
    ]
    assert external == []


async def test_an_unknown_or_revoked_card_gets_the_bots_words_and_counts_nothing(
    client, sessions: SessionFactory, catalog: LiankaConfig
) -> None:
    unknown = await client.get(f"/c/{UNKNOWN}")
    assert unknown.status == 404
    assert text_of(refusal(catalog, "unknown")) in text_of(await unknown.text())
    revoked = await client.get("/c/c_RevokedCard000000000001")
    assert revoked.status == 404
    page = text_of(await revoked.text())
    assert text_of(refusal(catalog, "revoked")) in page
    assert "0825-12388" in page and "12388" in page
    junk = await client.get("/c/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert junk.status == 404
    assert "<script>" not in await junk.text()
    await client.app[CHANNEL].scans.flush()
    assert (await card(sessions, "c_RevokedCard000000000001")).scan_count == 0
    assert await scans(sessions) == []


async def test_the_web_and_the_bot_refuse_a_card_with_the_same_words(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    messages = []
    async with sessions() as session:
        with pytest.raises(CardRefused) as in_chat:
            await open_card(
                session,
                AttemptGuard(),
                config=catalog,
                token=UNKNOWN,
                telegram_user_id=1,
                chat_id=1,
                now=clock.now(),
            )
        messages.append(in_chat.value.message)
        with pytest.raises(CardRefused) as on_web:
            await scan_card_on_web(
                session,
                AttemptGuard(),
                ScanBuffer(sessions),
                limiter=SqlRateLimiter(sessions),
                config=catalog,
                token=UNKNOWN,
                client="203.0.113.7",
                now=clock.now(),
            )
        messages.append(on_web.value.message)
    assert messages == [refusal(catalog, "unknown")] * 2


async def test_guessing_tokens_from_one_address_is_refused_with_please_try_later(
    client, sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    for attempt in range(5):
        response = await client.get(f"/c/c_Guess{attempt:020d}")
        assert response.status == 404
    for _ in range(2):  # the page cannot stay silent as the chat does: it says so every time
        refused = await client.get(f"/c/{TOKEN}")
        assert refused.status == 429
        assert "请稍后再试" in text_of(await refused.text())
    await client.app[CHANNEL].scans.flush()
    assert (await card(sessions)).scan_count == 0
    # another address is not held back by this one's guesses
    async with sessions() as session:
        landing = await scan_card_on_web(
            session,
            AttemptGuard(),
            ScanBuffer(sessions),
            limiter=SqlRateLimiter(sessions),
            config=catalog,
            token=TOKEN,
            client="198.51.100.9",
            now=clock.now(),
        )
    assert landing.enterprise == ENTERPRISE


async def test_the_web_report_opens_on_the_card_and_refuses_an_odd_token(client) -> None:
    report = await client.get(f"/c/{TOKEN}/report")
    assert report.status == 200
    html = await report.text()
    assert "问题类别" in text_of(html) and '<form class="report' in html
    odd = await client.get("/c/not-a-token/report")
    assert odd.status == 404 and "0825-12388" in await odd.text()


async def test_health_reports_the_web_channel(client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": True, "web": True}


async def test_a_body_over_the_cap_is_refused_before_it_is_read(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    settings = Settings(_env_file=None, bot_username=BOT)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    read: list[int] = []

    async def echo(request: web.Request) -> web.Response:
        read.append(len(await request.read()))
        return web.Response(text="ok")

    app.router.add_post("/c/{token}/echo", echo, name=f"{ROUTE_PREFIX}echo")
    async with TestClient(TestServer(app)) as test_client:
        small = await test_client.post(f"/c/{TOKEN}/echo", data=b"x" * 100)
        assert small.status == 200
        big = await test_client.post(f"/c/{TOKEN}/echo", data=b"x" * (MAX_BODY + 1))
        assert big.status == 413
        assert big.headers["X-Content-Type-Options"] == "nosniff"
    assert read == [100]


async def test_no_log_line_holds_a_whole_token(client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await client.get(f"/c/{TOKEN}")
    await client.get(f"/c/{UNKNOWN}")
    await client.get("/c/c_RevokedCard000000000001")
    # Lianka's own lines; the test server's access log stands for the one production turns off
    # (access_log=None), and the database driver's debug lines are off outside DEBUG.
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("web", "bot", "cards")]
    assert ours
    logged = "\n".join(record.getMessage() for record in ours)
    for token in (TOKEN, UNKNOWN, "c_RevokedCard000000000001"):
        assert token not in logged
        assert token[6:] not in logged


async def test_behind_a_trusted_proxy_each_forwarded_client_is_held_back_on_its_own(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_card(session, clock.now())
    settings = Settings(_env_file=None, bot_username=BOT, trusted_proxies="127.0.0.1, 10.0.0.0/8")
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        # the guesser writes a false address on the left; the proxies append what they saw
        guesser = {"X-Forwarded-For": "198.51.100.1, 203.0.113.5, 10.1.2.3"}
        for attempt in range(5):
            response = await test_client.get(f"/c/c_Guess{attempt:020d}", headers=guesser)
            assert response.status == 404
        assert (await test_client.get(f"/c/{TOKEN}", headers=guesser)).status == 429
        lied = {"X-Forwarded-For": "198.51.100.77, 203.0.113.5"}
        assert (await test_client.get(f"/c/{TOKEN}", headers=lied)).status == 429
        other = {"X-Forwarded-For": "203.0.113.6"}
        assert (await test_client.get(f"/c/{TOKEN}", headers=other)).status == 200


async def test_without_trusted_proxies_a_forwarded_address_is_not_believed(
    client, sessions: SessionFactory
) -> None:
    for attempt in range(5):
        spoofed = {"X-Forwarded-For": f"203.0.113.{attempt}"}
        assert (await client.get(f"/c/c_Guess{attempt:020d}", headers=spoofed)).status == 404
    fresh = {"X-Forwarded-For": "198.51.100.200"}
    assert (await client.get(f"/c/{TOKEN}", headers=fresh)).status == 429


async def test_the_landing_page_names_the_code_as_the_receipt_does(client) -> None:
    """查询进展 asks for the 回执码 the receipt gave, by that name (not a 查询码 nobody was given)."""
    text = text_of(await (await client.get(f"/c/{TOKEN}")).text())
    assert "凭回执码查看办理情况" in text
    assert "查询码" not in text


async def test_guessing_spread_over_two_instances_is_stopped_at_the_same_count(
    client,  # the card and its enterprise
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
) -> None:
    instances = [(AttemptGuard(), ScanBuffer(sessions)), (AttemptGuard(), ScanBuffer(sessions))]
    shared = SqlRateLimiter(sessions)  # the database both instances use (or their Redis)

    async def opened(instance: int, token: str) -> None:
        guard, scans = instances[instance]
        async with sessions() as session:
            await scan_card_on_web(
                session,
                guard,
                scans,
                limiter=shared,
                config=catalog,
                token=token,
                client="203.0.113.7",
                now=clock.now(),
            )

    for attempt in range(5):  # a proxy taking turns: neither instance has seen five
        with pytest.raises(CardRefused):
            await opened(attempt % 2, f"c_Guess{attempt:020d}")
    with pytest.raises(TooManyAttempts):
        await opened(1, TOKEN)  # the sixth try, even of a real card, waits
    clock.advance(timedelta(minutes=11))
    await opened(1, TOKEN)
