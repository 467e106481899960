"""The HTML report: one self-contained file (inline CSS, inline SVG charts, no scripts)."""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from models.clock import DEADLINE_CLOCKS
from reports.charts import report_charts, to_svg
from reports.render import render_html
from reports.report import NOTE, Report, duration_text


def render_html_report(report: Report) -> str:
    drawn = report_charts(report.figures)
    charts: dict[str, object] = {
        name: Markup(to_svg(chart))  # noqa: S704 (to_svg escapes every text it draws)
        for name, chart in drawn.items()
    }
    charts["trend_title"] = drawn["trend"].title
    return render_html(
        "report.html.j2",
        r=report,
        f=report.figures,
        charts=charts,
        clocks=[report.figures.clock(k) for k in DEADLINE_CLOCKS],
        note=NOTE,
        durations=duration_text(report.figures),
    )


def write_html(report: Report, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html_report(report), encoding="utf-8")
    return path
