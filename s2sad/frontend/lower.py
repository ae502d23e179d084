"""Lifting: a function's ``ast`` → SSA IR.

:class:`Lowerer` walks statements and expressions with ``visit_<Node>``
methods (as CPython's ``ast.NodeVisitor``) and builds IR through a
:class:`~s2sad.ir.builder.Builder`.  Variables are renamed into SSA values
as it goes (``env`` maps a source name to its current value); a tuple is a
compile-time tuple of values, and a function (``np.tanh``, a module function, a
nested ``def`` or ``lambda``) is a compile-time value too.  Calls to the user's own
functions are inlined (a nested one with the variables it sees at the call);
recursion is rejected.  Environment data — module constants and arrays, closure
values, a bound method's ``self.*`` — is read here and recorded for the staleness
guard (:mod:`.environment`).

Every construct not handled here raises a located
:class:`~s2sad.errors.UnsupportedError` that says what to write instead —
never a silent wrong derivative.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import types
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import library
from .. import primitives as P
from ..errors import InternalError, NameResolutionError, S2SADError, UnsupportedError
from ..ir.builder import Builder
from ..ir.core import (
    NO_DEFAULT,
    ArrayDefault,
    Function,
    FunctionDefault,
    Kind,
    Pack,
    SourceInfo,
    Static,
    Value,
)
from . import environment
from .arrays import ArrayMixin, RetryWithArray, Shape, annotation_kind
from .containers import PLAIN, Container, ContainerMixin, NeedsStructure, describe
from .control import ControlFlowMixin, LoopEnd, Undefined, _walk_no_nested_scopes
from .draws import DrawMixin
from .ints import RetryWithInt, int_params
from .resolve import (
    ARRAY_NAMES,
    LIBRARY_WHY,
    ArrayFuncRef,
    ArrayRef,
    BuiltinRef,
    ConstRef,
    CustomRef,
    DataRef,
    FuncRef,
    LibraryRef,
    ModuleRef,
    OtherModuleRef,
    PrimRef,
    Unsupported,
    _ConstEval,
    classify,
    library_hint,
    library_member,
    library_ref,
    numpy_member,
    wrap_hint,
)
from .sequences import RetryWithList, SequenceMixin
from .source import ParsedFunction, from_function

Tup = tuple  # a compile-time tuple of values (or nested tuples)

_BINOPS = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div",
           ast.FloorDiv: "floordiv", ast.Mod: "mod"}


# Plain-words names for the constructs of Python's grammar s2sad rejects.
_NODE_WORDS = {
    "If": "an `if` statement", "For": "a `for` loop", "While": "a `while` loop",
    "Break": "`break`", "Continue": "`continue`",
    "IfExp": "a conditional expression (`a if c else b`)", "Compare": "a comparison",
    "BoolOp": "`and`/`or`", "Try": "a `try` statement", "TryStar": "a `try` statement",
    "With": "a `with` statement", "AsyncWith": "an `async with` statement",
    "AsyncFor": "an `async for` loop", "Raise": "a `raise` statement",
    "Assert": "an `assert` statement", "Delete": "a `del` statement",
    "Global": "a `global` declaration", "Nonlocal": "a `nonlocal` declaration",
    "Import": "an `import` inside a function", "ImportFrom": "an `import` inside a function",
    "FunctionDef": "a nested function definition", "AsyncFunctionDef": "an async function",
    "ClassDef": "a class definition", "Lambda": "a lambda", "Match": "a `match` statement",
    "NamedExpr": "an assignment expression (`:=`)", "Yield": "`yield` (a generator)",
    "YieldFrom": "`yield from` (a generator)", "Await": "`await`",
    "JoinedStr": "an f-string", "FormattedValue": "an f-string", "List": "a list",
    "Set": "a set", "Dict": "a dict", "ListComp": "a list comprehension",
    "SetComp": "a set comprehension", "DictComp": "a dict comprehension",
    "GeneratorExp": "a generator expression", "Subscript": "indexing (`x[i]`)",
    "Starred": "star-unpacking (`*x`)", "Slice": "a slice",
    "TypeAlias": "a `type` statement",
}
_LATER = {"GeneratorExp"}


class Lowerer(ControlFlowMixin, SequenceMixin, ArrayMixin, ContainerMixin, DrawMixin):
    """Lowers one top-level function (and, by inlining, the functions it calls).

    ``structures`` (the API's, at a call) maps each parameter to the
    :func:`~s2sad.frontend.containers.structure_key` of its argument; a parameter the
    function uses as a container is compiled for that structure."""

    def __init__(self, pf: ParsedFunction, structures: dict[str, Any] | None = None) -> None:
        self.top = pf
        self.structures = structures
        self.structured: set[str] = set()
        self.b = Builder()
        self.names_used: set[str] = set()
        self.env_names: dict[int, str] = {}  # id of an environment array -> its name
        self.env_refs: dict[int, ArrayRef] = {}

    # -- entry point -------------------------------------------------------------------------
    def lower(self) -> Function:
        """Lift the function; lift again when a parameter turns out to be a list or array."""
        kinds: dict[str, Kind] = {}
        self.pinned = set()
        for a in self.top.node.args.posonlyargs + self.top.node.args.args:
            declared = annotation_kind(a.annotation)
            if declared is not None:
                kinds[a.arg] = declared
                self.pinned.add(a.arg)
        positional = self.top.node.args.posonlyargs + self.top.node.args.args
        live = getattr(self.top.live, "__defaults__", None) or ()
        for a, d in zip(positional[len(positional) - len(live):], live, strict=False):
            if isinstance(d, np.ndarray):  # alpha=np.asarray([...]): an array parameter
                kinds[a.arg] = Kind.ARRAY
                self.pinned.add(a.arg)
        while True:
            try:
                return self._lower(kinds)
            except RetryWithList as retry:
                if kinds.get(retry.name) is Kind.LIST or retry.name in self.pinned:
                    raise InternalError(f"parameter {retry.name} is a list already") from None
                kinds[retry.name] = Kind.LIST
            except RetryWithArray as retry:
                if any(kinds.get(n) is Kind.ARRAY for n in retry.names):
                    raise InternalError(f"parameters {retry} are arrays already") from None
                kinds.update((n, Kind.ARRAY) for n in retry.names)
            except RetryWithInt as retry:
                if any(kinds.get(n) is Kind.INT for n in retry.names):
                    raise InternalError(f"parameters {retry} are ints already") from None
                kinds.update((n, Kind.INT) for n in retry.names)
            except NeedsStructure as need:
                key = (self.structures or {}).get(need.name)
                if self.structures is None:
                    raise
                if key is None or key in PLAIN or need.name in self.structured:
                    raise need.original from None  # not a container after all
                self.structured.add(need.name)
            self.b = Builder()
            self.names_used = set()

    def _lower(self, kinds: dict[str, Kind]) -> Function:
        pf = self.top
        node = pf.node
        self._check_signature(pf)
        self.hidden_hints = {}
        self.owned = set()
        self.read_only: set[Value] = set()  # arrays after x.setflags(write=False)
        self.shared = {}  # array -> the names `g = h` gave it
        self.borrowed = set()  # arrays an inlined callee got from its caller
        self.view_checks = []  # views of arrays assigned into (ArrayMixin.check_views)
        self.arg_sources = {}
        self.behind_seen = set()
        self.leaves, self.leaf_names = set(), {}
        self.generators: dict[Value, type] = {}  # leaves that are random generators
        params: list[Value] = []
        arguments: list[Any] = []
        env: dict[str, Any] = {}
        for a in node.args.posonlyargs + node.args.args:
            if a.arg in self.structured:
                env[a.arg], layout = self.container_argument(
                    a.arg, self.structures[a.arg], kinds, params)
                arguments.append(layout)
                continue
            params.append(self.b.fresh(kinds.get(a.arg, Kind.FLOAT), a.arg))
            env[a.arg] = params[-1]
            arguments.append(len(params) - 1)
        vararg = node.args.vararg
        if vararg is not None and vararg.arg in self.structured:  # f(x, *xs) reading xs
            env[vararg.arg], layout = self.container_argument(
                vararg.arg, self.structures[vararg.arg], kinds, params)
            arguments.append(dataclasses.replace(layout, star=True))
        self.params = set(params)
        self.plain_params = {params[a] for a in arguments if isinstance(a, int)}
        self.top_params = params
        defaults = self._defaults(pf)
        if self.structured:  # one default per flat parameter
            defaults = _flat_defaults(arguments, defaults, pf)
        for p, d in zip(params[len(params) - len(defaults):] if defaults else (), defaults,
                        strict=False):
            if isinstance(d, FunctionDefault):
                if d.spelled is None and pf.live is None:
                    raise self.unsupported(
                        pf, node, f"the default of `{p.hint}` is a function of this file",
                        why="a module the command line writes cannot refer to it",
                        hint="use the Python API (s2sad.grad), or a NumPy or math function "
                             "as the default")
                env[p.hint] = self._default_value(d)  # the body calls (or reads) it
        result = self._body(pf, env, stack=(pf.identity,))
        if isinstance(result, tuple):
            flat: list[Value] = []
            structure = self._flatten(result, flat, pf, node)
        else:
            flat = []
            structure = self._flatten(result, flat, pf, node)
        self.rename_leaves()
        fn = self.b.finish(
            node.name, tuple(params), tuple(flat), structure=structure, defaults=defaults,
            arguments=tuple(arguments) if self.structured else None,
            star=tuple(s.arg if s and s.arg not in self.structured else None
                       for s in (node.args.vararg, node.args.kwarg)),
            source=SourceInfo(pf.filename, node.name, node.lineno + pf.line_offset),
            names_used=frozenset(self.names_used), docstring=ast.get_docstring(node),
        )
        self.check_views(fn)
        return fn

    def _flatten(self, value: Any, flat: list[Value], pf: ParsedFunction, node: ast.AST):
        if isinstance(value, tuple):
            return tuple(self._flatten(v, flat, pf, node) for v in value)
        if isinstance(value, Container) and value.kind == "dict":  # {"loss": l, ...}
            return Pack("dict", None, value.keys,
                        tuple(self._flatten(v, flat, pf, node) for v in value.items))
        if isinstance(value, (Container, Static)):
            raise self.unsupported(pf, node, "the function returns "
                                   + (value.noun() if isinstance(value, Container)
                                      else describe(("static", value.value))),
                                   why="s2sad differentiates functions that return numbers, "
                                       "arrays, lists, or tuples of them",
                                   hint="return the numbers (a tuple of them)")
        if not isinstance(value, Value):
            raise self.unsupported(pf, node, "the function returns a function",
                                   why="s2sad differentiates the numbers a function returns",
                                   hint="return the value it computes")
        flat.append(value)
        return len(flat) - 1

    # -- errors ------------------------------------------------------------------------------
    def need_int(self, v: Value) -> Value:
        """``v`` where Python needs an int (a ``range`` bound, an index, a size): when it
        is integer arithmetic of float parameters, they are ints (see :mod:`.ints`)."""
        if v.kind is Kind.FLOAT and not self.b.is_const(v):
            names = int_params(self.b, self.params, self.pinned, v)
            if names:
                raise RetryWithInt(names)
        return v

    def unsupported(self, pf: ParsedFunction, node: ast.AST, what: str, *, why: str | None = None,
                    hint: str | None = None) -> UnsupportedError:
        return UnsupportedError(what, pf.loc(node), why=why, hint=hint)

    def _reject(self, pf: ParsedFunction, node: ast.AST) -> UnsupportedError:
        name = type(node).__name__
        words = _NODE_WORDS.get(name, f"the construct `{name}`")
        if name in _LATER:
            return self.unsupported(
                pf, node, f"{words} is not supported yet",
                why="this version of s2sad differentiates numbers, not sequences",
                hint="pass the values as separate scalar arguments for now")
        hints = {
            "Try": "remove the try/except: s2sad differentiates pure numeric code",
            "With": "move the context manager out of the differentiated function",
            "Global": "pass the value as an argument and return the new value",
            "Nonlocal": "pass the value as an argument and return the new value",
            "Delete": "just stop using the name",
            "FunctionDef": "define the helper at module level; s2sad inlines calls to it",
            "Lambda": "define the helper with `def` at module level",
            "ClassDef": "define the class outside the differentiated function",
            "NamedExpr": "assign the value in a statement of its own",
            "Yield": "return the values instead",
            "YieldFrom": "return the values instead",
            "JoinedStr": "strings have no derivative: remove the f-string",
            "Import": "import at module level (s2sad knows math and numpy: `import math`, then "
                      "`math.pi`)",
            "ImportFrom": "import at module level (s2sad knows math and numpy: `from math "
                          "import pi`)",
            "Match": "use `if` / `elif` / `else` with comparisons",
            "Raise": "raise under an `if` (an input check: `if x < 0: raise ValueError("
                     "\"...\")`), or check the input outside the differentiated function",
        }
        return self.unsupported(pf, node, f"{words} is not supported",
                                why="s2sad differentiates pure numeric functions",
                                hint=hints.get(name, "rewrite it with supported operations"))

    # -- signatures --------------------------------------------------------------------------
    def _check_signature(self, pf: ParsedFunction) -> None:
        a = pf.node.args
        for star, mark in ((a.vararg, "*"), (a.kwarg, "**")):
            if star is None:
                continue
            read = next((n for n in ast.walk(pf.node) if isinstance(n, ast.Name)
                         and n.id == star.arg), None)
            if pf is self.top and read is None:
                continue  # accepted and ignored, as the function itself ignores them
            if pf is self.top and mark == "*" and star.arg in self.structured:
                continue  # read: compiled for the arguments of the call (a tuple)
            if pf is not self.top and mark == "*":
                continue  # an inlined function's *args: the call's extra arguments
            error = self.unsupported(
                pf, read or star, f"`{mark}{star.arg}` parameters are not supported "
                + ("when the function reads them" if pf is self.top else "in a function "
                   "s2sad inlines"),
                why="s2sad needs to know every differentiable input by name",
                hint="list the parameters explicitly" if read is not None or pf is self.top
                else f"list the parameters of `{pf.name}` explicitly")
            if pf is self.top and mark == "*":  # the API knows how many there are
                raise NeedsStructure(star.arg, error)
            raise error
        if a.kwonlyargs:
            raise self.unsupported(
                pf, a.kwonlyargs[0], "keyword-only parameters are not supported",
                hint="make the parameter positional")
        if isinstance(pf.node, ast.AsyncFunctionDef):
            raise self._reject(pf, pf.node)

    def _defaults(self, pf: ParsedFunction) -> tuple[Any, ...]:
        a = pf.node.args
        positional = a.posonlyargs + a.args
        values: list[Any] = [NO_DEFAULT] * (len(positional) - len(a.defaults))
        live = getattr(pf.live, "__defaults__", None)
        if live is not None and len(live) == len(a.defaults):
            # a live function's defaults were evaluated when its `def` ran: use those
            # values (a global named in a default may have changed since)
            for node, d in zip(a.defaults, live, strict=True):
                if isinstance(d, (bool, str)) or d is None:  # keepdims=False: a choice
                    values.append(FunctionDefault(d, repr(d)))
                    continue
                if isinstance(d, np.ndarray) and d.dtype.kind in "biuf":
                    values.append(ArrayDefault(d))
                    continue
                if isinstance(classify(d), _FUNCTIONS) and not isinstance(d, bool):
                    values.append(FunctionDefault(d, _library_spelling(classify(d))))
                    continue
                if isinstance(d, bool) or not isinstance(d, (int, float)):
                    raise self.unsupported(pf, node, "a parameter default that is not a "
                                           "number or a function",
                                           hint="use a number as the default")
                values.append(d)
            return tuple(values)
        for d in a.defaults:
            if isinstance(d, ast.Constant) and (d.value is None or isinstance(d.value,
                                                                              (bool, str))):
                values.append(FunctionDefault(d.value, repr(d.value)))
                continue
            try:
                values.append(_ConstEval(pf.resolver).visit(d))
                continue
            except (ValueError, ArithmeticError, TypeError):
                pass
            ref = self._static_function(pf, d)
            if ref is None:
                raise self.unsupported(pf, d, "a parameter default that is not a numeric "
                                       "constant or a function",
                                       hint="use a number as the default")
            values.append(FunctionDefault(ref, _library_spelling(ref)))
        return tuple(values)

    def _default_value(self, default: FunctionDefault) -> Any:
        """What the body sees through a parameter whose compile-time default is
        ``default``: a function it calls, a bool constant, a string or ``None``."""
        value = default.value
        if isinstance(value, bool):
            return self.b.const(value)
        if value is None or isinstance(value, str):
            return Static(value)
        return value if isinstance(value, _FUNCTIONS) else classify(value)

    def _static_function(self, pf: ParsedFunction, node: ast.expr) -> Any:
        """The function a default written in a file names (``np.tanh``, ``relu``), if any."""
        try:
            got = self._resolve_callee(node, _Ctx(pf, {}, ()))
        except S2SADError:
            return None
        return got if isinstance(got, _FUNCTIONS) else None

    # -- statements --------------------------------------------------------------------------
    def _body(self, pf: ParsedFunction, env: dict[str, Any], stack: tuple) -> Any:
        self.names_used.update(
            n.id for n in ast.walk(pf.node) if isinstance(n, ast.Name)
        )
        self.names_used.update(a.arg for a in ast.walk(pf.node) if isinstance(a, ast.arg))
        ctx = _Ctx(pf, env, stack)
        body = pf.node.body
        if body and _is_docstring(body[0]):
            body = body[1:]
        done = self.stmts(body, ctx)
        if isinstance(done, Returned):
            return done.value
        raise self.unsupported(
            pf, pf.node, f"function `{pf.node.name}` returns nothing",
            why="s2sad differentiates the value a function returns",
            hint="end the function with `return <value>`")

    def stmts(self, stmts: list[ast.stmt], ctx: _Ctx) -> Returned | LoopEnd | None:
        """Lower a statement list; the outcome says how its paths end (None: fall through)."""
        for i, stmt in enumerate(stmts):
            if isinstance(stmt, (ast.For, ast.While)) and not stmt.orelse and any(
                    isinstance(n, ast.Return) for n in _walk_no_nested_scopes(stmt.body)):
                # `return` inside a loop: a flag and a break, then the return after it
                return self.stmts(self._returns_lifted(stmt) + stmts[i + 1:], ctx)
            if isinstance(stmt, ast.If):
                done = self.visit_If(stmt, ctx, stmts[i + 1:])
                if done is not None:
                    return done
                continue
            if isinstance(stmt, (ast.Break, ast.Continue)) and not ctx.in_loop:
                raise self.unsupported(ctx.pf, stmt, "`break`/`continue` outside a loop")
            method = getattr(self, f"visit_{type(stmt).__name__}", None)
            if method is None:
                raise self._reject(ctx.pf, stmt)
            done = method(stmt, ctx)
            if done is not None:
                return done
        return None

    def _returns_lifted(self, loop: ast.For | ast.While) -> list[ast.stmt]:
        """``loop`` with each ``return v`` inside it (at any depth of loops) replaced by
        ``result = v; returned = True; break`` (and a ``break`` out of each enclosing loop
        when ``returned``), followed by ``if returned: return result`` (hidden names).
        A tuple written in the ``return`` is kept as one name per item."""
        flag, value = self.hidden("returned"), self.hidden("result")
        widths = {len(n.value.elts) if isinstance(n.value, ast.Tuple) else 1
                  for n in _walk_no_nested_scopes(loop.body) if isinstance(n, ast.Return)}
        width = widths.pop() if len(widths) == 1 else 1
        names = [f"{value}_{k}" for k in range(width)] if width > 1 else [value]
        for n in names:
            self.hidden_hints[n] = "result"

        def load(n: str) -> ast.Name:
            return ast.Name(n, ast.Load())

        def store(n: str) -> ast.Name:
            return ast.Name(n, ast.Store())

        def lift(stmts: list[ast.stmt]) -> list[ast.stmt]:
            out: list[ast.stmt] = []
            for s in stmts:
                if isinstance(s, ast.Return):
                    if s.value is None:
                        out.append(s)  # the located error of `return` without a value
                        continue
                    items = s.value.elts if width > 1 and isinstance(s.value, ast.Tuple) \
                        else [s.value]
                    out.extend(ast.copy_location(ast.Assign([store(n)], v), s)
                               for n, v in zip(names, items, strict=False))
                    out += [ast.copy_location(ast.Assign([store(flag)], ast.Constant(True)),
                                              s), ast.copy_location(ast.Break(), s)]
                elif isinstance(s, (ast.For, ast.While)) and any(
                        isinstance(n, ast.Return) for n in _walk_no_nested_scopes(s.body)):
                    inner = type(s)(**{**{f: getattr(s, f) for f in s._fields},
                                      "body": lift(s.body)})
                    out += [ast.copy_location(inner, s), ast.copy_location(
                        ast.If(load(flag), [ast.Break()], []), s)]
                elif isinstance(s, ast.If):
                    out.append(ast.copy_location(ast.If(s.test, lift(s.body),
                                                        lift(s.orelse)), s))
                else:
                    out.append(s)
            return out

        lifted = type(loop)(**{**{f: getattr(loop, f) for f in loop._fields},
                               "body": lift(loop.body)})
        result = ast.Tuple([load(n) for n in names], ast.Load()) if width > 1 else load(value)
        stmts = [ast.Assign([store(flag)], ast.Constant(False)),
                 *(ast.Assign([store(n)], ast.Constant(0.0)) for n in names),
                 lifted, ast.If(load(flag), [ast.Return(result)], [])]
        for stmt in stmts:
            for sub in ast.walk(stmt):
                if not hasattr(sub, "lineno"):
                    ast.copy_location(sub, loop)
        return stmts

    def visit_Return(self, node: ast.Return, ctx: _Ctx):
        if node.value is None:
            raise self.unsupported(ctx.pf, node, "`return` without a value",
                                   why="s2sad differentiates the value a function returns",
                                   hint="return the value to differentiate")
        return Returned(self.expr(node.value, ctx))

    def visit_Pass(self, node: ast.Pass, ctx: _Ctx) -> None:
        return None

    def visit_Expr(self, node: ast.Expr, ctx: _Ctx) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None  # a string used as a comment
        if isinstance(node.value, (ast.Yield, ast.YieldFrom, ast.Await)):
            raise self._reject(ctx.pf, node.value)
        if isinstance(node.value, ast.Call) and self.append_statement(node.value, ctx):
            return None
        if isinstance(node.value, ast.Call) and self._print_statement(node.value, ctx):
            return None
        if isinstance(node.value, ast.Call) and self._read_only_statement(node.value, ctx):
            return None
        self.expr(node.value, ctx)  # an unsupported callee is the better message
        raise self.unsupported(ctx.pf, node, "an expression statement (its value is unused)",
                               why="s2sad differentiates pure functions: a call whose result "
                                   "is dropped can only matter for its side effects",
                               hint="assign the value to a name, or remove the statement")

    def _read_only_statement(self, call: ast.Call, ctx: _Ctx) -> bool:
        """``x.setflags(write=False)`` of a local array (pints' ``vector``): no value changes,
        and s2sad treats the array as one it does not own from then on, so a later write
        into it is refused, as NumPy would raise."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr == "setflags"
                and isinstance(func.value, ast.Name) and not call.args
                and [kw.arg for kw in call.keywords] == ["write"]
                and isinstance(call.keywords[0].value, ast.Constant)
                and call.keywords[0].value.value is False):
            return False
        value = ctx.env.get(func.value.id)
        if not (isinstance(value, Value) and value.kind is Kind.ARRAY):
            return False
        self.owned.discard(value)
        self.read_only.add(value)
        return True

    def _is_builtin(self, func: ast.expr, name: str, ctx: _Ctx) -> bool:
        """Is ``func`` the builtin ``name`` (not shadowed by a local or a global)?"""
        return (isinstance(func, ast.Name) and func.id == name and name not in ctx.env
                and isinstance(ctx.pf.resolver.lookup(name), Unsupported))

    def _print_statement(self, call: ast.Call, ctx: _Ctx) -> bool:
        """``print(...)`` of the builtin: output of the primal, run once per call of the
        derivative where it stands (not again in a reverse sweep; a Hessian or Jacobian
        prints once per sweep).  Strings and f-strings without formatted values are
        constants; the rest must be numbers or arrays."""
        if not self._is_builtin(call.func, "print", ctx):
            return False
        parts: list[Any] = []
        operands: list[Value] = []
        for arg in call.args:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                parts.append((arg.value,))
                continue
            value = self.value(arg, ctx)
            parts.append(len(operands))
            operands.append(value)
        options = {"sep": " ", "end": "\n"}
        for kw in call.keywords:
            if kw.arg not in options or not (isinstance(kw.value, ast.Constant)
                                              and isinstance(kw.value.value, str)):
                raise self.unsupported(ctx.pf, kw.value if kw.arg else call, "only `sep=` and "
                                       "`end=` strings are supported in `print`",
                                       hint="print to the terminal (no `file=`), with "
                                            "constant `sep` and `end`")
            options[kw.arg] = kw.value.value
        self.b.emit("print", tuple(operands), attrs=(("parts", tuple(parts)),
                                                     ("sep", options["sep"]),
                                                     ("end", options["end"])),
                    loc=ctx.pf.loc(call))
        return True

    def visit_Assign(self, node: ast.Assign, ctx: _Ctx) -> None:
        hint = self.hint_of(node.targets[0].id) if (
            len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)) else None
        value = self.expr(node.value, ctx, hint=hint)
        if isinstance(node.value, ast.Name) and isinstance(value, Value) and (
                value.kind is Kind.ARRAY):  # `g = h`: two names for one array
            self.shared.setdefault(value, set()).update(
                [node.value.id, *(t.id for t in node.targets if isinstance(t, ast.Name))])
        for target in node.targets:
            self._bind(target, value, ctx)

    def visit_AnnAssign(self, node: ast.AnnAssign, ctx: _Ctx) -> None:
        if node.value is None:
            return None
        hint = self.hint_of(node.target.id) if isinstance(node.target, ast.Name) else None
        self._bind(node.target, self.expr(node.value, ctx, hint=hint), ctx)

    def visit_AugAssign(self, node: ast.AugAssign, ctx: _Ctx) -> None:
        if isinstance(node.target, ast.Attribute):
            op = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div"}.get(
                type(node.op))
            if op is not None:
                self._attribute_update(node.target, self.value(node.value, ctx), op, ctx)
                return
        if isinstance(node.target, ast.Subscript):
            self.item_assignment(node.target, self.value(node.value, ctx), ctx, node.op, node)
            return
        if not isinstance(node.target, ast.Name):
            raise self._mutation(ctx, node.target)
        current = self._name(node.target, ctx)
        value = self._binop(node.op, current, self.expr(node.value, ctx), node, ctx,
                            hint=self.hint_of(node.target.id))
        ctx.env[node.target.id] = value

    def _attribute_update(self, target: ast.Attribute, value: Any, op: str, ctx: _Ctx) -> None:
        """``self.nfev += 1``, ``self.last = v``: a side effect on the method's object, run
        once per call of the derivative, where it stands.  Only at the top level of the
        function differentiated (a loop's reverse sweep would run it again), and only on
        an attribute the function does not read (s2sad reads attributes when it
        compiles)."""
        pf = ctx.pf
        first = (pf.node.args.posonlyargs + pf.node.args.args)[:1]
        on_self = (pf is self.top and first and first[0].arg == "self"
                   and isinstance(target.value, ast.Name) and target.value.id == "self"
                   and ctx.env.get(target.value.id) is self.top_params[0])
        if not on_self or not isinstance(value, Value) or value.kind is Kind.TAPE:
            raise self._mutation(ctx, target)
        if len(self.b.open_blocks) > 1 or ctx.in_loop:
            raise self.unsupported(
                pf, target, f"updating `{target.value.id}.{target.attr}` inside a loop or a "
                "branch is not supported", why="the derivative runs a side effect once, "
                "where it stands; a reverse sweep would run the loop's copy again",
                hint="move the update to the top level of the function (counting calls, "
                     "`self.nfev += 1`, usually is)")
        if any(isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load)
               and isinstance(n.value, ast.Name) and n.value.id == first[0].arg
               and n.attr == target.attr for n in ast.walk(pf.node)):
            raise self.unsupported(
                pf, target, f"the function updates `{first[0].arg}.{target.attr}` and also "
                "reads it", why="s2sad reads an object's attributes when it compiles, so a "
                "value the function itself changes would be stale",
                hint=f"keep `{target.attr}` in a local variable and pass it as a parameter")
        self.b.emit("attr_update", (self.top_params[0], value),
                    attrs=(("attr", target.attr), ("op", op)), loc=pf.loc(target))

    def _unpack_sequence(self, value: Value, n: int, target: ast.AST, ctx: _Ctx) -> Any:
        """``x, y = coords`` of a list or array: its items, after a check (in the
        generated code) that it has exactly ``n``, as Python's unpacking checks."""
        if value.kind is Kind.FLOAT and value in self.params and value.hint not in self.pinned:
            raise RetryWithList(value.hint)  # unpacked: a sequence (a list or 1-D array)
        if value.kind not in (Kind.LIST, Kind.ARRAY):
            if self.root_param(value) is not None:  # W, b = params[0]: a list of tuples
                raise self.container_use(value, self.unsupported(
                    ctx.pf, target, "unpacking an item of a list",
                    why="s2sad's lists hold numbers, not tuples"))
            return value
        self.b.emit("unpack_check", (value,), attrs=(("n", n),), loc=ctx.pf.loc(target))
        if value.kind is Kind.ARRAY:
            return tuple(self.emit("np_index", [value, self.b.const(k)], ctx, target, None,
                                   index=(("int", 0),)) for k in range(n))
        return tuple(self.emit("getitem", [value, self.b.const(k)], ctx, target, None)
                     for k in range(n))

    def _bind(self, target: ast.AST, value: Any, ctx: _Ctx) -> None:
        if isinstance(target, ast.Name):
            ctx.env[target.id] = value
            self.note_binding(target.id, value)
            return
        if isinstance(target, ast.Attribute):
            self._attribute_update(target, value, "set", ctx)
            return
        if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, Shape):
            value = self.unpack_shape(value, len(target.elts), target, ctx)
        if isinstance(target, (ast.Tuple, ast.List)):
            if any(isinstance(t, ast.Starred) for t in target.elts):
                raise self._reject(ctx.pf, next(t for t in target.elts
                                                if isinstance(t, ast.Starred)))
            if isinstance(value, Value):
                value = self._unpack_sequence(value, len(target.elts), target, ctx)
            if isinstance(value, Container) and value.kind == "namedtuple":
                value = value.items
            if not isinstance(value, tuple):
                raise self.unsupported(ctx.pf, target, "unpacking a value that is not a tuple",
                                       hint="unpack only tuples written or returned in the "
                                            "function")
            if len(value) != len(target.elts):
                raise self.unsupported(
                    ctx.pf, target,
                    f"cannot unpack {len(value)} values into {len(target.elts)} names",
                    why="the numbers of names and values differ",
                    hint=f"write one name per value ({len(value)} names), or index the "
                         "tuple: `t = ...; a = t[0]`")
            for t, v in zip(target.elts, value, strict=True):
                self._bind(t, v, ctx)
            return
        if isinstance(target, ast.Subscript):
            self.item_assignment(target, value, ctx)
            return
        raise self._mutation(ctx, target)

    def _mutation(self, ctx: _Ctx, target: ast.AST) -> UnsupportedError:
        if isinstance(target, ast.Subscript):
            return self.unsupported(
                ctx.pf, target, "item assignment `x[...] = ...` is not supported yet",
                why="it mutates a value in place",
                hint="compute the new values as separate names")
        return self.unsupported(
            ctx.pf, target, "assignment to an attribute is not supported",
            why="it mutates an object, which s2sad cannot differentiate",
            hint="assign to a plain local name")

    # -- expressions -------------------------------------------------------------------------
    def expr(self, node: ast.expr, ctx: _Ctx, hint: str | None = None) -> Any:
        method = getattr(self, f"expr_{type(node).__name__}", None)
        if method is None:
            raise self._reject(ctx.pf, node)
        return method(node, ctx, hint)

    def value(self, node: ast.expr, ctx: _Ctx, hint: str | None = None) -> Value:
        """An expression that must be one number (not a tuple)."""
        got = self.expr(node, ctx, hint)
        if isinstance(got, tuple):
            spelled = ast.unparse(node)
            raise self.unsupported(ctx.pf, node, f"`{spelled}` is a tuple (or a list known when "
                                   "s2sad compiles), used here as a number",
                                   hint=f"unpack it first (`a, b = {spelled}`), index it "
                                        f"(`{spelled}[0]`), or make it an array "
                                        f"(`np.array({spelled})`)")
        if isinstance(got, _FUNCTIONS):
            raise self.unsupported(ctx.pf, node, f"`{ast.unparse(node)}` is a function, used "
                                   "here as a number", hint="call it")
        if isinstance(got, (Container, Static)):
            noun = got.noun() if isinstance(got, Container) else describe(("static",
                                                                           got.value))
            raise self.unsupported(ctx.pf, node, f"`{ast.unparse(node)}` is {noun}, used here "
                                   "as a number", hint="read the number or array it holds: "
                                   "`d[\"key\"]`, `obj.field`")
        return got

    def emit(self, prim: str, operands, ctx: _Ctx, node: ast.AST, hint: str | None = None,
             **attrs) -> Value:
        return self.b.emit(prim, tuple(operands), attrs=attrs, loc=ctx.pf.loc(node), hint=hint)

    def expr_Constant(self, node: ast.Constant, ctx: _Ctx, hint: str | None) -> Value:
        v = node.value
        if isinstance(v, complex):
            raise self.unsupported(ctx.pf, node, "complex numbers are not supported",
                                   why="s2sad differentiates real-valued functions",
                                   hint="split the computation into real and imaginary parts")
        if not isinstance(v, (int, float)):
            raise self.unsupported(ctx.pf, node, f"a {type(v).__name__} constant is not "
                                   "supported", why="only numbers have derivatives",
                                   hint="use numeric values only")
        return self.b.const(v, ctx.pf.loc(node))

    def expr_Name(self, node: ast.Name, ctx: _Ctx, hint: str | None) -> Any:
        return self._name(node, ctx)

    def _name(self, node: ast.Name, ctx: _Ctx) -> Any:
        if node.id in ctx.env:
            got = ctx.env[node.id]
            if isinstance(got, Undefined):
                raise NameResolutionError(
                    f"`{node.id}` may be undefined here", ctx.pf.loc(node), why=got.why,
                    hint=f"give `{node.id}` a value on every path before this use")
            return got
        got = ctx.pf.resolver.lookup(node.id)
        if isinstance(got, ConstRef):
            return self.b.const(got.value, ctx.pf.loc(node))
        if isinstance(got, ArrayRef):
            return self.environment_array(got, node.id, ctx.pf.loc(node))
        if isinstance(got, DataRef):
            return self.constant_data(got.value, ctx.pf.loc(node))
        if isinstance(got, _FUNCTIONS):
            return got  # a function as a value: passed on, called where it arrives
        if got is None:
            raise NameResolutionError(f"name `{node.id}` is not defined", ctx.pf.loc(node),
                                      hint="define it before use, as a parameter, a local "
                                           "or a module-level constant")
        raise self._not_a_value(ctx, node, node.id, got)

    def _bound_self(self, node: ast.expr, ctx: _Ctx) -> bool:
        """Is ``node`` the first parameter (``self``) of a method bound to an object,
        still holding it?"""
        pf = ctx.pf
        if pf.bound is None or not isinstance(node, ast.Name):
            return False
        first = (pf.node.args.posonlyargs + pf.node.args.args)[:1]
        return bool(first) and node.id == first[0].arg and ctx.env.get(node.id) is (
            self.top_params[0] if self.top_params else None)

    def _bound_attribute(self, node: ast.Attribute, ctx: _Ctx) -> Any:
        """``self.N``, ``self.W``: an attribute of the bound object, read when the
        derivative is compiled (a number) or by reference (an array), and guarded."""
        obj, name = ctx.pf.bound, node.attr
        value = getattr(obj, name, environment.ABSENT)
        reads = environment.current()
        if reads is not None:
            reads.attribute(obj, name, value)
        if value is environment.ABSENT:
            raise self.unsupported(ctx.pf, node, f"`{type(obj).__name__}` object has no "
                                   f"attribute `{name}`", hint="set it before taking the "
                                   "derivative (in __init__)")
        got = classify(value)
        if isinstance(got, ConstRef):
            return self.b.const(got.value, ctx.pf.loc(node))
        if isinstance(got, ArrayRef):
            return self.environment_array(got, f"self_{name}", ctx.pf.loc(node))
        if isinstance(got, DataRef):
            return self.constant_data(got.value, ctx.pf.loc(node))
        raise self.unsupported(
            ctx.pf, node, f"`self.{name}` is {_describe(value)}, which s2sad cannot use here",
            why="a method's attributes are read as numbers and NumPy arrays (constants of "
                "the derivative)", hint=f"pass `{name}` as a parameter of the method")

    def _bound_method(self, func: ast.Attribute, ctx: _Ctx) -> FuncRef | None:
        """``self.<name>`` called in a method bound to an object: a method of its class
        (inlined with ``self`` bound to the same object), or an attribute holding an object
        whose class defines ``__call__`` in Python (inlined with ``self`` bound to that
        object).  The read is recorded, so the derivative compiles again when the object
        gets another method or attribute.  None: something else (the caller says what)."""
        obj, name = ctx.pf.bound, func.attr
        try:
            static = inspect.getattr_static(obj, name)
        except AttributeError:
            return None
        reads = environment.current()
        if isinstance(static, types.FunctionType) and name not in getattr(obj, "__dict__", {}):
            target, function = obj, static  # a method of the class
            if reads is not None:
                reads.attribute(type(obj), name, static)
        else:
            value = getattr(obj, name)
            call = inspect.getattr_static(type(value), "__call__", None)
            if not isinstance(call, types.FunctionType) or isinstance(value, type):
                return None
            target, function = value, call  # an object with __call__, held by the object
            if reads is not None:
                reads.attribute(obj, name, value)
        return FuncRef((function.__code__, id(target)),
                       lambda: from_function(function, target))

    def environment_array(self, ref: ArrayRef, name: str, loc) -> Value:
        """An array the function reads from its environment: one name in the generated
        module per array object (``X``, or ``X_1`` for another array also called ``X``)."""
        key = id(ref.value)
        chosen = self.env_names.get(key)
        if chosen is None:
            taken = set(self.env_names.values())
            chosen, k = name, 1
            while chosen in taken:
                chosen, k = f"{name}_{k}", k + 1
            self.env_names[key] = chosen
            self.env_refs[key] = ref
        return self.b.emit("env_array", (), attrs=(("name", chosen),
                                                   ("ref", self.env_refs[key])), loc=loc)

    def _not_a_value(self, ctx: _Ctx, node: ast.AST, name: str, got: Any) -> S2SADError:
        if isinstance(got, Unsupported):
            return NameResolutionError(
                f"`{name}` is {got.what}, which s2sad cannot use here", ctx.pf.loc(node),
                why=got.why or "a differentiated function may use numbers, its parameters, "
                    "module-level numbers and NumPy arrays, and supported functions",
                hint=got.hint or "pass the value as a parameter")
        return self.unsupported(ctx.pf, node, f"`{name}` is used as a value, but it is a "
                                "function or module", hint="call it, or pass a number")

    def expr_Attribute(self, node: ast.Attribute, ctx: _Ctx, hint: str | None) -> Any:
        if self._bound_self(node.value, ctx):
            return self._bound_attribute(node, ctx)
        if (isinstance(node.value, ast.Name) and node.value.id == "self"
                and ctx.pf.bound is None and ctx.env.get("self") in self.plain_params):
            raise NeedsStructure("self", self.unsupported(
                ctx.pf, node, f"`self.{node.attr}` of a method taken without its object",
                why="s2sad reads a method's attributes from the object it is bound to",
                hint="differentiate the bound method: `s2sad.grad(obj.method)` (or decorate "
                     "the method with @s2sad.differentiable and call `obj.method.grad`)"))
        if not self._names_module(node.value, ctx):  # x.T, x.shape of a value
            base = self.expr(node.value, ctx)
            if isinstance(base, Container):
                return self.container_attribute(base, node, ctx)
            if not hasattr(np.ndarray, node.attr) and (
                    self.root_param(base) is not None):  # params.W: a container
                raise self.container_use(base, self.unsupported(
                    ctx.pf, node, f"the attribute `.{node.attr}` of a number or array",
                    hint="use x.T, x.shape, x.ndim, x.size or a NumPy function"))
            if not isinstance(base, Value):
                base = self.value(node.value, ctx)  # the error for a tuple or a function
            return self.array_attribute(base, node, ctx, hint)
        got = self._resolve_callee(node, ctx)
        if isinstance(got, ConstRef):
            return self.b.const(got.value, ctx.pf.loc(node))
        if isinstance(got, _FUNCTIONS):
            return got  # np.tanh as a value: `act=np.tanh` passed to a helper
        raise self._not_a_value(ctx, node, ast.unparse(node), got)

    def expr_Tuple(self, node: ast.Tuple, ctx: _Ctx, hint: str | None) -> Tup:
        return tuple(self.expr(e, ctx) for e in node.elts)

    def expr_UnaryOp(self, node: ast.UnaryOp, ctx: _Ctx, hint: str | None) -> Value:
        if isinstance(node.op, ast.UAdd):
            return self.value(node.operand, ctx, hint)
        if isinstance(node.op, ast.USub):
            return self.emit("neg", [self.value(node.operand, ctx)], ctx, node, hint)
        if isinstance(node.op, ast.Not):
            return self.emit("not", [self.condition(node.operand, ctx)], ctx, node, hint)
        operand = self.value(node.operand, ctx)
        if operand.kind is Kind.BOOL:  # ~(x > 0): the negation of a mask
            return self.emit("logical_not", [operand], ctx, node, hint, lib=P.NUMPY)
        raise self.unsupported(ctx.pf, node, "bitwise inversion `~` is not supported",
                               why="it has no derivative", hint="use arithmetic operators")

    def expr_BinOp(self, node: ast.BinOp, ctx: _Ctx, hint: str | None) -> Value:
        repeated = _repeated_list(node)
        if repeated is not None:  # [x] * n: the list comprehension it means
            return self.expr(repeated, ctx, hint)
        left, right = self.expr(node.left, ctx), self.expr(node.right, ctx)
        if not (isinstance(left, tuple) and isinstance(right, tuple)):
            # (a tuple, a function or a container beside a number: value()'s error)
            left = left if isinstance(left, Value) else self.value(node.left, ctx)
            right = right if isinstance(right, Value) else self.value(node.right, ctx)
        return self._binop(node.op, left, right, node, ctx, hint)

    def _binop(self, op: ast.operator, left: Any, right: Any, node: ast.AST, ctx: _Ctx,
               hint: str | None = None) -> Value:
        if isinstance(left, tuple) and isinstance(right, tuple) and isinstance(op, ast.Add):
            return left + right  # args + (ones,): tuples known when compiling
        if isinstance(left, tuple) or isinstance(right, tuple):
            raise self.unsupported(ctx.pf, node, "arithmetic on a tuple",
                                   hint="unpack the tuple first: `a, b = ...`")
        if any(v.kind is Kind.LIST and v not in self.params for v in (left, right)):
            raise self.unsupported(
                ctx.pf, node, f"the operator `{_op_symbol(op)}` on a list is not supported",
                why="in Python `+` joins lists and `*` repeats one; s2sad does not support "
                    "either yet (nor arithmetic on a list's items: that needs an array)",
                hint="build the list with a comprehension, `[x for _ in range(3)]`, or with "
                     "`ys.append(v)`; for arithmetic on the items, use `np.array(...)`")
        if isinstance(op, ast.Pow):
            return self._power(left, right, ctx, node, hint, lib=None)
        if isinstance(op, ast.MatMult):
            return self.matmul(left, right, node, ctx, hint)
        if isinstance(op, (ast.BitAnd, ast.BitOr)) and left.kind is right.kind is Kind.BOOL:
            # masks: `(x > 0) & (x < 1)`, as NumPy code combines comparisons of arrays
            return self.emit("logical_and" if isinstance(op, ast.BitAnd) else "logical_or",
                             [left, right], ctx, node, hint, lib=P.NUMPY)
        prim = _BINOPS.get(type(op))
        if prim is None:
            raise self.unsupported(ctx.pf, node,
                                   f"the operator `{_op_symbol(op)}` is not supported",
                                   why="bitwise operators act on the bits of ints; they have no "
                                       "derivative",
                                   hint="use + - * / ** // % @ (a parity test is `n % 2`); "
                                        "combine conditions with `and` / `or`")
        return self.emit(prim, [left, right], ctx, node, hint)

    def _power(self, base: Value, exponent: Value, ctx: _Ctx, node: ast.AST, hint: str | None,
               lib: str | None) -> Value:
        n = self.b.const_value(exponent)
        if n is not None and not isinstance(n, bool) and lib is None:
            return self.emit("powc", [base], ctx, node, hint, exponent=n)
        attrs = {"lib": lib} if lib else {}
        return self.emit("pow", [base, exponent], ctx, node, hint, **attrs)

    # -- calls -------------------------------------------------------------------------------
    def _resolve_callee(self, func: ast.expr, ctx: _Ctx) -> Any:
        if isinstance(func, ast.Name):
            if isinstance(ctx.env.get(func.id), _FUNCTIONS):
                return ctx.env[func.id]  # a nested function, or a function passed in
            if func.id in ctx.env:
                raise self.container_use(ctx.env[func.id], self.unsupported(
                    ctx.pf, func, f"`{func.id}` is a local value and cannot be called",
                    why="s2sad calls the functions it knows when it compiles",
                    hint="call a module-level function by its name"))
            got = ctx.pf.resolver.lookup(func.id)
            if got is None:
                raise NameResolutionError(
                    f"name `{func.id}` is not defined", ctx.pf.loc(func),
                    why="s2sad resolves callees statically, from the module's own definitions "
                        "and imports",
                    hint="define the function in the same module, or import it from math or "
                         "numpy")
            return got
        if isinstance(func, ast.Attribute):
            chain, base = [], func
            while isinstance(base, ast.Attribute):
                chain.append(base.attr)
                base = base.value
            if isinstance(base, ast.Name) and base.id not in ctx.env:
                got = library_ref(ctx.pf.resolver.lookup(base.id), chain[::-1])
                if got is not None:  # scipy.special.gammaln, st.norm.logpdf, np.var
                    return got
            if isinstance(func.value, ast.Name) and func.value.id not in ctx.env:
                mod = ctx.pf.resolver.lookup(func.value.id)
                if isinstance(mod, ModuleRef):
                    got = (numpy_member(mod.sub, func.attr) if mod.lib == P.NUMPY
                           else library_member(mod.lib, func.attr))
                    if isinstance(got, ModuleRef):
                        raise self._not_a_value(ctx, func, ast.unparse(func), got)
                    if got is None:
                        lib = "math" if mod.lib == P.MATH else (
                            f"numpy.{mod.sub}" if mod.sub else "numpy")
                        raise _cannot_call(NameResolutionError(
                            f"`{ast.unparse(func)}` is not supported",
                            ctx.pf.loc(func),
                            why=f"s2sad knows no derivative rule for `{lib}.{func.attr}`",
                            hint=library.nearest_hint(f"{lib}.{func.attr}") +
                            "write it with the supported functions (README, \"What "
                                 "s2sad differentiates\"); or " + wrap_hint(
                                     f"{lib}.{func.attr}")), ast.unparse(func))
                    return got
                if isinstance(mod, OtherModuleRef):
                    got = ctx.pf.resolver.member(mod.name, func.attr)
                    if got is not None:  # s2sad.stop_gradient, mymodule.custom_primitive
                        return got
                    raise _cannot_call(NameResolutionError(
                        f"`{ast.unparse(func)}` comes from module `{mod.name}`, which s2sad "
                        "cannot see into", ctx.pf.loc(func), why=LIBRARY_WHY,
                        hint=library_hint(ast.unparse(func))), ast.unparse(func))
            if isinstance(func.value, ast.Attribute) and isinstance(func.value.value, ast.Name):
                mod = ctx.pf.resolver.lookup(func.value.value.id)
                name = f"{func.value.attr}.{func.attr}"
                if isinstance(mod, ModuleRef) and mod.lib == P.NUMPY and not mod.sub and (
                        name in ARRAY_NAMES):
                    return ArrayFuncRef(name)
                if isinstance(mod, ModuleRef) and mod.lib == P.NUMPY:
                    raise NameResolutionError(
                        f"`{ast.unparse(func)}` is not supported", ctx.pf.loc(func),
                        why=f"s2sad knows no derivative rule for `{ast.unparse(func)}`",
                        hint=library.nearest_hint(f"numpy.{name}") +
                        "see the README for the supported NumPy functions; create "
                             "random numbers and data outside the differentiated function")
            raise _cannot_call(self.unsupported(
                ctx.pf, func, f"calling `{ast.unparse(func)}` is not supported",
                why=LIBRARY_WHY, hint=library_hint(ast.unparse(func))), ast.unparse(func))
        raise self.unsupported(ctx.pf, func, "calling a computed expression is not supported",
                               hint="call a function by its name")

    def expr_Call(self, node: ast.Call, ctx: _Ctx, hint: str | None) -> Any:
        node = self.expand_starred(node, ctx)
        if self._is_builtin(node.func, "map", ctx) and len(node.args) >= 2 and (
                not node.keywords):  # map(f, xs, ys): [f(a, b) for a, b in zip(xs, ys)]
            fn = self.hidden("map_f")  # the function, once (a lambda, np.sin, a helper)
            ctx.env[fn] = self.expr(node.args[0], ctx)
            names = [self.hidden("v") for _ in node.args[1:]]
            return self.expr(ast.copy_location(_map_as_comprehension(node, fn, names), node),
                             ctx, hint)
        for a in node.args:
            if isinstance(a, ast.Starred):
                raise self._reject(ctx.pf, a)
        source = self.random_source(node.func, ctx)
        if source is not None:  # rng.standard_normal(n): a draw, once, where it stands
            return self.random_draw(source, node, ctx, hint)
        if isinstance(node.func, ast.Attribute) and self._bound_self(node.func.value, ctx):
            method = self._bound_method(node.func, ctx)
            if method is not None:  # self.predict(x), self._f(x) of an object with __call__
                return self._inline(method, node, ctx, hint, self_value=self.top_params[0])
        if isinstance(node.func, ast.Attribute) and not self._names_module(node.func.value, ctx):
            base = self.expr(node.func.value, ctx)
            if not hasattr(np.ndarray, node.func.attr) and self.root_param(base) is not None:
                raise self.container_use(base, self.unsupported(  # params.items()
                    ctx.pf, node.func, f"the method `.{node.func.attr}()` is not supported",
                    hint="use a NumPy function on the value"))
            return self.array_method(self.value(node.func.value, ctx), node, ctx, hint)
        callee = self._resolve_callee(node.func, ctx)
        spelled = ast.unparse(node.func)
        if isinstance(callee, FuncRef):
            return self._inline(callee, node, ctx, hint)
        if isinstance(callee, LocalFunction):
            return self._inline_local(callee, node, ctx, hint)
        if isinstance(callee, ArrayFuncRef):
            return self.array_call(callee.name, node, ctx, hint)
        if isinstance(callee, LibraryRef):
            if callee.name not in library.TABLE:
                raise self.unsupported(ctx.pf, node.func, f"`{spelled}` is not supported",
                                       why=f"s2sad knows functions of `{callee.name}`, which "
                                           "itself is not one",
                                       hint="call one of its functions (README, \"What "
                                            "s2sad differentiates\")")
            joined = self.run_time_join(callee.name, node, ctx, hint)  # np.vstack(rows)
            if joined is not None:
                return joined
            return library.call(self, callee.name, node, ctx, hint)
        if node.keywords:
            if isinstance(callee, CustomRef):
                raise self.unsupported(ctx.pf, node.keywords[0].value,
                                       f"keyword arguments to custom primitive `{spelled}` are "
                                       "not supported", hint="pass the arguments by position")
            raise self.unsupported(ctx.pf, node.keywords[0].value,
                                   f"keyword arguments to `{spelled}` are not supported",
                                   hint="pass the arguments by position")
        if isinstance(callee, PrimRef):
            return self._call_prim(callee, node, ctx, hint)
        if isinstance(callee, CustomRef):
            return self._call_custom(callee, node, ctx, hint)
        if isinstance(callee, BuiltinRef):
            return self._call_builtin(callee.name, node, ctx, hint)
        if isinstance(callee, Unsupported):
            raise _cannot_call(NameResolutionError(
                f"`{spelled}` is {callee.what}, which s2sad cannot call", ctx.pf.loc(node.func),
                why=callee.why or "s2sad differentiates only functions it can see into or "
                                  "knows a rule for",
                hint=callee.hint or _builtin_hint(spelled)), spelled)
        raise self._not_a_value(ctx, node.func, spelled, callee)

    def _args(self, node: ast.Call, ctx: _Ctx, counts: tuple[int, ...], spelled: str):
        if len(node.args) not in counts:
            want = " or ".join(str(c) for c in counts)
            raise self.unsupported(ctx.pf, node, f"`{spelled}` takes {want} argument(s) here, "
                                   f"got {len(node.args)}")
        return [self.value(a, ctx) for a in node.args]

    def _call_custom(self, ref: CustomRef, node: ast.Call, ctx: _Ctx, hint: str | None
                     ) -> Value:
        """A custom primitive (``@s2sad.primitive``): one op, its partials from its rule."""
        from ..custom import elementwise, register_custom

        spelled = ast.unparse(node.func)
        args = self._args(node, ctx, (len(ref.params),), spelled)
        for a, arg_node in zip(args, node.args, strict=True):
            if isinstance(a, tuple) or a.kind not in (Kind.FLOAT, Kind.INT, Kind.ARRAY):
                what = "a tuple" if isinstance(a, tuple) else _a(a.kind.name.lower())
                raise self.unsupported(
                    ctx.pf, arg_node, f"custom primitive `{spelled}` called on {what}",
                    why="custom primitives take numbers, or NumPy arrays they act on "
                        "elementwise",
                    hint="call it on each number, or on np.array(...)")
        try:
            prim = register_custom(ref)
        except S2SADError as err:
            if err.loc is not None:
                raise
            raise type(err)(err.what, ctx.pf.loc(node), why=err.why, hint=err.hint) from None
        if not elementwise(prim):
            for a, arg_node in zip(args, node.args, strict=True):
                if a.kind is Kind.ARRAY:
                    raise self.unsupported(
                        ctx.pf, arg_node, f"custom primitive `{spelled}` called on an array",
                        why="its jvp=/vjp= rules take numbers; arrays are not supported yet",
                        hint="give it partials= to apply it elementwise, or call it on each "
                             "number")
        return self.emit(prim, args, ctx, node, hint)

    def _call_prim(self, ref: PrimRef, node: ast.Call, ctx: _Ctx, hint: str | None) -> Value:
        if ref.prim == "stop_gradient":
            (x,) = self._args(node, ctx, (1,), ref.spelled)
            if isinstance(x, tuple) or x.kind not in (Kind.FLOAT, Kind.INT, Kind.ARRAY,
                                                      Kind.BOOL):
                what = "a tuple" if isinstance(x, tuple) else _a(x.kind.name.lower())
                raise self.unsupported(ctx.pf, node.args[0],
                                       f"`{ref.spelled}` of {what} is not supported",
                                       why="stop_gradient takes a number or an array",
                                       hint="apply it to each number, or use np.array(...)")
            return self.emit("stop_gradient", [x], ctx, node, hint)
        if ref.prim == "square":
            (x,) = self._args(node, ctx, (1,), ref.spelled)
            return self.emit("powc", [x], ctx, node, hint, exponent=2)
        if ref.prim == "log" and ref.lib == P.MATH:
            args = self._args(node, ctx, (1, 2), ref.spelled)
            if len(args) == 2:
                return self.emit("log_base", args, ctx, node, hint, lib=P.MATH)
            return self.emit("log", args, ctx, node, hint, lib=P.MATH)
        prim = P.PRIMITIVES[ref.prim]
        args = self._args(node, ctx, (prim.nin,), ref.spelled)
        if ref.prim == "pow":
            return self._power(args[0], args[1], ctx, node, hint, lib=ref.lib)
        return self.emit(ref.prim, args, ctx, node, hint, lib=ref.lib)

    def _call_builtin(self, name: str, node: ast.Call, ctx: _Ctx, hint: str | None) -> Value:
        if name == "len":
            (arg,) = node.args if len(node.args) == 1 else self._args(node, ctx, (1,), "len")
            return self.length(arg, ctx)
        if name == "sum" or (name in ("max", "min") and len(node.args) == 1):
            if not 1 <= len(node.args) <= (2 if name == "sum" else 1):
                self._args(node, ctx, (1, 2) if name == "sum" else (1,), name)
            return self.reduction(name, node, ctx, hint)
        if name == "reduce":
            return self.fold(node, ctx, hint)
        if name in ("range", "enumerate", "zip"):
            raise self.unsupported(ctx.pf, node, f"`{name}(...)` is only supported as the "
                                   "iterable of a `for` loop",
                                   hint=f"for ... in {name}(...): ...")
        if name in ("max", "min"):
            if len(node.args) < 2:
                raise self.unsupported(
                    ctx.pf, node, f"`{name}` needs an argument",
                    hint=f"write `{name}(a, b)` or `{name}(xs)`")
            args = [self.value(a, ctx) for a in node.args]
            acc = args[0]
            for i, a in enumerate(args[1:], start=2):
                acc = self.emit(f"{name}2", [acc, a], ctx, node,
                                hint if i == len(args) else None, lib=P.BUILTIN)
            return acc
        if name == "abs":
            (x,) = self._args(node, ctx, (1,), name)
            return self.emit("abs", [x], ctx, node, hint, lib=P.BUILTIN)
        if name == "pow":
            base, exponent = self._args(node, ctx, (2,), "pow")
            return self._power(base, exponent, ctx, node, hint, lib=None)
        if name == "round":
            (x,) = self._args(node, ctx, (1,), "round")
            return self.emit("round", [x], ctx, node, hint, lib=P.BUILTIN)
        if name == "int":
            (x,) = self._args(node, ctx, (1,), "int")
            return self.emit("trunc", [x], ctx, node, hint, lib=P.BUILTIN)
        if name == "float":
            if len(node.args) == 1 and isinstance(node.args[0], ast.Constant) and isinstance(
                    node.args[0].value, str):  # float("inf"), float("nan"): a constant
                try:
                    return self.b.const(float(node.args[0].value))
                except ValueError:
                    raise self.unsupported(ctx.pf, node, f"`{ast.unparse(node)}` is not a "
                                           "number", hint='float("inf"), float("nan"), or a '
                                           "number") from None
            (x,) = self._args(node, ctx, (1,), "float")
            return x
        if name == "list":
            if len(node.args) != 1:
                raise self.unsupported(ctx.pf, node, "`list` takes one argument here",
                                       hint="`list(xs)` copies a list; `[]` is an empty one")
            value = self.expr(node.args[0], ctx)
            if isinstance(value, tuple):
                return self.own(self.emit("list_lit", list(value), ctx, node, hint))
            return self.own(self.emit("list_copy", [self.as_list(value, node.args[0], ctx)],
                                      ctx, node, hint))
        raise self.unsupported(ctx.pf, node, f"the builtin `{name}` is not supported")

    def _names_module(self, node: ast.expr, ctx: _Ctx) -> bool:
        """Is ``node`` a module (``np``, ``np.linalg``, ``math``), not a value?"""
        if isinstance(node, ast.Attribute):
            return self._names_module(node.value, ctx)
        if isinstance(node, ast.Name) and node.id not in ctx.env:
            got = ctx.pf.resolver.lookup(node.id)
            return got is None or not isinstance(got, (ConstRef, ArrayRef))
        return False

    # -- functions defined inside the function ---------------------------------------------
    def visit_FunctionDef(self, node: ast.FunctionDef, ctx: _Ctx) -> None:
        """A nested ``def``: a function value of this body, inlined where it is called."""
        if node.decorator_list:
            raise self.unsupported(ctx.pf, node.decorator_list[0], "a decorated nested "
                                   "function is not supported", hint="define it without "
                                   "decorators, or at module level")
        ctx.env[node.name] = LocalFunction(node, ctx.pf, ctx.stack)

    def expr_Lambda(self, node: ast.Lambda, ctx: _Ctx, hint: str | None) -> Any:
        """``act = lambda t: np.tanh(t)``: as a nested ``def`` of one ``return``."""
        fdef = ast.FunctionDef(name=hint or "lambda_", args=node.args,
                               body=[ast.copy_location(ast.Return(node.body), node.body)],
                               decorator_list=[], returns=None, type_comment=None,
                               **({"type_params": []} if hasattr(ast, "TypeAlias") else {}))
        return LocalFunction(ast.copy_location(fdef, node), ctx.pf, ctx.stack)

    def _inline_local(self, fn: LocalFunction, node: ast.Call, ctx: _Ctx, hint) -> Any:
        """Call a nested function: its body sees the caller's variables as they are now
        (Python's closures read a variable when the function runs), then its
        parameters."""
        if ctx.pf is not fn.pf or ctx.stack != fn.stack:
            raise self.unsupported(
                ctx.pf, node, f"calling the nested function `{fn.node.name}` outside the "
                "function that defines it", why="s2sad inlines a nested function where its "
                "variables are in scope", hint="define it at module level and pass the "
                "values it uses as parameters")
        pf = ParsedFunction(fn.node, fn.pf.filename, fn.pf.lines, fn.pf.resolver,
                            fn.pf.line_offset, fn.pf.col_offset,
                            identity=(fn.pf.identity, fn.node.lineno, fn.node.col_offset))
        outer = {k: v for k, v in ctx.env.items() if not isinstance(v, Undefined)}
        return self._inline(FuncRef(pf.identity, lambda: pf), node, ctx, hint, outer)

    def _inline(self, ref: FuncRef, node: ast.Call, ctx: _Ctx, hint: str | None,
                outer_env: dict[str, Any] | None = None, self_value: Any = None) -> Any:
        """Lower a call of ``ref`` by lowering its body with the arguments bound (for a
        method, ``self_value`` is what its first parameter holds)."""
        if ref.key in ctx.stack:
            raise self.unsupported(
                ctx.pf, node, f"recursive call to `{ast.unparse(node.func)}`",
                why="a recursive function has no fixed code to differentiate",
                hint="write the recursion as a loop (`for` over `range(n)`, or `while`), "
                     "carrying the values the calls would pass")
        callee = ref.get()
        self._check_signature(callee)
        names = [a.arg for a in callee.node.args.posonlyargs + callee.node.args.args]
        defaults = self._defaults(callee)
        bound: dict[str, Any] = {}
        if self_value is not None and names:
            bound[names[0]] = self_value
            names, defaults = names[1:], defaults[1:]
        vararg = callee.node.args.vararg
        if len(node.args) > len(names) and vararg is None:
            raise self.unsupported(ctx.pf, node, f"`{callee.name}` takes {len(names)} "
                                   f"arguments, got {len(node.args)}",
                                   why="the call does not match the function's parameters",
                                   hint=f"call it as {callee.name}({', '.join(names)})")
        for name, a in zip(names, node.args, strict=False):
            bound[name] = self.expr(a, ctx)
        if vararg is not None:  # def concat(W, *args): a tuple of the extra arguments
            bound[vararg.arg] = tuple(self.expr(a, ctx) for a in node.args[len(names):])
        for kw in node.keywords:
            if kw.arg is None:
                raise self._reject(ctx.pf, kw.value)
            if kw.arg not in names or kw.arg in bound:
                raise self.unsupported(ctx.pf, kw.value, f"unexpected keyword argument "
                                       f"`{kw.arg}` for `{callee.name}`")
            bound[kw.arg] = self.expr(kw.value, ctx)
        for name, default in zip(names, defaults, strict=True):
            if name not in bound:
                if default is NO_DEFAULT:
                    raise self.unsupported(ctx.pf, node, f"missing argument `{name}` for "
                                           f"`{callee.name}`")
                if isinstance(default, ArrayDefault):  # the helper's own array default
                    bound[name] = self.environment_array(ArrayRef(default.value), name,
                                                         ctx.pf.loc(node))
                elif isinstance(default, FunctionDefault):
                    bound[name] = self._default_value(default)
                else:
                    bound[name] = self.b.const(default, ctx.pf.loc(node))
        outer = self.borrowed
        self.borrowed = outer | {v for v in bound.values()
                                 if isinstance(v, Value) and v.kind is Kind.ARRAY}
        try:
            return self._body(callee, {**(outer_env or {}), **bound}, ctx.stack + (ref.key,))
        finally:
            self.borrowed = outer


