"""Reading the enterprise list (CSV) that a commission hands over: UTF-8 with or without BOM, or GBK
as Excel saves it in China; Chinese or English headers; every bad row named by its line."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from models.enterprise import normalize_uscc, uscc_problem

NAME_MAX = 200
LEGAL_REP_MAX = 100

HEADERS = {
    "企业名称": "name",
    "企业": "name",
    "name": "name",
    "enterprise": "name",
    "统一社会信用代码": "uscc",
    "信用代码": "uscc",
    "uscc": "uscc",
    "园区": "zone",
    "片区": "zone",
    "zone": "zone",
    "法定代表人": "legal_rep",
    "法人": "legal_rep",
    "legal_rep": "legal_rep",
}


class CsvFileError(Exception):
    """The file as a whole cannot be read (encoding, missing header); the message is for people."""


@dataclass(frozen=True, slots=True)
class CsvRow:
    """One enterprise from the file, with the line it starts on (the header is line 1)."""

    line: int
    name: str
    uscc: str | None
    zone: str | None
    legal_rep: str | None


@dataclass(frozen=True, slots=True)
class RowProblem:
    line: int
    message: str


@dataclass
class EnterpriseList:
    """The good rows and the bad ones of a file."""

    rows: list[CsvRow] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    encoding: str = "utf-8"


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding it was in: UTF-8 (a BOM is dropped), else GB 18030 (covers GBK)."""
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gbk"
    except UnicodeDecodeError:
        raise CsvFileError(
            "无法识别文件编码，请将文件另存为 UTF-8 或 GBK 编码的 CSV (unknown encoding)"
        ) from None


def _column_map(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, title in enumerate(header):
        key = HEADERS.get(title.strip().lower()) or HEADERS.get(title.strip())
        if key is not None and key not in columns:
            columns[key] = index
    if "name" not in columns:
        raise CsvFileError(
            "第1行缺少“企业名称”列；表头应为 企业名称, 统一社会信用代码, 园区, 法定代表人"
            " (or name, uscc, zone, legal_rep)"
        )
    return columns


def clean(value: str | None) -> str | None:
    """A cell as one line: runs of whitespace (line breaks, tabs, full-width spaces) become one
    space, the ends are trimmed; empty is None."""
    if value is None:
        return None
    return " ".join(value.split()) or None


def _cell(record: list[str], columns: dict[str, int], key: str) -> str | None:
    index = columns.get(key)
    if index is None or index >= len(record):
        return None
    return clean(record[index])


def _records(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    try:
        yield from reader
    except csv.Error as error:
        line = getattr(reader, "line_num", 0)
        raise CsvFileError(f"第{line}行格式错误 (malformed CSV): {error}") from None


def read_enterprise_list(data: bytes) -> EnterpriseList:
    """Parse the file; rows with an empty name, a bad 统一社会信用代码 or an over-long field are
    listed as problems with their line, blank rows are ignored, the rest are returned in order."""
    text, encoding = decode(data)
    result = EnterpriseList(encoding=encoding)
    reader = csv.reader(io.StringIO(text, newline=""))
    columns: dict[str, int] | None = None
    next_line = 1
    for record in _records(reader):
        line = next_line
        next_line = reader.line_num + 1
        if not any(value.strip() for value in record):
            continue
        if columns is None:
            columns = _column_map(record)
            continue
        name = _cell(record, columns, "name")
        uscc = _cell(record, columns, "uscc")
        legal_rep = _cell(record, columns, "legal_rep")
        problem = None
        if name is None:
            problem = "企业名称为空"
        elif len(name) > NAME_MAX:
            problem = f"企业名称超过{NAME_MAX}个字"
        elif legal_rep is not None and len(legal_rep) > LEGAL_REP_MAX:
            problem = f"法定代表人超过{LEGAL_REP_MAX}个字"
        elif uscc is not None:
            uscc = normalize_uscc(uscc)
            problem = uscc_problem(uscc)
        if problem is not None:
            result.problems.append(RowProblem(line, problem))
            continue
        assert name is not None
        result.rows.append(CsvRow(line, name, uscc, _cell(record, columns, "zone"), legal_rep))
    if columns is None:
        raise CsvFileError("文件为空，没有表头和数据 (the file is empty)")
    return result
