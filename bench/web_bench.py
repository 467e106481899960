"""Benchmark: the web channel over real HTTP — a card's landing page next to a bare handler of
the same server, and 100 complete web reports with two photos each.

    .venv/bin/python bench/web_bench.py                          # both parts
    .venv/bin/python bench/web_bench.py --part submit --reporters 20
    .venv/bin/python bench/web_bench.py --profile submit         # where the server's time goes
    .venv/bin/python bench/web_bench.py --profile landing

The server is one process, built as ``lianka web`` builds it (``create_standalone_web_app``
served by an ``AppRunner`` without an access log, logging configured, the schema checked), on
PostgreSQL (a database of its own, migrated like ``lianka init`` and dropped afterwards) with
the directory blob store in a temporary folder and the rate limits in the database, as with no
Redis. It runs in a child process, not in the benchmark's: the load is made by this process on
the other core, so the client's own work is not counted against the server, and the server's
figures are one process's, as the issue asks. The only thing added to the application is the
floor: ``/bench/floor``, a bare handler on the same application (the same middlewares, so the
same security headers) returning the landing page's bytes, fetched once at start-up.

Landing: ``--connections`` keep-alive connections at once (a small asyncio HTTP/1.1 client that
spends less per request than even the bare handler's server, so the server is what is measured:
both sides' CPU is printed) load
``/bench/floor`` and ``/c/<token>`` in alternating rounds of ``--round-seconds``, a floor round
first, ``--rounds`` of each after one warm-up pair; every answer must be 200 with the page's
length. A landing is the real page: each is counted as a scan (the card's counter, a
``CardScan`` row), written behind by the server's scan buffer (every second, and at its
shutdown), and the page of a known card is served from memory for ten seconds after it was
rendered (the guard's verdict for the address still runs first); once the server has stopped
(SIGTERM, as ``lianka web`` stops), the card's count and its ``CardScan`` rows must come out
equal to the pages served. The landing page has no limit for a known card (only
unknown tokens are counted per address), so nothing is set for it. ``--part landing`` runs
this part alone. web_landing_per_s and
web_floor_per_s are the medians of the rounds; web_landing_ratio = landing / floor (goal >= 0.5).

Submit: ``--reporters`` (100) reporters, ``--concurrency`` (4) at a time with no pause between
pages (a district's reporters are far fewer; ``--concurrency 1`` gives one request's own time,
``10`` a crowd), each a browser of its own (cookie jar, its own client address) going through
every page as a person does, each request timed on its own, a redirect followed by a request of
its own: the card's landing page → 网页反映 → 问题类别 → 问题描述 → 相关材料: two photos of
1600×1200 (JPEG, about 0.55 MB each, every one different; the first carries EXIF with GPS and a
camera) uploaded in one form, then 下一步 with the file box empty, as a browser sends it →
涉及金额 → 匿名 → the summary → 确认提交, whose page must show a 受理编号 and a receipt code.
Every form carries its CSRF token. The limits stay on and are counted, through the real
settings: the reporters come through a proxy (``LIANKA_TRUSTED_PROXIES=127.0.0.1``, each
reporter's address in ``X-Forwarded-For``, as behind the commission's proxy), so the 30 forms a
minute per address count each reporter's own, and the reports are spread over ``--cards`` cards
(20: five a card, under the ten an hour a card may bring). Afterwards the database must hold
every case and both photos of each, and the blob store the files, none with EXIF left.

web_submit_p50_ms / web_submit_p99_ms are over every request of every report (the strictest
reading; goal p99 <= 300 ms); web_submit_confirm_p99_ms is 确认提交's POST alone,
web_upload_p50_ms / web_upload_p99_ms the photos' POST alone. The cores each side kept busy
(``*_cpu``, from /proc) and the load average are printed: on a shared machine they say whether
the server was short of CPU or waiting.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import random
import re
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402
from sqlalchemy import func  # noqa: E402
from sqlmodel import select  # noqa: E402

from bench.common import BENCH_KEYS, merge_results, percentile, postgres_database  # noqa: E402
from bot.config import load_config  # noqa: E402
from bot.db import create_engine, create_session_factory, upgrade_database  # noqa: E402
from bot.services.catalog import sync_catalog  # noqa: E402
from models.attachment import Attachment  # noqa: E402
from models.card import Card, CardScan  # noqa: E402
from models.case import Case  # noqa: E402
from models.enterprise import Enterprise  # noqa: E402
from models.org import Zone  # noqa: E402

GOAL_RATIO = 0.5
GOAL_P99_MS = 300.0
CONFIG = ROOT / "lianka.example.toml"
FLOOR_PATH = "/bench/floor"
LANDING_TOKEN = "c_benchWebLanding000001"  # noqa: S105 (a card token, not a secret)
LANDING_PATH = f"/c/{LANDING_TOKEN}"
DESCRIPTION = (
    "园区管委会承诺的土地出让金返还至今未到位，企业资金周转困难，已多次询问未果，请帮助协调。"
)
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
CATEGORY = re.compile(r'<input type="radio" name="category" value="(\d+)"')
RECEIPT = re.compile(r'<p class="code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</p>')
CASE_NUMBER = re.compile(r'<strong class="case-number">([^<]+)</strong>')


# --- the server (a child process) --------------------------------------------------------------


def serve(port_file: Path, profile_file: Path | None) -> None:
    """The web channel as ``lianka web`` serves it, plus the floor route; until SIGTERM."""
    from bot.settings import Settings, configure_logging
    from bot.web_app import check_schema

    settings = Settings(_env_file=None)
    configure_logging(settings)
    check_schema(settings)
    asyncio.run(_serve(settings, port_file, profile_file))


async def _serve(settings: Any, port_file: Path, profile_file: Path | None) -> None:
    from bot.clock import SystemClock
    from bot.web_app import create_standalone_web_app
    from web.context import ROUTE_PREFIX

    config = load_config(CONFIG)
    engine = create_engine(settings.database_url)
    app = create_standalone_web_app(settings, config, create_session_factory(engine), SystemClock())
    floor: dict[str, bytes] = {}

    async def bare(request: web.Request) -> web.Response:
        return web.Response(body=floor["body"], content_type="text/html", charset="utf-8")

    # Named like the channel's routes, so the middlewares give it the landing page's headers.
    app.router.add_get(FLOOR_PATH, bare, name=f"{ROUTE_PREFIX}bench-floor", allow_head=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, reuse_port=True).start()
    port = int(runner.addresses[0][1])
    async with (
        aiohttp.ClientSession() as client,
        client.get(f"http://127.0.0.1:{port}/c/{LANDING_TOKEN}") as response,
    ):
        if response.status != 200:
            raise SystemExit(f"the landing page answered {response.status}")
        floor["body"] = await response.read()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    profiler = None
    if profile_file is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    ready = json.dumps({"port": port, "bytes": len(floor["body"])})
    await asyncio.to_thread(port_file.write_text, ready)
    await stop.wait()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(str(profile_file))
    await runner.cleanup()
    await engine.dispose()


@dataclass
class Server:
    """The server's child process, its port and the CPU it used."""

    process: subprocess.Popen[bytes]
    port: int
    page_bytes: int

    def cpu_seconds(self) -> float:
        """The child's user + system CPU so far (from /proc; Linux)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(env: dict[str, str], work: Path, profile_file: Path | None) -> Server:
    port_file = work / "port.json"
    command = [sys.executable, __file__, "--serve", str(port_file)]
    if profile_file is not None:
        command += ["--profile-file", str(profile_file)]
    log = (work / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 (this very script)
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 60
    while not port_file.exists() or not port_file.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise SystemExit(f"the web server did not start:\n{(work / 'server.log').read_text()}")
        time.sleep(0.05)
    ready = json.loads(port_file.read_text())
    return Server(process, int(ready["port"]), int(ready["bytes"]))


# --- the data ------------------------------------------------------------------------------------


async def seed(url: str, cards: int) -> list[str]:
    """The example organisation, the landing page's card and ``cards`` more for the reports."""
    config = load_config(CONFIG)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    now = datetime.now(UTC)
    tokens = [f"c_benchWebReport{n:06d}" for n in range(cards)]
    try:
        async with sessions() as session:
            await sync_catalog(session, config)
            zone = (await session.exec(select(Zone).where(Zone.code == "jkq"))).one()
            assert zone.id is not None
            enterprises = [
                Enterprise(
                    name=f"遂宁市安居区第{n + 1}号建筑工程有限公司", zone_id=zone.id, created_at=now
                )
                for n in range(cards + 1)
            ]
            session.add_all(enterprises)
            await session.flush()
            session.add_all(
                Card.issue(enterprise.id or 0, zone, token=token, unit_without_zone="", at=now)
                for token, enterprise in zip([LANDING_TOKEN, *tokens], enterprises, strict=True)
            )
            await session.commit()
    finally:
        await engine.dispose()
    return tokens


