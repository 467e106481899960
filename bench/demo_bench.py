"""Benchmark: ``lianka demo-data`` in bulk — demo cases written a second, PostgreSQL and SQLite.

    make bench                                         # or: .venv/bin/python bench/demo_bench.py
    .venv/bin/python bench/demo_bench.py --cases 200000 --sqlite-cases 0

``generate_demo`` (what ``lianka demo-data`` runs: plan, world, every case's history mirrored in
memory, written in batches — COPY on PostgreSQL, executemany on SQLite) over ``--cases`` cases
into a fresh PostgreSQL database of its own (migrated, then dropped), and ``--sqlite-cases`` into
a fresh SQLite file; the migrations are not timed. Then ``lianka audit verify``'s check over what
was written (``verify_audit``), timed apart: the demo's chains must hold.

Merges demo_cases_per_s (PostgreSQL, wall time; goal ≥ 3,000), demo_cases_per_cpu_s (the same
cases over the CPU time of this process and its workers — on PostgreSQL the batches are worked
out by one process a core, ``demo.parallel`` — not counting the database server's: on a shared
machine the wall time is mostly waiting for a core), demo_peak_rss_mb (once generated: this
process or a worker, whichever is larger), demo_audit_verify_s, demo_cases and
demo_cases_per_s_sqlite into bench/results.json.

On PostgreSQL it also prints the database server's CPU time spent on the generation: the
backends serving this database, sampled from ``/proc`` (so only where the server runs on this
machine; the WAL writer and checkpointer, shared by every database, are not counted). Merged as
demo_server_ms_per_case when measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import merge_results, peak_rss_mb, postgres_database  # noqa: E402

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def workers_cpu() -> float:
    """CPU seconds of the worker processes ended so far (``demo.parallel``'s batches)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def workers_peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1024


class ServerTime:
    """CPU seconds of the PostgreSQL backends serving ``database`` (on this machine), while
    running: each backend's last reading from ``/proc``, taken every ``every`` seconds (a backend
    that ends between two readings loses at most that much)."""

    def __init__(self, database: str, every: float = 0.02) -> None:
        self.marker = f" {database} ".encode()
        self.every = every
        self.ticks: dict[int, int] = {}
        self.others: set[str] = set()
        self.own_cpu = 0.0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __enter__(self) -> ServerTime:
        if self.marker.strip() and Path("/proc").is_dir():
            self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()

    @property
    def seconds(self) -> float | None:
        return sum(self.ticks.values()) / self.tick if self.ticks else None

    def _read(self) -> None:
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or entry.name in self.others:
                continue
            try:
                with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                    title = f.read()
                if self.marker not in title:
                    if not title.startswith((b"postgres", b"/usr/lib/postgresql")):
                        self.others.add(entry.name)  # never a backend: not read again
                    continue
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            self.ticks[int(entry.name)] = int(fields[11]) + int(fields[12])  # utime + stime

    def _run(self) -> None:
        while not self.stop.is_set():
            self._read()
            self.stop.wait(self.every)
        self._read()
        self.own_cpu = time.thread_time()  # the sampling's CPU, not the generation's


@dataclass(frozen=True)
class Run:
    seconds: float  # wall time of generate_demo
    cpu_seconds: float  # CPU time in it of this process and its workers (the machine is shared)
    rss_mb: float  # peak RSS of this process or a worker once generated (before the audit check)
    verify_seconds: float
    verified: bool
    server_seconds: float | None = None  # CPU time of the database's backends (PostgreSQL)


async def generate(url: str, cases: int, workers: int | None = None) -> Run:
    """Generate ``cases`` demo cases into the (migrated, empty) database at ``url``, then
    verify its audit chains."""
    from bot.config import load_config
    from bot.db import create_engine, create_session_factory
    from bot.services.audit import verify_audit
    from bot.services.calendar import load_calendar
    from demo import generate_demo

    config = load_config(ROOT / "lianka.example.toml")
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            calendar = await load_calendar(session, config)
        database = engine.url.database if engine.dialect.name == "postgresql" else None
        with ServerTime(database or "") as server:
            started, cpu = time.perf_counter(), time.process_time() + workers_cpu()
            await generate_demo(sessions, config, calendar, NOW, cases=cases, workers=workers)
            generated = time.perf_counter() - started
        cpu = time.process_time() + workers_cpu() - cpu - server.own_cpu
        server_seconds = server.seconds if database else None
        rss = max(peak_rss_mb(), workers_peak_rss_mb())
        started = time.perf_counter()
        async with sessions() as session:
            audit = await verify_audit(session)
        verified = time.perf_counter() - started
    finally:
        await engine.dispose()
    return Run(generated, cpu, rss, verified, audit.ok, server_seconds)


def run(url: str, cases: int, label: str, workers: int | None = None) -> Run:
    from bot.db import upgrade_database

    upgrade_database(url)
    result = asyncio.run(generate(url, cases, workers))
    if not result.verified:
        raise SystemExit(f"{label}: the audit chains of the demo data do not verify")
    server = (
        f"; server {result.server_seconds:.1f} CPU s = "
        f"{result.server_seconds / cases * 1000:.3f} ms a case"
        if result.server_seconds
        else ""
    )
    print(
        f"{label}: {cases} cases in {result.seconds:.1f}s = {cases / result.seconds:,.0f} "
        f"cases/s ({cases / result.cpu_seconds:,.0f} a CPU second of this process and its "
        f"workers = {result.cpu_seconds / cases * 1000:.3f} ms a case{server}; peak RSS so far "
        f"{result.rss_mb:.0f} MB); audit verify {result.verify_seconds:.1f}s (ok)",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=50_000, help="PostgreSQL (0: skip)")
    parser.add_argument("--sqlite-cases", type=int, default=10_000, help="SQLite (0: skip)")
    parser.add_argument(
        "--workers", type=int, help="processes on PostgreSQL (default: one a core, as the CLI)"
    )
    args = parser.parse_args()
    figures: dict[str, float | int | str] = {}
    if args.cases:
        with postgres_database("lianka_bench_demo") as url:
            result = run(url, args.cases, "postgresql", args.workers)
        figures |= {
            "demo_cases_per_s": round(args.cases / result.seconds),
            "demo_cases_per_cpu_s": round(args.cases / result.cpu_seconds),
            "demo_peak_rss_mb": round(result.rss_mb),
            "demo_audit_verify_s": round(result.verify_seconds, 1),
            "demo_cases": args.cases,
        }
        if result.server_seconds:
            figures["demo_server_ms_per_case"] = round(result.server_seconds / args.cases * 1000, 3)
    if args.sqlite_cases:
        with tempfile.TemporaryDirectory(prefix="lianka-demo-bench-") as work:
            url = f"sqlite+aiosqlite:///{Path(work) / 'demo.db'}"
            result = run(url, args.sqlite_cases, "sqlite")
        figures["demo_cases_per_s_sqlite"] = round(args.sqlite_cases / result.seconds)
    merge_results(figures)


if __name__ == "__main__":
    main()
