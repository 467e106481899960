"""The 案件 page's actions: each POST calls the one use case the bot's button calls, with the
signed-in person as the actor, then goes back to the case page with a notice. Bad input shows
the page again with what was typed and the message (400); every other refusal is the
middleware's error page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.acceptance import accept_case
from bot.services.assignment import reassign_case, reroute_case
from bot.services.case_forms import parse_amount, parse_days
from bot.services.case_lists import may_view
from bot.services.case_view import get_case_page
from bot.services.decisions import Decision, decide_request
from bot.services.dispositions import propose_disposition, review_disposition
from bot.services.permissions import load_case
from bot.services.policy import Policy
from bot.services.progress import add_progress
from bot.services.relay import ask_reporter
from bot.services.repeats import merge_repeat
from bot.services.requests import request_extension, request_return, transfer_case
from bot.services.resolution import resolve_case
from bot.services.supervision import reply_supervision, supervise_case
from models.case import Case, CaseStatus, Outcome
from models.clock import ClockKind
from models.disposition import Disposition
from models.errors import InvalidInput, PermissionDenied
from models.request import RequestKind
from models.team import Inspector, Role
from notifications.render import local_time
from web.console.context import CONSOLE
from web.console.render import STAFF, console_page, redirect_after

CASE_PATH = r"/console/cases/{case_id:\d{1,9}}"
HOME = "/console/"


def case_url(case_id: int) -> str:
    return f"/console/cases/{case_id}"


def case_id_of(request: web.Request) -> int:
    return int(request.match_info["case_id"])


async def render_case(
    request: web.Request,
    case_id: int,
    *,
    status: int = 200,
    form: Mapping[str, Any] | None = None,
    error: str | None = None,
    failed: str | None = None,
) -> web.Response:
    """The case page as the signed-in person may see it; after bad input, with what was
    typed and the message, at the form that failed."""
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        page = await get_case_page(
            session,
            request[STAFF].person,
            case_id,
            now=console.clock.now(),
            policy=console.policy,
        )
    typed = {k: str(v) for k, v in (form or {}).items() if k != "csrf_token"}
    return console_page(
        request,
        "case",
        title=f"案件 {page.case.number}",
        status=status,
        page=page,
        form=typed,
        error=error,
        failed=failed,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Act:
    """One action's request: who, on which case, what was typed, and the use cases' policy."""

    session: AsyncSession
    actor: Inspector
    case_id: int
    form: Mapping[str, str]
    policy: Policy
    now: datetime

    def text(self, name: str) -> str:
        return self.form.get(name, "")

    def number(self, name: str, missing: str) -> int:
        value = self.text(name).strip()
        if not value.isdecimal() or len(value) > 9:
            raise InvalidInput(missing)
        return int(value)


@dataclass(frozen=True, slots=True)
class Done:
    """What an action did: the notice to show, and the case as it now stands (None: unmoved)."""

    notice: str
    case: Case | None = None


Run = Callable[[Act], Awaitable[Done]]
"""An action: calls its use case and says what it did."""


async def after(session: AsyncSession, actor: Inspector, case_id: int, case: Case | None) -> str:
    """Back to the case page, or to 工作台 when the action took the case out of the actor's
    sight (routed elsewhere, its return approved, its 协办 ended)."""
    if case is None or await may_view(session, actor, case):
        return case_url(case_id)
    return HOME


async def act(request: web.Request, name: str, run: Run) -> web.Response:
    """Parse, run the one use case, go back to the case page (or show it again on bad input)."""
    console = request.app[CONSOLE]
    case_id = case_id_of(request)
    posted = await request.post()
    form = {k: v for k, v in posted.items() if isinstance(v, str)}
    try:
        async with console.sessions() as session:
            done = await run(
                Act(
                    session=session,
                    actor=request[STAFF].person,
                    case_id=case_id,
                    form=form,
                    policy=console.policy,
                    now=console.clock.now(),
                )
            )
            location = await after(session, request[STAFF].person, case_id, done.case)
    except InvalidInput as e:
        return await render_case(
            request, case_id, status=400, form=form, error=e.message, failed=name
        )
    raise redirect_after(request, location, notice=done.notice)


async def _accept(a: Act) -> Done:
    accepted = await accept_case(a.session, a.actor, a.case_id, policy=a.policy, now=a.now)
    if accepted.due_kind is ClockKind.DISPOSITION:
        return Done("已签收，已批准的线索处置期限继续计算。")
    return Done("已签收，办结期限已开始计算。")


async def _route(a: Act) -> Done:
    team_id = a.number("team_id", "请选择要分办的监督组。")
    routed = await reroute_case(
        a.session, a.actor, a.case_id, team_id=team_id, policy=a.policy, now=a.now
    )
    who = f"，承办人：{routed.assignee.name}" if routed.assignee else "，待该组组长分派"
    return Done(f"已分办至{routed.team.name}{who}。", routed.case)


async def _reassign(a: Act) -> Done:
    inspector_id = a.number("inspector_id", "请选择承办人。")
    result = await reassign_case(
        a.session, a.actor, a.case_id, inspector_id=inspector_id, policy=a.policy, now=a.now
    )
    return Done(f"已交由{result.inspector.name}承办。")


async def _return(a: Act) -> Done:
    """退回 (to the dispatcher, ``team_id`` 0) or 转办 (to another team), as the bot's 退回."""
    team_id = a.number("team_id", "请选择退回或转办的去向。")
    reason = a.text("reason")
    if team_id:
        await transfer_case(
            a.session, a.actor, a.case_id, team_id=team_id, reason=reason, now=a.now
        )
        return Done("转办申请已提交组长审批。")
    await request_return(a.session, a.actor, a.case_id, reason=reason, policy=a.policy, now=a.now)
    return Done("退回申请已提交组长审批。")


