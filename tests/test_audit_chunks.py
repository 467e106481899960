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
from bot.services.accounts import log_access
from bot.services.anchors import verify_access_log, write_anchor
from bot.services.audit import verify_audit
from models import event
from models.account import AccessKind
from models.calendar import WorkCalendar
from tests.audit_support import tamper
from tests.casework import accept, case_of, make_staff, report, sh
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


@pytest.mark.both_databases
async def test_a_case_worked_on_while_the_check_reads_it_is_not_reported_as_tampered(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A chunk's cases are read, then their events: an inspector's 签收 in between (a new
    event and the case's row, in one transaction) made the case look one event longer than its
    row records, and 核验 told the leaders to report a tampering that never was. Now what a
    case's row and history say together is what is checked; a real edit is still found."""
    async with sessions() as session:
        await make_staff(session, sh(2026, 11, 2, 9))
    worked = await report(sessions, catalog, calendar, sh(2026, 11, 3, 9))
    edited = await report(
        sessions, catalog, calendar, sh(2026, 11, 3, 10), telegram_user_id=7_000_002
    )
    assert worked.id is not None and edited.id is not None
    worked_id = worked.id
    async with sessions() as session:
        await tamper(session, f"UPDATE cases SET description = '无问题。' WHERE id = {edited.id}")
        await session.commit()
    chunk = audit._verify_chunk

    async def accepted_meanwhile(*args: Any, **kwargs: Any) -> None:
        await accept(sessions, catalog, calendar, worked_id, sh(2026, 11, 4, 9))
        await chunk(*args, **kwargs)

    monkeypatch.setattr(audit, "_verify_chunk", accepted_meanwhile)
    async with sessions() as session:
        found = await verify_audit(session)
    assert found.cases == 2
    assert [p.case_number for p in found.problems] == [edited.number], found.problems
    assert "description edited" in found.problems[0].problem
    assert (await case_of(sessions, worked_id)).event_count == worked.event_count + 1


@pytest.mark.both_databases
async def test_a_sign_in_while_the_check_reads_the_sign_in_log_is_not_a_tampering(
    sessions: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sign-in log is read, then its head: a sign-in in between moved the head one line
    past what was read. A line removed for real is still found."""
    for minute in range(3):
        async with sessions() as session:
            await log_access(session, AccessKind.FAILED, sh(2026, 11, 3, 9, minute))
            await session.commit()
    async with sessions() as session:
        reading = session.get

        async def signed_in_meanwhile(*args: Any, **kwargs: Any) -> Any:
            async with sessions() as other:
                await log_access(other, AccessKind.SIGNED_IN, sh(2026, 11, 3, 10))
                await other.commit()
            return await reading(*args, **kwargs)

        monkeypatch.setattr(session, "get", signed_in_meanwhile)
        lines, problems = await verify_access_log(session)
    assert (lines, problems) == (4, [])

    async with sessions() as session:
        await tamper(session, "DELETE FROM console_access_log WHERE seq = 2")
        await session.commit()
    async with sessions() as session:
        lines, problems = await verify_access_log(session)
    assert lines == 3 and [p.seq for p in problems] == [3, 3, None]  # a gap, a broken link
