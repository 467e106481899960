"""``lianka run``: the one process that serves — the dispatcher (long polling or webhook), the
scheduler, the outbox sender and the web channel's pages together — and stops gracefully on
SIGTERM/SIGINT. ``lianka web`` serves the web channel alone (``bot.web_app``, which this module
builds on).

Stopping: no new updates are taken, the updates in hand are finished, the scheduler stops, the
sender finishes what it is sending and gives back what it claimed but did not send (another
instance, or the next start, sends it: nothing is sent twice and nothing is lost).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommandScopeAllPrivateChats
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.blobs import create_blob_store
from bot.clock import Clock, SystemClock
from bot.config import LiankaConfig
from bot.db import SessionFactory, create_engine, create_session_factory
from bot.dispatcher import create_dispatcher
from bot.metrics import CONTENT_TYPE, Metrics
from bot.middlewares import ThrottlingMiddleware, UpdateTracker
from bot.polling import CommittedPolling
from bot.retry import LateCallbackAnswers, RetryTransient
from bot.scheduler import create_scheduler
from bot.services.anchors import anchor_path
from bot.services.calendar import load_calendar
from bot.services.catalog import sync_catalog
from bot.settings import Settings, configure_logging
from bot.startup import ANY_FAILURE, StartupCalls
from bot.storage import create_events_isolation, create_storage
from bot.web_app import (
    FINISH_WITHIN,
    NotReady,
    check_schema,
    console_for,
    database_ok,
    freeze_start_up,
    run_until_signalled,
    web_channel,
)
from handlers.start import bot_commands
from models.errors import NotFound
from notifications.sender import Pace, Sender
from web.channel import MIDDLEWARES, add_web_channel
from web.console import add_console

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8088  # the webhook's, /healthz's and the web channel's port


class Mode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


def create_bot(settings: Settings) -> Bot:
    """A Bot speaking HTML, against Telegram or the Bot API server in ``LIANKA_TELEGRAM_API_BASE``,
    that tries a call again after a 429 or 5xx and shrugs off a late answer to a button press."""
    if settings.bot_token is None:
        raise NotReady("LIANKA_BOT_TOKEN is not set")
    session = None
    if settings.telegram_api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    bot = Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )
    bot.session.middleware(RetryTransient())
    bot.session.middleware(LateCallbackAnswers())
    return bot


async def publish_commands(bot: Bot, startup: StartupCalls | None = None) -> None:
    """The Chinese command menu of private chats; no failure here stops the bot. With
    ``startup`` it is set in the background, tried again until Telegram takes it; without, once."""

    async def set_menu() -> None:
        await bot.set_my_commands(bot_commands(), scope=BotCommandScopeAllPrivateChats())

    if startup is not None:
        startup.in_background("setting the command menu", set_menu, retry_on=ANY_FAILURE)
        return
    try:
        await set_menu()
    except ANY_FAILURE as error:
        logger.warning("could not set the command menu: %s", type(error).__name__)


@dataclass
class Runtime:
    """Everything one serving process holds, started and stopped together."""

    settings: Settings
    config: LiankaConfig
    engine: AsyncEngine
    sessions: SessionFactory
    bot: Bot
    dispatcher: Dispatcher
    scheduler: AsyncIOScheduler
    sender: Sender
    metrics: Metrics
    clock: Clock = field(default_factory=SystemClock)
    _sending: asyncio.Task[None] | None = None
    _stop_sending: asyncio.Event | None = None
    startup: StartupCalls = field(default_factory=StartupCalls)
    addresses: list[Any] = field(default_factory=list)
    """Where the HTTP server (webhook, /healthz, the web channel) listens, once it does."""

    @property
    def tracker(self) -> UpdateTracker:
        tracker: UpdateTracker = self.dispatcher["update_tracker"]
        return tracker

    async def start_background(self) -> None:
        """The scheduler (deadline sweep, agenda) and the paced sender."""
        self._stop_sending = asyncio.Event()
        self._sending = asyncio.create_task(
            self.sender.run(self._stop_sending), name="outbox-sender"
        )
        self.scheduler.start()

    async def close(self) -> None:
        """Stop trying the start-up calls, finish the updates in hand, then stop the clock, the
        sender and the connections."""
        await self.startup.close()
        if not await self.tracker.wait_idle(FINISH_WITHIN):
            logger.warning("stopping with %s updates still in hand", self.tracker.in_hand)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._stop_sending is not None and self._sending is not None:
            self._stop_sending.set()
            await self._sending
        await self.bot.session.close()
        await self.dispatcher.storage.close()
        await self.dispatcher.fsm.events_isolation.close()
        await self.engine.dispose()


async def open_runtime(
    settings: Settings, config: LiankaConfig, *, clock: Clock | None = None
) -> Runtime:
    """Connect, load the configuration into the database, and build the bot's parts."""
    clock = clock or SystemClock()
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        changes = await sync_catalog(session, config)
        if not changes.empty:
            logger.info("configuration synced: %s", changes)
        calendar = await load_calendar(session, config)
    metrics = Metrics()
    bot = create_bot(settings)
    dispatcher = create_dispatcher(
        settings=settings,
        config=config,
        sessions=sessions,
        calendar=calendar,
        storage=create_storage(settings, sessions, draft_days=config.retention.draft_days),
        events_isolation=create_events_isolation(settings),
        throttling=ThrottlingMiddleware(),
        metrics=metrics,
        clock=clock,
    )
    sender = Sender(
        sessions,
        bot,
        clock=clock,
        pace=Pace(per_second=settings.send_per_second),
        lease=timedelta(seconds=settings.sender_lease_seconds),
    )
    metrics.watch_sender(sender.stats)
    scheduler = create_scheduler(
        sessions=sessions,
        config=config,
        clock=clock,
        metrics=metrics,
        report_dir=settings.var_dir / "reports",
        blobs=create_blob_store(settings, sessions),
        anchor_file=anchor_path(settings.var_dir) if settings.audit_anchor else None,
    )
    return Runtime(
        settings, config, engine, sessions, bot, dispatcher, scheduler, sender, metrics, clock
    )


