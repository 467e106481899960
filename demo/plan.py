"""The plan of a synthetic history: enterprises, cases and each case's life, from a seed."""

from __future__ import annotations

import base64
import enum
import itertools
import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple, TypeVar, overload

from bot.config import LiankaConfig, RectificationConfig
from bot.services.aftercare import clue_description
from demo.rows import plain
from models.calendar import SHANGHAI, WorkCalendar
from models.case import Case, CaseStatus, Outcome, Satisfaction, format_case_number
from models.clock import MORNING
from models.disposition import Disposition
from models.enterprise import USCC_ALPHABET, uscc_check_char
from models.org import Track
from models.routing import RoutingDecision, choose_team

K = TypeVar("K")

REGION = "510904"  # 四川省遂宁市安居区

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
    "retaliation": 1,
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
    "retaliation": (
        "反映问题后，企业在年检、消防检查中被故意刁难，多次被要求补充无关材料。",
        "向纪委反映情况后，有关部门以各种理由拖延办理企业正常审批事项，疑似打击报复。",
        "举报后企业负责人被相关工作人员约谈施压，要求撤回反映内容。",
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
    CLOSE = "close"  # a clue closed after 办结, the old way (test histories still use it)
    SUPERVISE = "supervise"
    WITHDRAW = "withdraw"
    # 问题线索处置 (集体研判): the assignee proposes, the team leader reviews, a 委领导 approves
    PROPOSE = "propose"
    REVIEW = "review"
    APPROVE = "approve"
    # 重复件: flagged at intake (linked to ``ref``), merged into it, and the earlier case's record
    FLAG_REPEAT = "flag_repeat"
    MERGE = "merge"
    MERGED_IN = "merged_in"
    # 反馈整改: what the responsible unit must rectify, by when; 核验 (passed or not) before 办结
    RECTIFY = "rectify"
    VERIFY = "verify"
    # 防打击报复回访: the sweep asks ``[aftercare] days`` after 办结; 没有 / 有, or 未答复
    AFTERCARE_ASK = "aftercare_ask"
    AFTERCARE_ANSWER = "aftercare_answer"
    AFTERCARE_UNANSWERED = "aftercare_unanswered"
    AFTERCARE_CLUE = "aftercare_clue"  # on the clue a 有 opened: the first case (``ref``)


class Step(NamedTuple):
    """One thing that happens to a planned case: what, when, and its particulars (a named
    tuple, not a frozen dataclass: a plan of 50,000 cases makes some 450,000 steps, and a frozen
    dataclass sets each of its 14 fields through ``object.__setattr__``, four times the work)."""

    kind: StepKind
    at: datetime
    note: str | None = None
    pick: int = 0  # which inspector of the team a leader assigns
    days: int = 0
    outcome: Outcome | None = None
    amount_yuan: int | None = None
    satisfaction: Satisfaction | None = None
    disposition: Disposition | None = None  # PROPOSE: the disposition proposed
    people: int | None = None  # PROPOSE 立案审查: people placed on file
    ref: str | None = None  # FLAG_REPEAT, MERGE: the earlier case; MERGED_IN: the repeat
    unit: str | None = None  # RECTIFY: the 责任单位 (the note: the 整改事项; days: its 期限)
    passed: bool = True  # VERIFY: 核验通过, or not yet (the rectification stays open)
    answer: str | None = None  # AFTERCARE_ANSWER: none (没有) or yes (有)


class CasePlan(NamedTuple):
    """A case the generator writes: who reports what and when, then what happens to it (a
    named tuple, as ``Step``: changed with ``_replace``)."""

    enterprise: int
    contact: tuple[str, str] | None  # 实名: name and phone; None for 匿名
    category: str
    description: str
    amount_yuan: int | None
    created_at: datetime
    steps: tuple[Step, ...]
    prompted_by: str | None = None  # a clue opened by a 有 at 防打击报复回访: the first case


class EnterprisePlan(NamedTuple):
    """An enterprise of the demo district and the token of its card."""

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


def person_name(rng: random.Random) -> str:
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
    # ``rng.uniform(low_hours, high_hours)``, its very sum, without the call
    return at + timedelta(hours=low_hours + (high_hours - low_hours) * rng.random())


def _chooser(weights: dict[K, int] | Sequence[tuple[K, int]]) -> Callable[[random.Random], K]:
    """A key drawn by its weight: the very draw of ``rng.choices(keys, weights=…)[0]`` (one
    ``random()`` times the weights' total, bisected into their running totals), the totals
    added up once and no list made for the one key drawn."""
    pairs = list(weights.items() if isinstance(weights, dict) else weights)
    population = [key for key, _ in pairs]
    totals = list(itertools.accumulate(weight for _, weight in pairs))
    return _drawn(population, totals)


def _drawn(population: Sequence[K], totals: Sequence[float]) -> Callable[[random.Random], K]:
    """``rng.choices(population, cum_weights=totals)[0]``, drawn as it draws."""
    total, last = totals[-1] + 0.0, len(totals) - 1
    return lambda rng: population[bisect_right(totals, rng.random() * total, 0, last)]


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
    *,
    needs_assigning: bool,
    created: datetime,
    amount: int | None,
    rectify: Rectifying,
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
    if rng.random() < 0.015:  # stalled after 签收: the 办结 deadline passes
        if track is Track.APPEAL and rng.random() < 0.6:  # the unit never reports its 整改
            steps += _rectification(rng, rectify, at, at)[0][:1]
        return steps
    extended = rng.random() < 0.07
    if extended:
        at = _after(at, rng, 72, 240)
        steps.append(
            Step(StepKind.EXTEND, at, days=rng.choice((5, 10)), note="涉及多个部门，需延期办理。")
        )
    if track is Track.CLUE:
        hours = rng.uniform(20, budget * 24 * (1.9 if extended else 1.45))
        return steps + _clue_course(rng, at + timedelta(hours=hours))
    for attempt in range(2):
        hours = rng.uniform(20, budget * 24 * (1.9 if extended else 1.45))
        outcome = _outcome(rng, track)
        if outcome is Outcome.RECTIFIED:  # 办结 as 已整改 waits for a verified 整改
            rectified, at = _rectification(rng, rectify, at, at + timedelta(hours=hours))
            steps += rectified
        else:
            at = at + timedelta(hours=hours)
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


RECTIFICATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "business_env": (
        ("按政策兑现土地出让金返还，并向企业书面说明兑现时间。", "园区管委会"),
        ("限期办结建筑物配套费减免手续，不得要求企业重复提交材料。", "住建局"),
        ("按公布的减免政策重新核算厂房租金，多收部分予以退还。", "园区管委会"),
    ),
    "enterprise_policy": (
        ("按公示结果拨付产业扶持资金，并告知企业到账时间。", "经信局"),
        ("按规定办理增值税留抵退税，向企业说明办理进度。", "税务所"),
        ("落实稳岗返还政策，逐项答复企业申请。", "人社局"),
    ),
    "key_projects": (
        ("制定征拆推进计划，明确施工单位进场时间。", "园区管委会"),
        ("按合同约定完成工程款结算，不得无故拖延。", "住建局"),
    ),
    "enforcement": (
        ("清理重复检查事项，实行联合检查、一次到位。", "市场监管局"),
        ("规范执法程序，对不当罚款决定予以纠正。", "综合行政执法局"),
    ),
    "work_safety": (
        ("督促相关企业规范危化品堆放，消除安全隐患。", "应急管理局"),
        ("清理占用的消防通道，修复损坏的消防设施。", "园区管委会"),
    ),
}
GENERAL_RECTIFICATIONS = (
    ("明确专人限期办理企业诉求，并书面答复企业。", "园区管委会"),
    ("纠正推诿拖延问题，建立办理台账，逐项销号。", "住建局"),
    ("按规定办结相关手续，向企业说明办理结果。", "税务所"),
)
VERIFIED_NOTES = (
    "经实地核验，整改已落实到位。",
    "责任单位已提交整改报告，经企业确认，整改到位。",
)
REJECTED_NOTE = "经核验，整改尚未完全落实，请责任单位继续整改。"
RECTIFY_LATE = 0.12  # 核验 after the 整改期限
RECTIFY_REJECTED = 0.1  # 核验 not passed once first


