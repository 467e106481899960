"""``lianka sandbox``: the Bot API emulator and the chat page, to try Lianka without Telegram."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import CliContext, fail, pass_context

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from bot.sandboxed import SandboxConsole
    from sandbox.personas import Persona
    from sandbox.runner import Cleanup, Sandbox, SandboxOptions


def _print_console(console: SandboxConsole) -> None:
    click.echo(f"办公平台（浏览器）: {console.url}   演示密码: {console.password}")
    for account in console.accounts:
        totp = f"  动态验证码密钥: {account.totp_secret}" if account.totp_secret else ""
        click.echo(f"  {account.username:<8} {account.role}  {account.name}{totp}")
    if any(account.totp_secret for account in console.accounts):
        click.echo(
            "  动态验证码：把密钥添加到身份验证器；或运行 "
            ".venv/bin/python -c \"import pyotp; print(pyotp.TOTP('密钥').now())\""
        )


def _print_ready(
    sandbox: Sandbox,
    personas: tuple[Persona, ...],
    team: str | None,
    console: SandboxConsole | None = None,
) -> None:
    click.echo(f"廉卡沙盒已启动，请在浏览器打开: {sandbox.page_url}")
    click.echo(f"Bot API 模拟服务: {sandbox.api_base}  (LIANKA_TELEGRAM_API_BASE)")
    click.echo(f"机器人: @{sandbox.options.bot_username}")
    for card in sandbox.card_pages:
        click.echo(f"联系卡网页（{card.enterprise}）: {card.url}")
    if team is not None:
        click.echo(
            f"演示数据: 演示联系卡、{team}（监督员和组长已登记）；反映“营商环境”问题可看到分派。"
        )
    click.echo("可选身份:")
    for persona in personas:
        link = f"  /start {persona.start_payload}" if persona.start_payload else ""
        role = f"（{persona.role}）" if persona.role else ""
        click.echo(f"  {persona.user_id}  {persona.name}{role}{link}")
    if console is not None:
        _print_console(console)
    click.echo("按 Ctrl+C 停止。")


def _announce(personas: tuple[Persona, ...]) -> Callable[[Sandbox], Awaitable[Cleanup | None]]:
    async def on_ready(sandbox: Sandbox) -> Cleanup | None:
        _print_ready(sandbox, personas, None)
        return None

    return on_ready


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port of the chat page.")
@click.option(
    "--api-port", default=8081, show_default=True, type=int, help="Port of the Bot API emulator."
)
@click.option(
    "--web-port",
    default=8082,
    show_default=True,
    type=int,
    help="Port of Lianka's web pages (a card's landing page); another if it is taken.",
)
@click.option(
    "--persona",
    "persona_specs",
    multiple=True,
    metavar="ID:NAME[:ROLE[:START[:PHONE]]]",
    help="Someone to act as (repeatable); default: a reporter, an inspector and a team leader.",
)
@click.option(
    "--no-bot",
    is_flag=True,
    help="Only the emulator and the page, without Lianka's bot (to try another bot).",
)
@pass_context
def sandbox(
    cli: CliContext,
    *,
    host: str,
    port: int,
    api_port: int,
    web_port: int,
    persona_specs: tuple[str, ...],
    no_bot: bool,
) -> None:
    """Try Lianka offline: a Bot API emulator, a chat page (http://127.0.0.1:8080) and Lianka's bot
    serving in it, on its own database (var/sandbox.db) with a demo card, a team and its people."""
    import asyncio

    from sandbox.personas import DEFAULT_PERSONAS, parse_persona
    from sandbox.runner import SandboxOptions, run_sandbox

    try:
        personas = tuple(parse_persona(spec) for spec in persona_specs) or DEFAULT_PERSONAS
    except ValueError as error:
        fail(str(error), code=2)
    options = SandboxOptions(
        host=host, port=port, api_port=api_port, web_port=web_port, personas=personas
    )
    try:
        if no_bot:
            asyncio.run(run_sandbox(options, on_ready=_announce(personas)))
        else:
            run_with_bot(cli, options, personas)
    except OSError as error:
        fail(f"沙盒无法启动（端口被占用？）: {error}", code=1)
    click.echo("沙盒已停止。")


def run_with_bot(cli: CliContext, options: SandboxOptions, personas: tuple[Persona, ...]) -> None:
    """The sandbox with Lianka's bot in it (what ``make run`` starts without a token)."""
    import asyncio

    from bot.sandboxed import run_sandboxed
    from bot.settings import configure_logging

    config = cli.config()
    configure_logging(cli.settings)
    asyncio.run(
        run_sandboxed(
            cli.settings,
            config,
            options,
            announce=lambda sandbox, team, console: _print_ready(sandbox, personas, team, console),
        )
    )
