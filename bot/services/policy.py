"""The rules a use case applies that are not in the code: the configuration and the working-day
calendar, handed over as one value.

Built where the process starts (the dispatcher's ``CalendarMiddleware`` hands it to handlers as
``policy``, rebuilt when an admin loads a year's schedule; the CLI and the scheduler build it
from the config and the calendar they load), so a use case takes ``policy=`` instead of a
``config, calendar`` pair.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import LiankaConfig
from models.calendar import WorkCalendar


@dataclass(frozen=True, slots=True)
class Policy:
    config: LiankaConfig
    calendar: WorkCalendar

    @property
    def warn_before(self) -> int:
        """Working days before a deadline that its 预警 goes out."""
        return self.config.deadlines.warn_before
