"""Time one monthly analysis report over ``lianka demo-data --cases 100000`` (not part of make test).

    .venv/bin/python bench/report_bench.py --backend sqlite
    .venv/bin/python bench/report_bench.py --backend postgresql

Fills a fresh database with the real command (a SQLite file under /tmp, or a PostgreSQL database of
its own that is dropped afterwards; ``--keep`` keeps either), then builds the last complete month's
report three times in-process and keeps the best: the figures stage alone, and figures plus PDF,
XLSX and HTML. Writes ``report_figures_s_100k`` and ``report_s_100k`` for the backend into
bench/results.json, keeping what else is there.

Generating 100,000 demo cases takes minutes, so ``--cache`` (what ``make bench`` passes) keeps the
generated history for the next run: the SQLite file under var/bench-cache/, and on PostgreSQL a
template database ``lianka_bench_demo_<cases>_<fingerprint>`` that each run clones (seconds). The
fingerprint covers the demo generator, the models, the migrations and the example config, so a
change to any of them generates afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import POSTGRES_ADMIN, RESULTS, admin  # noqa: E402

NOW = "2026-11-26T10:00"  # the history ends here; the report is October 2026's

CACHE = ROOT / "var" / "bench-cache"


def fingerprint(cases: int) -> str:
    """What the generated history depends on: the generator, models, migrations and config."""
    digest = hashlib.sha256(f"{cases}:{NOW}".encode())
    sources = [ROOT / "lianka.example.toml"]
    for folder in ("demo", "models", "migrations/versions"):
        sources += sorted((ROOT / folder).glob("*.py"))
    for source in sources:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:10]


def lianka(*args: str, url: str, cwd: Path) -> float:
    env = {
        **os.environ,
        "LIANKA_DATABASE_URL": url,
        "LIANKA_CONFIG": str(ROOT / "lianka.example.toml"),
    }
    started = time.perf_counter()
    subprocess.run(  # noqa: S603 (our own command, fixed arguments)
        [str(Path(sys.executable).with_name("lianka")), *args], env=env, cwd=cwd, check=True
    )
    return time.perf_counter() - started


async def exists(database: str) -> bool:
    from sqlalchemy import text

    from bot.db import create_engine

    engine = create_engine(POSTGRES_ADMIN)
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": database}
            )
            return found.first() is not None
    finally:
        await engine.dispose()


# ruff: noqa: S608  (the SQL below names only this module's own tables and columns)
# Tables of a case's history the report reads; each copy shifts their ids past the originals.
COPIED = ("cases", "case_clocks", "case_events", "approval_requests", "clue_dispositions")
DROPPED_IN_COPIES = {"receipt_hash", "submission_key"}  # unique, and nothing the report reads


async def replicate(url: str, copies: int) -> int:
    """Make the generated history ``copies`` times as large: every case again with its clocks,
    events and requests, under new ids and numbers (``AJ-2026-00042.2``), same dates and people.
    Returns the cases there are now. The report's cost depends on the rows it reads, not on how
    they were written; generating 100,000 cases through the demo generator takes too long for
    ``make bench``."""
    from sqlalchemy import text as sql
    from sqlmodel import SQLModel

    import models  # noqa: F401  (registers the tables)
    from bot.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            tops = {
                name: (await connection.execute(sql(f"SELECT max(id) FROM {name}"))).scalar() or 0
                for name in COPIED
            }
            for k in range(1, copies):
                for name in COPIED:
                    table = SQLModel.metadata.tables[name]
                    columns, values = [], []
                    for column in table.columns:
                        columns.append(column.name)
                        if column.name == "id":
                            values.append(f"id + {k * tops[name]}")
                        elif column.name == "case_id":
                            values.append(f"case_id + {k * tops['cases']}")
                        elif name == "cases" and column.name in ("repeat_of_id", "merged_into_id"):
                            values.append(f"{column.name} + {k * tops['cases']}")  # NULL stays
                        elif name == "cases" and column.name == "number":
                            values.append(f"number || '.{k + 1}'")
                        elif name == "cases" and column.name in DROPPED_IN_COPIES:
                            values.append("NULL")
                        else:
                            values.append(column.name)
                    await connection.execute(
                        sql(
                            f"INSERT INTO {name} ({', '.join(columns)}) "
                            f"SELECT {', '.join(values)} FROM {name} WHERE id <= {tops[name]}"
                        )
                    )
            if engine.dialect.name == "postgresql":
                for name in COPIED:
                    await connection.execute(
                        sql(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
            total = (await connection.execute(sql("SELECT count(*) FROM cases"))).scalar()
    finally:
        await engine.dispose()
    return int(total or 0)


def stamper(stamps: list[tuple[str, float]]) -> Callable[[Any, Path], None]:
    """``write_report``'s ``on_written``: when each format was done, after ``stamps[0]``."""

    def stamp(fmt: Any, _path: Path) -> None:
        stamps.append((fmt.value, time.perf_counter()))

    return stamp


