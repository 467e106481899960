"""The deadline sweep's digests: one message per busy person instead of many notices.

A person with ``DIGEST_THRESHOLD`` or more deadline notices in one sweep (a process catching up
after a day down), or with a digest already in the job's run of sweeps (``Digests`` shared by
them, ``bot.scheduler``), is *held* (``bot.services.sweep``). Their notices are still written,
each once under its key, but as already folded (``DIGESTED``, never sent alone), and in the same
transaction a *part* — a digest of that batch's notices for the person (``deadline_digest``: the
folded notices' digest lines, plain values made when they were planned), a notice like any
other — is written beside them (``fold``). So a notice is folded exactly when a digest holds
it, whatever fails afterwards, and a batch shares nothing with the batches written alongside.

Once the batch has committed and the batch before it is done, the parts are *merged*, in a
small transaction of their own (``merge``): a person's part is added to the digest the sweep
gave them before (its lines appended) and deleted, both or neither; a person with no digest
yet, or whose digest a sender took meanwhile, keeps the part as their digest. So the person
gets one digest for the sweep, and each folded notice is in exactly one message. A process that
dies between a batch and its merge leaves the part to go out on its own: more than one digest
that day, never a notice twice or none.

While the sweep runs, its digests and parts wait (``next_attempt_at`` at the end of the hold)
so that a sender does not take one before the sweep adds to it; the sweep releases them when it
is done (``release``), and a sweep that dies leaves them to go out when the hold ends. A digest
or part a sender took meanwhile (a sweep that outlasted the hold) is left as sent: the person's
later parts start a new digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.base import Executable
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import SessionFactory
from bot.services.sweep_plan import ClockPlan
from models import notification
from models.bulk import update_rows
from models.notification import JSON, Notification, NotificationStatus, Recipient
from models.types import utc
from notifications.outbox import QUEUED, check, enqueue_many, notification_key, queued, ready

DIGEST_LINES = 30
"""Lines a digest lists; it counts the others (``more``)."""


def _table() -> sa.Table:
    table: sa.Table = Notification.__table__  # type: ignore[attr-defined]
    return table


@dataclass(slots=True)
class Digest:
    """One person's digest in this sweep: its row and the lines folded into it so far."""

    row_id: int
    lines: list[dict[str, str]]


@dataclass(slots=True)
class Staged:
    """What one transaction did to the digests: the parts it wrote (merged once it commits,
    ``Digests.merge``) and how many notices it folded for each person."""

    parts: dict[Recipient, Digest] = field(default_factory=dict)
    folded: dict[Recipient, int] = field(default_factory=dict)


def busy(plans: Iterable[ClockPlan], threshold: int) -> set[Recipient]:
    """The people with ``threshold`` or more deadline notices in ``plans``: held, their
    notices folded into a digest."""
    counts = Counter(n.recipient for p in plans for n in p.notices if n.digest_line is not None)
    return {r for r, count in counts.items() if count >= threshold}


def says(lines: list[dict[str, str]]) -> notification.Notice:
    """A digest's notice: how many, the first ``DIGEST_LINES`` lines, how many more."""
    items: list[JSON] = [dict(line) for line in lines[:DIGEST_LINES]]  # plain text already
    more = max(0, len(lines) - DIGEST_LINES)
    return notification.Notice(
        "deadline_digest", {"total": len(lines), "items": items, "more": more}
    )


