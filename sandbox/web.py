"""The sandbox page: a chat client in the browser, served with the control API on the same origin.

Static files only (HTML, CSS, JS; no build step, nothing fetched from the internet). The page
renders messages from their text and entities with DOM nodes, never as HTML, so nothing a bot or
a user writes can run as script.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from sandbox.control import ControlApi, control_errors, ok
from sandbox.emulator import MAX_REQUEST, Emulator

if TYPE_CHECKING:
    from sandbox.runner import CardPage

STATIC = Path(__file__).with_name("static")
_NO_CACHE = {"Cache-Control": "no-cache"}


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html", headers=_NO_CACHE)


@web.middleware
async def _security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def create_page_app(
    emulator: Emulator, card_pages: Callable[[], Sequence[CardPage]] = tuple
) -> web.Application:
    """The page at ``/``, its assets under ``/static/``, the control API under ``/_sandbox/``, and
    ``/_sandbox/cards``: the demo cards' web landing pages (once Lianka serves them)."""
    app = web.Application(
        client_max_size=MAX_REQUEST, middlewares=[_security_headers, control_errors]
    )

    async def cards(request: web.Request) -> web.Response:
        return ok(cards=[page.as_json() for page in card_pages()])

    app.router.add_get("/", _index)
    app.router.add_get("/_sandbox/cards", cards)
    app.router.add_static("/static/", STATIC, append_version=False)
    ControlApi(emulator).add_to(app)
    return app
