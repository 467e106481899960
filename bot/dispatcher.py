"""The dispatcher factory: the production dispatcher, built fresh for every process and every test."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage

import handlers
from bot.blobs import BlobStore, create_blob_store
from bot.clock import Clock, SystemClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.metrics import Metrics
from bot.middlewares import (
    CalendarMiddleware,
    DbSessionMiddleware,
    ThrottlingMiddleware,
    UnclaimedButtonMiddleware,
    UpdateDeduplication,
    UpdateTracker,
)
from bot.services.calendar import CalendarCache
from bot.services.reporters import AttemptGuard
from bot.settings import Settings
from bot.storage import DeferredStorage, SqlStorage
from handlers.intake import on_submit_delivered_again
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
            defer_fsm=isinstance(storage, SqlStorage),
            held=storage if isinstance(storage, DeferredStorage) else None,
        )
    )
    dispatcher.update.outer_middleware(CalendarMiddleware(CalendarCache(config, calendar)))
    for router in handlers.routers():
        dispatcher.include_router(router)
    return dispatcher
