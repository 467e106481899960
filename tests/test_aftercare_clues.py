"""The clue a 防打击报复回访 有 opens: never flagged as a repeat of another reporter's (nor offered
as the earlier case), never routed back to the team that handled the first case nor given to its
inspector, the 委领导 told without a first clue's number, and an anonymous clue's record names
no reporter."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlmodel import col, delete, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.aftercare import Opened, check_aftercare, report_retaliation
from bot.services.assignment import reroute_case
from bot.services.audit import verify_audit
from bot.services.clocks import get_clock
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case, reporter_of
from models.clock import ClockKind
from models.disposition import Disposition
from models.event import CaseEvent, EventKind
from models.intake import CaseDraft
from models.reporter import Reporter, ReporterContact
from models.team import Inspector, Team
from notifications.render import telegram_html
from tests.casework import outbox
from tests.factories import make_reporter
from tests.test_aftercare_flow import (
    ASK,
    FOLLOWUP_ASKED,
    UNRATED,
    another_appeal,
    resolved_appeal,
    time_passes,
)
from tests.test_clue_dispositions import accepted_clue

pytestmark = pytest.mark.both_databases


async def say_yes(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, case_id: int,
    now: datetime,
) -> Opened:  # fmt: skip
    """The case's reporter answers 有 (no description), as the chat and the page do."""
    async with sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        reporter = await session.get(Reporter, reporter_of(case))
        case, reporter = await check_aftercare(session, reporter, case, case_id)
        return await report_retaliation(
            session, reporter, case, text=None, policy=Policy(config, calendar), now=now
        )


async def events(sessions: SessionFactory, case_id: int, kind: EventKind) -> list[CaseEvent]:
    async with sessions() as session:
        rows = await session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
        )
        return list(rows.all())


def routed_to(config: LiankaConfig, team_code: str) -> LiankaConfig:
    """The example with 打击报复 clues routed to ``team_code`` instead of 信访室."""
    rules = [
        rule.model_copy(update={"team": team_code})
        if config.aftercare.category in rule.categories
        else rule
        for rule in config.routing
    ]
    return config.model_copy(update={"routing": rules})


