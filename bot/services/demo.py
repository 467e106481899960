"""Synthetic history for demos, screenshots and benchmarks (``lianka demo-data``).

A seeded plan (enterprises with valid 统一社会信用代码, cards and scans, cases over the categories,
zones and teams, and each case's life: assignment, 签收, progress, 延期, 办结, 回访, 重办, 督办,
withdrawal — some late, some still open and overdue at ``now``) is written one of two ways:

- through the use cases: ``submit_case`` for every submission, then one small function per
  lifecycle step (``STEPS``) on a ``SessionLedger``;
- in bulk, for large histories: the same submission mirrored in memory and the same step functions
  on a ``MemoryLedger``, inserted in batches. The rows are the use cases' rows (a test compares
  both paths table by table), except surrogate ids, ``cases.version`` (the optimistic-lock
  counter) and anonymous receipt hashes (random by design).

Submissions and assignments go through the real use cases (``submit_case``, ``assign_case``).
The later steps (``STEPS``) write the case, event, clock and request rows that the inspectors'
use cases (``bot/services/cases.py``, ``bot/services/followup.py``) write, but not their
notifications: a past history is news to no one, and the outbox of a demo must not fill with
thousands of messages to accounts that do not exist. Those use cases also check who may act
and load a fresh case each time; the steps act as the assignee on the case in hand.
"""

from __future__ import annotations

import base64
import enum
import itertools
import math
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services import clocks
from bot.services.catalog import sync_catalog
from bot.services.intake import submit_case
from bot.services.routing import assign_case
from models.calendar import SHANGHAI, WorkCalendar
from models.card import Card, CardScan, CardStatus
from models.case import OPEN_STATUSES, Case, CaseCounter, CaseStatus, Outcome, Satisfaction
from models.case import format_case_number as case_number
from models.clock import CaseClock, ClockKind, ClockStage, ClockState, warning_time
from models.enterprise import USCC_ALPHABET, Enterprise, uscc_check_char
from models.event import Actor, ActorType, CaseEvent, EventKind, record_event, transition
from models.intake import CaseDraft
from models.notification import Notification, NotificationStatus, Offer, Offering, RecipientKind
from models.org import Category, Track, Zone
from models.policy import DeadlineLadder
from models.reporter import Reporter, ReporterContact, new_receipt_code, receipt_hash
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.routing import Candidate, RoutingDecision, choose_team, pick_assignee
from models.team import AssignmentMode, Inspector, Role, Team
from models.types import JSONType, utc
from notifications.outbox import notification_key
from notifications.render import render
from notifications.texts import preview

REGION = "510904"  # 四川省遂宁市安居区
TELEGRAM_BASE = 9_100_000_000  # demo accounts: far above the ids Telegram hands out today
BATCH = 2000

CATEGORY_WEIGHTS = {
    "business_env": 26,
    "enterprise_policy": 18,
    "key_projects": 12,
    "enforcement": 10,
    "work_safety": 9,
    "rural_revitalisation": 7,
    "soe_corruption": 5,
    "four_styles": 6,
    "other": 7,
}
ZONE_WEIGHTS = {"jkq": 45, "anju": 18, "yufeng": 14, "ximei": 13, "other": 10}
MONEY_CATEGORIES = {"business_env", "enterprise_policy", "key_projects", "rural_revitalisation"}

