"""Errors s2sad raises, and the source locations they point at.

Every error about the user's code is an :class:`S2SADError`: it carries
``filename``, ``lineno`` and ``col_offset`` and prints like a compiler
diagnostic — the location, the source line with a caret under the construct,
what is not supported, why, and what to write instead.  A broken internal
invariant is an :class:`InternalError`, which says that it is a bug.
"""

from __future__ import annotations

import linecache
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Loc:
    """A position in the user's source: 1-based line, 0-based columns."""

    filename: str
    lineno: int
    col_offset: int = 0
    end_col_offset: int | None = None
    line: str | None = None  # the text of that source line, for the caret display

    def text(self) -> str | None:
        if self.line is not None:
            return self.line
        got = linecache.getline(self.filename, self.lineno)
        return got.rstrip("\n") if got else None

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}:{self.col_offset + 1}"


class S2SADError(Exception):
    """An error about the user's code, located at the offending construct."""

    kind = "error"

    def __init__(
        self,
        what: str,
        loc: Loc | None = None,
        *,
        why: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.what = what
        self.loc = loc
        self.why = why
        self.hint = hint
        self.filename = loc.filename if loc else None
        self.lineno = loc.lineno if loc else None
        self.col_offset = loc.col_offset if loc else None
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.loc}: {self.kind}: {self.what}" if self.loc else f"{self.kind}: {self.what}"
        lines = [head]
        text = self.loc.text() if self.loc else None
        if text is not None:
            col = self.loc.col_offset
            end = self.loc.end_col_offset
            width = max(1, (end - col) if end is not None and end > col else 1)
            width = min(width, max(1, len(text) - col))
            lines.append("    " + text)
            lines.append("    " + " " * col + "^" * width)
        if self.why:
            lines.append(f"  why: {self.why}")
        if self.hint:
            lines.append(f"  instead: {self.hint}")
        return "\n".join(lines)


class UnsupportedError(S2SADError):
    """A Python construct s2sad does not differentiate (yet)."""


class NameResolutionError(S2SADError):
    """A name or callee that cannot be resolved statically."""


class DifferentiationError(S2SADError):
    """A request that has no derivative, e.g. ``grad`` of a tuple-valued function."""


class InternalError(Exception):
    """A broken invariant inside s2sad. This is always a bug in s2sad.

    With ``ir`` (an IR function), its textual form is written to a temporary file
    whose path the message gives (``dump_path``), to attach to a bug report.
    """

    def __init__(self, message: str, ir: Any = None) -> None:
        self.message = message
        self.dump_path = _dump(ir) if ir is not None else None
        text = f"internal error in s2sad (this is a bug, please report it): {message}"
        if self.dump_path:
            text += f"\n  the IR being compiled was written to {self.dump_path}"
        super().__init__(text)


def _dump(ir: Any) -> str | None:
    """Write ``ir``'s textual form to a new temporary file; its path (``None`` if that
    fails: an error report must not raise an error of its own)."""
    import tempfile

    from .ir.printer import format_function

    try:
        text = format_function(ir)
        fd, path = tempfile.mkstemp(prefix="s2sad-ir-", suffix=".txt")
        with open(fd, "w", encoding="utf-8") as out:
            out.write(text)
        return path
    except Exception:  # noqa: BLE001 - best effort
        return None
