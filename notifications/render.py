"""Messages are Jinja2 templates in Telegram HTML: autoescaped, strict, times in Asia/Shanghai.

A queued notice (``models.notification.Notice``: a template and plain parameters) is rendered
by its channel: ``telegram_html`` when the sender sends it, ``page_html`` when a web page shows
it. Telegram's HTML subset is valid HTML, so a page shows the same text with ``<br>`` for the
line breaks.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from models.notification import Notice, Notification
from notifications.texts import IDENTITY_CHOICES

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKDAYS = "一二三四五六日"


def local_time(value: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware datetime as people read it here: Asia/Shanghai."""
    if value.tzinfo is None:
        raise ValueError("naive datetime in a template")
    return value.astimezone(SHANGHAI).strftime(fmt)


def local_date(value: datetime) -> str:
    """``2026年12月01日（周二）`` in Asia/Shanghai."""
    local = value.astimezone(SHANGHAI)
    return f"{local:%Y年%m月%d日}（周{WEEKDAYS[local.weekday()]}）"


def yuan_to_wan(value: int | None) -> str:
    """An amount kept in 元 shown in 万元 with at most four decimals (``125000`` → ``12.5``)."""
    if value is None:
        return "—"
    wan = (Decimal(value) / Decimal(10000)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    text = format(wan.normalize(), "f")
    return text


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The one template environment: autoescape on, undefined names are errors."""
    env = Environment(
        loader=PackageLoader("notifications", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters["local"] = local_time
    env.filters["local_date"] = local_date
    env.filters["wan"] = yuan_to_wan
    env.globals["identity_choices"] = IDENTITY_CHOICES
    return env


def render(template: str, **context: Any) -> str:
    """Render ``templates/<template>.j2`` to Telegram HTML."""
    return environment().get_template(f"{template}.j2").render(**context).strip()


def render_notice(notice: Notice, *, web: bool = False) -> str:
    """A notice as Telegram HTML; ``web``: for a web page, where a template says what to do on
    the page instead of in the chat (``{% if web %}``: no "点“回复”", no /my)."""
    return render(notice.template, web=web, **notice.context())


PURGED = "（该消息的内容已按保存期限删除）"


def purged(row: Notification) -> bool:
    """True once retention removed what the row said (``lianka purge``): the row is kept."""
    return row.notice is None and not row.text


def _text(row: Notification, *, web: bool) -> str:
    notice = row.notice
    if notice is not None:
        return render_notice(notice, web=web)
    return row.text or PURGED


def telegram_html(row: Notification) -> str:
    """What the sender sends for a row: its notice rendered now, or the text a row queued
    before notices carried."""
    return _text(row, web=False)


def page_html(row: Notification) -> Markup:
    """A row as safe HTML for a web page: the notice in its page wording, line breaks as
    ``<br>``. The template escaped every parameter, and Telegram's tags are HTML tags."""
    return Markup("<br>\n".join(_text(row, web=True).split("\n")))  # noqa: S704 (escaped by the template)


def page_text(row: Notification) -> str:
    """A notice as plain text: the page's wording, tags stripped, entities read back (a
    text-message gateway, the console's list of notices)."""
    return page_html(row).striptags()
