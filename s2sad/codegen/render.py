"""Python ``ast`` → source text, and source text → live functions.

Rendering uses astor's pretty printer where it is at home (Python 3.10 and
3.11) and :func:`ast.unparse` where astor is unavailable or unsuitable (3.12
and later, where importing it emits DeprecationWarnings).  Both parenthesise
correctly (``(-2.0) ** 2``); the tests check that every rendering parses back
to the same tree.
"""

from __future__ import annotations

import ast
import sys
from typing import Any


def _astor():
    if sys.version_info >= (3, 12):
        return None
    try:
        import astor
    except ImportError:  # pragma: no cover - astor is a dependency
        return None
    return astor


def render(tree: ast.AST) -> str:
    astor = _astor()
    if astor is not None:
        # No line splitting: astor's wrapping breaks lines at odd places; code
        # generation keeps statements short instead.
        return astor.to_source(tree, pretty_source="".join)
    if isinstance(tree, ast.Module):  # PEP 8 spacing, which ast.unparse does not write
        parts: list[str] = []
        previous: ast.stmt | None = None
        for stmt in tree.body:
            if previous is not None:
                apart = isinstance(stmt, ast.FunctionDef) or isinstance(previous, ast.FunctionDef)
                parts.append("\n\n\n" if apart else "\n")
            parts.append(ast.unparse(stmt))
            previous = stmt
        return "".join(parts) + "\n"
    return ast.unparse(tree) + "\n"


def load(source: str, name: str, filename: str = "<s2sad>",
         env: dict[str, Any] | None = None) -> Any:
    """Execute generated module ``source`` in a fresh namespace (holding ``env``, names
    the module reads but does not define) and return ``name`` from it."""
    namespace: dict[str, Any] = {"__name__": "s2sad_generated", **(env or {})}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace[name]
