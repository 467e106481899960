"""The inspector's buttons on an assignment: 签收 · 退回 · 查看材料 · 提问 · 记录进展 · 申请延期 · 办结.

One-press actions call their use case at once; the others ask for what they need (a reason, a
question, a note, days, an outcome …) in a short conversation, and the use case at its end checks
everything again from the database. One handler per button; the acting person comes from
``handlers.actor``.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.blobs import BlobMissing, BlobStore
from bot.clock import Clock
from bot.services.acceptance import accept_case
from bot.services.materials import material_for_staff, remember_telegram_file, view_materials
from bot.services.permissions import check_case_action, clean_note
from bot.services.policy import Policy
from bot.services.progress import add_progress
from bot.services.rectification import require_settled
from bot.services.relay import ask_reporter
from bot.services.requests import (
    EXTENSION_MAX_DAYS,
    check_return_window,
    request_extension,
    request_return,
    return_window_over,
    transfer_case,
)
from bot.services.resolution import resolve_case
from bot.services.routing import list_route_targets
from handlers.actor import with_actor
from handlers.staff_steps import (
    cmd_cancel,
    on_not_text,
    on_text_instead_of_button,
    step_case_id,
    step_ends,
)
from models.attachment import Attachment, MediaKind
from models.case import RETURNABLE, Case, CaseStatus, Outcome
from models.errors import InvalidInput, StaleAction
from models.intake import parse_amount_yuan
from models.org import Track
from models.team import Inspector
from notifications.render import render
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
    extension_days_keyboard,
    outcome_keyboard,
    return_target_keyboard,
    skip_amount_keyboard,
    visibility_keyboard,
)

logger = logging.getLogger(__name__)


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


def _small_number(text: str) -> bool:
    """Decimal digits ``int`` reads ("５" too, not "²") and few enough for a database integer."""
    return text.isdecimal() and len(text) <= 9


# --- the buttons on an assignment (CaseAction) ---


async def on_accept(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    accepted = await accept_case(
        session, actor, callback_data.case_id, policy=policy, now=clock.now()
    )
    await query.answer("已签收")
    text = render(
        "staff_accepted",
        number=accepted.case.number,
        due=accepted.resolve_due_at,
        provisional=accepted.resolve_provisional,
        label=accepted.due_kind.label,
    )
    await bot.send_message(query.from_user.id, text)


async def on_materials(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    clock: Clock,
    blobs: BlobStore,
) -> None:
    materials = await view_materials(session, actor, callback_data.case_id, now=clock.now())
    await query.answer()
    chat_id = query.from_user.id
    await bot.send_message(chat_id, render("inspector_materials", m=materials))
    for number, item in enumerate(materials.attachments, 1):
        if materials.confidential:
            await _send_cleaned(bot, chat_id, item, number=number, blobs=blobs)
        else:
            await _send_attachment(bot, chat_id, item, blobs=blobs, session=session)


class _ChatFiles:
    """A reporter's Telegram file fetched through the Bot API (``TelegramFiles``)."""

    def __init__(self, bot: Bot) -> None:
        self._bot = bot

    async def download(self, file_id: str) -> bytes:
        found = await self._bot.get_file(file_id)
        if found.file_path is None:
            raise InvalidInput("Telegram 未提供该文件（可能超过20MB），无法清除属性后发送。")
        data = await self._bot.download_file(found.file_path)
        assert data is not None
        return data.read()


async def _send_cleaned(
    bot: Bot, chat_id: int, item: Attachment, *, number: int, blobs: BlobStore
) -> None:
    """A file of an anonymous case or a clue: never by the reporter's file id (it carries the
    file's name and metadata) but fetched, cleaned and uploaded as 材料N.ext; one that cannot
    be cleaned or fetched is named in its place, with why."""
    try:
        material = await material_for_staff(item, number, blobs=blobs, telegram=_ChatFiles(bot))
    except InvalidInput as e:
        await bot.send_message(chat_id, f"材料{number}：{e.message}")
        return
    except TelegramAPIError as e:
        logger.warning("attachment %s: Telegram download failed (%s)", item.id, type(e).__name__)
        await bot.send_message(chat_id, f"材料{number}：暂时无法从 Telegram 取回，请稍后再试。")
        return
    except BlobMissing:
        logger.error("attachment %s: its blob is missing from the store", item.id)
        await bot.send_message(chat_id, render("staff_material_missing", name=f"材料{number}"))
        return
    upload = BufferedInputFile(material.data, filename=material.file_name)
    await _send_file(bot, chat_id, _sent_as(item), upload)


TELEGRAM_PHOTO_MAX_BYTES = 10 * 1024 * 1024  # larger photos only go as documents
_PLAYABLE = {MediaKind.AUDIO: ("audio/mpeg", "audio/mp4"), MediaKind.VIDEO: ("video/mp4",)}


