"""网页反映: the report on the card's web page, one step a page, with the chat's steps and rules
(``IntakeDraft``) and its submission (``bot.services.web_intake.submit_web_report``).

``GET /c/<token>/report`` shows the step this browser's draft is at (``?step=`` an earlier one
it has passed); ``POST`` takes one step's form (CSRF-checked, counted per client address), then
sends the browser to the next step (303), or back to the summary once the report has reached it
(修改, as in the chat). Bad input shows the same page with the message beside the field and
everything entered; so does 上一步 with text typed in a refused box (nothing typed is dropped).
确认提交 answers with the 受理编号, the acceptance deadline and the receipt code: the draft is
closed, a reload (or a double tap) shows that it was submitted, with the same code for a few
minutes (``RECEIPT_SHOWN_AGAIN``), a new one after. A card's page opened while a report through
another card is being entered keeps that report, and asks: 继续填写 it, or 放弃并重新开始 (a
form, never a page opened).

The steps are the list ``STEPS``: a ``Step`` names its template (``report_<name>.html.j2``,
included in the page's form) and how it takes its form (``take``); a new step is inserted into
the list where it belongs. 相关材料 (``MATERIALS``) takes files: its form is multipart and
goes to its own route, ``materials_form`` (``web.uploads`` reads it), with its own body cap.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.reporters import CardRefused, TooManyAttempts, get_active_category
from bot.services.web_intake import (
    CONFIRMING,
    FORMS_PER_ADDRESS,
    NEW_SESSIONS_PER_ADDRESS,
    REPORTS_PER_CARD,
    DraftElsewhere,
    StaleForm,
    SubmissionUnderWay,
    TooManyReports,
    WebReport,
    WebSubmitted,
    abandon_web_draft,
    confirm_web_report,
    get_web_report,
    open_web_report,
    save_web_step,
)
from models.errors import DomainError, InvalidInput
from models.intake import EVIDENCE_MAX, NAME_MAX, IntakeDraft
from models.org import Track
from notifications.render import yuan_to_wan
from web.context import CHANNEL, ROUTE_PREFIX, WebChannel, client_address
from web.pages import card_refused, notice_response, page_response, short_token, too_many_attempts
from web.session import (
    CSRF_FIELD,
    csrf_refused,
    csrf_token,
    csrf_valid,
    current_session,
    require_csrf,
)
from web.uploads import BODY_TOO_LARGE, UploadTooLarge, receive_files

logger = logging.getLogger(__name__)

REPORT_ROUTE = f"{ROUTE_PREFIX}report"
MATERIALS_ROUTE = f"{ROUTE_PREFIX}report-materials"
NEXT, BACK, SKIP, SUBMIT, RESTART = "next", "back", "skip", "submit", "restart"
NAMED, ANONYMOUS = "named", "anonymous"
ID_MAX = 2**31 - 1
"""The largest id a table's integer key holds: a larger one is no category's."""
FIELDS = ("category", "description", "files", "amount", "identity", "name", "phone")
"""The form fields the steps read; what was entered in them is shown again on a refusal."""
TYPED = ("description", "amount", "name", "phone")
"""The fields a person types into: a refused one with text in it is not dropped by 上一步."""


class FieldErrors(Exception):
    """A step's form refused: the message to show beside each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class StepInput:
    """What a step's ``take`` gets: the request, its form, the button pressed, the report as
    it stands, and the request's database session (for look-ups; the page saves)."""

    request: web.Request
    form: MultiDictProxy[Any]
    action: str
    report: WebReport
    session: AsyncSession

    def text(self, name: str) -> str:
        value = self.form.get(name, "")
        return value if isinstance(value, str) else ""


@dataclass(frozen=True, slots=True)
class Step:
    """One page of the report: its name (in the URL and the draft's row), its heading, how it
    takes its form into the draft (raising ``FieldErrors``), and the extra buttons it shows."""

    name: str
    title: str
    take: Callable[[StepInput], Awaitable[IntakeDraft]]
    skippable: bool = False
    fields: tuple[str, ...] = field(default=())
    upload: bool = False
    """Its form carries files: sent as multipart to its own route (``materials_form``)."""


