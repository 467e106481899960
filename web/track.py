"""``/t``: a web reporter follows their case with its receipt code.

``/t`` asks for the code (回执码, 查询). A right code opens the case for this browser: the web
session remembers the case's id in a second cookie, signed by itsdangerous with the channel's
secret and bound to the session's key, for ``TRACK_MINUTES`` after the last page; the code
itself is never in an address, a cookie or a log line. ``/t/case`` then shows the case (number,
status line, the public timeline, the notices kept for this page, any question with a box to
answer it, 补充材料 while the case is open, 撤回 while allowed, 回访 and 防打击报复回访 when asked); each form posts to its own address with the
session's CSRF token and comes back to ``/t/case`` (post, redirect, get). Without the cookie, or
once it has expired, or when the case no longer opens with a code, the browser goes back to
``/t`` (which says when the query timed out); a form sent then is not sent, and ``/t`` says so
with what was typed shown back to copy. 退出查询 forgets the case at once.

补充材料 has a page of its own (``/t/case/materials``): files and a note in one multipart form,
read by ``web.uploads`` as the report's 相关材料 is (the form token and the case checked before the
first file), added by the chat's rules (``MaterialDraft``) and use case. The files that pass are
submitted with the note; each refused one is named with why, to be chosen again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.web_request import FileField
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from multidict import MultiDictProxy
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.aftercare import TEXT_MAX as AFTERCARE_TEXT_MAX
from bot.services.aftercare import AftercareClosed, Opened
from bot.services.calendar import CalendarCache, load_calendar
from bot.services.dispositions import OBJECTION_MAX
from bot.services.followup import REASON_MAX
from bot.services.policy import Policy
from bot.services.relay import ANSWER_MAX
from bot.services.reporters import TooManyAttempts
from bot.services.tracking import (
    NotTracked,
    TrackedCase,
    add_tracked_material,
    answer_tracked_aftercare,
    answer_tracked_question,
    object_tracked_case,
    open_tracked_case,
    rate_tracked_case,
    reopen_tracked_case,
    start_tracked_material,
    tracked_case,
    withdraw_tracked_case,
)
from bot.services.web_intake import FORMS_PER_ADDRESS
from bot.services.withdrawal import WITHDRAW_ASKED
from models.case import CaseStatus, Satisfaction
from models.errors import DomainError, InvalidInput
from models.intake import (
    DESCRIPTION_MAX,
    EVIDENCE_MAX,
    FILE_MAX_BYTES,
    MaterialDraft,
    clean_text,
)
from models.reporter import RECEIPT_LENGTH
from notifications.render import local_date, local_time
from web.context import CHANNEL, ROUTE_PREFIX, WebChannel, client_address
from web.pages import notice_response, page_response
from web.session import (
    CSRF_FIELD,
    csrf_refused,
    csrf_token,
    csrf_valid,
    current_session,
    require_csrf,
)
from web.uploads import BODY_TOO_LARGE, FIELD_MAX, Received, UploadTooLarge, receive_evidence

logger = logging.getLogger(__name__)

TRACK_MINUTES = 30
TRACK_COOKIE_HOURS = 12
"""How long the browser keeps the cookie: past its ``TRACK_MINUTES`` it opens nothing, and only
lets ``/t`` and a form sent late say that the query timed out."""
TRACK_COOKIE = "lianka_track"
SECURE_TRACK_COOKIE = "__Host-lianka_track"
_TRACK_SALT = "lianka.web.track"
ENTERED_MAX = FIELD_MAX
"""What a refused (or late) form shows again: as much as a form field can carry, so nothing
typed comes back shortened."""

RATINGS = {
    "satisfied": Satisfaction.SATISFIED,
    "basic": Satisfaction.BASIC,
    "unsatisfied": Satisfaction.UNSATISFIED,
}
DONE = {
    "answered": "您的答复已转达办理人员。",
    "withdrawn": "该问题已撤回。",
    "withdraw_asked": WITHDRAW_ASKED,
    "rated": "感谢您的评价！",
    "reopened": "已收到您的意见，该问题将重新办理。",
    "referred": "已收到您的意见。该问题已重新办理过，您的意见已报请委领导研究决定，结果将在本页告知您。",
    "material": "补充材料已提交，已转交办理人员。",
    "objected": "您的异议已收到，我们将依规研究处理。感谢您对监督工作的支持。",
    "aftercare": "感谢您的反馈！今后如遇到刁难、打击报复或吃拿卡要等情况，欢迎随时反映。",
}
NO_MATERIAL = "请选择要补充的文件，或填写补充说明。"
TIMED_OUT = "查询已超时，为保护您的信息，请重新输入回执码。"
NOT_SENT = {
    True: "查询已超时，刚才提交的内容没有发送。为保护您的信息，请重新输入回执码后再提交。",
    False: "查询已结束，刚才提交的内容没有发送。请重新输入回执码后再提交。",
}
"""A form sent once the query timed out (``True``) or ended (退出查询, cookies cleared)."""
TOO_FREQUENT = "提交过于频繁，请稍等一分钟后再提交。您填写的说明已保留。"


@dataclass
class Tracking:
    """What ``/t`` keeps for the process: the working-day calendar its use cases count with
    (wrong codes are counted in the channel's shared ``limiter``)."""

    calendars: CalendarCache | None = None

    async def policy(self, channel: WebChannel, session: AsyncSession) -> Policy:
        if self.calendars is None:
            self.calendars = CalendarCache(
                channel.config, await load_calendar(session, channel.config)
            )
        return await self.calendars.policy(session)


TRACKING = web.AppKey("lianka_web_tracking", Tracking)


def _route(request: web.Request, name: str) -> str:
    return str(request.app.router[f"{ROUTE_PREFIX}{name}"].url_for())


def _see_other(request: web.Request, name: str, *, done: str | None = None) -> web.Response:
    """A 303 to one of the pages (post, redirect, get), which may carry a cookie."""
    location = _route(request, name)
    if done is not None:
        location += f"?done={done}"
    return web.Response(status=303, headers={"Location": location})


def _serializer(channel: WebChannel) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        channel.secret,
        salt=_TRACK_SALT,
        signer_kwargs={"key_derivation": "hmac", "digest_method": hashlib.sha256},
    )