async def measure(url: str, out: Path, runs: int) -> tuple[float, float, int]:
    from bot.config import load_config
    from bot.db import create_engine, create_session_factory
    from bot.services.calendar import load_calendar
    from reports.figures import Scope
    from reports.outputs import Format, write_report
    from reports.periods import last_month
    from reports.report import build_report

    config = load_config(ROOT / "lianka.example.toml")
    now = datetime.fromisoformat(NOW + "+08:00").astimezone(UTC)
    period = last_month(now)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    best_figures = best_total = float("inf")
    received = 0
    try:
        for _ in range(runs):
            started = time.perf_counter()
            async with sessions() as session:
                calendar = await load_calendar(session, config)
                report = await build_report(
                    session, config=config, calendar=calendar, period=period, scope=Scope(), now=now
                )
            figures = time.perf_counter() - started
            stamps: list[tuple[str, float]] = [("figures", time.perf_counter())]
            write_report(
                report,
                list(Format),
                out,
                on_written=stamper(stamps),
            )
            total = time.perf_counter() - started
            stages = [f"figures {figures:.2f}s"] + [
                f"{name} {at - before:.2f}s"
                for (_, before), (name, at) in itertools.pairwise(stamps)
            ]
            best_figures, best_total = min(best_figures, figures), min(best_total, total)
            received = report.figures.received
            print(f"  {', '.join(stages)}: report {total:.2f}s", flush=True)
    finally:
        await engine.dispose()
    return best_figures, best_total, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], required=True)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument(
        "--generate",
        type=int,
        default=None,
        help="generate this many with demo-data and copy them up to --cases (default: all)",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--cache", action="store_true", help="reuse (or keep) the generated demo history"
    )
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lianka-bench-"))
    generate = args.generate or args.cases
    copies = max(1, args.cases // generate)
    stamp = fingerprint(generate)
    template = f"lianka_bench_demo_{generate}_{stamp}"
    cached_file = CACHE / f"demo-{generate}-{stamp}.db"
    generated = 0.0
    if args.backend == "sqlite":
        url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
        name = None
    else:
        name = f"lianka_bench_{os.getpid()}_{secrets.token_hex(3)}"
        url = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        if args.backend == "sqlite" and args.cache and cached_file.exists():
            shutil.copyfile(cached_file, work / "bench.db")
            print(f"sqlite: {generate} demo cases from {cached_file}", flush=True)
        elif args.backend == "postgresql" and args.cache and asyncio.run(exists(template)):
            asyncio.run(admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            print(f"postgresql: {generate} demo cases cloned from {template}", flush=True)
        else:
            target = url
            partial = f"{template}_{os.getpid()}"  # renamed to the template once complete
            if name is not None:
                if args.cache:
                    target = POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{partial}"
                    asyncio.run(admin(f'CREATE DATABASE "{partial}"'))
                else:
                    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
            print(f"{args.backend}: lianka demo-data --cases {generate}", flush=True)
            generated = lianka(
                "demo-data", "--cases", str(generate), "--now", NOW, url=target, cwd=work
            )
            print(f"  generated in {generated:.0f}s", flush=True)
            if args.cache and name is not None:
                asyncio.run(admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
                asyncio.run(admin(f'ALTER DATABASE "{partial}" RENAME TO "{template}"'))
                asyncio.run(admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            elif args.cache:
                CACHE.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(work / "bench.db", cached_file.with_suffix(".partial"))
                cached_file.with_suffix(".partial").replace(cached_file)
        total_cases = generate
        if copies > 1:
            total_cases = asyncio.run(replicate(url, copies))
            print(f"  copied {copies}× → {total_cases} cases", flush=True)
        cli = lianka(
            "report",
            "--period",
            "month",
            "--now",
            NOW,
            "--out",
            str(work / "cli"),
            url=url,
            cwd=work,
        )
        print(f"  lianka report (whole command, cold start) {cli:.2f}s", flush=True)
        figures, total, received = asyncio.run(measure(url, work / "out", args.runs))
    finally:
        if name is not None and not args.keep:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    results.setdefault(args.backend, {}).update(
        {
            "report_figures_s_100k": round(figures, 3),
            "report_s_100k": round(total, 3),
            "report_cli_s_100k": round(cli, 3),
            "report_month_cases_100k": received,
            "report_total_cases_100k": total_cases,
            "report_generated_cases": generate,
            **({"demo_data_s_100k": round(generated, 1)} if generated else {}),
        }
    )
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"{args.backend}: figures {figures:.2f}s, report {total:.2f}s ({received} cases) → {RESULTS}"
    )
    print(f"files in {work}")


if __name__ == "__main__":
    main()
