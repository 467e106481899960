"""Loading the configuration into the database: zones, categories, teams and what they cover."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import col, select

from bot.config import LiankaConfig, parse_config
from bot.db import SessionFactory
from bot.services.catalog import sync_catalog
from models.org import Category, Track, Zone
from models.team import AssignmentMode, Team, TeamCategory, TeamZone
from tests.conftest import ROOT


async def test_the_example_config_becomes_zones_categories_and_teams(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    async with sessions() as session:
        changes = await sync_catalog(session, config)
    assert len(changes.added["zones"]) == 5
    async with sessions() as session:
        categories = (await session.exec(select(Category).order_by(col(Category.sort_order)))).all()
        teams = {t.code: t for t in (await session.exec(select(Team))).all()}
        covers = (await session.exec(select(TeamCategory))).all()
        zones = (await session.exec(select(TeamZone))).all()
    assert [c.name for c in categories][:3] == ["营商环境", "重点项目建设", "国资国企腐败"]
    assert categories[2].track is Track.CLUE
    assert teams["dispatch"].is_dispatcher
    assert teams["soe"].assignment is AssignmentMode.LEADER
    business = teams["business_env"].id
    assert len([c for c in covers if c.team_id == business]) == 2
    assert len([z for z in zones if z.team_id == business]) == 5


async def test_syncing_again_changes_nothing(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    async with sessions() as session:
        await sync_catalog(session, config)
    async with sessions() as session:
        changes = await sync_catalog(session, config)
    assert changes.empty


async def test_a_zone_removed_from_the_config_is_retired_not_deleted(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    async with sessions() as session:
        await sync_catalog(session, config)
    text = (ROOT / "lianka.example.toml").read_text(encoding="utf-8")
    start = text.index('[[zones]]\ncode = "ximei"')
    end = text.index("[[zones]]", start + 5)
    text = (text[:start] + text[end:]).replace('"ximei", ', "")
    smaller = parse_config(text, Path("x.toml"))
    async with sessions() as session:
        changes = await sync_catalog(session, smaller)
    assert changes.retired == {"zones": ["ximei"]}
    async with sessions() as session:
        ximei = (await session.exec(select(Zone).where(Zone.code == "ximei"))).one()
    assert ximei.active is False


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_instances_starting_together_sync_the_catalog_in_turn_without_a_clash(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    """Every instance syncs at start-up and each rewrites the teams' coverage: started together
    on one PostgreSQL database, none fails on a row another has just written."""
    async with sessions() as session:
        await sync_catalog(session, config)

    async def start() -> None:
        async with sessions() as session:
            await sync_catalog(session, config)

    await asyncio.gather(*(start() for _ in range(4)))
    async with sessions() as session:
        covers = (await session.exec(select(TeamCategory))).all()
    assert len(covers) == sum(len(team.categories) for team in config.teams)


async def test_a_team_given_another_category_has_its_coverage_updated_and_reported(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    async with sessions() as session:
        await sync_catalog(session, config)
    business = next(t for t in config.teams if t.code == "business_env")
    dropped = business.categories[-1]
    teams = [
        t.model_copy(update={"categories": t.categories[:-1]}) if t.code == "business_env" else t
        for t in config.teams
    ]
    async with sessions() as session:
        changes = await sync_catalog(session, config.model_copy(update={"teams": teams}))
    assert changes.updated == {"coverage": ["business_env"]}
    async with sessions() as session:
        team = (await session.exec(select(Team).where(Team.code == "business_env"))).one()
        covered = (
            await session.exec(
                select(Category.code)
                .join(TeamCategory, col(TeamCategory.category_id) == col(Category.id))
                .where(TeamCategory.team_id == team.id)
            )
        ).all()
    assert sorted(covered) == sorted(business.categories[:-1])
    assert dropped not in covered


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_restart_with_the_same_config_rewrites_no_coverage_row(
    sessions: SessionFactory, config: LiankaConfig
) -> None:
    """Each start-up syncs; with nothing changed it writes nothing (PostgreSQL's xmin of every
    coverage row stays what the first sync wrote)."""
    query = text(
        "SELECT xmin::text FROM team_categories UNION ALL SELECT xmin::text FROM team_zones"
    )
    async with sessions() as session:
        await sync_catalog(session, config)
    async with sessions() as session:
        before = sorted((await (await session.connection()).execute(query)).scalars().all())
        assert (await sync_catalog(session, config)).empty
    async with sessions() as session:
        after = sorted((await (await session.connection()).execute(query)).scalars().all())
    assert before and after == before