async def stored(url: str) -> tuple[int, int]:
    """Cases and their photos (attachments) in the database."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            cases = (await session.exec(select(func.count()).select_from(Case))).one()
            photos = (await session.exec(select(func.count()).select_from(Attachment))).one()
    finally:
        await engine.dispose()
    return int(cases), int(photos)


async def landing_scans(url: str) -> tuple[int, int]:
    """The landing card's scan counter and its ``CardScan`` rows in the database."""
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    try:
        async with sessions() as session:
            card = (await session.exec(select(Card).where(Card.token == LANDING_TOKEN))).one()
            rows = (
                await session.exec(
                    select(func.count()).select_from(CardScan).where(CardScan.card_id == card.id)
                )
            ).one()
    finally:
        await engine.dispose()
    return card.scan_count, int(rows)


def photos(count: int, seed_value: int) -> list[tuple[bytes, bytes]]:
    """``count`` pairs of 1600×1200 JPEG photos, every one different (the store keeps a file
    once): a noisy scene of about 0.5 MB as a phone's would be, the first of each pair carrying
    EXIF with GPS coordinates, a camera and an orientation."""
    rng = random.Random(seed_value)  # noqa: S311 (where shapes go on a photo)
    size = (1600, 1200)
    noise = Image.effect_noise(size, 16)
    scene = Image.merge(
        "RGB",
        (
            Image.linear_gradient("L").resize(size),
            noise,
            Image.linear_gradient("L").rotate(90).resize(size),
        ),
    )
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"  # Make
    exif[0x0110] = "Phone 12"  # Model
    exif[0x0112] = 1  # Orientation
    exif.get_ifd(0x8825).update({1: "N", 2: (30.0, 21.0, 4.5), 3: "E", 4: (105.0, 35.0, 12.0)})
    raw_exif = exif.tobytes()
    pairs = []
    for n in range(count):
        pair = []
        for k in range(2):
            img = scene.copy()
            draw = ImageDraw.Draw(img)
            for _ in range(12):  # a few shapes of its own, so no two photos are the same
                x, y = rng.randrange(1500), rng.randrange(1100)
                colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
                draw.rectangle(
                    (x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 300)), colour
                )
            draw.text((40 + k * 400, 40), f"report {n} photo {k}", fill=(255, 255, 255))
            out = io.BytesIO()
            if k == 0:
                img.save(out, "JPEG", quality=88, exif=raw_exif)
            else:
                img.save(out, "JPEG", quality=88)
            pair.append(out.getvalue())
        pairs.append((pair[0], pair[1]))
    return pairs


