"""分析研判: what the figures say, found by rules over this period and the one before.

Each finding carries its figure; the texts of 问题分析, 典型案例, 工作中存在的问题 and 下一步工作
建议 are written from the findings by the rules in ``templates/analysis.j2``, so a sentence (and
a recommendation) appears only when its finding does, and names the team, category or zone the
figures point at.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.case import Satisfaction
from models.clock import ClockKind
from reports.figures import NO_ZONE, Figures, Share, TeamTimeliness, TypicalCase, ratio

CONCENTRATION_SHARE = 0.3
"""A category with at least this share of the cases received is where problems cluster."""

ZONE_SHARE = 0.5
"""A zone with at least this share of the cases (of two or more zones reporting) stands out."""

OVERDUE_TEAM_SHARE = 0.3
"""A team with at least this share of the overdue cases is named (the team with most, always)."""

RISE_MIN = 2
"""A category rising by at least this many cases on the previous period is a change to explain."""

TOP = 3

# --- 重复件 (issue 17) ---
REPEAT_SHARE = 0.1
"""重复件 of at least this share of the cases received (and two or more) is a problem in the work."""

REPEAT_CLUSTER_SHARE = 0.4
"""A zone or category with at least this share of the 重复件 (two or more) is where they recur."""
RECTIFICATION_TARGET = 0.9
"""整改到位率 below this is a problem and earns a recommendation (``[rectification] target``)."""


@dataclass(frozen=True, slots=True)
class CategoryChange:
    """A category's cases this period and last."""

    name: str
    current: int
    previous: int

    @property
    def delta(self) -> int:
        return self.current - self.previous


@dataclass
class Analysis:
    """The findings of one report: where problems cluster, what changed and recurs, what went
    wrong in the work, each with the figure it rests on."""

    f: Figures
    p: Figures
    on_time_target: float
    satisfaction_target: float
    top_categories: list[Share] = field(default_factory=list)
    concentrated: Share | None = None
    zones: list[Share] = field(default_factory=list)
    zone_concentrated: Share | None = None
    teams: list[Share] = field(default_factory=list)
    rising: list[CategoryChange] = field(default_factory=list)
    falling: list[CategoryChange] = field(default_factory=list)
    persistent: list[str] = field(default_factory=list)
    recurring_category: Share | None = None  # most of the repeat reporters' cases
    overdue_teams: list[Share] = field(default_factory=list)
    accept_late: int = 0
    resolve_late: int = 0
    low_on_time: bool = False
    slowest_team: TeamTimeliness | None = None
    unsatisfied: int = 0
    low_satisfaction: bool = False
    unsatisfied_team: Share | None = None
    # 立案 (issue 17): read from ``f.filed`` by the templates; nothing to find beyond the figures.
    # 重复件 (issue 17)
    repeat_share: float | None = None  # of the cases received
    repeats_notable: bool = False
    repeat_zone: Share | None = None
    repeat_category: Share | None = None
    # 整改: overdue or late rectifications, and a low 整改到位率 (``_rectification``)
    rectification_target: float = RECTIFICATION_TARGET
    rectification_problem: bool = False
    low_rectification: bool = False
    aftercare_yes: int = 0  # 打击报复回访: 有 answers (each opened a clue)

    @property
    def typical(self) -> list[TypicalCase]:
        return self.f.typical

    @property
    def has_problems(self) -> bool:
        """Whether 工作中存在的问题 has anything to say."""
        return bool(
            self.f.overdue_count
            or self.accept_late
            or self.resolve_late
            or self.low_on_time
            or self.unsatisfied
            or self.low_satisfaction
            or self.f.recurring_count
            or self.repeats_notable
            or self.rectification_problem
            or self.aftercare_yes
        )


def _top(shares: list[Share]) -> list[Share]:
    return [share for share in shares if share.count][:TOP]


