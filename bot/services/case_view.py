"""The console's 案件 page: a case as one person may see it — summary, clocks in working days,
流转记录 with who did what, materials, pending requests — and what this person may do to it,
decided by the same checks the use cases make. Queries only (nothing here commits)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.blobs import BlobMissing, BlobStore
from bot.services.assignment import may_route
from bot.services.assist import AssistPanel, assist_panel
from bot.services.case_lists import CaseDetail, case_detail, require_view
from bot.services.clue_view import CluePanel, clue_panel
from bot.services.inspectors import TEAM_ROLES, request_deciders
from bot.services.materials import TelegramFiles
from bot.services.permissions import (
    cleaned_files,
    leads_team,
    load_case,
    may_act,
    may_decide,
    may_request_return,
    may_supervise,
    may_view_identity,
)
from bot.services.policy import Policy
from bot.services.rectification import RectificationPanel, rectification_panel
from bot.services.repeats import may_merge
from bot.services.requests import EXTENSION_MAX_DAYS, return_window_over
from bot.services.routing import (
    dispatcher_team,
    list_route_targets,
    list_team_members,
    open_case_counts,
)
from bot.services.supervision import may_reply_supervision
from models.anonymity import enterprise_line, hides_enterprise
from models.attachment import Attachment, MediaKind
from models.calendar import WorkCalendar
from models.case import ASSIGNABLE, Case, CaseStatus, Outcome, reporter_line
from models.clock import CaseClock, ClockKind, ClockState
from models.enterprise import Enterprise
from models.errors import DomainError, InvalidInput, NotFound
from models.event import ActorType, CaseEvent, EventKind
from models.filecheck import Material, clean_material, identify, material_name
from models.org import Track
from models.request import ApprovalRequest, RequestKind, RequestStatus
from models.team import Inspector, Team
from notifications.render import yuan_to_wan

logger = logging.getLogger(__name__)


ANONYMOUS_HINT = "匿名反映：不显示反映人信息；企业名称为办理需要显示。"
CLUE_HINT = "问题线索：反映人信息和企业名称保密，任何人都不显示。"
NAMED_HINT = "实名反映：点击“查看身份”后显示联系方式，此操作将记入审计。"

SUPERVISE_NOTE_MAX = 300
"""督办意见's limit, as ``supervision.supervise_case`` checks it."""


def _by_reporter(request: ApprovalRequest) -> bool:
    """A request a reporter filed (a clue's 撤回): an anonymous one names no reporter row."""
    return request.reporter_id is not None or request.kind.by_reporter


@dataclass(frozen=True, slots=True)
class ClockLine:
    """One deadline as staff read it: due when, and how many working days are left or late."""

    kind: ClockKind
    due_at: datetime
    state: ClockState
    state_label: str
    provisional: bool
    days_left: int | None  # working days to the deadline, while it counts
    days_over: int | None  # working days past it, once overdue
    overdue: bool


