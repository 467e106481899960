"""Lianka in the sandbox: the Bot API emulator, the chat page and the real bot process together,
on a database of their own (``var/sandbox.db``) seeded with a demo card, a team and its people.

This is what ``make run`` starts when no bot token is configured: a person can report an issue in
the browser as the enterprise and watch the inspector receive it, with no Telegram account.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pydantic import SecretStr
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import Runtime, ServeOptions, serve_async
from bot.clock import SystemClock
from bot.config import LiankaConfig
from bot.db import create_engine, create_session_factory, upgrade_database
from bot.services.accounts import create_account
from bot.services.anchors import anchor_path
from bot.services.catalog import sync_catalog
from bot.settings import Settings
from models import keys
from models.account import ConsoleAccount, ConsoleRole
from models.card import Card
from models.enterprise import Enterprise, uscc_check_char
from models.org import Zone
from models.team import Inspector, Role, Team
from sandbox.personas import DEFAULT_PERSONAS, DEMO_CARD_TOKEN, Persona
from sandbox.runner import CardPage, Cleanup, Sandbox, SandboxOptions, run_sandbox

logger = logging.getLogger(__name__)

DEMO_ENTERPRISE = "四川坤天新能源科技有限公司"
DEMO_USCC_BODY = "91510904MA6ATKT3X"  # 17 characters; the check character is computed


DEMO_PASSWORD = "lianka-demo-2026"  # noqa: S105 (the sandbox's demo accounts, printed at start)


@dataclass(frozen=True)
class DemoAccount:
    """A console account of the sandbox, one for each role, printed at start."""

    username: str
    role: str
    name: str
    totp_secret: str | None


@dataclass(frozen=True)
class SandboxConsole:
    url: str
    password: str
    accounts: tuple[DemoAccount, ...]


@dataclass(frozen=True)
class SandboxPeople:
    """Who the demo personas are in Lianka."""

    card_token: str
    inspector: Persona
    team_leader: Persona
    card_holder: str = "演示企业"


def default_people(personas: tuple[Persona, ...] = DEFAULT_PERSONAS) -> SandboxPeople:
    by_key = {p.key: p for p in personas}
    holder = next((p.name for p in personas if p.start_payload == DEMO_CARD_TOKEN), "演示企业")
    return SandboxPeople(DEMO_CARD_TOKEN, by_key["inspector"], by_key["team_leader"], holder)


def _port_or_any(host: str, port: int) -> int:
    """``port`` if it is free on ``host``, else 0 (any free port): a second sandbox, or a test,
    must not fail because the web channel's usual port is taken."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return 0
    return port


def _demo_team(config: LiankaConfig) -> str:
    """The team of the first routing rule (营商环境 in the example), else the first team."""
    if config.routing:
        return config.routing[0].team
    return next(t.code for t in config.teams if not t.dispatcher)


def console_only_team(config: LiankaConfig) -> str:
    """A working team other than the demo team (the console-only inspector's)."""
    demo = _demo_team(config)
    return next((t.code for t in config.teams if not t.dispatcher and t.code != demo), demo)


