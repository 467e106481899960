"""Delivering the analysis report: on schedule to every leader through the outbox, and on demand.

The scheduler's daily 09:00 job (bot/scheduler.py, on while any of ``config.reports.weekly``,
``monthly``, ``quarterly`` or ``half_yearly`` is on) calls ``send_due_reports``: last week's
report on Mondays; on the first working day of a month (after 元旦 or 国庆 that can be the 4th
or the 8th) last month's, and in January, April, July and October last quarter's, and in January
and July last half-year's. Each leader gets the files of ``config.reports.files`` (PDF and Word).
Re-running a job is harmless: each (period, file, leader) is queued once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.db import SessionFactory
from bot.services.policy import Policy
from models.errors import PermissionDenied
from models.notification import Notice, Notification, Recipient, SendMethod
from models.team import Inspector, Role
from notifications.outbox import enqueue, notification_key, reachable, store_document
from reports.figures import Scope
from reports.periods import Period, current_month, due_periods
from reports.render import pct, wan
from reports.report import Report, build_report

logger = logging.getLogger(__name__)

DEFAULT_OUT_DIR = Path("var/reports")


async def list_leaders(session: AsyncSession) -> list[Inspector]:
    """Active leaders (委领导) registered in Telegram: the report goes to their chat as a
    document (a leader with no Telegram reads it on the console's 报表 page)."""
    return [leader for leader in await reachable(session, Role.LEADER) if leader.chat_id]


async def get_leader(session: AsyncSession, telegram_user_id: int) -> Inspector | None:
    """The active leader (委领导) with this Telegram account, if any."""
    person = (
        await session.exec(select(Inspector).where(Inspector.telegram_user_id == telegram_user_id))
    ).first()
    if person is None or not person.active or person.role is not Role.LEADER:
        return None
    return person


def report_key(period: Period, leader: Inspector, fmt: str = "pdf") -> str:
    """The PDF keeps the key it always had; another file adds its format to the stage."""
    return _key(period.key, leader, fmt)


def _key(stage: str, leader: Inspector, fmt: str) -> str:
    return notification_key(
        "report", stage=stage if fmt == "pdf" else f"{stage}-{fmt}", recipient=f"i{leader.id}"
    )


def _write(report: Report, fmt: str, out_dir: Path) -> Path:
    from reports.outputs import Format, write_report

    return write_report(report, [Format(fmt)], out_dir)[Format(fmt)]


@dataclass(frozen=True, slots=True)
class ReportDelivery:
    """The report to one leader in one chat, each file queued once under its key (from
    ``stage``)."""

    leader: Inspector
    chat_id: int
    stage: str


def report_notice(report: Report) -> Notice:
    """The caption of a report's document: its title, period and headline figures, the rate
    and the amount written as the report writes them (``pct``, ``wan``), so the caption and
    the file agree to the last digit; None where the report has nothing to tell."""
    figures = report.figures
    rate = figures.on_time_rate
    coordinated = figures.amount_coordinated_yuan
    return Notice.of(
        "report_document",
        report={
            "title": report.title,
            "period": {"label": report.period.label, "span": report.period.span},
            "now": report.now,
        },
        f={
            "received": figures.received,
            "resolved": figures.resolved,
            "on_time": pct(rate) if rate is not None else None,
            "coordinated_wan": wan(coordinated) if coordinated else None,
            "clues": figures.clues,
            "overdue_count": figures.overdue_count,
        },
    )


async def _queue_report(
    session: AsyncSession,
    report: Report,
    deliveries: list[ReportDelivery],
    *,
    files: tuple[str, ...],
    now: datetime,
    out_dir: Path,
) -> int:
    """Render each of ``files`` (pdf, docx) into ``out_dir`` and queue it, with its caption, as a
    document to each delivery, once per key; returns how many were queued. The file's bytes go
    into the database with the rows, so whichever instance sends them has the file."""
    caption = report_notice(report)
    queued = 0
    for fmt in files:
        path = await asyncio.to_thread(_write, report, fmt, out_dir)
        document_id = await store_document(session, path.name, path.read_bytes(), now)
        for delivery in deliveries:
            queued += await enqueue(
                session,
                key=_key(delivery.stage, delivery.leader, fmt),
                kind="report",
                to=Recipient.inspector(delivery.leader).in_chat(delivery.chat_id),
                notice=caption,
                now=now,
                method=SendMethod.DOCUMENT,
                document_id=document_id,
            )
    return queued


async def send_periodic_report(
    sessions: SessionFactory,
    *,
    policy: Policy,
    now: datetime,
    period: Period,
    out_dir: Path = DEFAULT_OUT_DIR,
) -> int:
    """Queue the period's report (its files rendered into ``out_dir``) to every active leader,
    once per period, file and leader; returns how many were queued."""
    files = policy.config.reports.files
    async with sessions() as session:
        leaders = await list_leaders(session)
        keys = {
            (leader.id, fmt): report_key(period, leader, fmt) for leader in leaders for fmt in files
        }
        sent = set(
            (
                await session.exec(
                    select(Notification.key).where(col(Notification.key).in_(list(keys.values())))
                )
            ).all()
        )
        waiting = [
            leader for leader in leaders if any(keys[leader.id, fmt] not in sent for fmt in files)
        ]
        if not waiting:
            logger.info("report %s: nothing to queue (%s leaders)", period.key, len(leaders))
            return 0
        await session.commit()  # read only: its connection goes back while the report reads
        report = await build_report(
            session,
            config=policy.config,
            calendar=policy.calendar,
            period=period,
            scope=Scope(),
            now=now,
            with_cases=False,
        )
        deliveries = []
        for leader in waiting:
            assert leader.chat_id is not None
            deliveries.append(ReportDelivery(leader, leader.chat_id, period.key))
        queued = await _queue_report(
            session, report, deliveries, files=files, now=now, out_dir=out_dir
        )
        await session.commit()
    logger.info("report %s: %s files queued", period.key, queued)
    return queued


async def send_due_reports(
    sessions: SessionFactory,
    *,
    policy: Policy,
    now: datetime,
    out_dir: Path = DEFAULT_OUT_DIR,
) -> int:
    """Send the reports due today: last week's on Mondays; last month's, quarter's and
    half-year's on the first working day after them; each as the configuration allows."""
    switches = policy.config.reports
    queued = 0
    for period in due_periods(
        policy.calendar,
        now,
        weekly=switches.weekly,
        monthly=switches.monthly,
        quarterly=switches.quarterly,
        half_yearly=switches.half_yearly,
    ):
        queued += await send_periodic_report(
            sessions, policy=policy, now=now, period=period, out_dir=out_dir
        )
    return queued


async def send_month_report(
    session: AsyncSession,
    telegram_user_id: int,
    *,
    policy: Policy,
    now: datetime,
    chat_id: int,
    request_id: int,
    out_dir: Path = DEFAULT_OUT_DIR,
) -> None:
    """The current month's report (up to today) as a PDF to read on the phone (the scheduled
    reports bring the Word file too), for a leader only, queued to the chat they asked in, once
    per request (``request_id``: their message), the way the scheduled reports go: the sender
    delivers it and tries again after a failure."""
    leader = await get_leader(session, telegram_user_id)
    if leader is None:
        raise PermissionDenied(
            "分析研判报告仅向委领导提供。", detail="report refused: not a leader"
        )
    await session.commit()  # read only: its connection goes back while the report reads
    report = await build_report(
        session,
        config=policy.config,
        calendar=policy.calendar,
        period=current_month(now),
        scope=Scope(),
        now=now,
        with_cases=False,
    )
    delivery = ReportDelivery(leader, chat_id, f"asked-{chat_id}-{request_id}")
    await _queue_report(session, report, [delivery], files=("pdf",), now=now, out_dir=out_dir)
    await session.commit()
