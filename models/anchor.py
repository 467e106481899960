"""审计锚点: once a day, a keyed digest over every case's chain head, chained day to day and
appended to a file outside the database. Deleting a whole case, or putting back an older copy of
the database, leaves the heads behind what the file last anchored.

Also the rule that audit rows are never changed: triggers on ``case_events``, ``audit_anchors``
and ``console_access_log`` refuse UPDATE and DELETE whatever the database role (created with the
tables here for ``create_all``, and by migration 0014 on existing databases).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models import keys
from models.account import AccessEvent
from models.event import CaseEvent
from models.types import UTCDateTime, utc

ANCHOR_PURPOSE = "anchor"
ANCHOR_GENESIS = "0" * 64
HEAD_HEX = 16
"""How much of each case's last hash an anchor keeps: 64 bits of an HMAC nobody can forge."""

APPEND_ONLY_TABLES = ("case_events", "audit_anchors", "console_access_log")
REFUSAL = "审计记录只能追加，不能修改或删除 (audit rows are append-only)"


class AuditAnchor(SQLModel, table=True):
    """One anchor as written to the anchor file (its digest links it to the file's line)."""

    __tablename__ = "audit_anchors"

    id: int | None = Field(default=None, primary_key=True)
    day: str = Field(max_length=10, index=True)  # Shanghai date, YYYY-MM-DD
    at: datetime = Field(sa_type=UTCDateTime)
    cases: int
    events: int
    prev_digest: str = Field(max_length=64)
    digest: str = Field(max_length=64, unique=True)

    @property
    def line(self) -> str:
        """The one line the 分析研判 report prints."""
        return f"审计锚点：{self.day} {self.digest[:16]}…（共{self.cases}件）"


class AuditHead(SQLModel, table=True):
    """The head of a chain that is not a case's: ``console_access_log`` (how many lines, the
    last one's hash). Updated by each new line, under the row's lock, so two lines written at
    once wait for each other instead of forking the chain."""

    __tablename__ = "audit_heads"

    name: str = Field(primary_key=True, max_length=32)
    count: int = 0
    hash: str = Field(max_length=64)


ACCESS_HEAD = "console_access_log"
ACCESS_HEAD_KEY = "#access"
"""The sign-in log's head among the cases' heads of an anchor (no case number starts with #)."""

Head = tuple[str, int, str]
"""A case's chain head: its number, its event count, its last event's hash."""


@dataclass(frozen=True, slots=True)
class AnchorLine:
    """One line of the anchor file: the heads it anchored and the digest chaining it."""

    day: str
    at: str
    cases: int
    events: int
    heads: dict[str, tuple[int, str]]
    prev: str
    digest: str

    def payload(self) -> dict[str, Any]:
        return {
            "v": 1,
            "day": self.day,
            "at": self.at,
            "cases": self.cases,
            "events": self.events,
            "heads": {number: [count, head] for number, (count, head) in self.heads.items()},
            "prev": self.prev,
        }

    def expected_digest(self) -> str:
        return keys.current().mac(ANCHOR_PURPOSE, _canonical(self.payload()))

    def to_json(self) -> str:
        return json.dumps(
            {**self.payload(), "digest": self.digest},
            ensure_ascii=False,
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def parse(cls, text: str) -> AnchorLine:
        """A line of the file, or ValueError when it is not one."""
        raw = json.loads(text)
        if not isinstance(raw, dict) or raw.get("v") != 1:
            raise ValueError("not an anchor line")
        return cls(
            day=str(raw["day"]),
            at=str(raw["at"]),
            cases=int(raw["cases"]),
            events=int(raw["events"]),
            heads={str(n): (int(h[0]), str(h[1])) for n, h in dict(raw["heads"]).items()},
            prev=str(raw["prev"]),
            digest=str(raw["digest"]),
        )


def make_anchor(heads: list[Head], *, day: str, at: datetime, prev: str) -> AnchorLine:
    """The anchor over ``heads`` (every case), following the anchor whose digest is ``prev``."""
    ordered = sorted(heads)
    cases = [head for head in ordered if not head[0].startswith("#")]
    line = AnchorLine(
        day=day,
        at=utc(at).isoformat(timespec="seconds"),
        cases=len(cases),
        events=sum(count for _, count, _ in cases),
        heads={number: (count, last[:HEAD_HEX]) for number, count, last in ordered},
        prev=prev,
        digest="",
    )
    return AnchorLine(**{**_fields(line), "digest": line.expected_digest()})


def _fields(line: AnchorLine) -> dict[str, Any]:
    return {name: getattr(line, name) for name in AnchorLine.__slots__}


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER {table}_append_only_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        for verb in ("UPDATE", "DELETE")
    ]


POSTGRES_FUNCTION = f"""
CREATE OR REPLACE FUNCTION lianka_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{REFUSAL}: %', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""


def postgres_trigger(table: str) -> str:
    return (
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION lianka_append_only()"
    )


def _ddl(statement: str) -> sa.DDL:
    return sa.DDL(statement)  # type: ignore[no-untyped-call]


def _append_only(table: sa.Table) -> None:
    """The triggers come with the table when ``create_all`` makes it (tests, a fresh sandbox)."""
    sa.event.listen(
        table,
        "after_create",
        _ddl(POSTGRES_FUNCTION.replace("%", "%%")).execute_if(dialect="postgresql"),
    )
    sa.event.listen(
        table,
        "after_create",
        _ddl(postgres_trigger(table.name)).execute_if(dialect="postgresql"),
    )
    for statement in sqlite_triggers(table.name):
        sa.event.listen(table, "after_create", _ddl(statement).execute_if(dialect="sqlite"))


for _model in (CaseEvent, AuditAnchor, AccessEvent):
    _append_only(_model.__table__)  # type: ignore[union-attr]
