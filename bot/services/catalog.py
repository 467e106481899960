"""Keeping the database's zones, categories and teams in step with the configuration file."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from models.org import Category, Zone
from models.team import Team, TeamCategory, TeamZone

CATALOG_LOCK = 0x4C4B_4341  # "LKCA": the advisory lock the catalog syncs take turns on


@dataclass
class CatalogChanges:
    """What a sync added, changed and retired, by section."""

    added: dict[str, list[str]] = field(default_factory=dict)
    updated: dict[str, list[str]] = field(default_factory=dict)
    retired: dict[str, list[str]] = field(default_factory=dict)

    def note(self, bucket: dict[str, list[str]], section: str, code: str) -> None:
        bucket.setdefault(section, []).append(code)

    @property
    def empty(self) -> bool:
        return not (self.added or self.updated or self.retired)


async def sync_catalog(session: AsyncSession, config: LiankaConfig) -> CatalogChanges:
    """Make zones, categories and teams match the config; what it no longer names is retired, not deleted.

    Every instance syncs at start-up: on PostgreSQL the syncs take turns (a transaction-level
    advisory lock, released at the commit), so two instances starting together never both insert
    the same rows (a team's coverage is rewritten, a new zone or category added)."""
    changes = CatalogChanges()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        await session.exec(select(func.pg_advisory_xact_lock(CATALOG_LOCK)))

    zones = {z.code: z for z in (await session.exec(select(Zone))).all()}
    for zc in config.zones:
        zone = zones.get(zc.code)
        if zone is None:
            zone = Zone(code=zc.code, name=zc.name, issuing_unit=zc.issuing_unit)
            session.add(zone)
            zones[zc.code] = zone
            changes.note(changes.added, "zones", zc.code)
        elif (zone.name, zone.issuing_unit, zone.active) != (zc.name, zc.issuing_unit, True):
            zone.name, zone.issuing_unit, zone.active = zc.name, zc.issuing_unit, True
            changes.note(changes.updated, "zones", zc.code)
    for code, zone in zones.items():
        if zone.active and code not in {z.code for z in config.zones}:
            zone.active = False
            changes.note(changes.retired, "zones", code)

    categories = {c.code: c for c in (await session.exec(select(Category))).all()}
    for order, cc in enumerate(config.categories, start=1):
        category = categories.get(cc.code)
        if category is None:
            category = Category(code=cc.code, name=cc.name, track=cc.track, sort_order=order)
            session.add(category)
            categories[cc.code] = category
            changes.note(changes.added, "categories", cc.code)
        elif (category.name, category.track, category.sort_order, category.active) != (
            cc.name,
            cc.track,
            order,
            True,
        ):
            category.name, category.track = cc.name, cc.track
            category.sort_order, category.active = order, True
            changes.note(changes.updated, "categories", cc.code)
    for code, category in categories.items():
        if category.active and code not in {c.code for c in config.categories}:
            category.active = False
            changes.note(changes.retired, "categories", code)

    teams = {t.code: t for t in (await session.exec(select(Team))).all()}
    for tc in config.teams:
        team = teams.get(tc.code)
        wanted = (tc.name, tc.dispatcher, tc.assignment, True)
        if team is None:
            team = Team(
                code=tc.code, name=tc.name, is_dispatcher=tc.dispatcher, assignment=tc.assignment
            )
            session.add(team)
            teams[tc.code] = team
            changes.note(changes.added, "teams", tc.code)
        elif (team.name, team.is_dispatcher, team.assignment, team.active) != wanted:
            team.name, team.is_dispatcher, team.assignment, team.active = wanted
            changes.note(changes.updated, "teams", tc.code)
    for code, team in teams.items():
        if team.active and code not in {t.code for t in config.teams}:
            team.active = False
            changes.note(changes.retired, "teams", code)

    await session.flush()
    await _sync_coverage(session, config, teams, categories, zones)
    await session.commit()
    return changes


async def _sync_coverage(
    session: AsyncSession,
    config: LiankaConfig,
    teams: dict[str, Team],
    categories: dict[str, Category],
    zones: dict[str, Zone],
) -> None:
    """Rewrite which categories and zones each configured team covers."""
    team_ids = [teams[tc.code].id for tc in config.teams]
    await session.exec(delete(TeamCategory).where(col(TeamCategory.team_id).in_(team_ids)))
    await session.exec(delete(TeamZone).where(col(TeamZone.team_id).in_(team_ids)))
    for tc in config.teams:
        team_id = teams[tc.code].id
        assert team_id is not None
        for code in tc.categories:
            category_id = categories[code].id
            assert category_id is not None
            session.add(TeamCategory(team_id=team_id, category_id=category_id))
        for code in tc.zones:
            zone_id = zones[code].id
            assert zone_id is not None
            session.add(TeamZone(team_id=team_id, zone_id=zone_id))
    await session.flush()
