"""撤回 by the reporter's side (their chat, a follower's chat or the tracking page opened by receipt
code), one use case for every channel: an appeal is withdrawn at once, until an inspector signs
for it; a clue's 撤回 is a request its team leader decides (whoever holds a receipt code must not
be able to drop a report of misconduct), recorded in the trail, and the reporter is told it was
received and will be decided."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.clocks import cancel_clock
from bot.services.inspectors import deciders, team_leaders
from bot.services.notices import tell_inspectors, tell_reporter
from bot.services.permissions import moved_on
from bot.services.rectification import lapse_rectification
from bot.services.requests import cancel_pending
from models.case import AWAITING_ACCEPTANCE, Case, CaseStatus, reporter_actor_id
from models.clock import ClockKind
from models.errors import InvalidInput
from models.event import Actor, ActorType, EventKind, record_event, transition
from models.notification import Notice, Offer
from models.org import Track
from models.reporter import Reporter
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Inspector
from notifications.outbox import notify_inspectors
from notifications.texts import request_params

WITHDRAW_CLOSED = "该问题已受理，不能撤回。如有需要，请通过“补充材料”说明情况。"
WITHDRAWN_ALREADY = "该问题已撤回，无需再次操作。"
WITHDRAW_ASKED = "问题线索的撤回须由组长决定：您的撤回申请已收到，决定后会告知您。"
WITHDRAW_WAITING = "您的撤回申请已收到，正在等待组长决定，请勿重复提交。"
WITHDRAW_NOBODY = "承办组暂无可以决定撤回的组长，撤回申请暂时无法受理，请稍后再试。"
WITHDRAW_REASON = "反映人通过回执码申请撤回该问题线索。"


def withdrawable(case: Case) -> bool:
    """撤回 is open until an inspector signs for the case."""
    return case.status in AWAITING_ACCEPTANCE


async def pending_withdrawal(session: AsyncSession, case_id: int) -> ApprovalRequest | None:
    """A clue's 撤回 waiting for the team leader, if any."""
    return (
        await session.exec(
            select(ApprovalRequest).where(
                ApprovalRequest.case_id == case_id,
                ApprovalRequest.kind == RequestKind.WITHDRAWAL,
                ApprovalRequest.status == RequestStatus.PENDING,
            )
        )
    ).first()


async def _holders(session: AsyncSession, case: Case) -> list[Inspector]:
    """Who holds the case now: the assignee; with none, the team's leaders."""
    if case.assignee_id is not None:
        assignee = await session.get(Inspector, case.assignee_id)
        if assignee is not None and assignee.active:
            return [assignee]
    return await team_leaders(session, case.team_id, track=case.track)


async def withdraw_for(
    session: AsyncSession, reporter: Reporter, case: Case, *, now: datetime
) -> Case:
    """撤回 by ``reporter``, already known to be the case's reporter or a follower by receipt
    code: an appeal is withdrawn, its clocks stop, and whoever holds it is told; a clue's 撤回
    becomes a request its team leader decides (the case is unchanged: ``pending_withdrawal``
    says it waits). Refused, nothing written, once an inspector has signed for the case."""
    assert case.id is not None and reporter.id is not None
    if case.status is CaseStatus.WITHDRAWN:  # a double tap, or the old message's button
        raise InvalidInput(WITHDRAWN_ALREADY)
    if not withdrawable(case):
        raise InvalidInput(WITHDRAW_CLOSED)
    if case.track is Track.CLUE:
        await request_withdrawal(session, reporter, case, now=now)
        return case
    session.add(
        transition(
            case,
            CaseStatus.WITHDRAWN,
            EventKind.WITHDRAWN,
            Actor(ActorType.REPORTER, reporter_actor_id(case, reporter.id)),
            now,
            public=True,
        )
    )
    await _stop(session, case, now=now)
    await session.commit()
    return case


async def _stop(session: AsyncSession, case: Case, *, now: datetime) -> None:
    """The case is withdrawn: closed, its clocks stopped, whoever holds it told."""
    assert case.id is not None
    case.closed_at = now
    session.add(case)
    for kind in (ClockKind.ACCEPT, ClockKind.FIRST_REPLY):
        await cancel_clock(session, case.id, kind)
    await lapse_rectification(session, case, now, why="问题已撤回")
    await session.flush()
    notice = Notice.of("reporter_withdrawn_notice", number=case.number)
    await notify_inspectors(
        session,
        case.id,
        await _holders(session, case),
        kind="withdrawn",
        stage=case.event_count,
        notice=notice,
        now=now,
    )


async def request_withdrawal(
    session: AsyncSession, reporter: Reporter, case: Case, *, now: datetime
) -> ApprovalRequest:
    """A clue's 撤回: a request for the team leaders (never the admins: a clue is seen by its
    team leader and assignee only), the WITHDRAW_REQUESTED event, the leaders asked; one at a
    time (a second is refused, nothing written)."""
    assert case.id is not None and reporter.id is not None
    if await pending_withdrawal(session, case.id) is not None:
        raise InvalidInput(WITHDRAW_WAITING)
    deciding = await deciders(session, case, None)
    if not deciding:  # nobody could decide it: refused now rather than waiting for ever
        raise InvalidInput(WITHDRAW_NOBODY)
    # an anonymous clue's request names no reporter row: it would link the case to a chat
    request = ApprovalRequest.withdrawal(
        case.id, reporter_id=reporter_actor_id(case, reporter.id), reason=WITHDRAW_REASON, at=now
    )
    session.add(request)
    await session.flush()
    event = record_event(
        case,
        EventKind.WITHDRAW_REQUESTED,
        Actor(ActorType.REPORTER, reporter_actor_id(case, reporter.id)),
        now,
        data={"request": request.id},
    )
    session.add_all([case, event])
    assert request.id is not None
    await tell_inspectors(
        session,
        case,
        deciding,
        "leader_request",
        stage=event.seq,
        now=now,
        offer=Offer.REQUEST_DECISION.on(request.id),
        request=request_params(request),
        kind_label=request.kind.label,
        requester="反映人（回执码）",
        supervised=case.supervised,
        status=case.status.label,
        resolve_due=None,
        target=None,
    )
    await session.commit()
    return request


async def decide_withdrawal(
    session: AsyncSession,
    request: ApprovalRequest,
    case: Case,
    *,
    who: Actor,
    approve: bool,
    now: datetime,
) -> None:
    """The team leader's decision on a clue's 撤回: approved, the case is withdrawn as the
    reporter would have done (refused, nothing changed, once an inspector has signed for it);
    refused, the case goes on. The reporter is told either way. The caller recorded the
    decision on ``request``; this commits."""
    assert case.id is not None and request.decided_by_id is not None
    if approve:
        if not withdrawable(case):
            raise moved_on(case, "撤回")
        event = transition(
            case,
            CaseStatus.WITHDRAWN,
            EventKind.WITHDRAWN,
            who,
            now,
            data={"request": request.id},
            public=True,
        )
        session.add_all([request, event])
        await cancel_pending(session, case.id, now=now, why="问题已撤回")
        await _stop(session, case, now=now)
    else:
        event = record_event(
            case, EventKind.WITHDRAW_REFUSED, who, now, data={"request": request.id}
        )
        session.add_all([request, case, event])
    await tell_reporter(
        session, case, "reporter_withdraw_decided", stage=event.seq, now=now, approved=approve
    )
    await session.commit()
