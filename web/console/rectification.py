"""反馈整改, 核验整改 and the team leader's 撤销整改要求 on the 案件 page: each POST calls the use case the chat's buttons call
(``bot.services.rectification``), with the signed-in person as the actor; bad input shows the
page again with what was typed (``case_actions.act``)."""

from __future__ import annotations

from aiohttp import web

from bot.services.rectification import (
    check_set,
    check_verify,
    parse_workdays,
    set_rectification,
    verify_rectification,
    withdraw_rectification,
)
from models.errors import InvalidInput
from notifications.render import local_time
from web.console.case_actions import CASE_PATH, Act, Done, act


async def _rectify(a: Act) -> Done:
    await check_set(a.session, a.actor, a.case_id)  # who may, before what was typed
    days = parse_workdays(a.text("days"), a.policy)
    done = await set_rectification(
        a.session, a.actor, a.case_id, requirement=a.text("requirement"), unit=a.text("unit"),
        days=days, policy=a.policy, now=a.now,
    )  # fmt: skip
    row = done.rectification
    later = "；整改期限晚于办结期限，如需要请申请延期" if done.after_resolve_due else ""
    return Done(f"已要求{row.unit}整改，整改期限 {local_time(row.due_at)}，已告知反映人{later}。")


async def _verify(a: Act) -> Done:
    await check_verify(a.session, a.actor, a.case_id)  # who may, before what was typed
    choice = a.text("passed")
    if choice not in ("0", "1"):
        raise InvalidInput("请选择核验结果。")
    done = await verify_rectification(
        a.session, a.actor, a.case_id, passed=choice == "1", note=a.text("note"), now=a.now
    )
    if not done.passed:
        return Done("已记录核验情况：未整改到位，整改期限不变，请继续督促责任单位整改。")
    late = "（超过整改期限完成）" if done.rectification.late else ""
    return Done(f"整改核验通过{late}，可以办结。")


async def _withdraw(a: Act) -> Done:
    done = await withdraw_rectification(
        a.session, a.actor, a.case_id, reason=a.text("reason"), now=a.now
    )
    told = "，已告知承办人" if done.told_assignee else ""
    return Done(f"已撤销对{done.rectification.unit}的整改要求{told}。")


async def on_rectify(request: web.Request) -> web.Response:
    return await act(request, "rectify", _rectify)


async def on_verify(request: web.Request) -> web.Response:
    return await act(request, "verify", _verify)


async def on_withdraw(request: web.Request) -> web.Response:
    return await act(request, "withdraw_rectification", _withdraw)


def add_routes(router: web.UrlDispatcher) -> None:
    """Named ``console-case-do_…`` like the other case actions (signed in, CSRF checked)."""
    router.add_post(f"{CASE_PATH}/rectify", on_rectify, name="console-case-do_rectify")
    router.add_post(f"{CASE_PATH}/verify", on_verify, name="console-case-do_verify")
    router.add_post(
        f"{CASE_PATH}/withdraw-rectification",
        on_withdraw,
        name="console-case-do_withdraw_rectification",
    )
