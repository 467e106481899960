"""What ``make run`` gives a newcomer without a bot token, in a real headless Chromium: the
sandbox page with Lianka serving in it. The enterprise reports an issue in the browser; the
inspector sees it arrive, signs for it, and the enterprise is told it was accepted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.live import LIANKA, base_environment, free_port, lianka
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
# Only to stop a hang: a reply goes through the sandbox process and Chromium on a busy machine.
STEP_MS = 60_000

DESCRIPTION = "经开区管委会承诺的土地出让金返还至今未到位，企业资金链紧张，请帮助协调。"


async def wait_page(url: str, process: asyncio.subprocess.Process, within: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession() as client:
        while True:
            assert process.returncode is None, "lianka sandbox exited early"
            try:
                async with client.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            assert asyncio.get_running_loop().time() < deadline, "the page never came up"
            await asyncio.sleep(0.3)


async def test_a_report_made_in_the_browser_reaches_the_inspector_who_signs_for_it(
    tmp_path: Path,
) -> None:
    _need_browser()
    from playwright.async_api import async_playwright, expect

    code, output = await lianka("init", cwd=tmp_path, env={})
    assert code == 0, output
    port, api_port = free_port(), free_port()
    log = (tmp_path / "sandbox.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        LIANKA,
        "sandbox",  # what `make run` starts without a token (lianka run --sandbox-if-no-token)
        "--port",
        str(port),
        "--api-port",
        str(api_port),
        cwd=tmp_path,
        env=base_environment({}),
        stdout=log,
        stderr=log,
    )
    log.close()
    page_url = f"http://127.0.0.1:{port}/"
    try:
        await wait_page(page_url, process)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1100, "height": 760})
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(page_url)
                bot_says = page.locator(".row.in .text")

                # the enterprise: scan the card and report
                await page.get_by_role("button", name="王立新").click()
                await page.get_by_role("button", name="扫描联系卡并开始").click()
                await expect(bot_says.last).to_contain_text("廉政监督联系卡", timeout=STEP_MS)
                await page.get_by_role("button", name="反映问题").last.click()
                await page.get_by_role("button", name="营商环境").last.click()
                await expect(bot_says.last).to_contain_text("请用文字描述", timeout=STEP_MS)
                await page.locator("#input").fill(DESCRIPTION)
                await page.locator("#input").press("Enter")
                await expect(bot_says.last).to_contain_text("请上传相关材料", timeout=STEP_MS)
                await page.get_by_role("button", name="完成").last.click()
                await expect(bot_says.last).to_contain_text("金额", timeout=STEP_MS)
                await page.get_by_role("button", name="跳过").last.click()
                await page.get_by_role("button", name="匿名").last.click()
                await expect(bot_says.last).to_contain_text("请核对", timeout=STEP_MS)
                await page.get_by_role("button", name="确认提交").last.click()
                await expect(bot_says.last).to_contain_text("提交成功", timeout=STEP_MS)
                await expect(bot_says.last).to_contain_text("回执码", timeout=STEP_MS)

                # the inspector: the assignment is there; sign for it
                await page.get_by_role("button", name="李监督员").click()
                assignment = page.locator(".row.in", has_text="新交办问题").last
                await expect(assignment).to_contain_text("土地出让金返还", timeout=STEP_MS)
                await expect(assignment).to_contain_text("匿名", timeout=STEP_MS)
                await assignment.get_by_role("button", name="签收").click()
                await expect(bot_says.last).to_contain_text("已签收", timeout=STEP_MS)

                # the enterprise is told
                await page.get_by_role("button", name="王立新").click()
                await expect(bot_says.last).to_contain_text("已受理", timeout=STEP_MS)
                await page.screenshot(path=str(tmp_path / "reporter.png"))
                assert errors == []
            finally:
                await browser.close()
    finally:
        process.terminate()
        await process.wait()
