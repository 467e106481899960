"""What a leader reads in the 分析研判 stays true when cases leave the ordinary path: a case
withdrawn or merged is received but not 已办结, and what it claimed is not 涉及金额; a 不满意 left
to the 委领导 is a 不满意; a case keeps the type it was received as; a question to the reporter
does not take an overdue case off the overdue figures; every team with overdue cases is in the
table by team; the Telegram caption says what the PDF says; the XLSX lists the overdue appeals
and counts the clues."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.followup import rate_case, reopen_unsatisfied
from bot.services.inspectors import get_actor
from bot.services.intake import submit_case
from bot.services.my_cases import withdraw_case
from bot.services.policy import Policy
from bot.services.relay import ask_reporter
from bot.services.repeats import merge_repeat
from bot.services.reports import report_notice
from bot.services.resolution import resolve_case
from models.calendar import WorkCalendar
from models.case import Case, Outcome, Satisfaction
from models.clock import ClockKind
from models.intake import CaseDraft
from models.notification import Notice
from models.org import Category, Track
from models.team import Inspector
from notifications.render import render_notice
from reports.analysis import analyse
from reports.document import Table, report_sections
from reports.figures import ClockRate, Figures, Scope
from reports.outputs import Format, write_report
from reports.periods import current_month
from reports.render import render_paragraphs
from reports.report import Report, main_changes
from tests.inspector_support import (
    BUSINESS_LEADER,
    REPORTER,
    People,
    make_people,
)
from tests.report_history import NOW, OCTOBER, at, build_history, read_report

pytestmark = pytest.mark.both_databases

BUSINESS_TEAM = "“营商环境”立项监督组"
EXECUTION_TEAM = "“涉企执法检查”立项监督组"
REFUND = "经开区管委会承诺的土地出让金返还和建筑物配套费至今未到位，企业资金链断裂，请帮助协调。"
AGAIN = "经开区管委会承诺的土地出让金返还至今仍未到位，企业资金链紧张，再次请求协调。"
ROAD = "厂区门口道路破损多时，车辆通行困难，多次反映无人处理。"
LICENCE = "申请的证照办理进度缓慢，窗口答复不一，影响企业开工。"
GIFTS = "节日期间有公职人员向企业索要购物卡，企业不堪其扰。"


class Desk:
    """The people of ``tests.inspector_support``, the reporter of 四川坤天, and a clock set to
    each step's moment (Asia/Shanghai, 2026)."""

    def __init__(
        self,
        sessions: SessionFactory,
        config: LiankaConfig,
        calendar: WorkCalendar,
        clock: FrozenClock,
        people: People,
    ) -> None:
        self.sessions, self.config, self.calendar, self.clock = sessions, config, calendar, clock
        self.people = people
        self.policy = Policy(config, calendar)

    @classmethod
    async def open(
        cls,
        sessions: SessionFactory,
        config: LiankaConfig,
        calendar: WorkCalendar,
        clock: FrozenClock,
    ) -> Desk:
        clock.set(at("09-01 09:00"))
        return cls(sessions, config, calendar, clock, await make_people(sessions, clock))

    async def report(
        self,
        when: str,
        description: str,
        *,
        category: str = "business_env",
        amount_yuan: int | None = None,
    ) -> Case:
        self.clock.set(at(when))
        async with self.sessions() as session:
            result = await submit_case(
                session,
                self.people.reporter,
                CaseDraft(category_code=category, description=description, amount_yuan=amount_yuan),
                policy=self.policy,
                now=self.clock.now(),
            )
        return result.case

    async def accept(self, case: Case, when: str) -> None:
        self.clock.set(at(when))
        async with self.sessions() as session:
            fresh = await session.get(Case, case.id)
            assert fresh is not None and fresh.assignee_id is not None
            assignee = await session.get(Inspector, fresh.assignee_id)
            assert assignee is not None
            await accept_case(
                session, assignee, fresh.id or 0, policy=self.policy, now=self.clock.now()
            )

    async def resolve(self, case: Case, when: str) -> None:
        self.clock.set(at(when))
        async with self.sessions() as session:
            fresh = await session.get(Case, case.id)
            assert fresh is not None and fresh.assignee_id is not None
            assignee = await session.get(Inspector, fresh.assignee_id)
            assert assignee is not None
            await resolve_case(
                session, assignee, fresh.id or 0, outcome=Outcome.SOLVED,
                summary="已协调相关部门办理。", amount_yuan=None, policy=self.policy,
                now=self.clock.now(),
            )  # fmt: skip

    async def ask(self, case: Case, when: str) -> None:
        """提问 by the assignee: the 办结 clock pauses until the reporter answers."""
        self.clock.set(at(when))
        async with self.sessions() as session:
            fresh = await session.get(Case, case.id)
            assert fresh is not None and fresh.assignee_id is not None
            assignee = await session.get(Inspector, fresh.assignee_id)
            assert assignee is not None
            await ask_reporter(
                session, assignee, fresh.id or 0, question="请补充合同复印件。",
                now=self.clock.now(),
            )  # fmt: skip


