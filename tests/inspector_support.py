"""Shared set-up for the inspectors' side: the production dispatcher, the people of a small
commission, reports submitted as the intake does, and the outbox delivered into the chats."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import col, func, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.dispatcher import create_dispatcher
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.settings import Settings
from bot.storage import SqlStorage
from models.attachment import MediaKind
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import CaseClock
from models.event import CaseEvent
from models.intake import CaseDraft, Evidence
from models.notification import Notification, NotificationStatus, RecipientKind
from models.relay import RelayMessage
from models.reporter import Reporter
from models.request import ApprovalRequest
from models.team import Inspector, Role
from notifications.render import telegram_html
from notifications.telegram import notice_keyboard
from tests.factories import make_inspector, make_reporter
from tests.harness import Telegram, TgUser

REFUND = "经开区管委会承诺的土地出让金返还和建筑物配套费至今未到位，企业资金链断裂，请帮助协调。"
SAFETY = "厂区消防通道被占用，多次反映未整改，存在安全隐患。"
SOE = "某国企负责人在工程分包中收受好处费，指定关系户承接项目。"
RUDE = "办事窗口工作人员态度生硬，多次刁难企业办事人员。"

# Telegram ids of the people below
INSPECTOR = 501  # 营商环境组 监督员 李监督
BUSINESS_LEADER = 502  # 营商环境组 组长 曾燕
SECOND_INSPECTOR = 503  # 营商环境组 监督员 赵监督
DISPATCH_LEADER = 601  # 信访室 组长
PROJECTS_INSPECTOR = 701  # 重点项目组 监督员
SAFETY_INSPECTOR = 702  # 安全生产组 监督员
SOE_INSPECTOR = 801
SOE_LEADER = 802
LEADER = 901  # 委领导
ADMIN = 999
REPORTER = 7_100_001


def build(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> Telegram:
    """The production dispatcher with the database FSM storage and the frozen clock."""
    dispatcher = create_dispatcher(
        settings=Settings(),
        config=config,
        sessions=sessions,
        calendar=calendar,
        storage=SqlStorage(sessions),
        clock=clock,
    )
    return Telegram.create(dispatcher)


@dataclass
class People:
    """The commission's people (by Telegram id) and one reporter."""

    ids: dict[int, int]  # Telegram id → Inspector.id
    reporter: Reporter

    def id(self, telegram_id: int) -> int:
        return self.ids[telegram_id]


PEOPLE: tuple[tuple[int, str | None, Role, str], ...] = (
    (INSPECTOR, "business_env", Role.INSPECTOR, "李监督"),
    (BUSINESS_LEADER, "business_env", Role.TEAM_LEADER, "曾燕"),
    (DISPATCH_LEADER, "dispatch", Role.TEAM_LEADER, "信访室组长"),
    (PROJECTS_INSPECTOR, "key_projects", Role.INSPECTOR, "钱监督"),
    (SAFETY_INSPECTOR, "safety", Role.INSPECTOR, "孙监督"),
    (SOE_INSPECTOR, "soe", Role.INSPECTOR, "周监督"),
    (SOE_LEADER, "soe", Role.TEAM_LEADER, "吴组长"),
    (LEADER, None, Role.LEADER, "郑书记"),
    (ADMIN, None, Role.ADMIN, "管理员"),
)


async def make_people(
    sessions: SessionFactory,
    clock: FrozenClock,
    *,
    zone_code: str | None = "jkq",
    extra: tuple[tuple[int, str | None, Role, str], ...] = (),
) -> People:
    ids = {}
    async with sessions() as session:
        for telegram_id, team, role, name in PEOPLE + extra:
            person = await make_inspector(
                session,
                clock.now(),
                team_code=team,
                role=role,
                name=name,
                telegram_user_id=telegram_id,
            )
            assert person.id is not None
            ids[telegram_id] = person.id
        reporter = await make_reporter(
            session, clock.now(), telegram_user_id=REPORTER, zone_code=zone_code
        )
    return People(ids, reporter)


async def submit(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    reporter: Reporter,
    *,
    category: str = "business_env",
    description: str = REFUND,
    named: bool = False,
    photo: bool = False,
) -> Case:
    """A report submitted as the intake conversation does it (routing included)."""
    draft = CaseDraft(
        category_code=category,
        description=description,
        evidence=(Evidence(MediaKind.PHOTO, "ph-evidence", "u-ph-evidence"),) if photo else (),
        anonymous=not named,
        contact_name="宋利剑" if named else None,
        contact_phone="13812345678" if named else None,
    )
    async with sessions() as session:
        result = await submit_case(
            session, reporter, draft, policy=Policy(config, calendar), now=clock.now()
        )
    return result.case


async def deliver(telegram: Telegram, sessions: SessionFactory) -> list[Notification]:
    """Send every pending outbox row into the chats, in order, as the paced sender would."""
    async with sessions() as session:
        rows = list(
            (
                await session.exec(
                    select(Notification)
                    .where(Notification.status == NotificationStatus.PENDING)
                    .order_by(col(Notification.id))
                )
            ).all()
        )
        for row in rows:
            markup = notice_keyboard(row)
            assert row.chat_id is not None
            sent = await telegram.bot.send_message(
                row.chat_id, telegram_html(row), reply_markup=markup
            )
            row.status = NotificationStatus.SENT
            row.telegram_message_id = sent.message_id
            session.add(row)
        await session.commit()
    return rows


async def reporter_notices(sessions: SessionFactory) -> list[str]:
    """The kinds of every message queued for reporters, in order."""
    async with sessions() as session:
        rows = await session.exec(
            select(Notification)
            .where(Notification.recipient_kind == RecipientKind.REPORTER)
            .order_by(col(Notification.id))
        )
        return [row.kind for row in rows.all()]


async def load(sessions: SessionFactory, number: str) -> Case:
    async with sessions() as session:
        return (await session.exec(select(Case).where(Case.number == number))).one()


async def clocks(sessions: SessionFactory, case_id: int) -> dict[str, CaseClock]:
    async with sessions() as session:
        rows = await session.exec(select(CaseClock).where(CaseClock.case_id == case_id))
        return {row.kind.value: row for row in rows.all()}


async def events(sessions: SessionFactory, case_id: int) -> list[CaseEvent]:
    async with sessions() as session:
        rows = await session.exec(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(col(CaseEvent.seq))
        )
        return list(rows.all())


async def snapshot(sessions: SessionFactory) -> dict[str, Any]:
    """Everything an action could change, to compare before and after a refused one."""
    async with sessions() as session:

        async def dump(model: Any) -> list[dict[str, Any]]:
            rows = (await session.exec(select(model).order_by(model.id))).all()
            return [row.model_dump() for row in rows]

        return {
            "cases": await dump(Case),
            "events": (await session.exec(select(func.count()).select_from(CaseEvent))).one(),
            "notifications": await dump(Notification),
            "requests": await dump(ApprovalRequest),
            "relays": await dump(RelayMessage),
            "clocks": await dump(CaseClock),
            "inspectors": await dump(Inspector),
        }


def user(telegram: Telegram, telegram_id: int, name: str = "用户") -> TgUser:
    return telegram.user(first_name=name, user_id=telegram_id)
