"""The report's figures over a known history around 国庆 2026, checked exactly on both databases."""

from __future__ import annotations

from datetime import date

import pytest
from sqlmodel import select

from bot.config import LiankaConfig
from bot.db import SessionFactory
from demo.plan import StepKind
from demo.steps import STEPS
from demo.use_cases import SessionLedger
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Outcome, Satisfaction
from models.clock import ClockKind
from models.errors import NotFound
from models.org import Category
from reports.figures import ClockRate, compute_figures, nearest_rank, resolve_scope
from reports.report import build_report
from tests.report_history import NOW, OCTOBER, build_history, read_report, step

pytestmark = [pytest.mark.both_databases, pytest.mark.usefixtures("catalog")]


async def test_every_figure_of_october_2026_is_exact(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await build_history(sessions, catalog, calendar)
    report = await read_report(sessions, catalog, calendar)
    f = report.figures
    assert (f.received, f.resolved, f.closed, f.withdrawn, f.open) == (7, 4, 4, 1, 2)
    assert round(f.resolved_rate or 0, 4) == round(4 / 6, 4)
    assert (f.clues, f.clues_transferred, f.reopened, f.supervised) == (1, 1, 1, 1)
    assert (f.extensions, f.extended_cases) == (1, 1)
    assert (f.amount_involved_yuan, f.amount_coordinated_yuan, f.coordinated_cases) == (
        2_080_000,
        1_250_000,
        3,
    )
    assert f.enterprises == 4
    assert (f.cards_scanned, f.cards_scanned_distinct) == (4, 2)
    assert [(s.name, s.count, s.resolved) for s in f.by_category if s.count] == [
        ("营商环境", 3, 2),
        ("国资国企腐败", 1, 1),
        ("安全生产", 1, 1),
        ("涉企执法检查", 1, 0),
        ("其他", 1, 0),
    ]
    assert [(s.name, s.count) for s in f.by_track] == [("诉求", 6), ("问题线索", 1)]
    assert [(s.name, s.count) for s in f.by_zone if s.count] == [
        ("安居经开区", 4),
        ("安居镇", 2),
        ("玉丰镇", 1),
    ]
    assert [(s.name, s.count) for s in f.by_team if s.count] == [
        ("“营商环境”立项监督组", 3),
        ("“国资国企腐败”立项监督组", 1),
        ("“安全生产”立项监督组", 1),
        ("“涉企执法检查”立项监督组", 1),
        ("信访室", 1),
    ]
    assert f.satisfaction == {
        Satisfaction.SATISFIED: 1,
        Satisfaction.BASIC: 1,
        Satisfaction.UNSATISFIED: 1,
        Satisfaction.UNRATED: 1,
    }
    assert round(f.satisfaction_rate or 0, 4) == round(2 / 3, 4)
    # resolved cases took 16 (A), 13 (C), 28 (D) and 7 (G) working days
    assert (f.median_workdays, f.p90_workdays) == (14.5, 28)
    assert [(t.name, t.resolve.on_time, t.resolve.late) for t in f.timeliness_by_team][:3] == [
        ("“营商环境”立项监督组", 2, 1),
        ("“国资国企腐败”立项监督组", 1, 0),
        ("“安全生产”立项监督组", 0, 1),
    ]
    assert [(o.number, o.clock, o.overdue_workdays, o.status) for o in f.overdue] == [
        ("AJ-2026-00007", ClockKind.ACCEPT, 18, CaseStatus.ASSIGNED),
        ("AJ-2026-00002", ClockKind.RESOLVE, 1, CaseStatus.REOPENED),
    ]
    assert f.overdue_count == 2
    assert [(r.name, r.cases, r.categories) for r in f.recurring] == [
        ("四川坤天新能源科技有限公司", 3, "营商环境"),
        ("遂宁安居鑫达建材有限公司", 2, "安全生产、涉企执法检查"),
    ]
    assert [(p.first, p.count) for p in f.trend if p.count] == [
        (date(2026, 9, 14), 1),
        (date(2026, 9, 28), 1),
        (date(2026, 10, 5), 1),
        (date(2026, 10, 12), 2),
        (date(2026, 10, 19), 1),
        (date(2026, 10, 26), 2),
    ]
    assert len(f.trend) == 12


async def test_on_time_rates_count_working_days_across_the_national_day_holiday(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    """签收 of a report made on 3 Oct is due Thu 8 Oct (1–7 Oct are holidays): signed on the 8th,
    on time. Of one made Fri 9 Oct it is due on the make-up Saturday 10 Oct: signed Monday 12th,
    late. A weekday-only calendar would get both wrong."""
    await build_history(sessions, catalog, calendar)
    async with sessions() as session:
        f = await compute_figures(session, OCTOBER, await resolve_scope(session), calendar, NOW)
    assert f.clock(ClockKind.ACCEPT) == ClockRate(ClockKind.ACCEPT, on_time=4, late=2)
    assert f.clock(ClockKind.FIRST_REPLY) == ClockRate(ClockKind.FIRST_REPLY, on_time=5, late=1)
    # 办结: A, D, G on time; C two days late; B reopened and overdue since 25 Nov
    assert f.clock(ClockKind.RESOLVE) == ClockRate(ClockKind.RESOLVE, on_time=3, late=2)
    assert f.on_time_rate == 0.6
    async with sessions() as session:
        lines = {
            line.number: line
            for line in (
                await build_report(
                    session,
                    config=catalog,
                    calendar=calendar,
                    period=OCTOBER,
                    scope=await resolve_scope(session),
                    now=NOW,
                )
            ).cases
            or []
        }
    assert lines["AJ-2026-00002"].late  # reopened, past its new deadline
    assert lines["AJ-2026-00003"].late  # 签收 due on the make-up Saturday
    assert not lines["AJ-2026-00008"].late


async def test_the_previous_period_and_the_change_are_reported(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await build_history(sessions, catalog, calendar)
    report = await read_report(sessions, catalog, calendar)
    p = report.previous
    assert (p.period.first, p.period.last) == (date(2026, 9, 1), date(2026, 9, 30))
    assert (p.received, p.resolved, p.amount_coordinated_yuan, p.cards_scanned) == (
        1,
        1,
        300_000,
        1,
    )
    assert p.on_time_rate == 1.0 and p.satisfaction_rate == 1.0
    changes = {c.label: (c.current, c.previous, c.change) for c in report.changes}
    assert changes["受理企业反映问题"] == ("7", "1", "+6（+600.0%）")
    assert changes["按期办结率"] == ("60.0%", "100.0%", "-40.0个百分点")
    assert changes["协调落实资金"] == ("125", "30", "+95万元（+316.7%）")
    assert changes["联系卡扫码"] == ("4", "1", "+3（+300.0%）")
    assert changes["督办"] == ("1", "0", "+1（上期为0）")


async def test_the_summary_reads_like_the_commissions_report(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await build_history(sessions, catalog, calendar)
    report = await read_report(sessions, catalog, calendar)
    assert report.summary == (
        "2026年10月，安居区纪委监委通过“廉政监督联系卡”共受理企业反映问题7件（其中反映人撤回1件），"
        "涉及企业4家，"
        "受理量环比增长600.0%。截至11月26日，已办结4件，办结率66.7%，按期办结率60.0%，"
        "办结用时中位数14.5个工作日；协调落实资金125万元；收集问题线索1条，移交线索1条；"
        "回访企业满意率66.7%。反映较多的是营商环境（3件）、国资国企腐败（1件）和安全生产（1件），"
        "2家企业多次反映。当前超期未办结2件，本期督办1件，需督促相关监督组加快办理、按期反馈。"
        "因企业不满意重新办理1件。"
    )


async def test_a_zone_or_a_team_sees_only_its_own_cases(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await build_history(sessions, catalog, calendar)
    async with sessions() as session:
        anju = await compute_figures(
            session, OCTOBER, await resolve_scope(session, zone_code="anju"), calendar, NOW
        )
        team = await compute_figures(
            session, OCTOBER, await resolve_scope(session, team_code="business_env"), calendar, NOW
        )
        with pytest.raises(NotFound):
            await resolve_scope(session, zone_code="mars")
    assert (anju.received, anju.resolved, anju.overdue_count, anju.cards_scanned) == (2, 1, 1, 1)
    assert anju.scope.label == "安居镇"
    assert (team.received, team.resolved, team.amount_coordinated_yuan) == (3, 2, 1_250_000)
    assert team.clock(ClockKind.RESOLVE) == ClockRate(ClockKind.RESOLVE, 2, 1)


async def test_a_period_without_cases_gives_a_short_summary_and_no_error(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    from reports.periods import custom

    await build_history(sessions, catalog, calendar)
    quiet = custom(date(2026, 8, 1), date(2026, 8, 31))
    report = await read_report(sessions, catalog, calendar, period=quiet)
    f = report.figures
    assert (f.received, f.resolved_rate, f.on_time_rate, f.median_workdays) == (0, None, None, None)
    assert (
        report.summary
        == "2026年8月1日至2026年8月31日，未受理企业反映问题，“廉政监督联系卡”扫码0次。"
    )
    assert report.cases == []


def test_p90_is_the_nearest_rank() -> None:
    assert nearest_rank([], 90) is None
    assert nearest_rank([5], 90) == 5
    assert nearest_rank([7, 13, 16, 28], 90) == 28
    assert nearest_rank(list(range(1, 11)), 90) == 9
    assert nearest_rank(list(range(1, 11)), 50) == 5


async def test_a_case_reopened_for_dissatisfaction_counts_that_answer_after_a_later_satisfied_one(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await build_history(sessions, catalog, calendar)
    # B (AJ-2026-00002) was reopened after 不满意; it is now resolved again and rated 满意.
    async with sessions() as session:
        case = (await session.exec(select(Case).where(Case.number == "AJ-2026-00002"))).one()
        codes = {c.id or 0: c.code for c in (await session.exec(select(Category))).all()}
        ledger = SessionLedger(session, catalog, calendar, codes)
        for done in (
            step(StepKind.RESOLVE, "11-20 10:00", outcome=Outcome.SOLVED, amount_yuan=0),
            step(StepKind.FOLLOWUP, "11-23 10:00", satisfaction=Satisfaction.SATISFIED),
        ):
            await STEPS[done.kind](ledger, case, done)
            await session.flush()
        await session.commit()
    async with sessions() as session:
        f = await compute_figures(session, OCTOBER, await resolve_scope(session), calendar, NOW)
    assert f.satisfaction == {
        Satisfaction.SATISFIED: 2,
        Satisfaction.BASIC: 1,
        Satisfaction.UNSATISFIED: 1,  # B's first answer: it is why B was done again
        Satisfaction.UNRATED: 1,
    }
    assert round(f.satisfaction_rate or 0, 4) == round(3 / 4, 4)
