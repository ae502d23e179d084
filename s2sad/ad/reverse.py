"""Reverse mode (adjoints): the primal sweep, then the ops backwards.

:func:`reverse_sweep` inlines the primal, seeds the adjoints of the results
with the given cotangents, and walks the ops in reverse, adding
``∂result/∂operand_i · adjoint(result)`` into each active operand's adjoint.
A value used several times has its contributions summed; a missing adjoint
is a symbolic zero.

Structured ops:

* A loop pushes, at the start of every iteration, the carried values its body
  reads onto a tape (a plain Python list); a ``while`` loop also counts its
  iterations.  The reverse sweep runs the loop backwards: it reads the
  pass's record (by pass number), recomputes that iteration's body from it, and
  back-propagates through it.  The tape holds O(iterations × carried
  values), never every intermediate.  A carried array or list that the body
  only reads items of and assigns into (``h[t] = f(h[t - 1])``) is not
  recorded whole: the items read are, so that the loop can change it in place,
  and not even those when no later pass changes them (the reverse sweep reads
  them from the final array).  The
  adjoints of values from outside the loop are accumulated in carried slots
  of the reverse loop.
* With ``checkpoints=K`` (:data:`CHECKPOINTS`), a loop keeps no tape: its primal loop
  offers its carried values to a store of at most K snapshots (binomial checkpointing,
  the runtime's ``_Checkpoints``; online for a ``while`` loop), and each pass of the
  reverse loop restores the latest snapshot before it and advances to it (an inner
  loop) before reversing it: O(K) carried values instead of O(iterations), for more
  recomputation.  With ``checkpoints="auto"`` (a ``TapeBudget``) the store picks K when
  the loop starts, from the budget and the size of one snapshot.
* A ``cond`` is reversed by a ``cond`` on the same predicate (the primal
  value is still there) whose regions recompute their branch and
  back-propagate through it.  Only the branch that ran contributes, so an
  untaken branch can never put NaN or inf into a gradient.
"""

from __future__ import annotations

import dataclasses
from contextvars import ContextVar

from .. import primitives as P
from ..checkpointing import TapeBudget
from ..errors import S2SADError
from ..ir.builder import Builder
from ..ir.clone import clone_op
from ..ir.core import Block, Function, Kind, Op, Value, values_read, walk_ops
from ..primitives_numpy import (
    MAX_BROADCAST,
    SCALAR_COTANGENT_OK,
    ShapeFacts,
    fit,
    one_array_arguments,
)
from .activity import active_values, free_values, loop_slots
from .rules import cancels, scaled_partials, suffixed

# How many snapshots of a loop's carried values reverse mode keeps (binomial checkpointing),
# or None: a tape of every pass.  Set by the API around one derivation (``checkpoints=K``;
# a TapeBudget for ``checkpoints="auto"``: K is picked at run time, when the loop starts).
CHECKPOINTS: ContextVar[int | TapeBudget | None] = ContextVar("checkpoints", default=None)

_LIST_OPS = ("getitem", "list_lit", "list_copy", "append", "setitem")
# a carried container's item read and item assignment (see ``_read_plan``)
_ITEM_PRIMS = {Kind.ARRAY: ("np_index", "index_set"), Kind.LIST: ("getitem", "setitem")}


# What recomputing a scalar op costs, in arithmetic operations (a math call costs 4).  A
# float that a loop's reverse sweep reads is kept on its tape when recomputing it would
# cost _KEEP or more: one more item on a tape costs about 1 (see _Reverse._kept_ops).
_CHEAP = frozenset({"select", "getitem", "abs", "max2", "min2", "sign", "stop_gradient",
                    "len", "not", "and", "or"})
_KEEP = 3


def _cost(prim: str) -> int:
    if prim == "const":
        return 0
    if prim in ("pow", "powc"):
        return 2
    return 1 if P.PRIMITIVES[prim].operator is not None or prim in _CHEAP else 4


