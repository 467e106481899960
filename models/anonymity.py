"""What staff are shown of who reported a case, and of the enterprise behind it, in one place.

A clue's enterprise is never shown to staff: the card's enterprise narrows down who reported it
(and the search index and the lists leave it out too). An anonymous appeal hides the person but
shows the enterprise, because the matter cannot be settled without it; the line says so. Files
of an anonymous case or a clue reach staff cleaned and named 材料N (``models.filecheck``)."""

from __future__ import annotations

from models.case import Case
from models.org import Track

ANONYMOUS_CLUE_ENTERPRISE = "（匿名线索，不显示企业）"
NAMED_CLUE_ENTERPRISE = "（问题线索，不显示企业）"
ANONYMOUS_APPEAL_ENTERPRISE = "（匿名诉求，企业名称为办理需要显示）"


def hides_enterprise(case: Case) -> bool:
    """A clue: its enterprise is shown to no one on staff."""
    return case.track is Track.CLUE


def confidential(case: Case) -> bool:
    """An anonymous case or a clue: nothing its files carry may name the reporter."""
    return case.anonymous or case.track is Track.CLUE


def enterprise_line(case: Case, enterprise: str | None) -> str | None:
    """企业 as staff see it: a clue's says it is hidden; an anonymous appeal's names it and
    why; a named appeal's is the name; ``None`` when the case has no enterprise."""
    if hides_enterprise(case):
        return ANONYMOUS_CLUE_ENTERPRISE if case.anonymous else NAMED_CLUE_ENTERPRISE
    if enterprise is None:
        return None
    return f"{enterprise}{ANONYMOUS_APPEAL_ENTERPRISE}" if case.anonymous else enterprise
