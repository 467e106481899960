"""sealed identities: reporters' names and phones, an anonymous case's link to its reporter, TOTP
secrets and the names and phones in stored drafts sealed under LIANKA_DATA_KEY; a keyed blind
index of the phone; receipt codes and submission keys re-keyed under LIANKA_AUDIT_KEY

Existing rows are converted in batches with the process's keys (installed before migrations
run): a receipt code's stored SHA-256 becomes HMAC("receipt", that digest), which is what
``receipt_hash`` computes for a code from now on, so no code needs to be known.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 04:30:00
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

from bot.keys import key_problem
from models import keys
from models.case import reporter_context, reporter_index
from models.intake import DRAFT_SEALED, draft_context
from models.reporter import contact_context, phone_index, rekey_receipt_digest
from models.types import JSONType

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 500

contacts = sa.table(
    "reporter_contacts",
    sa.column("case_id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("phone", sa.String),
    sa.column("phone_index", sa.String),
)
cases = sa.table(
    "cases",
    sa.column("id", sa.Integer),
    sa.column("anonymous", sa.Boolean),
    sa.column("reporter_id", sa.Integer),
    sa.column("reporter_ref", sa.String),
    sa.column("reporter_index", sa.String),
    sa.column("receipt_hash", sa.String),
    sa.column("submission_key", sa.String),
)
accounts = sa.table(
    "console_accounts", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String)
)
web_drafts = sa.table(
    "web_drafts", sa.column("session_key", sa.String), sa.column("data", JSONType())
)
fsm_records = sa.table("fsm_records", sa.column("key", sa.String), sa.column("data", JSONType()))


def upgrade() -> None:
    # the keys this migration signs or seals with are the database's from now on: the wrong ones
    # stop it here, before anything is written with them
    problem = key_problem(op.get_bind(), keys.current())
    if problem is not None:
        raise keys.KeyProblem(problem)
    bind = op.get_bind()
    _sqlite_pragmas(bind)
    with op.batch_alter_table("reporter_contacts") as batch:
        batch.alter_column("name", type_=sa.String(255), existing_nullable=False)
        batch.alter_column("phone", type_=sa.String(255), existing_nullable=False)
        batch.add_column(sa.Column("phone_index", sa.String(64), nullable=True))
        batch.create_index(batch.f("ix_reporter_contacts_phone_index"), ["phone_index"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("reporter_ref", sa.String(255), nullable=True))
        batch.add_column(sa.Column("reporter_index", sa.String(64), nullable=True))
        batch.create_index(batch.f("ix_cases_reporter_index"), ["reporter_index"])
    _retype_totp(bind, 255)
    ring = keys.current()
    _convert_contacts(bind, ring)
    _convert_cases(bind, ring)
    _convert_accounts(bind, ring)
    _convert_drafts(bind, ring, web_drafts, web_drafts.c.session_key)
    _convert_drafts(bind, ring, fsm_records, fsm_records.c.key)


def _sqlite_pragmas(bind: sa.Connection) -> None:
    """SQLite: the plain values' old bytes are zeroed when freed."""
    if bind.dialect.name == "sqlite":
        op.execute("PRAGMA secure_delete = ON")


def _retype_totp(bind: sa.Connection, length: int) -> None:
    """console_accounts.totp_secret as VARCHAR(length). SQLite would rebuild the table, which
    other tables reference (a foreign key check fails inside the migration's transaction): a
    new column takes the values and the old one's name instead."""
    if bind.dialect.name != "sqlite":
        with op.batch_alter_table("console_accounts") as batch:
            batch.alter_column("totp_secret", type_=sa.String(length), existing_nullable=True)
        return
    op.execute(f"ALTER TABLE console_accounts ADD COLUMN totp_retyped VARCHAR({length})")
    op.execute("UPDATE console_accounts SET totp_retyped = totp_secret")
    op.execute("ALTER TABLE console_accounts DROP COLUMN totp_secret")
    op.execute("ALTER TABLE console_accounts RENAME COLUMN totp_retyped TO totp_secret")


def _batches(
    bind: sa.Connection, query: sa.Select[Any], key: sa.ColumnElement[Any]
) -> Iterator[Sequence[sa.Row[Any]]]:
    """Rows of ``query`` in batches, keyset-paged on ``key`` (its first column)."""
    last = None
    while True:
        page = query if last is None else query.where(key > last)
        rows = bind.execute(page.order_by(key).limit(BATCH)).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _convert_contacts(bind: sa.Connection, ring: keys.Keyring) -> None:
    query = sa.select(contacts.c.case_id, contacts.c.name, contacts.c.phone)
    for rows in _batches(bind, query, contacts.c.case_id):
        for case_id, name, phone in rows:
            if keys.is_sealed(name) and keys.is_sealed(phone):
                continue
            bind.execute(
                contacts.update()
                .where(contacts.c.case_id == case_id)
                .values(
                    name=ring.seal(name, context=contact_context("name", case_id)),
                    phone=ring.seal(phone, context=contact_context("phone", case_id)),
                    phone_index=phone_index(phone),
                )
            )


