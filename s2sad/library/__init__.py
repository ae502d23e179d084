"""The library layer: NumPy and SciPy functions that s2sad differentiates by what they
compute, one table entry per function.

Each entry (:class:`Entry`) is keyed by the function's qualified name
(``"scipy.special.gammaln"``, ``"scipy.stats.norm.logpdf"``, ``"numpy.var"``) and
gives its parameters (as the library names them, with their defaults) and a
``lower`` function that writes the call in the IR: one primitive of the table
(:mod:`s2sad.primitives`, :mod:`s2sad.primitives_numpy`), whose forward and reverse
rules are there, or a composition of primitives where that is exact and stable
(``norm.logpdf`` is ``-z²/2 - log(scale) - log(2π)/2``, ``logsumexp`` subtracts the
maximum).  Every spelling reaches the same entry: ``np.var``, ``numpy.var``,
``from numpy import var``, ``x.var()`` (a method, where the entry says so);
``scipy.special.gammaln``, ``from scipy.special import gammaln``,
``import scipy.stats as st; st.norm.logpdf``, ``from scipy.stats import norm``.

The modules mirror the libraries, one job each: :mod:`.scipy_special`,
:mod:`.scipy_stats`, :mod:`.numpy_reductions` (statistics, running sums and
products, sorting, indices), :mod:`.numpy_shapes` (building and rearranging arrays),
:mod:`.numpy_math` (elementwise and linear-algebra spellings).  Adding a function is
one entry there and its tests.

SciPy is not a dependency of s2sad: its functions are recognised when the user's code
imports it, and generated code imports ``scipy.special`` only where the source used
SciPy (never ``scipy.stats``' object machinery: distributions are written out).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..ir.core import Kind, Value

REQUIRED = object()  # a parameter without a default


@dataclass(frozen=True)
class Entry:
    """One library function: its parameters and how a call of it is lowered."""

    params: tuple[str, ...]
    lower: Callable[[Call], Any]
    defaults: dict[str, Any] = field(default_factory=dict)  # name -> a Python constant
    static: frozenset[str] = frozenset()  # must be compile-time constants (axis, ddof)
    # parameters s2sad does not support (yet): name -> what to do instead
    refused: dict[str, str] = field(default_factory=dict)
    varargs: str | None = None  # `*name`: takes the remaining positional arguments (the
    # parameters after it are keyword-only, as in Python)


TABLE: dict[str, Entry] = {}
# entries that exist only to refuse with a better message (np.linalg.eig: complex results)
REFUSING: set[str] = set()
# array methods: x.<method>(...) is the entry of the qualified name, x its first argument
METHODS: dict[str, str] = {}


def entry(name: str, params: str, *, static: str = "", refused: dict | None = None,
          method: bool = False, **defaults: Any) -> Callable:
    """Register ``lower`` as the entry for ``name``: ``params`` as in a signature,
    ``"x, axis=None"``-like names with defaults given by keyword (``axis=None``)."""
    names = tuple(p.strip().lstrip("*") for p in params.split(",") if p.strip())

    def register(lower: Callable[[Call], Any]) -> Callable[[Call], Any]:
        star = [p.strip()[1:] for p in params.split(",") if p.strip().startswith("*")]
        TABLE[name] = Entry(names, lower, defaults, frozenset(static.split()),
                            refused or {}, varargs=star[0] if star else None)
        if method:
            METHODS[name.rsplit(".", 1)[1]] = name
        return lower
    return register


def namespaces() -> set[str]:
    """Every dotted prefix of an entry's name: the modules and objects that hold them
    (``scipy``, ``scipy.stats``, ``scipy.stats.norm``)."""
    out = set()
    for name in TABLE:
        parts = name.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return out


class Call:
    """One call of a library function being lowered: its arguments by parameter name.

    ``lw`` is the :class:`~s2sad.frontend.lower.Lowerer`; values are lowered when an
    entry asks for them.
    """

    def __init__(self, lw, name: str, node: ast.Call, ctx, hint: str | None,
                 first: Value | None = None) -> None:
        self.lw, self.name, self.node, self.ctx, self.hint = lw, name, node, ctx, hint
        self.entry = TABLE[name]
        self.spelled = ast.unparse(node.func)
        self.nodes: dict[str, ast.expr] = {}
        self.values: dict[str, Any] = {}
        self.rest: list[ast.expr] = []  # varargs
        params = list(self.entry.params)
        if first is not None:  # a method: x.var(...) is np.var(x, ...)
            self.values[params[0]] = first
        args = list(node.args)
        for p in params[len(self.values):]:
            if not args:
                break
            if p == self.entry.varargs:
                self.rest, args = args, []
                break
            self.nodes[p] = args.pop(0)
        if args:
            raise self.error(f"`{self.spelled}` takes at most {len(params)} arguments here, "
                             f"got {len(node.args)}", at=args[0])
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in params or kw.arg in self.nodes:
                raise self.error(f"the keyword `{kw.arg}` of `{self.spelled}` is not "
                                 "supported" if kw.arg not in self.nodes else
                                 f"`{kw.arg}` given twice", at=kw.value,
                                 hint=f"its parameters: {', '.join(params)}")
            self.nodes[kw.arg] = kw.value
        for p, why in self.entry.refused.items():
            if p in self.nodes and not _is_none(self.nodes[p]):
                raise self.error(f"the argument `{p}` of `{self.spelled}` is not supported",
                                 at=self.nodes[p], why=why.split("|")[0],
                                 hint=why.split("|")[1] if "|" in why else None)
        for p in params:
            if p not in self.nodes and p not in self.values and (
                    self.entry.defaults.get(p, REQUIRED) is REQUIRED) and (
                    p != self.entry.varargs):
                raise self.error(f"`{self.spelled}` needs the argument `{p}`")

    # -- arguments ---------------------------------------------------------------------------
    def given(self, p: str) -> bool:
        return p in self.nodes or p in self.values

    def arg(self, p: str) -> Any:
        """The lowered argument ``p`` (its default, as a constant, when not given; None for
        a default of None)."""
        if p not in self.values:
            if p in self.nodes:
                self.values[p] = self.lw.value(self.nodes[p], self.ctx)
            else:
                d = self.entry.defaults.get(p)
                self.values[p] = None if d is None else self.const(d)
        return self.values[p]

    def array(self, p: str) -> Value:
        return self.lw.as_array(self.arg(p), self.nodes.get(p, self.node), self.ctx)

    def items(self) -> list[ast.expr]:
        return self.rest

    def static(self, p: str) -> Any:
        """A compile-time constant argument (an int, a tuple of ints, a bool, a string,
        None): it decides a shape, or which function is meant."""
        if p not in self.nodes:
            return self.entry.defaults.get(p)
        node = self.nodes[p]
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        try:
            return self.lw._static(node, self.ctx, p)
        except Exception:  # a name of a module constant: lowered, then read
            v = self.lw.value(node, self.ctx)
            c = self.lw.b.const_value(v)
            if c is None:
                raise self.error(f"`{p}` of `{self.spelled}` must be a constant here",
                                 at=node, why="it decides the shape of the result, which "
                                 "s2sad must know when it compiles",
                                 hint=f"write {p}=0 (a literal or a module constant)") from None
            return c

    def static_int(self, p: str) -> int:
        v = self.static(p)
        if not isinstance(v, int) or isinstance(v, bool):
            raise self.error(f"`{p}` of `{self.spelled}` must be one int here",
                             at=self.nodes.get(p), hint=f"write {p}=1")
        return v

    # -- building ----------------------------------------------------------------------------
    def const(self, value: Any) -> Value:
        return self.lw.b.const(value, self.lw_loc())

    def lw_loc(self):
        return self.ctx.pf.loc(self.node)

    def emit(self, prim: str, operands, out: bool = False, **attrs) -> Value:
        """One op at the call's location (``out``: the call's result, named by the hint)."""
        attrs = {k: v for k, v in attrs.items() if v is not None}
        return self.lw.emit(prim, list(operands), self.ctx, self.node,
                            self.hint if out else None, **attrs)

    def error(self, what: str, *, at: ast.AST | None = None, why: str | None = None,
              hint: str | None = None):
        return self.lw.unsupported(self.ctx.pf, at or self.node, what, why=why, hint=hint)


def _is_none(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def call(lw, name: str, node: ast.Call, ctx, hint: str | None, first: Value | None = None):
    """Lower ``node``, a call of the library function ``name`` (``first``: the object of a
    method call)."""
    _load()
    return TABLE[name].lower(Call(lw, name, node, ctx, hint, first))


def is_array(v: Any) -> bool:
    return isinstance(v, Value) and v.kind is Kind.ARRAY


# -- live objects -----------------------------------------------------------------------------

_LIVE: dict[tuple, dict[int, str]] = {}


def live_name(obj: Any) -> str | None:
    """The qualified name of a live library object s2sad has an entry (or namespace) for
    (``scipy.stats.norm``, ``scipy.special.gammaln``, a bound ``norm.logpdf``), or None."""
    _load()
    loaded = tuple(m for m in ("math", "numpy", "scipy.special", "scipy.stats")
                   if m in sys.modules)
    table = _LIVE.get(loaded)
    if table is None:
        table = _LIVE[loaded] = {}
        for name in sorted(set(TABLE) | namespaces()):
            found = _find(name)
            if found is not None and not isinstance(found, type(sys)):
                table.setdefault(id(found), name)
    name = table.get(id(obj))
    if name is None and hasattr(obj, "__self__") and hasattr(obj, "__func__"):
        owner = table.get(id(obj.__self__))  # norm.logpdf, bound to the norm object
        if owner is not None and f"{owner}.{obj.__func__.__name__}" in TABLE:
            return f"{owner}.{obj.__func__.__name__}"
    return name


def _find(name: str) -> Any:
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        obj = sys.modules.get(".".join(parts[:i]))
        if obj is None:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr, None)
            if obj is None:
                return None
        return obj
    return None


_LOADED = False


def _load() -> None:
    """Fill the table (the entry modules register themselves when imported)."""
    global _LOADED
    if not _LOADED:
        _LOADED = True
        from . import numpy_math, numpy_reductions, numpy_shapes, scipy_special, scipy_stats  # noqa: F401


def lookup(name: str) -> str | None:
    """``name`` if it is an entry or a namespace of entries, else None."""
    _load()
    if name in TABLE or name in _namespaces():
        return name
    return None


_NS: set[str] = set()


def _namespaces() -> set[str]:
    if not _NS:
        _NS.update(namespaces())
    return _NS


# -- the nearest supported spelling of a name s2sad does not support ------------------------------

# what a user reaching for these should write instead (the rest: the closest name)
NEAREST = {
    "numpy.gradient": "np.diff(x) (differences along an axis)",
    "numpy.partition": "np.sort(x, axis=...)",
    "numpy.argpartition": "np.argsort(x) (no derivative)",
    "numpy.rollaxis": "np.moveaxis(x, source, destination)",
    "numpy.angle": "np.where(x < 0, np.pi, 0.0) (arrays are real)",
    "numpy.nansum": "np.sum(np.where(np.isnan(x), 0.0, x))",
    "numpy.nanmean": "np.mean(x[~np.isnan(x)])",
    "numpy.nanmax": "np.max(np.where(np.isnan(x), -np.inf, x))",
    "numpy.nanmin": "np.min(np.where(np.isnan(x), np.inf, x))",
    "numpy.trapezoid": "np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2",
    "numpy.trapz": "np.sum((y[1:] + y[:-1]) * np.diff(x)) / 2",
    "numpy.cumulative_sum": "np.cumsum(x, axis=...)",
    "numpy.cumulative_prod": "np.cumprod(x, axis=...)",
    "numpy.linalg.eig": "np.linalg.eigh(A) (a symmetric matrix)",
    "numpy.linalg.eigvals": "np.linalg.eigvalsh(A) (a symmetric matrix)",
    "numpy.linalg.matrix_norm": "np.linalg.norm(A, 'fro')",
    "numpy.linalg.vector_norm": "np.linalg.norm(x, axis=...)",
    "numpy.linalg.tensorsolve": "np.linalg.solve(A, b)",
    "numpy.linalg.tensorinv": "np.linalg.inv(A)",
    "numpy.linalg.multi_dot": "a @ b @ c",
    "numpy.vdot": "np.sum(a * b)",
    "numpy.convolve": "a sum of shifted slices: sum(w[k] * x[k:k + n] for k in range(m))",
    "math.fmean": "np.mean(x)",
    "math.sumprod": "sum(a * b for a, b in zip(p, q))",
    "scipy.special.gammainc": "scipy.special.gammaln (the complete function; the "
                              "incomplete ones have no rule yet)",
    "scipy.special.gammaincc": "scipy.special.gammaln (the complete function; the "
                               "incomplete ones have no rule yet)",
    "scipy.special.betainc": "scipy.special.betaln (the complete function; the incomplete "
                             "one has no rule yet)",
    "scipy.stats.norm.ppf": "-np.sqrt(2.0) * scipy.special.erfcinv(2.0 * p)",
    "numpy.linalg.matrix_rank": "np.count_nonzero(np.linalg.svd(A, compute_uv=False) > tol) "
                                "(an int: no derivative)",
}


def nearest(qualified: str) -> str | None:
    """The nearest supported spelling for an unsupported ``numpy.f``/``math.f``/
    ``scipy.special.f`` (qualified by its module; ``np.`` also accepted): a curated
    replacement, else the supported name of the same module closest in spelling (difflib,
    said so), else None.  A parenthesised note may follow the spelling."""
    import difflib

    name = qualified.replace("np.", "numpy.", 1) if qualified.startswith("np.") else qualified
    if name in NEAREST:
        return NEAREST[name]
    module, _, attr = name.rpartition(".")
    if not module:
        return None
    candidates = {n.rpartition(".")[2]: n for n in supported_names() if
                  n.rpartition(".")[0] == module}
    close = difflib.get_close_matches(attr, list(candidates), n=1, cutoff=0.6)
    if not close:
        return None
    spelled = candidates[close[0]]
    return ("np." + spelled[len("numpy."):] if spelled.startswith("numpy.") else spelled) + (
        " (the closest supported name)")


def supported_names() -> set[str]:
    """Every qualified name s2sad differentiates (or allows): the primitives' math and
    NumPy spellings, the array functions, and the library layer's entries."""
    from ..frontend.arrays import ARRAY_FUNCTIONS
    from ..frontend.resolve import MATH_FUNCTIONS, NUMPY_FUNCTIONS

    _load()
    return ({f"math.{n}" for n in MATH_FUNCTIONS} | {f"numpy.{n}" for n in NUMPY_FUNCTIONS}
            | {f"numpy.{n}" for n in ARRAY_FUNCTIONS} | set(TABLE)) - REFUSING


def nearest_hint(qualified: str) -> str:
    """``"the nearest supported spelling: …; "`` to begin a hint with, or ``""``."""
    found = nearest(qualified)
    if not found:
        return ""
    spelling, _, note = found.partition(" (")
    note = f" ({note}" if note else ""
    return f"the nearest supported spelling is `{spelling}`{note}; "