def _cookie_name(channel: WebChannel) -> str:
    return SECURE_TRACK_COOKIE if channel.secure_cookies else TRACK_COOKIE


def _remember(request: web.Request, response: web.StreamResponse, case_id: int) -> None:
    """This browser may see ``case_id`` for another ``TRACK_MINUTES`` (the cookie is kept
    longer, ``TRACK_COOKIE_HOURS``, so that a late page can say the query timed out)."""
    channel = request.app[CHANNEL]
    value = _serializer(channel).dumps({"s": current_session(request).key, "c": case_id})
    response.set_cookie(
        _cookie_name(channel),
        str(value),
        max_age=TRACK_COOKIE_HOURS * 3600,
        path="/",
        secure=channel.secure_cookies,
        httponly=True,
        samesite="Lax",
    )


def _forget(request: web.Request, response: web.StreamResponse) -> None:
    channel = request.app[CHANNEL]
    response.del_cookie(
        _cookie_name(channel), path="/", secure=channel.secure_cookies, samesite="Lax"
    )


def _remembered(request: web.Request) -> tuple[int | None, bool]:
    """The case this browser may see, and whether a remembered one has expired."""
    channel = request.app[CHANNEL]
    value = request.cookies.get(_cookie_name(channel))
    if not value:
        return None, False
    try:
        data = _serializer(channel).loads(value, max_age=TRACK_MINUTES * 60)
    except SignatureExpired:
        return None, True
    except BadSignature:
        logger.info("tracking cookie with a bad signature ignored")
        return None, False
    session = current_session(request)
    if (
        not isinstance(data, dict)
        or session.is_new
        or data.get("s") != session.key
        or not isinstance(data.get("c"), int)
    ):
        return None, True
    case_id: int = data["c"]
    return case_id, False


def _form(request: web.Request, channel: WebChannel, **context: Any) -> web.Response:
    context.setdefault("error", None)
    context.setdefault("entered", "")
    context.setdefault("kept", "")
    context.setdefault("status", 200)
    status = context.pop("status")
    return page_response(
        request,
        channel,
        "track_form",
        status=status,
        csrf=csrf_token(request),
        csrf_field=CSRF_FIELD,
        action=_route(request, "track"),
        code_length=RECEIPT_LENGTH,
        **context,
    )


