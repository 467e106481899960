"""Who may do what: the acting person, the case as it stands, and the checks every use case
makes before it changes anything (assignee, team leader, status)."""

from __future__ import annotations

from collections.abc import Collection

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.case_lists import can_view
from bot.services.inspectors import TEAM_ROLES
from models.case import (
    OPEN_STATUSES,
    RETURNABLE,
    TRANSFERABLE,
    WORKING_STATUSES,
    Case,
    CaseStatus,
)
from models.errors import InvalidInput, NotFound, PermissionDenied, StaleAction
from models.event import Actor, ActorType
from models.intake import clean_text
from models.org import Track
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Inspector, Role

NOTE_MAX = 1000


def actor_of(inspector: Inspector) -> Actor:
    """How a person appears in the history: admins as admins, everyone else as inspectors."""
    kind = ActorType.ADMIN if inspector.role is Role.ADMIN else ActorType.INSPECTOR
    return Actor(kind, inspector.id)


async def load_case(session: AsyncSession, case_id: int) -> Case:
    """The case as the database has it now; an unknown id (forged or deleted) is refused."""
    case = await session.get(Case, case_id, populate_existing=True)
    if case is None:
        raise NotFound("未找到该问题，此操作已失效。", detail=f"case {case_id} not found")
    return case


def moved_on(case: Case, action: str) -> StaleAction:
    return StaleAction(
        f"此操作已过期：问题 {case.number} 当前为“{case.status.label}”，不能{action}。",
        detail=f"case {case.id} is {case.status}, cannot {action}",
    )


def works_on(actor: Inspector, case: Case) -> bool:
    """The case's assignee, still in the case's team in a team role: who works it."""
    return (
        actor.role in TEAM_ROLES and case.assignee_id == actor.id and case.team_id == actor.team_id
    )


def require_assignee(
    actor: Inspector, case: Case, statuses: frozenset[CaseStatus], action: str
) -> None:
    """Only the case's assignee, still in the case's team, and only in ``statuses``."""
    if not works_on(actor, case):
        raise PermissionDenied(
            "该问题不在您的办理范围内，无权操作。",
            detail=f"case {case.id}: inspector {actor.id} is not its assignee",
        )
    if case.status not in statuses:
        raise moved_on(case, action)


def leads_team(actor: Inspector, case: Case) -> bool:
    """A team leader of the case's team, or, for an appeal, an admin (who may stand in for a
    team without an active leader: ``stands_in`` says whether they may now); a clue is handled
    by its team leader alone. A sieve for a page's buttons: use cases call
    ``require_team_leader``."""
    if actor.role is Role.ADMIN:
        return case.track is Track.APPEAL
    return (
        actor.role is Role.TEAM_LEADER
        and case.team_id is not None
        and actor.team_id == case.team_id
    )


async def has_team_leader(session: AsyncSession, team_id: int | None) -> bool:
    """Whether the team has an active team leader."""
    if team_id is None:
        return False
    found = await session.exec(
        select(Inspector.id).where(
            Inspector.team_id == team_id,
            Inspector.role == Role.TEAM_LEADER,
            col(Inspector.active).is_(True),
        )
    )
    return found.first() is not None


async def stands_in(session: AsyncSession, actor: Inspector, case: Case) -> bool:
    """An admin (technical staff) acts for a team leader only on an appeal whose team has no
    active team leader; every such act is recorded with ``"stand_in": true``."""
    return (
        actor.role is Role.ADMIN
        and case.track is Track.APPEAL
        and not await has_team_leader(session, case.team_id)
    )


STAND_IN_REFUSED = "本组有在岗组长，请由组长办理；管理员仅在本组没有组长时代为办理。"


async def require_team_leader(session: AsyncSession, actor: Inspector, case: Case) -> bool:
    """A team leader of the case's team, or an admin standing in for a team with no leader;
    returns whether it is a stand-in (to be recorded)."""
    if not leads_team(actor, case):
        raise PermissionDenied(
            "只有本组组长可以进行此操作。",
            detail=f"case {case.id}: inspector {actor.id} does not lead its team",
        )
    if actor.role is not Role.ADMIN:
        return False
    if not await stands_in(session, actor, case):
        raise PermissionDenied(
            STAND_IN_REFUSED, detail=f"case {case.id}: its team has a leader, admin refused"
        )
    return True


