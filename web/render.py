"""Pages are Jinja2 templates in HTML: autoescaped, undefined names are errors."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from notifications.render import local_date, local_time, yuan_to_wan
from notifications.texts import IDENTITY_CHOICES


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The web channel's one template environment (times in Asia/Shanghai, amounts in 万元,
    with the chat's filters)."""
    env = Environment(
        loader=PackageLoader("web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters["local"] = local_time
    env.filters["local_date"] = local_date
    env.filters["wan"] = yuan_to_wan
    env.globals["identity_choices"] = IDENTITY_CHOICES
    return env


def render_page(template: str, **context: Any) -> str:
    """Render ``templates/<template>.html.j2``."""
    return environment().get_template(f"{template}.html.j2").render(**context)
