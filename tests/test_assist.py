"""室组联动: a case's lead team adds 协办 teams, which see the case (never the reporter), add
协办进展 that stays internal, and hear of the case's changes; the lead team answers for it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.assignment import reassign_case, reroute_case
from bot.services.assist import (
    add_assist_progress,
    add_assist_team,
    assist_panel,
    remove_assist_team,
)
from bot.services.audit import verify_audit
from bot.services.case_lists import list_queue, may_view, show_case
from bot.services.decisions import decide_request
from bot.services.materials import view_materials
from bot.services.permissions import may_view_identity
from bot.services.policy import Policy
from bot.services.progress import add_progress
from bot.services.requests import transfer_case
from bot.services.resolution import resolve_case
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Outcome
from models.disposition import Disposition
from models.errors import DomainError, InvalidInput, NotFound, PermissionDenied, StaleAction
from models.event import CaseEvent, EventKind
from models.notification import Notification, NotificationStatus, RecipientKind
from models.team import Inspector, Role, Team
from notifications.render import telegram_html
from tests.inspector_support import (
    ADMIN,
    BUSINESS_LEADER,
    DISPATCH_LEADER,
    INSPECTOR,
    LEADER,
    SAFETY_INSPECTOR,
    SOE,
    SOE_INSPECTOR,
    SOE_LEADER,
    People,
    make_people,
    submit,
)
from tests.test_clue_dispositions import accepted_clue

pytestmark = pytest.mark.both_databases


@contextmanager
def refused(kind: type[DomainError], words: str) -> Iterator[None]:
    """The action is refused with ``kind`` and the person reads ``words``."""
    with pytest.raises(kind) as caught:
        yield
    assert words in caught.value.message, caught.value.message


DISPATCH_INSPECTOR = 611  # 信访室 监督员
SAFETY_LEADER = 703  # 安全生产组 组长
EXTRA = (
    (DISPATCH_INSPECTOR, "dispatch", Role.INSPECTOR, "信访室监督员"),
    (SAFETY_LEADER, "safety", Role.TEAM_LEADER, "安全组长"),
)


@dataclass
class World:
    sessions: SessionFactory
    policy: Policy
    clock: FrozenClock
    people: People
    case: Case
    teams: dict[str, int]

    async def person(self, telegram_id: int) -> Inspector:
        async with self.sessions() as session:
            found = await session.get(Inspector, self.people.id(telegram_id))
        assert found is not None
        return found

    async def add(self, team: str, *, by: int = BUSINESS_LEADER) -> None:
        async with self.sessions() as session:
            await add_assist_team(
                session, await self.person(by), self.case.id or 0, team_id=self.teams[team],
                now=self.clock.now(),
            )  # fmt: skip

    async def remove(self, team: str, *, by: int = BUSINESS_LEADER) -> None:
        async with self.sessions() as session:
            await remove_assist_team(
                session, await self.person(by), self.case.id or 0, team_id=self.teams[team],
                now=self.clock.now(),
            )  # fmt: skip

    async def note(
        self, by: int, text: str = "已约谈园区管委会财政局，返还资金正在走审批。"
    ) -> None:
        async with self.sessions() as session:
            await add_assist_progress(
                session, await self.person(by), self.case.id or 0, note=text, now=self.clock.now()
            )

    async def sees(self, telegram_id: int) -> bool:
        async with self.sessions() as session:
            case = await session.get(Case, self.case.id)
            assert case is not None
            return await may_view(session, await self.person(telegram_id), case)

    async def load(self) -> Case:
        async with self.sessions() as session:
            found = await session.get(Case, self.case.id)
        assert found is not None
        return found

    async def notices(self, kind: str) -> list[Notification]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(Notification).where(Notification.kind == kind).order_by(col(Notification.id))
            )
            return list(rows.all())

    async def told(self, kind: str) -> list[int]:
        """Who (by Telegram id) got notices of ``kind``."""
        back = {v: k for k, v in self.people.ids.items()}
        return [back[n.recipient_id or 0] for n in await self.notices(kind)]

    async def events(self) -> list[CaseEvent]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(CaseEvent)
                .where(CaseEvent.case_id == self.case.id)
                .order_by(col(CaseEvent.seq))
            )
            return list(rows.all())


async def world(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    *,
    clue: bool = False,
    photo: bool = False,
) -> World:
    """A 实名 appeal of the 营商环境 team signed for by 李监督 (or a clue of the 国资国企 team
    signed for by 周监督)."""
    people = await make_people(sessions, clock, extra=EXTRA)
    policy = Policy(catalog, calendar)
    if clue:
        case = await submit(
            sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
            description=SOE, named=True,
        )  # fmt: skip
    else:
        case = await submit(
            sessions, catalog, calendar, clock, people.reporter, named=True, photo=photo
        )
    async with sessions() as session:
        teams = {t.code: t.id or 0 for t in (await session.exec(select(Team))).all()}
    found = World(sessions, policy, clock, people, case, teams)
    assignee = SOE_INSPECTOR if clue else INSPECTOR
    if clue:
        async with sessions() as session:
            await reassign_case(
                session, await found.person(SOE_LEADER), case.id or 0,
                inspector_id=people.id(SOE_INSPECTOR), policy=policy, now=clock.now(),
            )  # fmt: skip
    async with sessions() as session:
        await accept_case(
            session, await found.person(assignee), case.id or 0, policy=policy, now=clock.now()
        )
    found.case = await found.load()
    return found


async def test_a_team_asked_to_assist_is_told_and_sees_the_case_but_never_the_reporter(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    w = await world(sessions, catalog, calendar, clock, photo=True)
    assert not await w.sees(DISPATCH_INSPECTOR)
    await w.add("dispatch")
    assert await w.told("assist_invited") == [DISPATCH_LEADER]
    assert await w.told("assist_added") == [INSPECTOR]  # the lead assignee
    invited = (await w.notices("assist_invited"))[0]
    assert "营商环境" in telegram_html(invited)  # who leads it
    assert (await w.events())[-1].kind is EventKind.ASSIST_ADDED

    for member in (DISPATCH_LEADER, DISPATCH_INSPECTOR):
        assert await w.sees(member)
        async with sessions() as session:
            person = await w.person(member)
            case = await w.load()
            assert not may_view_identity(person, case)  # the lead team's, never 协办's
            shown = await show_case(session, person, case.number, clock.now())
            assert shown.case.id == case.id
            materials = await view_materials(session, person, case.id or 0, now=clock.now())
            assert materials.contact is None
            assert materials.confidential and len(materials.attachments) == 1  # 材料N, cleaned
    assert may_view_identity(await w.person(INSPECTOR), await w.load())  # the lead still does
    assert not await w.sees(SAFETY_INSPECTOR)  # another team
    async with sessions() as session:
        queue = await list_queue(session, await w.person(DISPATCH_LEADER), 0, clock.now())
    line = next(line for line in queue.lines if line.id == w.case.id)
    assert line.is_assisted_by(w.teams["dispatch"])
    assert not [e for e in await w.events() if e.kind is EventKind.IDENTITY_VIEWED]
    async with sessions() as session:  # the lead assignee: the contact, the file as sent
        lead = await view_materials(
            session, await w.person(INSPECTOR), w.case.id or 0, now=clock.now()
        )
    assert lead.contact is not None and not lead.confidential


async def test_only_the_lead_team_leader_a_leader_or_an_admin_adds_and_only_a_fitting_team(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    w = await world(sessions, catalog, calendar, clock)
    for outsider in (INSPECTOR, DISPATCH_LEADER, SAFETY_INSPECTOR):
        with refused(PermissionDenied, "主办组组长"):
            await w.add("safety", by=outsider)
    with refused(InvalidInput, "主办组"):
        await w.add("business_env")
    await w.add("safety", by=LEADER)
    await w.add("key_projects", by=ADMIN)
    with refused(InvalidInput, "已是本问题的协办组"):
        await w.add("safety")
    async with sessions() as session:
        rural = await session.get(Team, w.teams["rural"])
        assert rural is not None
        rural.active = False
        session.add(rural)
        await session.commit()
    with refused(NotFound, "停用"):
        await w.add("rural")
    with refused(InvalidInput, "不是本问题的协办组"):
        await w.remove("dispatch")
    async with sessions() as session:
        panel = await assist_panel(session, await w.person(BUSINESS_LEADER), await w.load())
        assert [t.name for t in panel.teams] == ["“安全生产”立项监督组", "“重点项目建设”立项监督组"]
        assert w.teams["safety"] not in {t.id for t in panel.targets}
        assert panel.may_manage and not panel.may_progress
        async with sessions() as inner:
            helper = await assist_panel(inner, await w.person(SAFETY_LEADER), await w.load())
        assert helper.may_progress and not helper.may_manage

    async with sessions() as session:
        await resolve_case(
            session, await w.person(INSPECTOR), w.case.id or 0, outcome=Outcome.SOLVED,
            summary="已协调返还。", amount_yuan=None, policy=w.policy, now=clock.now(),
        )  # fmt: skip
    assert (await w.load()).status is CaseStatus.RESOLVED
    with refused(StaleAction, "不能增加协办组"):
        await w.add("enforcement")
    for outsider in (INSPECTOR, DISPATCH_LEADER, SAFETY_INSPECTOR):  # not told it was 办结
        with refused(PermissionDenied, "主办组组长"):
            await w.add("enforcement", by=outsider)
        with refused(PermissionDenied, "主办组组长"):
            await w.remove("safety", by=outsider)
    async with sessions() as session:
        assert (await verify_audit(session)).ok


async def test_a_clue_is_assisted_only_by_a_team_that_handles_clues_and_seen_by_its_leader(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    w = await world(sessions, catalog, calendar, clock, clue=True)
    with refused(InvalidInput, "不办理问题线索"):
        await w.add("business_env", by=SOE_LEADER)
    for outsider in (LEADER, ADMIN):  # they never see a clue's row
        with refused(PermissionDenied, "主办组组长"):
            await w.add("dispatch", by=outsider)
    await w.add("dispatch", by=SOE_LEADER)
    assert await w.sees(DISPATCH_LEADER)
    assert not await w.sees(DISPATCH_INSPECTOR)  # a clue: the 协办 team's leader only
    with refused(PermissionDenied, "不是该问题的协办组"):
        await w.note(DISPATCH_INSPECTOR)
    await w.note(DISPATCH_LEADER)
    assert await w.told("assist_progress") == [SOE_INSPECTOR]
    assert not may_view_identity(await w.person(DISPATCH_LEADER), await w.load())


async def test_assist_progress_stays_internal_moves_nothing_and_tells_the_lead_assignee(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    w = await world(sessions, catalog, calendar, clock)
    await w.add("dispatch")
    reporter_before = await _reporter_notices(sessions)
    with refused(PermissionDenied, "不是该问题的协办组"):
        await w.note(SAFETY_INSPECTOR)
    with refused(InvalidInput, "请输入协办进展"):
        await w.note(DISPATCH_INSPECTOR, "   ")
    await w.note(DISPATCH_INSPECTOR)
    event = (await w.events())[-1]
    assert event.kind is EventKind.ASSIST_PROGRESS and not event.public
    assert event.data["assist_team"] == w.teams["dispatch"]
    assert (
        await w.load()
    ).status is CaseStatus.ACCEPTED  # the lead's first note moves it, not this
    assert await w.told("assist_progress") == [INSPECTOR]
    text = telegram_html((await w.notices("assist_progress"))[0])
    assert "信访室" in text and "返还资金正在走审批" in text
    assert await _reporter_notices(sessions) == reporter_before


async def test_assist_teams_hear_of_the_lead_progress_and_the_resolution_until_removed(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    w = await world(sessions, catalog, calendar, clock)
    await w.add("dispatch")
    await w.add("safety")
    await w.note(DISPATCH_INSPECTOR)  # a member who added progress hears of changes too
    async with sessions() as session:
        await add_progress(
            session, await w.person(INSPECTOR), w.case.id or 0, note="已与管委会沟通。",
            public=False, now=clock.now(),
        )  # fmt: skip
    assert sorted(await w.told("assist_case_changed")) == sorted(
        [DISPATCH_LEADER, DISPATCH_INSPECTOR, SAFETY_LEADER]
    )
    changed = (await w.notices("assist_case_changed"))[0]
    assert "主办组记录了办理进展，问题当前状态" in telegram_html(changed)
    assert "已与管委会沟通" in telegram_html(changed)

    await w.remove("safety")
    assert await w.told("assist_removed") == [SAFETY_LEADER]
    assert not await w.sees(SAFETY_LEADER)
    async with sessions() as session:
        await resolve_case(
            session, await w.person(INSPECTOR), w.case.id or 0, outcome=Outcome.SOLVED,
            summary="已协调返还。", amount_yuan=None, policy=w.policy, now=clock.now(),
        )  # fmt: skip
    assert (await w.load()).status is CaseStatus.RESOLVED
    told = await w.told("assist_case_changed")
    assert sorted(told[3:]) == sorted([DISPATCH_LEADER, DISPATCH_INSPECTOR])  # not the removed
    assert "主办组已办结该问题" in telegram_html((await w.notices("assist_case_changed"))[-1])
    async with sessions() as session:
        assert (await verify_audit(session)).ok


async def test_a_removed_assist_team_gets_none_of_the_notices_still_waiting_for_it(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """Telegram down, or the sender behind: the 协办 invitation (with its 协办进展 and 查看材料
    buttons) and a change of the case still wait in the outbox when the team is removed; the
    team no longer sees the case, so of those it gets only the removal."""
    w = await world(sessions, catalog, calendar, clock)
    await w.add("dispatch")
    await w.add("safety")
    async with sessions() as session:
        await add_progress(
            session, await w.person(INSPECTOR), w.case.id or 0, note="已与管委会沟通。",
            public=False, now=clock.now(),
        )  # fmt: skip
    await w.remove("safety")

    async def waiting(telegram_id: int) -> list[str]:
        async with sessions() as session:
            rows = await session.exec(
                select(Notification.kind).where(
                    Notification.case_id == w.case.id,
                    Notification.recipient_id == w.people.id(telegram_id),
                    Notification.status == NotificationStatus.PENDING,
                )
            )
            return sorted(rows.all())

    assert await waiting(SAFETY_LEADER) == ["assist_removed"]
    assert await waiting(DISPATCH_LEADER) == ["assist_case_changed", "assist_invited"]


async def _reporter_notices(sessions: SessionFactory) -> int:
    async with sessions() as session:
        rows = await session.exec(
            select(Notification).where(Notification.recipient_kind == RecipientKind.REPORTER)
        )
        return len(rows.all())


async def test_a_transfer_releases_the_assist_teams_and_one_that_becomes_lead_is_told_as_lead(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """The new lead team decides its own 协办: a team asked by the old lead does not keep
    seeing the case; a 协办 team the case is transferred to hears of it as its new lead, not
    that the case went elsewhere."""
    w = await world(sessions, catalog, calendar, clock)
    await w.add("dispatch")
    await w.add("safety")
    assert await w.sees(DISPATCH_INSPECTOR)
    async with sessions() as session:
        request = await transfer_case(
            session, await w.person(INSPECTOR), w.case.id or 0, team_id=w.teams["safety"],
            reason="属安全生产问题。", now=clock.now(),
        )  # fmt: skip
        await decide_request(
            session, await w.person(BUSINESS_LEADER), request.id or 0, approve=True,
            policy=w.policy, now=clock.now(),
        )  # fmt: skip
    assert (await w.load()).team_id == w.teams["safety"]
    assert not await w.sees(DISPATCH_INSPECTOR)
    ended = [e for e in await w.events() if e.kind is EventKind.ASSIST_REMOVED]
    assert sorted(e.data["team"] for e in ended) == ["dispatch", "safety"]
    assert {e.note for e in ended} == {"主办组变更，协办随之结束。"}
    went = [
        n for n in await w.notices("assist_case_changed") if "已转由其他组主办" in telegram_html(n)
    ]
    assert [n.recipient_id for n in went] == [w.people.id(DISPATCH_LEADER)]  # not safety's
    async with sessions() as session:
        assert (await verify_audit(session)).ok


async def test_a_case_sent_on_from_the_petition_office_leaves_its_assist_teams_behind(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """分办 of a case still waiting in 信访室, whose leader asked a team to assist: the team
    that takes it over decides its own 协办."""
    people = await make_people(sessions, clock, extra=EXTRA)
    case = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="other",
        description="园区道路施工长期占道，影响企业货车进出，请协调处理。",
    )  # fmt: skip
    async with sessions() as session:
        teams = {t.code: t.id or 0 for t in (await session.exec(select(Team))).all()}
    assert case.team_id == teams["dispatch"] and case.status is CaseStatus.SUBMITTED
    w = World(sessions, Policy(catalog, calendar), clock, people, case, teams)
    await w.add("safety", by=DISPATCH_LEADER)
    assert await w.sees(SAFETY_LEADER)
    async with sessions() as session:
        await reroute_case(
            session, await w.person(DISPATCH_LEADER), case.id or 0, team_id=teams["key_projects"],
            policy=w.policy, now=clock.now(),
        )  # fmt: skip
    assert (await w.load()).team_id == teams["key_projects"]
    assert not await w.sees(SAFETY_LEADER)
    (ended,) = [e for e in await w.events() if e.kind is EventKind.ASSIST_REMOVED]
    assert ended.data["team"] == "safety"


async def test_a_clue_disposed_of_for_good_tells_its_assist_team_once_not_once_per_event(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """予以了结 approved writes two events at once (the approval and the 结案): the 协办 team's
    leader gets one message, saying where the clue now stands."""
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    async with sessions() as session:
        dispatch = (await session.exec(select(Team).where(Team.code == "dispatch"))).one()
        await add_assist_team(
            session, await clue.person(SOE_LEADER), clue.case.id or 0, team_id=dispatch.id or 0,
            now=clock.now(),
        )  # fmt: skip
    proposal = await clue.propose(Disposition.DISMISS, "经了解，反映问题缺乏可查性，建议予以了结。")
    await clue.decide(await clue.review(proposal))
    assert (await clue.load()).status is CaseStatus.CLOSED
    (told,) = await clue.notices("assist_case_changed")
    assert "该问题已结案" in telegram_html(told)


async def test_assist_teams_hear_when_the_deadline_sweep_closes_the_case(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """The sweep writes its history in bulk: a 回访 left unanswered closes the case, and the
    协办 team hears of it as it would of a person's change."""
    w = await world(sessions, catalog, calendar, clock)
    await w.add("dispatch")
    async with sessions() as session:
        await resolve_case(
            session, await w.person(INSPECTOR), w.case.id or 0, outcome=Outcome.SOLVED,
            summary="已协调返还。", amount_yuan=None, policy=w.policy, now=clock.now(),
        )  # fmt: skip
    before = len(await w.told("assist_case_changed"))
    for days in (20, 40, 60):
        await sweep_deadlines(sessions, catalog, calendar, clock.now() + timedelta(days=days))
    assert (await w.load()).status is CaseStatus.CLOSED
    assert (await w.told("assist_case_changed"))[before:] == [DISPATCH_LEADER]
    assert "该问题已结案" in telegram_html((await w.notices("assist_case_changed"))[-1])
    async with sessions() as session:
        assert (await verify_audit(session)).ok
