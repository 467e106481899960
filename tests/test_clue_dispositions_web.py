"""A 实名 clue's reporter objects to its result on the tracking page (/t), once: the objection
is recorded and sent to the 委领导; a second is refused and the form is gone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.assignment import reassign_case
from bot.services.dispositions import objectable
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.calendar import WorkCalendar
from models.case import Case
from models.disposition import Disposition
from models.event import EventKind
from models.intake import CaseDraft
from notifications.telegram import ClueObjection
from tests.factories import make_reporter
from tests.inspector_support import SOE, SOE_INSPECTOR, SOE_LEADER, build, make_people
from tests.test_clue_dispositions import Clue
from tests.test_web_track import SECRET, csrf_of, open_case, text_of
from web.session import CSRF_FIELD

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    settings = Settings(_env_file=None, web_secret=SECRET)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def dismissed_clue(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> tuple[Clue, str]:
    """A 实名 clue 予以了结 by 集体研判, and its receipt code."""
    people = await make_people(sessions, clock)
    policy = Policy(catalog, calendar)
    draft = CaseDraft(
        "soe_corruption", SOE, anonymous=False, contact_name="宋利剑", contact_phone="13812345678"
    )
    async with sessions() as session:  # a web reporter: the receipt code is how they come back
        reporter = await make_reporter(session, clock.now(), web=True)
        submitted = await submit_case(session, reporter, draft, policy=policy, now=clock.now())
    assert submitted.receipt_code is not None
    clue = Clue(sessions, policy, clock, people, submitted.case)
    async with sessions() as session:
        await reassign_case(
            session, await clue.person(SOE_LEADER), clue.case.id or 0,
            inspector_id=people.id(SOE_INSPECTOR), policy=policy, now=clock.now(),
        )  # fmt: skip
    async with sessions() as session:
        await accept_case(
            session, await clue.person(SOE_INSPECTOR), clue.case.id or 0, policy=policy,
            now=clock.now(),
        )  # fmt: skip
    proposal = await clue.propose(Disposition.DISMISS, "经初步了解，反映问题不属实。")
    await clue.decide(await clue.review(proposal))
    return clue, submitted.receipt_code


async def test_a_named_clue_reporter_objects_once_on_the_tracking_page(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    clue, code = await dismissed_clue(sessions, catalog, calendar, clock)
    html = await open_case(client, code)
    text = text_of(html)
    assert "已办结" in text and "对处置结果提出异议" in text
    assert "经核查，予以了结" in text  # the result notice kept for the page

    empty = await client.post(
        "/t/case/objection", data={CSRF_FIELD: csrf_of(html), "objection": " "}
    )
    assert empty.status == 409 and "请输入异议内容" in text_of(await empty.text())
    assert await clue.notices("clue_objection") == []

    sent = await client.post(
        "/t/case/objection",
        data={CSRF_FIELD: csrf_of(html), "objection": "被反映人仍在岗，请再核查。"},
    )
    page = text_of(await sent.text())
    assert "您的异议已收到" in page and "您已对处置结果提出异议" in page
    assert "提交异议" not in page
    assert len(await clue.notices("clue_objection")) == 1

    again = await client.post(
        "/t/case/objection", data={CSRF_FIELD: csrf_of(html), "objection": "再提一次。"}
    )
    assert again.status == 409 and "不能重复提出" in text_of(await again.text())
    assert len(await clue.notices("clue_objection")) == 1
    assert (await clue.kinds()).count(EventKind.CLUE_OBJECTED) == 1


async def test_past_the_objection_days_the_tracking_page_no_longer_offers_an_objection(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    clue, code = await dismissed_clue(sessions, catalog, calendar, clock)
    clock.advance(timedelta(days=60))  # past 30 working days after the result was told
    async with sessions() as session:
        case = await session.get(Case, clue.case.id)
        assert case is not None
        assert not await objectable(session, case, clue.policy, clock.now())  # the chat's rule
    html = await open_case(client, code)
    text = text_of(html)
    assert "已办结" in text and "对处置结果提出异议" not in text and "提交异议" not in text
    late = await client.post(
        "/t/case/objection", data={CSRF_FIELD: csrf_of(html), "objection": "请再核查。"}
    )
    assert late.status == 409 and "已超过提出异议的期限" in text_of(await late.text())
    assert await clue.notices("clue_objection") == []


async def test_a_named_web_clue_followed_in_the_chat_by_its_receipt_code_can_be_objected_to_there(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    """SECURITY.md's "reporter (receipt code)" is whoever holds the code, in the chat too: the
    reporter who sent a 实名 clue on the web and follows it in Telegram may object there."""
    clue, code = await dismissed_clue(sessions, catalog, calendar, clock)
    tg = build(sessions, catalog, calendar, clock)
    phone = tg.user(user_id=7_300_001)
    await phone.send(f"/track {code}")
    await phone.press(ClueObjection(case_id=clue.case.id or 0).pack())
    assert "只能提出一次" in phone.last
    await phone.send_photo()  # not words: said so, the step still open
    assert phone.last == "请用文字写明您的异议和理由；暂不提出请发送 /cancel。"
    await phone.send("被反映人仍在岗，请再核查。")
    assert "您的异议已收到" in phone.last
    assert len(await clue.notices("clue_objection")) == 1
    stranger = tg.user(user_id=7_300_002)  # without the code: refused
    await stranger.press(ClueObjection(case_id=clue.case.id or 0).pack())
    assert stranger.alerts[-1] == "您无权进行此操作。"
