"""Charts as a few vector shapes in millimetres, drawn the same way as inline SVG (HTML) and as
PDF vectors (fpdf2). No plotting library: three simple charts do not need one, and the report
stays fast and its text stays text (searchable, selectable, in the embedded CJK font)."""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from reports.figures import Figures
from reports.render import pct, short_team

PT = 0.3528  # millimetres per point
INK = "#222222"
MUTED = "#777777"
GRID = "#dddddd"
BAR = "#2f5d8a"
ACCENT = "#b0171f"
FONT_STACK = (
    "'WenQuanYi Micro Hei', 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"
)


@dataclass(frozen=True, slots=True)
class Rect:
    x: float
    y: float
    w: float
    h: float
    fill: str


@dataclass(frozen=True, slots=True)
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    stroke: str
    width: float = 0.2


@dataclass(frozen=True, slots=True)
class Text:
    """Text whose baseline is at ``y``; ``anchor`` is start, middle or end; ``size`` in points."""

    x: float
    y: float
    text: str
    size: float = 8
    anchor: str = "start"
    fill: str = INK


Shape = Rect | Line | Text


@dataclass
class Chart:
    title: str
    width: float
    height: float
    shapes: list[Shape] = field(default_factory=list)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def horizontal_bars(
    title: str,
    items: list[tuple[str, float, str]],
    *,
    width: float = 170,
    scale_max: float | None = None,
    label_width: float = 48,
    color: str = BAR,
) -> Chart:
    """One bar per (label, value, value text), longest label column on the left."""
    row = 6.0
    top = 4.0
    height = top + row * max(len(items), 1) + 4
    chart = Chart(title, width, height)
    left = label_width
    right = width - 22
    biggest = scale_max if scale_max is not None else max([v for _, v, _ in items] + [0])
    chart.shapes.append(Line(left, top - 1, left, top + row * len(items) + 1, MUTED, 0.3))
    if not items:
        chart.shapes.append(Text(width / 2, top + 6, "本期无数据", 9, "middle", MUTED))
    for index, (label, value, shown) in enumerate(items):
        y = top + index * row
        length = 0.0 if biggest <= 0 else (right - left) * value / biggest
        chart.shapes.append(Text(left - 2, y + row * 0.68, _fit(label, 15), 8, "end"))
        if length > 0:
            chart.shapes.append(Rect(left, y + 1, max(length, 0.4), row - 2, color))
        chart.shapes.append(Text(left + length + 1.5, y + row * 0.68, shown, 8, "start", MUTED))
    return chart


def columns(
    title: str, items: list[tuple[str, int]], *, width: float = 170, height: float = 62
) -> Chart:
    """One column per (label, count), with gridlines and the count on top."""
    chart = Chart(title, width, height)
    left, right, top, bottom = 12.0, width - 4, 6.0, height - 9
    biggest = max([v for _, v in items] + [0])
    step = _nice_step(biggest)
    ceiling = step * max(1, -(-biggest // step)) if biggest else 1
    for k in range(0, int(ceiling) + 1, int(step) or 1):
        y = bottom - (bottom - top) * k / ceiling
        chart.shapes.append(Line(left, y, right, y, GRID, 0.2))
        chart.shapes.append(Text(left - 1.5, y + 1.2, str(k), 7, "end", MUTED))
    slot = (right - left) / max(len(items), 1)
    for index, (label, value) in enumerate(items):
        x = left + index * slot
        h = (bottom - top) * value / ceiling
        chart.shapes.append(Rect(x + slot * 0.18, bottom - h, slot * 0.64, h, BAR))
        chart.shapes.append(Text(x + slot / 2, bottom - h - 1.2, str(value), 7, "middle", INK))
        chart.shapes.append(Text(x + slot / 2, bottom + 4.5, label, 7, "middle", MUTED))
    chart.shapes.append(Line(left, bottom, right, bottom, MUTED, 0.3))
    return chart


def _nice_step(biggest: int) -> int:
    """A round gridline step giving at most five lines."""
    if biggest <= 5:
        return 1
    raw = biggest / 5
    magnitude = int(10 ** (len(str(int(raw))) - 1))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def report_charts(figures: Figures) -> dict[str, Chart]:
    """The report's three charts: cases by category, the weekly trend, on-time rate by team."""
    categories = [(s.name, float(s.count), f"{s.count}件") for s in figures.by_category if s.count]
    teams = [
        (
            short_team(t.name),
            (t.resolve.rate or 0.0) * 100,
            _rate_label(t.resolve.rate, t.resolve.counted),
        )
        for t in figures.timeliness_by_team
    ]
    return {
        "category": horizontal_bars("各监督事项受理数量", categories),
        "trend": columns(
            f"近{len(figures.trend)}周受理趋势（按周一所在周）",
            [(point.label, point.count) for point in figures.trend],
        ),
        "team": horizontal_bars("各监督组按期办结率", teams, scale_max=100, color=ACCENT),
    }


def _rate_label(rate: float | None, counted: int) -> str:
    return "暂无到期" if rate is None else f"{pct(rate)}（{counted}件）"


def to_svg(chart: Chart) -> str:
    """The chart as an inline SVG element (every text escaped)."""
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {chart.width:g} {chart.height:g}"'
        f' width="{chart.width:g}mm" height="{chart.height:g}mm" role="img"'
        f' aria-label="{escape(chart.title, {chr(34): "&quot;"})}"'
        f' font-family="{escape(FONT_STACK)}">'
    ]
    for shape in chart.shapes:
        if isinstance(shape, Rect):
            parts.append(
                f'<rect x="{shape.x:.2f}" y="{shape.y:.2f}" width="{shape.w:.2f}"'
                f' height="{shape.h:.2f}" fill="{shape.fill}"/>'
            )
        elif isinstance(shape, Line):
            parts.append(
                f'<line x1="{shape.x1:.2f}" y1="{shape.y1:.2f}" x2="{shape.x2:.2f}"'
                f' y2="{shape.y2:.2f}" stroke="{shape.stroke}" stroke-width="{shape.width:g}"/>'
            )
        else:
            parts.append(
                f'<text x="{shape.x:.2f}" y="{shape.y:.2f}" font-size="{shape.size * PT:.2f}"'
                f' text-anchor="{shape.anchor}" fill="{shape.fill}">{escape(shape.text)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
