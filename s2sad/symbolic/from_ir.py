"""IR → SymPy: a function's results as SymPy expressions of its parameters.

Each op becomes its primitive's ``sympy_form`` (:mod:`s2sad.primitives`), so
the translation shares nothing with the AD transforms but the table's forms:
that is what makes it a useful oracle (``s2sad check``).  Straight-line code is
translated exactly:

* integer constants become ``Integer``; float constants become the *exact*
  rational of their binary value (``0.1`` → ``3602879701896397/2**55``), so
  ``simplify`` works over exact arithmetic and nothing is rounded;
* parameters are real symbols named after the parameters;
* primitives whose table entry has no SymPy form (the piecewise-constant ones,
  comparisons, ``select``) have a fixed translation here: ``floor``,
  ``ceiling``, relations, ``Piecewise``.

Structured control flow and lists are run symbolically, like the reference
interpreter runs them on numbers:

* ``cond`` whose predicate is decided (it depends on constants and loop
  counters only) takes its branch; otherwise each result becomes a
  ``Piecewise`` of the two branches (an ``if`` chain nests them);
* ``for_range`` with constant bounds and ``while_loop`` with a decided
  condition are unrolled (at most :data:`MAX_UNROLL` iterations in all);
* lists are Python lists of expressions (a list parameter is
  :data:`LIST_LENGTH` symbols ``xs[0]``, ``xs[1]``, …), reverse mode's tapes are
  Python lists, indices must be decided.

Anything else — a loop whose trip count depends on the inputs, an index that
does, branches that leave tapes or lists of different shapes — raises
:class:`NotSymbolic`; callers fall back to a numeric comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import primitives as P
from ..ir.core import Block, Function, Kind, Op, Value


class NotSymbolic(Exception):
    """The IR holds something with no exact SymPy translation (e.g. a data-dependent loop)."""


LIST_LENGTH = 3  # the length of a list parameter, symbolically and at check's random points
MAX_UNROLL = 512  # loop iterations unrolled per translation, in all


def _sp():
    import sympy

    return sympy


def number(value: Any):
    """A Python number as an exact SymPy number."""
    sp = _sp()
    if isinstance(value, bool):
        return sp.true if value else sp.false
    if isinstance(value, int):
        return sp.Integer(value)
    if isinstance(value, float):
        if math.isnan(value):
            return sp.nan
        if math.isinf(value):
            return sp.oo if value > 0 else -sp.oo
        return sp.Rational(value)  # exact: the float's binary value
    raise NotSymbolic(f"constant {value!r} has no SymPy form")


def _truth(c):
    """A SymPy boolean for a value used as a condition (a number means ``!= 0``)."""
    sp = _sp()
    if isinstance(c, bool):
        return sp.true if c else sp.false
    if getattr(c, "is_Boolean", False) or isinstance(c, sp.logic.boolalg.Boolean):
        return c
    return sp.Ne(c, 0)


def _decided(c) -> bool | None:
    """``True``/``False`` when the condition is decided, ``None`` when it depends on inputs."""
    sp = _sp()
    t = _truth(c)
    if t is sp.true:
        return True
    if t is sp.false:
        return False
    return None


def _piecewise(c, a, b):
    sp = _sp()
    decided = _decided(c)
    if decided is not None:
        return a if decided else b
    if isinstance(a, list) or isinstance(b, list):
        if not (isinstance(a, list) and isinstance(b, list) and len(a) == len(b)):
            raise NotSymbolic("the branches of an `if` leave lists of different lengths")
        return [_piecewise(c, p, q) for p, q in zip(a, b, strict=True)]
    if a == b:
        return a
    return sp.Piecewise((a, _truth(c)), (b, True))


def _index(i, what: str = "a list index") -> int:
    if isinstance(i, int):
        return i
    if getattr(i, "is_Integer", False):
        return int(i)
    raise NotSymbolic(f"{what} that depends on the inputs")


def _trunc(x):
    sp = _sp()
    return sp.Piecewise((sp.floor(x), x >= 0), (sp.ceiling(x), True))


# Translations for primitives without a ``sympy_form`` in the table.
def _special(prim: str):
    sp = _sp()
    table = {
        "floor": lambda a: sp.floor(a),
        "ceil": lambda a: sp.ceiling(a),
        "trunc": _trunc,
        # Python's round() rounds half to even; floor(x + 1/2) differs only at the
        # ties, a set of measure zero where the derivative is 0 either way.
        "round": lambda a: sp.floor(a + sp.Rational(1, 2)),
        "floordiv": lambda a, b: sp.floor(a / b),
        "lt": lambda a, b: sp.Lt(a, b),
        "le": lambda a, b: sp.Le(a, b),
        "gt": lambda a, b: sp.Gt(a, b),
        "ge": lambda a, b: sp.Ge(a, b),
        "eq": lambda a, b: sp.Eq(a, b),
        "ne": lambda a, b: sp.Ne(a, b),
        "not": lambda a: sp.Not(_truth(a)),
        "and": lambda a, b: sp.And(_truth(a), _truth(b)),
        "or": lambda a, b: sp.Or(_truth(a), _truth(b)),
        "select": lambda c, a, b: _piecewise(c, a, b),
    }
    return table.get(prim)


def op_to_sympy(prim: str, operands: Sequence[Any], attrs: dict[str, Any]):
    """SymPy form of one application of primitive ``prim``."""
    attrs = {k: v for k, v in attrs.items() if k != "lib"}
    special = _special(prim)
    if special is not None:
        return special(*operands)
    entry = P.PRIMITIVES.get(prim)
    if entry is None or entry.sympy_form is None:
        raise NotSymbolic(f"primitive `{prim}` has no SymPy form")
    if "exponent" in attrs:
        attrs["exponent"] = number(attrs["exponent"])
    return entry.sympy_form(*operands, **attrs)


def symbols_for(fn: Function) -> tuple[Any, ...]:
    """One real SymPy symbol per parameter, named after it (``arg<i>`` if unnamed); a list
    parameter ``xs`` is a list of :data:`LIST_LENGTH` symbols ``xs[0]``, ``xs[1]``, …"""
    sp = _sp()
    out: list[Any] = []
    for p, name in zip(fn.params, fn.param_names, strict=True):
        if p.kind is Kind.LIST:
            out.append([sp.Symbol(f"{name}[{k}]", real=True) for k in range(LIST_LENGTH)])
        else:
            out.append(sp.Symbol(name, real=True))
    return tuple(out)


class _Runner:
    """Runs IR on SymPy values: the reference interpreter's twin (see the module docstring)."""

    def __init__(self) -> None:
        self.unrolled = 0

    def block(self, block: Block, env: dict[Value, Any]) -> tuple[Any, ...]:
        for op in block.ops:
            results = self.op(op, env)
            for r, v in zip(op.results, results, strict=True):
                env[r] = v
        return tuple(env[v] for v in block.yields)

    def region(self, block: Block, env: dict[Value, Any], args: tuple[Any, ...]):
        env.update(zip(block.args, args, strict=True))
        return self.block(block, env)

    def tick(self) -> None:
        self.unrolled += 1
        if self.unrolled > MAX_UNROLL:
            raise NotSymbolic(f"loops run more than {MAX_UNROLL} iterations")

    def op(self, op: Op, env: dict[Value, Any]) -> tuple[Any, ...]:
        try:
            vals = [env[v] for v in op.operands]
        except KeyError as exc:  # pragma: no cover - the verifier rules this out
            raise NotSymbolic(f"operand {exc} of `{op.prim}` is not defined") from None
        attrs = dict(op.attrs)
        prim = op.prim
        if prim == "const":
            return (number(attrs["value"]),)
        if prim == "cond":
            decided = _decided(vals[0])
            if decided is not None:
                return self.region(op.regions[0 if decided else 1], env, ())
            then = self.region(op.regions[0], env, ())
            other = self.region(op.regions[1], env, ())
            for a in (*then, *other):
                if isinstance(a, _Tape):
                    raise NotSymbolic("an `if` on the inputs records on a tape")
            return tuple(_piecewise(vals[0], a, b) for a, b in zip(then, other, strict=True))
        if prim == "for_range":
            start, stop, step, *carried = vals
            bound = "a loop bound"  # a `range` bound; the message must not say "index"
            indices = range(_index(start, bound), _index(stop, bound), _index(step, bound))
            for i in reversed(indices) if attrs.get("reverse") else indices:
                self.tick()
                carried = list(self.region(op.regions[0], env, (number(i), *carried)))
            return tuple(carried)
        if prim == "while_loop":
            carried = vals
            while True:
                go = _decided(self.region(op.regions[0], env, tuple(carried))[0])
                if go is None:
                    raise NotSymbolic("a `while` loop whose condition depends on the inputs")
                if not go:
                    return tuple(carried)
                self.tick()
                carried = list(self.region(op.regions[1], env, tuple(carried)))
        if op.regions:
            raise NotSymbolic(f"`{prim}` has nested regions")
        if prim == "tape_new":
            return (_Tape(),)
        if prim == "tape_push":
            tape, *items = vals
            tape.append(tuple(list(v) if isinstance(v, list) else v for v in items))
            return (tape,)
        if prim == "tape_read":
            tape = vals[0]
            return (tape, *tape[_index(vals[1])])
        if prim in _LIST_OPS:
            return (_LIST_OPS[prim](*vals),)
        if prim == "list_pop":
            xs = vals[0]
            return (xs, xs.pop())
        if any(isinstance(v, list) for v in vals):
            raise NotSymbolic(f"`{prim}` of a list")
        return (op_to_sympy(prim, vals, attrs),)


