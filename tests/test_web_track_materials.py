"""补充材料 on the tracking page ``/t``, over HTTP against the web channel's real routes: files
and a note added to an open case with the chat's rules and use case (kept cleaned in the blob
store, 补充材料 on the timeline, the assignee told as when a chat reporter adds them), every
refused file named, nothing lost, and nothing taken from a forged form, a browser without the
case, a closed case or a flood."""

from __future__ import annotations

import io
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.my_cases import MATERIAL_CLOSED
from bot.services.policy import Policy
from bot.services.rate_limits import Limit
from bot.services.tracking import (
    NotTracked,
    add_tracked_material,
    start_tracked_material,
    tracked_case,
)
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.attachment import Attachment, MediaKind
from models.errors import InvalidInput
from models.event import CaseEvent, EventKind
from models.filecheck import REFUSED
from models.intake import MaterialDraft
from models.notification import Offer
from tests.casework import accept, case_of, outbox, resolve
from tests.test_filecheck import photo_with_gps
from tests.test_web_track import csrf_of, open_case, text_of
from tests.tracking_support import ACCEPTED, RESOLVED, web_case
from web import channel as web_channel
from web import track as track_pages
from web.session import CSRF_FIELD
from web.uploads import BODY_TOO_LARGE, TOO_LARGE

pytestmark = pytest.mark.both_databases

SECRET = "test-web-secret-0123456789abcdefghijklmnop"
PAGE = "/t/case/materials"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NOTE = "管委会2023年的会议纪要，<i>承诺</i>年底前返还。"
ONE_MINUTE = timedelta(minutes=1)
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Client]:
    settings = Settings(_env_file=None, web_secret=SECRET, var_dir=tmp_path)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def jpeg(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (n * 20 % 256, 90, 30)).save(out, "JPEG")
    return out.getvalue()


def kept_blobs(tmp_path: Path) -> list[Path]:
    root = tmp_path / "blobs"
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


async def post_material(
    client: Client,
    html: str,
    files: list[tuple[str, bytes]],
    *,
    note: str = "",
    token: str | None = None,
) -> aiohttp.ClientResponse:
    """补充材料's form as a browser sends it, in the page's order: the token, the note, the
    files."""
    form = aiohttp.FormData(quote_fields=False)
    form.add_field(CSRF_FIELD, csrf_of(html) if token is None else token)
    form.add_field("note", note)
    for name, data in files or [("", b"")]:  # no file chosen: an empty part, as browsers send
        form.add_field("files", io.BytesIO(data), filename=name, content_type="image/jpeg")
    return await client.post(PAGE, data=form, allow_redirects=False)


async def materials_page(client: Client, code: str) -> str:
    """The case opened with its code, then its 补充材料 link followed."""
    case_html = await open_case(client, code)
    assert f'href="{PAGE}"' in case_html and "补充材料" in text_of(case_html)
    page = await client.get(PAGE)
    assert page.status == 200
    return await page.text()


async def attachments(sessions: SessionFactory, case_id: int) -> list[Attachment]:
    async with sessions() as session:
        rows = await session.exec(
            select(Attachment).where(Attachment.case_id == case_id).order_by(col(Attachment.id))
        )
        return list(rows.all())


async def material_events(sessions: SessionFactory, case_id: int) -> list[CaseEvent]:
    async with sessions() as session:
        rows = await session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == case_id, CaseEvent.kind == EventKind.MATERIAL_ADDED
            )
        )
        return list(rows.all())


