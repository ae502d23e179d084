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
from .rules import scaled_partials, suffixed


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

    def accumulate(v: Value, contribution: Value, loc) -> None:
        if v in adjoint:
            adjoint[v] = b.emit("add", (adjoint[v], contribution), loc=loc,
                                hint=suffixed(v, "bar"))
        else:
            adjoint[v] = contribution

    for r, ct in zip(fn.results, cotangents, strict=True):
        if ct is not None and r in active:
            accumulate(r, ct, None)
    for op in reversed(fn.body.ops):
        ybar = adjoint.get(op.result)
        if ybar is None or op.result not in active:
            continue
        factors = [ybar if v in active else None for v in op.operands]
        if not any(f is not None for f in factors):
            continue
        operands = tuple(env[v] for v in op.operands)
        hints = [None if v in adjoint else suffixed(v, "bar") for v in op.operands]
        parts = scaled_partials(b, op, operands, env[op.result], factors, hints)
        for part, v in zip(parts, op.operands, strict=True):
            if part is not None:
                accumulate(v, part, op.loc)
    results = tuple(env[r] for r in fn.results)
    return results, tuple(adjoint.get(fn.params[i]) for i in wrt)

