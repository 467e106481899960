"""The control API: JSON over HTTP under ``/_sandbox/`` to act as Telegram users and steer the
emulator. The page uses it, and so can end-to-end tests running the bot in another process.

Every answer is ``{"ok": true, ...}``, or ``{"ok": false, "error": "..."}`` with status 400
(something a Telegram client would not allow) or 404 (no such user or file). Bodies are JSON
objects; photo and document also take multipart with a ``file`` part. ``?bot=<id or username>``
picks the bot when the emulator has more than one.

    GET  /info                     bots, personas, users, faults, limits, stats
    GET  /personas                 {"bot", "personas": [{key, user_id, name, role, start_payload,
                                    phone_number, description}]}
    POST /users                    {id, first_name, last_name?, username?, phone_number?} -> {"user"}
    GET  /users/{id}/chat          ?since=<version>&wait=<s ≤ 30>: waits until the chat's version
                                   passes ``since``; -> {version, bot, user, started, blocked,
                                   messages: [entry], reply_keyboard, alerts, chat_action, commands}
    POST /users/{id}/start         {payload?}            -> {"message": entry}   (/start payload)
    POST /users/{id}/text          {text, reply_to_message_id?}                -> {"message": entry}
    POST /users/{id}/contact       {phone_number?, first_name?, last_name?}    -> {"message": entry}
                                   (no phone_number: the user's own, with contact.user_id)
    POST /users/{id}/photo         {data_base64, filename?, caption?}          -> {"message": entry}
    POST /users/{id}/document      {data_base64, filename, mime_type?, caption?} -> {"message": entry}
    POST /users/{id}/voice         {data_base64?, duration?}                   -> {"message": entry}
    POST /users/{id}/press         {data, message_id?, wait?} -> {"callback": {callback_query_id,
                                   message_id, data, answered, answer: {text, show_alert, url}}}
    POST /users/{id}/click         {text, message_id?, wait?}: an inline button by label ->
                                   {"callback"}, else a reply-keyboard button -> {"message"}
    POST /users/{id}/block         {blocked: true|false} -> {"blocked"}
    GET  /files/{file_id}          the file's bytes
    GET|POST /faults               {error_429, error_500, slow, error_html, slow_seconds,
                                   retry_after, seed, methods} -> {"faults"}
    GET|POST /limits               {enabled, overall_per_second, per_chat_per_second} -> {"limits"}
    GET  /stats                    {calls, injected, rate_limited, served_429, errors,
                                   webhook_deliveries, webhook_failures}

A transcript ``entry`` is ``{message_id, from_bot, text (text or caption), edited, message (the
Bot API Message), reply_markup (as the bot sent it, reply keyboards included)}``.
"""

from __future__ import annotations

import base64
import binascii
import json
from functools import partial
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Handler

from sandbox.faults import FaultPlan, RateLimits
from sandbox.world import CallbackRecord, SandboxError, SandboxUser, StoredMessage

if TYPE_CHECKING:
    from sandbox.emulator import Emulator

PREFIX = "/_sandbox"
MAX_WAIT = 30.0
_dumps = partial(json.dumps, ensure_ascii=False)


def ok(**body: Any) -> web.Response:
    return web.json_response({"ok": True, **body}, dumps=_dumps)


def refuse(error: str, status: int = 400) -> web.Response:
    return web.json_response({"ok": False, "error": error}, status=status, dumps=_dumps)


