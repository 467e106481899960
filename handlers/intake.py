"""反映问题: the report as a conversation — buttons at every step, nothing lost, resumable after a
restart (the draft is JSON in the FSM storage)."""

from __future__ import annotations

import html
import secrets
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
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
from handlers.filters import (
    MEDIA,
    TEXT,
    UNSUPPORTED,
    add_evidence,
    as_evidence,
    evidence_of,
    kinds_label,
    valid_name,
)
from handlers.flow import flow_ends
from handlers.states import Intake
from models.errors import DomainError, InvalidInput, StaleAction
from models.intake import (
    DESCRIPTION_MAX,
    EVIDENCE_MAX,
    CaseDraft,
    check_description,
    check_name,
    clean_text,
    normalize_mobile,
    parse_amount_yuan,
)
from models.org import Track
from notifications import telegram as kb
from notifications.render import render, yuan_to_wan
from notifications.telegram import IntakeAct, IntakeAction, Menu, MenuAct, Part

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None

BUSY = "您正在进行其他操作，请先完成，或发送 /cancel 取消。"
RESUMED = "您有一份尚未提交的反映，请继续填写。"
CLUE_NOTE = "该类问题按问题线索保密办理，办理中仅告知您“已受理”“已办结”。"

PROMPTS = {
    Intake.category.state: "请选择您要反映的问题类别：",
    Intake.description.state: (
        "请用文字描述您反映的问题（10–2000字）：\n什么事、涉及哪个单位或个人、大概时间、您的诉求。"
    ),
    Intake.amount.state: (
        "问题涉及的金额是多少？\n请输入万元数，例如 12.5；按元计请注明“元”，例如 125000元。\n"
        "不涉及金额请点“跳过”。"
    ),
    Intake.identity.state: (
        "请选择反映方式：\n实名：留下姓名和手机号，便于工作人员联系核实。\n"
        "匿名：不留身份信息，提交后获得回执码，凭回执码查询进展。"
    ),
    Intake.contact.state: (
        "请点击下方“发送手机号”按钮发送您本人的手机号，或点“手动输入”填写姓名和手机号。"
    ),
    Intake.name.state: "请输入您的姓名：",
    Intake.phone.state: "请输入您的手机号码（11位），或点击下方“发送手机号”：",
}

HINTS = {
    Intake.category.state: "请点击按钮选择问题类别。",
    Intake.description.state: "请用文字描述问题（10–2000字）。",
    Intake.evidence.state: "请发送图片、文件、语音或视频，发完请点“完成”。",
    Intake.amount.state: "请输入金额，例如 12.5，或点“跳过”。",
    Intake.identity.state: "请点击“实名”或“匿名”。",
    Intake.contact.state: "请点击下方“发送手机号”，或直接输入您的姓名。",
    Intake.name.state: "请输入您的姓名。",
    Intake.phone.state: "请输入11位手机号码，或点击下方“发送手机号”。",
    Intake.summary.state: "请点击“确认提交”“修改”或“取消”。",
}

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


async def _draft(state: FSMContext, pressed: IntakeAction) -> dict[str, Any]:
    """The draft a button belongs to; a button of another draft is stale."""
    data = await state.get_data()
    if data.get("draft_id") != pressed.draft:
        raise StaleAction
    return data


async def _markup(state_name: str, data: dict[str, Any], session: AsyncSession) -> Markup:
    draft = data["draft_id"]
    if state_name == Intake.category.state:
        return kb.categories_keyboard(draft, await list_categories(session))
    if state_name == Intake.description.state:
        return kb.cancel_keyboard(draft)
    if state_name == Intake.evidence.state:
        return kb.evidence_keyboard(draft, len(data.get("evidence", [])))
    if state_name == Intake.amount.state:
        return kb.amount_keyboard(draft)
    if state_name == Intake.identity.state:
        return kb.identity_keyboard(draft)
    if state_name == Intake.contact.state:
        return kb.contact_keyboard()
    if state_name == Intake.name.state:
        return ReplyKeyboardRemove()
    if state_name == Intake.phone.state:
        return kb.phone_keyboard()
    return kb.summary_keyboard(draft)


