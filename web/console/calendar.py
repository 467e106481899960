"""日历: a year's working days, holidays and make-up days for every staff member; an admin
loads the year's official schedule (检查, then 确认载入)."""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from bot.services.calendar import get_year_calendar
from bot.services.schedule import check_schedule_file, load_schedule_file
from models.calendar import SHANGHAI
from models.errors import InvalidInput
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.console.render import STAFF, console_page, redirect_after


async def calendar_page(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    text = request.query.get("year", "").strip()
    year = console.clock.now().astimezone(SHANGHAI).year
    if text:
        if not text.isascii() or not text.isdigit() or len(text) > 4:
            return console_page(
                request,
                "calendar",
                title="日历",
                status=400,
                cal=None,
                error="请填写四位数的年份，例如 2027。",
            )
        year = int(text)
    async with console.sessions() as session:
        try:
            cal = await get_year_calendar(session, request[STAFF].person, console.config, year)
        except InvalidInput as error:
            return console_page(
                request, "calendar", title="日历", status=400, cal=None, error=error.message
            )
    return console_page(request, "calendar", title=f"日历 {year}年", cal=cal, error=None)


async def _uploaded(request: web.Request) -> bytes:
    """The schedule file of the 检查 form (an empty choice gives nothing)."""
    field = (await request.post()).get("schedule")
    if isinstance(field, web.FileField):
        return field.file.read()
    return b""


async def schedule_check(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    data = await _uploaded(request)
    async with console.sessions() as session:
        try:
            check = await check_schedule_file(
                session, request[STAFF].person, data, config=console.config
            )
        except InvalidInput as error:
            return console_page(
                request,
                "calendar_check",
                title="载入年度安排",
                status=400,
                check=None,
                error=error.message,
            )
    encoded = base64.b64encode(data).decode("ascii")
    return console_page(
        request, "calendar_check", title="载入年度安排", check=check, encoded=encoded, error=None
    )


async def schedule_load(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    try:
        data = base64.b64decode(str((await request.post()).get("schedule", "")), validate=True)
    except binascii.Error:
        data = b""
    async with console.sessions() as session:
        loaded = await load_schedule_file(
            session, request[STAFF].person, data, config=console.config, now=console.clock.now()
        )
    year = loaded.schedule.year
    raise redirect_after(
        request,
        f"/console/calendar?year={year}",
        f"已载入{year}年节假日安排：重新计算期限{len(loaded.changes)}个，"
        f"其中{len(loaded.moved)}个期限有变化。",
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(
        "/console/calendar", calendar_page, name=f"{CONSOLE_PREFIX}calendar", allow_head=False
    )
    router.add_post(
        "/console/calendar/check", schedule_check, name=f"{CONSOLE_PREFIX}calendar-check"
    )
    router.add_post("/console/calendar/load", schedule_load, name=f"{CONSOLE_PREFIX}calendar-load")