# --- landing: a small keep-alive HTTP/1.1 load ---------------------------------------------------


async def _connection_loop(
    port: int, path: str, until: float, expected: int, counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: bench\r\n\r\n".encode()
    done = 0
    try:
        while time.perf_counter() < until:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = -1
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            if status != b"200" or len(body) != expected:
                raise SystemExit(f"{path}: answered {status.decode()} with {len(body)} bytes")
            done += 1
    finally:
        counts.append(done)
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def load_round(
    port: int, path: str, *, connections: int, seconds: float, expected: int
) -> tuple[int, float]:
    """Requests answered in ``seconds`` with ``connections`` connections kept busy; the count
    and the seconds it really took."""
    counts: list[int] = []
    started = time.perf_counter()
    until = started + seconds
    await asyncio.gather(
        *(_connection_loop(port, path, until, expected, counts) for _ in range(connections))
    )
    return sum(counts), time.perf_counter() - started


@dataclass
class LandingFigures:
    landing: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    server_cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    """Cores the server kept busy in each round (1.0 = one whole core), by path."""
    client_cpu: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    requests: int = 0


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def measure_landing(
    server: Server, *, connections: int, rounds: int, seconds: float, floor: bool = True
) -> LandingFigures:
    """Alternating rounds, floor first; the first pair warms up and is not kept. Without
    ``floor`` (profiling the landing page), landing rounds only."""
    figures = LandingFigures()
    landing = LANDING_PATH
    paths = ((FLOOR_PATH, figures.floor),) if floor else ()
    for round_number in range(rounds + 1):
        for path, kept in (*paths, (landing, figures.landing)):
            server_cpu, client_cpu = server.cpu_seconds(), _own_cpu()
            answered, wall = await load_round(
                server.port,
                path,
                connections=connections,
                seconds=seconds,
                expected=server.page_bytes,
            )
            if path == landing:
                figures.requests += answered
            if round_number == 0:
                continue
            kept.append(answered / wall)
            figures.server_cpu[path].append((server.cpu_seconds() - server_cpu) / wall)
            figures.client_cpu[path].append((_own_cpu() - client_cpu) / wall)
    return figures


# --- submit: reporters going through every page --------------------------------------------------


def _hidden(page: str) -> dict[str, str]:
    import html

    return {name: html.unescape(value) for name, value in HIDDEN.findall(page)}


@dataclass
class Timings:
    """Each request's seconds, by what it was."""

    by_kind: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def all(self) -> list[float]:
        return [s for values in self.by_kind.values() for s in values]


class Reporter:
    """One phone's browser: its own cookies and client address, each request timed."""

    def __init__(self, port: int, address: str, timings: Timings) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.timings = timings
        self.client = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # the server is an IP address here
            headers={"X-Forwarded-For": address, "User-Agent": "bench"},
        )

    async def request(
        self, kind: str, method: str, path: str, *, expect: int, **kw: Any
    ) -> tuple[str, str]:
        """One request (redirects not followed: the next page is a request of its own)."""
        started = time.perf_counter()
        async with self.client.request(
            method, self.base + path, allow_redirects=False, **kw
        ) as response:
            body = await response.text()
        self.timings.by_kind[kind].append(time.perf_counter() - started)
        if response.status != expect:
            raise SystemExit(f"{kind} {path}: {response.status}, expected {expect}")
        return body, response.headers.get("Location", "")

    async def step(self, kind: str, page: str, path: str, **fields: str) -> str:
        """Post the form of ``page`` with ``fields``; then open the page it leads to."""
        _, location = await self.request(
            f"{kind} POST", "POST", path, data=_hidden(page) | fields, expect=303
        )
        body, _ = await self.request("page GET", "GET", location, expect=200)
        return body

    async def report(self, token: str, pair: tuple[bytes, bytes]) -> str:
        """A whole report; the receipt code."""
        report = f"/c/{token}/report"
        await self.request("landing GET", "GET", f"/c/{token}", expect=200)
        page, _ = await self.request("page GET", "GET", report, expect=200)
        category = CATEGORY.search(page)
        assert category is not None, "no category to choose"
        page = await self.step("form", page, report, category=category.group(1), action="next")
        page = await self.step("form", page, report, description=DESCRIPTION, action="next")
        upload = aiohttp.FormData(default_to_multipart=True)
        for name, value in _hidden(page).items():
            upload.add_field(name, value)
        upload.add_field("action", "upload")
        upload.add_field(
            "files", pair[0], filename="IMG_20260412_101530.jpg", content_type="image/jpeg"
        )
        upload.add_field(
            "files", pair[1], filename="IMG_20260412_101602.jpg", content_type="image/jpeg"
        )
        _, location = await self.request(
            "upload POST", "POST", f"{report}/materials", data=upload, expect=303
        )
        page, _ = await self.request("page GET", "GET", location, expect=200)
        if page.count('class="file"') != 2:
            raise SystemExit("the two photos are not on the 相关材料 page")
        after = aiohttp.FormData(default_to_multipart=True)  # as a browser sends this form:
        for name, value in _hidden(page).items():
            after.add_field(name, value)
        after.add_field("files", b"", filename="", content_type="application/octet-stream")
        after.add_field("action", "next")  # the file box left empty, 下一步 pressed
        _, location = await self.request(
            "form POST", "POST", f"{report}/materials", data=after, expect=303
        )
        page, _ = await self.request("page GET", "GET", location, expect=200)
        page = await self.step("form", page, report, amount="35.5", action="next")
        page = await self.step("form", page, report, identity="anonymous", action="next")
        done, _ = await self.request(
            "confirm POST", "POST", report, data=_hidden(page) | {"action": "submit"}, expect=200
        )
        receipt, number = RECEIPT.search(done), CASE_NUMBER.search(done)
        if receipt is None or number is None:
            raise SystemExit("确认提交 did not answer with a case number and a receipt code")
        return receipt.group(1)

    async def close(self) -> None:
        await self.client.close()


