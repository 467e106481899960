"""``lianka`` — the command line for admins and operators."""

from __future__ import annotations

from pathlib import Path

import click

from bot.cli import (
    accounts,
    audit,
    backup,
    calendar,
    cards,
    cases,
    demo,
    inspectors,
    jobs,
    keys,
    purge,
    report,
    sandbox,
    setup,
    teams,
    web,
)
from bot.cli.common import CliContext


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="LIANKA_CONFIG",
    help="Configuration file (default: lianka.toml, or $LIANKA_CONFIG).",
)
@click.version_option(package_name="lianka", prog_name="lianka")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None) -> None:
    """廉卡 Lianka — intake and follow-up for integrity-supervision contact cards.

    Settings and secrets come from LIANKA_* environment variables or .env;
    the organisation (zones, categories, teams, routing, deadlines) from lianka.toml.
    """
    ctx.obj = CliContext(config_path=config_path)


main.add_command(setup.init)
main.add_command(setup.config_group)
main.add_command(setup.db_group)
main.add_command(setup.run)
main.add_command(cards.cards_group)
main.add_command(calendar.calendar_group)
main.add_command(jobs.jobs_group)
main.add_command(sandbox.sandbox)
main.add_command(inspectors.inspectors_group)
main.add_command(teams.teams_group)
main.add_command(cases.cases_group)
main.add_command(audit.audit_group)
main.add_command(accounts.accounts_group)
main.add_command(backup.backup)
main.add_command(report.report)
main.add_command(demo.demo_data)
main.add_command(web.web)
main.add_command(keys.keys_group)
main.add_command(purge.purge)
