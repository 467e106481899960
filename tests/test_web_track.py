"""``/t`` over HTTP against the web channel's real routes and middlewares: a receipt code opens
the case for this browser (never in an address), ten wrong codes are refused for a while, a
form without its CSRF token is refused, and a question answered, a case withdrawn and a 不满意
with a reason reopening the case, each as the chat does it."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.clocks import get_clock
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.case import CaseStatus, Satisfaction
from models.clock import ClockKind, ClockState
from models.relay import RelayMessage, RelayStatus
from tests.casework import case_of, outbox
from tests.tracking_support import (
    ANSWERED,
    FOLLOWUP,
    QUESTION,
    SUBMITTED,
    WebCase,
    asked,
    followup_asked,
    web_case,
)
from web.session import CSRF_FIELD
from web.track import TRACK_COOKIE

pytestmark = pytest.mark.both_databases

SECRET = "test-web-secret-0123456789abcdefghijklmnop"
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    settings = Settings(_env_file=None, web_secret=SECRET)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def csrf_of(html: str) -> str:
    found = re.search(rf'name="{CSRF_FIELD}" value="([^"]+)"', html)
    assert found is not None, "the page has a form with its CSRF token"
    return found.group(1)


async def open_case(client: Client, code: str) -> str:
    """``/t``, the code typed, 查询: the case page's HTML."""
    form = await client.get("/t")
    assert form.status == 200
    opened = await client.post(
        "/t", data={CSRF_FIELD: csrf_of(await form.text()), "code": code}, allow_redirects=False
    )
    assert opened.status == 303 and opened.headers["Location"] == "/t/case"
    page = await client.get("/t/case")
    assert page.status == 200
    return await page.text()


async def test_a_code_opens_the_case_page_and_is_in_no_address_and_no_cookie(
    client: Client, sessions: SessionFactory, catalog, calendar, caplog
) -> None:
    caplog.set_level(logging.INFO)
    web = await web_case(sessions, catalog, calendar)
    form = await client.get("/t")
    html = await form.text()
    for words in ("回执码", "查询"):
        assert words in text_of(html)
    assert "<script" not in html
    html = await open_case(client, web.code.lower())
    text = text_of(html)
    assert web.case.number in text and "已提交" in text
    assert "撤回该问题" in text and "退出查询" in text
    assert len(html.encode()) < 100_000 and "<script" not in html
    cookies = " ".join(f"{c.key}={c.value}" for c in client.session.cookie_jar)
    raw = web.code.replace("-", "")
    assert web.code not in cookies and raw not in cookies
    assert web.code not in caplog.text and raw not in caplog.text
    assert TRACK_COOKIE in cookies


