"""案件: the list of cases the person may see, searched and filtered, a page at a time, and the
same list as an Excel file."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlencode

import xlsxwriter
from aiohttp import web

from bot.services.case_search import (
    EXPORT_CAP,
    FILTER_NAMES,
    CaseExport,
    FoundCase,
    export_cases,
    get_case_list,
    parse_filters,
)
from models.calendar import SHANGHAI
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.console.render import STAFF, console_page, content_disposition

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HEADERS = (
    "受理编号",
    "受理时间",
    "类型",
    "监督事项",
    "企业",
    "监督组",
    "承办人",
    "状态",
    "当前期限",
    "期限情况",
    "督办",
)


def days_text(item: FoundCase) -> str:
    """How a line's deadline stands, in words: 剩N个工作日, 今日到期, 已超期N个工作日."""
    if item.days_left is None:
        return "—"
    if item.line.paused_at is not None:
        return f"暂停计时（剩{max(item.days_left, 0)}个工作日）"
    if item.line.overdue:
        late = -item.days_left
        return f"已超期{late}个工作日" if late > 0 else "已超期"
    return "今日到期" if item.days_left == 0 else f"剩{item.days_left}个工作日"


def query_string(form: Mapping[str, str], **changes: object) -> str:
    """The list's filters as a query string (empty ones left out), with ``changes``."""
    values = {name: form.get(name, "") for name in FILTER_NAMES}
    values.update({key: str(value) for key, value in changes.items()})
    return urlencode({key: value for key, value in values.items() if value})


async def cases_page(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    console = request.app[CONSOLE]
    calendar = await console.calendar()
    async with console.sessions() as session:
        view = await get_case_list(
            session, staff.person, request.query, now=console.clock.now(), calendar=calendar
        )
    return console_page(
        request,
        "cases",
        title="案件",
        status=400 if view.error else 200,
        view=view,
        query_string=query_string,
        days_text=days_text,
        export_cap=EXPORT_CAP,
    )


def local(value: datetime) -> datetime:
    """A UTC time as Excel shows it: Shanghai wall time, no zone."""
    return value.astimezone(SHANGHAI).replace(tzinfo=None)


def workbook(export: CaseExport) -> bytes:
    """The list as an .xlsx: Chinese headers, Shanghai times, a note when it was cut."""
    buffer = io.BytesIO()
    # a name or description starting with "=" stays text: no formula runs when the file is opened
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    sheet = book.add_worksheet("案件")
    bold = book.add_format({"bold": True, "bg_color": "#EEF0F3"})
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    sheet.write_row(0, 0, HEADERS, bold)
    sheet.freeze_panes(1, 0)
    for row, item in enumerate(export.items, start=1):
        line = item.line
        sheet.write_row(
            row,
            0,
            (line.number, "", line.track.label, line.category, item.enterprise or "", line.team),
        )
        sheet.write_datetime(row, 1, local(line.created_at), when)
        sheet.write_row(row, 6, (line.assignee or "", line.status.label))
        if line.due_at is not None:
            sheet.write_datetime(row, 8, local(line.due_at), when)
        sheet.write_row(row, 9, (days_text(item), "督办" if line.supervised else ""))
    if export.capped:
        sheet.write(len(export.items) + 2, 0, f"共{export.total}件，仅导出最新的{EXPORT_CAP}件。")
    sheet.set_column(0, 0, 16)
    sheet.set_column(1, 1, 17)
    sheet.set_column(3, 5, 24)
    sheet.set_column(8, 9, 17)
    book.close()
    return buffer.getvalue()


async def cases_export(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    console = request.app[CONSOLE]
    filters, _ = parse_filters(request.query)
    calendar = await console.calendar()
    now = console.clock.now()
    async with console.sessions() as session:
        export = await export_cases(
            session, staff.person, filters=filters, now=now, calendar=calendar
        )
    name = f"案件列表-{now.astimezone(SHANGHAI):%Y%m%d-%H%M}.xlsx"
    return web.Response(
        body=workbook(export),
        content_type=XLSX,
        headers={"Content-Disposition": content_disposition(name, "cases.xlsx")},
    )


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/console/cases", cases_page, name=f"{CONSOLE_PREFIX}cases", allow_head=False)
    router.add_get(
        "/console/cases.xlsx",
        cases_export,
        name=f"{CONSOLE_PREFIX}cases-export",
        allow_head=False,
    )
