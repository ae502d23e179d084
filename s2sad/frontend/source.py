"""Getting at a function's source: from a live function object, or from a file on disk.

A file is read and parsed, never imported or executed (the command line
never runs user code).  Either way the result is a :class:`ParsedFunction`:
the ``ast.FunctionDef``, where its lines and columns sit in the real file,
and the :class:`~s2sad.frontend.resolve.Resolver` that gives meaning to its
free names.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import sys
import textwrap
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Loc, S2SADError, UnsupportedError

if TYPE_CHECKING:
    from .resolve import Resolver


@dataclass(eq=False)
class ParsedFunction:
    """A function definition and everything needed to lower it."""

    node: ast.FunctionDef
    filename: str
    lines: list[str]  # the lines of the real file (no newlines), for carets
    resolver: Resolver
    line_offset: int = 0  # add to node line numbers to get file line numbers
    col_offset: int = 0  # add to node columns (the source was dedented)
    identity: object = field(default=None)  # what recursion detection compares
    live: object = field(default=None)  # the live function, when there is one
    # the object a method is bound to (``s2sad.grad(obj.method)``): its first parameter
    bound: object = field(default=None)

    @property
    def name(self) -> str:
        return self.node.name

    def loc(self, node: ast.AST) -> Loc:
        lineno = getattr(node, "lineno", self.node.lineno) + self.line_offset
        col = getattr(node, "col_offset", 0) + self.col_offset
        end = getattr(node, "end_col_offset", None)
        end_line = getattr(node, "end_lineno", None)
        if end is not None and end_line is not None and end_line + self.line_offset != lineno:
            end = None  # a construct spanning lines: underline to the end of the first
        text = self.lines[lineno - 1] if 0 < lineno <= len(self.lines) else None
        if end is None and text is not None:
            end = len(text)
        elif end is not None:
            end += self.col_offset
        return Loc(self.filename, lineno, col, end, text)


def from_function(fn: object, bound: object = None) -> ParsedFunction:
    """Parse a live Python function (``inspect.getsource``); ``bound``: the object its
    first parameter is bound to, for a method."""
    from . import environment
    from .resolve import LiveResolver

    name = getattr(fn, "__name__", repr(fn))
    if not inspect.isfunction(fn):
        raise UnsupportedError(
            f"s2sad can only differentiate Python functions, not {type(fn).__name__} "
            f"object {name!r}",
            hint="pass a function defined with `def`",
        )
    if fn.__name__ == "<lambda>":
        return _from_lambda(fn, bound)
    try:
        src_lines, first = inspect.getsourcelines(fn)
        filename = inspect.getsourcefile(fn) or fn.__code__.co_filename
    except (OSError, TypeError) as exc:
        raise S2SADError(
            f"the source of {name!r} is not available",
            _code_loc(fn),
            why=f"Python cannot find it ({exc}); functions typed at an interactive prompt or "
                "built with exec() have no source file",
            hint="define the function in a .py file, or use `s2sad grad FILE.py`",
        ) from None
    reads = environment.current()
    if reads is not None:
        reads.function(fn)  # its code and defaults: the cache checks they do not change
    text = "".join(src_lines)
    dedented = textwrap.dedent(text)
    indent = len(src_lines[0]) - len(src_lines[0].lstrip()) if dedented != text else 0
    tree = ast.parse(dedented)
    node = tree.body[0]
    if not isinstance(node, ast.FunctionDef):
        raise UnsupportedError(f"{name!r} is not defined by a `def` statement", _code_loc(fn))
    all_lines = [ln.rstrip("\n") for ln in linecache.getlines(filename)] or [
        ln.rstrip("\n") for ln in src_lines
    ]
    return ParsedFunction(
        node=node,
        filename=filename,
        lines=all_lines,
        resolver=LiveResolver(fn),
        line_offset=first - 1 if first > 0 else 0,
        col_offset=indent,
        identity=fn.__code__,
        live=fn,
        bound=bound,
    )


def _from_lambda(fn: types.FunctionType, bound: object) -> ParsedFunction:
    """A lambda, found in its file (or notebook cell) by its line and parameter names and
    lifted as ``def lambda_(<params>): return <body>``."""
    from . import environment
    from .resolve import LiveResolver

    code = fn.__code__
    filename = code.co_filename
    lines = [ln.rstrip("\n") for ln in linecache.getlines(filename)]
    params = list(code.co_varnames[:code.co_argcount])
    found: list[ast.Lambda] = []
    try:
        tree = ast.parse("\n".join(lines), filename=filename) if lines else None
    except SyntaxError:
        tree = None
    if tree is not None:
        found = [n for n in ast.walk(tree) if isinstance(n, ast.Lambda)
                 and n.lineno == code.co_firstlineno
                 and [a.arg for a in n.args.posonlyargs + n.args.args] == params]
    if len(found) != 1:
        raise UnsupportedError(
            "the source of this lambda cannot be found" if not found else
            f"{len(found)} lambdas with the parameters ({', '.join(params)}) on one line",
            _code_loc(fn),
            why="s2sad reads a lambda's source from its file (or notebook cell) by its line "
                "and parameter names" + (": the file cannot be read" if tree is None else ""),
            hint="define the function with `def`")
    lam = found[0]
    node = ast.FunctionDef(name="lambda_", args=lam.args, body=[ast.Return(lam.body)],
                           decorator_list=[], returns=None, type_comment=None,
                           **({"type_params": []} if sys.version_info >= (3, 12) else {}))
    ast.copy_location(node, lam)
    node.body[0] = ast.copy_location(node.body[0], lam.body)
    ast.fix_missing_locations(node)
    reads = environment.current()
    if reads is not None:
        reads.function(fn)
    return ParsedFunction(node=node, filename=filename, lines=lines, resolver=LiveResolver(fn),
                          identity=code, live=fn, bound=bound)


def _code_loc(fn: object) -> Loc | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    return Loc(code.co_filename, code.co_firstlineno, 0)


@dataclass
class ParsedModule:
    """A source file parsed without executing it, and its top-level functions."""

    filename: str
    tree: ast.Module
    lines: list[str]
    functions: dict[str, ParsedFunction]
    resolver: Any = None  # its names (a StaticResolver)


def parse_file(path: str | Path) -> ParsedModule:
    """Read and parse a file. Nothing in it runs."""
    from .resolve import StaticResolver

    path = Path(path)
    filename = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise S2SADError(f"no such file: {filename}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise S2SADError(f"cannot read {filename}: {exc}") from None
    lines = text.splitlines()
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError as exc:
        loc = Loc(filename, exc.lineno or 1, max(0, (exc.offset or 1) - 1), None,
                  (exc.text or "").rstrip("\n") or None)
        raise S2SADError(f"syntax error: {exc.msg}", loc,
                         hint="the file must be valid Python") from None
    resolver = StaticResolver(tree, filename, lines)
    functions = {
        node.name: ParsedFunction(node, filename, lines, resolver, identity=(filename, node.name))
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
    }
    resolver.functions = functions
    return ParsedModule(filename, tree, lines, functions, resolver)
