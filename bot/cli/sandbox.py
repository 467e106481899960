"""``lianka sandbox``: the Bot API emulator and the chat page, to try Lianka without Telegram."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from bot.cli.common import fail

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sandbox.personas import Persona
    from sandbox.runner import Cleanup, Sandbox


def _announce(personas: tuple[Persona, ...]) -> Callable[[Sandbox], Awaitable[Cleanup | None]]:
    async def on_ready(sandbox: Sandbox) -> Cleanup | None:
        click.echo(f"廉卡沙盒已启动，请在浏览器打开: {sandbox.page_url}")
        click.echo(f"Bot API 模拟服务: {sandbox.api_base}  (LIANKA_TELEGRAM_API_BASE)")
        click.echo(f"机器人: @{sandbox.options.bot_username}")
        click.echo("可选身份:")
        for persona in personas:
            link = f"  /start {persona.start_payload}" if persona.start_payload else ""
            role = f"（{persona.role}）" if persona.role else ""
            click.echo(f"  {persona.user_id}  {persona.name}{role}{link}")
        click.echo("按 Ctrl+C 停止。")
        return None

    return on_ready


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port of the chat page.")
@click.option(
    "--api-port", default=8081, show_default=True, type=int, help="Port of the Bot API emulator."
)
@click.option(
    "--persona",
    "persona_specs",
    multiple=True,
    metavar="ID:NAME[:ROLE[:START[:PHONE]]]",
    help="Someone to act as (repeatable); default: a reporter, an inspector and a team leader.",
)
def sandbox(host: str, port: int, api_port: int, persona_specs: tuple[str, ...]) -> None:
    """Serve the Bot API emulator and a chat page (http://127.0.0.1:8080) to try Lianka offline."""
    import asyncio

    from sandbox.personas import DEFAULT_PERSONAS, parse_persona
    from sandbox.runner import SandboxOptions, run_sandbox

    try:
        personas = tuple(parse_persona(spec) for spec in persona_specs) or DEFAULT_PERSONAS
    except ValueError as error:
        fail(str(error), code=2)
    options = SandboxOptions(host=host, port=port, api_port=api_port, personas=personas)
    try:
        asyncio.run(run_sandbox(options, on_ready=_announce(personas)))
    except OSError as error:
        fail(f"沙盒无法启动（端口被占用？）: {error}", code=1)
    click.echo("沙盒已停止。")
