"""A small known history around 国庆 2026 for the report tests, written by the use cases.

Holidays 1–7 October 2026; Sunday 20 September and Saturday 10 October are make-up working days.
Every case is submitted with ``submit_case`` and lives through the demo's step functions, each at
the moment given here (Asia/Shanghai).
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.intake import submit_case
from bot.services.policy import Policy
from demo.plan import Step, StepKind
from demo.steps import STEPS
from demo.use_cases import SessionLedger
from models.calendar import SHANGHAI, WorkCalendar
from models.card import Card, CardScan
from models.case import Outcome, Satisfaction
from models.intake import CaseDraft
from models.org import Category, Zone
from models.reporter import Reporter
from models.team import Role
from reports.figures import resolve_scope
from reports.periods import Period, PeriodKind
from reports.report import Report, build_report
from tests.factories import make_inspector, make_reporter

OCTOBER = Period(PeriodKind.MONTH, datetime(2026, 10, 1).date(), datetime(2026, 10, 31).date())


def at(text: str) -> datetime:
    """``"10-09 10:00"`` in 2026, Shanghai time."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=SHANGHAI)


NOW = at("11-26 10:00")  # Thursday


async def read_report(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    *,
    period: Period = OCTOBER,
    now: datetime = NOW,
    **scope: str,
) -> Report:
    """The report of ``period`` (October) as of ``now``, for the district or ``scope`` (a zone,
    a team), with its case list: what a leader gets."""
    async with sessions() as session:
        chosen = await resolve_scope(session, **scope)
        await session.commit()
        return await build_report(
            session, config=config, calendar=calendar, period=period, scope=chosen, now=now
        )


ENTERPRISES = {
    "E1": ("jkq", "四川坤天新能源科技有限公司"),
    "E2": ("anju", "遂宁安居鑫达建材有限公司"),
    "E3": ("jkq", "遂宁恒信物流有限公司"),
    "E4": ("yufeng", "玉丰镇丰润农业开发有限公司"),
    "E5": ("jkq", "遂宁市安居区瑞源食品有限公司"),
}

REFUND = "园区管委会承诺的土地出让金返还至今未到位，企业资金周转困难，请帮助协调。"


def step(kind: StepKind, when: str, **values: object) -> Step:
    return Step(kind, at(when), **values)  # type: ignore[arg-type]


# (enterprise, category, description, amount involved in 元, named, submitted, steps)
CASES: list[tuple[str, str, str, int | None, bool, str, list[Step]]] = [
    # H — September (the previous period), submitted on the make-up Sunday 20 Sep
    (
        "E5",
        "business_env",
        "厂房租金减免政策已公布三个月，园区平台公司仍按原标准收取租金。",
        None,
        False,
        "09-20 10:00",
        [
            step(StepKind.ACCEPT, "09-21 09:30"),
            step(StepKind.RESOLVE, "09-25 16:00", outcome=Outcome.SOLVED, amount_yuan=300_000),
            step(StepKind.FOLLOWUP, "09-28 10:00", satisfaction=Satisfaction.SATISFIED),
        ],
    ),
    # B — reported on a holiday (3 Oct): 签收 due Thu 8 Oct, extended, reopened, overdue now
    (
        "E1",
        "business_env",
        "建筑物配套费已按政策申请减免，相关部门迟迟不予办理，影响项目竣工验收。",
        800_000,
        True,
        "10-03 11:00",
        [
            step(StepKind.ACCEPT, "10-08 10:00"),
            step(StepKind.PROGRESS, "10-09 15:00", note="已约谈住建部门。"),
            step(StepKind.EXTEND, "10-20 10:00", days=5, note="需市级部门会签。"),
            step(StepKind.RESOLVE, "11-03 11:00", outcome=Outcome.RECTIFIED, amount_yuan=200_000),
            step(
                StepKind.FOLLOWUP,
                "11-04 09:00",
                satisfaction=Satisfaction.UNSATISFIED,
                note="仍有一半未退还。",
            ),
        ],
    ),
    # A — Friday 9 Oct: 签收 due on the make-up Saturday 10 Oct, signed on Monday: late
    (
        "E1",
        "business_env",
        REFUND,
        1_250_000,
        False,
        "10-09 10:00",
        [
            step(StepKind.ACCEPT, "10-12 09:00"),
            step(StepKind.RESOLVE, "10-30 15:00", outcome=Outcome.SOLVED, amount_yuan=1_000_000),
            step(StepKind.FOLLOWUP, "11-03 10:00", satisfaction=Satisfaction.SATISFIED),
        ],
    ),
    # C — 安全生产 (10 working days): resolved two days late
    (
        "E2",
        "work_safety",
        "相邻企业危化品堆放不规范，多次反映未整改，存在安全隐患。",
        None,
        False,
        "10-12 09:30",
        [
            step(StepKind.ACCEPT, "10-13 17:59"),
            step(StepKind.RESOLVE, "10-29 10:00", outcome=Outcome.RECTIFIED),
            step(StepKind.FOLLOWUP, "10-30 10:00", satisfaction=Satisfaction.BASIC),
        ],
    ),
    # D — a clue: assigned by the team leader, 督办, transferred, closed without a rating
    (
        "E3",
        "soe_corruption",
        "某国有公司负责人在工程分包中指定关系户承接项目，涉嫌利益输送。",
        None,
        True,
        "10-13 15:00",
        [
            step(StepKind.ASSIGN, "10-14 10:00"),
            step(StepKind.ACCEPT, "10-15 09:00"),
            step(StepKind.SUPERVISE, "10-20 11:00", note="请加快核查。"),
            step(StepKind.RESOLVE, "11-20 16:00", outcome=Outcome.CLUE_TRANSFERRED),
            step(StepKind.CLOSE, "11-21 10:00"),
        ],
    ),
    # F — to the dispatcher (no rule for 其他), withdrawn the next morning
    (
        "E4",
        "other",
        "园区公交线路调整后员工通勤不便，多次反映未获答复。",
        None,
        False,
        "10-20 10:00",
        [step(StepKind.WITHDRAW, "10-21 09:00", note="已自行解决。")],
    ),
    # E — never signed for: overdue now on 签收 and 受理告知
    (
        "E2",
        "enforcement",
        "同一事项一个月内被不同部门重复检查四次，影响正常生产。",
        30_000,
        False,
        "10-30 11:00",
        [],
    ),
    # G — a Saturday evening report; resolved, no answer at follow-up (未评价)
    (
        "E1",
        "business_env",
        "办理施工许可时被要求重复提交材料，多次往返仍未办结，希望加快审批。",
        None,
        False,
        "10-31 20:00",
        [
            step(StepKind.ACCEPT, "11-02 10:00"),
            step(StepKind.RESOLVE, "11-10 10:00", outcome=Outcome.SOLVED, amount_yuan=50_000),
            step(StepKind.FOLLOWUP, "11-16 18:00", satisfaction=Satisfaction.UNRATED),
        ],
    ),
    # I — November: outside the October report
    ("E2", "business_env", REFUND, 90_000, False, "11-20 10:00", []),
]

