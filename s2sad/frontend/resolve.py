"""Name resolution: what a free name of the user's function means.

``math.sin``, ``m.sin`` (after ``import math as m``), ``np.sin``,
``numpy.sin`` and ``from math import sin, exp as e`` all resolve to the
primitive ``sin`` with the library it was spelt with.  NumPy's array functions
are resolved by what they are, not by how they were imported: ``sum`` after
``from numpy import sum`` (which shadows the builtin), ``npsum`` after ``from
numpy import sum as npsum``, ``solve`` after ``from numpy.linalg import solve``
and ``la.solve`` after ``import numpy.linalg as la`` all mean ``np.sum`` /
``np.linalg.solve`` (an :class:`ArrayFuncRef`).  Module-level numeric
constants resolve to their value; other functions of the same module
resolve to themselves (the lowering inlines them).

Two resolvers share this vocabulary: :class:`LiveResolver` looks at a live
function's globals and closure; :class:`StaticResolver` reads a module's
imports and assignments without executing anything.
"""

from __future__ import annotations

import ast
import builtins
import functools
import math
import numbers
import operator
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import library
from .. import primitives as P
from ..custom import MARK, CustomRef, live_ref, static_ref, stop_gradient, wrap_hint
from . import environment
from .arrays import ARRAY_FUNCTIONS, ARRAY_LATER

