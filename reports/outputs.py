"""Writing a report in the formats asked for."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from pathlib import Path

from reports.report import Report


class Format(enum.StrEnum):
    PDF = "pdf"
    XLSX = "xlsx"
    HTML = "html"
    DOCX = "docx"


def write_report(
    report: Report,
    formats: Iterable[Format],
    out_dir: Path,
    on_written: Callable[[Format, Path], None] | None = None,
) -> dict[Format, Path]:
    """Write each format to ``out_dir/<stem>.<format>``; ``on_written`` hears of each file."""
    from reports.html import write_html
    from reports.pdf import render_pdf
    from reports.word import render_docx
    from reports.xlsx import render_xlsx

    writers = {
        Format.PDF: render_pdf,
        Format.XLSX: render_xlsx,
        Format.HTML: write_html,
        Format.DOCX: render_docx,
    }
    written: dict[Format, Path] = {}
    for fmt in formats:
        path = writers[fmt](report, out_dir / f"{report.file_stem}.{fmt.value}")
        written[fmt] = path
        if on_written is not None:
            on_written(fmt, path)
    return written
