"""反映问题: the report as a conversation — buttons at every step, nothing lost, resumable after a
restart (the draft, a ``models.intake.IntakeDraft``, is JSON in the FSM storage).

Each handler reads the draft once, applies one of its steps (which checks the rules) and writes
it back; the replies come from the ``reply_reporter_*`` templates."""

from __future__ import annotations

import secrets
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import LiankaConfig
from bot.metrics import Metrics
from bot.services.intake import Submitted, confirm_again, submit_case
from bot.services.policy import Policy
from bot.services.reporters import get_active_category, list_categories, require_reporter
from handlers.filters import MEDIA, TEXT, evidence_of
from handlers.flow import flow_ends
from handlers.states import Intake
from models.errors import DomainError, InvalidInput, StaleAction
from models.intake import (
    DESCRIPTION_MAX,
    EVIDENCE_MAX,
    Evidence,
    IntakeDraft,
    clean_text,
    profile_name,
)
from models.org import Track
from notifications import telegram as kb
from notifications.render import render
from notifications.telegram import IntakeAct, IntakeAction, Menu, MenuAct, Part

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None

PART_STATES = {
    Part.CATEGORY: Intake.category,
    Part.DESCRIPTION: Intake.description,
    Part.EVIDENCE: Intake.evidence,
    Part.AMOUNT: Intake.amount,
    Part.IDENTITY: Intake.identity,
}

INTAKE_STATES = frozenset(s.state for s in Intake.__states__)


def _chat_id(event: Message | CallbackQuery) -> int:
    if isinstance(event, Message):
        return event.chat.id
    return event.message.chat.id if event.message else event.from_user.id


def _step(state_name: str) -> str:
    """``Intake:amount`` → ``amount``, the step's name in the templates."""
    return state_name.rpartition(":")[2]


def stored_draft(data: dict[str, Any]) -> IntakeDraft | None:
    """The draft kept in a chat's FSM data, if there is one."""
    return IntakeDraft.from_data(data) if "draft_id" in data else None


async def _load(state: FSMContext) -> IntakeDraft:
    draft = stored_draft(await state.get_data())
    if draft is None:
        raise StaleAction
    return draft


async def _save(state: FSMContext, draft: IntakeDraft) -> None:
    await state.update_data(draft.to_data())


async def _draft(state: FSMContext, pressed: IntakeAction) -> IntakeDraft:
    """The draft a button belongs to; a button of another draft is stale."""
    draft = await _load(state)
    if draft.draft_id != pressed.draft:
        raise StaleAction
    return draft


async def _markup(state_name: str, draft: IntakeDraft, session: AsyncSession) -> Markup:
    draft_id = draft.draft_id
    if state_name == Intake.category.state:
        return kb.categories_keyboard(draft_id, await list_categories(session))
    if state_name == Intake.description.state:
        return kb.cancel_keyboard(draft_id)
    if state_name == Intake.evidence.state:
        return kb.evidence_keyboard(draft_id, len(draft.evidence))
    if state_name == Intake.amount.state:
        return kb.amount_keyboard(draft_id)
    if state_name == Intake.identity.state:
        return kb.identity_keyboard(draft_id)
    if state_name == Intake.contact.state:
        return kb.contact_keyboard()
    if state_name == Intake.name.state:
        return ReplyKeyboardRemove()
    if state_name == Intake.phone.state:
        return kb.phone_keyboard()
    return kb.summary_keyboard(draft_id)


async def _show(
    bot: Bot,
    chat_id: int,
    state: FSMContext,
    session: AsyncSession,
    note: str | None = None,
    *,
    draft: IntakeDraft | None = None,
) -> None:
    """Send the prompt of the step the draft is at, with its buttons, after ``note`` (the name
    of a note in ``reply_reporter_step``). ``draft``: the one the handler holds, as it saved it
    (not read back from the storage)."""
    state_name = await state.get_state()
    assert state_name is not None
    if draft is None:
        draft = await _load(state)
    text = render(
        "reply_reporter_step",
        step=_step(state_name),
        draft=draft,
        note=note,
        evidence_max=EVIDENCE_MAX,
    )
    await bot.send_message(chat_id, text, reply_markup=await _markup(state_name, draft, session))


