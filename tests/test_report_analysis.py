"""The 分析研判: six sections in the Word file and the PDF, findings and recommendations that follow
from the figures (a team with most overdue cases is named; no overdue, no such advice), typical
cases that name no reporter or enterprise."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from docx import Document
from sqlmodel import select

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.intake import submit_case
from bot.services.policy import Policy
from demo.plan import Step, StepKind
from demo.steps import STEPS
from demo.use_cases import SessionLedger
from models.calendar import WorkCalendar
from models.case import Outcome, Satisfaction
from models.intake import CaseDraft
from models.org import Category
from models.team import Role
from reports.document import SECTIONS, report_sections
from reports.outputs import Format, write_report
from reports.report import Report
from tests.factories import make_inspector, make_reporter
from tests.report_history import at, build_history, read_report

pytestmark = [pytest.mark.slow, pytest.mark.both_databases]

DISTINCT = [
    "企业反映的问题，请核查处理。",
    "厂区门口道路破损多时，车辆通行困难。",
    "申请的证照办理进度缓慢，窗口答复不一。",
    "检查人员多次上门，影响正常生产经营。",
    "员工宿舍周边路灯长期不亮，夜间出行不便。",
    "合同约定的款项结算拖延，资金压力较大。",
    "投诉电话打不通，留言后也没有人回复。",
    "相关部门对同一事项要求前后不一致。",
]
"""Unlike descriptions (no routing keywords), one a case: these cases are no 重复件."""
EXECUTION_TEAM = "“涉企执法检查”立项监督组"
BUSINESS_TEAM = "“营商环境”立项监督组"


async def _report(sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar) -> Report:
    return await read_report(sessions, config, calendar)


async def _cases(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    cases: list[tuple[str, str, list[Step]]],
) -> None:
    """Each (category, submitted, steps) reported by its own enterprise in 经开区, through
    ``submit_case`` and the demo's use cases."""
    start = at("09-01 09:00")
    async with sessions() as session:
        account = iter(range(810_001, 810_100))
        for team in ("business_env", "safety", "enforcement", "dispatch"):
            await make_inspector(
                session,
                start,
                team_code=team,
                role=Role.TEAM_LEADER,
                telegram_user_id=next(account),
            )
            await make_inspector(session, start, team_code=team, telegram_user_id=next(account))
        codes = {c.id or 0: c.code for c in (await session.exec(select(Category))).all()}
        await session.commit()
    for number, (category, submitted, steps) in enumerate(cases):
        async with sessions() as session:
            reporter = await make_reporter(
                session,
                start,
                telegram_user_id=7_200_001 + number,
                enterprise_name=f"遂宁测试企业{number}有限公司",
            )
            result = await submit_case(
                session,
                reporter,
                CaseDraft(category_code=category, description=DISTINCT[number % len(DISTINCT)]),
                policy=Policy(config, calendar),
                now=at(submitted),
            )
            ledger = SessionLedger(session, config, calendar, codes)
            for step in steps:
                await STEPS[step.kind](ledger, result.case, step)
                await session.flush()
            await session.commit()


def pdf_text(path: Path) -> str:
    """The PDF's text as pdftotext reads it, layout spaces and line breaks removed."""
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return "".join(out.stdout.split())


def _docx_sections(path: Path) -> dict[str, list[str]]:
    """The Word file's paragraphs under each Heading 1, read back with python-docx."""
    sections: dict[str, list[str]] = {}
    current = None
    for paragraph in Document(str(path)).paragraphs:
        style = paragraph.style.name if paragraph.style is not None else ""
        if style == "Heading 1":
            current = paragraph.text
            sections[current] = []
        elif current is not None and paragraph.text:
            sections[current].append(paragraph.text)
    return sections


def _done_on_time(submitted: str) -> list[Step]:
    """Signed for the next morning, resolved two days later, rated 满意."""
    day = int(submitted[3:5])
    month = submitted[:2]
    return [
        Step(StepKind.ACCEPT, at(f"{month}-{day + 1:02d} 09:00")),
        Step(
            StepKind.RESOLVE,
            at(f"{month}-{day + 2:02d} 16:00"),
            outcome=Outcome.SOLVED,
        ),
        Step(
            StepKind.FOLLOWUP,
            at(f"{month}-{day + 3:02d} 10:00"),
            satisfaction=Satisfaction.SATISFIED,
        ),
    ]


