"""Office console accounts: create, list, disable, reset; sign in with a password (Argon2id) and,
where needed, a TOTP code; server-side sessions that expire; every step in the sign-in log."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.anchors import chain_access
from bot.services.inspectors import TEAM_ROLES, get_team_by_code
from models.account import (
    FAILURES_BEFORE_LOCK,
    PASSWORD_MAX,
    PASSWORD_MIN,
    RESET_LINK_HOURS,
    USERNAME_MAX,
    AccessEvent,
    AccessKind,
    ConsoleAccount,
    ConsoleRole,
    ConsoleSession,
    lock_ends,
    second_factor_required,
)
from models.errors import DomainError, InvalidInput, NotFound
from models.team import Inspector, Role, Team

logger = logging.getLogger(__name__)

_HASHER = PasswordHasher()  # Argon2id, RFC 9106's second recommended set (64 MiB, t=3, p=4)
# Argon2 runs on threads of its own, two at a time: a burst of sign-ins (a script trying names)
# waits its turn there rather than filling the default pool, which the reporters' uploads and
# the evidence store use; and no more than two hashes' memory (64 MiB each) is taken at once.
HASHING_THREADS = 2
_T = TypeVar("_T")
_HASHING = ThreadPoolExecutor(max_workers=HASHING_THREADS, thread_name_prefix="lianka-argon2")


async def _hashing(work: Callable[[], _T]) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, work)


@functools.cache
def dummy_hash(hasher: PasswordHasher) -> str:
    """What a name that is no account is checked against: a hash of ``hasher``'s own cost, so
    that it takes as long as a real check. Made once a process, when the console starts
    (``warm_dummy_hash``) or at the first such check, not at every import: a quarter of a second
    of CPU that the bot, the CLI and the sweeps have no use for."""
    return hasher.hash("lianka: a name that is no account takes as long as one that is")


async def warm_dummy_hash() -> None:
    """Make the dummy hash on a thread before the first sign-in needs it (the console's start)."""
    await _hashing(functools.partial(dummy_hash, _HASHER))


ISSUER = "廉卡 Lianka"
SIGN_IN_FAILED = "用户名或密码不正确。"
TOO_MANY_FAILURES = "登录失败次数过多，账号已暂时锁定，请15分钟后再试。"
SECOND_FACTOR_MISSING = "您的账号须凭动态验证码登录，尚未设置，请联系管理员。"


class SignInRefused(DomainError):
    """A sign-in that did not succeed; the message never says which part was wrong."""


class WrongCode(SignInRefused):
    """A wrong TOTP code: the code may be typed again (the password step stands)."""


def session_key(session_id: str) -> str:
    """The SHA-256 (hex) of a console session id: what the table keys it by."""
    return hashlib.sha256(session_id.encode("ascii")).hexdigest()


def _reset_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def check_password(password: str, username: str) -> str:
    """A new password: 10 to 128 characters, not the user name."""
    if len(password) < PASSWORD_MIN:
        raise InvalidInput(f"密码至少{PASSWORD_MIN}个字符。")
    if len(password) > PASSWORD_MAX:
        raise InvalidInput(f"密码不能超过{PASSWORD_MAX}个字符。")
    if password.strip().lower() == username.lower():
        raise InvalidInput("密码不能与用户名相同。")
    return password


def check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > USERNAME_MAX or any(c.isspace() for c in name):
        raise InvalidInput(f"用户名须为1至{USERNAME_MAX}个字符，不含空格。")
    return name


async def log_access(
    session: AsyncSession,
    kind: AccessKind,
    now: datetime,
    *,
    account: ConsoleAccount | None = None,
    client: str | None = None,
    detail: str | None = None,
) -> None:
    """One line of the sign-in log, in the caller's transaction, chained to the line before."""
    line = AccessEvent(
        at=now,
        kind=kind,
        account_id=account.id if account is not None else None,
        client=client[:64] if client else None,
        detail=detail[:100] if detail else None,
    )
    session.add(await chain_access(session, line))


@dataclass(frozen=True, slots=True)
class Created:
    account: ConsoleAccount
    person: Inspector
    totp_secret: str | None
    totp_uri: str | None
    reset_code: str | None  # when no password was given: the first one is set through a link


async def _person_for(
    session: AsyncSession,
    *,
    role: ConsoleRole | None,
    team_code: str | None,
    person_id: int | None,
    name: str,
    now: datetime,
) -> Inspector:
    if person_id is not None:
        person = await session.get(Inspector, person_id)
        if person is None or not person.active:
            raise NotFound(f"未找到在岗人员 {person_id}。", detail="unknown person")
        if role is not None and role.role is not person.role:
            raise InvalidInput(
                f"该人员的角色是{person.role.label}，与 --role {role.value} 不符：一人一套权限。"
            )
        return person
    if role is None:
        raise InvalidInput("请用 --role 指定角色，或用 --person 绑定已有人员。")
    team = await _team_for(session, role, team_code)
    person = Inspector(name=name, role=role.role, team_id=team.id if team else None, created_at=now)
    session.add(person)
    await session.flush()
    return person


async def _team_for(session: AsyncSession, role: ConsoleRole, team_code: str | None) -> Team | None:
    if role is ConsoleRole.DISPATCHER:
        query = select(Team).where(col(Team.is_dispatcher).is_(True), col(Team.active).is_(True))
        if team_code:
            query = query.where(Team.code == team_code)
        team = (await session.exec(query)).first()
        if team is None:
            raise InvalidInput("未找到信访室（分办组）：请先在配置中设置一个分办组。")
        return team
    team = await get_team_by_code(session, team_code) if team_code else None
    if role.role in TEAM_ROLES and team is None:
        raise InvalidInput(f"{role.label}必须属于一个监督组（--team）。")
    if team is not None and not team.active:
        raise InvalidInput(f"监督组 “{team.code}” 已停用。")
    return team


async def create_account(
    session: AsyncSession,
    username: str,
    *,
    role: ConsoleRole | None,
    now: datetime,
    password: str | None = None,
    team_code: str | None = None,
    person_id: int | None = None,
    name: str | None = None,
    totp: bool = False,
) -> Created:
    """A console account for a new person, or for one already registered in Telegram
    (``person_id``): one person, one set of rights. Admins and leaders always get a TOTP
    secret; without a password the account gets a one-time link to set one."""
    username = check_username(username)
    if (
        await session.exec(select(ConsoleAccount).where(ConsoleAccount.username == username))
    ).first() is not None:
        raise InvalidInput(f"用户名 “{username}” 已存在。")
    if password is not None:
        check_password(password, username)
    person = await _person_for(
        session, role=role, team_code=team_code, person_id=person_id, name=name or username, now=now
    )
    if (
        await session.exec(select(ConsoleAccount).where(ConsoleAccount.inspector_id == person.id))
    ).first() is not None:
        raise InvalidInput("该人员已有控制台账号。")
    assert person.id is not None
    account = ConsoleAccount(username=username, inspector_id=person.id, created_at=now)
    if password is not None:
        account.password_hash = await _hash(password)
        account.password_changed_at = now
    secret = pyotp.random_base32() if totp or second_factor_required(person.role) else None
    reset_code = _issue_reset(account, now) if password is None else None
    session.add(account)
    await session.flush()
    if secret is not None:
        account.seal_totp(secret)
    await log_access(session, AccessKind.CREATED, now, account=account)
    await session.commit()
    uri = pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER) if secret else None
    return Created(account, person, secret, uri, reset_code)


