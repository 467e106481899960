"""Calls to Telegram that start-up makes but must not die of: the command menu, registering or
deleting the webhook. A call that fails on the way (a 5xx, a proxy's page that is not Bot API
JSON, the network, a timeout) is logged and tried again in the background with backoff, until
it succeeds or the process stops; serving goes on meanwhile."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

logger = logging.getLogger(__name__)

Call = Callable[[], Awaitable[object]]
Failures = tuple[type[Exception], ...]

FAILED_ON_THE_WAY: Failures = (
    ClientDecodeError,
    TelegramServerError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TimeoutError,
)
"""Failures that say nothing about the call itself: the same call may succeed later."""

ANY_FAILURE: Failures = (ClientDecodeError, TelegramAPIError, TimeoutError)
"""Every way a Bot API call fails, Telegram's refusals (4xx) included."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """``first·2^(n-1)`` seconds after the n-th failure in a row, at most ``cap``."""

    first: float = 1.0
    cap: float = 60.0

    def delay(self, failures: int) -> float:
        return min(self.cap, self.first * 2.0 ** max(0, failures - 1))


class StartupCalls:
    """The start-up calls still being tried, held so that stopping cancels them."""

    def __init__(self, backoff: Backoff | None = None) -> None:
        self._backoff = backoff or Backoff()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def attempt(
        self, what: str, call: Call, *, retry_on: Failures = FAILED_ON_THE_WAY
    ) -> bool:
        """Make ``call`` now; True when it succeeded. A failure in ``retry_on`` is logged and the
        call tried again in the background; any other is raised (a call Telegram refuses, such
        as a bad webhook URL, is the operator's to fix)."""
        try:
            await call()
        except retry_on as error:
            self._spawn(what, call, retry_on, failures=1, pause=self._pause(what, error, 1))
            return False
        return True

    def in_background(
        self, what: str, call: Call, *, retry_on: Failures = FAILED_ON_THE_WAY
    ) -> None:
        """Make ``call`` in the background, again after each failure in ``retry_on``."""
        self._spawn(what, call, retry_on, failures=0, pause=0.0)

    async def close(self) -> None:
        """Stop trying: cancel the calls still being tried and wait until they have ended."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(
        self, what: str, call: Call, retry_on: Failures, *, failures: int, pause: float
    ) -> None:
        task = asyncio.create_task(
            self._until_done(what, call, retry_on, failures, pause), name=f"startup: {what}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _until_done(
        self, what: str, call: Call, retry_on: Failures, failures: int, pause: float
    ) -> None:
        while True:
            if pause:
                await asyncio.sleep(pause)
            try:
                await call()
            except retry_on as error:
                failures += 1
                pause = self._pause(what, error, failures)
                continue
            except Exception:
                logger.exception("%s failed; not trying again", what)
                return
            if failures:
                logger.info("%s: done after %s failed attempts", what, failures)
            return

    def _pause(self, what: str, error: Exception, failures: int) -> float:
        """How long to wait before the next try, logged with the failure (its type only: the
        answer's body may be a whole HTML page)."""
        pause = self._backoff.delay(failures)
        if isinstance(error, TelegramRetryAfter):
            pause = max(pause, float(error.retry_after))
        logger.warning(
            "%s failed (%s, %s in a row); trying again in %.1f s",
            what,
            type(error).__name__,
            failures,
            pause,
        )
        return pause
