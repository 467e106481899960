"""The XLSX report: a sheet of figures and the case list an office filters. XlsxWriter (no
dependencies, streaming rows) writes the workbook, the figures and the case list's header;
the case rows, a province's month of them, are written in one go by ``reports.xlsx_rows``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xlsxwriter

from models.clock import DEADLINE_CLOCKS
from models.disposition import Disposition
from reports.figures import Figures
from reports.render import cn_time
from reports.report import OVERDUE_HEADER, Report, no_overdue_list, overdue_cells, overdue_notes
from reports.xlsx_rows import CaseList, write_case_rows

CASE_COLUMNS: tuple[tuple[str, float], ...] = (
    ("编号", 15),
    ("提交时间", 17),
    ("监督事项", 24),
    ("类型", 9),
    ("园区", 14),
    ("企业", 30),
    ("监督组", 30),
    ("状态", 9),
    ("签收/办结期限", 17),
    ("是否超期", 9),
    ("办结时间", 17),
    ("结果", 11),
    ("满意度", 9),
    ("涉及金额(万元)", 14),
    ("协调金额(万元)", 14),
    ("督办", 7),
)
OVERDUE_TITLE = "超期未办结问题"
CLUES_NOT_LISTED = "问题清单只列诉求；另有问题线索{clues}件，按规定只列件数，不列明细。"
DATE_FORMAT = "yyyy-mm-dd hh:mm"
WAN_FORMAT = "#,##0.00"


def render_xlsx(report: Report, path: Path) -> Path:
    """Write the report's figures and, when it has one, its case list to ``path`` (the leaders'
    report has none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(
        str(path),
        {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False},
    )
    fmt: dict[str, Any] = {
        "title": workbook.add_format({"bold": True, "font_size": 14, "font_color": "#B0171F"}),
        "muted": workbook.add_format({"font_color": "#666666"}),
        "head": workbook.add_format({"bold": True, "bg_color": "#EEF2F7", "border": 1}),
        "count": workbook.add_format({"num_format": "0"}),
        "rate": workbook.add_format({"num_format": "0.0%"}),
        "amount": workbook.add_format({"num_format": WAN_FORMAT}),
        "date": workbook.add_format({"num_format": DATE_FORMAT}),
        "text": workbook.add_format({}),
    }
    workbook.set_properties(
        {"title": f"{report.title}（{report.period.label}）", "author": "Lianka 廉卡"}
    )
    _figures_sheet(workbook, report, fmt)
    case_list = _cases_sheet(workbook, report, fmt) if report.cases is not None else None
    workbook.close()
    if case_list is not None:
        write_case_rows(path, case_list)
    return path


