"""Web sessions and CSRF protection for the web channel's pages.

A browser's session is a random id (``secrets.token_urlsafe``, 256 bits) in a cookie signed with
``LIANKA_WEB_SECRET`` by itsdangerous (Pallets; HMAC-SHA256): HttpOnly, SameSite=Lax, Path=/,
Secure and ``__Host-`` prefixed when the public address is HTTPS, seven days after the last page
that used it. Nothing else is in the cookie. What a session holds lives on the server, in rows
keyed by ``WebSession.key`` (SHA-256 of the id): a table never holds the id itself, so a copy of
the database opens no one's session. A cookie whose signature fails is ignored (a new session).

Every form carries a token bound to its session (the session's key signed by itsdangerous with
a separate salt, valid as long as a session); every POST is checked before its handler runs,
and one without a valid token gets a 403 page in Chinese, nothing done.

The API (what a page handler calls):

- ``current_session(request) -> WebSession``: this request's session; a new one when the
  browser sent none, or a bad one (its cookie is then set on the response by the
  ``web_sessions`` middleware, which is in ``web.channel.MIDDLEWARES``). ``.key`` is the one
  value to store.
- ``csrf_token(request) -> str``: the token for this session's forms; put it in a hidden field
  named ``CSRF_FIELD`` (``<input type="hidden" name="csrf_token" value="{{ csrf }}">``).
- ``@require_csrf``: on a POST handler: reads the form (``await request.post()``, which aiohttp
  keeps, so the handler reads it again for free) and answers 403 unless ``CSRF_FIELD`` holds
  this session's token. A handler that reads its body otherwise (a streamed upload) calls
  ``csrf_valid(request, token)`` and ``csrf_refused(request)`` itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps

from aiohttp import web
from aiohttp.typedefs import Handler
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

from web.context import CHANNEL, WebChannel
from web.pages import notice_response, short_token

logger = logging.getLogger(__name__)

SESSION_DAYS = 7
SESSION_MAX_AGE = SESSION_DAYS * 24 * 3600
COOKIE = "lianka_session"
SECURE_COOKIE = "__Host-lianka_session"  # only over HTTPS, only this host, path /
CSRF_FIELD = "csrf_token"
_SESSION_SALT = "lianka.web.session"
_CSRF_SALT = "lianka.web.csrf"
_ID_LENGTH = 43  # secrets.token_urlsafe(32)


@dataclass
class WebSession:
    """One browser's session. ``id`` is the secret in its cookie: never logged, never stored;
    ``key`` is what server-side rows are keyed by."""

    id: str = field(repr=False)
    is_new: bool
    key: str = field(init=False)

    def __post_init__(self) -> None:
        self.key = session_key(self.id)


_REQUEST_SESSION = web.RequestKey("lianka_web_session", WebSession)


def session_key(session_id: str) -> str:
    """The SHA-256 (hex) of a session id: the key of the session's server-side rows."""
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def _signer(channel: WebChannel) -> Signer:
    return Signer(
        channel.secret, salt=_SESSION_SALT, key_derivation="hmac", digest_method=hashlib.sha256
    )


def _csrf_serializer(channel: WebChannel) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        channel.secret,
        salt=_CSRF_SALT,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )


def cookie_name(channel: WebChannel) -> str:
    return SECURE_COOKIE if channel.secure_cookies else COOKIE


def _from_cookie(request: web.Request, channel: WebChannel) -> str | None:
    value = request.cookies.get(cookie_name(channel))
    if not value:
        return None
    try:
        session_id = _signer(channel).unsign(value).decode("ascii")
    except (BadSignature, UnicodeDecodeError):
        logger.info("web session cookie with a bad signature ignored")
        return None
    return session_id if len(session_id) == _ID_LENGTH else None


def current_session(request: web.Request) -> WebSession:
    """This request's session: the cookie's, or a new one (set on the response)."""
    if _REQUEST_SESSION in request:
        return request[_REQUEST_SESSION]
    channel = request.app[CHANNEL]
    session_id = _from_cookie(request, channel)
    session = (
        WebSession(session_id, is_new=False)
        if session_id is not None
        else WebSession(secrets.token_urlsafe(32), is_new=True)
    )
    request[_REQUEST_SESSION] = session
    return session


def csrf_token(request: web.Request) -> str:
    """The token the forms of this request's session carry in ``CSRF_FIELD``."""
    channel = request.app[CHANNEL]
    return str(_csrf_serializer(channel).dumps(current_session(request).key))


def csrf_valid(request: web.Request, token: object) -> bool:
    """Whether ``token`` was made for this request's session (and not longer ago than a
    session lives). A request without a session cookie has no valid token."""
    if not isinstance(token, str) or not token or len(token) > 512:
        return False
    session = current_session(request)
    if session.is_new:
        return False
    try:
        signed = _csrf_serializer(request.app[CHANNEL]).loads(token, max_age=SESSION_MAX_AGE)
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, session.key)


def _logged_path(request: web.Request) -> str:
    """The route's address as a log line may hold it: a card's token (``{token}``) cut to its
    first six characters, never the whole address (it opens the card)."""
    resource = request.match_info.route.resource
    if resource is None:
        return "?"
    parts = {name: short_token(value) for name, value in request.match_info.items()}
    try:
        return resource.canonical.format_map(parts)
    except (KeyError, IndexError, ValueError):
        return resource.canonical


def csrf_refused(request: web.Request) -> web.Response:
    """The 403 page for a form without a valid token: nothing was done."""
    logger.info("web form refused: missing or wrong CSRF token (%s)", _logged_path(request))
    return notice_response(
        request,
        request.app[CHANNEL],
        title="页面已过期",
        lines=[
            "页面已过期或无法确认来源，本次提交未被受理。",
            "请返回重新打开联系卡页面后再填写。",
        ],
        status=403,
        refused=True,
    )


def require_csrf(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A POST handler runs only with a valid ``CSRF_FIELD`` in its form; else 403."""

    @wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            form = await request.post()
            if not csrf_valid(request, form.get(CSRF_FIELD)):
                return csrf_refused(request)
        return await handler(request)

    return checked


@web.middleware
async def web_sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """After a page that used the session: its cookie, for another ``SESSION_DAYS``."""
    response = await handler(request)
    if _REQUEST_SESSION in request and not response.prepared:
        session = request[_REQUEST_SESSION]
        channel = request.app[CHANNEL]
        response.set_cookie(
            cookie_name(channel),
            _signer(channel).sign(session.id).decode("ascii"),
            max_age=SESSION_MAX_AGE,
            path="/",
            secure=channel.secure_cookies,
            httponly=True,
            samesite="Lax",
        )
    return response
