"""A fake Telegram Bot API over real HTTP: sendMessage and sendDocument at /bot<token>/<method>.

Every ``fault_every``-th call misbehaves, cycling through ``faults``: ``429`` (with
``retry_after``), ``500``, ``slow`` (answers late but delivers) and ``timeout`` (holds the request
past the client's timeout and never delivers, as a request lost on the way). Chats in
``forbidden`` answer 403. Every request is recorded with the server's receive time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiohttp import web
from aiohttp.web_request import FileField

TOKEN = "42:FAKE-TOKEN"


@dataclass(frozen=True)
class Call:
    method: str
    chat_id: int
    text: str
    received: float  # the server's loop.time() when the request arrived
    outcome: str  # ok, 429, 500, slow, timeout, 403
    message_id: int | None = None
    file_name: str | None = None  # an uploaded document's name and bytes
    file_bytes: bytes | None = None
    reply_markup: dict[str, Any] | None = None  # as the request carried it


@dataclass
class FakeBotApi:
    fault_every: int = 5
    faults: tuple[str, ...] = ("429", "500", "slow", "timeout")
    retry_after: int = 1
    slow: float = 0.3  # well inside the client's timeout, even on a busy machine
    hang: float = 1.5  # well past it
    forbidden: set[int] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(5001))
    _arrivals: itertools.count[int] = field(default_factory=itertools.count)
    _runner: web.AppRunner | None = None
    _busy: int = 0
    url: str = ""

    @property
    def delivered(self) -> list[Call]:
        return [c for c in self.calls if c.outcome in ("ok", "slow")]

    def _fault(self, n: int) -> str | None:
        if self.fault_every and n % self.fault_every == self.fault_every - 1:
            return self.faults[(n // self.fault_every) % len(self.faults)]
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        self._busy += 1
        try:
            return await self._answer(request)
        finally:
            self._busy -= 1

    async def _answer(self, request: web.Request) -> web.Response:
        received = asyncio.get_running_loop().time()
        method = request.match_info["method"]
        if request.match_info["token"] != TOKEN:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        form = await request.post()
        chat_id = int(str(form.get("chat_id", "0")))
        text = str(form.get("text") or form.get("caption") or "")
        n = next(self._arrivals)
        if chat_id in self.forbidden:
            self.calls.append(Call(method, chat_id, text, received, "403"))
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot was blocked by the user",
                },
                status=403,
            )
        fault = self._fault(n)
        if fault == "429":
            self.calls.append(Call(method, chat_id, text, received, "429"))
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {self.retry_after}",
                    "parameters": {"retry_after": self.retry_after},
                },
                status=429,
            )
        if fault == "500":
            self.calls.append(Call(method, chat_id, text, received, "500"))
            return web.json_response(
                {"ok": False, "error_code": 500, "description": "Internal Server Error"},
                status=500,
            )
        if fault == "timeout":
            self.calls.append(Call(method, chat_id, text, received, "timeout"))
            await asyncio.sleep(self.hang)
            return web.json_response(
                {"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502
            )
        if fault == "slow":
            await asyncio.sleep(self.slow)
        message_id = next(self._ids)
        upload = form.get("document")
        if isinstance(upload, str) and upload.startswith("attach://"):  # how aiogram uploads
            upload = form.get(upload.removeprefix("attach://"))
        file_name, file_bytes = (
            (upload.filename, upload.file.read()) if isinstance(upload, FileField) else (None, None)
        )
        markup = form.get("reply_markup")
        self.calls.append(
            Call(
                method,
                chat_id,
                text,
                received,
                fault or "ok",
                message_id,
                file_name,
                file_bytes,
                json.loads(markup) if isinstance(markup, str) else None,
            )
        )
        result: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
        }
        if method == "sendDocument":
            result["document"] = {
                "file_id": f"doc-{message_id}",
                "file_unique_id": f"u{message_id}",
            }
            result["caption"] = text
        else:
            result["text"] = text
        return web.json_response({"ok": True, "result": result})

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        await web.SockSite(self._runner, listener).start()
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        for _ in range(60):
            if not self._busy:
                break
            await asyncio.sleep(0.05)
        if self._runner is not None:
            await self._runner.cleanup()

    def bot(self, timeout: float = 1.0) -> Bot:
        """A Bot pointed at this server, giving up on a request after ``timeout`` seconds."""
        session = AiohttpSession(api=TelegramAPIServer.from_base(self.url), timeout=timeout)
        return Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


@asynccontextmanager
async def serving(api: FakeBotApi, timeout: float = 1.0) -> AsyncIterator[Bot]:
    """The emulator started and a Bot on it (``FakeBotApi.bot``); both closed after."""
    await api.start()
    bot = api.bot(timeout=timeout)
    try:
        yield bot
    finally:
        await bot.session.close()
        await api.stop()
