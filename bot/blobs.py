"""The blob store: web uploads kept by the SHA-256 of their (cleaned) bytes, written once.

Two stores, chosen by ``LIANKA_BLOB_STORE``: ``directory`` (the default, files under
``var/blobs``, for one machine) and ``database`` (the ``blobs`` table, which every instance of a
PostgreSQL deployment already shares, is backed up with it by ``pg_dump`` and needs no other
service). Either way a blob is complete before anything points at it: the directory store
writes a temporary file and renames it into place, the database store commits one row, so an
upload cut off half-way leaves nothing referenced.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from bot.db import SessionFactory
from bot.settings import Settings
from models.attachment import Blob

_SHA256 = re.compile(r"[0-9a-f]{64}")


class BlobMissing(LookupError):
    """No blob with that hash (or its bytes no longer match it)."""


def blob_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _checked(key: str) -> str:
    if not _SHA256.fullmatch(key):
        raise BlobMissing("not a blob key")
    return key


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Keep ``data``; its SHA-256 (hex), by which it is found again."""
        ...

    async def get(self, key: str) -> bytes:
        """The bytes kept under ``key``; ``BlobMissing`` if there are none."""
        ...


class DirectoryBlobStore:
    """Blobs as files ``<root>/<ab>/<sha256>``; a write goes to ``<root>/tmp`` first, is flushed
    to disk and renamed into place, so a blob's file is whole or absent."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        key = _checked(key)
        return self.root / key[:2] / key

    def _put(self, data: bytes) -> str:
        key = blob_key(data)
        final = self.path(key)
        if final.exists():
            return key
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        temporary = tmp_dir / f"{key}.{secrets.token_hex(8)}.part"
        try:
            with open(temporary, "xb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, final)
        finally:
            temporary.unlink(missing_ok=True)
        return key

    def _get(self, key: str) -> bytes:
        try:
            data = self.path(key).read_bytes()
        except FileNotFoundError:
            raise BlobMissing(key[:12]) from None
        if blob_key(data) != key:
            raise BlobMissing(key[:12])
        return data

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self._put, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)


class DatabaseBlobStore:
    """Blobs as rows of ``blobs`` (``bytea`` on PostgreSQL), each put in a transaction of its
    own; the same bytes put twice, by two instances at once, are one row."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    async def put(self, data: bytes) -> str:
        key = blob_key(data)
        async with self.sessions() as session:
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            values = {
                "sha256": key,
                "size": len(data),
                "content": data,
                "created_at": datetime.now(UTC),
            }
            await session.exec(insert(Blob).values(**values).on_conflict_do_nothing())
            await session.commit()
        return key

    async def get(self, key: str) -> bytes:
        async with self.sessions() as session:
            row = await session.get(Blob, _checked(key))
        if row is None or blob_key(row.content) != key:
            raise BlobMissing(key[:12])
        return row.content


def create_blob_store(settings: Settings, sessions: SessionFactory) -> BlobStore:
    """The store ``LIANKA_BLOB_STORE`` names."""
    if settings.blob_store == "database":
        return DatabaseBlobStore(sessions)
    return DirectoryBlobStore(settings.blob_dir or settings.var_dir / "blobs")
