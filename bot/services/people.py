"""Who is told: the people on the commission's side, looked up once per job."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from models.notification import Recipient, RecipientKind
from models.org import Track
from models.team import Inspector, Role


def as_recipient(inspector: Inspector) -> Recipient:
    return Recipient.inspector(inspector)


def unique(recipients: Iterable[Recipient]) -> list[Recipient]:
    """Each person once, in the order first named."""
    seen: dict[tuple[RecipientKind, int], Recipient] = {}
    for recipient in recipients:
        seen.setdefault((recipient.kind, recipient.id), recipient)
    return list(seen.values())


@dataclass(frozen=True, slots=True)
class Directory:
    """The active inspectors by id, by team and by role (reached in Telegram, or in the console
    when they have no chat)."""

    by_id: dict[int, Inspector]
    by_role: dict[Role, list[Inspector]] = field(init=False, repr=False, compare=False)
    recipients: dict[int, Recipient] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Each role's people in id order, and everyone's recipient, made once: the sweep asks
        for an assignee and a team's leaders per clock, which must not sort everyone each time."""
        by_role: dict[Role, list[Inspector]] = {}
        for inspector in sorted(self.by_id.values(), key=lambda i: i.id or 0):
            by_role.setdefault(inspector.role, []).append(inspector)
        object.__setattr__(self, "by_role", by_role)
        recipients = {key: as_recipient(i) for key, i in self.by_id.items()}
        object.__setattr__(self, "recipients", recipients)

    @classmethod
    async def load(cls, session: AsyncSession) -> Directory:
        rows = await session.exec(select(Inspector).where(col(Inspector.active).is_(True)))
        return cls({i.id: i for i in rows.all() if i.id is not None})

    def person(self, inspector_id: int | None) -> Recipient | None:
        return self.recipients.get(inspector_id) if inspector_id is not None else None

    def with_role(self, role: Role, team_id: int | None = None) -> list[Recipient]:
        return [
            self.recipients[i.id or 0]
            for i in self.by_role.get(role, [])
            if team_id is None or i.team_id == team_id
        ]

    def admins(self) -> list[Recipient]:
        return self.with_role(Role.ADMIN)

    def team_leaders(self, team_id: int | None, *, track: Track) -> list[Recipient]:
        """The team's leaders; for an appeal, the admins when the team has none (someone must
        hear of it). A clue is seen only by its team leader and assignee (DESIGN.md): a clue
        team without a leader gets nobody here — the rule of ``inspectors.team_leaders``, which
        the use cases follow (routing has told the admins, without the content)."""
        leaders = self.with_role(Role.TEAM_LEADER, team_id) if team_id is not None else []
        if not leaders and track is Track.APPEAL:
            return self.admins()
        return leaders

    def leaders(self) -> list[Recipient]:
        """分管领导 / 委领导; the admins when none is registered."""
        return self.with_role(Role.LEADER) or self.admins()
