"""Keeping the database's zones, categories and teams in step with the configuration file."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import col, select
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
    await _sync_coverage(session, config, changes, teams=teams, categories=categories, zones=zones)
    await session.commit()
    return changes


async def _sync_coverage(
    session: AsyncSession,
    config: LiankaConfig,
    changes: CatalogChanges,
    *,
    teams: dict[str, Team],
    categories: dict[str, Category],
    zones: dict[str, Zone],
) -> None:
    """Make the categories and zones each configured team covers match the config, writing only
    what differs: a restart with the same configuration writes nothing (no rows rewritten, no
    lock held on them while the other instances start)."""
    team_ids = {tc.code: teams[tc.code].id for tc in config.teams}
    rows = (
        await session.exec(
            select(TeamCategory).where(col(TeamCategory.team_id).in_(team_ids.values()))
        )
    ).all()
    spans = (
        await session.exec(select(TeamZone).where(col(TeamZone.team_id).in_(team_ids.values())))
    ).all()
    have: dict[tuple[int | None, str, int | None], TeamCategory | TeamZone] = {
        (r.team_id, "c", r.category_id): r for r in rows
    }
    have |= {(r.team_id, "z", r.zone_id): r for r in spans}
    want: dict[tuple[int | None, str, int | None], str] = {}
    for tc in config.teams:
        team_id = team_ids[tc.code]
        for code in tc.categories:
            want[(team_id, "c", categories[code].id)] = tc.code
        for code in tc.zones:
            want[(team_id, "z", zones[code].id)] = tc.code
    by_id = {team_id: code for code, team_id in team_ids.items()}
    touched: set[str] = set()
    for key, row in have.items():
        if key not in want:
            await session.delete(row)
            touched.add(by_id[key[0]])
    for key, code in want.items():
        if key in have:
            continue
        team_id, kind, other = key
        assert team_id is not None and other is not None
        if kind == "c":
            session.add(TeamCategory(team_id=team_id, category_id=other))
        else:
            session.add(TeamZone(team_id=team_id, zone_id=other))
        touched.add(code)
    for tc in config.teams:
        if tc.code in touched and tc.code not in changes.added.get("teams", []):
            changes.note(changes.updated, "coverage", tc.code)
    await session.flush()
