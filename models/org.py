"""园区/片区 and 监督事项: where enterprises are and what they report about."""

from __future__ import annotations

import enum

from sqlmodel import Field, SQLModel

from models.types import enum_type


class Track(enum.StrEnum):
    """How a category is handled: openly with deadlines, or confidentially."""

    APPEAL = "appeal"  # 诉求
    CLUE = "clue"  # 问题线索

    @property
    def label(self) -> str:
        return {"appeal": "诉求", "clue": "问题线索"}[self.value]


class Zone(SQLModel, table=True):
    """A 园区 or 片区, with the unit that issues cards there (e.g. 安居经开区纪工委)."""

    __tablename__ = "zones"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    issuing_unit: str = Field(max_length=100)
    active: bool = True


class Category(SQLModel, table=True):
    """A 监督事项 (立项监督项目) that a reporter picks, with its track."""

    __tablename__ = "categories"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    track: Track = Field(sa_type=enum_type(Track, 8))
    sort_order: int = 0
    active: bool = True
