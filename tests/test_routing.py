"""Routing rules (分办) and the choice of inspector inside a team."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from models.policy import RoutingRule
from models.routing import (
    Candidate,
    RoutingDecision,
    choose_team,
    pick_assignee,
    rule_matches,
)

DESCRIPTION = "经开区管委会承诺的土地出让金返还至今未到位，企业资金链断裂。"
RULES = (
    RoutingRule(
        name="经开区资金返还", team="business_env", zones=("jkq",), keywords=("出让金", "返还")
    ),
    RoutingRule(name="营商环境", team="business_env", categories=("business_env",)),
    RoutingRule(name="安全生产", team="safety", categories=("work_safety",)),
    RoutingRule(
        name="四风·经开区", team="four_styles", categories=("four_styles",), zones=("jkq",)
    ),
)


def route(
    category: str,
    zone: str | None,
    text: str = "一般问题描述，不含关键词。",
    inactive_teams: frozenset[str] = frozenset(),
) -> RoutingDecision:
    return choose_team(
        RULES,
        category_code=category,
        zone_code=zone,
        description=text,
        dispatcher_code="dispatch",
        inactive_teams=inactive_teams,
    )


def test_a_category_rule_routes_to_its_team() -> None:
    decision = route("work_safety", "anju")
    assert (decision.team_code, decision.rule) == ("safety", "安全生产")


def test_a_zone_and_keyword_rule_wins_when_it_comes_first() -> None:
    decision = route("other", "jkq", DESCRIPTION)
    assert (decision.team_code, decision.rule) == ("business_env", "经开区资金返还")


def test_keywords_alone_do_not_match_outside_the_rules_zone() -> None:
    assert route("other", "anju", DESCRIPTION).team_code == "dispatch"


def test_category_and_zone_must_both_hold() -> None:
    assert route("four_styles", "jkq").team_code == "four_styles"
    assert route("four_styles", "ximei").team_code == "dispatch"


def test_a_card_without_a_zone_does_not_match_zone_rules() -> None:
    assert route("four_styles", None).team_code == "dispatch"


def test_nothing_matched_goes_to_the_dispatcher_with_no_rule() -> None:
    decision = route("other", "yufeng")
    assert (decision.team_code, decision.rule) == ("dispatch", None)


def test_a_rule_naming_a_retired_team_is_skipped() -> None:
    decision = route("work_safety", "anju", inactive_teams=frozenset({"safety"}))
    assert decision.team_code == "dispatch"


def test_keywords_match_full_width_and_case_insensitively() -> None:
    rule = RoutingRule(team="t", keywords=("ppp项目",))
    assert rule_matches(rule, category_code="x", zone_code=None, description="关于ＰＰＰ项目的回款")


def test_an_unnamed_rule_is_labelled_by_its_team() -> None:
    assert RoutingRule(team="safety", categories=("work_safety",)).label == "→safety"


T0 = datetime(2026, 11, 2, tzinfo=UTC)


def test_the_inspector_with_fewest_open_cases_gets_the_case() -> None:
    assert pick_assignee([Candidate(1, 3, T0), Candidate(2, 1, T0), Candidate(3, 2, T0)]) == 2


def test_a_tie_goes_to_the_inspector_idle_the_longest() -> None:
    candidates = [
        Candidate(1, 1, T0 + timedelta(hours=5)),
        Candidate(2, 1, T0),
        Candidate(3, 1, T0 + timedelta(hours=1)),
    ]
    assert pick_assignee(candidates) == 2


def test_someone_never_assigned_counts_as_idlest() -> None:
    assert pick_assignee([Candidate(1, 0, T0), Candidate(2, 0, None)]) == 2


def test_inactive_inspectors_are_never_chosen() -> None:
    assert pick_assignee([Candidate(1, 0, None, active=False), Candidate(2, 9, T0)]) == 2


def test_an_empty_team_or_a_team_of_inactive_inspectors_has_no_assignee() -> None:
    assert pick_assignee([]) is None
    assert pick_assignee([Candidate(1, 0, None, active=False)]) is None


candidates = st.lists(
    st.builds(
        Candidate,
        inspector_id=st.integers(1, 10_000),
        open_cases=st.integers(0, 50),
        last_assigned_at=st.none() | st.datetimes(timezones=st.just(UTC)),
        active=st.booleans(),
    ),
    max_size=12,
    unique_by=lambda c: c.inspector_id,
)


@settings(deadline=None)  # no 200 ms limit per example: a busy machine exceeds it
@given(candidates)
def test_the_chosen_inspector_is_active_and_no_active_one_has_fewer_cases(
    cs: list[Candidate],
) -> None:
    chosen = pick_assignee(cs)
    active = [c for c in cs if c.active]
    if not active:
        assert chosen is None
        return
    winner = next(c for c in cs if c.inspector_id == chosen)
    assert winner.active
    assert winner.open_cases == min(c.open_cases for c in active)
