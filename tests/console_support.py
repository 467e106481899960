"""The office console over real HTTP, for tests: the server's application on the test's
database, and staff who sign in through the real sign-in form (with their TOTP code)."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer

from bot.app import BotFiles
from bot.clock import Clock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.accounts import create_account, totp_now
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.account import ConsoleAccount, ConsoleRole
from models.team import Inspector
from web.console.context import CONSOLE

SECRET = "test-console-secret-0123456789abcdefghijkl"
PASSWORD = "correct horse battery"
Client = TestClient[web.Request, web.Application]
_NUMBERS = itertools.count(1)


@asynccontextmanager
async def console_app(
    sessions: SessionFactory,
    config: LiankaConfig,
    *,
    clock: Clock,
    bot: Any = None,
    settings: Settings | None = None,
) -> AsyncIterator[Client]:
    """The web server's application (reporters' pages and the console) on 127.0.0.1; ``bot``
    (an aiogram Bot, e.g. on a fake Bot API) is what the console fetches Telegram files with."""
    # no anchor file unless a test gives one (never the working directory's var/)
    settings = settings or Settings(_env_file=None, web_secret=SECRET, audit_anchor=False)
    app = create_standalone_web_app(settings, config, sessions, clock)
    app[CONSOLE].telegram_files = BotFiles(bot) if bot is not None else None
    async with TestClient(TestServer(app)) as client:
        yield client


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None, "the page has a form with its CSRF token"
    return found.group(1)


def text_of(html: str) -> str:
    """A page's words, tags removed and spaces collapsed (to assert on what a person reads)."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@dataclass
class SignedIn:
    """A person signed in to the console in ``client``'s cookie jar."""

    client: Client
    person: Inspector
    account: ConsoleAccount
    csrf: str

    async def get(self, path: str, **kwargs: Any) -> ClientResponse:
        return await self.client.get(path, allow_redirects=False, **kwargs)

    async def post(
        self, path: str, data: Mapping[str, Any] | None = None, **kwargs: Any
    ) -> ClientResponse:
        """A form posted with this session's CSRF token (303s are not followed)."""
        form = {"csrf_token": self.csrf, **(data or {})}
        return await self.client.post(path, data=form, allow_redirects=False, **kwargs)


async def make_account(
    sessions: SessionFactory,
    clock: Clock,
    *,
    role: str = "inspector",
    team: str | None = "business_env",
    username: str | None = None,
    person: Inspector | None = None,
    totp: bool = False,
) -> tuple[ConsoleAccount, Inspector, str | None]:
    """An account (and, without ``person``, its person) as ``lianka accounts create`` makes it."""
    console_role = ConsoleRole(role)
    needs_team = console_role in (ConsoleRole.INSPECTOR, ConsoleRole.TEAM_LEADER)
    async with sessions() as session:
        created = await create_account(
            session,
            username or f"{role}{next(_NUMBERS)}",
            role=None if person is not None else console_role,
            person_id=person.id if person is not None else None,
            team_code=team if needs_team and person is None else None,
            password=PASSWORD,
            now=clock.now(),
            totp=totp,
        )
    return created.account, created.person, created.totp_secret


async def sign_in(
    client: Client,
    sessions: SessionFactory,
    *,
    role: str = "inspector",
    team: str | None = "business_env",
    username: str | None = None,
    person: Inspector | None = None,
    totp: bool = False,
) -> SignedIn:
    """Create the account and sign in through the login form (and the code form where the
    account has a second factor), as a person would."""
    clock = client.app[CONSOLE].clock
    account, who, secret = await make_account(
        sessions, clock, role=role, team=team, username=username, person=person, totp=totp
    )
    page = await client.get("/console/login")
    assert page.status == 200
    answer = await client.post(
        "/console/login",
        data={
            "csrf_token": csrf_of(await page.text()),
            "username": account.username,
            "password": PASSWORD,
        },
        allow_redirects=False,
    )
    assert answer.status == 303, await answer.text()
    if secret is not None:
        code_page = await client.get("/console/login/code")
        answer = await client.post(
            "/console/login/code",
            data={
                "csrf_token": csrf_of(await code_page.text()),
                "code": totp_now(secret, clock.now()),
            },
            allow_redirects=False,
        )
        assert answer.status == 303, await answer.text()
    home = await client.get("/console/account")
    assert home.status == 200, await home.text()
    return SignedIn(client, who, account, csrf_of(await home.text()))
