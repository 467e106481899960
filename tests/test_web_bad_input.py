"""Bad input on the web channel, over HTTP against its real routes and middlewares (issue 14,
"Bad input, each with a clear Chinese message and nothing entered lost"): every field's bad value
on each step of 网页反映, eleven files, a 21 MB file, an executable renamed ``.jpg``, a form
without its CSRF token, a form sent after its report was submitted, a tampered step, 30 forms a
minute from one address, and ten wrong receipt codes on ``/t``.

Each test asserts what the person sees (the status, the exact Chinese words, beside the field
they are about) and that nothing entered is lost: the refused form shows again what was typed,
the draft's files are still listed, and the draft kept on the server is unchanged. Tests whose
SQL differs by dialect (an id past PostgreSQL's integer, the rate counters' upserts, the claim
of a submitted draft) run on PostgreSQL too."""

from __future__ import annotations

import html as html_lib
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.my_cases import WRONG_RECEIPT
from bot.services.web_intake import FORMS_PER_ADDRESS
from bot.settings import Settings
from bot.web_app import create_standalone_web_app
from models.calendar import WorkCalendar
from models.filecheck import REFUSED
from models.intake import NAME_MAX, IntakeDraft
from models.org import Category
from models.web_draft import WebDraft
from tests.intake_helpers import REFUND, make_card
from tests.test_web_materials_page import PDF, jpeg, upload
from tests.test_web_report import (
    BOT,
    REPORT,
    SECRET,
    Browser,
    Client,
    cases,
    hidden_fields,
    step_of,
    text_of,
)
from tests.tracking_support import web_case
from web.channel import TOO_LARGE as BODY_TOO_LARGE
from web.context import CHANNEL
from web.session import CSRF_FIELD
from web.uploads import TOO_LARGE

SHORT = "问题描述太短（{n}字），请至少写10个字，说明什么事、涉及哪个单位、什么时间。"
LONG = "问题描述太长（{n}字），请精简到2000字以内；详细材料可在下一步以图片或文件上传。"
NOT_A_NUMBER = "金额格式不正确，请输入数字，例如 12.5（万元）或 125000元；不涉及金额请点“跳过”。"
OUT_OF_RANGE = "金额超出范围，请核对后重新输入。"
NO_IDENTITY = "请选择反映方式：实名或匿名。"
NO_NAME = "请输入您的姓名（30字以内）。"
BAD_PHONE = "手机号码格式不正确，请输入11位大陆手机号码，例如 13812345678。"
NO_PHONE = "请填写手机号码，例如 13812345678。"
KEPT = "请按提示修改后再提交，您填写的内容已保留。"
STALE = [
    "此页面已过期",
    "您提交的页面已失效：这份反映已经提交，或已在别处重新填写。",
    "为避免重复提交，本次操作未被受理。如需再反映问题，请重新打开反映页面。",
]
CSRF_REFUSED = [
    "页面已过期",
    "页面已过期或无法确认来源，本次提交未被受理。",
    "请返回重新打开联系卡页面后再填写。",
]
TOO_OFTEN = "提交过于频繁，请稍等一分钟后再点按钮。您填写的内容已保留在本页。"
TOO_OFTEN_UPLOAD = "提交过于频繁，请稍等一分钟后再上传。已上传的材料已保留。"
TOO_MANY_CODES = "回执码输入错误次数过多，为保护您的信息，请10分钟后再试。"


@pytest.fixture
async def client(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, tmp_path: Path
) -> AsyncIterator[Client]:
    async with sessions() as session:
        await make_card(session, clock.now())
    settings = Settings(_env_file=None, bot_username=BOT, web_secret=SECRET, var_dir=tmp_path)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
async def refund(sessions: SessionFactory, catalog: LiankaConfig) -> Category:
    async with sessions() as session:
        categories = (await session.exec(select(Category).order_by(col(Category.sort_order)))).all()
    return next(c for c in categories if c.track.value == "appeal")


async def the_draft(sessions: SessionFactory) -> tuple[str, dict[str, Any]]:
    """The one draft on the server: the step it is at and what it holds."""
    async with sessions() as session:
        [row] = (await session.exec(select(WebDraft))).all()
    return row.step, dict(row.data)


