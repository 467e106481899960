"""防打击报复回访 on the web tracking page (``/t``), over HTTP against the real routes: the
question shows once asked, 有 with a description opens the clue and shows its 受理编号 and receipt
code once, a second answer is refused politely, 没有 is thanked; two forms sent at the same
moment (this one, or another of the page's) answer the second politely, never with an error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.aftercare import answer_none, check_aftercare
from bot.services.policy import Policy
from bot.services.resolution import resolve_case
from bot.services.sweep import sweep_deadlines
from bot.services.withdrawal import withdraw_for
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus, Outcome, reporter_of
from models.event import CaseEvent, EventKind
from models.org import Track
from models.reporter import Reporter
from tests.casework import accept, sh
from tests.test_web_track import SECRET, csrf_of, open_case, text_of
from tests.tracking_support import ACCEPTED, RESOLVED, WebCase, web_case
from web.session import CSRF_FIELD

pytestmark = pytest.mark.both_databases

ASK = sh(2026, 12, 28, 9)  # 09:00 on the 20th working day after 办结 on Monday 30 Nov
QUESTION = "自反映问题以来，您是否遇到刁难、打击报复或吃拿卡要等情况？"
FORM = 'action="/t/case/aftercare"'
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    settings = Settings(_env_file=None, web_secret=SECRET)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def asked_on_the_page(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> WebCase:
    """An anonymous web report, resolved by its inspector, then the sweeps until the question."""
    report = await web_case(sessions, config, calendar)
    assert report.staff is not None
    await accept(sessions, config, calendar, report.id, ACCEPTED)
    async with sessions() as session:
        await resolve_case(
            session, report.staff.inspector, report.id, outcome=Outcome.SOLVED,
            summary="已协调返还。", amount_yuan=None, policy=Policy(config, calendar), now=RESOLVED,
        )  # fmt: skip
    for now in (sh(2026, 12, 1, 9), sh(2026, 12, 4, 18), ASK - timedelta(minutes=1)):
        await sweep_deadlines(sessions, config, calendar, now)
    clock.set(ASK - timedelta(minutes=1))
    return report


async def test_the_page_asks_once_and_a_yes_opens_a_clue_shown_with_its_receipt_code(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    report = await asked_on_the_page(sessions, catalog, calendar, clock)
    assert FORM not in await open_case(client, report.code)  # not yet asked

    await sweep_deadlines(sessions, catalog, calendar, ASK)
    clock.set(ASK + timedelta(hours=1))
    page = await client.get("/t/case")
    html = await page.text()
    assert QUESTION in text_of(html) and "提交答复" in text_of(html)
    token = csrf_of(html)

    nothing = await client.post("/t/case/aftercare", data={CSRF_FIELD: token})
    assert nothing.status == 409 and "请选择“没有”或“有”" in text_of(await nothing.text())

    what = "园区有工作人员多次上门刁难，要求请客。"
    done = await client.post(
        "/t/case/aftercare",
        data={CSRF_FIELD: token, "answer": "yes", "description": what},
        allow_redirects=False,
    )
    assert done.status == 200 and done.headers["Cache-Control"] == "no-store"
    shown = text_of(await done.text())
    assert "已受理" in shown and "受理编号： AJ-2026-00002" in shown
    assert "新线索的回执码" in shown

    async with sessions() as session:
        clue = (await session.exec(select(Case).where(Case.prompted_by_id == report.id))).one()
        first = await session.get(Case, report.id)
        answered = (
            await session.exec(
                select(CaseEvent).where(
                    CaseEvent.case_id == report.id, CaseEvent.kind == EventKind.AFTERCARE_ANSWERED
                )
            )
        ).all()
    assert first is not None
    assert clue.track is Track.CLUE and clue.anonymous and what in clue.description
    assert reporter_of(clue) == reporter_of(first) and clue.receipt_hash is not None
    assert [e.data for e in answered] == [{"answer": "yes"}]

    back = await (await client.get("/t/case")).text()
    assert FORM not in back  # answered: the form is gone (the notice stays in 通知)
    again = await client.post(
        "/t/case/aftercare", data={CSRF_FIELD: token, "answer": "none"}, allow_redirects=False
    )
    assert again.status == 409
    assert "此次回访已答复或已结束，无需再次答复。" in text_of(await again.text())


async def test_no_on_the_page_is_thanked_and_opens_nothing(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    report = await asked_on_the_page(sessions, catalog, calendar, clock)
    await sweep_deadlines(sessions, catalog, calendar, ASK)
    clock.set(ASK + timedelta(hours=1))
    html = await open_case(client, report.code)
    done = await client.post(
        "/t/case/aftercare",
        data={CSRF_FIELD: csrf_of(html), "answer": "none", "description": ""},
        allow_redirects=False,
    )
    assert done.status == 303 and done.headers["Location"] == "/t/case?done=aftercare"
    page = await (await client.get(done.headers["Location"])).text()
    assert "感谢您的反馈！" in text_of(page) and FORM not in page
    async with sessions() as session:
        assert (
            await session.exec(select(Case).where(Case.prompted_by_id == report.id))
        ).first() is None


async def test_two_answers_sent_at_the_same_moment_the_second_is_told_it_was_already_answered(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = await asked_on_the_page(sessions, catalog, calendar, clock)
    await sweep_deadlines(sessions, catalog, calendar, ASK)
    clock.set(ASK + timedelta(hours=1))
    html = await open_case(client, report.code)

    async def meanwhile(
        session: AsyncSession, reporter: Reporter | None, case: Case | None, case_id: int
    ) -> tuple[Case, Reporter]:
        """This request finds the question open; another tab's 没有, sent at the same moment,
        is written first."""
        checked = await check_aftercare(session, reporter, case, case_id)
        async with sessions() as other:
            first, who = await other.get(Case, case_id), await other.get(Reporter, checked[1].id)
            assert first is not None and who is not None
            await answer_none(other, who, first, now=clock.now())
        return checked

    monkeypatch.setattr("bot.services.tracking.check_aftercare", meanwhile)
    second = await client.post(
        "/t/case/aftercare",
        data={CSRF_FIELD: csrf_of(html), "answer": "yes", "description": "又被刁难了"},
        allow_redirects=False,
    )
    assert second.status == 409
    page = text_of(await second.text())
    assert "此次回访已答复或已结束，无需再次答复。" in page and FORM not in page
    async with sessions() as session:
        answered = (
            await session.exec(
                select(CaseEvent).where(
                    CaseEvent.case_id == report.id, CaseEvent.kind == EventKind.AFTERCARE_ANSWERED
                )
            )
        ).all()
        clue = (await session.exec(select(Case).where(Case.prompted_by_id == report.id))).first()
    assert [e.data for e in answered] == [{"answer": "none"}] and clue is None


async def test_withdrawing_twice_at_the_same_moment_answers_the_second_politely_not_with_an_error(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = await web_case(sessions, catalog, calendar)
    await open_case(client, report.code)
    confirm = await (await client.get("/t/case/withdraw")).text()

    async def meanwhile(
        session: AsyncSession, reporter: Reporter, case: Case, *, now: datetime
    ) -> Case:
        """Another tab's 撤回, sent at the same moment, is written first."""
        async with sessions() as other:
            first, who = await other.get(Case, report.id), await other.get(Reporter, reporter.id)
            assert first is not None and who is not None
            await withdraw_for(other, who, first, now=now)
        return await withdraw_for(session, reporter, case, now=now)

    monkeypatch.setattr("bot.services.tracking.withdraw_for", meanwhile)
    second = await client.post(
        "/t/case/withdraw", data={CSRF_FIELD: csrf_of(confirm)}, allow_redirects=False
    )
    assert second.status == 409
    assert "该问题刚刚有了新的办理情况，请查看最新进展后再操作。" in text_of(await second.text())
    async with sessions() as session:
        case = await session.get(Case, report.id)
        withdrawn = (
            await session.exec(
                select(CaseEvent).where(
                    CaseEvent.case_id == report.id, CaseEvent.kind == EventKind.WITHDRAWN
                )
            )
        ).all()
    assert case is not None and case.status is CaseStatus.WITHDRAWN and len(withdrawn) == 1
