"""案件 in the office console, over real HTTP: the list a person may see, searched, filtered and
paged, exported to Excel, and bad filters answered in Chinese with the form kept."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import openpyxl
import pytest

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services import case_search
from models.calendar import WorkCalendar
from models.search import CaseSearch, case_document
from tests.console_support import Client, console_app, sign_in, text_of
from tests.factories import make_case, make_inspector
from tests.test_case_search import NOW, World, make_world
from web.console.cases import HEADERS

pytestmark = pytest.mark.both_databases


@pytest.fixture
async def world(sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar) -> World:
    return await make_world(sessions, catalog, calendar)


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, world: World
) -> AsyncIterator[Client]:
    async with console_app(sessions, catalog, clock=FrozenClock(NOW)) as test_client:
        yield test_client


def _numbers(html: str) -> list[str]:
    return re.findall(r'<a href="/console/cases/\d+">(AJ-\d{4}-\d{5})</a>', html)


async def test_the_admin_sees_every_appeal_newest_first_and_never_the_clue(
    client: Client, sessions: SessionFactory, world: World
) -> None:
    admin = await sign_in(client, sessions, person=world.admin)
    page = await admin.get("/console/cases")
    html = await page.text()
    assert page.status == 200
    assert _numbers(html) == [world.noise.number, world.refund.number]
    text = text_of(html)
    assert "共2件" in text and "遂宁华东精密机械有限公司" in text and "李监督" in text
    assert world.bribe.number not in html and "好处费" not in html
    assert 'placeholder="受理编号、企业名称或问题描述中的两个以上汉字"' in html


async def test_two_chinese_characters_find_the_case_and_the_filters_narrow_it(
    client: Client, sessions: SessionFactory, world: World
) -> None:
    leader = await sign_in(client, sessions, person=world.team_leader)
    found = await leader.get("/console/cases?q=出让")
    assert _numbers(await found.text()) == [world.refund.number]
    assert "共1件" in text_of(await found.text())
    by_enterprise = await leader.get("/console/cases?q=华东精密")
    assert _numbers(await by_enterprise.text()) == [world.noise.number]
    dated = await leader.get("/console/cases?from=2026-12-03&to=2026-12-03")
    assert _numbers(await dated.text()) == [world.noise.number]
    kept = await dated.text()
    assert 'name="from" value="2026-12-03"' in kept and 'name="to" value="2026-12-03"' in kept
    assert _numbers(await (await leader.get("/console/cases?team=soe")).text()) == []
    clues = await (await leader.get("/console/cases?track=clue")).text()
    assert "没有符合条件的案件" in clues


async def test_an_inspector_sees_only_the_cases_assigned_to_them(
    client: Client, sessions: SessionFactory, world: World
) -> None:
    async with sessions() as session:
        other = await make_inspector(
            session, NOW, team_code="business_env", name="周监督", telegram_user_id=503
        )
    mine = await sign_in(client, sessions, person=world.inspector)
    assert len(_numbers(await (await mine.get("/console/cases")).text())) == 2
    client.session.cookie_jar.clear()
    theirs = await sign_in(client, sessions, person=other)
    assert _numbers(await (await theirs.get("/console/cases")).text()) == []


async def test_bad_filters_are_answered_in_chinese_and_the_form_keeps_what_was_typed(
    client: Client, sessions: SessionFactory, world: World
) -> None:
    leader = await sign_in(client, sessions, person=world.team_leader)
    for query, message in (
        ("?q=出让&from=2026-13-40&team=business_env", "不是有效日期"),
        ("?q=出让&page=-1", "页码"),
        ("?q=出让&from=0001-01-01", "不是有效日期"),  # no overflow on a far year
        ("?q=出让&to=9999-12-31", "不是有效日期"),
        ("?q=出让&page=²", "页码"),  # a digit to str.isdigit, not to int()
        ("?q=出让&team=nope", "未知的监督组"),
        ("?q=出让&from=2026-12-05&to=2026-12-01", "不能晚于"),
    ):
        page = await leader.get(f"/console/cases{query}")
        html = await page.text()
        assert page.status == 400, query
        assert message in text_of(html)
        assert 'name="q" value="出让"' in html
        assert "监督组" in html and "查询" in html
    kept = await (
        await leader.get("/console/cases?q=出让&from=2026-13-40&team=business_env")
    ).text()
    assert 'value="2026-13-40"' in kept
    assert '<option value="business_env" selected>' in kept
    short = await leader.get("/console/cases?q=土")
    assert short.status == 400 and "太短" in text_of(await short.text())


async def test_fifty_cases_a_page_and_the_pager_keeps_the_filters(
    client: Client, sessions: SessionFactory, world: World
) -> None:
    async with sessions() as session:
        for n in range(55):
            case = await make_case(
                session, NOW - timedelta(hours=n + 1), number=f"AJ-2025-{n + 1:05d}"
            )
            case.team_id, case.assignee_id = world.team_leader.team_id, None
            session.add(case)
            session.add(
                CaseSearch(
                    case_id=case.id or 0,
                    document=case_document(
                        number=case.number, enterprise=None, description=case.description
                    ),
                )
            )
        await session.commit()
    leader = await sign_in(client, sessions, person=world.team_leader)
    first = await (await leader.get("/console/cases?q=资金&status=submitted")).text()
    assert len(_numbers(first)) == 50 and "共55件" in text_of(first)
    assert _numbers(first)[0] == "AJ-2025-00001"
    assert (
        'href="/console/cases?q=%E8%B5%84%E9%87%91&amp;status=submitted&amp;page=2">下一页' in first
    )
    second = await (await leader.get("/console/cases?q=资金&status=submitted&page=2")).text()
    assert _numbers(second) == [f"AJ-2025-{n:05d}" for n in range(51, 56)]
    assert "上一页</a>" in second and "第2页，共2页" in text_of(second)


async def test_past_the_count_cap_the_list_asks_to_narrow_and_still_pages_to_the_end(
    client: Client, sessions: SessionFactory, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A common word at a million cases: the list counts up to the cap (not every match), says
    超过…件 and pages on while there is a next page; the Excel export still holds them all."""
    monkeypatch.setattr(case_search, "COUNT_CAP", 20)
    async with sessions() as session:
        for n in range(55):
            case = await make_case(
                session, NOW - timedelta(hours=n + 1), number=f"AJ-2025-{n + 1:05d}"
            )
            session.add(
                CaseSearch(
                    case_id=case.id or 0,
                    document=case_document(
                        number=case.number, enterprise=None, description=case.description
                    ),
                )
            )
        await session.commit()
    admin = await sign_in(client, sessions, person=world.admin)
    first = await (await admin.get("/console/cases?q=资金")).text()
    assert "超过20件，请增加筛选条件" in text_of(first) and "共56件" not in text_of(first)
    assert len(_numbers(first)) == 50 and _numbers(first)[0] == "AJ-2025-00001"
    assert 'href="/console/cases?q=%E8%B5%84%E9%87%91&amp;page=2">下一页' in first
    second = await (await admin.get("/console/cases?q=资金&page=2")).text()
    oldest = [f"AJ-2025-{n:05d}" for n in range(51, 56)] + [world.refund.number]  # 资金 too
    assert _numbers(second) == oldest
    assert "上一页</a>" in second and "下一页</a>" not in second
    past = await (await admin.get("/console/cases?q=资金&page=9")).text()
    assert _numbers(past) == oldest and "共56件，第2/2页" in text_of(past)
    export = await admin.get("/console/cases.xlsx?q=资金")
    rows = list(openpyxl.load_workbook(io.BytesIO(await export.read())).active.values)
    assert len(rows) == 1 + 56
    narrow = await (await admin.get("/console/cases?q=AJ-2025-00007")).text()
    assert "共1件" in text_of(narrow) and "超过" not in text_of(narrow)


