"""我的账号: who the console knows you as, and your latest sign-ins."""

from __future__ import annotations

from aiohttp import web

from bot.services.console_sessions import list_my_access
from bot.services.notices import team_name
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.console.render import STAFF, console_page


async def account_page(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    assert staff.account.id is not None
    async with request.app[CONSOLE].sessions() as session:
        access = await list_my_access(session, staff.account.id)
        team = await team_name(session, staff.person.team_id) if staff.person.team_id else None
    return console_page(request, "account", title="我的账号", access=access, team=team)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(
        "/console/account", account_page, name=f"{CONSOLE_PREFIX}account", allow_head=False
    )
