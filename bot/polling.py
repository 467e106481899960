"""Long polling that confirms an update to Telegram only once it has been handled.

aiogram's own polling confirms an update (the ``offset`` of the next ``getUpdates``) as soon as
it has handed it to a task, so a process killed with updates in hand loses them: Telegram has
already forgotten them. Here the offset stops at the oldest update still in hand. Telegram keeps
the rest; the updates this process already holds are skipped when they come back in a later
answer, and after a crash the next process gets all of them again, where the update
de-duplication (``bot.middlewares.UpdateDeduplication``) skips those whose handling committed.
So an update is handled at least once, and its effects happen once.

The window is bounded: a ``getUpdates`` answer holds at most ``limit`` updates from the offset,
so while the oldest update is in hand at most ``limit`` newer ones are taken. An update whose
handling raised past the dispatcher's error handling (the database was unreachable, say) is
tried again after a pause, up to ``attempts`` times, then confirmed and logged; so is one
that takes longer than ``handle_within`` (stuck on a lock, say), so that it cannot hold the
window, and everyone's updates, for long.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from contextlib import suppress
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update
from aiogram.utils.backoff import Backoff, BackoffConfig

logger = logging.getLogger(__name__)

# as aiogram's polling: 1 s, growing by 1.3 up to 5 s, with jitter
BACKOFF = BackoffConfig(min_delay=1.0, max_delay=5.0, factor=1.3, jitter=0.1)


class CommittedPolling:
    """Feeds ``dispatcher`` from ``getUpdates``, confirming only what has been handled."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: Bot,
        *,
        allowed_updates: list[str] | None = None,
        timeout: int = 30,
        limit: int = 100,
        attempts: int = 3,
        idle_check: float = 0.5,
        finish_within: float = 30.0,
        handle_within: float = 120.0,
    ) -> None:
        self._dispatcher = dispatcher
        self._bot = bot
        self._allowed = allowed_updates
        self._timeout = timeout
        self._limit = limit
        self._attempts = attempts
        self._idle_check = idle_check
        self._finish_within = finish_within
        self._handle_within = handle_within
        self._in_hand: dict[int, asyncio.Task[None]] = {}
        self._finished: set[int] = set()  # handled, but above the offset (an older one in hand)
        self._waiting: dict[int, float] = {}  # failed: not before this loop time
        self._failures: Counter[int] = Counter()
        self._newest: int | None = None

    @property
    def offset(self) -> int | None:
        """The next ``getUpdates`` offset: every update below it has been handled."""
        held = self._in_hand.keys() | self._waiting.keys()
        if held:
            return min(held)
        return self._newest + 1 if self._newest is not None else None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll and handle until ``stop`` is set; then finish the updates in hand (for up to
        ``finish_within`` seconds) and confirm them."""
        workflow = {"dispatcher": self._dispatcher, "bots": [self._bot]}
        await self._dispatcher.emit_startup(bot=self._bot, **workflow)
        try:
            await self._poll(stop)
        finally:
            await self._finish()
            await self._dispatcher.emit_shutdown(bot=self._bot, **workflow)

    async def _poll(self, stop: asyncio.Event) -> None:
        backoff = Backoff(config=BACKOFF)
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                fetch = asyncio.ensure_future(self._fetch())
                await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stop.is_set():
                    fetch.cancel()
                    with suppress(asyncio.CancelledError, Exception):
                        await fetch
                    return
                try:
                    updates = fetch.result()
                except Exception as error:  # any failed call: Telegram, a proxy, the network
                    logger.warning(
                        "getUpdates failed (%s); trying again shortly", type(error).__name__
                    )
                    await asyncio.wait({stopping}, timeout=next(backoff))
                    continue
                backoff.reset()
                if updates and not self._take(updates):
                    # nothing new: what came back is in hand already; wait for one to finish
                    # (its offset can then move) or for a while, for newer updates
                    await self._pause(stopping, self._idle_check)
        finally:
            stopping.cancel()

    async def _fetch(self) -> list[Update]:
        # long-poll only when nothing is held: otherwise Telegram answers at once anyway
        held = bool(self._in_hand or self._waiting)
        request = GetUpdates(
            offset=self.offset,
            limit=self._limit,
            timeout=0 if held else self._timeout,
            allowed_updates=self._allowed,
        )
        timeout = int(self._bot.session.timeout or 0) + self._timeout
        return await self._bot(request, request_timeout=timeout)

    async def _pause(self, stopping: asyncio.Future[Any], seconds: float) -> None:
        """Sleep up to ``seconds``: less if an update finishes or the process is stopping."""
        waits: set[asyncio.Future[Any]] = {stopping, *self._in_hand.values()}
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)

    def _take(self, updates: list[Update]) -> int:
        """Start a task for each update not already held; how many were started."""
        now = asyncio.get_running_loop().time()
        # below the offset all is handled: an answer to a request made with an older offset
        # can still hold such updates
        floor = self.offset
        started = 0
        for update in updates:
            update_id = update.update_id
            if floor is not None and update_id < floor:
                continue
            if self._newest is None or update_id > self._newest:
                self._newest = update_id
            if update_id in self._in_hand or update_id in self._finished:
                continue
            if self._waiting.get(update_id, now) > now:
                continue
            self._waiting.pop(update_id, None)
            task = asyncio.create_task(self._handle(update), name=f"update-{update_id}")
            self._in_hand[update_id] = task
            started += 1
        return started

    async def _handle(self, update: Update) -> None:
        update_id = update.update_id
        try:
            # a handler stuck on a lock must not hold back everyone's updates (the window)
            async with asyncio.timeout(self._handle_within):
                response = await self._dispatcher.feed_update(
                    self._bot, update, dispatcher=self._dispatcher, bots=[self._bot]
                )
            if isinstance(response, TelegramMethod):
                await self._dispatcher.silent_call_request(self._bot, response)
        except asyncio.CancelledError:
            # stopped before it was handled: held, so the offset never passes it and the next
            # process gets it again
            self._waiting[update_id] = math.inf
            raise
        except Exception:
            self._failures[update_id] += 1
            failures = self._failures[update_id]
            if failures < self._attempts:
                logger.exception("update %s failed (%s); tried again", update_id, failures)
                pause = BACKOFF.min_delay * BACKOFF.factor**failures
                self._waiting[update_id] = asyncio.get_running_loop().time() + pause
                return
            logger.exception("update %s failed %s times; given up", update_id, failures)
        finally:
            self._in_hand.pop(update_id, None)
        self._failures.pop(update_id, None)
        self._done(update_id)

    def _done(self, update_id: int) -> None:
        self._finished.add(update_id)
        offset = self.offset
        if offset is not None:
            self._finished = {u for u in self._finished if u >= offset}

    async def _finish(self) -> None:
        """Let the updates in hand finish, then tell Telegram which ones are done."""
        if self._in_hand:
            _, late = await asyncio.wait(self._in_hand.values(), timeout=self._finish_within)
            if late:
                logger.warning("stopping with %s updates in hand: delivered again", len(late))
                for task in late:
                    task.cancel()
                await asyncio.wait(late)
        offset = self.offset
        if offset is None:
            return
        try:
            # offset confirms what is below it; limit=1, timeout=0: nothing is waited for
            await self._bot(GetUpdates(offset=offset, limit=1, timeout=0))
        except Exception as error:  # the next start gets them again and skips them
            logger.info("could not confirm the last updates (%s)", type(error).__name__)
