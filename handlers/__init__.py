"""Telegram presentation: routers by journey. A handler parses, calls one use case, renders."""

from __future__ import annotations

from aiogram import Router

from handlers import errors, intake, my_cases, start


def routers() -> list[Router]:
    """Fresh routers for one dispatcher, in the order updates should try them."""
    return [
        errors.setup(),
        start.setup(),
        my_cases.setup(),
        intake.setup(),  # after the commands: its steps take any text
        start.setup_fallback(),  # keep last: what no journey claimed
    ]
