"""The web channel's sessions and CSRF tokens (``web.session``), over HTTP against the real
middlewares, and the purge of expired web drafts."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from http.cookies import SimpleCookie

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.web_intake import purge_expired_web_drafts
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.web_draft import WEB_DRAFT_LIFETIME, WebDraft
from tests.intake_helpers import TOKEN, make_card
from web.context import CHANNEL
from web.session import (
    COOKIE,
    CSRF_FIELD,
    SECURE_COOKIE,
    SESSION_MAX_AGE,
    csrf_token,
    current_session,
    require_csrf,
    session_key,
)

SECRET = "test-web-secret-0123456789abcdefghijklmnop"


async def form_page(request: web.Request) -> web.Response:
    return web.Response(text=csrf_token(request))


@require_csrf
async def form_post(request: web.Request) -> web.Response:
    form = await request.post()
    return web.Response(text=f"ok {form.get('value')!s} {current_session(request).key}")


def app_with_a_form(
    settings: Settings, catalog: LiankaConfig, sessions: SessionFactory, clock: FrozenClock
) -> web.Application:
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    app.router.add_get("/test-form", form_page)
    app.router.add_post("/test-form", form_post)
    return app


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    settings = Settings(_env_file=None, web_secret=SECRET)
    async with TestClient(TestServer(app_with_a_form(settings, catalog, sessions, clock))) as c:
        yield c


def set_cookie(response) -> SimpleCookie:
    cookie: SimpleCookie = SimpleCookie()
    for header in response.headers.getall("Set-Cookie", []):
        cookie.load(header)
    return cookie


async def test_a_page_that_uses_the_session_sets_a_signed_httponly_lax_cookie(client) -> None:
    response = await client.get("/test-form")
    assert response.status == 200
    morsel = set_cookie(response)[COOKIE]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
    assert not morsel["secure"]  # plain http on this machine
    assert int(morsel["max-age"]) == SESSION_MAX_AGE
    session_id, _, signature = morsel.value.rpartition(".")
    assert len(session_id) == 43 and signature
    # the landing page's static file and a page that does not use the session set none
    assert "Set-Cookie" not in (await client.get("/healthz")).headers


async def test_a_form_with_the_sessions_token_is_accepted(client) -> None:
    token = await (await client.get("/test-form")).text()
    response = await client.post("/test-form", data={CSRF_FIELD: token, "value": "甲"})
    assert response.status == 200
    text = await response.text()
    session_id = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    assert text == f"ok 甲 {session_key(session_id.rpartition('.')[0])}"
    assert session_key("x") == hashlib.sha256(b"x").hexdigest()


@pytest.mark.parametrize("token", [None, "", "forged.token.value"])
async def test_a_post_without_a_valid_token_is_refused_with_a_chinese_page(
    client, token: str | None
) -> None:
    await client.get("/test-form")
    data = {"value": "甲"} | ({CSRF_FIELD: token} if token is not None else {})
    response = await client.post("/test-form", data=data)
    assert response.status == 403
    text = await response.text()
    assert "页面已过期" in text and "未被受理" in text
    assert "ok" not in text
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")


async def test_a_refused_report_form_is_logged_without_the_cards_whole_token(
    client, sessions: SessionFactory, clock: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    async with sessions() as session:
        await make_card(session, clock.now())
    caplog.set_level(logging.DEBUG)
    assert (await client.get(f"/c/{TOKEN}/report")).status == 200
    for data in ({CSRF_FIELD: "forged.token.value"}, {}):
        response = await client.post(f"/c/{TOKEN}/report", data=data)
        assert response.status == 403
    # Lianka's own lines; the test server's access log stands for the one production turns off
    ours = [r for r in caplog.records if r.name.split(".")[0] in ("web", "bot", "cards")]
    logged = "\n".join(record.getMessage() for record in ours)
    assert logged.count("web form refused") == 2
    assert f"/c/{TOKEN[:6]}" in logged  # which card, as every line names one
    assert TOKEN not in logged and TOKEN[6:] not in logged


async def test_a_token_of_another_session_or_without_a_cookie_is_refused(
    client, sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    theirs = await (await client.get("/test-form")).text()
    settings = Settings(_env_file=None, web_secret=SECRET)
    app = app_with_a_form(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as other:
        await other.get("/test-form")
        response = await other.post("/test-form", data={CSRF_FIELD: theirs})
        assert response.status == 403
        other.session.cookie_jar.clear()
        response = await other.post("/test-form", data={CSRF_FIELD: theirs})
        assert response.status == 403


async def test_a_tampered_or_foreign_cookie_starts_a_new_session(client) -> None:
    first = set_cookie(await client.get("/test-form"))[COOKIE].value
    session_id, _, signature = first.rpartition(".")
    forged = f"{session_id[:-1]}{'A' if session_id[-1] != 'A' else 'B'}.{signature}"
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({COOKIE: forged}, response_url=client.make_url("/"))
    second = set_cookie(await client.get("/test-form"))[COOKIE].value
    assert second.rpartition(".")[0] not in (session_id, forged.rpartition(".")[0])


async def test_over_https_the_cookie_is_secure_and_host_only(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    settings = Settings(
        _env_file=None,
        public_url="https://jubao.example.gov.cn",
        web_secret=SECRET,
    )
    app = app_with_a_form(settings, catalog, sessions, clock)
    assert app[CHANNEL].secret == SECRET and app[CHANNEL].secure_cookies
    async with TestClient(TestServer(app)) as c:
        morsel = set_cookie(await c.get("/test-form"))[SECURE_COOKIE]
        assert morsel["secure"] and morsel["httponly"] and morsel["path"] == "/"
        assert not morsel["domain"]


def test_without_a_secret_each_process_signs_with_its_own(
    sessions: SessionFactory, config: LiankaConfig, clock: FrozenClock
) -> None:
    settings = Settings(_env_file=None)
    one = create_standalone_web_app(settings, config, sessions, clock)[CHANNEL].secret
    two = create_standalone_web_app(settings, config, sessions, clock)[CHANNEL].secret
    assert len(one) >= 32 and one != two


@pytest.mark.both_databases
async def test_drafts_untouched_for_seven_days_are_purged(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    now = clock.now()
    async with sessions() as session:
        card = await make_card(session, now)
        for name, changed in (
            ("old", now - WEB_DRAFT_LIFETIME),
            ("fresh", now - timedelta(days=6)),
        ):
            draft = WebDraft(
                session_key=session_key(name),
                card_id=card.id or 0,
                draft_id=name,
                step="category",
                data={"description": "不应留存"},
                created_at=changed,
                updated_at=changed,
                expires_at=changed,
            )
            draft.touch(changed)
            session.add(draft)
        await session.commit()
    assert await purge_expired_web_drafts(sessions, now) == 1
    async with sessions() as session:
        left = (await session.exec(select(WebDraft.draft_id))).all()
    assert left == ["fresh"]
