"""The console's 核验 in a process of its own.

The check is the process's own CPU work for minutes at a province's million cases (hashes of
every event). Made in the process that serves the bot and the pages, it slowed every page and
update while it ran, even giving the event loop a turn every few cases: 20,000 demo cases, the
审计 page read meanwhile took 0.75 s at the median. So 开始核验 starts ``python -m
bot.audit_worker RUN_ID [ANCHOR_FILE]``, which makes ``run_audit`` (progress and result into
the run's row) on the other core, and the serving process only waits for it to end.

The child opens the database the console uses and works with this process's keys (the URL and
the keys in the child's environment, which is as private as this one's, never on its command
line, which ``ps`` shows). When the serving process stops, it stops the child and closes the
run as interrupted; a child that dies is seen at once, its run closed as failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from datetime import datetime
from pathlib import Path

from bot.clock import Clock, SystemClock
from bot.db import SessionFactory, create_engine, create_session_factory
from bot.keys import install_from_settings, keyring_environment
from bot.services.audit_runs import close_audit_run, run_audit
from bot.settings import Settings, configure_logging
from models import keys
from models.audit_run import AuditRunState

logger = logging.getLogger(__name__)

DATABASE_ENV = "LIANKA_AUDIT_RUN_DATABASE_URL"
STOP_WAIT_S = 5.0
"""How long a child told to stop (SIGTERM) may take before it is killed."""


async def run_audit_in_child(
    sessions: SessionFactory,
    run_id: int,
    *,
    database_url: str,
    anchor_file: Path | None,
    clock: Clock,
) -> None:
    """Run ``run_id``'s check in a child process and wait for it. Cancelled (the serving
    process stopping), the child is stopped and the run closed as interrupted; a child that
    ends without closing its run (killed, or failing to start) has it closed as failed."""
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.audit_worker",
            str(run_id),
            str(anchor_file or ""),
            stdin=asyncio.subprocess.DEVNULL,
            env={**os.environ, **keyring_environment(keys.current()), DATABASE_ENV: database_url},
        )
    except OSError:  # no process to be had (a limit reached): the run fails now, not in minutes
        logger.exception("audit run %s: its process could not be started", run_id)
        await close_audit_run(sessions, run_id, AuditRunState.ERROR, clock.now())
        return
    try:
        code = await child.wait()
    except asyncio.CancelledError:
        await asyncio.shield(_stop(child, sessions, run_id, clock.now()))
        raise
    if code != 0:
        logger.error("audit run %s: its process ended with %s", run_id, code)
    await close_audit_run(sessions, run_id, AuditRunState.ERROR, clock.now())


async def _stop(
    child: asyncio.subprocess.Process, sessions: SessionFactory, run_id: int, now: datetime
) -> None:
    with contextlib.suppress(ProcessLookupError):
        child.terminate()
    try:
        await asyncio.wait_for(child.wait(), STOP_WAIT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            child.kill()
        await child.wait()
    await close_audit_run(sessions, run_id, AuditRunState.INTERRUPTED, now)


async def _run(database_url: str, run_id: int, anchor_file: Path | None) -> None:
    engine = create_engine(database_url)
    try:
        sessions = create_session_factory(engine)
        await run_audit(sessions, run_id, clock=SystemClock(), anchor_file=anchor_file)
    finally:
        await engine.dispose()


def main(argv: list[str]) -> int:
    """``python -m bot.audit_worker RUN_ID [ANCHOR_FILE]``."""
    import models  # noqa: F401  (registers every table)

    settings = Settings()
    configure_logging(settings)
    install_from_settings(settings)
    run_id = int(argv[0])
    anchor_file = Path(argv[1]) if len(argv) > 1 and argv[1] else None
    database_url = os.environ.pop(DATABASE_ENV, None) or settings.database_url
    asyncio.run(_run(database_url, run_id, anchor_file))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
