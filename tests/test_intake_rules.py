"""What a reporter may type: description length, amounts in 万元 or 元, mobile numbers."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.errors import InvalidInput
from models.intake import (
    check_description,
    check_name,
    clean_text,
    normalize_mobile,
    parse_amount_yuan,
)


@pytest.mark.parametrize(
    ("typed", "yuan"),
    [
        ("12.5", 125_000),
        ("12.5万", 125_000),
        ("12.5万元", 125_000),
        ("125000元", 125_000),
        ("1,700", 17_000_000),
        ("１７００万", 17_000_000),
        (" 0 ", 0),
        ("2796", 27_960_000),
    ],
)
def test_amounts_are_read_as_people_write_them(typed: str, yuan: int) -> None:
    assert parse_amount_yuan(typed) == yuan


@pytest.mark.parametrize("typed", ["很多", "12.5亿", "-3", "1e400", "NaN", "", "万"])
def test_a_bad_amount_is_refused_with_an_example(typed: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_amount_yuan(typed)
    assert "金额" in raised.value.message


def test_a_description_under_ten_characters_says_how_many_were_written() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_description("退税没到")
    assert raised.value.message.startswith("问题描述太短（4字）")


def test_a_description_over_2000_characters_is_refused() -> None:
    with pytest.raises(InvalidInput) as raised:
        check_description("款" * 2001)
    assert raised.value.message.startswith("问题描述太长（2001字）")


def test_a_description_keeps_what_was_typed_including_markup() -> None:
    text = "园区<b>某局</b>要求企业 & 个人\n\t重复提交材料"
    assert check_description(text) == text


def test_control_characters_are_dropped_but_lines_kept() -> None:
    assert clean_text("第一行\x00\x07\n第二行\x1b") == "第一行\n第二行"


@pytest.mark.parametrize(
    "typed",
    ["13812345678", "+86 138 1234 5678", "0086-13812345678", "138-1234-5678", "8613812345678"],
)
def test_mainland_mobile_numbers_are_accepted_in_common_forms(typed: str) -> None:
    assert normalize_mobile(typed) == "13812345678"


@pytest.mark.parametrize("typed", ["12812345678", "1381234567", "0825-1234567", "+1 415 555 0100"])
def test_other_numbers_are_refused(typed: str) -> None:
    with pytest.raises(InvalidInput):
        normalize_mobile(typed)


def test_a_name_of_only_digits_is_refused() -> None:
    with pytest.raises(InvalidInput):
        check_name("13812345678")
    assert check_name(" 宋利剑 ") == "宋利剑"


@settings(deadline=None)  # no 200 ms limit per example: a busy machine exceeds it
@given(st.decimals(min_value=0, max_value=10**8, places=4, allow_nan=False))
def test_any_amount_in_wan_with_four_decimals_is_exact_in_yuan(wan: object) -> None:
    assert parse_amount_yuan(f"{wan}万") == int(wan * 10000)  # type: ignore[operator]
