"""The scale run: the report and the console's search and lists over 1,000,000 cases (PostgreSQL).

    make bench-scale                                  # or: .venv/bin/python bench/run.py --scale
    .venv/bin/python bench/scale_bench.py --cache     # what the scale run calls
    .venv/bin/python bench/scale_bench.py --cases 200000 --generate 5000

Builds a PostgreSQL database of ``--cases`` cases: ``--generate`` demo cases written by the real
command (``lianka demo-data``, the same cached template as ``report_bench.py --cache``), then
multiplied in SQL up to ``--cases`` (bench/million.py: fresh ids and numbers, times staggered,
every case's clocks, events, requests, notices and search document with it, indexes rebuilt,
``VACUUM ANALYZE``). ``--database NAME`` measures a database already built (a copy of the kept
one, say, with a migration applied) and leaves it. With ``--cache`` the million-case database is kept as
``lianka_bench_scale_<cases>_<generate>_<fingerprint>`` (the fingerprint covers the demo
generator, models, migrations, config and bench/million.py) and read in place by later runs;
everything measured only reads. When the demo generator writes a million cases fast enough,
``--generate 1000000`` builds it without copies.

Then, as report_bench and console_bench do at 100,000:

- ``report_s_1m``: the last complete month's report (figures, PDF, XLSX, HTML, DOCX), best of
  ``--runs``; ``report_figures_s_1m`` the figures alone;
- ``console_search_ms_1m`` (p95) and ``console_search_median_ms_1m``: console_bench's query mix;
- ``console_list_ms_1m``: the 案件 list's first page (no filter) for the admin and a team
  leader; ``console_home_ms_1m``: the 工作台 for both (p95 of ``--rounds`` timed rounds);
- ``scale_db_mb_1m`` (``pg_database_size``), ``scale_bytes_per_case_1m`` (the case tables and
  their indexes over the cases) and ``scale_build_s_1m`` when the database was built.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import POSTGRES_ADMIN, admin, merge_results, percentile  # noqa: E402
from bench.report_bench import NOW, exists, lianka  # noqa: E402
from bench.report_bench import fingerprint as demo_fingerprint  # noqa: E402

BASE = POSTGRES_ADMIN.rsplit("/", 1)[0]


def suffix(cases: int) -> str:
    """``1m`` for a million, ``200k`` for 200,000: the keys' ending."""
    if cases % 1_000_000 == 0:
        return f"{cases // 1_000_000}m"
    return f"{cases // 1000}k"


def fingerprint(cases: int, generate: int) -> str:
    digest = hashlib.sha256(f"{cases}:{demo_fingerprint(generate)}".encode())
    digest.update((ROOT / "bench" / "million.py").read_bytes())
    return digest.hexdigest()[:10]


def generated(generate: int) -> str:
    """The template database of ``generate`` demo cases (report_bench.py's cache), made if
    missing."""
    template = f"lianka_bench_demo_{generate}_{demo_fingerprint(generate)}"
    if asyncio.run(exists(template)):
        print(f"postgresql: {generate} demo cases in {template}", flush=True)
        return template
    partial = f"{template}_{os.getpid()}"
    asyncio.run(admin(f'CREATE DATABASE "{partial}"'))
    print(f"postgresql: lianka demo-data --cases {generate}", flush=True)
    seconds = lianka(
        "demo-data",
        "--cases",
        str(generate),
        "--now",
        NOW,
        url=f"{BASE}/{partial}",
        cwd=Path(tempfile.mkdtemp(prefix="lianka-bench-")),
    )
    print(f"  generated in {seconds:.0f}s", flush=True)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)'))
    asyncio.run(admin(f'ALTER DATABASE "{partial}" RENAME TO "{template}"'))
    return template


async def build(url: str, copies: int) -> None:
    from bench.million import multiply
    from bot.db import create_engine

    engine = create_engine(url)
    try:
        if copies > 1:
            async with engine.begin() as connection:
                seconds = await multiply(connection, copies)
            print("  " + ", ".join(f"{k} {v:.0f}s" for k, v in seconds.items()), flush=True)
    finally:
        await engine.dispose()
    started = time.perf_counter()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            from sqlalchemy import text

            await connection.execute(text("VACUUM ANALYZE"))
    finally:
        await engine.dispose()
    print(f"  VACUUM ANALYZE {time.perf_counter() - started:.0f}s", flush=True)


async def sizes(url: str) -> tuple[int, int, int, list[tuple[str, int, int]]]:
    """The database's size, the cases, the case tables' bytes (with indexes), and per table
    (name, table bytes with TOAST, index bytes)."""
    from sqlalchemy import text

    from bench.million import CASE_TABLES
    from bot.db import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            database = (
                await connection.execute(text("SELECT pg_database_size(current_database())"))
            ).scalar()
            cases = (await connection.execute(text("SELECT count(*) FROM cases"))).scalar()
            rows = (
                await connection.execute(
                    text(
                        "SELECT relname, pg_table_size(oid), pg_indexes_size(oid) FROM pg_class "
                        "WHERE relname = ANY(:tables) AND relkind = 'r' ORDER BY pg_total_relation_size(oid) DESC"
                    ),
                    {"tables": list(CASE_TABLES)},
                )
            ).all()
    finally:
        await engine.dispose()
    tables = [(name, int(table), int(index)) for name, table, index in rows]
    return int(database or 0), int(cases or 0), sum(t + i for _, t, i in tables), tables


