"""Web reports in the situations the tracking page shows: made, accepted, asked a question,
resolved and asked for 回访, with the services the chat uses."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.acceptance import accept_case
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.services.relay import ask_reporter
from bot.services.sweep import sweep_deadlines
from models.calendar import WorkCalendar
from models.case import Case
from models.intake import CaseDraft
from models.relay import RelayMessage
from models.team import Inspector
from tests.casework import REFUND, Staff, accept, case_of, make_staff, resolve, sh
from tests.conftest import DEFAULT_NOW
from tests.factories import make_reporter

SUBMITTED = DEFAULT_NOW  # Thursday 26 Nov 2026, 10:00 in Shanghai
ACCEPTED = sh(2026, 11, 26, 11)
ASKED = sh(2026, 11, 26, 14)
ANSWERED = sh(2026, 11, 27, 10)
RESOLVED = sh(2026, 11, 30, 11)
FOLLOWUP = sh(2026, 12, 1, 9)  # 09:00 on the working day after 办结
QUESTION = "请问涉及的土地出让合同编号是多少？"


@dataclass
class WebCase:
    case: Case
    code: str
    staff: Staff | None

    @property
    def id(self) -> int:
        assert self.case.id is not None
        return self.case.id


async def web_case(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    *,
    category: str = "business_env",
    team: str = "business_env",
    anonymous: bool = True,
    with_staff: bool = True,
) -> WebCase:
    """A report made on the web page (routed and assigned), with its receipt code; the team's
    staff made first unless they already are."""
    async with sessions() as session:
        staff = await make_staff(session, SUBMITTED, team=team) if with_staff else None
        reporter = await make_reporter(session, SUBMITTED, web=True)
        draft = CaseDraft(category_code=category, description=REFUND, anonymous=anonymous)
        if not anonymous:
            draft = CaseDraft(
                category_code=category,
                description=REFUND,
                anonymous=False,
                contact_name="张三",
                contact_phone="13812345678",
            )
        result = await submit_case(
            session, reporter, draft, policy=Policy(config, calendar), now=SUBMITTED
        )
    assert result.receipt_code is not None
    return WebCase(result.case, result.receipt_code, staff)


async def assignee(sessions: SessionFactory, case_id: int) -> Inspector:
    async with sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None and case.assignee_id is not None
        person = await session.get(Inspector, case.assignee_id)
    assert person is not None
    return person


async def asked(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, web: WebCase
) -> RelayMessage:
    """签收 by its assignee (the use case the bot's button calls), who then asks the reporter a
    question."""
    inspector = await assignee(sessions, web.id)
    async with sessions() as session:
        await accept_case(session, inspector, web.id, policy=Policy(config, calendar), now=ACCEPTED)
    async with sessions() as session:
        return await ask_reporter(session, inspector, web.id, question=QUESTION, now=ASKED)


async def followup_asked(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    web: WebCase,
    *,
    already_resolved: bool = False,
) -> Case:
    """Accepted, resolved, and the reporter asked for 回访 by the sweep."""
    if not already_resolved:
        await accept(sessions, config, calendar, web.id, ACCEPTED)
        await resolve(sessions, config, calendar, web.id, RESOLVED)
    await sweep_deadlines(sessions, config, calendar, FOLLOWUP)
    return await case_of(sessions, web.id)
