"""Identities at rest: what a copy of the database (the SQLite file and its WAL, a ``pg_dump``)
gives away about the people who reported, and a change of the data key while the bot runs."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import DatabaseNotReady, SessionFactory, create_session_factory, open_database
from bot.services.intake import submit_case
from bot.services.key_rotation import rotate_data_key
from bot.services.my_cases import find_by_receipt, list_my_cases
from bot.services.policy import Policy
from bot.services.reporters import cases_by_phone
from bot.storage import SqlStorage
from models import keys
from models.account import ConsoleAccount
from models.calendar import WorkCalendar
from models.case import reporter_of
from models.intake import CaseDraft, IntakeDraft, MaterialDraft, open_draft_value
from models.keycheck import KeyCheck
from models.reporter import ReporterContact, receipt_hash, sealed_contact
from models.web_draft import KEPT_RECEIPT, WebDraft
from tests.console_support import make_account
from tests.factories import make_reporter
from tests.intake_helpers import REFUND, make_card
from tests.test_web_report import RECEIPT, Browser, Client, web_app

pytestmark = pytest.mark.both_databases

PEOPLE = {  # distinctive enough that no other byte string of the database could hold them
    "telegram": ("欧阳翠花", "13987654321"),
    "web": ("司马琳琅", "15811223344"),
    "draft": ("上官婉儿", "18677665544"),
    "chat draft": ("诸葛青云", "17755443322"),
}
ANONYMOUS_USER = 7_000_777


def named(who: str) -> CaseDraft:
    name, phone = PEOPLE[who]
    return CaseDraft(
        category_code="business_env",
        description=REFUND,
        evidence=(),
        amount_yuan=None,
        anonymous=False,
        contact_name=name,
        contact_phone=phone,
    )


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    async with sessions() as session:
        await make_card(session, clock.now())
    async with TestClient(TestServer(web_app(sessions, catalog, clock))) as test_client:
        yield test_client


async def _refund_category(sessions: SessionFactory) -> object:
    from sqlmodel import col

    from models.org import Category

    async with sessions() as session:
        categories = (await session.exec(select(Category).order_by(col(Category.sort_order)))).all()
    return next(c for c in categories if c.track.value == "appeal")


async def _named_reports(
    sessions: SessionFactory, client: Client, policy: Policy, now: datetime
) -> str:
    """A named report from the chat and one from the web page, a named web draft left half
    way and a named chat draft in the bot's conversation state; an anonymous chat report
    (its receipt code returned)."""
    async with sessions() as session:
        reporter = await make_reporter(session, now)
        await submit_case(session, reporter, named("telegram"), policy=policy, now=now)
    async with sessions() as session:
        anonymous = await make_reporter(
            session, now, telegram_user_id=ANONYMOUS_USER, enterprise_name="另一家企业有限公司"
        )
        plain = CaseDraft("business_env", REFUND, (), None, True, None, None)
        submitted = await submit_case(session, anonymous, plain, policy=policy, now=now)
    category = await _refund_category(sessions)
    for who, submit in (("web", True), ("draft", False)):
        name, phone = PEOPLE[who]
        browser = Browser(client)
        await browser.through_to_summary(category, identity="named", name=name, phone=phone)  # type: ignore[arg-type]
        if submit:
            assert RECEIPT.search(await browser.send("submit")) is not None
        client.session.cookie_jar.clear()
    name, phone = PEOPLE["chat draft"]
    chat = IntakeDraft(draft_id="c0ffee01").choose_category("business_env", "营商环境", clue=False)
    storage = SqlStorage(sessions)
    key = StorageKey(bot_id=1, chat_id=ANONYMOUS_USER, user_id=ANONYMOUS_USER)
    await storage.set_data(key, chat.describe(REFUND).go_named(name, phone).to_data())
    assert submitted.receipt_code is not None
    return submitted.receipt_code


def _dump(database_url: str, tmp_path: Path) -> bytes:
    """Every byte a copy of the database holds: the SQLite file with its WAL and journal, or
    what ``pg_dump`` writes."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = Path(str(url.database))
        parts = [path, Path(f"{path}-wal"), Path(f"{path}-journal")]
        return b"".join(p.read_bytes() for p in parts if p.exists())
    if shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    out = tmp_path / "dump.sql"
    subprocess.run(["pg_dump", "--no-owner", "-f", str(out), plain], check=True, timeout=120)
    return out.read_bytes()