async def _ask(a: Act) -> Done:
    await ask_reporter(a.session, a.actor, a.case_id, question=a.text("question"), now=a.now)
    return Done("提问已转达反映人，等待答复期间办结期限暂停计算。")


async def _progress(a: Act) -> Done:
    public = a.text("public") == "1"
    event = await add_progress(
        a.session, a.actor, a.case_id, note=a.text("note"), public=public, now=a.now
    )
    return Done(
        "办理进展已记录，并已告知反映人。" if event.public else "办理进展已记录（仅内部可见）。"
    )


async def _extend(a: Act) -> Done:
    days = parse_days(a.text("days"))
    await request_extension(
        a.session,
        a.actor,
        a.case_id,
        days=days,
        reason=a.text("reason"),
        now=a.now,
        limits=a.policy.config.limits,
    )
    return Done(f"延期{days}个工作日的申请已提交组长审批。")


async def _resolve(a: Act) -> Done:
    try:
        outcome = Outcome(a.text("outcome"))
    except ValueError:
        raise InvalidInput("请选择办理结果。") from None
    case = await resolve_case(
        a.session,
        a.actor,
        a.case_id,
        outcome=outcome,
        summary=a.text("summary"),
        amount_yuan=parse_amount(a.text("amount")),
        policy=a.policy,
        now=a.now,
    )
    if case.status is not CaseStatus.RESOLVED:  # 组长审核 first
        return Done(f"问题 {case.number} 的办结已提交组长审核，审核通过后告知反映人。")
    return Done(f"问题 {case.number} 已办结，已告知反映人。")


async def _dispose(a: Act) -> Done:
    """提出处置意见: a disposition, its reason, and for 立案审查 the people placed on file."""
    try:
        kind = Disposition(a.text("kind"))
    except ValueError:
        raise InvalidInput("请选择处置意见。") from None
    typed = a.text("people").strip()
    people = (
        int(typed) if kind is Disposition.FILE and typed.isdecimal() and len(typed) <= 4 else None
    )
    proposal = await propose_disposition(
        a.session, a.actor, a.case_id, kind=kind, reason=a.text("reason"), people=people,
        policy=a.policy, now=a.now,
    )  # fmt: skip
    where = "已报委领导审批" if proposal.review_skipped else "已提交审核"
    return Done(f"处置意见“{kind.label}”{where}，审批结果将通知您。")