def _issue_reset(account: ConsoleAccount, now: datetime) -> str:
    code = secrets.token_urlsafe(32)
    account.reset_hash = _reset_hash(code)
    account.reset_expires_at = now + timedelta(hours=RESET_LINK_HOURS)
    return code


async def get_account(session: AsyncSession, username: str) -> ConsoleAccount:
    account = (
        await session.exec(select(ConsoleAccount).where(ConsoleAccount.username == username))
    ).first()
    if account is None:
        raise NotFound(f"未找到账号 “{username}”。", detail="unknown account")
    return account


@dataclass(frozen=True, slots=True)
class AccountRow:
    username: str
    name: str
    role: Role
    team_code: str | None
    dispatcher: bool
    telegram: bool
    second_factor: bool
    disabled: bool
    locked: bool
    last_sign_in_at: datetime | None

    @property
    def console_role(self) -> ConsoleRole:
        if self.dispatcher and self.role is Role.TEAM_LEADER:
            return ConsoleRole.DISPATCHER
        return ConsoleRole(self.role.value)


async def list_accounts(session: AsyncSession, now: datetime) -> list[AccountRow]:
    """Every console account with its person, team and state."""
    rows = await session.exec(
        select(ConsoleAccount, Inspector, Team)
        .join(Inspector, col(Inspector.id) == ConsoleAccount.inspector_id)
        .outerjoin(Team, col(Team.id) == Inspector.team_id)
        .order_by(col(ConsoleAccount.username))
    )
    return [
        AccountRow(
            username=account.username,
            name=person.name,
            role=person.role,
            team_code=team.code if team else None,
            dispatcher=bool(team and team.is_dispatcher),
            telegram=person.chat_id is not None,
            second_factor=account.totp_secret is not None,
            disabled=account.disabled_at is not None or not person.active,
            locked=account.locked(now),
            last_sign_in_at=account.last_sign_in_at,
        )
        for account, person, team in rows.all()
    ]


