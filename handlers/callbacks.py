"""Callback data: short, versioned, ids only. Every press is authorised again from the database."""

from __future__ import annotations

import enum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

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
