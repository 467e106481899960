"""The report as leaders get it: the PDF printed and read back, the XLSX opened, the HTML shown."""

from __future__ import annotations

import copy
import dataclasses
import shutil
import subprocess
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from PIL import Image

from bot.config import LiankaConfig
from bot.db import SessionFactory
from cards.fonts import find_cjk_font
from models.calendar import WorkCalendar
from models.case import CaseStatus
from reports.document import SECTIONS
from reports.outputs import Format, write_report
from reports.pdf import _parsed_font
from reports.render import local_naive, wan_number
from reports.report import Report
from reports.xlsx import CASE_COLUMNS
from tests.report_history import build_history, read_report

pytestmark = [pytest.mark.slow, pytest.mark.both_databases]


@pytest.fixture
async def october(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> Report:
    await build_history(sessions, catalog, calendar)
    return await read_report(sessions, catalog, calendar)


def run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=60).stdout


def flat(text: str) -> str:
    """Text as read by a person: line breaks and spaces from the layout removed."""
    return "".join(text.split())


async def test_the_pdf_prints_the_summary_and_tables_in_an_embedded_chinese_font(
    october: Report, tmp_path: Path
) -> None:
    pdf = write_report(october, [Format.PDF], tmp_path)[Format.PDF]
    assert pdf.name == "lianka-report-month-2026-10.pdf"
    fonts = run("pdffonts", str(pdf))
    assert "WenQuanYiMicroHei" in fonts
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])  # emb
    text = flat(run("pdftotext", "-layout", str(pdf), "-"))
    assert flat(october.summary)[:60] in text
    assert "共受理企业反映问题7件" in text and "协调落实资金125万元" in text
    for heading in SECTIONS:
        assert heading in text
    assert "受理企业反映问题（件）71+6（+600.0%）" in text  # 指标 本期 上期 环比
    assert "AJ-2026-00007涉企执法检查" in text
    assert "四川坤天新能源科技有限公司安居经开区3营商环境" in text
    run("pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page"))
    with Image.open(tmp_path / "page-1.png") as page:
        assert page.width < page.height  # A4 portrait
        dark = page.convert("L").histogram()[:128]
    assert sum(dark) > 1000  # text and rules were drawn, not a blank page


async def test_pdfs_made_one_after_another_each_embed_the_characters_they_print(
    october: Report, tmp_path: Path
) -> None:
    """The font is read once per process; each PDF still gets a font of its own characters."""
    first = write_report(october, [Format.PDF], tmp_path / "first")[Format.PDF]
    october.figures.recurring[0] = dataclasses.replace(
        october.figures.recurring[0],
        name="鑫燚犇骉科技有限公司",  # characters no other page has
    )
    second = write_report(october, [Format.PDF], tmp_path / "second")[Format.PDF]
    third = write_report(october, [Format.PDF], tmp_path / "third")[Format.PDF]
    texts = [flat(run("pdftotext", "-layout", str(pdf), "-")) for pdf in (first, second, third)]
    assert "鑫燚犇骉" not in texts[0] and "四川坤天新能源科技有限公司" in texts[0]
    assert "鑫燚犇骉科技有限公司" in texts[1] and texts[1] == texts[2]
    for pdf in (first, second, third):
        assert "WenQuanYiMicroHei" in run("pdffonts", str(pdf))
    assert first.stat().st_size < second.stat().st_size  # four more glyphs embedded