def _sent_as(item: Attachment) -> MediaKind:
    """A chat file goes back as it came; a web file as a photo, audio or video only where
    Telegram takes that format and size, otherwise as a document (the same answer every time,
    so the file id Telegram gives is always used with the method that got it)."""
    if item.blob_sha256 is None:
        return item.kind
    if item.kind is MediaKind.PHOTO and (item.file_size or 0) <= TELEGRAM_PHOTO_MAX_BYTES:
        return MediaKind.PHOTO
    if item.mime_type in _PLAYABLE.get(item.kind, ()):
        return item.kind
    return MediaKind.DOCUMENT


async def _send_attachment(
    bot: Bot, chat_id: int, item: Attachment, *, blobs: BlobStore, session: AsyncSession
) -> None:
    """By Telegram file id when there is one (nothing downloaded); a web file that has none yet
    is uploaded from the blob store, and the id Telegram gives it is remembered. A file whose
    blob is gone is named to the inspector in its place."""
    kind = _sent_as(item)
    if item.file_id:
        await _send_file(bot, chat_id, kind, item.file_id)
        return
    assert item.blob_sha256 is not None and item.id is not None
    try:
        data = await blobs.get(item.blob_sha256)
    except BlobMissing:
        logger.error("attachment %s: its blob is missing from the store", item.id)
        name = item.file_name or f"材料{item.id}"
        await bot.send_message(chat_id, render("staff_material_missing", name=name))
        return
    upload = BufferedInputFile(data, filename=item.file_name or f"材料{item.id}")
    sent = await _send_file(bot, chat_id, kind, upload)
    media = _media_of(sent, kind)
    if media is not None:
        await remember_telegram_file(
            session, item.id, file_id=media.file_id, file_unique_id=media.file_unique_id
        )


def _media_of(message: Message, kind: MediaKind) -> Any:
    """The file Telegram made of what was sent (the largest size of a photo)."""
    match kind:
        case MediaKind.PHOTO:
            return message.photo[-1] if message.photo else None
        case MediaKind.AUDIO:
            return message.audio
        case MediaKind.VIDEO:
            return message.video
        case MediaKind.VOICE:
            return message.voice
        case _:
            return message.document


async def _send_file(
    bot: Bot, chat_id: int, kind: MediaKind, file: str | BufferedInputFile
) -> Message:
    """Evidence goes back by Telegram file_id, or as an upload of a web file's bytes."""
    match kind:
        case MediaKind.PHOTO:
            return await bot.send_photo(chat_id, file)
        case MediaKind.VOICE:
            return await bot.send_voice(chat_id, file)
        case MediaKind.AUDIO:
            return await bot.send_audio(chat_id, file)
        case MediaKind.VIDEO:
            return await bot.send_video(chat_id, file)
        case _:
            return await bot.send_document(chat_id, file)


