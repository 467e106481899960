"""``lianka run``: the one process that serves the bot."""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError
from aiogram.types import BotCommandScopeAllPrivateChats

from bot.config import LiankaConfig
from bot.db import create_engine, create_session_factory, current_revision, head_revision
from bot.dispatcher import create_dispatcher
from bot.middlewares import ThrottlingMiddleware
from bot.scheduler import create_scheduler
from bot.services.calendar import load_calendar
from bot.services.catalog import sync_catalog
from bot.settings import Settings
from bot.storage import create_events_isolation, create_storage
from notifications.sender import Sender

logger = logging.getLogger(__name__)


class NotReady(Exception):
    """The process cannot start; the message says what to do."""


def create_bot(settings: Settings) -> Bot:
    """A Bot speaking HTML, against Telegram or the Bot API server in ``LIANKA_TELEGRAM_API_BASE``."""
    if settings.bot_token is None:
        raise NotReady("LIANKA_BOT_TOKEN is not set")
    session = None
    if settings.telegram_api_base:
        session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base))
    return Bot(
        token=settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


async def publish_commands(bot: Bot) -> None:
    """The Chinese command menu of private chats; a Telegram hiccup here does not stop the bot."""
    from handlers.start import bot_commands

    try:
        await bot.set_my_commands(bot_commands(), scope=BotCommandScopeAllPrivateChats())
    except (TelegramAPIError, TelegramNetworkError) as error:
        logger.warning("could not set the command menu: %s", type(error).__name__)


def check_schema(settings: Settings) -> None:
    """Refuse to serve on a database that is behind the code's migrations."""
    current, head = current_revision(settings.database_url), head_revision()
    if current != head:
        raise NotReady(
            f"数据库版本 {current or '(空)'} 与程序 {head} 不一致，请先运行 lianka db upgrade "
            f"(database at {current or 'empty'}, code expects {head}: run `lianka db upgrade`)"
        )


async def _serve(settings: Settings, config: LiankaConfig) -> None:
    engine = create_engine(settings.database_url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        changes = await sync_catalog(session, config)
        if not changes.empty:
            logger.info("configuration synced: %s", changes)
        calendar = await load_calendar(session, config)
    bot = create_bot(settings)
    dispatcher = create_dispatcher(
        settings=settings,
        config=config,
        sessions=sessions,
        calendar=calendar,
        storage=create_storage(settings, sessions),
        events_isolation=create_events_isolation(settings),
        throttling=ThrottlingMiddleware(),
    )
    await publish_commands(bot)
    scheduler = create_scheduler(sessions=sessions, config=config)
    stop_sending = asyncio.Event()
    sending = asyncio.create_task(Sender(sessions, bot).run(stop_sending), name="outbox-sender")
    scheduler.start()
    try:
        await dispatcher.start_polling(
            bot, allowed_updates=dispatcher.resolve_used_update_types(), handle_signals=True
        )
    finally:
        scheduler.shutdown(wait=False)
        stop_sending.set()
        await sending
        await bot.session.close()
        await dispatcher.storage.close()
        await dispatcher.fsm.events_isolation.close()
        await engine.dispose()


def serve(settings: Settings, config: LiankaConfig) -> None:
    """Run until SIGINT/SIGTERM."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    check_schema(settings)
    asyncio.run(_serve(settings, config))
