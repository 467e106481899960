"""``make bench``: every benchmark, one table, every figure in bench/results.json.

    make bench                                   # or: .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --only intake sweep
    .venv/bin/python bench/run.py --outbox-messages 600 --report-cases 20000
    .venv/bin/python bench/run.py --only web
    .venv/bin/python bench/run.py --only console
    .venv/bin/python bench/run.py --scale        # make bench-scale: 1,000,000 cases, apart

Each benchmark is a script of its own in bench/ and runs in a process of its own (so that the
intake's peak RSS is its own), one after the other, measuring each figure next to its floor in
the same run. The outbox (paced by Telegram's limits, not by the CPU) runs beside the intake
benchmark by default, the intake run again and again until the outbox is done, so that the
outbox's figures are those of a busy machine from start to end (``--outbox-neighbour``:
``intake``, ``all`` the stages after it, or ``none``; the results say which,
``outbox_neighbour``). The intake's own figures come from a run of their own afterwards, with
nothing beside it; those of its last round beside the outbox are kept as
``intake_*_beside_outbox``. The report needs 100,000 cases: 5,000 demo cases are generated
(and kept for later runs, ``report_bench.py --cache``), then copied in SQL up to 100,000 — the
generator writes about 50 cases a second here, far too slow for 100,000 within make bench.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import machine  # noqa: E402
from bench.common import RESULTS, merge_results  # noqa: E402

BENCH = ROOT / "bench"


@dataclass(frozen=True)
class Goal:
    key: str
    text: str
    met: Callable[[float], bool] | None = None


def at_least(limit: float) -> Callable[[float], bool]:
    return lambda value: value >= limit


def at_most(limit: float) -> Callable[[float], bool]:
    return lambda value: value <= limit


GOALS = [
    Goal("machine_mixed_s", ""),
    Goal("machine_mixed_s_end", ""),
    Goal("machine_loop_s", ""),
    Goal("machine_loop_s_end", ""),
    Goal("intake_updates_per_s", ""),
    Goal("floor_updates_per_s", ""),
    Goal("intake_durable_floor_per_s", ""),
    Goal("intake_durable_ratio", ">= 0.5", at_least(0.5)),
    Goal("intake_ratio", ""),
    Goal("intake_statement_ratio", ""),
    Goal("intake_inherent_ratio", ""),
    Goal("intake_p50_ms", ""),
    Goal("intake_p99_ms", "<= 50", at_most(50)),
    Goal("peak_rss_mb", ""),
    Goal("sweep_ms_10k", ""),
    Goal("sweep_ms_100k", "<= 200", at_most(200)),
    Goal("sweep_scaling", "<= 1.5", at_most(1.5)),
    Goal("sweep_backend", ""),
    Goal("sweep_ms_10k_sqlite", ""),
    Goal("sweep_ms_100k_sqlite", "<= 200", at_most(200)),
    Goal("sweep_scaling_sqlite", "<= 1.5", at_most(1.5)),
    Goal("sweep_ms_10k_postgresql", ""),
    Goal("sweep_ms_100k_postgresql", "<= 200", at_most(200)),
    Goal("sweep_scaling_postgresql", "<= 1.5", at_most(1.5)),
    Goal("sweep_ms_1m_10k", "<= 2000", at_most(2000)),
    Goal("outbox_msgs_per_s", ""),
    Goal("outbox_limit_per_s", ""),
    Goal("outbox_share", ">= 0.9", at_least(0.9)),
    Goal("outbox_neighbour", ""),
    Goal("outbox_neighbour_rounds", ""),
    Goal("intake_p99_ms_beside_outbox", ""),
    Goal("outbox_429s", "= 0", lambda value: value == 0),
    Goal("cards_per_s", ""),
    Goal("qr_floor_per_s", ""),
    Goal("cards_ratio", ">= 0.67", at_least(0.67)),
    Goal("report_s_100k", "<= 10", at_most(10)),
    Goal("report_s_100k_sqlite", "<= 10", at_most(10)),
    Goal("report_s_100k_postgresql", "<= 10", at_most(10)),
    Goal("cli_help_s", "<= 0.5", at_most(0.5)),
    Goal("cli_cards_list_s", ""),
    Goal("web_start_s", ""),
    Goal("cli_python_floor_s", ""),
    Goal("web_landing_per_s", ""),
    Goal("web_floor_per_s", ""),
    Goal("web_landing_ratio", ">= 0.5", at_least(0.5)),
    Goal("web_submit_p50_ms", ""),
    Goal("web_submit_p99_ms", "<= 300", at_most(300)),
    Goal("web_submit_confirm_p99_ms", ""),
    Goal("web_upload_p99_ms", ""),
    Goal("console_search_ms_100k", "<= 300", at_most(300)),
    Goal("console_search_median_ms_100k", ""),
    Goal("demo_cases_per_s", ">= 3000", at_least(3000)),
    Goal("demo_cases_per_cpu_s", ""),
    Goal("report_s_1m", "<= 10", at_most(10)),
    Goal("report_figures_s_1m", ""),
    Goal("console_search_ms_1m", "<= 300", at_most(300)),
    Goal("console_search_median_ms_1m", ""),
    Goal("console_list_ms_1m", ""),
    Goal("console_home_ms_1m", ""),
    Goal("scale_db_mb_1m", ""),
    Goal("scale_bytes_per_case_1m", ""),
]
STAGES = ("cli", "outbox", "intake", "cards", "sweep", "report", "web", "console", "demo")
SCALE_STAGES = ("scale",)
"""``--scale`` (``make bench-scale``): the million-case database, built or reused, and what is
measured over it; never part of the everyday run."""


def script(name: str, *args: str) -> list[str]:
    return [sys.executable, str(BENCH / name), *args]


def run(command: list[str]) -> float:
    print(f"$ {' '.join(Path(c).name if c == sys.executable else c for c in command)}", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)  # noqa: S603 (our own scripts)
    return time.perf_counter() - started


def busy_beside(outbox: subprocess.Popen[bytes], conversations: int) -> float:
    """The intake benchmark run again and again beside the outbox until the outbox is done, so
    that the machine is busy for the whole of the outbox's run (one intake run is a fifth of
    it); its figures go in as ``intake_*_beside_outbox`` (the last round's), the plain intake
    keys being measured apart, with nothing beside them. The outbox's seconds."""
    started = time.perf_counter()
    rounds = 0
    while outbox.poll() is None:
        run(script("intake_bench.py", "--conversations", str(conversations), "--beside", "outbox"))
        rounds += 1
    seconds = wait_outbox(outbox, started)
    merge_results({"outbox_neighbour_rounds": rounds})
    return seconds


def wait_outbox(outbox: subprocess.Popen[bytes], started: float) -> float:
    """The outbox run beside other stages, to its end; its seconds."""
    if outbox.wait() != 0:
        raise SystemExit("the outbox benchmark failed")
    return time.perf_counter() - started


def flatten_report() -> None:
    """report_bench.py writes per backend; the table wants flat keys, the plain one the worse."""
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    figures: dict[str, float | int | str] = {}
    for backend in ("sqlite", "postgresql"):
        value = results.get(backend, {}).get("report_s_100k")
        if value is not None:
            figures[f"report_s_100k_{backend}"] = value
    if figures:
        figures["report_s_100k"] = max(float(v) for v in figures.values())
        merge_results(figures)


def table(stage_seconds: dict[str, float], total: float) -> None:
    from rich.console import Console
    from rich.table import Table

    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    view = Table(title="Lianka benchmarks (bench/results.json)")
    for column in ("key", "value", "goal", ""):
        view.add_column(column, justify="right" if column == "value" else "left")
    for goal in GOALS:
        value = results.get(goal.key)
        if value is None:
            view.add_row(goal.key, "—", goal.text, "not run")
            continue
        verdict = ""
        if goal.met is not None:
            verdict = "[green]pass[/]" if goal.met(float(value)) else "[red]short[/]"
        view.add_row(goal.key, str(value), goal.text, verdict)
    console = Console()
    console.print(view)
    timings = ", ".join(f"{stage} {seconds:.0f}s" for stage, seconds in stage_seconds.items())
    console.print(f"wall time {total:.0f}s ({timings})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--outbox-messages", type=int, default=3000)
    parser.add_argument(
        "--outbox-neighbour",
        choices=("intake", "all", "none"),
        default="intake",
        help="what runs beside the outbox: the intake (default), every stage after it, nothing",
    )
    parser.add_argument("--report-cases", type=int, default=100_000)
    parser.add_argument(
        "--report-generate",
        type=int,
        default=5_000,
        help="demo cases generated for the report; copied up to --report-cases",
    )
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--web-reports", type=int, default=100)
    parser.add_argument(
        "--scale",
        action="store_true",
        help="only the scale run: report and console over 1,000,000 cases (bench/scale_bench.py)",
    )
    parser.add_argument("--scale-cases", type=int, default=1_000_000)
    parser.add_argument(
        "--scale-generate",
        type=int,
        default=5_000,
        help="demo cases generated for the scale run; multiplied in SQL up to --scale-cases",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    if args.scale:
        args.only = list(SCALE_STAGES)
    elif set(args.only) == set(STAGES) and RESULTS.exists():
        RESULTS.unlink()  # a full run starts afresh; a partial one updates what is there
    merge_results(machine.figures())
    seconds: dict[str, float] = {}
    outbox: subprocess.Popen[bytes] | None = None
    outbox_started = 0.0
    neighbour = args.outbox_neighbour
    if neighbour == "intake" and "intake" not in args.only:
        neighbour = "none"
    commands = {
        "cli": [script("cli_bench.py")],
        "outbox": [script("outbox_bench.py", "--messages", str(args.outbox_messages))],
        "intake": [script("intake_bench.py", "--conversations", str(args.conversations))],
        "cards": [script("cards_bench.py", "--cards", str(args.cards))],
        "sweep": [script("sweep_bench.py")],
        "web": [script("web_bench.py", "--reporters", str(args.web_reports))],
        "console": [script("console_bench.py", "--cache")],
        "demo": [script("demo_bench.py")],
        "scale": [
            script(
                "scale_bench.py",
                "--cases",
                str(args.scale_cases),
                "--generate",
                str(args.scale_generate),
                "--cache",
            ),
            # the sweep's own million open cases (its filling is not the demo's: every clock
            # running, 10,000 of them due)
            script("sweep_bench.py", "--scale"),
        ],
        "report": [
            script(
                "report_bench.py",
                "--backend",
                backend,
                "--cases",
                str(args.report_cases),
                "--generate",
                str(args.report_generate),
                "--cache",
            )
            for backend in ("sqlite", "postgresql")
        ],
    }
    try:
        for stage in (*STAGES, *SCALE_STAGES):
            if stage not in args.only:
                continue
            if stage == "outbox" and neighbour != "none":
                print(f"$ outbox_bench.py (beside {neighbour})", flush=True)
                outbox_started = time.perf_counter()
                outbox = subprocess.Popen(commands[stage][0], cwd=ROOT)  # noqa: S603
                if neighbour == "intake":
                    seconds["outbox"] = busy_beside(outbox, args.conversations)
                    outbox = None
                continue
            seconds[stage] = sum(run(command) for command in commands[stage])
            if stage == "report":
                flatten_report()
        if outbox is not None:
            seconds["outbox"] = wait_outbox(outbox, outbox_started)
            outbox = None
        if "outbox" in args.only:
            merge_results({"outbox_neighbour": neighbour})
    finally:
        if outbox is not None:
            outbox.terminate()
            outbox.wait()
    merge_results(machine.figures("_end"))
    table(seconds, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
