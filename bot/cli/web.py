"""``lianka web``: the web channel (a card's landing page) alone, without the bot."""

from __future__ import annotations

import click

from bot.cli.common import CliContext, fail, pass_context, require_database


@click.command("web")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8088, show_default=True, type=int, help="Port to listen on.")
@pass_context
def web(cli: CliContext, *, host: str, port: int) -> None:
    """Serve the web channel alone: the card's landing page (/c/<token>) and /healthz, on the
    same settings and database as `lianka run`, without a bot token. `lianka run` serves the
    same pages on its own port; use this to run the pages apart from the bot."""
    settings = cli.settings
    config = cli.config()
    require_database(settings)
    from bot.web_app import NotReady, serve_web

    try:
        serve_web(settings, config, host=host, port=port)
    except NotReady as error:
        fail(str(error), code=2)
