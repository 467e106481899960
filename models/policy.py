"""Rules the admin configures and the domain applies: the deadline ladder and routing rules."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DeadlineLadder(BaseModel):
    """Working days allowed for each clock of a case (DESIGN.md, "Deadlines")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accept: int = Field(default=1, ge=0, le=60, description="签收: after assignment")
    first_reply: int = Field(default=3, ge=0, le=60, description="受理告知: after submission")
    resolve: int = Field(default=15, ge=1, le=365, description="办结: after acceptance")
    followup_ask: int = Field(default=1, ge=0, le=30, description="回访: asked after 办结")
    followup_wait: int = Field(default=3, ge=1, le=30, description="回访: closed as 未评价 after")


class DeadlineOverride(BaseModel):
    """A category's changes to its track's ladder; unset fields keep the track's value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accept: int | None = Field(default=None, ge=0, le=60)
    first_reply: int | None = Field(default=None, ge=0, le=60)
    resolve: int | None = Field(default=None, ge=1, le=365)
    followup_ask: int | None = Field(default=None, ge=0, le=30)
    followup_wait: int | None = Field(default=None, ge=1, le=30)

    def apply(self, ladder: DeadlineLadder) -> DeadlineLadder:
        """The ladder with this override's set fields replaced."""
        return ladder.model_copy(update=self.model_dump(exclude_none=True))


class RoutingRule(BaseModel):
    """One ordered routing rule: every non-empty condition must hold; the first match wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(default=None, max_length=60)
    team: str
    categories: tuple[str, ...] = ()
    zones: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How the rule is named in the case history."""
        return self.name or f"→{self.team}"
