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
import threading
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

from click.testing import CliRunner

from models import keys

_LOCK = threading.Lock()


def run_in_process(
    args: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``lianka *args`` in ``cwd`` with exactly ``env`` as its LIANKA_* settings (every other
    LIANKA_* of this process is hidden), as a finished process: exit code, stdout, stderr.

    It runs on a thread of its own, so that a command's ``asyncio.run`` works when called from an
    async test (the test waits for it, as it waited for ``subprocess.run``)."""
    from bot.cli import main

    hidden: dict[str, str | None] = {k: None for k in os.environ if k.startswith("LIANKA_")}
    overrides = {**hidden, **env}
    outcome: dict[str, subprocess.CompletedProcess[str]] = {}

    def invoke() -> None:
        runner = CliRunner()
        result = runner.invoke(main, list(args), input=stdin, env=overrides, prog_name="lianka")
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            stderr += "".join(traceback.format_exception(result.exception))
        outcome["done"] = subprocess.CompletedProcess(
            ["lianka", *args], result.exit_code, result.stdout, stderr
        )

    with _LOCK, _kept_process_state(cwd):
        thread = threading.Thread(target=invoke, name="lianka-in-process")
        thread.start()
        thread.join()
    return outcome["done"]


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
        os.chdir(self.cwd)

    def __exit__(self, *_exc: object) -> None:
        os.chdir(self.before)
        keys._current, keys._why_not = self.keyring, self.why_not
        root = logging.getLogger()
        for handler in root.handlers:
            if handler not in self.handlers:
                root.removeHandler(handler)
        root.setLevel(self.level)
