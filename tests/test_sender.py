"""The paced sender against a fake Bot API over real HTTP: everything delivered once, at the
pace, through 429s, 500s, slow replies and timeouts; blocked people marked and reported once."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.policy import Policy
from models.calendar import WorkCalendar
from models.notification import (
    Notice,
    Notification,
    NotificationStatus,
    Recipient,
    RecipientKind,
    SendMethod,
)
from models.team import Inspector, Role
from notifications.outbox import enqueue, store_document
from notifications.render import telegram_html
from notifications.sender import Pace, RetryPolicy, Sender, claim_notifications
from tests.factories import make_inspector
from tests.fake_bot_api import Call, FakeBotApi, serving
from tests.inspector_support import ADMIN, INSPECTOR, REPORTER, make_people, submit

pytestmark = pytest.mark.both_databases

FINAL = {NotificationStatus.SENT, NotificationStatus.FAILED, NotificationStatus.UNDELIVERABLE}
TEST_PACE = Pace(per_second=20.0, chat_interval=0.25)  # faster than production, same rules
TEST_RETRY = RetryPolicy(max_attempts=20, base=0.05, cap=0.2, keep_trying=timedelta(0))
# The fake runs on the sender's event loop, so its receive times are on the sender's clock and a
# gap the sender guarantees holds exactly; only float rounding is allowed for.
ROUNDING = 1e-6
# How much later than its paced start a request may reach the fake on a busy machine (a commit,
# then a local HTTP request). Requests held up by it can bunch: the global pace is checked with
# that allowance; whether the default pace keeps under Telegram's limits is `make bench`'s
# figure (outbox_429s).
LATENESS = 0.5


async def queue(sessions: SessionFactory, messages: list[tuple[int, str]], **extra) -> None:
    now = extra.get("at") or datetime.now(UTC)
    async with sessions() as session:
        for n, (chat_id, text) in enumerate(messages):
            await enqueue(
                session,
                key=f"test:{n}:{text}",
                kind="test",
                to=Recipient(
                    extra.get("recipient_kind", RecipientKind.INSPECTOR),
                    extra.get("recipient_id", 0),
                    chat_id,
                ),
                notice=Notice.of("_plain", text=text),
                now=now,
                method=extra.get("method", SendMethod.MESSAGE),
                document_id=extra.get("document_id"),
            )
        await session.commit()


async def rows(sessions: SessionFactory) -> list[Notification]:
    async with sessions() as session:
        return list((await session.exec(select(Notification).order_by(col(Notification.id)))).all())


async def run_until_done(sessions: SessionFactory, sender: Sender) -> None:
    """Run the sender until every row is sent, failed or undeliverable, however long that takes
    on a busy machine (pytest's timeout stops a hang)."""
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    try:
        while True:
            if all(r.status in FINAL for r in await rows(sessions)):
                return
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


def assert_paced(received: list[float], pace: Pace, lateness: float) -> None:
    """No stretch of the run holds more requests than the pace allows in it: send starts are
    slots ``1 / per_second`` apart, each at most ``slack`` of a slot after its slot, so ``m``
    starts span at least ``(m - 1 - slack) / per_second`` seconds; a request arrives at most
    ``lateness`` after its start."""
    times = sorted(received)
    for first, start in enumerate(times):
        for last in range(first + 1, len(times)):
            span = times[last] - start
            allowed = (span + lateness) * pace.per_second + 1 + pace.slack
            assert last - first + 1 <= allowed, f"{last - first + 1} requests in {span:.3f} s"


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_every_message_arrives_once_at_the_pace_despite_429_500_and_timeouts(
    sessions: SessionFactory,
) -> None:
    # A client that gives up on an answered request sends it again (Telegram has no idempotency
    # key), so the client waits long enough for a busy machine to answer; a request the fake
    # holds past that is lost on the way and never delivered.
    api = FakeBotApi(slow=0.3, hang=3.5)
    async with serving(api, timeout=3.0) as bot:
        chats = [9_001 + n for n in range(10)]
        messages = [(chats[n % 10], f"消息 {n:02d}") for n in range(60)]
        await queue(sessions, messages)
        sender = Sender(
            sessions,
            bot,
            pace=TEST_PACE,
            retry=TEST_RETRY,
            idle_interval=0.05,
            rng=random.Random(6),
        )
        await run_until_done(sessions, sender)

    delivered = Counter(call.text for call in api.delivered)
    assert delivered == Counter(text for _, text in messages)  # each exactly once
    outcomes = Counter(call.outcome for call in api.calls)
    assert {"429", "500", "slow", "timeout"} <= set(outcomes)
    assert sum(outcomes[o] for o in ("429", "500", "slow", "timeout")) >= len(api.calls) // 6

    stored = await rows(sessions)
    assert {r.status for r in stored} == {NotificationStatus.SENT}
    ids = {call.text: call.message_id for call in api.delivered}
    assert all(r.telegram_message_id == ids[telegram_html(r)] and r.sent_at for r in stored)

    # A chat's next request starts chat_interval after the sender had the answer to its last, or
    # gave up waiting for it (retry_after after a 429), which was after the fake received it: the
    # gaps between receive times hold exactly, whatever the load.
    by_chat: dict[int, list[Call]] = defaultdict(list)
    for call in sorted(api.calls, key=lambda c: c.received):
        by_chat[call.chat_id].append(call)
    for calls in by_chat.values():
        assert calls[-1].outcome in ("ok", "slow")  # a refused request was tried again
        for before, after in itertools.pairwise(calls):
            wait = api.retry_after if before.outcome == "429" else TEST_PACE.chat_interval
            assert after.received - before.received >= wait - ROUNDING, (before, after)
    # Ten chats at one request per chat_interval could take 40 a second: the global pace of 20
    # is what holds them back.
    assert_paced([call.received for call in api.calls], TEST_PACE, LATENESS)


async def test_a_document_row_is_sent_as_a_document_with_its_caption(
    sessions: SessionFactory,
) -> None:
    # The file is in the database, not on the disk of the instance that queued it.
    async with sessions() as session:
        document_id = await store_document(session, "周报.pdf", b"%PDF-1.4 test", datetime.now(UTC))
        await session.commit()
    api = FakeBotApi(fault_every=0)
    async with serving(api) as bot:
        await queue(
            sessions,
            [(9_100, "安居区企业反映问题周报")],
            method=SendMethod.DOCUMENT,
            document_id=document_id,
        )
        await run_until_done(sessions, Sender(sessions, bot, pace=TEST_PACE, idle_interval=0.05))
    (call,) = api.calls
    assert (call.method, call.chat_id, call.text) == (
        "sendDocument",
        9_100,
        "安居区企业反映问题周报",
    )
    assert (call.file_name, call.file_bytes) == ("周报.pdf", b"%PDF-1.4 test")
    (row,) = await rows(sessions)
    assert row.status is NotificationStatus.SENT and row.telegram_message_id == call.message_id


async def test_a_person_who_blocked_the_bot_is_marked_and_the_admins_are_told_once(
    sessions: SessionFactory,
) -> None:
    now = datetime.now(UTC)
    async with sessions() as session:
        blocked = await make_inspector(
            session, now, team_code=None, name="孙监督", telegram_user_id=9_200
        )
        await make_inspector(
            session, now, team_code=None, name="赵管理", role=Role.ADMIN, telegram_user_id=9_300
        )
    api = FakeBotApi(fault_every=0, forbidden={9_200})
    async with serving(api) as bot:
        await queue(
            sessions,
            [(9_200, "第一条"), (9_200, "第二条")],
            recipient_id=blocked.id,
        )
        await run_until_done(sessions, Sender(sessions, bot, pace=TEST_PACE, idle_interval=0.05))
    stored = await rows(sessions)
    assert [(r.chat_id, r.status) for r in stored] == [
        (9_200, NotificationStatus.UNDELIVERABLE),
        (9_200, NotificationStatus.UNDELIVERABLE),
        (9_300, NotificationStatus.SENT),
    ]
    assert [c.text for c in api.delivered] == [
        "【送达失败】孙监督 已屏蔽本机器人，交办和催办消息无法送达，请联系本人恢复。"
    ]
    async with sessions() as session:
        person = await session.get(Inspector, blocked.id)
    assert person is not None and person.blocked_at is not None


async def test_rows_held_by_a_crashed_sender_are_sent_after_the_claim_lapses(
    sessions: SessionFactory,
) -> None:
    now = datetime.now(UTC)
    await queue(sessions, [(9_400, "甲"), (9_401, "乙")], at=now - timedelta(minutes=20))
    async with sessions() as session:
        crashed = await claim_notifications(
            session, now - timedelta(minutes=10), "crashed", 1, timedelta(minutes=5)
        )
    async with sessions() as session:
        alive = await claim_notifications(
            session, now, "alive", 1, timedelta(minutes=5), skip_chats=[9_400]
        )
    assert [telegram_html(r) for r in crashed] == ["甲"]
    assert [telegram_html(r) for r in alive] == ["乙"]

    api = FakeBotApi(fault_every=0)
    async with serving(api) as bot:
        sender = Sender(sessions, bot, pace=TEST_PACE)
        assert await sender.drain() == 1
    assert [c.text for c in api.delivered] == ["甲"]
    statuses = {telegram_html(r): (r.status, r.claimed_by) for r in await rows(sessions)}
    assert statuses == {
        "甲": (NotificationStatus.SENT, None),
        "乙": (NotificationStatus.SENDING, "alive"),
    }


@pytest.mark.timeout(120)
async def test_stopping_gives_back_at_once_what_waits_behind_a_long_retry_after(
    sessions: SessionFactory,
) -> None:
    api = FakeBotApi(fault_every=1, faults=("429",), retry_after=600)
    async with serving(api) as bot:
        await queue(sessions, [(9_400, "第一条"), (9_400, "第二条"), (9_400, "第三条")])
        sender = Sender(sessions, bot, pace=TEST_PACE, idle_interval=0.05)
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop))
        while not api.calls:  # noqa: ASYNC110 (the fake's record, changed by the sender)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # the chat is now held back for 600 s
        stop.set()
        await asyncio.wait_for(task, 60)  # not the 600 s Telegram asked for
    stored = await rows(sessions)
    assert len(api.calls) == 1
    assert {r.status for r in stored} == {NotificationStatus.PENDING}  # given back, not claimed
    assert all(r.claimed_by is None for r in stored)


