"""审计: verify the hash-chained case history, and who viewed a reporter's identity when.

开始核验 starts the check in the background and the page follows it: at a province's million
cases the check takes minutes, longer than a proxy waits for a page, and it runs in a process
of its own (``bot.audit_worker``), so this one goes on serving. Its progress and result are in
the database (``bot.services.audit_runs``), so any instance shows them."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from bot.audit_worker import run_audit_in_child
from bot.db import shared_database_url
from bot.services.audit import get_audit_page
from bot.services.audit_runs import (
    AuditRunBusy,
    NoAuditRun,
    latest_audit_run,
    run_audit,
    start_audit_run,
    stop_audit_run,
)
from web.console.context import CONSOLE, CONSOLE_PREFIX, Console
from web.console.render import STAFF, console_page, redirect_after

RESULT_WAIT_S = 5.0
"""How long 开始核验 waits for the check before showing the page: a small database's result
is on the page at once (the check's process starts in one to two seconds); a larger one's page
shows the progress and refreshes itself."""

REFRESH_S = 5
"""How often the page of a check under way reloads itself."""


class AuditTasks:
    """The checks this process is making, cancelled when it stops (each closes its run as
    interrupted, so the page says so at once)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work, name="audit-run")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


AUDIT_TASKS = web.AppKey("lianka_audit_tasks", AuditTasks)


def _page_number(request: web.Request, name: str) -> int:
    text = request.query.get(name, "1")
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 1


async def audit_page(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    person = request[STAFF].person
    async with console.sessions() as session:
        shown = await get_audit_page(
            session,
            person,
            page=_page_number(request, "page"),
            log_page=_page_number(request, "log"),
        )
        run = await latest_audit_run(session, person, now=console.clock.now())
    return console_page(
        request,
        "audit",
        title="审计",
        run=run,
        refresh=REFRESH_S if run is not None and run.running else None,
        views=shown.views,
        access=shown.access,
        pages={"page": shown.views.page, "log": shown.access.page},
    )


async def audit_verify(request: web.Request) -> web.StreamResponse:
    """开始核验: the check starts in the background (one at a time, on any instance), then the
    page, with the result when it came within ``RESULT_WAIT_S``, else its progress."""
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        try:
            run = await start_audit_run(
                session,
                request[STAFF].person,
                now=console.clock.now(),
                anchored=console.anchor_file is not None,
            )
        except AuditRunBusy as busy:
            raise redirect_after(request, "/console/audit", busy.message) from None
    assert run.id is not None
    task = request.app[AUDIT_TASKS].start(_check(console, run.id))
    await asyncio.wait({task}, timeout=RESULT_WAIT_S)  # never cancels the check
    raise redirect_after(request, "/console/audit")


async def audit_stop(request: web.Request) -> web.StreamResponse:
    """停止核验: the check under way stops at its next heartbeat, on whichever instance makes it;
    the page says who stopped it."""
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        try:
            await stop_audit_run(session, request[STAFF].person, now=console.clock.now())
        except NoAuditRun as none:
            raise redirect_after(request, "/console/audit", none.message) from None
    raise redirect_after(request, "/console/audit", "已停止核验，未得出核验结论。")


async def _check(console: Console, run_id: int) -> None:
    """The run's check, in a process of its own where the database can be opened by one (the
    serving process goes on serving meanwhile), else in this one."""
    url = shared_database_url(console.sessions)
    if url is None:
        await run_audit(
            console.sessions, run_id, clock=console.clock, anchor_file=console.anchor_file
        )
    else:
        await run_audit_in_child(
            console.sessions,
            run_id,
            database_url=url,
            anchor_file=console.anchor_file,
            clock=console.clock,
        )


def add_audit_tasks(app: web.Application) -> None:
    """The checks' keeper on ``app``; on shutdown, the checks under way are stopped."""
    tasks = app[AUDIT_TASKS] = AuditTasks()

    async def stop(_app: web.Application) -> None:
        await tasks.close()

    app.on_shutdown.append(stop)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/audit", audit_page, name=f"{CONSOLE_PREFIX}audit", allow_head=False)
    router.add_post("/console/audit/verify", audit_verify, name=f"{CONSOLE_PREFIX}audit-verify")
    router.add_post("/console/audit/stop", audit_stop, name=f"{CONSOLE_PREFIX}audit-stop")
