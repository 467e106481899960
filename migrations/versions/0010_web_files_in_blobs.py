"""web files in a blob store: ``attachments.blob_sha256`` (a web upload, kept by the SHA-256 of
its cleaned bytes; ``file_id`` and ``file_unique_id`` may be empty until Telegram has given them
when the file was first sent to an inspector), and ``blobs``, the bytes themselves for the
database blob store

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 20:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types


revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blobs")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("blob_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.alter_column(
            "file_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True
        )
        batch_op.alter_column(
            "file_unique_id",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=True,
        )
        batch_op.create_index(batch_op.f("ix_attachments_blob_sha256"), ["blob_sha256"], unique=False)


def downgrade() -> None:
    # a web file never sent to Telegram has nothing the old schema can point at
    op.execute("DELETE FROM attachments WHERE file_id IS NULL")
    op.execute("UPDATE attachments SET file_unique_id = file_id WHERE file_unique_id IS NULL")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_blob_sha256"))
        batch_op.alter_column(
            "file_unique_id",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=64),
            nullable=False,
        )
        batch_op.alter_column(
            "file_id", existing_type=sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False
        )
        batch_op.drop_column("blob_sha256")
    op.drop_table("blobs")
