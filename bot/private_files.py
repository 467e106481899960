"""Files that hold the database or a copy of it are readable by their owner only (0600)."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE = 0o600
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def make_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist, else set it to 0600; and the
    same for SQLite's files beside it (``-wal``, ``-shm``, ``-journal``) where there are any.
    SQLite opens an empty file as a new database and gives its side files the database's mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    except FileExistsError:
        path.chmod(PRIVATE)
    for suffix in SQLITE_SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.chmod(PRIVATE)
