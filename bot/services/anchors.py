"""审计锚点 and the sign-in log's chain: what ``lianka audit anchor`` and the daily job write, and
what ``lianka audit verify`` checks beyond each case's own chain.

The anchor file (``<var_dir>/audit-anchors.log``, 0600, opened for appending only) holds one JSON
line per anchor: every case's chain head (number, event count, the last hash's first 16 hex), the
sign-in log's head, the previous line's digest and an HMAC under the audit key over all of it.
The same digest is kept in ``audit_anchors``. A case deleted whole, or a database put back from an
older copy, is behind the file's last line; a line edited or removed breaks the file's chain.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.account import ACCESS_GENESIS, AccessEvent, AccessLike, access_digest
from models.anchor import (
    ACCESS_HEAD,
    ACCESS_HEAD_KEY,
    ANCHOR_GENESIS,
    HEAD_HEX,
    AnchorLine,
    AuditAnchor,
    AuditHead,
    Head,
    make_anchor,
)
from models.calendar import SHANGHAI
from models.case import Case
from models.event import ChainProblem

ANCHOR_FILE = "audit-anchors.log"
ANCHORS = "审计锚点"
ACCESS_LOG = "登录记录"


def anchor_path(var_dir: Path) -> Path:
    return var_dir / ANCHOR_FILE


# --- the sign-in log's chain ---------------------------------------------------------------


async def chain_access(session: AsyncSession, event: AccessEvent) -> AccessEvent:
    """Give a new sign-in log line its place in the chain (``seq``, ``prev_hash``, ``hash``).
    The head's row is updated first, so its lock is held until the caller commits."""
    table = AuditHead.__table__  # type: ignore[attr-defined]
    bump = (
        sa.update(table)
        .where(table.c.name == ACCESS_HEAD)
        .values(count=table.c.count + 1)
        .returning(table.c.count, table.c.hash)
    )
    row = (await session.exec(bump)).first()
    if row is None:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        await session.exec(
            insert.values(name=ACCESS_HEAD, count=0, hash=ACCESS_GENESIS).on_conflict_do_nothing()
        )
        row = (await session.exec(bump)).one()
    event.seq, event.prev_hash = int(row[0]), str(row[1])
    event.hash = access_digest(event)
    await session.exec(sa.update(table).where(table.c.name == ACCESS_HEAD).values(hash=event.hash))
    return event


async def verify_access_log(session: AsyncSession) -> tuple[int, list[ChainProblem]]:
    """The sign-in log's lines must chain from the first to the head: an edited, deleted or
    inserted line breaks a hash, a link, the sequence or the count. Found wrong, the log and its
    head are read again in one statement before it is reported: a sign-in between the two reads
    (the log, then the head) would leave the head one line ahead, a tampering that never was."""
    events: Sequence[AccessLike] = (
        await session.exec(select(AccessEvent).order_by(col(AccessEvent.id)))
    ).all()
    head = await session.get(AuditHead, ACCESS_HEAD)
    problems = _check_access_log(events, (head.count, head.hash) if head else None)
    if problems:
        events, end = await _access_log_at_once(session)
        problems = _check_access_log(events, end)
    return len(events), problems


_HEADS: sa.Table = AuditHead.__table__  # type: ignore[attr-defined]
_ACCESS: sa.Table = AccessEvent.__table__  # type: ignore[attr-defined]
_LOG_AND_HEAD = (
    sa.select(_HEADS.c.count.label("head_count"), _HEADS.c.hash.label("head_hash"), *_ACCESS.c)
    .select_from(_HEADS.outerjoin(_ACCESS, sa.true()))
    .where(_HEADS.c.name == ACCESS_HEAD)
    .order_by(_ACCESS.c.id)
)


