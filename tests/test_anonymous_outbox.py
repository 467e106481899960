"""The outbox keeps no plain link between an anonymous case and its reporter's chat: a notice to
the chat carries no case and a keyed key, and forgets the chat and the reporter once sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.intake import submit_case
from bot.services.notices import tell_reporter
from bot.services.policy import Policy
from bot.services.sweep import sweep_deadlines
from bot.services.tracking import tracked_case
from models.calendar import WorkCalendar
from models.case import CaseStatus, Satisfaction
from models.intake import CaseDraft
from models.notification import Notification, NotificationStatus, RecipientKind
from models.reporter import Reporter
from notifications.sender import Pace, Sender
from notifications.telegram import FollowupAnswer, FollowupRating
from tests.casework import accept, case_of, make_staff, resolve
from tests.factories import make_reporter
from tests.fake_bot_api import FakeBotApi
from tests.test_followup import ASK, RESOLVED, SUBMITTED, UNRATED, bot_for
from tests.test_sender import run_until_done

pytestmark = pytest.mark.both_databases

REFUND = "园区承诺的土地出让金返还已逾期半年，多次询问无人答复，请帮助协调。"
CHAT = 7_000_123


async def reporter_rows(sessions: SessionFactory) -> list[Notification]:
    async with sessions() as session:
        found = await session.exec(
            select(Notification).where(Notification.recipient_kind == RecipientKind.REPORTER)
        )
        return list(found.all())


async def told_about(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock,
    *, anonymous: bool,
) -> int:  # fmt: skip
    draft = CaseDraft("business_env", REFUND, anonymous=anonymous)
    if not anonymous:
        draft = CaseDraft(
            "business_env",
            REFUND,
            anonymous=False,
            contact_name="李四",
            contact_phone="13911112222",
        )
    async with sessions() as session:
        reporter = await make_reporter(session, clock.now(), telegram_user_id=CHAT)
        result = await submit_case(
            session, reporter, draft, policy=Policy(config, calendar), now=clock.now()
        )
        case = result.case
        await tell_reporter(session, case, "_plain", stage=99, now=clock.now(), text="已受理")
        await session.commit()
        assert case.id is not None
        return case.id


async def test_a_notice_to_an_anonymous_reporters_chat_names_no_case_and_forgets_the_chat_once_sent(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    case_id = await told_about(sessions, catalog, calendar, clock, anonymous=True)
    queued = [row for row in await reporter_rows(sessions) if row.kind == "_plain"]
    assert len(queued) == 1
    (row,) = queued
    assert row.case_id is None and row.key.startswith("anon:")
    assert f":{case_id}:" not in row.key and str(CHAT) not in row.key
    api = FakeBotApi()
    await api.start()
    bot = api.bot()
    try:
        await run_until_done(
            sessions, Sender(sessions, bot, pace=Pace(per_second=20.0), idle_interval=0.05)
        )
    finally:
        await bot.session.close()
        await api.stop()
    assert any(call.chat_id == CHAT and call.text == "已受理" for call in api.calls)
    sent = [r for r in await reporter_rows(sessions) if r.kind == "_plain"]
    assert [r.status for r in sent] == [NotificationStatus.SENT]
    assert sent[0].chat_id is None and sent[0].recipient_id is None and sent[0].case_id is None


async def test_a_named_reporters_notice_keeps_its_case(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    case_id = await told_about(sessions, catalog, calendar, clock, anonymous=False)
    (row,) = [row for row in await reporter_rows(sessions) if row.kind == "_plain"]
    assert row.case_id == case_id and row.chat_id == CHAT


async def send_all(sessions: SessionFactory, *, blocked: set[int] | None = None) -> FakeBotApi:
    api = FakeBotApi(forbidden=blocked or set())
    await api.start()
    bot = api.bot()
    try:
        await run_until_done(
            sessions, Sender(sessions, bot, pace=Pace(per_second=20.0), idle_interval=0.05)
        )
    finally:
        await bot.session.close()
        await api.stop()
    return api


async def anonymous_appeal_resolved(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> int:
    async with sessions() as session:
        await make_staff(session, SUBMITTED)
        reporter = await make_reporter(session, SUBMITTED, telegram_user_id=CHAT)
        result = await submit_case(
            session,
            reporter,
            CaseDraft("business_env", REFUND, anonymous=True),
            policy=Policy(config, calendar),
            now=SUBMITTED,
        )
    case_id = result.case.id
    assert case_id is not None
    await accept(sessions, config, calendar, case_id, SUBMITTED)
    await resolve(sessions, config, calendar, case_id, RESOLVED)
    return case_id


async def test_the_followup_question_to_an_anonymous_reporter_names_no_case_and_is_asked_once(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case_id = await anonymous_appeal_resolved(sessions, catalog, calendar)
    await send_all(sessions)  # the notices of submission and 办结, out of the way
    for now in (ASK, ASK + timedelta(minutes=1), ASK + timedelta(days=1)):
        await sweep_deadlines(sessions, catalog, calendar, now)
    (question,) = [r for r in await reporter_rows(sessions) if r.kind == "followup_ask"]
    assert question.case_id is None and question.key.startswith("anon:")
    assert f"{case_id}:" not in question.key and str(CHAT) not in question.key

    api = await send_all(sessions)
    (asked,) = [call for call in api.delivered if "【回访】" in (call.text or "")]
    assert asked.chat_id == CHAT
    (sent,) = [r for r in await reporter_rows(sessions) if r.kind == "followup_ask"]
    assert sent.status is NotificationStatus.SENT
    assert (sent.chat_id, sent.recipient_id, sent.offer_ref, sent.case_id) == (None,) * 4

    # the reporter's web page still knows the question is open, and the button still works
    async with sessions() as session:
        assert (
            await tracked_case(session, case_id, policy=Policy(catalog, calendar), now=RESOLVED)
        ).followup_asked
    telegram = bot_for(sessions, catalog, calendar, ASK + timedelta(hours=2))
    reporter = telegram.user(user_id=CHAT)
    await reporter.press(FollowupAnswer(case_id=case_id, rating=FollowupRating.SATISFIED).pack())
    closed = await case_of(sessions, case_id)
    assert (closed.status, closed.satisfaction) == (CaseStatus.CLOSED, Satisfaction.SATISFIED)
    async with sessions() as session:
        assert not (
            await tracked_case(session, case_id, policy=Policy(catalog, calendar), now=RESOLVED)
        ).followup_asked
    await sweep_deadlines(sessions, catalog, calendar, UNRATED)
    assert len([r for r in await reporter_rows(sessions) if r.kind == "followup_ask"]) == 1


async def test_a_notice_an_anonymous_reporter_blocked_forgets_the_chat_and_marks_them_blocked(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    await told_about(sessions, catalog, calendar, clock, anonymous=True)
    await send_all(sessions, blocked={CHAT})
    rows = [r for r in await reporter_rows(sessions) if r.key.startswith("anon:")]
    assert rows and {r.status for r in rows} == {NotificationStatus.UNDELIVERABLE}
    assert all((r.chat_id, r.recipient_id, r.offer_ref, r.case_id) == (None,) * 4 for r in rows)
    async with sessions() as session:
        reporter = (
            await session.exec(select(Reporter).where(Reporter.telegram_user_id == CHAT))
        ).one()
    assert reporter.blocked_at is not None
