"""The reporter's buttons and their callback data (short, versioned; authorised again on press)."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)

from models.org import Category
from notifications.telegram import DbId

SEND_CONTACT = "发送手机号"
TYPE_CONTACT = "手动输入"


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


def _act(draft: str, act: IntakeAct, value: int = 0) -> IntakeAction:
    return IntakeAction(draft=draft, act=act, value=value)


def _cancel_row(draft: str) -> list[InlineKeyboardButton]:
    return [_button("取消", _act(draft, IntakeAct.CANCEL))]


def categories_keyboard(draft: str, categories: Sequence[Category]) -> InlineKeyboardMarkup:
    buttons = [
        _button(c.name, _act(draft, IntakeAct.CATEGORY, c.id or 0)) for c in categories if c.id
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*_rows(buttons, 2), _cancel_row(draft)])


def cancel_keyboard(draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[_cancel_row(draft)])


def evidence_keyboard(draft: str, count: int) -> InlineKeyboardMarkup:
    first = [_button("完成", _act(draft, IntakeAct.DONE))]
    if count:
        first.append(_button("清空附件", _act(draft, IntakeAct.CLEAR)))
    return InlineKeyboardMarkup(inline_keyboard=[first, _cancel_row(draft)])


def amount_keyboard(draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_button("跳过", _act(draft, IntakeAct.SKIP))], _cancel_row(draft)]
    )


def identity_keyboard(draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("实名", _act(draft, IntakeAct.NAMED)),
                _button("匿名", _act(draft, IntakeAct.ANONYMOUS)),
            ],
            _cancel_row(draft),
        ]
    )


def contact_keyboard() -> ReplyKeyboardMarkup:
    """Telegram's own contact button, and the way to type name and number instead."""
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=SEND_CONTACT, request_contact=True)],
            [KeyboardButton(text=TYPE_CONTACT)],
        ],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder="或直接输入您的姓名",
    )


def phone_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=SEND_CONTACT, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder="11位手机号码",
    )


def summary_keyboard(draft: str) -> InlineKeyboardMarkup:
    """确认提交 · 修改 · 取消."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button("确认提交", _act(draft, IntakeAct.SUBMIT))],
            [_button("修改", _act(draft, IntakeAct.EDIT)), *_cancel_row(draft)],
        ]
    )


def edit_keyboard(draft: str) -> InlineKeyboardMarkup:
    """Which part to change, and 返回."""
    buttons = [
        _button(label, _act(draft, IntakeAct.PART, part)) for part, label in PART_LABELS.items()
    ]
    return InlineKeyboardMarkup(
        inline_keyboard=[*_rows(buttons, 2), [_button("返回", _act(draft, IntakeAct.BACK))]]
    )


def cancel_confirm_keyboard(draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button("确定取消", _act(draft, IntakeAct.CANCEL_YES)),
                _button("继续填写", _act(draft, IntakeAct.CANCEL_NO)),
            ]
        ]
    )


def my_cases_keyboard(cases: Sequence[tuple[int, str]]) -> InlineKeyboardMarkup:
    """One button per case: (id, label)."""
    rows = [[_button(label, MyCase(act=MyAct.VIEW, case_id=case_id))] for case_id, label in cases]
    rows.append([_button("反映新问题", Menu(act=MenuAct.REPORT))])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def case_keyboard(case_id: int, can_add: bool, can_withdraw: bool = False) -> InlineKeyboardMarkup:
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
