"""Team leaders and leaders: /queue, /case, /stats, 分派 and 改派, 分办, 督办, and decisions on
the inspectors' requests."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.assignment import assignment_options, check_route, reassign_case, reroute_case
from bot.services.case_lists import (
    Queue,
    count_stats,
    list_queue,
    show_case,
)
from bot.services.decisions import decide_request, load_request
from bot.services.inspectors import get_actor
from bot.services.permissions import leads_team
from bot.services.policy import Policy
from bot.services.routing import list_route_targets
from bot.services.supervision import supervise_case
from models.case import ASSIGNABLE, OPEN_STATUSES, Case, CaseStatus
from models.clock import ClockState
from models.errors import InvalidInput
from models.org import Track
from models.request import RequestKind
from models.team import Inspector, Role
from notifications.render import render
from notifications.telegram import (
    CaseAct,
    CaseAction,
    QueuePage,
    RequestDecision,
    TeamAct,
    TeamAction,
    inspector_case_keyboard,
    materials_button,
)
from notifications.texts import preview

CLOCK_STATES = {
    ClockState.RUNNING: "计时中",
    ClockState.PAUSED: "暂停（等待反映人答复）",
    ClockState.MET: "已完成",
    ClockState.CANCELLED: "已取消",
}


async def edit_or_send(
    query: CallbackQuery, bot: Bot, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Replace the pressed message's text, or send a new one if it is out of reach."""
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=reply_markup)
    else:
        await bot.send_message(query.from_user.id, text, reply_markup=reply_markup)


def _button(text: str, data: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=text, callback_data=data)]


def _queue_keyboard(queue: Queue) -> InlineKeyboardMarkup:
    rows = []
    for line in queue.lines:
        if queue.can_assign:
            label = "分派" if line.assignee is None else "改派"
            data = TeamAction(act=TeamAct.ASSIGN, case_id=line.id).pack()
        else:
            label = "查看材料"
            data = CaseAction(act=CaseAct.MATERIALS, case_id=line.id).pack()
        rows.append(_button(f"{label} {line.number}", data))
    nav = []
    if queue.page > 0:
        nav.append(
            InlineKeyboardButton(
                text="‹ 上一页", callback_data=QueuePage(page=queue.page - 1).pack()
            )
        )
    if queue.page + 1 < queue.pages:
        nav.append(
            InlineKeyboardButton(
                text="下一页 ›", callback_data=QueuePage(page=queue.page + 1).pack()
            )
        )
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _render_queue(queue: Queue, actor: Inspector) -> str:
    return render("leader_queue", q=queue, show_team=actor.role in (Role.LEADER, Role.ADMIN))


async def cmd_queue(
    message: Message, event_from_user: User, session: AsyncSession, clock: Clock
) -> None:
    actor = await get_actor(session, event_from_user.id)
    queue = await list_queue(session, actor, 0, clock.now())
    await message.answer(_render_queue(queue, actor), reply_markup=_queue_keyboard(queue))


async def on_queue_page(
    query: CallbackQuery,
    callback_data: QueuePage,
    session: AsyncSession,
    bot: Bot,
    clock: Clock,
) -> None:
    actor = await get_actor(session, query.from_user.id)
    queue = await list_queue(session, actor, callback_data.page, clock.now())
    await query.answer()
    await edit_or_send(query, bot, _render_queue(queue, actor), _queue_keyboard(queue))


def _case_keyboard(actor: Inspector, case: Case) -> InlineKeyboardMarkup | None:
    """The buttons this person can use on this case (each press is authorised again)."""
    assert case.id is not None
    rows: list[list[InlineKeyboardButton]] = []
    if case.assignee_id == actor.id:
        rows += inspector_case_keyboard(case.id).inline_keyboard
    else:
        rows.append([materials_button(case.id)])
    if leads_team(actor, case) and case.status in ASSIGNABLE:
        label = "分派" if case.assignee_id is None else "改派"
        rows.append(_button(label, TeamAction(act=TeamAct.ASSIGN, case_id=case.id).pack()))
    if actor.role is Role.ADMIN and case.status in ASSIGNABLE - {CaseStatus.REOPENED}:
        rows.append(_button("分办至其他组", TeamAction(act=TeamAct.ROUTE, case_id=case.id).pack()))
    if actor.role is Role.LEADER and case.status in OPEN_STATUSES and not case.supervised:
        rows.append(_button("督办", TeamAction(act=TeamAct.SUPERVISE, case_id=case.id).pack()))
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


async def cmd_case(
    message: Message,
    event_from_user: User,
    command: CommandObject,
    session: AsyncSession,
    clock: Clock,
) -> None:
    if not command.args:
        raise InvalidInput("请在命令后写上问题编号，例如 /case AJ-2026-00042。")
    actor = await get_actor(session, event_from_user.id)
    detail = await show_case(session, actor, command.args, clock.now())
    await message.answer(
        render(
            "inspector_case",
            d=detail,
            description=preview(detail.case.description),
            clock_states=CLOCK_STATES,
        ),
        reply_markup=_case_keyboard(actor, detail.case),
    )


