"""企业反映人: who reports, kept apart from what they report.

The Telegram account of a reporter lives here, not on the case; a named report's name and phone
live in ``ReporterContact``, one row per case, and are shown only where the rules allow.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models import keys
from models.notification import Channel
from models.types import UTCDateTime, enum_type


class Reporter(SQLModel, table=True):
    """Someone who reports through a card: a Telegram account (``telegram_user_id``, and the
    chat notices go to), or a web reporter (``channel`` web: no account and no chat; one row
    per report made on the web page, found again by its receipt code), with the card they came
    through."""

    __tablename__ = "reporters"

    id: int | None = Field(default=None, primary_key=True)
    channel: Channel = Field(
        default=Channel.TELEGRAM,
        sa_type=enum_type(Channel, 12),
        sa_column_kwargs={"server_default": Channel.TELEGRAM.value},
    )
    telegram_user_id: int | None = Field(default=None, unique=True, sa_type=sa.BigInteger)
    chat_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    card_id: int | None = Field(default=None, foreign_key="cards.id")
    enterprise_id: int | None = Field(default=None, foreign_key="enterprises.id")
    zone_id: int | None = Field(default=None, foreign_key="zones.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    blocked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def web_reporter(
    *, card_id: int, enterprise_id: int | None, zone_id: int | None, now: datetime
) -> Reporter:
    """A reporter who came through a card's web page: where from, and nothing about who."""
    return Reporter(
        channel=Channel.WEB,
        card_id=card_id,
        enterprise_id=enterprise_id,
        zone_id=zone_id,
        created_at=now,
        last_seen_at=now,
    )


def needs_receipt(reporter: Reporter, *, anonymous: bool) -> bool:
    """A receipt code is how a report is found again: every anonymous one, and every one made on
    the web (a web reporter has no chat to be found by)."""
    return anonymous or reporter.channel is Channel.WEB


class ReporterContact(SQLModel, table=True):
    """The name and phone a reporter gave for one named (实名) case, both sealed under the data
    key and bound to this case (``sealed_contact``); ``phone_index`` is a keyed blind index of
    the phone (``phone_index``), so staff who may can find a reporter by phone without a plain
    column. Read them with ``name_plain()`` / ``phone_plain()``."""

    __tablename__ = "reporter_contacts"

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    name: str = Field(max_length=255)
    phone: str = Field(max_length=255)
    phone_index: str | None = Field(default=None, max_length=64, index=True)

    def name_plain(self) -> str:
        return keys.current().open(self.name, context=contact_context("name", self.case_id))

    def phone_plain(self) -> str:
        return keys.current().open(self.phone, context=contact_context("phone", self.case_id))


def contact_context(column: str, case_id: int) -> str:
    """Where a contact value is kept: a sealed value copied to another case does not open."""
    return f"reporter_contacts.{column}:{case_id}"


def phone_index(phone: str) -> str:
    """The keyed blind index of a phone number (its digits, without +86): equal phones, equal
    index; without the audit key it cannot be computed, so it gives nothing to guess against."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", phone) if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):  # +86 138…: the same mobile number
        digits = digits[2:]
    return keys.current().keyed_hash("phone", digits)


def sealed_contact(case_id: int, *, name: str, phone: str) -> ReporterContact:
    """The row a named case's contact is stored as: nothing of it readable without the key."""
    ring = keys.current()
    return ReporterContact(
        case_id=case_id,
        name=ring.seal(name, context=contact_context("name", case_id)),
        phone=ring.seal(phone, context=contact_context("phone", case_id)),
        phone_index=phone_index(phone),
    )


class CaseFollower(SQLModel, table=True):
    """A Telegram account following a case by its receipt code (``/track``)."""

    __tablename__ = "case_followers"

    case_id: int = Field(foreign_key="cases.id", primary_key=True)
    reporter_id: int = Field(foreign_key="reporters.id", primary_key=True)
    created_at: datetime = Field(sa_type=UTCDateTime)


RECEIPT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
"""No 0/O, 1/I/L: a receipt code is read aloud and typed by hand."""
RECEIPT_LENGTH = 12


def new_receipt_code() -> str:
    """A fresh anonymous receipt code, e.g. ``7KQM-4TXD-92HP`` (12 characters, ~59 bits)."""
    raw = "".join(secrets.choice(RECEIPT_ALPHABET) for _ in range(RECEIPT_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, RECEIPT_LENGTH, 4))


def normalize_receipt_code(code: str) -> str:
    """What people type (spaces, dashes, lower case, full width) to the canonical 12 characters."""
    text = unicodedata.normalize("NFKC", code).upper()
    return "".join(ch for ch in text if ch.isalnum())


def receipt_shaped(code: str) -> bool:
    """Whether what was typed can be a receipt code at all (12 letters and digits once spaces
    and dashes are dropped): anything else is a slip, not a guess, and is not counted."""
    normalized = normalize_receipt_code(code)
    return len(normalized) == RECEIPT_LENGTH and normalized.isascii()


def receipt_digest(code: str) -> str:
    """The unkeyed SHA-256 of a normalized receipt code (what was stored before 0015)."""
    return hashlib.sha256(normalize_receipt_code(code).encode("ascii", "ignore")).hexdigest()


def rekey_receipt_digest(digest: str) -> str:
    """A stored unkeyed digest to the keyed hash (migration 0015 converts rows with it)."""
    return keys.current().keyed_hash("receipt", digest)


def receipt_hash(code: str) -> str:
    """Only this keyed hash of a receipt code is stored: HMAC under the audit key's "receipt"
    sub-key (a server-side pepper) over the code's SHA-256, so a copy of the database alone
    gives nothing to guess codes against."""
    return rekey_receipt_digest(receipt_digest(code))
