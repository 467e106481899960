"""Benchmark: the console's 核验 over demo cases on PostgreSQL, in the background as the console
runs it, against the check made inside the request as it was before.

    .venv/bin/python bench/verify_bench.py                    # 20,000 cases
    .venv/bin/python bench/verify_bench.py --cases 100000

``lianka demo-data`` writes ``--cases`` cases (valid chains: copies made in SQL, as the scale
run's, would not verify) into a PostgreSQL database of its own, dropped afterwards. Then, in one
process:

1. ``verify_audit`` called directly, as the demo bench times it after generating (its ``run``):
   what 开始核验's request waited for before the check ran in the background
   (``verify_inline_s``).
2. The web server's application on 127.0.0.1 (real HTTP), an admin signed in through the form
   and its code: 开始核验 is posted (``console_verify_post_ms``: the answer, a 303, after the
   at most two seconds it waits for a small database's result), then the 审计 page is read every
   half second until the run is over, each read timed (``console_verify_page_p95_ms``, the
   95th percentile, and the largest), while a 1 ms timer records the longest the event loop kept
   it waiting (``console_verify_stall_ms``). ``console_verify_run_s``: from the run's start to
   its end, as its row records them; the run must pass.

Not part of ``make bench`` (the generation alone is most of a minute at 20,000). Merges the keys
above and ``console_verify_cases`` into bench/results.json.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aiohttp import web
    from aiohttp.test_utils import TestClient

    from bot.db import SessionFactory

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import merge_results, percentile, postgres_database  # noqa: E402
from bench.demo_bench import run  # noqa: E402

PASSWORD = "correct horse battery staple"  # noqa: S105 (a throwaway account of the bench)
SECRET = "bench-console-secret-0123456789abcdefghij"  # noqa: S105 (the bench's own server)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise SystemExit("the page has no form")
    return found.group(1)


async def signed_in_admin(
    client: TestClient[web.Request, web.Application], sessions: SessionFactory
) -> str:
    """An admin account, signed in through the form and the code; the 审计 page's CSRF token."""
    from bot.clock import SystemClock
    from bot.services.accounts import create_account, totp_now
    from models.account import ConsoleRole

    async with sessions() as session:
        created = await create_account(
            session, "benchadmin", role=ConsoleRole.ADMIN, now=SystemClock().now(),
            password=PASSWORD, name="核验计时",
        )  # fmt: skip
    assert created.totp_secret is not None
    page = await client.get("/console/login")
    form = {"csrf_token": csrf_of(await page.text()), "username": "benchadmin"}
    await client.post("/console/login", data={**form, "password": PASSWORD}, allow_redirects=False)
    code = await client.get("/console/login/code")
    answer = await client.post(
        "/console/login/code",
        data={
            "csrf_token": csrf_of(await code.text()),
            "code": totp_now(created.totp_secret, SystemClock().now()),
        },
        allow_redirects=False,
    )
    if answer.status != 303:
        raise SystemExit(f"sign-in refused: {answer.status}")
    audit = await client.get("/console/audit")
    return csrf_of(await audit.text())


async def measure(url: str) -> dict[str, float | int | str]:
    from aiohttp.test_utils import TestClient, TestServer
    from sqlmodel import func, select

    from bot.clock import SystemClock
    from bot.config import load_config
    from bot.db import create_engine, create_session_factory
    from bot.settings import Settings
    from bot.web_app import create_standalone_web_app
    from models.audit_run import AuditRun, AuditRunState
    from models.case import Case

    config = load_config(ROOT / "lianka.example.toml")
    engine = create_engine(url, pool_size=10)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            cases = int((await session.exec(select(func.count()).select_from(Case))).one())
        settings = Settings(_env_file=None, web_secret=SECRET, audit_anchor=False)
        app = create_standalone_web_app(settings, config, sessions, SystemClock())
        async with TestClient(TestServer(app)) as client:
            token = await signed_in_admin(client, sessions)
            stall = 0.0
            stop = asyncio.Event()

            async def timer() -> None:
                nonlocal stall
                while not stop.is_set():
                    before = time.perf_counter()
                    await asyncio.sleep(0.001)
                    stall = max(stall, time.perf_counter() - before - 0.001)

            ticking = asyncio.create_task(timer())
            started = time.perf_counter()
            answer = await client.post(
                "/console/audit/verify", data={"csrf_token": token}, allow_redirects=False
            )
            post_ms = (time.perf_counter() - started) * 1000
            if answer.status != 303:
                raise SystemExit(f"开始核验 answered {answer.status}")
            pages: list[float] = []
            while True:
                started = time.perf_counter()
                page = await client.get("/console/audit")
                text = await page.text()
                pages.append((time.perf_counter() - started) * 1000)
                if "正在核验" not in text:
                    break
                if len(pages) % 20 == 1:
                    shown = re.search(r"正在核验：[^。]*", text)
                    print(f"  {shown.group(0) if shown else '?'}", flush=True)
                await asyncio.sleep(0.5)
            stop.set()
            await ticking
        async with sessions() as session:
            run = (await session.exec(select(AuditRun))).one()
    finally:
        await engine.dispose()
    if run.state != AuditRunState.PASSED or run.finished_at is None:
        raise SystemExit(f"the run ended {run.state}")
    run_s = (run.finished_at - run.started_at).total_seconds()
    p95 = percentile(pages, 0.95)
    print(
        f"console 核验 in the background: 开始核验 answered in {post_ms:.0f} ms; the run "
        f"{run_s:.1f} s ({run.cases_checked} cases, {run.events_checked} events, passed); "
        f"the 审计 page meanwhile: {len(pages)} reads, median {statistics.median(pages):.0f} ms, "
        f"p95 {p95:.0f} ms, max {max(pages):.0f} ms; longest wait of a 1 ms timer "
        f"{stall * 1000:.0f} ms",
        flush=True,
    )
    return {
        "console_verify_post_ms": round(post_ms, 1),
        "console_verify_run_s": round(run_s, 2),
        "console_verify_page_p95_ms": round(p95, 1),
        "console_verify_page_max_ms": round(max(pages), 1),
        "console_verify_stall_ms": round(stall * 1000, 1),
        "console_verify_cases": cases,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=20_000)
    args = parser.parse_args()
    with postgres_database("lianka_bench_verify") as url:
        # the demo bench's generation, and its timed check: verify_audit called directly
        demo = run(url, args.cases, "postgresql")
        figures = asyncio.run(measure(url))
    merge_results({"verify_inline_s": round(demo.verify_seconds, 2), **figures})
    return 0


if __name__ == "__main__":
    sys.exit(main())
