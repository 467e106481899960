"""``lianka demo-data``: a synthetic history for demos, screenshots and benchmarks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import CliContext, fail, pass_context, run_with_db
from bot.cli.report import parse_now

if TYPE_CHECKING:
    from bot.db import SessionFactory
    from demo import DemoSummary


@click.command("demo-data")
@click.option("--cases", type=click.IntRange(1, 1_000_000), required=True, help="How many cases.")
@click.option("--seed", type=int, default=1, show_default=True, help="Same seed, same history.")
@click.option("--months", type=click.IntRange(1, 120), default=12, show_default=True)
@click.option(
    "--use-cases",
    "through_use_cases",
    is_flag=True,
    help="Write every case through submit_case and the step functions, one transaction each "
    "(about 25 ms a case); by default the same rows are inserted in batches.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Processes that work the batches out, on PostgreSQL (default: one a core).",
)
@click.option("--now", "now_text", help="The history ends at this time (ISO; default: now).")
@pass_context
def demo_data(
    cli: CliContext,
    *,
    cases: int,
    seed: int,
    months: int,
    through_use_cases: bool,
    workers: int | None,
    now_text: str | None,
) -> None:
    """Fill an EMPTY database with enterprises, cards, scans and cases over MONTHS months.

    In bulk on PostgreSQL the tables are filled without their non-unique indexes and foreign
    keys, which are made again and checked at the end: a run killed half-way leaves a
    half-written demo without them — drop the database and run demo-data again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from bot.cli.common import console, reaching_database
    from bot.db import upgrade_database
    from bot.services.calendar import load_calendar
    from demo import NotEmpty, generate_demo
    from demo.load import IndexesMissing

    config = cli.config()
    now = parse_now(now_text)
    with reaching_database(cli.settings):
        upgrade_database(cli.settings.database_url)

    async def work(sessions: SessionFactory) -> DemoSummary:
        async with sessions() as session:
            calendar = await load_calendar(session, config)
        with Progress(
            TextColumn("写入演示数据"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console(),
        ) as progress:
            task = progress.add_task("cases", total=cases)
            return await generate_demo(
                sessions,
                config,
                calendar,
                now,
                cases=cases,
                seed=seed,
                months=months,
                bulk=not through_use_cases,
                tick=lambda n: progress.advance(task, n),
                workers=workers,
            )

    try:
        summary = run_with_db(cli.settings, work)
    except (NotEmpty, IndexesMissing) as error:
        fail(str(error), code=1)
    click.echo(
        f"已生成演示数据：问题 {summary.cases} 件，企业 {summary.enterprises} 家，"
        f"扫码 {summary.scans} 次，工作人员 {summary.people} 人"
    )
    click.echo("状态：" + "，".join(f"{k} {v}" for k, v in sorted(summary.statuses.items())))
