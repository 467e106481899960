"""resolution review (组长审核): an assignee's 办结 waits for the team leader as a request that
carries the proposed outcome, summary and amount (``approval_requests.proposal``)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("proposal", models.types.JSONType(), nullable=True))


def downgrade() -> None:
    # the request kinds this version added: older code cannot read them
    op.execute("DELETE FROM approval_requests WHERE kind IN ('resolution', 'reopen')")
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_column("proposal")