def error_beside(page: str, name: str) -> str:
    """The message shown beside field ``name`` (empty when there is none)."""
    start = page.find(f'id="{name}-error">')
    if start < 0:
        return ""
    end = page.find("</p>", start)
    return html_lib.unescape(page[start + len(f'id="{name}-error">') : end])


def value_of(page: str, name: str) -> str:
    """What the text box ``name`` shows."""
    marker = f'id="{name}" name="{name}"'
    start = page.find(marker)
    assert start >= 0, f"no box {name}"
    value = page.find('value="', start) + len('value="')
    return html_lib.unescape(page[value : page.find('"', value)])


def textarea_of(page: str) -> str:
    start = page.find("<textarea")
    start = page.find(">", start) + 1
    return html_lib.unescape(page[start : page.find("</textarea>", start)])


def lines_of(page: str) -> list[str]:
    """The visible lines of a notice page's message (its heading and paragraphs)."""
    start = page.find('<section class="notice')
    section = page[start : page.find("</section>", start)]
    return [text_of(part) for part in section.split("\n") if text_of(part)]


async def filled(browser: Browser, refund: Category, *, until: str, **identity: str) -> None:
    """The report entered as a person would, up to the step ``until``: category, REFUND, no
    files, 3 万元, then ``identity`` (anonymous unless given)."""
    steps: list[dict[str, str]] = [
        {"category": str(refund.id)},
        {"description": REFUND},
        {},
        {"amount": "3"},
        identity or {"identity": "anonymous"},
    ]
    await browser.open()
    for fields in steps:
        if step_of(browser.html) == until:
            return
        await browser.send(**fields)
    assert step_of(browser.html) == until, text_of(browser.html)


async def refused_in_place(
    browser: Browser, sessions: SessionFactory, step: str, **fields: str
) -> str:
    """An earlier step opened again (修改) and sent with ``fields``: refused on the same page
    (400) with the general line, and the draft on the server left as it was."""
    before = await the_draft(sessions)
    await browser.open(f"{REPORT}?step={step}")
    page = await browser.send(**fields)
    assert browser.status == 400 and step_of(page) == step, text_of(page)
    assert KEPT in text_of(page)
    assert await the_draft(sessions) == before
    return page


# --- 问题类别 ----------------------------------------------------------------------------------


@pytest.mark.both_databases
@pytest.mark.parametrize(
    ("chosen", "message"),
    [
        pytest.param("", "请选择问题类别。", id="none-chosen"),
        pytest.param("abc", "请选择问题类别。", id="not-an-id"),
        pytest.param("999999", "该问题类别已停用，请重新选择。", id="unknown-id"),
        pytest.param("²", "请选择问题类别。", id="superscript-digit"),
        pytest.param("9" * 30, "请选择问题类别。", id="id-beyond-the-column"),
    ],
)
async def test_a_category_not_chosen_or_unknown_is_asked_again_and_the_draft_keeps_its_choice(
    client: Client, sessions: SessionFactory, refund: Category, chosen: str, message: str
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="materials")
    page = await refused_in_place(browser, sessions, "category", category=chosen)
    assert error_beside(page, "category") == message
    assert f'value="{refund.id}"' in page  # the categories are offered again
    page = await browser.open(f"{REPORT}?step=description")
    assert textarea_of(page) == REFUND


async def test_a_category_stopped_meanwhile_is_refused_and_no_longer_offered(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    await browser.open()
    form = browser.html
    async with sessions() as session:
        stopped = await session.get(Category, refund.id)
        assert stopped is not None
        stopped.active = False
        session.add(stopped)
        await session.commit()
    before = await the_draft(sessions)
    page = await browser.send(form=form, category=str(refund.id))
    assert browser.status == 400 and step_of(page) == "category"
    assert error_beside(page, "category") == "该问题类别已停用，请重新选择。"
    assert f'value="{refund.id}"' not in page and refund.name not in text_of(page)
    assert await the_draft(sessions) == before


# --- 问题描述 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        pytest.param("", SHORT.format(n=0), id="empty"),
        pytest.param("      ", SHORT.format(n=0), id="only-spaces"),
        pytest.param("\u3000\u3000\u3000\n\t", SHORT.format(n=0), id="only-full-width-spaces"),
        pytest.param("工资没发<b>", SHORT.format(n=7), id="too-short"),
        pytest.param("  九个字的问题描述啊  ", SHORT.format(n=9), id="short-once-trimmed"),
        pytest.param("很" * 2001, LONG.format(n=2001), id="2001-characters"),
        pytest.param("长" * 20000, LONG.format(n=20000), id="20000-characters-pasted"),
    ],
)
async def test_a_description_out_of_its_length_is_refused_beside_it_and_kept_as_typed(
    client: Client, sessions: SessionFactory, refund: Category, typed: str, message: str
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="amount")
    page = await refused_in_place(browser, sessions, "description", description=typed)
    assert error_beside(page, "description") == message
    assert textarea_of(page) == typed


