"""A queued notice says what to say (a template and plain parameters), not how: the codec keeps
times and enums as plain JSON, and each channel renders the same row its own way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlmodel import select

from bot.db import SessionFactory
from models.case import CaseStatus
from models.notification import (
    Channel,
    Notice,
    Notification,
    NotificationStatus,
    Recipient,
    RecipientKind,
    decode_param,
    encode_param,
)
from models.org import Track
from models.team import Inspector, Role
from notifications.outbox import enqueue
from notifications.render import page_html, render_notice, telegram_html
from notifications.sender import claim_notifications

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)  # 17:30 in Asia/Shanghai


def test_a_datetime_is_kept_as_utc_iso_text_and_comes_back_aware() -> None:
    beijing = AT.astimezone(timezone(timedelta(hours=8)))
    encoded = encode_param({"due": beijing})
    assert encoded == {"due": {"$utc": "2026-12-07T09:30:00+00:00"}}
    assert json.loads(json.dumps(encoded)) == encoded
    decoded = decode_param(encoded)
    assert decoded == {"due": AT} and decoded["due"].tzinfo is not None


def test_enums_are_kept_as_their_values() -> None:
    notice = Notice.of("x", track=Track.CLUE, statuses=[CaseStatus.ASSIGNED])
    assert notice.params == {"track": "clue", "statuses": ["assigned"]}


def test_a_naive_datetime_or_an_object_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        Notice.of("x", at=datetime(2026, 12, 7, 9, 30))
    with pytest.raises(TypeError, match="Inspector"):
        Notice.of("x", person=Inspector(name="李监督", role=Role.INSPECTOR, created_at=AT))
    with pytest.raises(TypeError, match="plain name"):
        Notice.of("x", odd={"$utc": "2026-12-07T09:30:00+00:00"})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text().filter(lambda k: k != "$utc"), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(JSON_VALUES)
def test_plain_values_go_through_the_codec_unchanged(value: object) -> None:
    assert decode_param(encode_param(value)) == value
    assert json.loads(json.dumps(encode_param(value))) == encode_param(value)


def test_the_template_shows_a_stored_time_in_asia_shanghai() -> None:
    notice = Notice.of(
        "case_extended",
        case={"number": "AJ-2026-00001"},
        status="办理中",
        days=5,
        resolve_due=AT,
        provisional=False,
    )
    stored = Notice(notice.template, json.loads(json.dumps(notice.params)))
    assert "2026年12月07日（周一）" in render_notice(stored)


@pytest.mark.both_databases
async def test_one_queued_row_is_rendered_for_telegram_and_for_a_page(
    sessions: SessionFactory,
) -> None:
    async with sessions() as session:
        await enqueue(
            session,
            key="1:material:3:i7",
            kind="material",
            to=Recipient(RecipientKind.INSPECTOR, 0, 701),
            notice=Notice.of(
                "reporter_material_added", number="AJ-2026-00001", files=1, note="<i>补充</i>"
            ),
            now=AT,
        )
        await session.commit()
    async with sessions() as session:
        row = (await session.exec(select(Notification))).one()
    assert row.text is None and row.template == "reporter_material_added"
    telegram = telegram_html(row)
    assert "&lt;i&gt;补充&lt;/i&gt;" in telegram and "\n" in telegram
    page = page_html(row)
    assert str(page) == telegram.replace("\n", "<br>\n")
    assert "<i>" not in page and "<br>" in page


@pytest.mark.both_databases
async def test_a_web_row_is_never_claimed_by_the_telegram_sender(sessions: SessionFactory) -> None:
    notice = Notice.of("reporter_withdrawn_notice", number="AJ-2026-00001")
    async with sessions() as session:
        for key, channel, chat in (("web", Channel.WEB, None), ("tg", Channel.TELEGRAM, 701)):
            await enqueue(
                session,
                key=key,
                kind="withdrawn",
                to=Recipient(RecipientKind.REPORTER, 0, chat, channel=channel),
                notice=notice,
                now=AT,
            )
        await session.commit()
    async with sessions() as session:
        claimed = await claim_notifications(session, AT + timedelta(hours=1), "s", 10, timedelta(1))
    assert [row.key for row in claimed] == ["tg"]
    async with sessions() as session:
        web = (await session.exec(select(Notification).where(Notification.key == "web"))).one()
    assert (web.status, web.claimed_by, web.chat_id) == (NotificationStatus.PENDING, None, None)
    assert "AJ-2026-00001" in page_html(web)


async def test_a_telegram_notice_needs_a_chat(sessions: SessionFactory) -> None:
    async with sessions() as session:
        with pytest.raises(ValueError, match="needs a chat"):
            await enqueue(
                session,
                key="k",
                kind="withdrawn",
                to=Recipient(RecipientKind.REPORTER, 0, None),
                notice=Notice.of("reporter_withdrawn_notice", number="AJ-2026-00001"),
                now=AT,
            )