def _field(name: str, take: Callable[[], IntakeDraft]) -> IntakeDraft:
    try:
        return take()
    except InvalidInput as error:
        raise FieldErrors({name: error.message}) from None


async def take_category(given: StepInput) -> IntakeDraft:
    raw = given.text("category").strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) > ID_MAX:  # "²" is a digit to isdigit
        raise FieldErrors({"category": "请选择问题类别。"})
    try:
        category = await get_active_category(given.session, int(raw))
    except DomainError as error:
        raise FieldErrors({"category": error.message}) from None
    draft = given.report.draft
    return draft.choose_category(category.code, category.name, clue=category.track is Track.CLUE)


async def take_description(given: StepInput) -> IntakeDraft:
    draft = given.report.draft
    return _field("description", lambda: draft.describe(given.text("description")))


async def take_amount(given: StepInput) -> IntakeDraft:
    draft = given.report.draft
    amount = given.text("amount").strip()
    if given.action == SKIP or not amount:
        return draft.skip_amount()
    return _field("amount", lambda: draft.set_amount(amount))


async def take_identity(given: StepInput) -> IntakeDraft:
    draft = given.report.draft
    identity = given.text("identity")
    if identity == ANONYMOUS:
        return draft.go_anonymous()
    if identity != NAMED:
        raise FieldErrors({"identity": "请选择反映方式：实名或匿名。"})
    name, phone = given.text("name"), given.text("phone")
    named = draft.start_named()
    errors: dict[str, str] = {}
    if not phone.strip():  # an empty box is not a malformed number
        errors["phone"] = "请填写手机号码，例如 13812345678。"
    checks: tuple[tuple[str, Callable[[str], IntakeDraft], str], ...] = (
        ("name", named.give_name, name),
        ("phone", named.hold_phone, phone),
    )
    for key, check, value in checks:  # each field on its own, so both messages show at once
        if key in errors:
            continue
        try:
            check(value)
        except InvalidInput as error:
            errors[key] = error.message
    if errors:
        raise FieldErrors(errors)
    return named.go_named(name, phone)


async def take_summary(given: StepInput) -> IntakeDraft:
    return given.report.draft


async def take_materials(given: StepInput) -> IntakeDraft:
    """相关材料 sent without its files (a form posted to the page's own route): a 删除 is
    taken, anything else passes; files come only through ``materials_form``."""
    deleted = given.text("delete")
    return given.report.draft.remove_evidence(deleted) if deleted else given.report.draft


CATEGORY = Step("category", "问题类别", take_category, fields=("category",))
DESCRIPTION = Step("description", "问题描述", take_description, fields=("description",))
MATERIALS = Step("materials", "相关材料", take_materials, fields=("files",), upload=True)
AMOUNT = Step("amount", "涉及金额（万元）", take_amount, skippable=True, fields=("amount",))
IDENTITY = Step("identity", "反映方式", take_identity, fields=("identity", "name", "phone"))
SUMMARY = Step("summary", "请核对反映内容", take_summary)

STEPS: list[Step] = [CATEGORY, DESCRIPTION, MATERIALS, AMOUNT, IDENTITY, SUMMARY]
"""The pages in order."""


def _index(name: str) -> int:
    for index, step in enumerate(STEPS):
        if step.name == name:
            return index
    return -1


def _reached(report: WebReport) -> int:
    """The step the draft is at (a 确认提交 under way is still at the summary)."""
    return _index(SUMMARY.name if report.step == CONFIRMING else report.step)


def _forward(report: WebReport, index: int) -> int:
    """The step after ``index``: the summary once the draft has reached it (修改 from the
    summary comes back to it, as in the chat), else the next one."""
    summary = _index(SUMMARY.name)
    return summary if _reached(report) == summary else min(index + 1, summary)


