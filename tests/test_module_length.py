"""Modules a newcomer can read in one sitting: none of reenact's is over MAX_LINES lines unless its
docstring says why, in a paragraph that starts with REASON (one concept that does not split
well, say). Split a module that outgrows the limit by job; write the reason only where the length
is one job."""

from __future__ import annotations

import ast
from pathlib import Path

import reenact

PACKAGE = Path(reenact.__file__).parent
MAX_LINES = 400
REASON = "Why this module is long:"


def test_long_modules_say_why() -> None:
    unexplained = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > MAX_LINES and REASON not in (ast.get_docstring(ast.parse(text)) or ""):
            unexplained[str(path.relative_to(PACKAGE.parent))] = lines
    assert not unexplained, (f"modules over {MAX_LINES} lines without a {REASON!r} paragraph in "
                             f"their docstring (split them by job, or say why not): {unexplained}")