class _Tape(list):
    """Reverse mode's tape, a list of pushed tuples."""


def _add_at(xs, i, v):
    xs[_index(i)] += v
    return xs


def _setitem(xs, i, v):
    out = list(xs)
    out[_index(i)] = v
    return out


def _first_extreme(pick):
    """list_argmax / list_argmin: the index of the first largest (smallest) item."""
    def index(xs):
        if not all(getattr(x, "is_number", False) for x in xs):
            raise NotSymbolic("the position of a list's max or min depends on the inputs")
        return number(list(xs).index(pick(xs)))
    return index


_LIST_OPS = {
    "list_argmax": _first_extreme(max),
    "list_argmin": _first_extreme(min),
    "len": lambda xs: number(len(xs)),
    "getitem": lambda xs, i: xs[_index(i)],
    "zeros_like": lambda xs: [number(0.0)] * len(xs),
    "zero_like": lambda x: [number(0.0)] * len(x) if isinstance(x, list) else number(0.0),
    "add_at": _add_at,
    "like_argument": lambda g, x: g,  # a list argument: its gradient is a list
    "list_lit": lambda *items: list(items),
    "list_copy": lambda xs: list(xs),
    "append": lambda xs, v: [*xs, v],
    "setitem": _setitem,
    "list_add": lambda a, b: [p + q for p, q in zip(a, b, strict=True)],
}


