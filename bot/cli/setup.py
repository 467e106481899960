"""Setting Lianka up: ``init``, ``config check``, ``db``, and ``run``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import SecretStr

from bot.cli.common import (
    CliContext,
    fail,
    pass_context,
    print_json,
    reaching_database,
    require_database,
    run_with_db,
)

if TYPE_CHECKING:
    from bot.db import SessionFactory
    from bot.services.catalog import CatalogChanges
    from bot.settings import Settings

ENV_FILE = Path(".env")

HOW_TO_GET_A_BOT = """\
未设置机器人令牌（LIANKA_BOT_TOKEN），Lianka 无法连接 Telegram。
请在 Telegram 中联系 @BotFather，发送 /newbot 创建机器人，
然后把令牌写入环境变量或项目目录下的 .env 文件：
    LIANKA_BOT_TOKEN=123456789:AAE…
    LIANKA_BOT_USERNAME=你的机器人用户名

No bot token (LIANKA_BOT_TOKEN) is set, so Lianka cannot reach Telegram.
Create a bot with @BotFather (/newbot) and put its token in the environment or in .env:
    LIANKA_BOT_TOKEN=123456789:AAE...
    LIANKA_BOT_USERNAME=your_bot_username"""


@click.command()
@pass_context
def init(cli: CliContext) -> None:
    """Create var/, copy the example config if there is none, upgrade the database, load the config."""
    from bot.config import example_config_path
    from bot.db import upgrade_database

    settings = cli.settings
    settings.var_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _keys_for_init(settings)
    if not settings.config.exists():
        shutil.copyfile(example_config_path(), settings.config)
        click.echo(f"已生成配置文件 {settings.config}（来自示例，请按本单位实际修改）")
    config = cli.config()
    with reaching_database(settings):
        upgrade_database(settings.database_url)
    click.echo(f"数据库已就绪: {settings.safe_database_url()}")

    async def load(sessions: SessionFactory) -> CatalogChanges:
        from bot.services.catalog import sync_catalog

        async with sessions() as session:
            return await sync_catalog(session, config)

    changes = run_with_db(settings, load)
    click.echo(
        f"已载入配置: {len(config.zones)} 个园区, {len(config.categories)} 个监督事项, "
        f"{len(config.teams)} 个监督组" + ("" if changes.empty else "（已同步更新）")
    )


def _keys_for_init(settings: Settings) -> None:
    """Keys from the environment or .env; when neither sets any, a fresh pair written to .env
    (so that ``make run`` needs no set-up). A malformed key, or only one of the two, stops."""
    from bot.keys import install_from_settings, write_new_keys
    from models.keys import KeyProblem

    if settings.data_key is None and settings.audit_key is None:
        data, audit = write_new_keys(ENV_FILE)
        settings.data_key, settings.audit_key = SecretStr(data), SecretStr(audit)
        click.echo(
            f"已生成密钥并写入 {ENV_FILE}（LIANKA_DATA_KEY、LIANKA_AUDIT_KEY）。请妥善保管并与数据库"
            "分开备份：丢失数据密钥将无法读取反映人身份，丢失审计密钥将无法核验流转记录。"
        )
    try:
        install_from_settings(settings)
    except KeyProblem as error:
        fail(str(error), code=2)


@click.group("config")
def config_group() -> None:
    """Check the configuration file."""


@config_group.command("check")
@click.argument("path", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@pass_context
def config_check(cli: CliContext, path: Path | None, as_json: bool) -> None:
    """Check PATH (default: the configured file); exit 1 and name every problem if it is wrong."""
    from bot.config import ConfigError, load_config

    target = path or cli.settings.config
    try:
        config = load_config(target)
    except ConfigError as error:
        if as_json:
            print_json(
                {
                    "ok": False,
                    "problems": [{"key": p.key, "message": p.message} for p in error.problems],
                }
            )
            raise SystemExit(1) from None
        fail(error.render(), code=1)
    if as_json:
        print_json(
            {
                "ok": True,
                "zones": len(config.zones),
                "categories": len(config.categories),
                "teams": len(config.teams),
                "routing_rules": len(config.routing),
            }
        )
        return
    click.echo(
        f"{target}: 配置正确 (OK) — {len(config.zones)} 个园区, {len(config.categories)} 个监督事项, "
        f"{len(config.teams)} 个监督组, {len(config.routing)} 条分办规则"
    )


@click.group("db")
def db_group() -> None:
    """Create, upgrade and inspect the database."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@pass_context
