"""The analysis report as one document of six sections, each a list of paragraphs, tables and
charts, which the PDF, Word, HTML and console outputs all draw the same way.

一、总体情况　二、问题分析　三、典型案例　四、工作中存在的问题　五、下一步工作建议　六、附表
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.clock import DEADLINE_CLOCKS
from models.disposition import Disposition
from reports.charts import Chart, report_charts
from reports.figures import Figures
from reports.render import pct, render_paragraphs, wan
from reports.report import (
    NOTE,
    OVERDUE_HEADER,
    Report,
    duration_text,
    no_overdue_list,
    overdue_cells,
    overdue_notes,
)

SECTIONS = (
    "一、总体情况",
    "二、问题分析",
    "三、典型案例",
    "四、工作中存在的问题",
    "五、下一步工作建议",
    "六、附表",
)
ORDINALS = "一二三四五六七八九十"
OVERDUE_ROWS = 50
"""The overdue list in a document: the 50 appeals with the earliest deadlines (the XLSX lists
as many as the figures hold, ``reports.figures.OVERDUE_LIST_LIMIT``); clues only counted."""


@dataclass(frozen=True, slots=True)
class Paragraph:
    """Body text; ``lead``: a sub-heading such as （一）问题分布; ``note``: small print."""

    text: str
    kind: str = "body"


@dataclass(frozen=True, slots=True)
class Table:
    """A table: its header, rows of text, relative column widths, right-aligned columns."""

    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    widths: tuple[float, ...]
    numeric: tuple[bool, ...]
    caption: str | None = None
    kind: str = "table"

    @property
    def align(self) -> tuple[str, ...]:
        return tuple("RIGHT" if n else "LEFT" for n in self.numeric)


@dataclass(frozen=True, slots=True)
class Figure:
    chart: Chart
    kind: str = "figure"


Block = Paragraph | Table | Figure


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    def lead(self, text: str) -> None:
        self.blocks.append(Paragraph(text, "lead"))

    def text(self, *paragraphs: str) -> None:
        self.blocks.extend(Paragraph(p) for p in paragraphs)

    def note(self, text: str) -> None:
        self.blocks.append(Paragraph(text, "note"))


def ordinal(index: int) -> str:
    """（一）, （二）… for the 1st, 2nd… item."""
    return f"（{ORDINALS[index]}）" if index < len(ORDINALS) else f"（{index + 1}）"


def _counts(header: tuple[str, ...], rows: list[tuple[object, ...]], **kw: object) -> Table:
    """A table whose first column is a name and the others figures."""
    return Table(
        header=header,
        rows=[tuple(str(v) for v in row) for row in rows],
        widths=kw.get("widths") or (46,) + (18,) * (len(header) - 1),  # type: ignore[arg-type]
        numeric=(False,) + (True,) * (len(header) - 1),
        caption=kw.get("caption"),  # type: ignore[arg-type]
    )


def report_sections(report: Report) -> list[Section]:
    """The report's six sections in order."""
    charts = report_charts(report.figures)
    return [
        _overview(report),
        _analysis(report, charts),
        _typical(report),
        _problems(report, charts),
        _recommendations(report),
        _appendix(report),
    ]


def _overview(report: Report) -> Section:
    section = Section(SECTIONS[0])
    section.text(report.summary)
    section.blocks.append(
        Table(
            header=("指标", "本期", "上期", "环比"),
            rows=[
                (f"{c.label}（{c.unit}）" if c.unit else c.label, c.current, c.previous, c.change)
                for c in report.changes
            ],
            widths=(34, 18, 18, 30),
            numeric=(False, True, True, True),
            caption="主要指标",
        )
    )
    _filed_overview(report, section)
    _repeats_overview(report, section)
    return section


# --- 立案 (issue 17): the clue dispositions, figures only --------------------------------


def _filed_overview(report: Report, section: Section) -> None:
    """总体情况: the clue dispositions approved in the period and 立案 件/人."""
    section.text(*render_paragraphs("analysis.j2", "filed", report.analysis))


def _filed_table(report: Report) -> Table:
    """附表: the clue dispositions approved in the period, by kind (件), 立案 with 人."""
    filed, before = report.figures.filed, report.previous.filed
    rows: list[tuple[object, ...]] = [
        (kind.label, filed.count(kind), before.count(kind)) for kind in Disposition
    ]
    rows += [
        ("立案人数（人）", filed.people, before.people),
        ("截至报告生成时待审核审批的处置意见（件）", filed.pending, "—"),
    ]
    return _counts(
        ("处置方式", "本期（件）", "上期（件）"),
        rows,
        widths=(50, 25, 25),
        caption="问题线索处置情况（经委领导批准）",
    )


# --- 重复件 (issue 17) -----------------------------------------------------------------


