"""The optimisation pipeline.

* :func:`cse_fold` rebuilds a function through a simplifying
  :class:`~s2sad.ir.builder.Builder`: identical ops are shared (value
  numbering), constants are folded and exact identities applied
  (:mod:`.simplify`).
* :func:`dce` drops ops whose results nothing uses, and loop slots and cond
  results nothing needs.
* :func:`prune_tapes` stops recording values that reverse mode never reads.
* :func:`drop_invariant_slots` stops carrying loop slots that never change.
* :func:`~.hoist.hoist_invariants` computes loop-invariant scalar arithmetic once,
  before its loop.
* :func:`optimize` runs them all, pruning and removing dead code until
  nothing changes.

Every pass returns a new function; its input is not modified.
"""

from __future__ import annotations

from .. import primitives as P
from ..ir.builder import Builder
from ..ir.clone import clone_ops
from ..ir.core import Block, Function, Op, Value, values_read, walk_ops
from .hoist import hoist_invariants, untape_invariants


def cse_fold(fn: Function) -> Function:
    b = Builder(simplify=True)
    params = tuple(b.fresh(p.kind, p.hint) for p in fn.params)
    env: dict[Value, Value] = dict(zip(fn.params, params, strict=True))
    clone_ops(b, fn.body, env)
    return b.finish(fn.name, params, tuple(env[r] for r in fn.results), **_meta(fn))


def _dce_block(block: Block) -> Block:
    live: set[Value] = set(block.yields)
    kept = []
    for op in reversed(block.ops):
        if not any(r in live for r in op.results) and not _effectful(op):
            continue
        if op.regions:
            op = _prune_slots(op, live)
            op = Op(op.prim, op.operands, op.results, op.attrs, op.loc,
                    tuple(_dce_block(r) for r in op.regions))
            for region in op.regions:
                live |= values_read(region)
        kept.append(op)
        live.update(op.operands)
    kept.reverse()
    return Block(args=block.args, ops=kept, yields=block.yields)


def _effectful(op: Op) -> bool:
    """Is ``op`` a side effect, or a loop or branch that holds one?  It stays."""
    return P.PRIMITIVES[op.prim].effect or any(
        P.PRIMITIVES[o.prim].effect for region in op.regions for o in walk_ops(region))


def _prune_slots(op: Op, live: set[Value]) -> Op:
    """Drop the results of a cond, or the carried slots of a loop, that nothing needs.

    A loop slot goes when its result is dead and the rest of the loop does not
    read its block argument, except to update the slot itself (a tape nobody
    reads, a counter nobody reads, the primal values of a sweep whose results
    the derivative never uses).  The caller removes the ops left dead.
    """
    if op.prim == "cond":
        keep = [j for j, r in enumerate(op.results) if r in live]
        if len(keep) == len(op.results):
            return op
        regions = tuple(Block(r.args, r.ops, tuple(r.yields[j] for j in keep))
                        for r in op.regions)
        return Op(op.prim, op.operands, tuple(op.results[j] for j in keep), op.attrs, op.loc,
                  regions)
    if op.prim not in ("for_range", "while_loop"):
        return op
    lead = 3 if op.prim == "for_range" else 0
    body = op.regions[-1]
    body_lead = 1 if op.prim == "for_range" else 0
    n = len(op.results)

    def arg(r: Block, j: int) -> Value:
        return r.args[j + (body_lead if r is body else 0)]

    # A slot is needed if its result is, or if what the loop needs (the test of a
    # while loop, the updates of needed slots) reads its block argument: a fixed point.
    # A slot read only by its own update (`a *= 1.5` in a loop whose `a` nothing
    # reads afterwards, a tape nobody reads) is not needed.
    keep = {j for j in range(n) if op.results[j] in live}
    while True:
        wanted: set[Value] = set()
        for r in op.regions:
            roots = tuple(r.yields[j] for j in sorted(keep)) if r is body else r.yields
            wanted |= values_read(_dce_block(Block(r.args, r.ops, roots)))
        more = {j for j in range(n) if j not in keep
                and any(arg(r, j) in wanted for r in op.regions)}
        if not more:
            break
        keep |= more
    if len(keep) == n:
        return op
    slots = sorted(keep)
    regions = []
    for r in op.regions:
        skip = {arg(r, j) for j in range(n) if j not in keep}
        yields = tuple(r.yields[j] for j in slots) if r is body else r.yields
        regions.append(Block(tuple(a for a in r.args if a not in skip), r.ops, yields))
    operands = op.operands[:lead] + tuple(op.operands[lead + j] for j in slots)
    return Op(op.prim, operands, tuple(op.results[j] for j in slots), op.attrs, op.loc,
              tuple(regions))


