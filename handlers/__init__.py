"""Telegram presentation: routers by journey. A handler parses, calls one use case, renders."""

from __future__ import annotations

from aiogram import Router


def routers() -> list[Router]:
    """Fresh routers for one dispatcher, in the order updates should try them."""
    # Imported here: handler modules import use cases, which import notifications.keyboards,
    # which imports handlers.callbacks (and so this package) — a cycle at module level.
    from handlers import errors, followup, intake, my_cases, start

    return [
        errors.setup(),
        start.setup(),
        my_cases.setup(),
        followup.setup(),
        intake.setup(),  # after the commands: its steps take any text
        start.setup_fallback(),  # keep last: what no journey claimed
    ]
