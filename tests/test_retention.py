"""Retention: a purge removes exactly what ``[retention]`` says has been kept long enough —
unsubmitted drafts, the text of sent notices, named reporters' contacts and receipt codes —
keeps everything just inside each limit, changes nothing on a dry run, and leaves every audit
chain verifiable."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import update
from sqlmodel import col, select

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.private_files import make_private
from bot.services.audit import verify_audit
from bot.services.retention import PurgeKind, plan_purge, purge
from demo import generate_demo
from models.calendar import SHANGHAI, WorkCalendar
from models.card import Card
from models.case import Case, CaseStatus
from models.event import CaseEvent
from models.fsm import FsmRecord
from models.notification import Channel, Notification, NotificationStatus
from models.reporter import ReporterContact
from models.web_draft import WebDraft
from tests.conftest import ROOT
from tests.test_cli import lianka

DEMO_NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
# Four and a half years on: the contacts of cases closed in the demo's first months are past
# five years, the later ones not; every notice text and receipt code is long past its limit.
PURGE_NOW = datetime(2031, 5, 26, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)
MINUTE = timedelta(minutes=1)
CLOSED = (CaseStatus.CLOSED, CaseStatus.WITHDRAWN)
WAITING = (NotificationStatus.PENDING, NotificationStatus.SENDING)


def _has_text(row: Notification) -> bool:
    return row.text is not None or row.params is not None or row.reply_markup is not None


async def _snapshot(sessions: SessionFactory) -> dict[str, Any]:
    """Everything a purge may touch, and the audit trail it must not."""
    async with sessions() as session:
        cases = (await session.exec(select(Case).order_by(col(Case.id)))).all()
        notices = (await session.exec(select(Notification).order_by(col(Notification.id)))).all()
        events = (await session.exec(select(CaseEvent).order_by(col(CaseEvent.id)))).all()
        return {
            "fsm": sorted((await session.exec(select(FsmRecord.key))).all()),
            "web": sorted((await session.exec(select(WebDraft.session_key))).all()),
            "contacts": sorted((await session.exec(select(ReporterContact.case_id))).all()),
            "receipts": [c.id for c in cases if c.receipt_hash is not None],
            "texts": [n.id for n in notices if _has_text(n)],
            "notices": [
                (n.id, n.kind, n.recipient_kind, n.recipient_id, n.status, n.created_at, n.sent_at)
                for n in notices
            ],
            "events": [(e.id, e.case_id, e.seq, e.kind, e.hash, e.data) for e in events],
        }


async def _expected(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> dict[str, set[Any]]:
    """What the retention settings say must go at ``PURGE_NOW``, read row by row."""
    retention = config.retention
    drafts_before = PURGE_NOW - timedelta(days=retention.draft_days)
    texts_before = PURGE_NOW - timedelta(days=retention.notification_text_days)
    contacts_before = PURGE_NOW.replace(year=PURGE_NOW.year - retention.contact_years)
    window = config.receipt_window()
    async with sessions() as session:
        cases = {c.id: c for c in (await session.exec(select(Case))).all()}
        fsm = (await session.exec(select(FsmRecord))).all()
        web = (await session.exec(select(WebDraft))).all()
        contacts = (await session.exec(select(ReporterContact))).all()
        notices = (await session.exec(select(Notification))).all()

    def closed_before(case: Case, limit: Callable[[datetime], bool]) -> bool:
        return case.status in CLOSED and case.closed_at is not None and limit(case.closed_at)

    return {
        "fsm": {r.key for r in fsm if r.updated_at <= drafts_before},
        "web": {
            w.session_key for w in web if w.reporter_id is None and w.updated_at <= drafts_before
        },
        "texts": {
            n.id
            for n in notices
            if _has_text(n)
            and (n.sent_at or n.created_at) <= texts_before
            and not (n.channel is Channel.TELEGRAM and n.status in WAITING)
        },
        "contacts": {
            c.case_id
            for c in contacts
            if closed_before(cases[c.case_id], lambda at: at <= contacts_before)
        },
        "receipts": {
            c.id
            for c in cases.values()
            if c.receipt_hash is not None
            and closed_before(c, lambda at: calendar.deadline(at, window).due_at <= PURGE_NOW)
        },
    }


async def _on_the_edges(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> dict[str, tuple[Any, Any]]:
    """A row just outside (to go) and one just inside (to stay) each limit: drafts and web
    drafts written here, notices, contacts and receipts moved to the edge."""
    retention = config.retention
    drafts_before = PURGE_NOW - timedelta(days=retention.draft_days)
    texts_before = PURGE_NOW - timedelta(days=retention.notification_text_days)
    contacts_before = PURGE_NOW.replace(year=PURGE_NOW.year - retention.contact_years)
    window = config.receipt_window()
    # the last closing time whose receipt window has passed at PURGE_NOW, and the next day's
    day = PURGE_NOW.astimezone(SHANGHAI).replace(hour=12, minute=0)
    while calendar.deadline(day, window).due_at > PURGE_NOW:
        day -= timedelta(days=1)
    receipt_out, receipt_in = day, day + timedelta(days=1)
    assert calendar.deadline(receipt_in, window).due_at > PURGE_NOW
    async with sessions() as session:
        card = (await session.exec(select(Card))).first()
        assert card is not None and card.id is not None
        for key, at in (("fsm-out", drafts_before - MINUTE), ("fsm-in", drafts_before + MINUTE)):
            session.add(
                FsmRecord(key=key, state="Intake:contact", data={"name": "张三"}, updated_at=at)
            )
        for key, at, reporter in (
            ("web-out", drafts_before - MINUTE, None),
            ("web-in", drafts_before + MINUTE, None),
        ):
            session.add(
                WebDraft(
                    session_key=key,
                    card_id=card.id,
                    draft_id=key,
                    step="contact",
                    data={"contact_phone": "13800000000"},
                    reporter_id=reporter,
                    created_at=at,
                    updated_at=at,
                    expires_at=at + timedelta(days=retention.draft_days),
                )
            )
        sent = (
            await session.exec(
                select(Notification)
                .where(Notification.status == NotificationStatus.SENT)
                .order_by(col(Notification.id))
                .limit(2)
            )
        ).all()
        named = (
            await session.exec(
                select(Case)
                .join(ReporterContact, col(ReporterContact.case_id) == col(Case.id))
                .where(col(Case.status).in_(CLOSED))
                .order_by(col(Case.id))
                .limit(2)
            )
        ).all()
        with_receipt = (
            await session.exec(
                select(Case)
                .where(col(Case.status).in_(CLOSED), col(Case.receipt_hash).is_not(None))
                .order_by(col(Case.id).desc())
                .limit(2)
            )
        ).all()
        assert len(sent) == 2 and len(named) == 2 and len(with_receipt) == 2
        moves = (
            (Notification, sent, "sent_at", (texts_before - MINUTE, texts_before + MINUTE)),
            (Case, named, "closed_at", (contacts_before - MINUTE, contacts_before + MINUTE)),
            (Case, with_receipt, "closed_at", (receipt_out, receipt_in)),
        )
        for model, rows, column, times in moves:
            for row, at in zip(rows, times, strict=True):
                await session.exec(
                    update(model).where(col(model.id) == row.id).values({column: at})  # type: ignore[attr-defined]
                )
        await session.commit()
        return {
            "fsm": ("fsm-out", "fsm-in"),
            "web": ("web-out", "web-in"),
            "texts": (sent[0].id, sent[1].id),
            "contacts": (named[0].id, named[1].id),
            "receipts": (with_receipt[0].id, with_receipt[1].id),
        }


KINDS = {
    "fsm": PurgeKind.BOT_DRAFTS,
    "web": PurgeKind.WEB_DRAFTS,
    "texts": PurgeKind.NOTIFICATION_TEXTS,
    "contacts": PurgeKind.CONTACTS,
    "receipts": PurgeKind.RECEIPTS,
}


@pytest.mark.both_databases
async def test_a_purge_of_a_demo_database_removes_exactly_what_the_retention_settings_say(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await generate_demo(sessions, catalog, calendar, DEMO_NOW, cases=150, seed=5, months=12)
    edges = await _on_the_edges(sessions, catalog, calendar)
    expected = await _expected(sessions, catalog, calendar)
    for name, (outside, inside) in edges.items():
        assert outside in expected[name] and inside not in expected[name], name
    assert 0 < len(expected["contacts"]) < len((await _snapshot(sessions))["contacts"])
    before = await _snapshot(sessions)

    async with sessions() as session:
        dry = await purge(session, catalog, PURGE_NOW, dry_run=True)
        planned = await plan_purge(session, catalog, PURGE_NOW)
    assert await _snapshot(sessions) == before  # a dry run changes nothing
    for name, kind in KINDS.items():
        assert dry[kind] == planned[kind] == len(expected[name]), name

    async with sessions() as session:
        done = await purge(session, catalog, PURGE_NOW)
    after = await _snapshot(sessions)
    for name, kind in KINDS.items():
        assert done[kind] == len(expected[name]), name
        assert set(before[name]) - set(after[name]) == expected[name], name
        outside, inside = edges[name]
        assert outside not in after[name] and inside in after[name], name
    # the notices themselves stay: who, what kind, status and times
    assert after["notices"] == before["notices"]
    # the audit trail is untouched and verifies
    assert after["events"] == before["events"]
    async with sessions() as session:
        report = await verify_audit(session)
    assert report.ok, report.problems
    # a second run finds nothing more
    async with sessions() as session:
        assert (await purge(session, catalog, PURGE_NOW)).total == 0


async def test_a_notice_whose_text_was_purged_says_so_instead_of_failing(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    from notifications.render import PURGED, page_text, telegram_html

    await generate_demo(sessions, catalog, calendar, DEMO_NOW, cases=20, seed=2, months=2)
    async with sessions() as session:
        await purge(session, catalog, PURGE_NOW)
        rows = (
            await session.exec(select(Notification).where(col(Notification.template).is_not(None)))
        ).all()
    purged = [row for row in rows if row.params is None]
    assert purged
    for row in purged:
        assert row.notice is None and telegram_html(row) == PURGED and page_text(row) == PURGED


async def test_a_purged_notice_to_a_reporters_chat_no_longer_names_the_case_or_the_chat(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    from models.notification import Notice, Offer, Recipient, RecipientKind
    from notifications.outbox import enqueue

    await generate_demo(sessions, catalog, calendar, DEMO_NOW, cases=5, seed=2, months=1)
    chat = Recipient(RecipientKind.REPORTER, 41, 7_000_041)
    web = Recipient(RecipientKind.REPORTER, 42, None, channel=Channel.WEB)
    async with sessions() as session:
        case = (await session.exec(select(Case))).first()
        assert case is not None and case.id is not None
        for to in (chat, web):
            await enqueue(
                session, kind="followup_ask", to=to, case_id=case.id, stage=3, now=DEMO_NOW,
                notice=Notice.of("_plain", text="您反映的问题已办结"),
                offer=Offer.FOLLOWUP.on(case.id),
            )  # fmt: skip
        await session.exec(update(Notification).values(status=NotificationStatus.SENT))
        await session.commit()
        await purge(session, catalog, PURGE_NOW)
        rows = {
            row.recipient_id: row
            for row in (
                await session.exec(
                    select(Notification).where(
                        Notification.recipient_kind == RecipientKind.REPORTER
                    )
                )
            ).all()
        }
    told = rows[41]
    assert told.case_id is None and told.chat_id is None and told.offer_ref is None
    assert told.key.startswith("purged:") and f"{case.id}:followup_ask" not in told.key
    assert told.kind == "followup_ask" and told.status is NotificationStatus.SENT
    assert rows[42].case_id == case.id  # a web reporter's row is the report's, no one's chat


async def test_a_reporter_chat_notice_an_earlier_version_emptied_loses_its_case_link_once(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    from models.notification import Notice, Recipient, RecipientKind
    from notifications.outbox import enqueue

    await generate_demo(sessions, catalog, calendar, DEMO_NOW, cases=5, seed=2, months=1)
    chat = Recipient(RecipientKind.REPORTER, 41, 7_000_041)
    async with sessions() as session:
        case = (await session.exec(select(Case))).first()
        assert case is not None and case.id is not None
        await enqueue(
            session, kind="resolved", to=chat, case_id=case.id, stage=1, now=DEMO_NOW,
            notice=Notice.of("_plain", text="您反映的问题已办结"),
        )  # fmt: skip
        # what a purge before this version left: the text gone, the case and chat kept
        await session.exec(
            update(Notification)
            .where(col(Notification.recipient_id) == 41)
            .values(status=NotificationStatus.SENT, text=None, params=sa.null())
        )
        await session.commit()
        first = await purge(session, catalog, PURGE_NOW)
        (row,) = (
            await session.exec(select(Notification).where(Notification.recipient_id == 41))
        ).all()
        assert row.case_id is None and row.chat_id is None
        assert row.key.startswith("purged:") and f"{case.id}:resolved" not in row.key
        again = await purge(session, catalog, PURGE_NOW)
    assert first.counts[PurgeKind.NOTIFICATION_TEXTS] >= 1
    assert again.counts[PurgeKind.NOTIFICATION_TEXTS] == 0


@pytest.mark.slow
def test_lianka_purge_reports_in_chinese_changes_nothing_dry_and_the_audit_still_verifies(
    tmp_path: Path,
) -> None:
    env = {
        "LIANKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}",
        "LIANKA_CONFIG": str(ROOT / "lianka.example.toml"),
    }
    made = lianka(
        "demo-data", "--cases", "40", "--months", "6", "--now", "2026-11-26T10:00",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    later = ("--now", "2027-06-01T10:00")
    dry = lianka("purge", "--dry-run", *later, cwd=tmp_path, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "试运行，未作任何修改" in dry.stdout and "已发送通知的正文" in dry.stdout
    counted = lianka("purge", "--dry-run", "--json", *later, cwd=tmp_path, env=env)
    import json

    plan = json.loads(counted.stdout)
    assert plan["dry_run"] is True and plan["notification_texts"] > 0 and plan["receipts"] > 0
    done = lianka("purge", "--json", *later, cwd=tmp_path, env=env)
    assert json.loads(done.stdout) | {"dry_run": True} == plan
    again = lianka("purge", *later, cwd=tmp_path, env=env)
    assert "已按保存期限清理（已删除共 0 项）" in again.stdout, again.stdout
    verified = lianka("audit", "verify", cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stderr
    assert "流转记录完整" in verified.stdout


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.slow
def test_a_backup_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    env = {
        "LIANKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'live.db'}",
        "LIANKA_CONFIG": str(ROOT / "lianka.example.toml"),
    }
    made = lianka("demo-data", "--cases", "3", "--months", "1", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    out = tmp_path / "backups" / "copy.db"
    copied = lianka("backup", str(out), cwd=tmp_path, env=env)
    assert copied.returncode == 0, copied.stderr
    assert _mode(out) == 0o600
    out.chmod(0o644)
    again = lianka("backup", "--force", str(out), cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert _mode(out) == 0o600


def test_a_database_file_made_private_is_created_0600_and_sqlite_keeps_its_side_files_so(
    tmp_path: Path,
) -> None:
    import sqlite3

    previous = os.umask(0o022)
    try:
        database = tmp_path / "lianka.db"
        make_private(database)
        assert _mode(database) == 0o600
        connection = sqlite3.connect(database)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE t (x)")
        connection.execute("INSERT INTO t VALUES (1)")
        connection.commit()
        wal = tmp_path / "lianka.db-wal"
        assert wal.exists() and _mode(wal) == 0o600 and _mode(database) == 0o600
        connection.close()
        existing = tmp_path / "old.db"
        existing.write_bytes(b"")
        existing.chmod(0o644)
        make_private(existing)
        assert _mode(existing) == 0o600
    finally:
        os.umask(previous)


@pytest.mark.redis
async def test_a_draft_kept_in_redis_expires_after_the_draft_days(
    sessions: SessionFactory,
) -> None:
    from aiogram.fsm.storage.base import StorageKey
    from redis.asyncio import Redis
    from redis.exceptions import ConnectionError as RedisConnectionError

    from bot.settings import Settings
    from bot.storage import DeferredStorage, create_storage

    url = os.environ.get("LIANKA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    client = Redis.from_url(url)
    try:
        await client.ping()
    except (RedisConnectionError, OSError) as error:
        await client.aclose()
        if os.environ.get("LIANKA_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis is not reachable: {error}")
        pytest.skip(f"Redis is not reachable: {error}")
    storage = create_storage(Settings(_env_file=None, redis_url=url), sessions, draft_days=7)
    assert isinstance(storage, DeferredStorage)
    key = StorageKey(bot_id=int.from_bytes(os.urandom(4), "big"), chat_id=42, user_id=42)
    try:
        await storage.set_state(key, "Intake:contact")
        await storage.set_data(key, {"contact_name": "张三", "contact_phone": "13800000000"})
        stored = [k async for k in client.scan_iter(f"fsm:{key.bot_id}:*")]
        assert len(stored) == 2  # the state and the draft
        week = timedelta(days=7).total_seconds()
        for name in stored:
            ttl = await client.ttl(name)
            assert week - 60 < ttl <= week, name
    finally:
        stored = [k async for k in client.scan_iter(f"fsm:{key.bot_id}:*")]
        if stored:
            await client.delete(*stored)
        await storage.close()
        await client.aclose()


async def test_a_purged_phone_number_is_not_left_in_the_sqlite_file(
    sessions: SessionFactory, catalog: LiankaConfig, schema: str
) -> None:
    phone = "13912345678"
    long_ago = PURGE_NOW - timedelta(days=30)
    async with sessions() as session:
        for n in range(50):  # a few pages of them
            session.add(
                FsmRecord(
                    key=f"old-{n}",
                    state="Intake:contact",
                    data={"contact_phone": phone, "pad": "x" * 200},
                    updated_at=long_ago,
                )
            )
        await session.commit()
    database = Path(schema.split("///", 1)[1])

    def found() -> bool:
        files = [database, database.with_name(database.name + "-wal")]
        return any(phone.encode() in f.read_bytes() for f in files if f.exists())

    assert found()
    async with sessions() as session:
        assert (await purge(session, catalog, PURGE_NOW))[PurgeKind.BOT_DRAFTS] == 50
    assert not found()


@pytest.mark.slow
def test_the_database_lianka_init_creates_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    env = {"LIANKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'lianka.db'}"}
    made = lianka("init", cwd=tmp_path, env=env)
    assert made.returncode == 0, made.stderr
    database = tmp_path / "var" / "lianka.db"
    side = [database.with_name(database.name + s) for s in ("-wal", "-shm")]
    assert all(_mode(f) == 0o600 for f in (database, *side) if f.exists())


def test_the_retention_limits_come_from_the_config_and_a_bad_one_is_named() -> None:
    from bot.config import ConfigError, parse_config

    example = (ROOT / "lianka.example.toml").read_text(encoding="utf-8")
    shipped = parse_config(example, Path("lianka.toml")).retention
    assert (shipped.draft_days, shipped.notification_text_days, shipped.contact_years) == (7, 30, 5)
    custom = example.replace("contact_years = 5", "contact_years = 3")
    custom += "receipt_workdays_after_closure = 10\n"
    config = parse_config(custom, Path("lianka.toml"))
    assert config.retention.contact_years == 3
    assert config.retention.receipt_workdays_after_closure == 10
    # unset, receipt codes go after the 回访 window: asked 1 working day after 办结, 3 to answer;
    # or, longer, the 防打击报复回访's: asked 20 working days after 办结, 10 to answer
    assert parse_config(example, Path("lianka.toml")).followup_window() == 4
    assert parse_config(example, Path("lianka.toml")).receipt_window() == 30
    with pytest.raises(ConfigError) as error:
        parse_config(example.replace("draft_days = 7", "draft_days = 0"), Path("lianka.toml"))
    assert [problem.key for problem in error.value.problems] == ["retention.draft_days"]


async def test_the_daily_job_purges_as_lianka_purge_does(
    sessions: SessionFactory, catalog: LiankaConfig
) -> None:
    from bot.clock import FrozenClock
    from bot.scheduler import run_retention_purge

    week = timedelta(days=catalog.retention.draft_days)
    async with sessions() as session:
        for key, at in (("old", PURGE_NOW - week - MINUTE), ("recent", PURGE_NOW - week + MINUTE)):
            session.add(FsmRecord(key=key, state="Intake:contact", data={}, updated_at=at))
        await session.commit()
    await run_retention_purge(sessions, catalog, FrozenClock(PURGE_NOW))
    async with sessions() as session:
        assert (await session.exec(select(FsmRecord.key))).all() == ["recent"]
