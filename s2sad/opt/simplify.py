"""Local rewrites applied while an op is built: constant folding and exact identities.

:func:`rewrite` looks at one op about to be built and returns an existing (or
simpler, newly built) value that computes the same thing, or ``None`` to build
the op as asked.  Only identities that hold exactly in IEEE arithmetic are
used: ``x*1``, ``x-0``, ``x+(-0.0)``, ``x/1``, ``--x``, ``x**1``, sign
normalisation (``a + -b → a - b``, ``(-a)*b → -(a*b)``).  ``x*0 → 0`` is never
used (it is wrong for inf and NaN), nor ``x - x → 0``, nor ``x + 0.0 → x``,
``0 - x → -x`` or ``-(a - b) → b - a`` (each wrong for a signed zero).

Two rewrites route a derivative rather than restate a value: ``(1 if p else 0)
* z → z if p else 0`` and ``(a if p else 0) + (0 if p else c) → a if p else c``.
They are how the derivatives of ``max``, ``min`` and branches pass a cotangent
to one side only, so an inf or NaN cotangent is not multiplied by the 0 of the
side not taken.

A rewrite never changes a value's kind (an int ``n + 0.0`` stays a float).
"""

from __future__ import annotations

import math
from typing import Any

from .. import primitives as P
from ..errors import Loc
from ..ir.core import Kind, Value

_FOLD_ERRORS = (ArithmeticError, ValueError, TypeError, OverflowError)


def _fold(b, prim: str, operands: tuple[Value, ...], attrs: dict, loc: Loc | None):
    p = P.PRIMITIVES[prim]
    kind = p.result_kind(tuple(v.kind for v in operands), attrs)
    if kind is Kind.ARRAY or prim in ("scalar_seed", "scalar_input"):
        return None  # an array is built at run time, never a literal in the code
    values = [b.const_value(v) for v in operands]
    try:
        got = p.evaluate(attrs.get("lib"), *values, **{k: v for k, v in attrs.items()
                                                       if k != "lib"})
    except _FOLD_ERRORS:
        return None  # leave it to run time, where Python raises as the user expects
    if isinstance(got, complex):
        return None
    if hasattr(got, "item"):  # numpy scalar
        got = got.item()
    if isinstance(got, float) and (math.isnan(got) or math.isinf(got)):
        return None
    if kind is Kind.FLOAT and type(got) is not float:
        got = float(got)
    return b.const(got, loc)


def _is_negative_zero(b, v: Value) -> bool:
    value = b.const_value(v)
    return isinstance(value, float) and value == 0.0 and math.copysign(1.0, value) < 0


def _power_of_two(c: Any) -> bool:
    if isinstance(c, bool) or not isinstance(c, (int, float)) or c == 0:
        return False
    return math.frexp(abs(c))[0] == 0.5


def _merge_scales(b, x: Value, y: Value):
    """``c1 * (c2 * z)`` → ``(c1·c2) * z`` when one factor is a power of two, so that
    both are exact (``100 * (2 * z)`` → ``200 * z``)."""
    d = b.defs.get(y)
    if not b.is_const(x) or d is None or d.prim != "mul" or not b.is_const(d.operands[0]):
        return None
    c1, c2 = b.const_value(x), b.const_value(d.operands[0])
    if not (_power_of_two(c1) or _power_of_two(c2)):
        return None
    product = c1 * c2
    if isinstance(product, float) and not math.isfinite(product):
        return None
    return (b.const(product, None), d.operands[1])


def _scaled_array(b, x: Value):
    """``(r, s)`` when array ``x`` is ``r * s`` of an array ``r`` and a number ``s``."""
    d = b.defs.get(x)
    if x.kind is not Kind.ARRAY or d is None or d.prim != "mul":
        return None
    r, s = d.operands
    if r.kind is not Kind.ARRAY:
        r, s = s, r
    return (r, s) if r.kind is Kind.ARRAY and s.kind is Kind.FLOAT else None


def _select_of_one_and_zero(b, x: Value, y: Value):
    """``(1 if p else 0) * z`` → ``z if p else 0``: how max/min/abs route a cotangent."""
    for sel, z in ((x, y), (y, x)):
        d = b.defs.get(sel)
        if d is None or d.prim != "select" or z.kind is not Kind.FLOAT:
            continue
        cond, t, f = d.operands
        if b.is_const(t, 1) and b.is_const(f, 0):
            return (cond, z, b.const(0.0))
        if b.is_const(t, 0) and b.is_const(f, 1):
            return (cond, b.const(0.0), z)
    return None


def _merge_selects(b, x: Value, y: Value):
    """``(a if p else 0) + (0 if p else c)`` → ``a if p else c``."""
    dx, dy = b.defs.get(x), b.defs.get(y)
    if dx is None or dy is None or dx.prim != "select" or dy.prim != "select":
        return None
    if dx.operands[0] is not dy.operands[0]:
        return None
    cond, t1, f1 = dx.operands
    _, t2, f2 = dy.operands
    if b.is_const(f1, 0) and b.is_const(t2, 0):
        return (cond, t1, f2)
    if b.is_const(t1, 0) and b.is_const(f2, 0):
        return (cond, t2, f1)
    return None


