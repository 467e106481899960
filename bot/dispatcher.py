"""The dispatcher factory: the production dispatcher, built fresh for every process and every test."""

from __future__ import annotations

from typing import Any

from aiogram import Dispatcher, Router
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

import handlers
from bot.blobs import BlobStore, create_blob_store
from bot.clock import Clock, SystemClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.gates import gate_messages
from bot.metrics import Metrics
from bot.middlewares import (
    CalendarMiddleware,
    DbSessionMiddleware,
    PrivateChatsOnly,
    ThrottlingMiddleware,
    UnclaimedButtonMiddleware,
    UpdateDeduplication,
    UpdateTracker,
)
from bot.services.calendar import CalendarCache
from bot.services.reporters import AttemptGuard
from bot.settings import Settings
from bot.storage import DeferredStorage, SqlStorage
from handlers.intake import is_submit_press, on_submit_delivered_again
from models.calendar import WorkCalendar


def create_dispatcher(
    *,
    settings: Settings,
    config: LiankaConfig,
    sessions: SessionFactory,
    calendar: WorkCalendar,
    storage: BaseStorage | None = None,
    events_isolation: BaseEventIsolation | None = None,
    clock: Clock | None = None,
    throttling: ThrottlingMiddleware | None = None,
    metrics: Metrics | None = None,
    blobs: BlobStore | None = None,
) -> Dispatcher:
    """Wire routers, middlewares and the long-lived objects handlers receive by name.
    ``lianka run`` passes a ``throttling`` middleware; tests whose clock stands still leave it out
    unless flooding is what they test."""
    storage = storage or MemoryStorage()
    dispatcher = Dispatcher(
        storage=storage,
        events_isolation=events_isolation,
        disable_fsm=True,  # registered below, inside the update's session
        name="lianka",
    )
    dispatcher["settings"] = settings
    dispatcher["config"] = config
    dispatcher["sessions"] = sessions
    dispatcher["blobs"] = blobs or create_blob_store(settings, sessions)
    dispatcher["clock"] = clock or SystemClock()
    dispatcher["attempts"] = AttemptGuard()
    dispatcher["metrics"] = metrics = metrics or Metrics()
    dispatcher["update_tracker"] = tracker = UpdateTracker(metrics)
    dispatcher.update.outer_middleware(tracker)
    dispatcher.update.outer_middleware(PrivateChatsOnly())
    dispatcher.update.outer_middleware(UnclaimedButtonMiddleware())
    if throttling is not None:
        dispatcher.update.outer_middleware(throttling)
    dispatcher.update.outer_middleware(DbSessionMiddleware(sessions))
    # aiogram's FSM middleware (the person's lock, then the state read) inside the session, so
    # that the state is read through it, and once; the lock still comes before the update's
    # record is looked up (UpdateDeduplication), as a delivery again must wait for the first
    dispatcher.update.outer_middleware(dispatcher.fsm)
    dispatcher.update.outer_middleware(
        UpdateDeduplication(
            resume=on_submit_delivered_again,
            resumes=is_submit_press,
            defer_fsm=isinstance(storage, SqlStorage),
            held=storage if isinstance(storage, DeferredStorage) else None,
        )
    )
    dispatcher.update.outer_middleware(CalendarMiddleware(CalendarCache(config, calendar)))
    for router in handlers.routers():
        dispatcher.include_router(router)
    gate_messages(dispatcher)  # first: it reads the handlers' filters as they were registered
    inline_sync_filters(dispatcher)
    return dispatcher


def _inline(filter_object: FilterObject) -> None:
    """``filter_object`` called in the event loop: a plain function (``F`` filters, lambdas) is
    otherwise run by aiogram in a worker thread, two thread switches for a dictionary look-up."""
    if filter_object.awaitable:
        return
    check = filter_object.callback

    async def inline(*args: Any, **kwargs: Any) -> Any:
        return check(*args, **kwargs)

    filter_object.callback = inline
    filter_object.awaitable = True


def inline_sync_filters(router: Router) -> None:
    """Every synchronous filter of ``router`` and the routers under it run in the event loop
    (``_inline``). Filters are pure checks of the update (``F.chat.type == "private"``): nothing
    in them blocks."""
    for each in router.chain_tail:
        for observer in each.observers.values():
            for handler in (observer._handler, *observer.handlers):
                for filter_object in handler.filters or ():
                    _inline(filter_object)