async def measure_submit(
    server: Server, tokens: list[str], pairs: list[tuple[bytes, bytes]], *, concurrency: int
) -> tuple[Timings, float]:
    """Every reporter's report, ``concurrency`` at a time; the timings and the wall time."""
    timings = Timings()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(pairs)):
        queue.put_nowait(n)
    receipts: set[str] = set()

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            reporter = Reporter(server.port, f"10.20.{n // 250}.{n % 250 + 1}", timings)
            try:
                receipts.add(await reporter.report(tokens[n % len(tokens)], pairs[n]))
            finally:
                await reporter.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - started
    if len(receipts) != len(pairs):
        raise SystemExit(f"{len(receipts)} receipt codes for {len(pairs)} reports")
    return timings, wall


# --- the run -------------------------------------------------------------------------------------


def _ms(values: list[float], share: float) -> float:
    return round(percentile(values, share) * 1000, 1)


def landing_figures(figures: LandingFigures) -> dict[str, float | int | str]:
    landing, floor = statistics.median(figures.landing), statistics.median(figures.floor)
    return {
        "web_landing_per_s": round(landing, 1),
        "web_floor_per_s": round(floor, 1),
        "web_landing_ratio": round(landing / floor, 4),
        "web_landing_server_cpu": round(statistics.median(figures.server_cpu[LANDING_PATH]), 2),
        "web_floor_server_cpu": round(statistics.median(figures.server_cpu[FLOOR_PATH]), 2),
        "web_floor_client_cpu": round(statistics.median(figures.client_cpu[FLOOR_PATH]), 2),
    }


