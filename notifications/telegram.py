"""The Telegram vocabulary: the callback data of Lianka's buttons and the keyboards a notice carries.

Callback data is short, versioned, ids only; every press is authorised again from the database.
A queued notice says what it offers (``models.notification.Offer``); ``notice_keyboard`` turns
that into the buttons when the notice is sent. Handlers use the same classes and keyboards: the
reporter's conversations (menu, 反映问题, 我的问题) and the staff's (choices, queues, decisions) have a
section each below. Nothing here reads the database; handlers pass what a keyboard shows.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Protocol

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from pydantic import Field

from models.case import Outcome
from models.notification import Notification, Offer, Offering
from models.org import Category
from models.team import Inspector, Team

DbId = Annotated[int, Field(ge=0, le=2**31 - 1)]
"""An id (or page) in callback data: what a forged one can hold stops at the database's integer."""


class CaseAct(enum.StrEnum):
    """What an inspector's button on an assignment asks for."""

    ACCEPT = "acc"  # 签收
    RETURN = "ret"  # 退回
    MATERIALS = "mat"  # 查看材料
    ASK = "ask"  # 提问
    PROGRESS = "prg"  # 记录进展
    EXTEND = "ext"  # 申请延期
    RECTIFY = "rfy"  # 反馈整改 (``handlers.rectification``)
    VERIFY = "vfy"  # 核验整改
    RESOLVE = "res"  # 办结


class CaseAction(CallbackData, prefix="ca1"):
    """An inspector acts on a case."""

    act: CaseAct
    case_id: DbId


class TeamAct(enum.StrEnum):
    """What a team leader's button asks for."""

    ASSIGN = "asg"  # open the list of inspectors
    ASSIGN_TO = "to"  # assign to ``inspector_id``
    ROUTE = "rte"  # open the list of teams (dispatcher, admins)
    ROUTE_TO = "rt"  # send the case to ``team_id``
    SUPERVISE = "sup"  # 督办 (leaders)
    WITHDRAW_RECTIFY = "wrf"  # 撤销整改要求 (the team leader; ``handlers.rectification``)


class TeamAction(CallbackData, prefix="ta1"):
    """A team leader or leader acts on a case."""

    act: TeamAct
    case_id: DbId
    inspector_id: DbId = 0
    team_id: DbId = 0


class RequestDecision(CallbackData, prefix="rq1"):
    """A team leader approves or refuses an extension, return or transfer request; an approved
    return names the team it goes to (``team_id``; 0 until the leader has picked one)."""

    request_id: DbId
    approve: bool
    team_id: DbId = 0


class FollowupRating(enum.StrEnum):
    """The reporter's answer at 回访."""

    SATISFIED = "s"  # 满意
    BASIC = "b"  # 基本满意
    UNSATISFIED = "u"  # 不满意


class FollowupAnswer(CallbackData, prefix="fu1"):
    """A reporter rates a resolved case (回访)."""

    case_id: DbId
    rating: FollowupRating


class AftercareReply(enum.StrEnum):
    """The reporter's answer at 防打击报复回访."""

    NONE = "n"  # 没有
    YES = "y"  # 有: recorded, the clue opened at once, details invited
    SUBMIT = "s"  # 直接提交 (of messages sent before 有 opened the clue at once): as 有
    DONE = "d"  # 无需补充: no details for the opened clue (its id in the button)


class AftercareAnswer(CallbackData, prefix="ac1"):
    """A reporter answers the 防打击报复回访 question (checked against the account on every press)."""

    case_id: DbId
    reply: AftercareReply


class CaseStep(enum.StrEnum):
    """A choice inside an inspector's multi-step action."""

    OUTCOME = "out"  # 办结: the outcome
    DAYS = "days"  # 申请延期: working days
    VISIBLE = "vis"  # 记录进展: tell the reporter (1) or not (0)
    SKIP_AMOUNT = "amt"  # 办结: no amount
    TARGET = "to"  # 退回 (0: the dispatcher) or 转办 to a team
    RECTIFY_DAYS = "rdays"  # 反馈整改: the working days the unit has
    VERIFIED = "vok"  # 核验整改: passed (1) or not (0)


class CaseChoice(CallbackData, prefix="cs1"):
    """An inspector's choice in a step; checked against the conversation and the database."""

    step: CaseStep
    case_id: DbId
    value: str = ""


