"""网页反映 on a phone, in a real headless Chromium against ``lianka sandbox``'s web channel:
from the demo card's landing page through every step to the receipt, anonymously, with
JavaScript off (the pages have none), uploading a photo carrying EXIF GPS, a screenshot and a PDF
(and an executable renamed .jpg, refused); the photos are kept with no EXIF. A screenshot of every page in the test's folder
(``01-landing.png`` … ``09-receipt.png``)."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest
from PIL import Image

from sandbox.personas import DEMO_CARD_TOKEN
from tests.live import LIANKA, base_environment, free_port, lianka
from tests.test_e2e_browser import wait_page
from tests.test_filecheck import photo_with_gps
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser
from tests.test_web_browser import PHONE, card_pages

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
DESCRIPTION = "开发区某部门在办理我公司厂房验收时多次要求请客吃饭，并暗示需要“意思一下”才能通过。"


async def test_a_phone_reports_anonymously_from_the_landing_page_to_the_receipt(
    tmp_path: Path,
) -> None:
    _need_browser()
    from playwright.async_api import Page, async_playwright, expect

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
    uploads = {
        "gps": tmp_path / "IMG_0001.jpg",
        "exe": tmp_path / "photo.jpg",
        "png": tmp_path / "截图.png",
        "pdf": tmp_path / "材料.pdf",
    }
    uploads["gps"].write_bytes(photo_with_gps(size=(640, 480), orientation=6))
    uploads["exe"].write_bytes(b"MZ\x90\x00" + bytes(4096))
    png = io.BytesIO()
    Image.new("RGB", (300, 200), (240, 240, 240)).save(png, "PNG")
    uploads["png"].write_bytes(png.getvalue())
    uploads["pdf"].write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n")
    shots = tmp_path / "screenshots"
    shots.mkdir()

    async def shot(page: Page, name: str) -> None:
        """A screenshot of the whole page; nothing may run off a 360 px screen."""
        await page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
        assert await page.evaluate("document.documentElement.scrollWidth") <= 360, name

    async def tall_enough(page: Page, selector: str) -> None:
        for box in [await item.bounding_box() for item in await page.locator(selector).all()]:
            assert box is not None and box["height"] >= 44, (selector, box)

    try:
        await wait_page(page_url, process)
        await card_pages(page_url, process)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                phone = await browser.new_context(**PHONE, java_script_enabled=False)  # type: ignore[arg-type]
                page = await phone.new_page()
                errors: list[str] = []
                page.on("console", lambda message: errors.append(message.text))
                sizes: list[int] = []
                page.on(
                    "response",
                    lambda response: sizes.append(int(response.headers.get("content-length", 0))),
                )
                await page.goto(f"http://127.0.0.1:{web_port}/c/{DEMO_CARD_TOKEN}")
                await shot(page, "01-landing")
                await page.get_by_role("link", name="网页反映").tap()

                categories = page.get_by_role("group", name="问题类别")
                await expect(categories).to_be_visible()
                await expect(page.get_by_text("第 1 / 6 步")).to_be_visible()
                await tall_enough(page, ".option")
                await tall_enough(page, ".button")
                await shot(page, "02-category")
                await page.get_by_role("radio").first.check()
                await page.get_by_role("button", name="下一步").tap()

                description = page.get_by_label("问题描述")
                await expect(description).to_be_visible()
                await description.fill("太短了")
                await page.get_by_role("button", name="下一步").tap()
                await expect(page.get_by_text("问题描述太短（3字）")).to_be_visible()
                await expect(page.get_by_label("问题描述")).to_have_value("太短了")
                await shot(page, "03-description-refused")
                await page.get_by_label("问题描述").fill(DESCRIPTION)
                await shot(page, "04-description")
                await page.get_by_role("button", name="下一步").tap()

                files = page.get_by_label("相关材料")
                await expect(files).to_be_visible()
                await files.set_input_files([str(uploads["gps"]), str(uploads["exe"])])
                await page.get_by_role("button", name="上传所选文件").tap()
                await expect(
                    page.get_by_text(re.compile("photo.jpg：无法接收此文件"))
                ).to_be_visible()
                await expect(page.locator(".file-name")).to_have_text(["IMG_0001.jpg"])
                await shot(page, "04b-materials-refused")
                await page.get_by_label("相关材料").set_input_files(
                    [str(uploads["png"]), str(uploads["pdf"])]
                )
                await page.get_by_role("button", name="上传所选文件").tap()
                await expect(page.locator(".file-name")).to_have_text(
                    ["IMG_0001.jpg", "截图.png", "材料.pdf"]
                )
                await shot(page, "04c-materials")
                await page.get_by_role("button", name="下一步").tap()

                amount = page.get_by_label("涉及金额（万元）")
                await expect(amount).to_be_visible()
                await amount.fill("3.5")
                await shot(page, "05-amount")
                await page.get_by_role("button", name="下一步").tap()

                await expect(page.get_by_role("group", name="反映方式")).to_be_visible()
                await expect(page.get_by_role("textbox", name="姓名")).to_be_visible()
                await expect(page.get_by_role("textbox", name="手机号")).to_be_visible()
                await shot(page, "06-identity")
                await page.get_by_role("radio", name=re.compile("^匿名")).check()
                await expect(
                    page.get_by_role("textbox", name="姓名")
                ).to_be_hidden()  # 匿名 asks no name
                await shot(page, "07-identity-anonymous")
                await page.get_by_role("button", name="下一步").tap()

                await expect(page.get_by_text("请核对您反映的问题")).to_be_visible()
                await expect(page.get_by_text(DESCRIPTION)).to_be_visible()
                await expect(page.get_by_text("3.5", exact=True)).to_be_visible()
                await expect(page.get_by_text("图片2、文件1（共3个）")).to_be_visible()
                await shot(page, "08-summary")
                await page.get_by_role("button", name="确认提交").tap()

                await expect(page.get_by_role("heading", name="反映已提交")).to_be_visible()
                number = await page.locator(".case-number").inner_text()
                assert re.fullmatch(r"[A-Z]+-\d{4}-\d{5}", number)
                receipt = await page.locator(".receipt .code").inner_text()
                assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", receipt)
                await expect(page.get_by_text("请抄写或截图保存回执码")).to_be_visible()
                await expect(page.get_by_text(re.compile(r"前受理您反映的问题"))).to_be_visible()
                await shot(page, "09-receipt")
                assert [e for e in errors if "status of 400" not in e] == []  # the refused step
                assert max(sizes) < 100 * 1024
            finally:
                await browser.close()
    finally:
        process.terminate()
        await process.wait()
    # the photos were kept with no EXIF (the GPS photo's coordinates gone), the PDF as sent
    blobs = tmp_path / "var" / "sandbox" / "blobs"  # the sandbox's files, apart from the real ones
    kept = [path.read_bytes() for path in blobs.rglob("*") if path.is_file()]
    assert len(kept) == 3 and uploads["pdf"].read_bytes() in kept
    photos = [Image.open(io.BytesIO(data)) for data in kept if not data.startswith(b"%PDF")]
    assert sorted(p.format or "" for p in photos) == ["JPEG", "PNG"]
    assert all(dict(p.getexif()) == {} for p in photos)
    assert all(b"TestCam" not in data for data in kept)
    logged = (tmp_path / "sandbox.log").read_text()
    assert DESCRIPTION not in logged and receipt not in logged
