"""The console's 联系卡: CSV checked before anything is written, import, print file, revoke and
reissue, each for an admin only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlmodel import col, func, select

from bot.blobs import DirectoryBlobStore
from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.card_admin import (
    ImportExpired,
    check_card_import,
    confirm_card_import,
    print_cards,
)
from bot.services.cards import CardFilter
from models.card import Card, PrintBatch
from models.enterprise import Enterprise
from models.errors import InvalidInput, PermissionDenied
from models.team import Inspector, Role
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
