"""Templates and number formats shared by the report's outputs (text, HTML, PDF, XLSX)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from models.calendar import SHANGHAI
from reports.periods import cn_date


def pct(rate: float | None) -> str:
    """A ratio as a percentage with one decimal (``0.973`` → ``97.3%``); ``—`` when undefined."""
    if rate is None:
        return "—"
    value = (Decimal(rate) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{value}%"


def wan(yuan: int | None) -> str:
    """元 shown in 万元 with at most two decimals (``27_960_000`` → ``2796``, ``125_000`` →
    ``12.5``)."""
    if yuan is None:
        return "—"
    value = (Decimal(yuan) / 10000).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = format(value.normalize(), "f")
    return "0" if text in ("0", "-0") else text


def wan_number(yuan: int | None) -> float | None:
    """万元 as a number, for spreadsheets (formatted there)."""
    return None if yuan is None else yuan / 10000


def days(value: float | int | None) -> str:
    if value is None:
        return "—"
    return f"{value:g}"


def local(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return "—"
    return value.astimezone(SHANGHAI).strftime(fmt)


def cn_day(value: datetime | None, *, year: bool = False) -> str:
    """A moment's Shanghai date the Chinese way, unpadded: ``7月2日`` (``2026年7月2日``)."""
    if value is None:
        return "—"
    return cn_date(value.astimezone(SHANGHAI).date(), year=year)


def cn_time(value: datetime | None) -> str:
    """``2026年7月2日 09:05``: a date people read, with the time of day."""
    if value is None:
        return "—"
    return f"{cn_day(value, year=True)} {value.astimezone(SHANGHAI):%H:%M}"


def local_naive(value: datetime | None) -> datetime | None:
    """Shanghai wall time without a zone, as spreadsheets keep dates."""
    if value is None:
        return None
    return value.astimezone(SHANGHAI).replace(tzinfo=None)


def count_change(current: int, previous: int) -> str:
    """环比 for a count: ``+12（+10.5%）``, ``持平``, or ``+5（上期为0）``."""
    delta = current - previous
    if delta == 0:
        return "持平"
    sign = "+" if delta > 0 else "-"
    if previous == 0:
        return f"{sign}{abs(delta)}（上期为0）"
    return f"{sign}{abs(delta)}（{sign}{pct(abs(delta) / previous)}）"


def amount_change(current: int, previous: int) -> str:
    delta = current - previous
    if delta == 0:
        return "持平"
    sign = "+" if delta > 0 else "-"
    if previous == 0:
        return f"{sign}{wan(abs(delta))}万元（上期为0）"
    return f"{sign}{wan(abs(delta))}万元（{sign}{pct(abs(delta) / previous)}）"


def rate_change(current: float | None, previous: float | None) -> str:
    """环比 for a rate, in percentage points."""
    if current is None or previous is None:
        return "—"
    points = (Decimal(current - previous) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if points == 0:
        return "持平"
    return f"{'+' if points > 0 else ''}{points}个百分点"


def points_text(current: float | None, previous: float | None) -> str:
    """A rate's change in words: ``提高5.0个百分点``, ``下降2.5个百分点``, ``持平``."""
    if current is None or previous is None:
        return ""
    points = (Decimal(current - previous) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if points == 0:
        return "持平"
    return f"{'提高' if points > 0 else '下降'}{abs(points)}个百分点"


def short_team(name: str) -> str:
    """``“营商环境”立项监督组`` → ``营商环境`` for chart labels."""
    short = name.removesuffix("立项监督组").strip('“”"')
    return short.replace("”", "").replace("“", "") or name


@lru_cache(maxsize=1)
def environment() -> Environment:
    """One environment: ``*.html.j2`` autoescaped, plain-text templates (the summary) not;
    undefined names are errors."""
    env = Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters.update(
        pct=pct,
        wan=wan,
        days=days,
        local=local,
        count_change=count_change,
        cn_day=cn_day,
        cn_time=cn_time,
        points=points_text,
    )
    return env


def render_text(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` and join its lines into one paragraph."""
    raw = environment().get_template(template).render(**context)
    return "".join(line.strip() for line in raw.splitlines())


def render_paragraphs(template: str, macro: str, *args: Any) -> list[str]:
    """Call ``macro`` of ``templates/<template>``: its paragraphs, each a run of lines joined
    into one and ended by ``¶``; empty ones (a rule that found nothing) left out."""
    module = environment().get_template(template).make_module()
    raw = str(getattr(module, macro)(*args))
    paragraphs = []
    for chunk in raw.split("¶"):
        text = "".join(line.strip() for line in chunk.splitlines())
        if text:
            paragraphs.append(text)
    return paragraphs


def render_html(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
