"""The PDF report: A4, the CJK font embedded, tables that repeat their header on every page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout
from fpdf.fonts import FontFace

from cards.fonts import close_fonts, find_cjk_font
from models.case import CaseStatus
from models.clock import DEADLINE_CLOCKS
from reports.charts import Chart, Line, Rect, report_charts
from reports.render import local, pct, wan
from reports.report import NOTE, Report, duration_text

FONT = "cjk"
MARGIN = 18.0
RED = (176, 23, 31)
INK = (34, 34, 34)
MUTED = (110, 110, 110)
HEADER_FILL = (238, 242, 247)
PDF_OVERDUE_ROWS = 50


def _hex(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


class ReportPDF(FPDF):
    """A4 pages with the report's running footer."""

    def __init__(self, footer_text: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.footer_text = footer_text
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN)
        font = find_cjk_font()
        self.add_font(FONT, "", str(font.path), collection_font_number=font.index)
        self.set_title(footer_text)
        self.set_creator("Lianka 廉卡")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.footer_text}　第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")


def _heading(pdf: ReportPDF, text: str) -> None:
    if pdf.get_y() > pdf.h - MARGIN - 30:
        pdf.add_page()
    pdf.ln(3)
    pdf.set_font(FONT, size=13)
    pdf.set_text_color(*RED)
    pdf.cell(0, 8, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)


def _paragraph(
    pdf: ReportPDF, text: str, size: float = 11, color: tuple[int, int, int] = INK
) -> None:
    pdf.set_font(FONT, size=size)
    pdf.set_text_color(*color)
    pdf.multi_cell(0, size * 0.62, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)


def _table(
    pdf: ReportPDF,
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    widths: Sequence[float],
    align: Sequence[str] | None = None,
) -> None:
    """A table with a shaded header that repeats on every page it runs to."""
    pdf.set_font(FONT, size=9)
    pdf.set_draw_color(190, 190, 190)
    with pdf.table(
        col_widths=tuple(widths),
        width=pdf.epw,
        line_height=5.6,
        headings_style=FontFace(emphasis="", fill_color=HEADER_FILL, color=INK),
        borders_layout=TableBordersLayout.HORIZONTAL_LINES,
        repeat_headings=1,
        padding=(1, 1.5),
        text_align=tuple(align) if align else "LEFT",
    ) as table:
        table.row(list(header))
        for values in rows:
            table.row([str(v) for v in values])
    pdf.ln(2)


def _chart(pdf: ReportPDF, chart: Chart) -> None:
    """Draw ``chart`` as vectors at the current position, on a new page if it does not fit."""
    if pdf.get_y() + chart.height + 8 > pdf.h - MARGIN:
        pdf.add_page()
    pdf.set_font(FONT, size=10)
    pdf.cell(0, 6, chart.title, new_x="LMARGIN", new_y="NEXT")
    x0 = MARGIN + (pdf.epw - chart.width) / 2
    y0 = pdf.get_y()
    for shape in chart.shapes:
        if isinstance(shape, Rect):
            pdf.set_fill_color(*_hex(shape.fill))
            pdf.rect(x0 + shape.x, y0 + shape.y, shape.w, shape.h, style="F")
        elif isinstance(shape, Line):
            pdf.set_draw_color(*_hex(shape.stroke))
            pdf.set_line_width(shape.width)
            pdf.line(x0 + shape.x1, y0 + shape.y1, x0 + shape.x2, y0 + shape.y2)
        else:
            pdf.set_font(FONT, size=shape.size)
            pdf.set_text_color(*_hex(shape.fill))
            width = pdf.get_string_width(shape.text)
            offset = {"start": 0.0, "middle": width / 2, "end": width}[shape.anchor]
            pdf.text(x0 + shape.x - offset, y0 + shape.y, shape.text)
    pdf.set_text_color(*INK)
    pdf.set_fill_color(255, 255, 255)
    pdf.set_draw_color(190, 190, 190)
    pdf.set_line_width(0.2)
    pdf.set_y(y0 + chart.height + 2)


def render_pdf(report: Report, path: Path) -> Path:
    """Write the report as an A4 PDF to ``path``."""
    pdf = ReportPDF(f"{report.title}（{report.period.label}）")
    try:
        _draw(pdf, report)
        path.parent.mkdir(parents=True, exist_ok=True)
        pdf.output(str(path))
    finally:
        close_fonts(pdf)
    return path


