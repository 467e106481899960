"""The bulk path on several cores (PostgreSQL): batches worked out by processes of their own.

A case depends on the cases before it only through a little state — the statuses and assignees
that decide whom the next case is given to, the 受理编号 and ids given so far, the cases a later
one names — and none of its rows. So this process goes through the history *dry* (``MemoryLedger.
dry``: that state only, no rows, events or hashes: a fraction of the work), and at the start of
each batch forks a process that inherits the state as it stands and works the batch out in full:
its rows, events and hash chains, exactly as one process would. Each batch is written in its own
transaction, ``PART`` cases at a time as they are worked out (a part's rows forgotten once sent:
the memory of a part, not of a batch, is touched, and the database takes a part while the next is
worked out), and committed in the batches' order, once the one before it is committed. The
cases' ids and links are the single process's; the ids the database gives (events, clocks,
notifications …) follow the order the parts arrive in. A case names earlier ones (重复件, merged,
prompted_by), maybe of a batch not yet committed: the foreign keys are checked at the end of the
load (``demo.load``), as ``generate_demo`` does on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Condition
from typing import Any

from bot.db import SessionFactory, create_engine, create_session_factory
from demo.plan import CasePlan
from demo.rows import write
from demo.steps import STEPS


async def work_out(ledger: object, cases: Sequence[CasePlan]) -> None:
    """The cases' histories on the ledger (``MemoryLedger``), in order."""
    from demo.bulk import MemoryLedger

    assert isinstance(ledger, MemoryLedger)
    for plan_case in cases:
        case = await ledger.submit(plan_case)
        for step in plan_case.steps:
            await STEPS[step.kind](ledger, case, step)
        ledger.finish(case)


class Turns:
    """Whose turn it is to write: the batches committed so far, shared by the processes."""

    def __init__(self, context: Any) -> None:
        self.committed: Synchronized[int] = context.Value("i", 0)
        self.changed: Condition = context.Condition()

    def wait_for(self, index: int) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.committed.value == index)

    def done(self, index: int) -> None:
        with self.changed:
            self.committed.value = index + 1
            self.changed.notify_all()


PART = 1_000
"""Cases of a batch worked out and sent to the database at a time, in the batch's transaction."""


async def _write_batch(
    url: str, ledger: object, cases: Sequence[CasePlan], index: int, turns: Turns
) -> None:
    from demo.bulk import MemoryLedger

    assert isinstance(ledger, MemoryLedger)
    ledger.dry = False
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for start in range(0, len(cases), PART):
                await work_out(ledger, cases[start : start + PART])
                await write(connection, ledger.batch.take())
                ledger.forget()  # the part's cases are done: none of their rows changes again
            turns.wait_for(index)  # nothing else runs in this process meanwhile
    finally:  # (committed as the block ends)
        await engine.dispose()
    turns.done(index)


def _batch_process(
    url: str, ledger: object, cases: Sequence[CasePlan], index: int, turns: Turns
) -> None:
    """A forked process: the batch in full, written when its turn comes."""
    asyncio.run(_write_batch(url, ledger, cases, index, turns))


Beside = Callable[[SessionFactory], Awaitable[None]]
"""Rows written by a process of their own beside the batches (the world's), in a transaction
of their own, committed before the first batch's."""


async def _write_beside(url: str, beside: Beside) -> None:
    engine = create_engine(url)
    try:
        await beside(create_session_factory(engine))
    finally:
        await engine.dispose()


def _beside_process(url: str, beside: Beside, turns: Turns) -> None:
    """A forked process: the rows beside the batches, its turn (the first) then done; a batch
    commits only after them, so none is committed if they fail."""
    asyncio.run(_write_beside(url, beside))
    turns.done(0)


def _reap(
    running: list[BaseProcess],
    *,
    room: int,
    tick: Callable[[int], None],
    aside: list[BaseProcess] | None = None,
) -> None:
    """Wait until at most ``room`` processes run; each one that ended must have succeeded,
    and so must each of ``aside`` that ended meanwhile (a batch may wait for one of them)."""
    aside = [] if aside is None else aside
    while len(running) > room:
        wait([p.sentinel for p in (*running, *aside)])
        for process in [p for p in (*running, *aside) if not p.is_alive()]:
            process.join()
            (running if process in running else aside).remove(process)
            if process.exitcode != 0:
                what = getattr(process, "what", "a demo batch")
                raise RuntimeError(f"{what} failed (exit code {process.exitcode})")
            if process not in aside:
                tick(getattr(process, "cases", 0))


async def write_in_parallel(
    sessions: SessionFactory,
    ledger: object,
    cases: Sequence[CasePlan],
    *,
    batch: int,
    workers: int,
    tick: Callable[[int], None],
    beside: Beside | None = None,
) -> None:
    """Every batch of ``batch`` cases worked out and written by a process of its own, at most
    ``workers`` at a time, while this one goes through the history dry; ``beside`` by one more
    process from the start, committed before the first batch is (its rows are named by the
    batches' but checked only at the end of the load, ``demo.load``)."""
    from demo.bulk import MemoryLedger

    assert isinstance(ledger, MemoryLedger)
    bind = sessions.kw["bind"]
    url = bind.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("fork")
    turns = Turns(context)
    running: list[BaseProcess] = []
    aside: list[BaseProcess] = []
    first = 0 if beside is None else 1  # the turn of the first batch
    try:
        if beside is not None:
            gc.freeze()
            world = context.Process(target=_beside_process, args=(url, beside, turns), daemon=True)
            world.what = "the demo's world rows"  # type: ignore[attr-defined]
            aside.append(world)
            world.start()
        for index, start in enumerate(range(0, len(cases), batch)):
            part = cases[start : start + batch]
            _reap(running, room=workers - 1, tick=tick, aside=aside)
            assert ledger.batch.empty, "a dry pass keeps no rows"
            process = context.Process(
                target=_batch_process,
                args=(url, ledger, part, first + index, turns),
                daemon=True,
            )
            process.cases = len(part)  # type: ignore[attr-defined]
            gc.freeze()  # the child's collector leaves what it inherits alone (no copies of it)
            process.start()
            running.append(process)
            ledger.dry = True
            await work_out(ledger, part)
            ledger.forget()
        _reap(running, room=0, tick=tick, aside=aside)
        _reap(aside, room=0, tick=tick)
    finally:
        gc.unfreeze()
        running += aside
        for left in running:  # only after a failure
            left.terminate()
        deadline = time.monotonic() + 10
        for left in running:
            left.join(max(0.0, deadline - time.monotonic()))
