"""The case's life (DESIGN.md): the allowed transitions, and every other one refused."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest

from models.case import (
    ALLOWED,
    Case,
    CaseStatus,
    check_transition,
    reporter_label,
    reporter_status,
)
from models.errors import InvalidTransition
from models.event import SYSTEM, Actor, ActorType, EventKind, transition
from models.org import Track

S = CaseStatus
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)

# The specification, written out independently of models.case.ALLOWED.
EXPECTED_ALLOWED = {
    (S.SUBMITTED, S.ASSIGNED),  # routed and assigned
    (S.SUBMITTED, S.RETURNED),  # a team sends it back to the dispatcher
    (S.SUBMITTED, S.WITHDRAWN),  # the reporter withdraws before acceptance
    (S.ASSIGNED, S.ACCEPTED),  # 签收
    (S.ASSIGNED, S.SUBMITTED),  # taken back to the leader's queue
    (S.ASSIGNED, S.RETURNED),  # 退回
    (S.ASSIGNED, S.WITHDRAWN),
    (S.ACCEPTED, S.IN_PROGRESS),
    (S.ACCEPTED, S.RESOLVED),
    (S.ACCEPTED, S.RETURNED),
    (S.ACCEPTED, S.SUBMITTED),  # 转办
    (S.IN_PROGRESS, S.RESOLVED),
    (S.IN_PROGRESS, S.SUBMITTED),  # 转办
    (S.RESOLVED, S.CLOSED),  # 回访 answered or 未评价
    (S.RESOLVED, S.REOPENED),  # 不满意 → 重办
    (S.REOPENED, S.IN_PROGRESS),
    (S.REOPENED, S.RESOLVED),
    (S.RETURNED, S.SUBMITTED),  # re-routed
    (S.RETURNED, S.ASSIGNED),
    (S.RETURNED, S.WITHDRAWN),
}


def make_case(status: CaseStatus = S.SUBMITTED) -> Case:
    return Case(
        id=1,
        number="AJ-2026-00001",
        track=Track.APPEAL,
        status=status,
        category_id=1,
        description="土地出让金返还迟迟未到位",
        created_at=NOW,
        updated_at=NOW,
    )


@pytest.mark.parametrize(("current", "target"), sorted(EXPECTED_ALLOWED))
def test_allowed_transition_is_accepted(current: CaseStatus, target: CaseStatus) -> None:
    check_transition(current, target)


REFUSED = sorted(set(product(S, S)) - EXPECTED_ALLOWED)


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_any_other_transition_is_refused_with_a_domain_error(
    current: CaseStatus, target: CaseStatus
) -> None:
    with pytest.raises(InvalidTransition) as raised:
        check_transition(current, target)
    assert raised.value.message == "该问题当前状态下不能进行此操作。"


def test_the_table_allows_exactly_the_specified_transitions() -> None:
    table = {(a, b) for a, targets in ALLOWED.items() for b in targets}
    assert table == EXPECTED_ALLOWED


def test_closed_and_withdrawn_cases_are_final() -> None:
    assert not ALLOWED[S.CLOSED]
    assert not ALLOWED[S.WITHDRAWN]


def test_withdrawal_is_impossible_once_an_inspector_signed_for_the_case() -> None:
    for status in (S.ACCEPTED, S.IN_PROGRESS, S.RESOLVED, S.REOPENED, S.CLOSED):
        with pytest.raises(InvalidTransition):
            check_transition(status, S.WITHDRAWN)


def test_transition_changes_the_status_and_records_who_did_what() -> None:
    case = make_case(S.ASSIGNED)
    inspector = Actor(ActorType.INSPECTOR, 7)
    event = transition(case, S.ACCEPTED, EventKind.ACCEPTED, inspector, NOW, note="已签收")
    assert case.status is S.ACCEPTED
    assert (event.from_status, event.to_status) == (S.ASSIGNED, S.ACCEPTED)
    assert (event.actor_type, event.actor_id, event.note) == (ActorType.INSPECTOR, 7, "已签收")
    assert event.seq == 1
    assert case.event_count == 1
    assert case.last_event_hash == event.hash


def test_refused_transition_leaves_the_case_untouched() -> None:
    case = make_case(S.CLOSED)
    with pytest.raises(InvalidTransition):
        transition(case, S.REOPENED, EventKind.REOPENED, SYSTEM, NOW)
    assert case.status is S.CLOSED
    assert case.event_count == 0
    assert case.last_event_hash == ""


@pytest.mark.parametrize(
    ("status", "track", "label"),
    [
        (S.SUBMITTED, Track.APPEAL, "已提交，待受理"),
        (S.ACCEPTED, Track.APPEAL, "已受理"),
        (S.IN_PROGRESS, Track.APPEAL, "办理中"),
        (S.REOPENED, Track.APPEAL, "重新办理中"),
        (S.RESOLVED, Track.APPEAL, "已办结"),
        (S.SUBMITTED, Track.CLUE, "已提交，待受理"),
        (S.ASSIGNED, Track.CLUE, "已提交，待受理"),
        (S.ACCEPTED, Track.CLUE, "已受理"),
        (S.IN_PROGRESS, Track.CLUE, "已受理"),
        (S.RETURNED, Track.CLUE, "已提交，待受理"),
        (S.CLOSED, Track.CLUE, "已办结"),
    ],
)
def test_reporter_sees_plain_statuses_and_a_clue_accepted_only_once_a_person_accepted_it(
    status: CaseStatus, track: Track, label: str
) -> None:
    assert reporter_label(status, track) == label


def test_a_clue_its_reporter_was_told_is_accepted_stays_accepted_while_it_changes_teams() -> None:
    clue = make_case(S.SUBMITTED)
    clue.track = Track.CLUE
    assert reporter_status(clue) == "已提交，待受理"
    clue.first_reply_at = NOW  # 签收 told the reporter 已受理; then 转办 to another team
    assert reporter_status(clue) == "已受理"
    appeal = make_case(S.SUBMITTED)
    appeal.first_reply_at = NOW  # an appeal's reporter is told of the move and waits again
    assert reporter_status(appeal) == "已提交，待受理"