# What each library name means: a primitive, or a constant.
MATH_FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos", "atan": "atan",
    "atan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "asinh",
    "acosh": "acosh", "atanh": "atanh", "exp": "exp", "expm1": "expm1", "log": "log",
    "exp2": "exp2",
    "log1p": "log1p", "log2": "log2", "log10": "log10", "sqrt": "sqrt", "hypot": "hypot",
    "pow": "pow", "erf": "erf", "erfc": "erfc", "fabs": "abs", "floor": "floor",
    "ceil": "ceil", "trunc": "trunc", "gamma": "gamma", "lgamma": "gammaln", "fmod": "fmod",
    "isnan": "isnan", "isfinite": "isfinite", "isinf": "isinf", "cbrt": "cbrt",
    "copysign": "copysign", "remainder": "ieee_remainder",
}
NUMPY_FUNCTIONS = {
    "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
    "arctan": "atan", "arctan2": "atan2", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
    "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "exp": "exp", "exp2": "exp2",
    "expm1": "expm1", "log": "log", "log1p": "log1p", "log2": "log2", "log10": "log10",
    "sqrt": "sqrt", "hypot": "hypot", "power": "pow", "abs": "abs", "absolute": "abs",
    "fabs": "abs", "floor": "floor", "ceil": "ceil", "trunc": "trunc", "sign": "sign",
    "maximum": "max2", "minimum": "min2", "square": "square", "round": "round",
    "logaddexp": "logaddexp", "logical_and": "logical_and", "logical_or": "logical_or",
    "logical_not": "logical_not", "all": "np_all", "any": "np_any",
    "mod": "mod", "remainder": "mod", "fmod": "fmod", "floor_divide": "floordiv",
    "add": "add", "subtract": "sub", "multiply": "mul", "divide": "div", "true_divide": "div",
    "negative": "neg", "pow": "pow", "acos": "acos", "asin": "asin", "atan": "atan",
    "atan2": "atan2", "acosh": "acosh", "asinh": "asinh", "atanh": "atanh",  # NumPy 2 names
    "cbrt": "cbrt", "sinc": "sinc", "isnan": "isnan", "isfinite": "isfinite", "isinf": "isinf",
    "isscalar": "isscalar",
    "copysign": "copysign",
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
    sub: str = ""  # "linalg" for numpy.linalg


@dataclass(frozen=True)
class ArrayFuncRef:
    name: str  # np.<name> or "linalg.<name>": an array function of frontend/arrays.py


@dataclass(frozen=True)
class OtherModuleRef:
    name: str


@dataclass(frozen=True)
class LibraryRef:
    """A function of the library layer (``scipy.special.gammaln``, ``numpy.var``), or an
    object or module that holds some (``scipy.stats.norm``): :mod:`s2sad.library`."""

    name: str


@dataclass(frozen=True)
class PrimRef:
    prim: str  # a primitive name, or "square"
    lib: str
    spelled: str  # how the user wrote it, for messages


@dataclass(frozen=True)
class ConstRef:
    value: int | float


@dataclass(frozen=True, eq=False)
class ArrayRef:
    """A NumPy array of numbers from the environment (a module global, a closure value):
    a constant of the derivative, read by reference (not copied into the code).  The
    command line's arrays are literals of the source file (``static``), which the
    emitted module writes out."""

    value: np.ndarray
    static: bool = False

    def __repr__(self) -> str:
        if not isinstance(self.value, np.ndarray):  # a random generator (see draws.py)
            return f"<{type(self.value).__name__}>"
        return f"<array {self.value.dtype} {self.value.shape}>"


@dataclass(frozen=True, eq=False)
class DataRef:
    """A list, tuple or dict of numbers, strings and ``None`` from the environment
    (``shapes = [(2, 3), (3, 1)]``): read when s2sad compiles, as compile-time values,
    and compared by value on every call (see :func:`.environment.plain_data`)."""

    value: Any


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
    why: str | None = None  # why s2sad cannot use it, when there is more to say
    hint: str | None = None  # what to write instead, when there is more to say


Resolved = (ModuleRef | OtherModuleRef | LibraryRef | PrimRef | ConstRef | ArrayRef
            | BuiltinRef | FuncRef | CustomRef | ArrayFuncRef | DataRef | Unsupported)

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
    if lib == P.MATH:  # math.exp2, math.ldexp: entries of the library layer
        found = library.lookup(f"math.{attr}")
        return LibraryRef(found) if found else None
    return None


# NumPy's array functions by their qualified name: np.sum is "sum", np.linalg.solve is
# "linalg.solve"; both those s2sad differentiates and those it refuses with a hint
ARRAY_NAMES = ARRAY_FUNCTIONS | set(ARRAY_LATER)


def numpy_member(sub: str, attr: str) -> Resolved | None:
    """``attr`` of ``numpy`` (``sub == ""``) or of ``numpy.<sub>``, however it was reached
    (``np.sum``, ``from numpy import sum``, ``from numpy.linalg import solve``, ``la.solve``):
    a primitive, a constant, an array function, the submodule ``numpy.linalg``, or None."""
    if not sub:
        if attr == "linalg":
            return ModuleRef(P.NUMPY, "linalg")
        got = library_member(P.NUMPY, attr)
        if got is not None:
            return got
    name = f"{sub}.{attr}" if sub else attr
    if name in ARRAY_NAMES:
        return ArrayFuncRef(name)
    found = library.lookup(f"numpy.{name}")
    return LibraryRef(found) if found else None


def library_ref(base: Resolved | None, attrs: list[str]) -> LibraryRef | None:
    """``base.attr1.attr2…`` as an entry (or namespace) of the library layer, or None:
    ``st.norm.logpdf`` after ``import scipy.stats as st``, ``norm.logpdf`` after ``from
    scipy.stats import norm``."""
    if isinstance(base, ModuleRef):
        prefix = "math" if base.lib == P.MATH else "numpy" + (f".{base.sub}" if base.sub else "")
    elif isinstance(base, (OtherModuleRef, LibraryRef)):
        prefix = base.name
    else:
        return None
    found = library.lookup(".".join([prefix, *attrs]))
    return LibraryRef(found) if found else None


def _live_array_functions() -> dict[int, Resolved]:
    """The live NumPy array functions s2sad knows, by identity (see :func:`numpy_member`)."""
    out: dict[int, Resolved] = {id(np.linalg): ModuleRef(P.NUMPY, "linalg")}
    for name in sorted(ARRAY_NAMES):
        module, attr = (np.linalg, name[7:]) if name.startswith("linalg.") else (np, name)
        obj = getattr(module, attr, None)
        if obj is not None:
            out.setdefault(id(obj), ArrayFuncRef(name))
    return out


# `functools.reduce(operator.mul, xs, 1)`: the standard library's functional spellings of
# what s2sad knows (reduce is desugared into a loop; operator's functions are the operators)
_OPERATORS = {"add": "add", "mul": "mul", "sub": "sub", "truediv": "div", "neg": "neg",
              "pow": "pow"}


def standard_member(module: str, attr: str) -> Resolved | None:
    """``functools.reduce`` and ``operator.add``-style names, however imported."""
    if module == "functools" and attr == "reduce":
        return BuiltinRef("reduce")
    if module in ("operator", "_operator") and attr in _OPERATORS:
        return PrimRef(_OPERATORS[attr], P.BUILTIN, f"operator.{attr}")
    return None


_LIVE_STANDARD = {id(functools.reduce): ("functools", "reduce"),
                  **{id(getattr(operator, a)): ("operator", a) for a in _OPERATORS}}


class Resolver:
    """Maps a free name of a function to what it means (``None``: undefined)."""

    def lookup(self, name: str) -> Resolved | None:
        raise NotImplementedError

    def member(self, module: str, attr: str) -> Resolved | None:
        """``module.attr`` for a module other than math/numpy (``s2sad.stop_gradient``),
        or None if s2sad cannot see into it."""
        if module == "s2sad" and attr == "stop_gradient":
            return STOP_GRADIENT
        return standard_member(module, attr)


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
# after the primitives: np.abs is the primitive abs, not an array function
_LIVE_ARRAY = {k: v for k, v in _live_array_functions().items() if k not in _LIVE_PRIMS}


def classify(obj: Any) -> Resolved:
    """What a live object means to s2sad."""
    if obj is math:
        return ModuleRef(P.MATH)
    if obj is np:
        return ModuleRef(P.NUMPY)
    found = _LIVE_ARRAY.get(id(obj))
    if found is not None:  # np.sum however it was imported; numpy.linalg
        return found
    standard = _LIVE_STANDARD.get(id(obj))
    if standard is not None:  # functools.reduce, operator.mul
        return standard_member(*standard)  # type: ignore[return-value]
    if id(obj) not in _LIVE_PRIMS:
        name = library.live_name(obj)  # scipy.special.gammaln, scipy.stats.norm, np.var
        if name is not None:
            return LibraryRef(name)
    if isinstance(obj, types.ModuleType):
        return OtherModuleRef(obj.__name__)
    if isinstance(obj, bool):
        return Unsupported("a bool constant")
    if isinstance(obj, numbers.Real) and not isinstance(obj, np.ndarray):
        if isinstance(obj, numbers.Integral):
            return ConstRef(operator.index(obj))
        return ConstRef(float(obj))
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf":
        return ArrayRef(obj)
    if environment.plain_data(obj):
        return DataRef(obj)
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
    if type(obj).__module__.startswith("numba.") and isinstance(
            getattr(obj, "py_func", None), types.FunctionType):
        obj = obj.py_func  # an @numba.njit function: inlined as its Python function
    if isinstance(obj, types.FunctionType):
        if is_library_code(obj.__code__.co_filename):
            return library_function(obj)
        from .source import from_function

        return FuncRef(obj.__code__, lambda: from_function(obj))
    if callable(obj) and isinstance(getattr(obj, "__name__", None), str) and not isinstance(
            obj, type):  # compiled code: a ufunc, a builtin function of a library
        module = getattr(obj, "__module__", None)
        spelled = f"{module}.{obj.__name__}" if isinstance(module, str) else obj.__name__
        kind = "ufunc" if isinstance(obj, np.ufunc) else "library function"
        return Unsupported(f"the {kind} `{spelled}`", why=LIBRARY_WHY,
                           hint=library_hint(spelled))
    return Unsupported(f"a {type(obj).__name__} object")


# -- what s2sad inlines: the user's code, not libraries ------------------------------------
#
# A Python function the user's function calls is inlined (its body is lowered in place)
# when it is the user's own code.  A function whose source lives in the standard library
# or in an installed package (site-packages) is not: its internals use what s2sad does not
# differentiate (dtype checks, `try`, in-place updates, ...), and an error located inside
# it would point the user at code they did not write.  It is refused at the user's call
# site, with what to do instead (docs/decisions.md, "What s2sad inlines").


def _library_dirs() -> tuple[str, ...]:
    import os
    import site
    import sysconfig

    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        got = sysconfig.get_paths().get(key)
        if got:
            paths.add(got)
    try:
        paths.update(site.getsitepackages())
        paths.add(site.getusersitepackages())
    except AttributeError:  # some embedded interpreters have no site helpers
        pass
    return tuple(sorted({os.path.realpath(p) + os.sep for p in paths}))


_LIBRARY_DIRS: tuple[str, ...] | None = None


def is_library_code(filename: str) -> bool:
    """Is ``filename`` (a function's source file) part of the standard library or of an
    installed package, rather than the user's own code?"""
    import os

    global _LIBRARY_DIRS
    if _LIBRARY_DIRS is None:
        _LIBRARY_DIRS = _library_dirs()
    if not filename or filename.startswith("<"):  # <stdin>, a notebook cell: the user's
        return False
    real = os.path.realpath(filename)
    parts = real.split(os.sep)
    return ("site-packages" in parts or "dist-packages" in parts
            or any(real.startswith(d) for d in _LIBRARY_DIRS))


# What to write instead of a few library functions users reach for, with NumPy.
_LIBRARY_SPELLINGS = {
    "logsumexp": "`m = np.max(x); m + np.log(np.sum(np.exp(x - m)))`",
    "expit": "`1.0 / (1.0 + np.exp(-x))`",
    "softmax": "`e = np.exp(x - np.max(x)); e / np.sum(e)`",
    "log_softmax": "`x - (m + np.log(np.sum(np.exp(x - m))))` with `m = np.max(x)`",
    "xlogy": "`x * np.log(y)`",
    "mean": "`np.mean(x)`", "fmean": "`np.mean(x)`", "fsum": "`np.sum(x)`",
    "prod": "`np.prod(x)`",
}


def library_hint(spelled: str) -> str:
    """What to write instead of calling library function ``spelled`` (``scipy.special.
    logsumexp``): the same with supported NumPy operations, or a custom primitive."""
    name = spelled.rsplit(".", 1)[-1]
    with_numpy = _LIBRARY_SPELLINGS.get(name)
    if with_numpy:
        return f"write it with supported NumPy operations: {with_numpy}"
    return (library.nearest_hint(spelled) + "write it with supported math/NumPy operations, "
            "or compute the value before calling the differentiated function and pass it as "
            "a parameter; or, for a "
            f"function of numbers (or elementwise on arrays), {wrap_hint(spelled)}")


LIBRARY_WHY = ("s2sad differentiates your own Python code, and library functions it has "
               "derivative rules for; it does not look into other libraries' code")


def library_function(obj: types.FunctionType) -> Unsupported:
    """A function of the standard library or an installed package: not inlined."""
    module = getattr(obj, "__module__", None) or "a library"
    spelled = f"{module}.{obj.__qualname__}" if module != "a library" else obj.__qualname__
    return Unsupported(f"the library function `{spelled}`", why=LIBRARY_WHY,
                       hint=library_hint(spelled))


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
        if got is not None:
            return got
        space = sys.modules.get(module)
        obj = getattr(space, attr, None)
        if obj is None:
            return None
        if getattr(obj, MARK, None) is not None:  # mymodule.log1pexp: a custom primitive
            return classify(obj)
        if is_library_code(getattr(space, "__file__", None) or ""):
            return None  # an installed package's function: not inlined
        # `import helpers; helpers.act(x)`: the user's own module, read as its globals are
        reads = environment.current()
        if reads is not None:
            reads.attribute(space, attr, obj)
        return classify(obj)


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


def _imported_module(alias: ast.alias) -> Resolved:
    """What ``import <alias.name> [as <alias.asname>]`` binds: ``import numpy.linalg`` binds
    ``numpy``, ``import numpy.linalg as la`` binds numpy.linalg."""
    lib = LIBRARIES.get(alias.name)
    if lib:
        return ModuleRef(lib)
    head, _, rest = alias.name.partition(".")
    if head == "numpy":
        if not alias.asname:
            return ModuleRef(P.NUMPY)
        if rest == "linalg":
            return ModuleRef(P.NUMPY, "linalg")
    if rest and not alias.asname:  # `import scipy.stats` binds `scipy`
        return OtherModuleRef(head)
    return OtherModuleRef(alias.name)


def _imported_from_numpy(module: str, name: str) -> Resolved | None:
    """``from numpy import <name>`` / ``from numpy.linalg import <name>``: the same as
    ``np.<name>`` / ``np.linalg.<name>`` (None for another module, or a name s2sad does not
    know)."""
    if module == "numpy":
        return numpy_member("", name)
    if module == "numpy.linalg":
        return numpy_member("linalg", name)
    return None


def _imported_elsewhere(node: ast.ImportFrom, alias: ast.alias) -> Unsupported:
    """A name imported from a module other than math/numpy (read statically: s2sad does not
    follow the import)."""
    module = f"{'.' * node.level}{node.module or ''}"
    return Unsupported(
        f"a name imported from {module}",
        why="read from a file, s2sad sees that file's functions only: it does not follow "
            "imports, nor look into other libraries' code",
        hint="define the function in this file; or " + library_hint(
            f"{module}.{alias.name}" if not node.level else alias.name))


class StaticResolver(Resolver):
    """Resolves names from a module's source: imports, constant assignments, functions."""

    def __init__(self, tree: ast.Module, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.names: dict[str, Resolved] = {}
        self.functions: dict = {}  # filled in by parse_file
        self.primitive_names: set[str] = set()  # names bound to s2sad.primitive
        self._custom: dict[str, CustomRef] = {}
        # `from helpers import act` of a file beside this one: read when first looked up
        self._from_siblings: dict[str, tuple[str | None, int, str]] = {}
        self._module_names: dict[str, str] = {}  # `import helpers as h`: h -> helpers
        self._siblings: dict[Path, Any] = {}  # the sibling files read, parsed
        assigned: dict[str, int] = {}
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    bound = alias.asname or alias.name.split(".")[0]
                    self.names[bound] = _imported_module(alias)
                    if isinstance(self.names[bound], OtherModuleRef):
                        self._module_names[self.names[bound].name] = alias.name
            elif isinstance(node, ast.ImportFrom):
                lib = LIBRARIES.get(node.module or "") if not node.level else None
                for alias in node.names:
                    bound = alias.asname or alias.name
                    got = (_imported_from_numpy(node.module or "", alias.name)
                           if not node.level else None)
                    if got is None and not node.level and node.module:
                        # from scipy.special import gammaln; from scipy.stats import norm
                        found = library.lookup(f"{node.module}.{alias.name}")
                        got = LibraryRef(found) if found else None
                    if got is None and lib:
                        got = library_member(lib, alias.name)
                    if got is None and not node.level and node.module:
                        got = standard_member(node.module, alias.name)  # from functools ...
                    if node.module == "s2sad" and not node.level:
                        if alias.name == "primitive":
                            self.primitive_names.add(bound)
                        got = self.member("s2sad", alias.name)
                    if got is None and self._sibling(node.module, node.level) is not None:
                        self._from_siblings[bound] = (node.module, node.level, alias.name)
                    self.names[bound] = got or _imported_elsewhere(node, alias)
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
            pass
        array = self._array_literal(node)
        if array is not None:
            return ArrayRef(array, static=True)
        if isinstance(node, (ast.List, ast.Tuple, ast.Dict)):
            try:  # SHAPES = [(3, 2), (2, 1)]: data written as a literal
                value = ast.literal_eval(node)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                value = None
            if environment.plain_data(value):
                return DataRef(value)
            return Unsupported(
                "a module-level list, tuple or dict that is not a literal of numbers and "
                "strings", why="the command line reads the file without running it",
                hint="pass the value as a parameter, or write it as an array: `VALUES = "
                     "np.array([...])`")
        return Unsupported(
            "a module-level value that is not a numeric constant",
            why="the command line reads the file without running it: it knows numbers and "
                "NumPy arrays written as literals (`A = np.array([[1.0, 2.0], [3.0, 4.0]])`)",
            hint="pass the value as a parameter, or use the Python API (s2sad.grad), which "
                 "reads module-level arrays of any origin")

    def _array_literal(self, node: ast.expr) -> np.ndarray | None:
        """``np.array([...])`` (or ``numpy.array``, ``np.asarray``) of numeric constants,
        nested lists or tuples, with an optional float or int ``dtype``."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("array", "asarray") and len(node.args) == 1
                and isinstance(node.func.value, ast.Name)
                and self.lookup(node.func.value.id) == ModuleRef(P.NUMPY)):
            return None
        dtypes = {"float": float, "int": int, "float64": np.float64, "int64": np.int64}
        dtype = None
        for kw in node.keywords:
            spelled = ast.unparse(kw.value).rpartition(".")[2]
            if kw.arg != "dtype" or spelled not in dtypes:
                return None
            dtype = dtypes[spelled]

        def items(n: ast.expr) -> Any:
            if isinstance(n, (ast.List, ast.Tuple)):
                return [items(e) for e in n.elts]
            return _ConstEval(self).visit(n)

        try:
            value = np.array(items(node.args[0]), dtype=dtype)
        except (ValueError, ArithmeticError, TypeError):
            return None
        return value if value.dtype.kind in "biuf" else None

    def _is_primitive_decorator(self, node: ast.expr) -> bool:
        """``s2sad.primitive`` (after ``import s2sad``) or ``primitive`` (after ``from
        s2sad import primitive``)."""
        if isinstance(node, ast.Name):
            return node.id in self.primitive_names
        return (isinstance(node, ast.Attribute) and node.attr == "primitive"
                and isinstance(node.value, ast.Name)
                and self.names.get(node.value.id) == OtherModuleRef("s2sad"))

    def member(self, module: str, attr: str) -> Resolved | None:
        got = super().member(module, attr)
        if got is None and module in self._module_names:  # import helpers; helpers.act
            got = self._sibling_name(self._module_names[module], 0, attr)
        return got

    def _sibling(self, module: str | None, level: int) -> Path | None:
        """The file of module ``module`` beside this one (``helpers.py``, or a package's
        ``__init__.py``), if there is one: the command line reads it, as the API imports
        it.  Installed packages are not siblings."""
        if not module or level > 1:
            return None
        base = Path(self.filename).resolve().parent.joinpath(*module.split("."))
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path
        return None

    def _sibling_name(self, module: str | None, level: int, name: str) -> Resolved | None:
        from .source import parse_file

        path = self._sibling(module, level)
        if path is None:
            return None
        parsed = self._siblings.get(path)
        if parsed is None:
            parsed = self._siblings[path] = parse_file(path)
        got = parsed.resolver.lookup(name)
        return None if got is None or isinstance(got, Unsupported) else got

    def lookup(self, name: str) -> Resolved | None:
        if name in self._from_siblings:
            got = self._sibling_name(*self._from_siblings[name])
            if got is not None:
                return got
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