async def test_a_description_pasted_past_the_forms_size_is_refused_in_chinese_and_the_draft_kept(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="amount")
    before = await the_draft(sessions)
    await browser.open(f"{REPORT}?step=description")
    page = await browser.send(description="长" * 30000)  # 270 KB as a form: past its 256 KB
    assert browser.status == 413 and lines_of(page) == ["提交的内容过多", *BODY_TOO_LARGE]
    assert await the_draft(sessions) == before
    page = await browser.open(f"{REPORT}?step=description")
    assert textarea_of(page) == REFUND


# --- 涉及金额（万元） -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        pytest.param("十二万", NOT_A_NUMBER, id="in-words"),
        pytest.param("abc", NOT_A_NUMBER, id="letters"),
        pytest.param("1.2.3", NOT_A_NUMBER, id="two-points"),
        pytest.param("12.5美元", NOT_A_NUMBER, id="another-currency"),
        pytest.param("-3", OUT_OF_RANGE, id="negative"),
        pytest.param("1000000001", OUT_OF_RANGE, id="over-a-billion-wan"),
        pytest.param("NaN", OUT_OF_RANGE, id="nan"),
    ],
)
async def test_an_amount_that_is_not_a_sum_is_refused_beside_it_and_kept_as_typed(
    client: Client, sessions: SessionFactory, refund: Category, typed: str, message: str
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="identity")
    page = await refused_in_place(browser, sessions, "amount", amount=typed)
    assert error_beside(page, "amount") == message
    assert value_of(page, "amount") == typed
    _, data = await the_draft(sessions)
    assert data["amount_yuan"] == 30000  # the 3 万元 entered before


@pytest.mark.parametrize(
    ("typed", "yuan"),
    [
        pytest.param("１２．５", 125000, id="full-width-digits"),
        pytest.param("12.345678", 123457, id="many-decimals-rounded-to-yuan"),
        pytest.param("125000元", 125000, id="in-yuan"),
        pytest.param("12.5万元", 125000, id="with-unit"),
        pytest.param("1,250", 12500000, id="thousands-comma"),
        pytest.param(" 0 ", 0, id="zero"),
    ],
)
async def test_the_web_takes_every_amount_the_chat_takes(
    client: Client, sessions: SessionFactory, refund: Category, typed: str, yuan: int
) -> None:
    assert IntakeDraft(draft_id="chat").set_amount(typed).amount_yuan == yuan  # the chat's step
    browser = Browser(client)
    await filled(browser, refund, until="amount")
    page = await browser.send(amount=typed)
    assert step_of(page) == "identity", text_of(page)
    _, data = await the_draft(sessions)
    assert data["amount_yuan"] == yuan


# --- 反映方式 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        pytest.param({}, {"identity": NO_IDENTITY}, id="none-chosen"),
        pytest.param({"identity": "both"}, {"identity": NO_IDENTITY}, id="unknown-choice"),
        pytest.param({"name": "", "phone": "13812345678"}, {"name": NO_NAME}, id="name-missing"),
        pytest.param({"name": "   ", "phone": "13812345678"}, {"name": NO_NAME}, id="name-blank"),
        pytest.param({"name": "张" * 31, "phone": "13812345678"}, {"name": NO_NAME}, id="long"),
        pytest.param({"name": "12345", "phone": "13812345678"}, {"name": NO_NAME}, id="digits"),
        pytest.param({"name": "张三", "phone": ""}, {"phone": NO_PHONE}, id="phone-missing"),
        pytest.param({"name": "张三", "phone": "12345"}, {"phone": BAD_PHONE}, id="phone-short"),
        pytest.param({"name": "张三", "phone": "23812345678"}, {"phone": BAD_PHONE}, id="not-1x"),
        pytest.param(
            {"name": "张三", "phone": "138123456789"}, {"phone": BAD_PHONE}, id="12-digits"
        ),
        pytest.param(
            {"name": "", "phone": "0838-1234567"}, {"name": NO_NAME, "phone": BAD_PHONE}, id="both"
        ),
    ],
)
async def test_a_bad_identity_is_refused_beside_each_field_and_kept_as_typed(
    client: Client,
    sessions: SessionFactory,
    refund: Category,
    fields: dict[str, str],
    errors: dict[str, str],
) -> None:
    browser = Browser(client)
    await filled(
        browser, refund, until="summary", identity="named", name="王五", phone="13712345678"
    )
    sent = ({"identity": "named"} if "name" in fields else {}) | fields
    page = await refused_in_place(browser, sessions, "identity", **sent)
    for name in ("identity", "name", "phone"):
        assert error_beside(page, name) == errors.get(name, ""), name
    if "name" in fields:
        assert value_of(page, "name") == fields["name"]
        assert value_of(page, "phone") == fields["phone"]
        assert 'value="named" id="identity-named" checked' in page
    _, data = await the_draft(sessions)
    draft = IntakeDraft.from_data(data)
    assert (draft.anonymous, draft.contact_name, draft.contact_phone) == (
        False,
        "王五",
        "13712345678",
    )


