"""Migration 0015 on a database written before it: plain names, phones, TOTP secrets, drafts and
an anonymous case's reporter id come out sealed, receipt codes keyed, and all still work."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory, alembic_config, upgrade_database
from bot.services.intake import submit_case
from bot.services.my_cases import find_by_receipt, list_my_cases
from bot.services.policy import Policy
from models import keys
from models.account import ConsoleAccount
from models.calendar import WorkCalendar
from models.case import Case, reporter_of
from models.fsm import FsmRecord
from models.intake import CaseDraft, IntakeDraft
from models.reporter import ReporterContact, phone_index, receipt_digest
from tests.console_support import make_account
from tests.factories import make_reporter
from tests.intake_helpers import REFUND

NAME, PHONE = "欧阳翠花", "13987654321"
ANONYMOUS_USER = 7_000_777


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}"
    upgrade_database(url)
    return url


async def _sql(sessions: SessionFactory, statement: str, **params: Any) -> list[Any]:
    async with sessions() as session:
        connection = await session.connection()
        result = await connection.execute(text(statement), params)
        rows = list(result.all()) if result.returns_rows else []
        await session.commit()
        return rows


async def test_rows_written_before_0015_come_out_sealed_and_still_work(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    database_url: str,
) -> None:
    policy, now = Policy(catalog, calendar), clock.now()
    named = CaseDraft("business_env", REFUND, (), None, False, NAME, PHONE)
    async with sessions() as session:
        await submit_case(session, await make_reporter(session, now), named, policy=policy, now=now)
    async with sessions() as session:
        anonymous = await make_reporter(
            session, now, telegram_user_id=ANONYMOUS_USER, enterprise_name="另一家企业有限公司"
        )
        plain = CaseDraft("business_env", REFUND, (), None, True, None, None)
        code = (await submit_case(session, anonymous, plain, policy=policy, now=now)).receipt_code
    assert code is not None and anonymous.id is not None
    _, _, secret = await make_account(sessions, clock, role="admin", team=None, totp=True)

    await asyncio.to_thread(command.downgrade, alembic_config(database_url), "0013")  # as before
    [(name, phone)] = await _sql(sessions, "SELECT name, phone FROM reporter_contacts")
    assert (name, phone) == (NAME, PHONE)
    await _sql(
        sessions, "UPDATE cases SET receipt_hash = :h WHERE anonymous", h=receipt_digest(code)
    )
    [(old_reporter,)] = await _sql(sessions, "SELECT reporter_id FROM cases WHERE anonymous")
    assert old_reporter == anonymous.id
    old_draft = {"draft_id": "c0ffee01", "contact_name": NAME, "contact_phone": PHONE}
    await _sql(
        sessions,
        "INSERT INTO fsm_records (key, state, data, updated_at) VALUES ('k', 'Intake:phone', :d, :t)",
        d=json.dumps(old_draft),
        t="2026-11-26 02:00:00.000000",
    )

    await asyncio.to_thread(upgrade_database, database_url)

    [(name, phone, index)] = await _sql(
        sessions, "SELECT name, phone, phone_index FROM reporter_contacts"
    )
    assert keys.is_sealed(name) and keys.is_sealed(phone) and index == phone_index(PHONE)
    [(totp,)] = await _sql(sessions, "SELECT totp_secret FROM console_accounts")
    assert keys.is_sealed(totp)
    [(data,)] = await _sql(sessions, "SELECT data FROM fsm_records")
    assert NAME not in data and PHONE not in data
    async with sessions() as session:
        contact = (await session.exec(select(ReporterContact))).one()
        account = (await session.exec(select(ConsoleAccount))).one()
        found = await find_by_receipt(session, code)
        mine = await list_my_cases(session, ANONYMOUS_USER)
        record = (await session.exec(select(FsmRecord))).one()
        anonymous_case = (await session.exec(select(Case).where(Case.anonymous))).one()
    assert (contact.name_plain(), contact.phone_plain()) == (NAME, PHONE)
    assert account.totp_plain() == secret
    assert found is not None and found.id == anonymous_case.id
    assert anonymous_case.reporter_id is None and reporter_of(anonymous_case) == anonymous.id
    assert [summary.id for summary in mine] == [anonymous_case.id]
    draft = IntakeDraft.from_data(record.data)
    assert (draft.contact_name, draft.contact_phone) == (NAME, PHONE)
