"""A notice's fields stay on lines of their own. The templates are rendered with ``trim_blocks``,
which drops the newline after a block tag: a line that ends in ``{% endif %}`` after text ran
into the next line (处置意见：谈话函询理由：…, 新的办结期限：…承办人：…). Such a line ends in
``{% endif +%}``, which keeps its newline."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import notifications
from notifications.render import render

TEMPLATES = Path(notifications.__file__).parent / "templates"
ENDS_AFTER_TEXT = re.compile(r"\S.*\{%-?\s*end(?:if|for)\s*%\}$")


def test_no_template_line_runs_into_the_next_one() -> None:
    joined = []
    for path in sorted(TEMPLATES.glob("*.j2")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for number, (line, following) in enumerate(itertools.pairwise(lines), 1):
            text_follows = following.strip() and not following.lstrip().startswith("{%")
            if ENDS_AFTER_TEXT.search(line) and text_follows:
                joined.append(f"{path.name}:{number}")
    assert joined == []


def test_a_reopened_case_notice_gives_the_deadline_and_the_assignee_on_their_own_lines() -> None:
    text = render(
        "followup_reopened",
        case=SimpleNamespace(number="AJ-2026-00001", reopen_count=1),
        reason="返还资金只到账一半。",
        due_at=datetime(2026, 12, 18, 10, tzinfo=UTC),
        provisional=True,
        assignee="李监督",
    )
    assert "新的办结期限：2026-12-18 18:00（暂定）\n承办人：李监督" in text
