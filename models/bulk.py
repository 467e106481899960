"""Many rows in one statement: inserts and updates for the writers in bulk (the deadline sweep).

On PostgreSQL the rows travel as one array per column (``unnest``; an inserted column whose
value is the same in every row, once): one statement, prepared once, whatever their number, where a statement per row (``executemany``) costs a round of the
server's executor each, and a multi-row ``VALUES`` a parse of thousands of parameters. Elsewhere
(SQLite, in the process) a statement runs over all rows (``executemany``) or takes a thousand
rows at once (an insert that returns what it wrote), their values converted once each by their
columns' types, without SQLAlchemy's work per row.

The values are those a Core statement takes (enums, aware datetimes, dicts for JSON); each is
converted as its column's type would convert it. The SQL is written from the table's own column
names (each looked up in ``table.c``), never from values.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from models.types import JSONType, NullableJSON, UTCDateTime, utc

_PG = postgresql.dialect()  # type: ignore[no-untyped-call]


def among(column: sa.ColumnElement[Any], values: Sequence[Any], dialect: str) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:array)``: one parameter whatever
    their number, so the statement is prepared once (an ``IN`` list is a new statement for each
    length) and the lookup goes by the column's index."""
    if dialect != "postgresql":
        return column.in_(list(values))
    array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
    return column == sa.any_(array)


def _pg_column(column: sa.Column[Any]) -> tuple[str, Callable[[Any], Any], str]:
    """How a column's values travel to PostgreSQL in an array: the array's element type, the
    conversion of one value, and the SQL that reads an element back as the column's type."""
    kind = column.type
    if isinstance(kind, JSONType | sa.JSON):
        none_is_null = isinstance(kind, NullableJSON)

        def as_json(value: Any) -> str | None:  # JSONB: parsed by the server, so written
            # as compact UTF-8 (half the time of the escaped default, and shorter on the wire)
            if value is None and none_is_null:
                return None
            return _COMPACT.encode(value)

        return "TEXT", as_json, "CAST({} AS JSONB)"
    if isinstance(kind, UTCDateTime):
        return "TIMESTAMP WITH TIME ZONE", lambda v: None if v is None else utc(v), "{}"
    if isinstance(kind, sa.Enum):
        return "TEXT", lambda v: v.value if isinstance(v, enum.Enum) else v, "{}"
    compiled = kind.compile(dialect=_PG)
    if compiled.startswith("VARCHAR"):  # String, SQLModel's AutoString (a decorator of it)
        # TEXT, not VARCHAR(n): an explicit cast to VARCHAR(n) cuts a longer text without a
        # word; from TEXT the insert's own assignment to the column refuses it, as the ORM would
        return "TEXT", _as_it_is, "{}"
    return compiled, _as_it_is, "{}"


_JOINABLE: dict[str, type] = {
    "TEXT": str,
    "INTEGER": int,
    "BIGINT": int,
    "SMALLINT": int,
    "BOOLEAN": bool,
    "TIMESTAMP WITH TIME ZONE": datetime,
}
"""The array element types whose column may travel as one joined text (``_joined``), with the
one Python type its values must have for that: any other value goes as an array, for the driver
to refuse what does not fit rather than the server to read it as it can."""


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
"""``json.dumps(…, ensure_ascii=False, separators=(",", ":"))``, made once, not for each row."""


def _as_it_is(value: Any) -> Any:
    return value