class ControlApi:
    """Handlers bound to one emulator; mount them on any aiohttp app with :meth:`add_to`."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def add_to(self, app: web.Application) -> None:
        p = PREFIX
        app.router.add_get(f"{p}/info", self.info)
        app.router.add_get(f"{p}/personas", self.personas)
        app.router.add_post(f"{p}/users", self.create_user)
        app.router.add_get(f"{p}/users/{{user_id:\\d+}}/chat", self.chat)
        app.router.add_post(f"{p}/users/{{user_id:\\d+}}/start", self.start)
        app.router.add_post(f"{p}/users/{{user_id:\\d+}}/text", self.text)
        app.router.add_post(f"{p}/users/{{user_id:\\d+}}/contact", self.contact)
        app.router.add_post(f"{p}/users/{{user_id:\\d+}}/photo", self.photo)
        app.router.add_post(f"{p}/users/{{user_id:\\d+}}/document", self.document)
        app.router.add_post(f"{p}/users/{{user_id:\\d+}}/voice", self.voice)
        app.router.add_post(f"{p}/users/{{user_id:\\d+}}/press", self.press)
        app.router.add_post(f"{p}/users/{{user_id:\\d+}}/click", self.click)
        app.router.add_post(f"{p}/users/{{user_id:\\d+}}/block", self.block)
        app.router.add_get(f"{p}/files/{{file_id}}", self.file)
        app.router.add_get(f"{p}/faults", self.get_faults)
        app.router.add_post(f"{p}/faults", self.set_faults)
        app.router.add_get(f"{p}/limits", self.get_limits)
        app.router.add_post(f"{p}/limits", self.set_limits)
        app.router.add_get(f"{p}/stats", self.stats)

    # --- helpers ----------------------------------------------------------------------------

    def _user(self, request: web.Request) -> SandboxUser:
        user_id = int(request.match_info["user_id"])
        if user_id not in self.emulator.world.users:
            raise web.HTTPNotFound(
                text=_dumps({"ok": False, "error": f"no user {user_id}"}),
                content_type="application/json",
            )
        return self.emulator.user(user_id, bot=request.query.get("bot"))

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        if not request.body_exists:
            return {}
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise SandboxError("the body is not valid JSON") from None
            if not isinstance(body, dict):
                raise SandboxError("the body must be a JSON object")
            return body
        return dict(await request.post())

    @staticmethod
    def _file(body: dict[str, Any], default_name: str) -> tuple[bytes, str, str | None]:
        """Bytes, file name and type from a multipart ``file`` part or JSON ``data_base64``."""
        part = body.get("file")
        if isinstance(part, web.FileField):
            return part.file.read(), part.filename or default_name, part.content_type
        encoded = body.get("data_base64")
        if not isinstance(encoded, str):
            raise SandboxError("send the file as a multipart 'file' part or as JSON 'data_base64'")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise SandboxError("data_base64 is not valid base64") from None
        return data, str(body.get("filename") or default_name), body.get("mime_type")

    @staticmethod
    def _message(message: StoredMessage) -> web.Response:
        return ok(message=message.as_json())

    async def _callback(self, record: CallbackRecord, wait: Any) -> web.Response:
        seconds = min(float(wait or 0), MAX_WAIT)
        if seconds > 0 and not record.answered:
            await self.emulator.world.wait(lambda: record.answered, seconds)
        return ok(callback=record.as_json())

    # --- endpoints --------------------------------------------------------------------------

    async def info(self, request: web.Request) -> web.Response:
        emulator = self.emulator
        return ok(
            bots=[bot.as_json() for bot in emulator.world.bots.values()],
            personas=[persona.as_json() for persona in emulator.personas],
            users=[user.as_json() for user in emulator.world.users.values()],
            faults=emulator.faults.as_json(),
            limits=emulator.limits.as_json(),
            stats=emulator.stats.as_json(),
        )

    async def personas(self, request: web.Request) -> web.Response:
        bot = self.emulator.world.bot(request.query.get("bot"))
        return ok(
            bot=bot.as_json(), personas=[persona.as_json() for persona in self.emulator.personas]
        )

    async def create_user(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        try:
            user_id = int(body["id"])
        except (KeyError, TypeError, ValueError):
            raise SandboxError("id (a positive integer) is required") from None
        first_name = str(body.get("first_name") or "").strip()
        if not first_name:
            raise SandboxError("first_name is required")
        user = self.emulator.world.add_user(
            user_id,
            first_name,
            last_name=body.get("last_name"),
            username=body.get("username"),
            phone_number=body.get("phone_number"),
        )
        return ok(user=user.as_json())

    async def chat(self, request: web.Request) -> web.Response:
        user = self._user(request)
        since = int(request.query.get("since", "-1"))
        wait = min(float(request.query.get("wait", "0")), MAX_WAIT)
        if wait > 0:
            await self.emulator.world.wait(lambda: user.chat.version > since, wait)
        return ok(**user.transcript())

    async def start(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        return self._message(self._user(request).start(body.get("payload")))

    async def text(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise SandboxError("text is required")
        reply_to = body.get("reply_to_message_id")
        return self._message(
            self._user(request).send(text, int(reply_to) if reply_to is not None else None)
        )

    async def contact(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        return self._message(
            self._user(request).send_contact(
                body.get("phone_number"), body.get("first_name"), body.get("last_name")
            )
        )

    async def photo(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        data, filename, _ = self._file(body, "photo.jpg")
        caption = body.get("caption") or None
        return self._message(self._user(request).send_photo(data, caption, filename))

    async def document(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        data, filename, mime_type = self._file(body, "file.bin")
        caption = body.get("caption") or None
        return self._message(self._user(request).send_document(data, filename, mime_type, caption))

    async def voice(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self._user(request)
        duration = int(body.get("duration") or 3)
        if "data_base64" in body or "file" in body:
            data, _, _ = self._file(body, "voice.ogg")
            return self._message(user.send_voice(data, duration))
        return self._message(user.send_voice(duration=duration))

    async def press(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        data = body.get("data")
        if not isinstance(data, str):
            raise SandboxError("data is required")
        message_id = body.get("message_id")
        record = self._user(request).press(
            data, int(message_id) if message_id is not None else None
        )
        return await self._callback(record, body.get("wait"))

    async def click(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        text = body.get("text")
        if not isinstance(text, str):
            raise SandboxError("text is required")
        message_id = body.get("message_id")
        result = self._user(request).click(
            text, int(message_id) if message_id is not None else None
        )
        if isinstance(result, CallbackRecord):
            return await self._callback(result, body.get("wait"))
        return self._message(result)

    async def block(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        user = self._user(request)
        user.block(bool(body.get("blocked", True)))
        return ok(blocked=user.chat.blocked)

    async def file(self, request: web.Request) -> web.StreamResponse:
        stored = self.emulator.world.files.get(request.match_info["file_id"])
        if stored is None:
            return refuse("no such file", 404)
        headers = {"Cache-Control": "private, max-age=3600"}
        return web.Response(
            body=stored.data,
            content_type=stored.mime_type
            or ("image/jpeg" if stored.kind == "photo" else "application/octet-stream"),
            headers=headers,
        )

    async def get_faults(self, request: web.Request) -> web.Response:
        return ok(faults=self.emulator.faults.as_json())

    async def set_faults(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self.emulator.faults = FaultPlan.from_json(body)
        return ok(faults=self.emulator.faults.as_json())

    async def get_limits(self, request: web.Request) -> web.Response:
        return ok(limits=self.emulator.limits.as_json())

    async def set_limits(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        self.emulator.limits = RateLimits.from_json(body)
        return ok(limits=self.emulator.limits.as_json())

    async def stats(self, request: web.Request) -> web.Response:
        return ok(stats=self.emulator.stats.as_json())


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A SandboxError (what a Telegram client would not allow) answers 400 with its message."""
    try:
        return await handler(request)
    except (SandboxError, ValueError) as error:
        if not request.path.startswith(PREFIX):
            raise
        return refuse(str(error))
