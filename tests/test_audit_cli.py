"""``lianka audit verify`` on a SQLite file: it passes on untouched history and names every
edited, deleted or inserted event (exit code 1)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import create_engine, create_session_factory
from bot.services.acceptance import accept_case
from bot.services.calendar import load_calendar
from bot.services.catalog import sync_catalog
from bot.services.inspectors import get_actor
from bot.services.policy import Policy
from bot.services.progress import add_progress
from bot.services.resolution import resolve_case
from models.case import Outcome
from models.event import event_digest
from tests.audit_support import tamper_file
from tests.inspector_support import INSPECTOR, make_people, submit
from tests.test_cli import lianka

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@dataclass
class History:
    path: Path
    url: str
    worked: str  # a case with 7 events: submitted … progress … resolved
    fresh: str  # a case with 3 events


@pytest.fixture
async def history(tmp_path: Path, config: LiankaConfig) -> History:
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
    worked = await submit(sessions, config, calendar, clock, people.reporter)
    assert worked.id is not None
    async with sessions() as session:
        actor = await get_actor(session, INSPECTOR)
        clock.advance(timedelta(hours=1))
        await accept_case(
            session, actor, worked.id, policy=Policy(config, calendar), now=clock.now()
        )
        clock.advance(timedelta(hours=1))
        await add_progress(
            session, actor, worked.id, note="已约谈财政局。", public=True, now=clock.now()
        )
        clock.advance(timedelta(hours=1))
        await resolve_case(
            session,
            actor,
            worked.id,
            outcome=Outcome.SOLVED,
            summary="资金已拨付。",
            amount_yuan=17_000_000,
            policy=Policy(config, calendar),
            now=clock.now(),
        )
    fresh = await submit(sessions, config, calendar, clock, people.reporter)
    await engine.dispose()
    return History(path, url, worked.number, fresh.number)


def verify(history: History, *args: str) -> tuple[int, str]:
    result = lianka(
        "audit", "verify", *args, cwd=history.path.parent, env={"LIANKA_DATABASE_URL": history.url}
    )
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout + result.stderr


def tamper(history: History, sql: str, *params: object) -> None:
    tamper_file(history.path, sql, *params)


def event_row(history: History, number: str, seq: int) -> dict[str, object]:
    with sqlite3.connect(history.path) as db:
        db.row_factory = sqlite3.Row
        row = db.execute(
            "SELECT e.* FROM case_events e JOIN cases c ON c.id = e.case_id "
            "WHERE c.number = ? AND e.seq = ?",
            (number, seq),
        ).fetchone()
    return dict(row)


def test_untouched_history_passes(history: History) -> None:
    code, output = verify(history)
    assert code == 0, output
    assert "流转记录完整 (OK): 2 件问题, 11 条记录" in output  # the second, a 重复件, flagged


def test_an_edited_note_is_detected(history: History) -> None:
    progress = event_row(history, history.worked, 6)
    assert progress["note"] == "已约谈财政局。"
    tamper(history, "UPDATE case_events SET note = ? WHERE id = ?", "未约谈。", progress["id"])
    code, output = verify(history)
    assert code == 1
    assert f"{history.worked} #6: content edited: hash does not match" in output
    assert history.fresh not in output


def test_a_deleted_event_is_detected(history: History) -> None:
    accepted = event_row(history, history.worked, 4)
    tamper(history, "DELETE FROM case_events WHERE id = ?", accepted["id"])
    code, output = verify(history)
    assert code == 1
    assert f"{history.worked} #5: sequence gap: expected 4, found 5" in output
    assert f"{history.worked} #5: link broken" in output
    assert f"{history.worked} end: chain end does not match the case: 6 events" in output


def test_the_deletion_of_the_newest_event_is_detected(history: History) -> None:
    last = event_row(history, history.worked, 7)
    tamper(history, "DELETE FROM case_events WHERE id = ?", last["id"])
    code, output = verify(history)
    assert code == 1
    assert (
        f"{history.worked} end: chain end does not match the case: 6 events, case records 7"
        in output
    )


def test_an_inserted_event_is_detected_even_with_a_correct_hash(history: History) -> None:
    # the fresh case: submitted, routed, assigned, flagged as a 重复件 of the worked one
    last = event_row(history, history.fresh, 4)
    at = datetime(2026, 11, 26, 5, 0, tzinfo=UTC)
    digest = event_digest(
        case_number=history.fresh,
        seq=5,
        kind="progress",
        from_status=None,
        to_status=None,
        actor_type="inspector",
        actor_id=1,
        note="伪造的进展",
        data={},
        public=False,
        created_at=at,
        prev_hash=str(last["hash"]),
    )
    tamper(
        history,
        "INSERT INTO case_events (case_id, seq, kind, actor_type, actor_id, note, data, public,"
        " created_at, prev_hash, hash) VALUES (?, 5, 'progress', 'inspector', 1, '伪造的进展',"
        " '{}', 0, ?, ?, ?)",
        last["case_id"],
        at.replace(tzinfo=None).isoformat(sep=" "),
        last["hash"],
        digest,
    )
    code, output = verify(history)
    assert code == 1
    assert (
        f"{history.fresh} end: chain end does not match the case: 5 events, case records 4"
        in output
    )


def test_one_case_can_be_checked_alone(history: History) -> None:
    tamper(history, "UPDATE case_events SET note = 'x' WHERE seq = 1")
    assert verify(history, "--case", history.fresh)[0] == 1
    tamper(
        history,
        "UPDATE case_events SET note = NULL WHERE case_id = "
        "(SELECT id FROM cases WHERE number = ?)",
        history.fresh,
    )
    code, output = verify(history, "--case", history.fresh)
    assert code == 0 and "1 件问题" in output
    code, output = verify(history, "--case", history.worked, "--json")
    report = json.loads(output)
    assert code == 1 and report["ok"] is False
    assert report["problems"][0] == {
        "case": history.worked,
        "seq": 1,
        "problem": "content edited: hash does not match",
    }
    code, output = verify(history, "--case", "AJ-2026-99999")
    assert code == 1 and "未找到编号为 AJ-2026-99999 的问题" in output


def test_cases_list_and_show_give_admins_the_cases_and_their_history(history: History) -> None:
    env = {"LIANKA_DATABASE_URL": history.url}
    listed = lianka("cases", "list", "--json", cwd=history.path.parent, env=env)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["number"], r["status"], r["team"]) for r in rows] == [
        (history.fresh, "assigned", "business_env"),
        (history.worked, "resolved", "business_env"),
    ]
    assert rows[0]["due"] == "accept" and rows[1]["due"] == "followup"
    resolved = lianka(
        "cases", "list", "--status", "resolved", "--json", cwd=history.path.parent, env=env
    )
    assert [r["number"] for r in json.loads(resolved.stdout)] == [history.worked]
    other_team = lianka("cases", "list", "--team", "safety", cwd=history.path.parent, env=env)
    assert other_team.returncode == 0 and history.worked not in other_team.stdout
    unknown = lianka("cases", "list", "--team", "nope", cwd=history.path.parent, env=env)
    assert unknown.returncode == 1 and "未知的监督组 “nope”" in unknown.stderr

    shown = lianka("cases", "show", history.worked, "--json", cwd=history.path.parent, env=env)
    assert shown.returncode == 0, shown.stderr
    case = json.loads(shown.stdout)
    assert case["amount_coordinated_yuan"] == 17_000_000 and case["outcome"] == "solved"
    assert [e["kind"] for e in case["events"]] == [
        "submitted",
        "routed",
        "assigned",
        "accepted",
        "first_reply",
        "progress",
        "resolved",
    ]
    assert case["events"][5]["note"] == "已约谈财政局。"
    assert "宋利剑" not in shown.stdout and "7100001" not in shown.stdout
    table = lianka("cases", "show", history.worked, cwd=history.path.parent, env=env)
    assert table.returncode == 0 and "流转记录" in table.stdout and "办结" in table.stdout