async def cmd_stats(
    message: Message, event_from_user: User, session: AsyncSession, clock: Clock
) -> None:
    actor = await get_actor(session, event_from_user.id)
    stats = await count_stats(session, actor, clock.now())
    await message.answer(render("leader_stats", s=stats, now=clock.now()))


def _teams_keyboard(case_id: int, teams) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            _button(
                f"分办：{team.name}",
                TeamAction(act=TeamAct.ROUTE_TO, case_id=case_id, team_id=team.id).pack(),
            )
            for team in teams
        ]
    )


async def on_team_action(
    query: CallbackQuery,
    *,
    callback_data: TeamAction,
    session: AsyncSession,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    actor = await get_actor(session, query.from_user.id)
    case_id = callback_data.case_id
    chat_id = query.from_user.id
    match callback_data.act:
        case TeamAct.ASSIGN:
            options = await assignment_options(session, actor, case_id)
            rows = [
                _button(
                    f"{m.name}（{options.loads.get(m.id or 0, 0)}）",
                    TeamAction(act=TeamAct.ASSIGN_TO, case_id=case_id, inspector_id=m.id).pack(),
                )
                for m in options.members
                if m.id != options.case.assignee_id
            ]
            rows += _teams_keyboard(case_id, options.teams).inline_keyboard
            if not rows:
                raise InvalidInput("本组暂无可分派的在岗人员，请联系管理员邀请监督员。")
            await query.answer()
            await bot.send_message(
                chat_id,
                render("leader_replies", what="choose_assignee", number=options.case.number),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
            )
        case TeamAct.ROUTE:
            case = await check_route(session, actor, case_id)
            teams = await list_route_targets(session, case)
            await query.answer()
            await bot.send_message(
                chat_id,
                render("leader_replies", what="choose_team", number=case.number),
                reply_markup=_teams_keyboard(case_id, teams),
            )
        case TeamAct.ASSIGN_TO:
            result = await reassign_case(
                session,
                actor,
                case_id,
                inspector_id=callback_data.inspector_id,
                policy=policy,
                now=clock.now(),
            )
            await query.answer("已分派")
            await edit_or_send(
                query,
                bot,
                render(
                    "leader_replies",
                    what="assigned",
                    number=result.case.number,
                    name=result.inspector.name,
                ),
            )
        case TeamAct.ROUTE_TO:
            routed = await reroute_case(
                session,
                actor,
                case_id,
                team_id=callback_data.team_id,
                policy=policy,
                now=clock.now(),
            )
            await query.answer("已分办")
            await edit_or_send(
                query,
                bot,
                render(
                    "leader_replies",
                    what="routed",
                    number=routed.case.number,
                    team=routed.team.name,
                    name=routed.assignee.name if routed.assignee else None,
                ),
            )
        case TeamAct.SUPERVISE:
            case = await supervise_case(session, actor, case_id, now=clock.now())
            await query.answer("已督办")
            await bot.send_message(
                chat_id, render("leader_replies", what="supervised", number=case.number)
            )


async def on_request_decision(
    query: CallbackQuery,
    *,
    callback_data: RequestDecision,
    session: AsyncSession,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    actor = await get_actor(session, query.from_user.id)
    if callback_data.approve and not callback_data.team_id:
        request, case = await load_request(session, actor, callback_data.request_id)
        if request.kind is RequestKind.RETURN:
            teams = await list_route_targets(session, case)
            rows = [
                _button(
                    "退回信访室重新分办" if team.is_dispatcher else f"改交：{team.name}",
                    RequestDecision(
                        request_id=callback_data.request_id, approve=True, team_id=team.id
                    ).pack(),
                )
                for team in teams
            ]
            await query.answer()
            await bot.send_message(
                query.from_user.id,
                render("leader_replies", what="choose_return", number=case.number),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
            )
            return
    decision = await decide_request(
        session,
        actor,
        callback_data.request_id,
        approve=callback_data.approve,
        policy=policy,
        now=clock.now(),
        team_id=callback_data.team_id or None,
    )
    request = decision.request
    if not callback_data.approve:
        text = render("leader_replies", what="refused", kind=request.kind.label)
    elif request.kind is RequestKind.EXTENSION:
        text = render(
            "leader_replies",
            what="approved_extension",
            days=request.days,
            due=decision.resolve_due_at,
            appeal=decision.case.track is Track.APPEAL,
        )
    else:
        text = render(
            "leader_replies",
            what="approved_move",
            kind=request.kind.label,
            team=decision.team.name if decision.team else "",
            name=decision.assignee.name if decision.assignee else None,
        )
    await query.answer(request.status.label)
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    await bot.send_message(query.from_user.id, text)


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_queue, Command("queue"))
    router.message.register(cmd_case, Command("case"))
    router.message.register(cmd_stats, Command("stats"))
    router.callback_query.register(on_queue_page, QueuePage.filter())
    router.callback_query.register(on_team_action, TeamAction.filter())
    router.callback_query.register(on_request_decision, RequestDecision.filter())
    return router
