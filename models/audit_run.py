"""流转记录核验 run from the console: the check of every case's chain runs in the background (at
a province's million cases it takes minutes, longer than any proxy waits for a page), and its
progress and result are kept here, so that every instance shows them and a run cut short by a
restart is seen as such.

At most one run is under way at a time (a partial unique index on the running state); a running
row whose heartbeat has stopped is a run its process no longer makes, closed as interrupted.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, enum_type, utc

AUDIT_RUN_STALE_AFTER = timedelta(minutes=2)
"""A run writes its progress after every chunk of cases (seconds apart even on a slow machine):
a heartbeat older than this is a run no process is making any more (stopped or killed)."""

PROBLEMS_KEPT = 1_000
"""Problems kept with a run, the first found; how many there were in all is kept too (a
history rewritten wholesale is reported by its size; ``lianka audit verify`` lists them all)."""


class AuditRunState(enum.StrEnum):
    RUNNING = "running"
    PASSED = "passed"  # 核验通过
    FAILED = "failed"  # problems found
    INTERRUPTED = "interrupted"  # its process stopped before the end
    ERROR = "error"  # the check itself could not go on (the database, say)
    STOPPED = "stopped"  # 停止核验: an admin or leader stopped it (``stopped_by_id``)


class AuditRun(SQLModel, table=True):
    """One 核验: who started it and when, how far it has got, and what it found."""

    __tablename__ = "audit_runs"
    __table_args__ = (
        sa.Index(
            "uq_audit_runs_running",
            "state",
            unique=True,
            sqlite_where=sa.text("state = 'running'"),
            postgresql_where=sa.text("state = 'running'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    state: AuditRunState = Field(
        default=AuditRunState.RUNNING, sa_type=enum_type(AuditRunState, 12)
    )
    started_by_id: int = Field(foreign_key="inspectors.id")
    stopped_by_id: int | None = Field(default=None, foreign_key="inspectors.id")
    started_at: datetime = Field(sa_type=UTCDateTime, index=True)
    heartbeat_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    cases_total: int = 0  # the cases there were when it started (more may come meanwhile)
    cases_checked: int = 0
    events_checked: int = 0
    problem_count: int = 0
    problems: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    anchored: bool = False  # checked against the anchor file (on the anchoring instance)
    anchors: int = 0
    last_anchor_day: str | None = Field(default=None, max_length=10)

    def stale(self, now: datetime) -> bool:
        """Still marked running, but no process has written to it for a while."""
        return self.state == AuditRunState.RUNNING and (
            utc(now) - self.heartbeat_at > AUDIT_RUN_STALE_AFTER
        )
