"""人员 in the console: teams and people, inviting someone (the one-time link and its QR code on
screen) and deactivating someone; for admins (the use cases authorise)."""

from __future__ import annotations

from aiohttp import web

from bot.services.people_admin import (
    INVITE_ROLES,
    deactivate_person,
    get_person_to_deactivate,
    invite_person,
    list_invite_teams,
    list_people,
)
from models.errors import InvalidInput
from models.team import Role
from web.console.cards import qr_svg
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.console.render import STAFF, console_page, redirect_after

ROOT = "/console/people"


async def people_list(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        people = await list_people(session, request[STAFF].person, console.config)
    return console_page(request, "people", title="人员", people=people)


async def invite_form(request: web.Request) -> web.Response:
    return await _invite_page(request, {}, error=None)


async def _invite_page(
    request: web.Request, entered: dict[str, str], error: str | None
) -> web.Response:
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        teams = await list_invite_teams(session, request[STAFF].person)
    return console_page(
        request,
        "people_invite",
        title="邀请人员",
        status=400 if error else 200,
        teams=teams,
        roles=INVITE_ROLES,
        entered=entered,
        error=error,
    )


async def invite_create(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await request.post()
    entered = {key: str(form.get(key, ""))[:200] for key in ("team", "role", "name")}
    try:
        role = Role(entered["role"])
    except ValueError:
        return await _invite_page(request, entered, error="请选择角色。")
    try:
        async with console.sessions() as session:
            made = await invite_person(
                session,
                request[STAFF].person,
                role=role,
                team_code=entered["team"] or None,
                name=entered["name"] or None,
                bot_username=console.bot_username,
                now=console.clock.now(),
            )
    except InvalidInput as error:
        return await _invite_page(request, entered, error=error.message)
    return console_page(  # the link exists only in this answer (the console caches nothing)
        request,
        "people_invited",
        title="邀请链接",
        invite=made.invite,
        team_name=made.team_name,
        qr=qr_svg(made.invite.link),
    )


async def deactivate_confirm(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        person = await get_person_to_deactivate(
            session, request[STAFF].person, int(request.match_info["inspector_id"])
        )
    return console_page(request, "people_deactivate", title="确认停用", person=person)


async def deactivate(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    inspector_id = int(request.match_info["inspector_id"])
    async with console.sessions() as session:
        done = await deactivate_person(
            session, request[STAFF].person, inspector_id, console.clock.now()
        )
    back = f"，{len(done.cases)} 件未办结案件已退回组长" if done.cases else ""
    raise redirect_after(request, ROOT, notice=f"已停用 {done.inspector.name}{back}。")


def add_routes(router: web.UrlDispatcher) -> None:
    """The 人员 pages under ``/console/people``."""
    p = f"{CONSOLE_PREFIX}people"
    person = ROOT + r"/{inspector_id:\d{1,9}}"
    router.add_get(ROOT, people_list, name=p, allow_head=False)
    router.add_get(f"{ROOT}/invite", invite_form, name=f"{p}-invite", allow_head=False)
    router.add_post(f"{ROOT}/invite", invite_create, name=f"{p}-invite-post")
    router.add_get(
        f"{person}/deactivate", deactivate_confirm, name=f"{p}-deactivate", allow_head=False
    )
    router.add_post(f"{person}/deactivate", deactivate, name=f"{p}-deactivate-post")
