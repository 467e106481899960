"""Every ``lianka`` command that needs the database, run where ``lianka init`` has not run, on an
empty database, or on one behind the code's migrations, says what to run and exits 2, without a
traceback and without creating a database (issue 13). The commands are found by walking the click
tree, so a command added later is covered, or this test names it."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest
from alembic.script import ScriptDirectory
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table)
from bot.cli import main
from bot.db import alembic_config, create_engine, head_revision, upgrade_database
from tests.conftest import POSTGRES_ADMIN_URL, ROOT, _admin_execute
from tests.test_cli import lianka

DATA = Path(__file__).parent / "data"
CONFIG = ROOT / "lianka.example.toml"
ENTERPRISES_CSV = "企业名称,统一社会信用代码,园区,法定代表人\n遂宁测试有限公司,,,\n"

# The smallest valid arguments of each command that opens the database, by command path.
ARGS: dict[tuple[str, ...], list[str]] = {
    ("run",): [],  # with LIANKA_BOT_TOKEN set, so it gets as far as the database
    ("accounts", "create"): ["admin1", "--role", "admin"],
    ("accounts", "list"): [],
    ("accounts", "disable"): ["admin1"],
    ("accounts", "reset"): ["admin1"],
    ("accounts", "totp"): ["admin1"],
    ("cards", "issue"): ["--enterprise", "遂宁测试有限公司"],
    ("cards", "import"): ["enterprises.csv"],
    ("cards", "list"): [],
    ("cards", "print"): ["--all", "--out", "cards.pdf"],
    ("cards", "revoke"): ["1"],
    ("cards", "reissue"): ["1"],
    ("calendar", "load"): [str(DATA / "calendar-2027.toml")],
    ("calendar", "add-workdays"): ["2026-12-28", "30"],
    ("calendar", "show"): ["2027"],
    ("jobs", "run"): ["deadline-sweep", "--dry-run"],
    ("inspectors", "invite"): ["--role", "admin"],
    ("inspectors", "list"): [],
    ("inspectors", "deactivate"): ["1"],
    ("teams", "list"): [],
    ("cases", "list"): [],
    ("cases", "show"): ["AJ-2026-0001"],
    ("audit", "verify"): [],
    ("purge",): ["--dry-run"],
    ("audit", "anchor"): [],
    ("keys", "rotate"): ["--dry-run"],
    ("report",): ["--format", "html", "--out", "reports"],
    ("web",): ["--port", "0"],
}

# Commands that create, upgrade or merely inspect the database, or do not use Lianka's.
EXEMPT: dict[tuple[str, ...], str] = {
    ("init",): "creates the database",
    ("db", "upgrade"): "creates or upgrades the database",
    ("db", "current"): "shows the revision, whatever it is (exit 1 when behind); creates nothing",
    ("db", "revision"): "developers: compares the models with the database to write a migration",
    ("config", "check"): "reads only the configuration file",
    ("sandbox",): "runs on a database of its own (var/sandbox.db) that it creates",
    ("backup",): "copies the file as it is: the copy to take before `lianka db upgrade`",
    ("demo-data",): "creates or upgrades the database it fills",
    ("keys", "generate"): "prints a fresh pair; touches no database",
}


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


COMMANDS = list(command_paths(main))


@dataclass(frozen=True)
class Unready:
    name: str
    says: str  # what the message must contain: the command to run


MISSING = Unready("missing", "数据库尚未创建，请先运行 lianka init")
EMPTY = Unready("empty", "lianka init")
BEHIND = Unready("behind", "请先运行 lianka db upgrade")


@pytest.fixture(scope="module")
def behind_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A database upgraded to the revision before the code's newest."""
    path = tmp_path_factory.mktemp("behind") / "lianka.db"
    url = f"sqlite+aiosqlite:///{path}"
    head = head_revision()
    assert head is not None
    previous = ScriptDirectory.from_config(alembic_config(url)).get_revision(head).down_revision
    assert isinstance(previous, str)
    upgrade_database(url, previous)
    return path


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder with the inputs the commands read, and nothing else."""
    (tmp_path / "enterprises.csv").write_text(ENTERPRISES_CSV, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def database_in(folder: Path, state: Unready, behind_database: Path) -> Path:
    if state is MISSING:
        return folder / "var" / "lianka.db"
    path = folder / "lianka.db"
    if state is EMPTY:
        path.touch()
    else:
        shutil.copyfile(behind_database, path)
    return path


def invoke(args: list[str], database_url: str) -> Result:
    env = {
        "LIANKA_DATABASE_URL": database_url,
        "LIANKA_CONFIG": str(CONFIG),
        "LIANKA_BOT_TOKEN": "42:TEST",
    }
    return CliRunner().invoke(main, args, env=env)


def assert_refused(result: Result, says: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exc_info)
    assert isinstance(result.exception, SystemExit)
    assert says in result.output
    assert "Traceback" not in result.output


def test_every_command_either_checks_the_database_or_is_exempt_for_a_reason() -> None:
    unlisted = [" ".join(path) for path in COMMANDS if path not in ARGS and path not in EXEMPT]
    stale = [" ".join(path) for path in (*ARGS, *EXEMPT) if path not in COMMANDS]
    assert not unlisted, f"add to ARGS (its minimal arguments) or to EXEMPT (why): {unlisted}"
    assert not stale, f"no such command: {stale}"
    assert not set(ARGS) & set(EXEMPT)


@pytest.mark.parametrize("state", [MISSING, EMPTY, BEHIND], ids=lambda s: s.name)
@pytest.mark.parametrize(
    "path", [p for p in COMMANDS if p not in EXEMPT], ids=lambda p: "-".join(p)
)
def test_a_command_on_an_unready_database_says_what_to_run_exits_2_and_creates_nothing(
    path: tuple[str, ...], state: Unready, folder: Path, behind_database: Path
) -> None:
    if path not in ARGS:
        pytest.fail(f"`lianka {' '.join(path)}` has no arguments in ARGS (nor a reason in EXEMPT)")
    database = database_in(folder, state, behind_database)
    before = sorted(folder.rglob("*"))

    result = invoke([*path, *ARGS[path]], f"sqlite+aiosqlite:///{database}")

    assert_refused(result, state.says)
    assert sorted(folder.rglob("*")) == before
    if state is MISSING:
        assert "lianka init" in result.output.split("(", 1)[1]  # and in English
        assert not (folder / "var").exists()


def test_calendar_show_where_init_has_not_run_says_run_init_and_leaves_no_database(
    tmp_path: Path,
) -> None:
    shutil.copyfile(CONFIG, tmp_path / "lianka.toml")  # a new user copied the example, no more

    result = lianka("calendar", "show", "2027", cwd=tmp_path)

    assert result.returncode == 2, result.stderr
    assert "数据库尚未创建，请先运行 lianka init" in result.stderr
    assert "run `lianka init`" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lianka.toml"]


def test_db_current_on_a_missing_database_shows_it_empty_and_creates_nothing(folder: Path) -> None:
    result = invoke(["db", "current"], f"sqlite+aiosqlite:///{folder / 'var' / 'lianka.db'}")

    assert result.exit_code == 1
    assert f"current: (empty)  head: {head_revision()}" in result.output
    assert not (folder / "var").exists()


def test_a_database_of_another_application_is_refused_naming_the_url_to_check(
    folder: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{folder / 'other.db'}"

    async def other_application() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE invoices (id INTEGER PRIMARY KEY)"))
        await engine.dispose()

    asyncio.run(other_application())

    assert_refused(invoke(["cases", "list"], url), "LIANKA_DATABASE_URL")


def test_a_database_built_from_the_models_without_migrations_is_served(folder: Path) -> None:
    """As the tests build theirs (``create_all``): every table is there, only the stamp is not."""
    url = f"sqlite+aiosqlite:///{folder / 'lianka.db'}"

    async def build() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            await connection.run_sync(SQLModel.metadata.create_all)
        await engine.dispose()

    asyncio.run(build())

    result = invoke(["teams", "list", "--json"], url)

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "[]"


def test_a_file_that_is_not_a_database_is_refused_without_a_traceback(folder: Path) -> None:
    (folder / "lianka.db").write_text("not a database\n" * 100, encoding="utf-8")

    result = invoke(["teams", "list"], f"sqlite+aiosqlite:///{folder / 'lianka.db'}")

    assert_refused(result, "无法打开数据库")


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_named_with_how_to_create_it(
    folder: Path, postgres_url: str
) -> None:
    name = f"lianka_missing_{secrets.token_hex(4)}"
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    result = invoke(["calendar", "show", "2027"], url)

    assert_refused(result, f"数据库 {name} 不存在，请先创建（createdb {name}），再运行 lianka init")


@pytest.mark.slow
@pytest.mark.postgres
def test_an_empty_postgresql_database_says_run_init(folder: Path, postgres_url: str) -> None:
    name = f"lianka_empty_{secrets.token_hex(4)}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    try:
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        assert_refused(invoke(["cards", "list"], url), "数据库是空的，请先运行 lianka init")
    finally:
        asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.parametrize(
    "args", [["cards", "list"], ["init"], ["db", "upgrade"], ["db", "current"]], ids=" ".join
)
def test_a_database_server_that_is_down_is_reported_without_a_traceback(
    args: list[str], folder: Path
) -> None:
    url = "postgresql+asyncpg://lianka:secret@127.0.0.1:1/lianka"  # nothing listens on port 1

    result = invoke(args, url)

    assert_refused(result, "无法连接数据库 postgresql+asyncpg://lianka:***@127.0.0.1:1/lianka")
    assert "secret" not in result.output