async def test_the_team_with_most_overdue_cases_is_named_in_the_recommendations(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    never_signed: list[Step] = []
    await _cases(
        sessions,
        catalog,
        calendar,
        [
            ("enforcement", "10-12 10:00", never_signed),
            ("enforcement", "10-13 10:00", never_signed),
            ("enforcement", "10-14 10:00", never_signed),
            ("business_env", "10-15 10:00", never_signed),
            ("business_env", "10-19 10:00", _done_on_time("10-19 10:00")),
        ],
    )
    report = await _report(sessions, catalog, calendar)
    assert report.figures.overdue_count == 4
    docx = write_report(report, [Format.DOCX], tmp_path)[Format.DOCX]
    sections = _docx_sections(docx)
    advice = "".join(sections["五、下一步工作建议"])
    assert "针对4件超期未办结问题" in advice
    assert f"重点督促{EXECUTION_TEAM}（3件）逐件明确办结时限" in advice
    assert f"{BUSINESS_TEAM}（1件）" not in advice  # 25% of the overdue: below the threshold
    problems = "".join(sections["四、工作中存在的问题"])
    assert f"仍有4件问题超期未办结，其中{EXECUTION_TEAM}3件（占75.0%）" in problems


async def test_without_overdue_cases_there_is_no_overdue_finding_or_advice(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    await _cases(
        sessions,
        catalog,
        calendar,
        [
            ("business_env", "10-12 10:00", _done_on_time("10-12 10:00")),
            ("business_env", "10-19 10:00", _done_on_time("10-19 10:00")),
            ("work_safety", "10-20 10:00", _done_on_time("10-20 10:00")),
        ],
    )
    report = await _report(sessions, catalog, calendar)
    f = report.figures
    assert (f.overdue_count, f.on_time_rate, f.satisfaction_rate) == (0, 1.0, 1.0)
    sections = _docx_sections(write_report(report, [Format.DOCX], tmp_path)[Format.DOCX])
    advice = "".join(sections["五、下一步工作建议"])
    problems = "".join(sections["四、工作中存在的问题"])
    assert "超期" not in advice and "按期" not in advice and "不满意" not in advice
    assert "本期未发现办理超期、企业不满意和重复反映等问题。" in problems
    # What is advised follows from this period's figures: 营商环境 is 2 of 3 cases.
    assert "聚焦营商环境开展专项监督。本期营商环境问题2件，占66.7%" in advice


async def test_the_word_file_and_pdf_carry_the_six_sections_and_anonymous_typical_cases(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, tmp_path: Path
) -> None:
    await build_history(sessions, catalog, calendar)
    report = await _report(sessions, catalog, calendar)
    files = write_report(report, [Format.DOCX, Format.PDF], tmp_path)
    document = Document(str(files[Format.DOCX]))
    headings = [p.text for p in document.paragraphs if p.style and p.style.name == "Heading 1"]
    assert headings == list(SECTIONS)
    normal = document.styles["Normal"].element.rPr.rFonts
    assert normal.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == (
        "仿宋"
    )
    assert len(document.tables) >= 6 and len(document.inline_shapes) == 3  # tables, charts
    first = document.tables[0]
    assert [c.text for c in first.rows[1].cells] == [
        "受理企业反映问题（件）",
        "7",
        "1",
        "+6（+600.0%）",
    ]
    flat = pdf_text(files[Format.PDF])
    assert all(heading in flat for heading in SECTIONS)
    assert flat.index("一、总体情况") < flat.index("五、下一步工作建议") < flat.index("六、附表")

    typical = _docx_sections(files[Format.DOCX])["三、典型案例"]
    text = "".join(typical)
    assert "（一）协调落实资金最多的问题" in typical
    assert "AJ-2026-00003，安居经开区某企业反映营商环境方面问题，涉及金额125万元" in text
    assert "协调落实资金100万元" in text
    # The only 督办 case of October is a clue (D). A report is printed and filed, and its readers
    # see clues as counts only (SECURITY.md): no clue is told by its 受理编号, team and dates,
    # so there is no 督办 example this month.
    assert "督办问题" not in text and "AJ-2026-00005" not in text and "问题线索（" not in text
    assert "（二）企业不满意重新办理的问题" in typical and "AJ-2026-00002" in text
    for secret in ("宋利剑", "13812345678", "四川坤天", "恒信物流", "土地出让金"):
        assert secret not in text


async def test_figures_and_dates_read_the_chinese_way_everywhere_in_the_report(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await build_history(sessions, catalog, calendar)
    report = await _report(sessions, catalog, calendar)
    text = "".join(
        block.text if hasattr(block, "text") else "".join("".join(r) for r in block.rows)
        for section in report_sections(report)
        for block in section.blocks
        if not hasattr(block, "chart")
    )
    assert "截至11月26日" in text and "2026年11月2日" in text  # the overdue list's deadline
    assert "月0" not in text and "年0" not in text
    assert "平均用时" not in text and "办结用时中位数14.5个工作日" in text