async def test_a_copy_of_the_database_holds_no_reporters_name_or_phone(
    sessions: SessionFactory,
    client: Client,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    database_url: str,
    tmp_path: Path,
) -> None:
    policy = Policy(catalog, calendar)
    code = await _named_reports(sessions, client, policy, clock.now())
    _, _, secret = await make_account(sessions, clock, role="admin", team=None, totp=True)
    async with sessions() as session:
        contacts = (await session.exec(select(ReporterContact))).all()
        by_phone = await cases_by_phone(session, "+86 139-8765-4321")
        found = await find_by_receipt(session, code)
        mine = await list_my_cases(session, ANONYMOUS_USER)
    # the bot and the staff who may still read them, and find a reporter by phone
    assert {(c.name_plain(), c.phone_plain()) for c in contacts} == {
        PEOPLE["telegram"],
        PEOPLE["web"],
    }
    assert [c.case_id for c in contacts if c.name_plain() == PEOPLE["telegram"][0]] == by_phone
    assert found is not None and found.reporter_id is None and reporter_of(found) is not None
    assert [summary.id for summary in mine] == [found.id]
    dump = _dump(database_url, tmp_path)
    assert b"draft_id" in dump or b"c0ffee01" in dump  # the drafts are in the copy...
    words = [word for person in PEOPLE.values() for word in (*person, person[1][-8:])]
    # ...their names and phones not: as UTF-8, nor as a JSON column holds them on SQLite (the
    # default encoder writes 欧阳翠花 as \u6b27\u9633\u7fe0\u82b1)
    held = [w for w in words if w.encode() in dump or json.dumps(w)[1:-1].encode() in dump]
    assert held == []
    assert code.replace("-", "").encode() not in dump
    assert receipt_hash(code).encode() in dump  # only the keyed hash
    async with sessions() as session:
        account = (await session.exec(select(ConsoleAccount))).one()
    assert secret is not None and account.totp_plain() == secret
    assert secret.encode() not in dump


OTHER_KEY = keys.generate_key()


@pytest.fixture
def first_keys() -> Iterator[keys.Keyring]:
    """The tests' keys, put back after a test that rotates them."""
    ring = keys.current()
    yield ring
    keys.install(ring)


