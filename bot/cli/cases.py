"""``lianka cases``: the cases and their history, for admins."""

from __future__ import annotations

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
    from bot.db import SessionFactory
    from bot.services.case_lists import CaseDetail, CaseLine

STATUS_CHOICES = (
    "submitted",
    "assigned",
    "accepted",
    "in_progress",
    "resolved",
    "closed",
    "returned",
    "reopened",
    "withdrawn",
)


@click.group("cases")
def cases_group() -> None:
    """List cases and show one with its history."""


def _line(line: CaseLine) -> dict[str, Any]:
    return {
        "number": line.number,
        "status": line.status.value,
        "track": line.track.value,
        "category": line.category,
        "team": line.team_code or None,
        "assignee": line.assignee,
        "supervised": line.supervised,
        "due": line.due_kind.value if line.due_kind else None,
        "due_at": line.due_at.isoformat() if line.due_at else None,
        "overdue": line.overdue,
        "created_at": line.created_at.isoformat(),
    }


@cases_group.command("list")
@click.option("--status", type=click.Choice(STATUS_CHOICES), help="Only cases in this status.")
@click.option("--team", "team_code", help="Only cases of this team (its code).")
@json_option
@pass_context
def cases_list(cli: CliContext, status: str | None, team_code: str | None, as_json: bool) -> None:
    """Cases, newest first, with status, team, assignee and the next due date."""
    import models  # noqa: F401  (registers every table)
    from bot.services.case_lists import list_cases
    from models.case import CaseStatus
    from models.errors import DomainError

    async def work(sessions: SessionFactory) -> list[CaseLine]:
        from datetime import UTC, datetime

        async with sessions() as session:
            return await list_cases(
                session,
                datetime.now(UTC),
                status=CaseStatus(status) if status else None,
                team_code=team_code,
            )

    try:
        lines = run_with_db(cli.settings, work)
    except DomainError as error:
        fail(error.message)
    if as_json:
        print_json([_line(line) for line in lines])
        return
    from notifications.render import local_time

    print_table(
        f"问题 (cases): {len(lines)}",
        ["编号", "状态", "事项", "监督组", "承办人", "期限", ""],
        [
            (
                ("【督办】" if line.supervised else "") + line.number,
                line.status.label,
                line.category,
                line.team,
                line.assignee or "—",
                f"{line.due_kind.label} {local_time(line.due_at)}"
                if line.due_kind and line.due_at
                else "—",
                "逾期" if line.overdue else "",
            )
            for line in lines
        ],
    )


@cases_group.command("show")
@click.argument("number")
@json_option
@pass_context
def cases_show(cli: CliContext, number: str, as_json: bool) -> None:
    """One case with its clocks, requests and every event of its history (no reporter identity)."""
    import models  # noqa: F401  (registers every table)
    from bot.services.case_lists import case_detail, get_case_by_number
    from models.errors import DomainError

    async def work(sessions: SessionFactory) -> CaseDetail:
        from datetime import UTC, datetime

        async with sessions() as session:
            case = await get_case_by_number(session, number)
            return await case_detail(session, case, datetime.now(UTC))

    try:
        detail = run_with_db(cli.settings, work)
    except DomainError as error:
        fail(error.message)
    case = detail.case
    events = [
        {
            "seq": e.seq,
            "at": e.created_at.isoformat(),
            "kind": e.kind.value,
            "from": e.from_status.value if e.from_status else None,
            "to": e.to_status.value if e.to_status else None,
            "actor": f"{e.actor_type.value}:{e.actor_id}" if e.actor_id else e.actor_type.value,
            "note": e.note,
            "data": e.data,
            "public": e.public,
            "hash": e.hash,
        }
        for e in detail.events
    ]
    if as_json:
        print_json(
            _line(detail.line)
            | {
                "description": case.description,
                "anonymous": case.anonymous,
                "zone": detail.zone,
                "outcome": case.outcome.value if case.outcome else None,
                "outcome_summary": case.outcome_summary,
                "amount_involved_yuan": case.amount_involved_yuan,
                "amount_coordinated_yuan": case.amount_coordinated_yuan,
                "clocks": [
                    {
                        "kind": c.kind.value,
                        "state": c.state.value,
                        "due_at": c.due_at.isoformat(),
                        "provisional": c.provisional,
                        "extended_days": c.extended_days,
                    }
                    for c in detail.clocks
                ],
                "requests": [
                    {
                        "kind": r.kind.value,
                        "status": r.status.value,
                        "reason": r.reason,
                        "days": r.days,
                    }
                    for r in detail.requests
                ],
                "events": events,
            }
        )
        return
    from notifications.render import local_time

    click.echo(
        f"{'【督办】' if case.supervised else ''}{case.number}  {case.status.label}  "
        f"{detail.line.category}（{case.track.label}）  {detail.line.team}  "
        f"{detail.line.assignee or '未分派'}  {'匿名' if case.anonymous else '实名'}"
    )
    click.echo(case.description)
    for clock in detail.clocks:
        click.echo(f"  {clock.kind.label}期限 {local_time(clock.due_at)} {clock.state.value}")
    print_table(
        "流转记录 (events)",
        ["#", "时间", "事项", "状态", "操作人", "内容"],
        [
            (
                e["seq"],
                local_time(event.created_at),
                event.kind.label,
                f"{e['from'] or ''}→{e['to']}" if e["to"] else "",
                e["actor"],
                event.note or "",
            )
            for e, event in zip(events, detail.events, strict=True)
        ],
    )
