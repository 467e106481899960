"""The blob store: web uploads kept by the SHA-256 of their (cleaned) bytes, written once.

Two stores, chosen by ``LIANKA_BLOB_STORE``: ``directory`` (the default, files under
``var/blobs``, for one machine) and ``database`` (the ``blobs`` table, which every instance of a
PostgreSQL deployment already shares, is backed up with it by ``pg_dump`` and needs no other
service). Either way a blob is complete before anything points at it: the directory store
writes a temporary file and renames it into place, the database store commits one row, so an
upload cut off half-way leaves nothing referenced.

A blob nothing references (its upload cut off, its file deleted from a draft, its draft expired)
is removed by ``purge_orphan_blobs`` once it is older than ``BLOB_GRACE``: "older" counts from
its last ``put``, which the same bytes put again renew, so a file being uploaded or added to a
draft right now is never taken. The purge plans first (``plan_blob_purge``: a dry run lists the
same blobs) and removes only those still that old when it acts.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from bot.db import SessionFactory
from bot.settings import Settings
from models.attachment import Attachment, Blob
from models.web_draft import WebDraft

BLOB_GRACE = timedelta(days=1)
"""How long a blob nothing references is kept after its last put: far longer than any upload
and the page that follows it, so only what is truly left behind goes."""
_BATCH = 500  # keys per IN (...) list

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

    async def put_before(self, cutoff: datetime) -> list[str]:
        """The keys of the blobs last put before ``cutoff``."""
        ...

    async def remove(self, keys: Collection[str], *, cutoff: datetime) -> int:
        """Remove those of ``keys`` still last put before ``cutoff`` (one put again meanwhile
        stays); how many were removed."""
        ...


def _mtime(path: Path) -> float:
    """A file's time, or infinitely new when it is gone meanwhile (then nothing to take)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


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
            try:
                os.utime(final)  # put again: the purge's grace counts from now
                return key
            except OSError:
                pass  # the purge took it just now, or not ours to touch: written again below
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

    def _blobs(self) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir() and len(folder.name) == 2:
                yield from (p for p in folder.iterdir() if _SHA256.fullmatch(p.name))

    def _put_before(self, cutoff: datetime) -> list[str]:
        limit = cutoff.timestamp()
        return [p.name for p in self._blobs() if _mtime(p) < limit]

    def _remove(self, keys: Collection[str], cutoff: datetime) -> int:
        """Each blob unlinked if its file is still older than ``cutoff``; and the temporary
        files of writes a crash cut off, once older than ``cutoff``."""
        limit, removed = cutoff.timestamp(), 0
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        for key in keys:
            path = self.path(key)
            doomed = tmp_dir / f"{key}.{secrets.token_hex(8)}.purge"
            try:
                if path.stat().st_mtime >= limit:
                    continue
                # Moved aside first: a put from now on writes the file anew; one that renewed
                # it between the look and the move shows in its time, and it goes back.
                os.replace(path, doomed)
            except FileNotFoundError:
                continue
            if _mtime(doomed) >= limit:
                os.replace(doomed, path)
                continue
            doomed.unlink(missing_ok=True)
            removed += 1
        for leftover in [*tmp_dir.glob("*.part"), *tmp_dir.glob("*.purge")]:
            if _mtime(leftover) < limit:  # a write or a purge a crash cut off
                leftover.unlink(missing_ok=True)
        return removed

    async def put(self, data: bytes) -> str:
        return await asyncio.to_thread(self._put, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._get, key)

    async def put_before(self, cutoff: datetime) -> list[str]:
        return await asyncio.to_thread(self._put_before, cutoff)

    async def remove(self, keys: Collection[str], *, cutoff: datetime) -> int:
        return await asyncio.to_thread(self._remove, keys, cutoff)


