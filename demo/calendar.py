"""The working-day arithmetic of a demo history, remembered: a history of a million cases asks
the same few thousand questions (this date plus so many working days) millions of times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from models.calendar import Deadline, WorkCalendar
from models.clock import warning_time
from models.types import utc


class RememberingCalendar(WorkCalendar):
    """A ``WorkCalendar`` that answers each question once: its answers are the calendar's own
    (the same days, holidays and office hours), looked up by the local date asked about."""

    _deadlines: dict[tuple[date, int], Deadline]
    _added: dict[tuple[date, int], date]
    _between: dict[tuple[date, date], int]
    _started: dict[tuple[date, int, int], tuple[Deadline, datetime]]
    _workdays: dict[date, bool]

    @classmethod
    def of(cls, calendar: WorkCalendar) -> RememberingCalendar:
        remembering = cls.__new__(cls)
        remembering.__dict__.update(vars(calendar))
        remembering._deadlines, remembering._added, remembering._between = {}, {}, {}
        remembering._started, remembering._workdays = {}, {}
        return remembering

    def started(self, now: datetime, workdays: int, warn_before: int) -> tuple[Deadline, datetime]:
        """What ``CaseClock.start`` works out for a clock started ``now``: its deadline and its
        next action (``warning_time``). The warning falls on a day of its own, never before the
        start's day: worked out once for the day, then the later of it and ``now``."""
        day = now.astimezone(self.tz).date()
        key = (day, workdays, warn_before)
        known = self._started.get(key)
        if known is None:
            deadline = self.deadline(now, workdays)
            midnight = datetime.combine(day, time(0), self.tz)
            warning = warning_time(self, midnight, deadline.due_at, warn_before)
            known = self._started[key] = (deadline, warning)
        deadline, warning = known
        return deadline, max(warning, now if now.tzinfo is UTC else utc(now))

    def is_workday(self, d: date) -> bool:
        known = self._workdays.get(d)
        if known is None:
            known = self._workdays[d] = super().is_workday(d)
        return known

    def deadline(self, start: datetime, n: int) -> Deadline:
        if start.utcoffset() is None:
            return super().deadline(start, n)  # which refuses it
        key = (start.astimezone(self.tz).date(), n)
        known = self._deadlines.get(key)
        if known is None:
            known = self._deadlines[key] = super().deadline(start, n)
        return known

    def add_workdays(self, start: date, n: int) -> date:
        key = (start, n)
        known = self._added.get(key)
        if known is None:
            known = self._added[key] = super().add_workdays(start, n)
        return known

    def workdays_between(self, start: date, end: date) -> int:
        key = (start, end)
        known = self._between.get(key)
        if known is None:
            known = self._between[key] = super().workdays_between(start, end)
        return known
