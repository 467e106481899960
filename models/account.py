"""Office console accounts: a person's second way in (one ``Inspector``, one set of rights), the
sign-in rules (lock-out, session expiry, who needs a second factor) and the sign-in log."""

from __future__ import annotations

import enum
import json
from datetime import datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models import keys
from models.team import Role
from models.types import UTCDateTime, enum_type, utc

FAILURES_BEFORE_LOCK = 5
LOCK_MINUTES = 15
SESSION_IDLE = timedelta(minutes=30)
SESSION_ABSOLUTE = timedelta(hours=12)
SECOND_FACTOR_WAIT = timedelta(minutes=5)
"""How long a session that has the password but not yet the code may wait for the code."""
RESET_LINK_HOURS = 24
PASSWORD_MIN = 10
PASSWORD_MAX = 128
USERNAME_MAX = 40


class ConsoleRole(enum.StrEnum):
    """What ``lianka accounts create --role`` takes: the bot's roles and the 信访室's
    dispatcher, who is a team leader of the dispatcher team (``assignment.may_route``)."""

    ADMIN = "admin"
    LEADER = "leader"
    TEAM_LEADER = "team_leader"
    INSPECTOR = "inspector"
    DISPATCHER = "dispatcher"

    @property
    def role(self) -> Role:
        return Role.TEAM_LEADER if self is ConsoleRole.DISPATCHER else Role(self.value)

    @property
    def label(self) -> str:
        return "信访室" if self is ConsoleRole.DISPATCHER else self.role.label


def second_factor_required(role: Role) -> bool:
    """Admins and leaders must sign in with a TOTP code; for others it is their choice."""
    return role in (Role.ADMIN, Role.LEADER)


def totp_context(account_id: int) -> str:
    return f"console_accounts.totp:{account_id}"


class ConsoleAccount(SQLModel, table=True):
    """A sign-in for the console, bound to one person. Only an Argon2id hash of the password is
    kept; a reset link is kept as the SHA-256 of its one-time code."""

    __tablename__ = "console_accounts"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=USERNAME_MAX, unique=True)
    inspector_id: int = Field(foreign_key="inspectors.id", unique=True)
    password_hash: str | None = Field(default=None, max_length=255)
    totp_secret: str | None = Field(default=None, max_length=255)  # sealed: totp_plain()
    last_totp_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    created_at: datetime = Field(sa_type=UTCDateTime)
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_sign_ins: int = 0
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reset_hash: str | None = Field(default=None, max_length=64, unique=True)
    reset_expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def seal_totp(self, secret: str) -> None:
        """Keep the TOTP secret sealed under the data key, bound to this account (has an id)."""
        assert self.id is not None
        self.totp_secret = keys.current().seal(secret, context=totp_context(self.id))

    def totp_plain(self) -> str | None:
        """The TOTP secret, opened (None when the account has no second factor)."""
        if self.totp_secret is None:
            return None
        assert self.id is not None
        return keys.current().open(self.totp_secret, context=totp_context(self.id))

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def lock_ends(now: datetime) -> datetime:
    """When an account locked at ``now`` (its fifth failure in a row) may try again."""
    return now + timedelta(minutes=LOCK_MINUTES)


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser, kept on the server. ``key`` is the SHA-256 of the id in the cookie
    (a copy of the database opens no session); ``verified`` once the second factor is given
    (or none is needed)."""

    __tablename__ = "console_sessions"

    key: str = Field(primary_key=True, max_length=64)
    account_id: int = Field(foreign_key="console_accounts.id", index=True)
    verified: bool = False
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    notice: str | None = Field(default=None, max_length=200)

    def expired(self, now: datetime) -> bool:
        """Idle for 30 minutes, 12 hours old, or 5 minutes waiting for the second factor."""
        if not self.verified and now - self.created_at > SECOND_FACTOR_WAIT:
            return True
        return now - self.last_seen_at > SESSION_IDLE or now - self.created_at > SESSION_ABSOLUTE


class AccessKind(enum.StrEnum):
    """What the sign-in log records. Stored in rows: never rename one."""

    SIGNED_IN = "signed_in"
    FAILED = "failed"  # a wrong password, an unknown name or a wrong code
    LOCKED = "locked"  # the failure that locked the account
    REFUSED = "refused"  # a locked or disabled account, or too many attempts from the address
    SIGNED_OUT = "signed_out"
    EXPIRED = "expired"
    PASSWORD_SET = "password_set"  # noqa: S105 (a log kind, not a password)
    CREATED = "created"
    DISABLED = "disabled"
    RESET_ISSUED = "reset_issued"
    TOTP_ISSUED = "totp_issued"  # a new TOTP secret (``lianka accounts totp``)

    @property
    def label(self) -> str:
        return ACCESS_LABELS[self]


ACCESS_LABELS = {
    AccessKind.SIGNED_IN: "登录",
    AccessKind.FAILED: "登录失败",
    AccessKind.LOCKED: "连续失败，账号锁定",
    AccessKind.REFUSED: "拒绝登录",
    AccessKind.SIGNED_OUT: "退出",
    AccessKind.EXPIRED: "会话过期",
    AccessKind.PASSWORD_SET: "设置密码",
    AccessKind.CREATED: "创建账号",
    AccessKind.DISABLED: "停用账号",
    AccessKind.RESET_ISSUED: "签发重置链接",
    AccessKind.TOTP_ISSUED: "设置动态验证码",
}


ACCESS_PURPOSE = "access-chain"
ACCESS_GENESIS = "0" * 64


class AccessEvent(SQLModel, table=True):
    """One line of the console's sign-in log, append-only. An attempt with a name that is no
    account keeps no name (it may be a password typed in the wrong field). The lines form one
    chain (``seq``, ``prev_hash``, ``hash``: an HMAC under the audit key), so a deleted or
    edited line shows in ``lianka audit verify``."""

    __tablename__ = "console_access_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    kind: AccessKind = Field(sa_type=enum_type(AccessKind, 16))
    account_id: int | None = Field(default=None, foreign_key="console_accounts.id", index=True)
    client: str | None = Field(default=None, max_length=64)
    detail: str | None = Field(default=None, max_length=100)
    seq: int = 0
    prev_hash: str = Field(default=ACCESS_GENESIS, max_length=64)
    hash: str = Field(default="", max_length=64)


class AccessLike(Protocol):
    """A sign-in log line as the check reads it: an ``AccessEvent``, or a row of its columns."""

    @property
    def seq(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def kind(self) -> AccessKind: ...
    @property
    def account_id(self) -> int | None: ...
    @property
    def client(self) -> str | None: ...
    @property
    def detail(self) -> str | None: ...
    @property
    def prev_hash(self) -> str: ...
    @property
    def hash(self) -> str: ...


def access_digest(event: AccessLike) -> str:
    """The HMAC a sign-in log line should carry: its content, its place and the line before."""
    payload = {
        "seq": event.seq,
        "at": utc(event.at).isoformat(timespec="microseconds"),
        "kind": str(event.kind),
        "account": event.account_id,
        "client": event.client,
        "detail": event.detail,
        "prev": event.prev_hash,
    }
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return keys.current().mac(ACCESS_PURPOSE, canonical.encode("utf-8"))
