"""The sandbox as one thing to start and stop: the emulator on one port, the page on another."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field

from aiohttp import web

from sandbox.emulator import BotSpec, Emulator
from sandbox.faults import FaultPlan, RateLimits
from sandbox.personas import (
    DEFAULT_PERSONAS,
    SANDBOX_BOT_NAME,
    SANDBOX_BOT_TOKEN,
    SANDBOX_BOT_USERNAME,
    Persona,
)
from sandbox.web import create_page_app

Cleanup = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class CardPage:
    """A demo card's web landing page, linked from the sandbox page."""

    enterprise: str
    holder: str
    url: str

    def as_json(self) -> dict[str, str]:
        return {"enterprise": self.enterprise, "holder": self.holder, "url": self.url}


OnReady = Callable[["Sandbox"], Awaitable[Cleanup | None]]


@dataclass(frozen=True)
class SandboxOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    api_port: int = 8081
    web_port: int = 8082  # Lianka's own pages (the web channel), when Lianka serves in the sandbox
    bot_token: str = SANDBOX_BOT_TOKEN
    bot_username: str = SANDBOX_BOT_USERNAME
    bot_name: str = SANDBOX_BOT_NAME
    personas: Sequence[Persona] = field(default_factory=lambda: DEFAULT_PERSONAS)
    faults: FaultPlan = field(default_factory=FaultPlan)
    limits: RateLimits = field(default_factory=RateLimits)


class Sandbox:
    """A running emulator and page. ``api_base`` is what a bot's LIANKA_TELEGRAM_API_BASE gets."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.emulator = Emulator(
            bots=[BotSpec(options.bot_token, options.bot_username, options.bot_name)],
            personas=options.personas,
            faults=options.faults,
            limits=options.limits,
        )
        self._page: web.AppRunner | None = None
        self.page_url = ""
        self.card_pages: list[CardPage] = []  # filled once Lianka's web channel listens

    @property
    def api_base(self) -> str:
        return self.emulator.base_url

    @property
    def bot_token(self) -> str:
        return self.options.bot_token

    async def start(self) -> None:
        options = self.options
        await self.emulator.start(options.host, options.api_port)
        try:
            self._page = web.AppRunner(
                create_page_app(self.emulator, lambda: self.card_pages),
                shutdown_timeout=1.0,
                access_log=None,
            )
            await self._page.setup()
            await web.TCPSite(self._page, options.host, options.port).start()
        except BaseException:
            await self.stop()
            raise
        self.page_url = f"http://{options.host}:{self._page.addresses[-1][1]}/"

    async def stop(self) -> None:
        await self.emulator.stop()
        if self._page is not None:
            await self._page.cleanup()
            self._page = None

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def run_sandbox(
    options: SandboxOptions,
    *,
    on_ready: OnReady | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve the sandbox until SIGINT/SIGTERM (or ``stop`` is set).

    ``on_ready`` is awaited once the emulator and the page listen: the place to start a bot with
    ``LIANKA_TELEGRAM_API_BASE=sandbox.api_base`` and ``sandbox.bot_token``. It may return a
    cleanup coroutine function, awaited at shutdown before the sandbox closes.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    handled: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, stop.set)
            handled.append(sig)
    try:
        async with Sandbox(options) as sandbox:
            cleanup = await on_ready(sandbox) if on_ready is not None else None
            try:
                await stop.wait()
            finally:
                if cleanup is not None:
                    await cleanup()
    finally:
        for sig in handled:
            loop.remove_signal_handler(sig)
