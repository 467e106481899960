"""/report from a leader (委领导): the current month's analysis report as a PDF. For everyone else
``/report`` stays the reporter's 反映问题 (handlers/intake.py), so this router comes first and
takes the command only from a leader, checked in the database."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import FSInputFile, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import LiankaConfig
from bot.services.reports import get_leader, get_month_report
from bot.settings import Settings
from models.calendar import WorkCalendar


async def from_leader(message: Message, session: AsyncSession) -> bool:
    return message.from_user is not None and (
        await get_leader(session, message.from_user.id) is not None
    )


async def cmd_report(
    message: Message,
    session: AsyncSession,
    settings: Settings,
    config: LiankaConfig,
    calendar: WorkCalendar,
    clock: Clock,
) -> None:
    assert message.from_user is not None
    document = await get_month_report(
        session,
        message.from_user.id,
        config,
        calendar,
        clock.now(),
        out_dir=settings.var_dir / "reports",
    )
    await message.answer_document(
        FSInputFile(document.path, filename=document.path.name), caption=document.caption
    )


def setup() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_report, Command("report"), from_leader)
    return router
