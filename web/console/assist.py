"""室组联动 on the 案件 page: 增加协办组 / 撤销协办组 (the lead team leader, a 委领导, an admin on
an appeal) and 协办进展 (a 协办 team's member). Each POST calls the one use case the bot's
button calls (``bot.services.assist``), through the case page's ``act`` (bad input shows the
page again with what was typed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.services.assist import add_assist_progress, add_assist_team, remove_assist_team
from web.console.case_actions import CASE_PATH, Act, Done, Run, act


async def _add(a: Act) -> Done:
    team_id = a.number("team_id", "请选择协办组。")
    change = await add_assist_team(a.session, a.actor, a.case_id, team_id=team_id, now=a.now)
    return Done(f"已请{change.team.name}协办，已通知该组组长和承办人。")


async def _remove(a: Act) -> Done:
    team_id = a.number("team_id", "请选择要撤销的协办组。")
    change = await remove_assist_team(a.session, a.actor, a.case_id, team_id=team_id, now=a.now)
    return Done(f"已撤销{change.team.name}的协办，已通知该组组长。")


async def _progress(a: Act) -> Done:
    added = await add_assist_progress(a.session, a.actor, a.case_id, note=a.text("note"), now=a.now)
    return Done(
        f"问题 {added.case.number} 的协办进展已记录（仅内部可见），已告知主办组。", added.case
    )


ACTIONS: dict[str, Run] = {
    "assist_add": _add,
    "assist_remove": _remove,
    "assist_progress": _progress,
}


def _handler(name: str, run: Run) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        return await act(request, name, run)

    handle.__name__ = f"on_{name}"
    return handle


def add_routes(router: web.UrlDispatcher) -> None:
    for name, run in ACTIONS.items():
        router.add_post(f"{CASE_PATH}/{name}", _handler(name, run), name=f"console-case-do_{name}")
