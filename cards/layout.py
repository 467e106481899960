"""Where everything sits on a card and on an A4 sheet, in millimetres; no drawing library here.

The same layout feeds the PDF (fpdf2) and the PNG (Pillow): each passes a function that gives a
character's advance width in em from its own copy of the font, so text is measured by whoever draws it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cards.qr import ModuleRect, dark_rects, qr_matrix

MM_PER_PT = 25.4 / 72

CARD_W = 90.0
CARD_H = 54.0
PAGE_W = 210.0
PAGE_H = 297.0
COLUMNS = 2
ROWS = 5
PER_PAGE = COLUMNS * ROWS
GUTTER_X = 8.0
GUTTER_Y = 3.0
MARGIN_X = (PAGE_W - COLUMNS * CARD_W - (COLUMNS - 1) * GUTTER_X) / 2
MARGIN_Y = (PAGE_H - ROWS * CARD_H - (ROWS - 1) * GUTTER_Y) / 2
MARK_GAP = 0.8  # crop marks start this far outside the trim
MARK_LENGTH = 3.0
MARK_WIDTH = 0.15

TITLE = "廉政监督联系卡"
INSTRUCTION = "扫码反映问题"
BACK_TITLE = "廉政承诺"

RED = (192, 0, 0)
BLACK = (0, 0, 0)

PAD = 5.0  # left and right padding inside the trim
QR_BOX = 31.0  # the QR code with its quiet zone
QR_X = CARD_W - 2.5 - QR_BOX
QR_Y = 17.0
LEFT_W = QR_X - PAD + 0.5  # the text column left of the QR code (the quiet zone is white)
NAME_TOP = 22.6
NAME_HEIGHT = 13.4
NAME_SIZES = (10.5, 10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0, 5.5)
NAME_LEADING = 1.25
UNIT_SIZES = (8.5, 8.0, 7.5, 7.0, 6.5, 6.0)
BODY_SIZE = 8.0
BACK_SIZES = (9.0, 8.5, 8.0, 7.5, 7.0, 6.5, 6.0, 5.5, 5.0)
BACK_LEADING = 1.45

NO_LINE_START = set("，。、；：！？）》」』】〕,.;:!?)]}%")
ELLIPSIS = "…"

CharWidth = Callable[[str], float]  # a character's advance width, in em


@dataclass(frozen=True, slots=True)
class TextItem:
    """One line of text: left end of its baseline, size in points, measured width in mm."""

    x: float
    baseline: float
    size: float
    text: str
    width: float
    color: tuple[int, int, int] = BLACK
    bold: bool = False


@dataclass(frozen=True, slots=True)
class Box:
    """A filled rectangle (rules)."""

    x: float
    y: float
    w: float
    h: float
    color: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class QrPlacement:
    """A QR code: its top-left corner (quiet zone included), module size and dark rectangles."""

    x: float
    y: float
    module: float
    modules: int
    rects: list[ModuleRect]


@dataclass(frozen=True, slots=True)
class CardFace:
    """What the front of one card says."""

    issuing_unit: str
    enterprise: str
    link: str
    hotline: str
    national_hotline: str


@dataclass(frozen=True, slots=True)
class CardBack:
    """What the back of every card says: the commission's promises."""

    organisation: str
    promises: tuple[str, ...]
    hotline: str
    national_hotline: str


@dataclass(frozen=True, slots=True)
class Layout:
    """Everything drawn on one side of one card, relative to its top-left trim corner."""

    texts: list[TextItem]
    boxes: list[Box]
    qr: QrPlacement | None


class Measure:
    """Text widths in mm from per-character advances (cached; no kerning, as both renderers)."""

    def __init__(self, char_width: CharWidth) -> None:
        self._char_width = char_width
        self._cache: dict[str, float] = {}

    def em(self, ch: str) -> float:
        width = self._cache.get(ch)
        if width is None:
            width = self._cache[ch] = self._char_width(ch)
        return width

    def text_em(self, text: str) -> float:
        return sum(self.em(ch) for ch in text)

    def width(self, text: str, size: float) -> float:
        return self.text_em(text) * size * MM_PER_PT


