"""The database: engine, session factory and migrations (Alembic)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.private_files import make_private

SessionFactory = async_sessionmaker[AsyncSession]

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def _sqlite_file(url: URL) -> Path | None:
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(database_url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout, and its folder made."""
    url = make_url(database_url)
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
    if url.get_backend_name() == "postgresql":
        kwargs.setdefault("pool_pre_ping", True)
    # an error's message must not carry the row it failed on (a description, a name, a phone)
    kwargs.setdefault("hide_parameters", True)
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    return engine


def shared_database_url(sessions: SessionFactory) -> str | None:
    """The URL, password included, by which another process opens the database ``sessions``
    use (None for an in-memory SQLite database, which no other process can open)."""
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        return None
    url = bind.url
    if url.get_backend_name() == "sqlite" and _sqlite_file(url) is None:
        return None
    return url.render_as_string(hide_password=False)


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that keep loaded objects usable after commit (no lazy reloads under asyncio)."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config(database_url: str) -> Any:
    """An Alembic configuration pointing at ``migrations/`` and ``database_url``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["database_url"] = database_url
    return config


class MigrationRefused(RuntimeError):
    """A migration that found the database unfit to upgrade (a broken audit chain) and changed
    nothing; its message says what and where."""


def upgrade_database(database_url: str, revision: str = "head") -> None:
    """Create or upgrade the schema to ``revision`` (blocking; runs its own event loop). The
    migrations sign and seal with the process's keys: without them (KeyProblem) nothing starts."""
    from alembic import command

    from models import keys

    keys.current()
    url = make_url(database_url)
    sqlite_file = _sqlite_file(url)
    if sqlite_file is not None:
        sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        make_private(sqlite_file)
    command.upgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None for an empty or missing one (not created)."""
    from alembic.runtime.migration import MigrationContext

    sqlite_file = _sqlite_file(make_url(database_url))
    if sqlite_file is not None and not sqlite_file.is_file():
        return None

    async def read() -> str | None:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision()
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())


def head_revision() -> str | None:
    """The newest revision shipped with the code."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


class DatabaseNotReady(Exception):
    """The database is missing, unreachable or not at the code's revision; the message says, in
    Chinese and then English, what to run."""


def unreachable(database_url: str, error: BaseException) -> str | None:
    """What to tell a person when ``error`` means the database server or database could not be
    reached; None when it is some other error."""
    url = make_url(database_url)
    where = url.render_as_string(hide_password=True)
    sqlstate = str(getattr(getattr(error, "orig", None), "sqlstate", None) or "")
    if sqlstate == "3D000":
        return (
            f"数据库 {url.database} 不存在，请先创建（createdb {url.database}），再运行 lianka init "
            f"(database {url.database} does not exist: create it, then run `lianka init`)"
        )
    if sqlstate.startswith("28"):
        return (
            f"无法登录数据库 {where}，请检查 LIANKA_DATABASE_URL 中的用户名和密码 "
            f"(cannot log in to the database: check the user and password in LIANKA_DATABASE_URL)"
        )
    if isinstance(error, OSError) or sqlstate.startswith(("08", "57P03")):
        reason = str(error) or type(error).__name__
        return (
            f"无法连接数据库 {where}（{reason}），请确认数据库服务已启动、LIANKA_DATABASE_URL 正确 "
            f"(cannot reach the database: is the server running, is LIANKA_DATABASE_URL right?)"
        )
    return None


def _schema_problem(connection: Connection) -> str | None:
    """Why the schema is not the one the code expects, saying what to run; None if it is."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    current = MigrationContext.configure(connection).get_current_revision()
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    head = script.get_current_head()
    if current == head:
        return None
    if current is None:
        from sqlalchemy import inspect
        from sqlmodel import SQLModel

        import models  # noqa: F401  (registers every table)

        tables = set(inspect(connection).get_table_names())
        if not tables:
            return "数据库是空的，请先运行 lianka init (the database is empty: run `lianka init`)"
        if tables >= set(SQLModel.metadata.tables):
            return None  # built from the models themselves (create_all), as the tests do
        return (
            "数据库中没有 Lianka 的表，请确认 LIANKA_DATABASE_URL 指向 Lianka 的数据库，"
            "或先运行 lianka init (the database holds no Lianka schema: check "
            "LIANKA_DATABASE_URL, or run `lianka init`)"
        )
    if current not in {revision.revision for revision in script.walk_revisions()}:
        return (
            f"数据库版本 {current} 比程序 {head} 新（或未知），请更新 Lianka "
            f"(database at {current}, unknown to this code, which expects {head}: update Lianka)"
        )
    return (
        f"数据库版本 {current} 与程序 {head} 不一致，请先运行 lianka db upgrade "
        f"(database at {current}, code expects {head}: run `lianka db upgrade`)"
    )


def _keys_problem(connection: Connection) -> str | None:
    """Why the process's keys cannot run this database (missing, malformed, not the ones it was
    written with); the keys are recorded on the first start."""
    from bot.keys import key_problem
    from models import keys

    try:
        return key_problem(connection, keys.current())
    except keys.KeyProblem as error:
        return str(error)


async def open_database(database_url: str) -> AsyncEngine:
    """An engine on a database at the code's revision, or DatabaseNotReady saying what to run.
    Creates nothing: a missing SQLite file (or its folder) is reported, not made."""
    sqlite_file = _sqlite_file(make_url(database_url))
    if sqlite_file is not None and not sqlite_file.is_file():
        raise DatabaseNotReady(
            "数据库尚未创建，请先运行 lianka init "
            f"(no database at {sqlite_file}: run `lianka init`)"
        )
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            problem = await connection.run_sync(_schema_problem)
            if problem is None:
                problem = await connection.run_sync(_keys_problem)
    except (OSError, DBAPIError) as error:
        where = make_url(database_url).render_as_string(hide_password=True)
        problem = unreachable(database_url, error) or (
            f"无法打开数据库 {where}（{getattr(error, 'orig', None) or error}），"
            "请检查 LIANKA_DATABASE_URL (cannot open the database: check LIANKA_DATABASE_URL)"
        )
    except BaseException:
        await engine.dispose()
        raise
    if problem is not None:
        await engine.dispose()
        raise DatabaseNotReady(problem)
    return engine
