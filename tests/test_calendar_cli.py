"""``lianka calendar`` and ``lianka jobs run``: counting working days for people and scripts,
showing a year, loading the 2027 schedule (which recounts an open provisional deadline), and a
sweep by hand whose dry run changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import chinese_calendar
import pytest
from click.testing import CliRunner, Result
from sqlmodel import select

from bot.cli import main
from bot.config import load_config
from bot.db import SessionFactory, create_engine, create_session_factory, upgrade_database
from bot.services.calendar import load_calendar
from bot.services.catalog import sync_catalog
from bot.services.policy import Policy
from bot.services.routing import assign_case
from models.case import Case
from models.clock import CaseClock, ClockKind, ClockStage
from models.event import CaseEvent, EventKind
from models.notification import Notification
from models.team import Inspector
from tests.casework import accept, make_staff, report, sh
from tests.conftest import ROOT

T = TypeVar("T")
DATA = Path(__file__).parent / "data"
STARTED = sh(2026, 12, 28, 10)  # Monday; a clue's 30 working days run into 2027


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"
    upgrade_database(url)
    return {"LIANKA_DATABASE_URL": url, "LIANKA_CONFIG": str(ROOT / "lianka.example.toml")}


def lianka(env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


async def _with_db(url: str, work: Callable[[SessionFactory], Awaitable[T]]) -> T:
    engine = create_engine(url)
    try:
        return await work(create_session_factory(engine))
    finally:
        await engine.dispose()


def open_clue_case(env: dict[str, str]) -> int:
    """A clue case signed for on 28 Dec 2026: its 办结 deadline counts 30 working days."""
    config = load_config(ROOT / "lianka.example.toml")

    async def work(sessions: SessionFactory) -> int:
        async with sessions() as session:
            await sync_catalog(session, config)
            calendar = await load_calendar(session, config)
            await make_staff(session, STARTED, team="soe")
        case = await report(
            sessions,
            config,
            calendar,
            STARTED,
            category="soe_corruption",
            description="某国企负责人在工程分包中收受好处费，指定关系户承接项目。",
        )
        async with sessions() as session:
            stored = await session.get(Case, case.id)
            person = await session.get(Inspector, 1)
            assert stored is not None and person is not None
            await assign_case(session, stored, person, policy=Policy(config, calendar), now=STARTED)
            await session.commit()
        assert case.id is not None
        await accept(sessions, config, calendar, case.id, STARTED)
        return case.id

    return asyncio.run(_with_db(env["LIANKA_DATABASE_URL"], work))


def resolve_clock(env: dict[str, str], case_id: int) -> tuple[CaseClock, list[CaseEvent]]:
    async def work(sessions: SessionFactory) -> tuple[CaseClock, list[CaseEvent]]:
        async with sessions() as session:
            clock = (
                await session.exec(
                    select(CaseClock).where(
                        CaseClock.case_id == case_id, CaseClock.kind == ClockKind.RESOLVE
                    )
                )
            ).one()
            events = (await session.exec(select(CaseEvent))).all()
        return clock, list(events)

    return asyncio.run(_with_db(env["LIANKA_DATABASE_URL"], work))


def test_add_workdays_across_national_day_for_people_and_scripts(env: dict[str, str]) -> None:
    result = json.loads(lianka(env, "calendar", "add-workdays", "2026-09-30", "3", "--json").output)
    assert (result["date"], result["weekday"], result["provisional"]) == (
        "2026-10-10",
        "周六",
        False,
    )
    assert result["deadline"] == "2026-10-10T18:00:00+08:00"
    assert {s["name"] for s in result["skipped"]} == {"国庆节"}
    people = lianka(env, "calendar", "add-workdays", "2026-09-30", "3").output
    assert "2026-09-30 之后第 3 个工作日：2026-10-10（周六），期限 18:00" in people


def test_show_2026_lists_every_holiday_and_make_up_day(env: dict[str, str]) -> None:
    result = json.loads(lianka(env, "calendar", "show", "2026", "--json").output)
    days = {d["date"]: d for d in result["days"]}
    assert sum(not d["workday"] for d in days.values() if d["name"]) == 33
    assert [d for d in days if days[d]["workday"]] == [
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ]
    first, last = datetime(2026, 1, 1).date(), datetime(2026, 12, 31).date()
    assert result["workdays"] == len(chinese_calendar.get_workdays(first, last))
    assert "春节" in lianka(env, "calendar", "show", "2026").output


def test_a_deadline_into_2027_is_provisional_until_the_2027_schedule_is_loaded(
    env: dict[str, str],
) -> None:
    case_id = open_clue_case(env)
    before, _ = resolve_clock(env, case_id)
    assert before.provisional and before.due_at == sh(
        2027, 2, 15, 18
    )  # 元旦, 除夕, 初三 and the 补假 for 初一 and 初二 skipped
    shown = json.loads(lianka(env, "calendar", "show", "2027", "--json").output)
    assert shown["official"] is False and shown["source"].startswith("暂定")

    loaded = json.loads(
        lianka(env, "calendar", "load", str(DATA / "calendar-2027.toml"), "--json").output
    )
    assert (loaded["holidays"], loaded["make_up_workdays"]) == (29, 6)
    (change,) = [d for d in loaded["deadlines"] if d["clock"] == "resolve"]
    # 31 Jan (a make-up Sunday) counts, 5–13 Feb (春节) does not
    assert change["old_due_at"] == sh(2027, 2, 15, 18).isoformat()
    assert change["new_due_at"] == sh(2027, 2, 16, 18).isoformat()
    assert change["provisional"] is False

    after, events = resolve_clock(env, case_id)
    assert (after.due_at, after.provisional, after.stage) == (
        sh(2027, 2, 16, 18),
        False,
        ClockStage.NONE,
    )
    assert after.next_action_at == sh(2027, 2, 15, 18)  # warned one working day before
    assert [e.data["to"] for e in events if e.kind is EventKind.DEADLINE_CHANGED] == [
        sh(2027, 2, 16, 18).isoformat()
    ]
    counted = json.loads(
        lianka(env, "calendar", "add-workdays", "2026-12-28", "30", "--json").output
    )
    assert (counted["date"], counted["provisional"]) == ("2027-02-16", False)
    shown = json.loads(lianka(env, "calendar", "show", "2027", "--json").output)
    assert shown["official"] is True and "已载入" in shown["source"]

    again = json.loads(
        lianka(env, "calendar", "load", str(DATA / "calendar-2027.toml"), "--json").output
    )
    assert again["deadlines"] == []  # checked again against the same days: nothing moves


def test_a_broken_schedule_file_is_refused_with_the_reason(
    env: dict[str, str], tmp_path: Path
) -> None:
    broken = tmp_path / "2027.toml"
    broken.write_text(
        'year = 2027\nsource = "x"\n[[holidays]]\nname = "国庆节"\nstart = 2027-10-01\n'
        "end = 2027-10-07\nworkdays = [2027-10-08]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["calendar", "load", str(broken)], env=env)
    assert result.exit_code == 1
    assert "2027-10-08 is not a weekend day" in result.output


def test_jobs_run_dry_run_lists_and_changes_nothing_then_the_real_run_queues(
    env: dict[str, str],
) -> None:
    case_id = open_clue_case(env)
    moment = "2027-02-12T18:00"  # the provisional warning time of the resolve clock
    dry = json.loads(
        lianka(env, "jobs", "run", "deadline-sweep", "--now", moment, "--dry-run", "--json").output
    )
    assert dry["dry_run"] is True
    steps = {(a["case"], a["clock"], a["step"]) for a in dry["actions"]}
    assert ("AJ-2026-00001", "resolve", "warning") in steps
    clock, _ = resolve_clock(env, case_id)
    assert (clock.stage, clock.claimed_by) == (ClockStage.NONE, None)

    async def count(sessions: SessionFactory) -> int:
        async with sessions() as session:
            return len((await session.exec(select(Notification))).all())

    queued = asyncio.run(_with_db(env["LIANKA_DATABASE_URL"], count))
    people = lianka(env, "jobs", "run", "deadline-sweep", "--now", moment).output
    assert "期限巡检已完成" in people and "AJ-2026-00001" in people
    assert asyncio.run(_with_db(env["LIANKA_DATABASE_URL"], count)) > queued
    clock, _ = resolve_clock(env, case_id)
    assert clock.stage == ClockStage.WARNED