def _figures_sheet(workbook: Any, report: Report, fmt: dict[str, Any]) -> None:
    sheet = workbook.add_worksheet("统计数据")
    sheet.set_column(0, 0, 30)
    sheet.set_column(1, 3, 16)
    sheet.set_column(4, 4, 26)
    f = report.figures
    sheet.write(0, 0, f"{report.title}（{report.period.label}）", fmt["title"])
    sheet.write(
        1,
        0,
        f"统计时段：{report.period.span}　统计范围：{report.scope.label}　生成时间：{cn_time(report.now)}",
        fmt["muted"],
    )
    sheet.write(2, 0, report.summary)
    if report.anchor:
        sheet.write(3, 0, report.anchor, fmt["muted"])
    row = 4
    if report.cases is not None:  # the cases the list leaves out: by their own track
        sheet.write(row, 0, CLUES_NOT_LISTED.format(clues=f.clues), fmt["muted"])
        row += 1

    def block(
        title: str, header: tuple[str, ...], rows: list[tuple[Any, ...]], kinds: tuple[str, ...]
    ) -> None:
        nonlocal row
        sheet.write(row, 0, title, fmt["title"])
        row += 1
        for column, name in enumerate(header):
            sheet.write(row, column, name, fmt["head"])
        row += 1
        for values in rows:
            for column, (value, kind) in enumerate(zip(values, kinds, strict=True)):
                if value is None:
                    sheet.write_blank(row, column, None)
                elif kind == "amount":
                    sheet.write_number(row, column, value / 10000, fmt["amount"])
                elif kind in ("count", "rate"):
                    sheet.write_number(row, column, value, fmt[kind])
                else:
                    sheet.write_string(row, column, str(value))
            row += 1
        row += 1

    sheet.write(row, 0, "主要指标", fmt["title"])
    row += 1
    for column, name in enumerate(("指标", "本期", "上期", "环比")):
        sheet.write(row, column, name, fmt["head"])
    row += 1
    for change in report.changes:
        sheet.write_string(
            row, 0, f"{change.label}（{change.unit}）" if change.unit else change.label
        )
        for column, value in ((1, change.current_value), (2, change.previous_value)):
            if value is None:
                sheet.write_blank(row, column, None)
            elif change.kind == "amount":
                sheet.write_number(row, column, value / 10000, fmt["amount"])
            else:
                sheet.write_number(row, column, value, fmt[change.kind])
        sheet.write_string(row, 3, change.change)
        row += 1
    row += 1
    block(
        "按监督事项",
        ("监督事项", "受理（件）", "占比", "已办结（件）"),
        [(s.name, s.count, s.share, s.resolved) for s in f.by_category],
        ("text", "count", "rate", "count"),
    )
    block(
        "按类型",
        ("类型", "受理（件）", "占比", "已办结（件）"),
        [(s.name, s.count, s.share, s.resolved) for s in f.by_track],
        ("text", "count", "rate", "count"),
    )
    block(
        "按园区",
        ("园区", "受理（件）", "占比", "已办结（件）"),
        [(s.name, s.count, s.share, s.resolved) for s in f.by_zone],
        ("text", "count", "rate", "count"),
    )
    block(
        "按监督组",
        ("监督组", "受理（件）", "已办结（件）", "按期办结率"),
        [(t.name, t.received, t.resolved, t.resolve.rate) for t in f.timeliness_by_team],
        ("text", "count", "count", "rate"),
    )
    block(
        "办理时效（工作日）",
        ("环节", "按期（件）", "超期（件）", "按期率"),
        [
            (f.clock(k).kind.label, f.clock(k).on_time, f.clock(k).late, f.clock(k).rate)
            for k in DEADLINE_CLOCKS
        ]
        + [
            ("办结用时中位数（工作日）", f.median_workdays, None, None),
            ("办结用时P90（工作日）", f.p90_workdays, None, None),
        ],
        ("text", "count", "count", "rate"),
    )
    block(
        "企业满意度",
        ("评价", "件数", "", ""),
        [(s.label, n, None, None) for s, n in f.satisfaction.items()]
        + [("满意率", None, None, f.satisfaction_rate)],
        ("text", "count", "count", "rate"),
    )
    block(
        "其他",
        ("指标", "数值", "", ""),
        [
            ("当前超期未办结（件）", f.overdue_count, None, None),
            ("重办（件）", f.reopened, None, None),
            ("经批准延期（次）", f.extensions, None, None),
            ("延期问题（件）", f.extended_cases, None, None),
            ("督办（件）", f.supervised, None, None),
            ("联系卡扫码（次）", f.cards_scanned, None, None),
            ("扫码联系卡（张）", f.cards_scanned_distinct, None, None),
            ("多次反映企业（家）", f.recurring_count, None, None),
        ],
        ("text", "count", "count", "count"),
    )
    _filed_block(block, report)
    _repeats_block(block, report)
    r = f.rectification  # 整改
    block(
        "整改落实情况",
        ("指标", "数值", "", ""),
        [
            ("反馈整改（项）", r.set, None, None),
            ("核验通过（项）", r.verified, None, None),
            ("其中按期（项）", r.verified_on_time, None, None),
            ("其中超期（项）", r.verified_late, None, None),
            ("整改中（项）", r.open, None, None),
            ("逾期未核验（项）", r.overdue, None, None),
            ("本期到期（项）", r.due, None, None),
            ("整改到位率", None, None, r.rate),
        ],
        ("text", "count", "count", "rate"),
    )
    care = f.aftercare  # 防打击报复回访: not in a team's own report
    if not care.hidden:
        block(
            "防打击报复回访",
            ("指标", "数值", "", ""),
            [
                ("回访（家次）", care.asked, None, None),
                ("没有（家次）", care.answered_none, None, None),
                ("有，已受理为问题线索（件）", care.answered_yes, None, None),
                ("未答复（家次）", care.unanswered, None, None),
            ],
            ("text", "count", "count", "count"),
        )
    block(
        "多次反映问题的企业",
        ("企业", "园区", "件数", "反映事项"),
        [(r.name, r.zone, r.cases, r.categories) for r in f.recurring],
        ("text", "text", "count", "text"),
    )
    if not f.overdue:  # no table: its title above the note
        sheet.write(row, 0, OVERDUE_TITLE, fmt["title"])
        row += 1
    for note in _overdue_block(block, f):
        sheet.write(row, 0, note, fmt["muted"])
        row += 1


