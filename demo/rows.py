"""Rows kept in memory by the bulk path and written in batches: COPY on PostgreSQL, executemany
on SQLite.

The bulk path keeps what it writes as column values (``dict``) where the domain gives them
(``models.event.chained``, ``notifications.outbox.queued``), or as objects it reads the columns
of when the batch is written (a case, a clock, a 整改: they change after they are kept). Objects
of a plain class (``plain``) stand in for the clocks: the model's own methods (``CaseClock.start``,
``meet``, ``extend`` …) on an object without the ORM's per-attribute bookkeeping, which costs
more than the rest of a case's history together.
"""

from __future__ import annotations

import gc
import inspect
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from pydantic_core import PydanticUndefined
from sqlalchemy.ext.asyncio import AsyncConnection

from models.types import JSONType, UTCDateTime


@contextmanager
def uncollected() -> Iterator[None]:
    """Python's cyclic garbage collector paused: a history's plan, rows and events make no
    cycles that matter (reference counting frees them; a plan of 10,000 cases leaves a few
    thousand cyclic objects, a batch's rows none), but a collector that runs as they pile up
    scans them all again and again — a third of a batch's work. Resumed as it was after."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class EncodedJSON(dict[str, Any]):
    """A JSON column's value with its JSON text, which PostgreSQL's COPY sends as it is (JSONB
    keeps the value, not the text; elsewhere the value is encoded as any other)."""

    __slots__ = ("text",)
    text: str


def table_of(model: Any) -> sa.Table:
    table: sa.Table = model.__table__
    return table


def defaults_of(model: Any) -> dict[str, Any]:
    """The model's column defaults (``Field(default=…)``, ``default_factory``), by column."""
    defaults: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        if name not in table_of(model).columns:
            continue
        value = field.get_default(call_default_factory=True)
        if value is not PydanticUndefined:
            defaults[name] = value
    return defaults


def plain(model: Any) -> Any:
    """A plain class with the model's methods, class methods and properties and its table, for
    objects that only the bulk path handles: made with the model's defaults and the values
    given (``PlainX(**values)``, or ``PlainX.new(**values)``), without the ORM's bookkeeping."""
    borrowed = {
        name: member
        for name, member in vars(model).items()
        if not name.startswith("__")
        and (
            inspect.isfunction(member) or isinstance(member, (property, classmethod, staticmethod))
        )
    }
    defaults = defaults_of(model)

    def init(self: Any, /, **values: Any) -> None:
        self.__dict__ = defaults | values  # one new dict, the values over the defaults

    def new(cls: type, /, **values: Any) -> Any:
        return cls(**values)

    return type(
        f"Plain{model.__name__}",
        (),
        {
            **borrowed,
            "__init__": init,
            "__table__": table_of(model),
            "new": classmethod(new),
        },
    )


class Batch:
    """The rows of a batch, table by table, in the order they are written."""

    def __init__(self, models: tuple[Any, ...]) -> None:
        self.models = models
        self.rows: dict[sa.Table, list[Any]] = defaultdict(list)
        self.defaults = {table_of(m): defaults_of(m) for m in models}

    def add(self, model: Any, row: Any) -> None:
        self.rows[table_of(model)].append(row)

    def adder(self, model: Any) -> Callable[[Any], None]:
        """``add`` for one model, looked up once: its list's ``append`` (the list stays the
        batch's: ``take`` empties it where it is)."""
        return self.rows[table_of(model)].append

    @property
    def empty(self) -> bool:
        return not any(self.rows.values())

    def take(self) -> list[Taken]:
        """Every row's column values (defaults filled in, no ``id`` where the database numbers
        them), table by table in order; the batch is empty afterwards."""
        taken = []
        for model in self.models:
            table = table_of(model)
            kept = self.rows.get(table)
            if not kept:
                continue
            rows = kept[:]
            kept.clear()
            defaults = self.defaults[table]
            given = [r if type(r) is dict else r.__dict__ for r in rows]
            keys = [c.key for c in table.columns if c.key != "id" or given[0].get("id") is not None]
            taken.append(Taken(table, keys, _values(given, keys, defaults)))
        return taken


def _values(given: list[dict[str, Any]], keys: list[str], defaults: dict[str, Any]) -> list[Any]:
    """Each row's values of ``keys``, a default where a row lacks one."""
    if len(keys) > 1:
        try:
            return list(map(itemgetter(*keys), given))  # every row has every column
        except KeyError:
            pass
    pairs = [(k, defaults.get(k)) for k in keys]
    return [tuple(row.get(k, default) for k, default in pairs) for row in given]


@dataclass(frozen=True, slots=True)
class Taken:
    """The rows of one table: the columns, and each row's values in their order."""

    table: sa.Table
    keys: list[str]
    values: list[tuple[Any, ...]]


async def write(connection: AsyncConnection, taken: list[Taken]) -> None:
    """Insert the rows in the connection's transaction: PostgreSQL's binary COPY (the values
    through the columns' own bind processors, as an INSERT sends them), else executemany."""
    dialect = connection.dialect
    if dialect.name != "postgresql":
        for rows in taken:
            json_keys = [k for k in rows.keys if isinstance(rows.table.c[k].type, JSONType)]
            parameters = [dict(zip(rows.keys, v, strict=True)) for v in rows.values]
            for row in parameters:
                for key in json_keys:  # an empty JSON column is SQL NULL, as the ORM writes
                    if row[key] is None:
                        row[key] = sa.null()
            await connection.execute(sa.insert(rows.table), parameters)
        return
    await connection.execute(sa.text("SELECT 1"))  # the transaction begins, COPY runs in it
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    for rows in taken:
        records = copied(dialect, rows)
        await driver.copy_records_to_table(rows.table.name, records=records, columns=rows.keys)


class Processed(dict[Any, Any]):
    """A column's bind processor remembered by value (an enum's or a flag's few values), and
    SQL NULL as it is."""

    __slots__ = ("process",)

    def __init__(self, process: Callable[[Any], Any]) -> None:
        super().__init__({None: None})
        self.process = process

    def __missing__(self, value: Any) -> Any:
        processed = self[value] = self.process(value)
        return processed


def copied(dialect: sa.Dialect, rows: Taken) -> list[tuple[Any, ...]]:
    """The rows' values as COPY takes them: through the columns' own bind processors, as an
    INSERT sends them (a JSON value's text as it is; a UTC datetime as it is)."""
    columns = list(zip(*rows.values, strict=True))
    for index, key in enumerate(rows.keys):
        column_type = rows.table.c[key].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if process is None:
            continue
        if isinstance(column_type, JSONType):
            columns[index] = tuple(
                v if v is None else v.text if type(v) is EncodedJSON else process(v)
                for v in columns[index]
            )
        elif isinstance(column_type, UTCDateTime):  # already in UTC: as it is
            columns[index] = tuple(
                v if v is None or v.tzinfo is UTC else process(v) for v in columns[index]
            )
        elif isinstance(column_type, sa.Enum | sa.Boolean):  # a few values: each processed once
            columns[index] = tuple(map(Processed(process).__getitem__, columns[index]))
        else:
            columns[index] = tuple(v if v is None else process(v) for v in columns[index])
    return list(zip(*columns, strict=True))
