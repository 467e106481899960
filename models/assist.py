"""室组联动: the 协办 teams of a case.

A case's own team (``cases.team_id``) is its lead team (主办) and answers for it; a 协办 team
sees the case, adds progress notes and is told of its changes, but never sees the reporter's
identity. One row per time a team was added; removing it stamps ``removed_at`` (the row stays,
as the history does). At most one open row per case and team.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class CaseAssist(SQLModel, table=True):
    """A 协办 team on a case, from ``added_at`` until ``removed_at``."""

    __tablename__ = "case_assists"

    __table_args__ = (
        sa.Index(
            "ux_case_assists_open",
            "case_id",
            "team_id",
            unique=True,
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    team_id: int = Field(foreign_key="teams.id", index=True)
    added_by_id: int = Field(foreign_key="inspectors.id")
    added_at: datetime = Field(sa_type=UTCDateTime)
    removed_by_id: int | None = Field(default=None, foreign_key="inspectors.id")
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