def clock_line(clock: CaseClock, calendar: WorkCalendar, now: datetime) -> ClockLine:
    """Working days from today (Asia/Shanghai) to the deadline, or past it, for a clock that
    still counts; a met or cancelled clock shows only its date."""
    counting = clock.state in (ClockState.RUNNING, ClockState.PAUSED)
    overdue = clock.overdue_at(now)
    # a paused clock's count stands where it stopped (resuming moves the deadline on)
    since = clock.paused_at if clock.state is ClockState.PAUSED and clock.paused_at else now
    today = since.astimezone(calendar.tz).date()
    due = clock.due_at.astimezone(calendar.tz).date()
    return ClockLine(
        kind=clock.kind,
        due_at=clock.due_at,
        state=clock.state,
        state_label=clock.state.label,
        provisional=clock.provisional,
        days_left=calendar.workdays_between(today, due) if counting and not overdue else None,
        days_over=calendar.workdays_between(due, today) if overdue else None,
        overdue=overdue,
    )


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of 流转记录: when, who, what, and what was said."""

    seq: int
    at: datetime
    who: str
    what: str
    change: str | None  # 待签收 → 已签收
    detail: str | None
    note: str | None
    public: bool


def _who(event: CaseEvent, people: dict[int, Inspector]) -> str:
    if event.actor_type is ActorType.SYSTEM:
        return "系统"
    if event.actor_type is ActorType.REPORTER:
        return "反映人"
    person = people.get(event.actor_id or 0)
    if person is None:
        return "管理员" if event.actor_type is ActorType.ADMIN else "工作人员"
    return f"{person.name}（{person.role.label}）"


def _detail(event: CaseEvent, teams: dict[str, str], people: dict[int, Inspector]) -> str | None:
    """What an event's data says, in words (never a reporter's identity)."""
    data: dict[str, Any] = event.data or {}
    kind = event.kind
    if "team" in data and kind in (
        EventKind.ROUTED,
        EventKind.TRANSFERRED,
        EventKind.TRANSFER_REQUESTED,
        EventKind.RETURN_APPROVED,
    ):
        how = "（人工分办）" if data.get("by") else ""
        if kind is EventKind.ROUTED and not data.get("by"):
            how = f"（规则：{data['rule']}）" if data.get("rule") else "（未匹配分办规则）"
        return f"至{teams.get(data['team'], data['team'])}{how}"
    if kind.value.startswith("assist_") and "team" in data:  # 室组联动
        return f"协办组：{teams.get(data['team'], data['team'])}"
    if kind is EventKind.ASSIGNED and data.get("inspector"):
        person = people.get(data["inspector"])
        return f"承办人：{person.name if person else '—'}"
    if kind in (EventKind.EXTENSION_REQUESTED, EventKind.EXTENSION_APPROVED) and data.get("days"):
        return f"{data['days']}个工作日"
    if kind is EventKind.RESOLVED and data.get("outcome"):
        text = Outcome(data["outcome"]).label
        if data.get("amount_yuan") is not None:
            text += f"，协调金额{yuan_to_wan(int(data['amount_yuan']))}万元"
        return text
    if kind is EventKind.SUBMITTED and data.get("evidence"):
        return f"附材料{data['evidence']}件"
    return None


def _change(event: CaseEvent) -> str | None:
    if event.from_status is None or event.to_status is None:
        return None
    return f"{event.from_status.label} → {event.to_status.label}"


async def _timeline(session: AsyncSession, events: list[CaseEvent]) -> list[TimelineEntry]:
    ids = {e.actor_id for e in events if e.actor_id is not None}
    ids |= {e.data["inspector"] for e in events if isinstance((e.data or {}).get("inspector"), int)}
    people = await _people(session, ids)
    teams = {t.code: t.name for t in (await session.exec(select(Team))).all()}
    return [
        TimelineEntry(
            seq=event.seq,
            at=event.created_at,
            who=_who(event, people),
            what=event.kind.label,
            change=_change(event),
            detail=_detail(event, teams, people),
            note=event.note,
            public=event.public,
        )
        for event in events
    ]


async def _people(session: AsyncSession, ids: set[int]) -> dict[int, Inspector]:
    if not ids:
        return {}
    rows = await session.exec(select(Inspector).where(col(Inspector.id).in_(ids)))
    return {p.id: p for p in rows.all() if p.id is not None}


@dataclass(frozen=True, slots=True)
class FileLine:
    """One file of 材料 and how the page shows it."""

    id: int
    kind: MediaKind
    name: str
    size: int | None
    shown_as: str  # image, pdf, audio or file
    in_telegram: bool  # the bytes are with Telegram only
    added_by_reporter: bool


_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
_AUDIO_TYPES = frozenset({"audio/mpeg", "audio/mp4", "audio/wav", "audio/ogg"})


def _shown_as(item: Attachment) -> str:
    """What the page does with a file, from the kind and type it was stored with (the bytes
    are checked again when it is served)."""
    mime = item.mime_type or ""
    if item.kind is MediaKind.PHOTO and (item.blob_sha256 is None or mime in _IMAGE_TYPES):
        return "image"  # Telegram keeps photos as JPEG
    if mime == "application/pdf":
        return "pdf"
    if item.kind is MediaKind.VOICE or (item.kind is MediaKind.AUDIO and mime in _AUDIO_TYPES):
        return "audio"
    return "file"


_KIND_EXTENSIONS = {MediaKind.PHOTO: "jpg", MediaKind.VOICE: "ogg"}


def _file_line(item: Attachment, number: int, *, confidential: bool) -> FileLine:
    """A file as the page lists it; in an anonymous case or a clue it is ``材料N`` (its place
    in the case, with its extension): a name a phone or a person gave a file can name them."""
    assert item.id is not None
    given = item.file_name or ""
    suffix = PurePosixPath(given).suffix.lower()[1:]
    extension = suffix if suffix.isascii() and suffix.isalnum() else ""
    plain = material_name(number, extension or _KIND_EXTENSIONS.get(item.kind, ""))
    return FileLine(
        id=item.id,
        kind=item.kind,
        name=plain if confidential or not given else given,
        size=item.file_size,
        shown_as=_shown_as(item),
        in_telegram=item.blob_sha256 is None,
        added_by_reporter=item.added_by is ActorType.REPORTER,
    )


@dataclass(frozen=True, slots=True)
class RequestLine:
    """A pending 延期/退回/转办 request and whether this person decides it."""

    id: int
    kind: RequestKind
    requester: str
    reason: str
    days: int | None
    target_team: str | None
    created_at: datetime
    may_decide: bool
    outcome: str | None = None  # 办结审核: the proposed outcome and amount (元)
    amount_yuan: int | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """Someone the case can be given to, with their open cases."""

    id: int
    name: str
    load: int


@dataclass(frozen=True, slots=True)
class CaseActions:
    """The actions this person may take now; each is checked again by its use case."""

    accept: bool = False
    request_return: bool = False
    transfer: bool = False
    ask: bool = False
    progress: bool = False
    progress_public_choice: bool = False  # an appeal's note may be shown to the reporter
    extend: bool = False
    resolve: bool = False
    route: bool = False
    reassign: bool = False
    supervise: bool = False
    identity: bool = False
    supervision_reply: bool = False  # 督办回复: the assignee or team leader, once
    merge: bool = False  # 合并办理: a 疑似重复件 into the case it repeats

    @property
    def any(self) -> bool:
        return any(
            getattr(self, name) for name in self.__slots__ if name != "progress_public_choice"
        )


@dataclass(frozen=True, slots=True)
class CasePage:
    """Everything the 案件 page shows to one person."""

    detail: CaseDetail
    category: str
    zone: str | None
    enterprise: str | None
    team: str
    assignee: str | None
    reporter_line: str
    identity_hint: str
    clocks: list[ClockLine]
    timeline: list[TimelineEntry]
    files: list[FileLine]
    requests: list[RequestLine]
    actions: CaseActions
    route_targets: list[Team]  # 分办 / 退回审批: where the case can go
    transfer_targets: list[Team]  # 转办: other teams (not the dispatcher)
    members: list[Member]  # 改派
    outcomes: list[Outcome]
    clue: CluePanel | None = None  # a clue's disposition (集体研判)
    extension_max: int = EXTENSION_MAX_DAYS
    supervise_note_max: int = SUPERVISE_NOTE_MAX
    repeat_of: str | None = None  # 疑似重复件: the number of the case it repeats
    assist: AssistPanel | None = None  # 室组联动: the 协办 teams and what this person may do
    rectification: RectificationPanel | None = None  # an appeal's 整改 and 核验

    @property
    def case(self) -> Case:
        return self.detail.case

    @property
    def overdue(self) -> bool:
        return any(c.overdue for c in self.clocks)


def identity_hint(case: Case) -> str:
    """What the page says about the reporter's identity: who can see what."""
    if case.track is Track.CLUE:
        return CLUE_HINT
    return ANONYMOUS_HINT if case.anonymous else NAMED_HINT


