"""``demo.plan``: the same seed makes the same history, byte for byte, however its code is made
faster (the demo data of a given seed, size and ``now`` is what users and benchmarks compare)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from bot.config import LiankaConfig
from demo.calendar import RememberingCalendar
from demo.plan import plan_history
from models.calendar import WorkCalendar
from models.team import AssignmentMode

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def test_a_seed_plans_the_history_it_always_planned(
    config: LiankaConfig, calendar: WorkCalendar
) -> None:
    leader_teams = frozenset(
        t.code for t in config.teams if t.assignment is AssignmentMode.LEADER or t.dispatcher
    )
    plan = plan_history(
        config, RememberingCalendar.of(calendar), NOW,
        cases=3_000, seed=1, months=12, leader_teams=leader_teams,
    )  # fmt: skip
    written = repr((plan.start, plan.now, plan.enterprises, plan.cases, plan.scans))
    assert len(plan.cases) == 3_000
    assert any(p.prompted_by for p in plan.cases)  # with 防打击报复回访 clues and 重复件
    assert any(s.ref for p in plan.cases for s in p.steps if s.kind == "merge")
    digest = hashlib.sha256(written.encode()).hexdigest()
    assert digest == "15333a25eb28420073d89754f640969548c8b95f1684362e54e046f4b954d397"
