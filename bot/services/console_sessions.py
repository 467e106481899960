"""Console sessions once signed in: who a request acts as, signing out, the one-time notice
after a form, and the hourly purge of sessions past their expiry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.accounts import log_access
from models.account import (
    SESSION_ABSOLUTE,
    SESSION_IDLE,
    AccessEvent,
    AccessKind,
    ConsoleAccount,
    ConsoleSession,
)
from models.team import Inspector, Team


@dataclass(frozen=True, slots=True)
class Staff:
    """Who a console request acts as: the account and its person, read on this request."""

    account: ConsoleAccount
    person: Inspector
    session: ConsoleSession
    team: Team | None = None

    @property
    def dispatcher(self) -> bool:
        """A person of the 信访室 (the dispatcher team)."""
        return self.team is not None and self.team.is_dispatcher

    @property
    def role_label(self) -> str:
        """What the frame calls this person's role: 信访室 for the dispatcher's people."""
        return "信访室" if self.dispatcher else self.person.role.label


async def current_staff(
    session: AsyncSession, key: str, *, now: datetime, client: str | None
) -> Staff | None:
    """The signed-in person of a session, or None (expired, ended, unverified, disabled or
    deactivated — an expired session is removed and logged). Seen now: the idle clock restarts."""
    row = await session.get(ConsoleSession, key)
    if row is None or not row.verified:
        return None
    account = await session.get(ConsoleAccount, row.account_id)
    person = await session.get(Inspector, account.inspector_id) if account else None
    if account is None or person is None:
        return None
    if row.expired(now) or account.disabled_at is not None or not person.active:
        await session.delete(row)
        if row.expired(now):
            await log_access(session, AccessKind.EXPIRED, now, account=account, client=client)
        await session.commit()
        return None
    row.last_seen_at = now
    team = await session.get(Team, person.team_id) if person.team_id is not None else None
    await session.commit()
    return Staff(account, person, row, team)


async def sign_out(session: AsyncSession, key: str, *, now: datetime, client: str | None) -> None:
    """The session ends on the server; the cookie alone opens nothing afterwards."""
    row = await session.get(ConsoleSession, key)
    if row is None:
        return
    account = await session.get(ConsoleAccount, row.account_id)
    await session.delete(row)
    await log_access(session, AccessKind.SIGNED_OUT, now, account=account, client=client)
    await session.commit()


async def take_notice(session: AsyncSession, key: str) -> str | None:
    """The one-time message left for this session's next page (e.g. 已签收。)."""
    row = await session.get(ConsoleSession, key)
    if row is None or row.notice is None:
        return None
    notice, row.notice = row.notice, None
    await session.commit()
    return notice


async def leave_notice(session: AsyncSession, key: str, notice: str) -> None:
    row = await session.get(ConsoleSession, key)
    if row is not None:
        row.notice = notice[:200]
        await session.commit()


async def purge_sessions(session: AsyncSession, now: datetime) -> int:
    """Sessions idle for 30 minutes or 12 hours old are deleted (the middleware also refuses
    them when next seen)."""
    result = await session.exec(
        delete(ConsoleSession).where(
            (col(ConsoleSession.last_seen_at) < now - SESSION_IDLE)
            | (col(ConsoleSession.created_at) < now - SESSION_ABSOLUTE)
        )
    )
    await session.commit()
    return int(result.rowcount or 0)


async def list_my_access(
    session: AsyncSession, account_id: int, limit: int = 20
) -> list[AccessEvent]:
    """The latest lines of one account's sign-in log (its own page shows them)."""
    rows = await session.exec(
        select(AccessEvent)
        .where(AccessEvent.account_id == account_id)
        .order_by(col(AccessEvent.id).desc())
        .limit(limit)
    )
    return list(rows.all())
