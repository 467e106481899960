"""How ``lianka demo-data`` loads a history in bulk: what it changes about the process and the
database while it writes, and what it leaves as it found it."""

from __future__ import annotations

import gc

import pytest

import demo.bulk
from bot.config import LiankaConfig
from bot.db import SessionFactory
from demo import generate_demo
from demo.rows import uncollected
from models.calendar import WorkCalendar
from tests.conftest import DEFAULT_NOW as NOW


def test_the_collector_pauses_and_resumes_as_it_was() -> None:
    assert gc.isenabled()
    with uncollected():
        assert not gc.isenabled()
        with uncollected():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an inner pause does not resume the outer one's
    assert gc.isenabled()
    gc.disable()
    try:
        with uncollected():
            pass
        assert not gc.isenabled()  # paused before: left paused
    finally:
        gc.enable()


async def test_the_collector_rests_while_a_history_is_worked_out_and_runs_again_after(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[bool] = []
    finish = demo.bulk.MemoryLedger.finish

    def watched(ledger: demo.bulk.MemoryLedger, case: object) -> None:
        seen.append(gc.isenabled())
        finish(ledger, case)  # type: ignore[arg-type]

    monkeypatch.setattr(demo.bulk.MemoryLedger, "finish", watched)
    await generate_demo(sessions, catalog, calendar, NOW, cases=12, seed=3, months=2)
    assert seen and not any(seen)
    assert gc.isenabled()
