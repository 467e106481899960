"""The web report's use cases: the report being entered, kept on the server between pages
(``WebDraft``, keyed by the hash of the browser's session id), and its purge once expired."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import col

from bot.db import SessionFactory
from models.web_draft import WebDraft

logger = logging.getLogger(__name__)


async def purge_expired_web_drafts(sessions: SessionFactory, now: datetime) -> int:
    """Hourly: delete the web drafts untouched for ``WEB_DRAFT_DAYS`` (what was entered goes
    with them); returns how many."""
    async with sessions() as session:
        result = await session.exec(delete(WebDraft).where(col(WebDraft.expires_at) <= now))
        await session.commit()
    return int(result.rowcount or 0)
