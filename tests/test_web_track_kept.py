"""``/t`` over HTTP against the web channel's real routes: nothing the reporter typed or chose
is lost without a word. An answer or 补充材料 sent after the query timed out (or ended) is not
sent, ``/t`` says so and shows the text back to copy, and nothing of the case; ``/t`` says the
query timed out; a clue's 撤回 request waits on the page for the team leader and is not offered
again; 回访 and 防打击报复回访 refused keep the choice made."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from itsdangerous import timed
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.aftercare import TEXT_MAX as AFTERCARE_TEXT_MAX
from bot.services.sweep import sweep_deadlines
from bot.services.withdrawal import WITHDRAW_WAITING
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.case import CaseStatus
from models.relay import RelayMessage, RelayStatus
from models.request import ApprovalRequest, RequestStatus
from tests.casework import case_of
from tests.test_aftercare_web import ASK, asked_on_the_page
from tests.test_web_track import SECRET, csrf_of, open_case, text_of
from tests.test_web_track_materials import PDF, kept_blobs, material_events, post_material
from tests.tracking_support import ANSWERED, FOLLOWUP, QUESTION, asked, followup_asked, web_case
from web.session import CSRF_FIELD
from web.track import TRACK_COOKIE, TRACK_MINUTES

pytestmark = pytest.mark.both_databases

Client = TestClient[web.Request, web.Application]
ANSWER = "合同编号 AJ-JKQ-2024-017，<b>落款</b>为管委会。"
NOTE = "管委会2023年的会议纪要，承诺年底前返还。"
TIMED_OUT = "查询已超时，刚才提交的内容没有发送。为保护您的信息，请重新输入回执码后再提交。"
ENDED = "查询已结束，刚才提交的内容没有发送。请重新输入回执码后再提交。"
LATE = timedelta(minutes=TRACK_MINUTES + 1)


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Client]:
    settings = Settings(_env_file=None, web_secret=SECRET, var_dir=tmp_path)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Time moved past the query's ``TRACK_MINUTES``, for the signature of the tracking cookie
    (itsdangerous reads the real time, not the channel's clock)."""

    def move() -> None:
        ahead = SimpleNamespace(time=lambda: time.time() + LATE.total_seconds())
        monkeypatch.setattr(timed, "time", ahead)

    return move