class RelayReply(CallbackData, prefix="rr1"):
    """The reporter answers a relayed question (回复)."""

    relay_id: DbId


class QueuePage(CallbackData, prefix="qp1"):
    """A page of /queue."""

    page: DbId


class AdminAct(enum.StrEnum):
    DEACTIVATE = "off"  # ask to confirm
    DEACTIVATE_CONFIRMED = "offok"


class AdminAction(CallbackData, prefix="ad1"):
    """An admin acts on a person."""

    act: AdminAct
    inspector_id: DbId


class ClueAct(enum.StrEnum):
    """问题线索处置 (``handlers.clue``): the assignee's proposal, the reviews and approvals."""

    PROPOSE = "p"  # 提出处置意见 (ref: the case)
    KIND = "k"  # the disposition chosen (ref: the case; ``kind``)
    AGREE = "ra"  # 组长审核 同意 (ref: the disposition)
    DISAGREE = "rd"  # 组长审核 不同意: asks for a note
    APPROVE = "aa"  # 委领导审批 同意
    REFUSE = "ad"  # 委领导审批 不同意


class ClueAction(CallbackData, prefix="cl1"):
    """A staff button on a clue's disposition; authorised again from the database."""

    act: ClueAct
    ref: DbId
    kind: str = ""


class ClueObjection(CallbackData, prefix="ob1"):
    """提出异议: a 实名 clue reporter on the result (checked against the chat on every press)."""

    case_id: DbId


class SupervisionAct(enum.StrEnum):
    """督办回复 and 合并办理 (``handlers.supervision``)."""

    REPLY = "rep"  # 督办回复: the assignee or team leader answers a 督办
    MERGE = "mrg"  # 合并办理: a 疑似重复件 into the case it repeats


class SupervisionAction(CallbackData, prefix="sv1"):
    """The team acts on a 督办 or a 疑似重复件."""

    act: SupervisionAct
    case_id: DbId


class AssistAct(enum.StrEnum):
    """室组联动 (``handlers.assist``): a 协办 team's note, the lead team leader's choices."""

    PROGRESS = "prg"  # 协办进展: a 协办 team member writes a note
    TEAMS = "tms"  # 协办: show the 协办 teams and the teams that could be added
    ADD = "add"  # add ``team_id`` as a 协办 team
    REMOVE = "rm"  # remove ``team_id``


class AssistAction(CallbackData, prefix="as1"):
    """A button about a case's 协办 teams; authorised again from the database."""

    act: AssistAct
    case_id: DbId
    team_id: DbId = 0


PREFIXES = ("ca1", "ta1", "rq1", "cs1", "rr1", "qp1", "ad1")
"""The callback prefixes the inspectors' side owns; anything else under them is refused."""


INSPECTOR_BUTTONS: tuple[tuple[tuple[str, CaseAct], ...], ...] = (
    (("签收", CaseAct.ACCEPT), ("退回", CaseAct.RETURN)),
    (("查看材料", CaseAct.MATERIALS), ("提问", CaseAct.ASK)),
    (("记录进展", CaseAct.PROGRESS), ("申请延期", CaseAct.EXTEND)),
    (("反馈整改", CaseAct.RECTIFY), ("核验整改", CaseAct.VERIFY)),
    (("办结", CaseAct.RESOLVE),),
)
CLUE_HIDDEN = frozenset({"办结", "反馈整改", "核验整改"})
"""The case card's buttons a clue's assignee does not get on /case (a clue is disposed of)."""


def inspector_case_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """签收 · 退回 · 查看材料 · 提问 · 记录进展 · 申请延期 · 反馈整改 · 核验整改 · 办结."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=text, callback_data=CaseAction(act=act, case_id=case_id).pack()
                )
                for text, act in row
            ]
            for row in INSPECTOR_BUTTONS
        ]
    )


def clue_work_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """A clue's assignee: the case buttons but 办结 · 反馈整改 · 核验整改 (``CLUE_HIDDEN``), and
    提出处置意见 in their place."""
    rows = [
        [b for b in row if b.text not in CLUE_HIDDEN]
        for row in inspector_case_keyboard(case_id).inline_keyboard
    ]
    rows = [row for row in rows if row]
    rows.append(staff_button("提出处置意见", ClueAction(act=ClueAct.PROPOSE, ref=case_id)))
    return InlineKeyboardMarkup(inline_keyboard=rows)


def materials_button(case_id: int) -> InlineKeyboardButton:
    """查看材料, for whoever may see a case's materials without working it."""
    return InlineKeyboardButton(
        text="查看材料", callback_data=CaseAction(act=CaseAct.MATERIALS, case_id=case_id).pack()
    )