def _sigmoid_of(b, y: Value):
    """``(x, lib)`` when ``y`` is ``1 + exp(-x)``: then ``1 / y`` is the sigmoid of x,
    whose derivative σ(1 - σ) stays finite where exp(-x) overflows."""
    d = b.defs.get(y)
    if d is None or d.prim != "add" or not b.is_const(d.operands[1], 1):
        return None
    e = b.defs.get(d.operands[0])
    if e is None or e.prim != "exp":
        return None
    n = b.defs.get(e.operands[0])
    if n is None or n.prim != "neg":
        return None
    return n.operands[0], e.attr("lib") or P.MATH


def rewrite(b, prim: str, operands: tuple[Value, ...], attrs: dict, loc: Loc | None):
    p = P.PRIMITIVES[prim]
    if operands and all(b.is_const(v) for v in operands) and prim != "select" and p.fold:
        return _fold(b, prim, operands, attrs, loc)
    kind = p.result_kind(tuple(v.kind for v in operands), attrs)

    def same(v: Value) -> Value | None:
        return v if v.kind is kind else None

    def defn(v: Value):
        return b.defs.get(v)

    def is_neg(v: Value):
        d = defn(v)
        return d.operands[0] if d is not None and d.prim == "neg" else None

    def c(v: Value, value: Any) -> bool:
        return b.is_const(v, value)

    if prim == "add":
        x, y = operands  # constants come last
        if x is y and x.kind is Kind.FLOAT:
            return b.emit("mul", (b.const(2.0), x), loc=loc)  # t + t is 2·t exactly
        if x is y and (scaled := _scaled_array(b, x)) is not None:
            # r·s + r·s → r·(2·s): one pass over the array, not two (both exact)
            r, s = scaled
            return b.emit("mul", (r, b.emit("mul", (b.const(2.0), s), loc=loc)), loc=loc)
        if _is_negative_zero(b, y):
            return same(x)  # x + -0.0 is x, also for x = -0.0 (x + 0.0 is not)
        if (ny := is_neg(y)) is not None:
            return b.emit("sub", (x, ny), loc=loc)
        if (nx := is_neg(x)) is not None:
            return b.emit("sub", (y, nx), loc=loc)
        if b.is_const(y) and not isinstance(b.const_value(y), bool) and b.const_value(y) < 0:
            return b.emit("sub", (x, b.const(-b.const_value(y))), loc=loc)
        if (merged := _merge_selects(b, x, y)) is not None:
            return b.emit("select", merged, loc=loc)
    elif prim == "sub":
        x, y = operands
        if c(y, 0) and not _is_negative_zero(b, y):
            return same(x)  # x - 0.0 is x, also for x = -0.0
        if (ny := is_neg(y)) is not None:
            return b.emit("add", (x, ny), loc=loc)
    elif prim == "mul":
        x, y = operands  # constants come first
        if x is y:
            return b.emit("powc", (x,), attrs={"exponent": 2}, loc=loc)  # one partial, 2·x
        if (merged := _merge_scales(b, x, y)) is not None:
            return b.emit("mul", merged, loc=loc)
        if c(x, 1):
            return same(y)
        if c(x, -1):
            return same(b.emit("neg", (y,), loc=loc))
        nx, ny = is_neg(x), is_neg(y)
        if nx is not None and ny is not None:
            return b.emit("mul", (nx, ny), loc=loc)
        if nx is not None:
            return b.emit("neg", (b.emit("mul", (nx, y), loc=loc),), loc=loc)
        if ny is not None:
            return b.emit("neg", (b.emit("mul", (x, ny), loc=loc),), loc=loc)
        if (sel := _select_of_one_and_zero(b, x, y)) is not None:
            return b.emit("select", sel, loc=loc)
    elif prim == "div":
        x, y = operands
        if c(y, 1):
            return same(x)
        if c(x, 1) and (s := _sigmoid_of(b, y)) is not None:
            return b.emit("sigmoid", (s[0],), attrs={"lib": s[1]}, loc=loc)
        if c(y, -1):
            return same(b.emit("neg", (x,), loc=loc))
        nx, ny = is_neg(x), is_neg(y)
        if nx is not None and ny is not None:
            return b.emit("div", (nx, ny), loc=loc)
        if nx is not None:
            return b.emit("neg", (b.emit("div", (nx, y), loc=loc),), loc=loc)
        if ny is not None:
            return b.emit("neg", (b.emit("div", (x, ny), loc=loc),), loc=loc)
    elif prim == "neg":
        (x,) = operands
        if (nx := is_neg(x)) is not None:
            return nx
    elif prim == "powc":
        (x,) = operands
        n = attrs["exponent"]
        if n == 1:
            return same(x)
    elif prim == "select":
        cond, t, f = operands
        if b.is_const(cond):
            return same(t if b.const_value(cond) else f)
        if t is f:
            return t
    return None
