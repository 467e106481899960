"""立案 (件/人), the clue dispositions and 重复件 in the 分析研判: a world built through the use cases
(clues proposed, reviewed and approved — one checked then placed on file with two people —,
repeat reports flagged at intake, one merged) shows them in the Word file and the PDF, in figures
only (never a clue's text or its reporter), and a recommendation follows from the repeats."""

from __future__ import annotations

import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from docx import Document

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.assignment import reassign_case
from bot.services.dispositions import (
    decide_disposition,
    propose_disposition,
    review_disposition,
)
from bot.services.inspectors import get_actor
from bot.services.policy import Policy
from bot.services.repeats import merge_repeat
from models.calendar import SHANGHAI, WorkCalendar
from models.case import Case
from models.disposition import Disposition
from reports.analysis import analyse
from reports.figures import Figures, RepeatFigures, Scope, Share, compute_figures, resolve_scope
from reports.outputs import Format, write_report
from reports.periods import Period, PeriodKind, custom
from reports.render import render_paragraphs
from reports.report import Report
from tests.inspector_support import (
    INSPECTOR,
    LEADER,
    REFUND,
    SOE,
    SOE_INSPECTOR,
    SOE_LEADER,
    make_people,
    submit,
)
from tests.report_history import read_report

pytestmark = pytest.mark.both_databases

AGAIN = "经开区管委会承诺的土地出让金返还至今仍未到位，企业资金链紧张，再次请求协调。"
BRIBE = "国企工作人员以咨询费名义向供应商索要好处费，金额较大。"
GIFTS = "节日期间有公职人员向企业索要购物卡，企业不堪其扰。"


class World:
    """The people of ``tests.inspector_support`` and a clock that moves on."""

    def __init__(
        self,
        sessions: SessionFactory,
        config: LiankaConfig,
        calendar: WorkCalendar,
        clock: FrozenClock,
    ) -> None:
        self.sessions, self.config, self.calendar, self.clock = sessions, config, calendar, clock
        self.policy = Policy(config, calendar)

    async def clue(self, reporter: Any, description: str, category: str) -> Case:
        """A 实名 clue, assigned by the 国资国企 team's leader and signed for."""
        case = await submit(
            self.sessions, self.config, self.calendar, self.clock, reporter,
            category=category, description=description, named=True,
        )  # fmt: skip
        async with self.sessions() as session:
            if case.assignee_id is None:
                await reassign_case(
                    session, await get_actor(session, SOE_LEADER), case.id or 0,
                    inspector_id=(await get_actor(session, SOE_INSPECTOR)).id or 0,
                    policy=self.policy, now=self.clock.now(),
                )  # fmt: skip
        async with self.sessions() as session:
            await accept_case(
                session, await get_actor(session, SOE_INSPECTOR), case.id or 0,
                policy=self.policy, now=self.clock.now(),
            )  # fmt: skip
        return case

    async def dispose(self, case: Case, kind: Disposition, people: int | None = None) -> None:
        """Proposed with a reason, agreed by the team leader, approved by the 委领导."""
        async with self.sessions() as session:
            proposal = await propose_disposition(
                session, await get_actor(session, SOE_INSPECTOR), case.id or 0, kind=kind,
                reason=f"建议{kind.label}。", people=people, policy=self.policy,
                now=self.clock.now(),
            )  # fmt: skip
        self.clock.advance(timedelta(hours=2))
        async with self.sessions() as session:
            await review_disposition(
                session, await get_actor(session, SOE_LEADER), proposal.id or 0, agree=True,
                policy=self.policy, now=self.clock.now(),
            )  # fmt: skip
        self.clock.advance(timedelta(hours=2))
        async with self.sessions() as session:
            await decide_disposition(
                session, await get_actor(session, LEADER), proposal.id or 0, approve=True,
                policy=self.policy, now=self.clock.now(),
            )  # fmt: skip
        self.clock.advance(timedelta(hours=1))


