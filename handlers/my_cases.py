"""我的问题: the reporter's cases, their public timeline, 补充材料, and /track by receipt code."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.my_cases import (
    MATERIAL_CLOSED,
    MY_CASES_LIMIT,
    add_material,
    case_timeline,
    list_my_cases,
    track_case,
    withdraw_case,
)
from bot.services.reporters import AttemptGuard
from bot.services.withdrawal import WITHDRAW_ASKED, pending_withdrawal
from handlers.filters import MEDIA, TEXT, evidence_of
from handlers.flow import flow_ends
from handlers.states import Material, Track
from models.case import AWAITING_ACCEPTANCE, CaseStatus
from models.errors import DomainError, InvalidInput, StaleAction
from models.intake import EVIDENCE_MAX, MaterialDraft, clean_text
from notifications import telegram as kb
from notifications.render import render
from notifications.telegram import Menu, MenuAct, MyAct, MyCase


def _chat_id(query: CallbackQuery) -> int:
    return query.message.chat.id if query.message else query.from_user.id


async def _list(
    session: AsyncSession, user_id: int, *, withdrawn: str | None = None
) -> tuple[str, InlineKeyboardMarkup]:
    """我的问题 and its buttons (after 撤回, the number withdrawn goes first)."""
    cases = await list_my_cases(session, user_id)
    text = render(
        "reply_reporter_my_cases",
        cases=cases,
        full=len(cases) >= MY_CASES_LIMIT,
        withdrawn=withdrawn,
    )
    if not cases:
        return text, kb.report_keyboard()
    buttons = [(c.id, f"{c.number} · {c.status_label}") for c in cases]
    return text, kb.my_cases_keyboard(buttons)


async def cmd_my(message: Message, session: AsyncSession) -> None:
    assert message.from_user is not None
    text, markup = await _list(session, message.from_user.id)
    await message.answer(text, reply_markup=markup)


async def on_menu_my(query: CallbackQuery, bot: Bot, session: AsyncSession) -> None:
    text, markup = await _list(session, query.from_user.id)
    await bot.send_message(_chat_id(query), text, reply_markup=markup)
    await query.answer()


async def on_list(query: CallbackQuery, bot: Bot, session: AsyncSession) -> None:
    text, markup = await _list(session, query.from_user.id)
    await _replace(bot, query, text, markup)
    await query.answer()


async def _replace(bot: Bot, query: CallbackQuery, text: str, markup: InlineKeyboardMarkup) -> None:
    """Show ``text`` in place of the pressed message (a new message if it cannot be edited)."""
    if query.message is None:
        await bot.send_message(query.from_user.id, text, reply_markup=markup)
        return
    await bot.edit_message_text(
        text=text,
        chat_id=query.message.chat.id,
        message_id=query.message.message_id,
        reply_markup=markup,
    )


async def on_view(
    query: CallbackQuery, callback_data: MyCase, bot: Bot, session: AsyncSession
) -> None:
    view = await case_timeline(session, query.from_user.id, callback_data.case_id)
    asked = await pending_withdrawal(session, view.summary.id)  # a clue's, for its 组长
    text = render(
        "reporter_case",
        case=view.summary,
        description=view.description,
        attachments=view.attachments,
        timeline=view.timeline,
        can_add=view.summary.is_open,
        withdrawal_asked=asked is not None,
    )
    withdrawable = view.summary.status in AWAITING_ACCEPTANCE and asked is None
    markup = kb.reporter_case_keyboard(view.summary.id, view.summary.is_open, withdrawable)
    await _replace(bot, query, text, markup)
    await query.answer()


async def on_withdraw_asked(
    query: CallbackQuery, callback_data: MyCase, bot: Bot, session: AsyncSession
) -> None:
    view = await case_timeline(session, query.from_user.id, callback_data.case_id)
    text = render(
        "reporter_withdraw_confirm",
        number=view.summary.number,
        clue=view.summary.track.value == "clue",
    )
    await _replace(bot, query, text, kb.withdraw_confirm_keyboard(view.summary.id))
    await query.answer()


async def on_withdraw_confirmed(
    query: CallbackQuery, callback_data: MyCase, bot: Bot, session: AsyncSession, clock: Clock
) -> None:
    case = await withdraw_case(session, query.from_user.id, callback_data.case_id, now=clock.now())
    if case.status is not CaseStatus.WITHDRAWN:  # a clue's 撤回: a request the team leader decides
        await query.answer(WITHDRAW_ASKED, show_alert=True)
        return
    text, markup = await _list(session, query.from_user.id, withdrawn=case.number)
    await _replace(bot, query, text, markup)
    await query.answer("已撤回")


async def on_material_start(
    query: CallbackQuery,
    callback_data: MyCase,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    """补充材料: only to an open case this account reported or follows."""
    if await state.get_state() is not None:
        raise DomainError(render("reply_reporter_busy"))
    view = await case_timeline(session, query.from_user.id, callback_data.case_id)
    if not view.summary.is_open:
        raise InvalidInput(MATERIAL_CLOSED)
    await state.set_data(MaterialDraft(case_id=view.summary.id).to_data())
    await state.set_state(Material.collect)
    await bot.send_message(
        _chat_id(query),
        render(
            "reply_reporter_material_ask", number=view.summary.number, evidence_max=EVIDENCE_MAX
        ),
        reply_markup=kb.material_keyboard(view.summary.id),
    )
    await query.answer()


async def on_material_file(message: Message, state: FSMContext) -> None:
    draft = MaterialDraft.from_data(await state.get_data())
    item = evidence_of(message)
    assert item is not None
    draft = draft.add_file(item)
    caption_refused = None  # the file is kept whatever its caption (as in the report's steps)
    if message.caption and clean_text(message.caption):
        try:
            draft = draft.add_note(message.caption)
        except InvalidInput as refused:
            caption_refused = refused.message
    await state.set_data(draft.to_data())
    await message.answer(
        render(
            "reply_reporter_material_received",
            count=len(draft.files),
            caption_refused=caption_refused,
        ),
        reply_markup=kb.material_keyboard(draft.case_id),
    )


async def on_material_text(message: Message, state: FSMContext) -> None:
    assert message.text is not None
    draft = MaterialDraft.from_data(await state.get_data()).add_note(message.text)
    await state.set_data(draft.to_data())
    await message.answer(
        render("reply_reporter_material_noted"),
        reply_markup=kb.material_keyboard(draft.case_id),
    )


async def on_material_other(message: Message, state: FSMContext) -> None:
    draft = MaterialDraft.from_data(await state.get_data())
    await message.answer(
        render("reply_reporter_unsupported"), reply_markup=kb.material_keyboard(draft.case_id)
    )


async def _material_draft(state: FSMContext, pressed: MyCase) -> MaterialDraft:
    """The 补充材料 a button belongs to; a button of another case or a finished one is stale."""
    if await state.get_state() != Material.collect.state:
        raise StaleAction
    draft = MaterialDraft.from_data(await state.get_data())
    if draft.case_id != pressed.case_id:
        raise StaleAction
    return draft


async def on_material_done(
    query: CallbackQuery,
    *,
    callback_data: MyCase,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
) -> None:
    draft = await _material_draft(state, callback_data)
    async with flow_ends(state):
        added = await add_material(
            session, query.from_user.id, draft.case_id, material=draft, now=clock.now()
        )
    if query.message is not None:
        await bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id
        )
    await bot.send_message(
        _chat_id(query),
        render("reply_reporter_material_sent", added=added),
        reply_markup=kb.view_case_keyboard(callback_data.case_id),
    )
    await query.answer("已提交")


async def on_material_cancel(
    query: CallbackQuery, callback_data: MyCase, bot: Bot, state: FSMContext
) -> None:
    await _material_draft(state, callback_data)
    await state.clear()
    if query.message is not None:
        await bot.edit_message_text(
            text=render("reply_reporter_material_cancelled"),
            chat_id=query.message.chat.id,
            message_id=query.message.message_id,
        )
    await query.answer()


async def _track(
    message: Message,
    code: str,
    *,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    attempts: AttemptGuard,
) -> None:
    assert message.from_user is not None
    async with flow_ends(state, at=Track.code) as before:
        summary = await track_case(
            session,
            attempts,
            code=code,
            telegram_user_id=message.from_user.id,
            chat_id=message.chat.id,
            now=clock.now(),
        )
    if summary is None:  # refused silently (too many guesses): still waiting for a code
        await before.restore()
        return
    await message.answer(
        render("reporter_tracked", case=summary), reply_markup=kb.view_case_keyboard(summary.id)
    )


async def cmd_track(
    message: Message,
    *,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    attempts: AttemptGuard,
) -> None:
    """/track <receipt code>, or /track alone and the code next."""
    if command.args:
        await _track(
            message, command.args, state=state, session=session, clock=clock, attempts=attempts
        )
        return
    if await state.get_state() is None:
        await state.set_state(Track.code)
        await message.answer(render("reply_reporter_track_ask", unsupported=False))
        return
    await message.answer(render("reply_reporter_track_usage"))


async def on_track_code(
    message: Message, state: FSMContext, session: AsyncSession, clock: Clock, attempts: AttemptGuard
) -> None:
    assert message.text is not None
    await _track(
        message, message.text, state=state, session=session, clock=clock, attempts=attempts
    )


async def on_track_other(message: Message) -> None:
    await message.answer(render("reply_reporter_track_ask", unsupported=True))


def setup() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(cmd_my, Command("my"))
    router.message.register(cmd_track, Command("track"))
    router.callback_query.register(on_menu_my, Menu.filter(F.act == MenuAct.MY))
    router.callback_query.register(on_list, MyCase.filter(F.act == MyAct.LIST))
    router.callback_query.register(on_view, MyCase.filter(F.act == MyAct.VIEW))
    router.callback_query.register(on_withdraw_asked, MyCase.filter(F.act == MyAct.WITHDRAW))
    router.callback_query.register(
        on_withdraw_confirmed, MyCase.filter(F.act == MyAct.WITHDRAW_SURE)
    )
    router.callback_query.register(on_material_start, MyCase.filter(F.act == MyAct.MATERIAL))
    router.callback_query.register(on_material_done, MyCase.filter(F.act == MyAct.DONE))
    router.callback_query.register(on_material_cancel, MyCase.filter(F.act == MyAct.CANCEL))
    router.message.register(on_material_file, Material.collect, MEDIA)
    router.message.register(on_material_text, Material.collect, TEXT)
    router.message.register(on_material_other, Material.collect)
    router.message.register(on_track_code, Track.code, TEXT)
    router.message.register(on_track_other, Track.code)
    return router
