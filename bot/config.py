"""The organisation's configuration (``lianka.toml``): zones, categories, teams, routing, deadlines.

A broken file is reported as a list of problems, each naming the key, never as a traceback.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from models.org import Track
from models.policy import DeadlineLadder, DeadlineOverride, RoutingRule
from models.team import AssignmentMode

DEFAULT_PRIVACY_NOTICE = (
    "您反映的问题仅用于监督核查，我们依纪依法保护反映人信息。",
    "可以选择匿名反映，任何情况下都不会向被反映单位透露您的身份。",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(_Section):
    name: str = Field(min_length=1, max_length=60, description="e.g. 安居区纪委监委")
    case_prefix: str = Field(description="case numbers look like AJ-2026-00042")
    hotline: str = Field(min_length=3, max_length=40, description="the commission's phone")
    national_hotline: str = "12388"
    address: str | None = Field(default=None, max_length=100)
    default_zone: str | None = None
    allow_start_without_card: bool = False
    privacy_notice: tuple[str, ...] = DEFAULT_PRIVACY_NOTICE
    promises: tuple[str, ...] = ()

    @field_validator("case_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{1,8}", value):
            raise ValueError("应为1至8个大写英文字母 (1–8 upper-case letters), e.g. AJ")
        return value


class ZoneConfig(_Section):
    code: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    name: str = Field(min_length=1, max_length=100)
    issuing_unit: str = Field(min_length=1, max_length=100)


class CategoryConfig(_Section):
    code: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    name: str = Field(min_length=1, max_length=100)
    track: Track
    deadlines: DeadlineOverride | None = None


class TeamConfig(_Section):
    code: str = Field(pattern=r"^[a-z0-9_]{1,40}$")
    name: str = Field(min_length=1, max_length=100)
    leader_name: str | None = Field(default=None, max_length=100)
    categories: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    assignment: AssignmentMode = AssignmentMode.AUTO
    dispatcher: bool = False


class DeadlinesConfig(_Section):
    warn_before: int = Field(default=1, ge=0, le=10)
    escalate_after: int = Field(default=2, ge=0, le=30)
    office_day_end: time = time(18, 0)
    appeal: DeadlineLadder = DeadlineLadder(resolve=15)
    clue: DeadlineLadder = DeadlineLadder(resolve=30)


class LimitsConfig(_Section):
    """Separation of duties and the end of the loop: how far a case's 办结 deadline may be
    extended, in all; how long 退回 stays open; how many 重办 happen without a leader."""

    max_extensions: int = Field(default=2, ge=0, le=10)
    max_extension_days: int = Field(default=30, ge=0, le=120)
    return_within_days: int = Field(default=3, ge=1, le=30)
    """退回 is open until this many working days after 签收 (before 签收, always)."""
    max_reopens: int = Field(default=2, ge=0, le=10)
    """重办 a 不满意 brings by itself; the next 不满意 goes to the 委领导 to decide."""


class ReviewConfig(_Section):
    """组长审核: an appeal's 办结 by an inspector waits for the team leader's sign-off before it
    reaches the reporter (a team leader's own 办结 does not: 组长负责制). A clue is always
    reviewed, on its disposition path."""

    appeal: bool = False


class ClueConfig(_Section):
    """问题线索处置: the working days each approved disposition runs for, who reviews a proposal,
    and what a 实名 reporter is told (``bot.services.dispositions``)."""

    talk_days: int = Field(default=15, ge=1, le=250, description="谈话函询")
    verify_days: int = Field(default=30, ge=1, le=250, description="初步核实")
    hold_days: int = Field(default=90, ge=1, le=250, description="暂存待查: looked at again")
    skip_review_without_team_leader: bool = Field(
        default=False,
        description="no other team leader: straight to the 委领导 (false: a 委领导 reviews)",
    )
    tell_reason: bool = Field(
        default=False, description="予以了结: the reporter also reads the approved reason"
    )
    objection_days: int = Field(
        default=30, ge=1, le=250, description="working days after the result a 异议 is taken"
    )


class CalendarDayConfig(_Section):
    date: date
    workday: bool
    name: str | None = Field(default=None, max_length=40)


class CalendarConfig(_Section):
    days: tuple[CalendarDayConfig, ...] = ()


class ReportsConfig(_Section):
    """Which analysis reports go to the leaders at 09:00, as which files, and the targets the
    report's findings and recommendations measure against."""

    weekly: bool = True
    monthly: bool = True
    quarterly: bool = Field(default=True, description="after each quarter, first working day")
    half_yearly: bool = Field(default=True, description="after each half-year, first working day")
    files: tuple[Literal["pdf", "docx"], ...] = Field(
        default=("pdf", "docx"), min_length=1, description="what each leader receives"
    )
    on_time_target: float = Field(default=0.9, gt=0, le=1, description="按期办结率 target")
    satisfaction_target: float = Field(default=0.9, gt=0, le=1, description="满意率 target")

    @property
    def scheduled(self) -> bool:
        """Whether any periodic report is switched on."""
        return self.weekly or self.monthly or self.quarterly or self.half_yearly


class RetentionConfig(_Section):
    """How long personal data is kept (``lianka purge`` and the daily job enforce it)."""

    draft_days: int = Field(default=7, ge=1, le=365, description="unsubmitted drafts")
    notification_text_days: int = Field(
        default=30, ge=1, le=3650, description="the text of sent notices (the row is kept)"
    )
    contact_years: int = Field(
        default=5, ge=1, le=100, description="reporters' name and phone after closure"
    )
    receipt_workdays_after_closure: int | None = Field(
        default=None,
        ge=0,
        le=365,
        description="receipt codes after closure; unset: the 回访 window of [deadlines]",
    )


class SupervisionConfig(_Section):
    """督办: the working days a team has for its 督办回复, and the weekly 通报 of overdue cases."""

    reply_days: int = Field(default=5, ge=1, le=60, description="default 督办期限")
    overdue_notice: bool = Field(default=True, description="the weekly 超期通报 to the leaders")
    notice_weekday: int = Field(default=1, ge=1, le=7, description="1 = Monday")


class RectificationConfig(_Section):
    """反馈整改: the working days a responsible unit gets by default, the most the assignee may
    give, and how many working days before the deadline the assignee is reminded."""

    days: int = Field(default=15, ge=1, le=250, description="default 整改期限 in working days")
    max_days: int = Field(default=60, ge=1, le=250, description="the longest 整改期限")
    warn_before: int = Field(default=2, ge=0, le=10, description="the 预警 before the deadline")
    target: float = Field(default=0.9, gt=0, le=1, description="整改到位率 target (the report)")

    @model_validator(mode="after")
    def _days_within_max(self) -> RectificationConfig:
        if self.days > self.max_days:
            raise ValueError("days 不能大于 max_days (the default exceeds the longest allowed)")
        return self


class RepeatsConfig(_Section):
    """重复件: how far back an earlier case counts, and how alike two descriptions must be."""

    enabled: bool = True
    window_days: int = Field(default=90, ge=1, le=3650)
    similarity: float = Field(default=0.5, gt=0, le=1, description="bigram Jaccard")


class AftercareConfig(_Section):
    """防打击报复回访: ``days`` working days after 办结 the reporter is asked once whether they met
    obstruction, retaliation or 吃拿卡要 since reporting; the question stays open ``answer_days``;
    a yes opens a clue of ``category`` (a clue-track category) linked to the first case."""

    enabled: bool = True
    days: int = Field(default=20, ge=1, le=250, description="working days after 办结")
    answer_days: int = Field(default=10, ge=1, le=60, description="the question stays open")
    category: str = Field(
        default="retaliation", pattern=r"^[a-z0-9_]{1,40}$", description="the clue's category"
    )

    @property
    def window(self) -> int:
        """Working days from 办结 until the question closes (0 when switched off)."""
        return self.days + self.answer_days if self.enabled else 0


class LiankaConfig(_Section):
    organisation: Organisation
    zones: tuple[ZoneConfig, ...] = Field(min_length=1)
    categories: tuple[CategoryConfig, ...] = Field(min_length=1)
    teams: tuple[TeamConfig, ...] = Field(min_length=1)
    routing: tuple[RoutingRule, ...] = ()
    deadlines: DeadlinesConfig = DeadlinesConfig()
    limits: LimitsConfig = LimitsConfig()
    review: ReviewConfig = ReviewConfig()
    clue: ClueConfig = ClueConfig()
    calendar: CalendarConfig = CalendarConfig()
    reports: ReportsConfig = ReportsConfig()
    retention: RetentionConfig = RetentionConfig()
    supervision: SupervisionConfig = SupervisionConfig()
    rectification: RectificationConfig = RectificationConfig()
    repeats: RepeatsConfig = RepeatsConfig()
    aftercare: AftercareConfig = AftercareConfig()

    def zone(self, code: str) -> ZoneConfig:
        return next(z for z in self.zones if z.code == code)

    def category(self, code: str) -> CategoryConfig:
        return next(c for c in self.categories if c.code == code)

    def team(self, code: str) -> TeamConfig:
        return next(t for t in self.teams if t.code == code)

    @property
    def dispatcher(self) -> TeamConfig:
        """The team that routes by hand what no rule matches."""
        return next(t for t in self.teams if t.dispatcher)

    def followup_window(self) -> int:
        """The longest 回访 window in working days (asked after 办结, then waited for), over
        both tracks and every category's overrides."""
        ladders = [self.deadlines.appeal, self.deadlines.clue]
        ladders += [self.ladder_for(category.code) for category in self.categories]
        return max(ladder.followup_ask + ladder.followup_wait for ladder in ladders)

    def receipt_window(self) -> int:
        """How long after closure a receipt code still opens its case: the 回访 window, or the
        防打击报复回访's (asked ``[aftercare] days`` after 办结, open ``answer_days``)."""
        return max(self.followup_window(), self.aftercare.window)

    def ladder_for(self, category_code: str) -> DeadlineLadder:
        """The deadline ladder of a category: its track's, with the category's overrides."""
        category = self.category(category_code)
        base = self.deadlines.appeal if category.track is Track.APPEAL else self.deadlines.clue
        return category.deadlines.apply(base) if category.deadlines else base


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(Exception):
    """The configuration file cannot be used; ``problems`` says where and why."""

    def __init__(self, path: Path, problems: list[ConfigProblem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"配置文件 {self.path} 有 {len(self.problems)} 处错误 (configuration errors):"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


_PYDANTIC_MESSAGES = {
    "extra_forbidden": "未知的配置项 (unknown key)",
    "missing": "缺少必填项 (required key is missing)",
    "string_too_short": "不能为空 (must not be empty)",
    "too_short": "至少需要一项 (needs at least one entry)",
    "string_pattern_mismatch": "只能使用小写字母、数字和下划线 (use a-z, 0-9 and _)",
    "enum": "取值无效 (invalid value)",
    "bool_parsing": "应为 true 或 false (must be true or false)",
    "bool_type": "应为 true 或 false (must be true or false)",
    "int_parsing": "应为整数 (must be an integer)",
    "int_type": "应为整数 (must be an integer)",
    "string_type": "应为文本 (must be a string)",
}


def _key(loc: Iterable[str | int], raw: Any) -> str:
    """A TOML-style key for a pydantic location, naming array items by their code if they have one."""
    parts: list[str] = []
    node = raw
    for item in loc:
        if isinstance(item, int):
            code = (
                node[item].get("code")
                if isinstance(node, list) and isinstance(node[item], dict)
                else None
            )
            parts[-1] += f"[{code}]" if code else f"[{item + 1}]"
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(item)
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(file)"


def _validation_problems(error: ValidationError, raw: dict[str, Any]) -> list[ConfigProblem]:
    problems = []
    for detail in error.errors(include_url=False):
        message = _PYDANTIC_MESSAGES.get(detail["type"])
        if detail["type"] == "enum":
            expected = detail.get("ctx", {}).get("expected", "")
            message = f"取值无效，可选 {expected} (invalid value)"
        elif message is None:
            message = detail["msg"].removeprefix("Value error, ")
        problems.append(ConfigProblem(_key(detail["loc"], raw), message))
    return problems


def _duplicates(values: Iterable[str]) -> list[str]:
    return [value for value, count in Counter(values).items() if count > 1]


def _reference_problems(config: LiankaConfig) -> list[ConfigProblem]:
    """Checks across sections: every code named must be defined, once."""
    problems: list[ConfigProblem] = []
    zones = {z.code for z in config.zones}
    categories = {c.code for c in config.categories}
    teams = {t.code for t in config.teams}
    for section, codes in (
        ("zones", [z.code for z in config.zones]),
        ("categories", [c.code for c in config.categories]),
        ("teams", [t.code for t in config.teams]),
    ):
        problems += [
            ConfigProblem(f"{section}[{code}]", f"编码 “{code}” 重复 (duplicate code)")
            for code in _duplicates(codes)
        ]
    default_zone = config.organisation.default_zone
    if default_zone is not None and default_zone not in zones:
        problems.append(
            ConfigProblem(
                "organisation.default_zone", f"未知的园区 “{default_zone}” (unknown zone)"
            )
        )
    for team in config.teams:
        problems += [
            ConfigProblem(
                f"teams[{team.code}].categories", f"未知的监督事项 “{c}” (unknown category)"
            )
            for c in team.categories
            if c not in categories
        ]
        problems += [
            ConfigProblem(f"teams[{team.code}].zones", f"未知的园区 “{z}” (unknown zone)")
            for z in team.zones
            if z not in zones
        ]
    dispatchers = [t.code for t in config.teams if t.dispatcher]
    if len(dispatchers) != 1:
        problems.append(
            ConfigProblem(
                "teams",
                "需要恰好一个 dispatcher = true 的分办组（如信访室）"
                f" (exactly one dispatcher team, found {len(dispatchers)})",
            )
        )
    for index, rule in enumerate(config.routing, start=1):
        where = f"routing[{index}]"
        if rule.team not in teams:
            problems.append(
                ConfigProblem(f"{where}.team", f"未知的监督组 “{rule.team}” (unknown team)")
            )
        problems += [
            ConfigProblem(f"{where}.categories", f"未知的监督事项 “{c}” (unknown category)")
            for c in rule.categories
            if c not in categories
        ]
        problems += [
            ConfigProblem(f"{where}.zones", f"未知的园区 “{z}” (unknown zone)")
            for z in rule.zones
            if z not in zones
        ]
        if not (rule.categories or rule.zones or rule.keywords):
            problems.append(
                ConfigProblem(
                    where,
                    "规则没有任何条件，会匹配所有问题 (a rule needs at least one condition)",
                )
            )
    days = [d.date.isoformat() for d in config.calendar.days]
    problems += [
        ConfigProblem("calendar.days", f"日期 {d} 重复 (duplicate date)") for d in _duplicates(days)
    ]
    problems += _aftercare_problems(config, categories)
    # the clue check reads the teams and rules as written: only once their references hold
    return problems or _clue_routing_problems(config)


def _aftercare_problems(config: LiankaConfig, categories: set[str]) -> list[ConfigProblem]:
    """防打击报复回访 opens a clue of its category: it must exist and be on the clue track."""
    aftercare = config.aftercare
    if not aftercare.enabled:
        return []
    if aftercare.category not in categories:
        return [
            ConfigProblem(
                "aftercare.category",
                f"未知的监督事项 “{aftercare.category}”：防打击报复回访需要一个问题线索类监督事项"
                " (unknown category)",
            )
        ]
    if config.category(aftercare.category).track is not Track.CLUE:
        return [
            ConfigProblem(
                "aftercare.category",
                f'监督事项 “{aftercare.category}” 不是问题线索（track = "clue"）：回访中反映的'
                "打击报复须作为问题线索保密办理 (the category must be on the clue track)",
            )
        ]
    return []


def handles_clues(config: LiankaConfig, team: TeamConfig) -> bool:
    """A team handles 问题线索 if it covers a clue-track category, or is the dispatcher (信访室),
    which receives whatever no rule routes, clues included."""
    clues = {c.code for c in config.categories if c.track is Track.CLUE}
    return team.dispatcher or any(code in clues for code in team.categories)


def _clue_routing_problems(config: LiankaConfig) -> list[ConfigProblem]:
    """A clue is confidential and goes only where clues are handled: no routing rule may send a
    clue-track category to a team that covers none, and a rule without categories — which
    matches whatever the reporter chose, clues too — must list the categories it routes."""
    problems: list[ConfigProblem] = []
    clues = {c.code: c.name for c in config.categories if c.track is Track.CLUE}
    teams = {t.code: t for t in config.teams}
    for index, rule in enumerate(config.routing, start=1):
        team = teams.get(rule.team)
        if team is None or not clues:
            continue
        caught = [code for code in (rule.categories or clues) if code in clues]
        names = "、".join(clues[code] for code in caught)
        rule_name = f"分办规则 “{rule.label}”"
        if not rule.categories:
            why = "" if handles_clues(config, team) else "（该组不办理问题线索）"
            problems.append(
                ConfigProblem(
                    f"routing[{index}]",
                    f"{rule_name} 没有限定监督事项，会把问题线索（{names}）也分给 "
                    f"{team.name}{why}；请用 categories 列出该规则分办的监督事项"
                    " (a rule without categories also routes clue categories: list its categories)",
                )
            )
        elif caught and not handles_clues(config, team):
            problems.append(
                ConfigProblem(
                    f"routing[{index}].categories",
                    f"{rule_name} 把问题线索（{names}）分给 {team.name}，但该组不办理问题线索；"
                    "请分给办理问题线索的监督组"
                    " (the rule sends clue categories to a team that handles no clues)",
                )
            )
    return problems


def parse_config(text: str, path: Path) -> LiankaConfig:
    """Parse and check a configuration text; raise ``ConfigError`` listing every problem."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(
            path, [ConfigProblem("(TOML)", f"文件格式错误 (syntax error): {error}")]
        ) from None
    try:
        config = LiankaConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(path, _validation_problems(error, raw)) from None
    problems = _reference_problems(config)
    if problems:
        raise ConfigError(path, problems)
    return config


def load_config(path: Path) -> LiankaConfig:
    """Read and check the configuration file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            path,
            [ConfigProblem("(file)", "找不到配置文件 (file not found); 运行 lianka init 生成")],
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            path, [ConfigProblem("(file)", "文件应为 UTF-8 编码 (must be UTF-8)")]
        ) from None
    return parse_config(text, path)


def example_config_path() -> Path:
    """The shipped example configuration (the 安居区 set-up from the article)."""
    return Path(__file__).resolve().parents[1] / "lianka.example.toml"