@dataclass(frozen=True, eq=False)
class LocalFunction:
    """A function defined inside the function being lowered (``def`` or ``lambda``):
    a compile-time value, inlined where it is called."""

    node: ast.FunctionDef
    pf: ParsedFunction  # the function whose body defines it
    stack: tuple


class _Ctx:
    """The state of one function body being lowered (a callee gets its own)."""

    __slots__ = ("pf", "env", "stack", "in_loop")

    def __init__(self, pf: ParsedFunction, env: dict[str, Any], stack: tuple,
                 in_loop: bool = False) -> None:
        self.pf = pf
        self.env = env
        self.stack = stack
        self.in_loop = in_loop

    def branch(self) -> _Ctx:
        """The context of one branch: a copy of the variables, the same loop."""
        return _Ctx(self.pf, dict(self.env), self.stack, self.in_loop)

    def loop_body(self) -> _Ctx:
        return _Ctx(self.pf, dict(self.env), self.stack, True)


class Returned:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _cannot_call(err: S2SADError, spelled: str) -> S2SADError:
    """``err``, marked as about a callee s2sad cannot call (``err.callee``): a custom
    primitive's rule that calls it is told to wrap it in a primitive of its own."""
    err.callee = spelled
    return err


# What to use instead of builtins that look numeric but s2sad does not call.
_BUILTIN_HINTS = {
    "sorted": "sort the values before calling the differentiated function (s2sad has no "
              "derivative of sorting yet); for the largest or smallest item, max(xs) or "
              "min(xs) work",
    "eval": "write the expression itself in the function",
    "exec": "write the statements themselves in the function",
    "map": "use a list comprehension: `[f(v) for v in xs]`",
    "filter": "use a list comprehension with `if`: `[v for v in xs if v > 0]`",
}