async def track_form(request: web.Request) -> web.Response:
    """``/t``: the receipt code box."""
    channel = request.app[CHANNEL]
    _, expired = _remembered(request)
    notice = TIMED_OUT if expired else None
    response = _form(request, channel, notice=notice)
    if expired:
        _forget(request, response)
    return response


@require_csrf
async def track_open(request: web.Request) -> web.StreamResponse:
    """``POST /t``: the code typed; a right one opens the case for this browser."""
    channel = request.app[CHANNEL]
    form = await request.post()
    code = str(form.get("code", ""))[:64]
    clients = (
        "ip:" + client_address(request, channel.trusted_proxies),
        "browser:" + current_session(request).key,
    )
    try:
        tracked = await open_tracked_case(
            channel.sessions, channel.limiter, code=code, clients=clients, now=channel.clock.now()
        )
    except TooManyAttempts as error:
        logger.info("web tracking: too many wrong receipt codes")
        return _form(request, channel, notice=None, error=error.message, entered=code, status=429)
    except DomainError as error:
        logger.info("web tracking: wrong receipt code")
        return _form(request, channel, notice=None, error=error.message, entered=code, status=404)
    response = _see_other(request, "track-case")
    _remember(request, response, tracked.case_id)
    return response


def _not_sent(request: web.Request, *, expired: bool, kept: str = "") -> web.Response:
    """A form sent once the query timed out or ended: nothing sent, ``/t``'s code box, and what
    was typed (``kept``) shown back to copy. Nothing of the case is shown."""
    response = _form(
        request,
        request.app[CHANNEL],
        notice=None,
        error=NOT_SENT[expired],
        kept=kept.strip() and kept[:ENTERED_MAX],
        status=403,
    )
    _forget(request, response)
    return response


def _case_page(
    request: web.Request,
    channel: WebChannel,
    page: TrackedCase,
    *,
    status: int = 200,
    error: str | None = None,
    error_at: str | None = None,
    entered: str = "",
    entered_relay: int | None = None,
    chosen: str = "",
) -> web.Response:
    """The case page; after a refused form, its words (``error`` beside the form ``error_at``),
    the text typed (``entered``) and the choice made (``chosen``: a radio's value)."""
    done = DONE.get(request.query.get("done", "")) if request.method == "GET" else None
    placed = {
        "answer": any(q.relay_id == entered_relay for q in page.questions),
        "followup": page.followup_asked,
        "withdraw": page.may_withdraw,
        "objection": page.may_object,
        "aftercare": page.aftercare_asked,
    }
    top_error = None
    if error is not None and not placed.get(error_at or "", False):
        top_error, error = error, None  # its form is gone (answered, closed): said at the top
    return page_response(
        request,
        channel,
        "track_case",
        status=status,
        case=page,
        done=done,
        top_error=top_error,
        error=error,
        error_at=error_at,
        entered=entered,
        entered_relay=entered_relay,
        chosen=chosen,
        csrf=csrf_token(request),
        csrf_field=CSRF_FIELD,
        answer_url=_route(request, "track-answer"),
        withdraw_confirm_url=_route(request, "track-withdraw-confirm"),
        followup_url=_route(request, "track-followup"),
        objection_url=_route(request, "track-objection"),
        objection_max=OBJECTION_MAX,
        aftercare_url=_route(request, "track-aftercare"),
        aftercare_max=AFTERCARE_TEXT_MAX,
        signout_url=_route(request, "track-signout"),
        answer_max=ANSWER_MAX,
        reason_max=REASON_MAX,
        materials_url=_route(request, "track-materials-page") if page.may_add_material else None,
        local=local_time,
        local_date=local_date,
    )


async def _load(request: web.Request) -> tuple[int, TrackedCase]:
    """The case this browser opened and its page; anyone else is sent back to ``/t``."""
    case_id, _ = _remembered(request)
    if case_id is None:
        raise _back_to_form(request)
    channel = request.app[CHANNEL]
    try:
        async with channel.sessions() as session:
            return case_id, await _tracked_page(request, session, case_id)
    except NotTracked:
        raise _back_to_form(request) from None


async def _tracked_page(request: web.Request, session: AsyncSession, case_id: int) -> TrackedCase:
    """The page of the case, with 异议 offered by the same rule as the chat's button."""
    channel = request.app[CHANNEL]
    policy = await request.app[TRACKING].policy(channel, session)
    return await tracked_case(session, case_id, policy=policy, now=channel.clock.now())


