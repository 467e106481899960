"""``lianka web``: the web channel and the office console served without the bot, and the parts
of serving that ``lianka run`` (``bot.app``) shares with it.

This module imports no Telegram library (an import contract in pyproject.toml keeps it so): a
web instance, the one channel reporters in mainland China can reach, starts without loading
aiogram's types, which were nearly half of its start-up.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from prometheus_client import Counter
from sqlalchemy import text

from bot.blobs import create_blob_store
from bot.clock import Clock, SystemClock
from bot.config import LiankaConfig
from bot.db import (
    DatabaseNotReady,
    SessionFactory,
    create_engine,
    create_session_factory,
    open_database,
)
from bot.services.anchors import anchor_path
from bot.services.calendar import CalendarCache
from bot.services.materials import TelegramFiles
from bot.services.rate_limits import rate_limiter
from bot.settings import Settings, configure_logging
from models.calendar import WorkCalendar
from web.channel import MIDDLEWARES, add_web_channel
from web.console import add_console
from web.console.context import Console
from web.context import WebChannel

logger = logging.getLogger(__name__)

# seconds a stopping process gives what it has in hand (requests; in lianka run, updates too)
FINISH_WITHIN = 30.0


class NotReady(Exception):
    """The process cannot start; the message says what to do."""


def check_schema(settings: Settings) -> None:
    """Refuse to serve on a database that is missing, unreachable or not at the code's
    migrations, saying what to run (the command line's own check, ``bot.db.open_database``)."""

    async def check() -> None:
        engine = await open_database(settings.database_url)
        await engine.dispose()

    try:
        asyncio.run(check())
    except DatabaseNotReady as error:
        raise NotReady(str(error)) from None


def freeze_start_up() -> None:
    """Move what start-up built (modules, configuration, routers, templates: some 340,000
    objects) out of the collector's generations: a full collection then walks only what the work
    since made. Unfrozen, each full collection walked them all, about 170 ms of CPU on the
    development machine (loaded); frozen, under a millisecond. Called once, after start-up:
    nothing frozen is ever freed, so only what lives as long as the process belongs here."""
    gc.collect()
    gc.freeze()


async def run_until_signalled(work: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``work(stop)``; SIGINT or SIGTERM sets ``stop``."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await work(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def database_ok(sessions: SessionFactory) -> bool:
    """One ``SELECT 1``: whether the database answers."""
    try:
        async with sessions() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception as error:  # any database failure means "unhealthy"
        logger.warning("health check: database unavailable (%s)", type(error).__name__)
        return False
    return True


def web_channel(
    settings: Settings,
    config: LiankaConfig,
    sessions: SessionFactory,
    clock: Clock,
    *,
    cases_submitted: Counter | None = None,
) -> WebChannel:
    """The web channel's parts. Without ``LIANKA_WEB_SECRET`` (allowed only when no public
    address is set: the sandbox, a local ``lianka web``) this process signs with a key of its
    own, and a restart ends the web sessions. ``cases_submitted``: ``lianka run``'s counter."""
    channel = WebChannel(
        config,
        sessions,
        clock,
        bot_username=settings.bot_username,
        trusted_proxies=settings.proxy_networks(),
        secure_cookies=(settings.public_url or "").startswith("https://"),
        limiter=rate_limiter(redis_url=settings.redis_url, sessions=sessions),
        blobs=create_blob_store(settings, sessions),
        cases_submitted=cases_submitted,
    )
    if settings.web_secret is not None:
        channel.secret = settings.web_secret.get_secret_value()
    return channel


def console_for(
    channel: WebChannel, settings: Settings, *, telegram_files: TelegramFiles | None = None
) -> Console:
    """The office console beside the web channel, sharing its signing key, limits and blob
    store; its calendar is read from the database on the first page and re-read when an admin
    loads a year's schedule. ``telegram_files``: reporters' Telegram files, where a bot runs."""
    config = channel.config
    empty = WorkCalendar({}, office_day_end=config.deadlines.office_day_end)
    return Console(
        config,
        channel.sessions,
        channel.clock,
        calendars=CalendarCache(config, empty),
        blobs=channel.blobs,
        limiter=channel.limiter,
        secret=channel.secret,
        telegram_files=telegram_files,
        bot_username=settings.bot_username,
        public_url=settings.public_url or "",
        trusted_proxies=channel.trusted_proxies,
        secure_cookies=channel.secure_cookies,
        # only the anchoring instance has the file; elsewhere 审计 says where anchors are checked
        anchor_file=anchor_path(settings.var_dir) if settings.audit_anchor else None,
    )


def create_standalone_web_app(
    settings: Settings, config: LiankaConfig, sessions: SessionFactory, clock: Clock
) -> web.Application:
    """``lianka web``: the web channel's pages and ``/healthz``, without the bot."""
    app = web.Application(middlewares=MIDDLEWARES)

    async def healthz(request: web.Request) -> web.Response:
        if not await database_ok(sessions):
            return web.json_response(
                {"status": "unavailable", "database": False, "web": True}, status=503
            )
        return web.json_response({"status": "ok", "database": True, "web": True})

    app.router.add_get("/healthz", healthz)
    channel = web_channel(settings, config, sessions, clock)
    add_web_channel(app, channel)
    add_console(app, console_for(channel, settings))
    return app


async def serve_web_async(
    settings: Settings,
    config: LiankaConfig,
    *,
    host: str,
    port: int,
    stop: asyncio.Event,
    on_ready: Callable[[list[Any]], Awaitable[None]] | None = None,
) -> None:
    """Serve the web channel alone until ``stop`` is set; ``on_ready`` gets the bound addresses."""
    engine = create_engine(settings.database_url)
    runner = web.AppRunner(
        create_standalone_web_app(settings, config, create_session_factory(engine), SystemClock()),
        access_log=None,  # an access log would write card tokens and client addresses
        shutdown_timeout=FINISH_WITHIN,
    )
    try:
        await runner.setup()
        freeze_start_up()
        await web.TCPSite(runner, host, port, reuse_port=True).start()
        logger.info("web channel listening on %s:%s", host, runner.addresses[0][1])
        if on_ready is not None:
            await on_ready(list(runner.addresses))
        await stop.wait()
    finally:
        logger.info("stopping the web channel")
        await runner.cleanup()
        await engine.dispose()
        logger.info("stopped")


def serve_web(settings: Settings, config: LiankaConfig, *, host: str, port: int) -> None:
    """``lianka web``: the web channel alone, until SIGINT/SIGTERM. No bot token needed."""
    configure_logging(settings)
    check_schema(settings)
    asyncio.run(
        run_until_signalled(
            lambda stop: serve_web_async(settings, config, host=host, port=port, stop=stop)
        )
    )
