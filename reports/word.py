"""The Word report (DOCX), which a commission's office edits and files: the six sections as real
Heading 1 paragraphs (sub-headings Heading 2), the figures as Word tables whose header row
repeats on every page, the charts as pictures, and Chinese fonts the way official documents set
them (标题宋体, 一级标题黑体, 二级标题楷体, 正文仿宋), given to Word as East Asian fonts
(``w:rFonts w:eastAsia``) so they hold on any machine with those fonts and fall back sensibly
elsewhere."""

from __future__ import annotations

import io
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.table import Table as WordTable
from PIL import Image, ImageDraw, ImageFont

from cards.fonts import CjkFontMissing, find_cjk_font
from reports.charts import Chart, Line, Rect
from reports.document import Block, Figure, Table, report_sections
from reports.render import cn_time
from reports.report import Report

LATIN = "Times New Roman"
BLACK = RGBColor(0, 0, 0)
RED = RGBColor(176, 23, 31)
GREY = RGBColor(110, 110, 110)
TABLE_STYLE = "表格文字"
NOTE_STYLE = "注释"
# style: (East Asian font, size in points, bold)
FONTS: dict[str, tuple[str, float, bool]] = {
    "Normal": ("仿宋", 14, False),
    "Title": ("宋体", 22, False),
    "Heading 1": ("黑体", 16, False),
    "Heading 2": ("楷体", 14, True),
    TABLE_STYLE: ("宋体", 10.5, False),
    NOTE_STYLE: ("宋体", 9, False),
}
PX_PER_MM = 12  # charts drawn at about 300 dpi


def set_fonts(element: object, east_asian: str) -> None:
    """Name the East Asian font (and Times New Roman for Latin text and digits) on a style's or
    run's ``w:rFonts``, dropping theme fonts, which Word would otherwise prefer."""
    rpr = element.get_or_add_rPr()  # type: ignore[attr-defined]
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)
    fonts.set(qn("w:ascii"), LATIN)
    fonts.set(qn("w:hAnsi"), LATIN)
    fonts.set(qn("w:eastAsia"), east_asian)
    fonts.set(qn("w:cs"), LATIN)


def _styles(document: DocumentObject) -> None:
    styles = document.styles
    for name in (TABLE_STYLE, NOTE_STYLE):
        added = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        added.base_style = styles["Normal"]
    for name, (east_asian, size, bold) in FONTS.items():
        style = styles[name]
        font = style.font
        font.size = Pt(size)
        font.bold = bold
        font.italic = False
        font.color.rgb = RED if name == "Title" else BLACK
        set_fonts(style.element, east_asian)
        paragraph = style.paragraph_format
        if name == "Normal":
            paragraph.line_spacing = 1.35
            paragraph.space_after = Pt(4)
        elif name in (TABLE_STYLE, NOTE_STYLE):
            paragraph.line_spacing = 1.0
            paragraph.space_after = Pt(0)
            paragraph.first_line_indent = None
        else:
            paragraph.space_before = Pt(10 if name != "Heading 2" else 6)
            paragraph.space_after = Pt(6)
    styles[NOTE_STYLE].font.color.rgb = GREY
    # The Title style's bottom border (a blue rule in the default template) is not ours.
    title_ppr = styles["Title"].element.get_or_add_pPr()
    for border in title_ppr.findall(qn("w:pBdr")):
        title_ppr.remove(border)


def _page(document: DocumentObject) -> None:
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(30), Mm(25)
    section.left_margin, section.right_margin = Mm(26), Mm(24)
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.style = document.styles[NOTE_STYLE]
    footer.add_run("第 ")
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    footer._p.append(field)
    footer.add_run(" 页")