def wrap(text: str, measure: Measure, limit_em: float) -> list[str]:
    """Greedy line breaking for Chinese names: break anywhere, but not before closing punctuation
    and, where the line has a space, not inside a Latin word."""
    lines: list[str] = []
    line = ""
    used = 0.0
    for ch in text:
        width = measure.em(ch)
        if not line or used + width <= limit_em:
            if line or not ch.isspace():
                line += ch
                used += width
            continue
        carry = ""
        if ch in NO_LINE_START and len(line) > 1:
            carry = line[-1]
        elif ch.isascii() and ch.isalnum() and line[-1].isascii() and line[-1].isalnum():
            space = line.rfind(" ")
            if space > 0:
                carry = line[space + 1 :]
        if carry:
            line = line[: len(line) - len(carry)]
        lines.append(line.rstrip())
        line = (carry + ch).lstrip()
        used = measure.text_em(line)
    if line:
        lines.append(line.rstrip())
    return lines


def truncate(text: str, measure: Measure, limit_em: float) -> str:
    """``text`` cut to fit ``limit_em`` with an ellipsis, or as is when it fits."""
    if measure.text_em(text) <= limit_em:
        return text
    room = limit_em - measure.em(ELLIPSIS)
    cut = ""
    used = 0.0
    for ch in text:
        used += measure.em(ch)
        if used > room:
            break
        cut += ch
    return cut.rstrip() + ELLIPSIS


def fit_block(
    text: str,
    measure: Measure,
    *,
    width: float,
    height: float,
    sizes: Sequence[float],
    max_lines: Callable[[float], int],
    leading: float = NAME_LEADING,
) -> tuple[float, list[str]]:
    """The largest size at which ``text`` wraps into the box; at the smallest size, what fits
    with an ellipsis. Nothing is ever wider or taller than the box."""
    lines: list[str] = []
    allowed = 1
    for size in sizes:
        em_mm = size * MM_PER_PT
        allowed = max(1, min(max_lines(size), math.floor(height / (em_mm * leading))))
        lines = wrap(text, measure, width / em_mm)
        if len(lines) <= allowed:
            return size, lines
    size = sizes[-1]
    kept = lines[:allowed]
    rest = "".join(lines[allowed - 1 :])
    kept[-1] = truncate(rest + ELLIPSIS, measure, width / (size * MM_PER_PT))
    return size, kept


def fit_line(
    text: str, measure: Measure, width: float, sizes: Sequence[float]
) -> tuple[float, str]:
    """One line: the largest size that fits ``width``, else the smallest with an ellipsis."""
    for size in sizes:
        if measure.width(text, size) <= width:
            return size, text
    size = sizes[-1]
    return size, truncate(text, measure, width / (size * MM_PER_PT))


def _name_lines(size: float) -> int:
    return 2 if size >= 7.0 else 3


def _centered(
    text: str,
    size: float,
    baseline: float,
    measure: Measure,
    color: tuple[int, int, int] = BLACK,
    *,
    bold: bool = False,
) -> TextItem:
    width = measure.width(text, size)
    return TextItem((CARD_W - width) / 2, baseline, size, text, width, color, bold)


def one_line(text: str) -> str:
    """Text as printed on one line: line breaks, tabs and other control characters become spaces."""
    return " ".join(text.split())


def front_layout(face: CardFace, measure: Measure) -> Layout:
    """The front: title, issuing unit, enterprise, hotlines on the left; the QR code on the right."""
    texts = [_centered(TITLE, 15.0, 9.6, measure, RED, bold=True)]
    unit_size, unit = fit_line(one_line(face.issuing_unit), measure, CARD_W - 2 * PAD, UNIT_SIZES)
    texts.append(_centered(unit, unit_size, 14.2, measure))
    boxes = [Box(PAD, 15.9, CARD_W - 2 * PAD, 0.35, RED)]

    label = "企业名称"
    texts.append(TextItem(PAD, 21.0, 6.5, label, measure.width(label, 6.5)))
    size, lines = fit_block(
        one_line(face.enterprise),
        measure,
        width=LEFT_W,
        height=NAME_HEIGHT,
        sizes=NAME_SIZES,
        max_lines=_name_lines,
    )
    em_mm = size * MM_PER_PT
    baseline = NAME_TOP + em_mm * 0.88
    for line in lines:
        texts.append(TextItem(PAD, baseline, size, line, measure.width(line, size)))
        baseline += em_mm * NAME_LEADING

    for text, line_baseline in (
        (f"监督电话：{face.hotline}", 42.0),
        (f"全国纪检监察举报电话：{face.national_hotline}", 47.0),
    ):
        line_size, shown = fit_line(text, measure, LEFT_W, (BODY_SIZE, 7.5, 7.0, 6.5, 6.0))
        texts.append(
            TextItem(PAD, line_baseline, line_size, shown, measure.width(shown, line_size))
        )

    matrix = qr_matrix(face.link)
    modules = len(matrix)
    module = QR_BOX / modules
    qr = QrPlacement(QR_X, QR_Y, module, modules, dark_rects(matrix))
    instruction_width = measure.width(INSTRUCTION, BODY_SIZE)
    texts.append(
        TextItem(
            QR_X + (QR_BOX - instruction_width) / 2,
            QR_Y + QR_BOX + 2.9,
            BODY_SIZE,
            INSTRUCTION,
            instruction_width,
        )
    )
    return Layout(texts, boxes, qr)


