"""防打击报复回访 in the services, the configuration and the report: the clock starts only when
switched on and for a reporter who can be reached; `[aftercare] category` must be a clue
category; the report counts asked, 没有, 有 and 未答复 for the period, names a 有 among the
problems with a recommendation, and shows none of it in one team's own report."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.clock import FrozenClock
from bot.config import ConfigError, LiankaConfig, parse_config
from bot.db import SessionFactory
from bot.services.aftercare import (
    answer_none,
    check_aftercare,
    report_retaliation,
)
from bot.services.clocks import get_clock
from bot.services.policy import Policy
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, reporter_of
from models.clock import ClockKind, ClockState
from models.disposition import Disposition
from models.reporter import Reporter
from reports.document import Paragraph, Table, report_sections
from reports.figures import compute_figures, resolve_scope
from reports.outputs import Format, write_report
from reports.periods import custom
from reports.report import Report
from tests.casework import sh
from tests.report_history import read_report
from tests.test_aftercare_flow import (
    ASK,
    FOLLOWUP_ASKED,
    UNANSWERED,
    UNRATED,
    another_appeal,
    resolved_appeal,
    time_passes,
)
from tests.test_clue_dispositions import accepted_clue

pytestmark = pytest.mark.both_databases

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = (ROOT / "lianka.example.toml").read_text(encoding="utf-8")


def words(report: Report) -> str:
    """The report's paragraphs, table captions and cells, as one text."""
    parts: list[str] = []
    for section in report_sections(report):
        for block in section.blocks:
            if isinstance(block, Paragraph):
                parts.append(block.text)
            elif isinstance(block, Table):
                parts += [block.caption or "", *block.header, *(" ".join(r) for r in block.rows)]
    return " ".join(parts)


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, Path("lianka.toml"))
    return [str(p) for p in raised.value.problems]


def test_the_example_asks_twenty_working_days_after_resolution_and_opens_a_clue_for_the_petition_office() -> (
    None
):
    config = parse_config(EXAMPLE, Path("lianka.toml"))
    settings = config.aftercare
    assert (settings.enabled, settings.days, settings.answer_days) == (True, 20, 10)
    category = config.category(settings.category)
    assert (category.name, category.track.value) == ("打击报复", "clue")
    (rule,) = [r for r in config.routing if settings.category in r.categories]
    assert config.team(rule.team).name == "信访室"
    # a receipt code lives as long as the question can be answered on the web page
    assert config.receipt_window() == 30


def test_a_missing_or_appeal_category_for_aftercare_is_a_config_problem() -> None:
    missing = EXAMPLE.replace('category = "retaliation" #', 'category = "nowhere" #')
    assert problems_of(missing) == [
        "aftercare.category: 未知的监督事项 “nowhere”：防打击报复回访需要一个问题线索类监督事项"
        " (unknown category)"
    ]
    appeal = EXAMPLE.replace('category = "retaliation" #', 'category = "business_env" #')
    (problem,) = problems_of(appeal)
    assert problem.startswith("aftercare.category: 监督事项 “business_env” 不是问题线索")
    off = missing.replace("[aftercare]\nenabled = true", "[aftercare]\nenabled = false")
    assert parse_config(off, Path("lianka.toml")).aftercare.enabled is False


