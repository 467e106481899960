"""keyed audit: every case's chain re-sealed with an HMAC under LIANKA_AUDIT_KEY (after the old
SHA-256 chain is checked: a broken one stops the upgrade, naming the case); the console's sign-in
log chained the same way (``seq``, ``prev_hash``, ``hash``, its head in ``audit_heads``); the
daily anchors (``audit_anchors``); triggers refusing UPDATE and DELETE on ``case_events``,
``audit_anchors`` and ``console_access_log`` whatever the role

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 05:00:00
"""

import json
from collections.abc import Sequence
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from alembic import op

import models.types
from bot.db import MigrationRefused
from bot.keys import key_problem
from models import keys
from models.account import ACCESS_GENESIS, ACCESS_PURPOSE
from models.anchor import (
    ACCESS_HEAD,
    APPEND_ONLY_TABLES,
    POSTGRES_FUNCTION,
    postgres_trigger,
    sqlite_triggers,
)
from models.event import GENESIS_HASH, canonical_event, legacy_event_digest

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

events = sa.table(
    "case_events",
    sa.column("id", sa.Integer),
    sa.column("case_id", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("kind", sa.String),
    sa.column("from_status", sa.String),
    sa.column("to_status", sa.String),
    sa.column("actor_type", sa.String),
    sa.column("actor_id", sa.Integer),
    sa.column("note", sa.Text),
    sa.column("data", models.types.JSONType()),
    sa.column("public", sa.Boolean),
    sa.column("created_at", models.types.UTCDateTime(timezone=True)),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)
cases = sa.table(
    "cases",
    sa.column("id", sa.Integer),
    sa.column("number", sa.String),
    sa.column("event_count", sa.Integer),
    sa.column("last_event_hash", sa.String),
    sa.column("anonymous", sa.Boolean),
)
access = sa.table(
    "console_access_log",
    sa.column("id", sa.Integer),
    sa.column("at", models.types.UTCDateTime(timezone=True)),
    sa.column("kind", sa.String),
    sa.column("account_id", sa.Integer),
    sa.column("client", sa.String),
    sa.column("detail", sa.String),
    sa.column("seq", sa.Integer),
    sa.column("prev_hash", sa.String),
    sa.column("hash", sa.String),
)
heads = sa.table(
    "audit_heads",
    sa.column("name", sa.String),
    sa.column("count", sa.Integer),
    sa.column("hash", sa.String),
)


def _content(row: Any, number: str, prev: str) -> dict[str, Any]:
    return {
        "case_number": number,
        "seq": row.seq,
        "kind": row.kind,
        "from_status": row.from_status,
        "to_status": row.to_status,
        "actor_type": row.actor_type,
        "actor_id": row.actor_id,
        "note": row.note,
        "data": row.data,
        "public": bool(row.public),
        "created_at": row.created_at,
        "prev_hash": prev,
    }


def _hmac(content: dict[str, Any]) -> str:
    return keys.current().mac("chain", canonical_event(**content))


def _sha256(content: dict[str, Any]) -> str:
    return legacy_event_digest(**content)


def _reseal_cases(*, check: Any, seal: Any, refuse: str, forget_reporters: bool = False) -> None:
    """Check each case's chain with ``check`` and write it again with ``seal``; with
    ``forget_reporters``, an anonymous case's reporter steps lose the reporter's id as they are
    re-sealed (the events of anonymous cases name no reporter row from now on)."""
    bind = op.get_bind()
    numbers = {
        row.id: (row.number, row.event_count, row.last_event_hash)
        for row in bind.execute(sa.select(cases))
    }
    anonymous = {
        row.id for row in bind.execute(sa.select(cases.c.id).where(cases.c.anonymous.is_(True)))
    }
    rows = bind.execute(sa.select(events).order_by(events.c.case_id, events.c.seq)).all()
    by_case = {case_id: list(group) for case_id, group in groupby(rows, key=lambda r: r.case_id)}
    for case_id, (number, count, last) in numbers.items():
        chain = by_case.get(case_id, [])
        prev = GENESIS_HASH
        for expected_seq, row in enumerate(chain, 1):
            if (
                row.seq != expected_seq
                or row.prev_hash != prev
                or check(_content(row, number, prev)) != row.hash
            ):
                raise MigrationRefused(
                    f"{refuse}：{number} 第{row.seq}条记录与链不符 "
                    f"({number} #{row.seq}: the chain is already broken; "
                    "run `lianka audit verify` with the previous version)"
                )
            prev = row.hash
        if len(chain) != count or prev != (last or GENESIS_HASH):
            raise MigrationRefused(
                f"{refuse}：{number} 的记录数与问题不符 ({number}: the chain's end does not match)"
            )
        if seal is None:
            continue
        prev = GENESIS_HASH
        for row in chain:
            content = _content(row, number, prev)
            forget = (
                forget_reporters
                and case_id in anonymous
                and row.actor_type == "reporter"
                and row.actor_id is not None
            )
            if forget:
                content["actor_id"] = None
            digest = seal(content)
            bind.execute(
                events.update()
                .where(events.c.id == row.id)
                .values(prev_hash=prev, hash=digest, actor_id=content["actor_id"])
            )
            prev = digest
        if chain:
            bind.execute(cases.update().where(cases.c.id == case_id).values(last_event_hash=prev))


def _chain_access_log() -> None:
    bind = op.get_bind()
    prev, seq = ACCESS_GENESIS, 0
    for row in bind.execute(sa.select(access).order_by(access.c.id)).all():
        seq += 1
        payload = {
            "seq": seq,
            "at": models.types.utc(row.at).isoformat(timespec="microseconds"),
            "kind": row.kind,
            "account": row.account_id,
            "client": row.client,
            "detail": row.detail,
            "prev": prev,
        }
        canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        digest = keys.current().mac(ACCESS_PURPOSE, canonical.encode("utf-8"))
        bind.execute(
            access.update().where(access.c.id == row.id).values(seq=seq, prev_hash=prev, hash=digest)
        )
        prev = digest
    bind.execute(heads.insert().values(name=ACCESS_HEAD, count=seq, hash=prev))


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        for table in APPEND_ONLY_TABLES:
            op.execute(postgres_trigger(table))
    else:
        for table in APPEND_ONLY_TABLES:
            for statement in sqlite_triggers(table):
                op.execute(statement)


def _drop_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS lianka_append_only()")
    else:
        for table in APPEND_ONLY_TABLES:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{verb}")


def upgrade() -> None:
    # the keys this migration signs or seals with are the database's from now on: the wrong ones
    # stop it here, before anything is written with them
    problem = key_problem(op.get_bind(), keys.current())
    if problem is not None:
        raise keys.KeyProblem(problem)
    # every old chain checked before anything is changed: a refusal leaves the database as it was
    # (SQLite runs the DDL below outside the transaction)
    _reseal_cases(check=_sha256, seal=None, refuse="流转记录已损坏，拒绝升级")
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("prev_digest", sa.String(length=64), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
        sa.UniqueConstraint("digest", name=op.f("uq_audit_anchors_digest")),
    )
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_anchors_day"), ["day"], unique=False)
    op.create_table(
        "audit_heads",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_audit_heads")),
    )
    with op.batch_alter_table("console_access_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column(
                "prev_hash", sa.String(length=64), nullable=False, server_default=ACCESS_GENESIS
            )
        )
        batch_op.add_column(
            sa.Column("hash", sa.String(length=64), nullable=False, server_default="")
        )
    with op.batch_alter_table("console_access_log", schema=None) as batch_op:
        batch_op.alter_column("seq", server_default=None)
        batch_op.alter_column("prev_hash", server_default=None)
        batch_op.alter_column("hash", server_default=None)
    _reseal_cases(
        check=_sha256, seal=_hmac, refuse="流转记录已损坏，拒绝升级", forget_reporters=True
    )
    _chain_access_log()
    _create_triggers()


def downgrade() -> None:
    _drop_triggers()
    _reseal_cases(check=_hmac, seal=_sha256, refuse="流转记录已损坏，拒绝降级")
    with op.batch_alter_table("console_access_log", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
    op.drop_table("audit_heads")
    with op.batch_alter_table("audit_anchors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_anchors_day"))
    op.drop_table("audit_anchors")
