"""Telegram presentation: routers by journey. A handler parses, calls one use case, renders."""

from __future__ import annotations

from aiogram import Router

from handlers import errors, reports


def routers() -> list[Router]:
    """Fresh routers for one dispatcher, in the order updates should try them."""
    return [errors.setup(), reports.setup()]
