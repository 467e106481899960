"""Team leaders and leaders: /queue, /case, /stats, 分派 and 改派, 分办, 督办, and decisions on
the inspectors' requests. One handler per button; the acting person comes from
``handlers.actor``."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.assignment import assignment_options, check_route, reassign_case, reroute_case
from bot.services.assist import AssistPanel, assist_panel
from bot.services.case_lists import Queue, count_stats, list_queue, show_case
from bot.services.decisions import Decision, decide_request, load_request
from bot.services.permissions import leads_team
from bot.services.policy import Policy
from bot.services.rectification import may_withdraw
from bot.services.routing import list_route_targets
from bot.services.supervision import supervise_case
from handlers.actor import with_actor
from models.case import ASSIGNABLE, OPEN_STATUSES, WORKING_STATUSES, Case, CaseStatus
from models.errors import InvalidInput
from models.org import Track
from models.request import RequestKind
from models.team import Inspector, Role
from notifications.render import render
from notifications.telegram import (
    QueuePage,
    RequestDecision,
    TeamAct,
    TeamAction,
    assignee_keyboard,
    queue_keyboard,
    return_decision_keyboard,
    staff_case_keyboard,
    teams_keyboard,
)
from notifications.texts import preview


async def edit_or_send(
    query: CallbackQuery, bot: Bot, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the pressed message's text, or send a new one if it is out of reach."""
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=reply_markup)
    else:
        await bot.send_message(query.from_user.id, text, reply_markup=reply_markup)


def _render_queue(queue: Queue, actor: Inspector) -> str:
    return render(
        "leader_queue",
        q=queue,
        show_team=actor.role in (Role.LEADER, Role.ADMIN),
        viewer_team=actor.team_id,
    )


async def cmd_queue(
    message: Message, session: AsyncSession, actor: Inspector, clock: Clock
) -> None:
    queue = await list_queue(session, actor, 0, clock.now())
    await message.answer(_render_queue(queue, actor), reply_markup=queue_keyboard(queue))


async def on_queue_page(
    query: CallbackQuery,
    *,
    callback_data: QueuePage,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    clock: Clock,
) -> None:
    queue = await list_queue(session, actor, callback_data.page, clock.now())
    await query.answer()
    await edit_or_send(query, bot, _render_queue(queue, actor), queue_keyboard(queue))


def _case_keyboard(
    actor: Inspector, case: Case, assist: AssistPanel, *, withdraw: bool = False
) -> InlineKeyboardMarkup | None:
    """The buttons this person can use on this case (each press is authorised again)."""
    assert case.id is not None
    return staff_case_keyboard(
        case.id,
        works=case.assignee_id == actor.id,
        assign=leads_team(actor, case) and case.status in ASSIGNABLE,
        assigned=case.assignee_id is not None,
        route=actor.role is Role.ADMIN and case.status in ASSIGNABLE - {CaseStatus.REOPENED},
        supervise=actor.role is Role.LEADER
        and case.status in OPEN_STATUSES
        and not case.supervised,
        dispose=case.track is Track.CLUE
        and case.assignee_id == actor.id
        and case.status in WORKING_STATUSES,
        assist_progress=assist.may_progress,
        assist_teams=assist.may_manage,
        withdraw_rectification=withdraw,
    )


async def cmd_case_without_number(message: Message) -> None:
    raise InvalidInput("请在命令后写上问题编号，例如 /case AJ-2026-00042。")


async def cmd_case(
    message: Message, command: CommandObject, session: AsyncSession, actor: Inspector, clock: Clock
) -> None:
    assert command.args is not None
    detail = await show_case(session, actor, command.args, clock.now())
    text = render(
        "inspector_case",
        d=detail,
        description=preview(detail.case.description),
    )
    assist = await assist_panel(session, actor, detail.case)
    withdraw = await may_withdraw(session, actor, detail.case)
    keyboard = _case_keyboard(actor, detail.case, assist, withdraw=withdraw)
    await message.answer(text, reply_markup=keyboard)


async def cmd_stats(
    message: Message, session: AsyncSession, actor: Inspector, clock: Clock
) -> None:
    stats = await count_stats(session, actor, clock.now())
    await message.answer(render("leader_stats", s=stats, now=clock.now()))


# --- the team leader's buttons on a case (TeamAction) ---


async def on_assign(
    query: CallbackQuery,
    callback_data: TeamAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
) -> None:
    options = await assignment_options(session, actor, callback_data.case_id)
    keyboard = assignee_keyboard(
        callback_data.case_id,
        members=options.members,
        loads=options.loads,
        current=options.case.assignee_id,
        teams=options.teams,
    )
    if not keyboard.inline_keyboard:
        raise InvalidInput("本组暂无可分派的在岗人员，请联系管理员邀请监督员。")
    await query.answer()
    text = render("staff_choose_assignee", number=options.case.number)
    await bot.send_message(query.from_user.id, text, reply_markup=keyboard)


async def on_route(
    query: CallbackQuery,
    callback_data: TeamAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
) -> None:
    case = await check_route(session, actor, callback_data.case_id)
    teams = await list_route_targets(session, case)
    await query.answer()
    text = render("staff_choose_team", number=case.number)
    await bot.send_message(
        query.from_user.id, text, reply_markup=teams_keyboard(callback_data.case_id, teams)
    )