@pytest.mark.parametrize(
    "typed", ["１３８１２３４５６７８", "+86 138 1234 5678", "138-1234-5678"], ids=str
)
async def test_the_web_takes_every_phone_the_chat_takes(
    client: Client, sessions: SessionFactory, refund: Category, typed: str
) -> None:
    assert IntakeDraft(draft_id="chat").go_named("张三", typed).contact_phone == "13812345678"
    browser = Browser(client)
    await filled(browser, refund, until="identity")
    page = await browser.send(identity="named", name="张三", phone=typed)
    assert step_of(page) == "summary" and "实名（张三，13812345678）" in text_of(page)


async def test_the_name_box_on_the_page_says_the_names_limit(
    client: Client, refund: Category
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="identity")
    box = re.search(r'<input id="name" name="name"[^>]*>', browser.html)
    assert box is not None and f'maxlength="{NAME_MAX}"' in box.group(0)
    assert f"{NAME_MAX}字以内" in NO_NAME  # what the message beside it says


# --- 上一步 from a refused box ------------------------------------------------------------------

GO_BACK_FIRST = (
    "您填写的内容有误，尚未保存。请按提示修改后再点“上一步”；不需要的内容可清空后再点“上一步”。"
)


@pytest.mark.parametrize(
    ("step", "typed", "errors"),
    [
        pytest.param(
            "description",
            {"description": "长" * 2400},
            {"description": LONG.format(n=2400)},
            id="a-description-too-long",
        ),
        pytest.param(
            "amount", {"amount": "十二万"}, {"amount": NOT_A_NUMBER}, id="amount-in-words"
        ),
        pytest.param(
            "identity",
            {"identity": "named", "name": "张三", "phone": "1381234"},
            {"phone": BAD_PHONE},
            id="named-with-a-bad-phone",
        ),
    ],
)
async def test_going_back_from_a_refused_box_keeps_what_was_typed_and_says_to_correct_it(
    client: Client,
    sessions: SessionFactory,
    refund: Category,
    step: str,
    typed: dict[str, str],
    errors: dict[str, str],
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until=step)
    before = await the_draft(sessions)
    page = await browser.send("back", **typed)
    assert browser.status == 400 and step_of(page) == step, text_of(page)
    assert GO_BACK_FIRST in text_of(page) and KEPT not in text_of(page)
    for name, message in errors.items():
        assert error_beside(page, name) == message
    for name, value in typed.items():
        if name == "description":
            assert textarea_of(page) == value
        elif name == "identity":
            assert 'value="named" id="identity-named" checked' in page
        else:
            assert value_of(page, name) == value
    assert await the_draft(sessions) == before


async def test_going_back_with_the_refused_box_cleared_goes_back(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="description")
    page = await browser.send("back", description="长" * 2400)
    assert browser.status == 400 and step_of(page) == "description"
    page = await browser.send("back", description="")
    assert browser.status == 200 and step_of(page) == "category"
    assert f'value="{refund.id}" checked' in page


