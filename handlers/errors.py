"""Errors in one place: a domain error becomes a friendly Chinese reply; anything else is logged."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from sqlalchemy.orm.exc import StaleDataError

from bot.middlewares import UpdateNotFinished
from models.errors import ConcurrentChange, DomainError

logger = logging.getLogger(__name__)

UNEXPECTED = "系统暂时无法处理，请稍后再试。您已填写的内容已保存，无需重新输入。"


async def _tell(event: ErrorEvent, bot: Bot, text: str) -> None:
    """Answer the person whose update failed, where they are (a button press or a message)."""
    update = event.update
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None:
            await bot.send_message(update.message.chat.id, text)
    except TelegramAPIError:
        logger.warning("could not tell the user about an error in update %s", update.update_id)


async def on_domain_error(event: ErrorEvent, bot: Bot) -> None:
    exception = event.exception
    assert isinstance(exception, DomainError)
    logger.info(
        "refused update %s: %s",
        event.update.update_id,
        exception.detail or type(exception).__name__,
    )
    await _tell(event, bot, exception.message)


async def on_stale_data(event: ErrorEvent, bot: Bot) -> None:
    logger.info("concurrent change refused in update %s", event.update.update_id)
    await _tell(event, bot, ConcurrentChange.message)


async def on_unexpected_error(event: ErrorEvent, bot: Bot) -> None:
    logger.error("unhandled error in update %s", event.update.update_id, exc_info=event.exception)
    await _tell(event, bot, UNEXPECTED)


def setup() -> Router:
    router = Router(name=__name__)
    router.errors.register(on_domain_error, ExceptionTypeFilter(DomainError))
    router.errors.register(on_stale_data, ExceptionTypeFilter(StaleDataError))
    # an update its handler finished but could not record goes back to Telegram, to come again
    router.errors.register(
        on_unexpected_error, F.exception, ~ExceptionTypeFilter(UpdateNotFinished)
    )
    return router
