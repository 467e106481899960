"""What the benchmarks share: the results file, temporary databases, and a little timing."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results.json"
POSTGRES_ADMIN = os.environ.get(
    "LIANKA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)

# The benchmarks' own keys, fixed so that a cached benchmark database opens again; in the
# environment too, for the `lianka` processes a benchmark starts.
BENCH_KEYS = {
    "LIANKA_DATA_KEY": "YmVuY2gtZGF0YS1rZXktZm9yLWxpYW5rYS1iZW5jaDE",
    "LIANKA_AUDIT_KEY": "YmVuY2gtYXVkaXQta2V5LWZvci1saWFua2EtYmVuY2g",
}


def install_bench_keys() -> None:
    from models import keys

    for name, value in BENCH_KEYS.items():
        os.environ[name] = value
    keys.install(
        keys.Keyring(
            data_key=keys.parse_key(BENCH_KEYS["LIANKA_DATA_KEY"], "LIANKA_DATA_KEY"),
            audit_key=keys.parse_key(BENCH_KEYS["LIANKA_AUDIT_KEY"], "LIANKA_AUDIT_KEY"),
        )
    )


install_bench_keys()


def merge_results(figures: dict[str, float | int | str], path: Path = RESULTS) -> None:
    """Update ``path`` with ``figures``, keeping what other benchmarks wrote there."""
    results: dict[str, object] = {}
    if path.exists():
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            loaded = {}
        if isinstance(loaded, dict):
            results = loaded
    results.update(figures)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def percentile(values: Sequence[float], share: float) -> float:
    """The ``share`` quantile (0–1) of ``values``, interpolated."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=1000, method="inclusive")[round(share * 1000) - 1]


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak / 1024


async def admin(statement: str) -> None:
    """Run one statement on the PostgreSQL server outside a transaction (CREATE/DROP DATABASE)."""
    from sqlalchemy import text

    from bot.db import create_engine

    engine = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of its own (empty), dropped afterwards; yields its URL."""
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
