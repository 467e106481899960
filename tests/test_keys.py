"""The data key and the audit key: generated, written once by ``lianka init``, checked at start,
never replaced by a silent plain-text fallback."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from models import keys
from models.keys import KeyProblem, Keyring, SealBroken, generate_key, parse_key
from tests.test_cli import lianka as run_lianka

pytestmark = pytest.mark.slow


def lianka(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``lianka`` with exactly the LIANKA_* variables given (none of the tests' keys)."""
    return run_lianka(*args, cwd=cwd, env=env, with_keys=False)


def env_file_keys(folder: Path) -> dict[str, str]:
    lines = (folder / ".env").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line.startswith("LIANKA_"))


def test_keys_generate_prints_two_fresh_keys_of_32_bytes(tmp_path: Path) -> None:
    first = lianka("keys", "generate", cwd=tmp_path, env={})
    second = lianka("keys", "generate", cwd=tmp_path, env={})
    assert first.returncode == 0, first.stderr
    pairs = [dict(line.split("=", 1) for line in r.stdout.splitlines()) for r in (first, second)]
    assert set(pairs[0]) == {"LIANKA_DATA_KEY", "LIANKA_AUDIT_KEY"}
    for pair in pairs:
        for name, value in pair.items():
            assert len(parse_key(value, name)) == 32
    assert pairs[0]["LIANKA_DATA_KEY"] != pairs[0]["LIANKA_AUDIT_KEY"]
    assert pairs[0] != pairs[1]


def test_init_on_a_new_machine_writes_a_key_pair_to_env_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    result = lianka("init", cwd=tmp_path, env={})
    assert result.returncode == 0, result.stderr
    assert "已生成密钥并写入 .env" in result.stdout
    written = env_file_keys(tmp_path)
    assert set(written) == {"LIANKA_DATA_KEY", "LIANKA_AUDIT_KEY"}
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    again = lianka("init", cwd=tmp_path, env={})
    assert again.returncode == 0, again.stderr
    assert env_file_keys(tmp_path) == written, "a second init keeps the keys it wrote"
    assert lianka("cases", "list", cwd=tmp_path, env={}).returncode == 0


def test_init_keeps_an_env_file_and_adds_the_keys_below_what_was_there(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LIANKA_BOT_USERNAME=AnjuBot", encoding="utf-8")
    result = lianka("init", cwd=tmp_path, env={})
    assert result.returncode == 0, result.stderr
    text = (tmp_path / ".env").read_text(encoding="utf-8")
    assert text.startswith("LIANKA_BOT_USERNAME=AnjuBot\n")
    assert set(env_file_keys(tmp_path)) == {
        "LIANKA_BOT_USERNAME",
        "LIANKA_DATA_KEY",
        "LIANKA_AUDIT_KEY",
    }


def test_a_database_opened_without_its_keys_is_refused_with_the_reason(tmp_path: Path) -> None:
    assert lianka("init", cwd=tmp_path, env={}).returncode == 0
    (tmp_path / ".env").unlink()
    result = lianka("cases", "list", cwd=tmp_path, env={})
    assert result.returncode == 2
    assert "未设置 LIANKA_DATA_KEY、LIANKA_AUDIT_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_opened_with_another_audit_key_is_refused_naming_the_key(
    tmp_path: Path,
) -> None:
    assert lianka("init", cwd=tmp_path, env={}).returncode == 0
    original = env_file_keys(tmp_path)
    (tmp_path / ".env").unlink()
    other = {"LIANKA_DATA_KEY": original["LIANKA_DATA_KEY"], "LIANKA_AUDIT_KEY": generate_key()}
    result = lianka("cases", "list", cwd=tmp_path, env=other)
    assert result.returncode == 2
    assert "LIANKA_AUDIT_KEY 与此数据库不符" in result.stderr
    assert original["LIANKA_AUDIT_KEY"] not in result.stderr + result.stdout


def test_a_database_opened_with_another_data_key_is_refused_until_the_old_one_is_given(
    tmp_path: Path,
) -> None:
    assert lianka("init", cwd=tmp_path, env={}).returncode == 0
    original = env_file_keys(tmp_path)
    (tmp_path / ".env").unlink()
    rotated = {"LIANKA_DATA_KEY": generate_key(), "LIANKA_AUDIT_KEY": original["LIANKA_AUDIT_KEY"]}
    refused = lianka("cases", "list", cwd=tmp_path, env=rotated)
    assert refused.returncode == 2
    assert "加密的身份信息" in refused.stderr
    with_old = {**rotated, "LIANKA_OLD_DATA_KEYS": original["LIANKA_DATA_KEY"]}
    assert lianka("cases", "list", cwd=tmp_path, env=with_old).returncode == 0


def test_a_malformed_key_is_named_and_init_does_not_overwrite_it(tmp_path: Path) -> None:
    bad = {"LIANKA_DATA_KEY": "not-a-key", "LIANKA_AUDIT_KEY": generate_key()}
    result = lianka("init", cwd=tmp_path, env=bad)
    assert result.returncode == 2
    assert "LIANKA_DATA_KEY 格式不正确" in result.stderr
    assert not (tmp_path / ".env").exists()


def test_only_one_of_the_two_keys_is_a_clear_error_not_a_new_pair(tmp_path: Path) -> None:
    result = lianka("init", cwd=tmp_path, env={"LIANKA_DATA_KEY": generate_key()})
    assert result.returncode == 2
    assert "未设置 LIANKA_AUDIT_KEY" in result.stderr
    assert not (tmp_path / ".env").exists()


