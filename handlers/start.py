"""Opening the bot: a card's link (``/start c_…``), a plain /start, /help, /cancel, 联系我们."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import BotCommand, CallbackQuery, Message, ReplyKeyboardRemove
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock
from bot.config import LiankaConfig
from bot.services.reporters import AttemptGuard, Welcome, greet_reporter, open_card
from handlers import aftercare, clue, followup, relay  # noqa: F401  (their side steps registered)
from handlers.flow import side_step
from handlers.intake import INTAKE_STATES
from handlers.states import Intake
from notifications import telegram as kb
from notifications.render import render
from notifications.telegram import Menu, MenuAct

REPLY_KEYBOARD_STATES = frozenset({Intake.contact.state, Intake.name.state, Intake.phone.state})


def bot_commands() -> list[BotCommand]:
    """The command menu of private chats, in Chinese."""
    return [
        BotCommand(command="start", description="首页"),
        BotCommand(command="report", description="反映问题"),
        BotCommand(command="my", description="我的问题"),
        BotCommand(command="track", description="凭回执码查询进展"),
        BotCommand(command="help", description="使用帮助"),
        BotCommand(command="cancel", description="取消当前操作"),
    ]


async def _greet(
    message: Message, welcome: Welcome, state: FSMContext, config: LiankaConfig
) -> None:
    text = render(
        "reporter_welcome",
        issuing_unit=welcome.issuing_unit,
        enterprise=welcome.enterprise,
        privacy=config.organisation.privacy_notice,
        pending=await state.get_state() in INTAKE_STATES,
    )
    await message.answer(text, reply_markup=kb.menu_keyboard())


async def cmd_start_card(
    message: Message,
    *,
    command: CommandObject,
    state: FSMContext,
    session: AsyncSession,
    config: LiankaConfig,
    clock: Clock,
    attempts: AttemptGuard,
) -> None:
    """A scanned card (or any start parameter nobody else claims, refused as an unknown card)."""
    assert message.from_user is not None
    welcome = await open_card(
        session,
        attempts,
        config=config,
        token=command.args or "",
        telegram_user_id=message.from_user.id,
        chat_id=message.chat.id,
        now=clock.now(),
    )
    if welcome is not None:
        await _greet(message, welcome, state, config)


async def cmd_start(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    config: LiankaConfig,
    clock: Clock,
) -> None:
    assert message.from_user is not None
    welcome = await greet_reporter(
        session,
        config,
        telegram_user_id=message.from_user.id,
        chat_id=message.chat.id,
        now=clock.now(),
    )
    if welcome is not None:
        await _greet(message, welcome, state, config)
        return
    organisation = config.organisation
    text = render(
        "reporter_scan_card",
        organisation=organisation.name,
        hotline=organisation.hotline,
        national_hotline=organisation.national_hotline,
    )
    await message.answer(text, reply_markup=kb.stranger_keyboard())


async def cmd_help(message: Message, config: LiankaConfig) -> None:
    organisation = config.organisation
    text = render(
        "reporter_help",
        hotline=organisation.hotline,
        national_hotline=organisation.national_hotline,
    )
    await message.answer(text, reply_markup=kb.menu_keyboard())


async def cmd_cancel(message: Message, state: FSMContext) -> None:
    """/cancel in any step: the draft is cleared and the person told so; in a side step (回复,
    不满意's reason, 回访's details, 异议) only that step ends, back where the person was."""
    current = await state.get_state()
    step = side_step(current)
    if step is not None:
        await step.leave(state)
        resumed = await state.get_state() in INTAKE_STATES
        await message.answer(render(step.cancelled, resumed=resumed))
        return
    await state.clear()
    if current is None:
        await message.answer(
            render("reply_reporter_nothing_to_cancel"), reply_markup=kb.menu_keyboard()
        )
        return
    text = render("reply_reporter_cancelled", intake=current in INTAKE_STATES)
    if current in REPLY_KEYBOARD_STATES:
        await message.answer(text, reply_markup=ReplyKeyboardRemove())
        await message.answer(render("reply_reporter_start_again"), reply_markup=kb.menu_keyboard())
        return
    await message.answer(text, reply_markup=kb.menu_keyboard())


async def on_menu_contact(query: CallbackQuery, bot: Bot, config: LiankaConfig) -> None:
    organisation = config.organisation
    text = render(
        "reporter_contact",
        organisation=organisation.name,
        hotline=organisation.hotline,
        national_hotline=organisation.national_hotline,
        address=organisation.address,
    )
    chat_id = query.message.chat.id if query.message else query.from_user.id
    await bot.send_message(chat_id, text, reply_markup=kb.menu_keyboard())
    await query.answer()


async def on_anything_else(message: Message) -> None:
    await message.answer(render("reply_reporter_use_buttons"), reply_markup=kb.menu_keyboard())


def setup() -> Router:
    router = Router(name=__name__)
    router.message.filter(F.chat.type == "private")
    router.message.register(
        cmd_start_card, CommandStart(deep_link=True, magic=F.args.startswith("c_"))
    )
    router.message.register(cmd_start, CommandStart(deep_link=False))
    router.message.register(cmd_help, Command("help"))
    router.message.register(cmd_cancel, Command("cancel"))
    router.callback_query.register(on_menu_contact, Menu.filter(F.act == MenuAct.CONTACT))
    return router


def setup_fallback() -> Router:
    """Last of all routers: start parameters nobody claimed (refused as unknown cards), and a
    hint for a message outside any conversation step. Commands pass by, for routers after it."""
    router = Router(name=f"{__name__}.fallback")
    router.message.filter(F.chat.type == "private")
    router.message.register(
        cmd_start_card, CommandStart(deep_link=True, magic=~F.args.startswith("i_"))
    )
    router.message.register(on_anything_else, StateFilter(None), ~F.text.startswith("/"))
    return router
