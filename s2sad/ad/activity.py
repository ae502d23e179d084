"""Activity analysis: which values need a tangent or an adjoint.

A value is *varied* if it depends differentiably on a ``wrt`` parameter and
*useful* if an output depends on it.  Only values that are both (``active``)
get tangents or adjoints; integer counters, comparisons, constants and
piecewise-constant results (``floor``) never do.
"""

from __future__ import annotations

from .. import primitives as P
from ..ir.core import Function, Value, walk_ops


def _passes_derivative(prim: str) -> bool:
    return P.PRIMITIVES[prim].derivative == "partials"


def varied_values(fn: Function, wrt: set[Value]) -> set[Value]:
    varied = {v for v in wrt if v.kind.differentiable}
    for op in walk_ops(fn.body):
        if _passes_derivative(op.prim) and any(v in varied for v in op.operands):
            varied.update(r for r in op.results if r.kind.differentiable)
    return varied


def useful_values(fn: Function) -> set[Value]:
    useful = {v for v in fn.results if v.kind.differentiable}
    for op in reversed(list(walk_ops(fn.body))):
        if _passes_derivative(op.prim) and any(r in useful for r in op.results):
            useful.update(v for v in op.operands if v.kind.differentiable)
    return useful


def active_values(fn: Function, wrt: set[Value]) -> set[Value]:
    return varied_values(fn, wrt) & useful_values(fn)
