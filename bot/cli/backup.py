"""``lianka backup OUT``: a consistent copy of the live SQLite database (its online backup API)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from bot.cli.common import CliContext, fail, pass_context
from bot.private_files import make_private


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy ``source`` into ``target`` in one step of the online backup API: one read transaction,
    so the copy is a single consistent snapshot, and in WAL mode writers are not held up meanwhile.
    The copy is a single file (no ``-wal`` beside it), readable by its owner only (0600: it
    holds everything the database does), created so before a byte is written. Returns its size
    in bytes."""
    make_private(target)
    reader = sqlite3.connect(source, timeout=15)
    copy = sqlite3.connect(target)
    try:
        reader.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")
    finally:
        copy.close()
        reader.close()
    make_private(target)
    return target.stat().st_size


@click.command("backup")
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
@pass_context
def backup(cli: CliContext, out: Path, force: bool) -> None:
    """Copy the live SQLite database to OUT (safe while Lianka runs); PostgreSQL: use pg_dump."""
    from sqlalchemy.engine import make_url

    url = make_url(cli.settings.database_url)
    if url.get_backend_name() != "sqlite":
        fail(
            "PostgreSQL 数据库请使用 pg_dump 备份 (use pg_dump for PostgreSQL), 例如:\n"
            "  (umask 077 && pg_dump --format=custom --file=lianka.dump <数据库名>)",
            code=2,
        )
    if url.database in (None, "", ":memory:"):
        fail("内存数据库无法备份 (an in-memory database cannot be backed up).", code=2)
    source = Path(str(url.database))
    if not source.is_file():
        fail(f"数据库文件不存在 (no database file): {source}")
    if out.exists():
        if not force:
            fail(f"{out} 已存在，未覆盖 (exists; add --force to overwrite).")
        out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    size = backup_sqlite(source, out)
    click.echo(f"已备份数据库 (backed up) {source} → {out} ({size:,} bytes)")
