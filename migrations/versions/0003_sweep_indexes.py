"""sweep indexes: the provisional clocks the sweep tells admins about, found without a scan

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 01:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('case_clocks', schema=None) as batch_op:
        batch_op.create_index('ix_case_clocks_provisional', ['provisional', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_clocks', schema=None) as batch_op:
        batch_op.drop_index('ix_case_clocks_provisional')
