"""A reporter without Telegram, from the printed card to 重办, on a phone (headless Chromium,
360×740, touch, zh-CN, no JavaScript) against ``lianka run`` as a real process.

The card sheet ``lianka cards print`` makes is rasterised and its QR decoded (zxing-cpp); the
phone opens the link, reports anonymously with two photos (one carrying EXIF GPS) and a PDF, and
copies the case number and receipt code. The inspector, in the Bot API emulator, signs for the
case and asks a question; the reporter opens /t with the code and answers it there; the
inspector reads the answer, opens 查看材料 and receives the two photos and the PDF as Telegram
files (with no EXIF, as they were stored), and resolves the case. The sweep, run for a moment a
week later, asks for 回访; the reporter rates it 不满意 with a reason on /t and the case reopens.

Told twice: on SQLite with one process (polling), and on PostgreSQL and Redis with two webhook
instances behind a round-robin proxy that carries both the pages and Telegram's webhook, the
upload pinned to the first instance and 查看材料 to the second, so the files the inspector gets
were read from the store both share. A screenshot of every page the reporter sees is written to
the test's folder and to ``var/screenshots/web-journey/<test>/`` (``01-landing.png`` …)."""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from multidict import CIMultiDict
from PIL import Image
from sqlalchemy import text

from bot.db import create_engine
from models.calendar import SHANGHAI
from sandbox import BotSpec, Emulator
from sandbox.world import SandboxUser, StoredFile
from tests.conftest import ROOT
from tests.live import (
    INSPECTOR,
    STEP_WITHIN,
    WEBHOOK_SECRET,
    LiankaProcess,
    free_port,
    lianka,
    prepared,
)
from tests.test_cards_print import qr_texts, rasterise
from tests.test_e2e_instances import REDIS_URL, database, redis_ready  # noqa: F401 (fixtures)
from tests.test_e2e_journey import expect, newest
from tests.test_filecheck import photo_with_gps
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser
from tests.test_web_browser import PHONE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

STEP_MS = 45_000  # only to stop a hang: one page through the process on a busy 2-core machine
WEB_SECRET = "web-journey-secret-0123456789abcdefghijklmn"
DESCRIPTION = "经开区承诺的厂房验收迟迟不办，有关部门多次暗示要“意思一下”，企业项目无法投产。"
QUESTION = "请问验收申请是哪一天递交的？"
ANSWER = "2024年3月12日递交，至今没有书面答复。"
SUMMARY = "已督促有关部门完成验收，涉事人员已约谈。"
REASON = "验收虽已完成，但被拖延造成的损失无人过问。"
AUTHOR = "ZhangSanAuthor"


def _pdf_with_an_author() -> bytes:
    """A one-page PDF whose document information names its author (what an office PC writes)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    writer.add_metadata({"/Author": AUTHOR, "/Creator": "WPS Office"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


PDF = _pdf_with_an_author()


def plain_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (480, 360), (40, 120, 60)).save(out, "JPEG")
    return out.getvalue()


@dataclass
class Deployment:
    """Where the journey runs: the public address the card encodes, the environment of the
    command line, and (with two instances) which one takes the upload and which 查看材料."""

    workdir: Path
    env: dict[str, str]
    public_url: str
    upload_pin: Callable[[], AbstractContextManager[None]] = nullcontext
    view_pin: Callable[[], AbstractContextManager[None]] = nullcontext


@dataclass
class Phone:
    """The reporter's browser page and the screenshots of every page it showed."""

    page: Any
    folders: tuple[Path, ...]
    taken: list[str] = field(default_factory=list)

    async def shot(self, name: str) -> None:
        """A screenshot of the whole page, numbered in order; nothing runs off 360 px."""
        file = f"{len(self.taken) + 1:02d}-{name}.png"
        self.taken.append(file)
        await self.page.screenshot(path=str(self.folders[0] / file), full_page=True)
        for folder in self.folders[1:]:
            shutil.copy(self.folders[0] / file, folder / file)
        assert await self.page.evaluate("document.documentElement.scrollWidth") <= 360, file

    async def reload_until(self, text_shown: str) -> None:
        """Reload the page until ``text_shown`` is on it (the page is not pushed anything)."""
        from playwright.async_api import expect as see

        for _ in range(int(STEP_WITHIN / 0.5)):
            if await self.page.get_by_text(text_shown).count():
                return
            await self.page.wait_for_timeout(500)
            await self.page.reload()
        await see(self.page.get_by_text(text_shown).first).to_be_visible()