def leader_assign_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """分派 for a case waiting in the team's queue."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text="分派",
                    callback_data=TeamAction(act=TeamAct.ASSIGN, case_id=case_id).pack(),
                )
            ]
        ]
    )


FOLLOWUP_BUTTONS = (
    ("满意", FollowupRating.SATISFIED),
    ("基本满意", FollowupRating.BASIC),
    ("不满意", FollowupRating.UNSATISFIED),
)


def followup_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """满意 · 基本满意 · 不满意 for the reporter at 回访."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=text,
                    callback_data=FollowupAnswer(case_id=case_id, rating=rating).pack(),
                )
                for text, rating in FOLLOWUP_BUTTONS
            ]
        ]
    )


def aftercare_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """没有 · 有 for the reporter at 防打击报复回访."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("没有", AftercareAnswer(case_id=case_id, reply=AftercareReply.NONE)),
                _button("有", AftercareAnswer(case_id=case_id, reply=AftercareReply.YES)),
            ]
        ]
    )


def aftercare_details_keyboard(clue_id: int) -> InlineKeyboardMarkup:
    """无需补充: the clue a 有 opened is left as it is."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button("无需补充", AftercareAnswer(case_id=clue_id, reply=AftercareReply.DONE))]
        ]
    )


def request_keyboard(request_id: int) -> InlineKeyboardMarkup:
    """同意 · 不同意 for a request waiting for the team leader."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text="同意",
                    callback_data=RequestDecision(request_id=request_id, approve=True).pack(),
                ),
                InlineKeyboardButton(
                    text="不同意",
                    callback_data=RequestDecision(request_id=request_id, approve=False).pack(),
                ),
            ]
        ]
    )


def relay_reply_keyboard(relay_id: int) -> InlineKeyboardMarkup:
    """回复 under a question relayed to the reporter."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="回复", callback_data=RelayReply(relay_id=relay_id).pack())]
        ]
    )


def disposition_keyboard(proposal_id: int, *, review: bool) -> InlineKeyboardMarkup:
    """同意 · 不同意 on a clue's proposed disposition: the team leader's review or the 委领导's
    approval."""
    yes, no = (ClueAct.AGREE, ClueAct.DISAGREE) if review else (ClueAct.APPROVE, ClueAct.REFUSE)
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("同意", ClueAction(act=yes, ref=proposal_id)),
                _button("不同意", ClueAction(act=no, ref=proposal_id)),
            ]
        ]
    )


def objection_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """提出异议 under a clue's result."""
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button("提出异议", ClueObjection(case_id=case_id))]]
    )


def offer_keyboard(offering: Offering) -> InlineKeyboardMarkup:
    """The buttons that show an offer in Telegram."""
    ref = offering.ref
    match offering.offer:
        case Offer.CASE_WORK:
            return inspector_case_keyboard(ref)
        case Offer.CLUE_WORK:
            return clue_work_keyboard(ref)
        case Offer.CASE_MATERIALS:
            return InlineKeyboardMarkup(inline_keyboard=[[materials_button(ref)]])
        case Offer.LEADER_ASSIGN:
            return leader_assign_keyboard(ref)
        case Offer.FOLLOWUP:
            return followup_keyboard(ref)
        case Offer.REQUEST_DECISION:
            return request_keyboard(ref)
        case Offer.RELAY_REPLY:
            return relay_reply_keyboard(ref)
        case Offer.DISPOSITION_REVIEW:
            return disposition_keyboard(ref, review=True)
        case Offer.DISPOSITION_APPROVAL:
            return disposition_keyboard(ref, review=False)
        case Offer.CLUE_OBJECTION:
            return objection_keyboard(ref)
        case Offer.SUPERVISION_REPLY:
            return supervision_keyboard(ref, SupervisionAct.REPLY, "督办回复")
        case Offer.REPEAT_MERGE:
            return supervision_keyboard(ref, SupervisionAct.MERGE, "合并办理")
        case Offer.ASSIST_PROGRESS:
            return assist_progress_keyboard(ref)
        case Offer.AFTERCARE:
            return aftercare_keyboard(ref)


