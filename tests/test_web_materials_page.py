"""相关材料 on the web report over HTTP, through the channel's real routes and middlewares: files
uploaded as a browser sends them (multipart), kept cleaned in the blob store, refused with a
Chinese line naming the file, deleted, and attached to the case on 确认提交."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.attachment import Attachment, MediaKind
from models.filecheck import REFUSED
from models.org import Category
from tests.intake_helpers import REFUND, TOKEN, make_card
from tests.test_filecheck import GPS_IFD, photo_with_gps
from tests.test_web_report import (
    BOT,
    SECRET,
    Browser,
    Client,
    cases,
    drafts,
    hidden_fields,
    step_of,
    text_of,
)
from web import channel as web_channel
from web.uploads import TOO_LARGE

pytestmark = pytest.mark.both_databases

MATERIALS = f"/c/{TOKEN}/report/materials"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


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
async def refund(sessions: SessionFactory) -> Category:
    async with sessions() as session:
        categories = (await session.exec(select(Category))).all()
    return next(
        c for c in sorted(categories, key=lambda c: c.sort_order) if c.track.value == "appeal"
    )


def jpeg(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (n * 20 % 256, 90, 30)).save(out, "JPEG")
    return out.getvalue()


async def upload(
    browser: Browser, files: list[tuple[str, bytes]], action: str = "upload", **fields: str
) -> str:
    """The 相关材料 form as a browser sends it: the hidden fields first, then the files, then
    the button pressed."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in hidden_fields(browser.html).items():
        form.add_field(name, value)
    for name, data in files or [("", b"")]:  # no file chosen: an empty part, as browsers send
        form.add_field("files", io.BytesIO(data), filename=name, content_type="image/jpeg")
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("action", action)
    response = await browser.client.post(MATERIALS, data=form)
    browser.status, browser.html = response.status, await response.text()
    return browser.html


async def at_materials(client: Client, refund: Category) -> Browser:
    browser = Browser(client)
    await browser.open()
    await browser.send(category=str(refund.id))
    await browser.send(description=REFUND)
    assert step_of(browser.html) == "materials"
    return browser


async def test_photos_and_a_pdf_are_kept_cleaned_and_attached_to_the_case(
    client: Client, sessions: SessionFactory, refund: Category, tmp_path: Path
) -> None:
    browser = await at_materials(client, refund)
    page = browser.html
    assert 'enctype="multipart/form-data"' in page and f'action="{MATERIALS}"' in page
    assert "相关材料" in text_of(page) and "每个不超过20MB" in text_of(page)
    gps = photo_with_gps()
    assert Image.open(io.BytesIO(gps)).getexif().get_ifd(GPS_IFD)
    page = await upload(browser, [("IMG_0001.JPG", gps), ("IMG_0002.jpg", jpeg(2))])
    assert browser.status == 200 and step_of(page) == "materials"
    assert "IMG_0001.jpg" in page and "IMG_0002.jpg" in page and "已上传 2 个" in text_of(page)
    page = await upload(browser, [("报告.pdf", PDF)], action="next")
    assert step_of(page) == "amount"
    await browser.send(amount="")
    await browser.send(identity="anonymous")
    assert "图片2、文件1（共3个）" in text_of(browser.html)
    await browser.send("submit")
    [case] = await cases(sessions)
    async with sessions() as session:
        rows = (await session.exec(select(Attachment).where(Attachment.case_id == case.id))).all()
    # an anonymous report keeps no file's name from the reporter's phone (staff see 材料N)
    assert sorted((r.kind, r.file_name) for r in rows) == [
        (MediaKind.DOCUMENT, None),
        (MediaKind.PHOTO, None),
        (MediaKind.PHOTO, None),
    ]
    assert all(r.blob_sha256 and r.file_id is None for r in rows)
    for photo in (r for r in rows if r.kind is MediaKind.PHOTO):
        assert photo.blob_sha256 is not None
        stored = (tmp_path / "blobs" / photo.blob_sha256[:2] / photo.blob_sha256).read_bytes()
        assert dict(Image.open(io.BytesIO(stored)).getexif()) == {} and b"TestCam" not in stored


async def test_eleven_files_keep_ten_and_say_so(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = await at_materials(client, refund)
    page = await upload(browser, [(f"{n}.jpg", jpeg(n)) for n in range(11)], action="next")
    assert browser.status == 400 and step_of(page) == "materials"
    assert "10.jpg：最多上传10个附件" in text_of(page)
    assert "已上传 10 个" in text_of(page) and 'name="files"' not in page
    [row] = await drafts(sessions)
    assert len(row.data["evidence"]) == 10 and row.data["description"] == REFUND


async def test_a_21_mb_file_and_an_executable_renamed_jpg_are_refused_the_rest_kept(
    client: Client, sessions: SessionFactory, refund: Category, tmp_path: Path
) -> None:
    browser = await at_materials(client, refund)
    big = b"%PDF-1.4\n" + os.urandom(21 * 1024 * 1024)
    exe = b"MZ\x90\x00" + os.urandom(4096)
    page = await upload(browser, [("大文件.pdf", big), ("photo.jpg", exe), ("a.pdf", PDF)])
    assert browser.status == 400 and step_of(page) == "materials"
    assert f"大文件.pdf：{TOO_LARGE}" in text_of(page)
    assert f"photo.jpg：{REFUSED}" in text_of(page)
    [row] = await drafts(sessions)
    assert [e["file_name"] for e in row.data["evidence"]] == ["a.pdf"]
    kept = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in kept] == [PDF]


async def test_delete_removes_one_file_and_stays_on_the_step(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = await at_materials(client, refund)
    await upload(browser, [("a.pdf", PDF), ("b.jpg", jpeg(1))])
    [row] = await drafts(sessions)
    first = row.data["evidence"][0]["blob_sha256"]
    page = await upload(browser, [], action="next", delete=f"sha256:{first}")
    assert step_of(page) == "materials" and "a.pdf" not in page and "b.jpg" in page
    page = await upload(browser, [], action="back")
    assert step_of(page) == "description"
    # a form that is not multipart was not sent by the page
    response = await client.post(MATERIALS, data=hidden_fields(page) | {"action": "next"})
    assert response.status == 409


async def test_no_file_is_kept_from_a_form_without_its_token(
    client: Client, sessions: SessionFactory, refund: Category, tmp_path: Path
) -> None:
    browser = await at_materials(client, refund)
    browser.html = browser.html.replace('name="csrf_token" value="', 'name="csrf_token" value="x')
    page = await upload(browser, [("a.pdf", PDF)])
    assert browser.status == 403 and "页面已过期" in text_of(page)
    [row] = await drafts(sessions)
    assert row.data["evidence"] == [] and not (tmp_path / "blobs").exists()


async def test_a_body_over_the_routes_cap_is_refused_before_it_is_read(
    client: Client, refund: Category, monkeypatch: pytest.MonkeyPatch
) -> None:
    browser = await at_materials(client, refund)
    monkeypatch.setitem(web_channel.ROUTE_BODY_CAPS, "web-report-materials", 64 * 1024)
    page = await upload(browser, [("a.pdf", b"%PDF-1.4\n" + bytes(100_000))])
    assert browser.status == 413, page
    # the other forms keep their own small cap
    assert web_channel.ROUTE_BODY_CAPS["web-report-form"] == 256 * 1024
