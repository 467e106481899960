"""The morning agenda: what is due today, overdue and waiting for approval, per person."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.people import Directory
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import DEADLINE_CLOCKS, CaseClock, ClockState
from models.notification import Notice, Recipient
from models.request import ApprovalRequest, RequestStatus
from models.team import Role, Team
from models.types import utc
from notifications.outbox import enqueue, notification_key

SECTION_LINES = 20


@dataclass(frozen=True, slots=True)
class AgendaItem:
    number: str
    what: str  # 签收 / 受理告知 / 办结, or 延期申请 …
    when: datetime | None
    who: str
    supervised: bool


@dataclass(slots=True)
class Agenda:
    due_today: list[AgendaItem] = field(default_factory=list)
    overdue: list[AgendaItem] = field(default_factory=list)
    approvals: list[AgendaItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.due_today or self.overdue or self.approvals)

    def params(self) -> dict[str, list[dict[str, Any]]]:
        """The lists as plain values, for the agenda notice."""
        return {
            "due_today": [asdict(item) for item in self.due_today],
            "overdue": [asdict(item) for item in self.overdue],
            "approvals": [asdict(item) for item in self.approvals],
        }


@dataclass(slots=True)
class AgendaReport:
    day: str
    sent: dict[Recipient, Agenda] = field(default_factory=dict)


async def send_agenda(session: AsyncSession, calendar: WorkCalendar, now: datetime) -> AgendaReport:
    """On a working day, each team leader gets the team's due-today, overdue and
    waiting-for-approval lists, and each inspector with something due or overdue gets theirs;
    nobody gets an empty agenda, and nobody gets two on one day."""
    today = now.astimezone(calendar.tz).date()
    report = AgendaReport(day=today.isoformat())
    if not calendar.is_workday(today):
        return report
    tomorrow = utc(datetime.combine(today + timedelta(days=1), datetime.min.time(), calendar.tz))
    directory = await Directory.load(session)
    rows = (
        await session.exec(
            select(CaseClock, Case)
            .join(Case, col(Case.id) == CaseClock.case_id)
            .where(
                CaseClock.state == ClockState.RUNNING,
                col(CaseClock.kind).in_(DEADLINE_CLOCKS),
                col(CaseClock.due_at) < tomorrow,
            )
            .order_by(col(CaseClock.due_at), col(Case.number))
        )
    ).all()
    requests = (
        await session.exec(
            select(ApprovalRequest, Case)
            .join(Case, col(Case.id) == ApprovalRequest.case_id)
            .where(ApprovalRequest.status == RequestStatus.PENDING)
            .order_by(col(ApprovalRequest.created_at))
        )
    ).all()
    teams: dict[int | None, Agenda] = defaultdict(Agenda)
    people: dict[int | None, Agenda] = defaultdict(Agenda)
    for clock, case in rows:
        assignee = directory.person(case.assignee_id)
        item = AgendaItem(
            case.number,
            clock.kind.label,
            clock.due_at,
            assignee.name if assignee else "未分派",
            case.supervised,
        )
        overdue = clock.due_at <= now
        for agenda in (teams[case.team_id], people[case.assignee_id]):
            (agenda.overdue if overdue else agenda.due_today).append(item)
    for request, case in requests:
        requester = directory.person(request.requested_by_id)
        days = f" {request.days}个工作日" if request.days else ""
        teams[case.team_id].approvals.append(
            AgendaItem(
                case.number,
                f"{request.kind.label}申请{days}",
                request.created_at,
                requester.name
                if requester
                else "反映人"
                if request.requested_by_id is None
                else "",
                case.supervised,
            )
        )
    team_names = {t.id: t.name for t in (await session.exec(select(Team))).all()}
    leaders = directory.with_role(Role.TEAM_LEADER)
    told = {leader.id for leader in leaders}
    recipients: list[tuple[Recipient, Agenda, str | None]] = [
        (
            leader,
            teams[directory.by_id[leader.id].team_id],
            team_names.get(directory.by_id[leader.id].team_id),
        )
        for leader in leaders
    ]
    recipients += [
        (person, people[person.id], None)
        for person_id in sorted(i for i in people if i is not None)
        if person_id not in told and (person := directory.person(person_id)) is not None
    ]
    for recipient, agenda, team in recipients:
        if agenda.empty:
            continue
        await enqueue(
            session,
            key=notification_key("agenda", stage=report.day, recipient=recipient.tag),
            kind="agenda",
            to=recipient,
            notice=Notice.of(
                "agenda_team" if team is not None else "agenda_inspector",
                day=now,
                team=team,
                agenda=agenda.params(),
                limit=SECTION_LINES,
            ),
            now=now,
        )
        report.sent[recipient] = agenda
    await session.commit()
    return report
