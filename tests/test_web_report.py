"""网页反映 over HTTP, against the web channel's real routes and middlewares: a browser (aiohttp's
test client with its cookie jar) fills in each step's form as a person would, with every field's
bad input, the CSRF refusal, a form sent after its report was submitted, 30 forms a minute from
one address, a draft that survives a reload and expires after seven days."""

from __future__ import annotations

import asyncio
import html as html_lib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.rate_limits import Limit
from bot.services.web_intake import purge_expired_web_drafts
from bot.services.web_receipts import RECEIPT_SHOWN_AGAIN
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.card import Card, CardStatus
from models.case import Case, reporter_of
from models.notification import Channel
from models.org import Category
from models.rate_limit import RateCounter
from models.reporter import Reporter, ReporterContact, receipt_hash
from models.web_draft import WebDraft
from notifications.render import render
from tests.intake_helpers import ENTERPRISE, REFUND, TOKEN, make_card
from web import report as report_pages
from web.session import COOKIE

pytestmark = pytest.mark.both_databases

BOT = "AnjuLiankaBot"
SECRET = "test-web-secret-0123456789abcdefghijklmnop"
REPORT = f"/c/{TOKEN}/report"
RECEIPT = re.compile(r'<p class="code">([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</p>')

Client = TestClient[web.Request, web.Application]


def text_of(html: str) -> str:
    """The page's visible text, tags dropped, entities decoded, whitespace squeezed."""
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))).strip()


def hidden_fields(html: str) -> dict[str, str]:
    return {
        name: html_lib.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html)
    }


def step_of(html: str) -> str:
    return hidden_fields(html)["step"]