def test_make_run_starts_no_demo_on_a_host_with_a_database_of_its_own(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'production.db'}"
    env = {"LIANKA_DATABASE_URL": url}
    assert lianka("init", cwd=tmp_path, env=env).returncode == 0
    result = lianka("run", "--sandbox-if-no-token", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "未设置 LIANKA_BOT_TOKEN" in result.stderr
    assert "不启动演示沙盒" in result.stderr


def test_make_run_starts_no_demo_on_a_host_with_a_public_address(tmp_path: Path) -> None:
    env = {"LIANKA_PUBLIC_URL": "https://jubao.example.gov.cn", "LIANKA_WEB_SECRET": "s" * 40}
    assert lianka("init", cwd=tmp_path, env=env).returncode == 0
    result = lianka("run", "--sandbox-if-no-token", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "LIANKA_PUBLIC_URL" in result.stderr
    assert "不启动演示沙盒" in result.stderr


def test_a_sealed_value_opens_only_with_its_key_and_in_its_own_place() -> None:
    ring = Keyring(data_key=os.urandom(32), audit_key=os.urandom(32))
    sealed = ring.seal("13800138000", context="reporter_contacts.phone:7")
    assert "13800138000" not in sealed
    assert ring.open(sealed, context="reporter_contacts.phone:7") == "13800138000"
    with pytest.raises(SealBroken):
        ring.open(sealed, context="reporter_contacts.phone:8")  # copied to another row
    stranger = Keyring(data_key=os.urandom(32), audit_key=ring.audit_key)
    with pytest.raises(SealBroken):
        stranger.open(sealed, context="reporter_contacts.phone:7")
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealBroken):
        ring.open(tampered, context="reporter_contacts.phone:7")


def test_a_new_data_key_opens_what_the_old_one_sealed_while_it_is_kept_as_old() -> None:
    old = Keyring(data_key=os.urandom(32), audit_key=os.urandom(32))
    sealed = old.seal("张三", context="reporter_contacts.name:1")
    new = Keyring(data_key=os.urandom(32), audit_key=old.audit_key, old_data_keys=(old.data_key,))
    assert new.open(sealed, context="reporter_contacts.name:1") == "张三"
    assert new.needs_reseal(sealed)
    assert not new.needs_reseal(new.seal("张三", context="reporter_contacts.name:1"))


def test_keyed_hashes_differ_by_key_and_by_purpose() -> None:
    ring = Keyring(data_key=os.urandom(32), audit_key=os.urandom(32))
    other = Keyring(data_key=ring.data_key, audit_key=os.urandom(32))
    assert ring.keyed_hash("receipt", "7KQM4TXD92HP") == ring.keyed_hash("receipt", "7KQM4TXD92HP")
    assert ring.keyed_hash("receipt", "7KQM4TXD92HP") != other.keyed_hash("receipt", "7KQM4TXD92HP")
    assert ring.keyed_hash("receipt", "13800138000") != ring.keyed_hash("phone", "13800138000")


def test_without_keys_nothing_is_sealed_in_plain_text_instead() -> None:
    installed = keys.current()
    keys.uninstall()
    try:
        with pytest.raises(KeyProblem):
            keys.current().seal("13800138000", context="x")
    finally:
        keys.install(installed)


def test_the_keys_a_database_was_upgraded_with_are_the_only_ones_it_opens_with(
    tmp_path: Path,
) -> None:
    upgraded_with = {"LIANKA_DATA_KEY": generate_key(), "LIANKA_AUDIT_KEY": generate_key()}
    url = {"LIANKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"}
    done = lianka("db", "upgrade", cwd=tmp_path, env={**url, **upgraded_with})
    assert done.returncode == 0, done.stderr
    other = {**upgraded_with, "LIANKA_AUDIT_KEY": generate_key()}
    refused = lianka("audit", "verify", cwd=tmp_path, env={**url, **other})
    assert refused.returncode == 2
    assert "LIANKA_AUDIT_KEY 与此数据库不符" in refused.stderr


def test_db_upgrade_without_keys_says_what_to_set_not_a_traceback(tmp_path: Path) -> None:
    url = {"LIANKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"}
    result = lianka("db", "upgrade", cwd=tmp_path, env=url)
    assert result.returncode == 2
    assert "未设置 LIANKA_DATA_KEY、LIANKA_AUDIT_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_demo_database_written_under_other_keys_is_made_afresh_not_left_unreadable(
    tmp_path: Path,
) -> None:
    import sqlite3

    from bot.sandboxed import demo_keys, sandbox_var_dir
    from bot.services.anchors import anchor_path

    database = tmp_path / "sandbox.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE key_checks (purpose TEXT, key_id TEXT)")
        connection.execute("INSERT INTO key_checks VALUES ('audit', 'deadbeef')")
    anchors = anchor_path(sandbox_var_dir(tmp_path))
    anchors.parent.mkdir()
    anchors.write_text("{}\n", encoding="utf-8")
    demo_keys(database)
    assert not database.exists() and not anchors.exists()

    ring = keys.current()
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE key_checks (purpose TEXT, key_id TEXT)")
        connection.execute("INSERT INTO key_checks VALUES ('audit', ?)", (ring.audit_key_id,))
        connection.execute("INSERT INTO key_checks VALUES ('data', ?)", (ring.data_key_id,))
    demo_keys(database)
    assert database.exists(), "a demo database of this run's keys is kept"