async def seed_sandbox(
    session: AsyncSession, config: LiankaConfig, people: SandboxPeople, now: datetime
) -> str:
    """The demo card (fixed token), the demo enterprise, an inspector and a team leader bound to
    the personas' accounts; running it again changes nothing. Returns the demo team's name."""
    await sync_catalog(session, config)
    team = (await session.exec(select(Team).where(Team.code == _demo_team(config)))).one()
    zone_code = config.organisation.default_zone or config.zones[0].code
    zone = (await session.exec(select(Zone).where(Zone.code == zone_code))).one()
    card = (await session.exec(select(Card).where(Card.token == people.card_token))).first()
    if card is None:
        enterprise = Enterprise(
            name=DEMO_ENTERPRISE,
            uscc=DEMO_USCC_BODY + uscc_check_char(DEMO_USCC_BODY),
            zone_id=zone.id,
            legal_rep="宋利剑",
            created_at=now,
        )
        session.add(enterprise)
        await session.flush()
        assert enterprise.id is not None
        session.add(
            Card(
                token=people.card_token,
                enterprise_id=enterprise.id,
                zone_id=zone.id,
                issuing_unit=zone.issuing_unit,
                created_at=now,
            )
        )
    for persona, role in (
        (people.inspector, Role.INSPECTOR),
        (people.team_leader, Role.TEAM_LEADER),
    ):
        person = (
            await session.exec(
                select(Inspector).where(Inspector.telegram_user_id == persona.user_id)
            )
        ).first()
        if person is None:
            session.add(
                Inspector(
                    name=persona.name,
                    role=role,
                    team_id=team.id,
                    telegram_user_id=persona.user_id,
                    chat_id=persona.user_id,
                    created_at=now,
                )
            )
    await session.commit()
    return team.name


async def seed_console(
    session: AsyncSession, people: SandboxPeople, other_team: str, now: datetime
) -> tuple[DemoAccount, ...]:
    """A console account for each role: the Telegram personas' own (one person, two ways in),
    a dispatcher, a leader, an admin and an inspector with no Telegram in ``other_team`` (not
    the demo team, whose reports keep going to the persona in the chat page). Running it again
    changes nothing; the TOTP secrets stay what they were."""
    personas = {
        p.user_id: person
        for p in (people.inspector, people.team_leader)
        for person in (
            await session.exec(select(Inspector).where(Inspector.telegram_user_id == p.user_id))
        ).all()
    }
    wanted = (
        ("admin", ConsoleRole.ADMIN, "演示管理员", None),
        ("leader", ConsoleRole.LEADER, "演示委领导", None),
        ("xinfang", ConsoleRole.DISPATCHER, "演示信访室", None),
        ("zuzhang", None, None, personas.get(people.team_leader.user_id)),
        ("jiandu", None, None, personas.get(people.inspector.user_id)),
        ("jiandu2", ConsoleRole.INSPECTOR, "赵敏（无Telegram）", None),
    )
    made: list[DemoAccount] = []
    for username, role, name, person in wanted:
        account = (
            await session.exec(select(ConsoleAccount).where(ConsoleAccount.username == username))
        ).first()
        if account is None:
            await create_account(
                session,
                username,
                role=role,
                name=name,
                person_id=person.id if person is not None else None,
                team_code=other_team if role is ConsoleRole.INSPECTOR else None,
                password=DEMO_PASSWORD,
                now=now,
            )
            account = (
                await session.exec(
                    select(ConsoleAccount).where(ConsoleAccount.username == username)
                )
            ).one()
        who = await session.get(Inspector, account.inspector_id)
        assert who is not None
        label = role.label if role is not None else who.role.label
        made.append(DemoAccount(username, label, who.name, account.totp_plain()))
    return tuple(made)


def sandbox_settings(settings: Settings, sandbox: Sandbox) -> Settings:
    """The settings of the sandboxed bot: the emulator's address and token, its own database."""
    database = Path(settings.var_dir) / "sandbox.db"
    return settings.model_copy(
        update={
            "bot_token": SecretStr(sandbox.bot_token),
            "bot_username": sandbox.options.bot_username,
            "telegram_api_base": sandbox.api_base,
            "database_url": f"sqlite+aiosqlite:///{database}",
            "var_dir": sandbox_var_dir(Path(settings.var_dir)),
            "webhook_secret": None,
            "redis_url": None,
        }
    )


def demo_keys(database: Path) -> None:
    """Without keys in the environment (a sandbox started by hand), the demo runs on keys of its
    own for this run; and whenever the demo database was written under other keys than this
    run's, it starts afresh (what an earlier run sealed and signed could not be opened)."""
    if not keys.loaded():
        keys.install(keys.Keyring(data_key=os.urandom(32), audit_key=os.urandom(32)))
        _forget_demo(database)
    elif not _written_with_these_keys(database):
        _forget_demo(database)
    sandbox_var_dir(database.parent).mkdir(parents=True, exist_ok=True, mode=0o700)