def submit_figures(timings: Timings, wall: float, reports: int) -> dict[str, float | int | str]:
    every = timings.all()
    return {
        "web_submit_p50_ms": _ms(every, 0.5),
        "web_submit_p99_ms": _ms(every, 0.99),
        "web_submit_confirm_p99_ms": _ms(timings.by_kind["confirm POST"], 0.99),
        "web_upload_p50_ms": _ms(timings.by_kind["upload POST"], 0.5),
        "web_upload_p99_ms": _ms(timings.by_kind["upload POST"], 0.99),
        "web_submit_requests": len(every),
        "web_submit_reports_per_s": round(reports / wall, 2),
    }


def _package(filename: str) -> str:
    """Where a profiled function lives: a library, the standard library, or Lianka's folder."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename.startswith(str(ROOT)):
        return filename[len(str(ROOT)) + 1 :].split("/", 1)[0] + "/ (Lianka)"
    if filename.startswith("~") or filename.startswith("<"):
        return "built-in (C)"
    return "stdlib " + Path(filename).parent.name if "asyncio" in filename else "stdlib"


def print_profile(profile_file: Path) -> None:
    """The server's profile: by package (own time), then the top functions."""
    import pstats

    stats = pstats.Stats(str(profile_file))
    by_package: dict[str, float] = defaultdict(float)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, name), (_, _, own, _, _) in raw.items():
        key = _package(filename)
        if key == "built-in (C)":
            key = f"built-in {name}" if own > 0.5 else key
        by_package[key] += own
    total = sum(by_package.values())
    print(f"server CPU by where it was spent (own time, {total:.1f} s in all):")
    for key, own in sorted(by_package.items(), key=lambda item: -item[1])[:15]:
        print(f"  {own:7.2f} s  {own / total:6.1%}  {key}")
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