async def _report_at(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> Report:
    """October's report as of 26 November, with its case list."""
    return await read_report(sessions, config, calendar, period=OCTOBER, now=NOW)


def _xlsx_rows(report: Report, tmp_path: Path) -> list[tuple[object, ...]]:
    path = write_report(report, [Format.XLSX], tmp_path)[Format.XLSX]
    sheet = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))["统计数据"]
    return [row for row in sheet.iter_rows(values_only=True) if any(v is not None for v in row)]


async def test_a_withdrawn_case_is_told_apart_in_the_summary_and_its_claim_is_not_involved(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    desk = await Desk.open(sessions, catalog, calendar, clock)
    withdrawn = await desk.report("10-12 10:00", REFUND, amount_yuan=5_000_000)
    clock.set(at("10-12 15:00"))
    async with sessions() as session:
        await withdraw_case(session, REPORTER, withdrawn.id or 0, now=clock.now())
    done = await desk.report("10-13 10:00", ROAD)
    await desk.accept(done, "10-13 11:00")
    await desk.resolve(done, "10-16 16:00")

    report = await _report_at(sessions, catalog, calendar)
    f = report.figures
    assert (f.received, f.withdrawn, f.resolved, f.resolved_rate) == (2, 1, 1, 1.0)
    assert f.amount_involved_yuan == 0  # the 500万元 was claimed by the case withdrawn
    assert "共受理企业反映问题2件（其中反映人撤回1件），涉及企业1家" in report.summary
    assert "已办结1件，办结率100.0%" in report.summary
    assert {c.label: c.current for c in report.changes}["涉及金额"] == "0"
    # the Word file, the PDF, the console and the XLSX all carry this summary
    overview = report_sections(report)[0].blocks[0]
    assert getattr(overview, "text", None) == report.summary
    assert (report.summary,) in [row[:1] for row in _xlsx_rows(report, tmp_path)]


async def test_a_merged_repeat_is_not_counted_as_resolved_and_the_summary_says_so(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    desk = await Desk.open(sessions, catalog, calendar, clock)
    first = await desk.report("10-12 10:00", REFUND, amount_yuan=1_250_000)
    second = await desk.report("10-13 10:00", AGAIN, amount_yuan=800_000)
    assert second.repeat_of_id == first.id
    clock.set(at("10-13 15:00"))
    async with sessions() as session:
        await merge_repeat(
            session, await get_actor(session, BUSINESS_LEADER), second.id or 0, now=clock.now()
        )

    report = await _report_at(sessions, catalog, calendar)
    f = report.figures
    assert (f.received, f.resolved) == (2, 0)
    assert f.resolved_rate == 0.0  # the one case still in hand is not done yet
    assert f.merged == 1
    assert f.amount_involved_yuan == 1_250_000  # the repeat's claim is the first case's
    assert [(s.name, s.count, s.resolved) for s in f.by_team if s.count] == [(BUSINESS_TEAM, 2, 0)]
    assert [(s.name, s.resolved) for s in f.by_category if s.count] == [("营商环境", 0)]
    assert [(t.name, t.received, t.resolved) for t in f.timeliness_by_team] == [
        (BUSINESS_TEAM, 2, 0)
    ]
    assert "共受理企业反映问题2件（其中合并办理1件）" in report.summary
    assert "已办结0件，办结率0.0%" in report.summary


async def test_a_dissatisfied_answer_left_to_the_leaders_still_lowers_the_satisfaction_rate(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    desk = await Desk.open(sessions, catalog, calendar, clock)
    no_reopening = Policy(
        catalog.model_copy(update={"limits": catalog.limits.model_copy(update={"max_reopens": 0})}),
        calendar,
    )
    unhappy = await desk.report("10-12 10:00", ROAD)
    happy = await desk.report("10-13 10:00", LICENCE)
    for case in (unhappy, happy):
        await desk.accept(case, "10-14 10:00")
        await desk.resolve(case, "10-16 16:00")
    clock.set(at("10-20 10:00"))
    async with sessions() as session:
        referred = await reopen_unsatisfied(
            session, REPORTER, unhappy.id or 0, reason="路面只修了一半。", policy=no_reopening,
            now=clock.now(),
        )  # fmt: skip
    assert referred.referred  # not reopened: the 委领导 decide, and reopen_count stays 0
    async with sessions() as session:
        await rate_case(
            session, REPORTER, happy.id or 0, rating=Satisfaction.SATISFIED, now=clock.now()
        )

    report = await _report_at(sessions, catalog, calendar)
    f = report.figures
    assert f.satisfaction[Satisfaction.UNSATISFIED] == 1
    assert f.satisfaction[Satisfaction.SATISFIED] == 1
    assert f.satisfaction_rate == 0.5
    assert [(s.name, s.count) for s in f.unsatisfied_by_team] == [(BUSINESS_TEAM, 1)]
    problems = "".join(render_paragraphs("analysis.j2", "problems", report.analysis))
    assert "回访中企业表示不满意1件次，满意率50.0%" in problems


async def test_a_category_moved_to_the_clue_track_later_leaves_its_appeals_counted_as_appeals(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    desk = await Desk.open(sessions, catalog, calendar, clock)
    await desk.report("10-12 10:00", ROAD)
    async with sessions() as session:  # the admin's config now makes 营商环境 a clue category
        category = (
            await session.exec(select(Category).where(Category.code == "business_env"))
        ).one()
        category.track = Track.CLUE
        session.add(category)
        await session.commit()

    report = await _report_at(sessions, catalog, calendar)
    f = report.figures
    assert [(s.name, s.count) for s in f.by_track] == [("诉求", 1), ("问题线索", 0)]
    assert f.clues == 0 and [line.track for line in report.cases or []] == [Track.APPEAL]
    rows = _xlsx_rows(report, tmp_path)
    assert ("问题清单只列诉求；另有问题线索0件，按规定只列件数，不列明细。",) in [
        row[:1] for row in rows
    ]


async def _overdue_world(desk: Desk) -> tuple[Case, Case]:
    """An appeal overdue on 办结 since 2 November whose reporter was asked on 10 November, one
    asked on 5 November with time left (due 16 November), and a clue never signed for."""
    late = await desk.report("10-12 10:00", ROAD)
    await desk.accept(late, "10-12 11:00")
    waiting = await desk.report("10-26 10:00", LICENCE)
    await desk.accept(waiting, "10-26 11:00")
    await desk.ask(waiting, "11-05 10:00")
    await desk.ask(late, "11-10 10:00")
    await desk.report("10-28 10:00", GIFTS, category="soe_corruption")
    return late, waiting


async def test_an_overdue_case_stays_overdue_while_its_reporter_is_asked_a_question(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    desk = await Desk.open(sessions, catalog, calendar, clock)
    late, waiting = await _overdue_world(desk)

    report = await _report_at(sessions, catalog, calendar)
    f = report.figures
    assert [(o.number, o.clock) for o in f.overdue] == [(late.number, ClockKind.RESOLVE)]
    assert f.overdue_count == 2 and f.overdue_clues == 1
    # 2 to 10 November: the days overdue when the question was asked (waiting does not count)
    assert f.overdue[0].overdue_workdays == 6
    assert f.clock(ClockKind.RESOLVE) == ClockRate(ClockKind.RESOLVE, on_time=0, late=1)
    lines = {line.number: line for line in report.cases or []}
    assert lines[late.number].late and not lines[waiting.number].late
    assert "当前超期未办结2件" in report.summary


async def test_the_xlsx_lists_the_overdue_appeals_and_gives_the_overdue_clues_as_a_count(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    desk = await Desk.open(sessions, catalog, calendar, clock)
    late, _ = await _overdue_world(desk)
    async with sessions() as session:  # the clue's number, which must appear nowhere
        clue = (await session.exec(select(Case).where(Case.track == Track.CLUE))).one()

    report = await _report_at(sessions, catalog, calendar)
    rows = _xlsx_rows(report, tmp_path)
    title = rows.index(("超期未办结问题",) + (None,) * (len(rows[0]) - 1))
    assert rows[title + 1][:8] == (
        "编号", "监督事项", "监督组", "状态", "环节", "期限", "超期天数", "督办",
    )  # fmt: skip
    assert rows[title + 2][:8] == (
        late.number, "营商环境", BUSINESS_TEAM, "已签收", "办结", "2026年11月2日", 6, None,
    )  # fmt: skip
    assert rows[title + 3][0] == "另有问题线索1件超期未办结，按规定只列件数，不列明细。"
    assert all(clue.number not in str(value) for row in rows for value in row)


async def test_every_team_with_overdue_cases_is_in_the_table_by_team_and_the_column_adds_up(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    """November's cases are all 营商环境's; 涉企执法检查's October case is overdue on 签收."""
    await build_history(sessions, catalog, calendar)
    report = await read_report(sessions, catalog, calendar, period=current_month(NOW))
    f = report.figures
    table = next(
        block
        for section in report_sections(report)
        for block in section.blocks
        if isinstance(block, Table) and block.caption == "各监督组办理情况"
    )
    assert (EXECUTION_TEAM, "0", "0", "—", "1") in table.rows
    assert sum(int(row[4]) for row in table.rows) == f.overdue_count == 3


def _caption_report(on_time: int, late: int, coordinated_yuan: int) -> Report:
    figures = Figures(period=OCTOBER, scope=Scope(), now=NOW)
    figures.received, figures.resolved = 16, 13
    figures.clocks = {ClockKind.RESOLVE: ClockRate(ClockKind.RESOLVE, on_time, late)}
    figures.amount_coordinated_yuan = coordinated_yuan
    previous = Figures(period=OCTOBER.previous(), scope=Scope(), now=NOW)
    return Report(
        organisation="安居区纪委监委",
        title="安居区纪委监委企业反映问题分析研判报告",
        figures=figures,
        previous=previous,
        changes=main_changes(figures, previous),
        summary="",
        cases=None,
        analysis=analyse(figures, previous, on_time_target=0.9, satisfaction_target=0.9),
    )


def test_the_telegram_caption_gives_the_rate_and_the_amount_as_the_pdf_prints_them() -> None:
    report = _caption_report(13, 3, 12_345)  # 81.25% and 1.2345万元
    caption = render_notice(report_notice(report))
    main = {c.label: c.current for c in report.changes}
    assert (main["按期办结率"], main["协调落实资金"]) == ("81.3%", "1.23")
    assert "按期办结率 81.3%" in caption
    assert "协调落实资金 1.23 万元" in caption


def test_a_caption_queued_before_the_upgrade_still_renders() -> None:
    queued = Notice.of(
        "report_document",
        report={
            "title": "安居区纪委监委企业反映问题分析研判报告",
            "period": {"label": "2026年10月", "span": "2026年10月1日至10月31日"},
            "now": datetime(2026, 11, 2, 1, 0, tzinfo=UTC),
        },
        f={
            "received": 16,
            "resolved": 13,
            "on_time_rate": 0.75,
            "amount_coordinated_yuan": 1_250_000,
            "clues": 1,
            "overdue_count": 2,
        },
    )
    caption = render_notice(queued)
    assert "受理企业反映问题 16 件，已办结 13 件" in caption
    assert "按期办结率 75.0%" in caption and "协调落实资金 125 万元" in caption