async def test_two_reporters_retaliation_clues_are_never_offered_to_be_merged_into_each_other(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, _, first = await resolved_appeal(sessions, catalog, calendar, anonymous=False)
    second = await another_appeal(sessions, catalog, calendar, anonymous=True, user_id=7_000_002)
    await time_passes(sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    one = await say_yes(sessions, catalog, calendar, first, ASK + timedelta(hours=1))
    other = await say_yes(sessions, catalog, calendar, second, ASK + timedelta(hours=2))
    assert one.clue.team_id == other.clue.team_id  # both with 信访室, texts alike but for a number
    assert other.clue.repeat_of_id is None
    assert await events(sessions, other.clue.id or 0, EventKind.REPEAT_FLAGGED) == []
    clues = {one.clue.id, other.clue.id}
    assert not any(r.case_id in clues for r in await outbox(sessions, "inspector_repeat"))

    # a 打击报复 clue reported directly, in the very words of the first: not matched with it
    async with sessions() as session:
        someone = await make_reporter(session, ASK, telegram_user_id=7_000_003)
        direct = await submit_case(
            session, someone, CaseDraft("retaliation", one.clue.description),
            policy=Policy(catalog, calendar), now=ASK + timedelta(hours=3),
        )  # fmt: skip
    assert direct.case.team_id == one.clue.team_id and direct.case.repeat_of_id is None
    assert not any(r.case_id == direct.case.id for r in await outbox(sessions, "inspector_repeat"))


async def test_a_retaliation_clue_routed_to_the_first_cases_team_goes_to_the_petition_office(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    config = routed_to(catalog, "business_env")  # the team that handled the first case
    staff, clue_leader, first = await resolved_appeal(sessions, config, calendar, anonymous=False)
    await time_passes(sessions, config, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    opened = await say_yes(sessions, config, calendar, first, ASK + timedelta(hours=1))
    clue = opened.clue
    async with sessions() as session:
        team = await session.get(Team, clue.team_id)
    assert team is not None and team.code == "dispatch"
    assert clue.assignee_id is None and clue.routed_by == "回避原承办组"
    waiting = [r for r in await outbox(sessions, "waiting") if r.case_id == clue.id]
    assert [r.recipient_id for r in waiting] == [clue_leader.id]
    assert "请信访室另行分办，勿交该组" in telegram_html(waiting[0])
    first_team = {staff.inspector.id, staff.team_leader.id}
    assert not any(
        r.case_id == clue.id and r.recipient_id in first_team for r in await outbox(sessions)
    )

    # routed there by hand, it waits for that team's leader: never given to the first inspector
    async with sessions() as session:
        business = (await session.exec(select(Team).where(Team.code == "business_env"))).one()
        moved = await reroute_case(
            session, clue_leader, clue.id or 0, team_id=business.id or 0,
            policy=Policy(config, calendar), now=ASK + timedelta(hours=2),
        )  # fmt: skip
    assert moved.assignee is None and moved.case.assignee_id is None
    told = [r for r in await outbox(sessions, "waiting") if r.case_id == clue.id]
    assert told[-1].recipient_id == staff.team_leader.id
    assert "勿交原承办人" in telegram_html(told[-1])


async def test_a_retaliation_clue_is_never_given_automatically_to_the_first_cases_inspector(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    config = routed_to(catalog, "safety")  # a team that assigns automatically
    staff, _, first = await resolved_appeal(sessions, config, calendar, anonymous=False)
    async with sessions() as session:  # the first case's inspector has since joined that team
        safety = (await session.exec(select(Team).where(Team.code == "safety"))).one()
        inspector = await session.get(Inspector, staff.inspector.id)
        assert inspector is not None
        inspector.team_id = safety.id
        session.add(inspector)
        await session.commit()
    await time_passes(sessions, config, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    opened = await say_yes(sessions, config, calendar, first, ASK + timedelta(hours=1))
    assert opened.clue.team_id == safety.id
    assert opened.clue.assignee_id is None  # the team's only inspector is the one concerned
    assert not any(
        r.case_id == opened.clue.id and r.recipient_id == staff.inspector.id
        for r in await outbox(sessions)
    )


async def test_neither_the_leaders_nor_the_new_clues_team_are_shown_the_number_of_a_first_case_that_is_a_clue(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    first = await accepted_clue(sessions, catalog, calendar, clock)
    dismiss = await first.propose(Disposition.DISMISS, "反映问题查无实据，予以了结。")
    await first.decide(await first.review(dismiss))
    async with sessions() as session:
        started = await get_clock(session, first.case.id or 0, ClockKind.AFTERCARE)
    assert started is not None
    await sweep_deadlines(sessions, catalog, calendar, started.due_at)
    opened = await say_yes(
        sessions, catalog, calendar, first.case.id or 0, started.due_at + timedelta(hours=1)
    )
    (told,) = await outbox(sessions, "aftercare_leader")
    text = telegram_html(told)
    assert "问题线索（不显示编号）" in text and first.case.number not in text
    assert opened.clue.number in text  # the new clue: the 委领导 act on it
    # nor its new handlers (another team): the clue's own words name no earlier clue
    assert first.case.number not in opened.clue.description
    assert "已办结问题线索（不显示编号）回访时反映" in opened.clue.description


async def test_a_named_case_whose_contact_was_purged_opens_a_clue_whose_record_names_no_reporter(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, _, first = await resolved_appeal(sessions, catalog, calendar, anonymous=False)
    async with sessions() as session:
        await session.exec(delete(ReporterContact).where(col(ReporterContact.case_id) == first))
        await session.commit()
    await time_passes(sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    opened = await say_yes(sessions, catalog, calendar, first, ASK + timedelta(hours=1))
    assert opened.clue.anonymous and opened.clue.reporter_id is None
    (marked,) = await events(sessions, opened.clue.id or 0, EventKind.AFTERCARE_CLUE)
    assert marked.actor_id is None
    async with sessions() as session:
        assert (await verify_audit(session)).ok
