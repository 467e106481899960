"""The web channel as it is served: alone (``lianka web``, no bot token) and, in
``tests/test_web_browser.py``, inside the sandbox's ``lianka run``."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
import pytest

from tests.live import lianka_web
from tests.test_cli import lianka


@pytest.mark.slow
async def test_lianka_web_serves_the_pages_alone_without_a_bot_token(tmp_path: Path) -> None:
    code = lianka("init", cwd=tmp_path).returncode
    assert code == 0
    async with lianka_web(tmp_path) as web, aiohttp.ClientSession() as client:
        async with client.get(f"{web.url}/healthz") as response:
            assert await response.json() == {"status": "ok", "database": True, "web": True}
        async with client.get(f"{web.url}/c/c_NoSuchCard0000000000") as response:
            assert response.status == 404
            assert "未能识别此联系卡" in await response.text()
            assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "c_NoSuchCard0000000000" not in web.output()
    with socket.socket() as probe:  # the port is given back
        probe.bind(("127.0.0.1", web.port))