@dataclass(slots=True)
class Digests:
    """The digests of one sweep: which person's is which row, and how many notices each
    person's digests hold."""

    now: datetime
    hold_until: datetime
    checked: set[Hashable]
    current: dict[Recipient, Digest] = field(default_factory=dict)
    folded: dict[Recipient, int] = field(default_factory=dict)
    stranded: list[int] = field(default_factory=list)  # held rows no longer ``current``

    @classmethod
    def held_from(cls, now: datetime, hold: timedelta) -> Digests:
        """The digests of a sweep, or of a run of sweeps, begun at ``now``: waiting until
        ``now + hold`` unless released first."""
        return cls(now=utc(now), hold_until=utc(now + hold), checked=set())

    def folded_row(self, values: dict[str, Any]) -> dict[str, Any]:
        """A held person's notice as it is written (``values`` made by ``queued`` at the
        sweep's time): already folded, never sent alone."""
        values["status"] = NotificationStatus.DIGESTED
        return values

    async def fold(
        self, session: AsyncSession, written: list[tuple[Recipient, int, dict[str, str]]]
    ) -> Staged:
        """In the caller's transaction: the notices just written (person, row id, digest line)
        in a part for each person, a digest of its own, waiting until the hold ends. Reads
        nothing another batch writes. The caller merges the result once it commits."""
        staged = Staged()
        added: dict[Recipient, list[tuple[int, dict[str, str]]]] = {}
        for recipient, row_id, line in written:
            added.setdefault(recipient, []).append((row_id, line))
        fresh: dict[str, tuple[Recipient, list[dict[str, str]]]] = {}
        for recipient in sorted(added, key=lambda r: (r.kind.value, r.id)):
            new = [line for _, line in sorted(added[recipient], key=lambda item: item[0])]
            staged.folded[recipient] = len(new)
            first = min(row_id for row_id, _ in added[recipient])
            key = notification_key("deadline_digest", stage=str(first), recipient=recipient.tag)
            fresh[key] = (recipient, new)
        rows = []
        for key, (recipient, lines) in fresh.items():
            notice = says(lines)
            values = queued(
                key=key, kind="deadline_digest", to=recipient, notice=notice, now=self.hold_until
            )
            rows.append(ready(values | {"created_at": utc(self.now)}, notice, self.checked))
        for key, row_id in (await enqueue_many(session, rows)).items():
            recipient, lines = fresh[key]
            staged.parts[recipient] = Digest(row_id, lines)
        return staged

    def settle(self, staged: Staged) -> None:
        """The transaction that folded ``staged`` committed: its notices are counted."""
        for recipient, count in staged.folded.items():
            self.folded[recipient] = self.folded.get(recipient, 0) + count

    async def merge(self, session: AsyncSession, staged: Staged) -> dict[Recipient, Digest]:
        """In a transaction of its own, after the one that wrote ``staged`` committed: each
        person's part added to their digest still waiting (its lines appended, the part
        deleted) or, with none, kept as their digest; a part a sender took meanwhile is left
        as sent. Returns the people's digests to keep once it commits (``merged``)."""
        if not staged.parts:
            return {}
        parts = sorted(staged.parts.items(), key=lambda item: (item[0].kind.value, item[0].id))
        holding = {part.row_id: len(part.lines) for _, part in parts}
        holding |= {d.row_id: len(d.lines) for r, d in self.current.items() if r in staged.parts}
        waiting = await self._still_waiting(session, holding)
        updates: list[dict[str, Any]] = []
        merged: dict[Recipient, Digest] = {}
        gone: list[int] = []
        for recipient, part in parts:
            if part.row_id not in waiting:
                continue  # sent on its own: the person's digest stays as it is
            digest = self.current.get(recipient)
            if digest is None or digest.row_id not in waiting:
                if digest is not None:  # released with the rest (if still held) when done
                    self.stranded.append(digest.row_id)
                merged[recipient] = part
                continue
            lines = digest.lines + part.lines
            notice = says(lines)
            if len(digest.lines) <= DIGEST_LINES:  # past it, only the counts change: its shape
                check(notice, self.checked)  # (``notifications.outbox.shape``) is checked
            updates.append({"id": digest.row_id, "params": dict(notice.params)})
            merged[recipient] = Digest(digest.row_id, lines)
            gone.append(part.row_id)
        connection = await session.connection()
        await update_rows(connection, _table(), updates)
        if gone:
            table = _table()
            await connection.execute(sa.delete(table).where(table.c.id.in_(gone)))
        return merged

    def merged(self, digests: dict[Recipient, Digest]) -> None:
        """The merge committed: these are the people's digests now."""
        self.current.update(digests)

    def strand(self, staged: Staged) -> None:
        """The merge of ``staged`` failed: its parts go out on their own, with the sweep's
        digests when it is done (``release``), not after the hold."""
        self.stranded += [part.row_id for part in staged.parts.values()]

    async def _still_waiting(self, session: AsyncSession, holding: dict[int, int]) -> set[int]:
        """Of these digests and parts (row id: the lines this sweep knows each holds), the ones
        a merge may add to, locked until the commit: pending and never tried by a sender (a
        try that failed may still have reached the person: their lines are not sent again),
        holding the lines this sweep knows of (an earlier merge whose commit failed after the
        database had it leaves a digest longer than this sweep knows: rewriting it from what
        the sweep knows would drop that part's lines). PostgreSQL locks them in id order; on
        SQLite an UPDATE of them takes the database's write lock first (a SELECT alone begins
        no transaction there: a sender could take one between this and the merge's writes)."""
        if not holding:
            return set()
        table = _table()
        connection = await session.connection()
        mergeable = (
            table.c.id.in_(sorted(holding)),
            _status(connection.dialect.name) == NotificationStatus.PENDING,
            table.c.attempts == 0,
        )
        query: Executable
        if connection.dialect.name == "postgresql":
            query = (
                sa.select(table.c.id, table.c.params)
                .where(*mergeable)
                .order_by(table.c.id)
                .with_for_update()
            )
        else:
            query = (
                sa.update(table)
                .where(*mergeable)
                .values(status=table.c.status)
                .returning(table.c.id, table.c.params)
            )
        rows = (await connection.execute(query)).all()
        return {
            int(row_id)
            for row_id, params in rows
            if (params or {}).get("total") == holding[int(row_id)]
        }

    async def release(self, session: AsyncSession) -> None:
        """The sweep is done: its digests still waiting, never tried by a sender, are sent now;
        one a sender was told to retry later (Telegram's 429) waits until then."""
        if not self.current and not self.stranded:
            return
        table = _table()
        connection = await session.connection()
        await connection.execute(
            sa.update(table)
            .where(
                table.c.id.in_([d.row_id for d in self.current.values()] + self.stranded),
                _status(connection.dialect.name) == NotificationStatus.PENDING,
                table.c.attempted_at.is_(None),  # not in a sender's hands now
                # nor put off by one: a 429 reschedules a row at Telegram's ``retry_after``
                # without counting an attempt, its error kept (``Sender._reschedule``)
                table.c.last_error.is_(None),
            )
            .values(next_attempt_at=utc(self.now))
        )
        session.sync_session.info[QUEUED] = True  # wake this process's senders at the commit

    async def release_in(self, sessions: SessionFactory) -> None:
        """``release`` in a transaction of its own, if there is anything to release."""
        if not self.current and not self.stranded:
            return
        async with sessions() as session:
            await self.release(session)
            await session.commit()


def _status(dialect: str) -> Any:
    """A notification's status, to test rows found by id: on SQLite as ``+status``, which no
    index serves, so that the rows are looked up by id. Without it SQLite reads
    ``ix_notifications_due`` for the status (it keeps no statistics to know better): every
    pending notification, for a handful of digests, and the outbox of a sweep catching up holds
    thousands."""
    table = _table()
    if dialect == "postgresql":
        return table.c.status
    return sa.literal_column(f"+{table.name}.status", table.c.status.type)
