"""The console's 报表 page: the analysis report (分析研判) of a period and scope, exactly as the
leaders receive it (no case list: leaders see clue counts, not clue rows), in the browser and as
PDF, Word, XLSX and HTML files."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.policy import Policy
from cards.fonts import CjkFontMissing
from models.errors import DomainError, InvalidInput, NotFound, PermissionDenied
from models.org import Zone
from models.team import Inspector, Role, Team
from reports.figures import Scope, resolve_scope
from reports.html import write_html
from reports.pdf import render_pdf
from reports.periods import (
    Period,
    current_month,
    current_quarter,
    current_week,
    current_year,
    custom,
    last_half,
    last_month,
    last_quarter,
    last_week,
)
from reports.report import Report, build_report
from reports.word import render_docx
from reports.xlsx import render_xlsx

PERIOD_CHOICES: dict[str, str] = {
    "this_week": "本周",
    "last_week": "上周",
    "this_month": "本月",
    "last_month": "上月",
    "this_quarter": "本季度",
    "last_quarter": "上季度",
    "last_half": "上一个半年",
    "this_year": "本年",
    "custom": "自定义",
}
RELATIVE_PERIODS: dict[str, Callable[[datetime], Period]] = {
    "this_week": current_week,
    "last_week": last_week,
    "this_month": current_month,
    "last_month": last_month,
    "this_quarter": current_quarter,
    "last_quarter": last_quarter,
    "last_half": last_half,
    "this_year": current_year,
}
CUSTOM_MAX_DAYS = 731
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
FORMATS: dict[str, tuple[str, str]] = {
    "pdf": ("application/pdf", "PDF"),
    "docx": (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "Word",
    ),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel"),
    "html": ("text/html; charset=utf-8", "HTML"),
}


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """The 报表 form as typed: a period choice, the custom dates, a zone and a team code."""

    period: str = "last_month"
    first: str = ""
    last: str = ""
    zone: str = ""
    team: str = ""

    def params(self) -> dict[str, str]:
        """The form's fields for a link to the same report (a chart, a download)."""
        fields = {
            "period": self.period,
            "from": self.first,
            "to": self.last,
            "zone": self.zone,
            "team": self.team,
        }
        return {name: value for name, value in fields.items() if value}


@dataclass(frozen=True, slots=True)
class Option:
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class ReportForm:
    """What the form offers this person: every zone, and every team or only their own."""

    zones: list[Option]
    teams: list[Option]
    own_team: Option | None


