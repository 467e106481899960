"""The PDF report: A4, the CJK font embedded, tables that repeat their header on every page."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from fontTools import ttLib  # type: ignore[import-untyped]
from fpdf import FPDF
from fpdf.enums import Align, TableBordersLayout
from fpdf.fonts import FontFace, SubsetMap, TTFFont

from cards.fonts import FontFile, close_fonts, find_cjk_font
from reports.charts import Chart, Line, Rect
from reports.document import Block, Figure, Table, report_sections
from reports.render import cn_time
from reports.report import Report

FONT = "cjk"
MARGIN = 18.0
RED = (176, 23, 31)
INK = (34, 34, 34)
MUTED = (110, 110, 110)
HEADER_FILL = (238, 242, 247)


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
        add_cjk_font(self, find_cjk_font())
        self.set_title(footer_text)
        self.set_creator("Lianka 廉卡")

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, size=8)
        self.set_text_color(*MUTED)
        self.cell(0, 5, f"{self.footer_text}　第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")


@lru_cache(maxsize=2)
def _parsed_font(font: FontFile) -> TTFFont:
    """``font`` as fpdf2 reads it for ``add_font``, once per process: its character map and
    the width of each of its 30,000 characters (0.8 s of every report's PDF, issue 18)."""
    pdf = FPDF()
    pdf.add_font(FONT, "", str(font.path), collection_font_number=font.index)
    parsed = pdf.fonts[FONT]
    assert isinstance(parsed, TTFFont)
    parsed.close()  # each PDF opens the file anew (``add_cjk_font``)
    return parsed


def add_cjk_font(pdf: FPDF, font: FontFile) -> None:
    """``pdf.add_font`` of ``font`` as ``FONT``, from the font parsed once per process: the
    PDF's own copy shares the character map and widths, which fpdf2 only reads, and gets what
    one document changes: the subset of the characters it uses, the characters missing, and
    the font file, which fpdf2 cuts down to that subset in place when it writes the PDF, and
    the font descriptor, which fpdf2 numbers and points at the document's font file as it
    writes (PDFs are written in worker threads, two at a time, so none of this is shared)."""
    parsed = _parsed_font(font)
    own = copy.copy(parsed)
    own.desc = copy.copy(parsed.desc)
    own.i = len(pdf.fonts) + 1
    own.ttfont = ttLib.TTFont(font.path, recalcTimestamp=False, fontNumber=font.index, lazy=True)
    own.missing_glyphs = []
    own.biggest_size_pt = 0
    own._hbfont = None
    own.subset = SubsetMap(own)
    pdf.fonts[FONT] = own


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
    """The report's pages: the title, then the six sections with their tables and charts."""
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
        f"生成时间：{cn_time(report.now)}",
        size=9,
        color=MUTED,
    )
    if report.anchor:
        _paragraph(pdf, report.anchor, size=8, color=MUTED)

    for section in report_sections(report):
        _heading(pdf, section.title)
        for block in section.blocks:
            _block(pdf, block)


def _block(pdf: ReportPDF, block: Block) -> None:
    if isinstance(block, Figure):
        _chart(pdf, block.chart)
    elif isinstance(block, Table):
        if block.caption:
            _paragraph(pdf, block.caption, size=9.5, color=MUTED)
        _table(pdf, block.header, block.rows, block.widths, block.align)
    elif block.kind == "lead":
        if pdf.get_y() > pdf.h - MARGIN - 24:
            pdf.add_page()
        pdf.ln(1)
        _paragraph(pdf, block.text, size=11.5)
    elif block.kind == "note":
        _paragraph(pdf, block.text, size=8, color=MUTED)
    else:
        _paragraph(pdf, "　　" + block.text)
        pdf.ln(1)
