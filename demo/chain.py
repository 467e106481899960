"""The bulk path's events, chained as ``models.event.chained`` chains them, with less work.

``models.event.canonical_event`` builds a dict and has ``json.dumps`` sort its keys and encode
it; here the same bytes are written out in that order, the strings encoded by the very function
``json.dumps`` uses for them (``json.encoder.encode_basestring``, ``ensure_ascii=False``) and the
event's data by ``json.dumps`` with the same options. The hash is the same HMAC under the same
key (``keys.current().mac``), so ``lianka audit verify`` checks these events as any others;
``tests/test_demo_shortcuts.py`` holds the two canonical forms equal, byte for byte. The data's
JSON text is kept with it (``EncodedJSON``): PostgreSQL's JSONB column takes it as it is.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

from demo.rows import EncodedJSON
from models import keys
from models.case import Case, CaseStatus, check_transition
from models.event import (
    CHAIN_PURPOSE,
    GENESIS_HASH,
    Actor,
    ActorType,
    EventKind,
    report_digests,
)
from models.team import Inspector, Team
from models.types import utc

_int = int.__repr__  # how json writes an int


def canonical(
    *,
    case_number: str,
    seq: int,
    kind: str,
    from_status: str | None,
    to_status: str | None,
    actor_type: str,
    actor_id: int | None,
    note: str | None,
    data: dict[str, Any],
    public: bool,
    created_at: datetime,
    prev_hash: str,
) -> bytes:
    """``models.event.canonical_event``'s bytes: its keys in sorted order (actor, at, case,
    data, from, kind, note, prev, public, seq, to), no spaces, UTF-8."""
    return _written(
        case_number=case_number, seq=seq, kind=kind, from_status=from_status,
        to_status=to_status, actor_type=actor_type, actor_id=actor_id, note=note,
        data=_encoded(data), public=public,
        at=utc(created_at).isoformat(timespec="microseconds"), prev_hash=prev_hash,
    )  # fmt: skip


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
"""What ``json.dumps`` makes for ``canonical_event``'s options, made once."""
_ENCODE: Callable[[Any, int], Sequence[str]] | None = (
    c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", True, False, True)
    if c_make_encoder is not None
    else None
)
"""The C encoder ``_ENCODER.encode`` makes for each value (``JSONEncoder.iterencode``), made
once: the same text (only a value that contains itself fails otherwise, as recursion)."""


def _encoded(data: dict[str, Any]) -> str:
    """The event's data as ``canonical_event`` encodes it (valid JSON: what JSONB keeps too)."""
    if not data:
        return "{}"
    return "".join(_ENCODE(data, 0)) if _ENCODE is not None else _ENCODER.encode(data)


def as_json(value: dict[str, Any]) -> EncodedJSON:
    """A JSON column's value with its text (the data's encoding: JSONB keeps the value)."""
    encoded = EncodedJSON(value)
    encoded.text = _encoded(encoded)
    return encoded


_NAMES: dict[str | None, str] = {
    None: "null",
    **{
        member: encode_basestring(member.value)
        for e in (EventKind, CaseStatus, ActorType)
        for member in e
    },
}
"""The JSON of each kind, status and actor type (and of no status), made once."""


def _written(
    *,
    case_number: str,
    seq: int,
    kind: str,
    from_status: str | None,
    to_status: str | None,
    actor_type: str,
    actor_id: int | None,
    note: str | None,
    data: str,
    public: bool,
    at: str,
    prev_hash: str,
) -> bytes:
    """``canonical_event``'s bytes written out in its key order, ``data`` already JSON: what
    ``chained`` hashes some ten times a case and ``canonical`` gives (held equal to the domain's
    by ``tests/test_demo_shortcuts.py``). A kind, status or actor type is looked up encoded;
    ``at`` is ISO 8601 (nothing in it to escape)."""
    return (
        f'{{"actor":[{_NAMES.get(actor_type) or _text(actor_type)},'
        f'{"null" if actor_id is None else _int(actor_id)}],"at":"{at}",'
        f'"case":{encode_basestring(case_number)},"data":{data},'
        f'"from":{_NAMES.get(from_status) or _text(from_status)},'
        f'"kind":{_NAMES.get(kind) or _text(kind)},'
        f'"note":{"null" if note is None else encode_basestring(note)},'
        f'"prev":{encode_basestring(prev_hash)},"public":{"true" if public else "false"},'
        f'"seq":{_int(seq)},"to":{_NAMES.get(to_status) or _text(to_status)}}}'
    ).encode()


