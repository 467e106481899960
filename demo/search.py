"""A case's search document (``models.search.case_document``), its texts cut once: a history
names the same enterprises and templated descriptions again and again."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from models.org import Track
from models.search import joined, tokens


@lru_cache(maxsize=1 << 16)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(tokens(text))


def _numbered(number: str) -> tuple[Sequence[str], Sequence[str]]:
    """The tokens of a 受理编号 and of its sequence without leading zeros: the part before the
    sequence (prefix and year) cut once, the sequence of ASCII digits one word as it is."""
    head, dash, sequence = number.rpartition("-")
    if dash and sequence.isascii() and sequence.isdigit():  # after a separator: a word
        short = sequence.lstrip("0")
        return [*_tokens(head + dash), sequence], [short] if short else []
    return tokens(number), tokens(sequence.lstrip("0") if dash else number.lstrip("0"))


def _sentences(text: str) -> Sequence[str]:
    """``tokens(text)``, a sentence at a time, each sentence cut once: a 。 ends every run of
    Han characters and every word, so a text's tokens are its sentences' one after the other
    (a templated description with its own 涉及金额 sentence after it is cut as the template, held
    once, and the short sentence)."""
    cut = text.find("。") + 1
    if cut == 0 or cut == len(text):
        return _tokens(text)
    return [*_tokens(text[:cut]), *_sentences(text[cut:])]


def case_document(*, number: str, enterprise: str | None, description: str, track: Track) -> str:
    """``models.search.case_document``'s document (held equal by test): the number, its
    sequence without leading zeros, the enterprise of an appeal, the description."""
    named = enterprise if track is Track.APPEAL else None
    return joined((*_numbered(number), _tokens(named or ""), _sentences(description)))