def screenshot_folders(tmp_path: Path, request: pytest.FixtureRequest) -> tuple[Path, ...]:
    """The test's own folder, and a stable one under the repository's ``var/`` to look at."""
    own = tmp_path / "screenshots"
    stable = ROOT / "var" / "screenshots" / "web-journey" / request.node.name
    shutil.rmtree(stable, ignore_errors=True)
    for folder in (own, stable):
        folder.mkdir(parents=True, exist_ok=True)
    return own, stable


async def scanned_link(deployment: Deployment) -> str:
    """The link on the printed card sheet, as a phone's camera reads it."""
    code, output = await lianka(
        "cards", "print", "--all", "--out", "cards.pdf", cwd=deployment.workdir, env=deployment.env
    )
    assert code == 0, output
    sheet = deployment.workdir / "sheet"
    sheet.mkdir()
    [page] = rasterise(deployment.workdir / "cards.pdf", sheet)
    [link] = qr_texts(page)
    return link


async def report_on_the_phone(
    phone: Phone, link: str, uploads: list[Path], deployment: Deployment
) -> tuple[str, str]:
    """From the card's landing page through every step to the receipt: number and code."""
    from playwright.async_api import expect as see

    page = phone.page
    await page.goto(link)
    await see(page.get_by_role("link", name="网页反映")).to_be_visible()
    await see(page.get_by_text("凭回执码查看办理情况")).to_be_visible()
    await phone.shot("landing")
    await page.get_by_role("link", name="网页反映").tap()

    await see(page.get_by_role("group", name="问题类别")).to_be_visible()
    await phone.shot("category")
    await page.get_by_role("radio", name="营商环境").check()
    await page.get_by_role("button", name="下一步").tap()

    await page.get_by_label("问题描述").fill(DESCRIPTION)
    await phone.shot("description")
    await page.get_by_role("button", name="下一步").tap()

    await page.get_by_label("相关材料").set_input_files([str(path) for path in uploads])
    with deployment.upload_pin():
        await page.get_by_role("button", name="上传所选文件").tap()
        await see(page.locator(".file-name")).to_have_text([path.name for path in uploads])
    await phone.shot("materials")
    await page.get_by_role("button", name="下一步").tap()

    await page.get_by_label("涉及金额（万元）").fill("120")
    await phone.shot("amount")
    await page.get_by_role("button", name="下一步").tap()

    await see(page.get_by_role("group", name="反映方式")).to_be_visible()
    await page.get_by_role("radio", name=re.compile("^匿名")).check()
    await phone.shot("identity-anonymous")
    await page.get_by_role("button", name="下一步").tap()

    await see(page.get_by_text("请核对您反映的问题")).to_be_visible()
    await see(page.get_by_text(DESCRIPTION)).to_be_visible()
    await see(page.get_by_text("图片2、文件1（共3个）")).to_be_visible()
    await phone.shot("summary")
    await page.get_by_role("button", name="确认提交").tap()

    await see(page.get_by_role("heading", name="反映已提交")).to_be_visible()
    number = await page.locator(".case-number").inner_text()
    receipt = await page.locator(".receipt .code").inner_text()
    assert re.fullmatch(r"AJ-\d{4}-\d{5}", number), number
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", receipt), receipt
    await phone.shot("receipt")
    return number, receipt


async def open_tracking(phone: Phone, base: str, receipt: str) -> None:
    from playwright.async_api import expect as see

    page = phone.page
    await page.goto(f"{base}/t")
    await see(page.get_by_role("heading", name="查询进展")).to_be_visible()
    await page.get_by_label("回执码").fill(receipt)
    await phone.shot("track-form")
    await page.get_by_role("button", name="查询").tap()