def _builtin_hint(spelled: str) -> str:
    return _BUILTIN_HINTS.get(spelled, "use math or NumPy functions s2sad supports, or "
                                       "functions of your own code")


def _map_as_comprehension(call: ast.Call, fn: str, names: list[str]) -> ast.ListComp:
    """``map(f, xs, ys)`` as ``[f(a0, a1) for a0, a1 in zip(xs, ys)]`` (hidden ``names``;
    the function is held by name ``fn``)."""
    iters = call.args[1:]
    target: ast.expr = (ast.Name(names[0], ast.Store()) if len(names) == 1 else
                        ast.Tuple([ast.Name(n, ast.Store()) for n in names], ast.Store()))
    source = iters[0] if len(iters) == 1 else ast.Call(ast.Name("zip", ast.Load()),
                                                       list(iters), [])
    elt = ast.Call(ast.Name(fn, ast.Load()), [ast.Name(n, ast.Load()) for n in names], [])
    return ast.ListComp(elt=elt, generators=[ast.comprehension(target, source, [], 0)])


def _is_docstring(stmt: ast.stmt) -> bool:
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str))


def _a(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def _op_symbol(op: ast.operator) -> str:
    return {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
            ast.RShift: ">>", ast.MatMult: "@", ast.Add: "+", ast.Sub: "-", ast.Mult: "*",
            ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**"}.get(
                type(op), type(op).__name__)


def _flat_defaults(arguments: list, defaults: tuple, pf: ParsedFunction) -> tuple:
    """``defaults`` (one per source parameter) as one per flat parameter: a container
    parameter's leaves have none."""
    out: list[Any] = []
    marks = list(defaults) + [NO_DEFAULT] * (len(arguments) - len(defaults))  # (*args)
    for a, d in zip(arguments, marks, strict=True):
        if isinstance(a, int):
            out.append(d)
        elif isinstance(a.pack, Pack):
            out.extend([NO_DEFAULT] * len(list(a.pack.leaves())))
    return tuple(out)


def lower(pf: ParsedFunction, structures: dict[str, Any] | None = None) -> Function:
    """Lift a parsed function into IR (for the structures of its container arguments, when
    known: see :mod:`.containers`)."""
    return Lowerer(pf, structures).lower()


def _describe(value: Any) -> str:
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__}"
    return f"a {type(value).__name__} object"


