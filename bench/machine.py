"""Which machine a run of ``make bench`` had: two fixed pieces of work, timed in CPU seconds.

The goals in milliseconds and seconds are absolute, and these shared machines differ from one
session to the next by two times and more in what Lianka's work costs (the demo's CPU a case
0.39 ms one session, 0.97 ms the next, on the same code). ``bench/run.py`` records both figures
before the first benchmark and after the last:

- ``machine_loop_s``: ten million additions in a plain loop. It tracks the interpreter's speed
  alone, and need not follow what Lianka's work costs: 0.39–0.55 s in the session whose demo
  took 0.97 ms of CPU a case, about the 0.53 s recorded in one whose demo took 0.39 ms;
- ``machine_mixed_s``: work shaped like Lianka's — 100,000 small dicts made, written to JSON and
  read back, put in an SQLite table in memory and grouped, then sorted — which allocates, walks
  memory and calls into C as the services do. This is the one to compare between sessions.

Best of three each, in this process.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable

ROWS = 100_000
ADDITIONS = 10_000_000


def loop() -> None:
    total = 0
    for number in range(ADDITIONS):
        total += number


def mixed() -> None:
    rows = [
        {
            "id": n,
            "case": f"AJ-2026-{n:05d}",
            "kind": "reminded",
            "data": {"stage": n % 4, "to": [n, n + 1]},
        }
        for n in range(ROWS)
    ]
    back = json.loads(json.dumps(rows, ensure_ascii=False))
    database = sqlite3.connect(":memory:")
    try:
        database.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, kind TEXT, stage INTEGER)")
        database.executemany(
            "INSERT INTO t VALUES (?, ?, ?)",
            ((row["id"], row["kind"], row["data"]["stage"]) for row in back),
        )
        database.execute("SELECT kind, stage, count(*) FROM t GROUP BY kind, stage").fetchall()
    finally:
        database.close()
    back.sort(key=lambda row: (row["data"]["stage"], -row["id"]))


def best_of_three(work: Callable[[], None]) -> float:
    """CPU seconds of ``work``, the best of three runs."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return round(best, 3)


def figures(suffix: str = "") -> dict[str, float | int | str]:
    """``machine_loop_s`` and ``machine_mixed_s``, their keys ending in ``suffix``."""
    return {
        f"machine_loop_s{suffix}": best_of_three(loop),
        f"machine_mixed_s{suffix}": best_of_three(mixed),
    }