def _repeats_overview(report: Report, section: Section) -> None:
    """总体情况: one sentence on 重复件 (count, share, merged)."""
    f, a = report.figures, report.analysis
    if f.repeats.flagged or f.repeats.merged:
        found = (
            f"本期受理的问题中有疑似重复件{f.repeats.flagged}件，占{pct(a.repeat_share)}"
            if f.repeats.flagged
            else "本期受理的问题中未发现疑似重复件"
        )
        merged = f"；合并办理重复件{f.repeats.merged}件。" if f.repeats.merged else "。"
        section.text(found + merged)


def _repeats_table(report: Report) -> Table | None:
    """问题分析: the 重复件 by zone and by category (when there are any)."""
    r = report.figures.repeats
    if not r.flagged:
        return None
    rows: list[tuple[object, ...]] = [("园区：" + s.name, s.count, pct(s.share)) for s in r.by_zone]
    rows += [("监督事项：" + s.name, s.count, pct(s.share)) for s in r.by_category]
    return _counts(
        ("分布", "重复件（件）", "占重复件"), rows, widths=(56, 22, 22), caption="重复件分布"
    )


def _analysis(report: Report, charts: dict[str, Chart]) -> Section:
    f, a = report.figures, report.analysis
    section = Section(SECTIONS[1])
    section.lead("（一）问题分布")
    section.text(*render_paragraphs("analysis.j2", "distribution", a))
    if f.received:
        section.blocks.append(
            _counts(
                ("监督事项", "受理（件）", "占比", "已办结（件）"),
                [(s.name, s.count, pct(s.share), s.resolved) for s in f.by_category if s.count],
                caption="各监督事项受理情况",
            )
        )
        section.blocks.append(Figure(charts["category"]))
        section.blocks.append(
            _counts(
                ("园区", "受理（件）", "占比", "已办结（件）"),
                [(s.name, s.count, pct(s.share), s.resolved) for s in f.by_zone if s.count],
                caption="各园区受理情况",
            )
        )
    section.text(
        "按类型："
        + "，".join(f"{s.name}{s.count}件" for s in f.by_track)
        + f"；反映问题企业{f.enterprises}家，联系卡扫码{f.cards_scanned}次"
        f"（{f.cards_scanned_distinct}张卡）。"
    )
    section.lead("（二）变化情况")
    section.text(*render_paragraphs("analysis.j2", "change", a))
    section.blocks.append(Figure(charts["trend"]))
    section.lead("（三）重复反映情况")
    section.text(*render_paragraphs("analysis.j2", "recurs", a))
    section.text(*render_paragraphs("analysis.j2", "repeats_recurs", a))  # 重复件
    repeats = _repeats_table(report)
    if repeats is not None:
        section.blocks.append(repeats)
    return section


def _typical(report: Report) -> Section:
    section = Section(SECTIONS[2])
    cases = report.analysis.typical
    if not cases:
        section.text("本期受理的诉求中没有协调落实资金、督办或重办的问题。")
    for index, case in enumerate(cases):
        (title,) = render_paragraphs("analysis.j2", "typical_title", case)
        section.lead(f"{ordinal(index)}{title}")
        section.text(*render_paragraphs("analysis.j2", "typical_case", case))
    return section


def _problems(report: Report, charts: dict[str, Chart]) -> Section:
    f = report.figures
    section = Section(SECTIONS[3])
    found = render_paragraphs("analysis.j2", "problems", report.analysis)
    found += render_paragraphs("analysis.j2", "repeats_problem", report.analysis)  # 重复件
    found += render_paragraphs("analysis.j2", "rectification_problems", report.analysis)
    if not found:
        section.text("本期未发现办理超期、企业不满意和重复反映等问题。")
    section.text(*(f"{ordinal(i)}{text}" for i, text in enumerate(found)))
    section.blocks.append(
        _counts(
            ("环节", "按期（件）", "超期（件）", "按期率"),
            [
                (rate.kind.label, rate.on_time, rate.late, pct(rate.rate))
                for rate in (f.clock(kind) for kind in DEADLINE_CLOCKS)
            ],
            widths=(40, 20, 20, 20),
            caption="各环节办理时效",
        )
    )
    section.text(duration_text(f))
    if teams := _team_rows(report):
        section.blocks.append(
            _counts(
                ("监督组", "受理（件）", "已办结（件）", "按期办结率", "超期未办结（件）"),
                teams,
                widths=(46, 16, 18, 18, 20),
                caption="各监督组办理情况",
            )
        )
    if f.timeliness_by_team:
        section.blocks.append(Figure(charts["team"]))
    section.blocks.append(
        Table(
            header=("满意", "基本满意", "不满意", "未评价", "满意率", "重办"),
            rows=[
                (
                    *(str(f.satisfaction.get(s, 0)) for s in f.satisfaction),
                    pct(f.satisfaction_rate),
                    str(f.reopened),
                )
            ],
            widths=(1, 1, 1, 1, 1, 1),
            numeric=(True,) * 6,
            caption="企业满意度（回访）",
        )
    )
    section.blocks.append(_rectification_table(f))
    _aftercare_table(section, f)  # 打击报复回访
    return section