async def on_assign_to(
    query: CallbackQuery,
    *,
    callback_data: TeamAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    result = await reassign_case(
        session,
        actor,
        callback_data.case_id,
        inspector_id=callback_data.inspector_id,
        policy=policy,
        now=clock.now(),
    )
    await query.answer("已分派")
    text = render("staff_assigned", number=result.case.number, name=result.inspector.name)
    await edit_or_send(query, bot, text)


async def on_route_to(
    query: CallbackQuery,
    *,
    callback_data: TeamAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    routed = await reroute_case(
        session,
        actor,
        callback_data.case_id,
        team_id=callback_data.team_id,
        policy=policy,
        now=clock.now(),
    )
    await query.answer("已分办")
    text = render(
        "staff_routed",
        number=routed.case.number,
        team=routed.team.name,
        name=routed.assignee.name if routed.assignee else None,
    )
    await edit_or_send(query, bot, text)


async def on_supervise(
    query: CallbackQuery,
    *,
    callback_data: TeamAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    case_id = callback_data.case_id
    case = await supervise_case(session, actor, case_id, policy=policy, now=clock.now())
    await query.answer("已督办")
    text = render("staff_supervised", number=case.number, due=case.supervision_due_at)
    await bot.send_message(query.from_user.id, text)


# --- decisions on the inspectors' requests (RequestDecision) ---


async def on_approve(
    query: CallbackQuery,
    *,
    callback_data: RequestDecision,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    """同意: a return asks first where the case goes; anything else is decided at once."""
    request, case = await load_request(session, actor, callback_data.request_id)
    if request.kind is not RequestKind.RETURN:
        await on_decide(
            query,
            callback_data=callback_data,
            session=session,
            actor=actor,
            bot=bot,
            policy=policy,
            clock=clock,
        )
        return
    teams = await list_route_targets(session, case)
    await query.answer()
    text = render("staff_choose_return", number=case.number)
    keyboard = return_decision_keyboard(callback_data.request_id, teams)
    await bot.send_message(query.from_user.id, text, reply_markup=keyboard)


def _decision_text(decision: Decision, *, approve: bool) -> str:
    request = decision.request
    if not approve and request.kind is RequestKind.REOPEN:
        return f"已决定不再重办，问题 {decision.case.number} 已结案，已告知反映人。"
    if not approve:
        return render("staff_request_refused", kind=request.kind.label)
    if request.kind is RequestKind.WITHDRAWAL:
        return f"已同意撤回，问题 {decision.case.number} 已撤回，已告知反映人。"
    if request.kind is RequestKind.RESOLUTION:
        return f"已审核同意，问题 {decision.case.number} 已办结，已告知反映人。"
    if request.kind is RequestKind.REOPEN:
        return f"已同意再次重办，问题 {decision.case.number} 已交承办人重新办理，已告知反映人。"
    if request.kind is RequestKind.EXTENSION:
        return render(
            "staff_extension_approved",
            days=request.days,
            due=decision.resolve_due_at,
            appeal=decision.case.track is Track.APPEAL,
        )
    return render(
        "staff_move_approved",
        kind=request.kind.label,
        team=decision.team.name if decision.team else "",
        name=decision.assignee.name if decision.assignee else None,
    )


async def on_decide(
    query: CallbackQuery,
    *,
    callback_data: RequestDecision,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    """同意 or 不同意 (an approved return with the team it goes to)."""
    decision = await decide_request(
        session,
        actor,
        callback_data.request_id,
        approve=callback_data.approve,
        policy=policy,
        now=clock.now(),
        team_id=callback_data.team_id or None,
    )
    await query.answer(decision.request.status.label)
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    text = _decision_text(decision, approve=callback_data.approve)
    await bot.send_message(query.from_user.id, text)


def _register_commands(router: Router) -> None:
    router.message.register(cmd_queue, Command("queue"))
    router.message.register(cmd_case_without_number, Command("case", magic=~F.args))
    router.message.register(cmd_case, Command("case"))
    router.message.register(cmd_stats, Command("stats"))


def _register_buttons(router: Router) -> None:
    router.callback_query.register(on_queue_page, QueuePage.filter())
    router.callback_query.register(on_assign, TeamAction.filter(F.act == TeamAct.ASSIGN))
    router.callback_query.register(on_route, TeamAction.filter(F.act == TeamAct.ROUTE))
    router.callback_query.register(on_assign_to, TeamAction.filter(F.act == TeamAct.ASSIGN_TO))
    router.callback_query.register(on_route_to, TeamAction.filter(F.act == TeamAct.ROUTE_TO))
    router.callback_query.register(on_supervise, TeamAction.filter(F.act == TeamAct.SUPERVISE))
    router.callback_query.register(on_approve, RequestDecision.filter(F.approve & (F.team_id == 0)))
    router.callback_query.register(on_decide, RequestDecision.filter())


def setup() -> Router:
    router = with_actor(Router(name=__name__))
    _register_commands(router)
    _register_buttons(router)
    return router