def _written_with_these_keys(database: Path) -> bool:
    if not database.exists():
        return True
    import sqlite3

    ring = keys.current()
    try:
        with closing(sqlite3.connect(database)) as connection:
            rows = connection.execute("SELECT purpose, key_id FROM key_checks").fetchall()
    except sqlite3.Error:
        return False  # not even a database of this version: made afresh
    audit = {kid for purpose, kid in rows if purpose == "audit"}
    data = {kid for purpose, kid in rows if purpose == "data"}
    return audit <= {ring.audit_key_id} and data <= ring.data_key_ids


def _forget_demo(database: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        database.with_name(database.name + suffix).unlink(missing_ok=True)
    anchor_path(sandbox_var_dir(database.parent)).unlink(missing_ok=True)


def sandbox_var_dir(var_dir: Path) -> Path:
    """The sandbox's own files (its audit anchors, its uploads), apart from the real ones."""
    return var_dir / "sandbox"


def start_lianka(
    settings: Settings,
    config: LiankaConfig,
    people: SandboxPeople,
    announce: Callable[[Sandbox, str, SandboxConsole], None] | None = None,
) -> Callable[[Sandbox], Awaitable[Cleanup | None]]:
    """The sandbox's ``on_ready``: seed, then serve the real bot against the emulator."""

    async def on_ready(sandbox: Sandbox) -> Cleanup | None:
        bot_settings = sandbox_settings(settings, sandbox)
        demo_keys(Path(settings.var_dir) / "sandbox.db")
        await asyncio.to_thread(upgrade_database, bot_settings.database_url)
        engine = create_engine(bot_settings.database_url)
        now = SystemClock().now()
        try:
            async with create_session_factory(engine)() as session:
                team = await seed_sandbox(session, config, people, now)
                accounts = await seed_console(session, people, console_only_team(config), now)
        finally:
            await engine.dispose()
        for persona in (people.inspector, people.team_leader):
            # they are registered already: their chats may receive messages from the start
            sandbox.emulator.user(persona.user_id).chat.started = True
        stop = asyncio.Event()
        ready = asyncio.Event()
        consoles: list[SandboxConsole] = []
        host = sandbox.options.host

        async def mark_ready(runtime: Runtime) -> None:
            web_base = f"http://{host}:{runtime.addresses[0][1]}"
            sandbox.card_pages = [
                CardPage(DEMO_ENTERPRISE, people.card_holder, f"{web_base}/c/{people.card_token}")
            ]
            consoles.append(SandboxConsole(f"{web_base}/console/", DEMO_PASSWORD, accounts))
            ready.set()

        # The web channel (the card's landing page) on its own port, beside the bot.
        options = ServeOptions(host=host, port=_port_or_any(host, sandbox.options.web_port))
        serving = asyncio.create_task(
            serve_async(bot_settings, config, options, stop, on_ready=mark_ready),
            name="lianka",
        )
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({serving, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if serving.done():
            waiting.cancel()
            serving.result()  # it failed to start: say why
        if announce is not None:
            announce(sandbox, team, consoles[0])

        async def cleanup() -> None:
            stop.set()
            await serving

        return cleanup

    return on_ready


async def run_sandboxed(
    settings: Settings,
    config: LiankaConfig,
    options: SandboxOptions,
    *,
    announce: Callable[[Sandbox, str, SandboxConsole], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """The sandbox with Lianka serving in it, until SIGINT/SIGTERM (or ``stop``)."""
    people = default_people(tuple(options.personas))
    await run_sandbox(options, on_ready=start_lianka(settings, config, people, announce), stop=stop)