# --- a tampered step ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "action"),
    [
        pytest.param({"step": "summary"}, "next", id="a-step-not-reached"),
        pytest.param({"step": "nonsense"}, "next", id="no-such-step"),
        pytest.param({"step": ""}, "next", id="empty-step"),
        pytest.param({"step": "summary"}, "submit", id="submit-before-the-summary"),
        pytest.param({"draft": "another-draft"}, "next", id="another-draft"),
    ],
)
async def test_a_tampered_form_is_refused_as_stale_and_changes_nothing(
    client: Client,
    sessions: SessionFactory,
    refund: Category,
    fields: dict[str, str],
    action: str,
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="materials")
    before = await the_draft(sessions)
    await browser.open(f"{REPORT}?step=description")
    page = await browser.send(action, **fields)
    assert browser.status == 409 and lines_of(page) == STALE
    assert await the_draft(sessions) == before and await cases(sessions) == []
    page = await browser.open()
    assert step_of(page) == "materials"


async def test_a_form_without_its_step_is_refused_as_stale(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="description")
    before = await the_draft(sessions)
    data = {k: v for k, v in hidden_fields(browser.html).items() if k != "step"}
    response = await client.post(REPORT, data=data | {"description": REFUND, "action": "next"})
    assert response.status == 409 and lines_of(await response.text()) == STALE
    assert await the_draft(sessions) == before


# --- 相关材料: eleven files, 21 MB, an executable renamed .jpg -------------------------------------


async def at_materials_with(browser: Browser, refund: Category, files: int) -> None:
    await filled(browser, refund, until="materials")
    if files:
        await upload(browser, [(f"{n}.jpg", jpeg(n)) for n in range(files)])
        assert browser.status == 200, text_of(browser.html)


def listed_files(page: str) -> list[str]:
    return [
        html_lib.unescape(name)
        for name in (part.split("</span>")[0] for part in page.split('class="file-name">')[1:])
    ]


@pytest.mark.parametrize(("before", "sent"), [(0, 11), (10, 1), (4, 7)])
async def test_the_eleventh_file_is_refused_by_name_and_ten_stay_listed(
    client: Client, sessions: SessionFactory, refund: Category, before: int, sent: int
) -> None:
    browser = Browser(client)
    await at_materials_with(browser, refund, before)
    files = [(f"新{n}.jpg", jpeg(before + n)) for n in range(sent)]
    page = await upload(browser, files, action="next")
    assert browser.status == 400 and step_of(page) == "materials"
    assert KEPT in text_of(page)
    refused = files[-1][0]
    assert f"{refused}：最多上传10个附件" in error_beside(page, "files")
    assert refused not in listed_files(page)
    assert len(listed_files(page)) == 10 and "已上传 10 个" in text_of(page)
    step, data = await the_draft(sessions)
    assert step == "materials" and len(data["evidence"]) == 10
    assert data["description"] == REFUND


async def test_the_eleventh_files_message_names_the_button_the_page_has(
    client: Client, refund: Category
) -> None:
    browser = Browser(client)
    await at_materials_with(browser, refund, 10)
    page = await upload(browser, [("十一.jpg", jpeg(11))])
    assert browser.status == 400
    assert "完成" not in text_of(page) and "下一步" in text_of(page)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        pytest.param("大文件.pdf", b"%PDF-1.4\n" + bytes(21 * 1024 * 1024), TOO_LARGE, id="21MB"),
        pytest.param("photo.jpg", b"MZ\x90\x00" + os.urandom(4096), REFUSED, id="exe-as-jpg"),
    ],
)
async def test_a_file_refused_is_named_and_the_files_and_text_before_it_are_kept(
    client: Client,
    sessions: SessionFactory,
    refund: Category,
    tmp_path: Path,
    name: str,
    data: bytes,
    message: str,
) -> None:
    browser = Browser(client)
    await at_materials_with(browser, refund, 2)
    stored = sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    page = await upload(browser, [(name, data)], action="next")
    assert browser.status == 400 and step_of(page) == "materials"
    lines = page.split('id="files-error">')[1].split("</div>")[0]
    assert [text_of(line) for line in lines.split("\n") if text_of(line)] == [f"{name}：{message}"]
    assert listed_files(page) == ["0.jpg", "1.jpg"] and KEPT in text_of(page)
    step, draft = await the_draft(sessions)
    assert step == "materials" and draft["description"] == REFUND
    assert [e["file_name"] for e in draft["evidence"]] == ["0.jpg", "1.jpg"]
    assert sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()) == stored


