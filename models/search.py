"""Finding a case by any two consecutive Chinese characters, its number or its enterprise.

A case's search document is its text cut into tokens beforehand, so that both databases index it
with their plainest tokenizer: every run of Han characters becomes its overlapping bigrams
("土地出让金" -> "土地 地出 出让 让金"), every ASCII word or number one lowercased token. A query
of two or more characters is the PHRASE of its bigrams: they must stand at adjacent positions,
which happens only where the query is a substring of one run. A ``BREAK`` token after every run
and between the fields keeps a phrase from running on across punctuation ("土地。地出" does not
match "土地出") or from one field into the next.

SQLite indexes the document with an FTS5 table (``unicode61``), PostgreSQL with a ``tsvector``
column (``to_tsvector('simple', …)``) under a GIN index; both are dialect-specific DDL below, kept
out of the models Alembic compares (``compared_by_alembic``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.case import Case
from models.errors import InvalidInput
from models.org import Track

BREAK = "丨x"
"""Stands between runs and fields. It mixes a Han character with a Latin letter, which the
tokeniser never puts in one token, so no text or query can produce it."""

QUERY_MAX = 100
"""Characters of a query kept; a longer one is cut."""

_HAN_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x323AF),
)


def is_han(ch: str) -> bool:
    """A Chinese character (CJK unified or compatibility ideograph)."""
    code = ord(ch)
    return any(low <= code <= high for low, high in _HAN_RANGES)


_HAN_OR_OTHER = re.compile(
    "(?P<han>[" + "".join(f"{chr(low)}-{chr(high)}" for low, high in _HAN_RANGES) + "]+)|.",
    re.DOTALL,
)
"""A run of Han characters (``is_han``), or any other one character."""


def _is_word(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


@dataclass(frozen=True, slots=True)
class _Run:
    han: bool
    text: str  # a Han run, or one ASCII word (lowercased)


def _runs(text: str) -> Iterator[_Run | None]:
    """Han runs, ASCII words, and None for each stretch of anything else (a separator)."""
    normal = unicodedata.normalize("NFKC", text).lower()
    for match in re.finditer(
        r"(?P<han>[^\x00-\x7f]+)|(?P<word>[a-z0-9]+)|(?P<other>.)", normal, re.DOTALL
    ):
        if match.group("word"):
            yield _Run(False, match.group("word"))
            continue
        if match.group("other"):
            yield None
            continue
        for piece in _HAN_OR_OTHER.finditer(match.group("han")):
            han = piece.group("han")
            yield None if han is None else _Run(True, han)


def bigrams(run: str) -> list[str]:
    """The overlapping pairs of a Han run; a single character has none."""
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokens(text: str) -> list[str]:
    """The document tokens of ``text``: bigrams of each Han run followed by ``BREAK``, ASCII
    words as they come (a number like AJ-2026-00042 stays a phrase of three)."""
    out: list[str] = []
    for run in _runs(text):
        if run is None:
            continue
        if run.han:
            pairs = bigrams(run.text)
            if pairs:
                out += [*pairs, BREAK]
        else:
            out.append(run.text)
    return out


def document(fields: Sequence[str]) -> str:
    """The search document of several fields, a ``BREAK`` between them."""
    return joined([tokens(field) for field in fields])


def joined(fields: Iterable[Sequence[str]]) -> str:
    """The search document of several fields' tokens, a ``BREAK`` between them."""
    parts: list[str] = []
    for found in fields:
        if found:
            if parts and parts[-1] != BREAK:
                parts.append(BREAK)
            parts += found
    while parts and parts[-1] == BREAK:
        parts.pop()
    return " ".join(parts)


def case_document(
    *, number: str, enterprise: str | None, description: str, track: Track = Track.APPEAL
) -> str:
    """What a case is found by: its number (and the number's sequence without leading zeros,
    so 42 finds AJ-2026-00042), its enterprise's name, its description. A clue is not found by
    its enterprise: the card's enterprise narrows down who reported it, and no list shows it."""
    sequence = number.rsplit("-", 1)[-1].lstrip("0")
    named = enterprise if track is Track.APPEAL else None
    return document([number, sequence, named or "", description])


