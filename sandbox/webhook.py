"""Delivering a bot's updates to its webhook the way Telegram does: POST JSON with the secret
token header, one chat's updates in order, several chats at once (up to ``max_connections``), and
every update that is not answered with a 2xx status sent again later, with a growing pause."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from contextlib import suppress
from typing import Any

import aiohttp

from sandbox.botapi import ApiError, BotApi, Params, Upload
from sandbox.faults import Stats
from sandbox.world import BotAccount, WebhookConfig, World, update_chat_id

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


class WebhookDelivery:
    """The delivery loop for one bot and one webhook configuration."""

    def __init__(
        self,
        world: World,
        bot: BotAccount,
        api: BotApi,
        stats: Stats,
        *,
        backoff: float,
        backoff_max: float,
        timeout: float,
    ) -> None:
        self.world = world
        self.bot = bot
        self.api = api
        self.stats = stats
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.timeout = timeout
        assert bot.webhook is not None
        self.webhook: WebhookConfig = bot.webhook
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._busy_chats: set[int] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"webhook-{self.bot.username}")

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._in_flight.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            while self.bot.webhook is self.webhook and not self.world.closing:
                for update in self._ready():
                    chat_id = update_chat_id(update)
                    if chat_id is not None:
                        self._busy_chats.add(chat_id)
                    self._in_flight[update["update_id"]] = asyncio.create_task(
                        self._deliver(http, update, chat_id)
                    )
                await self.world.wait(lambda: bool(self._ready()), 1.0)

    def _ready(self) -> list[dict[str, Any]]:
        room = self.webhook.max_connections - len(self._in_flight)
        ready: list[dict[str, Any]] = []
        blocked = set(self._busy_chats)
        for update in self.bot.updates:
            if len(ready) >= room:
                break
            if update["update_id"] in self._in_flight:
                continue
            chat_id = update_chat_id(update)
            if chat_id is not None:
                if chat_id in blocked:
                    continue
                blocked.add(chat_id)
            ready.append(update)
        return ready

    async def _deliver(
        self, http: aiohttp.ClientSession, update: dict[str, Any], chat_id: int | None
    ) -> None:
        attempt = 0
        try:
            while self.bot.webhook is self.webhook:
                attempt += 1
                error = await self._post(http, update)
                if error is None:
                    self.stats.webhook_deliveries += 1
                    with suppress(ValueError):
                        self.bot.updates.remove(update)
                    return
                self.stats.webhook_failures += 1
                self.webhook.last_error_date = int(time.time())
                self.webhook.last_error_message = error
                logger.info("webhook delivery of update %s failed: %s", update["update_id"], error)
                await asyncio.sleep(min(self.backoff * 2 ** (attempt - 1), self.backoff_max))
        finally:
            self._in_flight.pop(update["update_id"], None)
            if chat_id is not None:
                self._busy_chats.discard(chat_id)
            self.world.touch()

    async def _post(self, http: aiohttp.ClientSession, update: dict[str, Any]) -> str | None:
        """POST one update; None when the webhook took it, else what went wrong."""
        headers = {"Content-Type": "application/json"}
        if self.webhook.secret_token:
            headers[SECRET_HEADER] = self.webhook.secret_token
        body = json.dumps(update, ensure_ascii=False).encode()
        try:
            async with http.post(self.webhook.url, data=body, headers=headers) as response:
                if not 200 <= response.status < 300:
                    return f"Wrong response from the webhook: {response.status} {response.reason}"
                reply = await _read_reply(response)
        except (aiohttp.ClientError, TimeoutError) as error:
            return f"Connection failed: {type(error).__name__}: {error}"
        if reply is not None:
            await self._run_reply(reply)
        return None

    async def _run_reply(self, reply: Params) -> None:
        """A webhook may answer with a method call; Telegram runs it and reports nothing back."""
        method = reply.text("method")
        if not method:
            return
        self.stats.calls[self.api.canonical(method) or method] += 1
        try:
            await self.api.call(self.bot, method, reply)
        except ApiError as error:
            self.stats.errors[error.code] += 1
            logger.info("method %s in a webhook reply failed: %s", method, error.description)


async def _read_reply(response: aiohttp.ClientResponse) -> Params | None:
    content_type = response.content_type
    if content_type == "application/json":
        data = await response.json(content_type=None)
        return Params(data) if isinstance(data, dict) and data.get("method") else None
    if content_type.startswith("multipart/"):
        values: dict[str, Any] = {}
        uploads: dict[str, Upload] = {}
        reader = aiohttp.MultipartReader.from_response(response)
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                continue
            if part.filename:
                uploads[part.name] = Upload(part.filename, None, bytes(await part.read()))
            else:
                values[part.name] = await part.text()
        return Params(values, uploads)
    return None
