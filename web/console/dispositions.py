"""线索审批: the clue dispositions waiting for the signed-in 委领导's approval (集体研判), each
with 同意 · 不同意. A 委领导 sees what they decide on (the number, category, disposition and
reasons), never the clue's page or its reporter; ``dispositions.decide_disposition`` checks
every decision again."""

from __future__ import annotations

from aiohttp import web

from bot.services.clue_view import awaiting_approval
from bot.services.dispositions import decide_disposition
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
    async with console.sessions() as session:
        waiting = await awaiting_approval(session, request[STAFF].person)
    return console_page(request, "dispositions", title="线索审批", waiting=waiting)


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


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(PATH, dispositions_page, name=f"{CONSOLE_PREFIX}dispositions", allow_head=False)
    router.add_post(
        PATH + r"/{proposal_id:\d{1,9}}/decide", decide, name=f"{CONSOLE_PREFIX}disposition-decide"
    )
