"""A Telegram Bot API emulator for Lianka: an aiohttp server at ``/bot<token>/<method>``.

It answers what aiogram's ``AiohttpSession`` sends (query strings, url-encoded and multipart
forms, JSON bodies) with Telegram's envelope, keeps every chat, delivers updates by long polling or
webhook, lets tests and the page act as Telegram users, and can misbehave on purpose (faults,
Telegram's flood limits). Point a bot at it with
``AiohttpSession(api=TelegramAPIServer.from_base(emulator.base_url))``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any

from aiohttp import web

from sandbox.botapi import ApiError, BotApi, Params, Upload
from sandbox.control import ControlApi, control_errors
from sandbox.faults import SENDING_METHODS, FaultInjector, FaultPlan, RateLimits, Stats
from sandbox.personas import Persona
from sandbox.webhook import WebhookDelivery
from sandbox.world import BotAccount, SandboxUser, World

logger = logging.getLogger(__name__)

MAX_REQUEST = 60 * 1024 * 1024
_dumps = partial(json.dumps, ensure_ascii=False)
BAD_GATEWAY_PAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass(frozen=True)
class BotSpec:
    token: str
    username: str
    first_name: str | None = None


class Emulator:
    """The emulated Bot API server, its state, and the Python API to act as users."""

    def __init__(
        self,
        *,
        bots: Iterable[BotSpec] = (),
        personas: Iterable[Persona] = (),
        faults: FaultPlan | None = None,
        limits: RateLimits | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        webhook_backoff: float = 0.2,
        webhook_backoff_max: float = 5.0,
        webhook_timeout: float = 10.0,
    ) -> None:
        self.world = World(monotonic)
        self.stats = Stats()
        self.sends_in_progress = 0  # sending calls received and not yet answered
        self.api = BotApi(self.world, on_webhook_change=self._webhook_changed)
        self.personas: list[Persona] = []
        self._faults = faults or FaultPlan()
        self._injector = FaultInjector(self._faults)
        self._limits = limits or RateLimits()
        self.webhook_backoff = webhook_backoff
        self.webhook_backoff_max = webhook_backoff_max
        self.webhook_timeout = webhook_timeout
        self._deliveries: dict[str, WebhookDelivery] = {}
        self._stopping: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        for spec in bots:
            self.add_bot(spec.token, spec.username, spec.first_name)
        for persona in personas:
            self.add_persona(persona)

    # --- configuration ----------------------------------------------------------------------

    def add_bot(self, token: str, username: str, first_name: str | None = None) -> BotAccount:
        bot = self.world.add_bot(token, username, first_name)
        bot.flood.limits = self._limits
        return bot

    def add_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        phone_number: str | None = None,
    ) -> SandboxUser:
        self.world.add_user(
            user_id, first_name, last_name=last_name, username=username, phone_number=phone_number
        )
        return self.user(user_id)

    def add_persona(self, persona: Persona) -> SandboxUser:
        self.personas = [p for p in self.personas if p.user_id != persona.user_id] + [persona]
        return self.add_user(persona.user_id, persona.name, phone_number=persona.phone_number)

    def user(self, user_id: int, bot: str | int | None = None) -> SandboxUser:
        """Act as user ``user_id`` in their chat with ``bot`` (default: the first bot)."""
        return self.world.user_session(user_id, bot)

    def bot(self, which: str | int | None = None) -> BotAccount:
        return self.world.bot(which)

    @property
    def faults(self) -> FaultPlan:
        return self._faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self._faults = plan
        self._injector = FaultInjector(plan)

    @property
    def limits(self) -> RateLimits:
        return self._limits

    @limits.setter
    def limits(self, limits: RateLimits) -> None:
        self._limits = limits
        for bot in self.world.bots.values():
            bot.flood.limits = limits

    # --- HTTP -------------------------------------------------------------------------------

    def create_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST, middlewares=[control_errors])
        app.router.add_route("*", "/bot{token}/{method}", self._serve_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        ControlApi(self).add_to(app)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on ``host:port`` (0: a free port); the base URL for ``TelegramAPIServer``."""
        self.world.closing = False
        self._runner = web.AppRunner(self.create_app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[-1][1]
        self.base_url = f"http://{host}:{bound_port}"
        return self.base_url

    async def stop(self) -> None:
        """Answer every waiting long poll, stop webhook deliveries, close the server."""
        self.world.closing = True
        self.world.touch()
        for delivery in list(self._deliveries.values()):
            await delivery.stop()
        self._deliveries.clear()
        for task in list(self._stopping):
            with suppress(asyncio.CancelledError):
                await task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _serve_method(self, request: web.Request) -> web.Response:
        """A method call; a sending one counts as in progress until it is answered (what a bot
        killed now may or may not have heard back about)."""
        method = request.match_info["method"]
        sending = (self.api.canonical(method) or method) in SENDING_METHODS
        self.sends_in_progress += sending
        try:
            return await self._handle_method(request)
        finally:
            self.sends_in_progress -= sending

    async def _handle_method(self, request: web.Request) -> web.Response:
        bot = self.world.bots.get(request.match_info["token"])
        if bot is None:
            return _api_error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        name = self.api.canonical(method) or method
        self.stats.calls[name] += 1
        fault = None
        try:
            params = await _read_params(request)
            fault = self._injector.draw(name)
            if fault is not None:
                self.stats.injected[fault.kind] += 1
                if fault.kind == "429":
                    raise ApiError(
                        429,
                        f"Too Many Requests: retry after {fault.retry_after}",
                        fault.retry_after,
                    )
                if fault.kind == "500":
                    raise ApiError(500, "Internal Server Error")
                if fault.kind == "html":
                    self.stats.errors[502] += 1
                    return _bad_gateway_page()
                await asyncio.sleep(fault.delay)
            result = await self.api.call(bot, method, params)
        except ApiError as error:
            self.stats.errors[error.code] += 1
            if error.code == 429 and fault is None:
                self.stats.rate_limited += 1
            if error.code not in (409,):
                logger.debug("%s answered %s: %s", name, error.code, error.description)
            return _api_error(error)
        return web.json_response({"ok": True, "result": result}, dumps=_dumps)

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] not in self.world.bots:
            return _api_error(ApiError(401, "Unauthorized"))
        stored = self.world.files_by_path.get(request.match_info["path"])
        if stored is None:
            return _api_error(ApiError(404, "Not Found"))
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # --- webhooks ---------------------------------------------------------------------------

    def _webhook_changed(self, bot: BotAccount) -> None:
        old = self._deliveries.pop(bot.token, None)
        if old is not None:
            task = asyncio.create_task(old.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
        if bot.webhook is not None:
            delivery = WebhookDelivery(
                self.world,
                bot,
                self.api,
                self.stats,
                backoff=self.webhook_backoff,
                backoff_max=self.webhook_backoff_max,
                timeout=self.webhook_timeout,
            )
            self._deliveries[bot.token] = delivery
            delivery.start()


def _api_error(error: ApiError) -> web.Response:
    return web.json_response(error.as_json(), status=error.code, dumps=_dumps)


def _bad_gateway_page() -> web.Response:
    """What a proxy in front of the Bot API answers when it cannot reach it: not Bot API JSON."""
    return web.Response(status=502, text=BAD_GATEWAY_PAGE, content_type="text/html")


async def _read_params(request: web.Request) -> Params:
    """Parameters from the query string and from a JSON, url-encoded or multipart body."""
    values: dict[str, Any] = dict(request.query)
    uploads: dict[str, Upload] = {}
    if request.method == "POST" and request.body_exists:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON encoded request") from None
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: request body must be a JSON object")
            values.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploads[key] = Upload(value.filename, value.content_type, value.file.read())
                else:
                    values[key] = value
    return Params(values, uploads)
