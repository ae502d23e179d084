"""Activity analysis: which values need a tangent or an adjoint.

A value is *varied* if it depends differentiably on a ``wrt`` parameter and
*useful* if an output depends on it.  Only values that are both (``active``)
get tangents or adjoints; integer counters, comparisons, constants and
piecewise-constant results (``floor``) never do.

Through structured ops the analysis runs to a fixed point: a loop-carried
slot is varied if its initial value or the value the body yields for it is,
and useful if the loop's result is or the next iteration needs it.
"""

from __future__ import annotations

from .. import primitives as P
from ..ir.core import Block, Function, Op, Value, walk_ops

LOOPS = ("for_range", "while_loop")


def _passes_derivative(prim: str) -> bool:
    return P.PRIMITIVES[prim].derivative in ("partials", "linear", "rule")


def loop_slots(op: Op):
    """For a loop op: (initial values, body block args, body yields) of its carried slots."""
    if op.prim == "for_range":
        body = op.regions[0]
        return op.operands[3:], body.args[1:], body.yields
    body = op.regions[1]
    return op.operands, body.args, body.yields


def _dependent(v: Value) -> bool:
    return v.kind.differentiable


def varied_values(fn: Function, wrt: set[Value]) -> set[Value]:
    varied = {v for v in wrt if _dependent(v)}
    changed = True
    while changed:
        changed = False

        def mark(v: Value) -> None:
            nonlocal changed
            if v not in varied and _dependent(v):
                varied.add(v)
                changed = True

        for op in walk_ops(fn.body):
            if op.prim == "cond":
                for region in op.regions:
                    for r, y in zip(op.results, region.yields, strict=True):
                        if y in varied:
                            mark(r)
            elif op.prim in LOOPS:
                inits, args, yields = loop_slots(op)
                others = op.regions[0].args if op.prim == "while_loop" else ()
                for j, (init, arg, y) in enumerate(zip(inits, args, yields, strict=True)):
                    if init in varied or y in varied:
                        mark(arg)
                        mark(op.results[j])
                        if others:
                            mark(others[j])
            elif _passes_derivative(op.prim) and any(v in varied for v in op.operands):
                for r in op.results:
                    mark(r)
    return varied


def useful_values(fn: Function) -> set[Value]:
    useful = {v for v in fn.results if _dependent(v)}
    ops = list(walk_ops(fn.body))
    changed = True
    while changed:
        changed = False

        def mark(v: Value) -> None:
            nonlocal changed
            if v not in useful and _dependent(v):
                useful.add(v)
                changed = True

        for op in reversed(ops):
            if op.prim == "cond":
                for region in op.regions:
                    for r, y in zip(op.results, region.yields, strict=True):
                        if r in useful:
                            mark(y)
            elif op.prim in LOOPS:
                inits, args, yields = loop_slots(op)
                for j, (init, arg, y) in enumerate(zip(inits, args, yields, strict=True)):
                    if op.results[j] in useful or arg in useful:
                        mark(y)
                        mark(init)
                        mark(arg)
            elif _passes_derivative(op.prim) and any(r in useful for r in op.results):
                for v in op.operands:
                    mark(v)
    return useful


def active_values(fn: Function, wrt: set[Value]) -> set[Value]:
    return varied_values(fn, wrt) & useful_values(fn)


def free_values(op: Op) -> list[Value]:
    """Values an op's regions read that are defined outside them, in first-use order."""
    defined: set[Value] = set()
    used: dict[Value, None] = {}

    def walk(block: Block) -> None:
        defined.update(block.args)
        for inner in block.ops:
            for v in inner.operands:
                used.setdefault(v, None)
            for region in inner.regions:
                walk(region)
            defined.update(inner.results)
        for v in block.yields:
            used.setdefault(v, None)

    for region in op.regions:
        walk(region)
    return [v for v in used if v not in defined]