async def run_parts(
    args: argparse.Namespace, url: str, server: Server
) -> dict[str, float | int | str]:
    figures: dict[str, float | int | str] = {}
    if args.part in ("landing", "both"):
        landing = await measure_landing(
            server,
            connections=args.connections,
            rounds=args.rounds,
            seconds=args.round_seconds,
            floor=not args.profile,
        )
        if args.profile:
            print(f"landing: {[round(r) for r in landing.landing]}/s (profiled)", flush=True)
            return figures
        figures |= landing_figures(landing)
        print(
            f"landing: {figures['web_landing_per_s']}/s against the floor's "
            f"{figures['web_floor_per_s']}/s, ratio {figures['web_landing_ratio']} (goal >= "
            f"{GOAL_RATIO}); {args.connections} connections, {args.rounds} rounds of "
            f"{args.round_seconds} s each; rounds: landing {[round(r) for r in landing.landing]}, "
            f"floor {[round(r) for r in landing.floor]}; cores busy (median): server "
            f"{figures['web_landing_server_cpu']} on the landing, {figures['web_floor_server_cpu']} "
            f"on the floor, the client {figures['web_floor_client_cpu']} on the floor; load "
            f"average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        args.landing_pages = landing.requests + 1  # and the server's own fetch for the floor
    if args.part in ("submit", "both"):
        pairs = await asyncio.to_thread(photos, args.reporters, args.seed)
        sizes = [len(p) for pair in pairs for p in pair]
        server_cpu = server.cpu_seconds()
        timings, wall = await measure_submit(
            server, args.tokens, pairs, concurrency=args.concurrency
        )
        figures |= submit_figures(timings, wall, args.reporters)
        figures["web_submit_concurrency"] = args.concurrency
        figures["web_submit_server_cpu"] = round((server.cpu_seconds() - server_cpu) / wall, 2)
        cases, attachments = await stored(url)
        kept = [
            p for p in (args.work / "blobs").rglob("*") if p.is_file() and p.parent.name != "tmp"
        ]
        blobs = len(kept)
        if any(Image.open(p).getexif() for p in kept):
            raise SystemExit("a kept photo still carries EXIF")
        if (
            cases != args.reporters
            or attachments != 2 * args.reporters
            or blobs != 2 * args.reporters
        ):
            raise SystemExit(
                f"{cases} cases, {attachments} attachments and {blobs} blobs "
                f"for {args.reporters} reports"
            )
        kinds = ", ".join(
            f"{kind} p50 {_ms(values, 0.5)} / p99 {_ms(values, 0.99)} ms ({len(values)})"
            for kind, values in sorted(timings.by_kind.items())
        )
        print(
            f"submit: {args.reporters} reports ({args.concurrency} at a time, photos "
            f"{statistics.mean(sizes) / 1e3:.0f} KB on average) in {wall:.1f} s; every request "
            f"({figures['web_submit_requests']}) p50 {figures['web_submit_p50_ms']} ms, p99 "
            f"{figures['web_submit_p99_ms']} ms (goal <= {GOAL_P99_MS}); {kinds}; the server "
            f"kept {figures['web_submit_server_cpu']} cores busy; load average "
            f"{os.getloadavg()[0]:.1f}",
            flush=True,
        )
    return figures


def check_scans(url: str, pages: int, server: Server) -> None:
    """Every landing page served counted, once the server has stopped: the scans are written
    behind, and the last second's by the server's shutdown (SIGTERM, as ``lianka web``)."""
    if server.process.returncode != 0:
        raise SystemExit(f"the web server exited with {server.process.returncode}")
    counter, rows = asyncio.run(landing_scans(url))
    if counter != pages or rows != pages:
        raise SystemExit(f"{counter} scans counted ({rows} CardScan rows) for {pages} pages")
    print(f"landing: all {pages} pages counted as scans after the server stopped", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--part", choices=("landing", "submit", "both"), default="both")
    parser.add_argument("--connections", type=int, default=8, help="landing: connections at once")
    parser.add_argument("--rounds", type=int, default=5, help="landing: rounds of each")
    parser.add_argument("--round-seconds", type=float, default=3.0)
    parser.add_argument("--reporters", type=int, default=100, help="submit: complete reports")
    parser.add_argument("--concurrency", type=int, default=4, help="submit: reporters at once")
    parser.add_argument("--cards", type=int, default=20, help="submit: cards the reports use")
    parser.add_argument("--seed", type=int, default=1414)
    parser.add_argument(
        "--profile",
        choices=("landing", "submit"),
        help="run that part with the server under cProfile and print where its time goes",
    )
    parser.add_argument("--profile-out", type=Path, help="keep the server's profile (pstats)")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve, args.profile_file)
        return 0
    if args.profile:
        args.part = args.profile
    with (
        tempfile.TemporaryDirectory(prefix="lianka-bench-web-") as work_dir,
        postgres_database("lianka_bench_web") as url,
    ):
        args.work = Path(work_dir)
        upgrade_database(url)  # what ``lianka init`` does
        args.tokens = asyncio.run(seed(url, args.cards))
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("LIANKA_")},
            **BENCH_KEYS,
            "LIANKA_DATABASE_URL": url,
            "LIANKA_CONFIG": str(CONFIG),
            "LIANKA_WEB_SECRET": secrets.token_urlsafe(48),
            "LIANKA_TRUSTED_PROXIES": "127.0.0.1",
            "LIANKA_BLOB_STORE": "directory",
            "LIANKA_BLOB_DIR": str(args.work / "blobs"),
            "LIANKA_BOT_USERNAME": "AnjuLiankaBot",
        }
        profile_file = args.work / "server.prof" if args.profile else None
        server = start_server(env, args.work, profile_file)
        args.landing_pages = None
        try:
            figures = asyncio.run(run_parts(args, url, server))
        finally:
            server.stop()
        if args.landing_pages is not None:
            check_scans(url, args.landing_pages, server)
        if profile_file is not None:
            print_profile(profile_file)
            if args.profile_out is not None:
                shutil.copy(profile_file, args.profile_out)
            return 0
    merge_results(figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
