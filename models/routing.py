"""分办: which team a case goes to, and which inspector inside the team. Pure functions."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from models.policy import RoutingRule


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The team chosen and why: the rule's label, or None when the dispatcher must route by hand."""

    team_code: str
    rule: str | None


def _normalise(text: str) -> str:
    """Full-width letters and digits to half-width, lower case: 'ＡＢＣ' matches 'abc'."""
    return unicodedata.normalize("NFKC", text).casefold()


def rule_matches(
    rule: RoutingRule, *, category_code: str, zone_code: str | None, description: str
) -> bool:
    """Every condition the rule sets must hold: category in its list, zone in its list, and at
    least one of its keywords in the description."""
    if rule.categories and category_code not in rule.categories:
        return False
    if rule.zones and (zone_code is None or zone_code not in rule.zones):
        return False
    if rule.keywords:
        text = _normalise(description)
        if not any(_normalise(keyword) in text for keyword in rule.keywords):
            return False
    return True


def choose_team(
    rules: Sequence[RoutingRule],
    *,
    category_code: str,
    zone_code: str | None,
    description: str,
    dispatcher_code: str,
    inactive_teams: frozenset[str] = frozenset(),
) -> RoutingDecision:
    """The first matching rule naming an active team wins; no match goes to the dispatcher."""
    for rule in rules:
        if rule.team in inactive_teams:
            continue
        if rule_matches(
            rule, category_code=category_code, zone_code=zone_code, description=description
        ):
            return RoutingDecision(rule.team, rule.label)
    return RoutingDecision(dispatcher_code, None)


@dataclass(frozen=True, slots=True)
class Candidate:
    """An inspector who could take a case, with their current load."""

    inspector_id: int
    open_cases: int
    last_assigned_at: datetime | None
    active: bool = True


def pick_assignee(candidates: Sequence[Candidate]) -> int | None:
    """The active inspector with the fewest open cases; ties go to the one idle the longest
    (never assigned counts as idlest), then the lowest id. None when nobody is active."""
    active = [c for c in candidates if c.active]
    if not active:
        return None
    best = min(
        active,
        key=lambda c: (
            c.open_cases,
            c.last_assigned_at is not None,
            c.last_assigned_at or datetime.min.replace(tzinfo=UTC),
            c.inspector_id,
        ),
    )
    return best.inspector_id