async def end_sessions(session: AsyncSession, account_id: int) -> None:
    await session.exec(delete(ConsoleSession).where(col(ConsoleSession.account_id) == account_id))


async def disable_account(session: AsyncSession, username: str, now: datetime) -> ConsoleAccount:
    """The account can no longer sign in; its open sessions end at once. The person stays (and
    keeps Telegram, if bound): to stop the person, deactivate them."""
    account = await get_account(session, username)
    if account.disabled_at is None:
        account.disabled_at = now
        assert account.id is not None
        await end_sessions(session, account.id)
        await log_access(session, AccessKind.DISABLED, now, account=account)
    await session.commit()
    return account


async def issue_totp(session: AsyncSession, username: str, now: datetime) -> tuple[str, str]:
    """A new TOTP secret for the account, replacing the one it had (a lost phone) or giving one
    to an account without (a person whose new role needs it); its sessions end, so the next
    sign-in asks for a code of the new secret. The secret and its ``otpauth://`` address."""
    account = await get_account(session, username)
    if account.disabled_at is not None:
        raise InvalidInput("账号已停用，不能设置动态验证码。")
    assert account.id is not None
    secret = pyotp.random_base32()
    account.seal_totp(secret)
    await end_sessions(session, account.id)
    await log_access(session, AccessKind.TOTP_ISSUED, now, account=account)
    await session.commit()
    return secret, pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


async def issue_reset(session: AsyncSession, username: str, now: datetime) -> str:
    """A one-time code for a link that sets a new password (valid 24 hours); the account's
    sessions end and a lock-out is lifted when the password is set."""
    account = await get_account(session, username)
    if account.disabled_at is not None:
        raise InvalidInput("账号已停用，不能重置密码。")
    code = _issue_reset(account, now)
    await log_access(session, AccessKind.RESET_ISSUED, now, account=account)
    await session.commit()
    return code


async def account_for_reset(session: AsyncSession, code: str, now: datetime) -> ConsoleAccount:
    """The account a reset link is for, while the link is unused and fresh."""
    if not code or len(code) > 100 or not code.isascii():
        raise NotFound("该链接无效或已过期，请联系管理员重新发送。")
    account = (
        await session.exec(
            select(ConsoleAccount).where(ConsoleAccount.reset_hash == _reset_hash(code))
        )
    ).first()
    if (
        account is None
        or account.disabled_at is not None
        or account.reset_expires_at is None
        or account.reset_expires_at < now
    ):
        raise NotFound("该链接无效或已过期，请联系管理员重新发送。")
    return account


async def set_password(
    session: AsyncSession, code: str, password: str, *, now: datetime, client: str | None = None
) -> ConsoleAccount:
    """Set the password through a reset link; the link is spent, every session ends."""
    account = await account_for_reset(session, code, now)
    check_password(password, account.username)
    account.password_hash = await _hash(password)
    account.password_changed_at = now
    account.reset_hash = None
    account.reset_expires_at = None
    account.failed_sign_ins = 0
    account.locked_until = None
    assert account.id is not None
    await end_sessions(session, account.id)
    await log_access(session, AccessKind.PASSWORD_SET, now, account=account, client=client)
    await session.commit()
    return account


