"""A photo is cleaned (decoded and re-encoded, tens of milliseconds of CPU) off the event loop:
while one reporter's photo is being cleaned, the server answers another reporter's page."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.blobs import DirectoryBlobStore
from models.filecheck import CheckedFile, check_file
from models.intake import IntakeDraft
from tests.test_filecheck import photo_with_gps
from web.uploads import receive_files


async def test_another_page_is_served_while_a_photo_is_cleaned(tmp_path: Path, monkeypatch) -> None:
    release = threading.Event()
    started = threading.Event()
    released: list[bool] = []

    def held_check(data: bytes, name: str | None = None) -> CheckedFile:
        started.set()
        # On the event loop this would wait in vain: the page below could not be served.
        released.append(release.wait(5))
        return check_file(data, name)

    monkeypatch.setattr("web.uploads.check_file", held_check)
    blobs = DirectoryBlobStore(tmp_path / "blobs")

    async def upload(request: web.Request) -> web.Response:
        async def start(fields: dict[str, str]) -> IntakeDraft:
            return IntakeDraft(draft_id="d")

        received = await receive_files(request, start, blobs=blobs)
        return web.Response(text=str(received.added))

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="page")

    app = web.Application()
    app.router.add_post("/upload", upload)
    app.router.add_get("/page", page)
    async with TestServer(app) as server, aiohttp.ClientSession() as client:

        async def send_photo() -> str:
            form = aiohttp.FormData()
            form.add_field("action", "upload")
            form.add_field(
                "files", io.BytesIO(photo_with_gps()), filename="a.jpg", content_type="image/jpeg"
            )
            async with client.post(server.make_url("/upload"), data=form) as response:
                return await response.text()

        sending = asyncio.create_task(send_photo())
        assert await asyncio.to_thread(started.wait, 5)
        async with client.get(server.make_url("/page")) as response:
            assert await response.text() == "page"
        release.set()
        assert await sending == "1"
    assert released == [True]