class _Reverse:
    def __init__(self, b: Builder, fn: Function, active: set[Value]) -> None:
        self.b = b
        self.active = active
        # loop → (its tape, its while-loop trip count, taped slots and args, the tape's tag)
        self.tapes: dict[Op, tuple] = {}
        self.shapes = ShapeFacts.of(b)
        # the differentiated function's values -> their ops
        self.defs = {r: o for o in walk_ops(fn.body) for r in o.results}
        # adjoints known to be arrays of their value's full shape though no op says so (a
        # reverse loop's or branch's slot threaded from one): items are added into them
        self.whole: set[Value] = set()
        self.checkpoints = CHECKPOINTS.get()

    def zero(self) -> Value:
        return self.b.const(0.0)

    # -- the primal sweep ----------------------------------------------------------------------
    def primal(self, block: Block, env: dict[Value, Value], skip: frozenset = frozenset(),
               kept: frozenset = frozenset()) -> None:
        """Emit ``block``'s ops (but those in ``skip``, whose values ``env`` has already;
        those also in ``kept`` are pure, and stand for their value from then on);
        loops record onto tapes what their reverse will need."""
        needed = self._reads(block) if any(
            o.prim in ("for_range", "while_loop") for o in block.ops) else set()
        for op in block.ops:
            if op in skip:
                if op in kept and P.PRIMITIVES[op.prim].cse:  # a kept cos(x) is not
                    # computed again (sin'(x) = cos(x)); a kept draw is no op to share
                    self.b.known(op.prim, tuple(env[v] for v in op.operands), op.attrs,
                                 env[op.results[0]])
                continue
            if op.prim in ("for_range", "while_loop") and self._loop_needed(op):
                if self.checkpoints is not None:
                    self._checkpointed_loop(op, env)
                else:
                    self._taped_loop(op, env, any(r in needed for r in op.results))
            else:
                self._clone(op, env)

    def _clone(self, op: Op, env: dict[Value, Value]) -> None:
        """Emit ``op`` of the primal sweep; a branch that draws random numbers also
        yields its draws (see :meth:`_drawing_cond`)."""
        if op.prim == "cond" and _draws(op):
            self._drawing_cond(op, env)
        else:
            clone_op(self.b, op, env)

    def _drawing_cond(self, op: Op, env: dict[Value, Value]) -> None:
        """A branch that draws, emitted with its draws as extra results (the other
        branch yields 0.0 for them): the reverse sweep recomputes the branch that ran
        without its effects, and reads the draws from there (or a loop tapes them), so a
        draw runs once, in the primal sweep, and is never replayed.  A draw inside a loop
        inside the branch would need a tape of its own: refused."""
        b = self.b
        drawn = _draws(op)
        _refuse_looped_draws(op, "a branch")
        pred = env[op.operands[0]]
        if b.is_const(pred):
            clone_op(b, op, env)
            return
        regions = []
        for region in op.regions:
            b.push_block(())
            for inner in region.ops:
                self._clone(inner, env)
            own = {o.results[0] for o in walk_ops(region) if o.prim == "random_draw"}
            regions.append(b.pop_block((*[env[y] for y in region.yields],
                                        *[env[d.results[0]] if d.results[0] in own
                                          else self.zero() for d in drawn])))
        results = b.emit_multi("cond", (pred,), [r.kind for r in op.results]
                               + [d.results[0].kind for d in drawn],
                               hints=[r.hint for r in op.results]
                               + [d.results[0].hint for d in drawn],
                               attrs=op.attrs, loc=op.loc, regions=tuple(regions))
        env.update(zip(op.results, results, strict=False))
        env.update(zip((d.results[0] for d in drawn), results[len(op.results):], strict=True))

    def _loop_needed(self, op: Op) -> bool:
        """Does the loop have a reverse sweep: does any value it carries or computes need
        an adjoint?  (Reading active values only to compare them is not enough.)"""
        _, args, _ = loop_slots(op)
        return any(a in self.active for a in args) or any(
            r in self.active for o in walk_ops(op.regions[-1]) for r in o.results)

    def _read_plan(self, body: Block, j: int, arg: Value
                   ) -> tuple[list[Op], list[Op]] | None:
        """The body's reads of carried array or list ``arg`` (``h[t - 1]``), if the body
        only reads items of it and assigns into it (``h[t] = ...``, yielding the result):
        then the tape records those items, not the whole container on every iteration
        (O(items read) per iteration instead of O(len)).  Returns (reads, assignments)."""
        prims = _ITEM_PRIMS.get(arg.kind)
        if prims is None or arg not in self.active:
            return None
        read, assign = prims
        chain, reads, writes = {arg}, [], []
        for o in body.ops:
            if any(u in chain for r in o.regions for u in values_read(r)):
                return None
            touched = [u for u in o.operands if u in chain]
            if not touched:
                continue
            if len(touched) > 1 or o.operands[0] not in chain:
                return None
            if o.prim == read and o.results[0].kind in (Kind.FLOAT, Kind.ARRAY):
                reads.append(o)
            elif o.prim == assign:
                chain.add(o.results[0])
                writes.append(o)
            else:
                return None
        ok = body.yields[j] in chain and not any(
            y in chain for i, y in enumerate(body.yields) if i != j)
        return (reads, writes) if ok else None

    def _read_at_the_end(self, op: Op, o: Op, writes: list[Op]) -> bool:
        """Does item read ``o`` (``h[i + a]`` in a ``for i in range(k, n)`` loop, k >= 0)
        read an item that no later assignment changes (each is ``h[i + b]`` with b > a, or
        b = a before the read)?  Then the reverse sweep reads it from the final ``h``, and
        the tape need not keep it: ``h[t] = f(h[t - 1])`` needs no tape at all."""
        if op.prim != "for_range" or self._const(op.operands[2]) != 1:
            return False
        start = self._const(op.operands[0])
        i = op.regions[0].args[0]
        if type(start) is not int or start < 0:
            return False
        order = {x: k for k, x in enumerate(op.regions[0].ops)}
        a = self._offset(o, i, o.prim == "np_index")
        if a is None or start + a < 0:
            return False
        for w in writes:
            b = self._offset(w, i, w.prim == "index_set")
            if b is None or start + b < 0 or b < a or (b == a and order[w] > order[o]):
                return False
        return True

    def _const(self, v: Value):
        """The constant behind a value of the function differentiated (else None)."""
        d = self.defs.get(v)
        return d.attr("value") if d is not None and d.prim == "const" else None

    def _offset(self, o: Op, i: Value, array: bool) -> int | None:
        """``a`` for an item read or assignment at index ``i + a`` (a constant), else None."""
        if array:  # h[i + a]: one integer index, the first dynamic operand
            if o.attr("index") != (("int", 0),):
                return None
            index = o.operands[2 if o.prim == "index_set" else 1]
        else:
            index = o.operands[1]
        if index is i:
            return 0
        d = self.defs.get(index)
        if d is None or d.prim not in ("add", "sub") or i not in d.operands:
            return None
        other = d.operands[1] if d.operands[0] is i else d.operands[0]
        c = self._const(other)
        if type(c) is not int or (d.prim == "sub" and d.operands[0] is not i):
            return None
        return c if d.prim == "add" else -c

    def _partial_reads(self, op: Op) -> set[Value]:
        """The primal values that ``op``'s reverse reads: those its partials for its
        active operands are written in (every operand and the result, when unknown)."""
        prim = P.PRIMITIVES[op.prim]
        if prim.derivative in ("none", "linear"):
            return set()
        exprs = (P.symbolic_partials(op.prim) if prim.derivative == "partials"
                 and prim.partials_rule is None else None)
        if exprs is None:
            return {*op.operands, *op.results}
        names = {s.name for e, v in zip(exprs, op.operands, strict=True) if v in self.active
                 for s in getattr(e, "free_symbols", ())}
        reads = {op.operands[int(n[1:])] for n in names if n[0] == "a"}
        return reads | ({op.results[0]} if "out" in names else set())

    def _reads(self, block: Block) -> set[Value]:
        """The primal values of ``block`` that its reverse sweep may read."""
        needed: set[Value] = set()
        for o in block.ops:
            if o.regions:  # a branch or loop inside: its reverse may read all it reads
                needed.update(o.operands)
                for r in o.regions:
                    needed.update(values_read(r))
            elif len(o.results) == 1 and o.results[0] in self.active and any(
                    v in self.active for v in o.operands):
                needed |= self._partial_reads(o)
        return needed

    def _kept_ops(self, body: Block, args: list[Value], skip: set[Op], runs: bool
                  ) -> list[Op]:
        """The ops of a loop body whose float results go on the tape beside the carried
        values ``args`` it records: those the reverse sweep reads that would cost more to
        recompute than to keep (a ``math.sin``; three arithmetic operations).  Store or
        recompute is thus decided value by value; the rest is recomputed.

        Only when the primal loop must run anyway: because its results are read by the
        reverse sweep (``runs``) or it tapes carried values or items.  Otherwise a gradient
        recomputes it all and the primal loop, whose values nobody reads, is dropped
        (the Rosenbrock loop's gradient has no tape and no forward pass)."""
        needed = self._reads(body)
        drawn = _draws(body)  # taped whatever they cost: a draw is never replayed
        if not (runs or skip or drawn or any(a in needed for a in args)):
            return []
        cost: dict[Value, int] = {}
        kept = []
        for o in body.ops:
            if o in skip or o.regions or len(o.results) != 1:
                continue
            r = o.results[0]
            # what recomputing r costs: its own op and the floats it is computed from
            # (the adjoints need indices anyway; lists and arrays are there to read)
            c = sum(cost.get(u, 0) for u in o.operands if u.kind is Kind.FLOAT) + (
                _cost(o.prim) if r.kind is not Kind.INT else 0)
            if c >= _KEEP and r in needed and r.kind is Kind.FLOAT and P.PRIMITIVES[o.prim].cse:
                kept.append(o)
                c = 0
            cost[r] = c
        return kept + drawn

    def _taped_loop(self, op: Op, env: dict[Value, Value], runs: bool) -> None:
        b = self.b
        inits, args, yields = loop_slots(op)
        body = op.regions[-1]
        _refuse_looped_draws(body, "a loop")
        reads = values_read(body)
        plans = {j: plan for j, a in enumerate(args)
                 if (plan := self._read_plan(body, j, a))
                 is not None}
        # the items read of arrays that are only read and assigned into, in body order,
        # but those the reverse sweep can read from the final array
        read_ops = [o for o in body.ops for reads_j, writes_j in plans.values()
                    if o in reads_j and not self._read_at_the_end(op, o, writes_j)]
        saved = [j for j, a in enumerate(args) if a in reads and j not in plans]
        kept = self._kept_ops(body, [args[j] for j in saved], set(read_ops), runs)
        saved_args: list[Value] = []  # a for loop's index is recomputed, not taped
        tape0 = b.emit("tape_new", (), loc=op.loc, hint="tape")
        tag = {"tape": tape0.id}  # pairs this tape's pushes with its reads
        count = op.prim == "while_loop"
        extra_inits = [tape0] + ([b.const(0)] if count else [])
        extra_kinds = [Kind.TAPE] + ([Kind.INT] if count else [])
        regions = []
        for region in op.regions:
            new_args = [b.fresh(a.kind, a.hint) for a in region.args]
            extra_args = [b.fresh(k, h) for k, h in zip(extra_kinds, ["tape", "n"],
                                                         strict=False)]
            env.update(zip(region.args, new_args, strict=True))
            b.push_block((*new_args, *extra_args))
            if region is body:
                carried = region.args[-len(inits):] if inits else ()
                pushed = [env[a] for a in saved_args] + [env[carried[j]] for j in saved]
                if not plans and not kept:
                    tape = b.emit("tape_push", (extra_args[0], *pushed), attrs=tag,
                                  loc=op.loc, hint="tape")
                copies = []
                for inner in region.ops:
                    self._clone(inner, env)
                    if inner in read_ops:  # a copy if mutable: the array changes in place
                        item = env[inner.results[0]]
                        copies.append(b.emit("np_copy", (item,), loc=inner.loc)
                                      if item.kind is Kind.ARRAY else item)
                if plans or kept:
                    tape = b.emit("tape_push", (extra_args[0], *pushed, *copies,
                                                *[env[o.results[0]] for o in kept]),
                                  attrs=tag, loc=op.loc, hint="tape")
                ys = [env[y] for y in region.yields] + [tape]
                if count:
                    ys.append(b.emit("add", (extra_args[1], b.const(1)), loc=op.loc, hint="n"))
            else:
                for inner in region.ops:
                    clone_op(b, inner, env)
                ys = [env[y] for y in region.yields]
            regions.append(b.pop_block(tuple(ys)))
        n_lead = len(op.operands) - len(inits)
        operands = [env[v] for v in op.operands[:n_lead]] + [env[v] for v in inits]
        results = b.emit_multi(op.prim, (*operands, *extra_inits),
                               [r.kind for r in op.results] + extra_kinds,
                               hints=[r.hint for r in op.results] + ["tape", "n"][:len(
                                   extra_kinds)],
                               attrs=op.attrs, loc=op.loc, regions=tuple(regions))
        env.update(zip(op.results, results, strict=False))
        extra = results[len(op.results):]
        self.tapes[op] = (extra[0], extra[1] if count else None, saved, saved_args, tag,
                          read_ops, plans, kept)

    def _checkpointed_loop(self, op: Op, env: dict[Value, Value]) -> None:
        """The primal loop under ``checkpoints=K``: no tape; at the start of every pass it
        offers the carried values its body reads to a checkpoint store, which keeps those
        the schedule needs (at most K).  The reverse sweep restores and advances from
        them (:meth:`_restore`).  A ``while`` loop also counts its passes: its store
        learns their number only when the reverse sweep starts (an online schedule)."""
        b = self.b
        drawn = _draws(op.regions[-1], deep=True)
        if drawn:  # its passes are recomputed from snapshots, which hold no draws
            raise S2SADError(
                "a random draw inside a loop is not supported with `checkpoints=K`",
                drawn[0].loc, why="the reverse sweep recomputes the loop's passes from "
                "snapshots of its carried values, and would draw anew instead of reusing "
                "the numbers the primal sweep drew", hint="draw the loop's numbers before "
                "it (`eps = rng.standard_normal((T, n))`) and index them (`eps[t]`), or "
                "leave out `checkpoints` (the tape keeps the draws)")
        count = op.prim == "while_loop"
        inits, args, _ = loop_slots(op)
        body = op.regions[-1]
        reads = values_read(body)
        saved = [j for j, a in enumerate(args) if a in reads]
        lead = [] if count else [env[v] for v in op.operands[:3]]
        size = ({"budget": self.checkpoints.nbytes} if isinstance(self.checkpoints, TapeBudget)
                else {"k": self.checkpoints})
        # (columns: the values a snapshot holds, the width of the Numba target's rows)
        store0 = b.emit("ckpt_new", tuple(lead), attrs={**size, "columns": len(saved)},
                        loc=op.loc, hint="checkpoints")
        regions = []
        for region in op.regions:
            new_args = [b.fresh(a.kind, _read_index(a) if a is body.args[0] and not count
                                else a.hint) for a in region.args]
            extra = [b.fresh(Kind.TAPE, "checkpoints")] + ([b.fresh(Kind.INT, "n")]
                                                          if count else [])
            env.update(zip(region.args, new_args, strict=True))
            b.push_block((*new_args, *extra))
            ys: list[Value] = []
            if region is body:
                index = extra[1] if count else new_args[0]
                ys.append(b.emit("ckpt_take", (extra[0], index,
                                               *[env[args[j]] for j in saved]),
                                 loc=op.loc, hint="checkpoints"))
                if count:
                    ys.append(b.emit("add", (extra[1], b.const(1)), loc=op.loc, hint="n"))
            for inner in region.ops:
                clone_op(b, inner, env)
            regions.append(b.pop_block((*[env[y] for y in region.yields], *ys)))
        kinds = [Kind.TAPE] + ([Kind.INT] if count else [])
        results = b.emit_multi(op.prim, (*lead, *[env[v] for v in inits], store0,
                                         *([b.const(0)] if count else [])),
                               [r.kind for r in op.results] + kinds,
                               hints=[r.hint for r in op.results] + ["checkpoints", "n"][
                                   :len(kinds)],
                               attrs=op.attrs, loc=op.loc, regions=tuple(regions))
        env.update(zip(op.results, results, strict=False))
        extra = results[len(op.results):]
        self.tapes[op] = (extra[0], extra[1] if count else None, saved, [],
                          {"checkpoints": self.checkpoints}, [], {}, [])

    def _restore(self, op: Op, env: dict[Value, Value], store: Value, i: Value,
                 saved: list[int]) -> list[Value]:
        """In the reverse loop of a checkpointed ``op`` at index ``i``: the latest
        snapshot (at index j), then a loop that advances it from j to i, offering each
        pass's values to the store (the body once, without its side effects).  Returns
        the store and the carried values ``saved`` at the start of pass ``i``."""
        b = self.b
        _, args, yields = loop_slots(op)
        body = _without_effects(op.regions[-1])
        index = op.regions[-1].args[0] if op.prim == "for_range" else None  # (else: passes)
        kinds = [args[j].kind for j in saved]
        hints = [args[j].hint for j in saved]
        store, start, *values = b.emit_multi(
            "ckpt_restore", (store, i), [Kind.TAPE, Kind.INT, *kinds],
            hints=["checkpoints", "j", *hints], loc=op.loc)
        k = b.fresh(Kind.INT, _read_index(index) if index is not None else "p")
        current = [b.fresh(kind, h) for kind, h in zip(kinds, hints, strict=True)]
        store_arg = b.fresh(Kind.TAPE, "checkpoints")
        b.push_block((k, *current, store_arg))
        local = dict(env)
        if index is not None:
            local[index] = k
        local.update(zip([args[j] for j in saved], current, strict=True))
        taken = b.emit("ckpt_take", (store_arg, k, *current), loc=op.loc, hint="checkpoints")
        for inner in body.ops:
            clone_op(b, inner, local)
        block = b.pop_block((*[local[yields[j]] for j in saved], taken))
        step = env[op.operands[2]] if index is not None else b.const(1)
        advanced = b.emit_multi("for_range", (start, i, step, *values, store),
                                [*kinds, Kind.TAPE], hints=[*hints, "checkpoints"],
                                attrs=op.attrs if index is not None else {}, loc=op.loc,
                                regions=(block,))
        return [advanced[-1], *advanced[:-1]]

    # -- the reverse sweep ---------------------------------------------------------------------
    def adjoints(self, block: Block, env: dict[Value, Value], adjoint: dict[Value, Value]) -> None:
        for op in reversed(block.ops):
            if op.prim == "cond":
                self._reverse_cond(op, env, adjoint)
            elif op.prim in ("for_range", "while_loop"):
                if op in self.tapes:
                    self._reverse_loop(op, env, adjoint)
            else:
                self._reverse_op(op, env, adjoint)

    def accumulate(self, adjoint: dict[Value, Value], v: Value, contribution: Value,
                   loc) -> None:
        if v in adjoint and cancels(self.b, adjoint[v], contribution):
            del adjoint[v]  # t + (-t): the contributions sum to a symbolic zero
            return
        if v in adjoint:
            whole, spread = adjoint[v], self.b.defs.get(contribution)
            if not (spread is not None and spread.prim == "index_bar" and self._whole(whole)):
                whole, spread = contribution, self.b.defs.get(adjoint[v])
                if not (spread is not None and spread.prim == "index_bar"
                        and self._full(contribution, spread.operands[1])):
                    spread = None
                elif whole.hint is None:  # it becomes the adjoint: name it so
                    self.b.rename(whole, suffixed(v, "bar"))
            if spread is not None:  # x_bar[index] += g, not a zeros array added
                for g, attrs, dynamic in self._items_of_item(spread):
                    whole = self.b.emit("index_add", (whole, g, *dynamic), attrs=attrs,
                                        loc=loc, hint=suffixed(v, "bar"))
                adjoint[v] = whole
                return
            prim = "list_add" if v.kind is Kind.LIST else "add"
            summed = self.b.emit(prim, (adjoint[v], contribution), loc=loc,
                                 hint=suffixed(v, "bar"))
            if v.kind is Kind.ARRAY and (self._whole(adjoint[v]) or self._whole(contribution)):
                self.whole.add(summed)  # a full-shaped array plus one that broadcasts to it
            adjoint[v] = summed
        else:
            adjoint[v] = contribution

    def _items_of_item(self, spread: Op) -> list[tuple[Value, dict, list[Value]]]:
        """The updates ``x_bar[index] += g``, as (g, attrs, dynamic), that add item adjoint
        ``spread`` (``index_bar``) into ``x``'s adjoint.  The adjoint of ``x[i]`` that
        reads ``x[i][j]`` (and ``x[i][k:]`` …) is itself spread over a zero row: when
        ``x[i]`` takes whole axes (its index is ints), each of the row's updates is one of
        ``x_bar``'s, ``x_bar[i, j] += g``: O(1) per item, not a zero row per item."""
        g, _, *dynamic = spread.operands
        outer = spread.attr("index")
        chain = []  # the row's adjoint: its updates, last first, down to its zeros
        link = self.b.defs.get(g)
        while link is not None and link.prim == "index_add":
            chain.append(link)
            link = self.b.defs.get(link.operands[0])
        if link is None or link.prim != "index_bar" or not all(
                item[0] == "int" for item in outer):
            return [(g, dict(spread.attrs), dynamic)]
        chain.append(link)
        n = len(dynamic)

        def shifted(item):  # operand positions of the inner index, after the outer's
            return (item[0], *(k if k is None else k + n for k in item[1:]))

        out = []
        for op in reversed(chain):  # index_bar(g, row, *ints), index_add(row_bar, g, *ints)
            if op.prim == "index_bar":
                item_g, _, *inner_dynamic = op.operands
            else:
                _, item_g, *inner_dynamic = op.operands
            index = outer + tuple(shifted(item) for item in op.attr("index"))
            out.append((item_g, {**dict(spread.attrs), "index": index},
                        dynamic + inner_dynamic))
        return out

    def _full(self, contribution: Value, x: Value) -> bool:
        """Is ``contribution`` surely an array of the shape of array ``x``?"""
        return (contribution.kind is Kind.ARRAY and x.kind is Kind.ARRAY
                and self.shapes.leaves(contribution) == self.shapes.leaves(x))

    def _whole(self, adj: Value) -> bool:
        """Is adjoint ``adj`` surely an array of its value's full shape (not a scalar that
        stands for one)?  The results of assignments into arrays and of item adjoints."""
        if adj in self.whole:
            return True
        op = self.b.defs.get(adj)
        return op is not None and op.prim in ("index_set", "index_add", "index_bar")

    def _threaded(self, op: Op, f: Value, adjoint) -> bool:
        """Is free array ``f``'s adjoint threaded through ``op``'s reverse (a loop's or a
        branch's), as a list's is, so that the items ``op`` reads add into it in place
        (``x_bar[i, 0] += g``: O(1) per item, not a full-shaped zero array per item)?
        When its adjoint so far is a full-shaped array already, or when ``op`` reads
        items of ``f`` (then the adjoint starts as zeros)."""
        if f.kind is not Kind.ARRAY:
            return False
        if f in adjoint and self._whole(adjoint[f]):
            return True
        return any(o.prim == "np_index" and o.operands[0] is f
                   for r in op.regions for o in walk_ops(r))

    def list_adjoint(self, adjoint: dict[Value, Value], v: Value, env) -> Value:
        """The adjoint of list ``v`` so far: threaded through in-place updates."""
        got = adjoint.get(v)
        if got is None:
            got = adjoint[v] = self.b.emit("zeros_like", (env[v],), hint=suffixed(v, "bar"))
        return got

    def _reverse_op(self, op: Op, env, adjoint) -> None:
        if len(op.results) != 1:
            return
        ybar = adjoint.get(op.result)
        if ybar is None or op.result not in self.active:
            return
        if op.prim in _LIST_OPS:
            self._reverse_list_op(op, env, adjoint, ybar)
            return
        factors = [ybar if v in self.active else None for v in op.operands]
        if not any(f is not None for f in factors):
            return
        operands = tuple(env[v] for v in op.operands)
        prim = P.PRIMITIVES[op.prim]
        if prim.derivative == "rule":  # array primitives: hand-written, shape-aware
            out = env[op.result]
            if ybar.kind is not Kind.ARRAY and out.kind is Kind.ARRAY and (
                    op.prim not in SCALAR_COTANGENT_OK) and not self.shapes.surely_scalar(out):
                ybar = self.b.emit("unbroadcast", (ybar, out), loc=op.loc)
            parts = prim.vjp_rule(self.b, op, operands, out, ybar)
            parts = [p if f is not None else None for p, f in zip(parts, factors, strict=True)]
        else:
            out = env[op.result]
            hints = [None if v in adjoint else suffixed(v, "bar") for v in op.operands]
            if out.kind is Kind.ARRAY:  # NumPy broadcast the operands
                parts = self._broadcast_adjoints(op, operands, out, ybar, factors, hints)
            else:
                parts = scaled_partials(self.b, op, operands, out, factors, hints)
        for part, v in zip(parts, operands, strict=True):
            if part is not None and part.kind is Kind.ARRAY:
                self.shapes.same_as(part, v)  # an adjoint has its value's shape
        for part, v in zip(parts, op.operands, strict=True):
            if part is not None:
                self.accumulate(adjoint, v, part, op.loc)

    def _broadcast_adjoints(self, op: Op, operands, out: Value, ybar: Value, factors,
                            hints) -> list[Value | None]:
        """The adjoints of an elementwise op on arrays, each summed back to its operand's
        shape over the axes NumPy broadcast it along.

        Compile-time shape facts decide what each contribution needs: nothing when the
        operand provably has the result's shape; a factor (the number of copies) when
        the contribution is a scalar standing for an array; a sum over the broadcast
        axes otherwise.  A scalar adjoint (a mean's ``1/n``) thus stays a scalar, and
        the result itself is never needed for its shape.
        """
        b, facts = self.b, self.shapes
        if ybar.kind is Kind.ARRAY:
            facts.same_as(ybar, out)
        result = set(facts.leaves(out))
        if not result and facts.surely_scalar(out):  # known after the seed's check
            return scaled_partials(b, op, operands, out, factors, hints)
        if not result or len(result) > MAX_BROADCAST:
            if ybar.kind is not Kind.ARRAY:  # broadcast the scalar to the result's shape
                ybar = b.emit("unbroadcast", (ybar, out), loc=op.loc)
                factors = [ybar if f is not None else None for f in factors]
            parts = scaled_partials(b, op, operands, out, factors, hints)
            return [None if p is None else fit(b, p, u, op.loc)
                    for p, u in zip(parts, operands, strict=True)]
        out_parts: list[Value | None] = []
        for g, u in zip(scaled_partials(b, op, operands, out, factors, hints), operands,
                        strict=True):
            if g is not None:
                mine, got = set(facts.leaves(u)), set(facts.leaves(g))
                if got and got != result:  # smaller than the result: broadcast, then sum
                    like = (self._shape_only(w, op.loc) for w in facts.leaves(out))
                    g = self._linear("sum_to", g, (self._witness(u, op.loc), *like), op.loc)
                elif mine != result and got:  # the result's shape: sum to the operand's
                    g = self._linear("unbroadcast", g, (self._witness(u, op.loc),), op.loc)
                elif mine != result:  # a scalar for each of the result's elements
                    copies = facts.size(out, op.loc)
                    if mine:
                        copies = b.emit("div", (copies, facts.size(u, op.loc)), loc=op.loc)
                    g = b.emit("mul", (g, copies), loc=op.loc)
            out_parts.append(g)
        return out_parts

    def _witness(self, u: Value, loc=None) -> Value:
        """A value of ``u``'s shape for ``_sum_to``/``_unbroadcast`` to read the shape of:
        ``u``'s one shape leaf when it has one (an operand computed anyway, or a
        parameter), so that ``np.log(p)`` is not computed only for its shape when the
        derivative needs ``p`` and not the log; ``u`` itself otherwise."""
        leaves = self.shapes.leaves(u)
        return self._shape_only(leaves[0] if len(leaves) == 1 else u, loc)

    def _shape_only(self, v: Value, loc) -> Value:
        """``v``, read for its shape only; for a gather ``x[idx]`` or ``np.repeat(x, r)``,
        an O(1) array of its shape (``_index_like``, ``_repeat_like``), so that a
        million-element read or copy is not done for its shape (their adjoints need
        ``idx`` or ``r``, not the values)."""
        op = self.b.defs.get(v)
        if op is not None and op.prim == "np_index" and op.attr("gather"):
            return self.b.emit("index_like", op.operands, attrs=op.attrs, loc=loc)
        if op is not None and op.prim == "np_repeat":
            return self.b.emit("repeat_like", op.operands, attrs=op.attrs, loc=loc)
        if op is not None and op.prim in _PRODUCTS:  # np.kron(A, B) & co: O(1), not O(size)
            attrs = (("how", _PRODUCTS[op.prim]),
                     *((k, v) for k, v in op.attrs if k in ("axes", "axis")))
            return self.b.emit("product_like", op.operands, attrs=attrs, loc=loc)
        return v

    def _linear(self, prim: str, g: Value, rest: tuple, loc) -> Value:
        """``prim(g, *rest)`` for a ``prim`` linear in ``g``, with a negation of ``g``
        taken outside, where an addition can absorb it as a subtraction; a negation of
        a constant's multiple goes into the constant instead (``-c * z``, exact), as
        nothing may absorb it, and a negation of an array costs a pass."""
        b, op = self.b, self.b.defs.get(g)
        if op is not None and op.prim == "neg":
            inner = b.defs.get(op.operands[0])
            if inner is not None and inner.prim == "mul" and b.is_const(inner.operands[0]) \
                    and type(b.const_value(inner.operands[0])) is float:
                scaled = b.emit("mul", (b.const(-b.const_value(inner.operands[0])),
                                        inner.operands[1]), loc=loc)
                return b.emit(prim, (scaled, *rest), loc=loc)
            return b.emit("neg", (b.emit(prim, (op.operands[0], *rest), loc=loc),), loc=loc)
        return b.emit(prim, (g, *rest), loc=loc)

    def _reverse_list_op(self, op: Op, env, adjoint, ybar: Value) -> None:
        """The adjoints of the list operations, threading each list's adjoint in place."""
        b, loc = self.b, op.loc
        active = [v in self.active for v in op.operands]
        if op.prim == "getitem":  # xs_bar[i] += ybar
            xs = op.operands[0]
            if active[0]:
                current = self.list_adjoint(adjoint, xs, env)
                adjoint[xs] = b.emit("add_at", (current, env[op.operands[1]], ybar), loc=loc,
                                     hint=suffixed(xs, "bar"))
        elif op.prim == "list_lit":  # item k gets ybar[k]
            for k, v in enumerate(op.operands):
                if active[k]:
                    self.accumulate(adjoint, v, b.emit("getitem", (ybar, b.const(k)), loc=loc,
                                                       hint=suffixed(v, "bar")), loc)
        elif op.prim == "list_copy":
            if active[0]:
                self.accumulate(adjoint, op.operands[0], ybar, loc)
        elif op.prim == "append":  # the item's adjoint is the last one: pop it
            rest, last = b.emit_multi("list_pop", (ybar,), [Kind.LIST, Kind.FLOAT],
                                      hints=[ybar.hint, suffixed(op.operands[1], "bar")],
                                      loc=loc)
            if active[1]:
                self.accumulate(adjoint, op.operands[1], last, loc)
            if active[0]:
                self.accumulate(adjoint, op.operands[0], rest, loc)
        else:  # setitem: the item's adjoint is ybar[i]; the old item had none
            index = env[op.operands[1]]
            if active[2]:
                self.accumulate(adjoint, op.operands[2], b.emit(
                    "getitem", (ybar, index), loc=loc, hint=suffixed(op.operands[2], "bar")),
                    loc)
            if active[0]:
                cleared = b.emit("setitem", (ybar, index, self.zero()), loc=loc,
                                 hint=ybar.hint)
                self.accumulate(adjoint, op.operands[0], cleared, loc)

    def zero_like(self, v: Value) -> Value:
        if v.kind is Kind.LIST:
            return self.b.emit("zeros_like", (v,))
        if v.kind is Kind.ARRAY:
            return self.b.emit("np_zeros_like", (v,))
        return self.zero()

    def _free_active(self, op: Op) -> list[Value]:
        """The active values from outside ``op`` that its active ops read: those whose
        adjoints its reverse may add to."""
        read: set[Value] = set()
        for region in op.regions:
            read.update(region.yields)
            for o in walk_ops(region):
                if any(r in self.active for r in o.results):
                    read.update(o.operands)
                    for r in o.regions:
                        read |= set(r.yields)
        return [v for v in free_values(op) if v in self.active and v in read
                and v.kind.differentiable]

    def _free_inits(self, free: list[Value], env, adjoint, threaded: set[Value], loc
                    ) -> list[Value]:
        """Where the adjoints of free values start: 0.0, a list's adjoint so far, or a
        threaded array's (see :meth:`_threaded`): its adjoint so far if full-shaped, else
        new zeros (the adjoint so far is added to the result)."""
        inits = []
        for f in free:
            if f.kind is Kind.LIST:
                inits.append(self.list_adjoint(adjoint, f, env))
            elif f in threaded and f in adjoint and self._whole(adjoint[f]):
                inits.append(adjoint.pop(f))
            elif f in threaded:
                zeros = self.b.emit("np_zeros_like", (env[f],), attrs={"dtype": "float"},
                                    loc=loc, hint=suffixed(f, "bar"))
                self.whole.add(zeros)
                inits.append(zeros)
            else:
                inits.append(self.zero())
        return inits

    def _free_results(self, free: list[Value], results, adjoint, loc,
                      threaded: set[Value] = frozenset()) -> None:
        for f, r in zip(free, results, strict=True):
            if f.kind is Kind.LIST:
                adjoint[f] = r  # the same list, updated in place
            else:
                if f in threaded:
                    self.whole.add(r)
                self.accumulate(adjoint, f, r, loc)

    def _reverse_cond(self, op: Op, env, adjoint) -> None:
        seeds = [(j, adjoint[r]) for j, r in enumerate(op.results)
                 if r in self.active and r in adjoint]
        free = self._free_active(op)
        if not seeds or not free:
            return
        threaded = {f for f in free if self._threaded(op, f, adjoint)}
        arrays = [f for f in free if f in threaded]
        inits = dict(zip(arrays, self._free_inits(arrays, env, adjoint, threaded, op.loc),
                         strict=True))
        inits.update((f, adjoint[f]) for f in free if f.kind is Kind.LIST and f in adjoint)
        regions = []
        for region in op.regions:
            self.b.push_block()
            inner_env = dict(env)
            self.primal(_without_effects(region), inner_env)  # (its effects ran already)
            # a list's adjoint so far is threaded through the branch (not added to), and
            # so is an array's whose items are added into it
            local: dict[Value, Value] = dict(inits)
            for j, seed in seeds:
                self.accumulate(local, region.yields[j], seed, op.loc)
            self.adjoints(region, inner_env, local)
            regions.append(self.b.pop_block(tuple(
                self._carried_adjoint(local.get(f), inner_env[f], op.loc) for f in free)))
        results = self.b.emit_multi("cond", (env[op.operands[0]],), [f.kind for f in free],
                                    hints=[suffixed(f, "bar") for f in free], loc=op.loc,
                                    regions=tuple(regions))
        self._free_results(free, results, adjoint, op.loc, threaded)

    def _carried_adjoint(self, adj: Value | None, value: Value, loc) -> Value:
        """The adjoint a reverse loop starts from: of the value's kind (a scalar adjoint
        of an array, which stands for itself broadcast, is broadcast: the loop body's
        rules read it as an array)."""
        if adj is None:
            return self.zero_like(value)
        if value.kind is Kind.ARRAY and adj.kind is not Kind.ARRAY:
            return self.b.emit("unbroadcast", (adj, value), loc=loc)
        return adj

    def _pass_number(self, op: Op, env, i: Value) -> Value:
        """Which pass of loop ``op`` the reverse sweep is in at loop index ``i``, counted
        from 0: the record of the tape it reads (records are read by number, not popped:
        an index is cheaper than ``list.pop``)."""
        if op.prim != "for_range":
            return i  # a while loop's reverse sweep counts its passes itself
        start, step = (self._const(v) for v in (op.operands[0], op.operands[2]))
        b = self.b
        k = i if start == 0 else b.emit("sub", (i, env[op.operands[0]]), loc=op.loc)
        return k if step == 1 else b.emit("floordiv", (k, env[op.operands[2]]), loc=op.loc)

    def _reverse_loop(self, op: Op, env, adjoint) -> None:
        b = self.b
        tape, count, saved, saved_args, tag, read_ops, plans, kept = self.tapes[op]
        inits, args, yields = loop_slots(op)
        body = op.regions[-1]
        act = [j for j, a in enumerate(args) if a in self.active or op.results[j] in self.active]
        free = self._free_active(op)
        if not act and not free:
            return
        init_adj = [self._carried_adjoint(adjoint.get(op.results[j]), env[op.results[j]],
                                          op.loc) for j in act]
        threaded = {f for f in free if self._threaded(op, f, adjoint)}
        init_free = self._free_inits(free, env, adjoint, threaded, op.loc)
        i_arg = b.fresh(Kind.INT, body.args[0].hint if op.prim == "for_range" else "k")
        if "checkpoints" in tag:  # read by the restore (a while loop's: its pass number)
            i_arg = b.fresh(Kind.INT, _read_index(body.args[0]) if op.prim == "for_range"
                            else "p")
        tape_arg = b.fresh(Kind.TAPE, "checkpoints" if "checkpoints" in tag else "tape")
        adj_args = [b.fresh(args[j].kind, suffixed(args[j], "bar")) for j in act]
        free_args = [b.fresh(f.kind, suffixed(f, "bar")) for f in free]
        b.push_block((i_arg, tape_arg, *adj_args, *free_args))
        inner_env = dict(env)
        if "checkpoints" in tag:
            record = self._restore(op, env, tape_arg, i_arg, saved)
        else:
            record = b.emit_multi("tape_read", (tape_arg, self._pass_number(op, env, i_arg)),
                                  [Kind.TAPE] + [a.kind for a in saved_args]
                                  + [args[j].kind for j in saved]
                                  + [o.results[0].kind for o in read_ops + kept],
                                  hints=["tape"] + [a.hint for a in saved_args]
                                  + [args[j].hint for j in saved]
                                  + [o.results[0].hint for o in read_ops + kept],
                                  attrs=tag, loc=op.loc)
        new_tape, values = record[0], record[1:]
        if op.prim == "for_range":
            inner_env[body.args[0]] = i_arg
        for a, v in zip(list(saved_args) + [args[j] for j in saved]
                        + [o.results[0] for o in read_ops + kept], values, strict=True):
            inner_env[a] = v
        # not recorded: its items are, or are read from the loop's result (as are those
        # written in the pass): the assignments are not replayed
        writes = [w for _, writes_j in plans.values() for w in writes_j]
        for j, (_, writes_j) in plans.items():
            for v in (args[j], *(w.results[0] for w in writes_j)):
                inner_env[v] = env[op.results[j]]
        # the pass is recomputed for its values: its side effects (a print, an input
        # check) ran in the primal sweep and do not run again
        self.primal(_without_effects(body), inner_env, frozenset(read_ops + kept + writes),
                    frozenset(kept))
        local: dict[Value, Value] = {f: a for f, a in zip(free, free_args, strict=True)
                                     if f.kind is Kind.LIST or f in threaded}
        self.whole.update(a for f, a in zip(free, free_args, strict=True) if f in threaded)
        # a carried array's adjoint is full-shaped (see _carried_adjoint)
        self.whole.update(a for a in adj_args if a.kind is Kind.ARRAY)
        for j, a in zip(act, adj_args, strict=True):
            self.accumulate(local, yields[j], a, op.loc)
        self.adjoints(body, inner_env, local)
        ys = [new_tape]
        ys += [self._carried_adjoint(local.get(args[j]), inner_env[args[j]], op.loc)
               for j in act]
        for f, acc in zip(free, free_args, strict=True):
            contribution = local.get(f)
            if f.kind is Kind.LIST or f in threaded or contribution is None:
                ys.append(contribution if contribution is not None else acc)
            else:
                ys.append(b.emit("add", (acc, contribution), loc=op.loc,
                                 hint=suffixed(f, "bar")))
        block = b.pop_block(tuple(ys))
        if op.prim == "for_range":
            bounds = [env[v] for v in op.operands[:3]]
        else:
            bounds = [b.const(0), count, b.const(1)]
        results = b.emit_multi("for_range", (*bounds, tape, *init_adj, *init_free),
                               [Kind.TAPE] + [args[j].kind for j in act]
                               + [f.kind for f in free],
                               hints=["tape"] + [a.hint for a in adj_args]
                               + [a.hint for a in free_args],
                               attrs={"reverse": True}, loc=op.loc, regions=(block,))
        for j, r in zip(act, results[1:1 + len(act)], strict=True):
            self.accumulate(adjoint, inits[j], r, op.loc)
        self._free_results(free, results[1 + len(act):], adjoint, op.loc, threaded)


