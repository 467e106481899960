"""/report: the current month's analysis report for leaders (委领导), as a PDF."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import FSInputFile, Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import LiankaConfig
from bot.services.reports import get_month_report
from bot.settings import Settings
from models.calendar import WorkCalendar


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
    router.message.register(cmd_report, Command("report"))
    return router
