"""case search: ``case_search``, one search document per case (its number, enterprise and
description cut into Han bigrams and ASCII words, ``models.search.case_document``), indexed by an
FTS5 table on SQLite and by a generated ``tsvector`` column under a GIN index on PostgreSQL;
every existing case gets its document

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.org import Track
from models.search import POSTGRESQL_DDL, SQLITE_DDL, case_document

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 2000


def upgrade() -> None:
    op.create_table(
        "case_search",
        sa.Column("case_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_search_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_search")),
    )
    dialect = op.get_bind().dialect.name
    for statement in SQLITE_DDL if dialect == "sqlite" else POSTGRESQL_DDL:
        op.execute(statement)
    _backfill()


def _backfill() -> None:
    """Every case there is, its document written as ``submit_case`` writes it."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT cases.id, cases.number, cases.description, enterprises.name, cases.track "
            "FROM cases LEFT JOIN enterprises ON enterprises.id = cases.enterprise_id "
            "ORDER BY cases.id"
        )
    ).all()
    insert = sa.text("INSERT INTO case_search (case_id, document) VALUES (:case_id, :document)")
    for start in range(0, len(rows), BATCH):
        bind.execute(
            insert,
            [
                {
                    "case_id": case_id,
                    "document": case_document(
                        number=number,
                        enterprise=enterprise,
                        description=description,
                        track=Track(track),
                    ),
                }
                for case_id, number, description, enterprise, track in rows[start : start + BATCH]
            ],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS case_search_fts")
    op.drop_table("case_search")
