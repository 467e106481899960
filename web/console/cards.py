"""联系卡 in the console: the card list, CSV import (checked before anything is written), the
print file, a card's page, revoke and reissue; for admins (the use cases authorise)."""

from __future__ import annotations

from urllib.parse import urlencode

import qrcode
from aiohttp import web
from markupsafe import Markup
from multidict import MultiMapping
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.svg import SvgPathImage

from bot.services.card_admin import (
    CheckedImport,
    check_card_import,
    confirm_card_import,
    get_card_detail,
    get_print_options,
    list_card_page,
    list_import_zones,
    print_cards,
    reissue_card_by,
    revoke_card_by,
)
from bot.services.cards import CardFilter
from cards.tokens import printed_card_link
from models.calendar import SHANGHAI
from models.card import CardStatus
from models.errors import InvalidInput
from web.console.context import CONSOLE, CONSOLE_PREFIX
from web.console.render import STAFF, console_page, content_disposition, redirect_after

ROOT = "/console/cards"


def qr_svg(data: str) -> Markup:
    """``data`` as an inline SVG QR code (error correction M, as printed; no style attribute,
    so the CSP allows it). Only what the server made goes in: safe to mark up."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=4, image_factory=SvgPathImage)
    code.add_data(data)
    code.make(fit=True)
    svg = code.make_image().to_string(encoding="unicode")
    return Markup(svg.replace("<svg ", '<svg role="img" aria-label="二维码" ', 1))  # noqa: S704


def _int(value: str | None, default: int | None = None) -> int | None:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def _filter(query: MultiMapping[str]) -> CardFilter:
    status = query.get("status", "")
    return CardFilter(
        zone=query.get("zone") or None,
        status=CardStatus(status) if status in {s.value for s in CardStatus} else None,
        unprinted=query.get("unprinted") == "1",
        search=(query.get("q") or "")[:100] or None,
    )


def _query(which: CardFilter, page: int) -> str:
    params = {
        "zone": which.zone or "",
        "status": which.status.value if which.status else "",
        "unprinted": "1" if which.unprinted else "",
        "q": which.search or "",
        "page": str(page),
    }
    return urlencode({k: v for k, v in params.items() if v})


async def cards_list(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    which = _filter(request.query)
    async with console.sessions() as session:
        listing = await list_card_page(
            session, request[STAFF].person, which, page=_int(request.query.get("page"), 1) or 1
        )
    return console_page(
        request,
        "cards",
        title="联系卡",
        listing=listing,
        which=which,
        statuses=list(CardStatus),
        prev_query=_query(which, listing.page - 1),
        next_query=_query(which, listing.page + 1),
    )


async def card_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        detail = await get_card_detail(
            session, request[STAFF].person, int(request.match_info["card_id"])
        )
    link = printed_card_link(
        detail.card.token, bot_username=console.bot_username, public_url=console.public_url
    )
    return console_page(
        request,
        "cards_card",
        title=f"联系卡 {detail.card.id}",
        detail=detail,
        qr=qr_svg(link) if detail.card.status is CardStatus.ACTIVE else None,
    )


CONFIRM_TITLES = {"revoke": "确认作废", "reissue": "确认补发"}


async def card_confirm(request: web.Request) -> web.Response:
    """The second step before revoking or reissuing: neither can be undone."""
    console = request.app[CONSOLE]
    action = request.match_info["action"]
    async with console.sessions() as session:
        detail = await get_card_detail(
            session, request[STAFF].person, int(request.match_info["card_id"])
        )
    return console_page(
        request, "cards_confirm", title=CONFIRM_TITLES[action], detail=detail, action=action
    )


async def card_revoke(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    card_id = int(request.match_info["card_id"])
    async with console.sessions() as session:
        card = await revoke_card_by(session, request[STAFF].person, card_id, console.clock.now())
    raise redirect_after(
        request, f"{ROOT}/{card.id}", notice=f"联系卡 {card.id} 已作废，其二维码不再可用。"
    )


async def card_reissue(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    card_id = int(request.match_info["card_id"])
    async with console.sessions() as session:
        result = await reissue_card_by(session, request[STAFF].person, card_id, console.clock.now())
    raise redirect_after(
        request,
        f"{ROOT}/{result.new.id}",
        notice=f"已补发联系卡 {result.new.id}，原联系卡 {result.old.id} 已作废。请打印新卡。",
    )


async def import_form(request: web.Request) -> web.Response:
    return await _import_page(request, checked=None, error=None)


async def _import_page(
    request: web.Request, *, checked: CheckedImport | None, error: str | None
) -> web.Response:
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        zones = await list_import_zones(session, request[STAFF].person)
    return console_page(
        request,
        "cards_import",
        title="导入联系卡",
        status=400 if error else 200,
        zones=zones,
        checked=checked,
        error=error,
    )


async def _upload(request: web.Request) -> tuple[bytes, str]:
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        return b"", ""
    return upload.file.read(), upload.filename or "import.csv"


async def import_check(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    data, file_name = await _upload(request)
    try:
        async with console.sessions() as session:
            checked = await check_card_import(
                session,
                request[STAFF].person,
                config=console.config,
                blobs=console.blobs,
                data=data,
                file_name=file_name,
                now=console.clock.now(),
            )
    except InvalidInput as error:
        return await _import_page(request, checked=None, error=error.message)
    return await _import_page(request, checked=checked, error=None)


async def import_confirm(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await request.post()
    async with console.sessions() as session:
        done = await confirm_card_import(
            session,
            request[STAFF].person,
            config=console.config,
            blobs=console.blobs,
            key=str(form.get("key", "")),
            only_good=form.get("only_good") == "1",
            now=console.clock.now(),
        )
    report = done.report
    notice = (
        f"已导入“{done.file_name}”：新建企业 {report.enterprises_created} 家，"
        f"发卡 {len(report.issued)} 张；已有有效联系卡而未重复发卡 "
        f"{len(report.already_carded)} 家；未导入 {len(done.problems)} 行。"
    )
    where = f"{ROOT}/print?batch={report.batch_id}" if report.batch_id else ROOT
    raise redirect_after(request, where, notice=notice)


async def print_form(request: web.Request) -> web.Response:
    chosen = CardFilter(zone=request.query.get("zone") or None)
    return await _print_page(request, chosen, _int(request.query.get("batch")))


async def _print_page(
    request: web.Request, chosen: CardFilter, batch: int | None, error: str | None = None
) -> web.Response:
    console = request.app[CONSOLE]
    async with console.sessions() as session:
        options = await get_print_options(session, request[STAFF].person)
    return console_page(
        request,
        "cards_print",
        title="打印联系卡",
        status=400 if error else 200,
        options=options,
        chosen=chosen,
        chosen_batch=batch,
        error=error,
    )


def _attachment(pdf: bytes, name: str) -> web.Response:
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(name, "cards.pdf"),
            "Cache-Control": "no-store",
        },
    )


async def print_download(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await request.post()
    batch = _int(str(form.get("batch", "")))
    zone = str(form.get("zone", "")) or None
    chosen = CardFilter(zone=zone, unprinted=form.get("unprinted") == "1")
    try:
        async with console.sessions() as session:
            printed = await print_cards(
                session,
                request[STAFF].person,
                config=console.config,
                which=chosen,
                batch_id=batch,
                bot_username=console.bot_username,
                public_url=console.public_url,
            )
    except InvalidInput as error:
        return await _print_page(request, chosen, batch, error.message)
    return _attachment(
        printed.pdf, f"联系卡-{console.clock.now().astimezone(SHANGHAI):%Y%m%d-%H%M}.pdf"
    )


def add_routes(router: web.UrlDispatcher) -> None:
    """The 联系卡 pages under ``/console/cards``."""
    p = f"{CONSOLE_PREFIX}cards"
    card = ROOT + r"/{card_id:\d{1,9}}"
    router.add_get(ROOT, cards_list, name=p, allow_head=False)
    router.add_get(f"{ROOT}/import", import_form, name=f"{p}-upload", allow_head=False)
    router.add_post(f"{ROOT}/import", import_check, name=f"{p}-upload-post")
    router.add_post(f"{ROOT}/import/confirm", import_confirm, name=f"{p}-upload-confirm")
    router.add_get(f"{ROOT}/print", print_form, name=f"{p}-print", allow_head=False)
    router.add_post(f"{ROOT}/print", print_download, name=f"{p}-print-post")
    router.add_get(card, card_page, name=f"{p}-card", allow_head=False)
    router.add_get(
        card + "/{action:revoke|reissue}", card_confirm, name=f"{p}-confirm", allow_head=False
    )
    router.add_post(f"{card}/revoke", card_revoke, name=f"{p}-revoke")
    router.add_post(f"{card}/reissue", card_reissue, name=f"{p}-reissue")