async def test_switched_off_no_clock_starts_at_resolution(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    off = catalog.model_copy(
        update={"aftercare": catalog.aftercare.model_copy(update={"enabled": False})}
    )
    _, _, case_id = await resolved_appeal(sessions, off, calendar, anonymous=False)
    async with sessions() as session:
        assert await get_clock(session, case_id, ClockKind.AFTERCARE) is None


async def test_a_reporter_who_blocked_the_bot_is_not_asked(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, _, case_id = await resolved_appeal(sessions, catalog, calendar, anonymous=True)
    async with sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        reporter = await session.get(Reporter, reporter_of(case))
        assert reporter is not None
        reporter.blocked_at = ASK - timedelta(days=3)
        session.add(reporter)
        await session.commit()
    await time_passes(sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    async with sessions() as session:
        clock = await get_clock(session, case_id, ClockKind.AFTERCARE)
    assert clock is not None and clock.state is ClockState.CANCELLED


async def _answered_three_ways(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> None:
    """Three appeals asked on 24 Dec: one answered 没有, one 有, one never."""
    policy = Policy(config, calendar)
    _, _, first = await resolved_appeal(sessions, config, calendar, anonymous=False)
    ids = [first]
    for user_id, anonymous in ((7_000_002, True), (7_000_003, False)):
        ids.append(
            await another_appeal(sessions, config, calendar, anonymous=anonymous, user_id=user_id)
        )
    await time_passes(sessions, config, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    for case_id, answer in zip(ids[:2], ("none", "yes"), strict=True):
        async with sessions() as session:
            case = await session.get(Case, case_id)
            assert case is not None
            reporter = await session.get(Reporter, reporter_of(case))
            case, reporter = await check_aftercare(session, reporter, case, case_id)
            if answer == "none":
                await answer_none(session, reporter, case, now=ASK + timedelta(hours=1))
            else:
                await report_retaliation(
                    session, reporter, case, text=None, policy=policy, now=ASK + timedelta(hours=2)
                )
    await sweep_deadlines(sessions, config, calendar, UNANSWERED)


async def test_the_report_counts_asked_answered_yes_and_unanswered_and_recommends_on_a_yes(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    await _answered_three_ways(sessions, catalog, calendar)
    period = custom(date(2026, 12, 1), date(2027, 1, 31))
    async with sessions() as session:
        whole = await compute_figures(
            session, period, await resolve_scope(session), calendar, UNANSWERED
        )
        team = await compute_figures(
            session,
            period,
            await resolve_scope(session, team_code="business_env"),
            calendar,
            UNANSWERED,
        )
        december = await compute_figures(
            session, custom(date(2026, 12, 1), date(2026, 12, 31)), await resolve_scope(session),
            calendar, UNANSWERED,
        )  # fmt: skip
    care = whole.aftercare
    assert (care.asked, care.answered_none, care.answered_yes, care.unanswered) == (3, 1, 1, 1)
    assert care.answered == 2
    # by when it happened: 未答复 came on 8 January
    assert (december.aftercare.asked, december.aftercare.unanswered) == (3, 0)
    assert team.aftercare.hidden and team.aftercare.answered_yes == 0

    report = await read_report(
        sessions, catalog, calendar, period=period, now=UNANSWERED + timedelta(hours=1)
    )
    text = words(report)
    assert "防打击报复回访3家次，答复2家次，其中1家次反映自反映问题以来遇到刁难" in text
    assert "严肃查处打击报复行为。防打击报复回访中1家次企业反映" in text
    (problem,) = [p for p in text.split(" ") if p.startswith("（") and "遭遇刁难或打击报复" in p]
    assert "AJ-" not in problem  # no case, clue or team named
    assert "回访（家次） 没有 有（已受理为问题线索） 未答复 3 1 1 1" in text
    book = load_workbook(write_report(report, [Format.XLSX], tmp_path)[Format.XLSX])
    cells = [[c.value for c in row] for row in book["统计数据"].iter_rows()]
    title = cells.index(["防打击报复回访", None, None, None])
    assert [row[:2] for row in cells[title + 2 : title + 6]] == [
        ["回访（家次）", 3], ["没有（家次）", 1], ["有，已受理为问题线索（件）", 1], ["未答复（家次）", 1],
    ]  # fmt: skip


async def test_without_a_yes_there_is_no_retaliation_problem_or_advice(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    _, _, case_id = await resolved_appeal(sessions, catalog, calendar, anonymous=False)
    await time_passes(sessions, catalog, calendar, FOLLOWUP_ASKED, UNRATED, ASK)
    async with sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        reporter = await session.get(Reporter, reporter_of(case))
        case, reporter = await check_aftercare(session, reporter, case, case_id)
        await answer_none(session, reporter, case, now=sh(2026, 12, 24, 10))
    report = await read_report(
        sessions,
        catalog,
        calendar,
        period=custom(date(2026, 12, 1), date(2026, 12, 31)),
        now=sh(2026, 12, 31, 12),
    )
    assert report.figures.aftercare.answered_none == 1
    text = words(report)
    assert "严肃查处打击报复行为" not in text and "遭遇刁难或打击报复" not in text


async def test_a_clue_disposed_of_for_good_starts_the_question_as_an_appeal_resolved_does(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    clue = await accepted_clue(sessions, catalog, calendar, clock)
    talk = await clue.propose(Disposition.TALK, "反映问题较轻，建议谈话函询。")
    await clue.decide(await clue.review(talk))
    async with sessions() as session:
        assert await get_clock(session, clue.case.id or 0, ClockKind.AFTERCARE) is None  # not yet
    dismiss = await clue.propose(Disposition.DISMISS, "函询说明属实，予以了结。")
    await clue.decide(await clue.review(dismiss))
    assert (await clue.load()).status is CaseStatus.CLOSED
    async with sessions() as session:
        started = await get_clock(session, clue.case.id or 0, ClockKind.AFTERCARE)
    assert started is not None and started.state is ClockState.RUNNING
    assert started.due_at == calendar.deadline(clock.now(), catalog.aftercare.days).due_at
