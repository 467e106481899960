"""报表: the analysis report of a period, zone and team in the browser, and as PDF, Word, XLSX and
HTML files, for those it is written for."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.services.console_reports import (
    PERIOD_CHOICES,
    ReportQuery,
    build_console_report,
    download_report,
)
from reports.document import report_sections
from reports.html import svg
from reports.render import cn_time
from reports.report import Report
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.console.render import STAFF, console_page, content_disposition


def _query(request: web.Request) -> ReportQuery:
    q = request.query
    return ReportQuery(
        period=q.get("period", "last_month"),
        first=q.get("from", "")[:20],
        last=q.get("to", "")[:20],
        zone=q.get("zone", "")[:40],
        team=q.get("team", "")[:40],
    )


def _shown(report: Report | None) -> dict[str, Any]:
    """What the page draws of a report: its six sections (paragraphs, tables, charts)."""
    if report is None:
        return {"sections": [], "svg": svg, "generated": ""}
    return {"sections": report_sections(report), "svg": svg, "generated": cn_time(report.now)}


async def reports_page(request: web.Request) -> web.StreamResponse:
    console, query = request.app[CONSOLE], _query(request)
    async with console.sessions() as session:
        built = await build_console_report(
            session, request[STAFF].person, query, policy=console.policy, now=console.clock.now()
        )
    return console_page(
        request,
        "reports",
        title="报表",
        status=400 if built.error else 200,
        query=query,
        periods=PERIOD_CHOICES,
        form=built.form,
        error=built.error,
        r=built.report,
        download_query=urlencode(query.params()),
        **_shown(built.report),
    )


async def report_download(request: web.Request) -> web.StreamResponse:
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        file = await download_report(
            session,
            request[STAFF].person,
            _query(request),
            request.query.get("format", ""),
            policy=console.policy,
            now=console.clock.now(),
        )
    return web.Response(
        body=file.body,
        headers={
            "Content-Type": file.content_type,
            "Content-Disposition": content_disposition(file.name, file.ascii_name),
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get(
        "/console/reports", reports_page, name=f"{CONSOLE_PREFIX}reports", allow_head=False
    )
    router.add_get(
        "/console/reports/download",
        report_download,
        name=f"{CONSOLE_PREFIX}reports-download",
        allow_head=False,
    )
