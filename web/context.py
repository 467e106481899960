"""What every page of the web channel shares: the channel's parts, kept on the application."""

from __future__ import annotations

import functools
import ipaddress
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from bot.blobs import BlobStore, DirectoryBlobStore
from bot.clock import Clock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.card_scans import ScanBuffer
from bot.services.intake import Counter
from bot.services.rate_limits import RateLimiter, SqlRateLimiter
from bot.services.reporters import AttemptGuard
from bot.settings import IPNetwork
from web.landing_cache import LandingCache

STATIC = Path(__file__).with_name("static")
ROUTE_PREFIX = "web-"  # the names of the channel's routes, so the middlewares know them


@dataclass
class WebChannel:
    """What the pages need: the organisation, the database, the clock, the bot's username for the
    Telegram links, and the guard against guessing card tokens (per client address, in this
    process; a restart forgets, and another instance counts on its own). ``secret`` signs the
    session cookies and form tokens (``LIANKA_WEB_SECRET``; without it, one made for this
    process); ``secure_cookies`` when the public address is HTTPS."""

    config: LiankaConfig
    sessions: SessionFactory
    clock: Clock
    bot_username: str
    trusted_proxies: tuple[IPNetwork, ...] = ()
    guard: AttemptGuard = field(default_factory=AttemptGuard)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    secure_cookies: bool = False
    limiter: RateLimiter = field(default=None)  # type: ignore[assignment]
    """The rate limits several instances share (``bot.services.rate_limits``); by default in
    the database."""
    blobs: BlobStore = field(default=None)  # type: ignore[assignment]
    """Where uploaded files are kept (``LIANKA_BLOB_STORE``); by default ``var/blobs``."""
    cases_submitted: Counter | None = None
    """``lianka run``'s count of reports submitted (the web's with the chat's); none alone."""
    scans: ScanBuffer = field(default=None)  # type: ignore[assignment]
    """The landing pages' scans, written behind every second (``bot.services.card_scans``):
    started and written out with the application (``add_web_channel``)."""
    landings: LandingCache = field(default_factory=LandingCache)
    """Known cards' landing pages served lately, answered again from memory for a few seconds."""

    def __post_init__(self) -> None:
        if self.limiter is None:
            self.limiter = SqlRateLimiter(self.sessions)
        if self.scans is None:
            self.scans = ScanBuffer(self.sessions)
        if self.blobs is None:
            self.blobs = DirectoryBlobStore(Path("var") / "blobs")


CHANNEL = web.AppKey("lianka_web_channel", WebChannel)


@functools.lru_cache(maxsize=4096)  # every page asks; the same few addresses, parsed once
def _within(address: str, networks: tuple[IPNetwork, ...]) -> bool:
    if not networks:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: web.Request, trusted: tuple[IPNetwork, ...]) -> str:
    """The address a request came from: the peer's, or, when the peer is a trusted proxy, the
    last address in ``X-Forwarded-For`` that is not one of the trusted proxies (the one the
    outermost trusted proxy saw; what a client wrote further left is not believed)."""
    peer = request.remote or "unknown"
    if not _within(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
    ]
    for hop in reversed(hops):
        if not _within(hop, trusted):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer
    return peer
