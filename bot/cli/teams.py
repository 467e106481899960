"""``lianka teams``: the 立项监督组, who is in them and how much they have open."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import (
    CliContext,
    json_option,
    pass_context,
    print_json,
    print_table,
    run_with_db,
)
from bot.cli.inspectors import person_json

if TYPE_CHECKING:
    from bot.db import SessionFactory
    from bot.services.inspectors import TeamRow


@click.group("teams")
def teams_group() -> None:
    """The 立项监督组 and who is in them."""


def _team(row: TeamRow) -> dict[str, object]:
    return {
        "code": row.code,
        "name": row.name,
        "dispatcher": row.is_dispatcher,
        "assignment": row.assignment,
        "active": row.active,
        "open_cases": row.open_cases,
        "unassigned": row.unassigned,
        "members": [person_json(m) for m in row.members],
    }


@teams_group.command("list")
@json_option
@pass_context
def teams_list(cli: CliContext, as_json: bool) -> None:
    """Teams with their active members (and each one's open cases) and the team's open cases."""
    from bot.services.inspectors import list_teams

    async def work(sessions: SessionFactory) -> list[TeamRow]:
        async with sessions() as session:
            return await list_teams(session)

    rows = run_with_db(cli.settings, work)
    if as_json:
        print_json([_team(row) for row in rows])
        return
    print_table(
        "监督组 (teams)",
        ["编码", "名称", "分派", "在办", "待分派", "成员（在办）"],
        [
            (
                r.code,
                r.name + ("（分办）" if r.is_dispatcher else "") + ("" if r.active else "（停用）"),
                "自动" if r.assignment == "auto" else "组长",
                r.open_cases,
                r.unassigned,
                "、".join(
                    f"{m.name}{'·组长' if m.role.value == 'team_leader' else ''}({m.open_cases})"
                    for m in r.members
                )
                or "—",
            )
            for r in rows
        ],
    )
