"""``lianka purge [--dry-run]``: remove the personal data kept past ``[retention]``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import CliContext, json_option, pass_context, print_json, run_with_db
from bot.cli.report import parse_now

if TYPE_CHECKING:
    from bot.db import SessionFactory
    from bot.services.retention import PurgePlan


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be removed; change nothing.")
@click.option("--now", "now_text", help="Purge as at this time (ISO; default: now).")
@json_option
@pass_context
def purge(cli: CliContext, dry_run: bool, now_text: str | None, as_json: bool) -> None:
    """Remove drafts, notice texts, contacts and receipt codes kept past [retention]."""
    import models  # noqa: F401  (registers every table)
    from bot.services.retention import PurgeKind
    from bot.services.retention import purge as run_purge

    config = cli.config()
    now = parse_now(now_text)

    async def work(sessions: SessionFactory) -> PurgePlan:
        async with sessions() as session:
            return await run_purge(session, config, now, dry_run=dry_run)

    plan = run_with_db(cli.settings, work)
    if as_json:
        print_json(
            {"dry_run": dry_run, "total": plan.total}
            | {kind.value: plan[kind] for kind in PurgeKind}
        )
        return
    verb = "将删除" if dry_run else "已删除"
    title = "试运行，未作任何修改" if dry_run else "已按保存期限清理"
    click.echo(f"{title}（{verb}共 {plan.total} 项）：")
    for kind in PurgeKind:
        click.echo(f"  {kind.label}：{plan[kind]}")