async def on_return(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    case_id = callback_data.case_id
    case = await check_case_action(session, actor, case_id, CaseAct.RETURN)
    teams = await list_route_targets(session, case)
    dispatcher = case.status in RETURNABLE and not return_window_over(case, policy, clock.now())
    keyboard = return_target_keyboard(case_id, teams, dispatcher=dispatcher)
    await _start(state, CaseFlow.return_target, case_id)
    await query.answer()
    text = render("staff_return_choose", number=case.number)
    await bot.send_message(query.from_user.id, text, reply_markup=keyboard)


async def on_ask(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case = await check_case_action(session, actor, callback_data.case_id, CaseAct.ASK)
    await _start(state, CaseFlow.question, callback_data.case_id)
    await query.answer()
    await bot.send_message(query.from_user.id, render("staff_question_ask", number=case.number))


async def on_progress_start(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case = await check_case_action(session, actor, callback_data.case_id, CaseAct.PROGRESS)
    appeal = case.track is Track.APPEAL
    await _start(state, CaseFlow.progress, callback_data.case_id, appeal=appeal)
    await query.answer()
    await bot.send_message(query.from_user.id, render("staff_progress_ask", number=case.number))


async def on_extend(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case_id = callback_data.case_id
    case = await check_case_action(session, actor, case_id, CaseAct.EXTEND)
    await _start(state, CaseFlow.extension_days, case_id)
    await query.answer()
    text = render("staff_extension_ask", number=case.number)
    await bot.send_message(query.from_user.id, text, reply_markup=extension_days_keyboard(case_id))


async def on_resolve(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case_id = callback_data.case_id
    case = await check_case_action(session, actor, case_id, CaseAct.RESOLVE)
    await _start(state, CaseFlow.outcome, case_id)
    await query.answer()
    text = render("staff_outcome_ask", number=case.number)
    await bot.send_message(query.from_user.id, text, reply_markup=outcome_keyboard(case_id))


# --- choices inside a step (CaseChoice) ---


async def on_target(
    query: CallbackQuery,
    *,
    callback_data: CaseChoice,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    case_id, value = callback_data.case_id, callback_data.value
    await _flow_case(state, CaseFlow.return_target, case_id)
    case = await check_case_action(session, actor, case_id, CaseAct.RETURN)
    if not _small_number(value):
        raise StaleAction(detail="bad target")
    if value == "0":  # 退回: refused before a reason is typed once the window is over
        check_return_window(case, policy, clock.now())
    await state.update_data(team_id=int(value))
    await state.set_state(CaseFlow.return_reason)
    await query.answer()
    text = render("staff_reason_ask", number=case.number, transfer=value != "0")
    await bot.send_message(query.from_user.id, text)


async def on_days(
    query: CallbackQuery,
    *,
    callback_data: CaseChoice,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case_id = callback_data.case_id
    await _flow_case(state, CaseFlow.extension_days, case_id)
    case = await check_case_action(session, actor, case_id, CaseAct.EXTEND)
    if not _small_number(callback_data.value):
        raise StaleAction(detail="bad days")
    await state.update_data(days=int(callback_data.value))
    await state.set_state(CaseFlow.extension_reason)
    await query.answer()
    text = render("staff_extension_reason_ask", number=case.number)
    await bot.send_message(query.from_user.id, text)


async def on_outcome(
    query: CallbackQuery,
    *,
    callback_data: CaseChoice,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
) -> None:
    case_id = callback_data.case_id
    await _flow_case(state, CaseFlow.outcome, case_id)
    case = await check_case_action(session, actor, case_id, CaseAct.RESOLVE)
    try:
        outcome = Outcome(callback_data.value)
    except ValueError:
        raise StaleAction(detail="bad outcome") from None
    await require_settled(session, case, outcome)  # told now, not after the summary is typed
    await state.update_data(outcome=outcome.value)
    await state.set_state(CaseFlow.summary)
    await query.answer(outcome.label)
    await bot.send_message(query.from_user.id, render("staff_summary_ask", number=case.number))


async def on_visibility(
    query: CallbackQuery,
    *,
    callback_data: CaseChoice,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
    clock: Clock,
) -> None:
    case_id = callback_data.case_id
    data = await _flow_case(state, CaseFlow.progress_visibility, case_id)
    public = callback_data.value == "1"
    async with step_ends(state):
        event = await add_progress(
            session, actor, case_id, note=data["note"], public=public, now=clock.now()
        )
    await query.answer("已记录")
    text = render("staff_progress_recorded", public=event.public, clue=False)
    await bot.send_message(query.from_user.id, text)


async def on_skip_amount(
    query: CallbackQuery,
    *,
    callback_data: CaseChoice,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    data = await _flow_case(state, CaseFlow.amount, callback_data.case_id)
    async with step_ends(state):
        case = await resolve_case(
            session,
            actor,
            callback_data.case_id,
            outcome=Outcome(data["outcome"]),
            summary=data["summary"],
            amount_yuan=None,
            policy=policy,
            now=clock.now(),
        )
    await query.answer("已提交审核" if _in_review(case) else "已办结")
    text = render("staff_resolved", number=case.number, reviewed=_in_review(case))
    await bot.send_message(query.from_user.id, text)


# --- what the inspector types in a step ---


async def on_return_reason(
    message: Message,
    *,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    clock: Clock,
    policy: Policy,
) -> None:
    data = await state.get_data()
    reason, now = message.text or "", clock.now()
    async with step_ends(state):
        if data.get("team_id"):
            await transfer_case(
                session, actor, step_case_id(data), team_id=data["team_id"], reason=reason, now=now
            )
        else:
            await request_return(
                session, actor, step_case_id(data), reason=reason, policy=policy, now=now
            )
    await message.answer(
        render("staff_request_submitted", days=None, transfer=bool(data.get("team_id")))
    )


async def on_question(
    message: Message, session: AsyncSession, actor: Inspector, state: FSMContext, clock: Clock
) -> None:
    data = await state.get_data()
    async with step_ends(state):
        await ask_reporter(
            session, actor, step_case_id(data), question=message.text or "", now=clock.now()
        )
    await message.answer(render("staff_question_sent"))


async def on_progress(
    message: Message, session: AsyncSession, actor: Inspector, state: FSMContext, clock: Clock
) -> None:
    data = await state.get_data()
    note = clean_note(message.text or "", "办理进展")
    if data.get("appeal"):
        await state.update_data(note=note)
        await state.set_state(CaseFlow.progress_visibility)
        keyboard = visibility_keyboard(step_case_id(data))
        await message.answer(render("staff_visibility_ask"), reply_markup=keyboard)
        return
    async with step_ends(state):
        await add_progress(
            session, actor, step_case_id(data), note=note, public=False, now=clock.now()
        )
    await message.answer(render("staff_progress_recorded", public=False, clue=True))


async def on_extension_days(message: Message, actor: Inspector, state: FSMContext) -> None:
    """The days typed; ``actor`` is not used, but only an active inspector takes the step."""
    text = (message.text or "").strip().removesuffix("个工作日").removesuffix("天")
    if not _small_number(text) or not 1 <= int(text) <= EXTENSION_MAX_DAYS:
        raise InvalidInput(f"请输入1至{EXTENSION_MAX_DAYS}之间的工作日数，例如 5。")
    await state.update_data(days=int(text))
    await state.set_state(CaseFlow.extension_reason)
    await message.answer(render("staff_extension_reason_ask", number=None))


async def on_extension_reason(
    message: Message,
    *,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    clock: Clock,
    policy: Policy,
) -> None:
    data = await state.get_data()
    async with step_ends(state):
        await request_extension(
            session,
            actor,
            step_case_id(data),
            days=data["days"],
            reason=message.text or "",
            now=clock.now(),
            limits=policy.config.limits,
        )
    await message.answer(render("staff_request_submitted", days=data["days"], transfer=False))


async def on_summary(message: Message, actor: Inspector, state: FSMContext) -> None:
    """办理情况; ``actor`` is not used, but only an active inspector takes the step."""
    summary = clean_note(message.text or "", "办理情况")
    data = await state.get_data()
    await state.update_data(summary=summary)
    await state.set_state(CaseFlow.amount)
    keyboard = skip_amount_keyboard(step_case_id(data))
    await message.answer(render("staff_amount_ask"), reply_markup=keyboard)


async def on_amount(
    message: Message,
    *,
    amount: int,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
) -> None:
    data = await state.get_data()
    async with step_ends(state):
        case = await resolve_case(
            session,
            actor,
            step_case_id(data),
            outcome=Outcome(data["outcome"]),
            summary=data["summary"],
            amount_yuan=amount,
            policy=policy,
            now=clock.now(),
        )
    await message.answer(render("staff_resolved", number=case.number, reviewed=_in_review(case)))


def _in_review(case: Case) -> bool:
    """The 办结 waits for 组长审核 (``[review] appeal``): the case is still in hand."""
    return case.status is not CaseStatus.RESOLVED


async def typed_amount(message: Message) -> dict[str, Any]:
    """The amount typed at 办结 (a wrong one is refused before the person is looked up)."""
    return {"amount": parse_amount_yuan(message.text or "")}


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


def _register_buttons(router: Router) -> None:
    router.callback_query.register(on_forged, F.data.func(is_forged))
    act, step = CaseAction.filter, CaseChoice.filter
    router.callback_query.register(on_accept, act(F.act == CaseAct.ACCEPT))
    router.callback_query.register(on_materials, act(F.act == CaseAct.MATERIALS))
    router.callback_query.register(on_return, act(F.act == CaseAct.RETURN))
    router.callback_query.register(on_ask, act(F.act == CaseAct.ASK))
    router.callback_query.register(on_progress_start, act(F.act == CaseAct.PROGRESS))
    router.callback_query.register(on_extend, act(F.act == CaseAct.EXTEND))
    router.callback_query.register(on_resolve, act(F.act == CaseAct.RESOLVE))
    router.callback_query.register(on_target, step(F.step == CaseStep.TARGET))
    router.callback_query.register(on_days, step(F.step == CaseStep.DAYS))
    router.callback_query.register(on_outcome, step(F.step == CaseStep.OUTCOME))
    router.callback_query.register(on_visibility, step(F.step == CaseStep.VISIBLE))
    router.callback_query.register(on_skip_amount, step(F.step == CaseStep.SKIP_AMOUNT))


def _register_steps(router: Router) -> None:
    router.message.register(cmd_cancel, StateFilter(CaseFlow), Command("cancel"))
    typed = F.text & ~F.text.startswith("/")
    router.message.register(on_return_reason, CaseFlow.return_reason, typed)
    router.message.register(on_question, CaseFlow.question, typed)
    router.message.register(on_progress, CaseFlow.progress, typed)
    router.message.register(on_extension_days, CaseFlow.extension_days, typed)
    router.message.register(on_extension_reason, CaseFlow.extension_reason, typed)
    router.message.register(on_summary, CaseFlow.summary, typed)
    router.message.register(on_amount, CaseFlow.amount, typed, typed_amount)
    router.message.register(
        on_text_instead_of_button,
        StateFilter(CaseFlow.return_target, CaseFlow.progress_visibility, CaseFlow.outcome),
        typed,
    )
    router.message.register(on_not_text, StateFilter(CaseFlow), ~F.text)


def setup() -> Router:
    router = with_actor(Router(name=__name__))
    _register_buttons(router)
    _register_steps(router)
    return router
