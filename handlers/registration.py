"""Registration: the invite link ``/start i_<code>`` binds this Telegram account to a person.

Its router goes before the reporters' ``/start``, which only claims card payloads and bare /start.
"""

from __future__ import annotations

import logging
from collections import defaultdict, deque
from datetime import datetime, timedelta

from aiogram import Bot, F, Router
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from aiogram.filters import CommandObject, CommandStart, Filter
from aiogram.fsm.context import FSMContext
from aiogram.types import BotCommand, BotCommandScopeChat, Message, User
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.services.inspectors import INVITE_PREFIX, bind_invite
from handlers.flow import flow_ends
from models.team import Role
from notifications.render import render

logger = logging.getLogger(__name__)

COMMANDS = {
    Role.INSPECTOR: [("queue", "我承办的问题"), ("case", "查看问题：/case 编号")],
    Role.TEAM_LEADER: [("queue", "本组待办问题"), ("case", "查看问题：/case 编号")],
    Role.LEADER: [
        ("queue", "全部待办问题"),
        ("stats", "统计"),
        ("case", "查看问题：/case 编号"),
        ("supervise", "督办：/supervise 编号 工作日数"),
        ("report", "本月分析研判报告"),
    ],
    Role.ADMIN: [
        ("queue", "全部待办问题"),
        ("stats", "统计"),
        ("case", "查看问题：/case 编号"),
        ("reroute", "改变承办组：/reroute 编号"),
        ("inspectors", "人员列表"),
    ],
}


class TooManyInvites(Filter):
    """True once one Telegram account has opened more than ``limit`` invite links within
    ``window`` (in this process): codes cannot be guessed, and this stops anyone trying."""

    def __init__(self, limit: int = 5, window: timedelta = timedelta(hours=1)) -> None:
        self._limit = limit
        self._window = window
        self._attempts: dict[int, deque[datetime]] = defaultdict(deque)

    async def __call__(self, message: Message, event_from_user: User, clock: Clock) -> bool:
        now = clock.now()
        attempts = self._attempts[event_from_user.id]
        while attempts and attempts[0] <= now - self._window:
            attempts.popleft()
        if len(attempts) >= self._limit:
            return True
        attempts.append(now)
        return False


async def on_too_many_invites(message: Message) -> None:
    logger.warning("invite links refused: too many attempts from one account")
    await message.answer(render("staff_too_many_invites"))


async def cmd_start_invite(
    message: Message,
    *,
    event_from_user: User,
    command: CommandObject,
    session: AsyncSession,
    state: FSMContext,
    bot: Bot,
    clock: Clock,
) -> None:
    async with flow_ends(state):  # a draft in progress ends with the registration
        registered = await bind_invite(
            session,
            code=(command.args or "").removeprefix(INVITE_PREFIX),
            telegram_user_id=event_from_user.id,
            chat_id=message.chat.id,
            display_name=event_from_user.full_name,
            now=clock.now(),
        )
    inspector = registered.inspector
    await message.answer(
        render(
            "inspector_welcome",
            name=inspector.name,
            role=inspector.role.label,
            role_code=inspector.role.value,
            team=registered.team_name,
        )
    )
    await show_role_commands(bot, message.chat.id, inspector.role)


async def show_role_commands(bot: Bot, chat_id: int, role: Role) -> None:
    """The role's command menu in this chat. Only a convenience: the registration is saved and
    answered already, so a failure is logged (no personal data) and the update goes on."""
    try:
        await bot.set_my_commands(
            [BotCommand(command=c, description=d) for c, d in COMMANDS[role]]
            + [BotCommand(command="cancel", description="取消当前操作")],
            scope=BotCommandScopeChat(chat_id=chat_id),
        )
    except (TelegramAPIError, ClientDecodeError) as error:
        logger.warning("could not set the %s command menu: %s", role.value, type(error).__name__)


def setup() -> Router:
    router = Router(name=__name__)
    invite = CommandStart(deep_link=True, magic=F.args.startswith(INVITE_PREFIX))
    private = F.chat.type == "private"
    router.message.register(on_too_many_invites, invite, private, TooManyInvites())
    router.message.register(cmd_start_invite, invite, private)
    return router