def _arrays(
    table: sa.Table,
    names: Sequence[str],
    rows: Sequence[dict[str, Any]],
    typed_as: dict[str, str] | None = None,
) -> tuple[dict[str, list[Any]], list[str], list[str]]:
    """The rows as one list per column (parameters ``c0``, ``c1`` …), the ``unnest`` arguments
    and, per column, the SQL that reads the element of ``u.cN`` as the column's type (a value
    that is no column of the table, as the column ``typed_as`` names)."""
    params: dict[str, Any] = {}
    arguments: list[str] = []
    reads: list[str] = []
    for index, name in enumerate(names):
        element, convert, read = _pg_column(table.c[(typed_as or {}).get(name, name)])
        column = [row[name] for row in rows]
        values = column if convert is _as_it_is else [convert(v) for v in column]
        text = _joined(values, _JOINABLE.get(element))
        if text is None:
            params[f"c{index}"] = values
            arguments.append(f"CAST(:c{index} AS {element}[])")
        else:
            params[f"c{index}"] = text
            arguments.append(
                f"CAST(string_to_array(CAST(:c{index} AS TEXT), chr(31), chr(30)) AS {element}[])"
            )
        reads.append(read.format(f"u.c{index}"))
    return params, arguments, reads


_APART, _NULL = "\x1f", "\x1e"
"""What ``_joined`` puts between two values and in place of a NULL (chr(31), chr(30))."""


def _joined(values: list[Any], joinable: type | None) -> str | None:
    """The values as one text that ``string_to_array(text, chr(31), chr(30))`` splits back into
    their texts, which the server reads as the column's type: a column travels as one text
    parameter instead of an array whose every element the driver checks and encodes on its
    own (asyncpg asks of each whether it is itself a list, through ``isinstance`` with the
    collections' ABCs). Texts, integers, booleans and aware times only, as the database reads
    them (an aware time in ISO 8601, its instant exact); None when the values cannot be sent
    so (another type, or one the column's element type does not take as ``joinable``, a text
    holding either mark, one empty text alone, which would split into no element): they go as
    an array then."""
    if joinable is None:
        return None
    kinds = set(map(type, values))
    nulls = values.count(None) if type(None) in kinds else 0
    kinds.discard(type(None))
    if not kinds:
        parts: list[str] = [_NULL] * len(values)
    elif joinable is str and kinds == {str}:
        parts = [_NULL if v is None else v for v in values] if nulls else values
    elif joinable is int and all(issubclass(k, int) and k is not bool for k in kinds):  # IntEnum
        parts = [_NULL if v is None else str(int(v)) for v in values]
    elif joinable is bool and kinds == {bool}:
        parts = [_NULL if v is None else ("true" if v else "false") for v in values]
    elif joinable is datetime and kinds == {datetime}:
        said: dict[datetime, str] = {}  # a batch's times recur: each said once
        parts = []
        for value in values:
            if value is None:
                parts.append(_NULL)
                continue
            text = said.get(value)
            if text is None:
                if value.utcoffset() is None:
                    return None  # a naive time: the server would read it in its own zone
                text = said[value] = value.isoformat()
            parts.append(text)
    else:
        return None
    joined = _APART.join(parts)
    if joined.count(_APART) != len(values) - 1 or joined.count(_NULL) != nulls or joined == "":
        return None
    return joined


def _bound(
    connection: AsyncConnection,
    table: sa.Table,
    names: Sequence[str],
    rows: Sequence[dict[str, Any]],
    typed_as: dict[str, str] | None = None,
) -> list[tuple[Any, ...]]:
    """The rows' values of ``names`` as the driver takes them, each converted by its column's
    type (what SQLAlchemy does for a statement, without its work per row): a column at a time,
    and a value that recurs in a column (a batch's deadlines, states, kinds) converted once."""
    columns: list[list[Any]] = []
    for name in names:
        column = table.c[(typed_as or {}).get(name, name)]
        values = [row[name] for row in rows]
        processor = column.type.bind_processor(connection.dialect)
        if processor is None:
            columns.append(values)
        elif isinstance(column.type, JSONType | sa.JSON):  # documents: each its own
            columns.append([processor(value) for value in values])
        else:
            columns.append(_converted(values, processor))
    if not columns:
        return [() for _ in rows]
    return list(zip(*columns, strict=True))


