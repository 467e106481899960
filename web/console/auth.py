"""Who is at the console: the sign-in pages (password, then a TOTP code where the account has
one), the session cookie, CSRF on every form, and the middleware that lets no other console
page run without a signed-in, enabled person read from the database on that request.

The cookie holds a random id (256 bits); the server keeps the session by its SHA-256
(``bot.services.accounts``), so signing out or disabling an account ends it everywhere. Forms
of a signed-in session carry the session key signed with ``LIANKA_WEB_SECRET`` (its own salt);
the sign-in forms, before there is a session, carry a signed copy of a random value also set
as a cookie (double submit)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime
from urllib.parse import quote

from aiohttp import web
from aiohttp.typedefs import Handler
from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer
from sqlalchemy.orm.exc import StaleDataError

from bot.services import accounts, console_sessions
from bot.services.accounts import SignInRefused, WrongCode
from models.account import SESSION_ABSOLUTE
from models.errors import (
    ConcurrentChange,
    DomainError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    StaleAction,
)
from web.console.context import ATTEMPT_LIMIT, CONSOLE, CONSOLE_PREFIX, SIGN_IN_LIMIT, Console
from web.console.render import CSRF, NOTICE, PENDING_NOTICE, STAFF, console_page
from web.context import client_address

logger = logging.getLogger(__name__)

COOKIE = "lianka_console"
SECURE_COOKIE = "__Secure-lianka_console"
LOGIN_COOKIE = "lianka_console_login"
COOKIE_PATH = "/console/"
CSRF_FIELD = "csrf_token"
_CSRF_SALT = "lianka.console.csrf"
_LOGIN_SALT = "lianka.console.login"
PUBLIC = frozenset(
    f"{CONSOLE_PREFIX}{name}" for name in ("login", "login-post", "code", "code-post", "reset", "reset-post", "static")
)  # fmt: skip

CONSOLE_HEADERS = {
    # No script; images, audio and PDFs of a case from our own routes only.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; media-src 'self'; "
        "object-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
        "frame-ancestors 'self'"
    ),
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
}
STATUS = {PermissionDenied: 403, NotFound: 404, StaleAction: 409, ConcurrentChange: 409}
TOO_MANY = "登录失败次数过多，请10分钟后再试。"


def _cookie(console: Console) -> str:
    return SECURE_COOKIE if console.secure_cookies else COOKIE


def _session_key(request: web.Request) -> str | None:
    value = request.cookies.get(_cookie(request.app[CONSOLE]), "")
    if len(value) != 43:  # secrets.token_urlsafe(32)
        return None
    return accounts.session_key(value)


def _csrf(console: Console) -> URLSafeSerializer:
    return URLSafeSerializer(
        console.secret,
        salt=_CSRF_SALT,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )


def _login_csrf(console: Console) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        console.secret,
        salt=_LOGIN_SALT,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )


def _matches(
    serializer: URLSafeSerializer | URLSafeTimedSerializer, token: object, want: str
) -> bool:
    if not isinstance(token, str) or not token or len(token) > 512 or not want:
        return False
    try:
        if isinstance(serializer, URLSafeTimedSerializer):
            signed = serializer.loads(token, max_age=int(SESSION_ABSOLUTE.total_seconds()))
        else:
            signed = serializer.loads(token)
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, want)


def _client(request: web.Request) -> str:
    return client_address(request, request.app[CONSOLE].trusted_proxies)


def _error_page(request: web.Request, error: DomainError) -> web.Response:
    status = next((code for kind, code in STATUS.items() if isinstance(error, kind)), 400)
    if status != 400:
        logger.info("console %s refused: %s", request.path, error.detail or type(error).__name__)
    return console_page(request, "error", title="无法完成", status=status, message=error.message)


def _csrf_refused(request: web.Request) -> web.Response:
    logger.info("console form refused: missing or wrong CSRF token (%s)", request.path)
    return console_page(
        request,
        "error",
        title="页面已过期",
        status=403,
        message="页面已过期或无法确认来源，本次操作未执行。请返回刷新页面后再试。",
    )


def _too_large(request: web.Request) -> web.Response:
    """A form over the application's ``client_max_size`` (aiohttp's 1 MiB: the channel's own
    uploads stream past it): a Chinese page instead of aiohttp's plain 413."""
    return console_page(
        request,
        "error",
        title="文件过大",
        status=413,
        message="提交的内容超过1MB，未被接收。请拆分成较小的文件（如每次约5,000家企业）后分次上传。",
    )


def _to_sign_in(request: web.Request) -> web.HTTPSeeOther:
    target = request.path_qs if request.method == "GET" else "/console/"
    return web.HTTPSeeOther(f"/console/login?next={quote(target, safe='')}")


