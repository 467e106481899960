"""The landing pages this process served lately, kept for ``LANDING_TTL``: a card opened again
within it is answered from memory (the same bytes, no database, no template), its scan still
counted. Only known, active cards are kept; an unknown token never is.

What this costs: a card revoked or reissued meanwhile can still show its landing page for up to
``LANDING_TTL`` on an instance that kept it; everything past the page (the report's pages and
forms) reads the card from the database every time and refuses it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.services.reporters import CardLanding

LANDING_TTL = timedelta(seconds=10)
MAX_CARDS = 10_000
"""Pages kept at most (one per card); past it, the expired ones go, or else all of them."""


@dataclass(frozen=True, slots=True)
class CachedLanding:
    """A card's landing page as it was served: what it showed, and its body."""

    landing: CardLanding
    body: bytes
    until: datetime


class LandingCache:
    """Landing pages by card token, each for ``ttl`` from when it was rendered."""

    def __init__(self, ttl: timedelta = LANDING_TTL, *, max_cards: int = MAX_CARDS) -> None:
        self.ttl = ttl
        self._max_cards = max_cards
        self._pages: dict[str, CachedLanding] = {}

    def get(self, token: str, now: datetime) -> CachedLanding | None:
        """The page kept for ``token``, unless it has expired."""
        page = self._pages.get(token)
        if page is None:
            return None
        if now >= page.until:
            del self._pages[token]
            return None
        return page

    def put(self, landing: CardLanding, body: bytes, now: datetime) -> None:
        """Keep a known card's page (rendered at ``now``) for ``ttl``."""
        if self.ttl <= timedelta(0):
            return
        if len(self._pages) >= self._max_cards and landing.token not in self._pages:
            self._pages = {t: p for t, p in self._pages.items() if now < p.until}
            if len(self._pages) >= self._max_cards:
                self._pages.clear()
        self._pages[landing.token] = CachedLanding(landing, body, now + self.ttl)
