"""Running maxima and minima in loops: record where the winner was, not every value.

A loop slot that each pass either keeps or replaces by a fresh candidate::

    m = z[0]
    for v in z:
        if v > m:            # or m = max(m, v), or m = v if v > m else m
            m = v

ends as the candidate of the last pass that replaced it, or as its initial value.
:func:`rewrite_selections` makes such a ``for`` loop also record the index of that
pass (``last``, starting at ``start - step``, which the range never yields) and,
after the loop, recomputes the candidate from it: ``m = z[last] if last != -1
else z[0]``.  The value is the same number.  The loop's running ``m`` now only
decides comparisons, so differentiation needs neither a tape nor a backward loop
for it: the derivative goes to the one item that won, as it does for ``max(xs)``.

The rewrite applies when, in a ``for`` loop's body:

* the slot's new value is ``select(c, a, m)`` (either side), a ``cond`` of one
  result whose regions only pass ``a`` and ``m`` through, or the builtin
  ``max(m, a)``/``min(m, a)`` (either order, Python's tie rule kept);
* ``m`` is read by nothing else but comparisons that feed only that choice;
* the candidate ``a`` is computed from the loop index and values from outside
  the loop only (``z[i]``, ``abs(z[i] - c)``), so it can be recomputed at ``last``.

It runs on the primal before differentiation (``pipeline.derive``) and changes no
value; any other loop is copied as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import primitives as P
from ..ir.builder import Builder
from ..ir.clone import clone_op, clone_ops, rewritten
from ..ir.core import Function, Kind, Op, Value, values_read, walk_ops

_COMPARISONS = frozenset({"lt", "le", "gt", "ge", "eq", "ne"})


@dataclass(frozen=True)
class _Selection:
    slot: int  # the carried slot
    candidate: Value  # a: the value a pass may replace m by
    slice: tuple[Op, ...]  # the body's ops that compute a, in order
    test: Op  # the op that chooses between a and m
    replaced_if: bool | None  # a wins when test's predicate is this (None: max2/min2)


def rewrite_selections(fn: Function, stopped: frozenset[Value] = frozenset()) -> Function:
    """``fn`` with its running maxima and minima rewritten (``fn`` itself if none).
    A loop result in ``stopped`` carries no derivative (its every use is stopped, see
    :func:`~.identities.stopped_values`): it is kept as it is, as recording where it
    won would only serve to recompute it."""
    if not any(_selections(op, stopped) for op in walk_ops(fn.body)
               if op.prim == "for_range"):
        return fn
    return rewritten(fn, lambda b, op, env: _rewrite(b, op, env, stopped))


def _selections(op: Op, stopped: frozenset[Value] = frozenset()) -> list[_Selection]:
    body = op.regions[0]
    carried = body.args[1:]
    defs = {r: o for o in body.ops for r in o.results}
    readers: dict[Value, list[Op]] = {}
    for o in body.ops:
        for v in set(o.operands) | {u for r in o.regions for u in values_read(r)}:
            readers.setdefault(v, []).append(o)
    found = []
    for j, m in enumerate(carried):
        if op.results[j] in stopped:
            continue
        y = body.yields[j]
        test = defs.get(y)
        if m.kind is not Kind.FLOAT or test is None or len(test.results) != 1:
            continue
        choice = _choice(test, m)
        if choice is None or list(body.yields).count(y) != 1 or readers.get(y):
            continue
        candidate, replaced_if = choice
        predicate = test.operands[0] if replaced_if is not None else None
        for o in readers.get(m, []):  # m decides comparisons that feed only the choice
            if o is not test and not (o.prim in _COMPARISONS and o.results[0] is predicate
                                      and readers.get(predicate) == [test]):
                break
        else:
            if m in body.yields[:j] + body.yields[j + 1:]:
                continue
            ops = _slice(candidate, defs, set(carried))
            if ops is not None:
                found.append(_Selection(j, candidate, ops, test, replaced_if))
    return found


def _choice(test: Op, m: Value) -> tuple[Value, bool | None] | None:
    """(candidate, predicate value for which it wins) if ``test`` keeps m or takes it."""
    if test.prim == "select":
        _, t, f = test.operands
        if f is m and t is not m:
            return t, True
        if t is m and f is not m:
            return f, False
    elif test.prim == "cond" and all(not r.ops for r in test.regions):
        t, f = (r.yields[0] for r in test.regions)
        if f is m and t is not m:
            return t, True
        if t is m and f is not m:
            return f, False
    elif test.prim in ("max2", "min2") and test.attr("lib") == P.BUILTIN:
        x0, x1 = test.operands
        if (x0 is m) != (x1 is m):
            return (x1 if x0 is m else x0), None
    return None


def _slice(a: Value, defs: dict[Value, Op], carried: set[Value]) -> tuple[Op, ...] | None:
    """The body's ops that compute ``a``, if none has regions, side effects or reads a
    carried value; ``None`` otherwise."""
    ops: dict[Op, None] = {}
    todo = [a]
    while todo:
        v = todo.pop()
        if v in carried:
            return None
        op = defs.get(v)
        if op is None or op in ops:
            continue
        if op.regions or len(op.results) != 1 or not P.PRIMITIVES[op.prim].cse:
            return None
        ops[op] = None
        todo.extend(op.operands)
    order = {op: k for k, op in enumerate(defs.values())}
    return tuple(sorted(ops, key=order.__getitem__))


def _replaced(b: Builder, s: _Selection, m: Value, env: dict[Value, Value]) -> Value:
    """In the new body: did this pass replace m by the candidate?"""
    if s.replaced_if is not None:
        c = env[s.test.operands[0]]
        return c if s.replaced_if else b.emit("not", (c,), loc=s.test.loc)
    a, kept = env[s.candidate], env[m]
    x0_is_m = s.test.operands[0] is m
    beats = "gt" if s.test.prim == "max2" else "lt"
    # Python's max(x0, x1) is x1 only if x1 > x0: a tie or a NaN keeps x0
    if x0_is_m:
        return b.emit(beats, (a, kept), loc=s.test.loc)
    return b.emit("not", (b.emit(beats, (kept, a), loc=s.test.loc),), loc=s.test.loc)


def _rewrite(b: Builder, op: Op, env: dict[Value, Value],
             stopped: frozenset[Value] = frozenset()) -> bool:
    """Emit ``op`` rewritten if it is a loop with running maxima or minima."""
    if op.prim != "for_range":
        return False
    found = _selections(op, stopped)
    if not found:
        return False
    body = op.regions[0]
    start, stop, step, *inits = (env[v] for v in op.operands)
    # start - step: a number the range never yields, for "not replaced yet"
    if b.is_const(step):
        never = b.emit("add", (start, b.const(-b.const_value(step))), loc=op.loc)
    else:
        never = b.emit("sub", (start, step), loc=op.loc)
    args = tuple(b.fresh(a.kind, a.hint) for a in body.args)
    lasts = tuple(b.fresh(Kind.INT, "last") for _ in found)
    env.update(zip(body.args, args, strict=True))
    b.push_block(args + lasts)
    clone_ops(b, body, env, custom=lambda b, o, env: _rewrite(b, o, env, stopped))
    new_lasts = tuple(
        b.emit("select", (_replaced(b, s, body.args[1 + s.slot], env), args[0], last),
               loc=op.loc, hint="last")
        for s, last in zip(found, lasts, strict=True))
    block = b.pop_block(tuple(env[y] for y in body.yields) + new_lasts)
    results = b.emit_multi("for_range", (start, stop, step, *inits) + (never,) * len(found),
                           [r.kind for r in op.results] + [Kind.INT] * len(found),
                           hints=[r.hint for r in op.results] + ["last"] * len(found),
                           attrs=op.attrs, loc=op.loc, regions=(block,))
    env.update(zip(op.results, results, strict=False))
    for s, last in zip(found, results[len(op.results):], strict=True):
        won = b.emit("ne", (last, never), loc=op.loc)
        inner = dict(env)
        inner[body.args[0]] = last
        b.push_block()
        for o in s.slice:
            clone_op(b, o, inner)
        recomputed = b.pop_block((inner[s.candidate],))
        b.push_block()
        initial = b.pop_block((env[op.operands[3 + s.slot]],))
        r = op.results[s.slot]
        env[r] = b.emit_multi("cond", (won,), [r.kind], hints=[r.hint], loc=s.test.loc,
                              regions=(recomputed, initial))[0]
    return True
