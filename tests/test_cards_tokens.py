"""Card tokens: unguessable, fit Telegram's start parameter, and open the right bot."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from cards.tokens import card_link, is_card_token, new_card_token


def test_a_new_token_is_c_underscore_and_22_url_safe_characters() -> None:
    token = new_card_token()
    assert re.fullmatch(r"c_[A-Za-z0-9_-]{22}", token)
    assert is_card_token(token)


def test_tokens_do_not_repeat() -> None:
    assert len({new_card_token() for _ in range(2000)}) == 2000


def test_the_link_opens_the_configured_bot_with_the_token() -> None:
    assert card_link("AnjuJiweiBot", "c_abc") == "https://t.me/AnjuJiweiBot?start=c_abc"
    assert card_link("@AnjuJiweiBot", "c_abc") == "https://t.me/AnjuJiweiBot?start=c_abc"


def test_texts_that_are_not_card_tokens_are_told_apart() -> None:
    for text in (
        "",
        "c_",
        "i_abcdefabcdefabcdef",  # an invite code
        "C_abcdefabcdefabcdef",
        "c_abc def",
        "c_abc\n",
        "c_" + "a" * 63,  # 65 characters: longer than Telegram allows
        "c_абв",
        "c_abc=",
    ):
        assert not is_card_token(text), text
    assert is_card_token("c_" + "a" * 62)


@settings(deadline=None)  # no 200 ms limit per example: a busy machine exceeds it
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_whatever_passes_the_check_fits_a_telegram_start_parameter(text: str) -> None:
    if is_card_token(text):
        assert text.startswith("c_")
        assert len(text) <= 64
        assert re.fullmatch(r"[A-Za-z0-9_-]+", text)
