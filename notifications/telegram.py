"""The Telegram vocabulary: the callback data of Lianka's buttons and the keyboards a notice carries.

Callback data is short, versioned, ids only; every press is authorised again from the database.
A queued notice says what it offers (``models.notification.Offer``); ``notice_keyboard`` turns
that into the buttons when the notice is sent. Handlers use the same classes and keyboards.
"""

from __future__ import annotations

import enum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from pydantic import Field

from models.notification import Notification, Offer, Offering

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


class CaseStep(enum.StrEnum):
    """A choice inside an inspector's multi-step action."""

    OUTCOME = "out"  # 办结: the outcome
    DAYS = "days"  # 申请延期: working days
    VISIBLE = "vis"  # 记录进展: tell the reporter (1) or not (0)
    SKIP_AMOUNT = "amt"  # 办结: no amount
    TARGET = "to"  # 退回 (0: the dispatcher) or 转办 to a team


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


PREFIXES = ("ca1", "ta1", "rq1", "cs1", "rr1", "qp1", "ad1")
"""The callback prefixes the inspectors' side owns; anything else under them is refused."""


INSPECTOR_BUTTONS: tuple[tuple[tuple[str, CaseAct], ...], ...] = (
    (("签收", CaseAct.ACCEPT), ("退回", CaseAct.RETURN)),
    (("查看材料", CaseAct.MATERIALS), ("提问", CaseAct.ASK)),
    (("记录进展", CaseAct.PROGRESS), ("申请延期", CaseAct.EXTEND)),
    (("办结", CaseAct.RESOLVE),),
)


def inspector_case_keyboard(case_id: int) -> InlineKeyboardMarkup:
    """签收 · 退回 · 查看材料 · 提问 · 记录进展 · 申请延期 · 办结."""
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


def offer_keyboard(offering: Offering) -> InlineKeyboardMarkup:
    """The buttons that show an offer in Telegram."""
    ref = offering.ref
    match offering.offer:
        case Offer.CASE_WORK:
            return inspector_case_keyboard(ref)
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


def notice_keyboard(row: Notification) -> InlineKeyboardMarkup | None:
    """The buttons a queued notice is sent with: its offer, or the keyboard stored in a row
    queued before offers existed."""
    offering = row.offering
    if offering is not None:
        return offer_keyboard(offering)
    if row.reply_markup:
        return InlineKeyboardMarkup.model_validate(row.reply_markup)
    return None
