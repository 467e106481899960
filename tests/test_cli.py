"""The ``lianka`` command: set-up, config check, and ``run`` without a token."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.db import head_revision
from tests.cli_helpers import run_in_process
from tests.conftest import ROOT
from tests.live import TEST_KEYS
from tests.test_config import OLD_JKQ_PROBLEM, with_old_jkq_rule

pytestmark = pytest.mark.slow

LIANKA = str(Path(sys.executable).with_name("lianka"))


def lianka(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    with_keys: bool = True,
    process: bool = False,
) -> subprocess.CompletedProcess[str]:
    """A ``lianka`` command with none of the developer's LIANKA_* settings: the tests' keys
    (unless ``with_keys`` is off, as on a new machine) and ``env``. It runs inside the test
    process (``tests.cli_helpers``); ``process`` starts the installed console script instead,
    for what only a real process shows (its exit code and output from the entry point)."""
    settings = {k: v for k, v in os.environ.items() if k == "LIANKA_REQUIRE_SERVICES"}
    settings.update(TEST_KEYS if with_keys else {})
    settings.update(env or {})
    if not process:
        return run_in_process(args, cwd=cwd, env=settings)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIANKA_")}
    environment.update(settings)
    return subprocess.run(
        [LIANKA, *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in (
        [],
        ["init"],
        ["config", "check"],
        ["db", "upgrade"],
        ["db", "current"],
        ["run"],
    ):
        result = lianka(*command, "--help", cwd=tmp_path, process=command == ["run"])
        assert result.returncode == 0, result.stderr
        assert "Usage: lianka" in result.stdout


def test_init_creates_the_config_the_database_and_loads_the_catalog(tmp_path: Path) -> None:
    result = lianka("init", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "lianka.toml").read_text(encoding="utf-8") == (
        ROOT / "lianka.example.toml"
    ).read_text(encoding="utf-8")
    assert (tmp_path / "var" / "lianka.db").exists()
    assert "已载入配置: 5 个园区, 10 个监督事项, 8 个监督组" in result.stdout
    again = lianka("init", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    current = lianka("db", "current", cwd=tmp_path)
    assert current.returncode == 0
    head = head_revision()
    assert f"current: {head}  head: {head}" in current.stdout


def test_run_without_a_token_explains_how_to_get_one_and_exits_2(tmp_path: Path) -> None:
    lianka("init", cwd=tmp_path)
    result = lianka("run", cwd=tmp_path, process=True)  # the real entry point's exit code
    assert result.returncode == 2
    assert "@BotFather" in result.stderr
    assert "LIANKA_BOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_send_rate_above_telegrams_limit_is_refused_naming_the_variable(tmp_path: Path) -> None:
    lianka("init", cwd=tmp_path)
    result = lianka("run", cwd=tmp_path, env={"LIANKA_SEND_PER_SECOND": "100"})
    assert result.returncode == 2
    assert "LIANKA_SEND_PER_SECOND" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_accepts_the_example(tmp_path: Path) -> None:
    result = lianka("config", "check", str(ROOT / "lianka.example.toml"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "配置正确" in result.stdout


def test_config_check_names_the_broken_key_without_a_traceback(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(
        (ROOT / "lianka.example.toml")
        .read_text(encoding="utf-8")
        .replace('categories = ["rural_revitalisation"]', 'categories = ["rural"]'),
        encoding="utf-8",
    )
    result = lianka("config", "check", str(broken), cwd=tmp_path)
    assert result.returncode == 1
    assert "teams[rural].categories: 未知的监督事项 “rural” (unknown category)" in result.stderr
    assert "Traceback" not in result.stderr
    as_json = lianka("config", "check", str(broken), "--json", cwd=tmp_path)
    assert as_json.returncode == 1
    assert '"key": "teams[rural].categories"' in as_json.stdout


def test_config_check_refuses_the_old_jkq_rule_that_routed_clues_to_the_business_team(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.toml"
    example = (ROOT / "lianka.example.toml").read_text(encoding="utf-8")
    old.write_text(with_old_jkq_rule(example), encoding="utf-8")
    result = lianka("config", "check", str(old), cwd=tmp_path)
    assert result.returncode == 1
    assert OLD_JKQ_PROBLEM in result.stderr
    assert "Traceback" not in result.stderr
    as_json = lianka("config", "check", str(old), "--json", cwd=tmp_path)
    assert as_json.returncode == 1
    assert '"key": "routing[1]"' in as_json.stdout and "经开区资金返还" in as_json.stdout


def test_run_refuses_to_start_with_a_rule_that_routes_clues_to_a_team_without_clues(
    tmp_path: Path,
) -> None:
    example = (ROOT / "lianka.example.toml").read_text(encoding="utf-8")
    (tmp_path / "lianka.toml").write_text(with_old_jkq_rule(example), encoding="utf-8")
    result = lianka("run", cwd=tmp_path, env={"LIANKA_BOT_TOKEN": "123456789:AAE" + "x" * 32})
    assert result.returncode == 2
    assert "分办规则 “经开区资金返还”" in result.stderr
    assert "Traceback" not in result.stderr


def test_commands_that_need_the_config_refuse_a_broken_one_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "lianka.toml").write_text("[organisation]\nname = 1\n", encoding="utf-8")
    result = lianka("init", cwd=tmp_path)
    assert result.returncode == 2
    assert "organisation.name" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_init_works_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    import asyncio
    import secrets

    from tests.conftest import POSTGRES_ADMIN_URL, _admin_execute

    name = f"lianka_cli_{secrets.token_hex(4)}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    try:
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        result = lianka("init", cwd=tmp_path, env={"LIANKA_DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert "postgresql+asyncpg://postgres@127.0.0.1:5432/" in result.stdout
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
