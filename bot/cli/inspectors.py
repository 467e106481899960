"""``lianka inspectors``: invitations, the people on the commission's side, deactivation."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    from bot.services.inspectors import Deactivated, InspectorRow, Invite

ROLE_CHOICES = ("inspector", "team_leader", "leader", "admin")


@click.group("inspectors")
def inspectors_group() -> None:
    """Invite, list and deactivate inspectors, team leaders, leaders and admins."""


@inspectors_group.command("invite")
@click.option(
    "--team", "team_code", help="The team's code (required for inspector and team_leader)."
)
@click.option(
    "--role",
    type=click.Choice(ROLE_CHOICES),
    default="inspector",
    show_default=True,
    help=(
        "inspector = 监督员 (works assigned cases); team_leader = 组长 (owns the team's queue, "
        "assigns, approves extensions and returns); leader = 分管领导/委领导 (/stats, 督办, "
        "second-level escalations); admin = 管理员 (re-routes, deactivates people)."
    ),
)
@click.option("--name", help="The person's name (default: their Telegram name).")
@json_option
@pass_context
def invite(
    cli: CliContext, team_code: str | None, role: str, name: str | None, as_json: bool
) -> None:
    """Print a one-time registration link, valid for 7 days.

    Opening https://t.me/<bot>?start=i_<code> binds that Telegram account; the code is stored
    hashed and cannot be shown again.
    """
    from bot.services.inspectors import create_invite
    from models.errors import DomainError
    from models.team import Role

    settings = cli.settings

    async def work(sessions: SessionFactory) -> Invite:
        from datetime import UTC, datetime

        async with sessions() as session:
            return await create_invite(
                session,
                role=Role(role),
                team_code=team_code,
                name=name,
                bot_username=settings.bot_username,
                now=datetime.now(UTC),
            )

    try:
        created = run_with_db(settings, work)
    except DomainError as error:
        fail(error.message)
    if as_json:
        print_json(
            {
                "id": created.id,
                "link": created.link,
                "role": created.role.value,
                "team": created.team_code,
                "name": created.name,
                "expires_at": created.expires_at.isoformat(),
            }
        )
        return
    from notifications.render import local_time

    click.echo(
        f"{created.role.label}邀请链接（一次有效，{local_time(created.expires_at)} 前使用）："
    )
    click.echo(created.link)


def person_json(row: InspectorRow) -> dict[str, object]:
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role.value,
        "team": row.team_code,
        "active": row.active,
        "open_cases": row.open_cases,
        "created_at": row.created_at.isoformat(),
    }


@inspectors_group.command("list")
@json_option
@pass_context
def list_command(cli: CliContext, as_json: bool) -> None:
    """Everyone registered, with their team, role, status and open cases."""
    from bot.services.inspectors import list_inspectors

    async def work(sessions: SessionFactory) -> list[InspectorRow]:
        async with sessions() as session:
            return await list_inspectors(session)

    rows = run_with_db(cli.settings, work)
    if as_json:
        print_json([person_json(row) for row in rows])
        return
    print_table(
        "人员 (inspectors)",
        ["ID", "姓名", "角色", "监督组", "状态", "在办"],
        [
            (
                r.id,
                r.name,
                r.role.label,
                r.team_code or "—",
                "在岗" if r.active else "已停用",
                r.open_cases,
            )
            for r in rows
        ],
    )


@inspectors_group.command("deactivate")
@click.argument("inspector_id", type=int)
@pass_context
def deactivate(cli: CliContext, inspector_id: int) -> None:
    """Deactivate a person: they can no longer act, and their open cases go back to their team
    leader to be re-assigned."""
    from bot.services.inspectors import deactivate_inspector
    from models.errors import DomainError

    async def work(sessions: SessionFactory) -> Deactivated:
        from datetime import UTC, datetime

        async with sessions() as session:
            return await deactivate_inspector(session, inspector_id, datetime.now(UTC))

    try:
        result = run_with_db(cli.settings, work)
    except DomainError as error:
        fail(error.message)
    click.echo(f"已停用 {result.inspector.name}（ID {inspector_id}）。")
    if result.cases:
        click.echo(f"{len(result.cases)} 件在办问题已退回组长：{'、'.join(result.cases)}")
