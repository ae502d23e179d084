"""Reverse mode (adjoints): the primal sweep, then the ops backwards.

:func:`reverse_sweep` inlines the primal, seeds the adjoints of the results
with the given cotangents, and walks the ops in reverse, adding
``∂result/∂operand_i · adjoint(result)`` into each active operand's adjoint.
A value used several times has its contributions summed; a missing adjoint
is a symbolic zero.
"""

from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Function, Value
from .activity import active_values
from .rules import op_partials, suffixed


def reverse_sweep(
    b: Builder,
    fn: Function,
    args: tuple[Value, ...],
    wrt: tuple[int, ...],
    cotangents: tuple[Value | None, ...],
) -> tuple[tuple[Value, ...], tuple[Value | None, ...]]:
    """Emit ``fn`` on ``args`` and the adjoints of parameters ``wrt``.

    ``cotangents`` has one entry per result (``None``: zero).  Returns the
    results and the adjoints in ``wrt`` order (``None`` for a zero adjoint).
    """
    env: dict[Value, Value] = dict(zip(fn.params, args, strict=True))
    for op in fn.body.ops:
        env[op.result] = b.emit(
            op.prim, tuple(env[v] for v in op.operands), attrs=op.attrs, loc=op.loc,
            hint=op.result.hint,
        )
    wrt_params = {fn.params[i] for i in wrt}
    active = active_values(fn, wrt_params)
    adjoint: dict[Value, Value] = {}

    def accumulate(v: Value, part: Value | None, cotangent: Value, loc) -> None:
        """adjoint(v) += part · cotangent (part None: 1)."""
        hint = suffixed(v, "bar")
        first = v not in adjoint
        term = cotangent if part is None else b.emit(
            "mul", (part, cotangent), loc=loc, hint=hint if first else None
        )
        adjoint[v] = term if first else b.emit("add", (adjoint[v], term), loc=loc, hint=hint)

    for r, ct in zip(fn.results, cotangents, strict=True):
        if ct is not None and r in active:
            accumulate(r, None, ct, None)
    for op in reversed(fn.body.ops):
        ybar = adjoint.get(op.result)
        if ybar is None or op.result not in active:
            continue
        wanted = [v in active for v in op.operands]
        if not any(wanted):
            continue
        operands = tuple(env[v] for v in op.operands)
        parts = op_partials(b, op, operands, env[op.result], wanted)
        for part, v in zip(parts, op.operands, strict=True):
            if part is not None:
                accumulate(v, part, ybar, op.loc)
    results = tuple(env[r] for r in fn.results)
    return results, tuple(adjoint.get(fn.params[i]) for i in wrt)

