"""Printing cards: A4 sheets as PDF (fpdf2; vector QR codes; the CJK font embedded as a subset)
and one PNG per card (Pillow, 300 dpi), both from ``cards.layout``."""

from __future__ import annotations

import io
from collections.abc import Sequence
from itertools import groupby
from typing import TYPE_CHECKING

from cards.fonts import FontFile, close_fonts, find_cjk_font
from cards.layout import (
    BLACK,
    CARD_H,
    CARD_W,
    COLUMNS,
    MARK_WIDTH,
    PER_PAGE,
    TITLE,
    CardBack,
    CardFace,
    Layout,
    Measure,
    back_layout,
    card_origin,
    crop_marks,
    front_layout,
)

if TYPE_CHECKING:
    from fpdf import FPDF
    from fpdf.drawing import BoundingBox, GraphicsStyle, Renderable
    from fpdf.drawing_primitives import Point
    from fpdf.output import ResourceCatalog
    from PIL.ImageFont import FreeTypeFont

    from cards.layout import QrPlacement

FONT_FAMILY = "cjk"
BOLD_STROKE = 0.12  # mm of outline that makes the titles look bold (the fonts have no bold face)


def mirrored_slot(slot: int) -> int:
    """Where the back of the card in ``slot`` is printed on the back page (columns swapped)."""
    row, col = divmod(slot, COLUMNS)
    return row * COLUMNS + (COLUMNS - 1 - col)


def render_pdf(
    faces: Sequence[CardFace], *, back: CardBack | None = None, font: FontFile | None = None
) -> bytes:
    """A4 sheets of ten cards with crop marks; with ``back``, each sheet is followed by its back
    page, mirrored so that long-edge duplex printing lines the backs up with the fronts."""
    from fpdf import FPDF

    if not faces:
        raise ValueError("no cards to print")
    font = font or find_cjk_font()
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margin(0)
    pdf.set_creator("Lianka")
    pdf.set_title(TITLE)
    pdf.add_font(FONT_FAMILY, fname=font.path, collection_font_number=font.index)
    try:
        pdf.set_font(FONT_FAMILY, size=10)
        measure = Measure(lambda ch: pdf.get_string_width(ch) / pdf.font_size)
        back_side = back_layout(back, measure) if back is not None else None
        for start in range(0, len(faces), PER_PAGE):
            sheet = faces[start : start + PER_PAGE]
            pdf.add_page()
            _draw_crop_marks(pdf, range(len(sheet)))
            layouts = [front_layout(face, measure) for face in sheet]
            _draw_sides(pdf, [(layout, *card_origin(slot)) for slot, layout in enumerate(layouts)])
            _draw_qr_codes(
                pdf, [(layout.qr, card_origin(slot)) for slot, layout in enumerate(layouts)]
            )
            if back_side is not None:
                pdf.add_page()
                _draw_crop_marks(pdf, [mirrored_slot(slot) for slot in range(len(sheet))])
                _draw_sides(
                    pdf,
                    [(back_side, *card_origin(slot, mirrored=True)) for slot in range(len(sheet))],
                )
        return bytes(pdf.output())
    finally:
        close_fonts(pdf)


def _draw_crop_marks(pdf: FPDF, slots: Sequence[int]) -> None:
    pdf.set_draw_color(*BLACK)
    pdf.set_line_width(MARK_WIDTH)
    for slot in slots:
        for x1, y1, x2, y2 in crop_marks(slot):
            pdf.line(x1, y1, x2, y2)


def _draw_sides(pdf: FPDF, placed: Sequence[tuple[Layout, float, float]]) -> None:
    """The texts and rules of the cards on one page, grouped by style so that colours, sizes and
    the outline that makes titles bold are set once per page, not once per card."""
    from fpdf.enums import RenderStyle, TextMode

    bold = sorted(
        ((item, ox, oy) for layout, ox, oy in placed for item in layout.texts if item.bold),
        key=lambda entry: (entry[0].color, entry[0].size),
    )
    for (color, size), group in groupby(bold, key=lambda entry: (entry[0].color, entry[0].size)):
        with pdf.local_context(
            text_mode=TextMode.FILL_STROKE,
            line_width=BOLD_STROKE,
            text_color=color,
            draw_color=color,
            fill_color=color,
            font_size_pt=size,
        ):
            for item, ox, oy in group:
                pdf.text(ox + item.x, oy + item.baseline, item.text)
    boxes = sorted(
        ((box, ox, oy) for layout, ox, oy in placed for box in layout.boxes),
        key=lambda entry: entry[0].color,
    )
    for color, box_group in groupby(boxes, key=lambda entry: entry[0].color):
        pdf.set_fill_color(*color)
        for box, ox, oy in box_group:
            pdf.rect(ox + box.x, oy + box.y, box.w, box.h, RenderStyle.F)
    pdf.set_fill_color(*BLACK)
    plain = sorted(
        ((item, ox, oy) for layout, ox, oy in placed for item in layout.texts if not item.bold),
        key=lambda entry: (entry[0].color, entry[0].size),
    )
    for (color, size), text_group in groupby(
        plain, key=lambda entry: (entry[0].color, entry[0].size)
    ):
        pdf.set_text_color(*color)
        pdf.set_font_size(size)
        for item, ox, oy in text_group:
            pdf.text(ox + item.x, oy + item.baseline, item.text)


