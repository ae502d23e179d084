"""Name resolution: what a free name of the user's function means.

``math.sin``, ``m.sin`` (after ``import math as m``), ``np.sin``,
``numpy.sin`` and ``from math import sin, exp as e`` all resolve to the
primitive ``sin`` with the library it was spelt with; module-level numeric
constants resolve to their value; other functions of the same module
resolve to themselves (the lowering inlines them).

Two resolvers share this vocabulary: :class:`LiveResolver` looks at a live
function's globals and closure; :class:`StaticResolver` reads a module's
imports and assignments without executing anything.
"""

from __future__ import annotations

import ast
import builtins
import math
import numbers
import operator
import sys
import types
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import primitives as P
from ..custom import MARK, CustomRef, live_ref, static_ref, stop_gradient
from . import environment

# What each library name means: a primitive, or a constant.
MATH_FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan",
    "atan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "asinh",
    "acosh": "acosh", "atanh": "atanh", "exp": "exp", "expm1": "expm1", "log": "log",
    "log1p": "log1p", "log2": "log2", "log10": "log10", "sqrt": "sqrt", "hypot": "hypot",
    "pow": "pow", "erf": "erf", "erfc": "erfc", "fabs": "abs", "floor": "floor",
    "ceil": "ceil", "trunc": "trunc",
}
NUMPY_FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
    "arctan": "atan", "arctan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "exp": "exp",
    "expm1": "expm1", "log": "log", "log1p": "log1p", "log2": "log2", "log10": "log10",
    "sqrt": "sqrt", "hypot": "hypot", "power": "pow", "abs": "abs", "absolute": "abs",
    "fabs": "abs", "floor": "floor", "ceil": "ceil", "trunc": "trunc", "sign": "sign",
    "maximum": "max2", "minimum": "min2", "square": "square", "round": "round",
    "logaddexp": "logaddexp",
}
MATH_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf,
                  "nan": math.nan}
NUMPY_CONSTANTS = {"pi": np.pi, "e": np.e, "inf": np.inf, "nan": np.nan}
BUILTINS = {"abs", "pow", "max", "min", "round", "float", "int", "len", "sum", "range",
            "enumerate", "zip", "list"}
LIBRARIES = {"math": P.MATH, "numpy": P.NUMPY}


@dataclass(frozen=True)
class ModuleRef:
    lib: str  # P.MATH or P.NUMPY


@dataclass(frozen=True)
class OtherModuleRef:
    name: str


@dataclass(frozen=True)
class PrimRef:
    prim: str  # a primitive name, or "square"
    lib: str
    spelled: str  # how the user wrote it, for messages


@dataclass(frozen=True)
class ConstRef:
    value: int | float


@dataclass(frozen=True)
class BuiltinRef:
    name: str


@dataclass(frozen=True)
class FuncRef:
    key: object  # what identifies the function (recursion detection)
    get: Any  # () -> ParsedFunction


@dataclass(frozen=True)
class Unsupported:
    what: str  # a description of the object, for the error message


Resolved = (ModuleRef | OtherModuleRef | PrimRef | ConstRef | BuiltinRef | FuncRef | CustomRef
            | Unsupported)

STOP_GRADIENT = PrimRef("stop_gradient", P.BUILTIN, "stop_gradient")


def library_member(lib: str, attr: str) -> Resolved | None:
    """``math.<attr>`` / ``np.<attr>``: a primitive, a constant, or None if unknown."""
    functions = MATH_FUNCTIONS if lib == P.MATH else NUMPY_FUNCTIONS
    constants = MATH_CONSTANTS if lib == P.MATH else NUMPY_CONSTANTS
    if attr in constants:
        return ConstRef(constants[attr])
    prim = functions.get(attr)
    if prim is not None:
        return PrimRef(prim, lib, f"{'math' if lib == P.MATH else 'np'}.{attr}")
    return None


class Resolver:
    """Maps a free name of a function to what it means (``None``: undefined)."""

    def lookup(self, name: str) -> Resolved | None:
        raise NotImplementedError

    def member(self, module: str, attr: str) -> Resolved | None:
        """``module.attr`` for a module other than math/numpy (``s2sad.stop_gradient``),
        or None if s2sad cannot see into it."""
        if module == "s2sad" and attr == "stop_gradient":
            return STOP_GRADIENT
        return None


