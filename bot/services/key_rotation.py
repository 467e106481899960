"""``lianka keys rotate``: what an older data key sealed, sealed again under the current one.

Run with the new key in ``LIANKA_DATA_KEY`` and the old one in ``LIANKA_OLD_DATA_KEYS`` (the bot
restarted with the same, so it seals with the new key and still opens the old values). Values
are re-sealed batch by batch, each batch in its own short transaction and each row only if it
still holds the value read, so the bot keeps running. When nothing is left under an old key, its
row in ``key_checks`` is removed: from then on the database starts without it, and it may be
dropped from ``LIANKA_OLD_DATA_KEYS``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from bot.db import SessionFactory
from bot.keys import DATA, forget_data_key
from models import keys
from models.account import ConsoleAccount, totp_context
from models.case import Case, reporter_context
from models.fsm import FsmRecord
from models.intake import DRAFT_SEALED, SEALED_REFS, draft_context, ref_context
from models.keycheck import KeyCheck
from models.reporter import ReporterContact, contact_context
from models.web_draft import KEPT_RECEIPT, WebDraft

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True)
class SealedColumn:
    """A column holding sealed text, its row's key column and the context it is bound to."""

    label: str
    table: sa.Table
    key: str
    column: str
    context: Callable[[Any], str]


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


COLUMNS = (
    SealedColumn(
        "reporter_contacts.name",
        _table(ReporterContact),
        "case_id",
        "name",
        lambda case_id: contact_context("name", case_id),
    ),
    SealedColumn(
        "reporter_contacts.phone",
        _table(ReporterContact),
        "case_id",
        "phone",
        lambda case_id: contact_context("phone", case_id),
    ),
    SealedColumn("cases.reporter_ref", _table(Case), "id", "reporter_ref", reporter_context),
    SealedColumn(
        "console_accounts.totp_secret", _table(ConsoleAccount), "id", "totp_secret", totp_context
    ),
)
DRAFTS = (
    ("web_drafts", _table(WebDraft), "session_key"),
    ("fsm_records", _table(FsmRecord), "key"),
)


@dataclass(slots=True)
class Rotation:
    """What a rotation found (``dry_run``) or re-sealed, per place; the old keys it retired."""

    data_key_id: str
    old_key_ids: tuple[str, ...]
    resealed: dict[str, int] = field(default_factory=dict)
    left: int = 0
    forgotten: tuple[str, ...] = ()
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.resealed.values())


def _old_prefixes(ring: keys.Keyring) -> list[str]:
    return [
        f"{keys.SEALED_PREFIX}:{kid}:%"
        for kid in sorted(ring.data_key_ids)
        if kid != ring.data_key_id
    ]


def _stale(column: sa.ColumnElement[Any], prefixes: list[str]) -> sa.ColumnElement[bool]:
    return sa.or_(*(column.like(prefix) for prefix in prefixes))


def _count_column(connection: Connection, spec: SealedColumn, prefixes: list[str]) -> int:
    value = spec.table.c[spec.column]
    query = sa.select(sa.func.count()).select_from(spec.table).where(_stale(value, prefixes))
    return int(connection.execute(query).scalar_one())


def _reseal_column_batch(
    connection: Connection, ring: keys.Keyring, spec: SealedColumn, batch: int, prefixes: list[str]
) -> int:
    """One batch of a column's values under an old key, sealed again; how many were."""
    key, value = spec.table.c[spec.key], spec.table.c[spec.column]
    rows = connection.execute(
        sa.select(key, value).where(_stale(value, prefixes)).order_by(key).limit(batch)
    ).all()
    done = 0
    for row_key, sealed in rows:
        context = spec.context(row_key)
        fresh = ring.seal(ring.open(sealed, context=context), context=context)
        result = connection.execute(
            sa.update(spec.table)
            .where(key == row_key, value == sealed)
            .values({spec.column: fresh})
        )
        done += result.rowcount
    return done if rows else -1


