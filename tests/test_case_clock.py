"""The deadline clock as the domain has it: pure, a calendar and `now` in, no database."""

from __future__ import annotations

from datetime import date, datetime

from models.calendar import SHANGHAI, DayInfo, WorkCalendar
from models.case import WORKING_STATUSES, CaseStatus
from models.clock import (
    DEADLINE_CLOCKS,
    VALID_STATUSES,
    CaseClock,
    ClockKind,
    ClockStage,
    ClockState,
    escalation_time,
    followup_ask_time,
    new_clock,
    warning_time,
)
from models.types import utc

CAL = WorkCalendar()  # 2026 from the State Council schedule (chinesecalendar)
WARN = 1


def sh(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return utc(datetime(year, month, day, hour, minute, tzinfo=SHANGHAI))


def started(
    workdays: int, now: datetime, kind: ClockKind = ClockKind.RESOLVE, calendar: WorkCalendar = CAL
) -> CaseClock:
    return new_clock(1, kind, workdays, calendar=calendar, now=now, warn_before=WARN)


def state_of(clock: CaseClock) -> ClockState:
    """The state now (a plain read, so that mypy does not keep an earlier narrowing)."""
    return clock.state


def test_a_clock_is_due_at_office_close_n_working_days_later_skipping_the_weekend() -> None:
    clock = started(3, sh(2026, 12, 4, 10))  # a Friday
    assert clock.due_at == sh(2026, 12, 9, 18)  # Wednesday
    assert clock.state is ClockState.RUNNING and clock.stage == ClockStage.NONE
    assert clock.workdays == 3 and not clock.provisional


def test_the_spring_festival_does_not_count_but_its_make_up_saturday_does() -> None:
    friday = sh(2026, 2, 13, 10)
    assert started(1, friday).due_at == sh(2026, 2, 14, 18)  # 春节调休上班 (a Saturday)
    assert started(2, friday).due_at == sh(2026, 2, 24, 18)  # after 15–23 Feb


def test_a_make_up_day_loaded_into_the_calendar_counts_as_a_working_day() -> None:
    calendar = WorkCalendar({date(2026, 12, 12): DayInfo(True, "演示调休上班")})
    friday = sh(2026, 12, 11, 10)
    assert started(1, friday, calendar=calendar).due_at == sh(2026, 12, 12, 18)
    assert started(1, friday).due_at == sh(2026, 12, 14, 18)


def test_a_clock_over_a_year_without_the_official_schedule_is_provisional() -> None:
    clock = started(3, sh(2099, 12, 1, 10))
    assert clock.provisional


def test_the_warning_comes_at_office_close_the_working_day_before_the_deadline() -> None:
    clock = started(3, sh(2026, 12, 4, 10))
    assert clock.next_action_at == sh(2026, 12, 8, 18)


def test_a_clock_too_short_to_warn_a_day_before_warns_at_nine_on_its_due_day() -> None:
    clock = started(1, sh(2026, 12, 4, 10))
    assert clock.due_at == sh(2026, 12, 7, 18)
    assert clock.next_action_at == sh(2026, 12, 7, 9)


def test_a_warning_is_never_before_the_clock_started() -> None:
    now = sh(2026, 12, 7, 10)
    assert warning_time(CAL, now, sh(2026, 12, 7, 18), WARN) == now


def test_without_a_warning_day_the_warning_comes_at_nine_on_the_due_day() -> None:
    assert warning_time(CAL, sh(2026, 12, 4, 10), sh(2026, 12, 9, 18), 0) == sh(2026, 12, 9, 9)


def test_escalation_comes_at_office_close_working_days_after_the_deadline() -> None:
    assert escalation_time(CAL, sh(2026, 12, 10, 18), 2) == sh(2026, 12, 14, 18)
    assert escalation_time(CAL, sh(2026, 12, 10, 18), 0) == sh(2026, 12, 10, 18)


def test_the_followup_question_goes_out_at_nine_on_its_due_day_never_before_resolving() -> None:
    clock = started(2, sh(2026, 12, 4, 10), ClockKind.FOLLOWUP)
    assert followup_ask_time(CAL, clock) == sh(2026, 12, 8, 9)
    same_day = started(0, sh(2026, 12, 7, 11), ClockKind.FOLLOWUP)
    assert followup_ask_time(CAL, same_day) == sh(2026, 12, 7, 11)


def test_a_paused_clock_is_silent_and_resuming_moves_the_deadline_by_the_working_days_paused() -> (
    None
):
    clock = started(5, sh(2026, 12, 7, 10))
    assert clock.due_at == sh(2026, 12, 14, 18)
    assert clock.pause(sh(2026, 12, 8, 10))
    assert state_of(clock) is ClockState.PAUSED and clock.next_action_at is None
    assert not clock.pause(sh(2026, 12, 8, 11))  # already paused
    assert clock.paused_at == sh(2026, 12, 8, 10)

    now = sh(2026, 12, 10, 15)
    assert clock.resume(calendar=CAL, now=now, warn_before=WARN)
    assert state_of(clock) is ClockState.RUNNING and clock.paused_at is None
    assert clock.due_at == sh(2026, 12, 16, 18)  # two working days later (Wed, Thu)
    assert clock.next_action_at == sh(2026, 12, 15, 18)
    assert clock.workdays == 5 and clock.extended_days == 0


def test_a_pause_over_a_weekend_moves_the_deadline_by_working_days_only() -> None:
    clock = started(5, sh(2026, 12, 7, 10))
    clock.pause(sh(2026, 12, 11, 10))  # Friday
    clock.resume(calendar=CAL, now=sh(2026, 12, 14, 10), warn_before=WARN)  # Monday
    assert clock.due_at == sh(2026, 12, 15, 18)


def test_a_pause_answered_the_same_day_leaves_the_deadline_where_it_was() -> None:
    clock = started(5, sh(2026, 12, 7, 10))
    clock.pause(sh(2026, 12, 8, 10))
    clock.resume(calendar=CAL, now=sh(2026, 12, 8, 16), warn_before=WARN)
    assert clock.due_at == sh(2026, 12, 14, 18)


def test_resuming_a_clock_that_was_not_paused_changes_nothing() -> None:
    clock = started(5, sh(2026, 12, 7, 10))
    before = clock.model_dump()
    assert not clock.resume(calendar=CAL, now=sh(2026, 12, 9, 10), warn_before=WARN)
    assert clock.model_dump() == before


def test_an_extension_moves_the_deadline_and_warns_afresh() -> None:
    clock = started(5, sh(2026, 12, 7, 10))
    clock.stage = ClockStage.WARNED
    clock.extend(5, calendar=CAL, now=sh(2026, 12, 10, 10), warn_before=WARN)
    assert clock.due_at == sh(2026, 12, 21, 18)
    assert clock.workdays == 10 and clock.extended_days == 5
    assert clock.stage == ClockStage.NONE
    assert clock.next_action_at == sh(2026, 12, 18, 18)


def test_an_extension_that_leaves_the_clock_overdue_keeps_its_stage_and_is_looked_at_at_once() -> (
    None
):
    clock = started(1, sh(2026, 12, 7, 10))
    clock.stage = ClockStage.OVERDUE
    now = sh(2026, 12, 10, 12)
    clock.extend(1, calendar=CAL, now=now, warn_before=WARN)
    assert clock.due_at == sh(2026, 12, 9, 18)
    assert clock.stage == ClockStage.OVERDUE
    assert clock.next_action_at == now


def test_meeting_a_clock_twice_keeps_the_first_time() -> None:
    clock = started(5, sh(2026, 12, 7, 10))
    assert clock.meet(sh(2026, 12, 8, 10))
    assert not clock.meet(sh(2026, 12, 9, 10))
    assert clock.state is ClockState.MET and clock.met_at == sh(2026, 12, 8, 10)
    assert clock.next_action_at is None


def test_a_met_clock_is_not_cancelled_and_a_cancelled_one_is_not_met() -> None:
    met = started(5, sh(2026, 12, 7, 10))
    met.meet(sh(2026, 12, 8, 10))
    assert not met.cancel()
    assert met.state is ClockState.MET

    cancelled = started(5, sh(2026, 12, 7, 10))
    assert cancelled.cancel()
    assert not cancelled.cancel()
    assert not cancelled.meet(sh(2026, 12, 8, 10))
    assert cancelled.state is ClockState.CANCELLED and cancelled.met_at is None


def test_a_paused_clock_can_be_cancelled_or_met() -> None:
    clock = started(5, sh(2026, 12, 7, 10))
    clock.pause(sh(2026, 12, 8, 10))
    assert clock.meet(sh(2026, 12, 9, 10))
    assert clock.paused_at is None


def test_restarting_a_clock_starts_the_ladder_again_and_forgets_extensions() -> None:
    clock = started(5, sh(2026, 12, 7, 10))
    clock.extend(5, calendar=CAL, now=sh(2026, 12, 8, 10), warn_before=WARN)
    clock.meet(sh(2026, 12, 9, 10))
    clock.start(3, calendar=CAL, now=sh(2026, 12, 14, 10), warn_before=WARN)
    assert clock.state is ClockState.RUNNING and clock.stage == ClockStage.NONE
    assert clock.met_at is None and clock.extended_days == 0 and clock.workdays == 3
    assert clock.started_at == sh(2026, 12, 14, 10)
    assert clock.due_at == sh(2026, 12, 17, 18)


def test_the_deadline_clocks_include_a_clues_disposition_and_rectification_not_the_followup() -> (
    None
):
    assert {
        ClockKind.ACCEPT,
        ClockKind.FIRST_REPLY,
        ClockKind.RESOLVE,
        ClockKind.DISPOSITION,
        ClockKind.SUPERVISION,
        ClockKind.RECTIFICATION,
    } <= set(DEADLINE_CLOCKS)
    assert ClockKind.FOLLOWUP not in DEADLINE_CLOCKS  # 回访 has its own steps
    assert VALID_STATUSES[ClockKind.RECTIFICATION] == WORKING_STATUSES


def test_a_clock_counts_only_while_the_case_is_at_its_step() -> None:
    assert CaseStatus.RETURNED in VALID_STATUSES[ClockKind.ACCEPT]
    assert CaseStatus.ACCEPTED not in VALID_STATUSES[ClockKind.ACCEPT]
    assert CaseStatus.IN_PROGRESS in VALID_STATUSES[ClockKind.FIRST_REPLY]
    assert CaseStatus.REOPENED not in VALID_STATUSES[ClockKind.FIRST_REPLY]
    assert CaseStatus.REOPENED in VALID_STATUSES[ClockKind.RESOLVE]
    assert VALID_STATUSES[ClockKind.FOLLOWUP] == {CaseStatus.RESOLVED}