def _typed(step: Step, form: MultiDictProxy[Any]) -> bool:
    """Whether the step's form carries text typed into one of its boxes."""
    return any(
        isinstance(value := form.get(name), str) and value.strip()
        for name in step.fields
        if name in TYPED
    )


def _report_url(request: web.Request, token: str, step: str | None = None) -> str:
    url = request.app.router[REPORT_ROUTE].url_for(token=token)
    return str(url.with_query(step=step) if step else url)


def _draft_values(report: WebReport) -> dict[str, str]:
    """The form's fields as the draft has them (the identity only once it was chosen)."""
    draft = report.draft
    chosen = next((c for c in report.categories if c.code == draft.category), None)
    identity = ""
    if _reached(report) > _index(IDENTITY.name) or not draft.anonymous:
        identity = ANONYMOUS if draft.anonymous else NAMED
    return {
        "category": str(chosen.id) if chosen else "",
        "description": draft.description,
        "amount": yuan_to_wan(draft.amount_yuan) if draft.amount_yuan is not None else "",
        "identity": identity,
        "name": draft.contact_name or "",
        "phone": draft.contact_phone or "",
    }


def _form_values(report: WebReport, form: MultiDictProxy[Any]) -> dict[str, str]:
    """The draft's values, with what this form sent over them (kept on a refusal)."""
    values = _draft_values(report)
    for name in FIELDS:
        value = form.get(name)
        if isinstance(value, str):
            values[name] = value
    return values


def _step_page(
    request: web.Request,
    channel: WebChannel,
    report: WebReport,
    step: Step,
    *,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    notice: str | None = None,
    going_back: bool = False,
    status: int = 200,
) -> web.Response:
    """One step's page; ``going_back``: 上一步 was refused (what was typed must be corrected,
    or cleared, first)."""
    index = _index(step.name)
    return page_response(
        request,
        channel,
        "report",
        status=status,
        report=report,
        step=step,
        number=index + 1,
        total=len(STEPS),
        values=values,
        errors=dict.fromkeys(FIELDS, "") | (errors or {}),
        invalid=bool(errors),
        going_back=going_back,
        notice=notice,
        csrf=csrf_token(request),
        action=_report_url(request, report.token),
        upload_action=str(request.app.router[MATERIALS_ROUTE].url_for(token=report.token)),
        files_max=EVIDENCE_MAX,
        name_max=NAME_MAX,
        back=index > 0,
        edit_urls={s.name: _report_url(request, report.token, s.name) for s in STEPS},
    )


def _stale(request: web.Request, channel: WebChannel, token: str) -> web.Response:
    return notice_response(
        request,
        channel,
        title="此页面已过期",
        lines=[
            "您提交的页面已失效：这份反映已经提交，或已在别处重新填写。",
            "为避免重复提交，本次操作未被受理。如需再反映问题，请重新打开反映页面。",
        ],
        status=409,
        refused=True,
        links=[("重新打开反映页面", _report_url(request, token))],
    )


def _client(request: web.Request, channel: WebChannel) -> str:
    return client_address(request, channel.trusted_proxies)


def _elsewhere_page(
    request: web.Request, channel: WebChannel, elsewhere: DraftElsewhere, token: str
) -> web.Response:
    """This card's report page while a report through another card is being entered: kept,
    with 继续填写 (a link to it) and 放弃并重新开始 (a form: nothing is lost by a page opened)."""
    return page_response(
        request,
        channel,
        "report_elsewhere",
        elsewhere=elsewhere,
        csrf=csrf_token(request),
        action=_report_url(request, token),
        continue_url=_report_url(request, elsewhere.draft_token),
    )


