"""The notices casework sends: to the reporter's chat (and followers) and to inspectors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.case import Case, reporter_of, reporter_status
from models.notification import Notice, Offering, Recipient
from models.reporter import CaseFollower, Reporter
from models.team import Inspector, Team
from notifications.outbox import enqueue, notify_inspectors, reporter_notice_key
from notifications.texts import case_params


async def reporters_of(session: AsyncSession, case: Case) -> list[Reporter]:
    """Whoever follows the case from Telegram: the reporter and anyone with its receipt code."""
    people: dict[int, Reporter] = {}
    reporter_id = reporter_of(case)
    if reporter_id is not None:
        reporter = await session.get(Reporter, reporter_id)
        if reporter is not None and reporter.id is not None:
            people[reporter.id] = reporter
    followers = await session.exec(
        select(Reporter)
        .join(CaseFollower, col(CaseFollower.reporter_id) == col(Reporter.id))
        .where(CaseFollower.case_id == case.id)
        .order_by(col(Reporter.id))
    )
    for follower in followers.all():
        assert follower.id is not None
        people.setdefault(follower.id, follower)
    return list(people.values())


async def tell_reporter(
    session: AsyncSession,
    case: Case,
    kind: str,
    *,
    stage: int,
    now: datetime,
    offer: Offering | None = None,
    **context: Any,
) -> None:
    """A notice to the reporter's chat (never their identity to anyone else); ``context``:
    plain values for the template (``Notice.of``)."""
    assert case.id is not None
    notice = Notice.of(
        kind,
        case=case_params(case),
        status=reporter_status(case),
        **context,
    )
    for reporter in await reporters_of(session, case):
        to = Recipient.reporter(reporter)
        key, case_id = reporter_notice_key(
            kind, case_id=case.id, anonymous=case.anonymous, stage=stage, to=to
        )
        await enqueue(
            session,
            kind=kind,
            to=to,
            case_id=case_id,
            key=key,
            stage=stage,
            notice=notice,
            offer=offer,
            now=now,
        )


async def tell_inspectors(
    session: AsyncSession,
    case: Case,
    people: list[Inspector],
    kind: str,
    *,
    stage: int,
    now: datetime,
    offer: Offering | None = None,
    **context: Any,
) -> None:
    """A notice about a case to each of ``people``; ``context``: plain values for the template."""
    assert case.id is not None
    notice = Notice.of(kind, case=case_params(case), **context)
    await notify_inspectors(
        session, case.id, people, kind=kind, stage=stage, notice=notice, now=now, offer=offer
    )


async def team_name(session: AsyncSession, team_id: int | None) -> str:
    team = await session.get(Team, team_id) if team_id else None
    return team.name if team else "—"
