"""Templates and number formats shared by the report's outputs (text, HTML, PDF, XLSX)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from models.calendar import SHANGHAI


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
    env.filters.update(pct=pct, wan=wan, days=days, local=local, count_change=count_change)
    return env


def render_text(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` and join its lines into one paragraph."""
    raw = environment().get_template(template).render(**context)
    return "".join(line.strip() for line in raw.splitlines())


def render_html(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