async def report_page(request: web.Request) -> web.Response:
    """``GET /c/<token>/report``: the step this browser's draft is at, or an earlier one it has
    passed (``?step=``); a new draft when it has none; while its report through another card is
    being entered, that report kept and the choice offered (继续填写, 放弃并重新开始)."""
    channel = request.app[CHANNEL]
    token = request.match_info["token"]
    browser = current_session(request)
    now = channel.clock.now()
    if browser.is_new and not await channel.limiter.hit(
        NEW_SESSIONS_PER_ADDRESS, _client(request, channel), now
    ):
        logger.info("web report pages throttled for a client address")
        return too_many_attempts(request, channel, TooManyAttempts())
    try:
        async with channel.sessions() as session:
            report = await open_web_report(
                session,
                channel.guard,
                limiter=channel.limiter,
                config=channel.config,
                token=token,
                session_key=browser.key,
                client=_client(request, channel),
                first_step=STEPS[0].name,
                now=now,
            )
    except CardRefused as error:
        logger.info("web report refused (%s): %s", error.detail, short_token(token))
        return card_refused(request, channel, error)
    except TooManyAttempts as error:
        logger.info("web report throttled: %s", short_token(token))
        return too_many_attempts(request, channel, error)
    if isinstance(report, DraftElsewhere):
        return _elsewhere_page(request, channel, report, token)
    reached = max(0, _reached(report))
    wanted = _index(request.query.get("step", ""))
    step = STEPS[wanted] if 0 <= wanted <= reached else STEPS[reached]
    return _step_page(request, channel, report, step, values=_draft_values(report))


class _Refused(Exception):
    """A form stopped before its step was taken (or its files read): the page to answer with."""

    def __init__(self, response: web.Response) -> None:
        super().__init__("form refused")
        self.response = response


async def _form_report(
    request: web.Request,
    channel: WebChannel,
    session: AsyncSession,
    *,
    token: str,
    draft_id: str,
    now: datetime,
) -> WebReport:
    """The report a form belongs to; a stale form (another or a submitted draft) or a refused
    card raises ``_Refused`` with the page to answer with."""
    try:
        return await get_web_report(
            session,
            config=channel.config,
            token=token,
            session_key=current_session(request).key,
            draft_id=draft_id,
            now=now,
        )
    except StaleForm as error:
        logger.info("stale web report form (%s)", error.detail)
        raise _Refused(_stale(request, channel, token)) from None
    except CardRefused as error:
        raise _Refused(card_refused(request, channel, error)) from None


@require_csrf
async def report_form(request: web.Request) -> web.Response:
    """``POST /c/<token>/report``: one step's form, 确认提交, or 放弃并重新开始."""
    channel = request.app[CHANNEL]
    token = request.match_info["token"]
    form = await request.post()
    draft_id, action = form.get("draft"), form.get("action", NEXT)
    step_name = form.get("step", "") if action == RESTART else form.get("step")
    if not isinstance(draft_id, str) or not isinstance(step_name, str):
        return _stale(request, channel, token)
    action = action if action in (NEXT, BACK, SKIP, SUBMIT, RESTART) else NEXT
    now = channel.clock.now()
    session_key = current_session(request).key
    within = await channel.limiter.hit(FORMS_PER_ADDRESS, _client(request, channel), now)
    if action == RESTART:
        return await _restart(request, channel, token=token, draft_id=draft_id, within=within)
    if action == SUBMIT and step_name == SUMMARY.name and within:
        return await _confirm(request, channel, token=token, draft_id=draft_id, now=now)
    async with channel.sessions() as session:
        try:
            report = await _form_report(
                request, channel, session, token=token, draft_id=draft_id, now=now
            )
        except _Refused as refused:
            return refused.response
        index = _index(step_name)
        if not 0 <= index <= _reached(report):
            return _stale(request, channel, token)
        step = STEPS[index]
        if not within:
            logger.info("web report forms throttled for a client address")
            return _step_page(
                request,
                channel,
                report,
                step,
                values=_form_values(report, form),
                notice="提交过于频繁，请稍等一分钟后再点按钮。您填写的内容已保留在本页。",
                status=429,
            )
        given = StepInput(request, form, action, report, session)
        try:
            draft = await step.take(given)
        except FieldErrors as refused:
            if action == BACK and not _typed(step, form):  # nothing typed to lose: back
                return _see_other(_report_url(request, token, STEPS[max(0, index - 1)].name))
            return _step_page(
                request,
                channel,
                report,
                step,
                values=_form_values(report, form),
                errors=refused.errors,
                going_back=action == BACK,
                status=400,
            )
        target = index - 1 if action == BACK else _forward(report, index)
        target = max(0, min(target, len(STEPS) - 1))
        reached = max(target, _reached(report))
        try:
            await save_web_step(
                session, session_key=session_key, draft=draft, step=STEPS[reached].name, now=now
            )
        except StaleForm:
            return _stale(request, channel, token)
        except SubmissionUnderWay as error:  # 确认提交 under way: what was typed stays here
            values = _form_values(report, form)
            return _step_page(
                request, channel, report, step, values=values, notice=error.message, status=409
            )
    return _see_other(_report_url(request, token, STEPS[target].name))


