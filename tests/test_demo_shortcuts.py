"""The demo generator's shortcuts give exactly what the domain's own functions give: the events'
canonical bytes and hashes (``demo.chain``), the working-day answers (``demo.calendar``), the
search documents (``demo.search``); and the audit key's HMAC, computed in one call."""

from __future__ import annotations

import hashlib
import hmac
import random
from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest

from demo import chain
from demo.bulk import PlainCase, PlainClock, new_receipt_hash, receipt_code
from demo.calendar import RememberingCalendar
from demo.search import case_document as demo_document
from models import keys
from models.calendar import WorkCalendar
from models.case import ALLOWED, CaseStatus
from models.clock import ClockKind
from models.errors import InvalidTransition
from models.event import SYSTEM, Actor, ActorType, EventKind, canonical_event
from models.event import assigned as domain_assigned
from models.event import chained as domain_chained
from models.event import moved as domain_moved
from models.event import routed as domain_routed
from models.event import submitted_values as domain_submitted
from models.org import Track
from models.reporter import (
    RECEIPT_ALPHABET,
    RECEIPT_LENGTH,
    normalize_receipt_code,
    receipt_hash,
    rekey_receipt_digest,
)
from models.search import case_document

AT = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
NOTES = (
    None,
    "",
    "已赴企业实地了解情况，正在协调相关部门。",
    'quotes " and \\ backslash, tab\t, newline\n, nul \x00, bell \x07, del \x7f',
    "emoji 😀, surrogate-free astral 𠀀, U+2028 \u2028 and U+2029 \u2029, 全角ＡＢＣ",
)
DATA: tuple[dict[str, Any], ...] = (
    {},
    {"days": 5},
    {"outcome": "solved", "amount_yuan": None, "score": 1.0, "late": False},
    {"of": "AJ-2026-00042", "reason": "enterprise", "nested": {"b": [1, 2.5, None], "a": "乙"}},
    {"中文键": "值", "Z": -3, "a": 10**20, "f": 1e-7, "list": ["\n", True]},
)


def _case(number: str = "AJ-2026-00001") -> Any:
    return PlainCase.new(
        id=1, number=number, track=Track.APPEAL, status=CaseStatus.SUBMITTED, category_id=1,
        description="x", created_at=AT, updated_at=AT, event_count=0,
    )  # fmt: skip