DESCRIPTIONS: dict[str, tuple[str, ...]] = {
    "business_env": (
        "园区管委会承诺的土地出让金返还至今未到位，企业资金周转困难，请帮助协调。",
        "建筑物配套费已按政策申请减免，相关部门迟迟不予办理，影响项目竣工验收。",
        "厂房租金减免政策已公布三个月，园区平台公司仍按原标准收取租金。",
        "办理施工许可时被要求重复提交材料，多次往返仍未办结，希望加快审批。",
    ),
    "enterprise_policy": (
        "去年申报的产业扶持资金已公示，至今未拨付到企业账户。",
        "企业符合稳岗返还条件，申请后两个月无人答复，请督促落实。",
        "技改补贴审核通过后被告知资金暂缓发放，没有书面说明。",
        "增值税留抵退税申请材料齐全，办理进度长期停滞。",
    ),
    "key_projects": (
        "重点项目用地征拆进度滞后，施工单位无法进场，工期受到影响。",
        "项目配套道路和供电线路未按约定时间建成，设备无法安装调试。",
        "重点项目工程款结算拖延，施工企业垫资压力很大。",
    ),
    "soe_corruption": (
        "某国有公司负责人在工程分包中指定关系户承接项目，涉嫌利益输送。",
        "国有平台公司采购中存在围标串标迹象，价格明显高于市场。",
        "国企工作人员以咨询费名义向供应商索要好处费。",
    ),
    "rural_revitalisation": (
        "村集体产业项目衔接资金拨付不及时，合作社收购款无法结清。",
        "乡村振兴示范项目验收后尾款长期未付，农户务工工资受影响。",
        "帮扶车间用电用水补贴未按协议兑现。",
    ),
    "work_safety": (
        "相邻企业危化品堆放不规范，多次反映未整改，存在安全隐患。",
        "园区消防通道长期被占用，消防设施损坏无人维修。",
        "施工工地夜间违规动火作业，安全防护措施不到位。",
    ),
    "four_styles": (
        "有干部到企业检查时暗示安排吃请，企业不堪其扰。",
        "职能部门工作人员办事推诿拖延，要求企业找熟人才能办理。",
        "节日期间有公职人员向企业索要购物卡。",
    ),
    "enforcement": (
        "同一事项一个月内被不同部门重复检查四次，影响正常生产。",
        "执法人员未出示证件即进行检查，并当场作出罚款决定。",
        "环保检查要求企业限期整改，但整改标准前后不一致。",
    ),
    "other": (
        "企业员工子女入学手续办理困难，希望相关部门给予协助。",
        "园区公交线路调整后员工通勤不便，多次反映未获答复。",
        "办事窗口工作人员态度生硬，多次刁难企业办事人员。",
    ),
}
NAME_PREFIXES = ("四川", "遂宁", "遂宁市安居区", "四川安居")
NAME_CHARS = "坤天华兴盛鑫瑞恒达源嘉宏泰丰润德永昌信诚安居川蜀涪江锦程远航明辉腾飞金鼎祥和顺"
INDUSTRIES = (
    "新能源科技",
    "建材",
    "食品",
    "机械制造",
    "电子科技",
    "纺织",
    "物流",
    "农业开发",
    "建筑工程",
    "医药",
    "化工",
    "汽车配件",
    "包装材料",
    "商贸",
)
SURNAMES = "王李张刘陈杨黄赵周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰燕琪莉利剑燕岭"
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def org_code_check(first8: str) -> str:
    """The 9th character of a 组织机构代码 (GB 11714, mod 11)."""
    total = sum(int(ch) * w for ch, w in zip(first8, ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return {10: "X", 11: "0"}.get(value, str(value))


def make_uscc(rng: random.Random) -> str:
    """A valid 统一社会信用代码 of an enterprise (91) registered in 安居区."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    first17 = "91" + REGION + body + org_code_check(body)
    assert all(ch in USCC_ALPHABET for ch in first17)
    return first17 + uscc_check_char(first17)


# --- the plan -----------------------------------------------------------------------------


class StepKind(enum.StrEnum):
    ASSIGN = "assign"  # a team leader (or the dispatcher) assigns by hand
    ACCEPT = "accept"
    PROGRESS = "progress"
    EXTEND = "extend"
    RESOLVE = "resolve"
    FOLLOWUP = "followup"
    CLOSE = "close"  # a clue closed after 办结 (no satisfaction question)
    SUPERVISE = "supervise"
    WITHDRAW = "withdraw"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    at: datetime
    note: str | None = None
    pick: int = 0  # which inspector of the team a leader assigns
    days: int = 0
    outcome: Outcome | None = None
    amount_yuan: int | None = None
    satisfaction: Satisfaction | None = None


@dataclass(frozen=True, slots=True)
class CasePlan:
    enterprise: int
    category: str
    description: str
    amount_yuan: int | None
    contact: tuple[str, str] | None
    created_at: datetime
    steps: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class EnterprisePlan:
    name: str
    uscc: str
    zone: str
    legal_rep: str
    token: str


@dataclass
class Plan:
    start: datetime
    now: datetime
    enterprises: list[EnterprisePlan]
    cases: list[CasePlan]
    scans: list[tuple[int, datetime]]  # (enterprise index, when)


def _person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _moment(rng: random.Random, calendar: WorkCalendar, start: datetime, now: datetime) -> datetime:
    """A submission time, mostly in office hours on working days."""
    span = (now - start).total_seconds()
    while True:
        at = start + timedelta(seconds=rng.random() * span)
        local = at.astimezone(SHANGHAI)
        office = calendar.is_workday(local.date()) and 8 <= local.hour < 19
        if office or rng.random() < 0.12:
            return at


def _after(at: datetime, rng: random.Random, low_hours: float, high_hours: float) -> datetime:
    return at + timedelta(hours=rng.uniform(low_hours, high_hours))


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _amount(rng: random.Random, category: str) -> int | None:
    """元, rounded to 100: typically a few 万元 to some tens of 万元, now and then millions."""
    if rng.random() > (0.6 if category in MONEY_CATEGORIES else 0.1):
        return None
    wan = min(rng.lognormvariate(math.log(6), 1.3), 3000)
    return max(int(round(wan * 10000, -2)), 1000)


def _life(
    rng: random.Random,
    track: Track,
    budget: int,
    needs_assigning: bool,
    created: datetime,
    amount: int | None,
) -> list[Step]:
    """The steps of one case's life, in order; the caller drops those after ``now``."""
    steps: list[Step] = []
    at = created
    if needs_assigning:
        at = _after(at, rng, 0.3, 30)
        steps.append(Step(StepKind.ASSIGN, at, pick=rng.randrange(1000)))
    if rng.random() < 0.012:
        steps.append(
            Step(StepKind.WITHDRAW, _after(at, rng, 0.1, 6), note="问题已自行解决，撤回反映。")
        )
        return steps
    if rng.random() < 0.004:
        return steps  # never signed for: overdue ever since
    roll = rng.random()
    at = _after(at, rng, *((0.2, 20) if roll < 0.86 else (24, 60) if roll < 0.95 else (60, 150)))
    steps.append(Step(StepKind.ACCEPT, at))
    if rng.random() < 0.03:
        steps.append(
            Step(StepKind.SUPERVISE, _after(at, rng, 2, 120), note="请加快办理，按期反馈。")
        )
    if rng.random() < 0.75:
        at = _after(at, rng, 4, 72)
        steps.append(Step(StepKind.PROGRESS, at, note="已赴企业实地了解情况，正在协调相关部门。"))
    if rng.random() < 0.015:
        return steps  # stalled after 签收: the 办结 deadline passes
    extended = rng.random() < 0.07
    if extended:
        at = _after(at, rng, 72, 240)
        steps.append(
            Step(StepKind.EXTEND, at, days=rng.choice((5, 10)), note="涉及多个部门，需延期办理。")
        )
    for attempt in range(2):
        hours = rng.uniform(20, budget * 24 * (1.9 if extended else 1.45))
        at = at + timedelta(hours=hours)
        outcome = _outcome(rng, track)
        coordinated = None
        if amount and outcome in (Outcome.SOLVED, Outcome.RECTIFIED):
            coordinated = int(round(amount * rng.uniform(0.6, 1.0), -2))
        steps.append(
            Step(
                StepKind.RESOLVE,
                at,
                note="经协调，相关部门已落实，企业诉求已解决。",
                outcome=outcome,
                amount_yuan=coordinated,
            )
        )
        if track is Track.CLUE:
            steps.append(Step(StepKind.CLOSE, _after(at, rng, 20, 30)))
            return steps
        roll = rng.random()
        if roll < 0.12:
            answer, at = Satisfaction.UNRATED, at + timedelta(days=5, hours=rng.uniform(0, 2))
        else:
            at = _after(at, rng, 22, 70)
            if attempt == 0 and roll < 0.18:
                answer = Satisfaction.UNSATISFIED
            else:
                answer = Satisfaction.BASIC if rng.random() < 0.24 else Satisfaction.SATISFIED
        note = "问题仍未彻底解决。" if answer is Satisfaction.UNSATISFIED else None
        steps.append(Step(StepKind.FOLLOWUP, at, note=note, satisfaction=answer))
        if answer is not Satisfaction.UNSATISFIED:
            return steps
    return steps


def _outcome(rng: random.Random, track: Track) -> Outcome:
    weights = (0, 25, 20, 45, 10) if track is Track.CLUE else (55, 20, 12, 5, 8)
    return rng.choices(list(Outcome), weights=weights)[0]


def plan_history(
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    *,
    cases: int,
    seed: int,
    months: int,
    leader_teams: frozenset[str],
) -> Plan:
    """A reproducible history: the same seed, size, months and ``now`` give the same plan."""
    rng = random.Random(seed)  # noqa: S311 (reproducible demo data, not secrets)
    start = now - timedelta(days=round(months * 30.44))
    zones = [z.code for z in config.zones]
    zone_weights = {z: ZONE_WEIGHTS.get(z, 5) for z in zones}
    enterprises: list[EnterprisePlan] = []
    usccs: set[str] = set()
    for _ in range(max(3, cases // 6)):
        uscc = make_uscc(rng)
        while uscc in usccs:
            uscc = make_uscc(rng)
        usccs.add(uscc)
        name = (
            rng.choice(NAME_PREFIXES)
            + "".join(rng.sample(NAME_CHARS, 2))
            + rng.choice(INDUSTRIES)
            + "有限公司"
        )
        token = "c_" + base64.urlsafe_b64encode(rng.randbytes(16)).decode().rstrip("=")
        enterprises.append(
            EnterprisePlan(name, uscc, _weighted(rng, zone_weights), _person(rng), token)
        )
    popularity = list(
        itertools.accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(enterprises)))
    )
    category_weights = {c: CATEGORY_WEIGHTS.get(c, 5) for c in (c.code for c in config.categories)}
    tracks = {c.code: c.track for c in config.categories}
    routed_teams = {rule.team for rule in config.routing}
    plans: list[CasePlan] = []
    scans: list[tuple[int, datetime]] = []
    for _ in range(cases):
        index = rng.choices(range(len(enterprises)), cum_weights=popularity)[0]
        category = _weighted(rng, category_weights)
        created = _moment(rng, calendar, start, now)
        amount = _amount(rng, category)
        description = rng.choice(DESCRIPTIONS.get(category, DESCRIPTIONS["other"]))
        if amount:
            description += f"涉及金额约{amount / 10000:g}万元。"
        contact = None
        if rng.random() < 0.45:
            contact = (_person(rng), "1" + rng.choice("3456789") + f"{rng.randrange(10**9):09d}")
        team = _team_for(config, category, enterprises[index].zone, description)
        needs_assigning = team in leader_teams or team not in routed_teams
        steps = [
            s
            for s in _life(
                rng,
                tracks[category],
                config.ladder_for(category).resolve,
                needs_assigning,
                created,
                amount,
            )
            if s.at <= now
        ]
        plans.append(CasePlan(index, category, description, amount, contact, created, tuple(steps)))
        scans.append((index, created - timedelta(minutes=rng.uniform(2, 40))))
    for _ in range(cases // 2):
        scans.append((rng.randrange(len(enterprises)), _moment(rng, calendar, start, now)))
    plans.sort(key=lambda p: p.created_at)
    scans.sort(key=lambda s: s[1])
    return Plan(start, now, enterprises, plans, scans)


def _team_for(config: LiankaConfig, category: str, zone: str, description: str) -> str:
    return choose_team(
        config.routing,
        category_code=category,
        zone_code=zone,
        description=description,
        dispatcher_code=config.dispatcher.code,
    ).team_code


# --- the lifecycle steps ------------------------------------------------------------------


class Ledger(Protocol):
    """Where the steps read and write clocks and new rows: the database session (the use-case
    path) or memory (the bulk path)."""

    config: LiankaConfig
    calendar: WorkCalendar
    category_codes: dict[int, str]

    def add(self, row: Any) -> None: ...

    async def start_clock(
        self, case: Case, kind: ClockKind, workdays: int, at: datetime
    ) -> None: ...

    async def meet_clock(self, case: Case, kind: ClockKind, at: datetime) -> None: ...

    async def cancel_clock(self, case: Case, kind: ClockKind) -> None: ...

    async def extend_clock(self, case: Case, kind: ClockKind, days: int, at: datetime) -> None: ...

    async def team_leader(self, team_id: int) -> Inspector: ...

    async def team_inspectors(self, team_id: int) -> list[Inspector]: ...

    async def leader(self) -> Inspector: ...

    async def assign(
        self, case: Case, inspector: Inspector, at: datetime, actor: Actor
    ) -> None: ...


def _inspector(case: Case) -> Actor:
    return Actor(ActorType.INSPECTOR, case.assignee_id)


def _ladder(ledger: Ledger, case: Case) -> DeadlineLadder:
    return ledger.config.ladder_for(ledger.category_codes[case.category_id])


async def assign(ledger: Ledger, case: Case, step: Step) -> None:
    """The team leader (信访室 for unrouted cases) assigns the case to one of the team's
    inspectors."""
    assert case.team_id is not None
    leader = await ledger.team_leader(case.team_id)
    members = await ledger.team_inspectors(case.team_id)
    inspector = members[step.pick % len(members)]
    await ledger.assign(case, inspector, step.at, Actor(ActorType.INSPECTOR, leader.id))


async def accept(ledger: Ledger, case: Case, step: Step) -> None:
    """签收: the inspector signs for the case, the reporter is told (受理告知), 办结 starts."""
    ledger.add(
        transition(
            case, CaseStatus.ACCEPTED, EventKind.ACCEPTED, _inspector(case), step.at, public=True
        )
    )
    case.accepted_at = case.first_reply_at = step.at
    await ledger.meet_clock(case, ClockKind.ACCEPT, step.at)
    await ledger.meet_clock(case, ClockKind.FIRST_REPLY, step.at)
    await ledger.start_clock(case, ClockKind.RESOLVE, _ladder(ledger, case).resolve, step.at)


async def progress(ledger: Ledger, case: Case, step: Step) -> None:
    """记录进展: the work starts (or goes on) with a note."""
    if case.status in (CaseStatus.ACCEPTED, CaseStatus.REOPENED):
        event = transition(
            case,
            CaseStatus.IN_PROGRESS,
            EventKind.PROGRESS,
            _inspector(case),
            step.at,
            note=step.note,
            public=True,
        )
    else:
        event = record_event(
            case, EventKind.PROGRESS, _inspector(case), step.at, note=step.note, public=True
        )
    ledger.add(event)


async def extend(ledger: Ledger, case: Case, step: Step) -> None:
    """申请延期, approved by the team leader: the 办结 deadline moves ``step.days`` working days."""
    assert case.id is not None and case.assignee_id is not None and case.team_id is not None
    leader = await ledger.team_leader(case.team_id)
    ledger.add(
        ApprovalRequest(
            case_id=case.id,
            kind=RequestKind.EXTENSION,
            status=RequestStatus.APPROVED,
            requested_by_id=case.assignee_id,
            reason=step.note or "",
            clock=ClockKind.RESOLVE,
            days=step.days,
            created_at=step.at,
            decided_by_id=leader.id,
            decided_at=step.at,
        )
    )
    ledger.add(
        record_event(
            case,
            EventKind.EXTENSION_REQUESTED,
            _inspector(case),
            step.at,
            note=step.note,
            data={"days": step.days},
        )
    )
    ledger.add(
        record_event(
            case,
            EventKind.EXTENSION_APPROVED,
            Actor(ActorType.INSPECTOR, leader.id),
            step.at,
            data={"days": step.days},
            public=True,
        )
    )
    await ledger.extend_clock(case, ClockKind.RESOLVE, step.days, step.at)


async def resolve(ledger: Ledger, case: Case, step: Step) -> None:
    """办结 with an outcome and the amount coordinated; 回访 follows for appeals."""
    assert step.outcome is not None
    ledger.add(
        transition(
            case,
            CaseStatus.RESOLVED,
            EventKind.RESOLVED,
            _inspector(case),
            step.at,
            note=step.note,
            data={"outcome": step.outcome.value, "amount_yuan": step.amount_yuan},
            public=True,
        )
    )
    case.outcome = step.outcome
    case.outcome_summary = step.note
    case.amount_coordinated_yuan = step.amount_yuan
    case.resolved_at = step.at
    await ledger.meet_clock(case, ClockKind.RESOLVE, step.at)
    if case.track is Track.APPEAL:
        ladder = _ladder(ledger, case)
        await ledger.start_clock(
            case, ClockKind.FOLLOWUP, ladder.followup_ask + ladder.followup_wait, step.at
        )


async def follow_up(ledger: Ledger, case: Case, step: Step) -> None:
    """回访: 满意/基本满意 closes, no answer closes as 未评价, 不满意 reopens (重办)."""
    assert step.satisfaction is not None
    reporter = Actor(ActorType.REPORTER, case.reporter_id)
    case.satisfaction = step.satisfaction
    case.satisfaction_note = step.note
    await ledger.meet_clock(case, ClockKind.FOLLOWUP, step.at)
    if step.satisfaction is Satisfaction.UNRATED:
        ledger.add(
            transition(
                case,
                CaseStatus.CLOSED,
                EventKind.CLOSED,
                Actor(ActorType.SYSTEM),
                step.at,
                note="回访未答复，按未评价结案。",
                public=True,
            )
        )
        case.closed_at = step.at
        return
    data = {"satisfaction": step.satisfaction.value}
    if step.satisfaction is not Satisfaction.UNSATISFIED:
        ledger.add(
            transition(
                case,
                CaseStatus.CLOSED,
                EventKind.FOLLOWUP_ANSWERED,
                reporter,
                step.at,
                data=data,
                public=True,
            )
        )
        case.closed_at = step.at
        return
    ledger.add(
        record_event(
            case,
            EventKind.FOLLOWUP_ANSWERED,
            reporter,
            step.at,
            note=step.note,
            data=data,
            public=True,
        )
    )
    ledger.add(
        transition(
            case,
            CaseStatus.REOPENED,
            EventKind.REOPENED,
            reporter,
            step.at,
            note=step.note,
            public=True,
        )
    )
    case.reopen_count += 1
    await ledger.start_clock(case, ClockKind.RESOLVE, _ladder(ledger, case).resolve, step.at)


async def close(ledger: Ledger, case: Case, step: Step) -> None:
    """A clue is closed after 办结; the reporter is not asked for satisfaction."""
    ledger.add(
        transition(case, CaseStatus.CLOSED, EventKind.CLOSED, Actor(ActorType.SYSTEM), step.at)
    )
    case.closed_at = step.at


async def supervise(ledger: Ledger, case: Case, step: Step) -> None:
    """督办: a leader flags the case."""
    leader = await ledger.leader()
    case.supervised = True
    case.supervised_at = step.at
    case.supervised_by_id = leader.id
    ledger.add(
        record_event(
            case,
            EventKind.SUPERVISED,
            Actor(ActorType.INSPECTOR, leader.id),
            step.at,
            note=step.note,
        )
    )


async def withdraw(ledger: Ledger, case: Case, step: Step) -> None:
    """The reporter withdraws before acceptance: the running clocks stop."""
    ledger.add(
        transition(
            case,
            CaseStatus.WITHDRAWN,
            EventKind.WITHDRAWN,
            Actor(ActorType.REPORTER, case.reporter_id),
            step.at,
            note=step.note,
            public=True,
        )
    )
    await ledger.cancel_clock(case, ClockKind.ACCEPT)
    await ledger.cancel_clock(case, ClockKind.FIRST_REPLY)


StepFunction = Callable[[Ledger, Case, Step], Any]

STEPS: dict[StepKind, StepFunction] = {
    StepKind.ASSIGN: assign,  # bot.services.routing.assign_case (the real use case already)
    StepKind.ACCEPT: accept,  # → bot.services.cases.accept_case
    StepKind.PROGRESS: progress,  # → bot.services.cases.add_progress
    StepKind.EXTEND: extend,  # → cases.request_extension, then cases.decide_request
    StepKind.RESOLVE: resolve,  # → bot.services.cases.resolve_case
    StepKind.FOLLOWUP: follow_up,  # → followup.rate_case / reopen_unsatisfied; 未评价: the sweep
    StepKind.CLOSE: close,  # → the sweep's closing of clues after 办结
    StepKind.SUPERVISE: supervise,  # → bot.services.cases.supervise_case
    StepKind.WITHDRAW: withdraw,  # → bot.services.reporters.withdraw_case
}
"""The one place that says which function performs each lifecycle step."""


# --- the use-case path --------------------------------------------------------------------


class SessionLedger:
    """Steps through the database session, with the clocks service."""

    def __init__(
        self,
        session: AsyncSession,
        config: LiankaConfig,
        calendar: WorkCalendar,
        category_codes: dict[int, str],
    ) -> None:
        self.session = session
        self.config = config
        self.calendar = calendar
        self.category_codes = category_codes
        self.warn_before = config.deadlines.warn_before

    def add(self, row: Any) -> None:
        self.session.add(row)

    async def start_clock(self, case: Case, kind: ClockKind, workdays: int, at: datetime) -> None:
        await clocks.start_clock(
            self.session,
            case,
            kind,
            workdays=workdays,
            calendar=self.calendar,
            now=at,
            warn_before=self.warn_before,
        )

    async def meet_clock(self, case: Case, kind: ClockKind, at: datetime) -> None:
        await clocks.meet_clock(self.session, case.id or 0, kind, at)

    async def cancel_clock(self, case: Case, kind: ClockKind) -> None:
        await clocks.cancel_clock(self.session, case.id or 0, kind)

    async def extend_clock(self, case: Case, kind: ClockKind, days: int, at: datetime) -> None:
        await clocks.extend_clock(
            self.session, case.id or 0, kind, days, self.calendar, at, warn_before=self.warn_before
        )

    async def _people(self, *conditions: Any) -> list[Inspector]:
        query = select(Inspector).where(*conditions).order_by(col(Inspector.id))
        return list((await self.session.exec(query)).all())

    async def team_leader(self, team_id: int) -> Inspector:
        return (
            await self._people(Inspector.team_id == team_id, Inspector.role == Role.TEAM_LEADER)
        )[0]

    async def team_inspectors(self, team_id: int) -> list[Inspector]:
        return await self._people(
            Inspector.team_id == team_id,
            Inspector.role == Role.INSPECTOR,
            col(Inspector.active).is_(True),
        )

    async def leader(self) -> Inspector:
        return (await self._people(Inspector.role == Role.LEADER))[0]

    async def assign(self, case: Case, inspector: Inspector, at: datetime, actor: Actor) -> None:
        await assign_case(self.session, case, inspector, self.config, self.calendar, at, actor)


async def _write_through_use_cases(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    plan: Plan,
    world: World,
    tick: Callable[[int], None],
) -> None:
    """Every case by ``submit_case`` and the step functions, one transaction per case."""
    for plan_case in plan.cases:
        async with sessions() as session:
            reporter = await session.get(Reporter, world.reporter_ids[plan_case.enterprise])
            assert reporter is not None
            name, phone = plan_case.contact or (None, None)
            submitted = await submit_case(
                session,
                reporter,
                CaseDraft(
                    category_code=plan_case.category,
                    description=plan_case.description,
                    amount_yuan=plan_case.amount_yuan,
                    anonymous=plan_case.contact is None,
                    contact_name=name,
                    contact_phone=phone,
                ),
                config,
                calendar,
                plan_case.created_at,
            )
            ledger = SessionLedger(session, config, calendar, world.category_codes)
            for step in plan_case.steps:
                await STEPS[step.kind](ledger, submitted.case, step)
                await session.flush()
            await session.commit()
        tick(1)


# --- the bulk path ------------------------------------------------------------------------


class MemoryLedger:
    """The same steps in memory, and ``submit_case`` mirrored, for inserting in batches."""

    def __init__(
        self,
        config: LiankaConfig,
        calendar: WorkCalendar,
        world: World,
        next_case_id: int,
    ) -> None:
        self.config = config
        self.calendar = calendar
        self.world = world
        self.category_codes = world.category_codes
        self.warn_before = config.deadlines.warn_before
        self.next_case_id = next_case_id
        self.counters: dict[int, int] = defaultdict(int)
        self.open_cases: Counter[int] = Counter()
        self.clocks: dict[tuple[int, ClockKind], CaseClock] = {}
        self.rows: dict[type, list[Any]] = defaultdict(list)

    def add(self, row: Any) -> None:
        self.rows[type(row)].append(row)

    async def start_clock(self, case: Case, kind: ClockKind, workdays: int, at: datetime) -> None:
        """As ``bot.services.clocks.start_clock``."""
        assert case.id is not None
        deadline = self.calendar.deadline(at, workdays)
        clock = self.clocks.get((case.id, kind))
        if clock is None:
            clock = CaseClock(
                case_id=case.id, kind=kind, started_at=at, workdays=workdays, due_at=at
            )
            self.clocks[(case.id, kind)] = clock
            self.add(clock)
        clock.state = ClockState.RUNNING
        clock.stage = ClockStage.NONE
        clock.started_at = utc(at)
        clock.workdays = workdays
        clock.extended_days = 0
        clock.due_at = deadline.due_at
        clock.provisional = deadline.provisional
        clock.paused_at = None
        clock.met_at = None
        clock.next_action_at = warning_time(self.calendar, at, deadline.due_at, self.warn_before)

    async def meet_clock(self, case: Case, kind: ClockKind, at: datetime) -> None:
        """As ``bot.services.clocks.meet_clock``."""
        clock = self.clocks.get((case.id or 0, kind))
        if clock is None or clock.state in (ClockState.MET, ClockState.CANCELLED):
            return
        clock.state = ClockState.MET
        clock.met_at = utc(at)
        clock.next_action_at = None
        clock.paused_at = None

    async def cancel_clock(self, case: Case, kind: ClockKind) -> None:
        """As ``bot.services.clocks.cancel_clock``."""
        clock = self.clocks.get((case.id or 0, kind))
        if clock is not None and clock.state in (ClockState.RUNNING, ClockState.PAUSED):
            clock.state = ClockState.CANCELLED
            clock.next_action_at = None

    async def extend_clock(self, case: Case, kind: ClockKind, days: int, at: datetime) -> None:
        """As ``bot.services.clocks.extend_clock``."""
        clock = self.clocks[(case.id or 0, kind)]
        calendar = self.calendar
        clock.workdays += days
        clock.extended_days += days
        due_day = calendar.add_workdays(clock.due_at.astimezone(calendar.tz).date(), days)
        clock.due_at = utc(datetime.combine(due_day, calendar.office_day_end, calendar.tz))
        start_day = clock.started_at.astimezone(calendar.tz).date()
        clock.provisional = bool(calendar.provisional_years(start_day, due_day))
        if clock.due_at > at:
            clock.stage = ClockStage.NONE
            clock.next_action_at = warning_time(calendar, at, clock.due_at, self.warn_before)

    async def team_leader(self, team_id: int) -> Inspector:
        return self.world.team_leaders(team_id)[0]

    async def team_inspectors(self, team_id: int) -> list[Inspector]:
        return self.world.members(team_id)

    async def leader(self) -> Inspector:
        return next(p for p in self.world.people if p.role is Role.LEADER)

    async def assign(self, case: Case, inspector: Inspector, at: datetime, actor: Actor) -> None:
        """As ``bot.services.routing.assign_case``."""
        assert case.id is not None and inspector.id is not None
        data = {"inspector": inspector.id, "previous": case.assignee_id}
        if case.status in (CaseStatus.SUBMITTED, CaseStatus.RETURNED):
            self.add(
                transition(case, CaseStatus.ASSIGNED, EventKind.ASSIGNED, actor, at, data=data)
            )
        else:
            self.add(record_event(case, EventKind.ASSIGNED, actor, at, data=data))
        case.assignee_id = inspector.id
        case.assigned_at = at
        inspector.last_assigned_at = at
        if case.status is CaseStatus.ASSIGNED:
            await self.start_clock(case, ClockKind.ACCEPT, _ladder(self, case).accept, at)
        accept = self.clocks[(case.id, ClockKind.ACCEPT)]
        clue = case.track is Track.CLUE
        enterprise = self.world.enterprises[case.enterprise_id or 0]
        if clue:
            reporter_line = "问题线索，反映人信息保密"
        elif case.anonymous:
            reporter_line = "匿名"
        else:
            reporter_line = "实名（点“查看材料”查看联系方式，查看将被记录）"
        text = render(
            "inspector_assigned",
            case=case,
            supervised=case.supervised,
            category=self.world.categories[case.category_id].name,
            track_label=case.track.label,
            zone=self.world.zones[case.zone_id].name if case.zone_id else None,
            enterprise=None if clue else enterprise.name,
            amount_involved=case.amount_involved_yuan,
            reporter_line=reporter_line,
            accept_due=accept.due_at,
            accept_provisional=accept.provisional,
            description=preview(case.description),
            attachments=0,
        )
        self._notify(case, inspector, "assigned", text, Offer.CASE_WORK.on(case.id), at)

    def _notify(
        self,
        case: Case,
        person: Inspector,
        kind: str,
        text: str,
        offer: Offering,
        at: datetime,
    ) -> None:
        """As ``notifications.outbox.enqueue``."""
        assert person.chat_id is not None
        self.add(
            Notification(
                key=notification_key(
                    kind, case_id=case.id, stage=case.event_count, recipient=f"i{person.id}"
                ),
                case_id=case.id,
                kind=kind,
                chat_id=person.chat_id,
                recipient_kind=RecipientKind.INSPECTOR,
                recipient_id=person.id,
                text=text,
                offer=offer.offer,
                offer_ref=offer.ref,
                status=NotificationStatus.PENDING,
                attempts=0,
                next_attempt_at=utc(at),
                created_at=utc(at),
            )
        )

    async def submit(self, plan_case: CasePlan) -> Case:
        """As ``bot.services.intake.submit_case`` with ``route_case`` and ``place_case``."""
        world, at = self.world, plan_case.created_at
        reporter = world.reporters[plan_case.enterprise]
        category = world.category_by_code[plan_case.category]
        year = at.astimezone(SHANGHAI).year
        self.counters[year] += 1
        anonymous = plan_case.contact is None
        case = Case(
            id=self.next_case_id,
            number=case_number(self.config.organisation.case_prefix, year, self.counters[year]),
            track=category.track,
            status=CaseStatus.SUBMITTED,
            category_id=category.id or 0,
            zone_id=reporter.zone_id,
            enterprise_id=reporter.enterprise_id,
            card_id=reporter.card_id,
            reporter_id=reporter.id,
            anonymous=anonymous,
            receipt_hash=receipt_hash(new_receipt_code()) if anonymous else None,
            submission_key=None,
            description=plan_case.description,
            amount_involved_yuan=plan_case.amount_yuan,
            created_at=at,
            updated_at=at,
        )
        self.next_case_id += 1
        self.add(case)
        self.add(
            record_event(
                case,
                EventKind.SUBMITTED,
                Actor(ActorType.REPORTER, reporter.id),
                at,
                public=True,
                data={"evidence": 0, "anonymous": anonymous},
            )
        )
        if plan_case.contact is not None:
            name, phone = plan_case.contact
            self.add(ReporterContact(case_id=case.id or 0, name=name, phone=phone))
        ladder = self.config.ladder_for(category.code)
        await self.start_clock(case, ClockKind.FIRST_REPLY, ladder.first_reply, at)
        if case.card_id is None:  # reported without a card: 信访室 routes by hand
            decision = RoutingDecision(self.config.dispatcher.code, None)
        else:
            decision = choose_team(
                self.config.routing,
                category_code=category.code,
                zone_code=world.zones[case.zone_id].code if case.zone_id else None,
                description=case.description,
                dispatcher_code=self.config.dispatcher.code,
                inactive_teams=frozenset(),
            )
        team = world.team_by_code[decision.team_code]
        case.team_id = team.id
        case.routed_by = decision.rule
        case.assignee_id = None
        self.add(
            record_event(
                case,
                EventKind.ROUTED,
                Actor(ActorType.SYSTEM),
                at,
                data={"team": team.code, "rule": decision.rule},
            )
        )
        await self.start_clock(case, ClockKind.ACCEPT, ladder.accept, at)
        assert team.id is not None
        if team.assignment is AssignmentMode.AUTO and not team.is_dispatcher:
            members = world.members(team.id)
            chosen = pick_assignee(
                [
                    Candidate(m.id, self.open_cases[m.id], m.last_assigned_at, m.active)
                    for m in members
                    if m.id is not None
                ]
            )
            assert chosen is not None, "the demo gives every team inspectors"
            await self.assign(
                case, next(m for m in members if m.id == chosen), at, Actor(ActorType.SYSTEM)
            )
            return case
        reason = "未匹配分办规则，请信访室分办。" if decision.rule is None else None
        accept = self.clocks[(case.id or 0, ClockKind.ACCEPT)]
        text = render(
            "team_case_waiting",
            case=case,
            team=team.name,
            category=category.name,
            track_label=case.track.label,
            zone=world.zones[case.zone_id].name if case.zone_id else None,
            reason=reason,
            accept_due=accept.due_at,
            accept_provisional=accept.provisional,
            description=preview(case.description),
        )
        for leader in world.team_leaders(team.id):
            self._notify(case, leader, "waiting", text, Offer.LEADER_ASSIGN.on(case.id or 0), at)
        return case

    def finish(self, case: Case) -> None:
        """The case is done for now: its load counts for the next assignment."""
        if case.status in OPEN_STATUSES and case.assignee_id is not None:
            self.open_cases[case.assignee_id] += 1


TABLE_ORDER = (Case, ReporterContact, CaseClock, ApprovalRequest, Notification)


def _table(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def _values(row: Any) -> dict[str, Any]:
    """The row's columns for an executemany INSERT; an empty JSON column is SQL NULL, as the ORM
    and the use cases write it (a bare None would be stored as JSON ``null``)."""
    table = _table(type(row))
    values = {}
    for column in table.columns:
        value = getattr(row, column.key)
        if column.key == "id" and value is None:
            continue
        values[column.key] = (
            sa.null() if value is None and isinstance(column.type, JSONType) else value
        )
    return values


async def _write_in_bulk(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    plan: Plan,
    world: World,
    tick: Callable[[int], None],
) -> None:
    """Every case mirrored in memory and inserted in batches of ``BATCH`` cases."""
    ledger = MemoryLedger(config, calendar, world, next_case_id=1)

    async def flush() -> None:
        async with sessions() as session:
            connection = await session.connection()
            for model in (*TABLE_ORDER, CaseEvent):
                rows = ledger.rows.pop(model, [])
                if rows:
                    await connection.execute(sa.insert(_table(model)), [_values(r) for r in rows])
            await session.commit()
        ledger.clocks.clear()

    done = 0
    for plan_case in plan.cases:
        case = await ledger.submit(plan_case)
        for step in plan_case.steps:
            await STEPS[step.kind](ledger, case, step)
        ledger.finish(case)
        done += 1
        if done % BATCH == 0:
            await flush()
            tick(BATCH)
    await flush()
    tick(done % BATCH)
    async with sessions() as session:
        connection = await session.connection()
        prefix = config.organisation.case_prefix
        for year, last in sorted(ledger.counters.items()):
            await connection.execute(
                sa.insert(_table(CaseCounter)).values(prefix=prefix, year=year, last=last)
            )
        for person in world.people:
            if person.last_assigned_at is not None:
                await connection.execute(
                    sa.update(_table(Inspector))
                    .where(_table(Inspector).c.id == person.id)
                    .values(last_assigned_at=person.last_assigned_at)
                )
        await session.commit()


# --- the world both paths share -----------------------------------------------------------


@dataclass
class World:
    """The catalog, the people and the enterprises (with their card and reporter)."""

    categories: dict[int, Category]
    zones: dict[int, Zone]
    teams: dict[int, Team]
    people: list[Inspector]
    enterprises: dict[int, Enterprise]
    reporters: list[Reporter]  # by enterprise index of the plan
    category_codes: dict[int, str] = field(default_factory=dict)
    category_by_code: dict[str, Category] = field(default_factory=dict)
    team_by_code: dict[str, Team] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.category_codes = {i: c.code for i, c in self.categories.items()}
        self.category_by_code = {c.code: c for c in self.categories.values()}
        self.team_by_code = {t.code: t for t in self.teams.values()}

    @property
    def reporter_ids(self) -> list[int]:
        return [r.id or 0 for r in self.reporters]

    def members(self, team_id: int) -> list[Inspector]:
        """As ``list_team_members(..., roles=(INSPECTOR,))``: active, registered, by id."""
        return [
            p
            for p in self.people
            if p.team_id == team_id and p.role is Role.INSPECTOR and p.active and p.chat_id
        ]

    def team_leaders(self, team_id: int) -> list[Inspector]:
        leaders = [p for p in self.people if p.team_id == team_id and p.role is Role.TEAM_LEADER]
        return leaders or [p for p in self.people if p.role is Role.ADMIN]


def _people(
    config: LiankaConfig, teams: dict[str, Team], start: datetime, rng: random.Random
) -> list[Inspector]:
    """A leader and inspectors for every team, two commission leaders and an admin."""
    people: list[Inspector] = []

    def person(name: str, role: Role, team: Team | None) -> None:
        account = TELEGRAM_BASE + 500_000 + len(people)
        people.append(
            Inspector(
                id=len(people) + 1,
                name=name,
                role=role,
                team_id=team.id if team else None,
                telegram_user_id=account,
                chat_id=account,
                created_at=start,
            )
        )

    for tc in config.teams:
        team = teams[tc.code]
        person(tc.leader_name or _person(rng), Role.TEAM_LEADER, team)
        size = (
            5 if tc.code == "business_env" else 2 if tc.assignment is AssignmentMode.LEADER else 3
        )
        for _ in range(size):
            person(_person(rng), Role.INSPECTOR, team)
    person("张琪", Role.LEADER, None)
    person(_person(rng), Role.LEADER, None)
    person("系统管理员", Role.ADMIN, None)
    return people


async def _insert(session: AsyncSession, model: Any, rows: Iterable[Any]) -> None:
    values = [_values(row) for row in rows]
    connection = await session.connection()
    for start in range(0, len(values), 5000):
        await connection.execute(sa.insert(_table(model)), values[start : start + 5000])


async def _build_world(
    sessions: SessionFactory, config: LiankaConfig, plan: Plan, seed: int
) -> World:
    """Catalog, people, enterprises, cards, reporters and card scans: the same rows either way
    (card scans stand in for issue 4's scan recording)."""
    rng = random.Random(seed + 1)  # noqa: S311 (reproducible demo data, not secrets)
    async with sessions() as session:
        await sync_catalog(session, config)
    async with sessions() as session:
        categories = {c.id or 0: c for c in (await session.exec(select(Category))).all()}
        zones = {z.id or 0: z for z in (await session.exec(select(Zone))).all()}
        teams = {t.id or 0: t for t in (await session.exec(select(Team))).all()}
        zone_by_code = {z.code: z for z in zones.values()}
        people = _people(config, {t.code: t for t in teams.values()}, plan.start, rng)
        enterprises: dict[int, Enterprise] = {}
        cards: list[Card] = []
        reporters: list[Reporter] = []
        for index, e in enumerate(plan.enterprises, start=1):
            zone = zone_by_code[e.zone]
            enterprises[index] = Enterprise(
                id=index,
                name=e.name,
                uscc=e.uscc,
                zone_id=zone.id,
                legal_rep=e.legal_rep,
                created_at=plan.start,
            )
            cards.append(
                Card(
                    id=index,
                    token=e.token,
                    enterprise_id=index,
                    zone_id=zone.id,
                    issuing_unit=zone.issuing_unit,
                    status=CardStatus.ACTIVE,
                    created_at=plan.start,
                    printed_count=1,
                )
            )
            reporters.append(
                Reporter(
                    id=index,
                    telegram_user_id=TELEGRAM_BASE + index,
                    chat_id=TELEGRAM_BASE + index,
                    card_id=index,
                    enterprise_id=index,
                    zone_id=zone.id,
                    created_at=plan.start,
                )
            )
        scans = [
            CardScan(card_id=index + 1, reporter_id=index + 1, scanned_at=at)
            for index, at in plan.scans
        ]
        for scan in scans:
            card = cards[scan.card_id - 1]
            card.scan_count += 1
            card.last_scan_at = scan.scanned_at
        await _insert(session, Inspector, people)
        await _insert(session, Enterprise, enterprises.values())
        await _insert(session, Card, cards)
        await _insert(session, Reporter, reporters)
        await _insert(session, CardScan, scans)
        await session.commit()
    return World(categories, zones, teams, people, enterprises, reporters)


async def _restart_sequences(sessions: SessionFactory) -> None:
    """Rows were inserted with explicit ids: PostgreSQL's sequences must move past them."""
    async with sessions() as session:
        connection = await session.connection()
        if connection.dialect.name != "postgresql":
            return
        for table in ("inspectors", "enterprises", "cards", "reporters", "cases"):
            await connection.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608 (fixed names)
                    f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                )
            )
        await session.commit()


class NotEmpty(Exception):
    """Demo data goes only into an empty database (never mixed with real cases)."""


@dataclass(frozen=True, slots=True)
class DemoSummary:
    cases: int
    enterprises: int
    scans: int
    people: int
    statuses: dict[str, int]


async def generate_demo(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    now: datetime,
    *,
    cases: int,
    seed: int = 1,
    months: int = 12,
    bulk: bool = True,
    tick: Callable[[int], None] | None = None,
) -> DemoSummary:
    """Write a synthetic history ending at ``now`` into an empty database; the notifications it
    queued are marked sent, so a bot started on demo data does not send history."""
    async with sessions() as session:
        for model in (Case, Enterprise, Inspector):
            if (await session.exec(select(sa.func.count()).select_from(model))).one():
                raise NotEmpty("数据库中已有数据，演示数据只能写入空数据库。")
    leader_teams = frozenset(
        t.code for t in config.teams if t.assignment is AssignmentMode.LEADER or t.dispatcher
    )
    plan = plan_history(
        config, calendar, now, cases=cases, seed=seed, months=months, leader_teams=leader_teams
    )
    world = await _build_world(sessions, config, plan, seed)
    await _restart_sequences(sessions)
    write = _write_in_bulk if bulk else _write_through_use_cases
    await write(sessions, config, calendar, plan, world, tick or (lambda _: None))
    await _restart_sequences(sessions)
    async with sessions() as session:
        await session.exec(
            sa.update(Notification)
            .where(
                col(Notification.status) == NotificationStatus.PENDING,
                col(Notification.created_at) <= now,
            )
            .values(status=NotificationStatus.SENT, sent_at=Notification.created_at)
        )
        statuses = {
            str(status): int(count)
            for status, count in (
                await session.exec(select(Case.status, sa.func.count()).group_by(Case.status))
            ).all()
        }
        await session.commit()
    return DemoSummary(
        len(plan.cases), len(plan.enterprises), len(plan.scans), len(world.people), statuses
    )
