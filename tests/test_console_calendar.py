"""日历 in the office console: every staff member sees a year's working days, holidays and
make-up days and whether the year is official or provisional; an admin checks a year's schedule
file (what would move) and loads it, and the deadlines move; nobody else can."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.policy import Policy
from bot.services.routing import assign_case
from models.calendar import WorkCalendar
from models.case import Case
from models.clock import ClockKind
from models.schedule import CalendarYear
from models.team import Inspector
from tests.casework import accept, clock_of, make_staff, report, sh
from tests.console_support import Client, SignedIn, console_app, sign_in, text_of

DATA = Path(__file__).parent / "data"
STARTED = sh(2026, 12, 28, 10)  # Monday; a clue's 30 working days run into 2027
NOW = sh(2027, 1, 6, 10)


@pytest.fixture
async def client(sessions: SessionFactory, catalog: LiankaConfig) -> AsyncIterator[Client]:
    async with console_app(sessions, catalog, clock=FrozenClock(NOW)) as test_client:
        yield test_client


async def open_clue_case(
    sessions: SessionFactory, config: LiankaConfig, calendar: WorkCalendar
) -> Case:
    """A clue signed for on 28 Dec 2026: its 办结 deadline (30 working days) is provisional."""
    async with sessions() as session:
        staff = await make_staff(session, STARTED, team="soe")
    case = await report(
        sessions,
        config,
        calendar,
        STARTED,
        category="soe_corruption",
        description="某国企负责人在工程分包中收受好处费，指定关系户承接项目。",
    )
    async with sessions() as session:
        stored = await session.get(Case, case.id)
        person = await session.get(Inspector, staff.inspector.id)
        assert stored is not None and person is not None
        await assign_case(session, stored, person, policy=Policy(config, calendar), now=STARTED)
        await session.commit()
    assert case.id is not None
    await accept(sessions, config, calendar, case.id, STARTED)
    return case


def cell(html: str, month: int, day: int) -> str:
    found = re.search(rf'<td class="day (\w+)" title="{month}月{day}日 ([^"]*)"', html)
    assert found is not None, f"{month}/{day} is on the page"
    return f"{found.group(1)} {found.group(2)}"


async def test_everyone_sees_2026_with_national_day_and_its_make_up_saturday(
    client: Client, sessions: SessionFactory
) -> None:
    inspector = await sign_in(client, sessions, role="inspector", team="business_env")
    page = await inspector.get("/console/calendar?year=2026")
    html = await page.text()
    assert page.status == 200, html
    assert cell(html, 10, 1) == "holiday 法定节假日：国庆节"
    assert cell(html, 10, 10) == "makeup 调休上班：国庆节调休上班"
    assert cell(html, 10, 12) == "workday 工作日"
    assert cell(html, 10, 18) == "rest 休息日"
    text = text_of(html)
    assert "2026年节假日安排：chinesecalendar 官方数据" in text
    assert "10月1日至10月7日 7 法定节假日 国庆节" in text
    assert "载入年度安排" not in text and "日历仅供查看" in text


async def test_a_year_without_its_schedule_is_shown_as_provisional(
    client: Client, sessions: SessionFactory
) -> None:
    chief = await sign_in(client, sessions, role="team_leader", team="business_env")
    text = text_of(await (await chief.get("/console/calendar?year=2027")).text())
    assert "2027年为暂定日历" in text and "按法定节假日" in text and "未含调休上班" in text
    assert "2月5日至2月10日 6 法定节假日 春节" in text  # 除夕 to 初三, and 补假 for its weekend
    wrong = await chief.get("/console/calendar?year=abc")
    assert wrong.status == 400 and "请填写四位数的年份" in text_of(await wrong.text())


async def test_the_admin_checks_then_loads_the_2027_schedule_and_the_deadline_moves(
    client: Client, sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await open_clue_case(sessions, catalog, calendar)
    assert case.id is not None
    admin = await sign_in(client, sessions, role="admin", team=None)
    schedule = (DATA / "calendar-2027.toml").read_bytes()

    checked = await admin.post("/console/calendar/check", {"schedule": io.BytesIO(schedule)})
    html = await checked.text()
    assert checked.status == 200, html
    text = text_of(html)
    assert "检查结果：2027年节假日安排" in text and "放假29天，调休上班6天" in text
    assert f"{case.number} 办结 2027-02-15 18:00 2027-02-16 18:00 否" in text
    before = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    assert before.due_at == sh(2027, 2, 15, 18) and before.provisional  # nothing written yet

    encoded = re.search(r'name="schedule" value="([^"]+)"', html)
    assert encoded is not None
    loaded = await admin.post("/console/calendar/load", {"schedule": encoded.group(1)})
    assert loaded.status == 303
    assert loaded.headers["Location"] == "/console/calendar?year=2027"
    after = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    assert (after.due_at, after.provisional) == (sh(2027, 2, 16, 18), False)
    page = text_of(await (await admin.get("/console/calendar?year=2027")).text())
    assert "已载入2027年节假日安排：重新计算期限1个，其中1个期限有变化。" in page
    assert "已载入：测试样例" in page and "2月5日至2月13日 9 法定节假日 春节" in page

    again = await admin.post("/console/calendar/check", {"schedule": io.BytesIO(schedule)})
    text = text_of(await again.text())
    assert "2027年的安排已载入过（测试样例" in text
    # loaded again (a corrected file): the deadlines it counted are checked again, none moved
    assert "本年度安排已载入过，已按新文件核对跨本年度的未到期期限：均无变化。" in text


async def test_a_broken_schedule_file_is_refused_with_the_reason_in_chinese(
    client: Client, sessions: SessionFactory
) -> None:
    admin = await sign_in(client, sessions, role="admin", team=None)
    broken = (
        'year = 2027\nsource = "x"\n[[holidays]]\nname = "国庆节"\nstart = 2027-10-01\n'
        "end = 2027-10-07\nworkdays = [2027-10-08]\n"
    ).encode()
    for data, reason in (
        (broken, "调休上班日 2027-10-08 不是周末"),
        (b"year = 2027\nsource = \n", "文件格式错误（不是有效的 TOML）：第2行"),
        (b'year = 2027\nsource = "x"\n', "假日 holidays：缺少此项"),
        ("年度".encode("gbk"), "文件不是 UTF-8 编码的文本"),
    ):
        answer = await admin.post("/console/calendar/check", {"schedule": io.BytesIO(data)})
        assert answer.status == 400
        assert reason in text_of(await answer.text())
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(CalendarYear))).one() == 0


@pytest.mark.parametrize(
    ("role", "team"), [("inspector", "soe"), ("team_leader", "soe"), ("leader", None)]
)
async def test_only_an_admin_can_load_a_schedule(
    client: Client,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    role: str,
    team: str | None,
) -> None:
    case = await open_clue_case(sessions, catalog, calendar)
    assert case.id is not None
    person: SignedIn = await sign_in(client, sessions, role=role, team=team)
    page = text_of(await (await person.get("/console/calendar?year=2027")).text())
    assert "确认载入" not in page and "检查" not in page
    schedule = (DATA / "calendar-2027.toml").read_bytes()
    checked = await person.post("/console/calendar/check", {"schedule": io.BytesIO(schedule)})
    assert checked.status == 403
    loaded = await person.post(
        "/console/calendar/load", {"schedule": base64.b64encode(schedule).decode()}
    )
    assert loaded.status == 403
    assert "只有管理员可以进行此操作" in text_of(await loaded.text())
    async with sessions() as session:
        assert (await session.exec(select(func.count()).select_from(CalendarYear))).one() == 0
    clock = await clock_of(sessions, case.id, ClockKind.RESOLVE)
    assert clock.due_at == sh(2027, 2, 15, 18) and clock.provisional