def may_view_identity(actor: Inspector, case: Case) -> bool:
    """查看身份 (a named appeal's contact): those who may see the case and handle it; never an
    admin (technical staff configure, they do not handle reporters), never on a clue or an
    anonymous case."""
    return (
        actor.role is not Role.ADMIN
        and case.track is Track.APPEAL
        and not case.anonymous
        and can_view(actor, case)
    )


def cleaned_files(actor: Inspector, case: Case) -> bool:
    """Whether a case's files reach ``actor`` cleaned and named 材料N: for everyone who may not
    see who reported it (a file's name or metadata can say) — on an anonymous case or a clue
    (``models.anonymity.confidential``), a 协办 team, an admin. ``actor`` may see the case."""
    return not may_view_identity(actor, case)


ACTION_STATUSES: dict[str, tuple[frozenset[CaseStatus], str]] = {
    "acc": (frozenset({CaseStatus.ASSIGNED}), "签收"),
    "ret": (TRANSFERABLE, "退回或转办"),
    "ask": (WORKING_STATUSES, "提问"),
    "prg": (WORKING_STATUSES, "记录进展"),
    "ext": (WORKING_STATUSES, "申请延期"),
    "res": (WORKING_STATUSES, "办结"),
}


CLUE_NOT_RESOLVED = (
    "问题线索不直接办结：请点“提出处置意见”（谈话函询、初步核实、暂存待查、予以了结），"
    "经组长审核、委领导批准后处置。"
)


def refuse_clue_resolution(case: Case) -> None:
    """A clue takes the disposition path (``bot.services.dispositions``), never 办结."""
    if case.track is Track.CLUE:
        raise InvalidInput(CLUE_NOT_RESOLVED, detail=f"case {case.id} is a clue: no 办结")


def may_act(actor: Inspector, case: Case, action: str) -> bool:
    """Whether the assignee's action (a key of ``ACTION_STATUSES``) is open to ``actor`` now:
    the checks ``check_case_action`` makes, as a yes or no for a page's buttons."""
    if action == "res" and case.track is Track.CLUE:
        return False
    return works_on(actor, case) and case.status in ACTION_STATUSES[action][0]


def may_request_return(actor: Inspector, case: Case) -> bool:
    """退回 to the dispatcher: the assignee, before the work has started."""
    return works_on(actor, case) and case.status in RETURNABLE


def may_supervise(actor: Inspector, case: Case) -> bool:
    """督办: a leader, on an open case they may see (``can_view``: leaders see clue counts, not
    clue rows, so a clue is never theirs to flag) not yet supervised."""
    return (
        actor.role is Role.LEADER
        and can_view(actor, case)
        and case.status in OPEN_STATUSES
        and not case.supervised
    )


def may_decide(
    actor: Inspector, case: Case, request: ApprovalRequest, decider_ids: Collection[int | None]
) -> bool:
    """A pending request is decided by one of its deciders (``inspectors.request_deciders``:
    never its requester), while its requester still has the case (a reporter's 撤回, a 重办
    request: any time); the checks
    ``decisions.load_request`` makes."""
    return (
        actor.id in decider_ids
        and request.status is RequestStatus.PENDING
        and (request.kind.by_reporter or case.assignee_id == request.requested_by_id)
        and (request.kind is not RequestKind.REOPEN or case.status is CaseStatus.RESOLVED)
    )


async def check_case_action(
    session: AsyncSession, actor: Inspector, case_id: int, action: str
) -> Case:
    """Before a multi-step action starts: the same checks its use case will make at the end."""
    case = await load_case(session, case_id)
    statuses, label = ACTION_STATUSES[action]
    require_assignee(actor, case, statuses, label)
    if action == "res":
        refuse_clue_resolution(case)
    return case


def clean_note(value: str, what: str, limit: int = NOTE_MAX) -> str:
    """Text an inspector or reporter typed: cleaned, not empty, at most ``limit`` characters."""
    text = clean_text(value)
    if not text:
        raise InvalidInput(f"请输入{what}。")
    if len(text) > limit:
        raise InvalidInput(f"{what}太长（{len(text)}字），请精简到{limit}字以内。")
    return text