SCANS = [
    ("E5", "09-30 09:00"),
    ("E1", "10-03 10:50"),
    ("E1", "10-09 09:55"),
    ("E2", "10-12 09:20"),
    ("E1", "10-31 19:55"),
    ("E2", "11-01 08:00"),
]


async def _people(session: AsyncSession, now: datetime) -> None:
    account = iter(range(800_001, 800_100))
    for team in ("business_env", "safety", "soe", "enforcement", "dispatch"):
        await make_inspector(
            session,
            now,
            team_code=team,
            role=Role.TEAM_LEADER,
            name="组长",
            telegram_user_id=next(account),
        )
        await make_inspector(
            session, now, team_code=team, name="监督员", telegram_user_id=next(account)
        )
    await make_inspector(
        session, now, team_code=None, role=Role.LEADER, name="张琪", telegram_user_id=next(account)
    )


async def build_history(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> dict[str, Reporter]:
    """Write the history; returns the reporters by enterprise key."""
    start = at("09-01 09:00")
    reporters: dict[str, Reporter] = {}
    async with sessions() as session:
        await _people(session, start)
        for number, (key, (zone_code, name)) in enumerate(ENTERPRISES.items()):
            reporter = await make_reporter(
                session,
                start,
                telegram_user_id=7_100_001 + number,
                zone_code=zone_code,
                enterprise_name=name,
            )
            zone = (await session.exec(select(Zone).where(Zone.code == zone_code))).one()
            card = Card(
                token=f"c_reporttest{number:010d}",
                enterprise_id=reporter.enterprise_id or 0,
                zone_id=zone.id,
                issuing_unit=zone.issuing_unit,
                created_at=start,
            )
            session.add(card)
            await session.flush()
            reporter.card_id = card.id
            session.add(reporter)
            reporters[key] = reporter
        await session.commit()
        cards = {key: r.card_id for key, r in reporters.items()}
        for key, when in SCANS:
            session.add(
                CardScan(
                    card_id=cards[key] or 0, reporter_id=reporters[key].id, scanned_at=at(when)
                )
            )
        await session.commit()
        codes = {c.id or 0: c.code for c in (await session.exec(select(Category))).all()}
    for key, category, description, amount, named, submitted, steps in CASES:
        async with sessions() as session:
            fresh = await session.get(Reporter, reporters[key].id)
            assert fresh is not None
            result = await submit_case(
                session,
                fresh,
                CaseDraft(
                    category_code=category,
                    description=description,
                    amount_yuan=amount,
                    anonymous=not named,
                    contact_name="宋利剑" if named else None,
                    contact_phone="13812345678" if named else None,
                ),
                policy=Policy(config, calendar),
                now=at(submitted),
            )
            ledger = SessionLedger(session, config, calendar, codes)
            for planned in steps:
                await STEPS[planned.kind](ledger, result.case, planned)
                await session.flush()
            await session.commit()
    return reporters
