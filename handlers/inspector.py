"""The inspector's buttons on an assignment: 签收 · 退回 · 查看材料 · 提问 · 记录进展 · 申请延期 · 办结.

One-press actions call their use case at once; the others ask for what they need (a reason, a
question, a note, days, an outcome …) in a short conversation, and the use case at its end checks
everything again from the database.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, User
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.acceptance import accept_case
from bot.services.inspectors import get_actor
from bot.services.materials import view_materials
from bot.services.permissions import check_case_action, clean_note
from bot.services.policy import Policy
from bot.services.progress import add_progress
from bot.services.relay import ask_reporter
from bot.services.requests import (
    EXTENSION_MAX_DAYS,
    request_extension,
    request_return,
    transfer_case,
)
from bot.services.resolution import resolve_case
from bot.services.routing import list_route_targets
from handlers.flow import flow_ends
from models.attachment import MediaKind
from models.case import RETURNABLE, Outcome
from models.errors import InvalidInput, StaleAction
from models.intake import parse_amount_yuan
from models.org import Track
from notifications.render import local_time, render
from notifications.telegram import (
    PREFIXES,
    AdminAction,
    CaseAct,
    CaseAction,
    CaseChoice,
    CaseStep,
    QueuePage,
    RelayReply,
    RequestDecision,
    TeamAction,
)

logger = logging.getLogger(__name__)

EXTENSION_CHOICES = (3, 5, 10, 15)


class CaseFlow(StatesGroup):
    return_target = State()
    return_reason = State()
    question = State()
    progress = State()
    progress_visibility = State()
    extension_days = State()
    extension_reason = State()
    outcome = State()
    summary = State()
    amount = State()


def _choice(text: str, step: CaseStep, case_id: int, value: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=CaseChoice(step=step, case_id=case_id, value=value).pack()
    )


def _rows(buttons: list[InlineKeyboardButton], width: int = 2) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[buttons[i : i + width] for i in range(0, len(buttons), width)]
    )


async def _start(state: FSMContext, step: State, case_id: int, **data) -> None:
    await state.set_data({"case_id": case_id, **data})
    await state.set_state(step)


async def _flow_case(
    state: FSMContext, expected: State, case_id: int | None = None
) -> dict[str, Any]:
    """The conversation's data, if it is at ``expected`` (and about ``case_id``)."""
    data = await state.get_data()
    if await state.get_state() != expected.state or (
        case_id is not None and data.get("case_id") != case_id
    ):
        raise StaleAction(detail="choice outside its conversation")
    return data