def _password_matches(stored: str | None, password: str) -> bool:
    try:
        _HASHER.verify(stored or dummy_hash(_HASHER), password)
    except (VerificationError, InvalidHashError):
        return False
    return stored is not None


async def _check_password(stored: str | None, password: str) -> bool:
    """Argon2id takes a quarter of a second of one core and 64 MiB: off the event loop, so a
    sign-in does not stall the reporters' pages and the bot. ``None``: the dummy hash, so a
    name that is no account (or a locked one) takes as long as a real check."""
    return await _hashing(functools.partial(_password_matches, stored, password[:PASSWORD_MAX]))


async def _hash(password: str) -> str:
    return await _hashing(functools.partial(_HASHER.hash, password))


async def _reserve_attempt(session: AsyncSession, account: ConsoleAccount, now: datetime) -> int:
    """Count one attempt before its password or code is checked, in one committed UPDATE, so
    attempts made in parallel each get their own number: only the first five are checked. An
    account locked meanwhile (by an attempt in parallel) gets no number: more than five."""
    result = await session.exec(
        update(ConsoleAccount)
        .where(
            col(ConsoleAccount.id) == account.id,
            col(ConsoleAccount.locked_until).is_(None) | (col(ConsoleAccount.locked_until) <= now),
        )
        .values(failed_sign_ins=col(ConsoleAccount.failed_sign_ins) + 1)
        .returning(col(ConsoleAccount.failed_sign_ins))
    )
    number = result.scalar_one_or_none()
    await session.commit()
    attempt = FAILURES_BEFORE_LOCK + 1 if number is None else int(number)
    # the row as the database has it, without writing it back (a success resets it to 0)
    set_committed_value(account, "failed_sign_ins", attempt)
    return attempt


async def _lock(session: AsyncSession, account: ConsoleAccount, now: datetime) -> None:
    assert account.id is not None
    await session.exec(
        update(ConsoleAccount)
        .where(col(ConsoleAccount.id) == account.id)
        .values(locked_until=lock_ends(now), failed_sign_ins=0)
    )


@dataclass(frozen=True, slots=True)
class SignedIn:
    session_id: str  # for the cookie only: never stored, never logged
    account: ConsoleAccount
    needs_code: bool


async def _refuse(
    session: AsyncSession,
    kind: AccessKind,
    now: datetime,
    *,
    account: ConsoleAccount | None,
    client: str | None,
    message: str = SIGN_IN_FAILED,
    error: type[SignInRefused] = SignInRefused,
) -> SignInRefused:
    await log_access(session, kind, now, account=account, client=client)
    await session.commit()
    return error(message, detail=f"console sign-in refused: {kind}")


async def sign_in(
    session: AsyncSession, username: str, password: str, *, now: datetime, client: str | None
) -> SignedIn:
    """The password step: a session that still needs the TOTP code when the account has one.
    Every attempt is counted before it is checked; the fifth failure in a row (passwords and
    codes together) locks the account for 15 minutes. A locked account is answered as a wrong
    password is, whatever was typed (no password is checked), so a lock-out tells nothing; a
    disabled account says so only after the right password."""
    account = (
        await session.exec(
            select(ConsoleAccount).where(ConsoleAccount.username == username.strip()[:USERNAME_MAX])
        )
    ).first()
    person = await session.get(Inspector, account.inspector_id) if account else None
    if account is None or person is None or account.locked(now):
        await session.commit()  # ends the read: no connection held through the check below
        await _check_password(None, password)
        kind = AccessKind.FAILED if account is None else AccessKind.REFUSED
        raise await _refuse(session, kind, now, account=account, client=client)
    assert account.id is not None
    attempt = await _reserve_attempt(session, account, now)
    if attempt > FAILURES_BEFORE_LOCK:  # attempts in parallel used the allowance up
        raise await _refuse(session, AccessKind.REFUSED, now, account=account, client=client)
    if not await _check_password(account.password_hash, password):
        kind = AccessKind.FAILED
        if attempt >= FAILURES_BEFORE_LOCK:
            await _lock(session, account, now)
            kind = AccessKind.LOCKED
        raise await _refuse(session, kind, now, account=account, client=client)
    if account.disabled_at is not None or not person.active:
        raise await _refuse(
            session, AccessKind.REFUSED, now, account=account, client=client,
            message="该账号已停用，请联系管理员。",
        )  # fmt: skip
    if account.totp_secret is None and second_factor_required(person.role):
        # an account made for another role (a person invited again as 委领导 or 管理员)
        raise await _refuse(
            session, AccessKind.REFUSED, now, account=account, client=client,
            message=SECOND_FACTOR_MISSING,
        )  # fmt: skip
    return await _open_session(session, account, now=now, client=client)


