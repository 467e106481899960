"""``lianka keys``: the data key and the audit key."""

from __future__ import annotations

import click

from bot.cli.common import json_option, print_json


@click.group("keys")
def keys_group() -> None:
    """Lianka's two keys (LIANKA_DATA_KEY, LIANKA_AUDIT_KEY): generate, rotate."""


@keys_group.command("generate")
@json_option
def keys_generate(as_json: bool) -> None:
    """Print a fresh pair, ready for the environment or .env (32 random bytes each)."""
    from models.keys import generate_key

    data, audit = generate_key(), generate_key()
    if as_json:
        print_json({"LIANKA_DATA_KEY": data, "LIANKA_AUDIT_KEY": audit})
        return
    click.echo(f"LIANKA_DATA_KEY={data}")
    click.echo(f"LIANKA_AUDIT_KEY={audit}")
