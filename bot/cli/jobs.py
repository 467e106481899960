"""``lianka jobs run``: run a scheduled job once by hand."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import (
    CliContext,
    fail,
    json_option,
    pass_context,
    print_json,
    print_table,
    run_with_db,
)

if TYPE_CHECKING:
    from bot.blobs import BlobPurge
    from bot.db import SessionFactory
    from bot.services.sweep import Notice, SweepReport

JOBS = ("deadline-sweep", "agenda", "blob-purge")


def _parse_now(value: str | None) -> datetime:
    """``--now`` as ISO 8601; without a zone it is Shanghai time."""
    from bot.clock import SystemClock
    from models.calendar import SHANGHAI
    from models.types import utc

    if value is None:
        return SystemClock().now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--now 应为 ISO 8601 时间，如 2026-11-27T09:00 (not an ISO time: {value})", code=2)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return utc(moment)


def _who(notice: Notice) -> str:
    from models.notification import RecipientKind

    if notice.recipient.kind is RecipientKind.REPORTER:
        return "反映人"
    return notice.recipient.name or f"#{notice.recipient.id}"


def _sweep_rows(report: SweepReport) -> list[dict[str, Any]]:
    """One row per step taken on a clock, with who is (or would be) told."""
    rows: list[dict[str, Any]] = []
    for plan in report.plans:
        for step in plan.steps:
            notices = [n for n in plan.notices if n.kind == f"{plan.kind.value}_{step}"]
            rows.append(
                {
                    "case": plan.case_number,
                    "clock": plan.kind.value,
                    "step": step,
                    "to": [_who(n) for n in notices],
                    "keys": [n.key for n in notices],
                }
            )
    for notice in report.admin_notices:
        rows.append(
            {
                "case": None,
                "clock": None,
                "step": notice.kind,
                "to": [_who(notice)],
                "keys": [notice.key],
            }
        )
    return rows


@click.group("jobs")
def jobs_group() -> None:
    """Scheduled jobs (they run by themselves inside `lianka run`)."""


@jobs_group.command("run")
@click.argument("job", type=click.Choice(JOBS))
@click.option(
    "--now", "now_text", metavar="ISO", help="Act as if it were this moment (default: now)."
)
@click.option("--dry-run", is_flag=True, help="List what would be sent; change nothing.")
@json_option
@pass_context
def jobs_run(cli: CliContext, job: str, now_text: str | None, dry_run: bool, as_json: bool) -> None:
    """Run JOB once: deadline-sweep (warnings, overdue, escalation, follow-up), agenda, or
    blob-purge (web uploads nothing references, a day after they were last put)."""
    if job == "blob-purge" and now_text is not None:
        # a pretended later moment would make every upload look a day old and live drafts dead
        fail("blob-purge 不支持 --now：它只按当前时间清理，以免误删仍在使用的材料。", code=2)
    now = _parse_now(now_text)
    if job == "blob-purge":
        _blob_purge(cli, now, dry_run=dry_run, as_json=as_json)
        return
    config = cli.config()
    if job == "agenda" and dry_run:
        fail("agenda 不支持 --dry-run (deadline-sweep and blob-purge have a dry run)", code=2)

    async def sweep(sessions: SessionFactory) -> SweepReport:
        from bot.services.calendar import load_calendar
        from bot.services.sweep import sweep_deadlines

        async with sessions() as session:
            calendar = await load_calendar(session, config)
        return await sweep_deadlines(sessions, config, calendar, now, dry_run=dry_run)

    async def agenda(sessions: SessionFactory) -> dict[str, Any]:
        from bot.services.agenda import send_agenda
        from bot.services.calendar import load_calendar

        async with sessions() as session:
            calendar = await load_calendar(session, config)
            report = await send_agenda(session, calendar, now)
        return {"day": report.day, "sent_to": sorted(r.name for r in report.sent)}

    if job == "agenda":
        result = run_with_db(cli.settings, agenda)
        if as_json:
            print_json(result)
        else:
            click.echo(
                f"{result['day']} 今日待办已发给 {len(result['sent_to'])} 人："
                + "、".join(result["sent_to"])
            )
        return

    report = run_with_db(cli.settings, sweep)
    rows = _sweep_rows(report)
    if as_json:
        print_json(
            {
                "now": report.now.isoformat(),
                "dry_run": report.dry_run,
                "clocks": len(report.plans),
                "notices": len(report.notices),
                "digests": {_who_recipient(r): n for r, n in report.digests.items()},
                "actions": rows,
            }
        )
        return
    title = "演练：以下为将要发送的通知，未作任何改动" if dry_run else "期限巡检已完成"
    click.echo(f"{title}（{len(report.plans)} 个期限，{len(report.notices)} 条通知）")
    if rows:
        print_table(
            None,
            ["问题", "期限", "步骤", "通知对象"],
            [(r["case"] or "—", r["clock"] or "—", r["step"], "、".join(r["to"])) for r in rows],
        )
    for recipient, count in report.digests.items():
        click.echo(f"{_who_recipient(recipient)}：{count} 条提醒合并为一条汇总")


def _who_recipient(recipient: Any) -> str:
    from models.notification import RecipientKind

    return (
        "反映人"
        if recipient.kind is RecipientKind.REPORTER
        else recipient.name or f"#{recipient.id}"
    )


def _blob_purge(cli: CliContext, now: datetime, *, dry_run: bool, as_json: bool) -> None:
    """The blob store's orphans removed (or, with ``--dry-run``, counted)."""

    async def purge(sessions: SessionFactory) -> BlobPurge:
        from bot.blobs import create_blob_store, plan_blob_purge, purge_orphan_blobs

        store = create_blob_store(cli.settings, sessions)
        if dry_run:
            return await plan_blob_purge(store, sessions, now=now)
        return await purge_orphan_blobs(store, sessions, now=now)

    result = run_with_db(cli.settings, purge)
    if as_json:
        print_json(
            {
                "now": now.isoformat(),
                "dry_run": dry_run,
                "cutoff": result.cutoff.isoformat(),
                "orphans": len(result.orphans),
                "removed": result.removed,
            }
        )
    elif dry_run:
        click.echo(f"演练：{len(result.orphans)} 个无引用的上传文件将被删除，未作任何改动")
    else:
        click.echo(f"已删除 {result.removed} 个无引用的上传文件")
