"""An upload cut off half-way, over a real socket: the browser sends the form's fields, one whole
file and half of a second, then the connection drops. The server runs as ``lianka run`` runs it
(an ``AppRunner``, whose handler reads on and finds the body cut), and as aiohttp's test server
does (the handler cancelled when the client goes). On the web report's 相关材料 and on the
tracking page's 补充材料 alike, nothing is referenced afterwards (no attachment, no draft entry,
no 补充材料 event or notice), the half file is kept nowhere, and the one whole file's blob, which
nothing references, is removed by the purge once its day has passed."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from sqlmodel import select
from yarl import URL

from bot.blobs import DirectoryBlobStore, blob_key, purge_orphan_blobs
from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.attachment import Attachment
from models.event import CaseEvent, EventKind
from models.org import Category
from tests.casework import outbox
from tests.intake_helpers import TOKEN, make_card
from tests.test_web_materials_page import at_materials
from tests.test_web_report import Browser, drafts, hidden_fields
from tests.test_web_track import csrf_of, open_case
from tests.test_web_track_materials import PDF
from tests.tracking_support import web_case

pytestmark = pytest.mark.both_databases

SECRET = "test-web-secret-0123456789abcdefghijklmnop"
HALF_FILE = b"%PDF-1.4\n" + bytes(2 * 1024 * 1024)  # sent only in part


@dataclass
class Served:
    client: aiohttp.ClientSession
    base: URL
    finished: dict[str, asyncio.Event]
    blobs: DirectoryBlobStore
    outcomes: list[str]


@pytest.fixture(params=[False, True], ids=["as-lianka-run", "handler-cancelled"])
async def served(
    request: pytest.FixtureRequest,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    tmp_path: Path,
) -> AsyncIterator[Served]:
    """The web channel on a real socket, with a note of how and when each POST's handler
    ended."""
    async with sessions() as session:
        await make_card(session, clock.now())
    settings = Settings(_env_file=None, web_secret=SECRET, var_dir=tmp_path)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    finished: dict[str, asyncio.Event] = {}
    outcomes: list[str] = []

    @web.middleware
    async def note_the_end(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
        except BaseException as error:
            outcomes.append(type(error).__name__)
            raise
        else:
            outcomes.append(str(response.status))
            return response
        finally:
            if request.method == "POST":
                finished.setdefault(request.path, asyncio.Event()).set()

    app.middlewares.append(note_the_end)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=request.param)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    base = URL.build(scheme="http", host=host, port=port)
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        async with aiohttp.ClientSession(base_url=base, cookie_jar=jar) as client:
            yield Served(client, base, finished, DirectoryBlobStore(tmp_path / "blobs"), outcomes)
    finally:
        await runner.cleanup()


@pytest.fixture
async def refund(sessions: SessionFactory) -> Category:
    async with sessions() as session:
        categories = (await session.exec(select(Category))).all()
    return next(
        c for c in sorted(categories, key=lambda c: c.sort_order) if c.track.value == "appeal"
    )


def _part(boundary: str, name: str, *, filename: str | None = None) -> bytes:
    disposition = f'form-data; name="{name}"'
    if filename is not None:
        disposition += f'; filename="{filename}"\r\nContent-Type: application/pdf'
    return f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()


async def cut_upload(served: Served, path: str, fields: dict[str, str]) -> None:
    """POST ``fields``, ``whole.pdf`` and half of ``half.pdf`` to ``path`` with the browser's
    cookies and the full body's length, then drop the connection; wait for the handler's end."""
    boundary = "----cut" + secrets.token_hex(8)
    head = b"".join(_part(boundary, k) + v.encode() + b"\r\n" for k, v in fields.items())
    head += _part(boundary, "files", filename="whole.pdf") + PDF + b"\r\n"
    head += _part(boundary, "files", filename="half.pdf")
    tail = HALF_FILE + f"\r\n--{boundary}--\r\n".encode()
    url = served.base.join(URL(path))
    cookies = served.client.cookie_jar.filter_cookies(url)
    cookie = "; ".join(f"{name}={morsel.value}" for name, morsel in cookies.items())
    request = (
        f"POST {path} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + len(tail)}\r\nCookie: {cookie}\r\n\r\n"
    ).encode()
    _reader, writer = await asyncio.open_connection(url.host, url.port)
    writer.write(request + head + tail[: len(tail) // 2])
    await writer.drain()
    await asyncio.sleep(0.2)  # the server is reading the half file
    writer.close()
    await writer.wait_closed()
    ended = served.finished.setdefault(path, asyncio.Event())
    await asyncio.wait_for(ended.wait(), timeout=30)
    assert served.outcomes[-1] in ("ConnectionResetError", "CancelledError")  # the body cut


async def assert_purged_to_nothing(served: Served, sessions: SessionFactory) -> None:
    """The half file was never kept; the whole one, referenced by nothing, goes after a day."""
    now = datetime.now(UTC)
    assert await served.blobs.put_before(now + timedelta(days=1)) == [blob_key(PDF)]
    assert (await purge_orphan_blobs(served.blobs, sessions, now=now)).removed == 0  # too new
    later = now + timedelta(days=1, minutes=1)
    await purge_orphan_blobs(served.blobs, sessions, now=later)
    assert await served.blobs.put_before(later) == []


async def test_a_report_upload_cut_off_leaves_no_draft_entry_and_its_blob_is_purged(
    served: Served, sessions: SessionFactory, refund: Category
) -> None:
    browser: Browser = await at_materials(served.client, refund)  # type: ignore[arg-type]
    await cut_upload(served, f"/c/{TOKEN}/report/materials", hidden_fields(browser.html))
    [row] = await drafts(sessions)
    assert row.data["evidence"] == [] and row.step == "materials"
    async with sessions() as session:
        assert (await session.exec(select(Attachment))).all() == []
    await assert_purged_to_nothing(served, sessions)


async def test_a_tracking_upload_cut_off_adds_nothing_to_the_case_and_its_blob_is_purged(
    served: Served, sessions: SessionFactory, catalog, calendar
) -> None:
    case = await web_case(sessions, catalog, calendar)
    await open_case(served.client, case.code)  # type: ignore[arg-type]
    page = await (await served.client.get("/t/case/materials")).text()
    fields = {"csrf_token": csrf_of(page), "note": "现场照片，说明返还款项仍未到账。"}
    await cut_upload(served, "/t/case/materials", fields)
    async with sessions() as session:
        assert (await session.exec(select(Attachment))).all() == []
        events = (await session.exec(select(CaseEvent.kind))).all()
    assert EventKind.MATERIAL_ADDED not in events
    assert await outbox(sessions, "material") == []
    await assert_purged_to_nothing(served, sessions)