def _table(document: DocumentObject, block: Table) -> None:
    if block.caption:
        document.add_paragraph(block.caption, style=NOTE_STYLE)
    table: WordTable = document.add_table(rows=1, cols=len(block.header))
    table.style = document.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    header = table.rows[0]
    properties = header._tr.get_or_add_trPr()
    repeat = OxmlElement("w:tblHeader")  # the header row again on every page
    repeat.set(qn("w:val"), "true")
    properties.append(repeat)
    for cell, text in zip(header.cells, block.header, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(text)
        run.bold = True
    for values in block.rows:
        row = table.add_row()  # type: ignore[no-untyped-call]
        for cell, text in zip(row.cells, values, strict=True):
            cell.text = text
    total = sum(block.widths)
    width = Mm(160)
    # the style's id looked up once: python-docx's ``paragraph.style = …`` searches every style
    # for the default on each call (half of the DOCX's time, tables of 800 cells)
    style = document.styles[TABLE_STYLE]
    style_id = document.part.get_style_id(style, WD_STYLE_TYPE.PARAGRAPH)  # type: ignore[no-untyped-call]
    for column, (share, numeric) in enumerate(zip(block.widths, block.numeric, strict=True)):
        for cell in table.columns[column].cells:
            cell.width = int(width * share / total)
            for paragraph in cell.paragraphs:
                paragraph._p.style = style_id
                if numeric:
                    paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    document.add_paragraph("", style=NOTE_STYLE)


def chart_png(chart: Chart) -> bytes:
    """The chart drawn as a PNG at about 300 dpi, its text in the bundled CJK font."""
    font_file = find_cjk_font()
    scale = PX_PER_MM
    image = Image.new("RGB", (round(chart.width * scale), round(chart.height * scale)), "white")
    draw = ImageDraw.Draw(image)
    fonts: dict[float, ImageFont.FreeTypeFont] = {}
    for shape in chart.shapes:
        if isinstance(shape, Rect):
            box = (shape.x, shape.y, shape.x + shape.w, shape.y + shape.h)
            draw.rectangle([round(v * scale) for v in box], fill=shape.fill)
        elif isinstance(shape, Line):
            ends = (shape.x1, shape.y1, shape.x2, shape.y2)
            width = max(1, round(shape.width * scale))
            draw.line([round(v * scale) for v in ends], fill=shape.stroke, width=width)
        else:
            if shape.size not in fonts:
                fonts[shape.size] = ImageFont.truetype(
                    str(font_file.path), round(shape.size * 0.3528 * scale), index=font_file.index
                )
            anchor = {"start": "ls", "middle": "ms", "end": "rs"}[shape.anchor]
            position = (round(shape.x * scale), round(shape.y * scale))
            draw.text(position, shape.text, fill=shape.fill, font=fonts[shape.size], anchor=anchor)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(300, 300))
    return out.getvalue()


def _block(document: DocumentObject, block: Block) -> None:
    if isinstance(block, Figure):
        try:
            picture = chart_png(block.chart)
        except CjkFontMissing:
            return  # the tables carry the same figures
        document.add_paragraph(block.chart.title, style=NOTE_STYLE)
        document.add_picture(io.BytesIO(picture), width=Mm(min(block.chart.width, 160)))
        document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
    elif isinstance(block, Table):
        _table(document, block)
    elif block.kind == "lead":
        document.add_heading(block.text, level=2)
    elif block.kind == "note":
        document.add_paragraph(block.text, style=NOTE_STYLE)
    else:
        paragraph = document.add_paragraph(block.text)
        paragraph.paragraph_format.first_line_indent = Pt(28)


def render_docx(report: Report, path: Path) -> Path:
    """Write the report as a Word document to ``path``."""
    document = Document()
    _styles(document)
    _page(document)
    properties = document.core_properties
    properties.title = f"{report.title}（{report.period.label}）"
    properties.author = report.organisation
    properties.comments = "Lianka 廉卡"
    title = document.add_paragraph(report.title, style="Title")
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    sub = document.add_paragraph(f"{report.period.label}　{report.scope.label}")
    sub.alignment = WD_ALIGN_PARAGRAPH.CENTER
    document.add_paragraph(
        f"统计时段：{report.period.span}　统计范围：{report.scope.label}　"
        f"生成时间：{cn_time(report.now)}",
        style=NOTE_STYLE,
    )
    if report.anchor:
        document.add_paragraph(report.anchor, style=NOTE_STYLE)
    for section in report_sections(report):
        document.add_heading(section.title, level=1)
        for block in section.blocks:
            _block(document, block)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path
