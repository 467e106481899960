"""The process tests' own hygiene: a failed test leaves no ``lianka run`` behind it."""

from __future__ import annotations

import asyncio

from tests import live


async def test_a_server_a_failed_test_did_not_stop_is_killed_after_it() -> None:
    process = await asyncio.create_subprocess_exec("sleep", "600")
    live._RUNNING[process.pid] = process  # as LiankaProcess.start registers it
    try:
        assert live.kill_leftovers() == [process.pid]
        async with asyncio.timeout(10):
            assert await process.wait() == -9
        assert live.kill_leftovers() == []
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