def kept_of(page: str) -> str:
    """What the page shows back to copy (the box under 您刚才填写的内容)."""
    found = re.search(r'<textarea class="field" id="kept"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None, "no text shown back"
    return found.group(1)


def checked(page: str, name: str) -> list[str]:
    """The values of the radios ``name`` that the page shows chosen."""
    return re.findall(rf'name="{name}" value="([^"]+)"[^>]*\bchecked\b', page)


# --- the query timed out --------------------------------------------------------------------------


async def test_an_answer_sent_after_the_query_timed_out_is_not_sent_and_shown_back(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock, later
) -> None:
    web = await web_case(sessions, catalog, calendar)
    relay = await asked(sessions, catalog, calendar, web)
    clock.set(ANSWERED)
    html = await open_case(client, web.code)
    later()  # the phone put down; the answer typed and sent later
    late = await client.post(
        "/t/case/answer",
        data={CSRF_FIELD: csrf_of(html), "relay": str(relay.id), "answer": ANSWER},
        allow_redirects=False,
    )
    page = await late.text()
    assert late.status == 403 and TIMED_OUT in text_of(page)
    assert kept_of(page) == "合同编号 AJ-JKQ-2024-017，&lt;b&gt;落款&lt;/b&gt;为管委会。"
    assert "请输入提交问题时获得的回执码" in text_of(page)  # the code box, to open it again
    assert web.case.number not in page and QUESTION not in page  # nothing of the case
    async with sessions() as session:
        stored = await session.get(RelayMessage, relay.id)
    assert stored is not None and stored.status is RelayStatus.OPEN
    again = await open_case(client, web.code)  # the code typed again: the question still open
    assert QUESTION in text_of(again) and "提交答复" in text_of(again)


async def test_a_long_answer_sent_too_late_comes_back_whole(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock, later
) -> None:
    web = await web_case(sessions, catalog, calendar)
    relay = await asked(sessions, catalog, calendar, web)
    clock.set(ANSWERED)
    html = await open_case(client, web.code)
    later()
    long_answer = "合同" * 2250  # 4,500 characters: was shown back cut to 4,000
    late = await client.post(
        "/t/case/answer",
        data={CSRF_FIELD: csrf_of(html), "relay": str(relay.id), "answer": long_answer},
        allow_redirects=False,
    )
    assert late.status == 403 and kept_of(await late.text()) == long_answer


async def test_the_case_page_after_the_query_timed_out_goes_to_t_which_says_so(
    client: Client, sessions: SessionFactory, catalog, calendar, later
) -> None:
    web = await web_case(sessions, catalog, calendar)
    await open_case(client, web.code)
    [cookie] = [c for c in client.session.cookie_jar if c.key == TRACK_COOKIE]
    assert int(cookie["max-age"]) > TRACK_MINUTES * 60  # a browser keeps it past the query
    later()
    away = await client.get("/t/case", allow_redirects=False)
    assert away.status == 303 and away.headers["Location"] == "/t"
    form = await client.get("/t")
    assert "查询已超时，为保护您的信息，请重新输入回执码。" in text_of(await form.text())
    assert web.case.number not in await form.text()


async def test_material_sent_after_the_query_timed_out_keeps_no_file_and_shows_the_note_back(
    client: Client, sessions: SessionFactory, catalog, calendar, tmp_path, later
) -> None:
    web = await web_case(sessions, catalog, calendar)
    await open_case(client, web.code)
    html = await (await client.get("/t/case/materials")).text()
    later()
    late = await post_material(client, html, [("纪要.pdf", PDF)], note=NOTE)
    page = await late.text()
    assert late.status == 403 and TIMED_OUT in text_of(page)
    assert kept_of(page) == NOTE and web.case.number not in page
    async with sessions() as session:
        files = (await session.exec(select(Attachment))).all()
    assert files == [] and kept_blobs(tmp_path) == []
    forged = await post_material(client, html, [("纪要.pdf", PDF)], note=NOTE, token="forged")
    assert forged.status == 403 and NOTE not in await forged.text()  # a forged form: no echo


async def test_an_answer_sent_after_signing_out_elsewhere_is_not_sent_and_shown_back(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    web = await web_case(sessions, catalog, calendar)
    relay = await asked(sessions, catalog, calendar, web)
    clock.set(ANSWERED)
    html = await open_case(client, web.code)
    await client.post("/t/signout", data={CSRF_FIELD: csrf_of(html)})  # another tab
    late = await client.post(
        "/t/case/answer",
        data={CSRF_FIELD: csrf_of(html), "relay": str(relay.id), "answer": "合同编号 017。"},
    )
    page = await late.text()
    assert late.status == 403 and ENDED in text_of(page)
    assert kept_of(page) == "合同编号 017。" and QUESTION not in page


# --- a clue's 撤回 waits for the team leader ----------------------------------------------------


async def test_a_clues_withdrawal_request_shows_it_waits_for_the_team_leader_and_is_not_offered_again(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar, category="soe_corruption", team="soe")
    html = await open_case(client, web.code)
    assert "撤回该问题" in text_of(html)
    assert "问题线索的撤回须由组长决定" in text_of(html)  # the hint says who decides
    confirm = await (await client.get("/t/case/withdraw")).text()
    await client.post("/t/case/withdraw", data={CSRF_FIELD: csrf_of(confirm)})
    page = text_of(await (await client.get("/t/case")).text())
    assert "撤回申请" in page and "正在等待组长决定" in page
    assert "撤回该问题" not in page and "工作人员受理前可以" not in page
    back = await client.get("/t/case/withdraw", allow_redirects=False)
    assert back.status == 303 and back.headers["Location"] == "/t/case"
    again = await client.post("/t/case/withdraw", data={CSRF_FIELD: csrf_of(confirm)})
    assert again.status == 409 and WITHDRAW_WAITING in text_of(await again.text())
    async with sessions() as session:
        requests = (await session.exec(select(ApprovalRequest))).all()
    assert [r.status for r in requests] == [RequestStatus.PENDING]
    assert (await case_of(sessions, web.id)).status is not CaseStatus.WITHDRAWN


async def test_an_appeals_withdraw_hint_is_the_appeals(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    page = text_of(await open_case(client, web.code))
    assert "撤回该问题" in page and "工作人员受理前可以撤回。" in page
    assert "组长决定" not in page


# --- 回访 and 防打击报复回访 keep the choice ----------------------------------------------------


async def test_unsatisfied_with_too_short_a_reason_keeps_the_rating_and_the_reason(
    client: Client, sessions: SessionFactory, catalog, calendar, clock: FrozenClock
) -> None:
    web = await web_case(sessions, catalog, calendar)
    await followup_asked(sessions, catalog, calendar, web)
    clock.set(FOLLOWUP)
    html = await open_case(client, web.code)
    short = await client.post(
        "/t/case/followup",
        data={CSRF_FIELD: csrf_of(html), "rating": "unsatisfied", "reason": "差"},
    )
    page = await short.text()
    assert short.status == 409 and "请用一两句话说明不满意的原因。" in text_of(page)
    assert checked(page, "rating") == ["unsatisfied"]
    assert ">差</textarea>" in page
    assert (await case_of(sessions, web.id)).status is CaseStatus.RESOLVED


async def test_the_aftercare_answer_refused_or_throttled_keeps_the_choice_and_the_text(
    client: Client, sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:  # fmt: skip
    report = await asked_on_the_page(sessions, catalog, calendar, clock)
    await sweep_deadlines(sessions, catalog, calendar, ASK)
    clock.set(ASK + timedelta(hours=1))
    token = csrf_of(await open_case(client, report.code))
    long = "长" * (AFTERCARE_TEXT_MAX + 1)
    refused = await client.post(
        "/t/case/aftercare", data={CSRF_FIELD: token, "answer": "yes", "description": long}
    )
    page = await refused.text()
    assert refused.status == 409 and f"情况说明请控制在{AFTERCARE_TEXT_MAX}字以内" in page
    assert checked(page, "answer") == ["yes"] and f">{long}</textarea>" in page
    for _ in range(29):  # the address's 30 forms a minute, spent
        await client.post("/t/case/aftercare", data={CSRF_FIELD: token, "answer": "?"})
    described = "窗口工作人员因我反映问题，故意拖延办理。"
    throttled = await client.post(
        "/t/case/aftercare", data={CSRF_FIELD: token, "answer": "yes", "description": described}
    )
    page = await throttled.text()
    assert throttled.status == 429 and "提交过于频繁" in text_of(page)
    assert checked(page, "answer") == ["yes"] and f">{described}</textarea>" in page


async def test_a_long_note_sent_with_material_reaches_the_case_whole(
    client: Client, sessions: SessionFactory, catalog, calendar
) -> None:
    web = await web_case(sessions, catalog, calendar)
    await open_case(client, web.code)
    html = await (await client.get("/t/case/materials")).text()
    note = "纪要第三条写明年底前返还出让金。" * 125  # 2,000 characters, 6,000 bytes
    sent = await post_material(client, html, [("纪要.pdf", PDF)], note=note)
    assert sent.status == 303, text_of(await sent.text())
    [event] = await material_events(sessions, web.id)
    assert event.note == note