def _summary(data: dict[str, Any]) -> str:
    evidence = data.get("evidence", [])
    return render(
        "reporter_summary",
        category=data.get("category_name", ""),
        description=data.get("description", ""),
        evidence=evidence,
        evidence_kinds=kinds_label(evidence),
        amount_yuan=data.get("amount_yuan"),
        anonymous=data.get("anonymous", True),
        contact_name=data.get("contact_name"),
        contact_phone=data.get("contact_phone"),
        clue=data.get("clue", False),
    )


def _prompt_text(state_name: str, data: dict[str, Any]) -> str:
    if state_name == Intake.summary.state:
        return _summary(data)
    if state_name == Intake.evidence.state:
        count = len(data.get("evidence", []))
        lines = [
            f"请上传相关材料：图片、文件、语音或视频，最多{EVIDENCE_MAX}个，每个不超过20MB。",
            "也可以继续发送文字，补充到问题描述中。",
        ]
        if count:
            lines.append(f"当前已有{count}个附件（{kinds_label(data['evidence'])}）。")
        lines.append("发完或没有材料，请点“完成”。")
        return "\n".join(lines)
    if state_name == Intake.description.state and data.get("editing"):
        return "请输入新的问题描述（10–2000字），将替换原来的描述。"
    return PROMPTS[state_name]


async def _show(
    bot: Bot, chat_id: int, state: FSMContext, session: AsyncSession, note: str | None = None
) -> None:
    """Send the prompt of the step the draft is at, with its buttons; ``note`` goes first."""
    state_name = await state.get_state()
    assert state_name is not None
    data = await state.get_data()
    text = _prompt_text(state_name, data)
    if note:
        text = f"{note}\n\n{text}"
    await bot.send_message(chat_id, text, reply_markup=await _markup(state_name, data, session))


async def _go(
    target: Any,
    bot: Bot,
    *,
    chat_id: int,
    state: FSMContext,
    session: AsyncSession,
    note: str | None = None,
) -> None:
    """Move to ``target``, or back to the summary when a part was being changed (修改)."""
    data = await state.get_data()
    if data.get("editing"):
        await state.update_data(editing=False)
        target = Intake.summary
    await state.set_state(target)
    await _show(bot, chat_id, state, session, note)


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


def _appended(description: str, extra: str) -> str:
    """Text sent at the evidence step, added to the description within the limit."""
    addition = clean_text(extra)
    if not addition:
        raise InvalidInput("内容为空，请重新发送。")
    combined = f"{description}\n{addition}" if description else addition
    if len(combined) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"补充后问题描述将达到{len(combined)}字，超过{DESCRIPTION_MAX}字上限，未添加。"
            "请精简后重新发送，或以文件形式上传。"
        )
    return combined


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
        await _show(bot, chat_id, state, session, RESUMED)
        return
    if current is not None:
        raise DomainError(BUSY)
    await require_reporter(session, config, user_id)
    # the draft before the step: a storage that writes at once never holds the step without it
    await state.set_data({"draft_id": secrets.token_hex(4), "evidence": []})
    await state.set_state(Intake.category)
    await _show(bot, chat_id, state, session)


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


