"""Submitting a report: one transaction that numbers, records, routes and notifies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.intake import submit_case
from bot.services.policy import Policy
from models.attachment import Attachment, MediaKind
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.clock import CaseClock, ClockKind
from models.errors import InvalidInput
from models.event import CaseEvent, EventKind
from models.intake import CaseDraft, Evidence
from models.notification import Notification
from models.reporter import ReporterContact, receipt_hash
from models.team import Role
from notifications.render import telegram_html
from notifications.telegram import notice_keyboard
from tests.factories import make_inspector, make_reporter

pytestmark = pytest.mark.both_databases

REFUND = "经开区管委会承诺的土地出让金返还和建筑物配套费至今未到位，企业资金链断裂，请帮助协调。"


def draft(category: str = "business_env", **changes: object) -> CaseDraft:
    values: dict[str, object] = {"category_code": category, "description": REFUND}
    values.update(changes)
    return CaseDraft(**values)  # type: ignore[arg-type]


async def test_an_anonymous_report_gets_a_number_a_receipt_code_and_an_assignee(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        inspector = await make_inspector(
            session, clock.now(), team_code="business_env", telegram_user_id=501
        )
        reporter = await make_reporter(session, clock.now())
        evidence = (Evidence(MediaKind.PHOTO, "ph-1", "u-ph-1", file_size=120_000),)
        result = await submit_case(
            session,
            reporter,
            draft(evidence=evidence),
            policy=Policy(catalog, calendar),
            now=clock.now(),
        )
    assert result.case.number == "AJ-2026-00001"
    assert result.receipt_code is not None and len(result.receipt_code.replace("-", "")) == 12
    # Thursday 26 Nov 2026: told it will be 受理 (受理告知, 3 working days) by Tuesday 1 Dec
    assert result.accept_due_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        events = (await session.exec(select(CaseEvent).order_by(col(CaseEvent.seq)))).all()
        clocks = {c.kind: c for c in (await session.exec(select(CaseClock))).all()}
        notes = (await session.exec(select(Notification))).all()
        files = (await session.exec(select(Attachment))).all()
    assert case.status is CaseStatus.ASSIGNED
    assert case.assignee_id == inspector.id
    assert case.receipt_hash == receipt_hash(result.receipt_code)
    assert case.routed_by == "经开区资金返还"  # the zone + keyword rule comes first
    assert [e.kind for e in events] == [EventKind.SUBMITTED, EventKind.ROUTED, EventKind.ASSIGNED]
    # Monday 1 Dec: 3 working days for the first reply
    assert clocks[ClockKind.FIRST_REPLY].due_at == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert clocks[ClockKind.FIRST_REPLY].due_at == result.accept_due_at
    # 签收 by the end of Friday 27 Nov, 18:00 Shanghai (internal: restarts at each assignment)
    assert clocks[ClockKind.ACCEPT].due_at == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert [(n.kind, n.chat_id) for n in notes] == [("assigned", 501)]
    assert "土地出让金返还" in telegram_html(notes[0])
    assert "匿名" in telegram_html(notes[0])
    keyboard = notice_keyboard(notes[0])
    assert keyboard is not None
    buttons = [b.text for row in keyboard.inline_keyboard for b in row]
    assert buttons == [
        *("签收", "退回", "查看材料", "提问", "记录进展", "申请延期"),
        *("反馈整改", "核验整改", "办结"),
    ]
    assert [(f.kind, f.file_id) for f in files] == [(MediaKind.PHOTO, "ph-1")]


async def test_a_named_report_keeps_the_contact_apart_and_has_no_receipt_code(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        reporter = await make_reporter(session, clock.now())
        result = await submit_case(
            session,
            reporter,
            draft(anonymous=False, contact_name="宋利剑", contact_phone="13812345678"),
            policy=Policy(catalog, calendar),
            now=clock.now(),
        )
    assert result.receipt_code is None
    async with sessions() as session:
        contact = (await session.exec(select(ReporterContact))).one()
        case = (await session.exec(select(Case))).one()
    assert (contact.case_id, contact.name_plain(), contact.phone_plain()) == (
        case.id,
        "宋利剑",
        "13812345678",
    )
    assert "宋利剑" not in case.description and case.anonymous is False


async def test_without_inspectors_the_team_leader_is_asked_to_assign(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        leader = await make_inspector(
            session,
            clock.now(),
            team_code="safety",
            role=Role.TEAM_LEADER,
            name="王组长",
            telegram_user_id=601,
        )
        reporter = await make_reporter(session, clock.now(), zone_code="anju")
        await submit_case(
            session,
            reporter,
            draft("work_safety", description="厂区消防通道被占用，多次反映未整改，存在安全隐患。"),
            policy=Policy(catalog, calendar),
            now=clock.now(),
        )
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        (note,) = (await session.exec(select(Notification))).all()
    assert case.status is CaseStatus.SUBMITTED and case.assignee_id is None
    assert (note.kind, note.chat_id, note.recipient_id) == ("waiting", 601, leader.id)
    assert "本组暂无在岗监督员" in telegram_html(note)


async def test_an_unmatched_report_goes_to_the_dispatcher(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_inspector(
            session, clock.now(), team_code="dispatch", role=Role.TEAM_LEADER, telegram_user_id=701
        )
        reporter = await make_reporter(session, clock.now(), zone_code="yufeng")
        await submit_case(
            session,
            reporter,
            draft("other", description="办事窗口工作人员态度生硬，多次刁难企业办事人员。"),
            policy=Policy(catalog, calendar),
            now=clock.now(),
        )
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        (note,) = (await session.exec(select(Notification))).all()
    assert case.routed_by is None and case.status is CaseStatus.SUBMITTED
    assert "未匹配分办规则" in telegram_html(note) and note.chat_id == 701


async def test_a_clue_assignment_hides_the_enterprise_and_the_reporter(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_inspector(session, clock.now(), team_code="soe", telegram_user_id=801)
        await make_inspector(
            session, clock.now(), team_code="soe", role=Role.TEAM_LEADER, telegram_user_id=802
        )
        reporter = await make_reporter(session, clock.now())
        await submit_case(
            session,
            reporter,
            draft(
                "soe_corruption",
                anonymous=False,
                contact_name="宋利剑",
                contact_phone="13812345678",
                description="某国企负责人在工程分包中收受好处费，指定关系户承接项目。",
            ),
            policy=Policy(catalog, calendar),
            now=clock.now(),
        )
    async with sessions() as session:
        (note,) = (await session.exec(select(Notification))).all()
    assert note.chat_id == 802  # the 国资国企 team assigns by its leader
    assert "坤天" not in telegram_html(note) and "宋利剑" not in telegram_html(note)


async def test_the_same_draft_submitted_twice_is_one_case(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        reporter = await make_reporter(session, clock.now())
        first = await submit_case(
            session,
            reporter,
            draft(),
            policy=Policy(catalog, calendar),
            now=clock.now(),
            draft_id="d-1",
        )
        again = await submit_case(
            session,
            reporter,
            draft(),
            policy=Policy(catalog, calendar),
            now=clock.now(),
            draft_id="d-1",
        )
    assert again.duplicate and again.case.number == first.case.number
    async with sessions() as session:
        assert len((await session.exec(select(Case))).all()) == 1


async def test_numbers_run_on_within_a_year_and_restart_in_the_next(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    numbers = []
    async with sessions() as session:
        reporter = await make_reporter(session, clock.now())
        for at in (
            clock.now(),
            clock.now(),
            datetime(2026, 12, 31, 15, 59, tzinfo=UTC),  # 23:59 in Shanghai
            datetime(2026, 12, 31, 16, 1, tzinfo=UTC),  # 00:01 on 1 Jan 2027 in Shanghai
        ):
            result = await submit_case(
                session, reporter, draft(), policy=Policy(catalog, calendar), now=at
            )
            numbers.append(result.case.number)
    assert numbers == ["AJ-2026-00001", "AJ-2026-00002", "AJ-2026-00003", "AJ-2027-00001"]


async def test_a_too_short_description_is_refused_and_nothing_is_written(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    async with sessions() as session:
        reporter = await make_reporter(session, clock.now())
        with pytest.raises(InvalidInput):
            await submit_case(
                session,
                reporter,
                draft(description="没钱"),
                policy=Policy(catalog, calendar),
                now=clock.now(),
            )
    async with sessions() as session:
        assert (await session.exec(select(Case))).all() == []
