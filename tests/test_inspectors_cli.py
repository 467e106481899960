"""``lianka inspectors`` and ``lianka teams``: a one-time invite link that binds a Telegram
account, the list of people and teams, and deactivation that hands open cases back."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import SQLModel, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory, create_engine, create_session_factory
from bot.services.calendar import load_calendar
from bot.services.catalog import sync_catalog
from models.case import Case, CaseStatus
from models.notification import Notification
from models.team import Inspector, Role
from notifications.telegram import notice_keyboard
from tests.inspector_support import build, make_people, submit
from tests.test_cli import lianka

pytestmark = pytest.mark.slow

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


@pytest.fixture
async def database(
    tmp_path: Path, config: LiankaConfig
) -> AsyncIterator[tuple[str, SessionFactory]]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(SQLModel.metadata.create_all)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        await sync_catalog(session, config)
    yield url, sessions
    await engine.dispose()


def run(tmp_path: Path, url: str, *args: str) -> tuple[int, str, str]:
    result = lianka(
        *args,
        cwd=tmp_path,
        env={"LIANKA_DATABASE_URL": url, "LIANKA_BOT_USERNAME": "@LiankaTestBot"},
    )
    assert "Traceback" not in result.stderr
    return result.returncode, result.stdout, result.stderr


async def test_an_invite_link_binds_the_account_that_opens_it_once(
    tmp_path: Path, database: tuple[str, SessionFactory], config: LiankaConfig
) -> None:
    url, sessions = database
    code, out, err = run(
        tmp_path,
        url,
        "inspectors",
        "invite",
        "--team",
        "business_env",
        "--role",
        "team_leader",
        "--name",
        "曾燕",
        "--json",
    )
    assert code == 0, err
    invite = json.loads(out)
    assert invite["link"].startswith("https://t.me/LiankaTestBot?start=i_")
    assert (invite["role"], invite["team"], invite["name"]) == (
        "team_leader",
        "business_env",
        "曾燕",
    )
    assert datetime.fromisoformat(invite["expires_at"]) - datetime.now(UTC) > (
        datetime(2026, 1, 8) - datetime(2026, 1, 2)
    )
    payload = invite["link"].split("start=")[1]
    secret = payload.removeprefix("i_")
    assert len(payload) <= 64 and len(secret) >= 22
    with sqlite3.connect(tmp_path / "lianka.db") as db:
        (stored,) = db.execute("SELECT code_hash FROM invite_codes").fetchone()
    assert stored == hashlib.sha256(secret.encode()).hexdigest()

    async with sessions() as session:
        calendar = await load_calendar(session, config)
    telegram = build(sessions, config, calendar, FrozenClock(datetime.now(UTC)))
    person = telegram.user(first_name="Yan", user_id=4242)
    await person.start(payload)
    assert "曾燕，您好！您的账号已登记为组长（“营商环境”立项监督组）" in person.last
    assert "SetMyCommands" in telegram.session.method_names()
    async with sessions() as session:
        bound = (await session.exec(select(Inspector))).one()
    assert (bound.name, bound.role, bound.telegram_user_id, bound.active) == (
        "曾燕",
        Role.TEAM_LEADER,
        4242,
        True,
    )
    someone_else = telegram.user(user_id=4343)
    await someone_else.start(payload)
    assert someone_else.last == "该邀请链接已被使用，请联系管理员重新生成。"

    code, out, _ = run(tmp_path, url, "inspectors", "list", "--json")
    assert code == 0
    (listed,) = json.loads(out)
    assert (listed["name"], listed["role"], listed["team"], listed["active"]) == (
        "曾燕",
        "team_leader",
        "business_env",
        True,
    )
    code, out, _ = run(tmp_path, url, "inspectors", "list")
    assert code == 0 and "曾燕" in out and "组长" in out


def test_roles_are_documented_and_a_team_is_required_where_it_matters(
    tmp_path: Path, database: tuple[str, SessionFactory]
) -> None:
    url, _ = database
    code, out, _ = run(tmp_path, url, "inspectors", "invite", "--help")
    assert code == 0
    for role in ("inspector", "team_leader", "leader", "admin", "组长", "督办"):
        assert role in out
    code, _, err = run(tmp_path, url, "inspectors", "invite", "--role", "inspector")
    assert code == 1 and "监督员必须属于一个监督组（--team）" in err
    code, _, err = run(tmp_path, url, "inspectors", "invite", "--team", "nope")
    assert code == 1 and "未知的监督组 “nope”" in err
    code, out, err = run(tmp_path, url, "inspectors", "invite", "--role", "leader")
    assert code == 0, err
    assert "委领导邀请链接" in out and "https://t.me/LiankaTestBot?start=i_" in out


async def test_deactivation_hands_open_cases_back_and_teams_list_counts_them(
    tmp_path: Path, database: tuple[str, SessionFactory], config: LiankaConfig
) -> None:
    url, sessions = database
    clock = FrozenClock(NOW)
    async with sessions() as session:
        calendar = await load_calendar(session, config)
    people = await make_people(sessions, clock)
    case = await submit(sessions, config, calendar, clock, people.reporter)
    inspector_id = case.assignee_id
    assert inspector_id is not None

    code, out, _ = run(tmp_path, url, "teams", "list", "--json")
    assert code == 0
    teams = {t["code"]: t for t in json.loads(out)}
    business = teams["business_env"]
    assert (business["open_cases"], business["unassigned"]) == (1, 0)
    assert {m["name"]: m["open_cases"] for m in business["members"]} == {"李监督": 1, "曾燕": 0}
    assert teams["dispatch"]["dispatcher"] is True

    code, out, err = run(tmp_path, url, "inspectors", "deactivate", str(inspector_id))
    assert code == 0, err
    assert f"1 件在办问题已退回组长：{case.number}" in out
    async with sessions() as session:
        back = (await session.exec(select(Case))).one()
        notes = (
            await session.exec(select(Notification).where(Notification.kind == "case_back"))
        ).all()
    assert (back.status, back.assignee_id) == (CaseStatus.SUBMITTED, None)
    assert [n.chat_id for n in notes] == [502]  # the team leader, with the 分派 button
    assert notes[0].reply_markup is None  # the offer is rendered when sent
    keyboard = notice_keyboard(notes[0])
    assert keyboard is not None and keyboard.inline_keyboard[0][0].text == "分派"

    code, out, _ = run(tmp_path, url, "teams", "list", "--json")
    business = {t["code"]: t for t in json.loads(out)}["business_env"]
    assert (business["open_cases"], business["unassigned"]) == (1, 1)
    assert [m["name"] for m in business["members"]] == ["曾燕"]
    code, out, _ = run(tmp_path, url, "teams", "list")
    assert code == 0 and "营商环境" in out

    code, _, err = run(tmp_path, url, "inspectors", "deactivate", str(inspector_id))
    assert code == 1 and "已停用" in err
    code, _, err = run(tmp_path, url, "inspectors", "deactivate", "9999")
    assert code == 1 and "未找到编号为 9999 的人员" in err
