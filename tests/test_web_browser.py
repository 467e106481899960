"""A card's landing page on a phone, in a real headless Chromium: what ``make run`` without a
token serves next to the sandbox. The sandbox page links the demo card's page; a phone (360×740,
touch, zh-CN) opens it and sees the three choices and the hotlines; an unknown card gets the
refusal. Screenshots in the test's folder: ``landing-phone.png``, ``refused-phone.png`` and
``sandbox-page.png``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from sandbox.personas import DEMO_CARD_TOKEN
from tests.live import LIANKA, base_environment, free_port, lianka
from tests.test_e2e_browser import wait_page
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
STEP_MS = 60_000
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
    "device_scale_factor": 2,
}


async def card_pages(page_url: str, process: asyncio.subprocess.Process) -> list[dict[str, str]]:
    """The demo cards' landing pages, once Lianka's web channel listens."""
    async with aiohttp.ClientSession() as client:
        for _ in range(300):
            assert process.returncode is None, "lianka sandbox exited early"
            async with client.get(f"{page_url}_sandbox/cards") as response:
                cards: list[dict[str, str]] = (await response.json())["cards"]
            if cards:
                return cards
            await asyncio.sleep(0.2)
    raise AssertionError("the sandbox never listed the demo card's page")


async def test_a_phone_opens_the_demo_cards_landing_page_from_the_sandbox(tmp_path: Path) -> None:
    _need_browser()
    from playwright.async_api import async_playwright, expect

    code, output = await lianka("init", cwd=tmp_path, env={})
    assert code == 0, output
    port, api_port, web_port = free_port(), free_port(), free_port()
    log = (tmp_path / "sandbox.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        LIANKA, "sandbox", "--port", str(port), "--api-port", str(api_port),
        "--web-port", str(web_port),
        cwd=tmp_path, env=base_environment({}), stdout=log, stderr=log,
    )  # fmt: skip
    log.close()
    page_url = f"http://127.0.0.1:{port}/"
    try:
        await wait_page(page_url, process)
        [card] = await card_pages(page_url, process)
        landing_url = f"http://127.0.0.1:{web_port}/c/{DEMO_CARD_TOKEN}"
        assert card["url"] == landing_url
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                # the sandbox page links the card's landing page
                desk = await browser.new_page(viewport={"width": 1100, "height": 760})
                await desk.goto(page_url)
                link = desk.get_by_role("link", name="打开王立新的联系卡网页")
                await expect(link).to_have_attribute("href", landing_url, timeout=STEP_MS)
                await desk.screenshot(path=str(tmp_path / "sandbox-page.png"))

                phone = await browser.new_context(**PHONE)  # type: ignore[arg-type]
                page = await phone.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.on("console", lambda message: errors.append(message.text))
                response = await page.goto(landing_url)
                assert response is not None and response.status == 200
                await expect(page.get_by_role("heading", level=1)).to_have_text("安居经开区纪工委")
                await expect(page.get_by_text("四川坤天新能源科技有限公司")).to_be_visible()
                report = page.get_by_role("link", name="网页反映")
                telegram = page.get_by_role("link", name="用 Telegram 反映")
                track = page.get_by_role("link", name="查询进展")
                await expect(report).to_have_attribute("href", f"/c/{DEMO_CARD_TOKEN}/report")
                await expect(telegram).to_have_attribute(
                    "href", f"https://t.me/LiankaSandboxBot?start={DEMO_CARD_TOKEN}"
                )
                await expect(track).to_have_attribute("href", "/t")
                for choice in (report, telegram, track):
                    box = await choice.bounding_box()
                    assert box is not None and box["height"] >= 48 and box["width"] >= 300
                await expect(page.get_by_role("link", name="0825-12388")).to_be_visible()
                await expect(page.get_by_role("link", name="12388").last).to_have_attribute(
                    "href", "tel:12388"
                )
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= 360  # nothing runs off a 360 px screen
                await page.screenshot(path=str(tmp_path / "landing-phone.png"), full_page=True)

                await report.tap()
                await expect(page.get_by_role("group", name="问题类别")).to_be_visible()
                await page.go_back()

                refused = await page.goto(
                    f"http://127.0.0.1:{web_port}/c/c_NoSuchCard00000000000000"
                )
                assert refused is not None and refused.status == 404
                await expect(page.get_by_text("未能识别此联系卡")).to_be_visible()
                await expect(page.get_by_role("link", name="0825-12388")).to_be_visible()
                await page.screenshot(path=str(tmp_path / "refused-phone.png"), full_page=True)
                assert [e for e in errors if "404" not in e] == []
            finally:
                await browser.close()
    finally:
        process.terminate()
        await process.wait()
    assert "c_NoSuchCard00000000000000" not in (tmp_path / "sandbox.log").read_text()
