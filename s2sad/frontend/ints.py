"""Which parameters are ints: those the function uses where Python needs an int.

A parameter without an annotation is lowered as a float.  When a float value
reaches a place that only an int may fill (a ``range`` bound, a list or array
index, an array size) and that value is computed from parameters by integer
arithmetic alone (``+ - * // %``, ``**`` of a whole constant, unary ``-``,
builtin ``abs``/``max``/``min`` of such values and of int constants), those
parameters are ints: lowering starts again with them as ints
(:class:`RetryWithInt`), as it does for lists and arrays.

Why it matters: the IR would otherwise hold ``n + 1`` as a float, and code
generation spells the int constants of float arithmetic as floats (``n + 1.0``,
for CPython's float fast path), so ``range(n + 1)`` became ``range(n + 1.0)``
and raised ``TypeError`` at run time.  With ``n`` an int, ``n + 1`` is an int
in the IR and in the generated code.

A value that mixes in anything else (a fractional constant, a math function,
a loop-carried value) is left alone: the frontend's own checks, or Python at
run time, report it as before.  So is one that is still a float after the
retry (``range(2.0 * n)``): lowering again never loops.
"""

from __future__ import annotations

from .. import primitives as P
from ..ir.core import Kind, Value

# Integer arithmetic: ints in, an int out.
_INT_CLOSED = frozenset({"add", "sub", "mul", "neg", "floordiv", "mod"})
_INT_CLOSED_BUILTIN = frozenset({"abs", "max2", "min2"})  # only as builtins (not math.fabs)


def _whole_power(op) -> bool:
    """``u ** k`` for a constant ``k`` in 0, 1, 2, ...: how ``n * n`` is built, too."""
    k = op.attr("exponent")
    return op.prim == "powc" and isinstance(k, int) and not isinstance(k, bool) and k >= 0


class RetryWithInt(Exception):
    """Parameters turned out to be used as ints: lower again with them as ints."""

    def __init__(self, names: set[str]) -> None:
        super().__init__(", ".join(sorted(names)))
        self.names = names


def int_params(b, params: set[Value], pinned: set[str], v: Value) -> set[str] | None:
    """The float parameters that would make ``v`` an int if they were ints, or ``None``
    when ``v`` is no integer arithmetic of parameters and int constants (or when a
    parameter behind it is annotated, so its kind is not ours to change)."""
    found: set[str] = set()
    stack, seen = [v], set()
    while stack:
        u = stack.pop()
        if u in seen:
            continue
        seen.add(u)
        if b.is_const(u):
            # An integral float constant may be the simplifier's own (``n + n`` is built
            # as ``2.0 * n`` while ``n`` is a float); lowered again with ints, it is not.
            c = b.const_value(u)
            if not (isinstance(c, int) or (isinstance(c, float) and c.is_integer())):
                return None
            continue
        if u.kind in (Kind.INT, Kind.BOOL):
            continue
        if u.kind is not Kind.FLOAT:
            return None
        if u in params:
            if u.hint is None or u.hint in pinned:
                return None
            found.add(u.hint)
            continue
        op = b.defs.get(u)
        if op is None or op.regions:
            return None
        if not (op.prim in _INT_CLOSED or _whole_power(op) or (
                op.prim in _INT_CLOSED_BUILTIN and op.attr("lib") == P.BUILTIN)):
            return None
        stack.extend(op.operands)
    return found or None
