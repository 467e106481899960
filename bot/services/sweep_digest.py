"""The deadline sweep's digests: one message per busy person instead of many notices.

A person with ``DIGEST_THRESHOLD`` or more deadline notices in one sweep (a process catching up
after a day down) is *held* (``bot.services.sweep``). Their notices are still written, each once
under its key, but as already folded (``DIGESTED``, never sent alone), and in the same
transaction their digest — a notice like any other (``deadline_digest``: the folded notices'
digest lines, plain values made when they were planned) — is written or brought up to date. So
a notice is folded exactly when its digest holds it, whatever fails afterwards.

While the sweep runs, its digests wait (``next_attempt_at`` at the end of the hold) so that a
sender does not take one before the sweep's last batch adds to it; the sweep releases them when
it is done (``release``), and a sweep that dies leaves them to go out when the hold ends. A
digest a sender took meanwhile (a sweep that outlasted the hold) is left as sent: the person's
later notices start a new digest, so each folded notice is in exactly one digest.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

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
    """What one transaction did to the digests, kept once it commits (``Digests.settle``)."""

    digests: dict[Recipient, Digest] = field(default_factory=dict)
    folded: dict[Recipient, int] = field(default_factory=dict)


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

    def folded_row(self, values: dict[str, Any]) -> dict[str, Any]:
        """A held person's notice as it is written (``values`` made by ``queued`` at the
        sweep's time): already folded, never sent alone."""
        values["status"] = NotificationStatus.DIGESTED
        return values

    async def fold(
        self, session: AsyncSession, written: list[tuple[Recipient, int, dict[str, str]]]
    ) -> Staged:
        """In the caller's transaction: add the notices just written (person, row id, digest
        line) to their people's digests — the digest still waiting brought up to date, or a new
        one. The caller settles the result once its transaction commits."""
        staged = Staged()
        added: dict[Recipient, list[tuple[int, dict[str, str]]]] = {}
        for recipient, row_id, line in written:
            added.setdefault(recipient, []).append((row_id, line))
        if not added:
            return staged
        waiting = await self._still_waiting(session, [d.row_id for d in self.current.values()])
        updates: list[dict[str, Any]] = []
        fresh: dict[str, tuple[Recipient, list[dict[str, str]]]] = {}
        for recipient in sorted(added, key=lambda r: (r.kind.value, r.id)):
            new = [line for _, line in sorted(added[recipient], key=lambda item: item[0])]
            staged.folded[recipient] = len(new)
            digest = self.current.get(recipient)
            if digest is not None and digest.row_id in waiting:
                lines = digest.lines + new
                notice = says(lines)
                if len(digest.lines) <= DIGEST_LINES:  # past it, only the counts change: its shape
                    check(notice, self.checked)  # (``notifications.outbox.shape``) is checked
                updates.append({"id": digest.row_id, "params": dict(notice.params)})
                staged.digests[recipient] = Digest(digest.row_id, lines)
                continue
            first = min(row_id for row_id, _ in added[recipient])
            key = notification_key("deadline_digest", stage=str(first), recipient=recipient.tag)
            fresh[key] = (recipient, new)
        await update_rows(await session.connection(), _table(), updates)
        rows = []
        for key, (recipient, lines) in fresh.items():
            notice = says(lines)
            values = queued(
                key=key, kind="deadline_digest", to=recipient, notice=notice, now=self.hold_until
            )
            rows.append(ready(values | {"created_at": utc(self.now)}, notice, self.checked))
        for key, row_id in (await enqueue_many(session, rows)).items():
            recipient, lines = fresh[key]
            staged.digests[recipient] = Digest(row_id, lines)
        return staged

    async def _still_waiting(self, session: AsyncSession, row_ids: list[int]) -> set[int]:
        """Of these digests, the ones no sender has taken, locked until the commit (on SQLite
        the transaction holds the write lock already)."""
        if not row_ids:
            return set()
        table = _table()
        query = sa.select(table.c.id).where(
            table.c.id.in_(row_ids), table.c.status == NotificationStatus.PENDING
        )
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            query = query.with_for_update()
        return {int(row[0]) for row in (await connection.execute(query)).all()}

    def settle(self, staged: Staged) -> None:
        """The transaction committed: its digests are the people's current ones."""
        self.current.update(staged.digests)
        for recipient, count in staged.folded.items():
            self.folded[recipient] = self.folded.get(recipient, 0) + count

    async def release(self, session: AsyncSession) -> None:
        """The sweep is done: its digests still waiting are sent now."""
        if not self.current:
            return
        table = _table()
        connection = await session.connection()
        await connection.execute(
            sa.update(table)
            .where(
                table.c.id.in_([d.row_id for d in self.current.values()]),
                table.c.status == NotificationStatus.PENDING,
            )
            .values(next_attempt_at=utc(self.now))
        )
        session.sync_session.info[QUEUED] = True  # wake this process's senders at the commit
