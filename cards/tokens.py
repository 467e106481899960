"""Card tokens and the deep link a card's QR code opens."""

from __future__ import annotations

import re
import secrets

TOKEN_PREFIX = "c_"  # noqa: S105 (a prefix, not a secret)
TOKEN_MAX_LENGTH = 64  # Telegram's limit for a start parameter
TOKEN_RANDOM_BYTES = 16  # 128 bits, written as 22 URL-safe characters

_TOKEN_FORMAT = re.compile(r"c_[A-Za-z0-9_-]{1,62}")


def new_card_token() -> str:
    """A fresh unguessable token: ``c_`` and 22 URL-safe characters (128 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_BYTES)


def is_card_token(text: str) -> bool:
    """True when ``text`` has the form of a card token (``c_`` + URL-safe characters, ≤ 64)."""
    return _TOKEN_FORMAT.fullmatch(text) is not None


def card_link(bot_username: str, token: str) -> str:
    """The link printed as the card's QR code: it opens the bot with the token as start parameter."""
    return f"https://t.me/{bot_username.removeprefix('@')}?start={token}"
