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


# --- staff conversations ---

from collections.abc import Iterable, Mapping, Sequence  # noqa: E402
from typing import Protocol  # noqa: E402

from models.case import Outcome  # noqa: E402
from models.team import Inspector, Team  # noqa: E402

EXTENSION_CHOICES = (3, 5, 10, 15)
"""The working days offered at 申请延期 (any other number can be typed)."""


def staff_button(text: str, data: CallbackData) -> list[InlineKeyboardButton]:
    """A row of one button."""
    return [InlineKeyboardButton(text=text, callback_data=data.pack())]


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


def case_keyboard(
    case_id: int, *, works: bool, assign: bool, assigned: bool, route: bool, supervise: bool
) -> InlineKeyboardMarkup | None:
    """/case: the buttons this person can use on this case (each press is authorised again)."""
    rows: list[list[InlineKeyboardButton]] = []
    if works:
        rows += inspector_case_keyboard(case_id).inline_keyboard
    else:
        rows.append([materials_button(case_id)])
    if assign:
        label = "改派" if assigned else "分派"
        rows.append(staff_button(label, TeamAction(act=TeamAct.ASSIGN, case_id=case_id)))
    if route:
        rows.append(staff_button("分办至其他组", TeamAction(act=TeamAct.ROUTE, case_id=case_id)))
    if supervise:
        rows.append(staff_button("督办", TeamAction(act=TeamAct.SUPERVISE, case_id=case_id)))
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
