"""web.uploads.receive_files over real HTTP: a multipart form streamed, each file capped, checked,
cleaned, added through the one file rule and kept; bad files named with a Chinese reason."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import BaseTestServer, TestServer
from PIL import Image

from bot.blobs import DirectoryBlobStore
from models.filecheck import REFUSED
from models.intake import IntakeDraft
from tests.test_filecheck import GPS_IFD, photo_with_gps
from web import uploads
from web.uploads import UploadTooLarge, receive_files

PDF = b"%PDF-1.4\n%%EOF\n"


class CsrfMissing(Exception):
    pass


TOKEN = "good-token"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[BaseTestServer, dict[str, Any]]]:
    seen: dict[str, Any] = {"blobs": DirectoryBlobStore(tmp_path / "blobs")}

    async def handle(request: web.Request) -> web.Response:
        seen["started"] = True
        try:

            async def start(fields: dict[str, str]) -> IntakeDraft:
                if fields.get("csrf_token") != TOKEN:
                    raise CsrfMissing
                return IntakeDraft(draft_id="d")

            received = await receive_files(request, start, blobs=seen["blobs"])
        except CsrfMissing:
            return web.Response(status=403)
        except UploadTooLarge:
            return web.Response(status=413)
        except BaseException as error:  # a lost connection may cancel the handler
            seen["error"] = error
            raise
        seen["received"] = received
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/upload", handle)
    async with TestServer(app) as test_server:
        yield test_server, seen


async def post(
    server: BaseTestServer, files: list[tuple[str, bytes]], token: str | None = TOKEN, **kw
):
    form = aiohttp.FormData(quote_fields=False)  # names in UTF-8, as browsers send them
    if token is not None:
        form.add_field("csrf_token", token)
    form.add_field("action", "upload")
    for name, data in files:
        form.add_field("files", io.BytesIO(data), filename=name, content_type="image/jpeg")
    async with (
        aiohttp.ClientSession() as client,
        client.post(server.make_url("/upload"), data=form, **kw) as response,
    ):
        return response.status


def jpeg(n: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (n, 0, 0)).save(out, "JPEG")
    return out.getvalue()


async def test_a_photo_with_gps_is_kept_without_exif(server) -> None:
    test_server, seen = server
    original = photo_with_gps()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)
    assert await post(test_server, [("IMG_0001.JPG", original), ("报告.pdf", PDF)]) == 200
    received = seen["received"]
    assert received.added == 2 and received.problems == []
    assert received.fields["action"] == "upload"
    photo, pdf = received.draft.evidence
    assert photo.file_name == "IMG_0001.jpg" and photo.mime_type == "image/jpeg"
    assert photo.file_id == "" and photo.blob_sha256
    stored = await seen["blobs"].get(photo.blob_sha256)
    kept = Image.open(io.BytesIO(stored))
    assert dict(kept.getexif()) == {} and b"TestCam" not in stored
    assert await seen["blobs"].get(pdf.blob_sha256) == PDF


async def test_eleven_files_keep_ten_and_name_the_eleventh(server) -> None:
    test_server, seen = server
    files = [(f"{n}.jpg", jpeg(n * 20)) for n in range(11)]
    assert await post(test_server, files) == 200
    received = seen["received"]
    assert len(received.draft.evidence) == 10
    assert received.problems == ["10.jpg：最多上传10个附件，已达上限，不能再添加。"]


async def test_a_21_mb_file_is_refused_and_the_others_kept(server) -> None:
    test_server, seen = server
    big = b"%PDF-1.4\n" + os.urandom(21 * 1024 * 1024)
    assert await post(test_server, [("大文件.pdf", big), ("a.pdf", PDF)]) == 200
    received = seen["received"]
    assert [e.file_name for e in received.draft.evidence] == ["a.pdf"]
    assert received.problems == [f"大文件.pdf：{uploads.TOO_LARGE}"]
    assert "20MB" in uploads.TOO_LARGE


async def test_an_executable_renamed_jpg_is_refused_and_not_kept(server, tmp_path: Path) -> None:
    test_server, seen = server
    exe = b"MZ\x90\x00" + os.urandom(2048)
    assert await post(test_server, [("photo.jpg", exe)]) == 200
    received = seen["received"]
    assert received.draft.evidence == () and received.problems == [f"photo.jpg：{REFUSED}"]
    assert not (tmp_path / "blobs").exists() or not any((tmp_path / "blobs").rglob("*.*"))


async def test_the_same_file_twice_is_kept_once(server) -> None:
    test_server, seen = server
    assert await post(test_server, [("a.pdf", PDF), ("b.pdf", PDF)]) == 200
    assert seen["received"].problems == ["b.pdf：这个文件已经添加过了。"]


async def test_no_file_is_kept_without_the_form_token(server, tmp_path: Path) -> None:
    test_server, seen = server
    assert await post(test_server, [("a.pdf", PDF)], token=None) == 403
    assert await post(test_server, [("a.pdf", PDF)], token="forged") == 403
    assert "received" not in seen and not (tmp_path / "blobs").exists()


def multipart_body(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = "lianka-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{TOKEN}\r\n'.encode()
    ]
    for name, data in files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def test_a_body_sent_without_a_length_is_stopped_at_the_cap(server, monkeypatch) -> None:
    test_server, seen = server
    monkeypatch.setattr(uploads, "UPLOAD_MAX_BODY", 64 * 1024)
    body, content_type = multipart_body([("a.pdf", PDF), ("b.pdf", b"%PDF-1.4\n" + bytes(200_000))])

    async def chunked() -> AsyncIterator[bytes]:
        for at in range(0, len(body), 8192):
            yield body[at : at + 8192]

    async with (
        aiohttp.ClientSession() as client,
        client.post(
            test_server.make_url("/upload"), data=chunked(), headers={"Content-Type": content_type}
        ) as response,
    ):
        assert response.status == 413
    assert "received" not in seen  # the first file was kept by no draft


async def test_an_upload_cut_off_half_way_changes_no_draft(server) -> None:
    test_server, seen = server
    body, content_type = multipart_body([("a.pdf", PDF), ("b.pdf", b"%PDF-1.4\n" + bytes(100_000))])
    cut = body[: len(body) // 2]  # the first file whole, the second half sent
    _reader, writer = await asyncio.open_connection(test_server.host, test_server.port)
    writer.write(
        (
            f"POST /upload HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        + cut
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()
    for _ in range(100):
        if "error" in seen:
            break
        await asyncio.sleep(0.02)
    assert seen["started"] and "error" in seen  # the reading failed mid-body
    assert "received" not in seen
