"""Rows for tests, made the way the use cases make them."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.card import Card
from models.case import Case, CaseStatus
from models.enterprise import Enterprise
from models.event import SYSTEM, EventKind, record_event
from models.org import Category, Zone
from models.reporter import Reporter, web_reporter
from models.team import Inspector, Role, Team


async def make_case(
    session: AsyncSession,
    now: datetime,
    *,
    number: str = "AJ-2026-00001",
    category_code: str = "business_env",
    description: str = "土地出让金返还迟迟未到位，企业资金链紧张。",
) -> Case:
    """A submitted case in a catalogued category, with its first event, committed."""
    category = (await session.exec(select(Category).where(Category.code == category_code))).one()
    assert category.id is not None
    case = Case(
        number=number,
        track=category.track,
        status=CaseStatus.SUBMITTED,
        category_id=category.id,
        description=description,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    await session.flush()
    session.add(record_event(case, EventKind.SUBMITTED, SYSTEM, now, public=True))
    await session.commit()
    return case


async def make_inspector(
    session: AsyncSession,
    now: datetime,
    *,
    team_code: str | None,
    name: str = "李监督",
    role: Role = Role.INSPECTOR,
    telegram_user_id: int,
    active: bool = True,
) -> Inspector:
    """A registered person bound to a Telegram account (as after opening an invite link)."""
    team_id = None
    if team_code is not None:
        team = (await session.exec(select(Team).where(Team.code == team_code))).one()
        team_id = team.id
    inspector = Inspector(
        name=name,
        role=role,
        team_id=team_id,
        telegram_user_id=telegram_user_id,
        chat_id=telegram_user_id,
        active=active,
        created_at=now,
    )
    session.add(inspector)
    await session.commit()
    return inspector


async def make_reporter(
    session: AsyncSession,
    now: datetime,
    *,
    telegram_user_id: int = 7_000_001,
    zone_code: str | None = "jkq",
    enterprise_name: str = "四川坤天新能源科技有限公司",
    web: bool = False,
) -> Reporter:
    """A reporter who opened a card of an enterprise in ``zone_code``: in Telegram, or on the
    card's web page (``web``: no account, no chat)."""
    zone = None
    if zone_code is not None:
        zone = (await session.exec(select(Zone).where(Zone.code == zone_code))).one()
    enterprise = Enterprise(name=enterprise_name, zone_id=zone.id if zone else None, created_at=now)
    session.add(enterprise)
    await session.flush()
    assert enterprise.id is not None
    card = Card(
        token=f"c_factory{secrets.token_hex(8)}",
        enterprise_id=enterprise.id,
        zone_id=zone.id if zone else None,
        issuing_unit=zone.issuing_unit if zone else "安居区纪委监委",
        scan_count=1,
        last_scan_at=now,
        created_at=now,
    )
    session.add(card)
    await session.flush()
    assert card.id is not None
    if web:
        reporter = web_reporter(
            card_id=card.id,
            enterprise_id=enterprise.id,
            zone_id=zone.id if zone else None,
            now=now,
        )
    else:
        reporter = Reporter(
            telegram_user_id=telegram_user_id,
            chat_id=telegram_user_id,
            card_id=card.id,
            enterprise_id=enterprise.id,
            zone_id=zone.id if zone else None,
            created_at=now,
        )
    session.add(reporter)
    await session.commit()
    return reporter