def indexed(case: Case, enterprise: str | None) -> CaseSearch:
    """The search row of a new case, written in the same transaction as the case."""
    assert case.id is not None
    return CaseSearch(
        case_id=case.id,
        document=case_document(
            number=case.number,
            enterprise=enterprise,
            description=case.description,
            track=case.track,
        ),
    )


@dataclass(frozen=True, slots=True)
class Phrase:
    """Tokens that must stand at adjacent positions; ``prefix``: the last may be a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Every phrase must match (AND)."""

    phrases: tuple[Phrase, ...]
    text: str


TOO_SHORT = "检索词“{term}”太短：请输入至少两个连续的汉字，或受理编号、企业名称。"


def parse_query(text: str) -> SearchQuery | None:
    """The phrases of what someone typed, or None for nothing. Words separated by spaces must
    all match; within a word, each Han run of two or more characters is a phrase of its bigrams
    and the ASCII words together one phrase (``_words``)."""
    cleaned = " ".join(text.split())[:QUERY_MAX]
    phrases: list[Phrase] = []
    for term in cleaned.split(" "):
        found = _term_phrases(term)
        if not found:
            if any(is_han(ch) or _is_word(ch) for ch in term):
                raise InvalidInput(TOO_SHORT.format(term=term[:20]))
            continue
        phrases += [p for p in found if p not in phrases]
    return SearchQuery(tuple(phrases), cleaned) if phrases else None


def _term_phrases(term: str) -> list[Phrase]:
    phrases: list[Phrase] = []
    words: list[str] = []
    for run in _runs(term):
        if run is None:
            continue
        if not run.han:
            words.append(run.text)
            continue
        if words:
            phrases.append(_words(words))
            words = []
        if len(run.text) >= 2:
            phrases.append(Phrase(tuple(bigrams(run.text))))
    if words:
        phrases.append(_words(words))
    if len(phrases) == 1 and len(only := "".join(phrases[0].tokens)) < 2 and not only.isdigit():
        return []
    return phrases


def _words(words: list[str]) -> Phrase:
    """ASCII words typed together: the last one may be cut short (``AJ-2026-0004``, ``kuntian``),
    except a lone number, which is a whole case sequence (``42``) or nothing."""
    last = words[-1]
    return Phrase(tuple(words), prefix=len(words) > 1 or (len(last) >= 3 and not last.isdigit()))


def matches(doc: str, query: SearchQuery) -> bool:
    """What both databases answer, in Python: every phrase at adjacent positions in ``doc``."""
    words = doc.split(" ")
    return all(_phrase_at(words, phrase) for phrase in query.phrases)


def _phrase_at(words: list[str], phrase: Phrase) -> bool:
    n = len(phrase.tokens)
    for start in range(len(words) - n + 1):
        window = words[start : start + n]
        head_ok = window[:-1] == list(phrase.tokens[:-1])
        last = window[-1]
        wanted = phrase.tokens[-1]
        if head_ok and (last.startswith(wanted) if phrase.prefix else last == wanted):
            return True
    return False


def fts5_match(query: SearchQuery) -> str:
    """The query as an FTS5 MATCH expression (tokens never hold quotes or operators)."""
    return " AND ".join(
        '"' + " ".join(p.tokens) + '"' + (" *" if p.prefix else "") for p in query.phrases
    )


def tsquery(query: SearchQuery) -> str:
    """The query for PostgreSQL's ``to_tsquery('simple', …)``."""

    def lexeme(token: str, prefix: bool) -> str:
        return f"'{token}'" + (":*" if prefix else "")

    return " & ".join(
        "("
        + " <-> ".join(
            lexeme(t, p.prefix and i == len(p.tokens) - 1) for i, t in enumerate(p.tokens)
        )
        + ")"
        for p in query.phrases
    )


class CaseSearch(SQLModel, table=True):
    """A case's search document, written with the case (``case_document``)."""

    __tablename__ = "case_search"

    case_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("cases.id"), primary_key=True, autoincrement=False
        )
    )
    document: str = Field(sa_type=sa.Text)


FTS_TABLE = "case_search_fts"
VECTOR_COLUMN = "search_vector"
VECTOR_INDEX = "ix_case_search_vector"

