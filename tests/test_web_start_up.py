"""``lianka web``, the instance reporters in mainland China reach, starts without the bot's
Telegram library: aiogram's types were nearly half of its start-up, for pages that never send a
Telegram message."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.live import lianka_web
from tests.test_cli import lianka

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
    # every import the process makes, at start-up or later for a page, is written to stderr
    traced = {"PYTHONPROFILEIMPORTTIME": "1"}
    async with lianka_web(tmp_path, traced) as web, aiohttp.ClientSession() as http:
        for path, status in (("/c/no-such-card", 404), ("/console/login", 200)):
            async with http.get(f"{web.url}{path}") as response:
                assert response.status == status, path
    output = web.output()
    loaded = imported(output)
    assert {"bot", "web", "aiohttp", "sqlalchemy"} <= loaded  # the pages came from this process
    assert "aiogram" not in loaded and "handlers" not in loaded