async def lists(url: str, rounds: int) -> tuple[list[float], list[float]]:
    """Milliseconds of the 案件 list's first page and of the 工作台, admin and a team leader."""
    from sqlalchemy import func
    from sqlmodel import col, select

    from bot.config import load_config
    from bot.db import create_engine, create_session_factory
    from bot.services.calendar import load_calendar
    from bot.services.case_search import CaseFilters, search_cases
    from bot.services.console_home import get_home
    from models.case import OPEN_STATUSES, Case
    from models.team import Inspector, Role

    config = load_config(ROOT / "lianka.example.toml")
    now = datetime.fromisoformat(NOW + "+08:00").astimezone(UTC)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    listed: list[float] = []
    homes: list[float] = []
    try:
        async with sessions() as session:
            calendar = await load_calendar(session, config)
            admin_person = (
                await session.exec(select(Inspector).where(Inspector.role == Role.ADMIN))
            ).first()
            busiest = (
                await session.exec(
                    select(Case.team_id)
                    .where(col(Case.status).in_(OPEN_STATUSES))
                    .group_by(col(Case.team_id))
                    .order_by(func.count().desc())
                    .limit(1)
                )
            ).first()
            leader = (
                await session.exec(
                    select(Inspector).where(
                        Inspector.role == Role.TEAM_LEADER, Inspector.team_id == busiest
                    )
                )
            ).first()
            assert admin_person is not None and leader is not None
        for round_ in range(rounds + 1):
            for actor in (admin_person, leader):
                started = time.perf_counter()
                async with sessions() as session:
                    page = await search_cases(
                        session, actor, filters=CaseFilters(), page=1, now=now, calendar=calendar
                    )
                middle = time.perf_counter()
                async with sessions() as session:
                    home = await get_home(session, actor, calendar=calendar, now=now)
                done = time.perf_counter()
                if round_ > 0:
                    listed.append((middle - started) * 1000)
                    homes.append((done - middle) * 1000)
                else:
                    print(
                        f"  {actor.role.label}: 案件 {page.total} found, 工作台 mine "
                        f"{home.mine_total} team {home.team_total} overdue {home.overdue.total}",
                        flush=True,
                    )
    finally:
        await engine.dispose()
    return listed, homes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument(
        "--generate",
        type=int,
        default=5_000,
        help="demo cases written by lianka demo-data, multiplied in SQL up to --cases",
    )
    parser.add_argument("--runs", type=int, default=2, help="reports built, the best kept")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds of the console")
    parser.add_argument("--cache", action="store_true", help="keep and reuse the database")
    parser.add_argument("--keep", action="store_true", help="keep the database (no --cache)")
    parser.add_argument(
        "--database",
        help="measure this existing PostgreSQL database in place (never built, never dropped)",
    )
    args = parser.parse_args()
    from bench.console_bench import measure as search
    from bench.report_bench import measure as report

    started = time.perf_counter()
    copies = max(1, args.cases // args.generate)
    end = suffix(args.cases)
    name = (
        f"lianka_bench_scale_{args.cases}_{args.generate}_{fingerprint(args.cases, args.generate)}"
    )
    figures: dict[str, float | int | str] = {}
    if args.database:
        name = args.database
        print(f"postgresql: measuring {name} in place", flush=True)
    elif args.cache and asyncio.run(exists(name)):
        print(f"postgresql: {args.cases} cases in {name}", flush=True)
    else:
        source = generated(args.generate)
        partial = f"{name}_{os.getpid()}"
        asyncio.run(admin(f'CREATE DATABASE "{partial}" TEMPLATE "{source}"'))
        print(f"postgresql: {args.generate} cases × {copies} into {partial}", flush=True)
        built = time.perf_counter()
        asyncio.run(build(f"{BASE}/{partial}", copies))
        figures[f"scale_build_s_{end}"] = round(time.perf_counter() - built, 1)
        print(f"  built in {figures[f'scale_build_s_{end}']:.0f}s", flush=True)
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(admin(f'ALTER DATABASE "{partial}" RENAME TO "{name}"'))
    url = f"{BASE}/{name}"
    try:
        database, cases, case_bytes, tables = asyncio.run(sizes(url))
        for table, data, index in tables:
            print(f"  {table:18} {data / 1e6:8.0f} MB + indexes {index / 1e6:6.0f} MB", flush=True)
        print(
            f"  database {database / 1e6:.0f} MB, {cases} cases, "
            f"{case_bytes / cases:.0f} bytes a case in the case tables",
            flush=True,
        )
        print(f"report: last month over {cases} cases", flush=True)
        out = Path(tempfile.mkdtemp(prefix="lianka-bench-scale-"))
        best_figures, best_total, received = asyncio.run(report(url, out, args.runs))
        print("console: search", flush=True)
        timings, _ = asyncio.run(search(url, args.rounds))
        print("console: 案件 list and 工作台", flush=True)
        listed, homes = asyncio.run(lists(url, args.rounds))
    finally:
        if not args.cache and not args.keep and not args.database:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    figures.update(
        {
            f"report_s_{end}": round(best_total, 3),
            f"report_figures_s_{end}": round(best_figures, 3),
            f"report_month_cases_{end}": received,
            f"console_search_ms_{end}": round(percentile(timings, 0.95), 1),
            f"console_search_median_ms_{end}": round(statistics.median(timings), 1),
            f"console_list_ms_{end}": round(percentile(listed, 0.95), 1),
            f"console_home_ms_{end}": round(percentile(homes, 0.95), 1),
            f"scale_cases_{end}": cases,
            f"scale_db_mb_{end}": round(database / 1e6),
            f"scale_bytes_per_case_{end}": round(case_bytes / cases),
            f"scale_wall_s_{end}": round(time.perf_counter() - started, 1),
        }
    )
    merge_results(figures)
    for key, value in figures.items():
        print(f"  {key} = {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
