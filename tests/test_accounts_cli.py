"""``lianka accounts``: the server's command line makes, lists, disables and resets console
accounts, and the console takes them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import run_in_process
from tests.live import TEST_KEYS

pytestmark = pytest.mark.slow


def lianka(*args: str, cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The command inside the test process (``tests.cli_helpers``), with the tests' keys."""
    return run_in_process(args, cwd=cwd, env=TEST_KEYS, stdin=stdin)


def test_accounts_are_created_listed_disabled_reset_and_given_a_new_code_from_the_command_line(
    tmp_path: Path,
) -> None:
    assert lianka("init", cwd=tmp_path).returncode == 0
    made = lianka(
        "accounts", "create", "xinfang", "--role", "dispatcher", "--name", "王芳",
        "--password-stdin", "--json", cwd=tmp_path, stdin="a long enough password\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    dispatcher = json.loads(made.stdout)
    assert dispatcher["role"] == "team_leader" and dispatcher["totp_secret"] is None
    assert dispatcher["password_link"] is None

    admin = lianka("accounts", "create", "admin1", "--role", "admin", cwd=tmp_path)
    assert admin.returncode == 0, admin.stderr
    assert "动态验证码密钥" in admin.stdout and "otpauth://totp/" in admin.stdout
    assert "/console/reset/" in admin.stdout  # no password given: a link sets the first one

    no_team = lianka("accounts", "create", "zhang", "--role", "inspector", cwd=tmp_path)
    assert no_team.returncode != 0 and "必须属于一个监督组" in no_team.stderr
    short = lianka(
        "accounts", "create", "li", "--role", "inspector", "--team", "business_env",
        "--password-stdin", cwd=tmp_path, stdin="short\n",
    )  # fmt: skip
    assert short.returncode != 0 and "至少10个字符" in short.stderr

    listed = lianka("accounts", "list", "--json", cwd=tmp_path)
    rows = {row["username"]: row for row in json.loads(listed.stdout)}
    assert rows["xinfang"]["role"] == "dispatcher" and rows["xinfang"]["team"] == "dispatch"
    assert rows["admin1"]["role"] == "admin" and rows["admin1"]["totp"] is True
    assert rows["xinfang"]["telegram"] is False

    assert lianka("accounts", "disable", "xinfang", cwd=tmp_path).returncode == 0
    rows = {
        row["username"]: row
        for row in json.loads(lianka("accounts", "list", "--json", cwd=tmp_path).stdout)
    }
    assert rows["xinfang"]["disabled"] is True

    reset = lianka("accounts", "reset", "admin1", "--json", cwd=tmp_path)
    assert reset.returncode == 0, reset.stderr
    assert "/console/reset/" in json.loads(reset.stdout)["password_link"]
    unknown = lianka("accounts", "reset", "nobody", cwd=tmp_path)
    assert unknown.returncode != 0 and "未找到账号" in unknown.stderr

    renewed = lianka("accounts", "totp", "admin1", "--json", cwd=tmp_path)
    assert renewed.returncode == 0, renewed.stderr
    secret = json.loads(renewed.stdout)["totp_secret"]
    assert secret and secret not in admin.stdout  # a new secret; the old one no longer works
    assert lianka("accounts", "totp", "xinfang", cwd=tmp_path).returncode != 0  # disabled


def test_console_passwords_are_hashed_with_argon2id_at_64_mib_three_passes_and_four_lanes() -> None:
    """What production hashes with (the test process uses the cheapest Argon2id, conftest)."""
    from argon2 import Type

    from bot.services import accounts
    from tests.conftest import PRODUCTION_PASSWORD_HASHER as hasher

    assert hasher.type is Type.ID
    assert (hasher.memory_cost, hasher.time_cost, hasher.parallelism) == (65536, 3, 4)
    stored = hasher.hash("a long enough password")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert hasher.verify(stored, "a long enough password")
    # a name that is no account is checked against a hash of the same cost
    checked: list[str] = []

    class Watched:
        """The production hasher, its checks seen."""

        def hash(self, password: str) -> str:
            return str(hasher.hash(password))

        def verify(self, stored: str, password: str) -> bool:
            checked.append(stored)
            return bool(hasher.verify(stored, password))

    production = accounts._HASHER
    accounts._HASHER = Watched()  # type: ignore[assignment]
    try:
        assert not accounts._password_matches(None, "a long enough password")
    finally:
        accounts._HASHER = production
    assert len(checked) == 1 and checked[0].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
