"""Pages are Jinja2 templates in HTML: autoescaped, undefined names are errors."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The web channel's one template environment."""
    return Environment(
        loader=PackageLoader("web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )


def render_page(template: str, **context: Any) -> str:
    """Render ``templates/<template>.html.j2``."""
    return environment().get_template(f"{template}.html.j2").render(**context)