async def _restart(
    request: web.Request, channel: WebChannel, *, token: str, draft_id: str, within: bool
) -> web.Response:
    """放弃并重新开始, from a card's page that found a report through another card being
    entered: that report (the one the page showed) deleted, and this card's page opened again,
    where a new one starts. The token is not looked up here: that page counts guesses."""
    if not within:
        logger.info("web report forms throttled for a client address")
        return notice_response(
            request,
            channel,
            title="提交过于频繁",
            lines=["提交过于频繁，请稍等一分钟后再点按钮。"],
            status=429,
            refused=True,
            links=[("返回反映页面", _report_url(request, token))],
        )
    async with channel.sessions() as session:
        await abandon_web_draft(
            session,
            session_key=current_session(request).key,
            draft_id=draft_id,
            now=channel.clock.now(),
        )
    return _see_other(_report_url(request, token))


async def materials_form(request: web.Request) -> web.Response:
    """``POST /c/<token>/report/materials``: 相关材料's multipart form: files added, one
    删除, or 下一步 / 上一步. The form token, then the address's count of forms (a forged form
    spends none of it), then the draft are checked before the first file is read; each file is
    checked, cleaned and kept by ``web.uploads``; a refused file is named on the same page with
    why, and those that passed are kept. The draft is saved only once the whole body was read,
    so an upload cut off half-way leaves nothing referenced; no database connection is held
    while the files are read."""
    channel = request.app[CHANNEL]
    token = request.match_info["token"]
    now = channel.clock.now()
    session_key = current_session(request).key
    found: list[WebReport] = []

    async def start(fields: dict[str, str]) -> IntakeDraft:
        if not csrf_valid(request, fields.get(CSRF_FIELD)):
            raise _Refused(csrf_refused(request))
        within = await channel.limiter.hit(FORMS_PER_ADDRESS, _client(request, channel), now)
        async with channel.sessions() as session:
            report = await _form_report(
                request, channel, session, token=token, draft_id=fields.get("draft", ""), now=now
            )
        if _reached(report) < _index(MATERIALS.name):
            raise _Refused(_stale(request, channel, token))
        if not within:
            logger.info("web report forms throttled for a client address")
            raise _Refused(
                _step_page(
                    request,
                    channel,
                    report,
                    MATERIALS,
                    values=_draft_values(report),
                    notice="提交过于频繁，请稍等一分钟后再上传。已上传的材料已保留。",
                    status=429,
                )
            )
        found.append(report)
        return report.draft

    try:
        received = await receive_files(request, start, blobs=channel.blobs)
    except _Refused as refused:
        return refused.response
    except InvalidInput:  # not a multipart form: not sent by the page
        return _stale(request, channel, token)
    except UploadTooLarge:
        logger.info("web upload stopped at the body cap")
        return notice_response(
            request,
            channel,
            title="文件过大",
            lines=[BODY_TOO_LARGE],
            status=413,
            refused=True,
            links=[("返回相关材料", _report_url(request, token, MATERIALS.name))],
        )
    report = found[0]
    draft = received.draft
    deleted = received.fields.get("delete")
    if deleted:
        draft = draft.remove_evidence(deleted)
    action = received.fields.get("action", "")
    index = _index(MATERIALS.name)
    moving = not received.problems and not deleted and action in (NEXT, BACK)
    target = (_forward(report, index) if action == NEXT else index - 1) if moving else index
    reached = max(target, _reached(report))
    try:
        async with channel.sessions() as session:
            await save_web_step(
                session, session_key=session_key, draft=draft, step=STEPS[reached].name, now=now
            )
    except StaleForm:
        return _stale(request, channel, token)
    except SubmissionUnderWay:
        notice = "您的反映正在提交，本次上传未保存，请稍候再试。"
        values = _draft_values(report)
        return _step_page(
            request, channel, report, MATERIALS, values=values, notice=notice, status=409
        )
    if received.problems:
        shown = replace(report, draft=draft, step=STEPS[reached].name)
        return _step_page(
            request,
            channel,
            shown,
            MATERIALS,
            values=_draft_values(shown),
            errors={"files": "\n".join(received.problems)},
            status=400,
        )
    return _see_other(_report_url(request, token, STEPS[target].name))


