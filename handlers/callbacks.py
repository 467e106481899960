"""Callback data: short, versioned, ids only. Every press is authorised again from the database."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData


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
    case_id: int


class TeamAct(enum.StrEnum):
    """What a team leader's button asks for."""

    ASSIGN = "asg"  # open the list of inspectors
    ASSIGN_TO = "to"  # assign to ``inspector_id``
    SUPERVISE = "sup"  # 督办 (leaders)


class TeamAction(CallbackData, prefix="ta1"):
    """A team leader or leader acts on a case."""

    act: TeamAct
    case_id: int
    inspector_id: int = 0


class RequestDecision(CallbackData, prefix="rq1"):
    """A team leader approves or refuses an extension, return or transfer request."""

    request_id: int
    approve: bool


class FollowupRating(enum.StrEnum):
    """The reporter's answer at 回访."""

    SATISFIED = "s"  # 满意
    BASIC = "b"  # 基本满意
    UNSATISFIED = "u"  # 不满意


class FollowupAnswer(CallbackData, prefix="fu1"):
    """A reporter rates a resolved case (回访)."""

    case_id: int
    rating: FollowupRating
