"""网页反映's guards as a reporter meets them, over HTTP against the channel's real routes: a card's
reports an hour are spent only by reports that become cases (not by made-up confirmations, not
again by a double tap or a reload), a form sent to another card's address gets one answer
whatever that card is, a card's report page opened never loses the report being entered through
another card, a forged upload spends none of the address's forms, and a report goes through on
a single database connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory, create_engine, create_session_factory
from bot.services import web_intake
from bot.services.rate_limits import Limit
from bot.services.web_intake import FORMS_PER_ADDRESS, REPORTS_PER_CARD
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.card import Card, CardStatus
from models.org import Category
from models.web_draft import WebDraft
from tests.intake_helpers import REFUND, make_card
from tests.test_web_materials_page import PDF, jpeg, upload
from tests.test_web_report import (
    BOT,
    RECEIPT,
    REPORT,
    SECRET,
    Browser,
    Client,
    cases,
    drafts,
    hidden_fields,
    refund,
    step_of,
    text_of,
    valid_codes,
)
from web import report as report_pages
from web.context import CHANNEL
from web.session import CSRF_FIELD

pytestmark = pytest.mark.both_databases
__all__ = ["refund"]  # the first appeal category, a fixture

OTHER = "c_Other7Card9Token4Qx2"
REVOKED = "c_Revoked3Card5Token8W"
UNKNOWN = "c_Unknown2Card6Token1Z"
OTHER_ENTERPRISE = "遂宁市安居区宏达建材有限公司"


def web_app(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, var: Path
) -> web.Application:
    settings = Settings(_env_file=None, bot_username=BOT, web_secret=SECRET, var_dir=var)
    return create_standalone_web_app(settings, catalog, sessions, clock)


async def three_cards(sessions: SessionFactory, clock: FrozenClock) -> None:
    """The reporter's card, another enterprise's card, and a revoked one."""
    async with sessions() as session:
        await make_card(session, clock.now())
        await make_card(session, clock.now(), token=OTHER, enterprise_name=OTHER_ENTERPRISE)
        await make_card(
            session,
            clock.now(),
            token=REVOKED,
            enterprise_name="遂宁市安居区已注销企业",
            status=CardStatus.REVOKED,
        )


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Client]:
    await three_cards(sessions, clock)
    async with TestClient(TestServer(web_app(sessions, catalog, clock, tmp_path))) as test_client:
        yield test_client


@asynccontextmanager
async def another_phone(client: Client) -> AsyncIterator[Browser]:
    """Another phone on the same server: a browser with cookies of its own."""
    jar = aiohttp.CookieJar(unsafe=True)  # the test server is an IP address
    async with aiohttp.ClientSession(base_url=client.make_url("/"), cookie_jar=jar) as http:
        yield Browser(cast(Client, http))  # a Browser needs only get and post


async def card_id(sessions: SessionFactory, token: str) -> int | None:
    async with sessions() as session:
        return (await session.exec(select(Card.id).where(Card.token == token))).one()


# --- a card's reports an hour ------------------------------------------------------------------


async def test_made_up_confirmations_through_a_card_do_not_stop_a_reporters_report(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    attacker = Browser(client)
    own = await attacker.open()
    for n in range(REPORTS_PER_CARD.count + 2):
        # a draft id made up; the last two, the attacker's own draft (not filled in) claiming
        # its summary
        draft = f"made-up-{n}" if n < REPORTS_PER_CARD.count else hidden_fields(own)["draft"]
        await attacker.send("submit", form=own, step="summary", draft=draft)
        assert attacker.status == 409 and "此页面已过期" in text_of(attacker.html), n
    client.session.cookie_jar.clear()
    reporter = Browser(client)
    await reporter.through_to_summary(refund)
    done = await reporter.send("submit")
    assert reporter.status == 200 and RECEIPT.search(done) is not None, text_of(done)
    assert len(await cases(sessions)) == 1


async def test_a_double_tap_or_reload_of_the_confirmation_spends_one_report_of_the_card(
    client: Client, sessions: SessionFactory, refund: Category, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_pages, "REPORTS_PER_CARD", Limit("test-card", 2, timedelta(hours=1)))
    first = Browser(client)
    summary = await first.through_to_summary(refund)
    data = hidden_fields(summary) | {"action": "submit"}
    taps = await asyncio.gather(*(client.post(REPORT, data=data) for _ in range(5)))
    pages = [await tap.text() for tap in taps]
    assert [tap.status for tap in taps] == [200] * 5, [text_of(page) for page in pages]
    # whichever answer the phone shows, its code opens the case
    assert await valid_codes(sessions, *pages) == [True] * 5
    for _ in range(3):  # reloads of the answer: the same case, the same code
        again = await first.send("submit", form=summary)
        assert first.status == 200 and "此反映已提交过，无需重复提交" in text_of(again)
        assert await valid_codes(sessions, again) == [True]
    assert len(await cases(sessions)) == 1
    client.session.cookie_jar.clear()
    second = Browser(client)
    await second.through_to_summary(refund)
    done = await second.send("submit")
    assert second.status == 200 and RECEIPT.search(done) is not None, text_of(done)
    assert len(await cases(sessions)) == 2


async def test_reports_confirmed_at_once_through_a_card_never_pass_its_limit(
    client: Client, sessions: SessionFactory, refund: Category, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_pages, "REPORTS_PER_CARD", Limit("test-card", 2, timedelta(hours=1)))
    async with AsyncExitStack() as stack:
        phones = [await stack.enter_async_context(another_phone(client)) for _ in range(4)]
        for phone in phones:
            await phone.through_to_summary(refund)
        await asyncio.gather(*(phone.send("submit") for phone in phones))
    assert sorted(phone.status for phone in phones) == [200, 200, 429, 429]
    refused = [phone for phone in phones if phone.status == 429]
    for phone in refused:  # what was entered is still there, on the summary
        assert step_of(phone.html) == "summary" and REFUND in text_of(phone.html)
        assert "通过此联系卡提交的反映过于频繁" in text_of(phone.html)
    assert len(await cases(sessions)) == 2


async def test_a_confirmation_cut_off_half_way_holds_the_report_a_minute_then_goes_through(
    client: Client,
    sessions: SessionFactory,
    clock: FrozenClock,
    refund: Category,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(web_intake, "CLAIM_WAIT_SECONDS", 0.1)
    browser = Browser(client)
    summary = await browser.through_to_summary(refund)
    async with sessions() as session:  # its process stopped after taking the draft
        [row] = (await session.exec(select(WebDraft))).all()
        row.step, row.updated_at = web_intake.CONFIRMING, clock.now()
        session.add(row)
        await session.commit()
    page = await browser.open()
    assert step_of(page) == "summary" and REFUND in text_of(page)
    page = await browser.send("submit", form=summary)
    assert browser.status == 409 and step_of(page) == "summary" and REFUND in text_of(page)
    assert "您的反映正在提交，请稍候再点“确认提交”查看结果" in text_of(page)
    assert await cases(sessions) == []
    clock.set(clock.now() + web_intake.CLAIM_LEASE)
    done = await browser.send("submit", form=summary)
    assert browser.status == 200 and RECEIPT.search(done) is not None, text_of(done)
    assert len(await cases(sessions)) == 1


async def test_a_step_changed_while_its_report_is_being_submitted_keeps_the_text_and_says_why(
    client: Client, sessions: SessionFactory, clock: FrozenClock, refund: Category
) -> None:
    browser = Browser(client)
    await browser.through_to_summary(refund)
    description = await browser.open(f"{REPORT}?step=description")
    async with sessions() as session:  # 确认提交 under way in another tab
        [row] = (await session.exec(select(WebDraft))).all()
        row.step, row.updated_at = web_intake.CONFIRMING, clock.now()
        session.add(row)
        await session.commit()
    typed = REFUND + "另：已向园区管委会书面申请两次。"
    page = await browser.send(form=description, description=typed)
    assert browser.status == 409 and step_of(page) == "description"
    assert "您的反映正在提交" in text_of(page) and typed in page  # not "已经提交", text kept


async def test_a_confirmation_the_limits_could_not_count_leaves_the_report_free_to_send_again(
    client: Client, sessions: SessionFactory, refund: Category, monkeypatch: pytest.MonkeyPatch
) -> None:
    limiter = client.app[CHANNEL].limiter
    counting = limiter.hit
    broken = {"once": True}

    async def hit(limit: Limit, subject: str, now: datetime) -> bool:
        if limit.scope == REPORTS_PER_CARD.scope and broken.pop("once", False):
            raise ConnectionError("the limits' store is out of reach")
        return await counting(limit, subject, now)

    monkeypatch.setattr(limiter, "hit", hit)
    browser = Browser(client)
    summary = await browser.through_to_summary(refund)
    await browser.send("submit", form=summary)
    assert browser.status == 500 and await cases(sessions) == []
    done = await browser.send("submit", form=summary)  # at once, not after the minute's lease
    assert browser.status == 200 and RECEIPT.search(done) is not None, text_of(done)


async def test_a_confirmation_refused_after_counting_gives_the_card_its_report_back(
    client: Client, sessions: SessionFactory, refund: Category, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_pages, "REPORTS_PER_CARD", Limit("test-card", 2, timedelta(hours=1)))
    browser = Browser(client)
    summary = await browser.through_to_summary(refund)
    async with sessions() as session:  # the category stopped while the report sat at its summary
        stopped = await session.get(Category, refund.id)
        assert stopped is not None
        stopped.active = False
        session.add(stopped)
        await session.commit()
    for _ in range(3):
        page = await browser.send("submit", form=summary)
        assert browser.status == 400 and "已停用" in text_of(page), text_of(page)
    async with sessions() as session:
        stopped = await session.get(Category, refund.id)
        assert stopped is not None
        stopped.active = True
        session.add(stopped)
        await session.commit()
    done = await browser.send("submit", form=summary)  # three refusals spent none of the two
    assert browser.status == 200 and RECEIPT.search(done) is not None, text_of(done)


# --- a form sent to another card's address -----------------------------------------------------


async def test_a_report_sent_to_another_cards_address_gets_one_answer_whatever_the_card(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    summary = await browser.through_to_summary(refund)
    amount = await browser.open(f"{REPORT}?step=amount")
    await browser.open(f"{REPORT}?step=materials")
    materials = browser.html
    answers: dict[str, set[tuple[int, str]]] = {"submit": set(), "step": set(), "files": set()}
    for token in (OTHER, REVOKED, UNKNOWN, "c_联系卡", "x"):
        address = f"/c/{token}/report"
        sent = await client.post(address, data=hidden_fields(summary) | {"action": "submit"})
        answers["submit"].add((sent.status, text_of(await sent.text())))
        sent = await client.post(address, data=hidden_fields(amount) | {"amount": "5"})
        answers["step"].add((sent.status, text_of(await sent.text())))
        form = aiohttp.FormData(quote_fields=False)
        for name, value in hidden_fields(materials).items():
            form.add_field(name, value)
        form.add_field("files", PDF, filename="a.pdf", content_type="application/pdf")
        sent = await client.post(f"{address}/materials", data=form)
        answers["files"].add((sent.status, text_of(await sent.text())))
    for kind, seen in answers.items():
        assert len(seen) == 1, (kind, seen)
        [(status, words)] = seen
        assert status == 409 and "此页面已过期" in words, (kind, words)
    # nothing changed, and the report goes on through its own card
    done = await browser.send("submit", form=summary)
    assert browser.status == 200 and RECEIPT.search(done) is not None, text_of(done)
    [case] = await cases(sessions)
    assert case.amount_involved_yuan is None


# --- another card's report page opened ---------------------------------------------------------


async def at_materials(browser: Browser, refund: Category) -> str:
    await browser.open()
    await browser.send(category=str(refund.id))
    await browser.send(description=REFUND)
    assert step_of(browser.html) == "materials"
    return hidden_fields(browser.html)["draft"]


async def test_opening_another_cards_report_page_keeps_the_report_being_entered(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    await at_materials(browser, refund)
    [before] = await drafts(sessions)
    page = await browser.open(f"/c/{OTHER}/report")  # a link followed, from here or another site
    assert browser.status == 200
    words = text_of(page)
    assert "您有一份尚未提交的反映" in words and "填写的内容已保留" in words
    assert "继续填写" in words and "放弃并重新开始" in words
    assert f'href="{REPORT}"' in page and OTHER_ENTERPRISE in words
    [after] = await drafts(sessions)
    assert after.model_dump() == before.model_dump()
    # 继续填写: the report where it was, with what was typed
    page = await browser.open(REPORT)
    assert step_of(page) == "materials"
    page = await browser.open(f"{REPORT}?step=description")
    assert f">{REFUND}</textarea>" in page


async def test_giving_up_a_report_through_another_card_takes_a_button_and_starts_afresh(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    draft = await at_materials(browser, refund)
    choice = await browser.open(f"/c/{OTHER}/report")
    fields = hidden_fields(choice)
    assert fields["draft"] == draft
    forged = {k: v for k, v in fields.items() if k != CSRF_FIELD} | {"action": "restart"}
    response = await client.post(f"/c/{OTHER}/report", data=forged)
    assert response.status == 403
    [kept] = await drafts(sessions)
    assert (kept.draft_id, kept.step, kept.data["description"]) == (draft, "materials", REFUND)
    response = await client.post(
        f"/c/{OTHER}/report", data=fields | {"action": "restart"}, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == f"/c/{OTHER}/report"
    page = await browser.open(response.headers["Location"])
    assert browser.status == 200 and step_of(page) == "category"
    assert OTHER_ENTERPRISE in text_of(page) and hidden_fields(page)["draft"] != draft
    [row] = await drafts(sessions)
    assert row.card_id == await card_id(sessions, OTHER) and row.draft_id != draft


# --- the upload form's token before the address's count ----------------------------------------


async def test_forged_uploads_do_not_use_up_the_reporters_forms(
    client: Client, clock: FrozenClock, refund: Category
) -> None:
    browser = Browser(client)
    await at_materials(browser, refund)
    genuine = browser.html
    clock.set(clock.now() + FORMS_PER_ADDRESS.window)  # a new minute, none of its forms sent
    browser.html = genuine.replace(f'name="{CSRF_FIELD}" value="', f'name="{CSRF_FIELD}" value="x')
    for n in range(FORMS_PER_ADDRESS.count):
        await upload(browser, [("a.jpg", jpeg(n))])
        assert browser.status == 403, n
    browser.html = genuine
    page = await upload(browser, [("0.jpg", jpeg(0))], action="next")
    assert browser.status == 200 and step_of(page) == "amount", text_of(page)


# --- one database connection -------------------------------------------------------------------


async def test_a_report_with_a_file_goes_through_on_a_single_database_connection(
    schema: str, catalog: LiankaConfig, clock: FrozenClock, refund: Category, tmp_path: Path
) -> None:
    """A page that kept its connection while the shared limits took another would wait for
    itself here (and, under load, stall every page once the pool is taken)."""
    engine = create_engine(schema, pool_size=1, max_overflow=0, pool_timeout=3)
    single = create_session_factory(engine)
    try:
        await three_cards(single, clock)
        app = web_app(single, catalog, clock, tmp_path)
        async with TestClient(TestServer(app)) as client:
            browser = Browser(client)
            await at_materials(browser, refund)
            await upload(browser, [("0.jpg", jpeg(0))], action="next")
            assert browser.status == 200 and step_of(browser.html) == "amount"
            await browser.send(amount="")
            summary = await browser.send(identity="anonymous")
            done = await browser.send("submit")
            assert browser.status == 200 and RECEIPT.search(done) is not None, text_of(done)
            assert "此反映已提交过" in text_of(await browser.send("submit", form=summary))
    finally:
        await engine.dispose()
