"""A case's search document (``models.search.case_document``), its texts cut once: a history
names the same enterprises and templated descriptions again and again."""

from __future__ import annotations

from functools import lru_cache

from models.org import Track
from models.search import joined, tokens


@lru_cache(maxsize=1 << 16)
def _tokens(text: str) -> tuple[str, ...]:
    return tuple(tokens(text))


def case_document(*, number: str, enterprise: str | None, description: str, track: Track) -> str:
    """``models.search.case_document``'s document (held equal by test): the number, its
    sequence without leading zeros, the enterprise of an appeal, the description."""
    sequence = number.rsplit("-", 1)[-1].lstrip("0")
    named = enterprise if track is Track.APPEAL else None
    return joined((tokens(number), tokens(sequence), _tokens(named or ""), _tokens(description)))