def case_actions(
    actor: Inspector, case: Case, dispatcher: Team, *, return_open: bool = True
) -> CaseActions:
    """The buttons: the assignee's steps, 分办 for the dispatcher's leaders (and admins), 改派
    for the team's leader, 督办 for leaders, 查看身份 on a named appeal for whoever may view."""
    assignee_steps = {
        "accept": may_act(actor, case, "acc"),
        "request_return": return_open and may_request_return(actor, case),
        "transfer": may_act(actor, case, "ret"),
        "ask": may_act(actor, case, "ask"),
        "progress": may_act(actor, case, "prg"),
        "extend": may_act(actor, case, "ext"),
        "resolve": may_act(actor, case, "res"),
    }
    return CaseActions(
        **assignee_steps,
        progress_public_choice=case.track is Track.APPEAL,
        route=may_route(actor, case, dispatcher)
        and case.status in ASSIGNABLE - {CaseStatus.REOPENED},
        reassign=leads_team(actor, case) and case.status in ASSIGNABLE,
        supervise=may_supervise(actor, case),
        identity=may_view_identity(actor, case),  # never for an admin
        supervision_reply=may_reply_supervision(actor, case),
        merge=may_merge(actor, case),
    )


async def _names(session: AsyncSession, case: Case) -> tuple[str, str | None, str | None]:
    """The team, the assignee and the enterprise as the bot's 查看材料 shows it (a clue's
    hidden, ``models.anonymity.enterprise_line``)."""
    team = await session.get(Team, case.team_id) if case.team_id else None
    assignee = await session.get(Inspector, case.assignee_id) if case.assignee_id else None
    enterprise = None
    if not hides_enterprise(case) and case.enterprise_id is not None:
        row = await session.get(Enterprise, case.enterprise_id)
        enterprise = row.name if row else None
    shown = enterprise_line(case, enterprise)
    return team.name if team else "—", assignee.name if assignee else None, shown