async def _access_log_at_once(
    session: AsyncSession,
) -> tuple[Sequence[AccessLike], tuple[int, str] | None]:
    """The log's lines and its head, in one snapshot (with no head yet, the lines alone)."""
    connection = await session.connection()
    rows = (await connection.execute(_LOG_AND_HEAD)).all()
    if not rows:
        lines = (await connection.execute(sa.select(_ACCESS).order_by(_ACCESS.c.id))).all()
        return lines, None
    return [r for r in rows if r.id is not None], (rows[0].head_count, rows[0].head_hash)


def _check_access_log(
    events: Sequence[AccessLike], head: tuple[int, str] | None
) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    expected_prev, expected_seq = ACCESS_GENESIS, 1
    for event in events:
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(
                    ACCESS_LOG,
                    event.seq,
                    f"sequence gap: expected {expected_seq}, found {event.seq}",
                )
            )
        if event.prev_hash != expected_prev:
            problems.append(
                ChainProblem(
                    ACCESS_LOG, event.seq, "link broken: an event before it is missing or changed"
                )
            )
        if access_digest(event) != event.hash:
            problems.append(
                ChainProblem(ACCESS_LOG, event.seq, "content edited: hash does not match")
            )
        expected_prev, expected_seq = event.hash, event.seq + 1
    count, last = head if head is not None else (0, ACCESS_GENESIS)
    if len(events) != count or expected_prev != last:
        problems.append(
            ChainProblem(
                ACCESS_LOG,
                None,
                f"chain end does not match the case: {len(events)} events, case records {count}",
            )
        )
    return problems


# --- anchors --------------------------------------------------------------------------------


async def chain_heads(session: AsyncSession) -> list[Head]:
    """Every case's chain head, and the sign-in log's."""
    rows = (await session.exec(select(Case.number, Case.event_count, Case.last_event_hash))).all()
    heads: list[Head] = [(number, count, last or "") for number, count, last in rows]
    access = await session.get(AuditHead, ACCESS_HEAD)
    if access is not None:
        heads.append((ACCESS_HEAD_KEY, access.count, access.hash))
    return heads


def read_anchor_lines(path: Path) -> list[str] | None:
    """The anchor file's lines, or None when there is no file."""
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None


async def write_anchor(
    session: AsyncSession, path: Path, now: datetime, *, daily: bool = False
) -> AuditAnchor | None:
    """Anchor every chain head now: a line appended to ``path`` (created 0600), then the row.
    ``daily``: only when the file has no anchor of today (Shanghai) yet (the scheduled job)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    day = now.astimezone(SHANGHAI).date().isoformat()
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a+", encoding="utf-8") as file:
        fcntl.flock(file, fcntl.LOCK_EX)  # another process anchoring waits for this line
        file.seek(0)
        lines = [text for text in file.read().splitlines() if text.strip()]
        last = _last_line(lines)
        if daily and last is not None and last.day == day:
            return None
        if last is not None:
            prev = last.digest
        else:
            newest = await _newest_row(session)
            prev = newest.digest if newest is not None else ANCHOR_GENESIS
        line = make_anchor(await chain_heads(session), day=day, at=now, prev=prev)
        file.write(line.to_json() + "\n")
        file.flush()
        os.fsync(file.fileno())
    anchor = AuditAnchor(
        day=line.day,
        at=now,
        cases=line.cases,
        events=line.events,
        prev_digest=line.prev,
        digest=line.digest,
    )
    session.add(anchor)
    await session.commit()
    return anchor


def _last_line(lines: list[str]) -> AnchorLine | None:
    for text in reversed(lines):
        try:
            return AnchorLine.parse(text)
        except (ValueError, KeyError, TypeError):
            continue
    return None


async def _newest_row(session: AsyncSession) -> AuditAnchor | None:
    return (
        await session.exec(select(AuditAnchor).order_by(col(AuditAnchor.id).desc()).limit(1))
    ).first()


async def latest_anchor(session: AsyncSession) -> AuditAnchor | None:
    """The newest anchor the database keeps (for the reports and the console)."""
    return await _newest_row(session)


@dataclass
class AnchorCheck:
    """What the anchor file says and what does not hold against the database."""

    lines: int
    last: AnchorLine | None
    problems: list[ChainProblem]


def check_anchor_file(lines: Iterable[str]) -> tuple[list[AnchorLine], list[ChainProblem]]:
    """Each line's digest recomputes and links to the line before."""
    parsed: list[AnchorLine] = []
    problems: list[ChainProblem] = []
    prev = ANCHOR_GENESIS
    for index, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            line = AnchorLine.parse(text)
        except (ValueError, KeyError, TypeError):
            problems.append(ChainProblem(ANCHORS, index, "anchor line unreadable"))
            continue
        if line.expected_digest() != line.digest:
            problems.append(ChainProblem(ANCHORS, index, f"anchor of {line.day} forged or edited"))
        elif line.prev != prev:
            problems.append(
                ChainProblem(
                    ANCHORS, index, f"anchor of {line.day}: an anchor before it is missing"
                )
            )
        prev = line.digest
        parsed.append(line)
    return parsed, problems


