"""The bulk path's events, chained as ``models.event.chained`` chains them, with less work.

``models.event.canonical_event`` builds a dict and has ``json.dumps`` sort its keys and encode
it; here the same bytes are written out in that order, the strings encoded by the very function
``json.dumps`` uses for them (``json.encoder.encode_basestring``, ``ensure_ascii=False``) and the
event's data by ``json.dumps`` with the same options. The hash is the same HMAC under the same
key (``keys.current().mac``), so ``lianka audit verify`` checks these events as any others;
``tests/test_report_demo.py`` holds the two canonical forms equal, byte for byte.
"""

from __future__ import annotations

import json
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from models import keys
from models.case import Case, CaseStatus, check_transition
from models.event import CHAIN_PURPOSE, GENESIS_HASH, Actor, EventKind
from models.types import utc

_int = int.__repr__  # how json writes an int


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


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
    encoded = json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return "".join(
        (
            '{"actor":[',
            encode_basestring(actor_type),
            ",",
            "null" if actor_id is None else _int(actor_id),
            '],"at":',
            encode_basestring(utc(created_at).isoformat(timespec="microseconds")),
            ',"case":',
            encode_basestring(case_number),
            ',"data":',
            encoded,
            ',"from":',
            _text(from_status),
            ',"kind":',
            encode_basestring(kind),
            ',"note":',
            _text(note),
            ',"prev":',
            encode_basestring(prev_hash),
            ',"public":',
            "true" if public else "false",
            ',"seq":',
            _int(seq),
            ',"to":',
            _text(to_status),
            "}",
        )
    ).encode("utf-8")


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
    created_at = utc(now)
    payload = dict(data or {})
    prev_hash = case.last_event_hash or GENESIS_HASH
    digest = keys.current().mac(
        CHAIN_PURPOSE,
        canonical(
            case_number=case.number,
            seq=seq,
            kind=kind.value,
            from_status=from_status.value if from_status else None,
            to_status=to_status.value if to_status else None,
            actor_type=actor.type.value,
            actor_id=actor.id,
            note=note,
            data=payload,
            public=public,
            created_at=created_at,
            prev_hash=prev_hash,
        ),
    )
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
    current = CaseStatus(case.status)
    check_transition(current, target)
    case.status = target
    return chained(
        case, kind, actor, now, note=note, data=data, public=public,
        from_status=current, to_status=target,
    )  # fmt: skip
