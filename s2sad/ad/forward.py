"""Forward mode (tangents): emit the primal and, op by op, its tangent.

:func:`forward_sweep` inlines a function into a builder and, for every active
op, emits ``tangent(result) = Σ ∂result/∂operand_i · tangent(operand_i)``
right after it.  Missing tangents are symbolic zeros: no ``0 * x`` is ever
built.  Seeds can be values (``jvp``) or constants (a forward-mode gradient
seeds each input with 1.0).  :func:`forward_sweeps` differentiates in several
directions at once (one *lane* of tangents each): the primal, loops and
branches included, is emitted once, and a loop carries every lane's tangents.

Structured ops get tangent regions: a ``cond`` yields the tangents of its
active results next to the values; a loop carries the tangents of its
active slots next to the slots.

Forward mode over reverse-mode IR (Hessian-vector products as forward over
reverse): a tape push also pushes the tangents of its active values and the
matching read (same ``tape`` tag) reads them back; the list-adjoint updates
(``add_at``, ``list_add``, ``list_pop``) are linear.  Reverse mode's array
helpers have no tangent rules yet: activity analysis refuses them.
"""

from __future__ import annotations

from .. import primitives as P
from ..errors import InternalError
from ..ir.builder import Builder
from ..ir.clone import clone_ops
from ..ir.core import Block, Function, Kind, Op, Value
from ..primitives_numpy import (
    MAX_BROADCAST,
    TANGENT_MAY_BROADCAST,
    ShapeFacts,
    elementwise,
    one_array_arguments,
)
from .activity import active_values, loop_slots
from .rules import add_all, cancels, scaled_partials, suffixed

# Reverse-mode ops that forward mode differentiates itself (forward over reverse): the
# tapes carry tangents next to values, and the list adjoints are linear.
HANDLED = frozenset({"tape_push", "tape_read", "add_at", "list_add", "list_pop"})


class _Lane:
    """The tangents of one direction (several directions share one primal)."""

    def __init__(self) -> None:
        self.tape_slots: dict = {}  # a tape's tag -> the pushed positions that carry tangents
        self.tangent: dict[Value, Value] = {}
        # Tangents of sums kept as lists of terms until something needs the value, so
        # that t and -t from different ops cancel (x·sin(x) + cos(x) → x·cos(x)).
        self.terms: dict[Value, list[Value]] = {}
        self.scopes: list[list[Value]] = [[]]


