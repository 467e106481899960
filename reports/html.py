"""The HTML report: one self-contained file (inline CSS, inline SVG charts, no scripts)."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from reports.charts import Chart, to_svg
from reports.document import report_sections
from reports.render import render_html
from reports.report import Report


def svg(chart: Chart) -> Markup:
    """A chart as inline SVG."""
    return Markup(to_svg(chart))  # noqa: S704 (to_svg escapes every text it draws)


def render_html_report(report: Report) -> str:
    return render_html("report.html.j2", r=report, sections=report_sections(report), svg=svg)


def write_html(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html_report(report), encoding="utf-8")
    return path