def _converted(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """``process`` of each value, a value equal to one before (of the same type: ``True`` is
    not ``1``) given the same result: a type's conversion depends on the value alone (an aware
    time on its instant, since it is written in UTC). A value that cannot be hashed is
    converted every time."""
    done: dict[tuple[type, Any], Any] = {}
    converted: list[Any] = []
    for value in values:
        key = (value.__class__, value)
        try:
            result = done[key]
        except KeyError:
            result = done[key] = process(value)
        except TypeError:  # unhashable
            result = process(value)
        converted.append(result)
    return converted


async def _sqlite_insert(
    connection: AsyncConnection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    skip_conflicts_on: str | None,
    returning: Sequence[str],
) -> list[Any]:
    """``insert_rows`` elsewhere than PostgreSQL: multi-row ``VALUES``, as many rows a statement
    as SQLite's parameters allow, a column alike in every row (``_same_in_every_row``) bound
    once beside them; what it returns is as the driver returns it."""
    names = list(rows[0])
    fixed = _same_in_every_row(names, rows)
    varying = [name for name in names if name not in fixed]
    bound = _bound(connection, table, varying, rows)
    once = _bound(connection, table, list(fixed), [fixed])[0] if fixed else ()
    per_statement = max(1, min(1000, (SQLITE_PARAMETERS - len(fixed)) // len(varying)))
    placeholders = f"({', '.join('?' for _ in varying)})"
    position = {name: index for index, name in enumerate(varying, start=1)}
    # the VALUES' columns are column1, column2 …; a fixed one is its parameter, bound first
    chosen = ", ".join("?" if name in fixed else f"column{position[name]}" for name in names)
    written: list[Any] = []
    for start in range(0, len(bound), per_statement):
        chunk = bound[start : start + per_statement]
        rows_sql = ", ".join([placeholders] * len(chunk))
        # WHERE true: without it SQLite would read ON CONFLICT as the join's constraint
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT {chosen} FROM (VALUES {rows_sql}) WHERE true"  # noqa: S608
        if skip_conflicts_on is not None:
            sql += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
        if returning:
            sql += f" RETURNING {', '.join(returning)}"
        values = (*once, *(v for row in chunk for v in row))  # ``once`` in the columns' order
        result = await connection.exec_driver_sql(sql, values)
        if returning:
            written += result.all()
    return written


SQLITE_PARAMETERS = 32_766


def _columns(names: Sequence[str]) -> str:
    return ", ".join(f"c{index}" for index in range(len(names)))


def _same_in_every_row(names: Sequence[str], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The columns whose value is the same in every row (a batch's time, status, actor …),
    with it: sent once as a parameter rather than as an array of copies, each converted and
    checked by the driver and unpacked by the server. The first column travels as an array
    whatever it holds, so that ``unnest`` has one and the rows are counted."""
    first, last = rows[0], rows[-1]
    fixed: dict[str, Any] = {}
    for name in names[1:]:
        value = first[name]
        kind = type(value)
        if type(last[name]) is not kind or last[name] != value:
            continue  # differs at once (a key, an id): no need to look further
        column = [row[name] for row in rows]
        # counted and typed in C rather than a generator's step a row (``True == 1``: the
        # types too)
        if column.count(value) == len(column) and set(map(type, column)) == {kind}:
            if kind in (dict, list) and not _same_documents(column):
                continue
            fixed[name] = value
    return fixed


def _same_documents(documents: list[Any]) -> bool:
    """Whether JSON documents equal by ``==`` are the same documents: ``{"a": 1}``,
    ``{"a": True}`` and ``{"a": 1.0}`` are equal in Python and three documents in JSON. One
    that cannot be written so is taken as different (it travels with its row)."""
    try:
        first = _COMPACT.encode(documents[0])
        return all(_COMPACT.encode(document) == first for document in documents[1:])
    except (TypeError, ValueError):
        return False


async def insert_rows(
    connection: AsyncConnection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    skip_conflicts_on: str | None = None,
    returning: Sequence[str] = (),
) -> list[Any]:
    """Insert ``rows`` (each with the same keys) in one statement; with ``skip_conflicts_on``,
    a row whose value of that unique column is taken is left out (``ON CONFLICT DO NOTHING``).
    Returns the ``returning`` columns of the rows written."""
    if not rows:
        return []
    names = list(rows[0])
    if connection.dialect.name != "postgresql":
        return await _sqlite_insert(connection, table, rows, skip_conflicts_on, returning)
    fixed = _same_in_every_row(names, rows)
    varying = [name for name in names if name not in fixed]
    params, arguments, reads = _arrays(table, varying, rows)
    read = dict(zip(varying, reads, strict=True))
    for index, (name, value) in enumerate(fixed.items()):
        element, convert, read_as = _pg_column(table.c[name])
        params[f"k{index}"] = convert(value)
        read[name] = read_as.format(f"CAST(:k{index} AS {element})")
    sql = (
        f"INSERT INTO {table.name} ({', '.join(names)}) "  # noqa: S608
        f"SELECT {', '.join(read[name] for name in names)} "
        f"FROM unnest({', '.join(arguments)}) AS u({_columns(varying)})"
    )
    if skip_conflicts_on is not None:
        sql += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
        typed = sa.text(sql).columns(*(table.c[name] for name in returning))
        return list((await connection.execute(typed, params)).all())
    await connection.execute(sa.text(sql), params)
    return []


async def update_rows(
    connection: AsyncConnection,
    table: sa.Table,
    rows: Sequence[dict[str, Any]],
    *,
    key: str = "id",
    where_equal: Sequence[tuple[str, str]] = (),
    constants: dict[str, Any] | None = None,
) -> int:
    """Update each row's columns (its keys but ``key`` and the ``where_equal`` values) on the
    table's row whose ``key`` column equals its ``key`` value; ``where_equal`` pairs (column,
    row value name) update only rows whose column still holds the value (a version read);
    ``constants`` are set on every row. One statement on PostgreSQL, ``executemany`` elsewhere.
    Returns how many rows were updated (where the driver can tell)."""
    if not rows:
        return 0
    constants = constants or {}
    checks = dict(where_equal)
    names = list(rows[0])
    changed = [n for n in names if n != key and n not in checks.values()]
    typed_as = {value: column for column, value in checks.items()}
    if connection.dialect.name != "postgresql":
        bound = _bound(connection, table, [*changed, key, *checks.values()], rows, typed_as)
        fixed = _bound(connection, table, list(constants), [constants])[0]
        assignments = [f"{n} = ?" for n in [*changed, *constants]]
        conditions = [f"{n} = ?" for n in [key, *checks]]
        sql = f"UPDATE {table.name} SET {', '.join(assignments)} WHERE {' AND '.join(conditions)}"  # noqa: S608
        values = [row[: len(changed)] + fixed + row[len(changed) :] for row in bound]
        return int((await connection.exec_driver_sql(sql, values)).rowcount)
    params, arguments, reads = _arrays(table, names, rows, typed_as)
    read = dict(zip(names, reads, strict=True))
    assignments = [f"{n} = {read[n]}" for n in changed]
    for index, (name, value) in enumerate(constants.items()):
        params[f"k{index}"] = _pg_column(table.c[name])[1](value)
        assignments.append(f"{name} = :k{index}")
    conditions = [f"{table.name}.{key} = {read[key]}"]
    conditions += [f"{table.name}.{column} = {read[value]}" for column, value in checks.items()]
    sql = (
        f"UPDATE {table.name} SET {', '.join(assignments)} "  # noqa: S608
        f"FROM unnest({', '.join(arguments)}) AS u({_columns(names)}) "
        f"WHERE {' AND '.join(conditions)}"
    )
    return int((await connection.execute(sa.text(sql), params)).rowcount)
