"""/report from a leader (委领导): the current month's analysis report as a PDF, sent through the
outbox like the scheduled ones, so a failed upload is tried again rather than lost. For everyone
else ``/report`` stays the reporter's 反映问题 (handlers/intake.py), so this router comes first and
takes the command only from a leader, checked in the database."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.policy import Policy
from bot.services.reports import get_leader, send_month_report
from bot.settings import Settings
from handlers.actor import with_actor
from notifications.render import render


async def from_leader(message: Message, session: AsyncSession) -> bool:
    return message.from_user is not None and (
        await get_leader(session, message.from_user.id) is not None
    )


async def cmd_report(
    message: Message,
    *,
    session: AsyncSession,
    settings: Settings,
    policy: Policy,
    clock: Clock,
) -> None:
    assert message.from_user is not None
    await send_month_report(
        session,
        message.from_user.id,
        policy=policy,
        now=clock.now(),
        chat_id=message.chat.id,
        request_id=message.message_id,
        out_dir=settings.var_dir / "reports",
    )
    await message.answer(render("staff_report_sent"))


def setup() -> Router:
    router = with_actor(Router(name=__name__))
    router.message.register(cmd_report, Command("report"), from_leader)
    return router