def prune_tapes(fn: Function) -> Function:
    """Stop recording what no reverse sweep reads back.

    A tape slot whose value read back is never used is removed from the pushes
    and the reads of its tape; a push or read left with nothing to move goes too.
    Returns ``fn`` itself when there is nothing to prune.
    """
    used = values_read(fn.body) | set(fn.results)
    wanted: dict[int, set[int]] = {}
    for op in walk_ops(fn.body):
        if op.prim == "tape_read":
            slots = wanted.setdefault(op.attr("tape"), set())
            slots.update(k for k, r in enumerate(op.results[1:]) if r in used)
    if all(0 < len(wanted[op.attr("tape")]) == len(op.results) - 1
           for op in walk_ops(fn.body) if op.prim == "tape_read"):
        return fn  # every slot is read back, and every tape moves something
    alias: dict[Value, Value] = {}

    def rename(v: Value) -> Value:
        while v in alias:
            v = alias[v]
        return v

    def rebuild(block: Block) -> Block:
        ops = []
        for op in block.ops:
            tag = op.attr("tape")
            if op.prim in ("tape_push", "tape_read") and tag in wanted:
                keep = sorted(wanted[tag])
                if not keep:
                    alias[op.results[0]] = rename(op.operands[0])
                    continue
                if op.prim == "tape_push":
                    operands = (op.operands[0], *(op.operands[1 + k] for k in keep))
                    op = Op(op.prim, operands, op.results, op.attrs, op.loc)
                else:
                    results = (op.results[0], *(op.results[1 + k] for k in keep))
                    op = Op(op.prim, op.operands, results, op.attrs, op.loc)
            operands = tuple(rename(v) for v in op.operands)
            regions = tuple(rebuild(r) for r in op.regions)
            ops.append(Op(op.prim, operands, op.results, op.attrs, op.loc, regions))
        return Block(block.args, ops, tuple(rename(v) for v in block.yields))

    body = rebuild(fn.body)
    return Function(fn.name, fn.params, body, **_meta(fn))


def drop_invariant_slots(fn: Function) -> Function:
    """Stop carrying loop slots that never change.

    A slot whose body yields its initial value (a value from outside the loop) or
    its own block argument holds that initial value on every pass and after the
    loop: its block argument and its result are replaced by the initial value.
    Reverse mode makes such slots (the adjoint of a value an inner loop only
    reads, ``s_bar_1 = s_bar`` on every pass).  Returns ``fn`` itself when there
    is none.
    """
    alias: dict[Value, Value] = {}
    changed = False

    def rename(v: Value) -> Value:
        while v in alias:
            v = alias[v]
        return v

    def rebuild(block: Block) -> Block:
        nonlocal changed
        ops = []
        for op in block.ops:
            op = Op(op.prim, tuple(rename(v) for v in op.operands), op.results, op.attrs,
                    op.loc, op.regions)
            if op.prim in ("for_range", "while_loop"):
                op = _drop_invariant(op, alias)
                changed = changed or any(r in alias for r in op.results)
            regions = tuple(rebuild(r) for r in op.regions)
            ops.append(Op(op.prim, op.operands, tuple(r for r in op.results if r not in alias),
                          op.attrs, op.loc, regions))
        return Block(block.args, ops, tuple(rename(v) for v in block.yields))

    body = rebuild(fn.body)
    if not changed:
        return fn
    return Function(fn.name, fn.params, body, **_meta(fn))


def _drop_invariant(op: Op, alias: dict[Value, Value]) -> Op:
    """``op`` without its invariant slots; their arguments and results go into
    ``alias`` (as the initial values).  The results stay on the op for the caller to
    see which went; the caller drops those in ``alias``."""
    lead = 3 if op.prim == "for_range" else 0
    body = op.regions[-1]
    body_lead = 1 if op.prim == "for_range" else 0
    inits = list(op.operands[lead:])
    n = len(inits)

    def resolved(v: Value) -> Value:
        while v in alias:
            v = alias[v]
        return v

    gone: set[int] = set()
    while True:
        found = [j for j in range(n) if j not in gone and (
            resolved(body.yields[j]) is resolved(inits[j])
            or resolved(body.yields[j]) is body.args[body_lead + j])]
        if not found:
            break
        for j in found:
            gone.add(j)
            for r in op.regions:
                alias[r.args[j + (body_lead if r is body else 0)]] = inits[j]
            alias[op.results[j]] = inits[j]
    if not gone:
        return op
    keep = [j for j in range(n) if j not in gone]
    regions = []
    for r in op.regions:
        k = body_lead if r is body else 0
        args = r.args[:k] + tuple(r.args[k + j] for j in keep)
        yields = tuple(r.yields[j] for j in keep) if r is body else r.yields
        regions.append(Block(args, r.ops, yields))
    return Op(op.prim, op.operands[:lead] + tuple(inits[j] for j in keep), op.results,
              op.attrs, op.loc, tuple(regions))


def dce(fn: Function) -> Function:
    return Function(fn.name, fn.params, _dce_block(fn.body), **_meta(fn))


def optimize(fn: Function) -> Function:
    """CSE and folding, then dead code, unread tape slots, invariant loop slots and
    loop-invariant arithmetic (:mod:`.hoist`), to a fixed point.  The last step is
    always value numbering (:func:`cse_fold`) on the final IR, after every rewrite.

    Each removal can enable another: pruning an inner loop's tape can leave an
    outer tape's slot unread, and then the primal sweep that computed it is dead
    (the primal sweep of ``s`` in ``for i: for j: s += ...``, whose gradient never
    reads ``s``); an inner loop's invariant slot makes the enclosing loop's slot
    invariant.  Each round removes at least one slot, so the loop ends.
    """
    fn = dce(cse_fold(fn))
    while True:
        reduced = untape_invariants(hoist_invariants(drop_invariant_slots(prune_tapes(fn))))
        if reduced is fn:
            return fn
        fn = dce(cse_fold(reduced))  # a slot replaced by its initial value may fold


def _meta(fn: Function) -> dict:
    return dict(structure=fn.structure, defaults=fn.defaults, star=fn.star, source=fn.source,
                names_used=fn.names_used, docstring=fn.docstring)
