"""Two sweepers and two senders on one database (each with its own engine), over 300 overdue
cases: every clock is acted on once, every notice is queued once and reaches Telegram once —
on its own or inside exactly one digest — and none is lost."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.config import LiankaConfig
from bot.db import SessionFactory, create_engine, create_session_factory
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.clock import CaseClock, ClockKind, ClockStage
from models.event import CaseEvent, EventKind
from models.notification import Notification, NotificationStatus
from models.org import Category, Track
from models.team import Inspector, Role, Team
from notifications.render import telegram_html
from notifications.sender import Pace, RetryPolicy, Sender
from tests.casework import sh
from tests.fake_bot_api import FakeBotApi

pytestmark = [pytest.mark.slow, pytest.mark.both_databases]

CASES = 300
NOW = sh(2026, 12, 2, 10)  # Wednesday; the 签收 deadlines were Tuesday 18:00
DUE = sh(2026, 12, 1, 18)


class RunningClock:
    """Real time passing, starting from ``start`` (the senders retry in real seconds)."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._began = time.monotonic()

    def now(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._began)


async def overdue_cases(sessions: SessionFactory) -> None:
    """300 assigned cases whose 签收 was due yesterday: 30 busy inspectors with 9 each, and
    30 with one each, all in one team with one team leader."""
    async with sessions() as session:
        team = (await session.exec(select(Team).where(Team.code == "business_env"))).one()
        category = (
            await session.exec(select(Category).where(Category.code == "business_env"))
        ).one()
        people = [
            Inspector(
                name=f"监督员{n:02d}",
                role=Role.TEAM_LEADER if n == 0 else Role.INSPECTOR,
                team_id=team.id,
                telegram_user_id=20_000 + n,
                chat_id=20_000 + n,
                created_at=NOW,
            )
            for n in range(61)
        ]
        session.add_all(people)
        await session.flush()
        inspectors = people[1:]
        for n in range(CASES):
            assignee = inspectors[n % 30] if n < 270 else inspectors[30 + n - 270]
            case = Case(
                number=f"AJ-2026-{n + 1:05d}",
                track=Track.APPEAL,
                status=CaseStatus.ASSIGNED,
                category_id=category.id or 0,
                team_id=team.id,
                assignee_id=assignee.id,
                description="土地出让金返还迟迟未到位，企业资金链紧张。",
                created_at=NOW - timedelta(days=3),
                updated_at=NOW - timedelta(days=3),
            )
            session.add(case)
            await session.flush()
            assert case.id is not None
            session.add(
                CaseClock(
                    case_id=case.id,
                    kind=ClockKind.ACCEPT,
                    stage=ClockStage.WARNED,
                    started_at=NOW - timedelta(days=3),
                    workdays=1,
                    due_at=DUE,
                    next_action_at=DUE,
                )
            )
        await session.commit()


async def sweeper(sessions: SessionFactory, config, calendar, name: str) -> int:
    """Sweep in small batches until nothing is left to claim."""
    acted = 0
    while True:
        report = await sweep_deadlines(sessions, config, calendar, NOW, instance=name, limit=25)
        acted += len(report.plans)
        if not report.plans and not report.skipped:
            return acted
        await asyncio.sleep(0)


async def all_settled(sessions: SessionFactory) -> None:
    """Wait until no notice is pending or being sent; however long that takes on a busy machine
    (the test's timeout marker stops a hang)."""
    while True:
        async with sessions() as session:
            left = (
                await session.exec(
                    select(Notification.id).where(
                        col(Notification.status).in_(
                            [NotificationStatus.PENDING, NotificationStatus.SENDING]
                        )
                    )
                )
            ).first()
        if left is None:
            return
        await asyncio.sleep(0.1)


@pytest.mark.timeout(300)
async def test_two_sweepers_and_two_senders_act_once_and_lose_nothing(
    database_url: str, sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    await overdue_cases(sessions)
    # A client that gives up on an answered request sends it again (Telegram has no idempotency
    # key), so the client waits long enough for a busy machine to answer; a request the fake
    # holds past that is lost on the way and never delivered.
    api = FakeBotApi(fault_every=7, faults=("500", "timeout"), hang=3.5)
    await api.start()
    engines = [create_engine(database_url) for _ in range(4)]
    factories = [create_session_factory(engine) for engine in engines]
    bots = [api.bot(timeout=3.0), api.bot(timeout=3.0)]
    stop = asyncio.Event()
    senders = [
        Sender(
            factories[2 + n],
            bots[n],
            instance=f"sender-{n}",
            clock=RunningClock(NOW),
            pace=Pace(per_second=200.0, chat_interval=0.01),
            retry=RetryPolicy(max_attempts=50, base=0.02, cap=0.1, keep_trying=timedelta(0)),
            idle_interval=0.05,
            rng=random.Random(n),
        )
        for n in range(2)
    ]
    sending = [asyncio.create_task(s.run(stop)) for s in senders]
    try:
        acted = await asyncio.gather(
            sweeper(factories[0], catalog, calendar, "sweeper-a"),
            sweeper(factories[1], catalog, calendar, "sweeper-b"),
        )
        await all_settled(sessions)
    finally:
        stop.set()
        await asyncio.gather(*sending)
        for bot in bots:
            await bot.session.close()
        await api.stop()
        for engine in engines:
            await engine.dispose()

    assert sum(acted) == CASES and min(acted) > 0  # both sweepers worked, no clock twice
    async with sessions() as session:
        clocks = (await session.exec(select(CaseClock))).all()
        events = (await session.exec(select(CaseEvent))).all()
        rows = (await session.exec(select(Notification))).all()
    assert {(c.stage, c.claimed_by) for c in clocks} == {(ClockStage.OVERDUE, None)}
    assert Counter(e.case_id for e in events) == Counter({c.case_id: 1 for c in clocks})
    assert {e.kind for e in events} == {EventKind.REMINDED}

    notices = [r for r in rows if r.kind == "accept_overdue"]
    assert len(notices) == 2 * CASES  # the assignee and the team leader, per case
    assert {r.status for r in rows} <= {NotificationStatus.SENT, NotificationStatus.DIGESTED}
    digests = [r for r in rows if r.kind == "deadline_digest"]
    folded = Counter(r.chat_id for r in notices if r.status is NotificationStatus.DIGESTED)
    listed: Counter[int] = Counter()
    for digest in digests:
        total = int(telegram_html(digest).split("您有 ")[1].split(" 项")[0])
        assert digest.chat_id is not None
        listed[digest.chat_id] += total
    assert listed == folded  # every folded notice is in exactly one digest
    assert folded[20_000] > 0  # the team leader got digests, not 300 messages

    delivered = Counter((call.chat_id, call.text) for call in api.delivered)
    assert set(delivered.values()) == {1}
    sent = {(r.chat_id, telegram_html(r)) for r in rows if r.status is NotificationStatus.SENT}
    assert set(delivered) == sent
    assert {r.claimed_by for r in rows} == {None}