def _convert_cases(bind: sa.Connection, ring: keys.Keyring) -> None:
    query = sa.select(
        cases.c.id,
        cases.c.anonymous,
        cases.c.reporter_id,
        cases.c.receipt_hash,
        cases.c.submission_key,
    )
    for rows in _batches(bind, query, cases.c.id):
        for case_id, anonymous, reporter_id, receipt, submission in rows:
            values: dict[str, Any] = {}
            if anonymous and reporter_id is not None:
                values["reporter_id"] = None
                values["reporter_ref"] = ring.seal(
                    str(reporter_id), context=reporter_context(case_id)
                )
                values["reporter_index"] = reporter_index(reporter_id)
            if receipt is not None:
                values["receipt_hash"] = rekey_receipt_digest(receipt)
            if submission is not None:
                values["submission_key"] = ring.keyed_hash("submission", submission)
            if values:
                bind.execute(cases.update().where(cases.c.id == case_id).values(**values))


def _convert_accounts(bind: sa.Connection, ring: keys.Keyring) -> None:
    query = sa.select(accounts.c.id, accounts.c.totp_secret).where(
        accounts.c.totp_secret.is_not(None)
    )
    for rows in _batches(bind, query, accounts.c.id):
        for account_id, secret in rows:
            if not keys.is_sealed(secret):
                sealed = ring.seal(secret, context=f"console_accounts.totp:{account_id}")
                bind.execute(
                    accounts.update().where(accounts.c.id == account_id).values(totp_secret=sealed)
                )


def _convert_drafts(
    bind: sa.Connection, ring: keys.Keyring, table: sa.TableClause, key: sa.ColumnClause[Any]
) -> None:
    for rows in _batches(bind, sa.select(key, table.c.data), key):
        for row_key, data in rows:
            sealed = _sealed_draft(data, ring.seal)
            if sealed is not None:
                bind.execute(table.update().where(key == row_key).values(data=sealed))


def _sealed_draft(data: Any, seal: Callable[..., str]) -> dict[str, Any] | None:
    """A stored draft with its plain names and phones sealed (None when there is none)."""
    if not isinstance(data, dict) or "draft_id" not in data:
        return None
    plain = [f for f in DRAFT_SEALED if isinstance(data.get(f), str) and not keys.is_sealed(data[f])]
    if not plain:
        return None
    draft_id = str(data["draft_id"])
    return {
        **data,
        **{f: seal(data[f], context=draft_context(f, draft_id)) for f in plain},
    }


def downgrade() -> None:
    """Names, phones, links and TOTP secrets opened back to plain text (receipt codes and
    submission keys stay keyed: a hash cannot be undone, so older codes are not found)."""
    ring = keys.current()
    bind = op.get_bind()
    _sqlite_pragmas(bind)
    query = sa.select(contacts.c.case_id, contacts.c.name, contacts.c.phone)
    for rows in _batches(bind, query, contacts.c.case_id):
        for case_id, name, phone in rows:
            bind.execute(
                contacts.update()
                .where(contacts.c.case_id == case_id)
                .values(
                    name=ring.open(name, context=contact_context("name", case_id)),
                    phone=ring.open(phone, context=contact_context("phone", case_id)),
                )
            )
    query = sa.select(cases.c.id, cases.c.reporter_ref).where(cases.c.reporter_ref.is_not(None))
    for rows in _batches(bind, query, cases.c.id):
        for case_id, ref in rows:
            reporter_id = int(ring.open(ref, context=reporter_context(case_id)))
            bind.execute(cases.update().where(cases.c.id == case_id).values(reporter_id=reporter_id))
    query = sa.select(accounts.c.id, accounts.c.totp_secret).where(
        accounts.c.totp_secret.is_not(None)
    )
    for rows in _batches(bind, query, accounts.c.id):
        for account_id, secret in rows:
            plain = ring.open(secret, context=f"console_accounts.totp:{account_id}")
            bind.execute(
                accounts.update().where(accounts.c.id == account_id).values(totp_secret=plain)
            )
    _retype_totp(bind, 64)
    # not a rebuilt table on SQLite (other tables reference cases): plain ALTER TABLE
    op.drop_index(op.f("ix_cases_reporter_index"), table_name="cases")
    op.execute("ALTER TABLE cases DROP COLUMN reporter_index")
    op.execute("ALTER TABLE cases DROP COLUMN reporter_ref")
    with op.batch_alter_table("reporter_contacts") as batch:
        batch.drop_index(batch.f("ix_reporter_contacts_phone_index"))
        batch.drop_column("phone_index")
        batch.alter_column("name", type_=sa.String(50), existing_nullable=False)
        batch.alter_column("phone", type_=sa.String(20), existing_nullable=False)