def _back_to_form(request: web.Request) -> web.HTTPSeeOther:
    """Without a case this browser may see: the receipt code box."""
    return web.HTTPSeeOther(_route(request, "track"))


async def track_case(request: web.Request) -> web.StreamResponse:
    """``/t/case``: the case this browser opened with its code; anyone else goes to ``/t``."""
    channel = request.app[CHANNEL]
    case_id, page = await _load(request)
    response = _case_page(request, channel, page)
    _remember(request, response, case_id)  # another TRACK_MINUTES from this page
    return response


@dataclass
class _Posted:
    """A form posted on the case page: the database session, the remembered case and the
    fields, for the one use case the form calls."""

    request: web.Request
    session: AsyncSession
    case_id: int
    fields: MultiDictProxy[str | bytes | bytearray | FileField]
    now: datetime

    def text(self, name: str, limit: int) -> str:
        """A text field, cut at twice its limit (the use case says when it is too long)."""
        return str(self.fields.get(name, ""))[: limit * 2]

    async def policy(self) -> Policy:
        return await self.request.app[TRACKING].policy(self.request.app[CHANNEL], self.session)


Action = Callable[[_Posted], Awaitable[str]]
"""A form's use case; it returns the key of what the page then says (``DONE``)."""


class _Changed(DomainError):
    """Two forms sent at once: the second finds the case changed under it (``StaleDataError``)."""

    message = "该问题刚刚有了新的办理情况，请查看最新进展后再操作。"


async def _act(
    request: web.Request,
    action: Action,
    *,
    error_at: str,
    entered_field: str | None = None,
    chosen_field: str | None = None,
    stale: str = _Changed.message,
) -> web.StreamResponse:
    """One form's use case on the remembered case, then back to the case page; a refusal shows
    the case again with its words, what was typed and the choice made, nothing lost; once the
    query timed out, ``/t`` says nothing was sent and shows what was typed. Each form counts
    against the address's form limit (``FORMS_PER_ADDRESS``, shared with 补充材料 and the
    report form)."""
    channel = request.app[CHANNEL]
    fields = await request.post()
    typed = str(fields.get(entered_field, "")) if entered_field else ""
    case_id, expired = _remembered(request)
    if case_id is None:
        logger.info("web tracking: %s sent after the query ended", error_at)
        return _not_sent(request, expired=expired, kept=typed)

    async def again(status: int, error: str) -> web.StreamResponse:
        _, page = await _load(request)
        return _case_page(
            request,
            channel,
            page,
            status=status,
            error=error,
            error_at=error_at,
            entered=typed[:ENTERED_MAX],
            entered_relay=_int(fields.get("relay")) if error_at == "answer" else None,
            chosen=str(fields.get(chosen_field, ""))[:16] if chosen_field else "",
        )

    client = client_address(request, channel.trusted_proxies)
    if not await channel.limiter.hit(FORMS_PER_ADDRESS, client, channel.clock.now()):
        logger.info("web tracking forms throttled for a client address")
        return await again(429, TOO_FREQUENT)
    try:
        async with channel.sessions() as session:
            done = await action(_Posted(request, session, case_id, fields, channel.clock.now()))
    except NotTracked:
        raise _back_to_form(request) from None
    except DomainError as error:
        logger.info("web tracking: %s refused (%s)", error_at, type(error).__name__)
        return await again(409, error.message)
    except StaleDataError:  # the same form sent twice at once: the second finds the case changed
        logger.info("web tracking: %s refused (concurrent change)", error_at)
        return await again(409, stale)
    response = _see_other(request, "track-case", done=done)
    _remember(request, response, case_id)
    return response


class _NoRating(DomainError):
    message = "请选择您的评价：满意、基本满意或不满意。"


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0


async def _answer(posted: _Posted) -> str:
    await answer_tracked_question(
        posted.session,
        posted.case_id,
        _int(posted.fields.get("relay")),
        answer=posted.text("answer", ANSWER_MAX),
        policy=await posted.policy(),
        now=posted.now,
    )
    return "answered"


async def _withdraw(posted: _Posted) -> str:
    case = await withdraw_tracked_case(posted.session, posted.case_id, now=posted.now)
    return "withdrawn" if case.status is CaseStatus.WITHDRAWN else "withdraw_asked"


