"""Card scans from the web, written behind: a landing page counts its scan in memory
(``ScanBuffer.record``) and the buffer writes the scans in hand every second (at once when
``FLUSH_AT`` are waiting, and when the process stops) in one transaction (``record_card_scans``).

What this costs: a crash of the process (not a graceful stop, which writes what is in hand) loses
the scans of at most the last second, or of the time the database was away. Each instance keeps a
buffer of its own; the counter is raised by ``+= n``, so several instances add up correctly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import SessionFactory
from models.card import Card, CardScan
from models.types import UTCDateTime

logger = logging.getLogger(__name__)

FLUSH_EVERY = 1.0
"""Seconds between two writes of the scans in hand."""
FLUSH_AT = 500
"""Scans in hand that start a write at once, before the second is up."""
KEEP_AT_MOST = 100_000
"""Scans kept in memory while the database does not answer; later ones are dropped (counted and
logged), so an outage cannot grow the process without bound."""
LOG_FAILURES_EVERY = 60
"""While writes keep failing, one log line per this many failed writes (and the first)."""


@dataclass(frozen=True, slots=True)
class Scan:
    """One opening of a card's link in a browser, not yet written."""

    card_id: int
    at: datetime


async def record_card_scans(session: AsyncSession, scans: Sequence[Scan]) -> None:
    """Scans counted as the bot counts them, many at once: each card's counter raised by its
    scans (``+= n``, right beside other instances), its last scan moved to the latest of them
    (never back), and a ``CardScan`` per scan with no reporter; one transaction."""
    if not scans:
        return
    per_card: dict[int, tuple[int, datetime]] = {}
    for scan in scans:
        count, latest = per_card.get(scan.card_id, (0, scan.at))
        per_card[scan.card_id] = (count + 1, max(latest, scan.at))
    cards: sa.Table = Card.__table__  # type: ignore[attr-defined]
    rows: sa.Table = CardScan.__table__  # type: ignore[attr-defined]
    latest_at = sa.bindparam("latest", type_=UTCDateTime())
    raise_counter = (
        sa.update(cards)
        .where(cards.c.id == sa.bindparam("card", type_=sa.Integer()))
        .values(
            scan_count=cards.c.scan_count + sa.bindparam("n", type_=sa.Integer()),
            last_scan_at=sa.case(
                (
                    sa.or_(cards.c.last_scan_at.is_(None), cards.c.last_scan_at < latest_at),
                    latest_at,
                ),
                else_=cards.c.last_scan_at,
            ),
        )
    )
    connection = await session.connection()
    # Cards in the order of their ids, so two instances writing at once never wait on each other
    # in a circle.
    await connection.execute(
        raise_counter,
        [
            {"card": card_id, "n": count, "latest": latest}
            for card_id, (count, latest) in sorted(per_card.items())
        ],
    )
    await connection.execute(
        sa.insert(rows),
        [{"card_id": s.card_id, "reporter_id": None, "scanned_at": s.at} for s in scans],
    )
    await session.commit()


class ScanBuffer:
    """The web scans of this process not yet written. ``record`` is all a page does; ``start``
    writes them every ``every`` seconds (and as soon as ``batch`` are waiting), ``close`` stops
    that and writes what is left. A write that fails (the database away) keeps its scans for the
    next one; beyond ``cap`` scans in hand, new ones are dropped and the count is logged."""

    def __init__(
        self,
        sessions: SessionFactory,
        *,
        every: float = FLUSH_EVERY,
        batch: int = FLUSH_AT,
        cap: int = KEEP_AT_MOST,
    ) -> None:
        self._sessions = sessions
        self._every = every
        self._batch = batch
        self._cap = cap
        self._pending: list[Scan] = []
        self._dropped = 0
        self._failures = 0
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Scans counted here and not written yet."""
        return len(self._pending)

    @property
    def dropped(self) -> int:
        """Scans dropped since the last successful write (the buffer was full)."""
        return self._dropped

    def record(self, card_id: int, at: datetime) -> None:
        """One scan of a card, to be written with the others of its second."""
        if len(self._pending) >= self._cap:
            self._dropped += 1
            return
        self._pending.append(Scan(card_id, at))
        if len(self._pending) >= self._batch:
            self._wake.set()

    async def flush(self) -> int:
        """Write every scan in hand in one transaction; how many were written. A failed write
        puts them back (up to the cap) for the next."""
        async with self._lock:
            if not self._pending:
                return 0
            scans, self._pending = self._pending, []
            try:
                async with self._sessions() as session:
                    await record_card_scans(session, scans)
            except BaseException as error:
                self._put_back(scans)
                if not isinstance(error, Exception):
                    raise  # cancelled: the scans are back in hand for whoever writes next
                self._failures += 1
                if self._failures % LOG_FAILURES_EVERY == 1:
                    logger.warning(
                        "card scans not written (%s), kept for the next write: %s waiting, "
                        "%s dropped since the last write, %s failed writes in a row",
                        type(error).__name__,
                        len(self._pending),
                        self._dropped,
                        self._failures,
                    )
                return 0
            if self._failures or self._dropped:
                logger.warning(
                    "card scans written again after %s failed writes; %s scans were dropped "
                    "meanwhile (more than %s waiting)",
                    self._failures,
                    self._dropped,
                    self._cap,
                )
                self._failures = self._dropped = 0
            return len(scans)

    def _put_back(self, scans: list[Scan]) -> None:
        kept = scans + self._pending
        if len(kept) > self._cap:
            self._dropped += len(kept) - self._cap
            kept = kept[: self._cap]
        self._pending = kept

    def start(self) -> None:
        """Write the scans in hand every second from now on (in this event loop)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="card-scan-writer")

    async def _run(self) -> None:
        while not self._stopping:
            try:
                async with asyncio.timeout(self._every):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            await self.flush()

    async def close(self) -> None:
        """Stop writing every second and write what is left (a stopping process)."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()
        if self._pending or self._dropped:
            logger.warning(
                "stopping with card scans not written: %s lost, %s dropped before",
                len(self._pending),
                self._dropped,
            )