# compile-time function values: what a name may be bound to and called through
_FUNCTIONS = (FuncRef, PrimRef, ArrayFuncRef, LibraryRef, CustomRef, BuiltinRef, LocalFunction)


def _library_spelling(ref: Any) -> str | None:
    """``np.tanh`` for a NumPy or math function's reference (``None``: another)."""
    if isinstance(ref, PrimRef) and ref.lib in (P.MATH, P.NUMPY):
        return f"{'math' if ref.lib == P.MATH else 'np'}.{ref.spelled.rpartition('.')[2]}"
    return None


def _repeated_list(node: ast.BinOp) -> ast.ListComp | None:
    """``[x] * n`` (or ``n * [x]``) as ``[x for _ in range(n)]``, when ``x`` is a
    name or a constant (evaluating it once or n times is then the same)."""
    if not isinstance(node.op, ast.Mult):
        return None
    for lst, count in ((node.left, node.right), (node.right, node.left)):
        if (isinstance(lst, ast.List) and len(lst.elts) == 1
                and isinstance(lst.elts[0], (ast.Name, ast.Constant, ast.UnaryOp))
                and not isinstance(count, ast.List)):
            loop = ast.comprehension(target=ast.Name("_", ast.Store()),
                                     iter=ast.Call(ast.Name("range", ast.Load()), [count], []),
                                     ifs=[], is_async=0)
            return ast.copy_location(ast.ListComp(elt=lst.elts[0], generators=[loop]), node)
    return None