def received_files(inspector: SandboxUser, emulator: Emulator, since: int) -> list[StoredFile]:
    """The files the bot sent the inspector after message ``since``, as the emulator keeps them."""
    found = []
    for message in inspector.chat.visible():
        if not message.from_bot or message.message_id <= since:
            continue
        if "photo" in message.content:
            found.append(emulator.world.files[message.content["photo"][-1]["file_id"]])
        elif "document" in message.content:
            found.append(emulator.world.files[message.content["document"]["file_id"]])
    return found


async def stored_blobs(env: dict[str, str], workdir: Path) -> list[bytes]:
    """What the blob store keeps: the ``blobs`` table, or the files under ``var/blobs``."""
    if env.get("LIANKA_BLOB_STORE") == "database":
        engine = create_engine(env["LIANKA_DATABASE_URL"])
        try:
            async with engine.connect() as connection:
                rows = (await connection.execute(text("SELECT content FROM blobs"))).all()
        finally:
            await engine.dispose()
        return [bytes(row[0]) for row in rows]
    return files_in(workdir / "var" / "blobs")


def files_in(folder: Path) -> list[bytes]:
    """The files of a directory blob store (none left half-written in its ``tmp/``)."""
    return [p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.parent.name != "tmp"]


async def case_row(env: dict[str, str], number: str) -> tuple[Any, ...]:
    engine = create_engine(env["LIANKA_DATABASE_URL"])
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT status, satisfaction FROM cases WHERE number = :n"), {"n": number}
                )
            ).one()
    finally:
        await engine.dispose()
    return tuple(row)


def exif_of(data: bytes) -> dict[int, Any]:
    return dict(Image.open(io.BytesIO(data)).getexif())


