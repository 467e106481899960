"""``lianka keys rotate``: from the command line, with the new key set and the old one kept in
LIANKA_OLD_DATA_KEYS until the command says it may be dropped."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from models.keys import generate_key
from tests.cli_helpers import run_in_process
from tests.live import TEST_KEYS

pytestmark = pytest.mark.slow

OLD = TEST_KEYS["LIANKA_DATA_KEY"]
NEW = generate_key()


def lianka(*args: str, cwd: Path, **keys: str) -> subprocess.CompletedProcess[str]:
    """The command inside the test process (``tests.cli_helpers``) with the tests' keys, or
    ``keys`` instead; its own keys are not left in the test process."""
    return run_in_process(args, cwd=cwd, env=TEST_KEYS | keys)


def test_rotate_reseals_the_totp_secrets_and_then_the_old_key_may_be_dropped(
    tmp_path: Path,
) -> None:
    assert lianka("init", cwd=tmp_path).returncode == 0
    made = lianka("accounts", "create", "admin", "--role", "admin", "--json", cwd=tmp_path)
    assert made.returncode == 0, made.stderr

    without_old = lianka("accounts", "list", cwd=tmp_path, LIANKA_DATA_KEY=NEW)
    assert without_old.returncode == 2 and "LIANKA_OLD_DATA_KEYS" in without_old.stderr

    both = {"LIANKA_DATA_KEY": NEW, "LIANKA_OLD_DATA_KEYS": OLD}
    dry = lianka("keys", "rotate", "--dry-run", "--json", cwd=tmp_path, **both)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["resealed"]["console_accounts.totp_secret"] == 1
    done = lianka("keys", "rotate", "--batch", "1", cwd=tmp_path, **both)
    assert done.returncode == 0, done.stderr
    assert "console_accounts.totp_secret: 1" in done.stdout
    assert "可从 LIANKA_OLD_DATA_KEYS 中删除" in done.stdout

    alone = lianka("keys", "rotate", "--json", cwd=tmp_path, LIANKA_DATA_KEY=NEW)
    assert alone.returncode == 0, alone.stderr
    assert json.loads(alone.stdout)["total"] == 0
    assert lianka("accounts", "list", cwd=tmp_path, LIANKA_DATA_KEY=NEW).returncode == 0
