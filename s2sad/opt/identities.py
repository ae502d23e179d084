"""Differentiate an exactly equal expression where it is cheaper and more accurate.

A person who differentiates the log-loss ``y·log σ(z) + (1 − y)·log(1 − σ(z))`` by hand
writes ``y − σ(z)``, not the chain ``p̄ / p`` times ``σ(z)(1 − σ(z))``: three more passes
over the data, and a division that is ``0 / 0`` where ``σ(z)`` rounds to 0 or 1.
:func:`fuse_identities` finds such expressions in the primal (before differentiation,
``pipeline.derive``) and marks each with an op that passes its value through
unchanged — the value is computed as the user wrote it, bit for bit — and whose
derivative is that of the equal expression:

==========================================  =========================  ==================
expression (as computed)                    derivative used            primitive
==========================================  =========================  ==================
``log(σ(z))``                               ``1 − σ(z)``               ``same_value``
``log(1 − σ(z))``                           ``−σ(z)``                  ``same_value``
``y·log σ(z) + (1 − y)·log(1 − σ(z))``      ``y − σ(z)``; by y: ``z``  ``same_value``
``log(sum(exp(z − m))) + m`` (m a number)   ``e / s``; by m: none      ``logsumexp_shift``
==========================================  =========================  ==================

(σ is the ``sigmoid`` op that ``1 / (1 + exp(−z))`` becomes when it is built; ``e`` and
``s`` are the ``exp(z − m)`` and its sum already computed.)  Each row is an identity of
real analysis, proved by SymPy in ``tests/test_quality.py``, and each derivative is
checked there to be at least as accurate as the one it replaces, against mpmath.  The
last row is why a softmax cross-entropy's gradient does not depend on the max it
subtracts: its derivative by ``m`` is exactly zero, so ``np.max``'s adjoint is never
computed.  Written as loops (``total += exp(v - m)``, then ``log(total) + m``), the same
identity stops the derivative at the two uses of ``m`` (:func:`_loop_shifts`).
"""

from __future__ import annotations

from ..ir.builder import Builder
from ..ir.clone import clone_op, rewritten
from ..ir.core import Function, Kind, Op, Value, walk_ops


def fuse_identities(fn: Function) -> Function:
    """``fn`` with each expression of the table marked (``fn`` itself if there is none)."""
    defs = {r: op for op in walk_ops(fn.body) for r in op.results}
    matches = {op: m for op in walk_ops(fn.body) if (m := _match(op, defs)) is not None}
    shifts = _loop_shifts(fn, defs)
    if not matches and not shifts:
        return fn
    # A log that a binary cross-entropy holds is marked by the cross-entropy alone.
    inner = {v for prim, _, args in matches.values() if prim == "binary_cross_entropy"
             for v in args[-2:]}
    matches = {op: m for op, m in matches.items() if op.results[0] not in inner}

    def custom(b: Builder, op: Op, env: dict[Value, Value]) -> bool:
        if op in shifts:  # m's use here carries no derivative: its total is exactly zero
            k = shifts[op]
            operands = [env[v] for v in op.operands]
            operands[k] = b.emit("stop_gradient", (operands[k],), loc=op.loc)
            env[op.results[0]] = b.emit(op.prim, tuple(operands), attrs=op.attrs, loc=op.loc,
                                        hint=op.results[0].hint)
            return True
        found = matches.get(op)
        if found is None:
            return False
        identity, prim, args = found
        clone_op(b, op, env)
        attrs = {"identity": identity} if prim == "same_value" else {}
        env[op.results[0]] = b.emit(prim, (env[op.results[0]], *(env[a] for a in args[:_n(
            identity)])), attrs=attrs, loc=op.loc, hint=op.results[0].hint)
        return True

    return rewritten(fn, custom)


def stopped_values(fn: Function) -> frozenset[Value]:
    """Values whose every use is one that :func:`fuse_identities` stops (the max ``m`` of
    a log-sum-exp written as loops): no derivative passes through them."""
    defs = {r: op for op in walk_ops(fn.body) for r in op.results}
    shifts = _loop_shifts(fn, defs)
    if not shifts:
        return frozenset()
    stopped = {op.operands[k] for op, k in shifts.items()}
    for op in walk_ops(fn.body):
        for k, v in enumerate(op.operands):
            if v in stopped and shifts.get(op) != k:
                stopped.discard(v)
        for r in op.regions:
            stopped.difference_update(r.yields)
    return frozenset(stopped.difference(fn.results))


def _n(identity: str) -> int:
    """How many of a match's values are the marking op's operands (after the value)."""
    return {"log_sigmoid": 2, "log1m_sigmoid": 2, "binary_cross_entropy": 3,
            "logsumexp_shift": 4}[identity]


def _is(defs: dict, v: Value, prim: str) -> Op | None:
    op = defs.get(v)
    return op if op is not None and op.prim == prim else None


def _one_minus(defs: dict, v: Value) -> Value | None:
    """``u`` when ``v`` is ``1 - u``."""
    op = _is(defs, v, "sub")
    if op is None:
        return None
    one = _is(defs, op.operands[0], "const")
    value = one.attr("value") if one is not None else None
    return op.operands[1] if type(value) in (int, float) and value == 1 else None


