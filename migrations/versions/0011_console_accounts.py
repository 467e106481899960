"""office console: ``console_accounts`` (a person's sign-in: Argon2id hash, TOTP secret, lock-out,
one-time reset link as a hash), ``console_sessions`` (server-side, keyed by the SHA-256 of the
cookie's id) and ``console_access_log`` (every sign-in, failure and sign-out)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types


revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("inspector_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
        sa.Column("totp_secret", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("last_totp_step", sa.BigInteger(), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("password_changed_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_sign_in_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("locked_until", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reset_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("reset_expires_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["inspector_id"],
            ["inspectors.id"],
            name=op.f("fk_console_accounts_inspector_id_inspectors"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_accounts")),
        sa.UniqueConstraint("inspector_id", name=op.f("uq_console_accounts_inspector_id")),
        sa.UniqueConstraint("reset_hash", name=op.f("uq_console_accounts_reset_hash")),
        sa.UniqueConstraint("username", name=op.f("uq_console_accounts_username")),
    )
    op.create_table(
        "console_access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "signed_in",
                "failed",
                "locked",
                "refused",
                "signed_out",
                "expired",
                "password_set",
                "created",
                "disabled",
                "reset_issued",
                name="accesskind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["console_accounts.id"],
            name=op.f("fk_console_access_log_account_id_console_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_access_log")),
    )
    with op.batch_alter_table("console_access_log", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_console_access_log_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_console_access_log_at"), ["at"], unique=False)

    op.create_table(
        "console_sessions",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notice", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["console_accounts.id"],
            name=op.f("fk_console_sessions_account_id_console_accounts"),
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_console_sessions")),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_console_sessions_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_sessions_account_id"))

    op.drop_table("console_sessions")
    with op.batch_alter_table("console_access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_access_log_at"))
        batch_op.drop_index(batch_op.f("ix_console_access_log_account_id"))

    op.drop_table("console_access_log")
    op.drop_table("console_accounts")