def reverse_sweep(
    b: Builder,
    fn: Function,
    args: tuple[Value, ...],
    wrt: tuple[int, ...],
    cotangents: tuple[Value | None, ...],
) -> tuple[tuple[Value, ...], tuple[Value | None, ...]]:
    """Emit ``fn`` on ``args`` and the adjoints of parameters ``wrt``.

    ``cotangents`` has one entry per result (``None``: zero; a callable: built from
    the primal result, ``(builder, result) -> cotangent``).  Returns the
    results and the adjoints in ``wrt`` order (``None`` for a zero adjoint).
    """
    env: dict[Value, Value] = dict(zip(fn.params, one_array_arguments(b, fn, args),
                                       strict=True))
    rev = _Reverse(b, fn, active_values(fn, {fn.params[i] for i in wrt}))
    rev.primal(fn.body, env)
    adjoint: dict[Value, Value] = {}
    for r, ct in zip(fn.results, cotangents, strict=True):
        if callable(ct):
            ct = ct(b, env[r])
        if ct is not None and r in rev.active:
            rev.accumulate(adjoint, r, ct, None)
    rev.adjoints(fn.body, env, adjoint)
    results = tuple(env[r] for r in fn.results)
    return results, tuple(adjoint.get(fn.params[i]) for i in wrt)


