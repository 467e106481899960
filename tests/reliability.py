"""Shared by the fault-injection test and the soak: reporters who keep trying, inspectors to
spread the notices over, queued notices, and the check that each notice arrived exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import create_engine, create_session_factory
from models.case import Case, reporter_of
from models.notification import Notice, Notification, NotificationStatus, Recipient, RecipientKind
from models.processed_update import ProcessedUpdate
from models.reporter import Reporter
from models.team import Inspector, Role, Team
from notifications.outbox import enqueue
from notifications.render import telegram_html
from sandbox import Emulator
from sandbox.personas import DEMO_CARD_TOKEN
from sandbox.telegram_html import parse_html
from sandbox.world import SandboxError
from tests.factories import make_inspector
from tests.live import REFUND


@asynccontextmanager
async def opened(database_url: str) -> AsyncIterator[AsyncSession]:
    """A session on the database a ``lianka run`` under test uses, its engine closed after."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            yield session
    finally:
        await engine.dispose()


STEPS: tuple[tuple[str, str, str], ...] = (
    ("start", DEMO_CARD_TOKEN, "廉政监督联系卡"),
    ("click", "反映问题", "请选择您要反映的问题类别"),
    ("click", "营商环境", "请用文字描述"),
    ("send", "", "请上传相关材料"),  # the description: REFUND and the reporter's number
    ("click", "完成", "金额"),
    ("click", "跳过", "请选择反映方式"),
    ("click", "匿名", "请核对"),
    ("click", "确认提交", "提交成功"),
)


def description_of(user_id: int) -> str:
    return f"{REFUND}（企业联系人编号 {user_id}）"


@dataclass
class Conversation:
    """One reporter's report, as they lived it."""

    user_id: int
    confirmed: bool = False
    stuck_at: str | None = None
    retries: int = 0  # a step done again after no answer came (as a person would)
    descriptions_sent: int = 0  # more than one: the later ones may add to the first (补充)


async def converse(
    emulator: Emulator, user_id: int, *, within: float, tries: int = 3
) -> Conversation:
    """Scan the demo card and send an anonymous report. A step without an answer within
    ``within`` seconds is done again, as a person would; a button that is gone is looked for
    again after /report (which shows the step the draft is at)."""
    user = emulator.add_user(user_id, "王立新")
    conversation = Conversation(user_id)
    for kind, argument, expected in STEPS:
        floor = max((m.message_id for m in user.chat.messages), default=0)
        for attempt in range(tries):
            if attempt:
                conversation.retries += 1
                answers = (m for m in user.chat.messages if m.from_bot and m.message_id > floor)
                if any(expected in m.text for m in answers):
                    break
            try:
                if kind == "start":
                    user.start(argument)
                elif kind == "send":
                    user.send(description_of(user_id))
                    conversation.descriptions_sent += 1
                else:
                    user.click(argument)
            except SandboxError:
                user.send("/report")
                with suppress(TimeoutError):
                    await user.wait_reply("请继续填写", within=within)
                continue
            try:
                await user.wait_reply(expected, after=floor, within=within)
            except TimeoutError:
                continue
            break
        else:
            conversation.stuck_at = expected
            return conversation
    conversation.confirmed = True
    return conversation


async def add_inspectors(
    database_url: str, beside: int, first_id: int, count: int, now: datetime
) -> list[int]:
    """``count`` more inspectors in the team of the inspector with Telegram id ``beside``, so
    that new cases are spread over many chats."""
    async with opened(database_url) as session:
        team_code = (
            await session.exec(
                select(Team.code)
                .join(Inspector, col(Inspector.team_id) == col(Team.id))
                .where(Inspector.telegram_user_id == beside)
            )
        ).one()
        for user_id in range(first_id, first_id + count):
            await make_inspector(
                session,
                now,
                team_code=team_code,
                role=Role.INSPECTOR,
                name=f"监督员{user_id % 1000}",
                telegram_user_id=user_id,
            )
    return list(range(first_id, first_id + count))


