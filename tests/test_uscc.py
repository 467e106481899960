"""统一社会信用代码 (GB 32100-2015): the check digit and the messages people see."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.enterprise import (
    USCC_ALPHABET,
    is_valid_uscc,
    normalize_uscc,
    uscc_check_char,
    uscc_problem,
)

# Published codes of real organisations (their check characters are part of the test).
REAL_CODES = [
    "91350100M000100Y43",
    "91110000802100433B",  # 中国石油化工股份有限公司
    "91440300708461136T",  # 华为技术有限公司
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_published_codes_are_valid(code: str) -> None:
    assert is_valid_uscc(code)


@pytest.mark.parametrize("code", REAL_CODES)
def test_changing_the_check_character_makes_a_code_invalid(code: str) -> None:
    wrong = next(ch for ch in "0123456789" if ch != code[-1])
    assert uscc_problem(code[:-1] + wrong) == "统一社会信用代码校验位不正确"


def test_a_code_of_the_wrong_length_says_how_long_it_is() -> None:
    assert uscc_problem("91110000802100433") == "统一社会信用代码应为18位，当前为17位"


def test_letters_outside_the_alphabet_are_named() -> None:
    # I, O, S, V and Z are not used so they cannot be confused with digits
    assert uscc_problem("91110000802100433I") == "统一社会信用代码含有无效字符：I"


def test_the_administrative_division_part_must_be_digits() -> None:
    code = "9111A000802100433"
    assert uscc_problem(code + uscc_check_char(code)) == (
        "统一社会信用代码第3至8位应为行政区划代码（数字）"
    )


def test_typed_codes_are_normalised_before_checking() -> None:
    assert normalize_uscc(" 91440300708461136t ") == "91440300708461136T"
    assert normalize_uscc("９１４４０３００７０８４６１１３６Ｔ") == "91440300708461136T"


body = st.tuples(
    st.sampled_from("159AY"),
    st.sampled_from("123459"),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
)


@settings(deadline=None)  # no 200 ms limit per example: a busy machine exceeds it
@given(body)
def test_any_code_with_its_computed_check_character_is_valid(parts: tuple[str, ...]) -> None:
    first17 = "".join(parts)
    assert is_valid_uscc(first17 + uscc_check_char(first17))


@pytest.mark.slow
@settings(deadline=None)  # no 200 ms limit per example: a busy machine exceeds it
@given(body, st.integers(0, 16), st.sampled_from(USCC_ALPHABET))
def test_any_single_character_change_is_detected(
    parts: tuple[str, ...], position: int, replacement: str
) -> None:
    first17 = "".join(parts)
    code = first17 + uscc_check_char(first17)
    changed = code[:position] + replacement + code[position + 1 :]
    if changed != code and changed[2:8].isdigit():
        assert not is_valid_uscc(changed)
