"""``lianka keys``: the data key and the audit key."""

from __future__ import annotations

import click

from bot.cli.common import CliContext, json_option, pass_context, print_json


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


@keys_group.command("rotate")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--dry-run", is_flag=True, help="Only count what would be re-sealed.")
@json_option
@pass_context
def keys_rotate(cli: CliContext, batch: int, dry_run: bool, as_json: bool) -> None:
    """Re-seal what an old data key sealed under LIANKA_DATA_KEY, in batches (the bot may keep
    running). Set the new key in LIANKA_DATA_KEY and the old one in LIANKA_OLD_DATA_KEYS first,
    for this command and for the bot."""
    from bot.cli.common import run_with_db
    from bot.services.key_rotation import rotate_data_key

    rotation = run_with_db(
        cli.settings, lambda sessions: rotate_data_key(sessions, batch=batch, dry_run=dry_run)
    )
    if as_json:
        print_json(
            {
                "data_key_id": rotation.data_key_id,
                "old_key_ids": list(rotation.old_key_ids),
                "dry_run": rotation.dry_run,
                "resealed": rotation.resealed,
                "total": rotation.total,
                "left": rotation.left,
                "forgotten": list(rotation.forgotten),
            }
        )
        return
    verb = "待重新加密" if dry_run else "已重新加密"
    click.echo(f"当前数据密钥 {rotation.data_key_id}；{verb} {rotation.total} 项：")
    for label, count in rotation.resealed.items():
        click.echo(f"  {label}: {count}")
    if dry_run:
        return
    if rotation.forgotten:
        names = "、".join(rotation.forgotten)
        click.echo(
            f"旧密钥 {names} 已不再使用，可从 LIANKA_OLD_DATA_KEYS 中删除 "
            f"(nothing is sealed with {', '.join(rotation.forgotten)} any more: "
            "it may be dropped from LIANKA_OLD_DATA_KEYS)"
        )
    elif rotation.left:
        click.echo(f"仍有 {rotation.left} 项由旧密钥加密，请再次运行 lianka keys rotate。")
    else:
        click.echo("没有由旧密钥加密的数据。")