async def _followup(posted: _Posted) -> str:
    rating = RATINGS.get(str(posted.fields.get("rating", "")))
    if rating is None:
        raise _NoRating
    if rating is Satisfaction.UNSATISFIED:
        reopened = await reopen_tracked_case(
            posted.session,
            posted.case_id,
            reason=posted.text("reason", REASON_MAX),
            policy=await posted.policy(),
            now=posted.now,
        )
        return "referred" if reopened.referred else "reopened"
    await rate_tracked_case(posted.session, posted.case_id, rating=rating, now=posted.now)
    return "rated"


async def _object(posted: _Posted) -> str:
    await object_tracked_case(
        posted.session,
        posted.case_id,
        text=posted.text("objection", OBJECTION_MAX),
        policy=await posted.policy(),
        now=posted.now,
    )
    return "objected"


@require_csrf
async def track_objection(request: web.Request) -> web.StreamResponse:
    """``POST /t/case/objection``: a 实名 clue reporter's one 异议 on the result."""
    return await _act(request, _object, error_at="objection", entered_field="objection")


@require_csrf
async def track_answer(request: web.Request) -> web.StreamResponse:
    """``POST /t/case/answer``: the answer to an open question."""
    return await _act(request, _answer, error_at="answer", entered_field="answer")


async def track_withdraw_confirm(request: web.Request) -> web.StreamResponse:
    """``/t/case/withdraw``: 撤回 asked to be confirmed (it cannot be undone)."""
    channel = request.app[CHANNEL]
    _, page = await _load(request)
    if not page.may_withdraw:
        raise web.HTTPSeeOther(_route(request, "track-case"))
    return page_response(
        request,
        channel,
        "track_withdraw",
        case=page,
        csrf=csrf_token(request),
        csrf_field=CSRF_FIELD,
        withdraw_url=_route(request, "track-withdraw"),
        back_url=_route(request, "track-case"),
    )


@require_csrf
async def track_withdraw(request: web.Request) -> web.StreamResponse:
    """``POST /t/case/withdraw``: 撤回, until an inspector signs for the case."""
    return await _act(request, _withdraw, error_at="withdraw")


@require_csrf
async def track_followup(request: web.Request) -> web.StreamResponse:
    """``POST /t/case/followup``: 回访 — 满意 · 基本满意 · 不满意 with a reason (重办)."""
    return await _act(
        request, _followup, error_at="followup", entered_field="reason", chosen_field="rating"
    )


class _NoAftercareAnswer(DomainError):
    message = "请选择“没有”或“有”。"


@dataclass
class _Aftercare:
    """防打击报复回访 on the page: the use case, and the clue a 有 opened (shown, not redirected
    to: its receipt code is shown once and never goes in an address)."""

    opened: Opened | None = None

    async def __call__(self, posted: _Posted) -> str:
        answer = str(posted.fields.get("answer", ""))
        if answer not in ("none", "yes"):
            raise _NoAftercareAnswer
        self.opened = await answer_tracked_aftercare(
            posted.session,
            posted.case_id,
            retaliated=answer == "yes",
            text=posted.text("description", AFTERCARE_TEXT_MAX) if answer == "yes" else None,
            policy=await posted.policy(),
            now=posted.now,
            counted=posted.request.app[CHANNEL].cases_submitted,
        )
        return "aftercare"


@require_csrf
async def track_aftercare(request: web.Request) -> web.StreamResponse:
    """``POST /t/case/aftercare``: 防打击报复回访 — 没有, or 有 with a short description, which
    opens a confidential clue: its 受理编号 (and receipt code) shown on the answer's page."""
    action = _Aftercare()
    response = await _act(
        request,
        action,
        error_at="aftercare",
        entered_field="description",
        chosen_field="answer",
        stale=AftercareClosed.message,
    )
    if action.opened is None or response.status != 303:
        return response
    opened = action.opened
    done = page_response(
        request,
        request.app[CHANNEL],
        "track_aftercare_done",
        number=opened.clue.number,
        receipt_code=opened.receipt_code,
        back_url=_route(request, "track-case"),
    )
    done.headers["Cache-Control"] = "no-store"
    case_id, _ = _remembered(request)
    if case_id is not None:
        _remember(request, done, case_id)
    return done