SQLITE_DDL = (
    "CREATE VIRTUAL TABLE case_search_fts USING fts5(document, content='case_search', "
    "content_rowid='case_id', tokenize='unicode61')",
    "CREATE TRIGGER case_search_ai AFTER INSERT ON case_search BEGIN "
    "INSERT INTO case_search_fts(rowid, document) VALUES (new.case_id, new.document); END",
    "CREATE TRIGGER case_search_ad AFTER DELETE ON case_search BEGIN "
    "INSERT INTO case_search_fts(case_search_fts, rowid, document) "
    "VALUES ('delete', old.case_id, old.document); END",
    "CREATE TRIGGER case_search_au AFTER UPDATE ON case_search BEGIN "
    "INSERT INTO case_search_fts(case_search_fts, rowid, document) "
    "VALUES ('delete', old.case_id, old.document); "
    "INSERT INTO case_search_fts(rowid, document) VALUES (new.case_id, new.document); END",
)
"""FTS5 over ``case_search`` (external content: the text is stored once), kept current by
triggers."""

POSTGRESQL_DDL = (
    f"ALTER TABLE case_search ADD COLUMN {VECTOR_COLUMN} tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, document)) STORED",
    f"CREATE INDEX {VECTOR_INDEX} ON case_search USING gin ({VECTOR_COLUMN})",
)
"""The document's tsvector, computed by PostgreSQL on every write, under a GIN index."""

TEAM_COLUMN = "team_id"
TEAM_INDEX = "ix_case_search_team_id"
POSTGRESQL_TEAM_COLUMN = f"ALTER TABLE case_search ADD COLUMN {TEAM_COLUMN} integer"
POSTGRESQL_TEAM_DDL = (
    f"CREATE INDEX {TEAM_INDEX} ON case_search ({TEAM_COLUMN})",
    """CREATE OR REPLACE FUNCTION lianka_case_search_team() RETURNS trigger AS $$
BEGIN
    NEW.team_id := (SELECT team_id FROM cases WHERE id = NEW.case_id);
    RETURN NEW;
END;
$$ LANGUAGE plpgsql""",
    "CREATE TRIGGER case_search_team BEFORE INSERT ON case_search "
    "FOR EACH ROW EXECUTE FUNCTION lianka_case_search_team()",
    """CREATE OR REPLACE FUNCTION lianka_case_team_searched() RETURNS trigger AS $$
BEGIN
    UPDATE case_search SET team_id = NEW.team_id WHERE case_id = NEW.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql""",
    "CREATE TRIGGER cases_team_searched AFTER UPDATE OF team_id ON cases FOR EACH ROW "
    "WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id) "
    "EXECUTE FUNCTION lianka_case_team_searched()",
)
"""PostgreSQL: the case's lead team beside its document, kept by the database itself (a trigger
copies it when the row is written and whenever the case changes team), under its own index, so
that a team leader's search intersects the team's documents with the text's in two indexes
(a bitmap AND) instead of reading every match of a common word to keep the team's few. Only a
narrowing: who may see a case is still ``viewable_by`` on ``cases``."""


def _ddl(statement: str, dialect: str) -> sa.DDL:
    return sa.DDL(statement).execute_if(dialect=dialect)  # type: ignore[no-untyped-call]


_table: sa.Table = CaseSearch.__table__  # type: ignore[attr-defined]
for _statement in SQLITE_DDL:
    sa.event.listen(_table, "after_create", _ddl(_statement, "sqlite"))
for _statement in (*POSTGRESQL_DDL, POSTGRESQL_TEAM_COLUMN, *POSTGRESQL_TEAM_DDL):
    sa.event.listen(_table, "after_create", _ddl(_statement, "postgresql"))
sa.event.listen(_table, "after_drop", _ddl(f"DROP TABLE IF EXISTS {FTS_TABLE}", "sqlite"))

_FTS_SHADOWS = frozenset(
    {FTS_TABLE, *(f"{FTS_TABLE}_{part}" for part in ("data", "idx", "docsize", "config"))}
)


def compared_by_alembic(
    name: str | None, type_: str, parent_names: Mapping[Any, str | None]
) -> bool:
    """Alembic's ``include_name``: the search index's dialect-specific parts (the FTS5 tables,
    the tsvector column, the team column and their indexes) are not in the models, so
    autogenerate leaves them be."""
    if type_ == "table":
        return name not in _FTS_SHADOWS
    if parent_names.get("table_name") == "case_search":
        return name not in (VECTOR_COLUMN, VECTOR_INDEX, TEAM_COLUMN, TEAM_INDEX)
    return True
