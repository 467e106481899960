"""The world both paths share: catalog, people, enterprises, cards, reporters and scans."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.catalog import sync_catalog
from demo.plan import Plan, person_name
from demo.rows import Batch, plain, table_of, write
from models.card import Card, CardScan
from models.enterprise import Enterprise
from models.org import Category, Zone
from models.reporter import Reporter
from models.team import AssignmentMode, Inspector, Role, Team

PlainEnterprise, PlainCard, PlainReporter, PlainInspector = (
    plain(m) for m in (Enterprise, Card, Reporter, Inspector)
)
"""The world's many rows, made without the ORM's bookkeeping (``demo.rows.plain``)."""

TELEGRAM_BASE = 9_100_000_000  # demo accounts: far above the ids Telegram hands out today


@dataclass
class World:
    """The catalog, the people and the enterprises (with their card and reporter)."""

    categories: dict[int, Category]
    zones: dict[int, Zone]
    teams: dict[int, Team]
    people: list[Inspector]
    enterprises: dict[int, Enterprise]
    reporters: list[Reporter]  # by enterprise index of the plan
    cards: list[Card] = field(default_factory=list)  # by enterprise index of the plan
    category_codes: dict[int, str] = field(default_factory=dict)
    category_by_code: dict[str, Category] = field(default_factory=dict)
    team_by_code: dict[str, Team] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # the catalog's rows are read at every case: as plain copies, not ORM objects (each
        # attribute of which is read through the ORM's descriptor)
        self.categories = {i: _copied(c) for i, c in self.categories.items()}
        self.zones = {i: _copied(z) for i, z in self.zones.items()}
        self.teams = {i: _copied(t) for i, t in self.teams.items()}
        self.category_codes = {i: c.code for i, c in self.categories.items()}
        self.category_by_code = {c.code: c for c in self.categories.values()}
        self.team_by_code = {t.code: t for t in self.teams.values()}

    @property
    def reporter_ids(self) -> list[int]:
        return [r.id or 0 for r in self.reporters]

    def members(self, team_id: int) -> list[Inspector]:
        """As ``list_team_members(..., roles=(INSPECTOR,))``: active, registered, by id."""
        return [
            p
            for p in self.people
            if p.team_id == team_id and p.role is Role.INSPECTOR and p.active and p.chat_id
        ]

    def team_leaders(self, team_id: int) -> list[Inspector]:
        leaders = [p for p in self.people if p.team_id == team_id and p.role is Role.TEAM_LEADER]
        return leaders or [p for p in self.people if p.role is Role.ADMIN]


_PLAIN_CATALOG: dict[type, Any] = {m: plain(m) for m in (Category, Zone, Team)}

Row = TypeVar("Row", Category, Zone, Team)


def _copied(row: Row) -> Row:
    """A catalog row's columns on a plain object (``demo.rows.plain``)."""
    copy: Row = _PLAIN_CATALOG[type(row)](
        **{c.key: getattr(row, c.key) for c in table_of(type(row)).columns}
    )
    return copy


def _people(
    config: LiankaConfig, teams: dict[str, Team], start: datetime, rng: random.Random
) -> list[Inspector]:
    """A leader and inspectors for every team, two commission leaders and an admin."""
    people: list[Inspector] = []

    def person(name: str, role: Role, team: Team | None) -> None:
        account = TELEGRAM_BASE + 500_000 + len(people)
        people.append(
            PlainInspector(
                id=len(people) + 1,
                name=name,
                role=role,
                team_id=team.id if team else None,
                telegram_user_id=account,
                chat_id=account,
                created_at=start,
            )
        )

    for tc in config.teams:
        team = teams[tc.code]
        person(tc.leader_name or person_name(rng), Role.TEAM_LEADER, team)
        size = (
            5 if tc.code == "business_env" else 2 if tc.assignment is AssignmentMode.LEADER else 3
        )
        for _ in range(size):
            person(person_name(rng), Role.INSPECTOR, team)
    person("张琪", Role.LEADER, None)
    person(person_name(rng), Role.LEADER, None)
    person("系统管理员", Role.ADMIN, None)
    return people


async def _insert(session: AsyncSession, model: Any, rows: Iterable[Any]) -> None:
    """Written 10,000 at a time (the rows may come from a generator: 1.5 million scans)."""
    connection = await session.connection()
    batch = Batch((model,))
    for count, row in enumerate(rows, start=1):
        batch.add(model, row)
        if count % 10_000 == 0:
            await write(connection, batch.take())
    await write(connection, batch.take())


async def build_world(
    sessions: SessionFactory, config: LiankaConfig, plan: Plan, seed: int, *, write: bool = True
) -> World:
    """Catalog, people, enterprises, cards, reporters and card scans: the same rows either way
    (card scans stand in for issue 4's scan recording). The catalog is written at once, the
    rest with ``write_world`` (here, unless ``write`` is false)."""
    rng = random.Random(seed + 1)  # noqa: S311 (reproducible demo data, not secrets)
    async with sessions() as session:
        await sync_catalog(session, config)
    async with sessions() as session:
        categories = {c.id or 0: c for c in (await session.exec(select(Category))).all()}
        zones = {z.id or 0: z for z in (await session.exec(select(Zone))).all()}
        teams = {t.id or 0: t for t in (await session.exec(select(Team))).all()}
    zone_by_code = {z.code: z for z in zones.values()}
    people = _people(config, {t.code: t for t in teams.values()}, plan.start, rng)
    enterprises: dict[int, Enterprise] = {}
    cards: list[Card] = []
    reporters: list[Reporter] = []
    for index, e in enumerate(plan.enterprises, start=1):
        zone = zone_by_code[e.zone]
        enterprises[index] = PlainEnterprise(
            id=index,
            name=e.name,
            uscc=e.uscc,
            zone_id=zone.id,
            legal_rep=e.legal_rep,
            created_at=plan.start,
        )
        card = PlainCard.issue(index, zone, token=e.token, unit_without_zone="", at=plan.start)
        card.id, card.printed_count = index, 1
        cards.append(card)
        reporters.append(
            PlainReporter(
                id=index,
                telegram_user_id=TELEGRAM_BASE + index,
                chat_id=TELEGRAM_BASE + index,
                card_id=index,
                enterprise_id=index,
                zone_id=zone.id,
                created_at=plan.start,
            )
        )
    for index, at in plan.scans:
        card = cards[index]
        card.scan_count += 1
        card.last_scan_at = at
    world = World(categories, zones, teams, people, enterprises, reporters, cards)
    if write:
        await write_world(sessions, world, plan)
    return world


async def write_world(sessions: SessionFactory, world: World, plan: Plan) -> None:
    """The world's people, enterprises, cards, reporters and the plan's card scans, in one
    transaction."""
    scans = (
        {"card_id": index + 1, "reporter_id": index + 1, "scanned_at": at}
        for index, at in plan.scans
    )
    async with sessions() as session:
        await _insert(session, Inspector, world.people)
        await _insert(session, Enterprise, world.enterprises.values())
        await _insert(session, Card, world.cards)
        await _insert(session, Reporter, world.reporters)
        await _insert(session, CardScan, scans)
        await session.commit()
