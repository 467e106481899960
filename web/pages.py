"""The reporter's pages: a card's landing page, and the places the web report and the tracking
page will take (they say so plainly and offer the chat and the hotlines meanwhile)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from markupsafe import Markup

from bot.services.reporters import (
    CardRefused,
    TooManyAttempts,
    admit_web_client,
    scan_card_on_web,
)
from cards.tokens import card_link
from web.context import CHANNEL, ROUTE_PREFIX, WebChannel, client_address
from web.render import render_page

logger = logging.getLogger(__name__)

HTML = "text/html"


@dataclass(frozen=True, slots=True)
class Chrome:
    """What the frame of every page shows: the commission, its hotlines, the assets' addresses."""

    organisation: str
    hotline: str
    national_hotline: str
    css_url: str
    icon_url: str


def _chrome(request: web.Request, channel: WebChannel) -> Chrome:
    static = request.app.router[f"{ROUTE_PREFIX}static"]
    organisation = channel.config.organisation
    return Chrome(
        organisation=organisation.name,
        hotline=organisation.hotline,
        national_hotline=organisation.national_hotline,
        css_url=str(static.url_for(filename="site.css")),
        icon_url=str(static.url_for(filename="icon.svg")),
    )


def page_response(
    request: web.Request, channel: WebChannel, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    body = render_page(template, page=_chrome(request, channel), **context)
    return html_response(body.encode("utf-8"), status=status)


def html_response(body: bytes, *, status: int = 200) -> web.Response:
    """A page's bytes as the answer (the middlewares add the security headers)."""
    return web.Response(body=body, status=status, content_type=HTML, charset="utf-8")


def _client(request: web.Request, channel: WebChannel) -> str:
    """The address the guard counts failures against (behind ``LIANKA_TRUSTED_PROXIES``, the
    client's as the proxy forwarded it)."""
    return client_address(request, channel.trusted_proxies)


def short_token(token: str) -> str:
    """Enough of a token to tell log lines apart, never enough to open the card."""
    return token[:6] + "…"


def notice_response(
    request: web.Request,
    channel: WebChannel,
    *,
    title: str,
    lines: list[str] | list[Markup],
    status: int = 200,
    telegram_url: str | None = None,
    refused: bool = False,
    links: list[tuple[str, str]] | None = None,
) -> web.Response:
    """A page that says one thing (``lines``), with ``links`` (label, address) to go on."""
    return page_response(
        request,
        channel,
        "notice",
        status=status,
        title=title,
        lines=lines,
        telegram_url=telegram_url,
        refused=refused,
        links=links or [],
    )


def card_refused(request: web.Request, channel: WebChannel, error: CardRefused) -> web.Response:
    """An unknown or revoked card: the bot's words, with the hotlines."""
    # The refusal is rendered by the bot's own template, autoescaped: it is HTML already.
    return notice_response(
        request,
        channel,
        title="无法打开此联系卡",
        lines=Markup(error.message).splitlines(),  # noqa: S704 (escaped by its template)
        status=404,
        refused=True,
    )


def too_many_attempts(
    request: web.Request, channel: WebChannel, error: TooManyAttempts
) -> web.Response:
    """Too many unknown card tokens from one address."""
    return notice_response(
        request, channel, title="请稍后再试", lines=[error.message], status=429, refused=True
    )


async def landing(request: web.Request) -> web.Response:
    """``/c/<token>``: the card opened in a browser. Counted as a scan; an unknown or revoked
    card gets the bot's words; guessing from one address is stopped. A known card's page is kept
    for a few seconds (``channel.landings``) and served again from memory, its scan still
    counted; the guard's verdict for the address comes first every time."""
    channel = request.app[CHANNEL]
    token = request.match_info["token"]
    client = _client(request, channel)
    now = channel.clock.now()
    try:
        admit_web_client(channel.guard, client=client, now=now)
        kept = channel.landings.get(token, now)
        if kept is not None:
            channel.scans.record(kept.landing.card_id, now)
            return html_response(kept.body)
        async with channel.sessions() as session:
            card = await scan_card_on_web(
                session,
                channel.guard,
                channel.scans,
                limiter=channel.limiter,
                config=channel.config,
                token=token,
                client=client,
                now=now,
            )
    except CardRefused as error:
        logger.info("web card scan refused (%s): %s", error.detail, short_token(token))
        return card_refused(request, channel, error)
    except TooManyAttempts as error:
        logger.info("web card scan throttled: %s", short_token(token))
        return too_many_attempts(request, channel, error)
    body = render_page(
        "landing",
        page=_chrome(request, channel),
        landing=card,
        privacy=channel.config.organisation.privacy_notice,
        report_url=str(request.app.router[f"{ROUTE_PREFIX}report"].url_for(token=card.token)),
        telegram_url=card_link(channel.bot_username, card.token),
        track_url=str(request.app.router[f"{ROUTE_PREFIX}track"].url_for()),
    ).encode("utf-8")
    # Nothing on the page is this request's own (no session, no form token): kept whole.
    channel.landings.put(card, body, now)
    return html_response(body)


async def home(request: web.Request) -> web.Response:
    """``/``: someone who came without a card is asked to scan theirs."""
    channel = request.app[CHANNEL]
    return notice_response(
        request,
        channel,
        title="请扫描联系卡",
        lines=["请用手机扫描贵企业廉政监督联系卡上的二维码，反映问题或查询进展。"],
    )


def not_found(request: web.Request, channel: WebChannel) -> web.Response:
    """Any unknown address: a plain Chinese page with the hotlines."""
    return notice_response(
        request,
        channel,
        title="页面不存在",
        lines=["您访问的页面不存在。请扫描联系卡上的二维码，或拨打下方电话。"],
        status=404,
    )
