"""Signing in to the office console: password, second factor, lock-out, sessions that end,
reset links, CSRF, and every step in the sign-in log."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.accounts import disable_account, issue_reset, issue_totp, totp_now
from bot.services.console_sessions import purge_sessions
from bot.services.inspectors import bind_invite, create_invite, deactivate_inspector
from models.account import AccessEvent, AccessKind, ConsoleAccount, ConsoleSession
from models.team import Role
from tests.console_support import (
    PASSWORD,
    Client,
    console_app,
    csrf_of,
    make_account,
    sign_in,
    text_of,
)

pytestmark = pytest.mark.both_databases


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    async with console_app(sessions, catalog, clock=clock) as test_client:
        yield test_client


async def _log(sessions: SessionFactory) -> list[AccessKind]:
    async with sessions() as session:
        rows = await session.exec(select(AccessEvent).order_by(col(AccessEvent.id)))
        return [row.kind for row in rows.all()]


async def _password_step(client: Client, username: str, password: str) -> tuple[int, str]:
    page = await client.get("/console/login")
    answer = await client.post(
        "/console/login",
        data={"csrf_token": csrf_of(await page.text()), "username": username, "password": password},
        allow_redirects=False,
    )
    return answer.status, await answer.text()


async def _code_step(client: Client, code: str) -> tuple[int, str]:
    page = await client.get("/console/login/code")
    answer = await client.post(
        "/console/login/code",
        data={"csrf_token": csrf_of(await page.text()), "code": code},
        allow_redirects=False,
    )
    return answer.status, await answer.text()


async def test_the_login_page_asks_for_user_name_and_password_in_chinese(client: Client) -> None:
    page = await client.get("/console/login")
    text = text_of(await page.text())
    assert page.status == 200
    assert "用户名" in text and "密码" in text and "登录" in text
    assert "script-src" not in page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["Cache-Control"] == "no-store"


async def test_a_console_page_without_signing_in_leads_to_the_login_page(client: Client) -> None:
    answer = await client.get("/console/account", allow_redirects=False)
    assert answer.status == 303
    assert answer.headers["Location"].startswith("/console/login?next=")


async def test_an_inspector_signs_in_with_the_password_and_sees_their_account(
    client: Client, sessions: SessionFactory
) -> None:
    signed = await sign_in(client, sessions, role="inspector")
    page = await signed.get("/console/account")
    text = text_of(await page.text())
    assert signed.person.name in text and "监督员" in text
    assert "未绑定（通知显示在工作台）" in text
    assert await _log(sessions) == [AccessKind.CREATED, AccessKind.SIGNED_IN]


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    account, _, _ = await make_account(sessions, clock)
    status, html = await _password_step(client, account.username, "not the password")
    assert status == 401
    assert "用户名或密码不正确" in text_of(html)
    assert account.username in html  # what was typed stays in the form
    status, html = await _password_step(client, "nobody-here", PASSWORD)
    assert status == 401 and "用户名或密码不正确" in text_of(html)
    async with sessions() as session:
        rows = (await session.exec(select(AccessEvent).order_by(col(AccessEvent.id)))).all()
    assert [(r.kind, r.account_id) for r in rows[1:]] == [
        (AccessKind.FAILED, account.id),
        (AccessKind.FAILED, None),  # an unknown name is not kept: it may be a password
    ]


async def test_an_admin_needs_the_code_from_the_authenticator_app(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    account, _, secret = await make_account(sessions, clock, role="admin", team=None)
    assert secret is not None
    status, _ = await _password_step(client, account.username, PASSWORD)
    assert status == 303
    assert (await client.get("/console/account", allow_redirects=False)).status == 303
    status, html = await _code_step(
        client, "000000" if totp_now(secret, clock.now()) != "000000" else "111111"
    )
    assert status == 401 and "动态验证码不正确" in text_of(html)
    status, _ = await _code_step(client, totp_now(secret, clock.now()))
    assert status == 303
    assert (await client.get("/console/account")).status == 200
    assert AccessKind.SIGNED_IN in await _log(sessions)


async def test_a_code_once_used_does_not_sign_in_again(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    account, _, secret = await make_account(sessions, clock, role="leader", team=None)
    assert secret is not None
    code = totp_now(secret, clock.now())
    await _password_step(client, account.username, PASSWORD)
    assert (await _code_step(client, code))[0] == 303
    client.session.cookie_jar.clear()
    await _password_step(client, account.username, PASSWORD)
    status, html = await _code_step(client, code)
    assert status == 401 and "动态验证码不正确" in text_of(html)


async def test_a_person_invited_again_as_leader_cannot_sign_in_without_a_code(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    # an inspector's account needs no code; re-inviting a deactivated person is how a role changes
    async with sessions() as session:
        invite = await create_invite(
            session, role=Role.INSPECTOR, team_code="business_env", name="张三",
            bot_username="lianka_bot", now=clock.now(),
        )  # fmt: skip
        first = await bind_invite(
            session, code=invite.code, telegram_user_id=555, chat_id=555, display_name="张三",
            now=clock.now(),
        )  # fmt: skip
    account, _, secret = await make_account(sessions, clock, person=first.inspector)
    assert secret is None
    async with sessions() as session:
        await deactivate_inspector(session, first.inspector.id or 0, clock.now())
        invite = await create_invite(
            session, role=Role.LEADER, team_code=None, name="张三", bot_username="lianka_bot",
            now=clock.now(),
        )  # fmt: skip
        again = await bind_invite(
            session, code=invite.code, telegram_user_id=555, chat_id=555, display_name="张三",
            now=clock.now(),
        )  # fmt: skip
    assert again.inspector.id == first.inspector.id and again.inspector.role is Role.LEADER
    status, html = await _password_step(client, account.username, PASSWORD)
    assert status == 401 and "须凭动态验证码登录" in text_of(html)
    assert (await client.get("/console/account", allow_redirects=False)).status == 303
    assert (await _log(sessions))[-1] is AccessKind.REFUSED
    # the admin gives the account a secret (``lianka accounts totp``): password, then code
    async with sessions() as session:
        secret, uri = await issue_totp(session, account.username, clock.now())
    assert uri.startswith("otpauth://totp/")
    status, _ = await _password_step(client, account.username, PASSWORD)
    assert status == 303
    assert (await client.get("/console/account", allow_redirects=False)).status == 303
    assert (await _code_step(client, totp_now(secret, clock.now())))[0] == 303
    assert "委领导" in text_of(await (await client.get("/console/account")).text())
    assert AccessKind.TOTP_ISSUED in await _log(sessions)


async def test_a_new_totp_secret_ends_the_sessions_and_the_old_codes(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    account, _, old = await make_account(sessions, clock, role="admin", team=None)
    assert old is not None
    await _password_step(client, account.username, PASSWORD)
    assert (await _code_step(client, totp_now(old, clock.now())))[0] == 303
    assert (await client.get("/console/account")).status == 200
    async with sessions() as session:
        new, _ = await issue_totp(session, account.username, clock.now())
    assert (await client.get("/console/account", allow_redirects=False)).status == 303
    clock.advance(timedelta(minutes=2))  # the old code's step is not the one used already
    await _password_step(client, account.username, PASSWORD)
    status, html = await _code_step(client, totp_now(old, clock.now()))
    assert status == 401 and "动态验证码不正确" in text_of(html)
    assert (await _code_step(client, totp_now(new, clock.now())))[0] == 303


async def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    account, _, _ = await make_account(sessions, clock)
    for _ in range(5):
        assert (await _password_step(client, account.username, "wrong password!"))[0] == 401
    wrong = await _password_step(client, account.username, "still wrong!!")
    right = await _password_step(client, account.username, PASSWORD)
    # while locked, the right password is answered exactly as a wrong one: the lock-out
    # confirms nothing to whoever is guessing
    assert wrong[0] == right[0] == 401
    assert "用户名或密码不正确" in text_of(right[1]) and text_of(right[1]) == text_of(wrong[1])
    clock.set(clock.now() + timedelta(minutes=16))
    assert (await _password_step(client, account.username, PASSWORD))[0] == 303
    assert AccessKind.LOCKED in await _log(sessions)
    async with sessions() as session:
        again = await session.get(ConsoleAccount, account.id)
        assert again is not None and again.failed_sign_ins == 0  # a sign-in starts the count anew


async def test_passwords_tried_in_parallel_get_no_more_than_five_checks(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    account, _, _ = await make_account(sessions, clock)
    page = await client.get("/console/login")
    token = csrf_of(await page.text())

    async def guess(n: int) -> int:
        answer = await client.post(
            "/console/login",
            data={"csrf_token": token, "username": account.username, "password": f"guess {n:04d}!"},
            allow_redirects=False,
        )
        return answer.status

    assert set(await asyncio.gather(*(guess(n) for n in range(12)))) == {401}
    kinds = await _log(sessions)
    assert kinds.count(AccessKind.FAILED) + kinds.count(AccessKind.LOCKED) == 5
    assert kinds.count(AccessKind.LOCKED) == 1 and kinds.count(AccessKind.REFUSED) == 7
    assert (await _password_step(client, account.username, PASSWORD))[0] == 401  # locked


async def test_a_session_ends_after_thirty_idle_minutes_and_after_twelve_hours(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    await sign_in(client, sessions)
    clock.set(clock.now() + timedelta(minutes=29))
    assert (await client.get("/console/account", allow_redirects=False)).status == 200
    clock.set(clock.now() + timedelta(minutes=31))
    assert (await client.get("/console/account", allow_redirects=False)).status == 303
    assert AccessKind.EXPIRED in await _log(sessions)
    await sign_in(client, sessions)
    for _ in range(25):  # busy all day: seen every 29 minutes, still ends at 12 hours
        clock.set(clock.now() + timedelta(minutes=29))
        if (await client.get("/console/account", allow_redirects=False)).status != 200:
            break
    assert (await client.get("/console/account", allow_redirects=False)).status == 303


async def test_signing_out_ends_the_session_on_the_server(
    client: Client, sessions: SessionFactory
) -> None:
    signed = await sign_in(client, sessions)
    cookies = {c.key: c.value for c in client.session.cookie_jar}
    answer = await signed.post("/console/logout")
    assert answer.status == 303 and answer.headers["Location"] == "/console/login?done=out"
    async with sessions() as session:
        assert (await session.exec(select(ConsoleSession))).all() == []
    replay = await client.get("/console/account", cookies=cookies, allow_redirects=False)
    assert replay.status == 303  # the old cookie opens nothing
    assert (await _log(sessions))[-1] is AccessKind.SIGNED_OUT


async def test_a_form_without_its_csrf_token_is_refused_and_changes_nothing(
    client: Client, sessions: SessionFactory
) -> None:
    await sign_in(client, sessions)
    answer = await client.post("/console/logout", data={}, allow_redirects=False)
    assert answer.status == 403 and "页面已过期" in text_of(await answer.text())
    answer = await client.post(
        "/console/logout", data={"csrf_token": "forged"}, allow_redirects=False
    )
    assert answer.status == 403
    assert (await client.get("/console/account")).status == 200  # still signed in


async def test_a_disabled_account_is_signed_out_at_once(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    signed = await sign_in(client, sessions)
    async with sessions() as session:
        await disable_account(session, signed.account.username, clock.now())
    assert (await signed.get("/console/account")).status == 303
    status, html = await _password_step(client, signed.account.username, PASSWORD)
    assert status == 401 and "已停用" in text_of(html)


async def test_a_reset_link_sets_a_new_password_once(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    account, _, _ = await make_account(sessions, clock)
    async with sessions() as session:
        code = await issue_reset(session, account.username, clock.now())
    page = await client.get(f"/console/reset/{code}")
    assert page.status == 200 and account.username in await page.text()
    token = csrf_of(await page.text())
    short = await client.post(
        f"/console/reset/{code}",
        data={"csrf_token": token, "password": "short", "password_again": "short"},
        allow_redirects=False,
    )
    assert short.status == 400 and "至少10个字符" in text_of(await short.text())
    new = "a brand new passphrase"
    done = await client.post(
        f"/console/reset/{code}",
        data={"csrf_token": token, "password": new, "password_again": new},
        allow_redirects=False,
    )
    assert done.status == 303
    assert (await client.get(f"/console/reset/{code}")).status == 404  # spent
    assert (await _password_step(client, account.username, PASSWORD))[0] == 401
    assert (await _password_step(client, account.username, new))[0] == 303


async def test_twenty_failures_from_one_address_stop_every_sign_in_from_it_for_a_while(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    account, _, _ = await make_account(sessions, clock)
    for n in range(20):
        assert (await _password_step(client, f"guess{n}", "a wrong password"))[0] == 401
    status, html = await _password_step(client, account.username, PASSWORD)
    assert status == 429 and "10分钟后再试" in text_of(html)
    clock.set(clock.now() + timedelta(minutes=11))
    assert (await _password_step(client, account.username, PASSWORD))[0] == 303


@pytest.mark.slow  # twenty sign-ins, each a deliberate password hash
async def test_a_whole_office_signs_in_from_one_address(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    for _ in range(25):
        account, _, _ = await make_account(sessions, clock)
        assert (await _password_step(client, account.username, PASSWORD))[0] == 303


async def test_the_hourly_purge_deletes_sessions_that_have_expired_and_keeps_the_others(
    client: Client, sessions: SessionFactory, clock: FrozenClock
) -> None:
    await sign_in(client, sessions)
    clock.set(clock.now() + timedelta(minutes=20))
    async with sessions() as session:
        assert await purge_sessions(session, clock.now()) == 0
    clock.set(clock.now() + timedelta(minutes=20))
    async with sessions() as session:
        assert await purge_sessions(session, clock.now()) == 1
        assert (await session.exec(select(ConsoleSession))).all() == []


async def test_any_address_under_the_console_asks_for_signing_in_first(client: Client) -> None:
    for path in ("/console/", "/console/no-such-page", "/console/cases/1"):
        answer = await client.get(path, allow_redirects=False)
        assert answer.status == 303, path
        assert answer.headers["Location"].startswith("/console/login?next=")
