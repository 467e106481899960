"""线索审批: the clue dispositions waiting for the signed-in 委领导's approval (集体研判), and
those waiting for their review in a team leader's stead (a team whose only team leader
proposed), each with 同意 · 不同意. A 委领导 sees what they decide on (the number, category,
disposition and reasons), never the clue's page or its reporter;
``dispositions.decide_disposition`` and ``review_disposition`` check every decision again."""

from __future__ import annotations

from aiohttp import web

from bot.services.clue_view import awaiting_approval, awaiting_review
from bot.services.dispositions import decide_disposition, review_disposition
from models.disposition import ClueDisposition, Disposition
from models.errors import PermissionDenied
from models.team import Inspector, Role
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.console.render import STAFF, console_page, redirect_after

PATH = "/console/dispositions"


def _require_leader(person: Inspector) -> None:
    if person.role is not Role.LEADER:
        raise PermissionDenied(
            "只有委领导可以审批问题线索处置意见。", detail=f"inspector {person.id} is no leader"
        )


async def dispositions_page(request: web.Request) -> web.Response:
    _require_leader(request[STAFF].person)
    console = request.app[CONSOLE]
    person = request[STAFF].person
    async with console.sessions() as session:
        waiting = await awaiting_approval(session, person)
        reviewing = await awaiting_review(session, person, console.policy.config.clue)
    return console_page(
        request, "dispositions", title="线索审批", waiting=waiting, reviewing=reviewing
    )


def _decided(proposal: ClueDisposition, approve: bool) -> str:
    if not approve:
        return f"您未同意处置意见“{proposal.kind.label}”，线索维持原处置状态，已告知承办人。"
    if proposal.kind is Disposition.FILE:
        return f"已批准立案审查（{proposal.people}人），该线索在本系统办结，转审查调查系统办理。"
    return f"已批准“{proposal.kind.label}”，已告知承办人。"


async def decide(request: web.Request) -> web.Response:
    """同意 or 不同意 one proposal, with an optional note."""
    _require_leader(request[STAFF].person)
    console = request.app[CONSOLE]
    posted = await request.post()
    approve = posted.get("approve") == "1"
    note = str(posted.get("note", "")).strip() or None
    async with console.sessions() as session:
        proposal = await decide_disposition(
            session, request[STAFF].person, int(request.match_info["proposal_id"]),
            approve=approve, note=note, policy=console.policy, now=console.clock.now(),
        )  # fmt: skip
    raise redirect_after(request, PATH, notice=_decided(proposal, approve))


async def review(request: web.Request) -> web.Response:
    """组长审核 in a team leader's stead: 同意 (to another 委领导) or 不同意 with a reason."""
    _require_leader(request[STAFF].person)
    console = request.app[CONSOLE]
    posted = await request.post()
    agree = posted.get("agree") == "1"
    note = str(posted.get("note", "")).strip() or None
    async with console.sessions() as session:
        proposal = await review_disposition(
            session, request[STAFF].person, int(request.match_info["proposal_id"]),
            agree=agree, note=note, policy=console.policy, now=console.clock.now(),
        )  # fmt: skip
    if agree:
        notice = f"已同意处置意见“{proposal.kind.label}”，已报其他委领导审批。"
    else:
        notice = f"您未同意处置意见“{proposal.kind.label}”，已退回承办人。"
    raise redirect_after(request, PATH, notice=notice)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PATH, dispositions_page, name=f"{CONSOLE_PREFIX}dispositions", allow_head=False)
    router.add_post(
        PATH + r"/{proposal_id:\d{1,9}}/decide", decide, name=f"{CONSOLE_PREFIX}disposition-decide"
    )
    router.add_post(
        PATH + r"/{proposal_id:\d{1,9}}/review", review, name=f"{CONSOLE_PREFIX}disposition-review"
    )
