"""流转记录: every event is chained by hash, so an edit, a deletion or an insertion shows."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.case import Case, CaseStatus
from models.event import (
    GENESIS_HASH,
    SYSTEM,
    Actor,
    ActorType,
    CaseEvent,
    EventKind,
    digest_of,
    record_event,
    transition,
    verify_chain,
)
from tests.audit_support import tamper
from tests.factories import make_case

pytestmark = pytest.mark.both_databases

INSPECTOR = Actor(ActorType.INSPECTOR, 3)


async def _worked_case(sessions: SessionFactory, clock: FrozenClock) -> str:
    """A case with five events: submitted, assigned, accepted, a progress note, resolved."""
    async with sessions() as session:
        case = await make_case(session, clock.now())
        steps = [
            (CaseStatus.ASSIGNED, EventKind.ASSIGNED, "分派给监督员"),
            (CaseStatus.ACCEPTED, EventKind.ACCEPTED, None),
            (None, EventKind.PROGRESS, "已约谈经开区财政局，资金本周拨付"),
            (CaseStatus.RESOLVED, EventKind.RESOLVED, "1700余万元已拨付到位"),
        ]
        for target, kind, note in steps:
            clock.advance(timedelta(hours=3))
            if target is None:
                event = record_event(case, kind, INSPECTOR, clock.now(), note=note, public=True)
            else:
                event = transition(case, target, kind, INSPECTOR, clock.now(), note=note)
            session.add(event)
        session.add(case)
        await session.commit()
        return case.number


async def _verify(sessions: SessionFactory, number: str) -> list[str]:
    async with sessions() as session:
        case = (await session.exec(select(Case).where(Case.number == number))).one()
        events = list(
            (await session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id))).all()
        )
        return [p.problem for p in verify_chain(case, events)]


async def test_an_untouched_history_verifies(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    number = await _worked_case(sessions, clock)
    assert await _verify(sessions, number) == []
    async with sessions() as session:
        events = (await session.exec(select(CaseEvent).order_by(col(CaseEvent.seq)))).all()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in pairwise(events))


async def test_an_edited_note_is_detected(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    number = await _worked_case(sessions, clock)
    async with sessions() as session:
        await tamper(session, "UPDATE case_events SET note = '资金已全部拨付' WHERE seq = 4")
        await session.commit()
    problems = await _verify(sessions, number)
    assert problems == ["content edited: hash does not match"]


async def test_a_deleted_event_is_detected(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    number = await _worked_case(sessions, clock)
    async with sessions() as session:
        await tamper(session, "DELETE FROM case_events WHERE seq = 3")
        await session.commit()
    problems = await _verify(sessions, number)
    assert "sequence gap: expected 3, found 4" in problems
    assert "link broken: an event before it is missing or changed" in problems


async def test_deleting_the_newest_event_is_detected(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    number = await _worked_case(sessions, clock)
    async with sessions() as session:
        await tamper(session, "DELETE FROM case_events WHERE seq = 5")
        await session.commit()
    problems = await _verify(sessions, number)
    assert problems == ["chain end does not match the case: 4 events, case records 5"]


async def test_an_inserted_event_is_detected(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    number = await _worked_case(sessions, clock)
    async with sessions() as session:
        case = (await session.exec(select(Case).where(Case.number == number))).one()
        events = (await session.exec(select(CaseEvent).where(CaseEvent.seq == 2))).one()
        # a forged event placed between 2 and 3, hashed correctly on top of event 2
        forged = CaseEvent(
            case_id=events.case_id,
            seq=3,
            kind=EventKind.PROGRESS,
            actor_type=ActorType.INSPECTOR,
            actor_id=3,
            note="企业已撤回诉求",
            data={},
            created_at=events.created_at + timedelta(minutes=5),
            prev_hash=events.hash,
            hash="",
        )
        forged.hash = digest_of(forged, case.number)
        # make room: the old events 3..5 become 4..6 (in two steps for the unique index)
        await tamper(
            session,
            "UPDATE case_events SET seq = seq + 10 WHERE seq >= 3",
            "UPDATE case_events SET seq = seq - 9 WHERE seq >= 13",
        )
        session.add(forged)
        await session.commit()
    problems = await _verify(sessions, number)
    assert "link broken: an event before it is missing or changed" in problems
    assert "content edited: hash does not match" in problems
    assert "chain end does not match the case: 6 events, case records 5" in problems


async def test_a_refused_transition_writes_no_event(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    from models.errors import InvalidTransition

    async with sessions() as session:
        case = await make_case(session, clock.now())
        with pytest.raises(InvalidTransition):
            transition(case, CaseStatus.CLOSED, EventKind.CLOSED, SYSTEM, clock.now())
        await session.commit()
    async with sessions() as session:
        count = len((await session.exec(select(CaseEvent))).all())
    assert count == 1
