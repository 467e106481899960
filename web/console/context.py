"""What every console page shares: the console's parts, kept on the application."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from bot.blobs import BlobStore
from bot.clock import Clock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.calendar import CalendarCache
from bot.services.materials import TelegramFiles
from bot.services.policy import Policy
from bot.services.rate_limits import Limit, RateLimiter
from bot.settings import IPNetwork
from models.calendar import WorkCalendar

CONSOLE_PREFIX = "console-"  # the names of the console's routes
SIGN_IN_LIMIT = Limit("console-sign-in", 20, timedelta(minutes=10))
"""Failed sign-in attempts from one address (passwords and codes), shared by every instance."""
ATTEMPT_LIMIT = Limit("console-sign-in-attempts", 100, timedelta(minutes=10))
"""Every attempt from one address, counted before it is checked: what a burst of attempts in
parallel can use before the failures are counted (an office behind one address signs in well
within it)."""


@dataclass
class Console:
    """The organisation, the database, the clock, the calendar (re-read when a year's schedule
    is loaded), the blob store, the Bot API's files (a Telegram file fetched when a page
    shows it; None without a token), and the secret that signs the forms' CSRF tokens."""

    config: LiankaConfig
    sessions: SessionFactory
    clock: Clock
    calendars: CalendarCache
    blobs: BlobStore
    limiter: RateLimiter
    secret: str = field(repr=False)
    telegram_files: TelegramFiles | None = None
    bot_username: str = ""
    public_url: str = ""
    trusted_proxies: tuple[IPNetwork, ...] = ()
    secure_cookies: bool = False
    anchor_file: Path | None = None  # the audit anchors (审计 checks the database against them)

    @property
    def policy(self) -> Policy:
        """The config with the calendar as last read (each request re-reads it at most once a
        minute, before its handler runs)."""
        return self.calendars.last

    async def calendar(self) -> WorkCalendar:
        async with self.sessions() as session:
            return await self.calendars.current(session)


CONSOLE = web.AppKey("lianka_console", Console)