Block = Any  # the ``block`` writer of ``_figures_sheet``: (title, header, rows, kinds)


def _overdue_block(block: Block, f: Figures) -> list[str]:
    """超期未办结问题: the overdue appeals, earliest deadline first, as the figures hold them;
    the notes under it say what is not listed (clues only as a count, never a row)."""
    if not f.overdue:
        return [no_overdue_list(f)]
    block(
        OVERDUE_TITLE,
        OVERDUE_HEADER,
        [tuple(None if cell == "" else cell for cell in overdue_cells(o)) for o in f.overdue],
        ("text",) * 6 + ("count", "text"),
    )
    return overdue_notes(f, len(f.overdue))


def _filed_block(block: Block, report: Report) -> None:
    """立案 (issue 17): the clue dispositions approved in the period by kind, 立案 件 and 人."""
    f, p = report.figures.filed, report.previous.filed
    block(
        "问题线索处置（经委领导批准）",
        ("处置方式", "本期（件）", "上期（件）", ""),
        [(kind.label, f.count(kind), p.count(kind), None) for kind in Disposition]
        + [
            ("立案人数（人）", f.people, p.people, None),
            ("截至报告生成时待审核审批的处置意见（件）", f.pending, None, None),
        ],
        ("text", "count", "count", "count"),
    )


def _repeats_block(block: Block, report: Report) -> None:
    """重复件 (issue 17): flagged, their share of the cases received, merged, where they recur."""
    r, a = report.figures.repeats, report.analysis
    block(
        "重复件",
        ("指标", "件数", "占比", ""),
        [
            ("疑似重复件（件）", r.flagged, a.repeat_share, None),
            ("本期合并办理重复件（件）", r.merged, None, None),
        ]
        + [("园区：" + s.name, s.count, s.share, None) for s in r.by_zone]
        + [("监督事项：" + s.name, s.count, s.share, None) for s in r.by_category],
        ("text", "count", "rate", "count"),
    )


def _cases_sheet(workbook: Any, report: Report, fmt: dict[str, Any]) -> CaseList:
    """The case list's sheet: XlsxWriter writes its header, column widths, frozen header and
    filter; the rows are spliced in after (``write_case_rows``)."""
    sheet = workbook.add_worksheet("问题清单")
    for column, (name, width) in enumerate(CASE_COLUMNS):
        sheet.set_column(column, column, width)
        sheet.write_string(0, column, name, fmt["head"])
    sheet.freeze_panes(1, 0)
    cases = report.cases or []
    sheet.autofilter(0, 0, max(len(cases), 1), len(CASE_COLUMNS) - 1)
    return CaseList(
        member=f"xl/worksheets/sheet{len(workbook.worksheets())}.xml",
        cases=cases,
        date_style=fmt["date"]._get_xf_index(),  # the styles the rows name: written at close
        amount_style=fmt["amount"]._get_xf_index(),
        columns=len(CASE_COLUMNS),
    )
