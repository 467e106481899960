"""Writing many rows at once (``models.bulk``, the sweep's writes) and checking many notices
once per shape (``notifications.outbox.ready``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import col, select

import notifications.outbox as outbox_module
from bot.db import SessionFactory
from models.bulk import _joined, insert_rows, update_rows
from models.notification import (
    Channel,
    Notice,
    Notification,
    NotificationStatus,
    Offer,
    Recipient,
    RecipientKind,
)
from notifications.outbox import queued, ready, shape
from tests.conftest import DEFAULT_NOW

CASE = {"number": "AJ2026-0007", "track": "appeal", "supervised": False, "reopen_count": 0}
TO = Recipient(RecipientKind.INSPECTOR, 5, 505, "人5")


def _warning(**changes: Any) -> Notice:
    params: dict[str, Any] = {
        "case": CASE | {"created_at": DEFAULT_NOW},
        "clock": "resolve",
        "label": "办结",
        "category": "营商环境",
        "team": "营商环境组",
        "assignee": "人1",
        "to_assignee": True,
        "due_text": "今日18:00",
        "provisional": False,
        "escalate_after": 2,
        "supervised": False,
        "hidden_clue": False,
    }
    return Notice.of("deadline_warning", **(params | changes))


def test_notices_that_differ_only_in_the_text_they_substitute_share_a_shape() -> None:
    assert shape(_warning()) == shape(
        _warning(case=CASE | {"number": "AJ2026-0099", "created_at": DEFAULT_NOW}, team="国企组")
    )
    assert shape(_warning()) == shape(_warning(escalate_after=3))  # said, or asked if any
    for different in (
        _warning(clock="accept"),  # a template looks the clock up
        _warning(assignee=None),  # or asks whether there is one
        _warning(supervised=True),
        _warning(team=""),
        _warning(escalate_after=0),
    ):
        assert shape(different) != shape(_warning())


def test_many_notices_are_rendered_once_per_shape_and_a_broken_one_is_still_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[str] = []
    render = outbox_module.render_notice  # type: ignore[attr-defined]

    def counting(notice: Notice, **kwargs: Any) -> str:
        rendered.append(notice.template)
        return render(notice, **kwargs)

    monkeypatch.setattr(outbox_module, "render_notice", counting)
    checked: set[Any] = set()
    for n in range(20):
        notice = _warning(assignee=f"人{n}", due_text=f"今日{n:02d}:00")
        ready(queued(kind="k", to=TO, notice=notice, now=DEFAULT_NOW, key=f"k{n}"), notice, checked)
    assert rendered == ["deadline_warning"]
    broken = _warning(clock="no_such_clock")  # the template's lookup fails
    with pytest.raises(Exception, match="no_such_clock"):
        ready(queued(kind="k", to=TO, notice=broken, now=DEFAULT_NOW, key="b"), broken, checked)


@pytest.mark.both_databases
async def test_rows_written_in_bulk_read_back_as_written_each_key_once(
    sessions: SessionFactory,
) -> None:
    notice = _warning()
    rows = [
        queued(
            kind="resolve_warning",
            to=TO,
            notice=notice,
            now=DEFAULT_NOW + timedelta(minutes=n),
            key=f"bulk:{n}",
            offer=Offer.CASE_WORK.on(7) if n else None,
        )
        for n in range(3)
    ]
    table = Notification.__table__  # type: ignore[attr-defined]
    async with sessions() as session:
        connection = await session.connection()
        first = await insert_rows(
            connection, table, rows[:2], skip_conflicts_on="key", returning=("id", "key")
        )
        again = await insert_rows(
            connection, table, rows, skip_conflicts_on="key", returning=("id", "key")
        )
        assert sorted(str(row[1]) for row in first) == ["bulk:0", "bulk:1"]
        assert [str(row[1]) for row in again] == ["bulk:2"]  # the others were queued already
        ids = {str(row[1]): int(row[0]) for row in [*first, *again]}
        updated = await update_rows(
            connection,
            table,
            [
                {"id": ids["bulk:0"], "attempts": 1, "status": NotificationStatus.SENT, "was": 0},
                {"id": ids["bulk:1"], "attempts": 2, "status": NotificationStatus.SENT, "was": 5},
            ],
            where_equal=[("attempts", "was")],
            constants={"claimed_by": None, "last_error": "x"},
        )
        assert updated == 1  # only the row whose attempts still held what was read
        await session.commit()
    async with sessions() as session:
        stored = (await session.exec(select(Notification).order_by(col(Notification.key)))).all()
    assert [(r.key, r.attempts, r.status, r.last_error) for r in stored] == [
        ("bulk:0", 1, NotificationStatus.SENT, "x"),
        ("bulk:1", 0, NotificationStatus.PENDING, None),
        ("bulk:2", 0, NotificationStatus.PENDING, None),
    ]
    assert stored[2].next_attempt_at == DEFAULT_NOW + timedelta(minutes=2)
    assert stored[1].channel is Channel.TELEGRAM and stored[1].offering == Offer.CASE_WORK.on(7)
    assert stored[0].offer is None and stored[0].notice == notice


@pytest.mark.both_databases
async def test_rows_alike_in_some_columns_or_alone_are_written_as_given(
    sessions: SessionFactory,
) -> None:
    """A column with one value in every row travels once (PostgreSQL): the rows read back as
    written, whatever the column holds (none, JSON, a time, an enum), one row alone too."""
    notice = _warning()
    alike = [
        queued(kind="resolve_warning", to=TO, notice=notice, now=DEFAULT_NOW, key=f"alike:{n}")
        for n in range(3)
    ]
    alike[1]["params"] = {"other": [1, "二"]}  # one differs: the column is not the same
    alone = [queued(kind="resolve_overdue", to=TO, notice=notice, now=DEFAULT_NOW, key="alone")]
    table = Notification.__table__  # type: ignore[attr-defined]
    async with sessions() as session:
        connection = await session.connection()
        for rows in (alike, alone):
            written = await insert_rows(connection, table, rows, returning=("key",))
            assert sorted(str(row[0]) for row in written) == sorted(r["key"] for r in rows)
        await session.commit()
    async with sessions() as session:
        stored = (await session.exec(select(Notification).order_by(col(Notification.key)))).all()
    assert [(r.key, r.kind, r.status, r.offer, r.document_id) for r in stored] == [
        ("alike:0", "resolve_warning", NotificationStatus.PENDING, None, None),
        ("alike:1", "resolve_warning", NotificationStatus.PENDING, None, None),
        ("alike:2", "resolve_warning", NotificationStatus.PENDING, None, None),
        ("alone", "resolve_overdue", NotificationStatus.PENDING, None, None),
    ]
    assert [r.params for r in stored] == [
        dict(notice.params),
        {"other": [1, "二"]},
        dict(notice.params),
        dict(notice.params),
    ]
    assert all(r.created_at == DEFAULT_NOW == r.next_attempt_at for r in stored)
    assert all(r.channel is Channel.TELEGRAM and r.chat_id == TO.chat_id for r in stored)


@pytest.mark.both_databases
async def test_values_that_recur_in_a_column_read_back_as_each_row_gave_them(
    sessions: SessionFactory,
) -> None:
    """A value that recurs in a column (a batch's deadlines, its statuses) is converted once
    for the database (SQLite): each row still reads back its own — one instant given in
    Shanghai's time and in UTC is the same time, a status between others stays its row's, and
    JSON documents alike are each written."""
    notice = _warning()
    shanghai = DEFAULT_NOW.astimezone(ZoneInfo("Asia/Shanghai"))
    times = [DEFAULT_NOW, shanghai, DEFAULT_NOW + timedelta(minutes=1), shanghai]
    statuses = [
        NotificationStatus.PENDING,
        NotificationStatus.DIGESTED,
        NotificationStatus.PENDING,
        NotificationStatus.DIGESTED,
    ]
    rows = [
        queued(kind="resolve_warning", to=TO, notice=notice, now=at, key=f"recur:{n}")
        | {"status": status}
        for n, (at, status) in enumerate(zip(times, statuses, strict=True))
    ]
    stored = await written_back(sessions, rows)
    assert [r.next_attempt_at for r in stored] == times
    assert [r.status for r in stored] == statuses
    assert all(r.params == dict(notice.params) for r in stored)


@pytest.mark.both_databases
async def test_texts_holding_any_character_or_none_or_empty_read_back_as_given(
    sessions: SessionFactory,
) -> None:
    """A column travels to PostgreSQL as one text split on control characters when it can: a
    text holding those characters, an empty text (alone in its column too) and a missing one
    still read back as each row gave them."""
    notice = _warning()
    errors = ["a\x1fb", "\x1e", None, "", "c\x1ed", "平常"]
    rows = [
        queued(kind="resolve_warning", to=TO, notice=notice, now=DEFAULT_NOW, key=f"odd:{n}")
        | {"last_error": error, "attempts": n}
        for n, error in enumerate(errors)
    ]
    alone = [queued(kind="resolve_warning", to=TO, notice=notice, now=DEFAULT_NOW) | {"key": ""}]
    table = Notification.__table__  # type: ignore[attr-defined]
    async with sessions() as session:
        for written in (rows, alone):
            await insert_rows(await session.connection(), table, written)
        await session.commit()
    async with sessions() as session:
        stored = (await session.exec(select(Notification).order_by(col(Notification.key)))).all()
    assert [(r.key, r.last_error, r.attempts) for r in stored] == [
        ("", None, 0),
        *((f"odd:{n}", error, n) for n, error in enumerate(errors)),
    ]


@pytest.mark.both_databases
async def test_an_empty_text_stays_empty_and_a_missing_one_missing_when_sent_as_one_text(
    sessions: SessionFactory,
) -> None:
    """A column of plain texts (no control character in any) goes to PostgreSQL as one text:
    an empty text beside others is still an empty text, not a missing one."""
    notice = _warning()
    errors = ["", None, "x", ""]
    assert _joined(errors, str) is not None  # this column takes the one-text way
    assert _joined(["a\x1fb", None], str) is None  # that of the test above, the array's
    rows = [
        queued(kind="resolve_warning", to=TO, notice=notice, now=DEFAULT_NOW, key=f"plain:{n}")
        | {"last_error": error}
        for n, error in enumerate(errors)
    ]
    stored = await written_back(sessions, rows)
    assert [r.last_error for r in stored] == errors


@pytest.mark.both_databases
async def test_a_text_longer_than_its_column_is_refused_not_cut_on_postgresql(
    sessions: SessionFactory,
) -> None:
    """A notice key longer than its column (200) is never stored cut short, where a cut key
    could meet another's and the notice be dropped as sent: PostgreSQL refuses the rows, as
    it refuses them from the ORM; SQLite keeps texts whole."""
    notice = _warning()
    long_key = "k" * 201
    rows = [
        queued(kind="resolve_warning", to=TO, notice=notice, now=DEFAULT_NOW, key=key)
        for key in (long_key, "short")
    ]
    table = Notification.__table__  # type: ignore[attr-defined]
    async with sessions() as session:
        connection = await session.connection()
        if connection.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="too long"):
                await insert_rows(connection, table, rows)
            return
        await insert_rows(connection, table, rows)
        await session.commit()
    async with sessions() as session:
        stored = (await session.exec(select(Notification).order_by(col(Notification.key)))).all()
    assert [r.key for r in stored] == [long_key, "short"]


@pytest.mark.both_databases
async def test_documents_equal_in_python_but_not_in_json_are_each_written_as_given(
    sessions: SessionFactory,
) -> None:
    """``{"n": 1}`` and ``{"n": True}`` are equal in Python: each row still gets its own
    document, not the first row's sent once for all."""
    notice = _warning()
    documents: list[dict[str, Any]] = [{"n": 1}, {"n": True}, {"n": 1.0}, {"n": 1}]
    rows = [
        queued(kind="resolve_warning", to=TO, notice=notice, now=DEFAULT_NOW, key=f"doc:{n}")
        | {"params": document}
        for n, document in enumerate(documents)
    ]
    stored = await written_back(sessions, rows)
    written = [(r.params or {}).get("n") for r in stored]
    assert [(n, type(n)) for n in written] == [(d["n"], type(d["n"])) for d in documents]


async def written_back(sessions: SessionFactory, rows: list[dict[str, Any]]) -> list[Notification]:
    """The rows inserted in bulk in one transaction, then read back in their keys' order."""
    table = Notification.__table__  # type: ignore[attr-defined]
    async with sessions() as session:
        await insert_rows(await session.connection(), table, rows)
        await session.commit()
    async with sessions() as session:
        query = select(Notification).order_by(col(Notification.key))
        return list((await session.exec(query)).all())
