"""Forward mode (tangents): emit the primal and, op by op, its tangent.

:func:`forward_sweep` inlines a function into a builder and, for every active
op, emits ``tangent(result) = Σ ∂result/∂operand_i · tangent(operand_i)``
right after it.  Missing tangents are symbolic zeros: no ``0 * x`` is ever
built.  Seeds can be values (``jvp``) or constants (a forward-mode gradient
seeds one input with 1.0 per sweep; the primal ops of several sweeps are
shared by the builder's CSE).
"""

from __future__ import annotations

from ..ir.builder import Builder
from ..ir.core import Function, Value
from .activity import active_values
from .rules import add_all, scaled_partials, suffixed


def forward_sweep(
    b: Builder,
    fn: Function,
    args: tuple[Value, ...],
    seeds: dict[int, Value],
) -> tuple[tuple[Value, ...], tuple[Value | None, ...]]:
    """Emit ``fn`` on ``args`` with tangents seeded at parameter index → tangent value.

    Returns the results and their tangents (``None`` for a zero tangent).
    """
    env: dict[Value, Value] = dict(zip(fn.params, args, strict=True))
    tangent: dict[Value, Value] = {fn.params[i]: t for i, t in seeds.items()}
    active = active_values(fn, set(tangent))
    for op in fn.body.ops:
        operands = tuple(env[v] for v in op.operands)
        out = b.emit(op.prim, operands, attrs=op.attrs, loc=op.loc, hint=op.result.hint)
        env[op.result] = out
        if op.result not in active:
            continue
        factors = [tangent.get(v) for v in op.operands]
        if not any(f is not None for f in factors):
            continue
        hint = suffixed(op.result, "dot")
        single = sum(f is not None for f in factors) == 1
        hints = [hint if single else None] * len(factors)
        terms = [t for t in scaled_partials(b, op, operands, out, factors, hints)
                 if t is not None]
        if not terms:
            continue
        tangent[op.result] = add_all(b, terms, hint, op.loc)
    results = tuple(env[r] for r in fn.results)
    return results, tuple(tangent.get(r) for r in fn.results)