class _Forward:
    def __init__(self, b: Builder, active: set[Value], lanes: int = 1) -> None:
        self.b = b
        self.active = active
        self.lanes = [_Lane() for _ in range(lanes)]
        self.lane = self.lanes[0]  # the direction being worked on

    def each_lane(self):
        """Each lane in turn, made the current one."""
        for lane in self.lanes:
            self.lane = lane
            yield lane

    # the current lane's state
    tape_slots = property(lambda self: self.lane.tape_slots)
    tangent = property(lambda self: self.lane.tangent)
    terms = property(lambda self: self.lane.terms)
    scopes = property(lambda self: self.lane.scopes)

    def get(self, v: Value) -> Value | None:
        """The tangent of ``v`` as one value (``None``: zero)."""
        if v in self.tangent:
            return self.tangent[v]
        terms = self.terms.pop(v, None)
        if not terms:
            return None
        total = add_all(self.b, terms, suffixed(v, "dot"))
        if total is not None:
            self.tangent[v] = total
        return total

    def materialize(self) -> None:
        """Sum every pending term list now (before a region that may read them)."""
        for v in list(self.terms):
            self.get(v)

    def push_scope(self) -> None:
        self.materialize()
        self.scopes.append([])

    def pop_scope(self) -> None:
        for v in self.scopes.pop():  # region-local tangents are not visible outside
            self.terms.pop(v, None)

    def zero(self) -> Value:
        return self.b.const(0.0)

    def block(self, block: Block, env: dict[Value, Value]) -> None:
        for op in block.ops:
            if op.prim == "cond":
                self.cond(op, env)
            elif op.regions:
                self.loop(op, env)
            else:
                self.op(op, env)

    def op(self, op: Op, env: dict[Value, Value]) -> None:
        b = self.b
        operands = tuple(env[v] for v in op.operands)
        if op.prim in HANDLED:
            self.reverse_op(op, operands, env)
            return
        if len(op.results) != 1:
            results = b.emit_multi(op.prim, operands, [r.kind for r in op.results],
                                   attrs=op.attrs, loc=op.loc)
            env.update(zip(op.results, results, strict=True))
            return
        out = b.emit(op.prim, operands, attrs=op.attrs, loc=op.loc, hint=op.result.hint)
        env[op.result] = out
        if op.result not in self.active:
            return
        for _ in self.each_lane():
            self.op_tangent(op, operands, out)

    def op_tangent(self, op: Op, operands: tuple[Value, ...], out: Value) -> None:
        """The current lane's tangent of a single-result op."""
        b = self.b
        prim = P.PRIMITIVES[op.prim]
        if prim.derivative == "linear":
            self.linear(op, operands, out)
            return
        if prim.derivative == "rule":  # array primitives: hand-written rules
            # a scalar tangent of an array stands for itself broadcast: the rules (np.sum,
            # indexing, transposes) need it as an array of the operand's shape
            loose = TANGENT_MAY_BROADCAST.get(op.prim, frozenset())
            tangents = [t if t is None or k in loose else self.shaped(u, t)
                        for k, (u, t) in enumerate(zip(operands, map(self.get, op.operands),
                                                       strict=True))]
            if any(t is not None for t in tangents):
                t = prim.jvp_rule(b, op, operands, out, tangents)
                if t is not None:
                    if t.kind is Kind.ARRAY and not elementwise(op):  # (np.where's may be
                        ShapeFacts.of(b).same_as(t, out)  # smaller) a rule's has out's shape
                    self.tangent[op.result] = t
            return
        if op.prim in ("add", "sub", "neg") and op.result.kind in (Kind.FLOAT, Kind.ARRAY):
            self.linear_sum(op)
            return
        factors = [self.get(v) for v in op.operands]
        if not any(f is not None for f in factors):
            return
        hint = suffixed(op.result, "dot")
        single = sum(f is not None for f in factors) == 1
        hints = [hint if single else None] * len(factors)
        terms = [t for t in scaled_partials(b, op, operands, out, factors, hints)
                 if t is not None]
        self.store(op.result, terms, op.loc)

    def reverse_op(self, op: Op, operands: tuple[Value, ...], env: dict[Value, Value]) -> None:
        """The tangents of reverse mode's own ops (forward over reverse).

        A tape push also pushes the tangents of its active values, and the pop with the
        same tag reads them back as the tangents of the values read.  The list-adjoint
        updates are linear: the tangent does to the tangent list what the op does.
        Derivative IR is differentiated one direction at a time (one lane)."""
        if len(self.lanes) != 1:
            raise InternalError("forward over reverse-mode IR takes one direction per sweep")
        b, loc = self.b, op.loc
        kinds = [r.kind for r in op.results]
        if op.prim == "tape_push":
            values = op.operands[1:]
            slots = [k for k, v in enumerate(values) if v in self.active]
            self.tape_slots[op.attr("tape")] = slots
            extra = [self.carried(env[values[k]], self.get(values[k])) for k in slots]
            env[op.result] = b.emit("tape_push", (*operands, *extra), attrs=op.attrs, loc=loc,
                                    hint=op.result.hint)
            return
        if op.prim == "tape_read":
            slots = self.tape_slots.get(op.attr("tape"), [])
            read = op.results[1:]
            results = b.emit_multi("tape_read", operands, kinds + [read[k].kind for k in slots],
                                   hints=[r.hint for r in op.results]
                                   + [suffixed(read[k], "dot") for k in slots],
                                   attrs=op.attrs, loc=loc)
            env.update(zip(op.results, results, strict=False))
            for k, t in zip(slots, results[len(op.results):], strict=True):
                self.tangent[read[k]] = t
            return
        tangents = [self.get(v) if v.kind.differentiable else None for v in op.operands]
        if op.prim == "list_pop":
            results = b.emit_multi("list_pop", operands, kinds, hints=[r.hint for r in
                                                                      op.results], loc=loc)
            env.update(zip(op.results, results, strict=True))
            if tangents[0] is not None and any(r in self.active for r in op.results):
                rest, last = b.emit_multi("list_pop", (tangents[0],), kinds,
                                          hints=[suffixed(r, "dot") for r in op.results],
                                          loc=loc)
                self.tangent[op.results[0]], self.tangent[op.results[1]] = rest, last
            return
        out = b.emit(op.prim, operands, attrs=op.attrs, loc=loc, hint=op.result.hint)
        env[op.result] = out
        if op.result not in self.active or all(t is None for t in tangents):
            return
        hint = suffixed(op.result, "dot")
        if op.prim == "list_add":
            a, c = (self.zero_like(v, t) for v, t in zip(operands, tangents, strict=True))
            self.tangent[op.result] = b.emit("list_add", (a, c), loc=loc, hint=hint)
        else:  # add_at(xs, i, v): xs[i] += v
            if tangents[2] is None:
                self.tangent[op.result] = tangents[0]
                return
            xs = tangents[0] if tangents[0] is not None else b.emit("zeros_like",
                                                                    (operands[0],))
            self.tangent[op.result] = b.emit("add_at", (xs, operands[1], tangents[2]), loc=loc,
                                             hint=hint)

    def linear_sum(self, op: Op) -> None:
        """``a + b``, ``a - b``, ``-a``: the tangent is a list of signed terms."""
        signs = {"add": (1, 1), "sub": (1, -1), "neg": (-1,)}[op.prim]
        terms: list[Value] = []
        for v, sign in zip(op.operands, signs, strict=True):
            if v in self.tangent:
                parts = [self.tangent[v]]
            else:
                parts = list(self.terms.get(v, ()))
            terms += [t if sign > 0 else self.b.emit("neg", (t,), loc=op.loc) for t in parts]
        self.store(op.result, terms, op.loc)

    def store(self, v: Value, terms: list[Value], loc) -> None:
        """Record the tangent of ``v`` as a sum of terms; ``t`` and ``-t`` cancel."""
        kept: list[Value] = []
        for t in terms:
            match = next((k for k in kept if cancels(self.b, k, t)), None)
            if match is not None:
                kept.remove(match)
            else:
                kept.append(t)
        if not kept:
            return
        kept = self.collect(kept, loc)
        if len(kept) == 1 or len(kept) > 16:  # one term, or a long list: the value now
            total = add_all(self.b, kept, suffixed(v, "dot"), loc)
            if total is not None:
                self.tangent[v] = total
            return
        self.terms[v] = kept
        self.scopes[-1].append(v)

    def collect(self, terms: list[Value], loc) -> list[Value]:
        """Equal terms (the very same value) collected: ``t + t`` → ``2.0 * t``.

        Repeated forward mode (n-th derivatives) meets them at every product:
        d(u'v + uv') has the term u'v' twice; collected, the k-th derivative of a
        product has the k + 1 terms of Leibniz's rule instead of 2^k.
        """
        counts: dict[Value, int] = {}
        for t in terms:
            counts[t] = counts.get(t, 0) + 1
        if len(counts) == len(terms):
            return terms
        out = []
        for t, k in counts.items():
            if k == 1 or t.kind not in (Kind.FLOAT, Kind.ARRAY):
                out.extend([t] * k)
            else:
                out.append(self.b.emit("mul", (self.b.const(float(k)), t), loc=loc))
        return out

    def linear(self, op: Op, operands: tuple[Value, ...], out: Value) -> None:
        """List operations: the tangent does to the tangent lists what the op does."""
        tangents = [self.get(v) for v in op.operands]
        if not any(t is not None for t in tangents):
            return
        b, hint = self.b, suffixed(op.result, "dot")
        if op.prim == "getitem":
            t = b.emit("getitem", (tangents[0], operands[1]), loc=op.loc, hint=hint)
        elif op.prim == "list_lit":
            t = b.emit("list_lit", tuple(self.zero_like(v, t) for v, t in
                                         zip(operands, tangents, strict=True)),
                       loc=op.loc, hint=hint)
        elif op.prim == "list_copy":
            t = b.emit("list_copy", (tangents[0],), loc=op.loc, hint=hint)
        elif op.prim == "append":
            t = b.emit("append", (self.zero_like(operands[0], tangents[0]),
                                  self.zero_like(operands[1], tangents[1])), loc=op.loc,
                       hint=hint)
        else:  # setitem
            t = b.emit("setitem", (self.zero_like(operands[0], tangents[0]), operands[1],
                                   self.zero_like(operands[2], tangents[2])), loc=op.loc,
                       hint=hint)
        self.tangent[op.result] = t

    def zero_like(self, v: Value, tangent: Value | None = None) -> Value:
        """``tangent``, or the zero tangent of ``v``: 0.0, or a list of zeros."""
        if tangent is not None:
            return tangent
        if v.kind is Kind.LIST:
            return self.b.emit("zeros_like", (v,))
        if v.kind is Kind.ARRAY:
            return self.b.emit("np_zeros_like", (v,))
        return self.zero()

    def same_shape(self, tangent: Value, v: Value) -> None:
        """Record that ``tangent`` (a seed, a slot's tangent) has the shape of ``v``."""
        if tangent.kind is Kind.ARRAY and v.kind is Kind.ARRAY:
            ShapeFacts.of(self.b).same_as(tangent, v)

    def carried(self, v: Value, tangent: Value | None) -> Value:
        """The tangent a region yields or a loop starts from, of ``v``'s kind and shape
        (see :meth:`shaped`)."""
        if tangent is not None:
            return self.shaped(v, tangent)
        return self.zero_like(v, tangent)

    def shaped(self, v: Value, tangent: Value) -> Value:
        """``tangent`` as an array of ``v``'s shape, where something needs exactly that: an
        array rule (``np.sum``, ``@``, indexing), a loop or branch slot, an output.

        The tangent of an elementwise result may be smaller than the result: a scalar, or
        ``y_dot`` for ``y + x`` with ``y`` broadcast (or after ``- x_dot + x_dot``
        cancelled). It stands for its broadcast; elementwise consumers broadcast it
        themselves, the others get it broadcast here. A tangent that is a parameter or a
        slot has its value's shape already (:meth:`same_shape`)."""
        if v.kind is not Kind.ARRAY:
            return tangent
        facts = ShapeFacts.of(self.b)
        like = facts.leaves(v)
        if tangent.kind is Kind.ARRAY and set(facts.leaves(tangent)) == set(like):
            return tangent
        if not like or len(like) > MAX_BROADCAST:
            like = (v,)
        out = self.b.emit("broadcast_like", (tangent, *like))
        facts.same_as(out, v)
        return out

    def cond(self, op: Op, env: dict[Value, Value]) -> None:
        act = [j for j, r in enumerate(op.results)
               if r in self.active and r.kind is not Kind.TAPE]  # a tape has no tangent
        regions = []
        for region in op.regions:
            for _ in self.each_lane():
                self.push_scope()
            self.b.push_block()
            self.block(region, env)
            ys = [env[y] for y in region.yields]
            for _ in self.each_lane():
                ys += [self.carried(env[region.yields[j]], self.get(region.yields[j]))
                       for j in act]
            regions.append(self.b.pop_block(tuple(ys)))
            for _ in self.each_lane():
                self.pop_scope()
        results = self._emit(op, (env[op.operands[0]],), act, regions)
        self._bind_results(op, env, act, results)

    def loop(self, op: Op, env: dict[Value, Value]) -> None:
        inits, args, yields = loop_slots(op)
        act = [j for j, a in enumerate(args) if (a in self.active or op.results[j] in self.active)
               and a.kind is not Kind.TAPE]  # a tape carries its tangents itself
        new_inits = [env[v] for v in inits]
        for _ in self.each_lane():
            new_inits += [self.carried(env[inits[j]], self.get(inits[j])) for j in act]
        regions = []
        for region in op.regions:
            carried = region.args[-len(inits):] if inits else ()
            new_args = [self.b.fresh(a.kind, a.hint) for a in region.args]
            env.update(zip(region.args, new_args, strict=True))
            tan_args = []
            for _ in self.each_lane():
                for j in act:
                    t = self.b.fresh(carried[j].kind, suffixed(carried[j], "dot"))
                    self.tangent[carried[j]] = t
                    self.same_shape(t, env[carried[j]])
                    tan_args.append(t)
                self.push_scope()
            self.b.push_block((*new_args, *tan_args))
            if region is op.regions[-1]:  # the body
                self.block(region, env)
                ys = [env[y] for y in region.yields]
                for _ in self.each_lane():
                    ys += [self.carried(env[yields[j]], self.get(yields[j])) for j in act]
            else:  # a while loop's condition: no tangents needed
                clone_ops(self.b, region, env)
                ys = [env[y] for y in region.yields]
            regions.append(self.b.pop_block(tuple(ys)))
            for _ in self.each_lane():
                self.pop_scope()
        operands = [env[v] for v in op.operands[:len(op.operands) - len(inits)]] + new_inits
        results = self._emit(op, tuple(operands), act, regions)
        self._bind_results(op, env, act, results)

    def _emit(self, op: Op, operands, act, regions) -> tuple[Value, ...]:
        lanes = len(self.lanes)
        kinds = [r.kind for r in op.results] + [op.results[j].kind for j in act] * lanes
        hints = [r.hint for r in op.results] + [suffixed(op.results[j], "dot")
                                                for j in act] * lanes
        return self.b.emit_multi(op.prim, operands, kinds, hints=hints, attrs=op.attrs,
                                 loc=op.loc, regions=tuple(regions))

    def _bind_results(self, op: Op, env, act, results) -> None:
        n = len(op.results)
        env.update(zip(op.results, results[:n], strict=True))
        for k, _ in enumerate(self.each_lane()):
            for j, t in zip(act, results[n + k * len(act):n + (k + 1) * len(act)],
                            strict=True):
                self.tangent[op.results[j]] = t
                self.same_shape(t, results[j])


