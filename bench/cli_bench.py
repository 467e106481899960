"""Benchmark: how long an admin waits for ``lianka --help`` and ``lianka cards list``, and how
long a web instance (``lianka web``) takes to come up after a restart.

    .venv/bin/python bench/cli_bench.py

Runs the installed console script (``.venv/bin/lianka``) as a new process ``--runs`` times each,
after one warm-up run (the files in the page cache, as on a machine in use), and keeps the
median. ``cards list`` reads a SQLite file migrated like ``lianka init`` holding the example
organisation and 200 cards. ``lianka web`` is started on the same file, timed from the start of
the process to its first ``/healthz`` 200 (the moment a load balancer sends reporters to it),
then stopped with SIGTERM. Next to them, the floor: ``python -c pass`` from the same venv.

Keys: cli_help_s (goal <= 0.5), cli_cards_list_s, web_start_s (reported), cli_python_floor_s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import merge_results  # noqa: E402

GOAL = 0.5


def median_run(command: list[str], runs: int, env: dict[str, str], cwd: Path) -> float:
    times = []
    for n in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 (our own commands)
            command, env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL
        )
        if n:  # the first run warms the page cache
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def healthy_after(process: subprocess.Popen[bytes], url: str, within: float = 120.0) -> float:
    """Seconds until ``url`` answers 200, from now; an error if the process exits first."""
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        if process.poll() is not None:
            raise SystemExit(f"lianka web exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (our own)
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.01)
    raise SystemExit(f"lianka web did not answer {url} within {within:.0f} s")


def median_web_start(lianka: str, runs: int, env: dict[str, str], cwd: Path) -> float:
    """Median seconds from starting ``lianka web`` to its first /healthz 200 (after a warm-up)."""
    times = []
    for n in range(runs + 1):
        port = free_port()
        process = subprocess.Popen(  # noqa: S603 (our own command)
            [lianka, "web", "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            seconds = healthy_after(process, f"http://127.0.0.1:{port}/healthz")
        finally:
            process.terminate()
            process.wait(timeout=60)
        if n:  # the first run warms the page cache
            times.append(seconds)
    return statistics.median(times)


async def cards(url: str, count: int) -> None:
    from datetime import UTC, datetime

    from sqlmodel import select

    from bot.config import load_config
    from bot.db import create_engine, create_session_factory
    from bot.services.catalog import sync_catalog
    from models.card import Card
    from models.enterprise import Enterprise
    from models.org import Zone

    engine = create_engine(url)
    now = datetime.now(UTC)
    try:
        async with create_session_factory(engine)() as session:
            await sync_catalog(session, load_config(ROOT / "lianka.example.toml"))
            zone = (await session.exec(select(Zone))).first()
            assert zone is not None and zone.id is not None
            enterprises = [
                Enterprise(name=f"遂宁市安居区第{n + 1}号有限公司", zone_id=zone.id, created_at=now)
                for n in range(count)
            ]
            session.add_all(enterprises)
            await session.flush()
            session.add_all(
                Card(
                    token=f"c_cli{n:07d}xxxxxxxxxxxxx"[:22],
                    enterprise_id=e.id or 0,
                    zone_id=zone.id,
                    issuing_unit=zone.issuing_unit,
                    created_at=now,
                )
                for n, e in enumerate(enterprises)
            )
            await session.commit()
    finally:
        await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    from bot.db import upgrade_database

    lianka = str(Path(sys.executable).with_name("lianka"))
    with tempfile.TemporaryDirectory(prefix="lianka-bench-cli-") as work:
        url = f"sqlite+aiosqlite:///{Path(work) / 'lianka.db'}"
        upgrade_database(url)
        asyncio.run(cards(url, 200))
        env = {
            **os.environ,
            "LIANKA_DATABASE_URL": url,
            "LIANKA_CONFIG": str(ROOT / "lianka.example.toml"),
        }
        cwd = Path(work)
        floor = median_run([sys.executable, "-c", "pass"], args.runs, env, cwd)
        help_s = median_run([lianka, "--help"], args.runs, env, cwd)
        list_s = median_run([lianka, "cards", "list"], args.runs, env, cwd)
        web_s = median_web_start(lianka, max(args.runs // 2, 1), env, cwd)
    figures: dict[str, float | int | str] = {
        "cli_help_s": round(help_s, 3),
        "cli_cards_list_s": round(list_s, 3),
        "web_start_s": round(web_s, 3),
        "cli_python_floor_s": round(floor, 3),
    }
    merge_results(figures)
    print(
        f"cli: lianka --help {help_s:.3f} s (goal <= {GOAL}), lianka cards list {list_s:.3f} s, "
        f"python -c pass {floor:.3f} s (medians of {args.runs}); lianka web up in {web_s:.3f} s "
        f"(median of {max(args.runs // 2, 1)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
