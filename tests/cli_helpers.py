"""``lianka`` commands run inside the test process: the same ``bot.cli.main`` the console script
calls, with the process's environment, working directory and stdin, but without starting a Python
(about 2 s of CPU per command for the imports on this machine, most of a CLI test's time).

What a separate process would keep to itself is put back afterwards: the environment, the working
directory, the process's keys (a command installs the keys it reads) and the root logger. An
exception a command does not handle is printed to stderr with its traceback and exits 1, as the
interpreter does. The tests where the process itself matters (start-up time, signals, the console
script) start a real one (``tests.test_cli.lianka(..., process=True)``, ``tests/test_cli_startup.py``,
``tests/test_run_process.py``).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from click.testing import CliRunner

from models import keys

_LOCK = threading.Lock()
_THREAD = "lianka-in-process"
JOIN_TIMEOUT_S = 100.0
"""How long a command may run (pytest-timeout stops a test at 120 s): a command still running
after it fails its test, and every later one at once, since it still holds the process's
streams and environment."""
_stuck: list[str] = []


def run_in_process(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``lianka *args`` in ``cwd`` with exactly ``env`` as its LIANKA_* settings (every other
    LIANKA_* of this process is hidden), as a finished process: exit code, stdout, stderr.

    It runs on a thread of its own, so that a command's ``asyncio.run`` works when called from an
    async test (the test waits for it, as it waited for ``subprocess.run``)."""
    from bot.cli import main

    outcome: dict[str, subprocess.CompletedProcess[str]] = {}

    def invoke(overrides: Mapping[str, str | None]) -> None:
        runner = CliRunner()
        result = runner.invoke(main, list(args), input=stdin, env=overrides, prog_name="lianka")
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(result.exception))
        outcome["done"] = subprocess.CompletedProcess(
            ["lianka", *args], result.exit_code, result.stdout, stderr
        )

    with _LOCK, _kept_process_state(cwd):
        if _stuck:
            raise AssertionError(f"an earlier in-process lianka {_stuck[0]} is still running")
        hidden: dict[str, str | None] = {k: None for k in os.environ if k.startswith("LIANKA_")}
        overrides = {**hidden, **env}
        thread = threading.Thread(target=invoke, args=(overrides,), name=_THREAD, daemon=True)
        thread.start()
        thread.join(JOIN_TIMEOUT_S)
        if thread.is_alive():
            _stuck.append(" ".join(args))
            raise AssertionError(f"lianka {' '.join(args)} still running after {JOIN_TIMEOUT_S} s")
    return outcome["done"]


class _LastResort(logging.Handler):
    """What a command logs at WARNING or above goes to its stderr while it has set up no logging
    of its own, as Python's last resort prints it in a process (here the root logger has
    pytest's handlers, so the last resort would never print)."""

    def __init__(self, before: list[logging.Handler]) -> None:
        super().__init__(logging.WARNING)
        self.before = before

    def emit(self, record: logging.LogRecord) -> None:
        root = logging.getLogger()
        if record.threadName != _THREAD or any(
            h is not self and h not in self.before for h in root.handlers
        ):
            return
        try:
            sys.stderr.write(self.format(record) + "\n")  # the command's, swapped by CliRunner
        except Exception:
            self.handleError(record)


class _kept_process_state:
    """The working directory ``cwd`` for the command; afterwards the directory, the keys and the
    root logger as they were."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd

    def __enter__(self) -> None:
        self.before = Path.cwd()
        self.keyring = keys._current
        self.why_not = keys._why_not
        root = logging.getLogger()
        self.handlers, self.level = list(root.handlers), root.level
        self.last_resort = _LastResort(self.handlers)
        root.addHandler(self.last_resort)
        os.chdir(self.cwd)

    def __exit__(self, *_exc: object) -> None:
        os.chdir(self.before)
        keys._current, keys._why_not = self.keyring, self.why_not
        root = logging.getLogger()
        for handler in list(root.handlers):
            if handler not in self.handlers:
                root.removeHandler(handler)
        for handler in self.handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(self.level)
