"""问题线索处置 in chat: the assignee's 提出处置意见 (a disposition, the people placed on file for
立案审查, a reason), the team leader's review and the 委领导's approval (同意 · 不同意), and the
实名 reporter's one 异议 on the result. Every press is authorised again by the use case
(``bot.services.dispositions``); the acting person comes from ``handlers.actor``.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import LiankaConfig
from bot.services.dispositions import (
    PEOPLE_MAX,
    check_deciders,
    check_review,
    clue_state,
    decide_disposition,
    may_propose,
    object_to_result,
    objection_case,
    propose_disposition,
    review_disposition,
)
from bot.services.permissions import load_case, require_assignee
from bot.services.policy import Policy
from handlers.actor import with_actor
from handlers.flow import SideStep
from handlers.staff_steps import on_not_text, on_text_instead_of_button, step_case_id, step_ends
from models.case import WORKING_STATUSES
from models.disposition import ClueDisposition, Disposition
from models.errors import InvalidInput, StaleAction
from models.org import Track
from models.team import Inspector
from notifications.render import render
from notifications.telegram import (
    CaseAct,
    CaseAction,
    ClueAct,
    ClueAction,
    ClueObjection,
    button_rows,
    staff_button,
)


class ClueFlow(StatesGroup):
    kind = State()  # choosing the disposition
    people = State()  # 立案审查: the people placed on file
    reason = State()
    review_note = State()  # 组长不同意: why


class ObjectionFlow(StatesGroup):
    text = State()  # the reporter's 异议


OBJECTION = SideStep(
    ObjectionFlow.text,
    ref_key="objection_case_id",
    return_key="objection_return",
    cancelled="objection_cancelled",
)


def _kinds_keyboard(case_id: int, kinds: tuple[Disposition, ...]) -> InlineKeyboardMarkup:
    buttons = [
        staff_button(k.label, ClueAction(act=ClueAct.KIND, ref=case_id, kind=k.value))[0]
        for k in kinds
    ]
    return button_rows(buttons)


async def _start_proposal(
    query: CallbackQuery,
    case_id: int,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    *,
    config: LiankaConfig,
) -> None:
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "提出处置意见")
    clue = await clue_state(session, case_id, assignee_id=case.assignee_id)
    if not may_propose(actor, case, clue):
        raise StaleAction("该线索已有处置意见待审批，请等待审批结果。")
    await check_deciders(session, actor, case, config.clue)  # refused before anything is typed
    await state.set_data({"case_id": case_id})
    await state.set_state(ClueFlow.kind)
    await query.answer()
    now = f"（当前：{clue.current.kind.label}）" if clue.current else ""
    text = f"请选择问题线索 {case.number} 的处置意见{now}，经组长审核、委领导批准后执行："
    assert isinstance(query.message, Message)
    await query.message.answer(text, reply_markup=_kinds_keyboard(case_id, clue.options))


async def on_propose(
    query: CallbackQuery,
    *,
    callback_data: ClueAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    config: LiankaConfig,
) -> None:
    await _start_proposal(query, callback_data.ref, session, actor, state, config=config)


async def on_resolve_clue(
    query: CallbackQuery,
    *,
    callback_data: CaseAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    config: LiankaConfig,
) -> None:
    """办结 on a clue opens 提出处置意见 (a clue is disposed of, not 办结); an appeal goes on to
    the inspector's 办结."""
    case = await load_case(session, callback_data.case_id)
    if case.track is not Track.CLUE:
        raise SkipHandler
    await _start_proposal(query, callback_data.case_id, session, actor, state, config=config)


async def on_kind(
    query: CallbackQuery,
    *,
    callback_data: ClueAction,
    state: FSMContext,
) -> None:
    data = await state.get_data()
    if await state.get_state() != ClueFlow.kind.state or data.get("case_id") != callback_data.ref:
        raise StaleAction(detail="disposition chosen outside its conversation")
    try:
        kind = Disposition(callback_data.kind)
    except ValueError:
        raise StaleAction(detail="bad disposition") from None
    await state.update_data(kind=kind.value)
    await query.answer(kind.label)
    assert isinstance(query.message, Message)
    if kind is Disposition.FILE:
        await state.set_state(ClueFlow.people)
        await query.message.answer("请输入立案审查的人数（被立案审查人员数，至少1人）：")
        return
    await state.set_state(ClueFlow.reason)
    await query.message.answer(f"请输入“{kind.label}”的处置理由（集体研判依据）：")


async def on_people(message: Message, state: FSMContext) -> None:
    text = (message.text or "").strip()
    if not (text.isdecimal() and len(text) <= 4 and 1 <= int(text) <= PEOPLE_MAX):
        raise InvalidInput("请输入立案人数（1至999的整数）。")
    await state.update_data(people=int(text))
    await state.set_state(ClueFlow.reason)
    await message.answer("请输入“立案审查”的处置理由（集体研判依据）：")


async def on_reason(
    message: Message,
    *,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
) -> None:
    data = await state.get_data()
    async with step_ends(state):
        proposal = await propose_disposition(
            session, actor, step_case_id(data), kind=Disposition(data["kind"]),
            reason=message.text or "", people=data.get("people"), policy=policy,
            now=clock.now(),
        )  # fmt: skip
    where = "已报委领导审批（本组暂无其他组长）" if proposal.review_skipped else "已提交审核"
    await message.answer(f"处置意见“{proposal.kind.label}”{where}，审批结果将通知您。")


async def _done(query: CallbackQuery, bot: Bot, text: str) -> None:
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
    await bot.send_message(query.from_user.id, text)


