"""``lianka audit verify``: is the hash-chained case history intact?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import CliContext, fail, json_option, pass_context, print_json, run_with_db

if TYPE_CHECKING:
    from bot.db import SessionFactory
    from bot.services.audit import AuditReport


@click.group("audit")
def audit_group() -> None:
    """Check the tamper-evident case history."""


@audit_group.command("verify")
@click.option("--case", "number", help="Check only this case (its number).")
@json_option
@pass_context
def audit_verify(cli: CliContext, number: str | None, as_json: bool) -> None:
    """Recompute every case's hash chain; exit 1 and list each edited, inserted or deleted event."""
    import models  # noqa: F401  (registers every table)
    from bot.services.audit import verify_audit
    from models.errors import DomainError

    async def work(sessions: SessionFactory) -> AuditReport:
        async with sessions() as session:
            return await verify_audit(session, number)

    try:
        report = run_with_db(cli.settings, work)
    except DomainError as error:
        fail(error.message)
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "cases": report.cases,
                "events": report.events,
                "problems": [
                    {"case": p.case_number, "seq": p.seq, "problem": p.problem}
                    for p in report.problems
                ],
            }
        )
    elif report.ok:
        click.echo(f"流转记录完整 (OK): {report.cases} 件问题, {report.events} 条记录")
    else:
        click.echo(
            f"发现 {len(report.problems)} 处问题 (chain problems) in {report.cases} cases:",
            err=True,
        )
        for problem in report.problems:
            where = f"#{problem.seq}" if problem.seq is not None else "end"
            click.echo(f"  {problem.case_number} {where}: {problem.problem}", err=True)
    if not report.ok:
        raise SystemExit(1)