async def _requests(
    session: AsyncSession, actor: Inspector, case: Case, rows: list[ApprovalRequest]
) -> list[RequestLine]:
    pending = [r for r in rows if r.status is RequestStatus.PENDING]
    people = await _people(session, {r.requested_by_id or 0 for r in pending})
    lines = []
    for request in pending:
        assert request.id is not None
        target = await session.get(Team, request.target_team_id) if request.target_team_id else None
        requester = people.get(request.requested_by_id or 0)  # None: a reporter's 撤回
        lines.append(
            RequestLine(
                id=request.id,
                kind=request.kind,
                requester=requester.name
                if requester
                else "反映人"
                if _by_reporter(request)
                else "—",
                reason=request.reason,
                days=request.days,
                target_team=target.name if target else None,
                created_at=request.created_at,
                outcome=Outcome(request.proposal["outcome"]).label if request.proposal else None,
                amount_yuan=(request.proposal or {}).get("amount_yuan"),
                may_decide=may_decide(
                    actor,
                    case,
                    request,
                    {p.id for p in await request_deciders(session, case, request)},
                ),
            )
        )
    return lines


async def _members(session: AsyncSession, case: Case) -> list[Member]:
    """The team's people the case can be given to (not its assignee), with their loads."""
    if case.team_id is None:
        return []
    people = [
        p
        for p in await list_team_members(session, case.team_id)
        if p.id is not None and p.id != case.assignee_id and p.role in TEAM_ROLES
    ]
    loads = await open_case_counts(session, [p.id for p in people if p.id is not None])
    return [Member(p.id, p.name, loads.get(p.id, 0)) for p in people if p.id is not None]


async def get_case_page(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    *,
    now: datetime,
    policy: Policy,
) -> CasePage:
    """The 案件 page, for those who may see the case (the bot's /case rule); 退回 is offered
    only within ``[limits] return_within_days`` of 签收."""
    calendar = policy.calendar
    case = await load_case(session, case_id)
    await require_view(session, actor, case)
    detail = await case_detail(session, case, now)
    team, assignee, enterprise = await _names(session, case)
    return_open = not return_window_over(case, policy, now)
    actions = case_actions(actor, case, await dispatcher_team(session), return_open=return_open)
    requests = await _requests(session, actor, case, detail.requests)
    decides = any(r.may_decide and r.kind is RequestKind.RETURN for r in requests)
    needs_teams = actions.route or actions.transfer or decides
    targets = await list_route_targets(session, case) if needs_teams else []
    attachments = (
        await session.exec(
            select(Attachment).where(Attachment.case_id == case.id).order_by(col(Attachment.id))
        )
    ).all()
    return CasePage(
        detail=detail,
        category=detail.line.category,
        zone=detail.zone,
        enterprise=enterprise,
        team=team,
        assignee=assignee,
        reporter_line=reporter_line(case.track, anonymous=case.anonymous, named="实名"),
        identity_hint=identity_hint(case),
        clocks=[
            clock_line(c, calendar, now)
            for c in sorted(detail.clocks, key=lambda c: list(ClockKind).index(c.kind))
        ],
        timeline=await _timeline(session, detail.events),
        files=[
            _file_line(a, number, confidential=cleaned_files(actor, case))
            for number, a in enumerate(attachments, 1)
        ],
        requests=requests,
        actions=actions,
        route_targets=targets,
        transfer_targets=[t for t in targets if not t.is_dispatcher] if actions.transfer else [],
        members=await _members(session, case) if actions.reassign else [],
        outcomes=list(Outcome),
        clue=await clue_panel(session, actor, case) if case.track is Track.CLUE else None,
        repeat_of=(await load_case(session, case.repeat_of_id)).number
        if case.repeat_of_id
        else None,
        assist=await assist_panel(session, actor, case),
        rectification=await rectification_panel(session, actor, case, policy=policy, now=now),
    )