def _log_sigmoid(defs: dict, v: Value) -> tuple[str, Value, Value] | None:
    """``("log_sigmoid", z, p)`` for ``log(p)``, ``("log1m_sigmoid", z, p)`` for
    ``log(1 - p)``, with ``p = σ(z)``."""
    log = _is(defs, v, "log")
    if log is None:
        return None
    sig = _is(defs, log.operands[0], "sigmoid")
    if sig is not None:
        return "log_sigmoid", sig.operands[0], sig.results[0]
    u = _one_minus(defs, log.operands[0])
    sig = _is(defs, u, "sigmoid") if u is not None else None
    if sig is not None:
        return "log1m_sigmoid", sig.operands[0], sig.results[0]
    return None


def _match(op: Op, defs: dict) -> tuple[str, str, tuple[Value, ...]] | None:
    """(identity, marking primitive, values: the operands, then the logs it holds)."""
    if len(op.results) != 1 or op.results[0].kind not in (Kind.FLOAT, Kind.ARRAY):
        return None
    if op.prim == "log":
        found = _log_sigmoid(defs, op.results[0])
        return (found[0], "same_value", found[1:]) if found is not None else None
    if op.prim != "add":
        return None
    return _cross_entropy(op, defs) or _logsumexp(op, defs)


def _cross_entropy(op: Op, defs: dict):
    """``y·log σ(z) + (1 - y)·log(1 - σ(z))``, its terms and factors in any order."""
    terms = [_is(defs, t, "mul") for t in op.operands]
    if None in terms:
        return None
    for first, second in (terms, terms[::-1]):
        for y, log_p in (first.operands, first.operands[::-1]):
            for one_minus_y, log_q in (second.operands, second.operands[::-1]):
                a, b = _log_sigmoid(defs, log_p), _log_sigmoid(defs, log_q)
                if (a is not None and b is not None and a[0] == "log_sigmoid"
                        and b[0] == "log1m_sigmoid" and a[1:] == b[1:]
                        and _one_minus(defs, one_minus_y) is y):
                    return ("binary_cross_entropy", "same_value",
                            (y, a[1], a[2], log_p, log_q))
    return None


def _logsumexp(op: Op, defs: dict):
    """``log(sum(exp(z - m))) + m``, a sum over every element and ``m`` a number."""
    for lse, m in (op.operands, op.operands[::-1]):
        log = _is(defs, lse, "log")
        total = _is(defs, log.operands[0], "np_sum") if log is not None else None
        if total is None or total.attr("axis") is not None or total.attr("keepdims"):
            continue
        exp = _is(defs, total.operands[0], "exp")
        shift = _is(defs, exp.operands[0], "sub") if exp is not None else None
        if shift is None or shift.operands[1] is not m or m.kind is not Kind.FLOAT:
            continue
        z = shift.operands[0]
        if z.kind is Kind.ARRAY:
            return ("logsumexp_shift", "logsumexp_shift",
                    (z, m, exp.results[0], total.results[0]))
    return None


def _loop_shifts(fn: Function, defs: dict) -> dict[Op, int]:
    """``log(total) + m`` where a loop sums ``total = 0 + Σ exp(x_i − m)``: the two ops
    that read ``m`` (the subtraction in the loop, the final addition), each with the
    position of ``m`` among its operands.  The derivative of the whole by ``m`` is
    exactly zero (−Σ e_i / total + 1), so those two uses of ``m`` carry none: a softmax
    cross-entropy written as loops does not accumulate the max's adjoint.  Each value on
    the way (the difference, its exp, the running and the final total, its log) must have
    no other use, so that no other derivative passes through what is stopped."""
    uses: dict[Value, int] = {}
    for op in walk_ops(fn.body):
        for v in op.operands:
            uses[v] = uses.get(v, 0) + 1
        for r in op.regions:
            for v in r.yields:
                uses[v] = uses.get(v, 0) + 1
    for v in fn.results:
        uses[v] = uses.get(v, 0) + 1

    def only(v: Value) -> bool:
        return uses.get(v, 0) == 1

    out: dict[Op, int] = {}
    for op in walk_ops(fn.body):
        if op.prim != "add" or op.results[0].kind is not Kind.FLOAT:
            continue
        for k in (0, 1):
            m, log = op.operands[k], op.operands[1 - k]
            log_op = _is(defs, log, "log")
            loop = defs.get(log_op.operands[0]) if log_op is not None and only(log) else None
            if loop is None or loop.prim != "for_range" or not only(log_op.operands[0]):
                continue
            j = loop.results.index(log_op.operands[0])
            body = loop.regions[0]
            init = _is(defs, loop.operands[3 + j], "const")
            step = _is(defs, body.yields[j], "add")
            if init is None or init.attr("value") != 0 or step is None:
                continue
            running = body.args[1 + j]
            term = step.operands[1] if step.operands[0] is running else step.operands[0]
            exp = _is(defs, term, "exp")
            shift = _is(defs, exp.operands[0], "sub") if exp is not None else None
            if (shift is None or shift.operands[1] is not m or not only(running)
                    or not only(term) or not only(exp.operands[0])
                    or running not in step.operands):
                continue
            out[shift] = 1
            out[op] = k
            break
    return out
