"""The real path in tests: ``lianka run`` as a separate process against the Bot API emulator."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.clock import SystemClock
from bot.config import load_config
from bot.db import create_engine, create_session_factory
from bot.sandboxed import default_people, seed_sandbox
from sandbox import Emulator
from sandbox.personas import DEMO_CARD_TOKEN
from tests.cli_helpers import run_in_process

LIANKA = str(Path(sys.executable).with_name("lianka"))
BOT_TOKEN = "5555:e2e-process-test-token"
BOT_USERNAME = "LiankaE2EBot"
REFUND = "经开区承诺的土地出让金返还和建筑物配套费至今未到位，企业资金链断裂，请帮助协调。"
REPORTER, INSPECTOR, TEAM_LEADER = 7100001, 7100002, 7100003
STEP_WITHIN = 45.0  # seconds for one reply on a loaded 2-core machine
WEBHOOK_SECRET = "e2e-webhook-secret-0123456789"

_RUNNING: dict[int, asyncio.subprocess.Process] = {}
"""Every ``lianka run`` started here and not yet seen to exit, by pid."""


def kill_leftovers() -> list[int]:
    """Kill every ``lianka run`` a test started and did not stop (a test that failed before its
    ``stop``): the pids killed. Called after each test (conftest), so a failure cannot leave a
    server running on the machine for the rest of the session."""
    killed = []
    for pid, process in list(_RUNNING.items()):
        if process.returncode is None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                continue
            killed.append(pid)
    _RUNNING.clear()
    return killed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The tests' keys, fixed so that a failure reproduces; every `lianka` process a test starts has
# them (what `lianka init` writes to .env on a real host), and so has the test process itself.
TEST_KEYS = {
    "LIANKA_DATA_KEY": "dGVzdC1kYXRhLWtleS1mb3ItbGlhbmthLXRlc3RzLTE",
    "LIANKA_AUDIT_KEY": "dGVzdC1hdWRpdC1rZXktZm9yLWxpYW5rYS10ZXN0LTE",
}


def base_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The test process's environment without any LIANKA_* of the developer's, with the tests'
    keys, plus ``extra``."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LIANKA_")}
    environment.update(TEST_KEYS)
    environment.update(extra)
    return environment


async def lianka(
    *args: str, cwd: Path, env: Mapping[str, str], process: bool = False
) -> tuple[int, str]:
    """Run a ``lianka`` command to the end; its exit code and output (stdout, then stderr). It
    runs inside the test process on a thread (``tests.cli_helpers``: no Python start-up, and the
    emulator and the running servers keep being served meanwhile); ``process`` starts the
    installed console script instead (its output is then interleaved as written)."""
    if not process:
        done = await asyncio.to_thread(run_in_process, args, cwd=cwd, env={**TEST_KEYS, **env})
        return done.returncode, done.stdout + done.stderr
    started = await asyncio.create_subprocess_exec(
        LIANKA,
        *args,
        cwd=cwd,
        env=base_environment(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await started.communicate()
    return started.returncode or 0, output.decode()


async def wait_healthy(
    url: str,
    process: asyncio.subprocess.Process,
    output: Callable[[], str],
    *,
    within: float = 60.0,
) -> None:
    """Wait until the ``lianka`` process serving ``url`` answers /healthz, for up to ``within``
    seconds (its start-up is mostly imports: some 12 s on a slow machine alone, 30 s and more
    beside a full test run); an error with its ``output`` if it exits or does not answer."""
    deadline = asyncio.get_running_loop().time() + within
    async with aiohttp.ClientSession() as client:
        while True:
            if process.returncode is not None:
                raise AssertionError(f"lianka exited early:\n{output()}")
            try:
                async with client.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"lianka did not become healthy in {within} s:\n{output()}")
            await asyncio.sleep(0.2)


@dataclass(frozen=True)
class WebProcess:
    """A ``lianka web`` process: where it listens, and what it writes (stdout and stderr)."""

    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@asynccontextmanager
async def lianka_web(
    cwd: Path, env: Mapping[str, str] | None = None, *, log: str = "web.log"
) -> AsyncIterator[WebProcess]:
    """``lianka web`` started in ``cwd`` (with ``env`` added to the test environment) on a free
    port, once it answers /healthz; stopped with SIGTERM at the end, which must end it cleanly."""
    web = WebProcess(free_port(), cwd / log)
    with web.log.open("wb") as handle:
        process = await asyncio.create_subprocess_exec(
            LIANKA, "web", "--host", "127.0.0.1", "--port", str(web.port),
            cwd=cwd, env=base_environment(env or {}), stdout=handle, stderr=handle,
        )  # fmt: skip
    try:
        await wait_healthy(web.url, process, web.output)
        yield web
    finally:
        process.terminate()  # SIGTERM
        await process.wait()
    assert process.returncode == 0, web.output()


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
        _RUNNING[self.process.pid] = self.process
        try:
            await self._healthy(within)
        except BaseException:
            # Given up on (or the test cancelled): the process is killed and reaped here, in
            # its own event loop, so it cannot outlive the test and be found still running by
            # a later test's garbage collection (a ResourceWarning that fails that test).
            if self.process.returncode is None:
                self.process.kill()
            await self.process.wait()
            _RUNNING.pop(self.process.pid, None)
            raise

    async def _healthy(self, within: float) -> None:
        assert self.process is not None
        await wait_healthy(self.url, self.process, self.output, within=within)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log else ""

    async def stop(self, sig: signal.Signals = signal.SIGTERM, *, within: float = 60.0) -> int:
        """Send ``sig`` and wait for the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(sig)
        async with asyncio.timeout(within):
            code = await self.process.wait()
        _RUNNING.pop(self.process.pid, None)
        return code

    async def get(self, path: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as client, client.get(self.url + path) as response:
            return response.status, await response.text()


_PREPARED: dict[str, Path] = {}  # this worker's prepared SQLite installation, made once


async def _install(folder: Path, env: Mapping[str, str]) -> None:
    """``lianka init`` in ``folder`` and the sandbox's people and demo card in its database."""
    code, output = await lianka("init", cwd=folder, env=env)
    assert code == 0, output
    engine = create_engine(env["LIANKA_DATABASE_URL"])
    try:
        async with create_session_factory(engine)() as session:
            await seed_sandbox(
                session,
                load_config(folder / "lianka.toml"),
                default_people(),
                SystemClock().now(),
            )
    finally:
        await engine.dispose()


async def prepared(tmp_path: Path, emulator: Emulator, **extra: str) -> dict[str, str]:
    """A working directory with the example config, a database, and a demo card. On SQLite the
    installation is made once per test worker and copied (``lianka init`` is a process and its
    migrations; the copy is the same files); another database is installed in place."""
    env = {
        **TEST_KEYS,
        "LIANKA_BOT_TOKEN": BOT_TOKEN,
        "LIANKA_BOT_USERNAME": BOT_USERNAME,
        "LIANKA_TELEGRAM_API_BASE": emulator.base_url,
        "LIANKA_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'lianka.db'}",
        **extra,
    }
    if "LIANKA_DATABASE_URL" in extra:
        await _install(tmp_path, env)
    else:
        if "sqlite" not in _PREPARED:
            folder = Path(tempfile.mkdtemp(prefix="lianka-prepared-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            database = f"sqlite+aiosqlite:///{folder / 'lianka.db'}"
            await _install(folder, {**env, "LIANKA_DATABASE_URL": database})
            _PREPARED["sqlite"] = folder
        for name in ("lianka.toml", "lianka.db"):
            shutil.copyfile(_PREPARED["sqlite"] / name, tmp_path / name)
    for user_id in (INSPECTOR, TEAM_LEADER):  # registered people: their chats are open
        emulator.add_user(user_id, "监督员").chat.started = True
    return env


async def report(
    emulator: Emulator,
    user_id: int = REPORTER,
    *,
    category: str = "营商环境",
    description: str = REFUND,
) -> str:
    """A reporter scans the demo card and submits an anonymous report; the bot's last words."""
    user = emulator.add_user(user_id, "王立新")
    user.start(DEMO_CARD_TOKEN)
    await user.wait_reply("廉政监督联系卡", within=STEP_WITHIN)
    user.click("反映问题")
    await user.wait_reply("请选择您要反映的问题类别", within=STEP_WITHIN)
    user.click(category)
    await user.wait_reply("请用文字描述", within=STEP_WITHIN)
    user.send(description)
    await user.wait_reply("请上传相关材料", within=STEP_WITHIN)
    user.click("完成")
    await user.wait_reply("金额", within=STEP_WITHIN)
    user.click("跳过")
    await user.wait_reply("请选择反映方式", within=STEP_WITHIN)
    user.click("匿名")
    await user.wait_reply("请核对", within=STEP_WITHIN)
    user.click("确认提交")
    submitted = await user.wait_reply("提交成功", within=STEP_WITHIN)
    return submitted.text
