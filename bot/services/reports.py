"""Delivering the analysis report: on schedule to every leader through the outbox, and on demand.

Scheduler (issue 6) — register, in Asia/Shanghai, with ``config.reports.weekly`` and
``config.reports.monthly`` switching them:

- weekly:  ``CronTrigger(day_of_week="mon", hour=9, minute=0)``  (cron ``0 9 * * 1``) →
  ``send_periodic_report(sessions, config, calendar, now, last_week(now))``
- monthly: ``CronTrigger(day="1-10", hour=9, minute=0)``  (cron ``0 9 1-10 * *``) →
  ``send_due_reports(...)``, which sends last month's report only on the month's first working
  day (after 元旦 or 国庆 that can be the 4th or the 8th).

Or a single daily ``0 9 * * *`` job calling ``send_due_reports``, which covers both. Re-running a
job is harmless: each (period, leader) is queued once.
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


def report_key(period: Period, leader: Inspector) -> str:
    return notification_key("report", stage=period.key, recipient=f"i{leader.id}")


async def _write_pdf(report: Report, out_dir: Path) -> Path:
    from reports.pdf import render_pdf

    path = out_dir / f"{report.file_stem}.pdf"
    return await asyncio.to_thread(render_pdf, report, path)


@dataclass(frozen=True, slots=True)
class ReportDelivery:
    """The report to one leader in one chat, queued once under ``key``."""

    leader: Inspector
    chat_id: int
    key: str


def report_notice(report: Report) -> Notice:
    """The caption of a report's document: its title, period and headline figures."""
    figures = report.figures
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
            "on_time_rate": figures.on_time_rate,
            "amount_coordinated_yuan": figures.amount_coordinated_yuan,
            "clues": figures.clues,
            "overdue_count": figures.overdue_count,
        },
    )


async def _queue_report(
    session: AsyncSession,
    report: Report,
    deliveries: list[ReportDelivery],
    now: datetime,
    out_dir: Path,
) -> int:
    """Render the report's PDF into ``out_dir`` and queue it, with its caption, as a document
    to each delivery, once per key; returns how many were queued. The PDF's bytes go into the
    database with the rows, so whichever instance sends them has the file."""
    path = await _write_pdf(report, out_dir)
    document_id = await store_document(session, path.name, path.read_bytes(), now)
    caption = report_notice(report)
    queued = 0
    for delivery in deliveries:
        queued += await enqueue(
            session,
            key=delivery.key,
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
    """Queue the period's report (its PDF rendered into ``out_dir``) to every active leader,
    once per period and leader; returns how many were queued."""
    async with sessions() as session:
        leaders = await list_leaders(session)
        keys = {leader.id: report_key(period, leader) for leader in leaders}
        sent = set(
            (
                await session.exec(
                    select(Notification.key).where(col(Notification.key).in_(list(keys.values())))
                )
            ).all()
        )
        waiting = [leader for leader in leaders if keys[leader.id] not in sent]
        if not waiting:
            logger.info("report %s: nothing to queue (%s leaders)", period.key, len(leaders))
            return 0
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
            deliveries.append(ReportDelivery(leader, leader.chat_id, keys[leader.id]))
        queued = await _queue_report(session, report, deliveries, now, out_dir)
        await session.commit()
    logger.info("report %s queued for %s leaders", period.key, queued)
    return queued


async def send_due_reports(
    sessions: SessionFactory,
    *,
    policy: Policy,
    now: datetime,
    out_dir: Path = DEFAULT_OUT_DIR,
) -> int:
    """Send the reports due today: last week's on Mondays, last month's on the month's first
    working day, each as the configuration allows."""
    queued = 0
    for period in due_periods(
        policy.calendar,
        now,
        weekly=policy.config.reports.weekly,
        monthly=policy.config.reports.monthly,
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
    """The current month's report (up to today) as a PDF, for a leader only, queued to the chat
    they asked in, once per request (``request_id``: their message), the way the scheduled
    reports go: the sender delivers it and tries again after a failure."""
    leader = await get_leader(session, telegram_user_id)
    if leader is None:
        raise PermissionDenied(
            "分析研判报告仅向委领导提供。", detail="report refused: not a leader"
        )
    report = await build_report(
        session,
        config=policy.config,
        calendar=policy.calendar,
        period=current_month(now),
        scope=Scope(),
        now=now,
        with_cases=False,
    )
    key = notification_key(
        "report", stage=f"asked-{chat_id}-{request_id}", recipient=f"i{leader.id}"
    )
    await _queue_report(session, report, [ReportDelivery(leader, chat_id, key)], now, out_dir)
    await session.commit()
