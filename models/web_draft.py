"""A report being entered on the web page, kept on the server between the pages.

The browser holds only a signed cookie with a random session id; the row is found by a hash of
that id (``session_key``), so the table never holds a value that would open a session. The
report's data (an ``IntakeDraft``'s ``to_data()``) stays until the report is submitted, then is
cleared (but for the receipt code just shown, sealed, kept a few minutes so that a double tap
shows the same one); an untouched row expires ``WEB_DRAFT_DAYS`` after its last change and is
purged.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime

WEB_DRAFT_DAYS = 7
WEB_DRAFT_LIFETIME = timedelta(days=WEB_DRAFT_DAYS)
KEPT_RECEIPT = "receipt_code"
"""The field of a submitted draft's data that keeps, for a few minutes, the receipt code just
shown (sealed under the data key, bound to the draft: ``models.intake.seal_draft_value``)."""


class WebDraft(SQLModel, table=True):
    """One web session's report through one card: its step and what was entered so far.
    ``reporter_id`` is set, and ``data`` emptied, once it is submitted (a form sent again then
    finds the case through ``submit_case``'s ``draft_id`` instead of making a second one)."""

    __tablename__ = "web_drafts"

    session_key: str = Field(max_length=64, primary_key=True)
    card_id: int = Field(foreign_key="cards.id", index=True)
    draft_id: str = Field(max_length=32)
    step: str = Field(max_length=40)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    reporter_id: int | None = Field(default=None, foreign_key="reporters.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)

    def touch(self, now: datetime) -> None:
        """Changed now: it lives another ``WEB_DRAFT_DAYS``."""
        self.updated_at = now
        self.expires_at = now + WEB_DRAFT_LIFETIME