@dataclass(frozen=True, slots=True)
class Rectifying:
    """What planning a 整改 needs: the calendar (its 期限 in working days), ``[rectification]``
    and the case's category (what is rectified, and by which unit)."""

    calendar: WorkCalendar
    config: RectificationConfig
    category: str


def _rectification(
    rng: random.Random, rectify: Rectifying, worked: datetime, resolving: datetime
) -> tuple[list[Step], datetime]:
    """反馈整改 after the work started at ``worked``: the requirement, the unit and the working
    days; its 核验 — mostly within the 期限, some late, a few not passed once first — and 办结
    after it (at ``resolving`` or later). The steps and the time of 办结."""
    requirement, unit = rng.choice(RECTIFICATIONS.get(rectify.category, GENERAL_RECTIFICATIONS))
    config = rectify.config
    days = min(rng.choice((config.days, config.days, 10, 20)), config.max_days)
    at = _after(worked, rng, 2, 48)
    steps = [Step(StepKind.RECTIFY, at, note=requirement, days=days, unit=unit)]
    due = rectify.calendar.deadline(at, days).due_at
    span = (due - at).total_seconds() / 3600
    if rng.random() < RECTIFY_REJECTED:
        rejected = at + timedelta(hours=span * rng.uniform(0.3, 0.6))
        steps.append(Step(StepKind.VERIFY, rejected, note=REJECTED_NOTE, passed=False))
        at = rejected
        span = (due - at).total_seconds() / 3600
    if rng.random() < RECTIFY_LATE:
        verified = due + timedelta(hours=rng.uniform(4, 240))
    else:
        verified = at + timedelta(hours=span * rng.uniform(0.2, 0.95))
    steps.append(Step(StepKind.VERIFY, verified, note=rng.choice(VERIFIED_NOTES)))
    return steps, max(resolving, _after(verified, rng, 2, 48))


