"""What the sweep decides for one due clock (``plan_clock``): pure, no database."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import datetime

import pytest

from bot.config import LiankaConfig
from bot.services import sweep_plan
from bot.services.people import Directory
from bot.services.sweep_plan import (
    CaseRow,
    ClockRow,
    Notice,
    SweepContext,
    _due_text,
    plan_clock,
)
from models import notification
from models.calendar import SHANGHAI, WorkCalendar
from models.case import Case, CaseStatus, Outcome, Satisfaction
from models.clock import (
    VALID_STATUSES,
    CaseClock,
    ClockKind,
    ClockStage,
    ClockState,
    escalation_time,
    new_clock,
)
from models.event import EventKind
from models.notification import Offer, RecipientKind
from models.org import Category, Track
from models.reporter import Reporter
from models.team import Inspector, Role, Team
from models.types import utc
from notifications.outbox import shape
from notifications.render import render_notice
from notifications.texts import case_params

CAL = WorkCalendar()
ASSIGNEE, TEAM_LEADER, LEADER = 1, 2, 3


def sh(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return utc(datetime(year, month, day, hour, tzinfo=SHANGHAI))


START = sh(2026, 12, 7, 10)  # a Monday


def _person(id_: int, role: Role, team_id: int | None) -> Inspector:
    return Inspector(
        id=id_, name=f"人{id_}", role=role, team_id=team_id, chat_id=100 + id_, created_at=START
    )


@pytest.fixture
def ctx(config: LiankaConfig) -> SweepContext:
    people = [
        _person(ASSIGNEE, Role.INSPECTOR, 1),
        _person(TEAM_LEADER, Role.TEAM_LEADER, 1),
        _person(LEADER, Role.LEADER, None),
    ]
    return SweepContext(
        config=config,
        calendar=CAL,
        directory=Directory({p.id or 0: p for p in people}),
        categories={
            1: Category(id=1, code="business_env", name="营商环境", track=Track.APPEAL),
            2: Category(id=2, code="soe_corruption", name="国企腐败", track=Track.CLUE),
        },
        teams={1: Team(id=1, code="business_env", name="营商环境组")},
        reporters={5: Reporter(id=5, telegram_user_id=500, chat_id=500, created_at=START)},
    )


def _case(status: CaseStatus, *, assignee: int | None = ASSIGNEE, clue: bool = False) -> Case:
    return Case(
        id=7,
        number="AJ2026-0007",
        track=Track.CLUE if clue else Track.APPEAL,
        status=status,
        category_id=2 if clue else 1,
        team_id=1,
        assignee_id=assignee,
        reporter_id=5,
        description="土地出让金返还未到位。",
        outcome=Outcome.SOLVED if status is CaseStatus.RESOLVED else None,
        created_at=START,
        updated_at=START,
    )


def _clock(kind: ClockKind, workdays: int = 3) -> CaseClock:
    clock = new_clock(7, kind, workdays, calendar=CAL, now=START, warn_before=1)
    clock.id = 9
    return clock


def _told(notices: list[Notice]) -> list[tuple[RecipientKind, int]]:
    return [(n.recipient.kind, n.recipient.id) for n in notices]


def test_before_its_deadline_a_clock_warns_the_assignee_and_next_looks_at_the_deadline(
    ctx: SweepContext,
) -> None:
    clock = _clock(ClockKind.RESOLVE)
    assert clock.next_action_at is not None
    plan = plan_clock(ctx, clock, _case(CaseStatus.ACCEPTED), clock.next_action_at)
    assert plan.steps == ["warning"]
    assert plan.stage == ClockStage.WARNED and plan.next_action_at == clock.due_at
    assert _told(plan.notices) == [(RecipientKind.INSPECTOR, ASSIGNEE)]
    assert plan.notices[0].kind == "resolve_warning"
    assert plan.notices[0].offer == Offer.CASE_WORK.on(7)
    assert plan.events[0][0] is EventKind.REMINDED


def test_an_unassigned_case_warns_its_team_leaders_with_the_assign_button(
    ctx: SweepContext,
) -> None:
    clock = _clock(ClockKind.ACCEPT)
    assert clock.next_action_at is not None
    plan = plan_clock(ctx, clock, _case(CaseStatus.SUBMITTED, assignee=None), clock.next_action_at)
    assert _told(plan.notices) == [(RecipientKind.INSPECTOR, TEAM_LEADER)]
    assert plan.notices[0].offer == Offer.LEADER_ASSIGN.on(7)


def test_a_clock_found_past_its_deadline_skips_the_warning_and_tells_assignee_and_team_leader(
    ctx: SweepContext,
) -> None:
    clock = _clock(ClockKind.RESOLVE)
    plan = plan_clock(ctx, clock, _case(CaseStatus.IN_PROGRESS), sh(2026, 12, 10, 19))
    assert plan.steps == ["overdue"]
    assert plan.stage == ClockStage.OVERDUE
    assert plan.next_action_at == escalation_time(CAL, clock.due_at, 2)
    assert _told(plan.notices) == [
        (RecipientKind.INSPECTOR, ASSIGNEE),
        (RecipientKind.INSPECTOR, TEAM_LEADER),
    ]


def test_an_overdue_clock_goes_to_the_leaders_once_the_escalation_days_have_passed(
    ctx: SweepContext,
) -> None:
    clock = _clock(ClockKind.RESOLVE)
    clock.stage = ClockStage.OVERDUE
    plan = plan_clock(ctx, clock, _case(CaseStatus.IN_PROGRESS), sh(2026, 12, 14, 18))
    assert plan.steps == ["escalated"]
    assert plan.stage == ClockStage.ESCALATED and plan.next_action_at is None
    assert _told(plan.notices) == [(RecipientKind.INSPECTOR, LEADER)]
    assert plan.events[0][0] is EventKind.ESCALATED


def test_an_escalated_clue_tells_the_leaders_it_is_overdue_but_not_its_number_or_matter(
    ctx: SweepContext,
) -> None:
    clock = _clock(ClockKind.RESOLVE)
    clock.stage = ClockStage.OVERDUE
    plan = plan_clock(ctx, clock, _case(CaseStatus.IN_PROGRESS, clue=True), sh(2026, 12, 14, 18))
    assert _told(plan.notices) == [(RecipientKind.INSPECTOR, LEADER)]
    text = render_notice(plan.notices[0].says)
    assert "一件问题线索" in text and "逾期" in text
    for secret in ("AJ2026-0007", "国企腐败", "营商环境组", "人1", "土地"):
        assert secret not in text
    assert plan.notices[0].digest_line is not None
    assert "AJ2026-0007" not in str(plan.notices[0].digest_line)


def test_an_escalated_appeal_names_its_number_matter_and_who_has_it(ctx: SweepContext) -> None:
    clock = _clock(ClockKind.RESOLVE)
    clock.stage = ClockStage.OVERDUE
    plan = plan_clock(ctx, clock, _case(CaseStatus.IN_PROGRESS), sh(2026, 12, 14, 18))
    text = render_notice(plan.notices[0].says)
    assert "AJ2026-0007" in text and "营商环境" in text and "人1" in text


def test_a_supervised_case_reaches_the_leaders_at_its_deadline(ctx: SweepContext) -> None:
    clock = _clock(ClockKind.RESOLVE)
    case = _case(CaseStatus.IN_PROGRESS)
    case.supervised = True
    plan = plan_clock(ctx, clock, case, clock.due_at)
    assert plan.steps == ["overdue", "escalated"]
    assert plan.stage == ClockStage.ESCALATED and plan.next_action_at is None


def test_a_clock_whose_case_has_moved_on_is_cancelled_without_a_notice(ctx: SweepContext) -> None:
    clock = _clock(ClockKind.ACCEPT)
    plan = plan_clock(ctx, clock, _case(CaseStatus.ACCEPTED), clock.due_at)
    assert plan.steps == ["cancelled"]
    assert plan.state is ClockState.CANCELLED and plan.notices == []


def test_the_followup_question_waits_for_nine_on_its_day_then_asks_the_reporter(
    ctx: SweepContext,
) -> None:
    clock = _clock(ClockKind.FOLLOWUP, 2)
    case = _case(CaseStatus.RESOLVED)
    early = plan_clock(ctx, clock, case, sh(2026, 12, 9, 8))
    assert early.steps == [] and early.next_action_at == sh(2026, 12, 9, 9)

    plan = plan_clock(ctx, clock, case, sh(2026, 12, 9, 9))
    assert plan.steps == ["ask"] and plan.stage == 1
    assert plan.restart_workdays == ctx.config.ladder_for("business_env").followup_wait
    assert _told(plan.notices) == [(RecipientKind.REPORTER, 5)]
    assert plan.notices[0].offer == Offer.FOLLOWUP.on(7)
    assert not plan.close


def test_an_unanswered_followup_closes_the_case_as_unrated(ctx: SweepContext) -> None:
    clock = _clock(ClockKind.FOLLOWUP, 2)
    clock.stage = 1
    plan = plan_clock(ctx, clock, _case(CaseStatus.RESOLVED), clock.due_at)
    assert plan.steps == ["unrated"]
    assert plan.close and plan.close_as is Satisfaction.UNRATED
    assert plan.state is ClockState.MET and plan.notices == []


def test_a_clue_is_closed_after_resolving_without_asking_the_reporter(ctx: SweepContext) -> None:
    clock = _clock(ClockKind.FOLLOWUP, 2)
    plan = plan_clock(ctx, clock, _case(CaseStatus.RESOLVED, clue=True), sh(2026, 12, 9, 9))
    assert plan.steps == ["closed"]
    assert plan.close and plan.close_as is None and plan.notices == []


def test_planning_changes_nothing_so_a_dry_run_and_a_real_run_agree(ctx: SweepContext) -> None:
    clock = _clock(ClockKind.RESOLVE)
    case = _case(CaseStatus.IN_PROGRESS)
    before = (clock.model_dump(), case.model_dump())
    first = plan_clock(ctx, clock, case, sh(2026, 12, 10, 19))
    second = plan_clock(ctx, clock, case, sh(2026, 12, 10, 19))
    assert first == second
    assert (clock.model_dump(), case.model_dump()) == before


def test_a_deadline_notice_says_exactly_what_notice_of_would_make_of_its_parameters(
    ctx: SweepContext,
) -> None:
    """The sweep builds its notices' parameters as plain values itself (thousands at a
    catch-up): they must be what ``Notice.of`` encodes — the stored row and its rendering
    are the same whichever way it was built."""
    clock = _clock(ClockKind.RESOLVE)
    case = _case(CaseStatus.IN_PROGRESS)
    case.supervised = True
    plan = plan_clock(ctx, clock, case, sh(2026, 12, 10, 19))
    assert [n.kind for n in plan.notices] == [
        "resolve_overdue",
        "resolve_overdue",
        "resolve_escalated",
    ]
    now = sh(2026, 12, 10, 19)
    expected = notification.Notice.of(
        "deadline_overdue",
        case=case_params(case),
        clock="resolve",
        label=ClockKind.RESOLVE.label,
        category="营商环境",
        team="营商环境组",
        assignee="人1",
        to_assignee=True,
        due_text=_due_text(CAL, clock.due_at, now),
        provisional=clock.provisional,
        escalate_after=ctx.config.deadlines.escalate_after,
        supervised=True,
        hidden_clue=False,
    )
    assert plan.notices[0].says == expected
    assert list(plan.notices[0].says.params) == list(expected.params)
    assert [n.says.params["to_assignee"] for n in plan.notices] == [True, False, False]
    assert render_notice(plan.notices[0].says).startswith("【督办】【逾期】问题 AJ2026-0007")


@pytest.mark.parametrize("names", ["人", "Li"])
def test_every_deadline_notice_is_checked_as_its_own_shape_however_many_are_alike(
    ctx: SweepContext, names: str
) -> None:
    """The sweep works out a deadline notice's ``shape`` once for the notices alike (the
    outbox renders one notice of each shape to check it): for notices of every kind, step,
    track, flag, name and number, the shape it carries is the one ``shape`` gives its own
    parameters, so none skips a check that a notice of another shape passed."""
    people = dict(ctx.directory.by_id)
    for person in people.values():
        person.name = f"{names}{person.id}"
    people[4] = _person(4, Role.INSPECTOR, 1)  # named 人4 alongside Li1 …
    ctx.teams[1].name = "营商环境组" if names == "人" else "business"
    ctx = replace(ctx, directory=Directory(people), known={})
    kinds = (ClockKind.ACCEPT, ClockKind.FIRST_REPLY, ClockKind.RESOLVE, ClockKind.SUPERVISION)
    times = (sh(2026, 12, 8, 12), sh(2026, 12, 10, 19), sh(2026, 12, 21, 19))
    checked = 0
    for kind, clue, assignee, supervised, reopened, number, category, now in itertools.product(
        kinds, (False, True), (ASSIGNEE, 4, None), (False, True), (0, 2),
        ("AJ2026-0007", "AJ20260007"), (1, 99), times,
    ):  # fmt: skip
        case = _case(next(iter(VALID_STATUSES[kind])), assignee=assignee, clue=clue)
        case.supervised, case.reopen_count, case.number = supervised, reopened, number
        case.category_id = category
        for notice in plan_clock(ctx, _clock(kind), case, now).notices:
            assert notice.shape == shape(notice.says), notice.key
            checked += 1
    assert checked > 500


def test_a_deadline_notice_with_a_parameter_the_shape_key_does_not_know_is_refused(
    ctx: SweepContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parameter added to the deadline notices without adding it to the key their shape is
    worked out once by would let a notice skip the render check another shape passed: the
    sweep refuses to plan such a notice (any test of a due clock then fails) rather than guess."""

    def with_more(**params: object) -> dict[str, object]:
        return {**params, "urgent": True}

    monkeypatch.setattr(sweep_plan, "deadline_params", with_more)
    case = _case(CaseStatus.IN_PROGRESS)
    with pytest.raises(TypeError, match="_alike"):
        plan_clock(ctx, _clock(ClockKind.RESOLVE), case, sh(2026, 12, 21, 19))


def test_the_sweep_plans_from_rows_as_it_does_from_the_orm_objects(ctx: SweepContext) -> None:
    """The sweep reads clocks and cases as plain rows (``ClockRow``, ``CaseRow``): a plan made
    from them is the plan made from the ``CaseClock`` and ``Case`` they are rows of."""
    clock = _clock(ClockKind.RESOLVE)
    case = _case(CaseStatus.IN_PROGRESS)
    now = sh(2026, 12, 14, 18)
    from_rows = plan_clock(
        ctx,
        ClockRow([getattr(clock, name) for name in ClockRow.COLUMNS]),
        CaseRow([getattr(case, name) for name in CaseRow.COLUMNS]),
        now,
    )
    assert from_rows == plan_clock(ctx, clock, case, now)