def db_upgrade(cli: CliContext, revision: str) -> None:
    """Create the database or upgrade it to REVISION (default: the newest)."""
    from bot.cli.audit import append_only_note
    from bot.db import upgrade_database

    with reaching_database(cli.settings):
        upgrade_database(cli.settings.database_url, revision)
        note = append_only_note(cli.settings.database_url)
    click.echo(f"数据库已升级到 {revision}: {cli.settings.safe_database_url()}")
    click.echo(note)


@db_group.command("current")
@pass_context
def db_current(cli: CliContext) -> None:
    """Show the database's revision and the newest one shipped."""
    from bot.db import current_revision, head_revision

    with reaching_database(cli.settings):
        current = current_revision(cli.settings.database_url)
    head = head_revision()
    click.echo(f"current: {current or '(empty)'}  head: {head}")
    if current != head:
        raise SystemExit(1)


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
@pass_context
def db_revision(cli: CliContext, message: str) -> None:
    """(Developers) Write a new migration from the difference between the models and the database."""
    from alembic import command

    from bot.db import alembic_config

    command.revision(alembic_config(cli.settings.database_url), message=message, autogenerate=True)


def _not_a_sandbox_host(settings: Settings) -> str | None:
    """Why this host must not fall back to the demo sandbox (None when it may): a database or a
    public address of its own says it is meant to serve, and a missing token there is a fault."""
    from bot.settings import DEFAULT_DATABASE_URL

    if settings.database_url != DEFAULT_DATABASE_URL:
        why = f"LIANKA_DATABASE_URL 指向 {settings.safe_database_url()}"
    elif settings.public_url is not None:
        why = f"已设置 LIANKA_PUBLIC_URL（{settings.public_url}）"
    else:
        return None
    return (
        f"未设置 LIANKA_BOT_TOKEN，但{why}：这是正式部署，不启动演示沙盒。请检查 .env 或环境变量"
        "中的 LIANKA_BOT_TOKEN。\n(No LIANKA_BOT_TOKEN on a host configured to serve — a "
        "database or public address of its own — so the demo sandbox is not started: check the "
        "token in the environment or .env.)"
    )


@click.command()
@click.option(
    "--mode",
    type=click.Choice(["polling", "webhook"]),
    default="polling",
    show_default=True,
    help="Long polling, or a webhook server (behind an HTTPS proxy) for several instances.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the HTTP server.")
@click.option(
    "--port",
    type=int,
    default=None,
    help="Port of the HTTP server (/healthz, /metrics; the webhook in webhook mode; default 8088).",
)
@click.option(
    "--webhook-path", default="/telegram/webhook", show_default=True, help="Path of the webhook."
)
@click.option(
    "--no-set-webhook",
    is_flag=True,
    help="Do not call setWebhook (another instance or the operator registers it).",
)
@click.option(
    "--sandbox-if-no-token",
    is_flag=True,
    help="Without LIANKA_BOT_TOKEN, start the local sandbox with demo data instead of exiting "
    "(only on the default local database and without LIANKA_PUBLIC_URL).",
)
@pass_context
def run(
    cli: CliContext,
    *,
    mode: str,
    host: str,
    port: int | None,
    webhook_path: str,
    no_set_webhook: bool,
    sandbox_if_no_token: bool,
) -> None:
    """Serve the bot, with the scheduler (deadline sweep, agenda) and the outbox sender in the
    same process; SIGTERM or Ctrl+C finishes the updates in hand and stops."""
    settings = cli.settings
    if settings.bot_token is None:
        if sandbox_if_no_token and (refusal := _not_a_sandbox_host(settings)) is not None:
            fail(refusal, code=2)
        if sandbox_if_no_token:
            from bot.cli.sandbox import run_with_bot
            from sandbox.personas import DEFAULT_PERSONAS
            from sandbox.runner import SandboxOptions

            click.echo(
                "未设置 LIANKA_BOT_TOKEN，启动本地沙盒（演示数据）。设置令牌后将连接 Telegram。"
            )
            run_with_bot(cli, SandboxOptions(), DEFAULT_PERSONAS)
            return
        fail(HOW_TO_GET_A_BOT, code=2)
    config = cli.config()
    require_database(settings)
    from bot.app import Mode, ServeOptions, serve
    from bot.web_app import NotReady

    options = ServeOptions(
        mode=Mode(mode),
        host=host,
        port=port,
        webhook_path=webhook_path,
        set_webhook=not no_set_webhook,
    )
    try:
        serve(settings, config, options)
    except NotReady as error:
        fail(str(error), code=2)