# -- live functions ---------------------------------------------------------------------------


def _reverse_table(module: Any, table: dict[str, str | None], lib: str) -> dict[int, PrimRef]:
    out = {}
    for attr, prim in table.items():
        obj = getattr(module, attr, None)
        if obj is not None and prim is not None:
            out.setdefault(id(obj), PrimRef(prim, lib, f"{module.__name__}.{attr}"))
    return out


_LIVE_PRIMS = {**_reverse_table(np, NUMPY_FUNCTIONS, P.NUMPY),
               **_reverse_table(math, MATH_FUNCTIONS, P.MATH)}


def classify(obj: Any) -> Resolved:
    """What a live object means to s2sad."""
    if obj is math:
        return ModuleRef(P.MATH)
    if obj is np:
        return ModuleRef(P.NUMPY)
    if isinstance(obj, types.ModuleType):
        return OtherModuleRef(obj.__name__)
    if isinstance(obj, bool):
        return Unsupported("a bool constant")
    if isinstance(obj, numbers.Real) and not isinstance(obj, np.ndarray):
        if isinstance(obj, numbers.Integral):
            return ConstRef(operator.index(obj))
        return ConstRef(float(obj))
    found = _LIVE_PRIMS.get(id(obj))
    if found is not None:
        return found
    if obj is stop_gradient:
        return STOP_GRADIENT
    spec = getattr(obj, MARK, None)
    if spec is not None and isinstance(obj, types.FunctionType):
        return live_ref(obj, spec)
    for name in BUILTINS:
        if obj is getattr(builtins, name):
            return BuiltinRef(name)
    if isinstance(obj, types.FunctionType):
        from .source import from_function

        return FuncRef(obj.__code__, lambda: from_function(obj))
    return Unsupported(f"a {type(obj).__name__} object")


class LiveResolver(Resolver):
    """Resolves names through a live function's closure, globals and builtins.

    Values are read when the function is compiled, and every read is recorded
    (:mod:`.environment`), so that the caches compile again when one of them changes.
    """

    def __init__(self, fn: types.FunctionType) -> None:
        self.fn = fn
        self.scope: dict[str, Any] = dict(fn.__globals__)
        self.cells: set[str] = set()
        if fn.__closure__:
            for name, cell in zip(fn.__code__.co_freevars, fn.__closure__, strict=True):
                try:
                    self.scope[name] = cell.cell_contents
                    self.cells.add(name)
                except ValueError:  # an empty cell
                    continue

    def lookup(self, name: str) -> Resolved | None:
        reads = environment.current()
        if reads is not None:
            step = ("c", name) if name in self.cells else ("g", name)
            reads.name(self.fn, step, environment.look_up(self.fn, step))
        if name in self.scope:
            return classify(self.scope[name])
        if name in BUILTINS:
            return BuiltinRef(name)
        if hasattr(builtins, name):
            return Unsupported(f"the builtin {name}")
        return None

    def member(self, module: str, attr: str) -> Resolved | None:
        got = super().member(module, attr)
        if got is None:  # mymodule.log1pexp: a custom primitive of another module
            obj = getattr(sys.modules.get(module), attr, None)
            if obj is not None and getattr(obj, MARK, None) is not None:
                return classify(obj)
        return got


# -- source files, read statically ----------------------------------------------------------


class _ConstEval(ast.NodeVisitor):
    """Evaluates a module-level constant expression made of numbers and other constants."""

    _OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
            ast.Div: operator.truediv, ast.Pow: operator.pow, ast.FloorDiv: operator.floordiv,
            ast.Mod: operator.mod}

    def __init__(self, resolver: StaticResolver) -> None:
        self.resolver = resolver

    def generic_visit(self, node: ast.AST) -> Any:
        raise ValueError("not a constant")

    def visit_Constant(self, node: ast.Constant) -> Any:
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ValueError("not a number")
        return node.value

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        v = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -v
        if isinstance(node.op, ast.UAdd):
            return v
        raise ValueError("operator")

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        op = self._OPS.get(type(node.op))
        if op is None:
            raise ValueError("operator")
        return op(self.visit(node.left), self.visit(node.right))

    def _const(self, got: Resolved | None) -> Any:
        if isinstance(got, ConstRef):
            return got.value
        raise ValueError("not a constant")

    def visit_Name(self, node: ast.Name) -> Any:
        return self._const(self.resolver.lookup(node.id))

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        if isinstance(node.value, ast.Name):
            mod = self.resolver.lookup(node.value.id)
            if isinstance(mod, ModuleRef):
                return self._const(library_member(mod.lib, node.attr))
        raise ValueError("not a constant")

    def visit_Call(self, node: ast.Call) -> Any:
        # math.sqrt(2) and the like, evaluated with the library itself.
        func = node.func
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
                and not node.keywords):
            mod = self.resolver.lookup(func.value.id)
            if isinstance(mod, ModuleRef):
                member = library_member(mod.lib, func.attr)
                if isinstance(member, PrimRef) and member.prim in P.PRIMITIVES:
                    args = [self.visit(a) for a in node.args]
                    return P.PRIMITIVES[member.prim].evaluate(mod.lib, *args)
        raise ValueError("not a constant")