async def _review(a: Act) -> Done:
    """组长审核 of the proposal waiting: 同意 (to the 委领导) or 不同意 with a note."""
    case = await load_case(a.session, a.case_id)
    if not (a.actor.role is Role.TEAM_LEADER and a.actor.team_id == case.team_id):
        raise PermissionDenied(
            "只有本组组长可以审核此处置意见。",
            detail=f"case {a.case_id}: inspector {a.actor.id} does not lead its team",
        )
    agree = a.text("agree") == "1"
    proposal = await review_disposition(
        a.session, a.actor, a.number("proposal_id", "该处置意见已失效。"), agree=agree,
        note=a.text("note").strip() or None, policy=a.policy, now=a.now,
    )  # fmt: skip
    if agree:
        return Done(f"已同意处置意见“{proposal.kind.label}”，已报委领导审批。")
    return Done(f"您未同意处置意见“{proposal.kind.label}”，已退回承办人。")


async def _supervise(a: Act) -> Done:
    note = a.text("note").strip() or None
    typed = a.text("days").strip()
    days = parse_days(typed) if typed else None
    case = await supervise_case(
        a.session, a.actor, a.case_id, policy=a.policy, now=a.now, note=note, days=days
    )
    due = f"，督办期限 {local_time(case.supervision_due_at)}" if case.supervision_due_at else ""
    return Done(f"已督办{due}，本组组长和承办人将收到通知。")


async def _supervision_reply(a: Act) -> Done:
    reply = await reply_supervision(a.session, a.actor, a.case_id, a.text("reply"), now=a.now)
    late = "（已超过督办期限）" if reply.late else ""
    return Done(f"督办回复已报送{late}，已告知督办领导。")


async def _merge(a: Act) -> Done:
    merged = await merge_repeat(a.session, a.actor, a.case_id, now=a.now)
    return Done(f"已并入 {merged.into.number} 合并办理，已告知反映人。")


def _handler(name: str, run: Run) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        return await act(request, name, run)

    handle.__name__ = f"on_{name}"
    return handle


ACTIONS: dict[str, Run] = {
    "accept": _accept,
    "route": _route,
    "reassign": _reassign,
    "return": _return,
    "ask": _ask,
    "progress": _progress,
    "extend": _extend,
    "resolve": _resolve,
    "supervise": _supervise,
    "dispose": _dispose,
    "review": _review,
    "supervision_reply": _supervision_reply,
    "merge": _merge,
}


async def decide(request: web.Request) -> web.Response:
    """同意 / 不同意 a request (an approved return goes to the team picked, as in the bot)."""
    console = request.app[CONSOLE]
    posted = await request.post()
    approve = posted.get("approve") == "1"
    team = str(posted.get("team_id", "")).strip()
    async with console.sessions() as session:
        decision = await decide_request(
            session,
            request[STAFF].person,
            int(request.match_info["request_id"]),
            approve=approve,
            policy=console.policy,
            now=console.clock.now(),
            team_id=int(team) if approve and team.isdecimal() and len(team) <= 9 else None,
        )
        assert decision.case.id is not None
        location = await after(session, request[STAFF].person, decision.case.id, decision.case)
    raise redirect_after(request, location, notice=_decided(decision, approve=approve))


def _decided(decision: Decision, *, approve: bool) -> str:
    request = decision.request
    if not approve and request.kind is RequestKind.REOPEN:
        return "已决定不再重办，问题已结案，已告知反映人。"
    if not approve:
        return f"该{request.kind.label}申请未予批准，已告知申请人。"  # 撤回: the reporter
    if request.kind is RequestKind.EXTENSION:
        return f"已同意延期{request.days}个工作日。"
    if request.kind is RequestKind.WITHDRAWAL:
        return "已同意撤回，问题已撤回，已告知反映人。"
    if request.kind is RequestKind.RESOLUTION:
        return "已审核同意，问题已办结，已告知反映人。"
    if request.kind is RequestKind.REOPEN:
        return "已同意再次重办，已交承办人重新办理，已告知反映人。"
    team = decision.team.name if decision.team else ""
    return f"已同意{request.kind.label}，问题已交{team}。"


def add_routes(router: web.UrlDispatcher) -> None:
    for name, run in ACTIONS.items():
        router.add_post(f"{CASE_PATH}/{name}", _handler(name, run), name=f"console-case-do_{name}")
    router.add_post(
        r"/console/requests/{request_id:\d{1,9}}/decide", decide, name="console-request-decide"
    )