async def test_the_excel_export_holds_the_filtered_list_with_chinese_headers(
    client: Client, sessions: SessionFactory, world: World
) -> None:
    admin = await sign_in(client, sessions, person=world.admin)
    page = await (await admin.get("/console/cases?q=有限公司&team=business_env")).text()
    assert (
        'href="/console/cases.xlsx?q=%E6%9C%89%E9%99%90%E5%85%AC%E5%8F%B8&amp;team=business_env"'
        in page
    )
    answer = await admin.get("/console/cases.xlsx?q=华东&team=business_env")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    assert answer.headers["Content-Disposition"].startswith("attachment;")
    book = openpyxl.load_workbook(io.BytesIO(await answer.read()))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0] == HEADERS
    assert len(rows) == 2
    number, received, track, category, enterprise, team, assignee, status = rows[1][:8]
    assert (number, track, enterprise, assignee) == (
        world.noise.number,
        "诉求",
        "遂宁华东精密机械有限公司",
        "李监督",
    )
    assert received.strftime("%Y-%m-%d %H:%M") == "2026-12-03 15:00"  # Shanghai time
    assert category == "营商环境" and team.endswith("立项监督组") and status == "待签收"
    everything = await admin.get("/console/cases.xlsx")
    all_rows = list(openpyxl.load_workbook(io.BytesIO(await everything.read())).active.values)
    assert [r[0] for r in all_rows[1:]] == [world.noise.number, world.refund.number]
    refused = await admin.get("/console/cases.xlsx?team=nope")
    assert refused.status == 400 and "未知的监督组" in text_of(await refused.text())
