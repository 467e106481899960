"""``lianka report``: the analysis report (分析研判) for a period, in PDF, Word, XLSX and HTML."""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.common import CliContext, fail, pass_context, run_with_db

if TYPE_CHECKING:
    from bot.db import SessionFactory
    from reports.outputs import Format
    from reports.periods import Period

FORMATS = ("pdf", "docx", "xlsx", "html")


def parse_now(value: str | None) -> datetime:
    """``--now``: an ISO time (Asia/Shanghai if no zone is given), or the wall clock."""
    from bot.clock import SystemClock
    from models.calendar import SHANGHAI
    from models.types import utc

    if value is None:
        return SystemClock().now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now 时间格式不正确：{value}（例如 2026-12-01T09:00）", code=2)
    return utc(moment if moment.tzinfo else moment.replace(tzinfo=SHANGHAI))


def choose_period(kind: str, now: datetime, first: date | None, last: date | None) -> Period:
    from reports import periods

    if kind == "custom":
        if first is None or last is None:
            fail("--period custom 需要同时给出 --from 和 --to（YYYY-MM-DD）", code=2)
        if last < first:
            fail("--to 不能早于 --from", code=2)
        return periods.custom(first, last)
    if first is not None or last is not None:
        fail("--from/--to 只用于 --period custom", code=2)
    return {
        "week": periods.last_week,
        "month": periods.last_month,
        "quarter": periods.last_quarter,
        "half": periods.last_half,
    }[kind](now)


def parse_formats(value: str) -> list[Format]:
    from reports.outputs import Format

    chosen = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in FORMATS]
    if unknown or not chosen:
        fail(f"--format 只能是 {','.join(FORMATS)} 的组合，收到：{value}", code=2)
    return [Format(part) for part in dict.fromkeys(chosen)]


@click.command("report")
@click.option(
    "--period",
    "kind",
    type=click.Choice(["week", "month", "quarter", "half", "custom"]),
    default="month",
    show_default=True,
    help="The last complete week (Mon–Sun), month, quarter or half-year in Asia/Shanghai, "
    "or custom.",
)
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), help="First day (custom).")
@click.option(
    "--to", "last", type=click.DateTime(["%Y-%m-%d"]), help="Last day, included (custom)."
)
@click.option("--zone", help="Only this zone (its code, e.g. jkq).")
@click.option("--team", help="Only this team (its code, e.g. business_env).")
@click.option(
    "--format",
    "formats",
    default="pdf,docx,xlsx,html",
    show_default=True,
    help="Comma-separated: pdf, docx (Word), xlsx, html.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("var/reports"),
    show_default=True,
    help="Folder for the files.",
)
@click.option("--now", "now_text", help="Report as of this time (ISO; default: now).")
@pass_context
def report(
    cli: CliContext,
    *,
    kind: str,
    first: datetime | None,
    last: datetime | None,
    zone: str | None,
    team: str | None,
    formats: str,
    out: Path,
    now_text: str | None,
) -> None:
    """Write the analysis report (分析研判) of a period as PDF, Word (DOCX), XLSX and/or HTML."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from bot.cli.common import console
    from bot.services.calendar import load_calendar
    from cards.fonts import CjkFontMissing
    from models.errors import DomainError
    from reports.figures import resolve_scope
    from reports.outputs import write_report
    from reports.report import build_report

    config = cli.config()
    now = parse_now(now_text)
    period = choose_period(
        kind, now, first.date() if first else None, last.date() if last else None
    )
    chosen = parse_formats(formats)
    timings: dict[str, float] = {}

    async def work(sessions: SessionFactory) -> list[Path]:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TimeElapsedColumn(),
            console=console(),
            transient=True,
        ) as progress:
            task = progress.add_task(f"统计 {period.label} 数据", total=1 + len(chosen))
            started = time.perf_counter()
            async with sessions() as session:
                calendar = await load_calendar(session, config)
                scope = await resolve_scope(session, zone, team)
                await session.commit()  # read only: the report reads on a connection of its own
                built = await build_report(
                    session, config=config, calendar=calendar, period=period, scope=scope, now=now
                )
            timings["figures"] = time.perf_counter() - started
            progress.advance(task)

            def written(fmt: Format, path: Path) -> None:
                timings[fmt.value] = time.perf_counter() - started - sum(timings.values())
                progress.update(task, advance=1, description=f"已写入 {path.name}")

            files = write_report(built, chosen, out, written)
            return list(files.values())

    try:
        paths = run_with_db(cli.settings, work)
    except DomainError as error:
        fail(error.message, code=1)
    except CjkFontMissing as error:
        fail(str(error), code=1)
    for path in paths:
        click.echo(f"已生成 {path}")
    click.echo("用时 " + "，".join(f"{name} {seconds:.2f}s" for name, seconds in timings.items()))
