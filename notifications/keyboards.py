"""Inline keyboards attached to queued notifications, as the JSON the Bot API takes."""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from handlers.callbacks import (
    CaseAct,
    CaseAction,
    FollowupAnswer,
    FollowupRating,
    RelayReply,
    RequestDecision,
    TeamAct,
    TeamAction,
)

INSPECTOR_BUTTONS: tuple[tuple[tuple[str, CaseAct], ...], ...] = (
    (("签收", CaseAct.ACCEPT), ("退回", CaseAct.RETURN)),
    (("查看材料", CaseAct.MATERIALS), ("提问", CaseAct.ASK)),
    (("记录进展", CaseAct.PROGRESS), ("申请延期", CaseAct.EXTEND)),
    (("办结", CaseAct.RESOLVE),),
)


def as_json(markup: InlineKeyboardMarkup) -> dict[str, Any]:
    """The markup as stored in the outbox row."""
    return markup.model_dump(mode="json", exclude_none=True)


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
