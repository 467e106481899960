"""``lianka audit verify`` and ``lianka audit anchor``: is the keyed, anchored history intact?"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import CliContext, fail, json_option, pass_context, print_json, run_with_db

if TYPE_CHECKING:
    from pathlib import Path

    from bot.db import SessionFactory
    from bot.services.audit import AuditReport
    from models.anchor import AuditAnchor
    from models.event import ChainProblem


@click.group("audit")
def audit_group() -> None:
    """Check the tamper-evident case history."""


def missing_anchors(anchor_file: Path, expected: tuple[str, ...]) -> list[ChainProblem]:
    """Each expected anchor (a digest's first 16+ hex digits) not in the anchor file's chain."""
    from bot.services.anchors import ANCHORS, check_anchor_file, read_anchor_lines
    from models.event import ChainProblem

    wanted = [text.strip().rstrip("…").lower() for text in expected]
    short = [text for text in wanted if len(text) < 16]
    if short:
        fail(f"--expect-anchor 至少需要16位十六进制数字：{short[0]}", code=2)
    lines, _ = check_anchor_file(read_anchor_lines(anchor_file) or [])
    digests = [line.digest for line in lines]
    return [
        ChainProblem(
            ANCHORS,
            None,
            f"anchor {prefix[:16]}… expected (a report or a copy printed it) is not in the "
            "anchor file: the file was cut back or replaced",
        )
        for prefix in wanted
        if not any(digest.startswith(prefix) for digest in digests)
    ]


@audit_group.command("verify")
@click.option("--case", "number", help="Check only this case (its number).")
@click.option(
    "--expect-anchor",
    "expected",
    multiple=True,
    help="An anchor's digest (16+ hex digits, as a 分析研判 report or an off-host copy of the "
    "anchor file prints it) that must still be in the anchor file: a file cut back is found.",
)
@json_option
@pass_context
def audit_verify(
    cli: CliContext, number: str | None, expected: tuple[str, ...], as_json: bool
) -> None:
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
    report.problems += missing_anchors(anchor_file, expected)
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


def append_only_note(database_url: str) -> str:
    """What ``lianka db upgrade`` says about the audit rows: which role the application uses
    and whether the triggers alone keep it from changing them (a table's owner or a superuser
    can drop a trigger)."""
    import asyncio

    from sqlalchemy import text

    from bot.db import create_engine

    async def read() -> tuple[str, bool, str | None] | None:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                if connection.dialect.name != "postgresql":
                    return None
                row = (
                    await connection.execute(
                        text(
                            "SELECT current_user, "
                            "(SELECT rolsuper FROM pg_roles WHERE rolname = current_user), "
                            "(SELECT tableowner FROM pg_tables WHERE tablename = 'case_events' "
                            "AND schemaname = current_schema())"
                        )
                    )
                ).one()
                return str(row[0]), bool(row[1]), row[2]
        finally:
            await engine.dispose()

    found = asyncio.run(read())
    if found is None:
        return (
            "流转记录、审计锚点和登录记录只能追加：SQLite 触发器拒绝修改和删除；能改写数据库文件的人"
            "可以移除触发器，这类篡改由 lianka audit verify 和审计锚点发现。"
        )
    role, superuser, owner = found
    note = f"应用账户 {role} 不能修改或删除流转记录（由触发器保证）"
    if superuser or owner == role:
        what = "超级用户" if superuser else "这些表的所有者"
        return (
            f"{note}；但 {role} 是{what}，可以移除触发器。生产环境请由另一账户执行升级并拥有"
            f"这些表，应用账户只授予 SELECT、INSERT（及其余表的 UPDATE、DELETE）。"
        )
    return f"{note}；{role} 不是这些表的所有者，无法移除触发器。"