def analyse(
    current: Figures,
    previous: Figures,
    *,
    on_time_target: float,
    satisfaction_target: float,
    rectification_target: float = RECTIFICATION_TARGET,
) -> Analysis:
    """The findings of ``current`` against ``previous`` (the period before, equally long)."""
    a = Analysis(
        f=current,
        p=previous,
        on_time_target=on_time_target,
        satisfaction_target=satisfaction_target,
    )
    a.top_categories = _top(current.by_category)
    first = a.top_categories[0] if a.top_categories else None
    if first is not None and first.count >= 2 and (first.share or 0) >= CONCENTRATION_SHARE:
        a.concentrated = first
    a.zones = [share for share in current.by_zone if share.count]
    if len(a.zones) >= 2 and a.zones[0].count >= 2 and (a.zones[0].share or 0) >= ZONE_SHARE:
        a.zone_concentrated = a.zones[0]
    a.teams = [share for share in current.by_team if share.count]

    before = {share.name: share.count for share in previous.by_category}
    changes = [
        CategoryChange(share.name, share.count, before.get(share.name, 0))
        for share in current.by_category
    ]
    a.rising = sorted(
        (c for c in changes if c.delta >= RISE_MIN), key=lambda c: (-c.delta, c.name)
    )[:TOP]
    a.falling = sorted(
        (c for c in changes if c.delta <= -RISE_MIN), key=lambda c: (c.delta, c.name)
    )[:TOP]
    if previous.received:
        earlier = {share.name for share in _top(previous.by_category)}
        a.persistent = [share.name for share in a.top_categories if share.name in earlier]
    mix = current.recurring_by_category
    if mix and (len(mix) == 1 or mix[0].count > mix[1].count):
        a.recurring_category = mix[0]
    named = [s for s in current.overdue_by_team if (s.share or 0) >= OVERDUE_TEAM_SHARE]
    a.overdue_teams = named[:TOP] or current.overdue_by_team[:1]
    a.accept_late = current.clock(ClockKind.ACCEPT).late
    a.resolve_late = current.clock(ClockKind.RESOLVE).late
    rate = current.on_time_rate
    a.low_on_time = rate is not None and rate < on_time_target
    below = [
        t
        for t in current.timeliness_by_team
        if t.resolve.rate is not None and t.resolve.rate < on_time_target
    ]
    if below:
        a.slowest_team = min(below, key=lambda t: (t.resolve.rate or 0, -t.resolve.late, t.name))
    a.unsatisfied = current.satisfaction.get(Satisfaction.UNSATISFIED, 0)
    satisfied = current.satisfaction_rate
    a.low_satisfaction = satisfied is not None and satisfied < satisfaction_target
    if current.unsatisfied_by_team:
        a.unsatisfied_team = current.unsatisfied_by_team[0]
    _repeat_findings(a)
    _rectification(a, rectification_target)
    a.aftercare_yes = current.aftercare.answered_yes  # 打击报复回访
    return a


def _cluster(shares: list[Share]) -> Share | None:
    """The first of ``shares`` (most first) when it holds enough of the 重复件 to name."""
    named = [share for share in shares if share.name != NO_ZONE]  # not a place to name
    first = named[0] if named else None
    if first is None or first.count < 2 or (first.share or 0) < REPEAT_CLUSTER_SHARE:
        return None
    return first


def _repeat_findings(a: Analysis) -> None:
    """重复件: their share of the cases received, whether that is a problem, where they recur (a
    zone's report does not name its own zone)."""
    repeats = a.f.repeats
    a.repeat_share = ratio(repeats.flagged, a.f.received)
    a.repeats_notable = repeats.flagged >= 2 and (a.repeat_share or 0) >= REPEAT_SHARE
    if a.f.scope.zone_id is None:
        a.repeat_zone = _cluster(repeats.by_zone)
    a.repeat_category = _cluster(repeats.by_category)


def _rectification(a: Analysis, target: float) -> None:
    """整改: a problem when a rectification is overdue now or was verified late in the period;
    the 整改到位率 low when below ``target``."""
    r = a.f.rectification
    a.rectification_target = target
    a.rectification_problem = bool(r.overdue or r.verified_late)
    a.low_rectification = r.rate is not None and r.rate < target