REASONS = {
    Disposition.TALK: "反映问题较为具体，情节较轻，拟对相关人员谈话函询。",
    Disposition.VERIFY: "反映问题线索具体、可查性强，拟进行初步核实。",
    Disposition.HOLD: "反映内容较为笼统，暂不具备核查条件，拟暂存待查。",
    Disposition.DISMISS: "经了解，反映问题缺乏事实依据或已有结论，拟予以了结。",
    Disposition.FILE: "初步核实发现相关人员涉嫌违纪违法，拟立案审查。",
}
COURSES: tuple[tuple[tuple[Disposition, ...], int], ...] = (
    ((Disposition.VERIFY, Disposition.FILE), 20),
    ((Disposition.VERIFY, Disposition.DISMISS), 20),
    ((Disposition.DISMISS,), 22),
    ((Disposition.TALK, Disposition.DISMISS), 16),
    ((Disposition.TALK,), 4),
    ((Disposition.HOLD,), 10),
    ((Disposition.HOLD, Disposition.VERIFY, Disposition.FILE), 3),
    ((Disposition.VERIFY,), 5),
)
"""The dispositions a clue goes through (``models.disposition.NEXT`` allows each), by weight."""
WORK_HOURS = {  # between one approved disposition and the next proposal
    Disposition.TALK: (5 * 24, 25 * 24),
    Disposition.VERIFY: (10 * 24, 50 * 24),
    Disposition.HOLD: (30 * 24, 120 * 24),
}


_course = _chooser(COURSES)


def _clue_course(rng: random.Random, at: datetime) -> list[Step]:
    """A clue's 集体研判, from its first proposal at ``at``: each disposition proposed with a
    reason, reviewed by the team leader, approved by a 委领导; the work of one (谈话函询,
    初步核实, 暂存待查) before the next is proposed; 立案审查 with one to three people."""
    course = _course(rng)
    steps: list[Step] = []
    for index, kind in enumerate(course):
        if index:
            at += timedelta(hours=rng.uniform(*WORK_HOURS[course[index - 1]]))
        people = rng.choice((1, 1, 2, 3)) if kind is Disposition.FILE else None
        steps.append(
            Step(StepKind.PROPOSE, at, note=REASONS[kind], disposition=kind, people=people)
        )
        at = _after(at, rng, 2, 50)
        steps.append(Step(StepKind.REVIEW, at))
        at = _after(at, rng, 3, 70)
        steps.append(Step(StepKind.APPROVE, at))
    return steps


