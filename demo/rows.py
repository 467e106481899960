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

import inspect
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from pydantic_core import PydanticUndefined
from sqlalchemy.ext.asyncio import AsyncConnection

from models.types import JSONType


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
    """A plain class with the model's methods and properties, for objects that only the bulk
    path handles: ``new`` gives one with the model's defaults and the values given."""
    borrowed = {
        name: member
        for name, member in vars(model).items()
        if not name.startswith("__")
        and (inspect.isfunction(member) or isinstance(member, property))
    }
    defaults = defaults_of(model)

    def new(cls: type, /, **values: Any) -> Any:
        row = cls()
        row.__dict__.update(defaults)
        row.__dict__.update(values)
        return row

    return type(f"Plain{model.__name__}", (), {**borrowed, "new": classmethod(new)})


class Batch:
    """The rows of a batch, table by table, in the order they are written."""

    def __init__(self, models: tuple[Any, ...]) -> None:
        self.models = models
        self.rows: dict[sa.Table, list[Any]] = defaultdict(list)
        self.defaults = {table_of(m): defaults_of(m) for m in models}

    def add(self, model: Any, row: Any) -> None:
        self.rows[table_of(model)].append(row)

    def take(self) -> list[tuple[sa.Table, list[dict[str, Any]]]]:
        """Every row's column values (defaults filled in, no ``id`` where the database numbers
        them), table by table in order; the batch is empty afterwards."""
        taken = []
        for model in self.models:
            table = table_of(model)
            rows = self.rows.pop(table, [])
            if not rows:
                continue
            keys = [c.key for c in table.columns]
            defaults = self.defaults[table]
            values = []
            for row in rows:
                given = row if isinstance(row, dict) else row.__dict__
                found = {k: given[k] if k in given else defaults.get(k) for k in keys}
                if found.get("id", 0) is None:
                    del found["id"]
                values.append(found)
            taken.append((table, values))
        return taken


async def write(
    connection: AsyncConnection, taken: list[tuple[sa.Table, list[dict[str, Any]]]]
) -> None:
    """Insert the rows in the connection's transaction: PostgreSQL's binary COPY (the values
    through the columns' own bind processors, as an INSERT sends them), else executemany."""
    dialect = connection.dialect
    if dialect.name != "postgresql":
        for table, values in taken:
            json_columns = [c.key for c in table.columns if isinstance(c.type, JSONType)]
            for row in values:
                for key in json_columns:  # an empty JSON column is SQL NULL, as the ORM writes
                    if row.get(key, 0) is None:
                        row[key] = sa.null()
            await connection.execute(sa.insert(table), values)
        return
    await connection.execute(sa.text("SELECT 1"))  # the transaction begins, COPY runs in it
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    for table, values in taken:
        keys = list(values[0])
        converted = []
        for index, key in enumerate(keys):
            column_type = table.columns[key].type
            process = column_type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                converted.append((index, process))
        records = []
        for row in values:
            record = list(row.values())
            for index, process in converted:
                if record[index] is not None:
                    record[index] = process(record[index])
            records.append(tuple(record))
        await driver.copy_records_to_table(table.name, records=records, columns=keys)