def _text(value: str | None) -> str:
    """A name not among the kinds, statuses and actor types, or none."""
    return "null" if value is None else encode_basestring(value)


_last_at: list[Any] = [None, ""]
"""The time of the last event chained and its ISO 8601 text."""


def chained(
    case: Case,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
    from_status: CaseStatus | None = None,
    to_status: CaseStatus | None = None,
) -> dict[str, Any]:
    """``models.event.chained``: the column values of the case's next event, its hash
    included, and the case's chain moved on to it."""
    if case.id is None:
        raise ValueError("the case must be flushed before events are recorded")
    seq = case.event_count + 1
    created_at = now if now.tzinfo is UTC else utc(now)
    payload = EncodedJSON(data or {})
    payload.text = text = _encoded(payload)
    prev_hash = case.last_event_hash or GENESIS_HASH
    if created_at is not _last_at[0]:  # a step's events share their time: written once
        _last_at[:] = created_at, created_at.isoformat(timespec="microseconds")
    canonical = _written(
        case_number=case.number, seq=seq, kind=kind, from_status=from_status,
        to_status=to_status, actor_type=actor.type, actor_id=actor.id, note=note, data=text,
        public=public, at=_last_at[1], prev_hash=prev_hash,
    )  # fmt: skip
    digest = keys.current().mac(CHAIN_PURPOSE, canonical)
    case.event_count = seq
    case.last_event_hash = digest
    case.updated_at = created_at
    return {
        "case_id": case.id,
        "seq": seq,
        "kind": kind,
        "from_status": from_status,
        "to_status": to_status,
        "actor_type": actor.type,
        "actor_id": actor.id,
        "note": note,
        "data": payload,
        "public": public,
        "created_at": created_at,
        "prev_hash": prev_hash,
        "hash": digest,
    }


def moved(
    case: Case,
    target: CaseStatus,
    kind: EventKind,
    actor: Actor,
    now: datetime,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    public: bool = False,
) -> dict[str, Any]:
    """``models.event.moved``: the case moves to ``target`` if the table allows it, and its
    event's values (``chained``)."""
    current = move(case, target)
    return chained(
        case, kind, actor, now, note=note, data=data, public=public,
        from_status=current, to_status=target,
    )  # fmt: skip


def move(case: Case, target: CaseStatus) -> CaseStatus:
    """What ``moved`` does to the case (the status it had)."""
    current = CaseStatus(case.status)
    check_transition(current, target)
    case.status = target
    return current


def submitted(case: Case, now: datetime, *, contact: tuple[str, str] | None) -> dict[str, Any]:
    """``models.event.submitted_values`` of a case reported without files."""
    return chained(
        case,
        EventKind.SUBMITTED,
        Actor(ActorType.REPORTER, case.reporter_id),
        now,
        public=True,
        data={
            "evidence": 0,
            "anonymous": case.anonymous,
            "digests": report_digests(case.description, (), contact),
        },
    )


def routed(
    case: Case, team: Team, *, rule: str | None, actor: Actor, now: datetime
) -> dict[str, Any]:
    """``models.event.routed``: the case reaches the team's queue."""
    route(case, team, rule=rule)
    return chained(case, EventKind.ROUTED, actor, now, data={"team": team.code, "rule": rule})


def route(case: Case, team: Team, *, rule: str | None) -> None:
    """What ``routed`` does to the case."""
    assert team.id is not None
    case.team_id = team.id
    case.routed_by = rule
    case.assignee_id = None


def assigned(case: Case, inspector: Inspector, actor: Actor, now: datetime) -> dict[str, Any]:
    """``models.event.assigned`` (not as a stand-in): the case is the inspector's."""
    assert inspector.id is not None
    data: dict[str, Any] = {"inspector": inspector.id, "previous": case.assignee_id}
    if case.status in (CaseStatus.SUBMITTED, CaseStatus.RETURNED):
        values = moved(case, CaseStatus.ASSIGNED, EventKind.ASSIGNED, actor, now, data=data)
    else:
        values = chained(case, EventKind.ASSIGNED, actor, now, data=data)
    _assign(case, inspector, now)
    return values


def assign(case: Case, inspector: Inspector, now: datetime) -> None:
    """What ``assigned`` does to the case and the inspector."""
    if case.status in (CaseStatus.SUBMITTED, CaseStatus.RETURNED):
        move(case, CaseStatus.ASSIGNED)
    _assign(case, inspector, now)


def _assign(case: Case, inspector: Inspector, now: datetime) -> None:
    case.assignee_id = inspector.id
    case.assigned_at = now
    inspector.last_assigned_at = now