# --- a form without its CSRF token --------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "forged"], ids=["missing", "empty", "forged"])
async def test_a_step_without_its_csrf_token_is_refused_and_the_draft_is_still_there(
    client: Client, sessions: SessionFactory, refund: Category, token: str | None
) -> None:
    browser = Browser(client)
    await filled(
        browser, refund, until="summary", identity="named", name="王五", phone="13712345678"
    )
    before = await the_draft(sessions)
    page = await browser.open(f"{REPORT}?step=identity")
    data = {k: v for k, v in hidden_fields(page).items() if k != CSRF_FIELD}
    if token is not None:
        data[CSRF_FIELD] = token
    response = await client.post(REPORT, data=data | {"identity": "anonymous", "action": "next"})
    assert response.status == 403 and lines_of(await response.text()) == CSRF_REFUSED
    assert await the_draft(sessions) == before
    page = await browser.open()
    assert step_of(page) == "summary" and "实名（王五，13712345678）" in text_of(page)
    assert REFUND in text_of(page)


async def test_files_without_the_csrf_token_are_refused_and_the_listed_ones_stay(
    client: Client, sessions: SessionFactory, refund: Category, tmp_path: Path
) -> None:
    browser = Browser(client)
    await at_materials_with(browser, refund, 1)
    stored = sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file())
    form = browser.html
    browser.html = form.replace(f'name="{CSRF_FIELD}" value="', f'name="{CSRF_FIELD}" value="x')
    page = await upload(browser, [("a.pdf", PDF)])
    assert browser.status == 403 and lines_of(page) == CSRF_REFUSED
    assert sorted(p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()) == stored
    page = await browser.open()
    assert step_of(page) == "materials" and listed_files(page) == ["0.jpg"]


# --- a form after its report was submitted ------------------------------------------------------


@pytest.mark.both_databases
async def test_a_step_sent_after_submission_is_stale_and_makes_no_second_case(
    client: Client, sessions: SessionFactory, refund: Category
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="summary")
    amount_form = await browser.open(f"{REPORT}?step=amount")
    summary = await browser.open()
    await browser.send("submit")
    [case] = await cases(sessions)
    page = await browser.send(form=amount_form, amount="5")
    assert browser.status == 409 and lines_of(page) == STALE
    assert 'href="/c/' in page and "重新打开反映页面" in text_of(page)
    page = await browser.send("submit", form=summary)
    assert browser.status == 200 and "此反映已提交过，无需重复提交。" in text_of(page)
    assert [c.id for c in await cases(sessions)] == [case.id]
    assert case.amount_involved_yuan == 30000


@pytest.mark.both_databases
async def test_files_sent_after_submission_are_stale_and_not_kept(
    client: Client, sessions: SessionFactory, refund: Category, tmp_path: Path
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="materials")
    materials = browser.html
    await browser.send()
    await browser.send(amount="")
    await browser.send(identity="anonymous")
    await browser.send("submit")
    browser.html = materials
    page = await upload(browser, [("a.pdf", PDF)])
    assert browser.status == 409 and lines_of(page) == STALE
    assert not (tmp_path / "blobs").exists() or not any((tmp_path / "blobs").rglob("*.pdf"))
    assert len(await cases(sessions)) == 1


# --- 30 forms a minute from one address ---------------------------------------------------------


async def thirty_forms_sent(client: Client, clock: FrozenClock) -> None:
    """This address has sent its 30 forms this minute (those that filled the report in, and
    others from the same address)."""
    assert isinstance(client.server, TestServer)
    limiter = client.server.app[CHANNEL].limiter
    for _ in range(FORMS_PER_ADDRESS.count):
        await limiter.hit(FORMS_PER_ADDRESS, "127.0.0.1", clock.now())
    assert await limiter.remaining(FORMS_PER_ADDRESS, "127.0.0.1", clock.now()) == 0