async def test_a_row_whose_template_cannot_render_fails_without_a_request(
    sessions: SessionFactory,
) -> None:
    # a row from a release that had a template this one lacks: failed, not retried forever
    now = datetime.now(UTC)
    async with sessions() as session:
        session.add(
            Notification(
                key="test:gone",
                kind="test",
                chat_id=9_500,
                recipient_kind=RecipientKind.INSPECTOR,
                template="no_such_template",
                params={},
                next_attempt_at=now,
                created_at=now,
            )
        )
        await session.commit()
    await queue(sessions, [(9_500, "之后一条")])
    api = FakeBotApi(fault_every=0)
    async with serving(api) as bot:
        await run_until_done(sessions, Sender(sessions, bot, pace=TEST_PACE, idle_interval=0.05))
    assert [c.text for c in api.delivered] == ["之后一条"]
    statuses = {r.key: r.status for r in await rows(sessions)}
    assert statuses["test:gone"] is NotificationStatus.FAILED


async def test_a_notice_committed_in_this_process_goes_out_at_once_not_at_the_next_look(
    sessions: SessionFactory,
) -> None:
    api = FakeBotApi(fault_every=0)
    async with serving(api) as bot:
        # without the wake, an idle sender would look for new rows again in an hour
        sender = Sender(sessions, bot, pace=TEST_PACE, idle_interval=3600)
        stop = asyncio.Event()
        task = asyncio.create_task(sender.run(stop))

        async def delivered(count: int) -> None:
            while True:
                if len(api.delivered) >= count:
                    return
                await asyncio.sleep(0.02)

        try:
            await queue(sessions, [(9_100, "第一条")])
            await delivered(1)  # the sender has looked once and is idle now
            async with sessions() as session:  # rolled back: nothing to send, no wake needed
                await enqueue(
                    session,
                    kind="test",
                    to=Recipient(RecipientKind.INSPECTOR, 0, 9_100),
                    notice=Notice.of("_plain", text="撤销的"),
                    now=datetime.now(UTC),
                )
                await session.rollback()
            await queue(sessions, [(9_100, "第二条")])
            await asyncio.wait_for(delivered(2), timeout=30)
        finally:
            stop.set()
            await task
    assert [c.text for c in api.delivered] == ["第一条", "第二条"]