async def _confirm(
    request: web.Request, channel: WebChannel, *, token: str, draft_id: str, now: datetime
) -> web.Response:
    """确认提交: the receipt page (headed, like the steps, by the card's issuing unit), or the
    summary again with what stopped it. Only a draft that becomes a case is counted against the
    card, once (``confirm_web_report``); a form of another or an older draft, or sent to another
    card's address, is stale, whatever that card is; a submitted draft gets its first case back."""
    session_key = current_session(request).key
    try:
        confirmed = await confirm_web_report(
            channel.sessions,
            channel.limiter,
            config=channel.config,
            per_card=REPORTS_PER_CARD,
            token=token,
            session_key=session_key,
            draft_id=draft_id,
            at_step=SUMMARY.name,
            now=now,
            counted=channel.cases_submitted,
        )
    except StaleForm as error:
        logger.info("stale web report submission (%s)", error.detail)
        return _stale(request, channel, token)
    except CardRefused as error:
        return card_refused(request, channel, error)
    except DomainError as error:
        if isinstance(error, TooManyReports):
            logger.info("web reports throttled for card %s", short_token(token))
        status = {TooManyReports: 429, SubmissionUnderWay: 409}.get(type(error), 400)
        return await _summary_again(
            request, channel, token=token, draft_id=draft_id, notice=error.message, status=status
        )
    if not confirmed.submitted.duplicate:
        logger.info("web report submitted as case %s", confirmed.submitted.case.id)
    return _done(request, channel, confirmed)


def _see_other(url: str) -> web.Response:
    """After a form: the next page by GET (a reload does not send the form again)."""
    return web.Response(status=303, headers={"Location": url})


async def _summary_again(
    request: web.Request,
    channel: WebChannel,
    *,
    token: str,
    draft_id: str,
    notice: str,
    status: int,
) -> web.Response:
    try:
        async with channel.sessions() as session:
            report = await get_web_report(
                session,
                config=channel.config,
                token=token,
                session_key=current_session(request).key,
                draft_id=draft_id,
                now=channel.clock.now(),
            )
    except StaleForm:
        return _stale(request, channel, token)
    except CardRefused as error:
        return card_refused(request, channel, error)
    return _step_page(
        request,
        channel,
        report,
        SUMMARY,
        values=_draft_values(report),
        notice=notice,
        status=status,
    )


def _done(request: web.Request, channel: WebChannel, confirmed: WebSubmitted) -> web.Response:
    submitted = confirmed.submitted
    return page_response(
        request,
        channel,
        "report_done",
        unit=confirmed.issuing_unit,
        number=submitted.case.number,
        accept_due=submitted.accept_due_at,
        accept_provisional=submitted.accept_provisional,
        receipt_code=submitted.receipt_code,
        duplicate=submitted.duplicate,
        renewed=submitted.renewed,
        track_url=str(request.app.router[f"{ROUTE_PREFIX}track"].url_for()),
    )
