"""``lianka demo-data`` and ``lianka report`` on the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from docx import Document
from pypdf import PdfReader

from reports.document import SECTIONS
from tests.conftest import ROOT
from tests.test_cli import lianka

pytestmark = pytest.mark.slow


def env(tmp_path: Path) -> dict[str, str]:
    return {
        "LIANKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "LIANKA_CONFIG": str(ROOT / "lianka.example.toml"),
    }


def test_demo_data_then_a_monthly_report_in_four_formats(tmp_path: Path) -> None:
    made = lianka(
        "demo-data",
        "--cases",
        "60",
        "--months",
        "2",
        "--now",
        "2026-11-26T10:00",
        cwd=tmp_path,
        env=env(tmp_path),
    )
    assert made.returncode == 0, made.stderr
    assert "已生成演示数据：问题 60 件" in made.stdout
    again = lianka("demo-data", "--cases", "5", cwd=tmp_path, env=env(tmp_path))
    assert again.returncode == 1 and "只能写入空数据库" in again.stderr
    report = lianka(
        "report",
        "--period",
        "month",
        "--now",
        "2026-11-26T10:00",
        "--out",
        "out",
        cwd=tmp_path,
        env=env(tmp_path),
    )
    assert report.returncode == 0, report.stderr
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert files == [
        f"lianka-report-month-2026-10.{ext}" for ext in ("docx", "html", "pdf", "xlsx")
    ]
    assert "已生成" in report.stdout and "figures" in report.stdout
    zone = lianka(
        "report", "--period", "custom", "--from", "2026-10-01", "--to", "2026-10-15", "--zone", "jkq",
        "--team", "business_env", "--format", "html", "--now", "2026-11-26T10:00", "--out", "out",
        cwd=tmp_path, env=env(tmp_path),
    )  # fmt: skip
    assert zone.returncode == 0, zone.stderr
    html = next((tmp_path / "out").glob("lianka-report-custom-20261001-20261015-zone*-team*.html"))
    assert "安居经开区、“营商环境”立项监督组" in html.read_text(encoding="utf-8")


def test_report_options_are_checked_in_chinese(tmp_path: Path) -> None:
    custom = lianka("report", "--period", "custom", cwd=tmp_path, env=env(tmp_path))
    assert custom.returncode == 2 and "--period custom 需要同时给出 --from 和 --to" in custom.stderr
    formats = lianka("report", "--format", "pdf,doc", cwd=tmp_path, env=env(tmp_path))
    assert formats.returncode == 2 and "--format 只能是 pdf,docx,xlsx,html 的组合" in formats.stderr
    lianka("demo-data", "--cases", "3", "--months", "1", cwd=tmp_path, env=env(tmp_path))
    zone = lianka("report", "--zone", "mars", cwd=tmp_path, env=env(tmp_path))
    assert zone.returncode == 1 and "未找到园区“mars”" in zone.stderr
    assert "Traceback" not in custom.stderr + formats.stderr + zone.stderr
    for command in (["report"], ["demo-data"]):
        assert lianka(*command, "--help", cwd=tmp_path).returncode == 0


def test_a_quarter_s_report_over_demo_data_in_word_and_pdf_has_the_six_sections(
    tmp_path: Path,
) -> None:
    made = lianka(
        "demo-data", "--cases", "80", "--months", "4", "--now", "2026-11-26T10:00",
        cwd=tmp_path, env=env(tmp_path),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    report = lianka(
        "report", "--period", "quarter", "--format", "docx,pdf", "--now", "2026-11-26T10:00",
        "--out", "out", cwd=tmp_path, env=env(tmp_path),
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "lianka-report-quarter-2026-q3.docx",
        "lianka-report-quarter-2026-q3.pdf",
    ]
    document = Document(str(out / "lianka-report-quarter-2026-q3.docx"))
    headings = [
        (p.style.name, p.text)
        for p in document.paragraphs
        if p.style is not None and p.style.name.startswith("Heading 1")
    ]
    assert headings == [("Heading 1", title) for title in SECTIONS]
    assert document.paragraphs[0].text == "安居区纪委监委企业反映问题分析研判报告"
    assert "2026年第三季度" in document.paragraphs[1].text
    main = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
    assert {"立案审查（件）", "立案人数（人）", "合并办理重复件（件）"} <= set(main)
    assert int(main["疑似重复件（件）"]) > 0  # the demo's repeat reports are counted
    assert any(p.text.startswith("本期问题线索经集体研判、委领导批准") for p in document.paragraphs)
    pdf = PdfReader(str(out / "lianka-report-quarter-2026-q3.pdf"))
    text = "".join("".join(page.extract_text().split()) for page in pdf.pages)
    assert all(title in text for title in SECTIONS)
