"""The XLSX case list's rows, written as SpreadsheetML straight into the file XlsxWriter made.

XlsxWriter writes a cell with a method call, a dimension check, a stored tuple and an XML element
of its own; a province's month (91,600 cases, 16 columns, 1.3 million cells) took it half of the
report's rendering (issue 18). The case list is one plain grid, so its rows are written here as
XlsxWriter writes them in ``constant_memory`` mode — the same inline strings and escapes, the same
date serials, the same styles — and the text of the values that repeat (categories, zones,
teams, statuses, enterprises) is escaped once. ``test_report_outputs.py`` holds the sheet
against the one XlsxWriter writes cell by cell, byte for byte.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from xlsxwriter.utility import xl_col_to_name

from models.case import CaseStatus
from reports.figures import CaseLine

CHUNK_ROWS = 2000
FAST = 1
"""zlib's level for the archive: a month's 76 MB of sheet in a third of the default's time, the
file some 15% larger."""
EPOCH = datetime(1899, 12, 31)  # noqa: DTZ001 (spreadsheets keep wall time, no zone)
"""Excel's day 0; a serial past 59 (1900-02-28) gains a day, Excel counting 1900 as a leap year."""
SHANGHAI_EPOCH = EPOCH.replace(tzinfo=timezone(timedelta(hours=8)))
"""Day 0 on Shanghai's wall clock (UTC+8 all year since 1991): an aware time's serial without
converting it to a naive Shanghai time first."""
LITERAL_ESCAPE = re.compile("(_x[0-9a-fA-F]{4}_)")
CONTROL = re.compile(r"([\x00-\x08\x0b-\x1f])")
EDGE_SPACE = re.compile(r"^\s|\s$")
PLAIN = re.compile(r"[^&<>\x00-\x08\x0b-\x1f\ufffe\uffff]*")
"""Text with nothing to escape (whitespace at its ends and ``_x`` aside)."""


@dataclass(frozen=True, slots=True)
class CaseList:
    """What the rows need: the sheet's file in the archive, the cases, the two styles (XlsxWriter's
    index of the date and the 万元 format), the columns."""

    member: str
    cases: Sequence[CaseLine]
    date_style: int
    amount_style: int
    columns: int


def excel_serial(value: datetime) -> float:
    """A datetime as Excel's serial number, computed as XlsxWriter computes it from the naive
    Shanghai time (an aware one is counted on Shanghai's wall clock, a naive one as it is)."""
    delta = value - (EPOCH if value.tzinfo is None else SHANGHAI_EPOCH)
    serial = delta.days + (float(delta.seconds) + float(delta.microseconds) / 1e6) / (60 * 60 * 24)
    return serial + 1 if serial > 59 else serial


def inline_string(text: str) -> str:
    """The end of an inline-string cell, from its type on, as XlsxWriter writes it: control
    characters as ``_xHHHH_`` (a literal ``_xHHHH_`` escaped in turn), whitespace at either end
    kept, ``& < >`` escaped."""
    if PLAIN.fullmatch(text) and "_x" not in text and not EDGE_SPACE.search(text):
        return f' t="inlineStr"><is><t>{text}</t></is></c>'
    text = LITERAL_ESCAPE.sub(r"_x005F\1", text)
    text = CONTROL.sub(lambda match: f"_x{ord(match.group(1)):04X}_", text)
    text = text.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")
    keep = ' xml:space="preserve"' if EDGE_SPACE.search(text) else ""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f' t="inlineStr"><is><t{keep}>{text}</t></is></c>'


def case_rows(case_list: CaseList) -> Iterator[str]:
    """The ``<row>`` elements of the cases, from the sheet's second row, in the order of
    ``CASE_COLUMNS`` (A 编号 … P 督办), empty cells left out. Written out column by column rather
    than looped over: a month's list is 1.3 million cells."""
    assert case_list.columns == 16, "the columns below are CASE_COLUMNS"
    texts: dict[str, str] = {}

    def text(value: str) -> str:
        tail = texts.get(value)
        if tail is None:
            tail = texts[value] = inline_string(value)
        return tail

    date = f' s="{case_list.date_style}"><v>'
    amount = f' s="{case_list.amount_style}"><v>'
    yes, no = text("是"), text("否")
    for row, case in enumerate(case_list.cases, start=2):
        r = str(row)
        enterprise = case.enterprise if case.enterprise is not None else "（保密）"
        cells = [
            f'<row r="{r}"><c r="A{r}"{text(case.number)}'
            f'<c r="B{r}"{date}{excel_serial(case.created_at):.16G}</v></c>'
            f'<c r="C{r}"{text(case.category)}<c r="D{r}"{text(case.track.label)}'
        ]
        if case.zone is not None:
            cells.append(f'<c r="E{r}"{text(case.zone)}')
        cells.append(f'<c r="F{r}"{text(enterprise)}')
        if case.team is not None:
            cells.append(f'<c r="G{r}"{text(case.team)}')
        cells.append(f'<c r="H{r}"{text(CaseStatus(case.status).label)}')
        if case.due_at is not None:
            cells.append(f'<c r="I{r}"{date}{excel_serial(case.due_at):.16G}</v></c>')
        cells.append(f'<c r="J{r}"{yes if case.late else no}')
        if case.resolved_at is not None:
            cells.append(f'<c r="K{r}"{date}{excel_serial(case.resolved_at):.16G}</v></c>')
        if case.outcome:
            cells.append(f'<c r="L{r}"{text(case.outcome.label)}')
        if case.satisfaction:
            cells.append(f'<c r="M{r}"{text(case.satisfaction.label)}')
        if case.amount_involved_yuan is not None:
            cells.append(f'<c r="N{r}"{amount}{case.amount_involved_yuan / 10000:.16G}</v></c>')
        if case.amount_coordinated_yuan is not None:
            cells.append(f'<c r="O{r}"{amount}{case.amount_coordinated_yuan / 10000:.16G}</v></c>')
        cells.append(f'<c r="P{r}"{yes if case.supervised else no}</row>')
        yield "".join(cells)


def write_case_rows(path: Path, case_list: CaseList) -> None:
    """Put the case rows into the case sheet of the XLSX at ``path`` (written by XlsxWriter with
    the header row alone) and widen the sheet's dimension to them; the other files of the archive
    are copied as they are (compressed anew)."""
    if not case_list.cases:
        return
    last = xl_col_to_name(case_list.columns - 1)
    header_only = f'<dimension ref="A1:{last}1"/>'.encode()
    dimension = f'<dimension ref="A1:{last}{len(case_list.cases) + 1}"/>'.encode()
    partial = path.with_name(path.name + ".partial")
    with (
        zipfile.ZipFile(path) as source,
        zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=FAST) as target,
    ):
        for info in source.infolist():
            data = source.read(info)
            copy = zipfile.ZipInfo(info.filename, info.date_time)
            copy.compress_type = zipfile.ZIP_DEFLATED
            if info.filename != case_list.member:
                target.writestr(copy, data)
                continue
            head, end, tail = data.partition(b"</sheetData>")
            if not end or head.count(header_only) != 1:
                raise RuntimeError(f"unexpected case sheet from XlsxWriter in {path}")
            with target.open(copy, "w") as out:
                out.write(head.replace(header_only, dimension))
                rows = case_rows(case_list)
                while chunk := "".join(
                    row for _, row in zip(range(CHUNK_ROWS), rows, strict=False)
                ):
                    out.write(chunk.encode())
                out.write(end + tail)
    partial.replace(path)