async def queue_notices(
    database_url: str, chat_ids: list[int], per_chat: int, now: datetime
) -> int:
    """``per_chat`` distinct notices to each chat, straight into the outbox."""
    async with opened(database_url) as session:
        for chat_id in chat_ids:
            for n in range(per_chat):
                await enqueue(
                    session,
                    key=f"-:fault-test:{n}:{chat_id}",
                    kind="fault_test",
                    to=Recipient(RecipientKind.INSPECTOR, 0, chat_id),
                    notice=Notice.of("_plain", text=f"测试通知 第{n + 1}条（{chat_id}）"),
                    now=now,
                )
        await session.commit()
    return len(chat_ids) * per_chat


async def outbox_rows(database_url: str) -> list[Notification]:
    async with opened(database_url) as session:
        return list((await session.exec(select(Notification))).all())


async def outbox_open(database_url: str) -> int:
    """Rows still to send (pending, or claimed and not yet sent)."""
    async with opened(database_url) as session:
        open_statuses = (NotificationStatus.PENDING, NotificationStatus.SENDING)
        statement = select(func.count()).where(col(Notification.status).in_(open_statuses))
        return int((await session.exec(statement)).one())


@dataclass
class Delivery:
    """The outbox against what the emulated Telegram shows in each chat."""

    rows: int = 0
    sent: int = 0
    once: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    not_sent: Counter[str] = field(default_factory=Counter)
    extra: Counter[tuple[int, str]] = field(default_factory=Counter)  # copies shown too many

    @property
    def extra_copies(self) -> int:
        return sum(self.extra.values())


def check_delivery(emulator: Emulator, rows: list[Notification]) -> Delivery:
    """Every row that was sent shows in its chat exactly once (as many times as rows of that
    text went to that chat); rows not sent are counted by status."""
    delivery = Delivery(rows=len(rows))
    expected: Counter[tuple[int, str]] = Counter()
    for row in rows:
        if row.status is NotificationStatus.SENT:
            expected[shown_as(row)] += 1
        else:
            delivery.not_sent[row.status.value] += 1
    delivery.sent = sum(expected.values())
    seen: dict[int, Counter[str]] = {}
    for chat_id in {chat_id for chat_id, _ in expected}:
        chat = emulator.user(chat_id).chat
        seen[chat_id] = Counter(m.text.strip() for m in chat.messages if m.from_bot)
    for (chat_id, text), count in expected.items():
        shown = seen[chat_id][text]
        if shown == count:
            delivery.once += count
        elif shown < count:
            delivery.missing.append(f"{chat_id}: {text[:40]}")
        else:
            delivery.duplicated.append(f"{chat_id}: {text[:40]} ×{shown}")
            delivery.extra[(chat_id, text)] = shown - count
    return delivery


def shown_as(row: Notification) -> tuple[int, str]:
    """A notice as its chat shows it: the chat and the text without its markup."""
    assert row.chat_id is not None
    return row.chat_id, parse_html(telegram_html(row))[0].strip()


async def in_flight(database_url: str, pid: int) -> Counter[tuple[int, str]]:
    """The notices whose request the sender of process ``pid`` had handed to Telegram with no
    answer recorded: read just after it was killed, the ones it may or may not have delivered."""
    async with opened(database_url) as session:
        rows = (
            await session.exec(
                select(Notification).where(
                    Notification.status == NotificationStatus.SENDING,
                    col(Notification.attempted_at).is_not(None),
                    col(Notification.claimed_by).endswith(f":{pid}"),
                )
            )
        ).all()
    return Counter(shown_as(row) for row in rows)


async def updates_handled(database_url: str) -> set[int]:
    """The update ids recorded as handled."""
    async with opened(database_url) as session:
        return set((await session.exec(select(ProcessedUpdate.update_id))).all())


@dataclass
class Cases:
    """The cases in the database, by the reporter's Telegram account."""

    total: int
    by_user: Counter[int]
    descriptions: dict[int, list[str]]


async def cases_by_user(database_url: str) -> Cases:
    async with opened(database_url) as session:
        reporters = {r.id: r.telegram_user_id for r in (await session.exec(select(Reporter))).all()}
        rows = [
            (reporters.get(reporter_of(case)), case.description)
            for case in (await session.exec(select(Case))).all()
        ]
    by_user: Counter[int] = Counter()
    descriptions: dict[int, list[str]] = {}
    for user_id, description in rows:
        assert user_id is not None, "the soak reports through Telegram only"
        by_user[user_id] += 1
        descriptions.setdefault(user_id, []).append(description)
    return Cases(len(rows), by_user, descriptions)
