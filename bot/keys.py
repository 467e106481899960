"""The process's keys: read from the environment (or ``.env``), checked against the database.

``lianka init`` writes a fresh pair to ``.env`` when none is set, so a new machine needs no
set-up; after that a key that is missing, malformed or not the one the database was written with
stops every command that opens the database, saying which — never a silent plain-text start.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from models import keys
from models.keycheck import KeyCheck
from models.keys import KeyProblem, Keyring, generate_key, parse_key

if TYPE_CHECKING:
    from bot.settings import Settings

DATA, AUDIT = "data", "audit"
_CHECK_MESSAGE = b"lianka key check"

MISSING = (
    "未设置 {names}：请运行 lianka init（会在 .env 中生成），或用 lianka keys generate 生成后写入"
    "环境变量或 .env ({names} not set: run `lianka init`, or put the output of "
    "`lianka keys generate` in the environment or .env)"
)


def keyring_from_settings(settings: Settings) -> Keyring:
    """The keyring the settings name, or KeyProblem saying which key is missing or malformed."""
    missing = [
        name
        for name, value in (
            ("LIANKA_DATA_KEY", settings.data_key),
            ("LIANKA_AUDIT_KEY", settings.audit_key),
        )
        if value is None
    ]
    if missing:
        raise KeyProblem(MISSING.format(names="、".join(missing)))
    assert settings.data_key is not None and settings.audit_key is not None
    old = settings.old_data_keys.get_secret_value() if settings.old_data_keys else ""
    return Keyring(
        data_key=parse_key(settings.data_key.get_secret_value(), "LIANKA_DATA_KEY"),
        audit_key=parse_key(settings.audit_key.get_secret_value(), "LIANKA_AUDIT_KEY"),
        old_data_keys=tuple(
            parse_key(item, "LIANKA_OLD_DATA_KEYS") for item in old.split(",") if item.strip()
        ),
    )


def check_value(keyring: Keyring, purpose: str) -> str:
    """What a key writes beside its id: proves the key, reveals nothing of it."""
    if purpose == AUDIT:
        return keyring.mac("key-check", _CHECK_MESSAGE)
    return keyring.seal("lianka", context="key_checks")


def key_problem(connection: Connection, keyring: Keyring, *, record: bool = True) -> str | None:
    """Why these keys cannot run this database (None when they can); with ``record``, the keys
    are written down on the first start and each new data key when first used."""
    rows = connection.execute(
        select(col(KeyCheck.purpose), col(KeyCheck.key_id), col(KeyCheck.check_value))
    )
    known = [(str(p), str(k), str(v)) for p, k, v in rows]
    audit = [(k, v) for p, k, v in known if p == AUDIT]
    if audit and audit[0] != (keyring.audit_key_id, check_value(keyring, AUDIT)):
        return (
            f"LIANKA_AUDIT_KEY 与此数据库不符：数据库的审计记录由密钥 {audit[0][0]} 签名，"
            f"当前密钥为 {keyring.audit_key_id}。请使用原密钥 (LIANKA_AUDIT_KEY is not the key "
            f"this database's audit trail was signed with: {audit[0][0]} expected, "
            f"{keyring.audit_key_id} given)"
        )
    lost = sorted({k for p, k, _ in known if p == DATA} - keyring.data_key_ids)
    if lost:
        return (
            f"数据库中有由密钥 {'、'.join(lost)} 加密的身份信息，但 LIANKA_DATA_KEY / "
            f"LIANKA_OLD_DATA_KEYS 中没有该密钥 (identities sealed with {', '.join(lost)} "
            "cannot be opened: set the key that wrote them)"
        )
    if record:
        if not audit:
            _record(connection, AUDIT, keyring.audit_key_id, check_value(keyring, AUDIT))
        if not any(p == DATA and k == keyring.data_key_id for p, k, _ in known):
            _record(connection, DATA, keyring.data_key_id, check_value(keyring, DATA))
    return None


def _record(connection: Connection, purpose: str, kid: str, check: str) -> None:
    """Write a key down; another process starting at the same moment may have written it
    first (the same key: nothing lost)."""
    try:
        with connection.begin_nested():
            connection.execute(
                insert(KeyCheck).values(
                    purpose=purpose, key_id=kid, check_value=check, created_at=datetime.now(UTC)
                )
            )
    except IntegrityError:
        pass


def forget_data_key(connection: Connection, kid: str) -> None:
    """After ``lianka keys rotate`` left nothing sealed with ``kid``: it is no longer needed."""
    connection.execute(
        delete(KeyCheck).where(col(KeyCheck.purpose) == DATA, col(KeyCheck.key_id) == kid)
    )


def keyring_environment(keyring: Keyring) -> dict[str, str]:
    """The variables that name ``keyring``, for a process this one starts (its environment is
    as private as this one's): the child works with the very keys this process has, also those
    a sandbox made for itself at start."""
    return {
        "LIANKA_DATA_KEY": keys.key_text(keyring.data_key),
        "LIANKA_AUDIT_KEY": keys.key_text(keyring.audit_key),
        "LIANKA_OLD_DATA_KEYS": ",".join(keys.key_text(k) for k in keyring.old_data_keys),
    }


def install_from_settings(settings: Settings) -> Keyring:
    """Load the settings' keys and make them the process's (KeyProblem when they cannot be)."""
    keyring = keyring_from_settings(settings)
    keys.install(keyring)
    return keyring


def write_new_keys(env_file: Path) -> tuple[str, str]:
    """Append a fresh pair to ``env_file`` (made readable by its owner only); returns it."""
    data, audit = generate_key(), generate_key()
    existing = env_file.read_text(encoding="utf-8") if env_file.exists() else ""
    lines = [] if not existing or existing.endswith("\n") else [""]
    lines += [
        "# Lianka's keys (lianka init): keep them, and back them up apart from the database.",
        f"LIANKA_DATA_KEY={data}",
        f"LIANKA_AUDIT_KEY={audit}",
        "",
    ]
    fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    env_file.chmod(0o600)
    return data, audit
