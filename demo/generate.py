"""``generate_demo``: plan, build the world, write the cases one way or the other."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import sqlalchemy as sa
from sqlmodel import col, select

from bot.config import LiankaConfig, RepeatsConfig
from bot.db import SessionFactory
from demo.bulk import TABLE_ORDER, write_in_bulk
from demo.calendar import RememberingCalendar
from demo.load import without_secondary_indexes
from demo.plan import Plan, plan_history
from demo.rows import table_of, uncollected
from demo.use_cases import write_through_use_cases
from demo.world import build_world, write_world
from models.calendar import WorkCalendar
from models.card import Card, CardScan
from models.case import Case
from models.enterprise import Enterprise
from models.notification import Notification, NotificationStatus
from models.reporter import Reporter
from models.team import AssignmentMode, Inspector


async def _restart_sequences(sessions: SessionFactory) -> None:
    """Rows were inserted with explicit ids: PostgreSQL's sequences must move past them."""
    async with sessions() as session:
        connection = await session.connection()
        if connection.dialect.name != "postgresql":
            return
        for table in (
            "inspectors",
            "enterprises",
            "cards",
            "reporters",
            "cases",
            "clue_dispositions",
        ):
            await connection.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (fixed names)
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                )
            )
        await session.commit()


FILLED = tuple(
    table_of(model).name
    for model in (Inspector, Enterprise, Card, Reporter, CardScan, *TABLE_ORDER)
)
"""The tables a demo fills: the world's and the cases' (``demo.load``)."""


class NotEmpty(Exception):
    """Demo data goes only into an empty database (never mixed with real cases)."""


@dataclass(frozen=True, slots=True)
class DemoSummary:
    cases: int
    enterprises: int
    scans: int
    people: int
    statuses: dict[str, int]


async def generate_demo(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    *,
    cases: int,
    seed: int = 1,
    months: int = 12,
    bulk: bool = True,
    tick: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> DemoSummary:
    """Write a synthetic history ending at ``now`` into an empty database; the notifications it
    queued are marked sent, so a bot started on demo data does not send history. In bulk on
    PostgreSQL, ``workers`` processes work the batches out (by default one a core)."""
    async with sessions() as session:
        for model in (Case, Enterprise, Inspector):
            if (await session.exec(select(sa.func.count()).select_from(model))).one():
                raise NotEmpty("数据库中已有数据，演示数据只能写入空数据库。")
    leader_teams = frozenset(
        t.code for t in config.teams if t.assignment is AssignmentMode.LEADER or t.dispatcher
    )
    calendar = RememberingCalendar.of(calendar)  # the same answers, each worked out once
    # the collector rests while the plan is made and, in bulk, until it is written and gone:
    # once it runs again, each of its passes goes over every object the plan holds (millions)
    with uncollected():
        plan = plan_history(
            config, calendar, now, cases=cases, seed=seed, months=months, leader_teams=leader_teams
        )
        sizes = len(plan.cases), len(plan.enterprises), len(plan.scans)
        if bulk:
            people = await _write(
                sessions, config, calendar, plan, seed, bulk=True, workers=workers, tick=tick
            )
            del plan  # freed as the collector would not see it
    if not bulk:
        people = await _write(
            sessions, config, calendar, plan, seed, bulk=False, workers=workers, tick=tick
        )
    async with sessions() as session:
        statuses = {
            str(status): int(count)
            for status, count in (
                await session.exec(select(Case.status, sa.func.count()).group_by(Case.status))
            ).all()
        }
    return DemoSummary(*sizes, people, statuses)


async def _write(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: RememberingCalendar,
    plan: Plan,
    seed: int,
    *,
    bulk: bool,
    workers: int | None,
    tick: Callable[[int], None] | None,
) -> int:
    """The world and the plan's cases written, one way or the other; the world's people."""
    now = plan.now
    tick = tick or (lambda _: None)
    workers = (os.cpu_count() or 1) if workers is None else workers
    # in bulk on PostgreSQL, the tables filled are indexed and their keys checked at the end
    filled = FILLED if bulk else ()
    async with without_secondary_indexes(sessions, filled, at_once=workers):
        with uncollected():  # a world of plain objects, beside the plan's millions
            # in bulk, its rows are written beside the first batches (``write_in_bulk``)
            world = await build_world(sessions, config, plan, seed, write=not bulk)
        await _restart_sequences(sessions)
        # the 重复件 are planned (``demo.plan``: the check's same-enterprise rule; the demo's
        # templated descriptions would make most cases alike by text) and flagged by a step, on
        # both paths, so the intake's own check is off
        config = config.model_copy(update={"repeats": RepeatsConfig(enabled=False)})
        if bulk:
            with uncollected():  # in this process and the ones it forks
                await write_in_bulk(
                    sessions, config, calendar, plan, world, tick=tick, workers=workers,
                    world_rows=partial(write_world, world=world, plan=plan),
                )  # fmt: skip
        else:
            await write_through_use_cases(sessions, config, calendar, plan, world, tick=tick)
        await _restart_sequences(sessions)
        async with sessions() as session:
            await session.exec(
                sa.update(Notification)
                .where(
                    col(Notification.status) == NotificationStatus.PENDING,
                    col(Notification.created_at) <= now,
                )
                .values(status=NotificationStatus.SENT, sent_at=Notification.created_at)
            )
            await session.commit()
    return len(world.people)