class ModuleRects:
    """A QR code's dark rectangles as one path element, in module units (fpdf2's ``Renderable``):
    one ``re`` operator of small integers per rectangle, scaled into place by the path's transform.
    Far fewer Python calls and bytes than a ``rect()`` per rectangle."""

    def __init__(self, qr: QrPlacement) -> None:
        self.modules = qr.modules
        self.operators = " ".join(f"{c} {r} {w} {h} re" for c, r, w, h in qr.rects)

    def render(
        self,
        resource_registry: ResourceCatalog,
        style: GraphicsStyle,
        last_item: Renderable,
        initial_point: Point,
    ) -> tuple[str, Renderable, Point]:
        return self.operators, self, initial_point

    def bounding_box(self, start: Point) -> tuple[BoundingBox, Point]:
        from fpdf.drawing import BoundingBox
        from fpdf.drawing_primitives import Point

        corners = [Point(0, 0), Point(self.modules, self.modules)]
        return BoundingBox.from_points(corners), self.end_point

    @property
    def end_point(self) -> Point:
        from fpdf.drawing_primitives import Point

        return Point(0, 0)


def _draw_qr_codes(
    pdf: FPDF, codes: Sequence[tuple[QrPlacement | None, tuple[float, float]]]
) -> None:
    """The QR codes of one page as vector paths, filled black, each in its card's place."""
    from fpdf.drawing import PaintedPath
    from fpdf.drawing_primitives import DeviceGray, Transform
    from fpdf.enums import PathPaintRule

    with pdf.drawing_context() as context:
        for qr, (ox, oy) in codes:
            if qr is None:
                continue
            path = PaintedPath()
            path.style.fill_color = DeviceGray(0)
            path.style.stroke_color = None
            path.style.paint_rule = PathPaintRule.FILL_NONZERO
            path.transform = Transform.scaling(qr.module, qr.module).translate(ox + qr.x, oy + qr.y)
            path.add_path_element(ModuleRects(qr), clone=False)
            context.add_item(path, clone=False)


class PngRenderer:
    """One card per PNG, at ``dpi``, laid out as on the PDF (without crop marks)."""

    def __init__(self, font: FontFile | None = None, dpi: int = 300) -> None:
        from PIL import ImageFont

        self.font = font or find_cjk_font()
        self.dpi = dpi
        self._fonts: dict[float, FreeTypeFont] = {}
        reference = ImageFont.truetype(
            str(self.font.path), 1000, index=self.font.index, layout_engine=ImageFont.Layout.BASIC
        )
        self.measure = Measure(lambda ch: reference.getlength(ch) / 1000)

    def _font(self, size_pt: float) -> FreeTypeFont:
        from PIL import ImageFont

        cached = self._fonts.get(size_pt)
        if cached is None:
            cached = self._fonts[size_pt] = ImageFont.truetype(
                str(self.font.path),
                size_pt * self.dpi / 72,
                index=self.font.index,
                layout_engine=ImageFont.Layout.BASIC,
            )
        return cached

    def render(self, face: CardFace) -> bytes:
        """The PNG bytes of the front of one card."""
        from PIL import Image, ImageDraw

        scale = self.dpi / 25.4
        image = Image.new("RGB", (round(CARD_W * scale), round(CARD_H * scale)), "white")
        draw = ImageDraw.Draw(image)
        layout = front_layout(face, self.measure)
        for box in layout.boxes:
            draw.rectangle(
                (
                    round(box.x * scale),
                    round(box.y * scale),
                    round((box.x + box.w) * scale) - 1,
                    round((box.y + box.h) * scale) - 1,
                ),
                fill=box.color,
            )
        for item in layout.texts:
            draw.text(
                (item.x * scale, item.baseline * scale),
                item.text,
                font=self._font(item.size),
                fill=item.color,
                anchor="ls",
                stroke_width=round(BOLD_STROKE / 2 * scale) if item.bold else 0,
                stroke_fill=item.color,
            )
        qr = layout.qr
        if qr is not None:
            m = qr.module
            for col, row, width, height in qr.rects:
                x0 = round((qr.x + col * m) * scale)
                y0 = round((qr.y + row * m) * scale)
                x1 = round((qr.x + (col + width) * m) * scale) - 1
                y1 = round((qr.y + (row + height) * m) * scale) - 1
                draw.rectangle((x0, y0, x1, y1), fill=BLACK)
        buffer = io.BytesIO()
        image.save(buffer, "PNG", dpi=(self.dpi, self.dpi))
        return buffer.getvalue()


__all__ = ["CardBack", "CardFace", "PngRenderer", "mirrored_slot", "render_pdf"]
