"""``lianka accounts``: sign-ins for the office console (``<public url>/console/``)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
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
    from bot.services.accounts import AccountRow, Created

ROLE_CHOICES = ("admin", "leader", "team_leader", "inspector", "dispatcher")


@click.group("accounts")
def accounts_group() -> None:
    """Create, list, disable and reset office console accounts; give one a new TOTP secret."""


def reset_link(public_url: str, code: str) -> str:
    """The one-time link at the commission's address; without ``LIANKA_PUBLIC_URL``, the path
    to open at whatever address serves the console (``lianka run --port``, the sandbox)."""
    path = f"/console/reset/{code}"
    return f"{public_url.rstrip('/')}{path}" if public_url else f"{path}（在本服务的地址后打开）"


@accounts_group.command("create")
@click.argument("username")
@click.option(
    "--role",
    type=click.Choice(ROLE_CHOICES),
    help=(
        "admin = 管理员; leader = 分管领导/委领导; team_leader = 组长; inspector = 监督员; "
        "dispatcher = 信访室 (routes what no rule matched). Not needed with --person."
    ),
)
@click.option("--team", "team_code", help="The team's code (inspector and team_leader).")
@click.option(
    "--person",
    "person_id",
    type=int,
    help="An inspector already registered in Telegram (`lianka inspectors list`): one person, "
    "two ways in, the same rights.",
)
@click.option("--name", help="The person's name (default: the user name).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--totp", is_flag=True, help="A second factor for a role that may do without.")
@json_option
@pass_context
def create(
    cli: CliContext,
    *,
    username: str,
    role: str | None,
    team_code: str | None,
    person_id: int | None,
    name: str | None,
    password_stdin: bool,
    totp: bool,
    as_json: bool,
) -> None:
    """Create an account. Admins and leaders get a TOTP secret (add it to an authenticator
    app); without --password-stdin a one-time link sets the first password."""
    from bot.services.accounts import create_account
    from models.account import ConsoleRole
    from models.errors import DomainError

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    settings = cli.settings

    async def work(sessions: SessionFactory) -> Created:
        async with sessions() as session:
            return await create_account(
                session,
                username,
                role=ConsoleRole(role) if role else None,
                team_code=team_code,
                person_id=person_id,
                name=name,
                password=password,
                totp=totp,
                now=datetime.now(UTC),
            )

    try:
        created = run_with_db(settings, work)
    except DomainError as error:
        fail(error.message)
    link = reset_link(settings.public_url or "", created.reset_code) if created.reset_code else None
    if as_json:
        print_json(
            {
                "username": created.account.username,
                "person": created.person.id,
                "role": created.person.role.value,
                "totp_secret": created.totp_secret,
                "totp_uri": created.totp_uri,
                "password_link": link,
            }
        )
        return
    click.echo(f"已创建账号 {created.account.username}（{created.person.role.label}）。")
    if created.totp_secret:
        click.echo(f"动态验证码密钥（添加到身份验证器）: {created.totp_secret}")
        click.echo(f"  {created.totp_uri}")
    if link:
        click.echo(f"设置密码的一次性链接（24小时内有效）: {link}")


def _row(row: AccountRow) -> dict[str, object]:
    return {
        "username": row.username,
        "name": row.name,
        "role": row.console_role.value,
        "team": row.team_code,
        "telegram": row.telegram,
        "totp": row.second_factor,
        "disabled": row.disabled,
        "locked": row.locked,
        "last_sign_in_at": row.last_sign_in_at.isoformat() if row.last_sign_in_at else None,
    }


@accounts_group.command("list")
@json_option
@pass_context
def list_(cli: CliContext, as_json: bool) -> None:
    """Every account, its person, role, team and state."""
    from bot.services.accounts import list_accounts

    async def work(sessions: SessionFactory) -> list[AccountRow]:
        async with sessions() as session:
            return await list_accounts(session, datetime.now(UTC))

    rows = run_with_db(cli.settings, work)
    if as_json:
        print_json([_row(row) for row in rows])
        return
    print_table(
        "控制台账号 (console accounts)",
        ["用户名", "姓名", "角色", "监督组", "Telegram", "动态验证码", "状态"],
        [
            (
                r.username,
                r.name,
                r.console_role.label,
                r.team_code or "—",
                "已绑定" if r.telegram else "—",
                "是" if r.second_factor else "否",
                "停用" if r.disabled else ("锁定" if r.locked else "正常"),
            )
            for r in rows
        ],
    )


@accounts_group.command("disable")
@click.argument("username")
@pass_context
def disable(cli: CliContext, username: str) -> None:
    """The account can no longer sign in; its open sessions end now."""
    from bot.services.accounts import disable_account
    from models.errors import DomainError

    async def work(sessions: SessionFactory) -> None:
        async with sessions() as session:
            await disable_account(session, username, datetime.now(UTC))

    try:
        run_with_db(cli.settings, work)
    except DomainError as error:
        fail(error.message)
    click.echo(f"已停用账号 {username}。")


@accounts_group.command("reset")
@click.argument("username")
@json_option
@pass_context
def reset(cli: CliContext, username: str, as_json: bool) -> None:
    """A one-time link (24 hours) that sets a new password and lifts a lock-out."""
    from bot.services.accounts import issue_reset
    from models.errors import DomainError

    settings = cli.settings

    async def work(sessions: SessionFactory) -> str:
        async with sessions() as session:
            return await issue_reset(session, username, datetime.now(UTC))

    try:
        code = run_with_db(settings, work)
    except DomainError as error:
        fail(error.message)
    link = reset_link(settings.public_url or "", code)
    if as_json:
        print_json({"username": username, "password_link": link})
        return
    click.echo(f"设置密码的一次性链接（24小时内有效）: {link}")


@accounts_group.command("totp")
@click.argument("username")
@json_option
@pass_context
def totp(cli: CliContext, username: str, as_json: bool) -> None:
    """A new TOTP secret for the account (a lost phone, or a role that now needs a code): the
    old one stops working and the account's sessions end now."""
    from bot.services.accounts import issue_totp
    from models.errors import DomainError

    async def work(sessions: SessionFactory) -> tuple[str, str]:
        async with sessions() as session:
            return await issue_totp(session, username, datetime.now(UTC))

    try:
        secret, uri = run_with_db(cli.settings, work)
    except DomainError as error:
        fail(error.message)
    if as_json:
        print_json({"username": username, "totp_secret": secret, "totp_uri": uri})
        return
    click.echo(f"动态验证码密钥（添加到身份验证器，原密钥已失效）: {secret}")
    click.echo(f"  {uri}")
