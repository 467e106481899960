"""The capacity plan's arithmetic: a province's year from the benchmark figures.

    .venv/bin/python bench/capacity.py               # reads bench/results.json, prints the plan
    .venv/bin/python bench/capacity.py --markdown    # the same as a table for the README

Nothing here is measured: it is a simulation built on what ``make bench`` (and ``make
bench-scale``) measured on this machine, read from bench/results.json, and on the assumptions
below, each named with its reason. A figure missing from the results (a benchmark not run) falls
back to the value measured when the plan was written, marked ``*`` in the output.

The province: 20 million people, 1.5 million enterprises holding a card. Three scenarios for how
often an enterprise reports in a year: 5 % (a card kept in a drawer), 20 % (the expected: about
one enterprise in five raises something a year once cards are known) and 67 % (1,000,000 a
year, the size ``make bench-scale`` measures). The load is not flat: reports arrive on working
days, office hours, and the first working day after 春节 carries three days' worth (the backlog of
the holiday), and since deadlines and warnings fall on office-day boundaries, that day's clock
actions all fall due in the same minute.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.scheduler import SWEEP_ROUNDS_FOR  # noqa: E402
from bot.services.sweep import CLAIM_LIMIT  # noqa: E402

RESULTS = ROOT / "bench" / "results.json"

# Measured on 2026-12-07 on the 2-core development machine of the eleventh round (nothing else
# running; "Figures of record, eleventh round" in bench/HISTORY.md), used when
# bench/results.json lacks a key.
MEASURED = {
    # updates a second one process takes through the production dispatcher on PostgreSQL
    # (bench/intake_bench.py --backend postgresql, 200 conversations)
    "intake_updates_per_s_postgresql": 222.4,
    # one sweep of 10,000 due clocks among 1,000,000 open, PostgreSQL (sweep_bench.py --scale)
    "sweep_ms_1m_10k": 1_734.5,
    # Telegram's overall limit as the emulator enforces it (the sender keeps under it)
    "outbox_limit_per_s": 30.0,
    # last month's report in every format at 1,000,000 cases (make bench-scale)
    "report_s_1m": 5.0,
    # PostgreSQL bytes per case, the case tables with their indexes (make bench-scale)
    "scale_bytes_per_case_1m": 8_607.0,
}


@dataclass(frozen=True)
class Province:
    people: int = 20_000_000
    enterprises: int = 1_500_000
    working_days: int = 249  # 2026: 365 - 104 weekend days - 11 holidays + 调休 make-up days
    office_hours: float = 8.0
    peak_day_factor: float = 3.0  # the first working day after 春节 (the holiday's backlog)
    peak_hour_share: float = 0.25  # of a day's reports, in its busiest hour (09:00–10:00)
    telegram_share: float = 0.1  # reporters in mainland China reach the web page, not Telegram
    updates_per_report: int = 8  # the quickest Telegram report (intake_bench's conversation)
    web_requests_per_report: int = 12  # pages, draft saves, an upload, the submission
    staff_actions_per_case: int = 12  # 签收, 提问, 延期, 办结, 审核 … in Telegram or the console
    clock_actions_per_case: float = 4.0  # warnings, overdue, escalations, 回访 (demo: 4.9 clocks)
    notices_per_case: float = 8.0  # receipt, assignment, accepted, questions, result, 回访 …
    share_with_files: float = 0.3  # reports that carry materials
    mb_per_case_with_files: float = 4.0  # photos of a notice or a contract, a PDF
    notice_retention_share: float = 0.3  # sent texts are purged; what a notification row keeps
    sender_pace_per_s: float = 25.0  # DESIGN.md: at most ~25 messages a second overall
    instance_headroom: float = 0.5  # run instances at half their measured capacity


@dataclass(frozen=True)
class Scenario:
    name: str
    reports_per_enterprise: float


SCENARIOS = (
    Scenario("低 5%", 0.05),
    Scenario("预期 20%", 0.20),
    Scenario("高 67%", 2 / 3),
)


def figures(path: Path = RESULTS) -> tuple[dict[str, float], set[str]]:
    """The measured figures, and the names of those taken from MEASURED."""
    found: dict[str, float] = {}
    if path.exists():
        loaded = json.loads(path.read_text(encoding="utf-8"))
        found = {k: float(v) for k, v in loaded.items() if isinstance(v, int | float)}
    fallback = {k for k in MEASURED if k not in found}
    return {k: found.get(k, MEASURED[k]) for k in MEASURED}, fallback


@dataclass(frozen=True)
class Plan:
    scenario: Scenario
    cases_per_year: int
    peak_hour_reports: float
    peak_updates_per_s: float
    instances: int
    sweep_burst_clocks: int
    sweep_burst_s: float
    sweep_burst_min: float
    notices_per_year: int
    outbox_busy_share: float
    burst_drain_min: float
    db_gb_per_year: float
    files_gb_per_year: float
    report_s_month: float


def sweep_per_minute(ms_per_clock: float) -> float:
    """Clocks one instance's deadline-sweep job acts on in a minute: sweeps of ``CLAIM_LIMIT``,
    one after the other while each finds that many due, begun within the run's
    ``SWEEP_ROUNDS_FOR`` seconds; never more than a minute of the work."""
    sweep_s = CLAIM_LIMIT * ms_per_clock / 1000
    sweeps = max(1, math.ceil(SWEEP_ROUNDS_FOR / sweep_s))
    return min(CLAIM_LIMIT * sweeps, 60_000 / ms_per_clock)


def burst_minutes(burst: int, ms_per_clock: float, instances: int) -> float:
    """Minutes until ``burst`` clocks due at once are acted on, the instances' sweeps sharing
    them out (SKIP LOCKED): within the first run when its share fits in what a run does."""
    share = burst / instances
    per_minute = sweep_per_minute(ms_per_clock)
    if share <= per_minute:
        return share * ms_per_clock / 60_000
    return share / per_minute


def plan(scenario: Scenario, measured: dict[str, float], p: Province) -> Plan:
    cases = round(p.enterprises * scenario.reports_per_enterprise)
    per_day = cases / p.working_days
    peak_hour = per_day * p.peak_day_factor * p.peak_hour_share
    telegram = peak_hour * p.telegram_share * p.updates_per_report
    web = peak_hour * (1 - p.telegram_share) * p.web_requests_per_report
    staff = per_day * p.peak_day_factor * p.staff_actions_per_case / p.office_hours
    updates_per_s = (telegram + web + staff) / 3600
    instances = max(
        2,  # two at least, so that one can be restarted while the other serves
        math.ceil(
            updates_per_s / (measured["intake_updates_per_s_postgresql"] * p.instance_headroom)
        ),
    )
    # deadlines and warnings fall on office-day boundaries, so a day's clock actions are due in
    # the same minute; the first working day after 春节 carries the peak day's three days' worth
    burst = round(per_day * p.clock_actions_per_case * p.peak_day_factor)
    ms_per_clock = measured["sweep_ms_1m_10k"] / 10_000
    notices = round(cases * p.notices_per_case)
    office_seconds = p.working_days * p.office_hours * 3600
    sender = min(p.sender_pace_per_s, measured["outbox_limit_per_s"])
    month_share = cases / 1_000_000  # report_s_1m: a month of a 1,000,000-case year
    bytes_per_case = measured["scale_bytes_per_case_1m"]
    return Plan(
        scenario=scenario,
        cases_per_year=cases,
        peak_hour_reports=peak_hour,
        peak_updates_per_s=updates_per_s,
        instances=instances,
        sweep_burst_clocks=burst,
        sweep_burst_s=burst * ms_per_clock / 1000,
        sweep_burst_min=burst_minutes(burst, ms_per_clock, instances),
        notices_per_year=notices,
        outbox_busy_share=notices / (office_seconds * sender),
        burst_drain_min=burst / sender / 60,
        db_gb_per_year=cases * bytes_per_case / 1e9,
        files_gb_per_year=cases * p.share_with_files * p.mb_per_case_with_files / 1e3,
        report_s_month=measured["report_s_1m"] * month_share,
    )


ROWS: tuple[tuple[str, Callable[[Plan], str]], ...] = (
    ("问题件数/年", lambda x: f"{x.cases_per_year:,}"),
    ("高峰小时新件", lambda x: f"{x.peak_hour_reports:,.0f}"),
    ("高峰请求/秒", lambda x: f"{x.peak_updates_per_s:,.1f}"),
    ("实例数", lambda x: str(x.instances)),
    ("节后首轮到期时钟", lambda x: f"{x.sweep_burst_clocks:,}"),
    ("其扫描用时 s（单实例）", lambda x: f"{x.sweep_burst_s:,.1f}"),
    ("其处理完毕 s", lambda x: f"{x.sweep_burst_min * 60:,.0f}"),
    ("通知条数/年", lambda x: f"{x.notices_per_year:,}"),
    ("发送通道占用", lambda x: f"{x.outbox_busy_share:.1%}"),
    ("节后通知发完 min", lambda x: f"{x.burst_drain_min:,.0f}"),
    ("数据库增长 GB/年", lambda x: f"{x.db_gb_per_year:,.1f}"),
    ("材料文件 GB/年", lambda x: f"{x.files_gb_per_year:,.0f}"),
    ("月报生成 s", lambda x: f"{x.report_s_month:,.1f}"),
)


def render(plans: list[Plan], markdown: bool) -> str:
    names = [x.scenario.name for x in plans]
    lines = []
    if markdown:
        lines.append("| | " + " | ".join(names) + " |")
        lines.append("|---|" + "---:|" * len(names))
        lines += [
            "| " + label + " | " + " | ".join(f(x) for x in plans) + " |" for label, f in ROWS
        ]
    else:
        width = max(len(label) for label, _ in ROWS) + 4
        lines.append(" " * width + "".join(f"{n:>14}" for n in names))
        lines += [label.ljust(width) + "".join(f"{f(x):>14}" for x in plans) for label, f in ROWS]
    return "\n".join(lines)


def ceilings(measured: dict[str, float], p: Province) -> dict[str, float]:
    """Cases a year at which each part reaches its limit (the smallest gives out first)."""
    ms_per_clock = measured["sweep_ms_1m_10k"] / 10_000
    sender = min(p.sender_pace_per_s, measured["outbox_limit_per_s"])
    day_actions_per_case = p.clock_actions_per_case * p.peak_day_factor / p.working_days
    day_notices_per_case = p.notices_per_case * p.peak_day_factor / p.working_days
    return {
        # the first working day after 春节: its clock actions acted on within five minutes
        "期限扫描（两个实例，节后五分钟内处理完）": (
            5 * sweep_per_minute(ms_per_clock) * 2 / day_actions_per_case
        ),
        # one bot token: the peak day's notices sent within its office hours
        "Telegram 发送（一个机器人，高峰日办公时间内发完）": (
            sender * p.office_hours * 3600 / day_notices_per_case
        ),
        # the console's 报表 page: last month's report within a minute
        "月度报表（一分钟内生成）": 60 / measured["report_s_1m"] * 1_000_000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    measured, fallback = figures()
    province = Province()
    plans = [plan(s, measured, province) for s in SCENARIOS]
    print(render(plans, args.markdown))
    print()
    limits = sorted(ceilings(measured, province).items(), key=lambda item: item[1])
    for name, cases in limits:
        print(f"{name}: {cases:,.0f} 件/年")
    print(f"最先到达上限：{limits[0][0]}")
    print()
    for key, value in measured.items():
        print(f"{'*' if key in fallback else ' '} {key} = {value:g}")
    if fallback:
        print("* not in bench/results.json: the value measured when the plan was written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
