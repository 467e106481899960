"""The house's counted rules (STYLE.md, issue 13), checked in ``make lint``: no function outside
tests with more than 5 positional parameters (keyword-only after the subjects), no handler
function over 30 lines, no file in bot/services/ over 600 lines. Prints each breach; exits 1 if
there is any."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIPPED = {".venv", "tests", "migrations", "node_modules", "var"}
MAX_POSITIONAL, MAX_HANDLER_LINES, MAX_SERVICE_LINES = 5, 30, 600


def breaches(root: Path) -> list[str]:
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] in SKIPPED or relative.parts[0].startswith("."):
            continue
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            positional = [
                a.arg
                for a in (*node.args.posonlyargs, *node.args.args)
                if a.arg not in ("self", "cls")
            ]
            if len(positional) > MAX_POSITIONAL:
                found.append(f"{relative}:{node.lineno} {node.name}: {len(positional)} positional")
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if relative.parts[0] == "handlers" and length > MAX_HANDLER_LINES:
                found.append(f"{relative}:{node.lineno} {node.name}: {length} lines")
        if relative.parts[:2] == ("bot", "services"):
            lines = len(source.splitlines())
            if lines > MAX_SERVICE_LINES:
                found.append(f"{relative}: {lines} lines")
    return found


if __name__ == "__main__":
    problems = breaches(ROOT)
    print("\n".join(problems) if problems else "house rules: kept")
    sys.exit(1 if problems else 0)
