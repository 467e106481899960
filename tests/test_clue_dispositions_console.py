"""The console offers a clue's disposition to the same people as the bot: the assignee proposes
on the case page, the team leader reviews there, and the 委领导 approves on 线索审批 (a clue's
page stays closed to them), where they also review in the stead of a team whose only team
leader proposed; a proposal refused by the rules changes nothing."""

from __future__ import annotations

import re

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.dispositions import clue_state
from models.calendar import WorkCalendar
from models.disposition import ClueDisposition, Disposition, ProposalStatus
from tests.console_support import SignedIn, console_app, sign_in, text_of
from tests.inspector_support import LEADER, SOE_INSPECTOR, SOE_LEADER, clocks
from tests.test_clue_dispositions import accepted_clue, second_leader


async def _page(signed: SignedIn, path: str, *, status: int = 200) -> str:
    answer = await signed.get(path)
    html = await answer.text()
    assert answer.status == status, html
    return html


async def test_a_clue_is_proposed_reviewed_and_approved_in_the_console(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    url = f"/console/cases/{clue.case.id}"
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as team_desk,
        console_app(sessions, catalog, clock=clock) as leader_desk,
    ):
        inspector = await sign_in(desk, sessions, person=await clue.person(SOE_INSPECTOR))
        html = await _page(inspector, url)
        assert "线索处置（集体研判）" in text_of(html) and "尚未处置" in text_of(html)
        assert f'action="{url}/dispose"' in html and f'action="{url}/resolve"' not in html
        refused = await inspector.post(f"{url}/dispose", {"kind": "file", "reason": "立案。"})
        assert refused.status == 400
        assert "不能提出“立案审查”" in text_of(await refused.text())
        assert await clue.notices("disposition_review") == []
        sent = await inspector.post(
            f"{url}/dispose", {"kind": "verify", "reason": "反映具体，建议初步核实。"}
        )
        assert sent.status == 303
        page = text_of(await _page(inspector, url))
        assert "已提交审核" in page and "待审批：初步核实（待组长审核）" in page

        team_leader = await sign_in(team_desk, sessions, person=await clue.person(SOE_LEADER))
        html = await _page(team_leader, url)
        assert f'action="{url}/review"' in html and "反映具体，建议初步核实" in text_of(html)
        [proposal_id] = re.findall(r'name="proposal_id" value="(\d+)"', html)
        no_note = await team_leader.post(
            f"{url}/review", {"proposal_id": proposal_id, "agree": "0"}
        )
        assert no_note.status == 400 and "请输入审核意见" in text_of(await no_note.text())
        agreed = await team_leader.post(f"{url}/review", {"proposal_id": proposal_id, "agree": "1"})
        assert agreed.status == 303

        leader = await sign_in(leader_desk, sessions, person=await clue.person(LEADER))
        await _page(leader, url, status=403)  # a clue's page is not the 委领导's
        listing = text_of(await _page(leader, "/console/dispositions"))
        assert clue.case.number in listing and "初步核实" in listing
        assert "宋利剑" not in listing
        mine = await inspector.post(f"/console/dispositions/{proposal_id}/decide", {"approve": "1"})
        assert mine.status == 403
        decided = await leader.post(
            f"/console/dispositions/{proposal_id}/decide", {"approve": "1", "note": "同意初核。"}
        )
        assert decided.status == 303
        assert "已批准“初步核实”" in text_of(await _page(leader, "/console/dispositions"))
        page = text_of(await _page(inspector, url))
        assert "当前处置：初步核实" in page and "审批意见：同意初核" in page
    async with sessions() as session:
        state = await clue_state(session, clue.case.id or 0)
    assert state.current is not None and state.current.kind is Disposition.VERIFY
    assert state.current.status is ProposalStatus.APPROVED


async def test_the_approval_page_drops_a_proposal_once_its_clue_is_reassigned(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    talk = await clue.review(await clue.propose(Disposition.TALK, "问题较轻，建议谈话函询。"))
    async with console_app(sessions, catalog, clock=clock) as leader_desk:
        leader = await sign_in(leader_desk, sessions, person=await clue.person(LEADER))
        assert clue.case.number in text_of(await _page(leader, "/console/dispositions"))
        await clue.to_team_leader()  # the team leader gives the clue to someone else
        listing = text_of(await _page(leader, "/console/dispositions"))
        assert clue.case.number not in listing and "谈话函询" not in listing
        late = await leader.post(f"/console/dispositions/{talk.id}/decide", {"approve": "1"})
        assert late.status != 303 and "已失效" in text_of(await late.text())
    assert "disposition" not in await clocks(sessions, clue.case.id or 0)


async def test_a_leader_reviews_on_the_approval_page_what_the_team_s_only_team_leader_proposed(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    await clue.to_team_leader()
    await second_leader(clue)
    hold = await clue.propose(Disposition.HOLD, "线索暂不具备核查条件。", by=SOE_LEADER)
    review_url = f"/console/dispositions/{hold.id}/review"
    async with (
        console_app(sessions, catalog, clock=clock) as desk,
        console_app(sessions, catalog, clock=clock) as other_desk,
    ):
        leader = await sign_in(desk, sessions, person=await clue.person(LEADER))
        html = await _page(leader, "/console/dispositions")
        listing = text_of(html)
        assert "待您审核" in listing and clue.case.number in listing
        assert "线索暂不具备核查条件" in listing and f'action="{review_url}"' in html
        assert "暂无待您审批的处置意见" in listing  # nothing reviewed yet to approve
        no_reason = await leader.post(review_url, {"agree": "0"})
        assert no_reason.status == 400 and "请输入审核意见" in text_of(await no_reason.text())
        agreed = await leader.post(review_url, {"agree": "1"})
        assert agreed.status == 303
        listing = text_of(await _page(leader, "/console/dispositions"))
        assert "已报其他委领导审批" in listing and "待您审核" not in listing
        assert clue.case.number not in listing  # who reviewed does not approve too

        other = await sign_in(other_desk, sessions, person=await clue.person(909))
        listing = text_of(await _page(other, "/console/dispositions"))
        assert clue.case.number in listing and "待您审核" not in listing
        assert (await other.post(review_url, {"agree": "1"})).status == 409  # reviewed already
    async with sessions() as session:
        row = await session.get(ClueDisposition, hold.id)
    assert row is not None and row.status is ProposalStatus.REVIEWED
    assert row.reviewed_by_id == clue.people.id(LEADER)


async def test_a_leader_without_telegram_is_sent_from_the_home_page_notice_to_the_approvals(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    await clue.to_team_leader()
    async with console_app(sessions, catalog, clock=clock) as desk:
        leader = await sign_in(desk, sessions, role="leader", team=None)  # the console only
        await clue.propose(Disposition.HOLD, "线索暂不具备核查条件。", by=SOE_LEADER)
        html = await _page(leader, "/console/")
        assert "暂存待查" in text_of(html)  # the notice the bot would have sent
        assert 'href="/console/dispositions">去线索审批</a>' in html
        assert f'href="/console/cases/{clue.case.id}"' not in html  # a page they may not open
        assert clue.case.number in text_of(await _page(leader, "/console/dispositions"))
