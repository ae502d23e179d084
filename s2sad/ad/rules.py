"""Local derivatives of one op, built as IR from the primitive table.

Both modes ask :func:`op_partials` for ``∂result/∂operand_i``; forward mode
sums ``partial_i · tangent_i``, reverse mode adds ``partial_i · cotangent``
into each operand's adjoint.  A ``None`` partial is a symbolic zero.
"""

from __future__ import annotations

from .. import primitives as P
from ..ir.builder import Builder
from ..ir.core import Op, Value
from ..symbolic.to_ir import build_partial


def scaled_partials(
    b: Builder,
    op: Op,
    operands: tuple[Value, ...],
    out: Value,
    factors: list[Value | None],
    hints: list[str | None] | None = None,
) -> list[Value | None]:
    """``∂result/∂operand_i · factors[i]`` for each operand (``None`` factor: skipped).

    The factor (a tangent or a cotangent) is multiplied in *before* the
    expression is turned into IR, so ``x / y`` gives the adjoint ``ybar / y``
    rather than ``(1 / y) * ybar``.  ``None`` in the result is a symbolic zero.
    ``hints`` name the results (``x.bar``) where they are new values.
    """
    hints = hints or [None] * len(operands)
    prim = P.PRIMITIVES[op.prim]
    if prim.derivative != "partials":
        return [None] * len(operands)
    attrs = dict(op.attrs)
    if prim.partials_rule is not None:
        parts = prim.partials_rule(b, operands, out, attrs, op.loc)
        return [
            None if p is None or f is None else b.emit("mul", (p, f), loc=op.loc, hint=h)
            for p, f, h in zip(parts, factors, hints, strict=True)
        ]
    exprs = P.symbolic_partials(op.prim)
    return [
        None if f is None else build_partial(b, e, operands, out, attrs, op.loc, f, h)
        for e, f, h in zip(exprs, factors, hints, strict=True)
    ]


def derived_hint(base: str, suffix: str) -> str:
    """A name hint made by s2sad, not written by the user: ``x.bar``.

    The dot marks it as derived; code generation spells it ``x_bar`` and
    makes sure it never clashes with a name of the user's source.
    """
    return f"{base}.{suffix}"


def suffixed(v: Value, suffix: str) -> str | None:
    """The name hint of a derivative of ``v``: ``x`` → ``x.dot`` / ``x.bar``."""
    return derived_hint(v.hint, suffix) if v.hint else None


def cancels(b: Builder, a: Value, c: Value) -> bool:
    """Is ``c`` exactly ``-a`` (one of them the negation op of the other)?

    Derivative contributions that cancel like this sum to a symbolic zero, as
    ``sin(x)·x + cos(x)`` differentiates to ``x·cos(x)`` and not to
    ``sin(x) - sin(x) + x·cos(x)``.  (A primal ``t - t`` is kept: it is NaN
    for an infinite ``t``.)
    """
    for u, w in ((a, c), (c, a)):
        op = b.defs.get(u)
        if op is not None and op.prim == "neg" and op.operands[0] is w:
            return True
    return False


def add_all(b: Builder, terms: list[Value], hint: str | None, loc=None) -> Value | None:
    """Sum ``terms`` left to right (the last addition carries ``hint``); ``None`` if
    they cancel to a symbolic zero."""
    kept: list[Value] = []
    for t in terms:
        match = next((k for k in kept if cancels(b, k, t)), None)
        if match is not None:
            kept.remove(match)
        else:
            kept.append(t)
    if not kept:
        return None
    terms = kept
    acc = terms[0]
    for i, t in enumerate(terms[1:], start=2):
        acc = b.emit("add", (acc, t), loc=loc, hint=hint if i == len(terms) else None)
    return acc
