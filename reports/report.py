"""One analysis report: the figures of a period and the one before, the summary, the case list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from models.anchor import AuditAnchor
from models.calendar import WorkCalendar
from reports.analysis import Analysis, analyse
from reports.figures import CaseLine, Figures, OverdueCase, Scope, compute_figures, list_cases
from reports.periods import Period
from reports.render import (
    amount_change,
    cn_day,
    count_change,
    days,
    pct,
    rate_change,
    render_text,
    wan,
)

NOTE = (
    "统计口径：受理、办结、按期、满意度等数据均指本期受理的问题截至报告生成时的办理情况；"
    "按期指在期限（按工作日计算，含法定节假日调休）内完成签收、受理告知或办结；"
    "办结率=已办结数÷（受理数−反映人撤回数−合并办理数），涉及金额不含撤回和合并办理的问题；"
    "满意率=（满意+基本满意）÷已评价数，每次回访评价均计入；联系卡扫码按扫码时间统计；"
    "超期清单含本期及以前受理、目前仍超期的问题，等待反映人答复前已超期的仍计为超期；"
    "问题线索类问题不显示企业名称；"
    "典型案例只选诉求类问题，只写受理编号和办理情况，不写反映人和企业名称。"
    "问题线索处置和立案（件/人）按委领导批准时间统计，只列数字；"
    "重复件指受理时与前期问题关联的疑似重复件，合并办理按合并时间统计；"
    "整改到位率=本期到期的整改中按期核验整改到位的项数÷本期到期（截至报告生成时）的整改项数。"
)


OVERDUE_HEADER = ("编号", "监督事项", "监督组", "状态", "环节", "期限", "超期天数", "督办")
"""The overdue list's columns, in every format that lists it (document, XLSX)."""


def overdue_cells(case: OverdueCase) -> tuple[str, str, str, str, str, str, int, str]:
    """One overdue appeal as the list shows it (``OVERDUE_HEADER``)."""
    return (
        case.number,
        case.category,
        case.team,
        case.status.label,
        case.clock.label,
        cn_day(case.due_at, year=True),
        case.overdue_workdays,
        "是" if case.supervised else "",
    )


def overdue_notes(f: Figures, listed: int) -> list[str]:
    """What an overdue list of ``listed`` appeals leaves out, said under it: the later appeals,
    and the clues (only ever counted)."""
    notes = []
    appeals = f.overdue_count - f.overdue_clues
    if appeals > listed:
        notes.append(f"另有{appeals - listed}件未列出（以上为期限最早的{listed}件）。")
    if f.overdue_clues:
        notes.append(f"另有问题线索{f.overdue_clues}件超期未办结，按规定只列件数，不列明细。")
    return notes


def no_overdue_list(f: Figures) -> str:
    """What stands in place of an overdue list with no appeal in it."""
    if f.overdue_clues:
        return f"超期未办结的均为问题线索，共{f.overdue_clues}件，按规定只列件数，不列明细。"
    return "目前无超期未办结问题。"


def duration_text(f: Figures) -> str:
    """How long resolving took, extensions and 督办, in one sentence."""
    tail = f"经批准延期{f.extensions}次（{f.extended_cases}件），督办{f.supervised}件。"
    if f.median_workdays is None:
        return "本期受理的问题尚无办结。" + tail
    return (
        f"已办结问题办结用时中位数{days(f.median_workdays)}个工作日，"
        f"90%的问题在{days(f.p90_workdays)}个工作日内办结。" + tail
    )


@dataclass(frozen=True, slots=True)
class Change:
    """A main figure this period and last, and the change (环比)."""

    label: str
    unit: str
    current: str
    previous: str
    change: str
    kind: str  # count, rate or amount (元)
    current_value: float | None
    previous_value: float | None


@dataclass
class Report:
    organisation: str
    title: str
    figures: Figures
    previous: Figures
    changes: list[Change]
    summary: str
    cases: list[CaseLine] | None
    analysis: Analysis
    anchor: str | None = None  # the newest 审计锚点, one line: its date, digest and case count

    @property
    def period(self) -> Period:
        return self.figures.period

    @property
    def scope(self) -> Scope:
        return self.figures.scope

    @property
    def now(self) -> datetime:
        return self.figures.now

    @property
    def file_stem(self) -> str:
        scope = ""
        if self.scope.zone_id is not None:
            scope += f"-zone{self.scope.zone_id}"
        if self.scope.team_id is not None:
            scope += f"-team{self.scope.team_id}"
        return f"lianka-report-{self.period.key}{scope}"


def main_changes(current: Figures, previous: Figures) -> list[Change]:
    """The main figures compared with the previous period."""

    def count(label: str, unit: str, a: int, b: int) -> Change:
        return Change(label, unit, str(a), str(b), count_change(a, b), "count", a, b)

    def rate(label: str, a: float | None, b: float | None) -> Change:
        return Change(label, "", pct(a), pct(b), rate_change(a, b), "rate", a, b)

    def amount(label: str, a: int, b: int) -> Change:
        return Change(label, "万元", wan(a), wan(b), amount_change(a, b), "amount", a, b)

    return [
        count("受理企业反映问题", "件", current.received, previous.received),
        count("已办结", "件", current.resolved, previous.resolved),
        rate("办结率", current.resolved_rate, previous.resolved_rate),
        rate("按期办结率", current.on_time_rate, previous.on_time_rate),
        rate("满意率", current.satisfaction_rate, previous.satisfaction_rate),
        amount("涉及金额", current.amount_involved_yuan, previous.amount_involved_yuan),
        amount("协调落实资金", current.amount_coordinated_yuan, previous.amount_coordinated_yuan),
        count("收集问题线索", "条", current.clues, previous.clues),
        count("移交问题线索", "条", current.clues_transferred, previous.clues_transferred),
        count("反映问题企业", "家", current.enterprises, previous.enterprises),
        count("联系卡扫码", "次", current.cards_scanned, previous.cards_scanned),
        count("重办", "件", current.reopened, previous.reopened),
        count("督办", "件", current.supervised, previous.supervised),
        *filed_changes(current, previous),
        *repeat_changes(current, previous),
        rate("整改到位率", current.rectification.rate, previous.rectification.rate),
    ]