def assist_progress_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """协办进展 · 查看材料, for a 协办 team."""
    data = AssistAction(act=AssistAct.PROGRESS, case_id=case_id)
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button("协办进展", data), materials_button(case_id)]]
    )


def assist_teams_keyboard(
    case_id: int, *, targets: Iterable[Team], current: Iterable[Team]
) -> InlineKeyboardMarkup:
    """增加协办：<team> for each team that could be added, 撤销协办：<team> for each 协办 team."""
    rows = [
        staff_button(
            f"增加协办：{team.name}",
            AssistAction(act=AssistAct.ADD, case_id=case_id, team_id=team.id or 0),
        )
        for team in targets
    ]
    rows += [
        staff_button(
            f"撤销协办：{team.name}",
            AssistAction(act=AssistAct.REMOVE, case_id=case_id, team_id=team.id or 0),
        )
        for team in current
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def supervision_keyboard(case_id: int, act: SupervisionAct, text: str) -> InlineKeyboardMarkup:
    """督办回复 (or 合并办理) · 查看材料."""
    data = SupervisionAction(act=act, case_id=case_id).pack()
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=text, callback_data=data), materials_button(case_id)]
        ]
    )


def notice_keyboard(row: Notification) -> InlineKeyboardMarkup | None:
    """The buttons a queued notice is sent with: its offer, or the keyboard stored in a row
    queued before offers existed."""
    offering = row.offering
    if offering is not None:
        return offer_keyboard(offering)
    if row.reply_markup:
        return InlineKeyboardMarkup.model_validate(row.reply_markup)
    return None


# --- reporter conversations ---------------------------------------------------------------------
# The reporter's buttons: the greeting's menu, the steps of a report, 我的问题. Short, versioned;
# authorised again on every press.


SEND_CONTACT = "发送手机号"
TYPE_CONTACT = "手动输入"
GO_ANONYMOUS = "改为匿名"


class MenuAct(enum.StrEnum):
    REPORT = "rep"  # 反映问题
    MY = "my"  # 我的问题
    CONTACT = "con"  # 联系我们


class Menu(CallbackData, prefix="rm1"):
    """The greeting's buttons: always valid, they start something new."""

    act: MenuAct


class IntakeAct(enum.StrEnum):
    CATEGORY = "cat"  # value: category id
    DONE = "done"  # 完成 (evidence)
    CLEAR = "clr"  # 清空附件
    SKIP = "skip"  # 跳过 (amount)
    NAMED = "real"  # 实名
    ANONYMOUS = "anon"  # 匿名
    SUBMIT = "ok"  # 确认提交
    EDIT = "edit"  # 修改
    PART = "part"  # value: which part to change
    BACK = "back"  # back to the summary's buttons
    CANCEL = "cxl"  # 取消 (asks first)
    CANCEL_YES = "cxy"
    CANCEL_NO = "cxn"


class Part(enum.IntEnum):
    CATEGORY = 1
    DESCRIPTION = 2
    EVIDENCE = 3
    AMOUNT = 4
    IDENTITY = 5


PART_LABELS = {
    Part.CATEGORY: "问题类别",
    Part.DESCRIPTION: "问题描述",
    Part.EVIDENCE: "附件",
    Part.AMOUNT: "涉及金额",
    Part.IDENTITY: "反映方式",
}


class IntakeAction(CallbackData, prefix="ri1"):
    """A button of one draft: stale when the draft is gone or has moved to another step."""

    draft: str
    act: IntakeAct
    value: DbId = 0


class MyAct(enum.StrEnum):
    VIEW = "v"
    LIST = "l"
    MATERIAL = "m"  # start 补充材料
    DONE = "d"  # 完成 补充材料
    CANCEL = "c"  # 取消 补充材料
    WITHDRAW = "w"  # 撤回: asks to confirm
    WITHDRAW_SURE = "ws"  # 撤回 confirmed


class MyCase(CallbackData, prefix="rk1"):
    """A reporter's case button; the case is checked against the account on every press."""

    act: MyAct
    case_id: DbId = 0


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _rows(buttons: Sequence[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + width]) for i in range(0, len(buttons), width)]