async def test_a_rotated_data_key_leaves_everything_readable_with_the_new_key_alone(
    sessions: SessionFactory,
    client: Client,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    database_url: str,
    first_keys: keys.Keyring,
) -> None:
    policy = Policy(catalog, calendar)
    code = await _named_reports(sessions, client, policy, clock.now())
    async with sessions() as session:
        anonymous = await find_by_receipt(session, code)
    assert anonymous is not None and anonymous.id is not None
    # the anonymous reporter half way through 补充材料: the step names the case sealed
    waiting = StorageKey(bot_id=1, chat_id=ANONYMOUS_USER, user_id=ANONYMOUS_USER, destiny="x")
    await SqlStorage(sessions).set_data(waiting, MaterialDraft(case_id=anonymous.id).to_data())
    await make_account(sessions, clock, role="admin", team=None, totp=True)
    engine = await open_database(database_url)  # records key A
    await engine.dispose()
    key_a, key_b = first_keys.data_key, keys.parse_key(OTHER_KEY, "LIANKA_DATA_KEY")
    both = keys.Keyring(data_key=key_b, audit_key=first_keys.audit_key, old_data_keys=(key_a,))
    keys.install(both)
    engine = await open_database(database_url)  # the bot restarted with B, A among the old keys
    running = create_session_factory(engine)
    try:
        dry = await rotate_data_key(running, batch=1, dry_run=True)
        assert dry.total >= 5 and dry.forgotten == ()

        async def bot_reads_contacts() -> list[tuple[str, str]]:
            seen = []
            for _ in range(5):
                async with running() as session:
                    rows = (await session.exec(select(ReporterContact))).all()
                    seen += [(r.name_plain(), r.phone_plain()) for r in rows]
                await asyncio.sleep(0)
            return seen

        rotation, seen = await asyncio.gather(
            rotate_data_key(running, batch=1), bot_reads_contacts()
        )
        assert set(seen) == {PEOPLE["telegram"], PEOPLE["web"]}
        assert rotation.total == dry.total and rotation.left == 0
        assert rotation.forgotten == (first_keys.data_key_id,)
        async with running() as session:
            checks = (await session.exec(select(KeyCheck.key_id))).all()
        assert first_keys.data_key_id not in checks
    finally:
        await engine.dispose()
    keys.install(keys.Keyring(data_key=key_b, audit_key=first_keys.audit_key))  # A dropped
    engine = await open_database(database_url)
    sessions_b = create_session_factory(engine)
    try:
        async with sessions_b() as session:
            contacts = (await session.exec(select(ReporterContact))).all()
            account = (await session.exec(select(ConsoleAccount))).one()
            case = await find_by_receipt(session, code)
            mine = await list_my_cases(session, ANONYMOUS_USER)
        assert {(c.name_plain(), c.phone_plain()) for c in contacts} == {
            PEOPLE["telegram"],
            PEOPLE["web"],
        }
        assert account.totp_plain() is not None
        assert case is not None and reporter_of(case) is not None
        assert [summary.id for summary in mine] == [case.id]
        draft = await SqlStorage(sessions_b).get_data(
            StorageKey(bot_id=1, chat_id=ANONYMOUS_USER, user_id=ANONYMOUS_USER)
        )
        assert IntakeDraft.from_data(draft).contact_name == PEOPLE["chat draft"][0]
        step = await SqlStorage(sessions_b).get_data(waiting)
        assert MaterialDraft.from_data(step).case_id == anonymous.id
        # the web report's receipt code, kept a few minutes for a double tap, opens with B
        async with sessions_b() as session:
            submitted = (
                await session.exec(select(WebDraft).where(col(WebDraft.reporter_id).is_not(None)))
            ).one()
            kept = open_draft_value(submitted.data, KEPT_RECEIPT)
            assert kept is not None and await find_by_receipt(session, kept) is not None
    finally:
        await engine.dispose()


async def test_a_wrong_data_key_stops_the_start_with_the_reason(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    database_url: str,
    first_keys: keys.Keyring,
) -> None:
    async with sessions() as session:
        reporter = await make_reporter(session, clock.now())
        await submit_case(
            session, reporter, named("telegram"), policy=Policy(catalog, calendar), now=clock.now()
        )
    engine = await open_database(database_url)
    await engine.dispose()
    wrong = keys.parse_key(OTHER_KEY, "LIANKA_DATA_KEY")
    keys.install(keys.Keyring(data_key=wrong, audit_key=first_keys.audit_key))
    with pytest.raises(DatabaseNotReady, match=first_keys.data_key_id):
        await open_database(database_url)


def test_a_sealed_contact_copied_to_another_case_does_not_open() -> None:
    sealed = sealed_contact(1, name=PEOPLE["telegram"][0], phone=PEOPLE["telegram"][1])
    moved = ReporterContact(case_id=2, name=sealed.name, phone=sealed.phone)
    with pytest.raises(keys.SealBroken):
        moved.name_plain()
    assert sealed.name_plain() == PEOPLE["telegram"][0]


def test_a_draft_whose_key_was_dropped_asks_for_the_name_and_phone_again(
    first_keys: keys.Keyring,
) -> None:
    name, phone = PEOPLE["chat draft"]
    data = IntakeDraft(draft_id="c0ffee02").go_named(name, phone).to_data()
    other = keys.parse_key(OTHER_KEY, "LIANKA_DATA_KEY")
    keys.install(keys.Keyring(data_key=other, audit_key=first_keys.audit_key))
    draft = IntakeDraft.from_data(data)
    assert (draft.contact_name, draft.contact_phone) == (None, None)