async def _open_session(
    session: AsyncSession, account: ConsoleAccount, *, now: datetime, client: str | None
) -> SignedIn:
    session_id = secrets.token_urlsafe(32)
    needs_code = account.totp_secret is not None
    assert account.id is not None
    session.add(
        ConsoleSession(
            key=session_key(session_id),
            account_id=account.id,
            verified=not needs_code,
            created_at=now,
            last_seen_at=now,
        )
    )
    if not needs_code:
        _signed_in(account, now)
        await log_access(session, AccessKind.SIGNED_IN, now, account=account, client=client)
    await session.commit()
    return SignedIn(session_id, account, needs_code)


def _signed_in(account: ConsoleAccount, now: datetime) -> None:
    account.failed_sign_ins = 0
    account.locked_until = None
    account.last_sign_in_at = now


async def verify_code(
    session: AsyncSession, key: str, code: str, *, now: datetime, client: str | None
) -> ConsoleAccount:
    """The second step: a TOTP code of this 30-second step or the one before or after, never
    a step already used (a code seen on the way is no use, even sent twice at once). Codes are
    counted with the passwords towards the lock-out, before they are checked."""
    row = await session.get(ConsoleSession, key)
    account = await session.get(ConsoleAccount, row.account_id) if row else None
    if row is None or account is None or account.totp_secret is None or row.expired(now):
        raise SignInRefused("登录已过期，请重新输入用户名和密码。")
    assert account.id is not None
    attempt = await _reserve_attempt(session, account, now)
    if account.locked(now) or account.disabled_at is not None or attempt > FAILURES_BEFORE_LOCK:
        await session.delete(row)
        raise await _refuse(
            session, AccessKind.REFUSED, now, account=account, client=client,
            message=TOO_MANY_FAILURES,
        )  # fmt: skip
    step = _matching_step(account.totp_plain() or "", code.strip(), now)
    if step is None or not await _use_step(session, account.id, step):
        if attempt >= FAILURES_BEFORE_LOCK:
            await _lock(session, account, now)
            await session.delete(row)
            raise await _refuse(
                session, AccessKind.LOCKED, now, account=account, client=client,
                message=TOO_MANY_FAILURES,
            )  # fmt: skip
        raise await _refuse(
            session, AccessKind.FAILED, now, account=account, client=client,
            message="动态验证码不正确，请重新输入。", error=WrongCode,
        )  # fmt: skip
    row.verified = True
    row.last_seen_at = now
    _signed_in(account, now)
    await log_access(session, AccessKind.SIGNED_IN, now, account=account, client=client)
    await session.commit()
    return account


async def _use_step(session: AsyncSession, account_id: int, step: int) -> bool:
    """Mark a TOTP step used, unless it (or a later one) was: one UPDATE, so two requests
    with the same code cannot both pass."""
    result = await session.exec(
        update(ConsoleAccount)
        .where(
            col(ConsoleAccount.id) == account_id,
            (col(ConsoleAccount.last_totp_step).is_(None))
            | (col(ConsoleAccount.last_totp_step) < step),
        )
        .values(last_totp_step=step)
    )
    return bool(result.rowcount)


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // totp.interval
    for candidate in (step - 1, step, step + 1):
        if secrets.compare_digest(totp.at(candidate * totp.interval), code):
            return candidate
    return None


def totp_now(secret: str, now: datetime) -> str:
    """The code an authenticator app shows at ``now`` (the sandbox prints it; tests type it)."""
    return pyotp.TOTP(secret).at(now)
