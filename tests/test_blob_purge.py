"""The blob store's purge: a web upload nothing references (no attachment, no live web draft) is
removed a day after it was last put, in the directory and in the database alike; whatever a case
or a draft in progress holds, and whatever was put again just now, stays. The scheduler runs it
every hour; ``lianka jobs run blob-purge`` by hand, with a dry run that changes nothing."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.blobs import (
    BLOB_GRACE,
    BlobMissing,
    BlobStore,
    DatabaseBlobStore,
    DirectoryBlobStore,
    plan_blob_purge,
    purge_orphan_blobs,
    referenced_blobs,
)
from bot.cli import main
from bot.clock import FrozenClock
from bot.db import SessionFactory, upgrade_database
from bot.scheduler import create_scheduler
from models.attachment import Blob, MediaKind
from models.intake import Evidence, reporter_file
from models.web_draft import WebDraft
from tests.conftest import ROOT
from tests.intake_helpers import make_card
from tests.tracking_support import web_case

pytestmark = pytest.mark.both_databases

LONG_AGO = timedelta(days=2)


def blob(name: str) -> bytes:
    return b"%PDF-1.4\n" + name.encode() * 64


@pytest.fixture(params=["directory", "database"])
def store(request: pytest.FixtureRequest, sessions: SessionFactory, tmp_path: Path) -> BlobStore:
    if request.param == "directory":
        return DirectoryBlobStore(tmp_path / "blobs")
    return DatabaseBlobStore(sessions)


async def last_put(store: BlobStore, sessions: SessionFactory, key: str, when: datetime) -> None:
    """Make ``key`` look as if it was last put at ``when``."""
    if isinstance(store, DirectoryBlobStore):
        os.utime(store.path(key), (when.timestamp(), when.timestamp()))
        return
    async with sessions() as session:
        await session.exec(update(Blob).where(col(Blob.sha256) == key).values(created_at=when))
        await session.commit()


def evidence(key: str) -> Evidence:
    return Evidence.from_blob(
        MediaKind.DOCUMENT, key, file_name="a.pdf", mime_type="application/pdf", file_size=10
    )


async def draft_holding(
    sessions: SessionFactory, key: str, *, session_key: str, expires_at: datetime, card_id: int
) -> None:
    now = datetime.now(UTC)
    async with sessions() as session:
        session.add(
            WebDraft(
                session_key=session_key,
                card_id=card_id,
                draft_id=session_key[:8],
                step="materials",
                data={"draft_id": session_key[:8], "evidence": [{"blob_sha256": key}]},
                created_at=now,
                updated_at=now,
                expires_at=expires_at,
            )
        )
        await session.commit()


async def present(store: BlobStore, key: str) -> bool:
    try:
        await store.get(key)
    except BlobMissing:
        return False
    return True


async def test_only_what_nothing_references_and_is_a_day_old_is_removed(
    store: BlobStore, sessions: SessionFactory, catalog, calendar
) -> None:
    now = datetime.now(UTC)
    keys = {name: await store.put(blob(name)) for name in ("case", "draft", "expired", "old")}
    keys["fresh"] = await store.put(blob("fresh"))
    keys["again"] = await store.put(blob("again"))
    web = await web_case(sessions, catalog, calendar)
    async with sessions() as session:
        session.add(reporter_file(web.id, evidence(keys["case"]), now))
        card = await make_card(session, now)
        assert card.id is not None
        await session.commit()
    await draft_holding(
        sessions, keys["draft"], session_key="a" * 64, expires_at=now + LONG_AGO, card_id=card.id
    )
    await draft_holding(
        sessions, keys["expired"], session_key="b" * 64, expires_at=now - LONG_AGO, card_id=card.id
    )
    for name in ("case", "draft", "expired", "old", "again"):
        await last_put(store, sessions, keys[name], now - LONG_AGO)
    assert await store.put(blob("again")) == keys["again"]  # put again: its day starts anew

    plan = await plan_blob_purge(store, sessions, now=now)
    assert set(plan.orphans) == {keys["expired"], keys["old"]} and plan.removed == 0
    assert plan.cutoff == now - BLOB_GRACE
    assert await present(store, keys["old"])  # planning removes nothing
    purge = await purge_orphan_blobs(store, sessions, now=now)
    assert purge.removed == 2
    assert {name: await present(store, key) for name, key in keys.items()} == {
        "case": True,
        "draft": True,
        "expired": False,
        "old": False,
        "fresh": True,
        "again": True,
    }
    assert (await purge_orphan_blobs(store, sessions, now=now)).removed == 0


async def test_a_blob_put_again_between_the_plan_and_the_removal_stays(
    store: BlobStore, sessions: SessionFactory
) -> None:
    now = datetime.now(UTC)
    key = await store.put(blob("raced"))
    await last_put(store, sessions, key, now - LONG_AGO)
    plan = await plan_blob_purge(store, sessions, now=now)
    assert plan.orphans == (key,)
    await store.put(blob("raced"))  # an upload of the same file, just now
    assert await store.remove(plan.orphans, cutoff=plan.cutoff) == 0
    assert await present(store, key)


async def test_a_report_submitted_while_the_purge_looks_keeps_its_files(
    store: BlobStore,
    sessions: SessionFactory,
    catalog,
    calendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 确认提交 moves a file from the draft to the case in one transaction; the purge reads the
    # drafts, then the attachments: a submission committed between the two reads is still seen
    now = datetime.now(UTC)
    key = await store.put(blob("submitted"))
    await last_put(store, sessions, key, now - LONG_AGO)  # added to the draft days ago
    web = await web_case(sessions, catalog, calendar)
    async with sessions() as session:
        card = await make_card(session, now)
        assert card.id is not None
        await session.commit()
    await draft_holding(
        sessions, key, session_key="c" * 64, expires_at=now + LONG_AGO, card_id=card.id
    )

    async def submit() -> None:
        async with sessions() as session:
            session.add(reporter_file(web.id, evidence(key), now))
            draft = await session.get(WebDraft, "c" * 64)
            assert draft is not None
            draft.data = {}
            session.add(draft)
            await session.commit()

    real_exec = AsyncSession.exec
    reads: list[object] = []

    async def submit_after_the_first_read(self: AsyncSession, statement: Any, **kw: Any) -> Any:
        result = await real_exec(self, statement, **kw)
        if not reads:  # the purge's first read is done; the next is still to come
            reads.append(statement)
            await submit()
        return result

    monkeypatch.setattr(AsyncSession, "exec", submit_after_the_first_read)
    found = await referenced_blobs(sessions, [key], now)
    monkeypatch.setattr(AsyncSession, "exec", real_exec)
    assert reads and found == {key}
    assert (await purge_orphan_blobs(store, sessions, now=now)).removed == 0
    assert await present(store, key)


def test_a_blob_renewed_as_the_purge_moves_it_aside_is_put_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")
    key = store._put(blob("renewed"))
    old = (datetime.now(UTC) - LONG_AGO).timestamp()
    os.utime(store.path(key), (old, old))
    real_replace = os.replace

    def renewed_first(source: str | Path, target: str | Path) -> None:
        if Path(source) == store.path(key):
            os.utime(source)  # an upload of the same file, in that very moment
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", renewed_first)
    assert store._remove([key], datetime.now(UTC) - BLOB_GRACE) == 0
    assert store._get(key) == blob("renewed")


async def test_a_temporary_file_a_crash_left_behind_goes_after_a_day(tmp_path: Path) -> None:
    store = DirectoryBlobStore(tmp_path / "blobs")
    await store.put(blob("x"))
    old, new = tmp_path / "blobs" / "tmp" / "old.part", tmp_path / "blobs" / "tmp" / "new.part"
    old.write_bytes(b"half")
    new.write_bytes(b"half")
    day_ago = (datetime.now(UTC) - LONG_AGO).timestamp()
    os.utime(old, (day_ago, day_ago))
    await store.remove([], cutoff=datetime.now(UTC) - BLOB_GRACE)
    assert not old.exists() and new.exists()


def test_the_scheduler_purges_every_hour_when_it_has_the_store(
    sessions: SessionFactory, config, tmp_path: Path
) -> None:
    clock = FrozenClock(datetime(2026, 11, 27, 6, tzinfo=UTC))
    scheduler = create_scheduler(
        sessions=sessions, config=config, clock=clock, blobs=DirectoryBlobStore(tmp_path)
    )
    job = scheduler.get_job("blob-purge")
    assert job is not None and job.trigger.interval == timedelta(hours=1)
    assert job.next_run_time == clock.now()
    assert (
        create_scheduler(sessions=sessions, config=config, clock=clock).get_job("blob-purge")
        is None
    )


def test_jobs_run_blob_purge_dry_run_changes_nothing_then_removes(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"
    upgrade_database(url)
    env = {
        "LIANKA_DATABASE_URL": url,
        "LIANKA_CONFIG": str(ROOT / "lianka.example.toml"),
        "LIANKA_BLOB_DIR": str(tmp_path / "blobs"),
    }
    store = DirectoryBlobStore(tmp_path / "blobs")
    key = store._put(blob("left behind"))
    path = store.path(key)
    day_ago = (datetime.now(UTC) - LONG_AGO).timestamp()
    os.utime(path, (day_ago, day_ago))

    def lianka(*args: str) -> dict[str, object]:
        result = CliRunner().invoke(main, ["jobs", "run", "blob-purge", *args, "--json"], env=env)
        assert result.exit_code == 0, result.output
        data: dict[str, object] = json.loads(result.output)
        return data

    dry = lianka("--dry-run")
    assert (dry["orphans"], dry["removed"], dry["dry_run"]) == (1, 0, True) and path.exists()
    done = lianka()
    assert (done["orphans"], done["removed"]) == (1, 1) and not path.exists()
    text = CliRunner().invoke(main, ["jobs", "run", "blob-purge"], env=env)
    assert text.exit_code == 0 and "已删除 0 个无引用的上传文件" in text.output
    # a pretended later moment would take live drafts' files: refused, nothing touched
    store._put(blob("in a draft"))
    later = CliRunner().invoke(
        main, ["jobs", "run", "blob-purge", "--now", "2099-01-01T00:00:00+08:00"], env=env
    )
    assert later.exit_code == 2 and "blob-purge 不支持 --now" in later.output
    assert len(store._put_before(datetime.now(UTC) + LONG_AGO)) == 1