class Browser:
    """One phone's browser on the report pages: the last page it shows, and its forms."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.html = ""
        self.status = 0

    async def open(self, path: str = REPORT) -> str:
        response = await self.client.get(path)
        self.status, self.html = response.status, await response.text()
        return self.html

    async def send(self, action: str = "next", form: str | None = None, **fields: str) -> str:
        """Press ``action`` on the form of the page shown (or of ``form``, an older page)."""
        data = hidden_fields(form or self.html) | fields | {"action": action}
        response = await self.client.post(REPORT, data=data)
        self.status, self.html = response.status, await response.text()
        return self.html

    async def through_to_summary(
        self, category: Category, *, amount: str = "", identity: str = "anonymous", **contact: str
    ) -> str:
        await self.open()
        await self.send(category=str(category.id))
        await self.send(description=REFUND)
        await self.send()  # 相关材料: none
        await self.send(amount=amount)
        await self.send(identity=identity, **contact)
        assert step_of(self.html) == "summary", text_of(self.html)
        return self.html


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    async with sessions() as session:
        await make_card(session, clock.now())
    async with TestClient(TestServer(web_app(sessions, catalog, clock))) as test_client:
        yield test_client


def web_app(sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock) -> web.Application:
    settings = Settings(_env_file=None, bot_username=BOT, web_secret=SECRET)
    return create_standalone_web_app(settings, catalog, sessions, clock)


@pytest.fixture
async def refund(sessions: SessionFactory, catalog: LiankaConfig) -> Category:
    """涉企资金兑现 or whichever category comes first: an appeal, not a clue."""
    async with sessions() as session:
        categories = (await session.exec(select(Category).order_by(col(Category.sort_order)))).all()
    return next(c for c in categories if c.track.value == "appeal")


async def cases(sessions: SessionFactory) -> list[Case]:
    async with sessions() as session:
        return list((await session.exec(select(Case))).all())


async def drafts(sessions: SessionFactory) -> list[WebDraft]:
    async with sessions() as session:
        return list((await session.exec(select(WebDraft))).all())


async def test_an_anonymous_report_goes_step_by_step_to_the_receipt(
    client: Client, sessions: SessionFactory, clock: FrozenClock, refund: Category
) -> None:
    browser = Browser(client)
    first = await browser.open()
    assert browser.status == 200 and step_of(first) == "category"
    assert "问题类别" in text_of(first) and ENTERPRISE in text_of(first)
    assert "第 1 / 6 步" in text_of(first) and "下一步" in first and "上一步" not in first
    assert len(first.encode()) < 100 * 1024
    response = await client.post(
        REPORT, data=hidden_fields(first) | {"category": str(refund.id)}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == f"{REPORT}?step=description"
    page = await browser.open(response.headers["Location"])
    assert step_of(page) == "description" and "问题描述" in page and "上一步" in page
    page = await browser.send(description=REFUND)
    assert step_of(page) == "materials" and "相关材料" in page
    page = await browser.send()
    assert step_of(page) == "amount" and "涉及金额（万元）" in page
    page = await browser.send(amount="12.5")
    assert step_of(page) == "identity"
    assert all(word in text_of(page) for word in ("反映方式", "实名", "匿名", "姓名", "手机号"))
    page = await browser.send(identity="anonymous")
    summary = text_of(page)
    assert step_of(page) == "summary" and "确认提交" in page
    assert refund.name in summary and REFUND in summary and "12.5" in summary and "匿名" in summary

    done = await browser.send("submit")
    assert browser.status == 200
    [case] = await cases(sessions)
    code = RECEIPT.search(done)
    assert code is not None and case.receipt_hash == receipt_hash(code.group(1))
    words = text_of(done)
    assert f"受理编号： {case.number}" in words
    assert "前受理您反映的问题" in words and "请抄写或截图保存回执码" in words
    assert "查询进展" in words and 'href="/t"' in done
    heading = re.compile(r"<h1>(.*?)</h1>", re.S)
    assert heading.findall(done) == heading.findall(first)  # still the card's issuing unit
    assert (case.anonymous, case.amount_involved_yuan, case.description) == (True, 125000, REFUND)
    async with sessions() as session:
        assert case.reporter_id is None, "an anonymous case names no reporter in plain"
        reporter = await session.get(Reporter, reporter_of(case))
        card = (await session.exec(select(Card).where(Card.token == TOKEN))).one()
    assert reporter is not None and reporter.channel is Channel.WEB
    assert (reporter.card_id, reporter.telegram_user_id, reporter.chat_id) == (card.id, None, None)
    [row] = await drafts(sessions)
    # what was entered is gone from the draft; the code just shown is kept a few minutes, sealed
    assert row.reporter_id == reporter.id and set(row.data) == {"draft_id", "receipt_code"}
    assert REFUND not in str(row.data) and code.group(1) not in str(row.data)
    # no way back into it: the report page starts a new draft
    again = await browser.open()
    assert step_of(again) == "category"
    assert hidden_fields(again)["draft"] != hidden_fields(first)["draft"]


async def test_the_deadline_is_said_as_the_chat_says_it(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    await browser.through_to_summary(refund)
    done = await browser.send("submit")
    [case] = await cases(sessions)
    chat = render(
        "reporter_submitted",
        number=case.number,
        accept_due=_accept_due(done),
        accept_provisional=False,
        receipt_code=None,
        duplicate=False,
        reissued=False,
    )
    deadline = re.search(r"(\d{4}年\d{2}月\d{2}日（周.）) (\d{2}:\d{2})", text_of(done))
    assert deadline is not None and deadline.group(1) in chat


def _accept_due(done: str) -> Any:
    from datetime import datetime

    from models.calendar import SHANGHAI

    found = re.search(r"(\d{4})年(\d{2})月(\d{2})日（周.） (\d{2}):(\d{2})", text_of(done))
    assert found is not None
    year, month, day, hour, minute = (int(part) for part in found.groups())
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


async def test_a_named_report_asks_name_and_phone_and_keeps_them_with_the_case(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    page = await browser.through_to_summary(
        refund, identity="named", name=" 张三 ", phone="138-1234-5678"
    )
    assert "实名（张三，13812345678）" in text_of(page)
    done = await browser.send("submit")
    assert RECEIPT.search(done) is not None  # every web report gets a receipt code
    [case] = await cases(sessions)
    async with sessions() as session:
        contact = (await session.exec(select(ReporterContact))).one()
    assert (case.anonymous, contact.case_id, contact.name_plain(), contact.phone_plain()) == (
        False,
        case.id,
        "张三",
        "13812345678",
    )


async def test_bad_input_in_every_field_shows_the_message_beside_it_and_keeps_what_was_entered(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    await browser.open()
    page = await browser.send()  # no category chosen
    assert browser.status == 400 and step_of(page) == "category"
    assert 'id="category-error">请选择问题类别。' in page
    await browser.send(category=str(refund.id))

    short = "太短了<b>"
    page = await browser.send(description=short)
    assert browser.status == 400 and step_of(page) == "description"
    assert "问题描述太短（6字），请至少写10个字" in text_of(page)
    assert 'id="description-error"' in page and "太短了&lt;b&gt;</textarea>" in page
    long = "很" * 2001
    page = await browser.send(description=long)
    assert browser.status == 400 and "问题描述太长（2001字）" in text_of(page)
    assert f">{long}</textarea>" in page
    await browser.send(description=REFUND)
    await browser.send()  # 相关材料: none

    page = await browser.send(amount="十二万")
    assert browser.status == 400 and step_of(page) == "amount"
    assert 'id="amount-error">金额格式不正确' in page and 'value="十二万"' in page
    page = await browser.send(amount="-3")
    assert browser.status == 400 and "金额超出范围" in page and 'value="-3"' in page
    page = await browser.send("skip", amount="十二万")
    assert step_of(page) == "identity"

    page = await browser.send()
    assert browser.status == 400 and 'id="identity-error">请选择反映方式' in page
    page = await browser.send(identity="named", name="12345", phone="12345")
    assert browser.status == 400 and step_of(page) == "identity"
    assert (
        'id="name-error">请输入您的姓名' in page and 'id="phone-error">手机号码格式不正确' in page
    )
    assert 'value="12345"' in page and 'value="named" id="identity-named" checked' in page
    page = await browser.send(identity="named", name="李四", phone="12345")
    assert "name-error" not in page and 'id="phone-error"' in page and 'value="李四"' in page
    page = await browser.send(identity="named", name="李四", phone="13912345678")
    assert step_of(page) == "summary" and "实名（李四，13912345678）" in text_of(page)
    assert "未填写" in text_of(page)  # the amount was skipped
    assert await cases(sessions) == []


async def test_going_back_shows_the_earlier_step_with_what_it_holds(
    client: Client, refund: Category
) -> None:
    browser = Browser(client)
    await browser.through_to_summary(refund, amount="3")
    page = await browser.send("back")
    assert step_of(page) == "identity" and 'value="anonymous" checked' in page
    page = await browser.send("back", identity="anonymous")
    assert step_of(page) == "amount" and 'value="3"' in page
    page = await browser.send("back", amount="3")
    assert step_of(page) == "materials"
    page = await browser.send("back")
    assert step_of(page) == "description" and f">{REFUND}</textarea>" in page
    page = await browser.open(f"{REPORT}?step=category")
    assert f'value="{refund.id}" checked' in page
    # a step not reached yet is not shown: the draft's own step is
    fresh = Browser(client)
    client.session.cookie_jar.clear()
    page = await fresh.open(f"{REPORT}?step=summary")
    assert step_of(page) == "category"


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    page = await browser.open()
    fields = hidden_fields(page)
    for token in (None, "", "forged"):
        data = {k: v for k, v in fields.items() if k != "csrf_token"} | {
            "category": str(refund.id),
            "action": "next",
        }
        if token is not None:
            data["csrf_token"] = token
        response = await client.post(REPORT, data=data)
        assert response.status == 403
        assert "页面已过期" in text_of(await response.text())
    # another browser's token does not open this one's draft
    other = Browser(client)
    client.session.cookie_jar.clear()
    await other.open()
    response = await client.post(REPORT, data=fields | {"category": str(refund.id)})
    assert response.status in (403, 409)
    rows = await drafts(sessions)
    assert all(row.step == "category" and row.data.get("category") is None for row in rows)


async def test_a_form_sent_again_after_submission_never_makes_a_second_case(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    summary = await browser.through_to_summary(refund)
    description_form = summary.replace(
        'name="step" value="summary"', 'name="step" value="description"'
    )
    first = await browser.send("submit")
    [case] = await cases(sessions)
    # the confirmation sent again (a reload, a double tap): the same case, said politely, and
    # the same receipt code, which still opens the case
    again = await browser.send("submit", form=summary)
    assert browser.status == 200 and "此反映已提交过，无需重复提交" in text_of(again)
    assert "回执码与此前显示的相同" in text_of(again)
    assert case.number in text_of(again)
    assert await valid_codes(sessions, first, again) == [True, True]
    assert shown_code(first) == shown_code(again)
    # an older step's form of the submitted draft
    stale = await browser.send(form=description_form, description=REFUND + "补充")
    assert browser.status == 409 and "此页面已过期" in text_of(stale)
    # after a new draft was started, the old confirmation is another draft's form
    await browser.open()
    stale = await browser.send("submit", form=summary)
    assert browser.status == 409 and "本次操作未被受理" in text_of(stale)
    assert [c.id for c in await cases(sessions)] == [case.id]


async def test_the_receipt_code_is_shown_again_for_fifteen_minutes_then_renewed_and_forgotten(
    client: Client, sessions: SessionFactory, clock: FrozenClock, refund: Category
) -> None:
    browser = Browser(client)
    summary = await browser.through_to_summary(refund)
    first = await browser.send("submit")
    clock.advance(RECEIPT_SHOWN_AGAIN - timedelta(seconds=1))
    again = await browser.send("submit", form=summary)
    assert shown_code(again) == shown_code(first)
    # kept sealed: the draft's row holds no receipt code a copy of the database would show
    [row] = await drafts(sessions)
    assert shown_code(first).replace("-", "") not in str(row.data).replace("-", "")
    clock.advance(timedelta(seconds=2))
    later = await browser.send("submit", form=summary)
    assert "已为您生成新的回执码，此前显示的回执码不再有效" in text_of(later)
    assert await valid_codes(sessions, first, later) == [False, True]
    renewed = await browser.send("submit", form=summary)  # the new one is kept in its turn
    assert shown_code(renewed) == shown_code(later) and "回执码与此前显示的相同" in text_of(renewed)
    # the hourly purge drops a code kept past its minutes; the case is still found by it
    clock.advance(RECEIPT_SHOWN_AGAIN)
    await purge_expired_web_drafts(sessions, clock.now())
    [row] = await drafts(sessions)
    assert row.data == {} and row.reporter_id is not None
    assert await valid_codes(sessions, later) == [True]


async def test_confirmations_at_once_make_one_case_and_every_answer_shows_the_code_that_opens_it(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    summary = await browser.through_to_summary(refund)
    data = hidden_fields(summary) | {"action": "submit"}
    responses = await asyncio.gather(*(client.post(REPORT, data=data) for _ in range(3)))
    pages = [await response.text() for response in responses]
    assert [r.status for r in responses] == [200, 200, 200]
    [case] = await cases(sessions)
    assert all(case.number in text_of(page) for page in pages)
    # a browser shows only the answer to its last tap, whichever that is: each must be valid
    assert await valid_codes(sessions, *pages) == [True, True, True]
    assert len({shown_code(page) for page in pages}) == 1


def shown_code(page: str) -> str:
    found = RECEIPT.search(page)
    assert found is not None, text_of(page)
    return found.group(1)


async def valid_codes(sessions: SessionFactory, *pages: str) -> list[bool]:
    """Whether each answer shows a receipt code, and it is the one that opens the case now."""
    async with sessions() as session:
        [case] = (await session.exec(select(Case))).all()
    found = [RECEIPT.search(page) for page in pages]
    assert all(found), "every answer to 确认提交 shows a receipt code"
    return [receipt_hash(m.group(1)) == case.receipt_hash for m in found if m]


async def test_thirty_forms_a_minute_from_one_address_then_a_refusal_that_keeps_the_text(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    await browser.open()
    await browser.send(category=str(refund.id))
    form = browser.html
    for n in range(29):
        page = await browser.send(form=form, description=f"第{n}次修改：{REFUND}")
        assert browser.status == 200 and step_of(page) == "materials", n
    text = "第三十一次：" + REFUND
    page = await browser.send(form=form, description=text)
    assert browser.status == 429 and step_of(page) == "description"
    assert "提交过于频繁，请稍等一分钟" in text_of(page) and f">{text}</textarea>" in page
    [row] = await drafts(sessions)
    assert row.data["description"] == f"第28次修改：{REFUND}"
    async with sessions() as session:
        counters = (await session.exec(select(RateCounter))).all()
    assert counters and all("127.0.0.1" not in counter.key for counter in counters)


async def test_the_forms_limit_is_per_address_behind_a_trusted_proxy(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, refund: Category
) -> None:
    async with sessions() as session:
        await make_card(session, clock.now())
    settings = Settings(
        _env_file=None, bot_username=BOT, web_secret=SECRET, trusted_proxies="127.0.0.1"
    )
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as client:
        browser = Browser(client)
        await browser.open()
        for n in range(31):
            address = "203.0.113.7" if n < 30 else "203.0.113.8"
            response = await client.post(
                REPORT,
                data=hidden_fields(browser.html) | {"action": "next"},
                headers={"X-Forwarded-For": address},
            )
            assert response.status == 400, n  # no category chosen, but not throttled
        response = await client.post(
            REPORT,
            data=hidden_fields(browser.html) | {"action": "next"},
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
        assert response.status == 429


async def test_thirty_cookieless_visits_a_minute_from_one_address_then_a_refusal(
    client: Client, sessions: SessionFactory
) -> None:
    for n in range(30):
        client.session.cookie_jar.clear()
        assert (await client.get(REPORT)).status == 200, n
    client.session.cookie_jar.clear()
    refused = await client.get(REPORT)
    assert refused.status == 429 and "请稍后再试" in text_of(await refused.text())
    assert len(await drafts(sessions)) == 30
    # a browser that has its session goes on
    browser = Browser(client)
    await browser.open()
    await browser.open()
    assert browser.status == 200


async def test_a_card_that_brings_too_many_reports_in_an_hour_is_stopped(
    client: Client, sessions: SessionFactory, refund: Category, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_pages, "REPORTS_PER_CARD", Limit("test-card", 1, timedelta(hours=1)))
    browser = Browser(client)
    await browser.through_to_summary(refund)
    await browser.send("submit")
    page = await browser.through_to_summary(refund)
    page = await browser.send("submit")
    assert browser.status == 429 and step_of(page) == "summary"
    assert "通过此联系卡提交的反映过于频繁" in text_of(page) and REFUND in text_of(page)
    assert len(await cases(sessions)) == 1


async def test_the_draft_survives_a_reload_and_a_closed_tab_and_expires_after_seven_days(
    client: Client, sessions: SessionFactory, clock: FrozenClock, refund: Category
) -> None:
    browser = Browser(client)
    await browser.open()
    await browser.send(category=str(refund.id))
    await browser.send(description=REFUND)
    draft_id = hidden_fields(browser.html)["draft"]
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[COOKIE].value
    # the tab closed: a new request later, with the same cookie only
    client.session.cookie_jar.clear()
    clock.set(clock.now() + timedelta(days=6, hours=23))
    client.session.cookie_jar.update_cookies({COOKIE: cookie}, response_url=client.make_url("/"))
    page = await Browser(client).open()
    assert step_of(page) == "materials" and hidden_fields(page)["draft"] == draft_id
    page = await Browser(client).open(f"{REPORT}?step=description")
    assert f">{REFUND}</textarea>" in page
    [row] = await drafts(sessions)
    assert row.session_key != cookie.rpartition(".")[0] and len(row.session_key) == 64
    assert row.expires_at == clock.now() - timedelta(days=6, hours=23) + timedelta(days=7)
    # seven days after the last change: its forms are stale, and a new report starts
    clock.set(row.expires_at)
    old_tab = Browser(client)
    await old_tab.send(form=page, description=REFUND)
    assert old_tab.status == 409
    await old_tab.send("submit", form=page.replace('value="description"', 'value="summary"'))
    assert old_tab.status == 409 and "此页面已过期" in text_of(old_tab.html)
    assert await cases(sessions) == []
    page = await Browser(client).open()
    assert step_of(page) == "category" and hidden_fields(page)["draft"] != draft_id


async def test_a_card_revoked_meanwhile_refuses_the_submission_with_the_bots_words(
    client: Client, sessions: SessionFactory, catalog: LiankaConfig, refund: Category
) -> None:
    browser = Browser(client)
    await browser.through_to_summary(refund)
    async with sessions() as session:
        card = (await session.exec(select(Card).where(Card.token == TOKEN))).one()
        card.status = CardStatus.REVOKED
        session.add(card)
        await session.commit()
    page = await browser.send("submit")
    assert browser.status == 404 and "无法打开此联系卡" in text_of(page)
    organisation = catalog.organisation
    refusal = render(
        "reporter_card_refused",
        reason="revoked",
        organisation=organisation.name,
        hotline=organisation.hotline,
        national_hotline=organisation.national_hotline,
    )
    assert text_of(refusal.splitlines()[0]) in text_of(page)
    assert await cases(sessions) == []
    page = await browser.open()
    assert browser.status == 404 and "无法打开此联系卡" in text_of(page)


async def test_an_unknown_card_is_refused_and_guessing_is_stopped(client: Client) -> None:
    browser = Browser(client)
    for n in range(12):
        await browser.open(f"/c/c_Unknown{n:016d}/report")
        if browser.status == 429:
            break
        assert browser.status == 404 and "无法打开此联系卡" in text_of(browser.html)
    assert browser.status == 429 and "请稍后再试" in text_of(browser.html)


async def test_the_pages_never_log_what_was_reported(
    client: Client, refund: Category, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO")
    browser = Browser(client)
    await browser.through_to_summary(refund, identity="named", name="王五", phone="13712345678")
    done = await browser.send("submit")
    code = RECEIPT.search(done)
    assert code is not None
    # (the test server's access log is not Lianka's: ``lianka run`` and ``lianka web`` keep none)
    logged = "\n".join(
        r.getMessage() for r in caplog.records if not r.name.startswith("aiohttp.access")
    )
    assert "web report submitted as case" in logged
    for secret in (REFUND, "王五", "13712345678", code.group(1), TOKEN, SECRET):
        assert secret not in logged
