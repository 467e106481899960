"""A web report's receipt code shown again: a browser shows only the answer to its last tap,
and taps under way at once finish in any order, so the code a 确认提交 of a submitted draft
shows must be the one that opens its case, whichever answer is the last.

Only a code's keyed hash is kept with the case, so the code just shown is kept, sealed under
the data key and bound to the draft, in the draft's row (``KEPT_RECEIPT``) for
``RECEIPT_SHOWN_AGAIN``: in that time a 确认提交 of the same draft from the same browser
session shows the same code; after it, a new one (``confirm_again``), kept in turn. The hourly
purge drops a kept code past its time; a new draft in the browser drops it at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.intake import Submitted, confirm_again
from models.intake import open_draft_value, seal_draft_value
from models.reporter import Reporter
from models.web_draft import KEPT_RECEIPT, WebDraft

RECEIPT_KEPT = "receipt-kept"
"""The step of a submitted draft that keeps its receipt code."""
SUBMITTED = "submitted"
"""The step of a submitted draft that keeps nothing."""
RECEIPT_SHOWN_AGAIN = timedelta(minutes=15)
"""How long after a code was shown (at 确认提交, or renewed) the same browser's 确认提交 of the
same draft (a double tap, a reload of the answer) shows it again."""
RENEW_TRIES = 5
"""How often a 确认提交 of a submitted draft tries to renew its receipt code when taps at the
same moment renew it too (each renewal a versioned update of the case)."""


async def keep_receipt(
    session: AsyncSession, session_key: str, draft_id: str, code: str | None, now: datetime
) -> None:
    """The receipt code just shown for a submitted draft, kept in its row for
    ``RECEIPT_SHOWN_AGAIN``: in the transaction that makes it the case's code."""
    if code is None:
        return
    await session.exec(
        update(WebDraft)
        .where(col(WebDraft.session_key) == session_key, col(WebDraft.draft_id) == draft_id)
        .values(
            step=RECEIPT_KEPT,
            data={
                "draft_id": draft_id,
                KEPT_RECEIPT: seal_draft_value(code, KEPT_RECEIPT, draft_id),
            },
            updated_at=now,
        )
    )


def kept_receipt(row: WebDraft | None, draft_id: str, now: datetime) -> str | None:
    """The receipt code a submitted draft keeps, while it is kept (None when there is none, it
    is older than ``RECEIPT_SHOWN_AGAIN`` or no longer opens)."""
    if row is None or row.draft_id != draft_id or row.step != RECEIPT_KEPT:
        return None
    if row.updated_at <= now - RECEIPT_SHOWN_AGAIN:
        return None
    return open_draft_value(row.data, KEPT_RECEIPT)


async def submitted_again(
    session: AsyncSession, reporter_id: int, session_key: str, draft_id: str, now: datetime
) -> Submitted | None:
    """A submitted draft's case for its browser's 确认提交 sent again, with the code the draft
    keeps, or a new one, kept in turn; None when the case is not found. ``StaleDataError`` when
    other taps renewed the code ``RENEW_TRIES`` times meanwhile."""
    for _ in range(RENEW_TRIES - 1):
        try:
            return await _again(session, reporter_id, session_key, draft_id, now)
        except StaleDataError:  # a tap at the same moment renewed it first: show that one
            await session.rollback()
    return await _again(session, reporter_id, session_key, draft_id, now)


async def _again(
    session: AsyncSession, reporter_id: int, session_key: str, draft_id: str, now: datetime
) -> Submitted | None:
    row = await session.get(WebDraft, session_key, populate_existing=True)
    reporter = await session.get(Reporter, reporter_id)
    if reporter is None:
        return None
    shown = kept_receipt(row, draft_id, now)
    again = await confirm_again(session, reporter, draft_id, now, shown=shown, commit=False)
    if again is not None and again.renewed:
        await keep_receipt(session, session_key, draft_id, again.receipt_code, now)
    await session.commit()
    return again


async def forget_kept_receipts(session: AsyncSession, now: datetime) -> None:
    """The codes submitted drafts keep past ``RECEIPT_SHOWN_AGAIN``, dropped (the caller
    commits)."""
    await session.exec(
        update(WebDraft)
        .where(
            col(WebDraft.step) == RECEIPT_KEPT,
            col(WebDraft.updated_at) <= now - RECEIPT_SHOWN_AGAIN,
        )
        .values(step=SUBMITTED, data={})
    )