async def verify_anchors(
    session: AsyncSession,
    path: Path,
    heads: dict[str, tuple[int, dict[int, str]]],
    *,
    only: str | None = None,
) -> AnchorCheck:
    """The file's chain holds, the database keeps the anchors the file has, and no chain head
    is behind the file's newest anchor: ``heads`` maps each case number now in the database to
    its event count and its events' hashes by sequence number."""
    rows = (await session.exec(select(AuditAnchor).order_by(col(AuditAnchor.id)))).all()
    texts = read_anchor_lines(path)
    if texts is None:
        problems = []
        if rows:
            problems.append(
                ChainProblem(
                    ANCHORS, None, f"anchor file missing: {path.name} ({len(rows)} anchors kept)"
                )
            )
        return AnchorCheck(0, None, problems)
    parsed, problems = check_anchor_file(texts)
    in_file = {line.digest for line in parsed}
    for row in rows:
        if row.digest not in in_file:
            problems.append(
                ChainProblem(
                    ANCHORS, None, f"anchor of {row.day} in the database is not in the file"
                )
            )
    last = parsed[-1] if parsed else None
    if last is None:
        return AnchorCheck(len(parsed), None, problems)
    if only is None and last.digest not in {row.digest for row in rows}:
        problems.append(
            ChainProblem(ANCHORS, None, f"database behind the anchor file: anchor of {last.day}")
        )
    for number, (count, head) in last.heads.items():
        if only is not None and number != only:
            continue
        if number == ACCESS_HEAD_KEY:
            problems += await _access_behind(session, count, head, last.day)
            continue
        now = heads.get(number)
        if now is None:
            problems.append(
                ChainProblem(number, None, f"case deleted: {count} events anchored on {last.day}")
            )
        elif now[0] < count:
            problems.append(
                ChainProblem(
                    number,
                    None,
                    f"database rewound: {now[0]} events, {count} anchored on {last.day}",
                )
            )
        elif now[1].get(count, "")[:HEAD_HEX] != head:
            problems.append(
                ChainProblem(number, count, f"history rewritten since the anchor of {last.day}")
            )
    return AnchorCheck(len(parsed), last, problems)


async def _access_behind(
    session: AsyncSession, count: int, head: str, day: str
) -> list[ChainProblem]:
    if count == 0:
        return []
    current = await session.get(AuditHead, ACCESS_HEAD)
    now = current.count if current is not None else 0
    if now < count:
        return [
            ChainProblem(
                ACCESS_LOG, None, f"database rewound: {now} events, {count} anchored on {day}"
            )
        ]
    event = (await session.exec(select(AccessEvent).where(AccessEvent.seq == count))).first()
    if event is None or event.hash[:HEAD_HEX] != head:
        return [ChainProblem(ACCESS_LOG, count, f"history rewritten since the anchor of {day}")]
    return []
