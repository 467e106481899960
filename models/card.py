"""廉政监督联系卡: the printed card whose QR code opens the bot."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlmodel import Field, SQLModel

from models.org import Zone
from models.types import UTCDateTime, enum_type


class CardStatus(enum.StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"

    @property
    def label(self) -> str:
        return {"active": "有效", "revoked": "已作废"}[self.value]


class PrintBatch(SQLModel, table=True):
    """A set of cards issued together (one CSV import or one print run)."""

    __tablename__ = "print_batches"

    id: int | None = Field(default=None, primary_key=True)
    note: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Card(SQLModel, table=True):
    """A contact card: an opaque token for one enterprise in one zone."""

    __tablename__ = "cards"

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    enterprise_id: int = Field(foreign_key="enterprises.id", index=True)
    zone_id: int | None = Field(default=None, foreign_key="zones.id", index=True)
    issuing_unit: str = Field(max_length=100)
    status: CardStatus = Field(default=CardStatus.ACTIVE, sa_type=enum_type(CardStatus, 8))
    batch_id: int | None = Field(default=None, foreign_key="print_batches.id", index=True)
    scan_count: int = 0
    last_scan_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    replaced_by_id: int | None = Field(default=None, foreign_key="cards.id")
    printed_count: int = 0

    @classmethod
    def issue(
        cls,
        enterprise_id: int,
        zone: Zone | None,
        *,
        token: str,
        unit_without_zone: str,
        at: datetime,
        batch_id: int | None = None,
    ) -> Card:
        """A new active card for an enterprise in ``zone``: it names the zone's issuing unit
        (``unit_without_zone`` for an enterprise outside every zone)."""
        return cls(
            token=token,
            enterprise_id=enterprise_id,
            zone_id=zone.id if zone else None,
            issuing_unit=zone.issuing_unit if zone else unit_without_zone,
            batch_id=batch_id,
            created_at=at,
        )


class CardScan(SQLModel, table=True):
    """One opening of a card's link, for the scan counter and the reports."""

    __tablename__ = "card_scans"

    id: int | None = Field(default=None, primary_key=True)
    card_id: int = Field(foreign_key="cards.id", index=True)
    reporter_id: int | None = Field(default=None, foreign_key="reporters.id")
    scanned_at: datetime = Field(sa_type=UTCDateTime, index=True)