@dataclass(frozen=True, slots=True)
class ConsoleReport:
    """The form's choices and the report, or, for a wrong entry, why there is none."""

    form: ReportForm
    report: Report | None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A report written in one format: its Chinese file name, an ASCII fallback, the bytes."""

    name: str
    ascii_name: str
    content_type: str
    body: bytes


async def _own_team(session: AsyncSession, actor: Inspector) -> Team | None:
    """The team whose report this person may read alone: a team leader's own supervision team
    (not the dispatcher's, 信访室, whose work is routing, not a team's figures)."""
    if actor.role is not Role.TEAM_LEADER or actor.team_id is None:
        return None
    team = await session.get(Team, actor.team_id)
    if team is None or team.is_dispatcher or not team.active:
        return None
    return team


async def get_report_form(session: AsyncSession, actor: Inspector) -> ReportForm:
    """The analysis report is the leaders' document: leaders and admins read it for any zone
    and team, a team leader for their own team only; everyone else is refused."""
    own = await _own_team(session, actor)
    if not actor.active or (actor.role not in (Role.LEADER, Role.ADMIN) and own is None):
        raise PermissionDenied(
            "分析研判报告仅向委领导、管理员和各监督组组长（本组）提供。",
            detail=f"report refused: inspector {actor.id} is {actor.role}",
        )
    zones = (await session.exec(select(Zone).order_by(col(Zone.id)))).all()
    if own is not None:
        teams = [Option(own.code, own.name)]
    else:
        rows = (await session.exec(select(Team).order_by(col(Team.id)))).all()
        teams = [Option(t.code, t.name) for t in rows if not t.is_dispatcher]
    return ReportForm(
        zones=[Option(z.code, z.name) for z in zones],
        teams=teams,
        own_team=teams[0] if own is not None else None,
    )


def _day(text: str, which: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{which}“{text.strip()}”不是有效的日期，请按“2026-11-01”的格式填写。"
        ) from None
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise InvalidInput(f"{which}超出范围，请填写{EARLIEST_YEAR}年至{LATEST_YEAR}年之间的日期。")
    return day


def choose_period(query: ReportQuery, now: datetime) -> Period:
    """The period the form names; a wrong or missing date is refused in Chinese."""
    if query.period in RELATIVE_PERIODS:
        return RELATIVE_PERIODS[query.period](now)
    if query.period != "custom":
        raise InvalidInput("请选择统计周期。")
    if not query.first.strip() or not query.last.strip():
        raise InvalidInput("自定义统计周期请同时填写开始日期和结束日期。")
    first, last = _day(query.first, "开始日期"), _day(query.last, "结束日期")
    if last < first:
        raise InvalidInput("开始日期不能晚于结束日期，请检查后重新填写。")
    if (last - first).days + 1 > CUSTOM_MAX_DAYS:
        raise InvalidInput("自定义统计周期最长两年，请缩短后重新生成。")
    return custom(first, last)


async def _scope(session: AsyncSession, query: ReportQuery, form: ReportForm) -> Scope:
    team = query.team.strip()
    if form.own_team is not None:
        if team and team != form.own_team.code:
            raise PermissionDenied(
                "您只能查看本组的报表。", detail=f"report refused: team {team} is not theirs"
            )
        team = form.own_team.code
    elif team and team not in {option.code for option in form.teams}:
        raise InvalidInput(f"未找到监督组“{team}”，请从列表中选择。")
    try:
        return await resolve_scope(session, query.zone.strip() or None, team or None)
    except NotFound as error:
        raise InvalidInput(error.message.removesuffix("。") + "，请从列表中选择。") from None


async def build_console_report(
    session: AsyncSession,
    actor: Inspector,
    query: ReportQuery,
    *,
    policy: Policy,
    now: datetime,
) -> ConsoleReport:
    """The report of the form's period and scope as of ``now``, the same figures, summary and
    charts the leaders receive (no case list); a wrong entry gives the form and the reason."""
    form = await get_report_form(session, actor)
    try:
        period = choose_period(query, now)
        scope = await _scope(session, query, form)
    except InvalidInput as error:
        return ConsoleReport(form=form, report=None, error=error.message)
    await session.commit()  # read only: its connection goes back while the report reads
    report = await build_report(
        session,
        config=policy.config,
        calendar=policy.calendar,
        period=period,
        scope=scope,
        now=now,
        with_cases=False,
    )
    return ConsoleReport(form=form, report=report)


def file_name(report: Report, fmt: str) -> str:
    """``分析研判报告_2026年11月_全区.pdf``: what an office files it under."""
    label = report.period.label.replace("（", "_").replace("）", "").replace("至", "-")
    return f"分析研判报告_{label}_{report.scope.label}.{fmt}"


def _render(report: Report, fmt: str) -> bytes:
    writers = {"pdf": render_pdf, "docx": render_docx, "xlsx": render_xlsx, "html": write_html}
    with tempfile.TemporaryDirectory(prefix="lianka-report-") as folder:
        try:
            path = writers[fmt](report, Path(folder) / f"report.{fmt}")
        except CjkFontMissing:
            raise DomainError(
                "服务器未安装中文字体，暂时无法生成PDF，请联系管理员。",
                detail="report pdf: no CJK font",
            ) from None
        return path.read_bytes()


async def download_report(
    session: AsyncSession,
    actor: Inspector,
    query: ReportQuery,
    fmt: str,
    *,
    policy: Policy,
    now: datetime,
) -> ReportFile:
    """The report as a PDF, Word, XLSX or HTML file, for those who may read it (asked first: a
    refusal never depends on what else was wrong with the request)."""
    await get_report_form(session, actor)
    if fmt not in FORMATS:
        raise InvalidInput("请选择下载格式：PDF、Word、Excel 或 HTML。")
    built = await build_console_report(session, actor, query, policy=policy, now=now)
    if built.report is None:
        raise InvalidInput(built.error)
    report = built.report
    body = await asyncio.to_thread(_render, report, fmt)
    return ReportFile(
        name=file_name(report, fmt),
        ascii_name=f"{report.file_stem}.{fmt}",
        content_type=FORMATS[fmt][0],
        body=body,
    )