def filed_changes(current: Figures, previous: Figures) -> list[Change]:
    """立案 (issue 17): 件 and 人 placed on file, this period and last."""
    a, b = current.filed.cases, previous.filed.cases
    c, d = current.filed.people, previous.filed.people
    return [
        Change("立案审查", "件", str(a), str(b), count_change(a, b), "count", a, b),
        Change("立案人数", "人", str(c), str(d), count_change(c, d), "count", c, d),
    ]


def repeat_changes(current: Figures, previous: Figures) -> list[Change]:
    """重复件 (issue 17): flagged among the cases received, and merged."""
    a, b = current.repeats.flagged, previous.repeats.flagged
    c, d = current.repeats.merged, previous.repeats.merged
    return [
        Change("疑似重复件", "件", str(a), str(b), count_change(a, b), "count", a, b),
        Change("合并办理重复件", "件", str(c), str(d), count_change(c, d), "count", c, d),
    ]


def summary_text(organisation: str, figures: Figures, previous: Figures) -> str:
    """The summary paragraph in the voice of the commission's reports."""
    return render_text(
        "summary.j2", organisation=organisation, f=figures, p=previous, as_of=figures.now
    )


async def build_report(
    session: AsyncSession,
    *,
    config: LiankaConfig,
    calendar: WorkCalendar,
    period: Period,
    scope: Scope,
    now: datetime,
    with_cases: bool = True,
) -> Report:
    """Compute the figures of ``period`` and of the period before, and the case list, all read
    from one snapshot of the database (``snapshot``). The snapshot is a connection of its own:
    a caller that has only read ends its transaction first (commit), so that it does not hold
    one connection of the pool while waiting for another — reports asked for by more people at
    once than the pool has connections would otherwise wait for each other until they fail."""
    async with snapshot(session) as reading:
        await reading_settings(reading)
        figures = await compute_figures(reading, period, scope, calendar, now)
        previous = await compute_figures(
            reading, period.previous(), scope, calendar, now, detail=False
        )
        cases = await list_cases(reading, figures, now) if with_cases else None
        anchor = await anchor_line(reading)
    organisation = config.organisation.name
    title = f"{organisation}企业反映问题分析研判报告"
    return Report(
        organisation=organisation,
        title=title,
        figures=figures,
        previous=previous,
        changes=main_changes(figures, previous),
        summary=summary_text(organisation, figures, previous),
        cases=cases,
        analysis=analyse(
            figures,
            previous,
            on_time_target=config.reports.on_time_target,
            satisfaction_target=config.reports.satisfaction_target,
            rectification_target=config.rectification.target,
        ),
        anchor=anchor,
    )


@asynccontextmanager
async def snapshot(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A session of its own for the report's reads, on a connection of its own: one read
    transaction, so that every statement sees the database as it stood at the first (a case
    received between two statements is in none of them, not listed without its clocks).

    PostgreSQL: ``REPEATABLE READ`` and ``READ ONLY`` (one snapshot for the transaction; at
    the default ``READ COMMITTED`` each statement takes its own). SQLite: the driver sends no
    ``BEGIN`` before a SELECT, so each statement would read the newest commit; an explicit
    ``BEGIN`` makes them one read transaction, which in WAL mode reads one snapshot (writers go
    on meanwhile). The caller's session is left as it was (its transaction, its writes after the
    report). A session bound to a connection rather than an engine is read as it is."""
    engine = session.bind
    if not isinstance(engine, AsyncEngine):
        yield session
        return
    async with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        else:
            await connection.exec_driver_sql("BEGIN")
        async with AsyncSession(bind=connection, expire_on_commit=False) as reading:
            yield reading  # nothing written: the connection's end rolls the reading back


REPORT_WORK_MEM = "64MB"
"""PostgreSQL's memory for one sort or hash of the report (4 MB by default): a province's month
(91,600 cases, 300,000 clocks) is sorted and grouped in memory instead of in files."""


async def reading_settings(session: AsyncSession) -> None:
    """On PostgreSQL, for the report's transaction only: no JIT compilation (the report's
    statements each cost a few hundred milliseconds, and compiling them cost 70–160 ms more
    apiece at a million cases) and ``REPORT_WORK_MEM`` for its sorts."""
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return
    connection = await session.connection()
    await connection.exec_driver_sql("SET LOCAL jit = off")
    await connection.exec_driver_sql(f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'")


async def anchor_line(session: AsyncSession) -> str | None:
    """The newest audit anchor, as the report prints it (None before the first one)."""
    newest = (
        await session.exec(select(AuditAnchor).order_by(col(AuditAnchor.id).desc()).limit(1))
    ).first()
    return newest.line if newest is not None else None
