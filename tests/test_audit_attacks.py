"""What an attacker who can write to the database (but does not hold LIANKA_AUDIT_KEY) does to
hide something, and how ``lianka audit verify`` (the real command, as a process) finds it: exit
1 and the case and what is wrong named."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel, col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory, create_engine, create_session_factory
from bot.services.acceptance import accept_case
from bot.services.accounts import log_access
from bot.services.audit import problem_text, verify_audit
from bot.services.calendar import load_calendar
from bot.services.catalog import sync_catalog
from bot.services.followup import rate_case
from bot.services.inspectors import get_actor
from bot.services.materials import view_materials
from bot.services.policy import Policy
from bot.services.progress import add_progress
from bot.services.resolution import resolve_case
from models.account import AccessKind
from models.case import Case, Outcome, Satisfaction
from models.event import CaseEvent, ChainProblem, EventKind, canonical_event, event_content
from models.keys import Keyring, generate_key, parse_key
from tests.audit_support import tamper, tamper_file
from tests.factories import make_case
from tests.inspector_support import BUSINESS_LEADER, INSPECTOR, REPORTER, make_people, submit
from tests.test_cli import lianka

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@dataclass
class Office:
    path: Path
    url: str
    named: str  # a named appeal: viewed (IDENTITY_VIEWED), worked on and resolved
    fresh: str  # an anonymous report, just submitted
    people: dict[int, int]


@pytest.fixture
async def office(tmp_path: Path, config: LiankaConfig) -> Office:
    path = tmp_path / "lianka.db"
    url = f"sqlite+aiosqlite:///{path}"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    sessions = create_session_factory(engine)
    clock = FrozenClock(NOW)
    async with sessions() as session:
        await sync_catalog(session, config)
        calendar = await load_calendar(session, config)
    people = await make_people(sessions, clock)
    named = await submit(sessions, config, calendar, clock, people.reporter, named=True, photo=True)
    assert named.id is not None
    async with sessions() as session:
        actor = await get_actor(session, INSPECTOR)
        policy = Policy(config, calendar)
        clock.advance(timedelta(hours=1))
        await accept_case(session, actor, named.id, policy=policy, now=clock.now())
        clock.advance(timedelta(hours=1))
        await view_materials(session, actor, named.id, now=clock.now())
        clock.advance(timedelta(hours=1))
        await add_progress(
            session, actor, named.id, note="已约谈财政局。", public=True, now=clock.now()
        )
        clock.advance(timedelta(hours=1))
        await resolve_case(
            session,
            actor,
            named.id,
            outcome=Outcome.SOLVED,
            summary="资金已拨付。",
            amount_yuan=17_000_000,
            policy=policy,
            now=clock.now(),
        )
    async with sessions() as session:
        for kind in (AccessKind.FAILED, AccessKind.SIGNED_IN, AccessKind.SIGNED_OUT):
            await log_access(session, kind, clock.now(), client="10.0.0.7")
            await session.commit()
    fresh = await submit(sessions, config, calendar, clock, people.reporter)
    await engine.dispose()
    return Office(path, url, named.number, fresh.number, people.ids)


def run(office: Office, *args: str) -> tuple[int, str]:
    result = lianka(*args, cwd=office.path.parent, env={"LIANKA_DATABASE_URL": office.url})
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, result.stdout + result.stderr


def verify(office: Office) -> tuple[int, str]:
    return run(office, "audit", "verify")


def anchor(office: Office) -> str:
    code, output = run(office, "audit", "anchor")
    assert code == 0, output
    return output


async def _rechain(
    office: Office, number: str, digest: Callable[[bytes], str], *, drop: EventKind
) -> None:
    """The attacker's rewrite: the ``drop`` event deleted, the later ones renumbered and every
    hash recomputed with ``digest`` (what one can do without the audit key)."""
    engine = create_engine(office.url)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        case = (await session.exec(select(Case).where(Case.number == number))).one()
        events = list(
            (
                await session.exec(
                    select(CaseEvent)
                    .where(CaseEvent.case_id == case.id)
                    .order_by(col(CaseEvent.seq))
                )
            ).all()
        )
        kept = [e for e in events if e.kind is not drop]
        assert len(kept) == len(events) - 1
        statements = [
            f"DELETE FROM case_events WHERE id = {e.id}" for e in events if e.kind is drop
        ]
        prev = "0" * 64
        for seq, event in enumerate(kept, 1):
            content = event_content(event, number) | {"seq": seq, "prev_hash": prev}
            new_hash = digest(canonical_event(**content))
            statements.append(
                f"UPDATE case_events SET seq = {seq}, prev_hash = '{prev}', hash = '{new_hash}' "
                f"WHERE id = {event.id}"
            )
            prev = new_hash
        statements.append(
            f"UPDATE cases SET event_count = {len(kept)}, last_event_hash = '{prev}' "
            f"WHERE id = {case.id}"
        )
        await tamper(session, *statements)
        await session.commit()
    await engine.dispose()


def _sha256(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


def _wrong_key(canonical: bytes) -> str:
    guess = Keyring(parse_key(generate_key(), "d"), parse_key(generate_key(), "a"))
    return guess.mac("chain", canonical)


def test_untouched_history_and_its_anchor_verify(office: Office) -> None:
    output = anchor(office)
    assert "审计锚点：" in output and "（共2件）" in output
    log = office.path.parent / "var" / "audit-anchors.log"
    assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
    code, output = verify(office)
    assert code == 0, output
    assert "流转记录完整 (OK): 2 件问题" in output and "审计锚点：" in output


@pytest.mark.parametrize("digest", [_sha256, _wrong_key], ids=["plain-sha256", "wrong-key"])
async def test_an_identity_view_deleted_and_the_chain_rehashed_is_found(
    office: Office, digest: Callable[[bytes], str]
) -> None:
    await _rechain(office, office.named, digest, drop=EventKind.IDENTITY_VIEWED)
    code, output = verify(office)
    assert code == 1
    assert f"{office.named} #1: content edited: hash does not match" in output
    assert office.fresh not in output


def test_an_edited_description_is_found(office: Office) -> None:
    tamper_file(
        office.path, "UPDATE cases SET description = ? WHERE number = ?", "无问题。", office.fresh
    )
    code, output = verify(office)
    assert code == 1
    assert f"{office.fresh} #1: description edited" in output
    assert office.named not in output


def test_an_edited_contact_amount_outcome_and_assignee_are_found(office: Office) -> None:
    tamper_file(
        office.path,
        "UPDATE reporter_contacts SET phone = ? WHERE case_id = "
        "(SELECT id FROM cases WHERE number = ?)",
        "13900000000",
        office.named,
    )
    tamper_file(
        office.path,
        "UPDATE cases SET amount_coordinated_yuan = 1, outcome = 'unfounded', assignee_id = ? "
        "WHERE number = ?",
        office.people[BUSINESS_LEADER],
        office.named,
    )
    code, output = verify(office)
    assert code == 1
    for problem in ("contact edited", "amount edited", "outcome edited", "assignee changed"):
        assert problem in output, output
    assert office.fresh not in output


def test_an_edited_rating_is_found(office: Office) -> None:
    async def rate() -> None:
        engine = create_engine(office.url)
        async with create_session_factory(engine)() as session:
            case = (await session.exec(select(Case).where(Case.number == office.named))).one()
            assert case.id is not None
            await rate_case(
                session,
                REPORTER,
                case.id,
                rating=Satisfaction.SATISFIED,
                now=NOW + timedelta(days=1),
            )
        await engine.dispose()

    asyncio.run(rate())
    assert verify(office)[0] == 0
    tamper_file(
        office.path, "UPDATE cases SET satisfaction = 'unsatisfied' WHERE number = ?", office.named
    )
    code, output = verify(office)
    assert code == 1 and f"{office.named} #10: satisfaction edited" in output


def test_a_deleted_material_is_found(office: Office) -> None:
    tamper_file(
        office.path,
        "DELETE FROM attachments WHERE case_id = (SELECT id FROM cases WHERE number = ?)",
        office.named,
    )
    code, output = verify(office)
    assert code == 1 and f"{office.named} #1: materials changed" in output


def test_a_case_deleted_whole_is_found_by_the_anchor(office: Office) -> None:
    anchor(office)
    tamper_file(
        office.path,
        "DELETE FROM case_events WHERE case_id = (SELECT id FROM cases WHERE number = ?)",
        office.fresh,
    )
    tamper_file(office.path, "DELETE FROM cases WHERE number = ?", office.fresh)
    code, output = verify(office)
    assert code == 1
    # submitted, routed, 疑似重复件 (same enterprise and category as the named case), assigned
    assert f"{office.fresh} end: case deleted: 4 events anchored on" in output


def test_yesterdays_backup_restored_over_today_is_found(office: Office, tmp_path: Path) -> None:
    anchor(office)
    backup = tmp_path / "yesterday.db"
    shutil.copyfile(office.path, backup)
    _more_work(office)  # the next day: one more event on the named case, and a new anchor
    anchor(office)
    shutil.copyfile(backup, office.path)
    code, output = verify(office)
    assert code == 1
    assert f"{office.named} end: database rewound: 8 events, 9 anchored on" in output
    assert "database behind the anchor file" in output


def test_a_backup_restored_with_the_anchor_file_cut_back_is_found_by_the_printed_anchor(
    office: Office, tmp_path: Path
) -> None:
    anchor(office)
    backup = tmp_path / "yesterday.db"
    shutil.copyfile(office.path, backup)
    log = office.path.parent / "var" / "audit-anchors.log"
    yesterdays_lines = log.read_text(encoding="utf-8")
    _more_work(office)
    anchor(office)
    printed = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])["digest"][:16]
    # the attacker puts yesterday back, the database and the anchor file alike, key not needed
    shutil.copyfile(backup, office.path)
    log.write_text(yesterdays_lines, encoding="utf-8")
    assert verify(office)[0] == 0  # consistent with itself: only what was printed tells
    code, output = run(office, "audit", "verify", "--expect-anchor", printed)
    assert code == 1
    assert f"anchor {printed}… expected (a report or a copy printed it) is not in the" in output


def _more_work(office: Office) -> None:
    async def work() -> None:
        engine = create_engine(office.url)
        sessions = create_session_factory(engine)
        async with sessions() as session:
            actor = await get_actor(session, INSPECTOR)
            case = (await session.exec(select(Case).where(Case.number == office.named))).one()
            assert case.id is not None
            await view_materials(session, actor, case.id, now=NOW + timedelta(days=1))
        await engine.dispose()

    asyncio.run(work())


def test_an_edited_anchor_line_is_found(office: Office) -> None:
    anchor(office)
    log = office.path.parent / "var" / "audit-anchors.log"
    log.write_text(log.read_text().replace('"cases":2', '"cases":3'))
    code, output = verify(office)
    assert code == 1 and "forged or edited" in output


def test_a_deleted_sign_in_log_line_is_found(office: Office) -> None:
    tamper_file(office.path, "DELETE FROM console_access_log WHERE seq = 2")
    code, output = verify(office)
    assert code == 1
    assert "登录记录 #3: link broken" in output
    assert "登录记录 end: chain end does not match" in output


def test_the_problems_read_in_chinese_on_the_console() -> None:
    assert problem_text(ChainProblem("AJ-2026-00001", 1, "description edited: x")).startswith(
        "问题描述被改动"
    )
    assert problem_text(
        ChainProblem("AJ-2026-00001", None, "case deleted: 3 events anchored on 2026-12-05")
    ) == ("问题被整件删除：2026-12-05的审计锚点记有3条流转记录")


@pytest.mark.both_databases
async def test_the_database_refuses_to_change_or_delete_audit_rows(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_case(session, clock.now())
    for statement in (
        "UPDATE case_events SET note = 'x'",
        "DELETE FROM case_events",
    ):
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.exec(text(statement))  # type: ignore[call-overload]
            await session.rollback()
    async with sessions() as session:
        report = await verify_audit(session)
    assert report.ok and report.events == 1
