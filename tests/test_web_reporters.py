"""A reporter who came through a card's web page: no Telegram account, no chat. Their reports go
through the same use case; what would go to a chat waits for their page instead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.intake import submit_case
from bot.services.policy import Policy
from models.calendar import WorkCalendar
from models.case import Case
from models.intake import CaseDraft
from models.notification import Channel, Notification, RecipientKind
from models.reporter import Reporter, receipt_hash
from models.team import Role
from notifications.render import page_html, telegram_html
from notifications.sender import claim_notifications
from tests.factories import make_inspector, make_reporter

pytestmark = pytest.mark.both_databases

REFUND = "经开区管委会承诺的土地出让金返还和建筑物配套费至今未到位，企业资金链断裂，请帮助协调。"


async def test_a_named_web_report_gets_a_receipt_code_and_keeps_where_the_card_came_from(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_inspector(session, clock.now(), team_code="business_env", telegram_user_id=501)
        reporter = await make_reporter(session, clock.now(), web=True)
        named = CaseDraft(
            category_code="business_env",
            description=REFUND,
            anonymous=False,
            contact_name="张三",
            contact_phone="13812345678",
        )
        result = await submit_case(
            session, reporter, named, policy=Policy(catalog, calendar), now=clock.now()
        )
    assert result.receipt_code is not None, "a web reporter has no chat to be found by"
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        stored = await session.get(Reporter, case.reporter_id)
    assert case.receipt_hash == receipt_hash(result.receipt_code)
    assert not case.anonymous
    assert stored is not None and stored.channel is Channel.WEB
    assert stored.telegram_user_id is None and stored.chat_id is None
    assert (case.card_id, case.enterprise_id, case.zone_id) == (
        reporter.card_id,
        reporter.enterprise_id,
        reporter.zone_id,
    )


async def test_the_acceptance_notice_for_a_web_reporter_waits_for_their_page_and_is_never_sent(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    policy = Policy(catalog, calendar)
    async with sessions() as session:
        inspector = await make_inspector(
            session, clock.now(), team_code="business_env", telegram_user_id=501
        )
        reporter = await make_reporter(session, clock.now(), web=True)
        draft = CaseDraft(category_code="business_env", description=REFUND)
        result = await submit_case(session, reporter, draft, policy=policy, now=clock.now())
        assert inspector.role is Role.INSPECTOR and result.case.id is not None
        await accept_case(session, inspector, result.case.id, policy=policy, now=clock.now())
    async with sessions() as session:
        rows = (
            await session.exec(
                select(Notification).where(Notification.recipient_kind == RecipientKind.REPORTER)
            )
        ).all()
        claimed = await claim_notifications(session, clock.now(), "test", 100, timedelta(minutes=1))
    assert [(row.kind, row.channel, row.chat_id) for row in rows] == [
        ("case_accepted", Channel.WEB, None)
    ]
    page = str(page_html(rows[0]))
    assert result.case.number in page and "<br>" in page
    # the page says what to do on the page, the chat what to do in the chat
    assert "/my" not in page and "本机器人" not in page and "在本页" in page
    assert "/my" in telegram_html(rows[0])
    assert all(row.recipient_kind is not RecipientKind.REPORTER for row in claimed)