async def on_agree(
    query: CallbackQuery,
    *,
    callback_data: ClueAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    proposal = await review_disposition(
        session, actor, callback_data.ref, agree=True, policy=policy, now=clock.now()
    )
    await query.answer("已同意")
    await _done(query, bot, f"已同意处置意见“{proposal.kind.label}”，已报委领导审批。")


async def on_disagree(
    query: CallbackQuery,
    *,
    callback_data: ClueAction,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    policy: Policy,
) -> None:
    """不同意: only a reviewer of a proposal still waiting is asked for the reason."""
    await check_review(session, actor, callback_data.ref, policy=policy)
    await state.set_data({"proposal_id": callback_data.ref})
    await state.set_state(ClueFlow.review_note)
    await query.answer()
    assert isinstance(query.message, Message)
    await query.message.answer("请输入不同意的理由，将退回承办人修改：")


async def on_review_note(
    message: Message,
    *,
    session: AsyncSession,
    actor: Inspector,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
) -> None:
    data = await state.get_data()
    async with step_ends(state):
        proposal = await review_disposition(
            session, actor, data["proposal_id"], agree=False, note=message.text or "",
            policy=policy, now=clock.now(),
        )  # fmt: skip
    await message.answer(f"您未同意处置意见“{proposal.kind.label}”，已退回承办人。")


def _decided_text(proposal: ClueDisposition, approve: bool) -> str:
    if not approve:
        return f"您未同意处置意见“{proposal.kind.label}”，线索维持原处置状态，已告知承办人。"
    if proposal.kind is Disposition.FILE:
        return (
            f"已批准立案审查（{proposal.people}人）。该线索在本系统办结，"
            "立案后转审查调查系统办理；已告知承办人，实名反映的另告知反映人。"
        )
    if proposal.kind is Disposition.DISMISS:
        return "已批准予以了结，该线索已办结；已告知承办人，实名反映的另告知反映人。"
    return f"已批准“{proposal.kind.label}”，已告知承办人。"


async def on_decide(
    query: CallbackQuery,
    *,
    callback_data: ClueAction,
    session: AsyncSession,
    actor: Inspector,
    bot: Bot,
    policy: Policy,
    clock: Clock,
) -> None:
    approve = callback_data.act is ClueAct.APPROVE
    proposal = await decide_disposition(
        session, actor, callback_data.ref, approve=approve, policy=policy, now=clock.now()
    )
    await query.answer("已批准" if approve else "已不同意")
    await _done(query, bot, _decided_text(proposal, approve))


async def on_cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer("已取消。")


# --- the reporter's 异议 ---


async def on_objection_start(
    query: CallbackQuery,
    *,
    callback_data: ClueObjection,
    session: AsyncSession,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
) -> None:
    case, _ = await objection_case(
        session, query.from_user.id, callback_data.case_id, policy, clock.now()
    )
    await OBJECTION.enter(state, case.id)
    await query.answer()
    assert isinstance(query.message, Message)
    await query.message.answer(
        f"请简要写明您对问题线索（受理编号 {case.number}）处置结果的异议和理由。"
        "异议只能提出一次，我们将依规研究处理。"
    )


async def on_objection_text(
    message: Message, *, session: AsyncSession, state: FSMContext, policy: Policy, clock: Clock
) -> None:
    case_id = OBJECTION.ref(await state.get_data())
    if case_id is None or message.from_user is None:
        await OBJECTION.leave(state)
        raise StaleAction
    async with OBJECTION.leaving(state):
        _, reporter = await objection_case(
            session, message.from_user.id, case_id, policy, clock.now()
        )
        await object_to_result(
            session, case_id, text=message.text or "", reporter_id=reporter.id, policy=policy,
            now=clock.now(),
        )  # fmt: skip
    await message.answer("您的异议已收到，我们将依规研究处理。感谢您对监督工作的支持。")


async def on_objection_not_text(message: Message) -> None:
    await message.answer(render("objection_text_only"))


def setup() -> Router:
    """The staff side: before ``handlers.inspector``, so 办结 on a clue opens 提出处置意见."""
    router = with_actor(Router(name=__name__))
    router.callback_query.register(on_resolve_clue, CaseAction.filter(F.act == CaseAct.RESOLVE))
    router.callback_query.register(on_propose, ClueAction.filter(F.act == ClueAct.PROPOSE))
    router.callback_query.register(on_kind, ClueAction.filter(F.act == ClueAct.KIND))
    router.callback_query.register(on_agree, ClueAction.filter(F.act == ClueAct.AGREE))
    router.callback_query.register(on_disagree, ClueAction.filter(F.act == ClueAct.DISAGREE))
    decide = F.act.in_({ClueAct.APPROVE, ClueAct.REFUSE})
    router.callback_query.register(on_decide, ClueAction.filter(decide))
    router.message.register(on_cancel, StateFilter(ClueFlow), Command("cancel"))
    typed = F.text & ~F.text.startswith("/")
    router.message.register(on_people, ClueFlow.people, typed)
    router.message.register(on_reason, ClueFlow.reason, typed)
    router.message.register(on_review_note, ClueFlow.review_note, typed)
    router.message.register(on_text_instead_of_button, ClueFlow.kind, typed)
    router.message.register(on_not_text, StateFilter(ClueFlow), ~F.text)
    return router


def setup_reporter() -> Router:
    """The reporter's 提出异议 and the text of it (before the intake takes any text)."""
    router = Router(name=f"{__name__}.reporter")
    router.callback_query.register(on_objection_start, ClueObjection.filter())
    typed = F.text & ~F.text.startswith("/")
    router.message.register(on_objection_text, ObjectionFlow.text, typed)
    router.message.register(on_objection_not_text, ObjectionFlow.text, ~F.text)
    return router
