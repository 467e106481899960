"""The console's pages: one frame (the organisation, the person signed in, the menu for their
role, a one-time notice), Jinja2 templates under ``templates/console/``, and the answer after a
form (Post/Redirect/Get)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from aiohttp import web

from bot.services.console_sessions import Staff
from models.team import Role
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.render import render_page

STAFF = web.RequestKey("lianka_console_staff", Staff)
CSRF = web.RequestKey("lianka_console_csrf", str)
NOTICE = web.RequestKey("lianka_console_notice", str)
PENDING_NOTICE = web.RequestKey("lianka_console_pending_notice", str)


def _everyone(staff: Staff) -> bool:
    return True


def _admin(staff: Staff) -> bool:
    return staff.person.role is Role.ADMIN


def _oversight(staff: Staff) -> bool:
    return staff.person.role in (Role.ADMIN, Role.LEADER)


def _leader(staff: Staff) -> bool:
    return staff.person.role is Role.LEADER


def _reports(staff: Staff) -> bool:
    """Leaders and admins, and a team leader for their own team (not the 信访室)."""
    return _oversight(staff) or (staff.person.role is Role.TEAM_LEADER and not staff.dispatcher)


MENU: tuple[tuple[str, str, str, Callable[[Staff], bool]], ...] = (
    ("工作台", "home", "/console/", _everyone),
    ("案件", "cases", "/console/cases", _everyone),
    ("联系卡", "cards", "/console/cards", _admin),
    ("人员", "people", "/console/people", _admin),
    ("线索审批", "dispositions", "/console/dispositions", _leader),
    ("报表", "reports", "/console/reports", _reports),
    ("日历", "calendar", "/console/calendar", _everyone),
    ("审计", "audit", "/console/audit", _oversight),
)
"""The menu: label, the route name (``console-<name>``) that must exist for the item to show,
its address, and who sees it (what each page allows is decided by its use case)."""


@dataclass(frozen=True, slots=True)
class MenuItem:
    label: str
    url: str
    current: bool


def _menu(request: web.Request, staff: Staff) -> list[MenuItem]:
    names = {route.name for route in request.app.router.routes() if route.name}
    path = request.path
    return [
        MenuItem(
            label,
            url,
            path == url if url == "/console/" else path.startswith(url),
        )
        for label, name, url, shown in MENU
        if f"{CONSOLE_PREFIX}{name}" in names and shown(staff)
    ]


def static_url(request: web.Request, name: str) -> str:
    """A stylesheet's or image's address, versioned (cached a day)."""
    return str(request.app.router[f"{CONSOLE_PREFIX}static"].url_for(filename=name))


def frame_context(request: web.Request) -> dict[str, Any]:
    """What the frame needs on every page, signed in or not."""
    console = request.app[CONSOLE]
    staff = request.get(STAFF)
    return {
        "organisation": console.config.organisation.name,
        "staff": staff,
        "csrf": request.get(CSRF, ""),
        "nav": _menu(request, staff) if staff is not None else [],
        "notice": request.get(NOTICE),
        "static": lambda name: static_url(request, name),
    }


def console_page(
    request: web.Request, template: str, *, title: str, status: int = 200, **context: Any
) -> web.Response:
    """``templates/console/<template>.html.j2`` in the console's frame."""
    body = render_page(f"console/{template}", title=title, **frame_context(request), **context)
    return web.Response(
        body=body.encode("utf-8"), status=status, content_type="text/html", charset="utf-8"
    )


def redirect_after(
    request: web.Request, location: str, notice: str | None = None
) -> web.HTTPSeeOther:
    """After a form that changed something: go to ``location`` (303), showing ``notice`` once
    there (the middleware keeps it with the session). Raise what this returns."""
    if notice:
        request[PENDING_NOTICE] = notice
    return web.HTTPSeeOther(location)


def content_disposition(name: str, fallback: str | None = None, *, inline: bool = False) -> str:
    """How a file is given: shown in place or downloaded, under its Chinese name (RFC
    5987/6266) and, for old clients, an ASCII ``fallback``."""
    kind = "inline" if inline else "attachment"
    plain = f'; filename="{fallback}"' if fallback else ""
    return f"{kind}{plain}; filename*=UTF-8''{quote(name, safe='')}"
