"""退回, 转办 and 延期: the assignee's requests, put before the team leaders (who decide in
``bot.services.decisions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LimitsConfig
from bot.services.clocks import get_clock
from bot.services.inspectors import deciders
from bot.services.notices import tell_inspectors
from bot.services.permissions import (
    actor_of,
    clean_note,
    load_case,
    moved_on,
    require_assignee,
)
from bot.services.policy import Policy
from bot.services.routing import target_team
from models.case import RETURNABLE, TRANSFERABLE, WORKING_STATUSES, Case
from models.clock import ClockKind, ClockStage, ClockState
from models.errors import InvalidInput
from models.event import EventKind, record_event
from models.notification import Offer
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Inspector
from notifications.texts import request_params

EXTENSION_MAX_DAYS = 30
"""The most working days one extension may ask for (the input's bound); what a case may have in
all is ``[limits]`` in the config (``LimitsConfig``)."""


async def cancel_pending(
    session: AsyncSession,
    case_id: int,
    *,
    now: datetime,
    why: str,
    requester: int | None = None,
) -> None:
    """Requests that no longer make sense (the case moved on) are withdrawn."""
    query = select(ApprovalRequest).where(
        ApprovalRequest.case_id == case_id, ApprovalRequest.status == RequestStatus.PENDING
    )
    if requester is not None:
        query = query.where(ApprovalRequest.requested_by_id == requester)
    for request in (await session.exec(query)).all():
        request.status = RequestStatus.CANCELLED
        request.decided_at = now
        request.decision_note = why
        session.add(request)


async def has_pending(session: AsyncSession, case_id: int, kinds: tuple[RequestKind, ...]) -> bool:
    return (
        await session.exec(
            select(ApprovalRequest.id).where(
                ApprovalRequest.case_id == case_id,
                ApprovalRequest.status == RequestStatus.PENDING,
                col(ApprovalRequest.kind).in_(kinds),
            )
        )
    ).first() is not None


async def _ask_leaders(
    session: AsyncSession,
    case: Case,
    request: ApprovalRequest,
    *,
    requester: Inspector,
    stage: int,
    now: datetime,
    **context: Any,
) -> None:
    assert request.id is not None
    resolve = await get_clock(session, case.id or 0, ClockKind.RESOLVE)
    await tell_inspectors(
        session,
        case,
        await deciders(session, case, requester.id or 0),
        "leader_request",
        stage=stage,
        now=now,
        offer=Offer.REQUEST_DECISION.on(request.id),
        request=request_params(request),
        kind_label=request.kind.label,
        requester=requester.name,
        supervised=case.supervised,
        status=case.status.label,
        resolve_due=resolve.due_at if resolve and resolve.state is ClockState.RUNNING else None,
        **context,
    )


async def file_request(
    session: AsyncSession,
    case: Case,
    actor: Inspector,
    request: ApprovalRequest,
    *,
    kind: EventKind,
    data: dict[str, Any],
    now: datetime,
    target: str | None = None,
) -> ApprovalRequest:
    """Record the assignee's request and its event, put it before those who decide it
    (``deciders``), commit; refused, nothing written, when nobody could decide it (a clue's
    request from its team's only leader)."""
    if not await deciders(session, case, actor.id or 0):
        raise InvalidInput(
            "本组没有其他组长可以审批该申请，请联系分管领导改派后再申请。",
            detail=f"case {case.id}: nobody decides a request of inspector {actor.id}",
        )
    session.add(request)
    await session.flush()
    event = record_event(
        case, kind, actor_of(actor), now, note=request.reason, data={"request": request.id, **data}
    )
    session.add_all([case, event])
    await _ask_leaders(
        session, case, request, requester=actor, stage=event.seq, now=now, target=target
    )
    await session.commit()
    return request


def return_window_over(case: Case, policy: Policy, now: datetime) -> bool:
    """退回 is closed: the case was signed for more than ``return_within_days`` working days
    ago (counted as deadlines are: to the end of the office day)."""
    days = policy.config.limits.return_within_days
    return (
        case.accepted_at is not None
        and now > policy.calendar.deadline(case.accepted_at, days).due_at
    )


def check_return_window(case: Case, policy: Policy, now: datetime) -> None:
    if return_window_over(case, policy, now):
        days = policy.config.limits.return_within_days
        raise InvalidInput(
            f"该问题签收已超过{days}个工作日，不能再退回。如属其他监督组职责，请申请转办。",
            detail=f"case {case.id}: return window of {days} working days over",
        )


async def request_return(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    reason: str,
    policy: Policy,
    now: datetime,
) -> ApprovalRequest:
    """退回: the assignee asks, with a reason, to send the case back to the dispatcher; the team
    leader decides (and may send it straight to another team instead). Once signed for, only
    within ``[limits] return_within_days`` working days (转办 stays open after that)."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, RETURNABLE, "退回")
    assert case.id is not None and actor.id is not None
    check_return_window(case, policy, now)
    text = clean_note(reason, "退回理由")
    if await has_pending(session, case.id, (RequestKind.RETURN, RequestKind.TRANSFER)):
        raise InvalidInput("该问题已有待组长审批的退回或转办申请，请等待审批结果。")
    request = ApprovalRequest.filed(case.id, RequestKind.RETURN, by=actor.id, reason=text, at=now)
    return await file_request(
        session, case, actor, request, kind=EventKind.RETURN_REQUESTED, data={}, now=now
    )


async def transfer_case(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    team_id: int,
    reason: str,
    now: datetime,
) -> ApprovalRequest:
    """转办: the assignee asks, with a reason, to hand the case to another team; the team
    leader approves or refuses."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, TRANSFERABLE, "转办")
    assert case.id is not None and actor.id is not None
    target = await target_team(session, case, team_id)
    if target.is_dispatcher:
        raise InvalidInput("退回信访室请选择“退回”。")
    text = clean_note(reason, "转办理由")
    if await has_pending(session, case.id, (RequestKind.RETURN, RequestKind.TRANSFER)):
        raise InvalidInput("该问题已有待组长审批的退回或转办申请，请等待审批结果。")
    request = ApprovalRequest.filed(
        case.id, RequestKind.TRANSFER, by=actor.id, reason=text, at=now, target_team_id=target.id
    )
    return await file_request(
        session,
        case,
        actor,
        request,
        kind=EventKind.TRANSFER_REQUESTED,
        data={"team": target.code},
        now=now,
        target=target.name,
    )


async def extensions_granted(session: AsyncSession, case_id: int) -> tuple[int, int]:
    """The case's approved extensions: how many, and how many working days in all."""
    days = (
        await session.exec(
            select(ApprovalRequest.days).where(
                ApprovalRequest.case_id == case_id,
                ApprovalRequest.kind == RequestKind.EXTENSION,
                ApprovalRequest.status == RequestStatus.APPROVED,
            )
        )
    ).all()
    return len(days), sum(d or 0 for d in days)


async def check_extension_cap(
    session: AsyncSession, case_id: int, days: int, limits: LimitsConfig
) -> None:
    """Refused, in words the inspector and the team leader understand, when ``days`` more would
    take the case past ``[limits]``: ``max_extensions`` approved extensions, or
    ``max_extension_days`` working days in all."""
    count, total = await extensions_granted(session, case_id)
    if count >= limits.max_extensions:
        raise InvalidInput(
            f"该问题已延期{count}次，已达上限（每件最多{limits.max_extensions}次），"
            "不能再延期，请尽快办结。",
            detail=f"case {case_id}: {count} extensions granted",
        )
    left = limits.max_extension_days - total
    if days > left:
        said = f"最多还可延期{left}个工作日" if left > 0 else "已不能再延期"
        raise InvalidInput(
            f"每件问题延期累计不超过{limits.max_extension_days}个工作日，"
            f"该问题已延期{total}个工作日，{said}。",
            detail=f"case {case_id}: {total}+{days} working days past the cap",
        )


async def request_extension(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    days: int,
    reason: str,
    now: datetime,
    limits: LimitsConfig | None = None,
) -> ApprovalRequest:
    """申请延期: N working days with a reason, asked before the 办结 deadline and within the
    case's cap (``limits``, the config's ``[limits]``); the team leader approves or refuses."""
    case = await load_case(session, case_id)
    require_assignee(actor, case, WORKING_STATUSES, "申请延期")
    assert case.id is not None and actor.id is not None
    if not 1 <= days <= EXTENSION_MAX_DAYS:
        raise InvalidInput(f"延期天数应为1至{EXTENSION_MAX_DAYS}个工作日。")
    text = clean_note(reason, "延期理由")
    clock = await get_clock(session, case.id, ClockKind.RESOLVE)
    if clock is None or clock.state not in (ClockState.RUNNING, ClockState.PAUSED):
        raise moved_on(case, "申请延期")
    if clock.due_at <= now or clock.stage >= ClockStage.OVERDUE:
        raise InvalidInput("办结期限已过，不能再申请延期，请尽快办结或向组长说明情况。")
    if await has_pending(session, case.id, (RequestKind.EXTENSION,)):
        raise InvalidInput("该问题已有待组长审批的延期申请，请等待审批结果。")
    await check_extension_cap(session, case.id, days, limits or LimitsConfig())
    request = ApprovalRequest.filed(
        case.id, RequestKind.EXTENSION, by=actor.id, reason=text, at=now, days=days
    )
    return await file_request(
        session,
        case,
        actor,
        request,
        kind=EventKind.EXTENSION_REQUESTED,
        data={"days": days},
        now=now,
    )
