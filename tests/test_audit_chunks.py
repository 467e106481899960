"""``lianka audit verify`` reads a province's cases a chunk at a time: what it finds does not
depend on where the chunks fall."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services import audit
from bot.services.anchors import write_anchor
from bot.services.audit import verify_audit
from models import event
from models.calendar import WorkCalendar
from tests.audit_support import tamper
from tests.inspector_support import make_people, submit


@pytest.mark.both_databases
async def test_a_history_edited_in_a_later_chunk_is_found_and_only_there(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(audit, "AUDIT_CHUNK", 2)
    people = await make_people(sessions, clock)
    cases = [
        await submit(sessions, catalog, calendar, clock, people.reporter, named=i == 3)
        for i in range(5)
    ]
    anchors = tmp_path / "audit-anchors.log"
    async with sessions() as session:
        await write_anchor(session, anchors, clock.now())
        whole = await verify_audit(session, anchor_file=anchors)
    assert whole.ok, whole.problems
    assert whole.cases == 5 and whole.events == sum(c.event_count for c in cases)
    edited, rewound = cases[2], cases[4]
    async with sessions() as session:
        await tamper(
            session,
            f"UPDATE cases SET description = '无问题。' WHERE id = {edited.id}",
            f"DELETE FROM case_events WHERE case_id = {rewound.id} AND seq = {rewound.event_count}",
            # rewound whole: the case's own count and head moved back with it, so only the
            # anchor can tell
            "UPDATE cases SET event_count = event_count - 1, last_event_hash = (SELECT hash FROM"
            f" case_events WHERE case_id = {rewound.id} AND seq = {rewound.event_count - 1})"
            f" WHERE id = {rewound.id}",
        )
        await session.commit()
    async with sessions() as session:
        found = await verify_audit(session, anchor_file=anchors)
    assert {problem.case_number for problem in found.problems} == {edited.number, rewound.number}
    assert any("description edited" in problem.problem for problem in found.problems)
    assert any("database rewound" in problem.problem for problem in found.problems)


@pytest.mark.both_databases
async def test_the_check_lets_the_process_serve_others_between_its_cases(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The console's 核验 runs in the process that serves the bot and the pages: while it
    checks a chunk's cases (its own CPU work, no waiting on the database), other tasks still
    get their turns, every ``AUDIT_YIELD_EVERY`` cases, not only once the chunk is done."""
    monkeypatch.setattr(audit, "AUDIT_YIELD_EVERY", 2)
    people = await make_people(sessions, clock)
    for _ in range(6):
        await submit(sessions, catalog, calendar, clock, people.reporter, named=False)
    turns = 0

    async def another_task() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    turns_at_each_case: list[int] = []

    def checking(*args: Any) -> Any:
        turns_at_each_case.append(turns)
        return event.verify_chain(*args)

    monkeypatch.setattr(audit, "verify_chain", checking)
    other = asyncio.ensure_future(another_task())
    try:
        async with sessions() as session:
            report = await verify_audit(session)
    finally:
        other.cancel()
    assert report.ok and report.cases == 6
    first, third, fifth = turns_at_each_case[0], turns_at_each_case[2], turns_at_each_case[4]
    assert first < third < fifth  # one chunk of six, the other task ran inside it
