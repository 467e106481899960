"""The console's 联系卡: CSV checked before anything is written, import, print file, revoke and
reissue, each for an admin only."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest
from sqlmodel import col, func, select

from bot.blobs import DirectoryBlobStore
from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.card_admin import (
    CardPage,
    ImportExpired,
    check_card_import,
    confirm_card_import,
    list_card_page,
    print_cards,
)
from bot.services.cards import CardFilter, import_cards, issue_card, mark_printed, revoke_card
from bot.services.reporters import CardRefused, get_open_card
from cards.csvfile import read_enterprise_list
from cards.layout import PER_PAGE
from models.card import Card, CardStatus, PrintBatch
from models.enterprise import Enterprise
from models.errors import InvalidInput, PermissionDenied
from models.team import Inspector, Role
from tests.console_support import Client, SignedIn, console_app, sign_in, text_of
from tests.factories import make_inspector

USCC_A = "91350100M000100Y43"
USCC_B = "91110000802100433B"

CLEAN = f"企业名称,统一社会信用代码,园区,法定代表人\n安居甲公司,{USCC_A},安居经开区,张三\n安居乙公司,,,\n"
BAD = (
    "企业名称,统一社会信用代码,园区,法定代表人\n"
    f"安居甲公司,{USCC_A},安居经开区,张三\n"  # 2: good
    f"安居丁公司,{USCC_B[:-1]}X,,\n"  # 3: bad check character
    "安居戊公司,,火星,\n"  # 4: unknown zone
    " ,,,李四\n"  # 5: no name
)

M = TypeVar("M", Card, Enterprise, PrintBatch)


async def count(sessions: SessionFactory, model: type[M]) -> int:
    async with sessions() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def person(sessions: SessionFactory, clock: FrozenClock, role: Role, uid: int) -> Inspector:
    team = "business_env" if role in {Role.INSPECTOR, Role.TEAM_LEADER} else None
    async with sessions() as session:
        return await make_inspector(
            session, clock.now(), team_code=team, role=role, telegram_user_id=uid
        )


@pytest.fixture
async def admin(sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock) -> Inspector:
    return await person(sessions, clock, Role.ADMIN, 801)


async def test_a_file_with_bad_lines_is_listed_by_line_and_nothing_is_written(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    admin: Inspector,
    tmp_path: Path,
) -> None:
    blobs = DirectoryBlobStore(tmp_path)
    async with sessions() as session:
        checked = await check_card_import(
            session,
            admin,
            config=catalog,
            blobs=blobs,
            data=BAD.encode("gbk"),
            file_name="名单.csv",
            now=clock.now(),
        )
    assert [(p.line, p.message) for p in checked.problems] == [
        (3, "统一社会信用代码校验位不正确"),
        (4, "未知的园区“火星”"),
        (5, "企业名称为空"),
    ]
    assert checked.good_rows == 1
    assert (await count(sessions, Card), await count(sessions, Enterprise)) == (0, 0)
    async with sessions() as session:
        with pytest.raises(InvalidInput):
            await confirm_card_import(
                session,
                admin,
                config=catalog,
                blobs=blobs,
                key=checked.key,
                only_good=False,
                now=clock.now(),
            )
    assert await count(sessions, Card) == 0
    async with sessions() as session:
        done = await confirm_card_import(
            session,
            admin,
            config=catalog,
            blobs=blobs,
            key=checked.key,
            only_good=True,
            now=clock.now(),
        )
    assert [i.enterprise.name for i in done.report.issued] == ["安居甲公司"]
    assert [p.line for p in done.problems] == [3, 4, 5]


async def test_a_checked_file_is_imported_once_by_its_admin_within_the_hour(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    admin: Inspector,
    tmp_path: Path,
) -> None:
    blobs = DirectoryBlobStore(tmp_path)
    other_admin = await person(sessions, clock, Role.ADMIN, 802)
    async with sessions() as session:
        checked = await check_card_import(
            session,
            admin,
            config=catalog,
            blobs=blobs,
            data=CLEAN.encode(),
            file_name="a.csv",
            now=clock.now(),
        )

    async def confirm(who: Inspector, *, later: timedelta = timedelta(0)) -> object:
        async with sessions() as session:
            return await confirm_card_import(
                session,
                who,
                config=catalog,
                blobs=blobs,
                key=checked.key,
                only_good=False,
                now=clock.now() + later,
            )

    with pytest.raises(ImportExpired):
        await confirm(other_admin)
    with pytest.raises(ImportExpired):
        await confirm(admin, later=timedelta(hours=1))
    assert await count(sessions, Card) == 0
    await confirm(admin)
    assert (await count(sessions, Card), await count(sessions, Enterprise)) == (2, 2)
    with pytest.raises(ImportExpired):
        await confirm(admin)
    assert await count(sessions, Card) == 2


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.TEAM_LEADER, Role.LEADER])
async def test_nobody_but_an_admin_checks_or_prints(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    tmp_path: Path,
    role: Role,
) -> None:
    someone = await person(sessions, clock, role, 900)
    async with sessions() as session:
        with pytest.raises(PermissionDenied):
            await check_card_import(
                session,
                someone,
                config=catalog,
                blobs=DirectoryBlobStore(tmp_path / "blobs"),
                data=CLEAN.encode(),
                file_name="a.csv",
                now=clock.now(),
            )
        with pytest.raises(PermissionDenied):
            await print_cards(
                session,
                someone,
                config=catalog,
                which=CardFilter(),
                batch_id=None,
                bot_username="lianka_bot",
                public_url=None,
            )
    assert not (tmp_path / "blobs").exists()


async def test_the_print_file_counts_a_print_of_each_card_and_only_unprinted_ones_next_time(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    admin: Inspector,
    tmp_path: Path,
) -> None:
    blobs = DirectoryBlobStore(tmp_path)
    async with sessions() as session:
        checked = await check_card_import(
            session,
            admin,
            config=catalog,
            blobs=blobs,
            data=CLEAN.encode(),
            file_name="a.csv",
            now=clock.now(),
        )
    async with sessions() as session:
        await confirm_card_import(
            session,
            admin,
            config=catalog,
            blobs=blobs,
            key=checked.key,
            only_good=False,
            now=clock.now(),
        )
    async with sessions() as session:
        printed = await print_cards(
            session,
            admin,
            config=catalog,
            which=CardFilter(unprinted=True),
            batch_id=None,
            bot_username="lianka_bot",
            public_url=None,
        )
    assert printed.pdf.startswith(b"%PDF")
    assert (printed.cards, printed.pages) == (2, 1)
    async with sessions() as session:
        counts = (await session.exec(select(Card.printed_count).order_by(col(Card.id)))).all()
        assert list(counts) == [1, 1]
        with pytest.raises(InvalidInput):
            await print_cards(
                session,
                admin,
                config=catalog,
                which=CardFilter(unprinted=True),
                batch_id=None,
                bot_username="lianka_bot",
                public_url=None,
            )


# --- through the console app, over HTTP -------------------------------------------------------


def upload_form(signed: SignedIn, data: bytes, name: str = "名单.csv") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("csrf_token", signed.csrf)
    form.add_field("file", data, filename=name, content_type="text/csv")
    return form


async def followed(signed: SignedIn, response: aiohttp.ClientResponse) -> str:
    """The page a 303 after a form leads to, as the person then reads it."""
    assert response.status == 303, await response.text()
    page = await signed.get(response.headers["Location"])
    assert page.status == 200
    return text_of(await page.text())


async def upload(signed: SignedIn, data: bytes) -> aiohttp.ClientResponse:
    return await signed.client.post(
        "/console/cards/import", data=upload_form(signed, data), allow_redirects=False
    )


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, name
    return found.group(1)


async def test_the_admin_sees_bad_lines_with_their_numbers_and_nothing_is_written(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        before = (await count(sessions, Card), await count(sessions, Enterprise))
        response = await upload(admin, BAD.encode("gbk"))
        html = await response.text()
        assert response.status == 200
        assert "第 3 行" in html and "统一社会信用代码校验位不正确" in html
        assert "第 4 行" in html and "未知的园区“火星”" in html
        assert "第 5 行" in html and "企业名称为空" in html
        assert "仅导入无误的行（1 行）" in html and "确认导入" not in html
        assert (await count(sessions, Card), await count(sessions, Enterprise)) == before


async def test_a_clean_file_is_written_after_confirming_and_the_page_says_what(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        checked = await upload(admin, CLEAN.encode())
        html = await checked.text()
        assert "确认导入" in html
        assert await count(sessions, Card) == 0
        done = await admin.post("/console/cards/import/confirm", {"key": hidden(html, "key")})
        page = await followed(admin, done)
        assert "新建企业 2 家" in page and "发卡 2 张" in page
        assert (await count(sessions, Card), await count(sessions, Enterprise)) == (2, 2)
        again = await admin.post("/console/cards/import/confirm", {"key": hidden(html, "key")})
        assert again.status == 409
        assert await count(sessions, Card) == 2


async def test_revoking_stops_the_landing_page_and_reissuing_gives_a_new_token(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with sessions() as session:
        issued = await issue_card(session, catalog, clock.now(), name="安居甲公司", uscc=USCC_A)
    first = issued.card
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        page = await admin.get(f"/console/cards/{first.id}")
        html = await page.text()
        assert "安居甲公司" in html and "<svg" in html
        assert first.token[:6] in html and first.token not in html
        ask = await admin.get(f"/console/cards/{first.id}/revoke")
        assert "确认作废联系卡" in await ask.text()
        async with sessions() as session:
            await get_open_card(session, config=catalog, token=first.token)  # not yet
        revoked = await admin.post(f"/console/cards/{first.id}/revoke", {})
        assert "已作废，其二维码不再可用" in await followed(admin, revoked)
        async with sessions() as session:
            with pytest.raises(CardRefused):
                await get_open_card(session, config=catalog, token=first.token)
        reissued = await admin.post(f"/console/cards/{first.id}/reissue", {})
        assert "已补发联系卡" in await followed(admin, reissued)
    async with sessions() as session:
        cards = (await session.exec(select(Card).order_by(col(Card.id)))).all()
        assert [c.id for c in cards] == [first.id, cards[1].id]
        new = cards[1]
        assert new.token != first.token and cards[0].replaced_by_id == new.id
        assert (await get_open_card(session, config=catalog, token=new.token)).id == new.id


async def test_the_print_file_is_a_pdf_with_ten_cards_a_page_and_marks_them_printed(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    rows = "".join(f"安居企业{n}号,,,\n" for n in range(12))
    async with sessions() as session:
        await import_cards(
            session,
            catalog,
            clock.now(),
            read_enterprise_list(
                ("企业名称,统一社会信用代码,园区,法定代表人\n" + rows).encode()
            ).rows,
        )
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        form = await admin.get("/console/cards/print")
        assert "下载打印文件（PDF）" in await form.text()
        response = await admin.post("/console/cards/print", {"unprinted": "1", "zone": ""})
        body = await response.read()
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert body.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", body)) == -(-12 // PER_PAGE)
    async with sessions() as session:
        counts = (await session.exec(select(Card.printed_count))).all()
    assert sorted(counts) == [1] * 12


FORBIDDEN = [
    ("GET", "/console/cards", None),
    ("GET", "/console/cards/import", None),
    ("POST", "/console/cards/import", "upload"),
    ("POST", "/console/cards/import/confirm", {"key": "0" * 64, "only_good": "1"}),
    ("GET", "/console/cards/print", None),
    ("POST", "/console/cards/print", {"zone": ""}),
    ("GET", "/console/cards/{card}", None),
    ("GET", "/console/cards/{card}/revoke", None),
    ("GET", "/console/cards/{card}/reissue", None),
    ("POST", "/console/cards/{card}/revoke", {}),
    ("POST", "/console/cards/{card}/reissue", {}),
]


@pytest.mark.parametrize("role", ["inspector", "team_leader", "leader", "dispatcher"])
async def test_nobody_but_the_admin_opens_or_changes_anything_about_cards(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, role: str
) -> None:
    async with sessions() as session:
        issued = await issue_card(session, catalog, clock.now(), name="安居甲公司")
    async with console_app(sessions, catalog, clock=clock) as client:
        someone = await sign_in(client, sessions, role=role)
        for method, path, data in FORBIDDEN:
            url = path.format(card=issued.card.id)
            if method == "GET":
                response = await someone.get(url)
            elif data == "upload":
                response = await upload(someone, CLEAN.encode())
            else:
                assert isinstance(data, dict)
                response = await someone.post(url, data)
            assert response.status == 403, (method, url)
    async with sessions() as session:
        cards = (await session.exec(select(Card))).all()
    assert [(c.id, c.status, c.printed_count, c.token) for c in cards] == [
        (issued.card.id, issued.card.status, 0, issued.card.token)
    ]


@pytest.mark.both_databases
async def test_the_card_list_filters_by_zone_status_print_and_name_or_code_fifty_a_page(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, admin: Inspector
) -> None:
    rows = "".join(f"安居企业{n:03d}号,,yufeng,\n" for n in range(55))
    data = f"企业名称,统一社会信用代码,园区,法定代表人\n{rows}百分_公司,{USCC_A},,\n".encode()
    async with sessions() as session:
        report = await import_cards(session, catalog, clock.now(), read_enterprise_list(data).rows)
        await revoke_card(session, report.issued[0].card.id or 0, clock.now())
        await mark_printed(session, [report.issued[1].card.id or 0])

    async def listed(which: CardFilter, page: int = 1) -> CardPage:
        async with sessions() as session:
            return await list_card_page(session, admin, which, page=page)

    first, last = await listed(CardFilter()), await listed(CardFilter(), page=2)
    assert (first.total, first.pages, len(first.items), len(last.items)) == (56, 2, 50, 6)
    assert (await listed(CardFilter(zone="yufeng"))).total == 55
    assert (await listed(CardFilter(zone="玉丰镇"))).total == 55
    assert (await listed(CardFilter(status=CardStatus.REVOKED))).total == 1
    assert (await listed(CardFilter(status=CardStatus.ACTIVE, unprinted=True))).total == 54
    assert [i.enterprise for i in (await listed(CardFilter(search="企业007"))).items] == [
        "安居企业007号"
    ]
    assert (await listed(CardFilter(search="企业05"))).total == 5
    assert [i.enterprise for i in (await listed(CardFilter(search="百分_"))).items] == ["百分_公司"]
    assert (await listed(CardFilter(search="%"))).total == 0
    by_code = await listed(CardFilter(search=USCC_A[:8].lower()))
    assert [(i.enterprise, i.uscc) for i in by_code.items] == [("百分_公司", USCC_A)]


async def test_a_file_that_is_no_enterprise_list_is_refused_on_the_form(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with console_app(sessions, catalog, clock=clock) as client:
        admin = await sign_in(client, sessions, role="admin", team=None)
        empty = await upload(admin, b"")
        assert empty.status == 400
        assert "请选择要导入的 CSV 文件。" in await empty.text()
        headless = await upload(admin, "公司,电话\n甲,123\n".encode())
        assert headless.status == 400
        assert "缺少“企业名称”列" in text_of(await headless.text())
        assert "导入文件（CSV）" in await headless.text()
    assert await count(sessions, Enterprise) == 0


async def test_a_list_over_the_size_limit_is_refused_in_chinese_and_nothing_is_written(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with console_app(sessions, catalog, clock=clock) as client:
        await _refused_too_large(client, sessions)


async def _refused_too_large(client: Client, sessions: SessionFactory) -> None:
    admin = await sign_in(client, sessions, role="admin", team=None)
    page = await admin.get("/console/cards/import")
    assert page.status == 200
    big = b"\xe4\xbc\x81\xe4\xb8\x9a\xe5\x90\x8d\xe7\xa7\xb0\n" + b"x" * (1024 * 1024 + 10)
    form = aiohttp.FormData()
    form.add_field("csrf_token", admin.csrf)
    form.add_field("file", io.BytesIO(big), filename="big.csv", content_type="text/csv")
    answer = await admin.client.post("/console/cards/import", data=form, allow_redirects=False)
    assert answer.status == 413
    assert "超过1MB" in text_of(await answer.text())
    assert await count(sessions, Enterprise) == 0
