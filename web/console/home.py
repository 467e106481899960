"""工作台: the cases, requests and notices waiting for the person signed in."""

from __future__ import annotations

from aiohttp import web

from bot.services.console_home import get_home
from web.console.cases import days_text
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.console.render import STAFF, console_page


async def home_page(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    console = request.app[CONSOLE]
    calendar = await console.calendar()
    async with console.sessions() as session:
        home = await get_home(session, staff.person, calendar=calendar, now=console.clock.now())
    return console_page(request, "home", title="工作台", home=home, days_text=days_text)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/", home_page, name=f"{CONSOLE_PREFIX}home", allow_head=False)
