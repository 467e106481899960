"""What every CLI command shares: settings, the config file, the database, output for people or scripts.

Heavy libraries (aiogram, PDF, reports) are imported inside the commands that need them, so that
``lianka --help`` and the list commands start fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from rich.console import Console

    from bot.config import LiankaConfig
    from bot.db import SessionFactory
    from bot.settings import Settings

T = TypeVar("T")


@dataclass
class CliContext:
    """Options given before the sub-command."""

    config_path: Path | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from pydantic import ValidationError

            from bot.settings import Settings

            try:
                self._settings = Settings()
            except ValidationError as error:
                lines = [
                    f"  LIANKA_{str(e['loc'][0]).upper()}: {e['msg']}"
                    for e in error.errors(include_url=False, include_input=False)
                ]
                fail("环境变量设置有误 (invalid settings):\n" + "\n".join(lines), code=2)
            if self.config_path is not None:
                self._settings.config = self.config_path
            _load_keys(self._settings)
        return self._settings

    def config(self) -> LiankaConfig:
        """The checked configuration, or exit 2 listing its problems."""
        from bot.config import ConfigError, load_config

        try:
            return load_config(self.settings.config)
        except ConfigError as error:
            fail(error.render(), code=2)


def _load_keys(settings: Settings) -> None:
    """Install the settings' keys; a missing or malformed one is said by the first command that
    needs them (opening the database), so ``lianka keys generate`` and ``config check`` run."""
    from bot.keys import install_from_settings
    from models import keys

    try:
        install_from_settings(settings)
    except keys.KeyProblem as error:
        keys.uninstall(str(error))


pass_context = click.make_pass_decorator(CliContext, ensure=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code``."""
    click.echo(message, err=True)
    sys.exit(code)


def console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def run_with_db(settings: Settings, work: Callable[[SessionFactory], Awaitable[T]]) -> T:
    """Open the database, run ``work`` with a session factory, close the database.

    Every command that reads or writes the database comes through here: on a database that is
    missing, empty, unreachable or behind the code's migrations it exits 2 saying what to run
    (``lianka init``, ``lianka db upgrade``), and creates nothing.
    """
    import asyncio

    from bot.db import DatabaseNotReady, create_session_factory, open_database

    async def runner() -> T:
        engine = await open_database(settings.database_url)
        try:
            return await work(create_session_factory(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(runner())
    except DatabaseNotReady as error:
        fail(str(error), code=2)


def require_database(settings: Settings) -> None:
    """Exit 2 saying what to run unless the database is ready (for a command that opens it itself)."""

    async def nothing(_sessions: SessionFactory) -> None:
        return None

    run_with_db(settings, nothing)


@contextmanager
def reaching_database(settings: Settings) -> Iterator[None]:
    """Exit 2 with what to check, not a traceback, when the database cannot be reached (for the
    commands that create or inspect the database rather than open it ready)."""
    from sqlalchemy.exc import DBAPIError

    from bot.db import MigrationRefused, unreachable
    from models.keys import KeyProblem

    try:
        yield
    except (KeyProblem, MigrationRefused) as error:  # keys missing or wrong, a broken chain
        fail(str(error), code=2)
    except (OSError, DBAPIError) as error:
        message = unreachable(settings.database_url, error)
        if message is None:
            raise
        fail(message, code=2)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A table for people; values are shown as given (no markup interpretation)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(Text("" if value is None else str(value)) for value in row))
    console().print(table)


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