_OUTCOMES = {
    track: _chooser(list(zip(Outcome, weights, strict=True)))
    for track, weights in ((Track.CLUE, (0, 25, 20, 45, 10)), (Track.APPEAL, (55, 20, 12, 5, 8)))
}
"""How an appeal, and how a clue, comes out (the weights of ``Outcome``'s members, in order)."""


def _outcome(rng: random.Random, track: Track) -> Outcome:
    return _OUTCOMES[Track.CLUE if track is Track.CLUE else Track.APPEAL](rng)


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
    zone_of = _chooser({z: ZONE_WEIGHTS.get(z, 5) for z in zones})
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
        enterprises.append(EnterprisePlan(name, uscc, zone_of(rng), person_name(rng), token))
    popularity = list(
        itertools.accumulate(1 / (rank + 1) ** 0.9 for rank in range(len(enterprises)))
    )
    enterprise_of = _drawn(range(len(enterprises)), popularity)
    category_of = _chooser(
        {c: CATEGORY_WEIGHTS.get(c, 5) for c in (c.code for c in config.categories)}
    )
    tracks = {c.code: c.track for c in config.categories}
    routed_teams = {rule.team for rule in config.routing}
    resolve_days = {c.code: config.ladder_for(c.code).resolve for c in config.categories}
    rectifying = {
        c.code: Rectifying(calendar, config.rectification, c.code) for c in config.categories
    }
    plans: list[CasePlan] = []
    scans: list[tuple[int, datetime]] = []
    team_for = Routes(config)

    def life(
        category: str, zone: str, description: str, created: datetime, amount: int | None
    ) -> list[Step]:
        """The steps of a case received at ``created`` until ``now``."""
        team = team_for(category, zone, description)
        steps = _life(
            rng,
            tracks[category],
            resolve_days[category],
            needs_assigning=team in leader_teams or team not in routed_teams,
            created=created,
            amount=amount,
            rectify=rectifying[category],
        )
        return [s for s in steps if s.at <= now]

    for _ in range(cases):
        index = enterprise_of(rng)
        category = category_of(rng)
        created = _moment(rng, calendar, start, now)
        amount = _amount(rng, category)
        description = rng.choice(DESCRIPTIONS.get(category, DESCRIPTIONS["other"]))
        if amount:
            description += f"涉及金额约{amount / 10000:g}万元。"
        contact = None
        if rng.random() < 0.45:
            contact = (
                person_name(rng),
                "1" + rng.choice("3456789") + f"{rng.randrange(10**9):09d}",
            )
        steps = life(category, enterprises[index].zone, description, created, amount)
        plans.append(
            CasePlan(
                enterprise=index,
                contact=contact,
                category=category,
                description=description,
                amount_yuan=amount,
                created_at=created,
                steps=tuple(steps),
            )
        )
        scans.append((index, created - timedelta(minutes=rng.uniform(2, 40))))
    for _ in range(cases // 2):
        scans.append((rng.randrange(len(enterprises)), _moment(rng, calendar, start, now)))
    plans.sort(key=lambda p: p.created_at)
    scans.sort(key=lambda s: s[1])
    numbers = case_numbers(config, plans)  # in the order of receipt: what the repeats name
    zones = [e.zone for e in enterprises]
    plans = _link_repeats(rng, config, plans, zones, now, team_for=team_for, numbers=numbers)
    if config.aftercare.enabled:  # (the repeats keep every case's time: the same numbers)
        plans = _ask_after(rng, config, calendar, plans, now, before=numbers, life=lambda p: life(
            p.category, zones[p.enterprise], p.description, p.created_at, None
        ))  # fmt: skip
    return Plan(start, now, enterprises, plans, scans)


# --- 防打击报复回访 ----------------------------------------------------------------------------

AFTERCARE_NONE = 0.8
"""Of the questions asked, the part answered 没有."""
AFTERCARE_YES = 0.03
"""Of the questions asked, the part answered 有; the others go unanswered (未答复)."""


def _finished_at(plan: CasePlan) -> datetime | None:
    """When the case was last 办结 (an appeal's 办结, a clue's closing disposition) and not
    reopened or merged since: the 防打击报复回访 clock runs from then."""
    finished, proposed = None, None
    for step in plan.steps:
        if step.kind is StepKind.RESOLVE:
            finished = step.at
        elif step.kind is StepKind.FOLLOWUP and step.satisfaction is Satisfaction.UNSATISFIED:
            finished = None  # 重办 stops the clock; the next 办结 starts it again
        elif step.kind in (StepKind.MERGE, StepKind.WITHDRAW):
            finished = None
        elif step.kind is StepKind.PROPOSE:
            proposed = step.disposition
        elif step.kind is StepKind.APPROVE and proposed is not None and proposed.closes:
            finished = step.at
    return finished


def _aftercare(
    rng: random.Random,
    config: LiankaConfig,
    calendar: WorkCalendar,
    plan: CasePlan,
    now: datetime,
) -> tuple[CasePlan, datetime | None]:
    """The sweep asks at 09:00 of the day ``[aftercare] days`` working days after 办结; the
    reporter answers 没有 within a few days, rarely 有 (not on a clue a 有 opened), or the
    question closes 未答复 after ``answer_days``. What happened by ``now`` is added to the
    case's steps; with the time of a 有, which opens a clue then."""
    finished = _finished_at(plan)
    if finished is None:
        return plan, None
    due = calendar.deadline(finished, config.aftercare.days).due_at
    day = due.astimezone(SHANGHAI).date()
    ask = max(datetime.combine(day, MORNING, SHANGHAI).astimezone(finished.tzinfo), finished)
    steps = [Step(StepKind.AFTERCARE_ASK, ask)]
    roll, answered = rng.random(), _after(ask, rng, 0.5, 60)
    yes = AFTERCARE_NONE <= roll < AFTERCARE_NONE + AFTERCARE_YES and plan.prompted_by is None
    if roll < AFTERCARE_NONE or yes:
        steps.append(Step(StepKind.AFTERCARE_ANSWER, answered, answer="yes" if yes else "none"))
    else:
        closes = calendar.deadline(ask, config.aftercare.answer_days).due_at
        steps.append(Step(StepKind.AFTERCARE_UNANSWERED, closes))
    plan = plan._replace(steps=plan.steps + tuple(s for s in steps if s.at <= now))
    return plan, (answered if yes and answered <= now else None)


_PlainCase = plain(Case)


def _numbered(number: str, at: datetime) -> Case:
    """A case that is only its 受理编号 (what ``aftercare.clue_description`` reads), on a plain
    object (an ORM ``Case`` costs a millisecond to make)."""
    numbered: Case = _PlainCase(
        number=number, track=Track.APPEAL, status=CaseStatus.CLOSED, category_id=0,
        description="", created_at=at, updated_at=at,
    )  # fmt: skip
    return numbered


def _ask_after(
    rng: random.Random,
    config: LiankaConfig,
    calendar: WorkCalendar,
    plans: list[CasePlan],
    now: datetime,
    *,
    before: list[str],
    life: Callable[[CasePlan], list[Step]],
) -> list[CasePlan]:
    """防打击报复回访 on every case finished long enough ago; each 有 opens a clue of
    ``[aftercare] category`` by the same reporter (实名 or 匿名 as the first case), received
    at the answer, linked to the first case (``aftercare.report_retaliation``). The clues take
    their place in the order of receipt, so the 受理编号 of later cases (and the 重复件 links
    that name them) move on; the history keeps its size, the last received making room.
    ``before``: each planned case's 受理编号 (``case_numbers``)."""
    asked: list[CasePlan] = []
    numbers: dict[int, str] = {}  # id() of a planned case → its 受理编号 before the clues
    for number, plan in zip(before, plans, strict=True):
        plan, answered = _aftercare(rng, config, calendar, plan, now)
        asked.append(plan)
        numbers[id(plan)] = number
        if answered is not None:
            clue = CasePlan(
                enterprise=plan.enterprise, contact=plan.contact,
                category=config.aftercare.category, description="", amount_yuan=None,
                created_at=answered, steps=(), prompted_by=number,
            )  # fmt: skip
            asked.append(clue)
    kept = sorted(asked, key=lambda p: p.created_at)[: len(plans)]
    if len(asked) == len(plans):
        return kept
    after = case_numbers(config, kept)
    moved = {numbers[id(p)]: n for p, n in zip(kept, after, strict=True) if id(p) in numbers}
    opened = {p.prompted_by for p in kept if p.prompted_by is not None}
    result = []
    for plan in kept:
        if plan.prompted_by is None:
            result.append(_renumbered(plan, moved, numbers[id(plan)] in opened))
            continue
        first = moved[plan.prompted_by]  # received earlier, so kept
        own = rng.choice((None, *DESCRIPTIONS["retaliation"]))
        said = clue_description(_numbered(first, plan.created_at), own)  # the service's words
        clue = plan._replace(description=said, prompted_by=first)
        clue = clue._replace(
            steps=(Step(StepKind.AFTERCARE_CLUE, clue.created_at, ref=first), *life(clue))
        )
        result.append(_aftercare(rng, config, calendar, clue, now)[0])
    return result


def _renumbered(plan: CasePlan, moved: dict[str, str], opened: bool) -> CasePlan:
    """The case's links by the new 受理编号; a repeat merged into it that made room is no longer
    recorded, and a 有 whose clue made room is a 没有."""
    steps, changed = [], False
    for step in plan.steps:
        if step.ref is not None:
            if step.ref not in moved:  # MERGED_IN of a later repeat (earlier cases are kept)
                assert step.kind is StepKind.MERGED_IN, step
                changed = True
                continue
            if moved[step.ref] != step.ref:
                step, changed = step._replace(ref=moved[step.ref]), True
        if step.kind is StepKind.AFTERCARE_ANSWER and step.answer == "yes" and not opened:
            step, changed = step._replace(answer="none"), True
        steps.append(step)
    return plan._replace(steps=tuple(steps)) if changed else plan  # most are as they were


# --- 重复件 ------------------------------------------------------------------------------

REPEAT_KEEP = 0.2
"""Of the appeals the check would link, the part kept as 重复件; the others are moved to another
enterprise of the same zone (the demo's few busy enterprises would otherwise make almost half
of all appeals repeats)."""

MERGE_SHARE = 0.5
"""Of the repeats that could be merged (same team, the earlier case still open), merged."""


def _state_at(plan: CasePlan, at: datetime) -> str:
    """open, done (办结 or a closing disposition), withdrawn or merged, as of ``at``."""
    state, proposed = "open", None
    for step in plan.steps:
        if step.at > at:
            break
        if step.kind is StepKind.WITHDRAW:
            state = "withdrawn"
        elif step.kind is StepKind.MERGE:
            state = "merged"
        elif step.kind is StepKind.RESOLVE:
            state = "done"
        elif step.kind is StepKind.FOLLOWUP:
            state = "open" if step.satisfaction is Satisfaction.UNSATISFIED else "done"
        elif step.kind is StepKind.PROPOSE:
            proposed = step.disposition
        elif step.kind is StepKind.APPROVE and proposed is not None and proposed.closes:
            state = "done"
    return state


def case_numbers(config: LiankaConfig, plans: list[CasePlan]) -> list[str]:
    """The 受理编号 each planned case gets, submitted in order (a counter a year)."""
    counters: dict[int, int] = {}
    numbers = []
    for plan in plans:
        year = plan.created_at.astimezone(SHANGHAI).year
        counters[year] = counters.get(year, 0) + 1
        numbers.append(format_case_number(config.organisation.case_prefix, year, counters[year]))
    return numbers


def _earlier(plans: list[CasePlan], candidates: list[int], at: datetime, days: int) -> int | None:
    """The intake's check for an appeal (``bot.services.repeats.find_earlier``, same enterprise
    and category): the latest earlier case neither withdrawn nor merged, open or recent."""
    for j in reversed(candidates):
        state = _state_at(plans[j], at)
        recent = plans[j].created_at >= at - timedelta(days=days)
        if state not in ("withdrawn", "merged") and (state == "open" or recent):
            return j
    return None


class _Others(Sequence[int]):
    """The enterprises of a zone (in order) but one, as a sequence over the zone's list: what
    ``rng.sample`` picks from, as it would from the list without it, without making that list
    each time (a zone of a large history holds thousands of enterprises)."""

    __slots__ = ("_all", "_at")

    def __init__(self, ordered: list[int], left_out: int) -> None:
        self._all = ordered
        self._at = bisect_left(ordered, left_out)
        assert ordered[self._at] == left_out

    def __len__(self) -> int:
        return len(self._all) - 1

    @overload
    def __getitem__(self, index: int) -> int: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...
    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))][index]
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._all[index if index < self._at else index + 1]