def _resealed_draft(data: Any, ring: keys.Keyring) -> dict[str, Any] | None:
    """A stored draft or conversation state with what an old key sealed in it sealed again: a
    draft's contacts and a submitted web draft's kept receipt code (bound to the draft), and the
    case a reporter's step waits on (``seal_ref``);
    None when nothing in it is under an old key."""
    if not isinstance(data, dict):
        return None
    contexts = {name: ref_context(name) for name in SEALED_REFS}
    if "draft_id" in data:
        draft_id = str(data["draft_id"])
        contexts |= {name: draft_context(name, draft_id) for name in (*DRAFT_SEALED, KEPT_RECEIPT)}
    stale = [
        name
        for name in contexts
        if keys.is_sealed(data.get(name)) and ring.needs_reseal(data[name])
    ]
    if not stale:
        return None
    fresh = dict(data)
    for name in stale:
        context = contexts[name]
        try:
            fresh[name] = ring.seal(ring.open(data[name], context=context), context=context)
        except keys.SealBroken:
            fresh[name] = None  # a contact asked for again; a step out of date
    return fresh


def _drafts_batch(
    connection: Connection,
    ring: keys.Keyring,
    table: sa.Table,
    key_name: str,
    *,
    after: Any,
    batch: int,
    write: bool,
) -> tuple[int, Any]:
    """One batch of stored drafts (keyset-paged after ``after``): how many held an old key's
    seal (re-sealed unless only counting), and the last key read (None at the end)."""
    key = table.c[key_name]
    query = sa.select(key, table.c.data).order_by(key).limit(batch)
    rows = connection.execute(query if after is None else query.where(key > after)).all()
    found = 0
    for row_key, data in rows:
        fresh = _resealed_draft(data, ring)
        if fresh is None:
            continue
        found += 1
        if write:
            connection.execute(sa.update(table).where(key == row_key).values(data=fresh))
    return found, (rows[-1][0] if rows else None)


async def _run(sessions: SessionFactory, work: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """``work(connection, *args, **kw)`` in one short transaction of its own."""
    async with sessions() as session:
        connection = await session.connection()
        result = await connection.run_sync(work, *args, **kw)
        await session.commit()
        return result


async def _drafts(
    sessions: SessionFactory, ring: keys.Keyring, batch: int, *, write: bool
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for label, table, key_name in DRAFTS:
        after, total = None, 0
        while True:
            found, after = await _run(
                sessions,
                _drafts_batch,
                ring,
                table,
                key_name,
                after=after,
                batch=batch,
                write=write,
            )
            total += found
            if after is None:
                break
        counts[label] = total
    return counts


async def _left(sessions: SessionFactory, ring: keys.Keyring, prefixes: list[str]) -> int:
    left = 0
    for spec in COLUMNS:
        left += await _run(sessions, _count_column, spec, prefixes)
    drafts = await _drafts(sessions, ring, BATCH, write=False)
    return left + sum(drafts.values())


def _known_old_keys(connection: Connection, current: str) -> tuple[str, ...]:
    checks = _table(KeyCheck)
    rows = connection.execute(sa.select(checks.c.key_id).where(checks.c.purpose == DATA)).all()
    return tuple(sorted(str(kid) for (kid,) in rows if kid != current))


async def rotate_data_key(
    sessions: SessionFactory, *, batch: int = BATCH, dry_run: bool = False
) -> Rotation:
    """Every value sealed with an old data key sealed again under the current one (or, with
    ``dry_run``, only counted); old keys left with nothing sealed are forgotten."""
    ring = keys.current()
    prefixes = _old_prefixes(ring)
    recorded: tuple[str, ...] = await _run(sessions, _known_old_keys, ring.data_key_id)
    old = tuple(sorted(set(recorded) | {p.split(":")[1] for p in prefixes}))
    rotation = Rotation(ring.data_key_id, old, dry_run=dry_run)
    if not prefixes:
        prefixes = ["v1:-none-:%"]  # no old key loaded: nothing can be stale
    for spec in COLUMNS:
        if dry_run:
            count = await _run(sessions, _count_column, spec, prefixes)
        else:
            count = 0
            while (
                done := await _run(sessions, _reseal_column_batch, ring, spec, batch, prefixes)
            ) >= 0:
                count += done
        rotation.resealed[spec.label] = count
    rotation.resealed.update(await _drafts(sessions, ring, batch, write=not dry_run))
    if dry_run:
        rotation.left = rotation.total
        return rotation
    rotation.left = await _left(sessions, ring, prefixes)
    if rotation.left == 0 and recorded:

        def forget(connection: Connection) -> None:
            for kid in recorded:
                forget_data_key(connection, kid)

        await _run(sessions, forget)
        rotation.forgotten = recorded
    logger.info("data key rotation: %s values re-sealed, %s left", rotation.total, rotation.left)
    return rotation
