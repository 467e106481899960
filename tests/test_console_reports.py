"""报表 in the office console: a leader reads a period's figures, summary and charts and downloads
them as PDF, Excel and HTML; a team leader reads their own team's; inspectors and the dispatcher
are refused; a wrong date or zone is answered in Chinese with the form as it was typed."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote

import docx
import openpyxl
import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.calendar import WorkCalendar
from reports.document import SECTIONS
from tests.casework import report
from tests.console_support import Client, console_app, sign_in, text_of
from tests.report_history import NOW, build_history

OCTOBER_SUMMARY = "2026年10月，安居区纪委监委通过“廉政监督联系卡”共受理企业反映问题7件"


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> AsyncIterator[Client]:
    await build_history(sessions, catalog, calendar)
    async with console_app(sessions, catalog, clock=FrozenClock(NOW)) as test_client:
        yield test_client


@pytest.mark.both_databases
async def test_a_leader_reads_last_month_s_figures_summary_and_charts(
    client: Client, sessions: SessionFactory
) -> None:
    leader = await sign_in(client, sessions, role="leader", team=None)
    page = await leader.get("/console/reports?period=last_month")
    html = await page.text()
    assert page.status == 200, html
    text = text_of(html)
    assert OCTOBER_SUMMARY in text
    assert "受理企业反映问题（件） 7" in text
    assert "“营商环境”立项监督组" in text  # the table by team
    assert html.count("<svg") == 3 and "各监督事项受理数量" in text
    assert "统计范围：全区" in text
    assert all(heading in text for heading in SECTIONS)
    assert "下载Word" in text and "format=docx" in html
    assert "问题清单" not in text.replace("不含问题清单", "")  # leaders get no case list


async def test_the_report_downloads_as_pdf_word_excel_and_html_with_a_chinese_file_name(
    client: Client, sessions: SessionFactory
) -> None:
    leader = await sign_in(client, sessions, role="admin", team=None)
    query = "period=custom&from=2026-10-01&to=2026-10-31"
    files = {}
    for fmt in ("pdf", "docx", "xlsx", "html"):
        answer = await leader.get(f"/console/reports/download?{query}&format={fmt}")
        assert answer.status == 200, await answer.text()
        name = quote(f"分析研判报告_2026年10月1日-2026年10月31日_全区.{fmt}", safe="")
        disposition = answer.headers["Content-Disposition"]
        assert disposition.startswith("attachment;") and f"filename*=UTF-8''{name}" in disposition
        files[fmt] = await answer.read()
    assert files["pdf"].startswith(b"%PDF")
    word = docx.Document(io.BytesIO(files["docx"]))
    headings = [p.text for p in word.paragraphs if p.style and p.style.name == "Heading 1"]
    assert headings == list(SECTIONS)
    book = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    assert book.sheetnames == ["统计数据"]  # the figures; no case list, as leaders receive it
    figures = book["统计数据"]
    assert str(figures["A3"].value).startswith("2026年10月1日至2026年10月31日，")
    assert "共受理企业反映问题7件" in str(figures["A3"].value)
    assert "共受理企业反映问题7件" in files["html"].decode("utf-8")


async def test_a_team_leader_reads_only_their_own_team_s_report(
    client: Client, sessions: SessionFactory
) -> None:
    chief = await sign_in(client, sessions, role="team_leader", team="business_env")
    own = await chief.get("/console/reports?period=last_month")
    assert own.status == 200
    text = text_of(await own.text())
    assert "统计范围：“营商环境”立项监督组" in text
    assert "全部监督组" not in text
    other = await chief.get("/console/reports?period=last_month&team=safety")
    assert other.status == 403
    assert "您只能查看本组的报表" in text_of(await other.text())


@pytest.mark.parametrize("role", ["inspector", "dispatcher"])
async def test_inspectors_and_the_dispatcher_are_refused(
    client: Client, sessions: SessionFactory, role: str
) -> None:
    team = "dispatch" if role == "dispatcher" else "business_env"
    person = await sign_in(client, sessions, role=role, team=team)
    for path in ("/console/reports", "/console/reports/download?format=pdf"):
        answer = await person.get(path)
        assert answer.status == 403
        assert "分析研判报告仅向委领导、管理员和各监督组组长（本组）提供" in text_of(
            await answer.text()
        )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("period=custom&from=2026-11-30&to=2026-11-01", "开始日期不能晚于结束日期"),
        ("period=custom&from=2026-02-30&to=2026-03-01", "开始日期“2026-02-30”不是有效的日期"),
        ("period=custom&from=2026-11-01&to=", "请同时填写开始日期和结束日期"),
        ("period=last_month&zone=nowhere", "未找到园区“nowhere”，请从列表中选择"),
        ("period=fortnight", "请选择统计周期"),
    ],
)
async def test_a_wrong_entry_is_answered_in_chinese_with_the_form_as_typed(
    client: Client, sessions: SessionFactory, query: str, message: str
) -> None:
    leader = await sign_in(client, sessions, role="leader", team=None)
    answer = await leader.get(f"/console/reports?{query}")
    html = await answer.text()
    assert answer.status == 400
    assert message in text_of(html)
    for part in query.split("&"):
        field, value = part.split("=")
        if field in ("from", "to") and value:
            assert f'name="{field}" type="date" value="{value}"' in html
    assert "下载PDF" not in html
    download = await leader.get(f"/console/reports/download?{query}&format=pdf")
    assert download.status == 400
    assert message in text_of(await download.text())


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        (
            "period=this_week",
            "统计时段：2026年11月23日—2026年11月26日（2026年第48周（11月23日—11月26日））",
        ),
        ("period=last_week", "2026年第47周（11月16日—11月22日）"),
        ("period=this_month", "2026年11月（2026年11月1日至2026年11月26日）"),
        ("period=this_quarter", "2026年第四季度（2026年10月1日至2026年11月26日）"),
        ("period=last_quarter", "统计时段：2026年7月1日—2026年9月30日（2026年第三季度）"),
        ("period=this_year", "2026年（2026年1月1日至2026年11月26日）"),
        ("period=last_month&zone=yufeng", "统计范围：玉丰镇"),
    ],
)
async def test_each_period_and_a_zone_name_what_the_report_covers(
    client: Client, sessions: SessionFactory, query: str, shown: str
) -> None:
    leader = await sign_in(client, sessions, role="leader", team=None)
    answer = await leader.get(f"/console/reports?{query}")
    assert answer.status == 200
    assert shown in text_of(await answer.text())


@pytest.mark.both_databases
async def test_the_report_lists_overdue_appeals_but_counts_overdue_clues_without_naming_them(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    start = FrozenClock(NOW).now()
    appeal = await report(sessions, catalog, calendar, start)
    clue = await report(
        sessions, catalog, calendar, start, category="soe_corruption",
        description="某国企负责人在设备采购中收受供应商好处费。", telegram_user_id=7_000_003,
    )  # fmt: skip
    later = FrozenClock(start + timedelta(days=20))  # both past their 签收 deadline
    async with console_app(sessions, catalog, clock=later) as client:
        for role in ("leader", "admin"):
            reader = await sign_in(client, sessions, role=role, team=None)
            page = await reader.get("/console/reports?period=this_month")
            text = text_of(await page.text())
            assert page.status == 200
            assert appeal.number in text  # 附表1 lists the appeal
            assert clue.number not in text and "国资国企" not in text.split("附表1")[-1]
            assert "另有问题线索1件超期未办结，按规定只列件数，不列明细。" in text
            download = await reader.get("/console/reports/download?period=this_month&format=docx")
            word = docx.Document(io.BytesIO(await download.read()))
            cells = [cell.text for table in word.tables for row in table.rows for cell in row.cells]
            assert appeal.number in cells and clue.number not in cells
            assert any("另有问题线索1件超期未办结" in p.text for p in word.paragraphs)
            await reader.post("/console/logout")