async def _go(
    target: State,
    bot: Bot,
    *,
    chat_id: int,
    state: FSMContext,
    session: AsyncSession,
    note: str | None = None,
    draft: IntakeDraft | None = None,
) -> None:
    """Move to ``target``, or back to the summary when a part was being changed (修改).
    ``draft``: the one the handler holds, as it saved it (else it is read)."""
    if draft is None:
        draft = await _load(state)
    if draft.editing:
        draft = draft.editing_part(False)
        await _save(state, draft)
        target = Intake.summary
    await state.set_state(target)
    await _show(bot, chat_id, state, session, note, draft=draft)


async def _drop_buttons(bot: Bot, query: CallbackQuery, text: str | None = None) -> None:
    """The pressed message keeps its text (or gets ``text``) and loses its buttons."""
    if query.message is None:
        return
    chat_id, message_id = query.message.chat.id, query.message.message_id
    try:
        if text is not None:
            await bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id)
        else:
            await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id)
    except TelegramBadRequest as error:  # already so: the press is handled a second time
        if "message is not modified" not in error.message:
            raise


def _file(message: Message) -> Evidence:
    """The evidence a message that passed ``MEDIA`` carries."""
    item = evidence_of(message)
    assert item is not None
    return item


# --- starting -------------------------------------------------------------------------------


async def start_report(
    bot: Bot,
    *,
    chat_id: int,
    user_id: int,
    state: FSMContext,
    session: AsyncSession,
    config: LiankaConfig,
) -> None:
    """A new draft at the category step; a draft in progress is resumed, never replaced."""
    current = await state.get_state()
    if current in INTAKE_STATES:
        await _show(bot, chat_id, state, session, "resumed")
        return
    if current is not None:
        raise DomainError(render("reply_reporter_busy"))
    await require_reporter(session, config, user_id)
    # the draft before the step: a storage that writes at once never holds the step without it
    draft = IntakeDraft(draft_id=secrets.token_hex(4))
    await state.set_data(draft.to_data())
    await state.set_state(Intake.category)
    await _show(bot, chat_id, state, session, draft=draft)


async def on_menu_report(
    query: CallbackQuery,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
    config: LiankaConfig,
) -> None:
    await start_report(
        bot,
        chat_id=_chat_id(query),
        user_id=query.from_user.id,
        state=state,
        session=session,
        config=config,
    )
    await query.answer()


async def cmd_report(
    message: Message,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
    config: LiankaConfig,
) -> None:
    assert message.from_user is not None
    await start_report(
        bot,
        chat_id=message.chat.id,
        user_id=message.from_user.id,
        state=state,
        session=session,
        config=config,
    )


# --- category, description, evidence ---------------------------------------------------------