def _draw(pdf: ReportPDF, report: Report) -> None:
    """The report's pages: title, summary, sections and tables, charts, notes."""
    f = report.figures
    pdf.add_page()

    pdf.set_font(FONT, size=18)
    pdf.set_text_color(*RED)
    pdf.multi_cell(0, 10, report.title, align=Align.C, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=12)
    pdf.set_text_color(*INK)
    pdf.cell(
        0,
        8,
        f"{report.period.label}　{report.scope.label}",
        align="C",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.8)
    y = pdf.get_y() + 2
    pdf.line(MARGIN, y, pdf.w - MARGIN, y)
    pdf.set_line_width(0.2)
    pdf.line(MARGIN, y + 1.2, pdf.w - MARGIN, y + 1.2)
    pdf.set_y(y + 3)
    _paragraph(
        pdf,
        f"统计时段：{report.period.span}　　统计范围：{report.scope.label}　　"
        f"生成时间：{local(report.now)}",
        size=9,
        color=MUTED,
    )
    if report.anchor:
        _paragraph(pdf, report.anchor, size=8, color=MUTED)

    _heading(pdf, "一、总体情况")
    _paragraph(pdf, "　　" + report.summary)
    pdf.ln(2)
    _table(
        pdf,
        ("指标", "本期", "上期", "环比"),
        [
            (f"{c.label}（{c.unit}）" if c.unit else c.label, c.current, c.previous, c.change)
            for c in report.changes
        ],
        (34, 18, 18, 30),
        ("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )

    charts = report_charts(f)
    _heading(pdf, "二、受理情况")
    _table(
        pdf,
        ("监督事项", "受理（件）", "占比", "已办结（件）"),
        [(s.name, s.count, pct(s.share), s.resolved) for s in f.by_category if s.count],
        (46, 18, 16, 20),
        ("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )
    if f.received:
        _chart(pdf, charts["category"])
    _table(
        pdf,
        ("园区", "受理（件）", "占比", "已办结（件）"),
        [(s.name, s.count, pct(s.share), s.resolved) for s in f.by_zone if s.count],
        (46, 18, 16, 20),
        ("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )
    _paragraph(
        pdf,
        "按类型："
        + "，".join(f"{s.name}{s.count}件" for s in f.by_track)
        + f"；反映问题企业{f.enterprises}家，联系卡扫码{f.cards_scanned}次"
        f"（{f.cards_scanned_distinct}张卡）。",
        size=10,
    )

    _heading(pdf, "三、办理时效")
    _table(
        pdf,
        ("环节", "按期（件）", "超期（件）", "按期率"),
        [
            (kind.label, rate.on_time, rate.late, pct(rate.rate))
            for kind, rate in ((k, f.clock(k)) for k in DEADLINE_CLOCKS)
        ],
        (40, 20, 20, 20),
        ("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )
    _paragraph(pdf, duration_text(f), size=10)
    _table(
        pdf,
        ("监督组", "受理（件）", "已办结（件）", "按期办结率"),
        [(t.name, t.received, t.resolved, pct(t.resolve.rate)) for t in f.timeliness_by_team],
        (50, 16, 18, 18),
        ("LEFT", "RIGHT", "RIGHT", "RIGHT"),
    )
    if f.timeliness_by_team:
        _chart(pdf, charts["team"])

    _heading(pdf, "四、企业满意度")
    _table(
        pdf,
        ("满意", "基本满意", "不满意", "未评价", "满意率", "重办"),
        [
            (
                *(f.satisfaction.get(s, 0) for s in f.satisfaction),
                pct(f.satisfaction_rate),
                f.reopened,
            )
        ],
        (1, 1, 1, 1, 1, 1),
        ("RIGHT",) * 6,
    )

    _heading(pdf, "五、受理趋势")
    _chart(pdf, charts["trend"])

    _heading(pdf, "六、超期未办结问题")
    if f.overdue:
        shown = f.overdue[:PDF_OVERDUE_ROWS]
        _table(
            pdf,
            ("编号", "监督事项", "监督组", "状态", "环节", "期限", "超期天数", "督办"),
            [
                (
                    o.number,
                    o.category,
                    o.team,
                    CaseStatus(o.status).label,
                    o.clock.label,
                    local(o.due_at, "%Y-%m-%d"),
                    o.overdue_workdays,
                    "是" if o.supervised else "",
                )
                for o in shown
            ],
            (27, 26, 34, 14, 12, 21, 15, 10),
            ("LEFT", "LEFT", "LEFT", "LEFT", "LEFT", "LEFT", "RIGHT", "CENTER"),
        )
        if f.overdue_count > len(shown):
            _paragraph(
                pdf,
                f"另有{f.overdue_count - len(shown)}件，详见XLSX问题清单。",
                size=9,
                color=MUTED,
            )
    else:
        _paragraph(pdf, "目前无超期未办结问题。", size=10)

    _heading(pdf, "七、多次反映问题的企业")
    if f.recurring:
        _table(
            pdf,
            ("企业", "园区", "件数", "反映事项"),
            [(r.name, r.zone, r.cases, r.categories) for r in f.recurring],
            (44, 18, 10, 46),
            ("LEFT", "LEFT", "RIGHT", "LEFT"),
        )
        if f.recurring_count > len(f.recurring):
            _paragraph(
                pdf,
                f"共{f.recurring_count}家企业本期反映2件以上，以上为件数最多的{len(f.recurring)}家。",
                size=9,
                color=MUTED,
            )
    else:
        _paragraph(pdf, "本期无同一企业多次反映的情况。", size=10)

    pdf.ln(4)
    _paragraph(pdf, NOTE, size=8, color=MUTED)
    _paragraph(
        pdf,
        f"涉及金额合计{wan(f.amount_involved_yuan)}万元；协调落实资金{wan(f.amount_coordinated_yuan)}万元（{f.coordinated_cases}件）。",
        size=8,
        color=MUTED,
    )