def block_to_sympy(block: Block, env: dict[Value, Any]) -> None:
    """Translate ``block``'s ops into ``env`` (value → SymPy expression), in place."""
    _Runner().block(block, env)


def to_sympy(fn: Function, params: Sequence[Any] | None = None) -> tuple[tuple, tuple]:
    """``(parameter symbols, result expressions)`` of ``fn``.

    ``params`` overrides the symbols (or expressions) bound to the parameters.
    Results are flat, in the order of ``fn.results`` (see ``fn.structure``); a
    list result is a list of expressions.
    """
    syms = tuple(params) if params is not None else symbols_for(fn)
    if len(syms) != len(fn.params):
        raise ValueError(f"{fn.name} has {len(fn.params)} parameters, got {len(syms)} symbols")
    env: dict[Value, Any] = {p: (list(s) if isinstance(s, list) else s)
                             for p, s in zip(fn.params, syms, strict=True)}
    _Runner().block(fn.body, env)
    return syms, tuple(env[v] for v in fn.results)


def dag_nodes(expr) -> list:
    """Every distinct subexpression of ``expr``, each once.

    SymPy shares equal subexpressions, so an expression whose *tree* is
    exponentially large (the swell of a nested chain's derivative) is a small
    DAG; walking it with a ``seen`` set stays linear where ``preorder_traversal``,
    ``has``, ``atoms`` and ``replace`` walk the whole tree.
    """
    seen = set()
    order = []
    stack = [expr]
    while stack:
        e = stack.pop()
        if e in seen:
            continue
        seen.add(e)
        order.append(e)
        stack.extend(e.args)
    return order


def tree_size(expr, weight=None) -> int:
    """Sum of ``weight(node)`` over the *tree* of ``expr`` (default: count the nodes),
    computed over the DAG in linear time."""
    memo: dict = {}
    stack = [(expr, False)]
    while stack:
        e, ready = stack.pop()
        if e in memo:
            continue
        if ready:
            memo[e] = (1 if weight is None else weight(e)) + sum(memo[a] for a in e.args)
        else:
            stack.append((e, True))
            stack.extend((a, False) for a in e.args if a not in memo)
    return memo[expr]


def drop_singular_derivatives(expr):
    """Zero out the derivatives of piecewise-constant pieces (DESIGN §10).

    ``diff(floor(x))``, ``diff(sign(x))`` and the ``DiracDelta`` of a jump are zero
    almost everywhere, which is the convention s2sad follows at the jumps too.
    """
    sp = _sp()
    singular = (sp.Subs, sp.Derivative, sp.DiracDelta)
    if not any(isinstance(e, singular) for e in dag_nodes(expr)):
        return expr  # the common case, without replace()'s walk of the whole tree
    return expr.replace(lambda e: isinstance(e, singular), lambda e: sp.S.Zero)