@dataclass(frozen=True, slots=True)
class CaseFile:
    """A file's bytes as the browser gets them: its type from its bytes, shown in the page
    (images, PDF, audio) or downloaded."""

    data: bytes
    content_type: str
    inline: bool
    file_name: str


ONLY_IN_TELEGRAM = (
    "该文件保存在 Telegram 中，控制台目前未连接 Telegram，无法打开。"
    "请在 Telegram 中点“查看材料”查看。"
)
FILE_FROM_TELEGRAM_FAILED = "暂时无法从 Telegram 取回该文件，请稍后再试，或在 Telegram 中查看。"
FILE_GONE = "该文件已无法取得（可能已按保存期限清理），请联系管理员。"

_INLINE_TYPES = _IMAGE_TYPES | _AUDIO_TYPES | {"application/pdf"}


async def _from_telegram(telegram: TelegramFiles, file_id: str, attachment_id: int) -> bytes:
    """The file through the Bot API; whatever keeps it from us now (Telegram refuses, the
    network fails) is one answer to the person: not available."""
    try:
        return await telegram.download(file_id)
    except DomainError:
        raise
    except Exception as e:  # the Bot API's errors and the network's alike
        logger.warning(
            "attachment %s: Telegram download failed (%s)", attachment_id, type(e).__name__
        )
        raise NotFound(FILE_FROM_TELEGRAM_FAILED, detail=f"attachment {attachment_id}") from e


def served_type(data: bytes) -> tuple[str, bool]:
    """The Content-Type the bytes really are (a Telegram voice note is Ogg Opus) and whether
    the browser shows it in place; anything else is a download."""
    if data.startswith(b"OggS"):
        return "audio/ogg", True
    try:
        mime = identify(data).mime_type
    except InvalidInput:
        return "application/octet-stream", False
    return mime, mime in _INLINE_TYPES


async def get_case_file(
    session: AsyncSession,
    actor: Inspector,
    case_id: int,
    attachment_id: int,
    *,
    blobs: BlobStore,
    telegram: TelegramFiles | None,
) -> CaseFile:
    """A file of the case, for those who may see the case: a web file from the blob store, a
    chat file fetched from Telegram on demand."""
    case = await load_case(session, case_id)
    await require_view(session, actor, case)
    item = await session.get(Attachment, attachment_id)
    if item is None or item.case_id != case.id:
        raise NotFound("未找到该材料。", detail=f"attachment {attachment_id} not of case {case_id}")
    if item.blob_sha256 is None and (telegram is None or item.file_id is None):
        raise NotFound(ONLY_IN_TELEGRAM, detail=f"attachment {attachment_id}: no bot")
    if item.blob_sha256 is not None:
        try:
            data = await blobs.get(item.blob_sha256)
        except BlobMissing as e:
            raise NotFound(FILE_GONE, detail=f"attachment {attachment_id}: blob missing") from e
    else:
        assert telegram is not None and item.file_id is not None
        data = await _from_telegram(telegram, item.file_id, attachment_id)
    number = await _place(session, item)
    if cleaned_files(actor, case):  # an anonymous case, a clue, a 协办 team's viewer
        material = await _cleaned(data, number, item)
        content_type, inline = served_type(material.data)
        return CaseFile(material.data, content_type, inline, material.file_name)
    content_type, inline = served_type(data)
    return CaseFile(data, content_type, inline, _file_line(item, number, confidential=False).name)


async def _place(session: AsyncSession, item: Attachment) -> int:
    """The file's number in its case (1 for the first), as the page lists it."""
    earlier = await session.exec(
        select(sa.func.count())
        .select_from(Attachment)
        .where(Attachment.case_id == item.case_id, col(Attachment.id) <= item.id)
    )
    return int(earlier.one())


async def _cleaned(data: bytes, number: int, item: Attachment) -> Material:
    """A confidential case's file as staff get it (``filecheck.clean_material``); one that
    cannot be cleaned is not shown, and the page says why."""
    stored = item.blob_sha256 is not None
    try:
        return await asyncio.to_thread(clean_material, data, number, stored=stored)
    except InvalidInput as e:
        raise NotFound(e.message, detail=f"attachment {item.id}: not cleaned") from e
