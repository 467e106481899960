"""The web channel as it is served: alone (``lianka web``, no bot token) and, in
``tests/test_web_browser.py``, inside the sandbox's ``lianka run``."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import aiohttp
import pytest

from tests.live import LIANKA, base_environment, free_port
from tests.test_cli import lianka


@pytest.mark.slow
async def test_lianka_web_serves_the_pages_alone_without_a_bot_token(tmp_path: Path) -> None:
    code = lianka("init", cwd=tmp_path).returncode
    assert code == 0
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        LIANKA, "web", "--host", "127.0.0.1", "--port", str(port),
        cwd=tmp_path, env=base_environment({}),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as client:
            health = None
            deadline = asyncio.get_running_loop().time() + 60  # a busy machine starts slowly
            while health is None and asyncio.get_running_loop().time() < deadline:
                try:
                    async with client.get(f"http://127.0.0.1:{port}/healthz") as response:
                        health = await response.json()
                except aiohttp.ClientError:
                    assert process.returncode is None, "lianka web exited early"
                    await asyncio.sleep(0.1)
            assert health == {"status": "ok", "database": True, "web": True}
            async with client.get(f"http://127.0.0.1:{port}/c/c_NoSuchCard0000000000") as response:
                assert response.status == 404
                assert "未能识别此联系卡" in await response.text()
                assert response.headers["Referrer-Policy"] == "no-referrer"
    finally:
        process.terminate()
        output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    assert b"c_NoSuchCard0000000000" not in output
    with socket.socket() as probe:  # the port is given back
        probe.bind(("127.0.0.1", port))