def _rectification_table(f: Figures) -> Table:
    """整改: set, verified (on time, late), open and overdue now, and 整改到位率 with its own
    base beside it (按期核验÷本期到期: the ones due in the period, not the ones set in it, so a
    reader does not divide the columns before it and find another rate)."""
    r = f.rectification
    rate = f"{pct(r.rate)}（{r.due_on_time}÷{r.due}）" if r.due else pct(r.rate)
    return Table(
        header=(
            "反馈整改",
            "核验通过",
            "其中按期",
            "其中超期",
            "整改中",
            "逾期未核验",
            "整改到位率（按期÷到期）",
        ),
        rows=[
            (
                *(str(n) for n in (r.set, r.verified, r.verified_on_time, r.verified_late)),
                *(str(n) for n in (r.open, r.overdue)),
                rate,
            )
        ],
        widths=(1, 1, 1, 1, 1, 1, 1),
        numeric=(True,) * 7,
        caption="整改落实情况（项）",
    )


def _aftercare_table(section: Section, f: Figures) -> None:
    """打击报复回访: asked, answered 没有 / 有, 未答复 in the period (none in a team's report)."""
    care = f.aftercare
    if care.hidden or not (care.asked or care.answered or care.unanswered):
        return
    section.blocks.append(
        Table(
            header=("回访（家次）", "没有", "有（已受理为问题线索）", "未答复"),
            rows=[
                (
                    str(care.asked),
                    str(care.answered_none),
                    str(care.answered_yes),
                    str(care.unanswered),
                )
            ],
            widths=(1, 1, 2, 1),
            numeric=(True,) * 4,
            caption="防打击报复回访",
        )
    )


def _overdue_of(report: Report, team: str) -> int:
    return next((s.count for s in report.figures.overdue_by_team if s.name == team), 0)


def _team_rows(report: Report) -> list[tuple[object, ...]]:
    """各监督组办理情况: the teams with cases received in the period, then those with only older
    cases overdue now (received 0), so the 超期未办结 column adds up to 当前超期未办结."""
    f = report.figures
    rows: list[tuple[object, ...]] = [
        (t.name, t.received, t.resolved, pct(t.resolve.rate), _overdue_of(report, t.name))
        for t in f.timeliness_by_team
    ]
    listed = {t.name for t in f.timeliness_by_team}
    rows += [(s.name, 0, 0, pct(None), s.count) for s in f.overdue_by_team if s.name not in listed]
    return rows


def _recommendations(report: Report) -> Section:
    section = Section(SECTIONS[4])
    advice = render_paragraphs("analysis.j2", "recommendations", report.analysis)
    advice += render_paragraphs("analysis.j2", "repeats_advice", report.analysis)  # 重复件
    advice += render_paragraphs("analysis.j2", "rectification_recommendations", report.analysis)
    if not advice:
        section.text("本期各项指标均达到目标，未发现需要专门部署的问题，建议保持现有工作力度。")
    section.text(*(f"{ordinal(i)}{text}" for i, text in enumerate(advice)))
    return section


def _appendix(report: Report) -> Section:
    f = report.figures
    section = Section(SECTIONS[5])
    section.lead("附表1　超期未办结问题")
    if f.overdue:
        shown = f.overdue[:OVERDUE_ROWS]
        section.blocks.append(
            Table(
                header=OVERDUE_HEADER,
                rows=[tuple(str(cell) for cell in overdue_cells(o)) for o in shown],
                widths=(25, 21, 32, 12, 10, 26, 15, 9),
                numeric=(False,) * 6 + (True, False),
            )
        )
        for note in overdue_notes(f, len(shown)):
            section.note(note)
    else:
        section.text(no_overdue_list(f))
    section.lead("附表2　多次反映问题的企业")
    if f.recurring:
        section.blocks.append(
            Table(
                header=("企业", "园区", "件数", "反映事项"),
                rows=[(r.name, r.zone, str(r.cases), r.categories) for r in f.recurring],
                widths=(44, 18, 10, 46),
                numeric=(False, False, True, False),
            )
        )
        if f.recurring_count > len(f.recurring):
            section.note(
                f"共{f.recurring_count}家企业本期反映2件以上，以上为件数最多的{len(f.recurring)}家。"
            )
    else:
        section.text("本期无同一企业多次反映的情况。")
    section.lead("附表3　问题线索处置情况（件/人）")  # 立案
    if f.clues or f.filed.decided or f.filed.pending or report.previous.filed.decided:
        section.blocks.append(_filed_table(report))
    else:
        section.text("本期无问题线索处置。")
    section.note(NOTE)
    section.note(
        f"涉及金额合计{wan(f.amount_involved_yuan)}万元；"
        f"协调落实资金{wan(f.amount_coordinated_yuan)}万元（{f.coordinated_cases}件）。"
    )
    return section
