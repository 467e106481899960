"""Fixtures: a fresh database per test, the example config, a frozen clock.

Every database test runs on SQLite; a module (or test) marked ``both_databases`` runs on
PostgreSQL too: those whose SQL differs by dialect or that are about PostgreSQL's behaviour.
The schema is built once per worker: SQLite copies a template file per test, PostgreSQL empties
the tables a test filled in the worker's database before the next one (``_emptying``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from bot.clock import FrozenClock
from bot.config import LiankaConfig, load_config
from bot.db import SessionFactory, create_engine, create_session_factory
from bot.services import accounts
from bot.services.calendar import load_calendar
from bot.services.catalog import sync_catalog
from models import keys
from models.calendar import WorkCalendar
from sandbox import BotSpec, Emulator
from tests.harness import Telegram
from tests.intake_helpers import build, make_card
from tests.live import BOT_TOKEN, BOT_USERNAME, TEST_KEYS, kill_leftovers

ROOT = Path(__file__).resolve().parents[1]

for name, value in TEST_KEYS.items():
    os.environ.setdefault(name, value)
keys.install(
    keys.Keyring(
        data_key=keys.parse_key(os.environ["LIANKA_DATA_KEY"], "LIANKA_DATA_KEY"),
        audit_key=keys.parse_key(os.environ["LIANKA_AUDIT_KEY"], "LIANKA_AUDIT_KEY"),
    )
)
# Console passwords: production hashes with Argon2id at 64 MiB, 3 passes, 4 lanes (about 0.45 s of
# CPU for a hash and its check on this machine, seconds under load; the console tests make and
# sign in hundreds of accounts). In the test process they are hashed with the same Argon2id at its
# smallest cost; tests/test_accounts_cli.py checks the production parameters, and every
# ``lianka run``/``lianka web`` process a test starts hashes with them.
PRODUCTION_PASSWORD_HASHER = accounts._HASHER
accounts._HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

POSTGRES_ADMIN_URL = os.environ.get(
    "LIANKA_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("LIANKA_REQUIRE_SERVICES") == "1"

# Thursday 26 November 2026, 10:00 in Shanghai: a plain working day.
DEFAULT_NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


def _missing_service(name: str, error: BaseException) -> None:
    message = f"{name} is not reachable ({type(error).__name__}: {error})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; LIANKA_REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(message)


async def _admin_execute(statement: str) -> None:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def _create_schema(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own on the PostgreSQL server for this test session, dropped afterwards."""
    name = f"lianka_test_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    except (OSError, Exception) as error:
        _missing_service("PostgreSQL", error)
    # Only this throw-away database: a commit does not wait for its WAL to reach the disk (what
    # another session sees is unchanged; only a crash of the server could lose the last commits).
    asyncio.run(_admin_execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    asyncio.run(_create_schema(url))
    yield url
    _drop_in_the_background(name)


# DROP DATABASE waits for a checkpoint, seconds on a busy machine: a process of its own drops the
# session's database while the run ends.
_DROP = """
import asyncio, sys
import asyncpg
async def drop(dsn, name):
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
asyncio.run(drop(sys.argv[1], sys.argv[2]))
"""


def _drop_in_the_background(name: str) -> None:
    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://", 1)
    # sh starts the drop in the background and exits at once: nothing is left to wait for here.
    background = '"$0" -c "$1" "$2" "$3" </dev/null >/dev/null 2>&1 &'
    subprocess.run(
        ["sh", "-c", background, sys.executable, _DROP, dsn, name],
        check=True,
        start_new_session=True,
    )


BOTH_DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``database_url`` is SQLite, and PostgreSQL too where the test is marked ``both_databases``."""
    if "database_url" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("both_databases") is not None:
        metafunc.parametrize("database_url", BOTH_DATABASES, indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked ``slow`` (processes, browsers, a minute each on a busy machine) run
    first: spread over the xdist workers from the start instead of one of them ending the run
    alone while the others wait. A stable sort: the order within each group is kept."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


def pytest_configure(config: pytest.Config) -> None:
    """Under xdist, each worker takes the next test one at a time (``--maxschedchunk 1``, unless
    given). By default the first worker is handed the first quarter of its share in one block:
    with the slow tests sorted first, that was nearly all 170 of them, run one after another on
    that worker while the others went through the fast ones and then waited for it."""
    if getattr(config.option, "maxschedchunk", 0) is None:
        config.option.maxschedchunk = 1


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file with every table, built once per worker and copied for each test."""
    path = tmp_path_factory.mktemp("template") / "lianka.db"
    asyncio.run(_create_schema(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """The URL of an empty database with every table: a SQLite file, or the PostgreSQL one."""
    if getattr(request, "param", "sqlite") == "sqlite":
        path = tmp_path / "lianka.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def schema(database_url: str, sqlite_template: Path) -> str:
    """``database_url``, with its tables (a module that overrides it with a bare path gets a copy)."""
    if database_url.startswith("sqlite"):
        path = Path(database_url.split("///", 1)[1])
        if not path.exists():
            shutil.copyfile(sqlite_template, path)
    return database_url


def _emptying() -> str:
    """One PL/pgSQL block that empties the worker's PostgreSQL database as ``TRUNCATE … RESTART
    IDENTITY`` of every table would, at a fraction of its cost: a TRUNCATE makes new files for
    each table (about 1 s for the forty tables on a busy machine, before every test), while most
    tests fill a handful of them. Only the tables with rows are emptied, children first; DELETE
    for those small tables, TRUNCATE for those whose triggers refuse a DELETE (the append-only
    audit tables); then every sequence that was used starts again at 1."""
    children_first = ", ".join(f"'{t.name}'" for t in reversed(SQLModel.metadata.sorted_tables))
    return f"""
DO $$
DECLARE
    name text;
    filled boolean;
    triggered text[];
    used record;
BEGIN
    SELECT coalesce(array_agg(DISTINCT c.relname::text), '{{}}') INTO triggered
        FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
        WHERE NOT g.tgisinternal AND c.relnamespace = 'public'::regnamespace;
    FOREACH name IN ARRAY ARRAY[{children_first}]::text[] LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM public.%I)', name) INTO filled;
        IF filled AND name = ANY(triggered) THEN
            EXECUTE format('TRUNCATE public.%I CASCADE', name);
        ELSIF filled THEN
            EXECUTE format('DELETE FROM public.%I', name);
        END IF;
    END LOOP;
    FOR used IN SELECT schemaname, sequencename FROM pg_sequences
            WHERE schemaname = 'public' AND last_value IS NOT NULL LOOP
        EXECUTE format('ALTER SEQUENCE %I.%I RESTART', used.schemaname, used.sequencename);
    END LOOP;
END $$
"""


_TABLES = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)


@pytest.fixture
async def sessions(schema: str) -> AsyncIterator[SessionFactory]:
    engine = create_engine(schema)
    if engine.dialect.name == "postgresql":
        async with engine.begin() as connection:
            await connection.execute(text(_emptying()))
        # VACUUM frees the deleted rows' places: the next test's rows are stored, and read back
        # unordered, in the order written, as in a new table (a test that takes the last of an
        # unordered SELECT failed without it). Forty tiny tables: about 20 ms.
        async with engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f"VACUUM {_TABLES}"))
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
def config() -> LiankaConfig:
    """The shipped example: 安居区纪委监委, its zones, nine categories and teams."""
    return load_config(ROOT / "lianka.example.toml")


@pytest.fixture
async def catalog(sessions: SessionFactory, config: LiankaConfig) -> LiankaConfig:
    """The database loaded with the example config's zones, categories and teams."""
    async with sessions() as session:
        await sync_catalog(session, config)
    return config


@pytest.fixture
async def calendar(sessions: SessionFactory, config: LiankaConfig) -> WorkCalendar:
    async with sessions() as session:
        return await load_calendar(session, config)


@pytest.fixture(autouse=True)
def _no_server_left_running() -> Iterator[None]:
    """A test that fails before it stops its ``lianka run`` leaves no server behind it."""
    yield
    kill_leftovers()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(DEFAULT_NOW)


@pytest.fixture
async def telegram(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> Telegram:
    """The production dispatcher on this test's database, and a card of 四川坤天 in 安居经开区 for
    a reporter to scan (``tests.intake_helpers.TOKEN``)."""
    async with sessions() as session:
        await make_card(session, clock.now())
    return build(sessions, catalog, calendar, clock)


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    """The sandbox's Bot API emulator on a free port, with the e2e tests' bot."""
    async with Emulator(bots=[BotSpec(BOT_TOKEN, BOT_USERNAME, "廉卡")]) as running:
        yield running