class StaticResolver(Resolver):
    """Resolves names from a module's source: imports, constant assignments, functions."""

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.names: dict[str, Resolved] = {}
        self.functions: dict = {}  # filled in by parse_file
        self.primitive_names: set[str] = set()  # names bound to s2sad.primitive
        self._custom: dict[str, CustomRef] = {}
        assigned: dict[str, int] = {}
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    lib = LIBRARIES.get(alias.name)
                    bound = alias.asname or alias.name.split(".")[0]
                    self.names[bound] = ModuleRef(lib) if lib and (
                        alias.asname or "." not in alias.name) else OtherModuleRef(alias.name)
            elif isinstance(node, ast.ImportFrom):
                lib = LIBRARIES.get(node.module or "") if not node.level else None
                for alias in node.names:
                    bound = alias.asname or alias.name
                    got = library_member(lib, alias.name) if lib else None
                    if node.module == "s2sad" and not node.level:
                        if alias.name == "primitive":
                            self.primitive_names.add(bound)
                        got = self.member("s2sad", alias.name)
                    self.names[bound] = got or Unsupported(
                        f"`{alias.name}` imported from {'.' * node.level}{node.module or ''}")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            assigned[n.id] = assigned.get(n.id, 0) + 1
                if node.value is None:
                    continue
                if len(targets) != 1:
                    continue
                pairs = [(targets[0], node.value)]
                if (isinstance(targets[0], ast.Tuple) and isinstance(node.value, ast.Tuple)
                        and len(targets[0].elts) == len(node.value.elts)):
                    pairs = list(zip(targets[0].elts, node.value.elts, strict=True))
                for target, value_node in pairs:  # X1, X2 = 0.5, 1.5 too
                    if isinstance(target, ast.Name):
                        self.names[target.id] = self._constant(value_node)
            elif isinstance(node, (ast.ClassDef, ast.AsyncFunctionDef)):
                self.names[node.name] = Unsupported(f"the {type(node).__name__} {node.name}")
        for name, count in assigned.items():
            if count > 1:
                self.names[name] = Unsupported("a module-level name assigned more than once")

    def _constant(self, node: ast.expr) -> Resolved:
        try:
            return ConstRef(_ConstEval(self).visit(node))
        except (ValueError, ArithmeticError, TypeError):
            return Unsupported("a module-level value that is not a numeric constant")

    def _is_primitive_decorator(self, node: ast.expr) -> bool:
        """``s2sad.primitive`` (after ``import s2sad``) or ``primitive`` (after ``from
        s2sad import primitive``)."""
        if isinstance(node, ast.Name):
            return node.id in self.primitive_names
        return (isinstance(node, ast.Attribute) and node.attr == "primitive"
                and isinstance(node.value, ast.Name)
                and self.names.get(node.value.id) == OtherModuleRef("s2sad"))

    def lookup(self, name: str) -> Resolved | None:
        if name in self.functions:
            pf = self.functions[name]
            got = self._custom.get(name)
            if got is not None:
                return got
            from ..custom import _decorator_call

            decorator = _decorator_call(pf.node, self._is_primitive_decorator)
            if decorator is not None:
                got = self._custom[name] = static_ref(pf, decorator, self.functions)
                return got
            return FuncRef(pf.identity, lambda: pf)
        if name in self.names:
            return self.names[name]
        if name in BUILTINS:
            return BuiltinRef(name)
        if hasattr(builtins, name):
            return Unsupported(f"the builtin {name}")
        return None
