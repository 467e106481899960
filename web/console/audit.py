"""审计: verify the hash-chained case history, and who viewed a reporter's identity when."""

from __future__ import annotations

from aiohttp import web

from bot.services.audit import get_audit_page
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.console.render import STAFF, console_page


def _page_number(request: web.Request, name: str) -> int:
    text = request.query.get(name, "1")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 1


async def _audit(request: web.Request, *, verify: bool) -> web.StreamResponse:
    async with request.app[CONSOLE].sessions() as session:
        shown = await get_audit_page(
            session,
            request[STAFF].person,
            page=_page_number(request, "page"),
            log_page=_page_number(request, "log"),
            verify=verify,
            anchor_file=request.app[CONSOLE].anchor_file,
        )
    return console_page(
        request,
        "audit",
        title="审计",
        result=shown.result,
        problems=shown.problems,
        anchored=request.app[CONSOLE].anchor_file is not None,
        views=shown.views,
        access=shown.access,
        pages={"page": shown.views.page, "log": shown.access.page},
    )


async def audit_page(request: web.Request) -> web.StreamResponse:
    return await _audit(request, verify=False)


async def audit_verify(request: web.Request) -> web.StreamResponse:
    """核验 changes nothing, so its result is shown at once (a reload verifies again)."""
    return await _audit(request, verify=True)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/audit", audit_page, name=f"{CONSOLE_PREFIX}audit", allow_head=False)
    router.add_post("/console/audit/verify", audit_verify, name=f"{CONSOLE_PREFIX}audit-verify")
