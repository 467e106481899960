"""修改 from the web report's summary, over HTTP against the channel's real routes: a part
opened from the summary and sent with 下一步 (跳过, or 相关材料's 下一步) comes back to the
summary with the change, as the chat does after 修改; 上一步 still walks back one step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.org import Category
from tests.intake_helpers import make_card
from tests.test_web_materials_page import PDF, upload
from tests.test_web_report import BOT, REPORT, SECRET, Browser, Client, step_of, text_of

pytestmark = pytest.mark.both_databases

CHANGED = "开发区管委会承诺的厂房租金补贴一年多仍未兑现，多次询问均无答复。"


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Client]:
    async with sessions() as session:
        await make_card(session, clock.now())
    settings = Settings(_env_file=None, bot_username=BOT, web_secret=SECRET, var_dir=tmp_path)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
async def categories(sessions: SessionFactory) -> list[Category]:
    """The appeal categories, in the page's order."""
    async with sessions() as session:
        rows = (await session.exec(select(Category).order_by(col(Category.sort_order)))).all()
    return [c for c in rows if c.track.value == "appeal"]


async def changed_from_summary(
    browser: Browser, step: str, action: str = "next", **fields: str
) -> str:
    """修改 on the summary's row for ``step``, then ``action`` with ``fields``."""
    summary = browser.html
    assert f'href="{REPORT}?step={step}">修改</a>' in summary
    await browser.open(f"{REPORT}?step={step}")
    assert step_of(browser.html) == step
    return await browser.send(action, **fields)


async def test_a_part_changed_from_the_summary_comes_back_to_the_summary(
    client: Client, categories: list[Category]
) -> None:
    first, second = categories[:2]
    browser = Browser(client)
    await browser.through_to_summary(first, amount="3")

    page = await changed_from_summary(browser, "description", description=CHANGED)
    assert step_of(page) == "summary", text_of(page)
    assert CHANGED in text_of(page)

    page = await changed_from_summary(browser, "category", category=str(second.id))
    assert step_of(page) == "summary" and second.name in text_of(page)

    page = await changed_from_summary(browser, "amount", amount="5")
    assert step_of(page) == "summary" and "涉及金额（万元） 修改 5" in text_of(page)
    page = await changed_from_summary(browser, "amount", "skip")
    assert step_of(page) == "summary" and "涉及金额（万元） 修改 未填写" in text_of(page)

    page = await changed_from_summary(
        browser, "identity", identity="named", name="张三", phone="13812345678"
    )
    assert step_of(page) == "summary" and "实名（张三，13812345678）" in text_of(page)

    await browser.open(f"{REPORT}?step=materials")
    page = await upload(browser, [("合同.pdf", PDF)])
    assert step_of(page) == "materials" and "合同.pdf" in text_of(page)
    page = await upload(browser, [], action="next")
    assert step_of(page) == "summary" and "（共1个）" in text_of(page)


async def test_going_back_from_the_summary_still_walks_back_one_step(
    client: Client, categories: list[Category]
) -> None:
    browser = Browser(client)
    await browser.through_to_summary(categories[0])
    page = await browser.send("back")
    assert step_of(page) == "identity"
    page = await browser.send("back", identity="anonymous")
    assert step_of(page) == "amount"