def _link_repeats(
    rng: random.Random,
    config: LiankaConfig,
    plans: list[CasePlan],
    zones: list[str],
    now: datetime,
    *,
    team_for: Routes,
    numbers: list[str],
) -> list[CasePlan]:
    """Flag the appeals the intake's repeat check links (same enterprise and category, the
    earlier case open or within ``[repeats] window_days``; the text check is left out: the
    demo's templated descriptions would make most cases alike), and merge some of them
    (合并办理) into the earlier case by its team leader while both are open."""
    tracks = {c.code: c.track for c in config.categories}
    days = config.repeats.window_days
    neighbours: dict[str, list[int]] = {}
    for index, zone in enumerate(zones):
        neighbours.setdefault(zone, []).append(index)
    seen: dict[tuple[int, str], list[int]] = {}
    for i, case in enumerate(plans):
        if tracks[case.category] is not Track.APPEAL:
            continue
        j = _earlier(plans, seen.get((case.enterprise, case.category), []), case.created_at, days)
        if j is not None and rng.random() >= REPEAT_KEEP:
            others = _Others(neighbours[zones[case.enterprise]], case.enterprise)
            for other in rng.sample(others, min(3, len(others))):
                if _earlier(plans, seen.get((other, case.category), []), case.created_at, days):
                    continue
                case = plans[i] = case._replace(enterprise=other)
                j = None
                break
        seen.setdefault((case.enterprise, case.category), []).append(i)
        if j is None:
            continue
        flag = Step(StepKind.FLAG_REPEAT, case.created_at, ref=numbers[j])
        steps = [flag, *case.steps]
        at = _after(case.created_at, rng, 1, 30)
        same_team = team_for(case.category, zones[case.enterprise], case.description) == team_for(
            plans[j].category, zones[plans[j].enterprise], plans[j].description
        )
        if (
            same_team
            and at <= now
            and rng.random() < MERGE_SHARE
            and _state_at(plans[j], at) == "open"
            and _state_at(case, at) == "open"
        ):
            steps = [flag, *(s for s in case.steps if s.at < at)]
            steps.append(Step(StepKind.MERGE, at, ref=numbers[j]))
            record = Step(StepKind.MERGED_IN, at, note=case.description, ref=numbers[i])
            earlier = sorted((*plans[j].steps, record), key=lambda s: s.at)
            plans[j] = plans[j]._replace(steps=tuple(earlier))
        plans[i] = case._replace(steps=tuple(steps))
    return plans


class Routes:
    """``choose_team``'s decision (every team active) for a category, zone and description,
    worked out once for each: a history repeats its templated descriptions. The plan asks it
    for teams, the histories (``demo.bulk``) for decisions."""

    __slots__ = ("config", "known")

    def __init__(self, config: LiankaConfig) -> None:
        self.config = config
        self.known: dict[tuple[str, str | None, str], RoutingDecision] = {}

    def decision(self, category: str, zone: str | None, description: str) -> RoutingDecision:
        key = (category, zone, description)
        decision = self.known.get(key)
        if decision is None:
            decision = self.known[key] = choose_team(
                self.config.routing,
                category_code=category,
                zone_code=zone,
                description=description,
                dispatcher_code=self.config.dispatcher.code,
            )
        return decision

    def __call__(self, category: str, zone: str, description: str) -> str:
        return self.decision(category, zone, description).team_code