async def on_category_chosen(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    await _draft(state, callback_data)
    category = await get_active_category(session, callback_data.value)
    clue = category.track is Track.CLUE
    await state.update_data(category=category.code, category_name=category.name, clue=clue)
    await _drop_buttons(bot, query, f"问题类别：{html.escape(category.name)}")
    await _go(
        Intake.description,
        bot,
        chat_id=_chat_id(query),
        state=state,
        session=session,
        note=CLUE_NOTE if clue else None,
    )
    await query.answer()


async def _take_description(
    text: str, bot: Bot, chat_id: int, state: FSMContext, session: AsyncSession
) -> None:
    description = check_description(text)
    await state.update_data(description=description)
    await _go(
        Intake.evidence,
        bot,
        chat_id=chat_id,
        state=state,
        session=session,
        note=f"已记录问题描述（{len(description)}字）。",
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
    data = await state.get_data()
    items = add_evidence(data.get("evidence", []), evidence_of(message) or {})
    await state.update_data(evidence=items)
    if message.caption:
        await _take_description(message.caption, bot, message.chat.id, state, session)
        return
    await message.answer(
        f"已保存这个附件（共{len(items)}个）。请先用文字描述问题（10–2000字），之后还可以继续上传材料。",
        reply_markup=kb.cancel_keyboard(data["draft_id"]),
    )


async def on_evidence_file(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    items = add_evidence(data.get("evidence", []), evidence_of(message) or {})
    changes: dict[str, Any] = {"evidence": items}
    lines = [f"已收到{len(items)}个附件（{kinds_label(items)}）。"]
    if message.caption and clean_text(message.caption):
        combined = f"{data.get('description', '')}\n{clean_text(message.caption)}"
        if len(combined) <= DESCRIPTION_MAX:
            changes["description"] = combined
            lines.append("附件说明已补充到问题描述。")
        else:
            lines.append(f"附件说明超出问题描述{DESCRIPTION_MAX}字上限，未补充。")
    await state.update_data(**changes)
    if len(items) < EVIDENCE_MAX:
        lines.append("可继续发送，发完请点“完成”。")
    else:
        lines.append(f"已达{EVIDENCE_MAX}个上限，请点“完成”。")
    await message.answer(
        "".join(lines), reply_markup=kb.evidence_keyboard(data["draft_id"], len(items))
    )


async def on_evidence_text(message: Message, state: FSMContext) -> None:
    assert message.text is not None
    data = await state.get_data()
    description = _appended(data.get("description", ""), message.text)
    await state.update_data(description=description)
    await message.answer(
        f"已补充到问题描述（共{len(description)}字）。可继续发送材料，或点“完成”。",
        reply_markup=kb.evidence_keyboard(data["draft_id"], len(data.get("evidence", []))),
    )


async def on_evidence_done(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    data = await _draft(state, callback_data)
    count = len(data.get("evidence", []))
    await _drop_buttons(bot, query)
    note = f"已上传{count}个附件。" if count else "未上传附件。"
    await _go(Intake.amount, bot, chat_id=_chat_id(query), state=state, session=session, note=note)
    await query.answer()


async def on_evidence_clear(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    data = await _draft(state, callback_data)
    await state.update_data(evidence=[])
    await _drop_buttons(bot, query)
    await bot.send_message(
        _chat_id(query),
        "已清空附件，请重新发送；没有材料请点“完成”。",
        reply_markup=kb.evidence_keyboard(data["draft_id"], 0),
    )
    await query.answer()


async def on_amount(message: Message, bot: Bot, state: FSMContext, session: AsyncSession) -> None:
    assert message.text is not None
    amount = parse_amount_yuan(message.text)
    await state.update_data(amount_yuan=amount)
    note = f"涉及金额：{yuan_to_wan(amount)}万元。"
    await _go(
        Intake.identity, bot, chat_id=message.chat.id, state=state, session=session, note=note
    )


async def on_amount_skipped(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    await _draft(state, callback_data)
    await state.update_data(amount_yuan=None)
    await _drop_buttons(bot, query)
    await _go(
        Intake.identity,
        bot,
        chat_id=_chat_id(query),
        state=state,
        session=session,
        note="涉及金额：不填写。",
    )
    await query.answer()


async def on_named(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    await _draft(state, callback_data)
    await state.update_data(pending_phone=None)
    await _drop_buttons(bot, query, "反映方式：实名")
    await state.set_state(Intake.contact)
    await _show(bot, _chat_id(query), state, session)
    await query.answer()


async def on_anonymous(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    await _draft(state, callback_data)
    await state.update_data(anonymous=True, contact_name=None, contact_phone=None)
    await _drop_buttons(bot, query, "反映方式：匿名")
    await _go(Intake.summary, bot, chat_id=_chat_id(query), state=state, session=session)
    await query.answer()


async def _named(
    name: str,
    phone: str,
    message: Message,
    *,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    """Name and phone are known: the reply keyboard goes, the summary comes."""
    await state.update_data(
        anonymous=False, contact_name=name, contact_phone=phone, pending_phone=None
    )
    await message.answer("已记录您的姓名和手机号。", reply_markup=ReplyKeyboardRemove())
    await _go(Intake.summary, bot, chat_id=message.chat.id, state=state, session=session)


def _own_phone(message: Message) -> str:
    """The number of a shared contact, if it is the sender's own (the contact button's)."""
    contact = message.contact
    assert contact is not None and message.from_user is not None
    if contact.user_id != message.from_user.id:
        raise InvalidInput("请点击下方“发送手机号”按钮发送您本人的手机号，不能发送他人的名片。")
    return normalize_mobile(contact.phone_number)


async def on_contact_shared(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession
) -> None:
    phone = _own_phone(message)
    assert message.contact is not None
    profile = f"{message.contact.first_name} {message.contact.last_name or ''}"
    name = valid_name(profile)
    data = await state.get_data()
    if data.get("contact_name") and await state.get_state() == Intake.phone.state:
        name = data["contact_name"]
    if name is None:
        await state.update_data(pending_phone=phone)
        await state.set_state(Intake.name)
        await _show(bot, message.chat.id, state, session, "已收到您的手机号。")
        return
    await _named(name, phone, message, bot=bot, state=state, session=session)


async def on_type_contact(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession
) -> None:
    await state.set_state(Intake.name)
    await _show(bot, message.chat.id, state, session)


async def on_name(message: Message, bot: Bot, state: FSMContext, session: AsyncSession) -> None:
    assert message.text is not None
    name = check_name(message.text)
    data = await state.get_data()
    if data.get("pending_phone"):
        await _named(name, data["pending_phone"], message, bot=bot, state=state, session=session)
        return
    await state.update_data(contact_name=name)
    await state.set_state(Intake.phone)
    await _show(bot, message.chat.id, state, session)


async def on_phone(message: Message, bot: Bot, state: FSMContext, session: AsyncSession) -> None:
    assert message.text is not None
    phone = normalize_mobile(message.text)
    data = await state.get_data()
    await _named(data["contact_name"], phone, message, bot=bot, state=state, session=session)


async def on_edit(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    data = await _draft(state, callback_data)
    await _swap_buttons(bot, query, kb.edit_keyboard(data["draft_id"]))
    await query.answer("请选择要修改的内容")


async def on_edit_back(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    data = await _draft(state, callback_data)
    await _swap_buttons(bot, query, kb.summary_keyboard(data["draft_id"]))
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
    await _draft(state, callback_data)
    if callback_data.value not in {p.value for p in Part}:
        raise StaleAction
    part = Part(callback_data.value)
    await state.update_data(editing=True)
    await state.set_state(PART_STATES[part])
    await _drop_buttons(bot, query)
    await _show(bot, _chat_id(query), state, session)
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
    data = await _draft(state, callback_data)
    if not data.get("category") or not data.get("description"):
        raise StaleAction
    reporter = await require_reporter(session, policy.config, query.from_user.id)
    anonymous = bool(data.get("anonymous", True))
    draft = CaseDraft(
        category_code=data["category"],
        description=data["description"],
        evidence=as_evidence(data.get("evidence", [])),
        amount_yuan=data.get("amount_yuan"),
        anonymous=anonymous,
        contact_name=None if anonymous else data.get("contact_name"),
        contact_phone=None if anonymous else data.get("contact_phone"),
    )
    async with flow_ends(state):
        submitted = await submit_case(
            session,
            reporter,
            draft,
            policy=policy,
            now=clock.now(),
            draft_id=data["draft_id"],
        )
    if not submitted.duplicate:
        metrics.cases_submitted.inc()
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


async def on_submit_delivered_again(update: Update, data: dict[str, Any]) -> None:
    """确认提交 delivered again after a crash cut its handler off past the commit: the case
    exists, but the confirmation may never have gone out, so it is sent (again)."""
    query = update.callback_query
    if query is None or not query.data:
        return
    try:
        pressed = IntakeAction.unpack(query.data)
    except (TypeError, ValueError):
        return
    if pressed.act != IntakeAct.SUBMIT:
        return
    session: AsyncSession = data["session"]
    clock: Clock = data["clock"]
    bot: Bot = data["bot"]
    state: FSMContext = data["state"]
    reporter = await require_reporter(session, data["config"], query.from_user.id)
    confirmed = await confirm_again(session, reporter, pressed.draft, clock.now())
    if confirmed is None:
        return
    if (await state.get_data()).get("draft_id") == pressed.draft:
        await state.clear()
    await _confirm(bot, query, confirmed, reissued=True)


async def on_cancel_asked(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    data = await _draft(state, callback_data)
    await bot.send_message(
        _chat_id(query),
        "确定取消本次反映吗？已填写的内容将被清除。",
        reply_markup=kb.cancel_confirm_keyboard(data["draft_id"]),
    )
    await query.answer()


async def on_cancel_confirmed(
    query: CallbackQuery, callback_data: IntakeAction, bot: Bot, state: FSMContext
) -> None:
    await _draft(state, callback_data)
    await state.clear()
    await _drop_buttons(bot, query, "已取消本次反映，填写的内容已清除。")
    await bot.send_message(
        _chat_id(query), "需要时可随时重新反映：", reply_markup=kb.menu_keyboard()
    )
    await query.answer("已取消")


async def on_cancel_withdrawn(
    query: CallbackQuery,
    callback_data: IntakeAction,
    bot: Bot,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    await _draft(state, callback_data)
    await _drop_buttons(bot, query, "好的，请继续填写。")
    await _show(bot, _chat_id(query), state, session)
    await query.answer()


async def on_stale_button(query: CallbackQuery) -> None:
    """A button of a finished, cancelled or other draft, or of another step."""
    raise StaleAction


async def on_file_elsewhere(
    message: Message, bot: Bot, state: FSMContext, session: AsyncSession
) -> None:
    """A file sent at a later step is kept with the evidence, and the step is shown again."""
    data = await state.get_data()
    items = add_evidence(data.get("evidence", []), evidence_of(message) or {})
    await state.update_data(evidence=items)
    await _show(bot, message.chat.id, state, session, f"已添加到附件（共{len(items)}个）。")


async def on_other_input(message: Message, state: FSMContext, session: AsyncSession) -> None:
    """Anything a step does not take: what the step wants, with its buttons again."""
    state_name = await state.get_state()
    assert state_name is not None
    data = await state.get_data()
    hint = HINTS[state_name]
    if state_name == Intake.evidence.state:
        text = UNSUPPORTED if not message.text else hint
    else:
        text = hint if message.text else f"不支持此类内容。{hint}"
    await message.answer(text, reply_markup=await _markup(state_name, data, session))


def setup() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    on = IntakeAction.filter
    router.callback_query.register(on_menu_report, Menu.filter(F.act == MenuAct.REPORT))
    router.message.register(cmd_report, Command("report"))
    router.callback_query.register(
        on_category_chosen, on(F.act == IntakeAct.CATEGORY), Intake.category
    )
    router.callback_query.register(on_evidence_done, on(F.act == IntakeAct.DONE), Intake.evidence)
    router.callback_query.register(on_evidence_clear, on(F.act == IntakeAct.CLEAR), Intake.evidence)
    router.callback_query.register(on_amount_skipped, on(F.act == IntakeAct.SKIP), Intake.amount)
    router.callback_query.register(on_named, on(F.act == IntakeAct.NAMED), Intake.identity)
    router.callback_query.register(on_anonymous, on(F.act == IntakeAct.ANONYMOUS), Intake.identity)
    router.callback_query.register(on_submit, on(F.act == IntakeAct.SUBMIT), Intake.summary)
    router.callback_query.register(on_edit, on(F.act == IntakeAct.EDIT), Intake.summary)
    router.callback_query.register(on_edit_back, on(F.act == IntakeAct.BACK), Intake.summary)
    router.callback_query.register(on_edit_part, on(F.act == IntakeAct.PART), Intake.summary)
    in_intake = StateFilter(*Intake.__states__)
    router.callback_query.register(on_cancel_asked, on(F.act == IntakeAct.CANCEL), in_intake)
    router.callback_query.register(
        on_cancel_confirmed, on(F.act == IntakeAct.CANCEL_YES), in_intake
    )
    router.callback_query.register(on_cancel_withdrawn, on(F.act == IntakeAct.CANCEL_NO), in_intake)
    router.callback_query.register(on_stale_button, on())

    router.message.register(on_description, Intake.description, TEXT)
    router.message.register(on_description_file, Intake.description, MEDIA)
    router.message.register(on_evidence_file, Intake.evidence, MEDIA)
    router.message.register(on_evidence_text, Intake.evidence, TEXT)
    router.message.register(on_amount, Intake.amount, TEXT)
    router.message.register(on_contact_shared, Intake.contact, F.contact)
    router.message.register(on_contact_shared, Intake.phone, F.contact)
    router.message.register(on_type_contact, Intake.contact, F.text == kb.TYPE_CONTACT)
    router.message.register(on_name, Intake.contact, TEXT)
    router.message.register(on_name, Intake.name, TEXT)
    router.message.register(on_phone, Intake.phone, TEXT)
    router.message.register(on_file_elsewhere, in_intake, MEDIA)
    router.message.register(on_other_input, in_intake)
    return router