async def on_case_action(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    actor = await get_actor(session, query.from_user.id)
    case_id = callback_data.case_id
    chat_id = query.from_user.id
    match callback_data.act:
        case CaseAct.ACCEPT:
            accepted = await accept_case(session, actor, case_id, policy=policy, now=clock.now())
            await query.answer("已签收")
            provisional = "（暂定）" if accepted.resolve_provisional else ""
            await bot.send_message(
                chat_id,
                f"已签收 {accepted.case.number}，已告知反映人受理情况。\n"
                f"办结期限：{local_time(accepted.resolve_due_at)}{provisional}",
            )
        case CaseAct.MATERIALS:
            materials = await view_materials(session, actor, case_id, now=clock.now())
            await query.answer()
            await bot.send_message(chat_id, render("inspector_materials", m=materials))
            for item in materials.attachments:
                await _send_file(bot, chat_id, item.kind, item.file_id)
        case CaseAct.RETURN:
            case = await check_case_action(session, actor, case_id, "ret")
            buttons = []
            if case.status in RETURNABLE:
                buttons.append(_choice("退回信访室重新分办", CaseStep.TARGET, case_id, "0"))
            for team in await list_route_targets(session, case):
                if not team.is_dispatcher:
                    buttons.append(
                        _choice(f"转办：{team.name}", CaseStep.TARGET, case_id, str(team.id))
                    )
            await _start(state, CaseFlow.return_target, case_id)
            await query.answer()
            await bot.send_message(
                chat_id,
                f"{case.number}：请选择退回信访室，或转办至其他监督组（需组长同意）。发送 /cancel 取消。",
                reply_markup=_rows(buttons, 1),
            )
        case CaseAct.ASK:
            case = await check_case_action(session, actor, case_id, "ask")
            await _start(state, CaseFlow.question, case_id)
            await query.answer()
            await bot.send_message(
                chat_id,
                f"{case.number}：请输入要向反映人提出的问题。问题由机器人转达，双方都看不到对方的账号；"
                "等待答复期间办结期限暂停计算。发送 /cancel 取消。",
            )
        case CaseAct.PROGRESS:
            case = await check_case_action(session, actor, case_id, "prg")
            await _start(state, CaseFlow.progress, case_id, appeal=case.track is Track.APPEAL)
            await query.answer()
            await bot.send_message(chat_id, f"{case.number}：请输入办理进展。发送 /cancel 取消。")
        case CaseAct.EXTEND:
            case = await check_case_action(session, actor, case_id, "ext")
            await _start(state, CaseFlow.extension_days, case_id)
            await query.answer()
            await bot.send_message(
                chat_id,
                f"{case.number}：请选择或输入申请延期的工作日数（需组长同意）。发送 /cancel 取消。",
                reply_markup=_rows(
                    [
                        _choice(f"{n}个工作日", CaseStep.DAYS, case_id, str(n))
                        for n in EXTENSION_CHOICES
                    ]
                ),
            )
        case CaseAct.RESOLVE:
            case = await check_case_action(session, actor, case_id, "res")
            await _start(state, CaseFlow.outcome, case_id)
            await query.answer()
            await bot.send_message(
                chat_id,
                f"{case.number}：请选择办理结果。发送 /cancel 取消。",
                reply_markup=_rows(
                    [_choice(o.label, CaseStep.OUTCOME, case_id, o.value) for o in Outcome]
                ),
            )


async def _send_file(bot: Bot, chat_id: int, kind: MediaKind, file_id: str) -> None:
    """Evidence goes back by Telegram file_id: nothing is downloaded."""
    match kind:
        case MediaKind.PHOTO:
            await bot.send_photo(chat_id, file_id)
        case MediaKind.VOICE:
            await bot.send_voice(chat_id, file_id)
        case MediaKind.AUDIO:
            await bot.send_audio(chat_id, file_id)
        case MediaKind.VIDEO:
            await bot.send_video(chat_id, file_id)
        case _:
            await bot.send_document(chat_id, file_id)


async def on_case_choice(
    query: CallbackQuery,
    *,
    callback_data: CaseChoice,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    actor = await get_actor(session, query.from_user.id)
    case_id = callback_data.case_id
    chat_id = query.from_user.id
    match callback_data.step:
        case CaseStep.TARGET:
            await _flow_case(state, CaseFlow.return_target, case_id)
            case = await check_case_action(session, actor, case_id, "ret")
            if not _small_number(callback_data.value):
                raise StaleAction(detail="bad target")
            await state.update_data(team_id=int(callback_data.value))
            await state.set_state(CaseFlow.return_reason)
            await query.answer()
            what = "退回" if callback_data.value == "0" else "转办"
            await bot.send_message(chat_id, f"{case.number}：请输入{what}理由。")
        case CaseStep.DAYS:
            await _flow_case(state, CaseFlow.extension_days, case_id)
            case = await check_case_action(session, actor, case_id, "ext")
            if not _small_number(callback_data.value):
                raise StaleAction(detail="bad days")
            await state.update_data(days=int(callback_data.value))
            await state.set_state(CaseFlow.extension_reason)
            await query.answer()
            await bot.send_message(chat_id, f"{case.number}：请输入延期理由。")
        case CaseStep.OUTCOME:
            await _flow_case(state, CaseFlow.outcome, case_id)
            case = await check_case_action(session, actor, case_id, "res")
            try:
                outcome = Outcome(callback_data.value)
            except ValueError:
                raise StaleAction(detail="bad outcome") from None
            await state.update_data(outcome=outcome.value)
            await state.set_state(CaseFlow.summary)
            await query.answer(outcome.label)
            await bot.send_message(
                chat_id, f"{case.number}：请简要填写办理情况（将用于办结告知和统计）。"
            )
        case CaseStep.VISIBLE:
            data = await _flow_case(state, CaseFlow.progress_visibility, case_id)
            async with flow_ends(state):
                event = await add_progress(
                    session,
                    actor,
                    case_id,
                    note=data["note"],
                    public=callback_data.value == "1",
                    now=clock.now(),
                )
            await query.answer("已记录")
            told = "，已告知反映人" if event.public else "（仅内部记录）"
            await bot.send_message(chat_id, f"办理进展已记录{told}。")
        case CaseStep.SKIP_AMOUNT:
            data = await _flow_case(state, CaseFlow.amount, case_id)
            async with flow_ends(state):
                case = await resolve_case(
                    session,
                    actor,
                    case_id,
                    outcome=Outcome(data["outcome"]),
                    summary=data["summary"],
                    amount_yuan=None,
                    policy=policy,
                    now=clock.now(),
                )
            await query.answer("已办结")
            await bot.send_message(chat_id, f"{case.number} 已办结，已告知反映人。")


async def on_return_reason(
    message: Message, event_from_user: User, session: AsyncSession, state: FSMContext, clock: Clock
) -> None:
    actor = await get_actor(session, event_from_user.id)
    data = await state.get_data()
    async with flow_ends(state):
        if data.get("team_id"):
            await transfer_case(
                session,
                actor,
                data["case_id"],
                team_id=data["team_id"],
                reason=message.text or "",
                now=clock.now(),
            )
            what = "转办"
        else:
            await request_return(
                session, actor, data["case_id"], reason=message.text or "", now=clock.now()
            )
            what = "退回"
    await message.answer(f"{what}申请已提交组长审批，审批结果将通知您。")


async def on_question(
    message: Message, event_from_user: User, session: AsyncSession, state: FSMContext, clock: Clock
) -> None:
    actor = await get_actor(session, event_from_user.id)
    data = await state.get_data()
    async with flow_ends(state):
        await ask_reporter(
            session, actor, data["case_id"], question=message.text or "", now=clock.now()
        )
    await message.answer("问题已转达反映人，收到答复后将通知您。办结期限暂停计算。")


async def on_progress(
    message: Message, event_from_user: User, session: AsyncSession, state: FSMContext, clock: Clock
) -> None:
    actor = await get_actor(session, event_from_user.id)
    data = await state.get_data()
    note = clean_note(message.text or "", "办理进展")
    if data.get("appeal"):
        await state.update_data(note=note)
        await state.set_state(CaseFlow.progress_visibility)
        case_id = data["case_id"]
        await message.answer(
            "是否将这条进展告知反映人？",
            reply_markup=_rows(
                [
                    _choice("告知反映人", CaseStep.VISIBLE, case_id, "1"),
                    _choice("仅内部记录", CaseStep.VISIBLE, case_id, "0"),
                ]
            ),
        )
        return
    async with flow_ends(state):
        await add_progress(
            session, actor, data["case_id"], note=note, public=False, now=clock.now()
        )
    await message.answer("办理进展已记录（问题线索，仅内部记录）。")


def _small_number(text: str) -> bool:
    """Decimal digits ``int`` reads ("５" too, not "²") and few enough for a database integer."""
    return text.isdecimal() and len(text) <= 9


async def on_extension_days(
    message: Message, event_from_user: User, session: AsyncSession, state: FSMContext
) -> None:
    await get_actor(session, event_from_user.id)
    text = (message.text or "").strip().removesuffix("个工作日").removesuffix("天")
    if not _small_number(text) or not 1 <= int(text) <= EXTENSION_MAX_DAYS:
        raise InvalidInput(f"请输入1至{EXTENSION_MAX_DAYS}之间的工作日数，例如 5。")
    await state.update_data(days=int(text))
    await state.set_state(CaseFlow.extension_reason)
    await message.answer("请输入延期理由。")


async def on_extension_reason(
    message: Message, event_from_user: User, session: AsyncSession, state: FSMContext, clock: Clock
) -> None:
    actor = await get_actor(session, event_from_user.id)
    data = await state.get_data()
    async with flow_ends(state):
        await request_extension(
            session,
            actor,
            data["case_id"],
            days=data["days"],
            reason=message.text or "",
            now=clock.now(),
        )
    await message.answer(f"延期{data['days']}个工作日的申请已提交组长审批，审批结果将通知您。")


async def on_summary(
    message: Message, event_from_user: User, session: AsyncSession, state: FSMContext
) -> None:
    await get_actor(session, event_from_user.id)
    summary = clean_note(message.text or "", "办理情况")
    data = await state.get_data()
    await state.update_data(summary=summary)
    await state.set_state(CaseFlow.amount)
    await message.answer(
        "请输入协调落实的资金金额（万元），例如 12.5；不涉及金额请点“跳过”。",
        reply_markup=_rows([_choice("跳过", CaseStep.SKIP_AMOUNT, data["case_id"], "")]),
    )


async def on_amount(
    message: Message,
    *,
    event_from_user: User,
    session: AsyncSession,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
) -> None:
    amount = parse_amount_yuan(message.text or "")
    actor = await get_actor(session, event_from_user.id)
    data = await state.get_data()
    async with flow_ends(state):
        case = await resolve_case(
            session,
            actor,
            data["case_id"],
            outcome=Outcome(data["outcome"]),
            summary=data["summary"],
            amount_yuan=amount,
            policy=policy,
            now=clock.now(),
        )
    await message.answer(f"{case.number} 已办结，已告知反映人。")


async def cmd_cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer("已取消。")


async def on_not_text(message: Message) -> None:
    await message.answer("请以文字输入，或发送 /cancel 取消。")


async def on_text_instead_of_button(message: Message) -> None:
    await message.answer("请点击上方按钮选择，或发送 /cancel 取消。")


_OURS = (CaseAction, CaseChoice, TeamAction, RequestDecision, RelayReply, QueuePage, AdminAction)


def is_forged(data: str | None) -> bool:
    """Callback data under our prefixes that none of our callback classes can read."""
    if not data or data.split(":", 1)[0] not in PREFIXES:
        return False
    for kind in _OURS:
        try:
            kind.unpack(data)
        except (TypeError, ValueError):
            continue
        return False
    return True


async def on_forged(query: CallbackQuery) -> None:
    logger.warning("malformed callback data refused (update from a button)")
    raise StaleAction(detail="malformed callback data")


def setup() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(on_forged, F.data.func(is_forged))
    router.callback_query.register(on_case_action, CaseAction.filter())
    router.callback_query.register(on_case_choice, CaseChoice.filter())
    router.message.register(cmd_cancel, StateFilter(CaseFlow), Command("cancel"))
    typed = F.text & ~F.text.startswith("/")
    router.message.register(on_return_reason, CaseFlow.return_reason, typed)
    router.message.register(on_question, CaseFlow.question, typed)
    router.message.register(on_progress, CaseFlow.progress, typed)
    router.message.register(on_extension_days, CaseFlow.extension_days, typed)
    router.message.register(on_extension_reason, CaseFlow.extension_reason, typed)
    router.message.register(on_summary, CaseFlow.summary, typed)
    router.message.register(on_amount, CaseFlow.amount, typed)
    router.message.register(
        on_text_instead_of_button,
        StateFilter(CaseFlow.return_target, CaseFlow.progress_visibility, CaseFlow.outcome),
        typed,
    )
    router.message.register(on_not_text, StateFilter(CaseFlow), ~F.text)
    return router
