"""Benchmark: the console's 案件 search over 100,000 demo cases on PostgreSQL.

    .venv/bin/python bench/console_bench.py --cache          # what make bench runs
    .venv/bin/python bench/console_bench.py --cases 20000

Builds a PostgreSQL database of its own as the scale run does (bench/scale_bench.py): 5,000 demo
cases written by ``lianka demo-data`` (report_bench's cached template, which writes each case's
search document as ``submit_case`` does), multiplied in SQL up to ``--cases`` (bench/million.py:
×20 for 100,000, in a minute where generating 100,000 took most of ``make bench``'s ten). With
``--cache`` the database is kept as ``lianka_bench_console_<cases>_<fingerprint>`` (the
fingerprint is scale_bench's: the demo generator, models, migrations, config and million.py)
and reused by later runs; the search only reads, so the kept database is queried in place.

Then ``search_cases``, as the 案件 page calls it (the count, one page of 50, its lines with clocks,
enterprises and working days left), runs a mix of queries as the admin (who sees every appeal,
the widest list) and as the dispatcher: two Chinese characters common to thousands of cases,
four characters, an enterprise's name, a whole case number and its sequence, and the same with
status, team, date, overdue and 督办 filters. One untimed round warms the process; then
``--rounds`` rounds are timed, each query once a round.

Writes ``console_search_ms_100k`` (the 95th percentile of every timed query, in ms; goal
<= 300), ``console_search_median_ms_100k``, ``console_search_max_ms_100k`` and
``console_search_cases`` to bench/results.json, keeping what else is there.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import POSTGRES_ADMIN, admin, merge_results, percentile  # noqa: E402
from bench.report_bench import NOW, exists  # noqa: E402
from bench.scale_bench import build, generated  # noqa: E402

KEY = "console_search_ms_100k"


GENERATE = 5_000
"""Demo cases written by ``lianka demo-data``; the rest are copies (bench/million.py)."""


def fingerprint(cases: int) -> str:
    """What the kept database depends on: scale_bench's fingerprint of the same build."""
    from bench.scale_bench import fingerprint as scale_fingerprint

    return scale_fingerprint(cases, min(GENERATE, cases))


def queries(number: str, enterprise: str) -> list[dict[str, object]]:
    """The mix: text alone, text with filters, filters alone (``CaseFilters`` keywords)."""
    from models.case import CaseStatus

    sequence = number.rsplit("-", 1)[1]
    return [
        {"q": "企业"},
        {"q": "资金"},
        {"q": "出让金返还"},
        {"q": "施工许可"},
        {"q": enterprise[:4]},
        {"q": enterprise},
        {"q": number},
        {"q": sequence},
        {"q": number[:-2]},
        {"q": "企业", "status": CaseStatus.CLOSED},
        {"q": "项目", "team": "key_projects"},
        {"q": "园区", "received_from": date(2026, 6, 1), "received_to": date(2026, 8, 31)},
        {"q": "资金", "overdue": True},
        {"supervised": True},
        {"overdue": True},
        {},
    ]


async def measure(url: str, rounds: int) -> tuple[list[float], int]:
    from sqlalchemy import func, text
    from sqlmodel import col, select

    from bot.config import load_config
    from bot.db import create_engine, create_session_factory
    from bot.services.calendar import load_calendar
    from bot.services.case_search import CaseFilters, search_cases
    from models.case import Case
    from models.enterprise import Enterprise
    from models.org import Track
    from models.team import Inspector, Role, Team

    config = load_config(ROOT / "lianka.example.toml")
    now = datetime.fromisoformat(NOW + "+08:00").astimezone(UTC)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    timings: list[float] = []
    slowest: dict[str, float] = {}
    try:
        async with sessions() as session:
            calendar = await load_calendar(session, config)
            total = (await session.exec(select(func.count()).select_from(Case))).one()
            admin_person = (
                await session.exec(select(Inspector).where(Inspector.role == Role.ADMIN))
            ).first()
            dispatcher = (
                await session.exec(
                    select(Inspector)
                    .join(Team, col(Team.id) == col(Inspector.team_id))
                    .where(col(Team.is_dispatcher).is_(True), Inspector.role == Role.TEAM_LEADER)
                )
            ).first()
            sample = (
                await session.exec(
                    select(Case)
                    .where(col(Case.id) >= total // 2, Case.track == Track.APPEAL)
                    .order_by(col(Case.id))
                    .limit(1)
                )
            ).one()
            enterprise = await session.get(Enterprise, sample.enterprise_id)
            assert admin_person is not None and dispatcher is not None and enterprise
            await (await session.connection()).execute(text("ANALYZE"))
            await session.commit()
        mix = queries(sample.number, enterprise.name)
        actors = (admin_person, dispatcher)
        for round_ in range(rounds + 1):
            for actor in actors:
                for filters in mix:
                    started = time.perf_counter()
                    async with sessions() as session:
                        page = await search_cases(
                            session,
                            actor,
                            filters=CaseFilters(**filters),  # type: ignore[arg-type]
                            page=1,
                            now=now,
                            calendar=calendar,
                        )
                    elapsed = (time.perf_counter() - started) * 1000
                    if round_ > 0:
                        timings.append(elapsed)
                        label = f"{actor.role.label} {filters}"
                        slowest[label] = max(slowest.get(label, 0.0), elapsed)
                    elif actor is admin_person:
                        print(f"  {filters!s:70.70} {page.total:>6} found", flush=True)
    finally:
        await engine.dispose()
    for label, ms in sorted(slowest.items(), key=lambda pair: -pair[1])[:5]:
        print(f"  slowest: {ms:6.0f} ms  {label:.90}", flush=True)
    return timings, int(total)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cache", action="store_true", help="keep and reuse the demo database")
    args = parser.parse_args()
    template = f"lianka_bench_console_{args.cases}_{fingerprint(args.cases)}"
    base = POSTGRES_ADMIN.rsplit("/", 1)[0]
    throwaway = None
    if args.cache and asyncio.run(exists(template)):
        url = f"{base}/{template}"
        print(f"postgresql: {args.cases} demo cases in {template}", flush=True)
    else:
        name = f"{template}_{os.getpid()}" if args.cache else f"lianka_bench_{secrets.token_hex(3)}"
        generate = min(GENERATE, args.cases)
        source = generated(generate)
        asyncio.run(admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        copies = max(1, args.cases // generate)
        print(f"postgresql: {generate} demo cases × {copies} into {name}", flush=True)
        started = time.perf_counter()
        asyncio.run(build(f"{base}/{name}", copies))
        print(f"  built in {time.perf_counter() - started:.0f}s", flush=True)
        if args.cache:
            asyncio.run(admin(f'ALTER DATABASE "{name}" RENAME TO "{template}"'))
            name = template
        else:
            throwaway = name
        url = f"{base}/{name}"
    try:
        timings, total = asyncio.run(measure(url, args.rounds))
    finally:
        if throwaway is not None:
            asyncio.run(admin(f'DROP DATABASE IF EXISTS "{throwaway}" WITH (FORCE)'))
    p95 = percentile(timings, 0.95)
    median = statistics.median(timings)
    print(
        f"console search over {total} cases: median {median:.0f} ms, p95 {p95:.0f} ms, "
        f"max {max(timings):.0f} ms ({len(timings)} queries)"
    )
    merge_results(
        {
            KEY: round(p95, 1),
            "console_search_median_ms_100k": round(median, 1),
            "console_search_max_ms_100k": round(max(timings), 1),
            "console_search_cases": total,
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