def forward_sweep(
    b: Builder,
    fn: Function,
    args: tuple[Value, ...],
    seeds: dict[int, Value],
) -> tuple[tuple[Value, ...], tuple[Value | None, ...]]:
    """Emit ``fn`` on ``args`` with tangents seeded at parameter index → tangent value.

    Returns the results and their tangents (``None`` for a zero tangent).
    """
    results, (tangents,) = forward_sweeps(b, fn, args, [seeds])
    return results, tangents


def forward_sweeps(
    b: Builder,
    fn: Function,
    args: tuple[Value, ...],
    directions: list[dict[int, Value]],
) -> tuple[tuple[Value, ...], list[tuple[Value | None, ...]]]:
    """:func:`forward_sweep` in several directions at once: the primal, loops and
    branches included, is computed once, and each loop carries the tangents of every
    direction.  Returns the results and, per direction, their tangents."""
    args = one_array_arguments(b, fn, args)
    env: dict[Value, Value] = dict(zip(fn.params, args, strict=True))
    seeded = {fn.params[i] for seeds in directions for i in seeds}
    fwd = _Forward(b, active_values(fn, seeded, HANDLED), len(directions))
    for seeds, _ in zip(directions, fwd.each_lane(), strict=True):
        fwd.tangent.update({fn.params[i]: t for i, t in seeds.items()})
        for i, t in seeds.items():
            if t not in b.defs:  # a tangent argument: the caller gives it the argument's shape
                fwd.same_shape(t, args[i])
    fwd.block(fn.body, env)
    results = tuple(env[r] for r in fn.results)
    out = []
    for _ in fwd.each_lane():
        tangents = (fwd.get(r) for r in fn.results)
        out.append(tuple(None if t is None else fwd.shaped(v, t)
                         for v, t in zip(results, tangents, strict=True)))
    return results, out
