"""立项监督组 and the people in them: inspectors, team leaders, leaders, admins."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime, enum_type


class AssignmentMode(enum.StrEnum):
    """What happens when a case reaches a team."""

    AUTO = "auto"  # the active inspector with the fewest open cases
    LEADER = "leader"  # the team leader assigns by hand


class Role(enum.StrEnum):
    """What a registered person may do."""

    INSPECTOR = "inspector"  # 监督员
    TEAM_LEADER = "team_leader"  # 组长
    LEADER = "leader"  # 分管领导 / 委领导
    ADMIN = "admin"  # 管理员

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.INSPECTOR: "监督员",
    Role.TEAM_LEADER: "组长",
    Role.LEADER: "委领导",
    Role.ADMIN: "管理员",
}


class Team(SQLModel, table=True):
    """A 立项监督组; the dispatcher team (e.g. 信访室) takes what no rule routes."""

    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=40, unique=True)
    name: str = Field(max_length=100)
    is_dispatcher: bool = False
    assignment: AssignmentMode = Field(
        default=AssignmentMode.AUTO, sa_type=enum_type(AssignmentMode, 8)
    )
    active: bool = True


class TeamCategory(SQLModel, table=True):
    """A category a team covers."""

    __tablename__ = "team_categories"

    team_id: int = Field(foreign_key="teams.id", primary_key=True)
    category_id: int = Field(foreign_key="categories.id", primary_key=True)


class TeamZone(SQLModel, table=True):
    """A zone a team covers."""

    __tablename__ = "team_zones"

    team_id: int = Field(foreign_key="teams.id", primary_key=True)
    zone_id: int = Field(foreign_key="zones.id", primary_key=True)


class Inspector(SQLModel, table=True):
    """A registered person on the commission's side, bound to one Telegram account."""

    __tablename__ = "inspectors"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    role: Role = Field(sa_type=enum_type(Role, 16))
    team_id: int | None = Field(default=None, foreign_key="teams.id", index=True)
    telegram_user_id: int | None = Field(default=None, unique=True, sa_type=sa.BigInteger)
    chat_id: int | None = Field(default=None, sa_type=sa.BigInteger)
    active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_assigned_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    blocked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class InviteCode(SQLModel, table=True):
    """A one-time registration link (``start=i_<code>``); only the code's hash is kept."""

    __tablename__ = "invite_codes"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(max_length=64, unique=True)
    team_id: int | None = Field(default=None, foreign_key="teams.id")
    role: Role = Field(sa_type=enum_type(Role, 16))
    name: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    inspector_id: int | None = Field(default=None, foreign_key="inspectors.id")