async def _world(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> datetime:
    """Three clues (初步核实 then 立案审查 with 2 people; 予以了结; 谈话函询, still running, and a
    proposal waiting for the leader's review) and three appeals of one enterprise about one
    matter: the second flagged and merged into the first, the third flagged and left open."""
    people = await make_people(sessions, clock)
    world = World(sessions, catalog, calendar, clock)
    start = clock.now()
    checked = await world.clue(people.reporter, SOE, "soe_corruption")
    dismissed = await world.clue(people.reporter, BRIBE, "soe_corruption")
    talked = await world.clue(people.reporter, GIFTS, "soe_corruption")
    await world.dispose(checked, Disposition.VERIFY)
    await world.dispose(dismissed, Disposition.DISMISS)
    await world.dispose(talked, Disposition.TALK)
    clock.advance(timedelta(days=3))
    await world.dispose(checked, Disposition.FILE, people=2)
    async with sessions() as session:
        await propose_disposition(
            session, await get_actor(session, SOE_INSPECTOR), talked.id or 0,
            kind=Disposition.DISMISS, reason="谈话函询后说明清楚，建议予以了结。",
            policy=world.policy, now=clock.now(),
        )  # fmt: skip

    first = await submit(sessions, catalog, calendar, clock, people.reporter)
    clock.advance(timedelta(days=1))
    second = await submit(sessions, catalog, calendar, clock, people.reporter, description=AGAIN)
    async with sessions() as session:
        await merge_repeat(
            session, await get_actor(session, INSPECTOR), second.id or 0, now=clock.now()
        )
    third = await submit(sessions, catalog, calendar, clock, people.reporter, description=REFUND)
    assert second.repeat_of_id == first.id and third.repeat_of_id == first.id
    clock.advance(timedelta(hours=1))
    return start


def _docx(path: Path) -> tuple[dict[str, str], list[list[list[str]]], str]:
    """The Word file's text under each Heading 1, its tables, and all its text."""
    document = Document(str(path))
    sections: dict[str, str] = {}
    current = ""
    for paragraph in document.paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if style == "Heading 1":
            current = paragraph.text
            sections[current] = ""
        elif current:
            sections[current] += paragraph.text
    tables = [[[cell.text for cell in row.cells] for row in t.rows] for t in document.tables]
    everything = "".join(sections.values()) + "".join(
        "".join("".join(row) for row in table) for table in tables
    )
    return sections, tables, everything


def _pdf_text(path: Path) -> str:
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return "".join(out.stdout.split())


async def _report(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    **scope: str,
) -> Report:
    day = now.astimezone(SHANGHAI).date()
    return await read_report(
        sessions, catalog, calendar, period=custom(day - timedelta(days=9), day), now=now, **scope
    )


@pytest.mark.slow
async def test_the_report_shows_placed_on_file_cases_and_people_dispositions_and_repeats(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    await _world(sessions, catalog, calendar, clock)
    report = await _report(sessions, catalog, calendar, clock.now())
    f = report.figures
    assert (f.filed.cases, f.filed.people, f.filed.pending) == (1, 2, 1)
    assert (f.repeats.flagged, f.repeats.merged) == (2, 1)

    paths = write_report(report, [Format.DOCX, Format.PDF], tmp_path)
    sections, tables, everything = _docx(paths[Format.DOCX])
    overview = sections["一、总体情况"]
    assert "谈话函询1件、初步核实1件、予以了结1件，立案审查1件2人" in overview
    assert "截至报告生成时，另有1件处置意见正在审核审批中" in overview
    assert "有疑似重复件2件，占33.3%；合并办理重复件1件" in overview
    main = {row[0]: row[1] for row in tables[0]}
    assert (main["立案审查（件）"], main["立案人数（人）"]) == ("1", "2")
    assert (main["疑似重复件（件）"], main["合并办理重复件（件）"]) == ("2", "1")
    zone, category = f.repeats.by_zone[0].name, f.repeats.by_category[0].name
    analysis = sections["二、问题分析"]
    assert f"疑似重复件2件，占受理量的33.3%，主要集中在{zone}（2件，占重复件的100.0%）" in analysis
    assert "本期已合并办理重复件1件" in analysis
    assert "重复件占比偏高。本期疑似重复件2件" in sections["四、工作中存在的问题"]
    advice = sections["五、下一步工作建议"]
    assert (
        f"减少重复反映。本期疑似重复件2件，占受理量的33.3%，主要集中在{zone}和{category}问题"
        in (advice)
    )
    appendix = next(t for t in tables if t[0] == ["处置方式", "本期（件）", "上期（件）"])
    assert ["立案审查", "1", "0"] in appendix and ["立案人数（人）", "2", "0"] in appendix
    assert ["初步核实", "1", "0"] in appendix and ["暂存待查", "0", "0"] in appendix
    # figures only: no clue's words, no reporter's name
    assert all(text[:8] not in everything for text in (SOE, BRIBE, GIFTS))
    assert "宋利剑" not in everything and "13812345678" not in everything

    pdf = _pdf_text(paths[Format.PDF])
    assert "立案审查1件2人" in pdf and "立案审查（件）" in pdf and "立案人数（人）" in pdf
    assert "疑似重复件2件" in pdf and "减少重复反映" in pdf and "附表3" in pdf
    assert all(text[:8] not in pdf for text in (SOE, BRIBE, GIFTS))


async def test_a_team_s_report_counts_only_its_own_placed_on_file_clues(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    start = await _world(sessions, catalog, calendar, clock)
    period = custom(start.date() - timedelta(days=1), clock.now().astimezone(SHANGHAI).date())
    async with sessions() as session:
        figures = {}
        for team in ("soe", "business_env"):
            scope = await resolve_scope(session, team_code=team)
            figures[team] = await compute_figures(session, period, scope, calendar, clock.now())
    soe, business = figures["soe"].filed, figures["business_env"].filed
    assert (soe.cases, soe.people, soe.count(Disposition.DISMISS)) == (1, 2, 1)
    assert (business.cases, business.people, business.decided) == (0, 0, 0)
    assert figures["business_env"].repeats.flagged == 2
    assert figures["soe"].repeats.flagged == 0


def _figures(received: int, zones: list[tuple[str, int]], *, zone_scope: bool = False) -> Figures:
    flagged = sum(n for _, n in zones)
    period = Period(PeriodKind.MONTH, datetime(2026, 10, 1).date(), datetime(2026, 10, 31).date())
    scope = Scope(zone_id=1, zone_name=zones[0][0]) if zone_scope else Scope()
    figures = Figures(period=period, scope=scope, now=datetime(2026, 11, 2).astimezone())
    figures.received = received
    figures.repeats = RepeatFigures(
        flagged=flagged,
        merged=0,
        by_zone=[Share(name, n, 0, n / flagged) for name, n in zones],
        by_category=[Share("营商环境", 1, 0, 1 / flagged), Share("安全生产", 1, 0, 1 / flagged)],
    )
    return figures


def test_the_repeat_recommendation_follows_from_the_share_and_names_where_they_cluster() -> None:
    def advice(figures: Figures) -> str:
        a = analyse(figures, figures, on_time_target=0.9, satisfaction_target=0.9)
        return "".join(render_paragraphs("analysis.j2", "repeats_advice", a))

    clustered = advice(_figures(40, [("安居经开区", 6), ("玉丰镇", 1)]))
    assert "减少重复反映。本期疑似重复件7件，占受理量的17.5%，主要集中在安居经开区" in clustered
    assert "对安居经开区的重复件逐件回访企业" in clustered
    assert advice(_figures(200, [("安居经开区", 1), ("玉丰镇", 1)])) == ""  # 1%, spread out
    spread = advice(_figures(40, [(f"园区{i}", 1) for i in range(6)]))
    assert "占受理量的15.0%" in spread and "主要集中在" not in spread
    own_zone = advice(_figures(40, [("安居经开区", 6)], zone_scope=True))
    assert own_zone.startswith("减少重复反映") and "安居经开区" not in own_zone  # its own report
    no_zone = advice(_figures(40, [("未标明园区", 6), ("玉丰镇", 1)]))
    assert "未标明园区" not in no_zone  # not a place anyone could visit
