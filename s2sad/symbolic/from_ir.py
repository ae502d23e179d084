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

An op with nested regions (structured control flow) raises
:class:`NotSymbolic`; callers fall back to a numeric comparison.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .. import primitives as P
from ..ir.core import Block, Function, Value


class NotSymbolic(Exception):
    """The IR holds something with no exact SymPy translation (e.g. a loop)."""


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
        "not": lambda a: sp.Not(a),
        "select": lambda c, a, b: sp.Piecewise((a, c), (b, True)),
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
    """One real SymPy symbol per parameter, named after it (``arg<i>`` if unnamed)."""
    sp = _sp()
    return tuple(sp.Symbol(name, real=True) for name in fn.param_names)


def block_to_sympy(block: Block, env: dict[Value, Any]) -> None:
    """Translate ``block``'s ops into ``env`` (value → SymPy expression), in place."""
    for op in block.ops:
        if op.regions:
            raise NotSymbolic(f"`{op.prim}` has nested regions (control flow)")
        if op.prim == "const":
            env[op.result] = number(op.attr("value"))
            continue
        try:
            args = [env[v] for v in op.operands]
        except KeyError as exc:  # pragma: no cover - the verifier rules this out
            raise NotSymbolic(f"operand {exc} of `{op.prim}` is not defined") from None
        (result,) = op.results
        env[result] = op_to_sympy(op.prim, args, dict(op.attrs))


def to_sympy(fn: Function, params: Sequence[Any] | None = None) -> tuple[tuple, tuple]:
    """``(parameter symbols, result expressions)`` of ``fn``.

    ``params`` overrides the symbols (or expressions) bound to the parameters.
    Results are flat, in the order of ``fn.results`` (see ``fn.structure``).
    """
    syms = tuple(params) if params is not None else symbols_for(fn)
    if len(syms) != len(fn.params):
        raise ValueError(f"{fn.name} has {len(fn.params)} parameters, got {len(syms)} symbols")
    env: dict[Value, Any] = dict(zip(fn.params, syms, strict=True))
    block_to_sympy(fn.body, env)
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