class _WebhookHandler(SimpleRequestHandler):
    """Updates from Telegram: refused with 403 (and nothing done) without the secret token;
    otherwise handled before answering, so an update a crash interrupted is delivered again."""

    def __init__(self, runtime: Runtime, secret: str) -> None:
        super().__init__(runtime.dispatcher, runtime.bot, handle_in_background=False)
        self._secret = secret
        self._metrics = runtime.metrics

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secrets.compare_digest(given.encode(), self._secret.encode()):
            self._metrics.webhook_refused.inc()
            logger.warning("webhook request refused: missing or wrong secret token")
            return web.Response(status=403, text="Forbidden")
        return await super().handle(request)

    async def close(self) -> None:
        """The bot session is closed by the runtime, after the updates in hand are done."""


class BotFiles:
    """A reporter's Telegram file, downloaded through the Bot API when a console page asks."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def download(self, file_id: str) -> bytes:
        found = await self._bot.get_file(file_id)
        if found.file_path is None:
            raise NotFound("Telegram 未提供该文件，可能已超过20MB。", detail="no file_path")
        data = await self._bot.download_file(found.file_path)
        assert data is not None
        return data.read()


def create_web_app(runtime: Runtime, *, webhook_path: str | None) -> web.Application:
    """``/healthz``, ``/metrics``, the web channel's pages and, in webhook mode, the webhook."""
    app = web.Application(middlewares=MIDDLEWARES)

    async def healthz(request: web.Request) -> web.Response:
        if not await database_ok(runtime.sessions):
            return web.json_response(
                {"status": "unavailable", "database": False, "web": True}, status=503
            )
        return web.json_response(
            {
                "status": "ok",
                "database": True,
                "web": True,
                "updates_in_hand": runtime.tracker.in_hand,
            }
        )

    async def metrics(request: web.Request) -> web.Response:
        body = await runtime.metrics.render(runtime.sessions)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    channel = web_channel(
        runtime.settings,
        runtime.config,
        runtime.sessions,
        runtime.clock,
        cases_submitted=runtime.metrics.cases_submitted,
    )
    add_web_channel(app, channel)
    add_console(app, console_for(channel, runtime.settings, telegram_files=BotFiles(runtime.bot)))
    if webhook_path is not None:
        secret = runtime.settings.webhook_secret
        assert secret is not None
        _WebhookHandler(runtime, secret.get_secret_value()).register(app, path=webhook_path)
    return app


@dataclass(frozen=True)
class ServeOptions:
    mode: Mode = Mode.POLLING
    host: str = "127.0.0.1"
    port: int | None = None  # webhook mode: where Telegram (or the proxy) reaches us
    webhook_path: str = "/telegram/webhook"
    set_webhook: bool = True