async def _guarded(request: web.Request, handler: Handler, console: Console) -> web.StreamResponse:
    key = _session_key(request)
    async with console.sessions() as session:
        staff = (
            await console_sessions.current_staff(
                session, key, now=console.clock.now(), client=_client(request)
            )
            if key
            else None
        )
        if staff is None:
            raise _to_sign_in(request)
        await console.calendars.policy(session)  # re-read the calendar at most once a minute
        request[STAFF] = staff
        request[CSRF] = _csrf(console).dumps(staff.session.key)
        notice = await console_sessions.take_notice(session, staff.session.key)
    if notice:
        request[NOTICE] = notice
    if request.method == "POST":
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            return _too_large(request)
        if not _matches(_csrf(console), form.get(CSRF_FIELD), staff.session.key):
            return _csrf_refused(request)
    try:
        return await handler(request)
    except web.HTTPSeeOther:
        if PENDING_NOTICE in request:
            async with console.sessions() as session:
                await console_sessions.leave_notice(
                    session, staff.session.key, request[PENDING_NOTICE]
                )
        raise


@web.middleware
async def console_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Console pages only for a signed-in person (else the sign-in page), every POST with its
    CSRF token (else 403, nothing done), domain errors as pages, nothing cached."""
    name = request.match_info.route.name or ""
    if not name.startswith(CONSOLE_PREFIX) and not request.path.startswith("/console/"):
        return await handler(request)  # everything under /console/ is guarded, named or not
    console = request.app[CONSOLE]
    try:
        if name in PUBLIC:
            response = await handler(request)
        else:
            response = await _guarded(request, handler, console)
    except DomainError as error:
        response = _error_page(request, error)
    except StaleDataError:  # a row changed by someone else between reading and writing it
        logger.info("console %s: concurrent change refused", request.path)
        response = _error_page(request, ConcurrentChange())
    except web.HTTPException as error:
        error.headers.update(CONSOLE_HEADERS)
        raise
    if name != f"{CONSOLE_PREFIX}static":
        response.headers.update(CONSOLE_HEADERS)
    return response


def _set_session_cookie(response: web.StreamResponse, console: Console, session_id: str) -> None:
    response.set_cookie(
        _cookie(console),
        session_id,
        path=COOKIE_PATH,
        secure=console.secure_cookies,
        httponly=True,
        samesite="Lax",
    )


def _safe_next(value: object) -> str:
    """Only a console address of ours: no other host, no scheme, no backslash tricks."""
    if isinstance(value, str) and value.startswith("/console/") and len(value) < 500:
        return value if "\\" not in value else "/console/"
    return "/console/"


def _login_form(
    request: web.Request, *, status: int = 200, error: str | None = None, username: str = ""
) -> web.Response:
    console = request.app[CONSOLE]
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    messages = {"out": "您已安全退出。", "reset": "密码已设置，请用新密码登录。"}
    response = console_page(
        request,
        "login",
        title="登录",
        status=status,
        error=error,
        username=username,
        next=_safe_next(request.query.get("next")),
        info=messages.get(request.query.get("done", "")),
        login_csrf=_login_csrf(console).dumps(nonce),
    )
    response.set_cookie(
        LOGIN_COOKIE, nonce, path=COOKIE_PATH, secure=console.secure_cookies, httponly=True, samesite="Lax"
    )  # fmt: skip
    return response


async def _may_try(request: web.Request, now: datetime) -> bool:
    """Whether this address may try a password or code now: every attempt is counted first
    (a burst in parallel stops at ``ATTEMPT_LIMIT``), and the failures so far must be under
    ``SIGN_IN_LIMIT`` (each failure is counted when it is known)."""
    limiter, client = request.app[CONSOLE].limiter, _client(request)
    if not await limiter.hit(ATTEMPT_LIMIT, client, now):
        return False
    return await limiter.remaining(SIGN_IN_LIMIT, client, now) > 0


def _login_csrf_ok(request: web.Request, token: object) -> bool:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    return _matches(_login_csrf(request.app[CONSOLE]), token, nonce)


async def login_page(request: web.Request) -> web.StreamResponse:
    """登录: 用户名 and 密码."""
    return _login_form(request)


async def login_post(request: web.Request) -> web.StreamResponse:
    """The password step; then the code step, or the page asked for."""
    console = request.app[CONSOLE]
    form = await request.post()
    username = str(form.get("username", ""))[:40]
    if not _login_csrf_ok(request, form.get(CSRF_FIELD)):
        return _login_form(request, status=403, error="页面已过期，请重新登录。", username=username)
    now = console.clock.now()
    if not await _may_try(request, now):
        return _login_form(request, status=429, error=TOO_MANY, username=username)
    try:
        async with console.sessions() as session:
            signed = await accounts.sign_in(
                session, username, str(form.get("password", "")), now=now, client=_client(request)
            )
    except SignInRefused as refused:
        await console.limiter.hit(SIGN_IN_LIMIT, _client(request), now)
        return _login_form(request, status=401, error=refused.message, username=username)
    next_page = _safe_next(form.get("next"))
    target = (
        f"/console/login/code?next={quote(next_page, safe='')}" if signed.needs_code else next_page
    )
    response = web.HTTPSeeOther(target)
    _set_session_cookie(response, console, signed.session_id)
    raise response


def _code_form(
    request: web.Request, *, status: int = 200, error: str | None = None
) -> web.Response:
    return console_page(
        request,
        "login_code",
        title="动态验证码",
        status=status,
        error=error,
        next=_safe_next(request.query.get("next")),
        login_csrf=_login_csrf(request.app[CONSOLE]).dumps(request.cookies.get(LOGIN_COOKIE, "")),
    )


async def code_page(request: web.Request) -> web.StreamResponse:
    """The second step: the six digits the authenticator app shows."""
    if _session_key(request) is None:
        raise web.HTTPSeeOther("/console/login")
    return _code_form(request)


async def code_post(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    form = await request.post()
    key = _session_key(request)
    if key is None or not _login_csrf_ok(request, form.get(CSRF_FIELD)):
        return _login_form(request, status=403, error="页面已过期，请重新登录。")
    now = console.clock.now()
    if not await _may_try(request, now):
        return _code_form(request, status=429, error=TOO_MANY)
    try:
        async with console.sessions() as session:
            await accounts.verify_code(
                session, key, str(form.get("code", ""))[:12], now=now, client=_client(request)
            )
    except SignInRefused as refused:
        await console.limiter.hit(SIGN_IN_LIMIT, _client(request), now)
        return _refused_code(request, refused)
    raise web.HTTPSeeOther(_safe_next(form.get("next")))


def _refused_code(request: web.Request, refused: SignInRefused) -> web.Response:
    if isinstance(refused, WrongCode):
        return _code_form(request, status=401, error=refused.message)
    return _login_form(request, status=401, error=refused.message)


async def logout(request: web.Request) -> web.StreamResponse:
    """退出: the session ends on the server at once."""
    console = request.app[CONSOLE]
    staff = request[STAFF]
    async with console.sessions() as session:
        await console_sessions.sign_out(
            session, staff.session.key, now=console.clock.now(), client=_client(request)
        )
    response = web.HTTPSeeOther("/console/login?done=out")
    response.del_cookie(_cookie(console), path=COOKIE_PATH)
    raise response


def _reset_form(
    request: web.Request, *, status: int = 200, error: str | None = None, username: str = ""
) -> web.Response:
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(16)
    console = request.app[CONSOLE]
    response = console_page(
        request,
        "reset",
        title="设置密码",
        status=status,
        error=error,
        username=username,
        login_csrf=_login_csrf(console).dumps(nonce),
    )
    response.set_cookie(
        LOGIN_COOKIE, nonce, path=COOKIE_PATH, secure=console.secure_cookies, httponly=True, samesite="Lax"
    )  # fmt: skip
    return response


async def reset_page(request: web.Request) -> web.StreamResponse:
    """The one-time link: set a password (the link is spent when it is set)."""
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        account = await accounts.account_for_reset(
            session, request.match_info["code"], console.clock.now()
        )
    return _reset_form(request, username=account.username)


async def reset_post(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    form = await request.post()
    if not _login_csrf_ok(request, form.get(CSRF_FIELD)):
        return _reset_form(request, status=403, error="页面已过期，请重新打开链接。")
    password = str(form.get("password", ""))
    if password != str(form.get("password_again", "")):
        return _reset_form(request, status=400, error="两次输入的密码不一致，请重新输入。")
    try:
        async with console.sessions() as session:
            await accounts.set_password(
                session,
                request.match_info["code"],
                password,
                now=console.clock.now(),
                client=_client(request),
            )
    except InvalidInput as error:
        return _reset_form(request, status=400, error=error.message)
    raise web.HTTPSeeOther("/console/login?done=reset")


def add_sign_in(router: web.UrlDispatcher) -> None:
    p = CONSOLE_PREFIX
    router.add_get("/console/login", login_page, name=f"{p}login", allow_head=False)
    router.add_post("/console/login", login_post, name=f"{p}login-post")
    router.add_get("/console/login/code", code_page, name=f"{p}code", allow_head=False)
    router.add_post("/console/login/code", code_post, name=f"{p}code-post")
    router.add_post("/console/logout", logout, name=f"{p}logout")
    router.add_get("/console/reset/{code}", reset_page, name=f"{p}reset", allow_head=False)
    router.add_post("/console/reset/{code}", reset_post, name=f"{p}reset-post")
