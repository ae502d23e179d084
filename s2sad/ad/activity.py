"""Activity analysis: which values need a tangent or an adjoint.

A value is *varied* if it depends differentiably on a ``wrt`` parameter and
*useful* if an output depends on it.  Only values that are both (``active``)
get tangents or adjoints; integer counters, comparisons, constants and
piecewise-constant results (``floor``) never do.

Through structured ops the analysis runs to a fixed point: a loop-carried
slot is varied if its initial value or the value the body yields for it is,
and useful if the loop's result is or the next iteration needs it.

Derivative IR differentiated again (higher order) can contain ops that are
differentiable in truth but have no derivative rule yet (``rule_missing`` in
the primitive table: tapes, list adjoints, the array adjoint helpers).  The
analysis lets dependence flow through them (and through tapes), and
:func:`active_values` refuses, with a located error, an active one: giving it
a zero derivative would be silently wrong.
"""

from __future__ import annotations

from .. import primitives as P
from ..errors import DifferentiationError
from ..ir.core import Block, Function, Kind, Op, Value, walk_ops

LOOPS = ("for_range", "while_loop")


def _passes_derivative(prim: str) -> bool:
    entry = P.PRIMITIVES[prim]
    return entry.derivative in ("partials", "linear", "rule") or entry.rule_missing


def loop_slots(op: Op):
    """For a loop op: (initial values, body block args, body yields) of its carried slots."""
    if op.prim == "for_range":
        body = op.regions[0]
        return op.operands[3:], body.args[1:], body.yields
    body = op.regions[1]
    return op.operands, body.args, body.yields


def _dependent(v: Value) -> bool:
    # a tape carries the values pushed onto it: dependence flows through it
    return v.kind.differentiable or v.kind is Kind.TAPE


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


def active_values(fn: Function, wrt: set[Value], handled: frozenset[str] = frozenset()
                  ) -> set[Value]:
    """The active values; refuses an active op that has no derivative rule (but those in
    ``handled``, which the calling sweep differentiates itself)."""
    active = varied_values(fn, wrt) & useful_values(fn)
    for op in walk_ops(fn.body):
        if (P.PRIMITIVES[op.prim].rule_missing and op.prim not in handled
                and any(r in active for r in op.results)):
            raise _no_rule_yet(op)
    return active


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


def _no_rule_yet(op: Op) -> DifferentiationError:
    """The located error for differentiating an op that has no derivative rule yet."""
    if op.prim.startswith("tape_") or op.prim in ("list_pop", "list_add", "add_at"):
        through = ("the tape of a reverse-mode loop" if op.prim.startswith("tape_")
                   else "a reverse-mode list adjoint")
        hint = ("for second derivatives use s2sad.hessian or s2sad.hvp (reverse mode over "
                "forward mode), or forward mode over forward mode")
    else:
        through = f"`{op.prim}` (a helper of s2sad's first-order derivative code)"
        hint = ("write this part of the function another way where you can (a closed "
                "form), or take finite differences of s2sad.grad")
    return DifferentiationError(
        f"differentiating derivative code again through {through} is not supported yet",
        op.loc,
        why=f"`{op.prim}` has no derivative rule yet, and taking its derivative as zero "
            "would give a wrong result",
        hint=hint)