@require_csrf
async def track_signout(request: web.Request) -> web.StreamResponse:
    """``POST /t/signout``: this browser forgets the case (a shared phone)."""
    response = _see_other(request, "track")
    _forget(request, response)
    return response


def _materials_page(
    request: web.Request,
    channel: WebChannel,
    page: TrackedCase,
    *,
    status: int = 200,
    **context: Any,
) -> web.Response:
    """补充材料's page: the form, with what was refused (``problems``), what was added
    (``added``), the note typed (``note``) and a ``notice``."""
    for name, default in (("problems", ()), ("added", None), ("note", ""), ("notice", None)):
        context.setdefault(name, default)
    return page_response(
        request,
        channel,
        "track_materials",
        status=status,
        case=page,
        csrf=csrf_token(request),
        csrf_field=CSRF_FIELD,
        upload_url=_route(request, "track-materials"),
        back_url=_route(request, "track-case"),
        files_max=EVIDENCE_MAX,
        file_max_mb=FILE_MAX_BYTES // (1024 * 1024),
        note_max=DESCRIPTION_MAX,
        **context,
    )


async def track_materials_page(request: web.Request) -> web.StreamResponse:
    """``/t/case/materials``: 补充材料's form, while the case is open."""
    channel = request.app[CHANNEL]
    case_id, page = await _load(request)
    if not page.may_add_material:
        raise web.HTTPSeeOther(_route(request, "track-case"))
    response = _materials_page(request, channel, page)
    _remember(request, response, case_id)
    return response


class _Answered(Exception):
    """补充材料 stopped before its files were read: the page to answer with."""

    def __init__(self, response: web.Response) -> None:
        super().__init__("form answered")
        self.response = response


async def _refused_on_case(request: web.Request, error: DomainError) -> web.Response:
    """The case page, saying why 补充材料 was refused (the case closed meanwhile)."""
    logger.info("web tracking: material refused (%s)", type(error).__name__)
    _, page = await _load(request)
    return _case_page(request, request.app[CHANNEL], page, status=409, error=error.message)


def _material_start(
    request: web.Request, case_id: int, *, now: datetime
) -> Callable[[dict[str, str]], Awaitable[MaterialDraft]]:
    """What ``receive_evidence`` asks before the first file: the form token, the case still
    tracked and open, the form within the address's limit; else the page to answer with. The
    limit is counted only for a form with its token (another site cannot spend it)."""

    async def start(fields: dict[str, str]) -> MaterialDraft:
        channel = request.app[CHANNEL]
        if not csrf_valid(request, fields.get(CSRF_FIELD)):
            raise _Answered(csrf_refused(request))
        client = client_address(request, channel.trusted_proxies)
        within = await channel.limiter.hit(FORMS_PER_ADDRESS, client, now)
        try:
            async with channel.sessions() as session:
                draft = await start_tracked_material(session, case_id)
        except NotTracked:
            raise _back_to_form(request) from None
        except DomainError as error:
            raise _Answered(await _refused_on_case(request, error)) from None
        if not within:
            logger.info("web tracking forms throttled for a client address")
            note = fields.get("note", "")[:ENTERED_MAX]
            raise _Answered(
                await _material_again(request, case_id, status=429, notice=TOO_FREQUENT, note=note)
            )
        return draft

    return start


def _material_not_sent(
    request: web.Request, *, expired: bool
) -> Callable[[dict[str, str]], Awaitable[MaterialDraft]]:
    """补充材料 sent once the query timed out or ended: the form token checked, then ``/t``
    saying nothing was sent, with the note typed; no file is read."""

    async def start(fields: dict[str, str]) -> MaterialDraft:
        if not csrf_valid(request, fields.get(CSRF_FIELD)):
            raise _Answered(csrf_refused(request))
        logger.info("web tracking: material sent after the query ended")
        raise _Answered(_not_sent(request, expired=expired, kept=fields.get("note", "")))

    return start