def _read_index(index: Value) -> str:
    """The name hint of a loop index that the checkpointed code reads: the user's
    (``i``), but ``i`` for ``for _ in ...``, whose ``_`` says the index is not read."""
    return "i" if index.hint in (None, "_") else index.hint


# the products and gathers along axes whose result's shape _product_like computes
_PRODUCTS = {"np_kron": "kron", "np_tensordot": "tensordot", "np_cross": "cross",
             "np_take_along": "take_along"}


def _without_effects(block: Block) -> Block:
    """``block`` without its side-effect ops (at any depth); ops that hold none are the
    same objects, so sets of them still match."""
    if not any(P.PRIMITIVES[o.prim].effect for o in walk_ops(block)):
        return block
    ops = []
    for op in block.ops:
        if P.PRIMITIVES[op.prim].effect:
            continue
        regions = tuple(_without_effects(r) for r in op.regions)
        if any(r is not old for r, old in zip(regions, op.regions, strict=True)):
            op = dataclasses.replace(op, regions=regions)  # (else the same op: see above)
        ops.append(op)
    return Block(block.args, ops, block.yields)


def _draws(where: Block | Op, deep: bool = False) -> list[Op]:
    """The random draws of a block (or of an op's regions), in order: those outside
    loops, or (``deep``) all of them."""
    blocks = [where] if isinstance(where, Block) else list(where.regions)
    found: list[Op] = []
    for block in blocks:
        for op in block.ops:
            if op.prim == "random_draw":
                found.append(op)
            elif op.regions and (deep or op.prim == "cond"):
                found.extend(_draws(op, deep))
    return found


def _refuse_looped_draws(where: Block | Op, what: str) -> None:
    """A draw in a loop nested in ``where`` (a loop body or a branch) would be replayed
    when the reverse sweep recomputes ``where``: refused, at the draw."""
    for op in walk_ops(where) if isinstance(where, Block) else (
            o for r in where.regions for o in walk_ops(r)):
        if op.prim in ("for_range", "while_loop"):
            inner = _draws(op, deep=True)
            if inner:
                raise S2SADError(
                    f"a random draw inside a loop that is itself inside {what} is not "
                    "supported in reverse mode", inner[0].loc,
                    why="the reverse sweep recomputes the outer construct, and the draws "
                    "of the inner loop's passes would need a tape of their own",
                    hint="draw the inner loop's numbers before it, as one array "
                    "(`eps = rng.standard_normal((m, n))`), and index them there (`eps[j]`)")
