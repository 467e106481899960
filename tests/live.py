"""The real path in tests: ``lianka run`` as a separate process against the Bot API emulator."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

LIANKA = str(Path(sys.executable).with_name("lianka"))
WEBHOOK_SECRET = "e2e-webhook-secret-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def base_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without any LIANKA_* of the developer's, plus ``extra``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIANKA_")}
    environment.update(extra)
    return environment


async def lianka(*args: str, cwd: Path, env: Mapping[str, str]) -> tuple[int, str]:
    """Run a ``lianka`` command to the end; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        LIANKA,
        *args,
        cwd=cwd,
        env=base_environment(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


@dataclass
class LiankaProcess:
    """One ``lianka run`` process, with its HTTP port (/healthz, /metrics, the webhook)."""

    workdir: Path
    env: dict[str, str]
    args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, *, within: float = 60.0) -> None:
        """Start and wait until /healthz answers."""
        self.log = self.workdir / f"lianka-{self.port}.log"
        handle = self.log.open("ab")
        self.process = await asyncio.create_subprocess_exec(
            LIANKA,
            "run",
            "--port",
            str(self.port),
            *self.args,
            cwd=self.workdir,
            env=base_environment(self.env),
            stdout=handle,
            stderr=handle,
        )
        handle.close()
        deadline = asyncio.get_running_loop().time() + within
        async with aiohttp.ClientSession() as client:
            while True:
                if self.process.returncode is not None:
                    raise AssertionError(f"lianka run exited early:\n{self.output()}")
                try:
                    async with client.get(f"{self.url}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"lianka run did not become healthy:\n{self.output()}")
                await asyncio.sleep(0.2)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log else ""

    async def stop(self, sig: signal.Signals = signal.SIGTERM, *, within: float = 60.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        async with asyncio.timeout(within):
            return await self.process.wait()

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as client, client.get(self.url + path) as response:
            return response.status, await response.text()
