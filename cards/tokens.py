"""Card tokens and the link a card's QR code opens: the web landing page on the commission's
address when one is configured, otherwise the bot's deep link."""

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


def bot_link(bot_username: str) -> str:
    """The bot's own address in Telegram."""
    return f"https://t.me/{bot_username.removeprefix('@')}"


def card_link(bot_username: str, token: str) -> str:
    """The Telegram deep link of a card: it opens the bot with the token as start parameter."""
    return f"{bot_link(bot_username)}?start={token}"


def web_card_link(public_url: str, token: str) -> str:
    """The card's landing page on the commission's own address: ``<public url>/c/<token>``."""
    return f"{public_url.rstrip('/')}/c/{token}"


def printed_card_link(token: str, *, bot_username: str, public_url: str | None) -> str:
    """What a card's QR code encodes: the landing page when a public address is configured (it
    offers the web report and the Telegram chat), otherwise the Telegram deep link."""
    if public_url:
        return web_card_link(public_url, token)
    return card_link(bot_username, token)