async def test_a_reporter_who_blocked_the_bot_is_told_to_the_cases_assignee_and_to_no_admin_by_case(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """The assignee may reach a named reporter as registered; admins may not know who reported
    what (the notice named the case to every admin, a clue's too): they hear only that it
    happened."""
    people = await make_people(sessions, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter, named=True)
    assert case.id is not None
    async with sessions() as session:
        inspector = await session.get(Inspector, people.id(INSPECTOR))
        assert inspector is not None
        await accept_case(
            session, inspector, case.id, policy=Policy(catalog, calendar), now=clock.now()
        )
    api = FakeBotApi(fault_every=0, forbidden={REPORTER})
    async with serving(api) as bot:
        await run_until_done(sessions, Sender(sessions, bot, pace=TEST_PACE, idle_interval=0.05))
    blocked = f"【送达失败】问题 {case.number} 的反映人已屏蔽本机器人，后续通知无法送达。"
    assert [c.chat_id for c in api.delivered if c.text.startswith(blocked)] == [INSPECTOR]
    told = [c.text for c in api.delivered if c.chat_id == ADMIN]
    assert told == [
        "【送达失败】一位反映人已屏蔽本机器人，后续通知无法送达；所涉问题由承办人员按登记的联系方式联系。"
    ]
    assert case.number not in told[0]  # the admins hear that it happened, not on which case


async def test_a_batch_of_notices_all_withdrawn_does_not_hold_back_the_ones_behind_it(
    sessions: SessionFactory,
) -> None:
    now = datetime.now(UTC)
    async with sessions() as session:
        gone = await make_inspector(
            session, now, team_code=None, name="孙监督", telegram_user_id=9_200
        )
        gone.active = False
        session.add(gone)
        await session.commit()
    await queue(sessions, [(9_200, f"第{n}条") for n in range(4)], recipient_id=gone.id, at=now)
    await queue(sessions, [(9_300, "给在岗的人")], recipient_id=0, at=now)  # queued after them
    api = FakeBotApi(fault_every=0)
    async with serving(api) as bot:
        sent = await Sender(sessions, bot, pace=TEST_PACE, batch=2).drain()
    assert sent == 1 and [c.chat_id for c in api.delivered] == [9_300]
    assert Counter(r.status for r in await rows(sessions)) == {
        NotificationStatus.WITHDRAWN: 4,
        NotificationStatus.SENT: 1,
    }
