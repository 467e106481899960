"""``lianka cards``: issue, import, list, print, revoke and reissue contact cards (廉政监督联系卡).

Only click is imported at start; the database, the PDF library and Pillow come in with the command
that needs them (``cards list`` never loads fpdf2 or aiogram).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.cli.common import CliContext, fail, json_option, pass_context, print_json, print_table

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence
    from datetime import datetime

    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.config import LiankaConfig
    from bot.services.cards import CardListing, ImportReport, IssuedCard
    from cards.csvfile import CsvRow, RowProblem

T = TypeVar("T")


def _run(cli: CliContext, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """Run one use case in a session; a refused action exits 1 with its Chinese message."""
    from bot.cli.common import run_with_db
    from bot.db import SessionFactory
    from models.errors import DomainError

    async def runner(sessions: SessionFactory) -> T:
        async with sessions() as session:
            return await work(session)

    try:
        return run_with_db(cli.settings, runner)
    except DomainError as error:
        fail(error.message, code=1)


def _now() -> datetime:
    from bot.clock import SystemClock

    return SystemClock().now()


def _link(cli: CliContext, token: str) -> str:
    from cards.tokens import printed_card_link

    settings = cli.settings
    return printed_card_link(
        token, bot_username=settings.bot_username, public_url=settings.public_url
    )


def _issued_json(cli: CliContext, item: IssuedCard) -> dict[str, Any]:
    return {
        "id": item.card.id,
        "line": item.line or None,
        "enterprise_id": item.enterprise.id,
        "enterprise": item.enterprise.name,
        "enterprise_created": item.enterprise_created,
        "zone": item.zone.code if item.zone else None,
        "issuing_unit": item.card.issuing_unit,
        "token": item.card.token,
        "link": _link(cli, item.card.token),
    }


@click.group("cards")
def cards_group() -> None:
    """Issue, import, list, print, revoke and reissue contact cards (廉政监督联系卡)."""


@cards_group.command("issue")
@click.option("--enterprise", "name", required=True, help="企业名称 (the enterprise's name).")
@click.option("--uscc", help="统一社会信用代码 (18 characters, checked).")
@click.option("--zone", help="园区: code or Chinese name (default: the config's default_zone).")
@click.option("--legal-rep", help="法定代表人.")
@click.option("--extra", is_flag=True, help="Issue even if the enterprise holds an active card.")
@json_option
@pass_context
def cards_issue(
    cli: CliContext,
    *,
    name: str,
    uscc: str | None,
    zone: str | None,
    legal_rep: str | None,
    extra: bool,
    as_json: bool,
) -> None:
    """Issue one card; the enterprise is found (by USCC, else name and zone) or created.

    Exit 1 if the enterprise already holds an active card (use reissue, or --extra) or the input
    is invalid.
    """
    from bot.services.cards import issue_card

    config = cli.config()
    item = _run(
        cli,
        lambda session: issue_card(
            session,
            config,
            _now(),
            name=name,
            uscc=uscc,
            zone=zone,
            legal_rep=legal_rep,
            extra=extra,
        ),
    )
    data = _issued_json(cli, item)
    if as_json:
        print_json(data)
        return
    created = "（新建企业）" if item.enterprise_created else ""
    click.echo(f"已发卡：联系卡 {data['id']}")
    click.echo(f"企业：{data['enterprise']}{created}")
    click.echo(f"发卡单位：{data['issuing_unit']}")
    click.echo(f"令牌：{data['token']}")
    click.echo(f"链接：{data['link']}")


@cards_group.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--extra-cards",
    is_flag=True,
    help="Also issue a card to enterprises that already hold an active one.",
)
@json_option
@pass_context
def cards_import(cli: CliContext, file: Path, extra_cards: bool, as_json: bool) -> None:
    """Issue cards to every enterprise in FILE (CSV, UTF-8 or GBK).

    Headers: 企业名称, 统一社会信用代码, 园区, 法定代表人 (or name, uscc, zone, legal_rep);
    园区 is a zone's code or Chinese name, empty means the config's default_zone. Enterprises
    already known (same USCC, or same name in the same zone) are reused, and one that holds an
    active card gets no second one unless --extra-cards. Bad rows are reported with their line
    and skipped; the good rows still get cards, as one print batch.

    \b
    Exit status:
      0  every row was imported or already had a card
      1  some rows failed (they are listed with their line numbers)
      2  the file or the configuration could not be read
    """
    from cards.csvfile import CsvFileError, read_enterprise_list

    try:
        parsed = read_enterprise_list(file.read_bytes())
    except CsvFileError as error:
        fail(f"{file}: {error}", code=2)
    config = cli.config()
    report = _import_with_progress(
        cli, config=config, rows=parsed.rows, note=file.name, extra_cards=extra_cards, quiet=as_json
    )
    failed = sorted(parsed.problems + report.problems, key=lambda problem: problem.line)
    if as_json:
        print_json(
            {
                "file": str(file),
                "encoding": parsed.encoding,
                "batch_id": report.batch_id,
                "issued": [_issued_json(cli, item) for item in report.issued],
                "already_carded": [
                    {"line": item.line, "enterprise": item.enterprise.name, "card_id": item.card.id}
                    for item in report.already_carded
                ],
                "failed": [{"line": p.line, "error": p.message} for p in failed],
            }
        )
    else:
        _print_import_summary(report, failed)
    if failed:
        raise SystemExit(1)


def _import_with_progress(
    cli: CliContext,
    *,
    config: LiankaConfig,
    rows: Sequence[CsvRow],
    note: str,
    extra_cards: bool,
    quiet: bool,
) -> ImportReport:
    from bot.services.cards import import_cards

    if quiet or not rows:
        return _run(
            cli,
            lambda session: import_cards(
                session, config, _now(), rows, note=note, extra_cards=extra_cards
            ),
        )
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    ) as progress:
        task = progress.add_task("发卡中", total=len(rows))
        return _run(
            cli,
            lambda session: import_cards(
                session,
                config,
                _now(),
                rows,
                note=note,
                extra_cards=extra_cards,
                on_progress=lambda done: progress.advance(task, done),
            ),
        )


def _print_import_summary(report: ImportReport, failed: list[RowProblem]) -> None:
    click.echo(
        f"已发卡 {len(report.issued)} 张（新建企业 {report.enterprises_created} 家）；"
        f"已有有效联系卡而未重复发卡 {len(report.already_carded)} 家；"
        f"失败 {len(failed)} 行。"
    )
    if report.batch_id is not None:
        click.echo(
            f"批次 {report.batch_id}：打印请用 "
            f"lianka cards print --batch {report.batch_id} --out cards.pdf"
        )
    if report.already_carded:
        click.echo("如确需为已有联系卡的企业增发，请加 --extra-cards 重新导入。")
    if failed:
        print_table("未导入的行", ["行号", "原因"], [(p.line, p.message) for p in failed])


@cards_group.command("list")
@click.option("--zone", help="Only this zone (code or Chinese name).")
@click.option(
    "--status", type=click.Choice(["active", "revoked"]), help="Only active or revoked cards."
)
@json_option
@pass_context
def cards_list(cli: CliContext, zone: str | None, status: str | None, as_json: bool) -> None:
    """List cards: id, enterprise, zone, status, link, scans and last scan."""
    from bot.services.cards import list_cards
    from models.card import CardStatus

    listing: list[CardListing] = _run(
        cli,
        lambda session: list_cards(
            session, zone=zone, status=CardStatus(status) if status else None
        ),
    )
    if as_json:
        print_json(
            [
                {
                    "id": item.card.id,
                    "enterprise": item.enterprise,
                    "zone": item.zone_code,
                    "status": item.card.status.value,
                    "link": _link(cli, item.card.token),
                    "scans": item.card.scan_count,
                    "last_scan": item.card.last_scan_at.isoformat()
                    if item.card.last_scan_at
                    else None,
                    "printed": item.card.printed_count,
                    "batch_id": item.card.batch_id,
                    "replaced_by": item.card.replaced_by_id,
                }
                for item in listing
            ]
        )
        return
    from models.calendar import SHANGHAI

    print_table(
        f"联系卡 {len(listing)} 张",
        ["编号", "企业", "园区", "状态", "扫码", "最近扫码", "打印", "链接"],
        [
            (
                item.card.id,
                item.enterprise,
                item.zone_name or "",
                item.card.status.label,
                item.card.scan_count,
                item.card.last_scan_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
                if item.card.last_scan_at
                else "",
                item.card.printed_count,
                _link(cli, item.card.token),
            )
            for item in listing
        ],
    )


@cards_group.command("print")
@click.option("--all", "everything", is_flag=True, help="Every active card.")
@click.option("--batch", "batch_id", type=int, help="The active cards of one import batch.")
@click.option("--card", "card_ids", type=int, multiple=True, help="A card by id (repeatable).")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write an A4 PDF: 10 cards (90×54 mm) a page, with crop marks.",
)
@click.option(
    "--png",
    "png_dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write one PNG per card (300 dpi) into this folder.",
)
@click.option("--back", is_flag=True, help="Add a back page per sheet with the promises (duplex).")
@pass_context
def cards_print(
    cli: CliContext,
    *,
    everything: bool,
    batch_id: int | None,
    card_ids: tuple[int, ...],
    out: Path | None,
    png_dir: Path | None,
    back: bool,
) -> None:
    """Print cards to a PDF (--out) and/or PNGs (--png); choose --all, --batch ID or --card ID.

    A revoked card asked for by --card refuses the print (exit 1); --batch leaves revoked cards
    out and names them. Each printed card's print count goes up by one.
    """
    if sum((everything, batch_id is not None, bool(card_ids))) != 1:
        raise click.UsageError("choose exactly one of --all, --batch ID, --card ID")
    if out is None and png_dir is None:
        raise click.UsageError("give --out FILE.pdf and/or --png DIR")
    if back and out is None:
        raise click.UsageError("--back is for the PDF (--out)")
    from bot.services.cards import (
        PrintSelection,
        card_faces,
        mark_printed,
        select_cards_for_print,
    )
    from cards.fonts import CjkFontMissing, find_cjk_font
    from cards.layout import PER_PAGE, CardBack
    from cards.printing import PngRenderer, render_pdf

    config = cli.config()
    org = config.organisation
    selection: PrintSelection = _run(
        cli,
        lambda session: select_cards_for_print(
            session, everything=everything, batch_id=batch_id, card_ids=card_ids
        ),
    )
    if selection.skipped_revoked:
        click.echo(
            f"已作废的联系卡不打印：{'、'.join(str(i) for i in selection.skipped_revoked)}",
            err=True,
        )
    if not selection.cards:
        fail("没有可打印的联系卡。", code=1)
    faces = card_faces(selection, org, lambda token: _link(cli, token))
    try:
        font = find_cjk_font()
    except CjkFontMissing as error:
        fail(str(error), code=2)
    if out is not None:
        back_side = (
            CardBack(org.name, org.promises, org.hotline, org.national_hotline) if back else None
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(render_pdf(faces, back=back_side, font=font))
        pages = -(-len(faces) // PER_PAGE) * (2 if back else 1)
        click.echo(f"已生成 {out}：{len(faces)} 张联系卡，{pages} 页 A4")
    if png_dir is not None:
        png_dir.mkdir(parents=True, exist_ok=True)
        renderer = PngRenderer(font)
        for item, face in zip(selection.cards, faces, strict=True):
            (png_dir / f"card-{item.card.id}.png").write_bytes(renderer.render(face))
        click.echo(f"已生成 {len(faces)} 张 PNG：{png_dir}")
    printed = [item.card.id for item in selection.cards if item.card.id is not None]
    _run(cli, lambda session: mark_printed(session, printed))


@cards_group.command("revoke")
@click.argument("card_id", type=int)
@json_option
@pass_context
def cards_revoke(cli: CliContext, card_id: int, as_json: bool) -> None:
    """Revoke card CARD_ID: its QR code no longer opens the bot for that enterprise."""
    from bot.services.cards import revoke_card

    card = _run(cli, lambda session: revoke_card(session, card_id, _now()))
    if as_json:
        print_json({"id": card.id, "status": card.status.value, "revoked_at": card.revoked_at})
        return
    click.echo(f"联系卡 {card.id} 已作废。")


@cards_group.command("reissue")
@click.argument("card_id", type=int)
@json_option
@pass_context
def cards_reissue(cli: CliContext, card_id: int, as_json: bool) -> None:
    """Replace card CARD_ID (lost or leaked): a new card with a new token; the old one is revoked."""
    from bot.services.cards import reissue_card

    result = _run(cli, lambda session: reissue_card(session, card_id, _now()))
    link = _link(cli, result.new.token)
    if as_json:
        print_json(
            {
                "old_id": result.old.id,
                "id": result.new.id,
                "enterprise": result.enterprise.name,
                "token": result.new.token,
                "link": link,
            }
        )
        return
    click.echo(f"联系卡 {result.old.id} 已作废，补发联系卡 {result.new.id}")
    click.echo(f"企业：{result.enterprise.name}")
    click.echo(f"令牌：{result.new.token}")
    click.echo(f"链接：{link}")
    click.echo(f"打印：lianka cards print --card {result.new.id} --out card-{result.new.id}.pdf")