async def track_materials(request: web.Request) -> web.StreamResponse:
    """``POST /t/case/materials``: 补充材料's multipart form. The form token and the case are
    checked before the first file is read; each file is checked, cleaned and kept by
    ``web.uploads``; the material is submitted only once the whole body was read, so an upload
    cut off half-way adds nothing to the case."""
    channel = request.app[CHANNEL]
    case_id, expired = _remembered(request)
    now = channel.clock.now()
    if case_id is None:
        start = _material_not_sent(request, expired=expired)
    else:
        start = _material_start(request, case_id, now=now)
    try:
        received = await receive_evidence(
            request, start, add=MaterialDraft.add_file, blobs=channel.blobs
        )
    except _Answered as answered:
        return answered.response
    except InvalidInput:  # not a multipart form: not sent by the page
        return csrf_refused(request)
    except UploadTooLarge:
        return _too_large(request)
    assert case_id is not None  # else ``start`` answered
    return await _submit_material(request, case_id, received, now=now)


def _too_large(request: web.Request) -> web.Response:
    logger.info("web upload stopped at the body cap")
    return notice_response(
        request,
        request.app[CHANNEL],
        title="文件过大",
        lines=[BODY_TOO_LARGE],
        status=413,
        refused=True,
        links=[("返回补充材料", _route(request, "track-materials-page"))],
    )


async def _material_again(
    request: web.Request, case_id: int, *, status: int = 400, **context: Any
) -> web.Response:
    """补充材料's page again, with what was refused and what was kept."""
    channel = request.app[CHANNEL]
    try:
        async with channel.sessions() as session:
            page = await _tracked_page(request, session, case_id)
    except NotTracked:
        raise _back_to_form(request) from None
    response = _materials_page(request, channel, page, status=status, **context)
    _remember(request, response, case_id)
    return response


async def _submit_material(
    request: web.Request, case_id: int, received: Received[MaterialDraft], *, now: datetime
) -> web.StreamResponse:
    """The files that passed and the note, by the chat's use case; each refused file named. With
    no file passed, nothing is sent (the note stays in its box, for the files it was for)."""
    problems, note, draft = list(received.problems), received.fields.get("note", ""), received.draft
    note_refused = False
    try:
        draft = draft.add_note(note) if clean_text(note) else draft
    except InvalidInput as error:
        problems.append(error.message)
        note_refused = True
    if note_refused or (not draft.files and (problems or not draft.note)):
        kept = note[:ENTERED_MAX]
        return await _material_again(
            request, case_id, problems=problems or [NO_MATERIAL], note=kept
        )
    try:
        async with request.app[CHANNEL].sessions() as session:
            added = await add_tracked_material(session, case_id, material=draft, now=now)
    except NotTracked:
        raise _back_to_form(request) from None
    except DomainError as error:
        return await _refused_on_case(request, error)
    except StaleDataError:  # the case changed under it (another form sent at the same moment)
        return await _refused_on_case(request, _Changed())
    if problems:
        return await _material_again(request, case_id, status=200, problems=problems, added=added)
    response = _see_other(request, "track-case", done="material")
    _remember(request, response, case_id)
    return response


def add_tracking(app: web.Application) -> None:
    """``/t`` and the case page's forms on ``app`` (with the web channel's middlewares)."""
    app[TRACKING] = Tracking()
    router = app.router
    router.add_get("/t", track_form, name=f"{ROUTE_PREFIX}track", allow_head=False)
    router.add_post("/t", track_open, name=f"{ROUTE_PREFIX}track-open")
    router.add_get("/t/case", track_case, name=f"{ROUTE_PREFIX}track-case", allow_head=False)
    router.add_post("/t/case/answer", track_answer, name=f"{ROUTE_PREFIX}track-answer")
    router.add_get(
        "/t/case/withdraw",
        track_withdraw_confirm,
        name=f"{ROUTE_PREFIX}track-withdraw-confirm",
        allow_head=False,
    )
    router.add_post("/t/case/withdraw", track_withdraw, name=f"{ROUTE_PREFIX}track-withdraw")
    router.add_post("/t/case/followup", track_followup, name=f"{ROUTE_PREFIX}track-followup")
    router.add_post("/t/case/objection", track_objection, name=f"{ROUTE_PREFIX}track-objection")
    router.add_post("/t/case/aftercare", track_aftercare, name=f"{ROUTE_PREFIX}track-aftercare")
    router.add_post("/t/signout", track_signout, name=f"{ROUTE_PREFIX}track-signout")
    router.add_get(
        "/t/case/materials",
        track_materials_page,
        name=f"{ROUTE_PREFIX}track-materials-page",
        allow_head=False,
    )
    router.add_post("/t/case/materials", track_materials, name=f"{ROUTE_PREFIX}track-materials")