def menu_keyboard() -> InlineKeyboardMarkup:
    """反映问题 · 我的问题 · 联系我们."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button("反映问题", Menu(act=MenuAct.REPORT))],
            [
                _button("我的问题", Menu(act=MenuAct.MY)),
                _button("联系我们", Menu(act=MenuAct.CONTACT)),
            ],
        ]
    )


def _intake_act(draft: str, act: IntakeAct, value: int = 0) -> IntakeAction:
    return IntakeAction(draft=draft, act=act, value=value)


def _intake_cancel_row(draft: str) -> list[InlineKeyboardButton]:
    return [_button("取消", _intake_act(draft, IntakeAct.CANCEL))]


def categories_keyboard(draft: str, categories: Sequence[Category]) -> InlineKeyboardMarkup:
    buttons = [
        _button(c.name, _intake_act(draft, IntakeAct.CATEGORY, c.id or 0))
        for c in categories
        if c.id
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*_rows(buttons, 2), _intake_cancel_row(draft)])


def cancel_keyboard(draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[_intake_cancel_row(draft)])


def evidence_keyboard(draft: str, count: int) -> InlineKeyboardMarkup:
    first = [_button("完成", _intake_act(draft, IntakeAct.DONE))]
    if count:
        first.append(_button("清空附件", _intake_act(draft, IntakeAct.CLEAR)))
    return InlineKeyboardMarkup(inline_keyboard=[first, _intake_cancel_row(draft)])


def amount_keyboard(draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button("跳过", _intake_act(draft, IntakeAct.SKIP))],
            _intake_cancel_row(draft),
        ]
    )


def identity_keyboard(draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("实名", _intake_act(draft, IntakeAct.NAMED)),
                _button("匿名", _intake_act(draft, IntakeAct.ANONYMOUS)),
            ],
            _intake_cancel_row(draft),
        ]
    )


def contact_keyboard() -> ReplyKeyboardMarkup:
    """Telegram's own contact button, the way to type name and number instead, and back to
    匿名 (实名 chosen by mistake)."""
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=SEND_CONTACT, request_contact=True)],
            [KeyboardButton(text=TYPE_CONTACT), KeyboardButton(text=GO_ANONYMOUS)],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder="或直接输入您的姓名",
    )


def phone_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=SEND_CONTACT, request_contact=True)],
            [KeyboardButton(text=GO_ANONYMOUS)],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder="11位手机号码",
    )


def summary_keyboard(draft: str) -> InlineKeyboardMarkup:
    """确认提交 · 修改 · 取消."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button("确认提交", _intake_act(draft, IntakeAct.SUBMIT))],
            [
                _button("修改", _intake_act(draft, IntakeAct.EDIT)),
                *_intake_cancel_row(draft),
            ],
        ]
    )


def edit_keyboard(draft: str) -> InlineKeyboardMarkup:
    """Which part to change, and 返回."""
    buttons = [
        _button(label, _intake_act(draft, IntakeAct.PART, part))
        for part, label in PART_LABELS.items()
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[
            *_rows(buttons, 2),
            [_button("返回", _intake_act(draft, IntakeAct.BACK))],
        ]
    )


def cancel_confirm_keyboard(draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("确定取消", _intake_act(draft, IntakeAct.CANCEL_YES)),
                _button("继续填写", _intake_act(draft, IntakeAct.CANCEL_NO)),
            ]
        ]
    )


def my_cases_keyboard(cases: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    """One button per case: (id, label)."""
    rows = [[_button(label, MyCase(act=MyAct.VIEW, case_id=case_id))] for case_id, label in cases]
    rows.append([_button("反映新问题", Menu(act=MenuAct.REPORT))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def reporter_case_keyboard(
    case_id: int, can_add: bool, can_withdraw: bool = False
) -> InlineKeyboardMarkup:
    rows = []
    if can_add:
        rows.append([_button("补充材料", MyCase(act=MyAct.MATERIAL, case_id=case_id))])
    if can_withdraw:
        rows.append([_button("撤回", MyCase(act=MyAct.WITHDRAW, case_id=case_id))])
    rows.append([_button("返回列表", MyCase(act=MyAct.LIST))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def withdraw_confirm_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("确认撤回", MyCase(act=MyAct.WITHDRAW_SURE, case_id=case_id)),
                _button("不撤回", MyCase(act=MyAct.VIEW, case_id=case_id)),
            ]
        ]
    )


def material_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("完成", MyCase(act=MyAct.DONE, case_id=case_id)),
                _button("取消", MyCase(act=MyAct.CANCEL, case_id=case_id)),
            ]
        ]
    )


