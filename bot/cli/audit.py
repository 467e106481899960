"""``lianka audit verify`` and ``lianka audit anchor``: is the keyed, anchored history intact?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import CliContext, fail, json_option, pass_context, print_json, run_with_db

if TYPE_CHECKING:
    from bot.db import SessionFactory
    from bot.services.audit import AuditReport
    from models.anchor import AuditAnchor


@click.group("audit")
def audit_group() -> None:
    """Check the tamper-evident case history."""


@audit_group.command("verify")
@click.option("--case", "number", help="Check only this case (its number).")
@json_option
@pass_context
def audit_verify(cli: CliContext, number: str | None, as_json: bool) -> None:
    """Recompute every case's keyed hash chain, compare what was reported, resolved and assigned
    with the rows, check the sign-in log's chain and the anchor file (var/audit-anchors.log);
    exit 1 and name each problem."""
    import models  # noqa: F401  (registers every table)
    from bot.services.anchors import anchor_path
    from bot.services.audit import verify_audit
    from models.errors import DomainError

    anchor_file = anchor_path(cli.settings.var_dir)

    async def work(sessions: SessionFactory) -> AuditReport:
        async with sessions() as session:
            return await verify_audit(session, number, anchor_file=anchor_file)

    try:
        report = run_with_db(cli.settings, work)
    except DomainError as error:
        fail(error.message)
    last = report.last_anchor
    if as_json:
        print_json(
            {
                "ok": report.ok,
                "cases": report.cases,
                "events": report.events,
                "access_events": report.access_events,
                "anchors": report.anchors,
                "last_anchor": (
                    {"day": last.day, "digest": last.digest, "cases": last.cases} if last else None
                ),
                "problems": [
                    {"case": p.case_number, "seq": p.seq, "problem": p.problem}
                    for p in report.problems
                ],
            }
        )
    elif report.ok:
        click.echo(f"流转记录完整 (OK): {report.cases} 件问题, {report.events} 条记录")
        if last is not None:
            click.echo(
                f"审计锚点：{last.day} {last.digest[:16]}…（共{last.cases}件，{report.anchors}个锚点）"
            )
        else:
            click.echo("尚无审计锚点 (no anchor yet: lianka audit anchor)")
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


@audit_group.command("anchor")
@json_option
@pass_context
def audit_anchor(cli: CliContext, as_json: bool) -> None:
    """Write an anchor now: every case's chain head, chained to the previous anchor, appended to
    var/audit-anchors.log and kept in the database (the scheduler writes one a day)."""
    import models  # noqa: F401  (registers every table)
    from bot.clock import SystemClock
    from bot.services.anchors import anchor_path, write_anchor

    anchor_file = anchor_path(cli.settings.var_dir)

    async def work(sessions: SessionFactory) -> AuditAnchor | None:
        async with sessions() as session:
            return await write_anchor(session, anchor_file, SystemClock().now())

    anchor = run_with_db(cli.settings, work)
    assert anchor is not None
    if as_json:
        print_json(
            {
                "day": anchor.day,
                "digest": anchor.digest,
                "cases": anchor.cases,
                "file": str(anchor_file),
            }
        )
    else:
        click.echo(f"{anchor.line} → {anchor_file}")