async def test_photos_a_pdf_and_a_note_reach_the_assignee_as_from_the_chat(
    client: Client, sessions: SessionFactory, catalog, calendar, tmp_path: Path
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    for words in ("补充材料", web.case.number, "每次最多10个", "每个不超过20MB", "提交补充材料"):
        assert words in text_of(html)
    assert 'enctype="multipart/form-data"' in html and "<script" not in html
    assert len(html.encode()) < 100_000
    sent = await post_material(
        client, html, [("IMG_0001.JPG", photo_with_gps()), ("合同.pdf", PDF)], note=NOTE
    )
    assert sent.status == 303 and sent.headers["Location"] == "/t/case?done=material"
    after = text_of(await (await client.get(sent.headers["Location"])).text())
    assert "补充材料已提交，已转交办理人员" in after and "补充材料" in after
    rows = await attachments(sessions, web.id)
    # an anonymous report's files keep no name from the reporter's phone (staff see 材料N)
    assert [(r.kind, r.file_name) for r in rows] == [
        (MediaKind.PHOTO, None),
        (MediaKind.DOCUMENT, None),
    ]
    assert all(r.blob_sha256 and r.file_id is None for r in rows)
    assert rows[0].blob_sha256 is not None
    stored = (tmp_path / "blobs" / rows[0].blob_sha256[:2] / rows[0].blob_sha256).read_bytes()
    assert dict(Image.open(io.BytesIO(stored)).getexif()) == {}
    [event] = await material_events(sessions, web.id)
    assert event.public and event.note == NOTE and event.data == {"files": 2}
    [told] = await outbox(sessions, "material")
    assert web.staff is not None and told.recipient_id == web.staff.inspector.id
    assert told.template == "reporter_material_added"
    assert told.params is not None and told.params["files"] == 2
    assert "承诺" in str(told.params["note"])
    assert (told.offer, told.offer_ref) == (Offer.CASE_MATERIALS, web.id)


async def test_eleven_files_send_ten_and_name_the_eleventh(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    sent = await post_material(client, html, [(f"{n}.jpg", jpeg(n)) for n in range(11)])
    assert sent.status == 200
    page = text_of(await sent.text())
    assert "已为问题" in page and "补充附件10个，已转交办理人员" in page
    assert "以下文件未能接收" in page and "10.jpg：最多上传10个附件" in page
    assert len(await attachments(sessions, web.id)) == 10
    assert len(await material_events(sessions, web.id)) == 1


async def test_a_21_mb_file_and_an_executable_are_named_and_the_rest_is_sent(
    client: Client, sessions: SessionFactory, catalog, calendar, tmp_path: Path
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    big = b"%PDF-1.4\n" + os.urandom(21 * 1024 * 1024)
    exe = b"MZ\x90\x00" + os.urandom(4096)
    sent = await post_material(
        client, html, [("大文件.pdf", big), ("photo.jpg", exe), ("a.pdf", PDF)], note=NOTE
    )
    page = text_of(await sent.text())
    assert sent.status == 200
    assert f"大文件.pdf：{TOO_LARGE}" in page and f"photo.jpg：{REFUSED}" in page
    assert "补充附件1个和文字说明" in page
    assert [r.kind for r in await attachments(sessions, web.id)] == [MediaKind.DOCUMENT]
    assert [p.read_bytes() for p in kept_blobs(tmp_path)] == [PDF]


async def test_the_same_form_sent_again_by_a_reload_adds_nothing_twice(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    exe = b"MZ\x90\x00" + os.urandom(4096)
    files = [("a.pdf", PDF), ("photo.jpg", exe)]  # one refused: the answer is a page, not 303
    first = await post_material(client, html, files, note=NOTE)
    assert first.status == 200
    again = await post_material(client, html, files, note=NOTE)  # the browser's 重新加载
    assert again.status == 409
    assert "这些材料已经补充过了，无需重复提交。" in text_of(await again.text())
    assert [r.kind for r in await attachments(sessions, web.id)] == [MediaKind.DOCUMENT]
    assert len(await material_events(sessions, web.id)) == 1
    assert len(await outbox(sessions, "material")) == 1


async def test_when_every_file_is_refused_nothing_is_sent_and_the_note_stays(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    sent = await post_material(client, html, [("setup.jpg", b"MZ\x90\x00" * 100)], note=NOTE)
    assert sent.status == 400
    page = await sent.text()
    assert "本次未提交" in text_of(page) and f"setup.jpg：{REFUSED}" in text_of(page)
    assert "管委会2023年的会议纪要，&lt;i&gt;承诺&lt;/i&gt;年底前返还。</textarea>" in page
    assert await attachments(sessions, web.id) == []
    assert await material_events(sessions, web.id) == []
    assert await outbox(sessions, "material") == []
    empty = await post_material(client, html, [], note="  ")
    assert empty.status == 400 and track_pages.NO_MATERIAL in text_of(await empty.text())


async def test_a_note_alone_is_sent(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    sent = await post_material(client, html, [], note=NOTE)
    assert sent.status == 303
    [event] = await material_events(sessions, web.id)
    assert event.note == NOTE and event.data == {"files": 0}


async def test_a_forged_form_or_a_browser_without_the_case_keeps_no_file(
    client: Client, sessions: SessionFactory, catalog, calendar, tmp_path: Path
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    forged = await post_material(client, html, [("a.pdf", PDF)], token="forged")
    assert forged.status == 403 and "页面已过期" in text_of(await forged.text())
    not_multipart = await client.post(PAGE, data={CSRF_FIELD: csrf_of(html), "note": NOTE})
    assert not_multipart.status == 403
    out = await client.post("/t/signout", data={CSRF_FIELD: csrf_of(html)}, allow_redirects=False)
    assert out.status == 303
    away = await post_material(client, html, [("a.pdf", PDF)], note=NOTE)
    assert away.status == 403 and "查询已结束，刚才提交的内容没有发送" in text_of(await away.text())
    gone = await client.get(PAGE, allow_redirects=False)
    assert gone.status == 303 and gone.headers["Location"] == "/t"
    assert await attachments(sessions, web.id) == [] and kept_blobs(tmp_path) == []


async def test_a_resolved_case_offers_no_material_and_refuses_a_late_form(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock, tmp_path
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    await accept(sessions, catalog, calendar, web.id, ACCEPTED)
    await resolve(sessions, catalog, calendar, web.id, RESOLVED)
    clock.set(RESOLVED)
    case_html = await (await client.get("/t/case")).text()
    assert f'href="{PAGE}"' not in case_html
    away = await client.get(PAGE, allow_redirects=False)
    assert away.status == 303 and away.headers["Location"] == "/t/case"
    late = await post_material(client, html, [("a.pdf", PDF)], note=NOTE)
    assert late.status == 409 and MATERIAL_CLOSED in text_of(await late.text())
    assert await attachments(sessions, web.id) == [] and kept_blobs(tmp_path) == []


async def test_too_many_forms_from_one_address_are_refused_with_the_note_kept(
    client: Client, sessions: SessionFactory, catalog, calendar, monkeypatch, tmp_path
) -> None:
    monkeypatch.setattr(track_pages, "FORMS_PER_ADDRESS", Limit("web-form-test", 1, ONE_MINUTE))
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    assert (await post_material(client, html, [], note=NOTE)).status == 303
    again = await post_material(client, html, [("a.pdf", PDF)], note="第二次补充的说明文字。")
    assert again.status == 429
    page = await again.text()
    assert track_pages.TOO_FREQUENT in text_of(page) and "第二次补充的说明文字。</textarea>" in page
    assert len(await material_events(sessions, web.id)) == 1 and kept_blobs(tmp_path) == []


async def test_the_upload_route_has_the_reports_body_cap(
    client: Client, sessions: SessionFactory, catalog, calendar, monkeypatch
) -> None:
    web = await web_case(sessions, catalog, calendar)
    html = await materials_page(client, web.code)
    monkeypatch.setitem(web_channel.ROUTE_BODY_CAPS, "web-track-materials", 64 * 1024)
    big = await post_material(client, html, [("a.pdf", b"%PDF-1.4\n" + bytes(100_000))])
    assert big.status == 413
    assert BODY_TOO_LARGE in text_of(await big.text())  # files too large, not text too long
    assert await attachments(sessions, web.id) == []


async def test_the_use_case_refuses_a_closed_case_and_another_cases_draft(
    sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    other = await web_case(sessions, catalog, calendar, with_staff=False)
    async with sessions() as session:
        draft = await start_tracked_material(session, web.id)
        assert (
            await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
        ).may_add_material
    assert draft == MaterialDraft(case_id=web.id)
    with_note = draft.add_note(NOTE)
    async with sessions() as session:
        with pytest.raises(NotTracked):
            await add_tracked_material(session, other.id, material=with_note, now=RESOLVED)
    await accept(sessions, catalog, calendar, web.id, ACCEPTED)
    await resolve(sessions, catalog, calendar, web.id, RESOLVED)
    async with sessions() as session:
        with pytest.raises(InvalidInput, match=MATERIAL_CLOSED):
            await start_tracked_material(session, web.id)
        with pytest.raises(InvalidInput, match=MATERIAL_CLOSED):
            await add_tracked_material(session, web.id, material=with_note, now=RESOLVED)
        assert not (
            await tracked_case(session, web.id, policy=Policy(catalog, calendar), now=RESOLVED)
        ).may_add_material
    assert (await case_of(sessions, web.id)).event_count > 0
    assert await material_events(sessions, web.id) == []
