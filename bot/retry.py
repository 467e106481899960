"""Telegram hiccups on the way out: a reply to a person is not lost to one 429 or 500."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramBadRequest,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, GetUpdates
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

logger = logging.getLogger(__name__)


class RetryTransient(BaseRequestMiddleware):
    """A Bot API call answered 429 (waiting the ``retry_after`` Telegram asks for, if short),
    5xx, or with a body that is not Bot API JSON (a proxy's 502 page, a 404 page in front of a
    self-hosted Bot API server) is tried again, up to ``attempts`` calls within a few seconds.
    Network errors and timeouts are not retried: the message may have gone out. ``getUpdates``
    is left to the polling loop's own backoff, and the outbox sender keeps its retries for
    longer outages."""

    def __init__(
        self, attempts: int = 5, max_retry_after: float = 5.0, backoff: float = 0.5
    ) -> None:
        self.attempts = attempts
        self.max_retry_after = max_retry_after
        self.backoff = backoff

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        polling = isinstance(method, GetUpdates)
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as error:
                if polling or attempt >= self.attempts or error.retry_after > self.max_retry_after:
                    raise
                pause = float(error.retry_after)
            except (TelegramServerError, ClientDecodeError):
                if polling or attempt >= self.attempts:
                    raise
                pause = self.backoff * 2 ** (attempt - 1)
            logger.info(
                "%s failed (attempt %s); again in %.1f s", method.__api_method__, attempt, pause
            )
            await asyncio.sleep(pause)
            attempt += 1


class LateCallbackAnswers(BaseRequestMiddleware):
    """An answer to a button press Telegram no longer waits for (the press came again after a
    restart, or was answered after Telegram's 15 seconds) is dropped instead of failing the
    update: the answer only stops the button's spinner."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        try:
            return await make_request(bot, method)
        except TelegramBadRequest as error:
            if (
                not isinstance(method, AnswerCallbackQuery)
                or "query is too old" not in error.message
            ):
                raise
            logger.info("answer to a button press dropped: Telegram no longer waits for it")
            return True  # type: ignore[return-value]  # what answerCallbackQuery returns
