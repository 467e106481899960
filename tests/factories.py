"""Rows for tests, made the way the use cases make them."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case import Case, CaseStatus
from models.event import SYSTEM, EventKind, record_event
from models.org import Category


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
