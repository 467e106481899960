"""The web channel added to an aiohttp application: its routes, its static files, the security
headers every response carries and the cap on request bodies. The same routes serve inside
``lianka run`` (beside the webhook, ``/healthz`` and ``/metrics``) and alone (``lianka web``)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, MutableMapping

from aiohttp import web
from aiohttp.typedefs import Handler

from web import pages, report
from web.console.auth import console_guard
from web.context import CHANNEL, ROUTE_PREFIX, STATIC, WebChannel
from web.session import web_sessions
from web.track import add_tracking
from web.uploads import BODY_TOO_LARGE, UPLOAD_MAX_BODY

logger = logging.getLogger(__name__)

# The web report's forms are text: a description of 2,000 characters is 18 KB as a form; the
# cap leaves room for one pasted far over the limit, to be refused with its length rather than
# lost. Uploads get their own cap per route (ROUTE_BODY_CAPS).
MAX_BODY = 64 * 1024
UPLOAD_ROUTES = frozenset({f"{ROUTE_PREFIX}report-materials", f"{ROUTE_PREFIX}track-materials"})
ROUTE_BODY_CAPS = {
    f"{ROUTE_PREFIX}report-form": 256 * 1024,
    # 相关材料 and 补充材料 on /t: ten files of 20 MB
    **dict.fromkeys(UPLOAD_ROUTES, UPLOAD_MAX_BODY),
}

TOO_LARGE = [
    "您提交的内容过多，未被接收。",
    "请返回上一页，将文字精简后重新提交；较多的材料请以图片或文件分次上传。",
]

SECURITY_HEADERS = {
    # No script at all yet (pages work without JavaScript); nothing from another origin.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=(), payment=()",
    "X-Robots-Tag": "noindex, nofollow",
}
PAGE_CACHE = "no-store"  # a page names a card and its enterprise: kept by no cache
STATIC_CACHE = "public, max-age=86400"


def _is_channel_route(request: web.Request) -> bool:
    name = request.match_info.route.name
    return name is not None and name.startswith(ROUTE_PREFIX)


def _set_defaults(headers: MutableMapping[str, str]) -> None:
    """The headers, where a part of the server (the console) has not set its own."""
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every response, error pages included, carries the headers; pages are never cached."""
    try:
        response = await handler(request)
    except web.HTTPException as error:
        if error.status == 404 and CHANNEL in request.app:
            response = pages.not_found(request, request.app[CHANNEL])
        else:
            _set_defaults(error.headers)
            raise
    _set_defaults(response.headers)
    if request.match_info.route.name == f"{ROUTE_PREFIX}static":
        response.headers["Cache-Control"] = STATIC_CACHE
    elif _is_channel_route(request) or response.status == 404:
        response.headers["Cache-Control"] = PAGE_CACHE
    return response


@web.middleware
async def body_cap(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The channel's routes refuse a body over their cap (``ROUTE_BODY_CAPS``, else
    ``MAX_BODY``) before reading any of it (the
    application's ``client_max_size`` stops a body sent without a length)."""
    route = request.match_info.route.name or ""
    cap = ROUTE_BODY_CAPS.get(route, MAX_BODY)
    if _is_channel_route(request) and (request.content_length or 0) > cap:
        logger.info("web request refused: body over the route's cap")
        lines = [BODY_TOO_LARGE] if route in UPLOAD_ROUTES else TOO_LARGE  # files, or a form
        return pages.notice_response(
            request, request.app[CHANNEL], title="提交的内容过多", lines=lines, status=413
        )
    return await handler(request)


MIDDLEWARES = (security_headers, body_cap, web_sessions, console_guard)


def add_web_channel(app: web.Application, channel: WebChannel) -> None:
    """The pages and static files on ``app``, which must be built with ``MIDDLEWARES``."""
    app[CHANNEL] = channel

    async def write_scans(app: web.Application) -> AsyncIterator[None]:
        # Every second while serving; at the end, after the requests in hand (a stop on SIGTERM
        # writes every scan counted; a crash loses the last second's).
        channel.scans.start()
        yield
        await channel.scans.close()

    async def close_limiter(app: web.Application) -> None:
        await channel.limiter.close()

    app.cleanup_ctx.append(write_scans)
    app.on_cleanup.append(close_limiter)
    router = app.router
    router.add_static(
        "/static/", STATIC, name=f"{ROUTE_PREFIX}static", append_version=True, follow_symlinks=False
    )
    router.add_get("/", pages.home, name=f"{ROUTE_PREFIX}home", allow_head=False)
    router.add_get("/c/{token}", pages.landing, name=f"{ROUTE_PREFIX}landing", allow_head=False)
    router.add_get(
        "/c/{token}/report", report.report_page, name=f"{ROUTE_PREFIX}report", allow_head=False
    )
    router.add_post("/c/{token}/report", report.report_form, name=f"{ROUTE_PREFIX}report-form")
    add_tracking(app)  # /t and the case page: tracking by receipt code
    router.add_post(
        "/c/{token}/report/materials",
        report.materials_form,
        name=f"{ROUTE_PREFIX}report-materials",
    )
