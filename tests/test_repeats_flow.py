"""重复件 through the production dispatcher: a second report of the same matter is flagged and
linked at intake, its assignee merges it into the first, the first carries its report as a
progress record, and its reporter is told which 受理编号 carries it now. Matching never uses
who reported: only the enterprise, the category, the zone and the words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.inspectors import get_actor
from bot.services.repeats import merge_repeat, repeat_counts, similarity
from models.calendar import WorkCalendar
from models.case import CaseStatus
from models.clock import ClockState
from models.errors import InvalidInput, PermissionDenied, StaleAction
from models.event import EventKind
from notifications.render import telegram_html
from tests.casework import outbox
from tests.factories import make_reporter
from tests.inspector_support import (
    INSPECTOR,
    PROJECTS_INSPECTOR,
    REFUND,
    REPORTER,
    SAFETY,
    build,
    clocks,
    deliver,
    events,
    load,
    make_people,
    reporter_notices,
    submit,
    user,
)
from tests.intake_helpers import assert_telegram_html

pytestmark = pytest.mark.both_databases

AGAIN = "经开区管委会承诺的土地出让金返还至今仍未到位，企业资金链紧张，再次请求协调。"


def test_descriptions_are_compared_by_their_character_bigrams() -> None:
    assert similarity(REFUND, REFUND) == 1.0
    assert similarity(REFUND, AGAIN) >= 0.5
    assert similarity(REFUND, SAFETY) < 0.1
    assert similarity("", REFUND) == 0.0


async def test_a_repeat_report_is_flagged_linked_and_merged_and_its_reporter_told(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector, reporter = user(tg, INSPECTOR), user(tg, REPORTER)
    first = await submit(sessions, catalog, calendar, clock, people.reporter)
    await deliver(tg, sessions)
    clock.advance(timedelta(days=3))
    second = await submit(
        sessions, catalog, calendar, clock, people.reporter, description=AGAIN, photo=True
    )
    assert second.id is not None and first.id is not None
    assert second.repeat_of_id == first.id
    flagged = [e for e in await events(sessions, second.id) if e.kind is EventKind.REPEAT_FLAGGED]
    assert flagged[0].data["of"] == first.number and flagged[0].data["reason"] == "enterprise"

    await deliver(tg, sessions)
    assert f"疑似重复件，关联 {first.number}" in inspector.last
    assert "同一企业反映的同类问题" in inspector.last
    assert "合并办理" in inspector.messages[-1].button_texts

    await inspector.click("合并办理")
    assert f"已并入 {first.number} 合并办理" in inspector.last
    merged = await load(sessions, second.number)
    assert (merged.status, merged.merged_into_id) == (CaseStatus.CLOSED, first.id)
    assert all(
        c.state is not ClockState.RUNNING for c in (await clocks(sessions, second.id)).values()
    )
    record = (await events(sessions, first.id))[-1]
    assert record.kind is EventKind.PROGRESS and record.data["merged_from"] == second.number
    assert AGAIN in (record.note or "") and "附材料1件" in (record.note or "")
    assert (await load(sessions, first.number)).status is not CaseStatus.CLOSED

    await deliver(tg, sessions)
    assert "reporter_merged" in await reporter_notices(sessions)
    told = reporter.last
    assert f"受理编号 {second.number}" in told and f"受理编号 {first.number} 一并办理" in told

    async with sessions() as session:
        counts = await repeat_counts(
            session, clock.now() - timedelta(days=7), clock.now() + timedelta(days=1)
        )
    assert (counts.flagged, counts.merged) == (1, 1)
    async with sessions() as session:
        actor = await get_actor(session, INSPECTOR)
        with pytest.raises(StaleAction, match="合并办理"):
            await merge_repeat(session, actor, second.id, now=clock.now())  # once
    assert_telegram_html(tg)


async def test_only_the_repeats_assignee_or_team_leader_may_merge_it(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    first = await submit(sessions, catalog, calendar, clock, people.reporter)
    second = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert second.id is not None and second.repeat_of_id == first.id
    async with sessions() as session:
        other = await get_actor(session, PROJECTS_INSPECTOR)
        with pytest.raises(PermissionDenied):
            await merge_repeat(session, other, second.id, now=clock.now())
        inspector = await get_actor(session, INSPECTOR)
        with pytest.raises(InvalidInput, match="未关联"):
            await merge_repeat(session, inspector, first.id or 0, now=clock.now())
    assert (await load(sessions, second.number)).status is not CaseStatus.CLOSED


async def test_an_anonymous_reporter_is_never_matched_by_who_they_are(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    """The same anonymous reporter on another matter is not linked; another enterprise of the
    zone with the same words is — and its notice says why, never who."""
    people = await make_people(sessions, clock)
    first = await submit(sessions, catalog, calendar, clock, people.reporter)
    other_matter = await submit(
        sessions,
        catalog,
        calendar,
        clock,
        people.reporter,
        category="work_safety",
        description=SAFETY,
    )
    assert other_matter.repeat_of_id is None
    async with sessions() as session:
        neighbour = await make_reporter(
            session, clock.now(), telegram_user_id=7_100_002, enterprise_name="遂宁某建材有限公司"
        )
        elsewhere = await make_reporter(
            session, clock.now(), telegram_user_id=7_100_003, zone_code="anju",
            enterprise_name="安居某食品有限公司",
        )  # fmt: skip
    alike = await submit(sessions, catalog, calendar, clock, neighbour, description=AGAIN)
    assert alike.repeat_of_id == first.id
    far = await submit(sessions, catalog, calendar, clock, elsewhere, description=AGAIN)
    assert far.repeat_of_id is None
    (notice,) = [n for n in await outbox(sessions, "inspector_repeat") if n.case_id == alike.id]
    text = telegram_html(notice)
    assert "反映内容相近" in text and "同一企业" not in text and "同一反映人" not in text


CLUE = "某国有公司负责人利用职务便利，在工程分包中收受好处费，请组织核查。"
CLUE_AGAIN = "某国有公司负责人利用职务便利，在工程分包中收受好处费，再次请求核查。"


async def test_a_clue_is_compared_only_with_the_clues_of_its_own_team(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    """Another team's clue is not its handlers' to know of: alike words in another team's clue
    link nothing; in a clue of the same team they do, by the words alone."""
    people = await make_people(sessions, clock)
    first = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=CLUE,
    )  # fmt: skip
    other_team = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="four_styles",
        description=CLUE_AGAIN,
    )  # fmt: skip
    assert first.team_id is not None and other_team.team_id not in (None, first.team_id)
    assert other_team.repeat_of_id is None
    same_team = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=CLUE_AGAIN,
    )  # fmt: skip
    assert same_team.repeat_of_id == first.id
    flagged = [
        e for e in await events(sessions, same_team.id or 0) if e.kind is EventKind.REPEAT_FLAGGED
    ]
    assert flagged[0].data["reason"] == "text"
