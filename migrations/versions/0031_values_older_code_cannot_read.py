"""Two values this version writes into plain VARCHAR columns (nothing to alter on upgrade):
``notifications.offer`` ``clue_work`` (a clue's assignee: 提出处置意见 in place of 办结 and 整改)
and ``notifications.status`` ``withdrawn`` (a notice whose recipient may no longer read it). A
downgrade turns them into what older code reads: ``case_work`` (the appeal's buttons: the older
code's own for a clue) and ``failed`` (never sent, never retried), as 0022 did for its offer.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-08 05:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    op.execute("UPDATE notifications SET offer = 'case_work' WHERE offer = 'clue_work'")
    op.execute("UPDATE notifications SET status = 'failed' WHERE status = 'withdrawn'")
