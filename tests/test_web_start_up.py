"""``lianka web``, the instance reporters in mainland China reach, starts without the bot's
Telegram library: aiogram's types were nearly half of its start-up, for pages that never send a
Telegram message."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.live import base_environment, free_port, wait_healthy
from tests.test_cli import LIANKA, lianka

pytestmark = pytest.mark.slow


def imported(log: str) -> set[str]:
    """The top-level packages a process imported, from its ``-X importtime`` lines."""
    names = set()
    for line in log.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            if name != "package":  # the header line
                names.add(name.split(".")[0])
    return names


async def test_the_web_instance_serves_its_pages_without_loading_the_telegram_library(
    tmp_path: Path,
) -> None:
    assert lianka("init", cwd=tmp_path).returncode == 0
    port = free_port()
    log = tmp_path / "imports.log"
    # every import the process makes, at start-up or later for a page, is written to stderr
    environment = base_environment({"PYTHONPROFILEIMPORTTIME": "1"})
    with log.open("wb") as handle:
        process = await asyncio.create_subprocess_exec(
            LIANKA, "web", "--host", "127.0.0.1", "--port", str(port),
            cwd=tmp_path, env=environment, stdout=handle, stderr=handle,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        await wait_healthy(url, process, lambda: log.read_text(encoding="utf-8", errors="replace"))
        async with aiohttp.ClientSession() as http:
            for path, status in (("/c/no-such-card", 404), ("/console/login", 200)):
                async with http.get(f"{url}{path}") as response:
                    assert response.status == status, path
    finally:
        process.terminate()  # SIGTERM
        await process.wait()
    output = log.read_text(encoding="utf-8", errors="replace")
    assert process.returncode == 0, output
    loaded = imported(output)
    assert {"bot", "web", "aiohttp", "sqlalchemy"} <= loaded  # the pages came from this process
    assert "aiogram" not in loaded and "handlers" not in loaded
