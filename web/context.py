"""What every page of the web channel shares: the channel's parts, kept on the application."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot.clock import Clock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.reporters import AttemptGuard

STATIC = Path(__file__).with_name("static")
ROUTE_PREFIX = "web-"  # the names of the channel's routes, so the middlewares know them


@dataclass
class WebChannel:
    """What the pages need: the organisation, the database, the clock, the bot's username for the
    Telegram links, and the guard against guessing card tokens (per client address, in this
    process; a restart forgets, and another instance counts on its own)."""

    config: LiankaConfig
    sessions: SessionFactory
    clock: Clock
    bot_username: str
    guard: AttemptGuard = field(default_factory=AttemptGuard)


CHANNEL = web.AppKey("lianka_web_channel", WebChannel)