def view_case_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button("查看详情", MyCase(act=MyAct.VIEW, case_id=case_id))]]
    )


def stranger_keyboard() -> InlineKeyboardMarkup:
    """For an account without a card: 我的问题 (cases followed by receipt code) · 联系我们."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("我的问题", Menu(act=MenuAct.MY)),
                _button("联系我们", Menu(act=MenuAct.CONTACT)),
            ]
        ]
    )


def report_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button("反映问题", Menu(act=MenuAct.REPORT))]])


# --- staff conversations ------------------------------------------------------------------------


EXTENSION_CHOICES = (3, 5, 10, 15)
"""The working days offered at 申请延期 (any other number can be typed)."""


def staff_button(text: str, data: CallbackData) -> list[InlineKeyboardButton]:
    """A row of one button."""
    return [_button(text, data)]


def case_choice(text: str, step: CaseStep, case_id: int, value: str) -> InlineKeyboardButton:
    """A choice inside an inspector's step."""
    return InlineKeyboardButton(
        text=text, callback_data=CaseChoice(step=step, case_id=case_id, value=value).pack()
    )


def button_rows(buttons: list[InlineKeyboardButton], width: int = 2) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[buttons[i : i + width] for i in range(0, len(buttons), width)]
    )


def return_target_keyboard(
    case_id: int, teams: Iterable[Team], *, dispatcher: bool
) -> InlineKeyboardMarkup:
    """退回: back to the dispatcher (if it may go back), or 转办 to another team."""
    buttons = (
        [case_choice("退回信访室重新分办", CaseStep.TARGET, case_id, "0")] if dispatcher else []
    )
    buttons += [
        case_choice(f"转办：{team.name}", CaseStep.TARGET, case_id, str(team.id))
        for team in teams
        if not team.is_dispatcher
    ]
    return button_rows(buttons, 1)


def extension_days_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return button_rows(
        [case_choice(f"{n}个工作日", CaseStep.DAYS, case_id, str(n)) for n in EXTENSION_CHOICES]
    )


RECTIFY_DAY_CHOICES = (10, 15, 20, 30)
"""The working days offered at 反馈整改 (any other number up to the config's most can be typed)."""


def rectify_days_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return button_rows(
        [
            case_choice(f"{n}个工作日", CaseStep.RECTIFY_DAYS, case_id, str(n))
            for n in RECTIFY_DAY_CHOICES
        ]
    )


def verify_result_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """核验整改: 整改到位（通过） · 未整改到位（不通过）."""
    return button_rows(
        [
            case_choice("整改到位，核验通过", CaseStep.VERIFIED, case_id, "1"),
            case_choice("未整改到位", CaseStep.VERIFIED, case_id, "0"),
        ],
        width=1,
    )


def outcome_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return button_rows([case_choice(o.label, CaseStep.OUTCOME, case_id, o.value) for o in Outcome])


def visibility_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return button_rows(
        [
            case_choice("告知反映人", CaseStep.VISIBLE, case_id, "1"),
            case_choice("仅内部记录", CaseStep.VISIBLE, case_id, "0"),
        ]
    )


def skip_amount_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return button_rows([case_choice("跳过", CaseStep.SKIP_AMOUNT, case_id, "")])