async def test_without_the_case_cookie_or_after_signing_out_the_case_page_goes_back_to_t(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    web = await web_case(sessions, catalog, calendar)
    away = await client.get("/t/case", allow_redirects=False)
    assert away.status == 303 and away.headers["Location"] == "/t"
    html = await open_case(client, web.code)
    out = await client.post("/t/signout", data={CSRF_FIELD: csrf_of(html)}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/t"
    again = await client.get("/t/case", allow_redirects=False)
    assert again.status == 303 and again.headers["Location"] == "/t"


async def test_ten_wrong_codes_and_even_the_right_one_is_refused_for_a_while(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    web = await web_case(sessions, catalog, calendar)
    token = csrf_of(await (await client.get("/t")).text())
    for n in range(10):
        wrong = await client.post("/t", data={CSRF_FIELD: token, "code": f"2222-3333-{n:04d}"})
        assert wrong.status == 404
        assert "未找到该回执码对应的问题" in text_of(await wrong.text())
    refused = await client.post("/t", data={CSRF_FIELD: token, "code": web.code})
    assert refused.status == 429
    assert "回执码输入错误次数过多" in text_of(await refused.text())


async def test_a_form_without_its_csrf_token_is_refused_and_nothing_is_done(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    await client.get("/t")
    refused = await client.post("/t", data={"code": web.code}, allow_redirects=False)
    assert refused.status == 403
    await open_case(client, web.code)
    withdraw = await client.post("/t/case/withdraw", data={CSRF_FIELD: "forged"})
    assert withdraw.status == 403
    assert (await case_of(sessions, web.id)).status is not CaseStatus.WITHDRAWN


async def test_a_question_is_answered_on_the_page_and_the_clock_runs_again(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    web = await web_case(sessions, catalog, calendar)
    relay = await asked(sessions, catalog, calendar, web)
    clock.set(ANSWERED)
    html = await open_case(client, web.code)
    assert QUESTION in text_of(html) and "提交答复" in text_of(html)
    assert "撤回该问题" not in text_of(html)  # signed for: no 撤回
    token = csrf_of(html)
    empty = await client.post(
        "/t/case/answer", data={CSRF_FIELD: token, "relay": str(relay.id), "answer": " "}
    )
    assert empty.status == 409  # refused with its words, the question still there
    assert QUESTION in text_of(await empty.text())
    answer = "合同编号 AJ-JKQ-2024-017，<b>落款</b>为管委会。"
    sent = await client.post(
        "/t/case/answer",
        data={CSRF_FIELD: token, "relay": str(relay.id), "answer": answer},
        allow_redirects=False,
    )
    assert sent.status == 303 and sent.headers["Location"] == "/t/case?done=answered"
    after = await (await client.get(sent.headers["Location"])).text()
    assert "您的答复已转达办理人员" in after and "提交答复" not in after
    async with sessions() as session:
        stored = await session.get(RelayMessage, relay.id)
        resolve = await get_clock(session, web.id, ClockKind.RESOLVE)
    assert stored is not None and stored.status is RelayStatus.ANSWERED
    assert stored.answer == answer
    assert resolve is not None and resolve.state is ClockState.RUNNING
    [told] = await outbox(sessions, "inspector_answer")
    assert web.staff is not None and told.recipient_id == web.staff.inspector.id
    again = await client.post(
        "/t/case/answer", data={CSRF_FIELD: token, "relay": str(relay.id), "answer": "再答"}
    )
    assert again.status == 409 and "已答复" in text_of(await again.text())


async def test_withdraw_is_confirmed_then_done_until_signed_for(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await open_case(client, web.code)
    confirm = await client.get("/t/case/withdraw")
    confirm_html = await confirm.text()
    assert confirm.status == 200 and "确认撤回" in text_of(confirm_html)
    done = await client.post(
        "/t/case/withdraw", data={CSRF_FIELD: csrf_of(confirm_html)}, allow_redirects=False
    )
    assert done.status == 303
    page = text_of(await (await client.get(done.headers["Location"])).text())
    assert "该问题已撤回" in page and "撤回该问题" not in page
    assert (await case_of(sessions, web.id)).status is CaseStatus.WITHDRAWN
    assert await outbox(sessions, "withdrawn")
    late = await client.post("/t/case/withdraw", data={CSRF_FIELD: csrf_of(html)})
    assert late.status == 409


async def test_a_clues_withdrawal_on_the_page_is_an_application_its_team_leader_decides(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar, category="soe_corruption", team="soe")
    await open_case(client, web.code)
    confirm = await client.get("/t/case/withdraw")
    confirm_html = await confirm.text()
    assert "须由组长决定" in text_of(confirm_html) and "不能恢复" not in text_of(confirm_html)
    assert "提交撤回申请" in text_of(confirm_html)
    done = await client.post(
        "/t/case/withdraw", data={CSRF_FIELD: csrf_of(confirm_html)}, allow_redirects=False
    )
    assert done.status == 303
    page = text_of(await (await client.get(done.headers["Location"])).text())
    assert "撤回申请已收到" in page
    assert (await case_of(sessions, web.id)).status is not CaseStatus.WITHDRAWN


async def test_unsatisfied_with_a_reason_reopens_the_case_and_the_team_is_told(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    web: WebCase = await web_case(sessions, catalog, calendar)
    await followup_asked(sessions, catalog, calendar, web)
    clock.set(FOLLOWUP)
    html = await open_case(client, web.code)
    text = text_of(html)
    for words in ("回访评价", "满意", "基本满意", "不满意", "提交评价"):
        assert words in text
    token = csrf_of(html)
    bare = await client.post(
        "/t/case/followup", data={CSRF_FIELD: token, "rating": "unsatisfied", "reason": ""}
    )
    assert bare.status == 409 and "不满意的原因" in text_of(await bare.text())
    reason = "土地出让金仍未返还到位。"
    done = await client.post(
        "/t/case/followup",
        data={CSRF_FIELD: token, "rating": "unsatisfied", "reason": reason},
        allow_redirects=False,
    )
    assert done.status == 303 and done.headers["Location"] == "/t/case?done=reopened"
    page = text_of(await (await client.get(done.headers["Location"])).text())
    assert "将重新办理" in page and "提交评价" not in page
    case = await case_of(sessions, web.id)
    assert case.status is CaseStatus.REOPENED
    assert (case.satisfaction, case.satisfaction_note) == (Satisfaction.UNSATISFIED, reason)
    assert web.staff is not None
    told = await outbox(sessions, "followup_reopened")
    assert {row.recipient_id for row in told} == {
        web.staff.inspector.id,
        web.staff.team_leader.id,
    }
    assert all(reason in str(row.params) for row in told)


async def test_no_followup_form_before_it_is_asked_and_a_forged_rating_is_refused(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await open_case(client, web.code)
    assert "回访评价" not in text_of(html)
    refused = await client.post(
        "/t/case/followup", data={CSRF_FIELD: csrf_of(html), "rating": "satisfied"}
    )
    assert refused.status == 409
    assert (await case_of(sessions, web.id)).status is CaseStatus.ASSIGNED
    assert clock.now() == SUBMITTED


async def test_the_case_cookie_copied_to_another_browser_opens_nothing(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    web = await web_case(sessions, catalog, calendar)
    await open_case(client, web.code)
    [track] = [c for c in client.session.cookie_jar if c.key == TRACK_COOKIE]
    jar = aiohttp.CookieJar(unsafe=True)  # a second browser, on the same server
    async with aiohttp.ClientSession(cookie_jar=jar) as other:
        await other.get(client.make_url("/t"))  # a session of its own
        jar.update_cookies({TRACK_COOKIE: track.value}, response_url=client.make_url("/"))
        away = await other.get(client.make_url("/t/case"), allow_redirects=False)
        assert away.status == 303 and away.headers["Location"] == "/t"
        both = {c.key: c.value for c in client.session.cookie_jar}  # the whole browser copied
        jar.update_cookies(both, response_url=client.make_url("/"))
        copied = await other.get(client.make_url("/t/case"), allow_redirects=False)
        assert copied.status == 200  # so it was the binding to the session that refused


async def test_satisfied_on_the_page_closes_the_case(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    web = await web_case(sessions, catalog, calendar)
    await followup_asked(sessions, catalog, calendar, web)
    clock.set(FOLLOWUP)
    html = await open_case(client, web.code)
    none = await client.post("/t/case/followup", data={CSRF_FIELD: csrf_of(html)})
    assert none.status == 409 and "请选择您的评价" in text_of(await none.text())
    done = await client.post(
        "/t/case/followup",
        data={CSRF_FIELD: csrf_of(html), "rating": "satisfied"},
        allow_redirects=False,
    )
    assert done.status == 303 and done.headers["Location"] == "/t/case?done=rated"
    page = text_of(await (await client.get(done.headers["Location"])).text())
    assert "感谢您的评价" in page and "提交评价" not in page
    case = await case_of(sessions, web.id)
    assert (case.status, case.satisfaction) == (CaseStatus.CLOSED, Satisfaction.SATISFIED)


async def test_forms_on_the_case_page_are_limited_per_address_and_keep_what_was_typed(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    from web.track import TOO_FREQUENT

    web = await web_case(sessions, catalog, calendar)
    await followup_asked(sessions, catalog, calendar, web)
    token = csrf_of(await open_case(client, web.code))
    form = {CSRF_FIELD: token, "reason": "出让金仍未到位。"}  # no rating: refused, nothing done
    for _ in range(30):
        assert (await client.post("/t/case/followup", data=form)).status == 409
    throttled = await client.post("/t/case/followup", data=form)
    page = await throttled.text()
    assert throttled.status == 429
    assert TOO_FREQUENT in text_of(page) and "出让金仍未到位。" in page
    assert (await case_of(sessions, web.id)).status is CaseStatus.RESOLVED
