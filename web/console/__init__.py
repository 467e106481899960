"""The office console under ``/console/``: staff work Lianka in a browser through the same use
cases and authorisation as the bot. ``add_console`` mounts it on the web server's application,
beside the reporters' pages; the application must have ``console_guard`` among its
middlewares (``web.channel.MIDDLEWARES`` has it)."""

from __future__ import annotations

from types import ModuleType

from aiohttp import web

from bot.services import accounts
from web.console import (
    account,
    assist,
    audit,
    calendar,
    cards,
    case_page,
    cases,
    dispositions,
    home,
    people,
    rectification,
    reports,
)
from web.console.auth import add_sign_in
from web.console.context import CONSOLE, CONSOLE_PREFIX, Console
from web.context import STATIC


def add_console(app: web.Application, console: Console) -> None:
    """The sign-in pages, every console page, and the console's static files; the dummy
    password hash made when the application starts (``accounts.warm_dummy_hash``)."""
    app[CONSOLE] = console

    async def warm(_app: web.Application) -> None:
        await accounts.warm_dummy_hash()

    app.on_startup.append(warm)
    audit.add_audit_tasks(app)
    router = app.router
    router.add_static(
        "/console/static/",
        STATIC,
        name=f"{CONSOLE_PREFIX}static",
        append_version=True,
        follow_symlinks=False,
    )
    add_sign_in(router)
    for module in _PAGES:
        module.add_routes(router)


_PAGES: tuple[ModuleType, ...] = (
    account,
    home,
    cases,
    case_page,
    assist,
    dispositions,
    rectification,
    cards,
    people,
    reports,
    calendar,
    audit,
)