class QueueLineView(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def number(self) -> str: ...
    @property
    def assignee(self) -> str | None: ...


class QueueView(Protocol):
    @property
    def lines(self) -> Sequence[QueueLineView]: ...
    @property
    def page(self) -> int: ...
    @property
    def pages(self) -> int: ...
    @property
    def can_assign(self) -> bool: ...


def queue_keyboard(queue: QueueView) -> InlineKeyboardMarkup:
    """分派/改派 (or 查看材料) per case, and the pages."""
    rows = []
    for line in queue.lines:
        if queue.can_assign:
            label = "分派" if line.assignee is None else "改派"
            rows.append(
                staff_button(
                    f"{label} {line.number}", TeamAction(act=TeamAct.ASSIGN, case_id=line.id)
                )
            )
        else:
            rows.append(
                staff_button(
                    f"查看材料 {line.number}", CaseAction(act=CaseAct.MATERIALS, case_id=line.id)
                )
            )
    nav = []
    if queue.page > 0:
        nav += staff_button("‹ 上一页", QueuePage(page=queue.page - 1))
    if queue.page + 1 < queue.pages:
        nav += staff_button("下一页 ›", QueuePage(page=queue.page + 1))
    if nav:
        rows.append(nav)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def staff_case_keyboard(
    case_id: int,
    *,
    works: bool,
    assign: bool,
    assigned: bool,
    route: bool,
    supervise: bool,
    dispose: bool = False,
    assist_progress: bool = False,
    assist_teams: bool = False,
    withdraw_rectification: bool = False,
) -> InlineKeyboardMarkup | None:
    """/case: the buttons this person can use on this case (each press is authorised again);
    ``dispose`` (the assignee's, on a clue): 提出处置意见 in place of 办结 and 整改; ``assist_progress``: 协办进展 for a
    协办 team; ``assist_teams``: 协办 (add or remove 协办 teams) for the lead team leader;
    ``withdraw_rectification``: 撤销整改要求 for the team leader while a 整改 is open."""
    rows: list[list[InlineKeyboardButton]] = []
    if works:
        keyboard = clue_work_keyboard if dispose else inspector_case_keyboard
        rows += keyboard(case_id).inline_keyboard
    else:
        rows.append([materials_button(case_id)])
    if assign:
        label = "改派" if assigned else "分派"
        rows.append(staff_button(label, TeamAction(act=TeamAct.ASSIGN, case_id=case_id)))
    if route:
        rows.append(staff_button("分办至其他组", TeamAction(act=TeamAct.ROUTE, case_id=case_id)))
    if supervise:
        rows.append(staff_button("督办", TeamAction(act=TeamAct.SUPERVISE, case_id=case_id)))
    if assist_progress:
        rows.append(staff_button("协办进展", AssistAction(act=AssistAct.PROGRESS, case_id=case_id)))
    if assist_teams:
        rows.append(staff_button("协办", AssistAction(act=AssistAct.TEAMS, case_id=case_id)))
    if withdraw_rectification:
        act = TeamAction(act=TeamAct.WITHDRAW_RECTIFY, case_id=case_id)
        rows.append(staff_button("撤销整改要求", act))
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def _team_rows(case_id: int, teams: Iterable[Team]) -> list[list[InlineKeyboardButton]]:
    return [
        staff_button(
            f"分办：{team.name}",
            TeamAction(act=TeamAct.ROUTE_TO, case_id=case_id, team_id=team.id or 0),
        )
        for team in teams
    ]


def teams_keyboard(case_id: int, teams: Iterable[Team]) -> InlineKeyboardMarkup:
    """分办：<team> for each team the case can be sent to."""
    return InlineKeyboardMarkup(inline_keyboard=_team_rows(case_id, teams))


def assignee_keyboard(
    case_id: int,
    *,
    members: Iterable[Inspector],
    loads: Mapping[int, int],
    current: int | None,
    teams: Iterable[Team],
) -> InlineKeyboardMarkup:
    """分派: each member but the current assignee, with their open cases; then the teams."""
    rows = [
        staff_button(
            f"{m.name}（{loads.get(m.id or 0, 0)}）",
            TeamAction(act=TeamAct.ASSIGN_TO, case_id=case_id, inspector_id=m.id or 0),
        )
        for m in members
        if m.id != current
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows + _team_rows(case_id, teams))


def return_decision_keyboard(request_id: int, teams: Iterable[Team]) -> InlineKeyboardMarkup:
    """同意退回: where the case goes (the dispatcher, or another team)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            staff_button(
                "退回信访室重新分办" if team.is_dispatcher else f"改交：{team.name}",
                RequestDecision(request_id=request_id, approve=True, team_id=team.id or 0),
            )
            for team in teams
        ]
    )


class PersonView(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def name(self) -> str: ...


def deactivate_keyboard(
    people: Iterable[PersonView], *, actor_id: int | None
) -> InlineKeyboardMarkup:
    """/inspectors: 停用 for everyone listed but the admin asking."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            staff_button(
                f"停用 {person.id}. {person.name}",
                AdminAction(act=AdminAct.DEACTIVATE, inspector_id=person.id or 0),
            )
            for person in people
            if person.id != actor_id
        ]
    )


def confirm_deactivate_keyboard(inspector_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            staff_button(
                "确认停用",
                AdminAction(act=AdminAct.DEACTIVATE_CONFIRMED, inspector_id=inspector_id),
            )
        ]
    )