@pytest.mark.both_databases
@pytest.mark.parametrize(
    ("step", "fields", "shown"),
    [
        pytest.param("description", {"description": "改过的描述" + REFUND}, "description"),
        pytest.param("amount", {"amount": "99"}, "amount"),
        pytest.param("identity", {"identity": "named", "name": "赵六", "phone": "1391234"}, "name"),
    ],
)
async def test_the_thirty_first_form_in_a_minute_is_refused_and_keeps_what_was_typed(
    client: Client,
    sessions: SessionFactory,
    clock: FrozenClock,
    refund: Category,
    step: str,
    fields: dict[str, str],
    shown: str,
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="summary")
    before = await the_draft(sessions)
    await browser.open(f"{REPORT}?step={step}")
    await thirty_forms_sent(client, clock)
    page = await browser.send(**fields)
    assert browser.status == 429 and step_of(page) == step
    assert f'<p class="alert" role="alert">{TOO_OFTEN}</p>' in page
    typed = textarea_of(page) if shown == "description" else value_of(page, shown)
    assert typed == fields[shown]
    assert await the_draft(sessions) == before


@pytest.mark.both_databases
async def test_the_thirty_first_form_being_the_confirmation_submits_nothing_and_shows_the_summary(
    client: Client, sessions: SessionFactory, clock: FrozenClock, refund: Category
) -> None:
    browser = Browser(client)
    await filled(browser, refund, until="summary")
    await thirty_forms_sent(client, clock)
    page = await browser.send("submit")
    assert browser.status == 429 and step_of(page) == "summary"
    assert TOO_OFTEN in text_of(page) and REFUND in text_of(page)
    assert await cases(sessions) == []
    clock.set(clock.now() + FORMS_PER_ADDRESS.window)
    page = await browser.send("submit")
    assert browser.status == 200 and len(await cases(sessions)) == 1


@pytest.mark.both_databases
async def test_files_past_thirty_forms_in_a_minute_are_refused_and_the_listed_ones_stay(
    client: Client, sessions: SessionFactory, clock: FrozenClock, refund: Category
) -> None:
    browser = Browser(client)
    await at_materials_with(browser, refund, 2)
    before = await the_draft(sessions)
    await thirty_forms_sent(client, clock)
    page = await upload(browser, [("a.pdf", PDF)])
    assert browser.status == 429 and step_of(page) == "materials"
    assert TOO_OFTEN_UPLOAD in text_of(page) and listed_files(page) == ["0.jpg", "1.jpg"]
    assert await the_draft(sessions) == before


# --- a wrong receipt code ten times ------------------------------------------------------------


@pytest.fixture
async def tracking(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> AsyncIterator[Client]:
    settings = Settings(_env_file=None, web_secret=SECRET)
    app = create_standalone_web_app(settings, catalog, sessions, clock)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


def error_of_track(page: str) -> str:
    start = page.find('<p class="flash error" role="alert">')
    if start < 0:
        return ""
    return text_of(page[start : page.find("</p>", start)])


def code_box(page: str) -> str:
    return value_of(page.replace('class="field code" ', ""), "code")


@pytest.mark.both_databases
async def test_ten_wrong_receipt_codes_each_say_so_with_the_code_still_in_its_box(
    tracking: Client, sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await web_case(sessions, catalog, calendar)
    page = await (await tracking.get("/t")).text()
    token = hidden_fields(page)[CSRF_FIELD]
    for n in range(10):
        typed = f"2222-3333-{n:04d}"
        response = await tracking.post("/t", data={CSRF_FIELD: token, "code": typed})
        page = await response.text()
        assert response.status == 404 and error_of_track(page) == WRONG_RECEIPT, n
        assert code_box(page) == typed
    response = await tracking.post("/t", data={CSRF_FIELD: token, "code": case.code})
    page = await response.text()
    assert response.status == 429 and error_of_track(page) == TOO_MANY_CODES


async def test_the_code_typed_after_ten_wrong_ones_stays_in_its_box(
    tracking: Client, sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await web_case(sessions, catalog, calendar)
    token = hidden_fields(await (await tracking.get("/t")).text())[CSRF_FIELD]
    for n in range(10):
        await tracking.post("/t", data={CSRF_FIELD: token, "code": f"2222-3333-{n:04d}"})
    response = await tracking.post("/t", data={CSRF_FIELD: token, "code": case.code})
    assert response.status == 429 and code_box(await response.text()) == case.code


async def test_a_receipt_code_without_the_csrf_token_is_refused_in_chinese(
    tracking: Client, sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar
) -> None:
    case = await web_case(sessions, catalog, calendar)
    await tracking.get("/t")
    response = await tracking.post("/t", data={"code": case.code}, allow_redirects=False)
    assert response.status == 403 and lines_of(await response.text()) == CSRF_REFUSED
    assert "lianka_track" not in {c.key for c in tracking.session.cookie_jar}