async def journey(
    deployment: Deployment, emulator: Emulator, tmp_path: Path, folders: tuple[Path, ...]
) -> None:
    _need_browser()
    from playwright.async_api import async_playwright
    from playwright.async_api import expect as see

    see.set_options(timeout=STEP_MS)
    uploads = [tmp_path / "IMG_0001.jpg", tmp_path / "IMG_0002.jpg", tmp_path / "验收申请.pdf"]
    uploads[0].write_bytes(photo_with_gps(size=(640, 480)))
    uploads[1].write_bytes(plain_photo())
    uploads[2].write_bytes(PDF)
    link = await scanned_link(deployment)
    assert re.fullmatch(re.escape(deployment.public_url) + r"/c/c_[A-Za-z0-9_-]{16,}", link)
    inspector = emulator.user(INSPECTOR)

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(**PHONE, java_script_enabled=False)  # type: ignore[arg-type]
            phone = Phone(await context.new_page(), folders)
            sizes: list[int] = []
            phone.page.on(
                "response",
                lambda answer: sizes.append(int(answer.headers.get("content-length", 0))),
            )
            number, receipt = await report_on_the_phone(phone, link, uploads, deployment)
            page = phone.page

            # the inspector signs for it and asks a question
            assignment = await inspector.wait_reply(
                f"新交办问题 {number}", after=0, within=STEP_WITHIN
            )
            assert "匿名" in assignment.text
            mark = newest(inspector)
            inspector.click("签收", message_id=assignment.message_id)
            await expect(inspector, "已签收", mark)
            mark = newest(inspector)
            inspector.click("提问", message_id=assignment.message_id)
            await expect(inspector, "请输入要向反映人提出的问题", mark)
            inspector.send(QUESTION)

            # the reporter reads it on /t and answers it there; the inspector gets the answer
            await open_tracking(phone, deployment.public_url, receipt)
            await see(page.get_by_role("heading", name=number)).to_be_visible()
            await phone.reload_until(QUESTION)
            await see(page.get_by_role("heading", name="工作人员提问")).to_be_visible()
            await phone.shot("track-question")
            mark = newest(inspector)
            await page.get_by_label("您的答复").fill(ANSWER)
            await page.get_by_role("button", name="提交答复").tap()
            await see(page.get_by_text("您的答复已转达办理人员。")).to_be_visible()
            await phone.shot("track-answered")
            await expect(inspector, ANSWER, mark)

            # 查看材料: the two photos and the PDF arrive as Telegram files
            mark = newest(inspector)
            with deployment.view_pin():
                inspector.click("查看材料", message_id=assignment.message_id)
                await inspector.wait_for(
                    lambda chat: len(received_files(inspector, emulator, mark)) == 3,
                    within=STEP_WITHIN,
                )
            files = received_files(inspector, emulator, mark)
            assert [f.kind for f in files] == ["photo", "photo", "document"]
            # an anonymous report's files: cleaned of their author, named 材料N, not as sent
            assert files[2].data.startswith(b"%PDF") and files[2].file_name == "材料3.pdf"
            assert AUTHOR.encode() not in files[2].data and b"WPS" not in files[2].data
            assert all(exif_of(f.data) == {} for f in files[:2])
            assert Image.open(io.BytesIO(files[0].data)).size == (640, 480)

            # 办结
            mark = newest(inspector)
            inspector.click("办结", message_id=assignment.message_id)
            await expect(inspector, "请选择办理结果", mark)
            mark = newest(inspector)
            inspector.click("问题已解决")
            await expect(inspector, "", mark)
            mark = newest(inspector)
            inspector.send(SUMMARY)
            await expect(inspector, "万元", mark)
            mark = newest(inspector)
            inspector.send("120万")
            await expect(inspector, "已办结", mark)

            # 回访: the sweep, run for a moment a week on, asks; the reporter is not satisfied
            later = (datetime.now(SHANGHAI) + timedelta(days=7)).replace(hour=9, minute=30)
            code, output = await lianka(
                "jobs", "run", "deadline-sweep", "--now", later.isoformat(),
                cwd=deployment.workdir, env=deployment.env,
            )  # fmt: skip
            assert code == 0, output
            await page.goto(f"{deployment.public_url}/t/case")
            await see(page.get_by_role("heading", name="回访评价")).to_be_visible()
            await see(page.get_by_text("已办结").first).to_be_visible()
            await phone.shot("track-followup")
            await page.get_by_role("radio", name="不满意").check()
            await page.get_by_label("不满意的原因").fill(REASON)
            await page.get_by_role("button", name="提交评价").tap()
            await see(page.get_by_text("已收到您的意见，该问题将重新办理。")).to_be_visible()
            await see(page.locator(".status")).to_have_text("重新办理中")
            await see(page.get_by_role("heading", name="回访评价")).to_have_count(0)
            await phone.shot("track-reopened")
            assert 0 < max(sizes) < 100 * 1024  # every page and asset small on a phone
        finally:
            await browser.close()

    assert await case_row(deployment.env, number) == ("reopened", "unsatisfied")
    kept = await stored_blobs(deployment.env, deployment.workdir)
    assert len(kept) == 3 and not any(AUTHOR.encode() in data for data in kept)
    photos = [data for data in kept if not data.startswith(b"%PDF")]
    assert all(exif_of(data) == {} for data in photos)
    assert not any(b"TestCam" in data for data in kept)
    assert sorted(phone.taken) == phone.taken and len(phone.taken) == 13
    assert not emulator.stats.errors, emulator.stats.as_json()


async def test_a_reporter_without_telegram_goes_from_the_printed_card_to_a_reopened_case(
    tmp_path: Path, emulator: Emulator, request: pytest.FixtureRequest
) -> None:
    process = LiankaProcess(tmp_path, {})
    process.env = await prepared(
        tmp_path, emulator, LIANKA_PUBLIC_URL=process.url, LIANKA_WEB_SECRET=WEB_SECRET
    )
    folders = screenshot_folders(tmp_path, request)
    await process.start()
    try:
        await journey(Deployment(tmp_path, process.env, process.url), emulator, tmp_path, folders)
    finally:
        code = await process.stop()
    assert code == 0, process.output()


HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "accept-encoding",
    "upgrade",
}


class Proxy:
    """The HTTPS proxy of a deployment reduced to taking turns between the instances: any method,
    headers (cookies both ways), bodies (multipart uploads too), redirects passed back, not
    followed. ``pinned(target)`` sends everything to one instance for a while."""

    def __init__(self, targets: list[str]) -> None:
        self._turns = itertools.cycle(targets)
        self.pin: str | None = None
        self.served: list[tuple[str, str, str, bool]] = []  # (instance, method, path, pinned)
        self.port = free_port()
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @contextmanager
    def pinned(self, target: str) -> Iterator[None]:
        self.pin = target
        try:
            yield
        finally:
            self.pin = None

    async def _forward(self, request: web.Request) -> web.Response:
        target = self.pin or next(self._turns)
        self.served.append((target, request.method, request.path, self.pin is not None))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        assert self._client is not None
        async with self._client.request(
            request.method,
            target + request.path_qs,
            data=await request.read(),
            headers=headers,
            allow_redirects=False,
        ) as answer:
            body = await answer.read()
            back = CIMultiDict(
                (k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP
            )
        return web.Response(status=answer.status, body=body, headers=back)

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(auto_decompress=False)
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_instances_behind_a_proxy_serve_the_same_journey_and_share_its_files(
    tmp_path: Path,
    database: str,  # noqa: F811
    redis_ready: int,  # noqa: F811
    request: pytest.FixtureRequest,
) -> None:
    token = f"{redis_ready}:web-journey-two-instances"
    async with Emulator(bots=[BotSpec(token, "LiankaWebPairBot", "廉卡")]) as emulator:
        first = LiankaProcess(tmp_path, {}, args=("--mode", "webhook"))
        second = LiankaProcess(tmp_path, {}, args=("--mode", "webhook", "--no-set-webhook"))
        proxy = Proxy([first.url, second.url])
        await proxy.start()
        env = await prepared(
            tmp_path,
            emulator,
            LIANKA_BOT_TOKEN=token,
            LIANKA_DATABASE_URL=database,
            LIANKA_REDIS_URL=REDIS_URL,
            LIANKA_BLOB_STORE="database",
            LIANKA_PUBLIC_URL=proxy.url,
            LIANKA_WEB_SECRET=WEB_SECRET,
            LIANKA_WEBHOOK_SECRET=WEBHOOK_SECRET,
            LIANKA_WEBHOOK_URL=f"{proxy.url}/telegram/webhook",
        )
        # each instance its own var/: a file found by the other came through the shared store
        first.env = {**env, "LIANKA_VAR_DIR": str(tmp_path / "var-first")}
        second.env = {**env, "LIANKA_VAR_DIR": str(tmp_path / "var-second")}
        deployment = Deployment(
            tmp_path,
            env,
            proxy.url,
            upload_pin=lambda: proxy.pinned(first.url),
            view_pin=lambda: proxy.pinned(second.url),
        )
        folders = screenshot_folders(tmp_path, request)
        try:
            await asyncio.gather(first.start(), second.start())
            await journey(deployment, emulator, tmp_path, folders)
        finally:
            codes = list(await asyncio.gather(first.stop(), second.stop()))
            await proxy.stop()
        assert codes == [0, 0], first.output() + second.output()

    # the files went up through the first instance; 查看材料 reached only the second
    uploads = [t for t, _, path, pinned in proxy.served if pinned and path.endswith("/materials")]
    assert uploads == [first.url]
    viewed = [t for t, _, path, pinned in proxy.served if pinned and path.endswith("/webhook")]
    assert viewed and set(viewed) == {second.url}
    both = {first.url, second.url}
    for kind in ("/c/", "/t", "/telegram/webhook"):  # pages and updates came from both
        assert {t for t, _, path, _ in proxy.served if path.startswith(kind)} == both
    assert (
        files_in(tmp_path / "var-first" / "blobs")
        == files_in(tmp_path / "var-second" / "blobs")
        == []
    )
