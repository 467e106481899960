"""案件: one case's page (摘要, 问题描述, 流转记录, 材料 and the viewer's 操作), its files, and
查看身份. The actions' POST routes are in ``web.console.case_actions``."""

from __future__ import annotations

from aiohttp import web

from bot.services.case_view import get_case_file
from bot.services.materials import view_materials
from web.console import case_actions
from web.console.case_actions import CASE_PATH, case_id_of, render_case
from web.console.context import CONSOLE
from web.console.render import STAFF, console_page, content_disposition


async def show_case(request: web.Request) -> web.Response:
    return await render_case(request, case_id_of(request))


async def case_file(request: web.Request) -> web.Response:
    """A file of the case, for those who may see the case: shown in place (images, PDF,
    audio) or downloaded, its type from its bytes."""
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        file = await get_case_file(
            session,
            request[STAFF].person,
            case_id_of(request),
            int(request.match_info["attachment_id"]),
            blobs=console.blobs,
            telegram=console.telegram_files,
        )
    headers = {
        "Content-Disposition": content_disposition(file.file_name, inline=file.inline),
        "Cache-Control": "private, no-store",
    }
    return web.Response(body=file.data, content_type=file.content_type, headers=headers)


async def show_identity(request: web.Request) -> web.Response:
    """查看身份: a deliberate click; each one is an IDENTITY_VIEWED event (view_materials)."""
    console = request.app[CONSOLE]
    now = console.clock.now()
    async with console.sessions() as session:
        materials = await view_materials(
            session, request[STAFF].person, case_id_of(request), now=now
        )
    return console_page(
        request, "case_identity", title=f"反映人身份 {materials.case.number}", m=materials, now=now
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """Every route is named ``console-…``: the console's guard signs in, checks CSRF and turns
    refusals into pages only for routes so named."""
    router.add_get(CASE_PATH, show_case, name="console-case")
    router.add_get(
        CASE_PATH + r"/files/{attachment_id:\d{1,9}}", case_file, name="console-case-file"
    )
    router.add_post(CASE_PATH + "/identity", show_identity, name="console-case-identity")
    case_actions.add_routes(router)
