"""The blob store: content-addressed, written whole or not at all, shared through the database."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

from bot.blobs import (
    BlobMissing,
    DatabaseBlobStore,
    DirectoryBlobStore,
    create_blob_store,
)
from bot.settings import Settings

DATA = b"%PDF-1.7\n" + os.urandom(4096)
KEY = hashlib.sha256(DATA).hexdigest()


async def test_directory_store_keeps_bytes_by_their_hash(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")
    assert await store.put(DATA) == KEY
    assert await store.put(DATA) == KEY  # the same bytes are one file
    assert await store.get(KEY) == DATA
    assert store.path(KEY) == tmp_path / "blobs" / KEY[:2] / KEY
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []


async def test_a_write_cut_off_leaves_no_blob_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")

    def power_cut(*_args: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError, match="disk gone"):
        await store.put(DATA)
    assert not store.path(KEY).exists()
    assert list((tmp_path / "blobs" / "tmp").iterdir()) == []
    with pytest.raises(BlobMissing):
        await store.get(KEY)


async def test_a_damaged_or_foreign_key_is_missing(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")
    await store.put(DATA)
    store.path(KEY).write_bytes(b"changed on disk")
    with pytest.raises(BlobMissing):
        await store.get(KEY)
    for key in ("../../etc/passwd", KEY.upper(), KEY[:-1], ""):
        with pytest.raises(BlobMissing):
            await store.get(key)


def test_the_setting_chooses_the_store(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, _env_file=None)
    store = create_blob_store(settings, sessions=None)  # type: ignore[arg-type]
    assert isinstance(store, DirectoryBlobStore) and store.root == tmp_path / "blobs"
    other = Settings(blob_store="database", _env_file=None)
    assert isinstance(create_blob_store(other, sessions=None), DatabaseBlobStore)  # type: ignore[arg-type]


@pytest.mark.both_databases
async def test_database_store_is_shared_and_puts_once(sessions) -> None:
    first, second = DatabaseBlobStore(sessions), DatabaseBlobStore(sessions)
    keys = await asyncio.gather(first.put(DATA), second.put(DATA), first.put(DATA))
    assert set(keys) == {KEY}
    assert await second.get(KEY) == DATA
    with pytest.raises(BlobMissing):
        await second.get(hashlib.sha256(b"other").hexdigest())