def test_events_chained_by_the_demo_have_the_domains_canonical_bytes() -> None:
    rng = random.Random(7)
    statuses = [None, *CaseStatus]
    for index in range(600):
        content: dict[str, Any] = dict(
            case_number=rng.choice(("AJ-2026-00001", "XS-2027-12345", '引号"-1')),
            seq=rng.randrange(1, 400),
            kind=str(rng.choice(list(EventKind))),
            from_status=(s := rng.choice(statuses)) and str(s),
            to_status=(s := rng.choice(statuses)) and str(s),
            actor_type=str(rng.choice(list(ActorType))),
            actor_id=rng.choice((None, 0, 7, 123456)),
            note=NOTES[index % len(NOTES)],
            data=DATA[index // len(NOTES) % len(DATA)],
            public=rng.random() < 0.5,
            created_at=AT.astimezone(timezone(timedelta(hours=8))) + timedelta(hours=index),
            prev_hash=f"{rng.getrandbits(256):064x}",
        )
        assert chain.canonical(**content) == canonical_event(**content), content


def test_a_chain_the_demo_records_is_the_chain_the_domain_records() -> None:
    ours, theirs = _case(), _case()
    inspector, reporter = Actor(ActorType.INSPECTOR, 3), Actor(ActorType.REPORTER, 9)
    contact = ("王伟", "13812345678")
    assert chain.submitted(ours, AT, contact=contact) == domain_submitted(
        theirs, AT, evidence=0, contact=contact
    )
    team: Any = SimpleNamespace(id=4, code="business_env")
    assert chain.routed(ours, team, rule="zone", actor=SYSTEM, now=AT) == domain_routed(
        theirs, team, rule="zone", actor=SYSTEM, now=AT
    )
    person: Any = SimpleNamespace(id=3, last_assigned_at=None)
    assert chain.assigned(ours, person, inspector, AT) == domain_assigned(
        theirs, person, inspector, AT
    )
    assert person.last_assigned_at == AT and ours.assignee_id == theirs.assignee_id == 3
    for index, (note, data) in enumerate(zip(NOTES * 2, DATA * 2, strict=False)):
        at = AT + timedelta(days=index)
        assert chain.chained(ours, EventKind.PROGRESS, inspector, at, note=note, data=data) == (
            domain_chained(theirs, EventKind.PROGRESS, inspector, at, note=note, data=data)
        )
    for target in (CaseStatus.ACCEPTED, CaseStatus.IN_PROGRESS):
        assert chain.moved(ours, target, EventKind.ACCEPTED, reporter, AT, public=True) == (
            domain_moved(theirs, target, EventKind.ACCEPTED, reporter, AT, public=True)
        )
    assert (ours.event_count, ours.last_event_hash, ours.status, ours.updated_at) == (
        theirs.event_count,
        theirs.last_event_hash,
        theirs.status,
        theirs.updated_at,
    )
    refused = next(s for s in CaseStatus if s not in ALLOWED[CaseStatus.IN_PROGRESS])
    with pytest.raises(InvalidTransition):  # as the domain refuses it
        chain.moved(ours, refused, EventKind.ACCEPTED, reporter, AT)


def test_the_remembering_calendar_answers_as_the_calendar_does() -> None:
    calendar = WorkCalendar()
    remembering = RememberingCalendar.of(calendar)
    rng = random.Random(3)
    first = datetime(2025, 12, 20, tzinfo=UTC)
    for _ in range(3):  # asked again: the remembered answers
        for _ in range(400):
            at = first + timedelta(minutes=rng.randrange(60 * 24 * 800))
            days = rng.choice((0, 1, 2, 5, 10, 15, 20, 60))
            assert remembering.deadline(at, days) == calendar.deadline(at, days)
            day = at.date()
            assert remembering.add_workdays(day, days) == calendar.add_workdays(day, days)
            other = day + timedelta(days=rng.randrange(-30, 400))
            assert remembering.workdays_between(day, other) == calendar.workdays_between(day, other)
    with pytest.raises(ValueError, match="timezone-aware"):
        remembering.deadline(datetime(2026, 1, 5), 3)
    assert remembering.is_workday(date(2026, 10, 1)) is calendar.is_workday(date(2026, 10, 1))


def test_a_demo_case_is_found_by_the_document_the_domain_makes() -> None:
    rng = random.Random(5)
    texts = (
        "",
        "四川坤天新能源科技有限公司",
        "园区管委会承诺的土地出让金返还至今未到位，企业资金周转困难，请帮助协调。涉及金额约6万元。",
        "ABC 公司（2026）第12号，“引号”。。",
        "。，！",
        "。\u0301x。ｅ\u0301。",  # a combining mark after a 。, a full-width letter
        "Ｘ｡ＹＺ。",  # a half-width 。 (NFKC: 。)
        "x",
        "单",
    )
    numbers = ("AJ-2026-00042", "XS-2027-10000", "AJ-2026-00000", "AJ-2026-1", "廉-2026-00042")
    odd = (
        "AJ2026",
        "AJ-2026-００４２",
        "AJ-2026-0042a",
        "-0042",
        "AJ-2026-",
        "0042",
        "廉2026-00042",
    )
    for number in (*numbers, *odd):
        for _ in range(40):
            enterprise = rng.choice((None, *texts))
            description = rng.choice(texts) + rng.choice(texts)
            for track in Track:
                assert demo_document(
                    number=number, enterprise=enterprise, description=description, track=track
                ) == case_document(
                    number=number, enterprise=enterprise, description=description, track=track
                )


def test_the_audit_key_still_signs_with_hmac_sha256_of_its_sub_key() -> None:
    ring = keys.current()
    for purpose in ("chain", "digest", "receipt"):
        subkey = keys._derive(ring.audit_key, purpose)
        for message in (b"", "审计".encode(), bytes(range(256)) * 5):
            expected = hmac.new(subkey, message, hashlib.sha256).hexdigest()
            assert ring.mac(purpose, message) == expected


def test_a_clock_started_by_the_demo_has_the_deadline_and_warning_the_clock_works_out() -> None:
    calendar = WorkCalendar()
    remembering = RememberingCalendar.of(calendar)
    rng = random.Random(9)
    first = datetime(2025, 12, 20, tzinfo=UTC)
    for _ in range(2000):
        now = first + timedelta(seconds=rng.randrange(86400 * 500))
        workdays, warn = rng.choice((0, 1, 2, 3, 5, 10, 15, 20)), rng.choice((0, 1, 2, 3))
        clock = PlainClock.new(case_id=1, kind=ClockKind.RESOLVE, started_at=now, workdays=1)
        clock.start(workdays, calendar=calendar, now=now, warn_before=warn)
        deadline, next_action = remembering.started(now, workdays, warn)
        assert (deadline.due_at, deadline.provisional, next_action) == (
            clock.due_at,
            clock.provisional,
            clock.next_action_at,
        ), (now, workdays, warn)


def test_a_demo_receipt_hash_is_the_hash_of_a_receipt_code_of_the_usual_form() -> None:
    for _ in range(200):
        code = receipt_code()
        assert len(code) == RECEIPT_LENGTH and set(code) <= set(RECEIPT_ALPHABET)
        dashed = "-".join(code[i : i + 4] for i in range(0, RECEIPT_LENGTH, 4))
        assert normalize_receipt_code(dashed) == code
        assert rekey_receipt_digest(hashlib.sha256(code.encode()).hexdigest()) == receipt_hash(
            dashed
        )
    # drawn alike: each character of the alphabet turns up in every place
    codes = [receipt_code() for _ in range(3000)]
    for place in range(RECEIPT_LENGTH):
        assert {c[place] for c in codes} == set(RECEIPT_ALPHABET)
    assert len({new_receipt_hash() for _ in range(500)}) == 500
