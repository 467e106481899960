"""Issuing, importing, listing, revoking, reissuing and choosing cards for print (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import TypeVar

import pytest
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.cards import (
    CardAlreadyIssued,
    CardRevoked,
    import_cards,
    issue_card,
    list_cards,
    mark_printed,
    reissue_card,
    revoke_card,
    select_cards_for_print,
)
from cards.csvfile import CsvRow, read_enterprise_list
from cards.tokens import is_card_token
from models.card import Card, CardStatus, PrintBatch
from models.enterprise import Enterprise
from models.errors import InvalidInput, NotFound

pytestmark = pytest.mark.both_databases

USCC_A = "91350100M000100Y43"
USCC_B = "91110000802100433B"
USCC_C = "91440300708461136T"

LIST = (
    "企业名称,统一社会信用代码,园区,法定代表人\n"
    f"安居甲公司,{USCC_A},安居经开区,张三\n"  # 2: zone by Chinese name
    "安居乙公司,,yufeng,\n"  # 3: zone by code
    "安居丙公司,,,\n"  # 4: default zone (jkq)
    f"安居丁公司,{USCC_B[:-1]}X,,\n"  # 5: bad check character
    "安居戊公司,,火星,\n"  # 6: unknown zone
    ",,,\n"  # 7: blank, ignored
    "  ,,jkq,\n"  # 8: no name
    f"安居甲公司（重复）,{USCC_A},,\n"  # 9: same USCC as line 2 in the same file
)


async def run_import(sessions, config, clock, data: bytes, **options):
    parsed = read_enterprise_list(data)
    async with sessions() as session:
        report = await import_cards(session, config, clock.now(), parsed.rows, **options)
    return parsed, report


M = TypeVar("M", Card, Enterprise, PrintBatch)


async def all_rows(sessions: SessionFactory, model: type[M]) -> list[M]:
    async with sessions() as session:
        return list((await session.exec(select(model).order_by(col(model.id)))).all())


def card_id(card: Card) -> int:
    assert card.id is not None
    return card.id


async def test_an_import_issues_cards_for_good_rows_and_names_the_bad_lines(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    parsed, report = await run_import(sessions, catalog, clock, LIST.encode("gbk"), note="a.csv")
    assert [(p.line, p.message) for p in parsed.problems + report.problems] == [
        (5, "统一社会信用代码校验位不正确"),
        (8, "企业名称为空"),
        (6, "未知的园区“火星”"),
    ]
    assert [
        (i.line, i.enterprise.name, i.zone.code if i.zone else None) for i in report.issued
    ] == [
        (2, "安居甲公司", "jkq"),
        (3, "安居乙公司", "yufeng"),
        (4, "安居丙公司", "jkq"),
    ]
    assert [(c.line, c.card.id) for c in report.already_carded] == [(9, report.issued[0].card.id)]
    cards = await all_rows(sessions, Card)
    assert len(cards) == 3
    assert {c.batch_id for c in cards} == {report.batch_id}
    assert [c.issuing_unit for c in cards] == ["安居经开区纪工委", "玉丰镇纪委", "安居经开区纪工委"]
    assert all(is_card_token(c.token) and len(c.token) == 24 for c in cards)
    (batch,) = await all_rows(sessions, PrintBatch)
    assert batch.note == "a.csv"
    enterprises = await all_rows(sessions, Enterprise)
    assert [(e.name, e.uscc, e.legal_rep) for e in enterprises] == [
        ("安居甲公司", USCC_A, "张三"),
        ("安居乙公司", None, None),
        ("安居丙公司", None, None),
    ]


async def test_importing_the_same_file_again_creates_no_duplicate_enterprise_or_card(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    await run_import(sessions, catalog, clock, LIST.encode())
    _, again = await run_import(sessions, catalog, clock, LIST.encode("utf-8-sig"))
    assert again.issued == []
    assert again.batch_id is None
    assert sorted(c.line for c in again.already_carded) == [2, 3, 4, 9]
    assert len(await all_rows(sessions, Enterprise)) == 3
    assert len(await all_rows(sessions, Card)) == 3
    assert len(await all_rows(sessions, PrintBatch)) == 1


async def test_extra_cards_are_issued_only_when_asked(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    await run_import(sessions, catalog, clock, LIST.encode())
    _, extra = await run_import(sessions, catalog, clock, LIST.encode(), extra_cards=True)
    assert len(extra.issued) == 4  # lines 2, 3, 4 and the repeated USCC on line 9
    assert extra.enterprises_created == 0
    assert len(await all_rows(sessions, Enterprise)) == 3
    assert len(await all_rows(sessions, Card)) == 7


async def test_an_enterprise_is_matched_by_name_in_its_zone_and_learns_its_uscc(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    first = "企业名称,园区\n安居乙公司,yufeng\n安居乙公司,anju\n"
    await run_import(sessions, catalog, clock, first.encode())
    second = f"name,uscc,zone\n安居乙公司,{USCC_C},玉丰镇\n"
    _, report = await run_import(sessions, catalog, clock, second.encode())
    assert report.issued == []
    enterprises = await all_rows(sessions, Enterprise)
    assert len(enterprises) == 2  # the same name in another zone is another enterprise
    assert [e.uscc for e in enterprises] == [USCC_C, None]


async def test_a_large_list_is_imported_in_batches_without_duplicates(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    rows = [CsvRow(n + 2, f"安居第{n % 250}号企业", None, None, None) for n in range(1000)]
    progress: list[int] = []
    async with sessions() as session:
        report = await import_cards(
            session, catalog, clock.now(), rows, batch_size=64, on_progress=progress.append
        )
    assert sum(progress) == 1000 and len(progress) == 16
    assert len(report.issued) == 250
    assert len(report.already_carded) == 750
    assert len(await all_rows(sessions, Enterprise)) == 250
    assert len({c.token for c in await all_rows(sessions, Card)}) == 250


async def test_issuing_one_card_reuses_the_enterprise_and_refuses_a_second_active_card(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with sessions() as session:
        first = await issue_card(
            session, catalog, clock.now(), name=" 安居甲公司 ", uscc=USCC_A.lower(), zone="ximei"
        )
    assert first.enterprise_created and first.enterprise.uscc == USCC_A
    assert first.card.issuing_unit == "西眉镇纪委"
    async with sessions() as session:
        with pytest.raises(CardAlreadyIssued) as refused:
            await issue_card(session, catalog, clock.now(), name="安居甲公司（新名）", uscc=USCC_A)
    assert f"lianka cards reissue {first.card.id}" in refused.value.message
    async with sessions() as session:
        extra = await issue_card(
            session, catalog, clock.now(), name="安居甲公司", uscc=USCC_A, extra=True
        )
    assert not extra.enterprise_created
    assert extra.enterprise.id == first.enterprise.id
    assert extra.card.token != first.card.token


@pytest.mark.parametrize(
    ("changes", "error", "text"),
    [
        ({"name": "  "}, InvalidInput, "企业名称不能为空"),
        ({"uscc": "123"}, InvalidInput, "应为18位"),
        ({"zone": "火星"}, NotFound, "未知的园区“火星”"),
    ],
)
async def test_issuing_refuses_bad_input_with_a_chinese_reason(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    clock: FrozenClock,
    changes: dict[str, str],
    error: type[Exception],
    text: str,
) -> None:
    async with sessions() as session:
        with pytest.raises(error) as refused:
            await issue_card(
                session,
                catalog,
                clock.now(),
                name=changes.get("name", "安居甲公司"),
                uscc=changes.get("uscc"),
                zone=changes.get("zone"),
            )
    assert text in refused.value.message  # type: ignore[attr-defined]
    assert await all_rows(sessions, Enterprise) == []


async def test_a_revoked_card_is_marked_and_cannot_be_revoked_twice(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with sessions() as session:
        issued = await issue_card(session, catalog, clock.now(), name="安居甲公司")
    async with sessions() as session:
        card = await revoke_card(session, card_id(issued.card), clock.now())
    assert card.status is CardStatus.REVOKED and card.revoked_at == clock.now()
    async with sessions() as session:
        with pytest.raises(CardRevoked):
            await revoke_card(session, card_id(issued.card), clock.now())
        with pytest.raises(NotFound):
            await revoke_card(session, 999, clock.now())
    async with sessions() as session:
        again = await issue_card(session, catalog, clock.now(), name="安居甲公司")
    assert again.enterprise.id == issued.enterprise.id  # a revoked card does not block a new one


async def test_reissue_gives_a_new_token_and_revokes_the_old_card(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with sessions() as session:
        issued = await issue_card(session, catalog, clock.now(), name="安居乙公司", zone="yufeng")
    async with sessions() as session:
        result = await reissue_card(session, card_id(issued.card), clock.now())
    old, new = await all_rows(sessions, Card)
    assert new.id == result.new.id and new.token != old.token and is_card_token(new.token)
    assert (old.status, old.revoked_at, old.replaced_by_id) == (
        CardStatus.REVOKED,
        clock.now(),
        new.id,
    )
    assert (new.status, new.enterprise_id, new.zone_id, new.issuing_unit) == (
        CardStatus.ACTIVE,
        old.enterprise_id,
        old.zone_id,
        "玉丰镇纪委",
    )
    async with sessions() as session:
        with pytest.raises(CardRevoked, match="已补发"):
            await reissue_card(session, card_id(old), clock.now())


async def test_a_revoked_card_without_replacement_can_still_be_reissued(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    async with sessions() as session:
        issued = await issue_card(session, catalog, clock.now(), name="安居甲公司")
    async with sessions() as session:
        await revoke_card(session, card_id(issued.card), clock.now())
    async with sessions() as session:
        result = await reissue_card(session, card_id(issued.card), clock.now())
    assert result.new.status is CardStatus.ACTIVE
    assert result.old.replaced_by_id == result.new.id


async def test_listing_filters_by_zone_and_status(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    await run_import(sessions, catalog, clock, LIST.encode())
    async with sessions() as session:
        listing = await list_cards(session)
        await revoke_card(session, card_id(listing[1].card), clock.now())
    async with sessions() as session:
        in_jkq = await list_cards(session, zone="jkq")
        by_name = await list_cards(session, zone="安居经开区")
        revoked = await list_cards(session, status=CardStatus.REVOKED)
    assert [i.enterprise for i in listing] == ["安居甲公司", "安居乙公司", "安居丙公司"]
    assert [i.enterprise for i in in_jkq] == [i.enterprise for i in by_name]
    assert [i.enterprise for i in in_jkq] == ["安居甲公司", "安居丙公司"]
    assert [(i.enterprise, i.zone_name) for i in revoked] == [("安居乙公司", "玉丰镇")]


async def test_printing_a_revoked_card_is_refused_and_a_batch_leaves_it_out(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    _, report = await run_import(sessions, catalog, clock, LIST.encode())
    ids = [card_id(item.card) for item in report.issued]
    async with sessions() as session:
        await revoke_card(session, ids[1], clock.now())
    async with sessions() as session:
        with pytest.raises(CardRevoked) as refused:
            await select_cards_for_print(session, card_ids=[ids[0], ids[1]])
        assert f"联系卡 {ids[1]} 已作废，不能打印" in refused.value.message
        with pytest.raises(NotFound):
            await select_cards_for_print(session, card_ids=[999])
        batch = await select_cards_for_print(session, batch_id=report.batch_id)
        everything = await select_cards_for_print(session, everything=True)
        chosen = await select_cards_for_print(session, card_ids=[ids[2], ids[0]])
    assert [p.card.id for p in batch.cards] == [ids[0], ids[2]]
    assert batch.skipped_revoked == [ids[1]]
    assert [p.card.id for p in everything.cards] == [ids[0], ids[2]]
    assert [p.card.id for p in chosen.cards] == [ids[2], ids[0]]
    assert [p.issuing_unit for p in chosen.cards] == ["安居经开区纪工委", "安居经开区纪工委"]


async def test_each_print_counts_once_per_card(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock
) -> None:
    _, report = await run_import(sessions, catalog, clock, LIST.encode())
    ids = [card_id(item.card) for item in report.issued]
    async with sessions() as session:
        await mark_printed(session, ids)
        await mark_printed(session, ids[:1])
    assert [c.printed_count for c in await all_rows(sessions, Card)] == [2, 1, 1]
