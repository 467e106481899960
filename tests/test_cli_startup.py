"""``lianka --help`` and ``lianka cards list`` start without loading the bot (aiogram), the
database layer they do not need, or the PDF and QR stack: an admin's quick command stays quick."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.db import upgrade_database

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("aiogram", "fpdf", "PIL", "qrcode", "reports")


def loaded_modules(*args: str, cwd: Path, env: dict[str, str] | None = None) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }


def test_lianka_help_loads_neither_the_bot_nor_the_database_nor_the_pdf_stack(
    tmp_path: Path,
) -> None:
    loaded = loaded_modules("--help", cwd=tmp_path)

    assert "click" in loaded  # the measurement works
    assert not {name for name in loaded if name.split(".")[0] in (*HEAVY, "sqlalchemy")}


def test_listing_cards_as_a_table_loads_neither_aiogram_nor_the_pdf_stack(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"
    upgrade_database(url)
    env = {"LIANKA_DATABASE_URL": url, "LIANKA_CONFIG": str(ROOT / "lianka.example.toml")}

    loaded = loaded_modules("cards", "list", cwd=tmp_path, env=env)

    assert "sqlmodel" in loaded  # the measurement works
    assert not {name for name in loaded if name.split(".")[0] in HEAVY}