class DatabaseBlobStore:
    """Blobs as rows of ``blobs`` (``bytea`` on PostgreSQL), each put in a transaction of its
    own; the same bytes put twice, by two instances at once, are one row (``created_at`` then
    says when it was last put, for the purge's grace)."""

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
            statement = insert(Blob).values(**values)
            renewed = statement.on_conflict_do_update(
                index_elements=[Blob.sha256], set_={"created_at": statement.excluded.created_at}
            )
            await session.exec(renewed)
            await session.commit()
        return key

    async def get(self, key: str) -> bytes:
        async with self.sessions() as session:
            row = await session.get(Blob, _checked(key))
        if row is None or blob_key(row.content) != key:
            raise BlobMissing(key[:12])
        return row.content

    async def put_before(self, cutoff: datetime) -> list[str]:
        async with self.sessions() as session:
            keys = await session.exec(select(Blob.sha256).where(col(Blob.created_at) < cutoff))
            return list(keys.all())

    async def remove(self, keys: Collection[str], *, cutoff: datetime) -> int:
        removed = 0
        async with self.sessions() as session:
            for batch in _batches(sorted(keys)):
                result = await session.exec(
                    delete(Blob).where(col(Blob.sha256).in_(batch), col(Blob.created_at) < cutoff)
                )
                removed += int(result.rowcount or 0)
            await session.commit()
        return removed


def create_blob_store(settings: Settings, sessions: SessionFactory) -> BlobStore:
    """The store ``LIANKA_BLOB_STORE`` names."""
    if settings.blob_store == "database":
        return DatabaseBlobStore(sessions)
    return DirectoryBlobStore(settings.blob_dir or settings.var_dir / "blobs")


def _batches(keys: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(keys), _BATCH):
        yield keys[start : start + _BATCH]


async def referenced_blobs(
    sessions: SessionFactory, keys: Collection[str], now: datetime
) -> set[str]:
    """Those of ``keys`` an attachment points at, or a web draft alive at ``now`` holds."""
    wanted = set(keys)
    found: set[str] = set()
    async with sessions() as session:
        # Drafts before attachments: a reference only moves from a draft to an attachment (at
        # 确认提交, in one transaction), so one that moves between the two reads is seen in the
        # second; the other order could miss it in both.
        drafts = await session.exec(select(WebDraft.data).where(col(WebDraft.expires_at) > now))
        for data in drafts.all():
            for item in (data or {}).get("evidence", []):
                key = item.get("blob_sha256") if isinstance(item, dict) else None
                if key in wanted:
                    found.add(key)
        for batch in _batches(sorted(wanted)):
            rows = await session.exec(
                select(Attachment.blob_sha256).where(col(Attachment.blob_sha256).in_(batch))
            )
            found.update(key for key in rows.all() if key)
    return found


@dataclass(frozen=True, slots=True)
class BlobPurge:
    """What a purge takes: the blobs nothing references, last put before ``cutoff``."""

    cutoff: datetime
    orphans: tuple[str, ...]
    removed: int = 0


async def plan_blob_purge(
    store: BlobStore, sessions: SessionFactory, *, now: datetime, grace: timedelta = BLOB_GRACE
) -> BlobPurge:
    """The blobs referenced by no attachment and no live web draft, last put more than
    ``grace`` before ``now``; nothing is changed (a dry run lists these)."""
    cutoff = now - grace
    old = await store.put_before(cutoff)
    referenced = await referenced_blobs(sessions, old, now) if old else set()
    return BlobPurge(cutoff, tuple(sorted(k for k in old if k not in referenced)))


async def purge_orphan_blobs(
    store: BlobStore, sessions: SessionFactory, *, now: datetime, grace: timedelta = BLOB_GRACE
) -> BlobPurge:
    """Hourly: remove the blobs nothing references (an upload cut off, a file deleted from a
    draft, a draft expired) once ``grace`` has passed since their last put; a blob put again
    meanwhile stays."""
    plan = await plan_blob_purge(store, sessions, now=now, grace=grace)
    if not plan.orphans:
        return plan
    removed = await store.remove(plan.orphans, cutoff=plan.cutoff)
    return BlobPurge(plan.cutoff, plan.orphans, removed)