def back_layout(back: CardBack, measure: Measure) -> Layout:
    """The back: 廉政承诺 and the numbered promises (shrunk to fit), the commission at the foot."""
    texts = [_centered(BACK_TITLE, 12.0, 8.6, measure, RED, bold=True)]
    boxes = [Box(PAD, 10.9, CARD_W - 2 * PAD, 0.35, RED)]
    width = CARD_W - 2 * PAD
    top, bottom = 13.0, 45.5
    items = [(f"{n}.", promise) for n, promise in enumerate(back.promises, start=1)]
    for size in BACK_SIZES:
        em_mm = size * MM_PER_PT
        indent = max((measure.width(prefix + " ", size) for prefix, _ in items), default=0.0)
        wrapped = [(p, wrap(t, measure, (width - indent) / em_mm)) for p, t in items]
        needed = sum(len(lines) for _, lines in wrapped) * em_mm * BACK_LEADING
        if needed <= bottom - top or size == BACK_SIZES[-1]:
            break
    baseline = top + max(0.0, (bottom - top - needed) / 2) + em_mm * 0.88
    for prefix, lines in wrapped:
        if baseline > bottom:
            break
        texts.append(TextItem(PAD, baseline, size, prefix, measure.width(prefix, size)))
        for line in lines:
            if baseline > bottom:
                break
            texts.append(TextItem(PAD + indent, baseline, size, line, measure.width(line, size)))
            baseline += em_mm * BACK_LEADING
    foot = f"{back.organisation}  监督电话：{back.hotline}  全国：{back.national_hotline}"
    foot_size, foot = fit_line(foot, measure, width, (7.0, 6.5, 6.0, 5.5))
    texts.append(_centered(foot, foot_size, 50.0, measure))
    return Layout(texts, boxes, None)


def card_origin(slot: int, *, mirrored: bool = False) -> tuple[float, float]:
    """Top-left trim corner of the card in ``slot`` (0–9, row by row) on an A4 sheet; the back of
    a sheet swaps the columns so that long-edge duplex printing puts each back behind its front."""
    row, col = divmod(slot, COLUMNS)
    if mirrored:
        col = COLUMNS - 1 - col
    return MARGIN_X + col * (CARD_W + GUTTER_X), MARGIN_Y + row * (CARD_H + GUTTER_Y)


def crop_marks(slot: int) -> list[tuple[float, float, float, float]]:
    """Lines (x1, y1, x2, y2) on the extensions of the card's edges, outside the trim at each
    corner; in the narrow gutter between rows they stop short of the neighbouring card."""
    x, y = card_origin(slot)
    row = slot // COLUMNS
    in_gutter = GUTTER_Y - 2 * MARK_GAP
    up = MARK_LENGTH if row == 0 else in_gutter
    down = MARK_LENGTH if row == ROWS - 1 else in_gutter
    marks = []
    for cx, dx in ((x, -1.0), (x + CARD_W, 1.0)):
        for cy, dy, length in ((y, -1.0, up), (y + CARD_H, 1.0, down)):
            marks.append((cx + dx * MARK_GAP, cy, cx + dx * (MARK_GAP + MARK_LENGTH), cy))
            marks.append((cx, cy + dy * MARK_GAP, cx, cy + dy * (MARK_GAP + length)))
    return marks