async def test_pdfs_written_at_the_same_time_each_open_with_their_own_font(
    october: Report, tmp_path: Path
) -> None:
    """Two downloads at once: each PDF is written in a worker thread of its own, from the font
    parsed once per process; each comes out whole, with its own text and font."""
    other = copy.deepcopy(october)
    other.figures.recurring[0] = dataclasses.replace(
        other.figures.recurring[0], name="鑫燚犇骉科技有限公司"
    )
    jobs = [
        (report, tmp_path / f"{n}-{which}")
        for n in range(3)
        for which, report in enumerate((october, other))
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        pdfs = list(pool.map(lambda job: write_report(job[0], [Format.PDF], job[1]), jobs))
    for (report, _), written in zip(jobs, pdfs, strict=True):
        text = flat(run("pdftotext", "-layout", str(written[Format.PDF]), "-"))
        assert ("鑫燚犇骉科技有限公司" in text) == (report is other)
        assert "WenQuanYiMicroHei" in run("pdffonts", str(written[Format.PDF]))
    parsed = _parsed_font(find_cjk_font())
    assert not hasattr(parsed.desc, "font_file2")  # the kept font left as it was parsed


async def test_a_long_pdf_table_repeats_its_header_on_the_next_page(
    october: Report, tmp_path: Path
) -> None:
    first = october.figures.overdue[0]
    october.figures.overdue = [
        dataclasses.replace(first, number=f"AJ-2026-{n:05d}") for n in range(100, 150)
    ]
    october.figures.overdue_count = 80
    pdf = write_report(october, [Format.PDF], tmp_path)[Format.PDF]
    pages = run("pdftotext", "-layout", str(pdf), "-").split("\f")
    last_row = next(i for i, page in enumerate(pages) if "AJ-2026-00149" in page)
    first_row = next(i for i, page in enumerate(pages) if "AJ-2026-00100" in page)
    assert last_row > first_row
    assert "编号" in pages[last_row] and "超期天数" in pages[last_row]
    assert "另有30件未列出（以上为期限最早的50件）" in flat("".join(pages))


async def test_the_xlsx_has_the_figures_and_a_filterable_case_list(
    october: Report, tmp_path: Path
) -> None:
    path = write_report(october, [Format.XLSX], tmp_path)[Format.XLSX]
    book = load_workbook(path)
    assert book.sheetnames == ["统计数据", "问题清单"]
    cases = book["问题清单"]
    assert [c.value for c in cases[1]] == [name for name, _ in CASE_COLUMNS]
    assert cases.freeze_panes == "A2"
    assert cases.auto_filter.ref == "A1:P7"
    rows = {row[0].value: row for row in cases.iter_rows(min_row=2)}
    # appeals only: the clue AJ-2026-00005 is counted on the figures' sheet, not listed
    assert list(rows) == [f"AJ-2026-{n:05d}" for n in (2, 3, 4, 6, 7, 8)]
    assert {row[3].value for row in rows.values()} == {"诉求"}
    refund = rows["AJ-2026-00003"]
    assert refund[1].value == datetime(2026, 10, 9, 10, 0)  # Shanghai wall time
    assert refund[1].number_format == "yyyy-mm-dd hh:mm"
    assert refund[8].value == datetime(2026, 11, 2, 18, 0)  # 办结期限
    assert (refund[9].value, refund[11].value, refund[12].value) == ("是", "问题已解决", "满意")
    assert (refund[13].value, refund[14].value) == (125, 100)  # 万元
    assert refund[13].number_format == "#,##0.00"
    figures = book["统计数据"]
    values = {row[0].value: row for row in figures.iter_rows() if row[0].value}
    assert "问题清单只列诉求；另有问题线索1件，按规定只列件数，不列明细。" in values
    assert values["受理企业反映问题（件）"][1].value == 7
    assert values["按期办结率"][1].value == 0.6
    assert values["按期办结率"][1].number_format == "0.0%"
    assert values["协调落实资金（万元）"][1].value == 125
    assert values["当前超期未办结（件）"][1].value == 2


def cell_by_cell(workbook: Any, report: Report, fmt: dict[str, Any]) -> None:
    """The case list as XlsxWriter writes it one cell at a time (what reports/xlsx.py did before
    issue 18): the reference the rows written in one go are held to."""
    sheet = workbook.add_worksheet("问题清单")
    for column, (name, width) in enumerate(CASE_COLUMNS):
        sheet.set_column(column, column, width)
        sheet.write_string(0, column, name, fmt["head"])
    sheet.freeze_panes(1, 0)
    cases = report.cases or []
    sheet.autofilter(0, 0, max(len(cases), 1), len(CASE_COLUMNS) - 1)
    for row, case in enumerate(cases, start=1):
        values: list[tuple[Any, str]] = [
            (case.number, "text"),
            (local_naive(case.created_at), "date"),
            (case.category, "text"),
            (case.track.label, "text"),
            (case.zone, "text"),
            (case.enterprise if case.enterprise is not None else "（保密）", "text"),
            (case.team, "text"),
            (CaseStatus(case.status).label, "text"),
            (local_naive(case.due_at), "date"),
            ("是" if case.late else "否", "text"),
            (local_naive(case.resolved_at), "date"),
            (case.outcome.label if case.outcome else None, "text"),
            (case.satisfaction.label if case.satisfaction else None, "text"),
            (wan_number(case.amount_involved_yuan), "amount"),
            (wan_number(case.amount_coordinated_yuan), "amount"),
            ("是" if case.supervised else "否", "text"),
        ]
        for column, (value, kind) in enumerate(values):
            if value is None:
                continue
            if kind == "date":
                sheet.write_datetime(row, column, value, fmt["date"])
            elif kind == "amount":
                sheet.write_number(row, column, value, fmt["amount"])
            else:
                sheet.write_string(row, column, value)


async def test_the_xlsx_case_list_is_what_xlsxwriter_writes_cell_by_cell(
    october: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = october.cases or []
    odd = ["A&B <公司>", " 前后有空格 ", "响铃\x07字符", "_x0041_字面", "引号\"和'"]
    october.cases = [
        dataclasses.replace(case, enterprise=name, zone=name if n % 2 else case.zone)
        for n, (case, name) in enumerate(zip(cases, odd * len(cases), strict=False))
    ] * 300  # past a chunk of rows
    fast = write_report(october, [Format.XLSX], tmp_path / "fast")[Format.XLSX]
    monkeypatch.setattr("reports.xlsx._cases_sheet", cell_by_cell)
    slow = write_report(october, [Format.XLSX], tmp_path / "slow")[Format.XLSX]
    with zipfile.ZipFile(fast) as a, zipfile.ZipFile(slow) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():
            if name != "docProps/core.xml":  # the time it was written
                assert a.read(name) == b.read(name), name
    rows = list(load_workbook(fast)["问题清单"].values)
    assert len(rows) == 1 + 300 * len(cases)
    assert (rows[1][5], rows[2][5]) == ("A&B <公司>", " 前后有空格 ")


async def test_the_html_is_one_self_contained_escaped_file(october: Report, tmp_path: Path) -> None:
    october.figures.recurring[0] = dataclasses.replace(
        october.figures.recurring[0], name="<script>alert(1)</script>某公司"
    )
    path = write_report(october, [Format.HTML], tmp_path)[Format.HTML]
    html = path.read_text(encoding="utf-8")
    assert html.count("<svg") == 3
    assert october.summary in html
    assert all(f"<h2>{heading}</h2>" in html for heading in SECTIONS)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;某公司" in html
    assert "src=" not in html and "<link" not in html  # nothing fetched from elsewhere
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return
    dom = run(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri())
    assert "安居区纪委监委企业反映问题分析研判报告" in dom and "<svg" in dom