async def on_category_chosen(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    draft = await _draft(state, callback_data)
    category = await get_active_category(session, callback_data.value)
    draft = draft.choose_category(category.code, category.name, clue=category.track is Track.CLUE)
    await _save(state, draft)
    await _drop_buttons(bot, query, render("reply_reporter_category_chosen", name=category.name))
    note = "clue" if draft.clue else None
    await _go(
        Intake.description,
        bot,
        chat_id=_chat_id(query),
        state=state,
        session=session,
        note=note,
        draft=draft,
    )
    await query.answer()


async def _take_description(
    text: str, bot: Bot, chat_id: int, state: FSMContext, session: AsyncSession
) -> None:
    draft = (await _load(state)).describe(text)
    await _save(state, draft)
    await _go(
        Intake.evidence,
        bot,
        chat_id=chat_id,
        state=state,
        session=session,
        note="described",
        draft=draft,
    )


async def on_description(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession
) -> None:
    assert message.text is not None
    await _take_description(message.text, bot, message.chat.id, state, session)


async def on_description_file(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession
) -> None:
    """A file before the description is kept; its caption counts as the description."""
    draft = (await _load(state)).add_evidence(_file(message))
    await _save(state, draft)
    if message.caption:
        await _take_description(message.caption, bot, message.chat.id, state, session)
        return
    await message.answer(
        render("reply_reporter_file_kept", count=len(draft.evidence)),
        reply_markup=kb.cancel_keyboard(draft.draft_id),
    )


def _with_caption(draft: IntakeDraft, caption: str | None) -> tuple[IntakeDraft, str | None]:
    """The caption of a file added to the description: ``added``, ``too_long`` or None (none)."""
    if not caption or not clean_text(caption):
        return draft, None
    draft, added = draft.add_caption(caption)
    return draft, "added" if added else "too_long"


async def on_evidence_file(message: Message, state: FSMContext) -> None:
    draft = (await _load(state)).add_evidence(_file(message))
    draft, caption = _with_caption(draft, message.caption)
    await _save(state, draft)
    text = render(
        "reply_reporter_evidence_received",
        draft=draft,
        caption=caption,
        evidence_max=EVIDENCE_MAX,
        description_max=DESCRIPTION_MAX,
    )
    await message.answer(
        text, reply_markup=kb.evidence_keyboard(draft.draft_id, len(draft.evidence))
    )


async def on_evidence_text(message: Message, state: FSMContext) -> None:
    assert message.text is not None
    draft = (await _load(state)).append_text(message.text)
    await _save(state, draft)
    await message.answer(
        render("reply_reporter_text_appended", draft=draft),
        reply_markup=kb.evidence_keyboard(draft.draft_id, len(draft.evidence)),
    )


async def on_evidence_done(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    draft = await _draft(state, callback_data)
    await _drop_buttons(bot, query)
    await _go(
        Intake.amount,
        bot,
        chat_id=_chat_id(query),
        state=state,
        session=session,
        note="evidence_done",
        draft=draft,
    )
    await query.answer()


async def on_evidence_clear(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    draft = (await _draft(state, callback_data)).clear_evidence()
    await _save(state, draft)
    await _drop_buttons(bot, query)
    await bot.send_message(
        _chat_id(query),
        render("reply_reporter_evidence_cleared"),
        reply_markup=kb.evidence_keyboard(draft.draft_id, 0),
    )
    await query.answer()


# --- amount and identity ---------------------------------------------------------------------


async def on_amount(message: Message, bot: Bot, state: FSMContext, session: AsyncSession) -> None:
    assert message.text is not None
    draft = (await _load(state)).set_amount(message.text)
    await _save(state, draft)
    await _go(
        Intake.identity,
        bot,
        chat_id=message.chat.id,
        state=state,
        session=session,
        note="amount",
        draft=draft,
    )


async def on_amount_skipped(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    draft = (await _draft(state, callback_data)).skip_amount()
    await _save(state, draft)
    await _drop_buttons(bot, query)
    await _go(
        Intake.identity,
        bot,
        chat_id=_chat_id(query),
        state=state,
        session=session,
        note="amount_skipped",
        draft=draft,
    )
    await query.answer()


async def on_named(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    draft = (await _draft(state, callback_data)).start_named()
    await _save(state, draft)
    await _drop_buttons(bot, query, render("reply_reporter_identity_chosen", anonymous=False))
    await state.set_state(Intake.contact)
    await _show(bot, _chat_id(query), state, session, draft=draft)
    await query.answer()


async def on_anonymous(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    draft = (await _draft(state, callback_data)).go_anonymous()
    await _save(state, draft)
    await _drop_buttons(bot, query, render("reply_reporter_identity_chosen", anonymous=True))
    await _go(
        Intake.summary, bot, chat_id=_chat_id(query), state=state, session=session, draft=draft
    )
    await query.answer()


async def _named(
    draft: IntakeDraft,
    message: Message,
    *,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    """Name and phone are known: the reply keyboard goes, the summary comes."""
    await _save(state, draft)
    await message.answer(render("reply_reporter_contact_saved"), reply_markup=ReplyKeyboardRemove())
    await _go(
        Intake.summary, bot, chat_id=message.chat.id, state=state, session=session, draft=draft
    )


def _own_phone(message: Message) -> str:
    """The number of a shared contact, if it is the sender's own (the contact button's)."""
    contact = message.contact
    assert contact is not None and message.from_user is not None
    if contact.user_id != message.from_user.id:
        raise InvalidInput("请点击下方“发送手机号”按钮发送您本人的手机号，不能发送他人的名片。")
    return contact.phone_number


async def _contact_name(message: Message, state: FSMContext, draft: IntakeDraft) -> str:
    """The name to go with a shared contact: the one typed at the name step, else the profile's."""
    if draft.contact_name and await state.get_state() == Intake.phone.state:
        return draft.contact_name
    assert message.contact is not None
    return profile_name(message.contact.first_name, message.contact.last_name)


async def on_contact_shared(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession
) -> None:
    draft = (await _load(state)).hold_phone(_own_phone(message))
    try:
        named = draft.give_name(await _contact_name(message, state, draft))
    except InvalidInput:  # a profile name that is no name: asked for
        await _save(state, draft)
        await state.set_state(Intake.name)
        await _show(bot, message.chat.id, state, session, "phone_received", draft=draft)
        return
    await _named(named, message, bot=bot, state=state, session=session)


async def on_type_contact(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession
) -> None:
    await state.set_state(Intake.name)
    await _show(bot, message.chat.id, state, session)


async def on_go_anonymous(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession
) -> None:
    """改为匿名 while giving name and phone: nothing of them is kept, the summary comes."""
    draft = (await _load(state)).go_anonymous()
    await _save(state, draft)
    await message.answer(
        render("reply_reporter_identity_chosen", anonymous=True), reply_markup=ReplyKeyboardRemove()
    )
    await _go(
        Intake.summary, bot, chat_id=message.chat.id, state=state, session=session, draft=draft
    )


async def on_name(message: Message, bot: Bot, state: FSMContext, session: AsyncSession) -> None:
    assert message.text is not None
    draft = await _load(state)
    complete = draft.pending_phone is not None
    draft = draft.give_name(message.text)
    if complete:
        await _named(draft, message, bot=bot, state=state, session=session)
        return
    await _save(state, draft)
    await state.set_state(Intake.phone)
    await _show(bot, message.chat.id, state, session, draft=draft)


async def on_phone(message: Message, bot: Bot, state: FSMContext, session: AsyncSession) -> None:
    assert message.text is not None
    draft = await _load(state)
    named = draft.go_named(draft.contact_name or "", message.text)
    await _named(named, message, bot=bot, state=state, session=session)


# --- the summary -------------------------------------------------------------------------------


async def on_edit(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    draft = await _draft(state, callback_data)
    await _swap_buttons(bot, query, kb.edit_keyboard(draft.draft_id))
    await query.answer("请选择要修改的内容")


async def on_edit_back(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    draft = await _draft(state, callback_data)
    await _swap_buttons(bot, query, kb.summary_keyboard(draft.draft_id))
    await query.answer()


async def _swap_buttons(bot: Bot, query: CallbackQuery, markup: InlineKeyboardMarkup) -> None:
    """The summary stays; only its buttons change (修改 ↔ the parts to change)."""
    if query.message is not None:
        await bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id, reply_markup=markup
        )


async def on_edit_part(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    draft = await _draft(state, callback_data)
    if callback_data.value not in {p.value for p in Part}:
        raise StaleAction
    draft = draft.editing_part(True)
    await _save(state, draft)
    await state.set_state(PART_STATES[Part(callback_data.value)])
    await _drop_buttons(bot, query)
    await _show(bot, _chat_id(query), state, session, draft=draft)
    await query.answer()


async def on_submit(
    query: CallbackQuery,
    *,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
    policy: Policy,
    clock: Clock,
    metrics: Metrics,
) -> None:
    """确认提交: one transaction; a re-delivered press of the same draft gives the same case."""
    draft = await _draft(state, callback_data)
    if not draft.category or not draft.description:
        raise StaleAction
    reporter = await require_reporter(session, policy.config, query.from_user.id)
    ready, draft_id = draft.ready(), draft.draft_id
    async with flow_ends(state):
        submitted = await submit_case(
            session,
            reporter,
            ready,
            policy=policy,
            now=clock.now(),
            draft_id=draft_id,
            counted=metrics.cases_submitted,
        )
    await _drop_buttons(bot, query)
    await _confirm(bot, query, submitted, reissued=False)


async def _confirm(bot: Bot, query: CallbackQuery, submitted: Submitted, *, reissued: bool) -> None:
    """The confirmation with the case number, the 签收 deadline and any receipt code."""
    text = render(
        "reporter_submitted",
        number=submitted.case.number,
        accept_due=submitted.accept_due_at,
        accept_provisional=submitted.accept_provisional,
        receipt_code=submitted.receipt_code,
        duplicate=submitted.duplicate,
        reissued=reissued,
    )
    await bot.send_message(_chat_id(query), text, reply_markup=kb.menu_keyboard())
    await query.answer("已提交")


def _submit_pressed(update: Update) -> tuple[CallbackQuery, IntakeAction] | None:
    """The 确认提交 press an update carries, if it is one."""
    query = update.callback_query
    if query is None or not query.data:
        return None
    try:
        pressed = IntakeAction.unpack(query.data)
    except (TypeError, ValueError):
        return None
    return (query, pressed) if pressed.act == IntakeAct.SUBMIT else None


def is_submit_press(update: Update) -> bool:
    """Whether ``on_submit_delivered_again`` has anything to do for this update."""
    return _submit_pressed(update) is not None


async def on_submit_delivered_again(update: Update, data: dict[str, Any]) -> None:
    """确认提交 delivered again after a crash cut its handler off past the commit: the case
    exists, but the confirmation may never have gone out, so it is sent (again)."""
    press = _submit_pressed(update)
    if press is None:
        return
    query, pressed = press
    session: AsyncSession = data["session"]
    state: FSMContext = data["state"]
    reporter = await require_reporter(session, data["config"], query.from_user.id)
    confirmed = await confirm_again(session, reporter, pressed.draft, data["clock"].now())
    if confirmed is None:
        return
    draft = stored_draft(await state.get_data())
    if draft is not None and draft.draft_id == pressed.draft:
        await state.clear()
    await _confirm(data["bot"], query, confirmed, reissued=True)


# --- cancelling and anything else --------------------------------------------------------------


async def on_cancel_asked(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    draft = await _draft(state, callback_data)
    await bot.send_message(
        _chat_id(query),
        render("reply_reporter_cancel_ask"),
        reply_markup=kb.cancel_confirm_keyboard(draft.draft_id),
    )
    await query.answer()


async def on_cancel_confirmed(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    await _draft(state, callback_data)
    await state.clear()
    await _drop_buttons(bot, query, render("reply_reporter_cancelled", intake=True))
    await bot.send_message(
        _chat_id(query), render("reply_reporter_report_again"), reply_markup=kb.menu_keyboard()
    )
    await query.answer("已取消")


async def on_cancel_withdrawn(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    draft = await _draft(state, callback_data)
    await _drop_buttons(bot, query, render("reply_reporter_continue"))
    await _show(bot, _chat_id(query), state, session, draft=draft)
    await query.answer()


async def on_stale_button(query: CallbackQuery) -> None:
    """A button of a finished, cancelled or other draft, or of another step."""
    raise StaleAction


async def on_file_elsewhere(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession
) -> None:
    """A file sent at a later step is kept with the evidence, and the step is shown again."""
    draft = (await _load(state)).add_evidence(_file(message))
    await _save(state, draft)
    await _show(bot, message.chat.id, state, session, "file_added", draft=draft)


async def on_other_input(message: Message, state: FSMContext, session: AsyncSession) -> None:
    """Anything a step does not take: what the step wants, with its buttons again."""
    state_name = await state.get_state()
    assert state_name is not None
    text = render("reply_reporter_hint", step=_step(state_name), text=bool(message.text))
    markup = await _markup(state_name, await _load(state), session)
    await message.answer(text, reply_markup=markup)


# --- registration --------------------------------------------------------------------------------


def _register_buttons(router: Router) -> None:
    """One handler per button of a step, at that step only."""
    on = IntakeAction.filter
    for handler, act, step in (
        (on_category_chosen, IntakeAct.CATEGORY, Intake.category),
        (on_evidence_done, IntakeAct.DONE, Intake.evidence),
        (on_evidence_clear, IntakeAct.CLEAR, Intake.evidence),
        (on_amount_skipped, IntakeAct.SKIP, Intake.amount),
        (on_named, IntakeAct.NAMED, Intake.identity),
        (on_anonymous, IntakeAct.ANONYMOUS, Intake.identity),
        (on_submit, IntakeAct.SUBMIT, Intake.summary),
        (on_edit, IntakeAct.EDIT, Intake.summary),
        (on_edit_back, IntakeAct.BACK, Intake.summary),
        (on_edit_part, IntakeAct.PART, Intake.summary),
    ):
        router.callback_query.register(handler, on(F.act == act), step)


def _register_cancel(router: Router) -> None:
    """取消 at any step, and any other button of a draft (stale)."""
    on, in_intake = IntakeAction.filter, StateFilter(*Intake.__states__)
    router.callback_query.register(on_cancel_asked, on(F.act == IntakeAct.CANCEL), in_intake)
    router.callback_query.register(
        on_cancel_confirmed, on(F.act == IntakeAct.CANCEL_YES), in_intake
    )
    router.callback_query.register(on_cancel_withdrawn, on(F.act == IntakeAct.CANCEL_NO), in_intake)
    router.callback_query.register(on_stale_button, on())


def _register_messages(router: Router) -> None:
    """What each step takes typed or sent; anything else gets the step's hint."""
    in_intake = StateFilter(*Intake.__states__)
    router.message.register(on_description, Intake.description, TEXT)
    router.message.register(on_description_file, Intake.description, MEDIA)
    router.message.register(on_evidence_file, Intake.evidence, MEDIA)
    router.message.register(on_evidence_text, Intake.evidence, TEXT)
    router.message.register(on_amount, Intake.amount, TEXT)
    router.message.register(on_contact_shared, Intake.contact, F.contact)
    router.message.register(on_contact_shared, Intake.phone, F.contact)
    router.message.register(on_type_contact, Intake.contact, F.text == kb.TYPE_CONTACT)
    named_steps = StateFilter(Intake.contact, Intake.name, Intake.phone)
    router.message.register(on_go_anonymous, named_steps, F.text == kb.GO_ANONYMOUS)
    router.message.register(on_name, Intake.contact, TEXT)
    router.message.register(on_name, Intake.name, TEXT)
    router.message.register(on_phone, Intake.phone, TEXT)
    router.message.register(on_file_elsewhere, in_intake, MEDIA)
    router.message.register(on_other_input, in_intake)


def setup_buttons() -> Router:
    """The draft's buttons and the menu's 反映问题. Their callback data is the intake's own
    (``IntakeAction``, ``Menu`` with ``REPORT``): no other router claims it, so this router may
    come first of all and a press skips every other router's filters."""
    router = Router(name=f"{__name__}.buttons")
    router.callback_query.register(on_menu_report, Menu.filter(F.act == MenuAct.REPORT))
    _register_buttons(router)
    _register_cancel(router)
    return router


def setup() -> Router:
    """What the reporter types or sends at each step, and /report; after the commands."""
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(cmd_report, Command("report"))
    _register_messages(router)
    return router