def check_webhook_settings(settings: Settings, options: ServeOptions) -> None:
    """Webhook mode needs the secret token and (to register it) the public HTTPS URL."""
    if options.mode is not Mode.WEBHOOK:
        return
    if settings.webhook_secret is None or len(settings.webhook_secret.get_secret_value()) < 16:
        raise NotReady(
            "webhook 模式需要 LIANKA_WEBHOOK_SECRET（至少16个字符，仅含 A-Z a-z 0-9 _ -）"
            " (webhook mode needs LIANKA_WEBHOOK_SECRET, 16+ characters)"
        )
    if options.set_webhook and not settings.webhook_url:
        raise NotReady(
            "webhook 模式需要 LIANKA_WEBHOOK_URL（Telegram 访问本服务的 HTTPS 地址）"
            " (webhook mode needs LIANKA_WEBHOOK_URL, the public HTTPS address of the webhook)"
        )


async def serve_async(
    settings: Settings,
    config: LiankaConfig,
    options: ServeOptions,
    stop: asyncio.Event,
    *,
    on_ready: Callable[[Runtime], Awaitable[None]] | None = None,
) -> None:
    """Serve until ``stop`` is set, then stop gracefully."""
    check_webhook_settings(settings, options)
    runtime = await open_runtime(settings, config)
    freeze_start_up()
    site_runner: web.AppRunner | None = None
    polling: asyncio.Task[Any] | None = None
    stop_polling = asyncio.Event()
    try:
        await publish_commands(runtime.bot, runtime.startup)
        await runtime.start_background()
        allowed = runtime.dispatcher.resolve_used_update_types()
        if options.mode is Mode.WEBHOOK or options.port is not None or settings.public_url:
            app = create_web_app(
                runtime,
                webhook_path=options.webhook_path if options.mode is Mode.WEBHOOK else None,
            )
            site_runner = web.AppRunner(app, access_log=None, shutdown_timeout=FINISH_WITHIN)
            await site_runner.setup()
            await web.TCPSite(
                site_runner,
                options.host,
                DEFAULT_PORT if options.port is None else options.port,
                reuse_port=True,
            ).start()
            runtime.addresses = list(site_runner.addresses)
            logger.info("listening on %s:%s", options.host, site_runner.addresses[0][1])
        if options.mode is Mode.WEBHOOK:
            if options.set_webhook:
                assert settings.webhook_url is not None and settings.webhook_secret is not None
                url, secret = settings.webhook_url, settings.webhook_secret.get_secret_value()
                if await runtime.startup.attempt(
                    "registering the webhook",
                    lambda: runtime.bot.set_webhook(
                        url=url,
                        secret_token=secret,
                        allowed_updates=allowed,
                        drop_pending_updates=False,
                    ),
                ):
                    logger.info("webhook registered")
        else:
            await runtime.startup.attempt(
                "deleting the webhook",
                lambda: runtime.bot.delete_webhook(drop_pending_updates=False),
            )
            poller = CommittedPolling(
                runtime.dispatcher,
                runtime.bot,
                allowed_updates=allowed,
                finish_within=FINISH_WITHIN,
            )
            polling = asyncio.create_task(poller.run(stop_polling), name="polling")
        if on_ready is not None:
            await on_ready(runtime)
        stopping = asyncio.create_task(stop.wait())
        waits: set[asyncio.Task[Any]] = {stopping} | ({polling} if polling else set())
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        if polling in done:
            polling.result()  # polling ended on its own: surface why
        stopping.cancel()
    finally:
        logger.info("stopping: finishing the updates in hand")
        if polling is not None and not polling.done():
            stop_polling.set()
            with suppress(asyncio.CancelledError):
                await polling
        if site_runner is not None:
            await site_runner.cleanup()  # stops accepting, waits for requests in flight
        await runtime.close()
        logger.info("stopped")


def serve(settings: Settings, config: LiankaConfig, options: ServeOptions | None = None) -> None:
    """Run until SIGINT/SIGTERM."""
    configure_logging(settings)
    check_schema(settings)
    options = options or ServeOptions()
    check_webhook_settings(settings, options)
    asyncio.run(run_until_signalled(lambda stop: serve_async(settings, config, options, stop)))
