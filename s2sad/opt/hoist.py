"""Loop-invariant code motion: pure scalar arithmetic that a loop recomputes on every
pass is computed once, before the loop.

An op of a loop's body (or of a ``while`` loop's test) moves out when it reads only
values defined outside the loop, and it is one of the operations that cannot raise or
do anything else when it runs where it did not before (a loop of zero passes): ``+``,
``-``, ``*``, unary ``-`` on floats and ints, ``/`` by a nonzero constant — RK4's
``0.5 * h`` and ``h / 6.0`` — and NumPy's elementwise functions of a number
(``np.sin(a)``: NumPy returns nan or inf where ``math`` raises, so ``math.log(a)``
stays in its loop).  The op moved is the very same operation on the very same
operands, so every result is bit for bit what it was: nothing is reassociated
(``h * 0.5 * k`` stays ``(h * 0.5) * k``; only a whole invariant operand moves).  Ops
inside a branch (``cond``) stay where they are: they run only when it is taken.  Inner
loops are treated first, so an op can rise through several loops.  Both sweeps of
reverse mode gain, and the value numbering that follows shares what the primal and
the reverse sweep each moved out (``0.5 * h`` once, not once per sweep).
"""

from __future__ import annotations

from .. import primitives as P
from ..ir.core import Block, Function, Kind, Op, Value

_LOOPS = ("for_range", "while_loop")
_SAFE = frozenset({"add", "sub", "mul", "neg", "const"})
_SCALARS = (Kind.FLOAT, Kind.INT)


def hoist_invariants(fn: Function) -> Function:
    """``fn`` with loop-invariant scalar arithmetic before its loops; ``fn`` itself when
    there is none."""
    consts: dict[Value, object] = {}
    for op in _all_ops(fn.body):
        if op.prim == "const":
            consts[op.results[0]] = op.attr("value")
    moved = [False]
    body = _block(fn.body, consts, moved)
    if not moved[0]:
        return fn
    return Function(fn.name, fn.params, body, structure=fn.structure, defaults=fn.defaults,
                    star=fn.star, source=fn.source, names_used=fn.names_used,
                    docstring=fn.docstring)


def _all_ops(block: Block):
    for op in block.ops:
        yield op
        for r in op.regions:
            yield from _all_ops(r)


def _block(block: Block, consts: dict, moved: list[bool]) -> Block:
    ops: list[Op] = []
    for op in block.ops:
        if op.regions:
            op = Op(op.prim, op.operands, op.results, op.attrs, op.loc,
                    tuple(_block(r, consts, moved) for r in op.regions))
        if op.prim in _LOOPS:
            out, op = _split(op, consts)
            if out:
                moved[0] = True
                ops.extend(out)
        ops.append(op)
    return Block(block.args, ops, block.yields)


def _movable(op: Op, consts: dict) -> bool:
    if op.regions or len(op.results) != 1 or op.results[0].kind not in _SCALARS:
        return False
    if op.prim == "div":
        d = consts.get(op.operands[1])
        return (op.operands[0].kind in _SCALARS and type(d) in (int, float) and d != 0)
    if not all(v.kind in _SCALARS for v in op.operands):
        return False
    if op.prim in _SAFE:
        return True
    # NumPy's functions of a number return inf or nan (with a warning) where math's
    # raise: `np.sin(a)` may run where it did not, `math.log(a)` may not (a ≤ 0)
    return op.attr("lib") == P.NUMPY and P.PRIMITIVES[op.prim].derivative == "partials"


def _split(loop: Op, consts: dict) -> tuple[list[Op], Op]:
    """The invariant ops of ``loop``'s regions (in order), and the loop without them."""
    out: list[Op] = []
    regions = []
    for region in loop.regions:
        inside: set[Value] = set(region.args)
        kept = []
        for op in region.ops:
            if _movable(op, consts) and not any(v in inside for v in op.operands):
                out.append(op)
            else:
                kept.append(op)
                inside.update(op.results)
                inside.update(_defined_within(op))
        regions.append(Block(region.args, kept, region.yields))
    return out, Op(loop.prim, loop.operands, loop.results, loop.attrs, loop.loc, tuple(regions))


def _defined_within(op: Op) -> set[Value]:
    """The values an op's regions define (block arguments and results)."""
    out: set[Value] = set()
    for r in op.regions:
        out.update(r.args)
        for o in r.ops:
            out.update(o.results)
            out.update(_defined_within(o))
    return out


def untape_invariants(fn: Function) -> Function:
    """Read a taped value that the reverse sweep can see directly instead of from its tape.

    Once hoisted, a value a loop pushed on its tape on every pass (``np.sin(a)``) is
    defined outside the loop, and where it is visible at the tape's read (the read
    is in a block nested in the one that defines it), every record holds that one
    value: the read's result is replaced by the value, and :func:`~.passes.prune_tapes`
    then stops recording it.  Returns ``fn`` itself when there is none.
    """
    pushes = {op.attr("tape"): op for op in _all_ops(fn.body) if op.prim == "tape_push"}
    alias: dict[Value, Value] = {}

    def scan(block: Block, visible: set[Value]) -> None:
        visible.update(block.args)
        for op in block.ops:
            push = pushes.get(op.attr("tape")) if op.prim == "tape_read" else None
            if push is not None:
                for r, v in zip(op.results[1:], push.operands[1:], strict=False):
                    if v in visible:
                        alias[r] = v
            for region in op.regions:
                scan(region, set(visible))
            visible.update(op.results)

    scan(fn.body, set(fn.params))
    if not alias:
        return fn

    def rename(v: Value) -> Value:
        return alias.get(v, v)

    def rebuild(block: Block) -> Block:
        return Block(block.args, [Op(op.prim, tuple(rename(v) for v in op.operands), op.results,
                                     op.attrs, op.loc, tuple(rebuild(r) for r in op.regions))
                                  for op in block.ops], tuple(rename(v) for v in block.yields))

    return Function(fn.name, fn.params, rebuild(fn.body), structure=fn.structure,
                    defaults=fn.defaults, star=fn.star, source=fn.source,
                    names_used=fn.names_used, docstring=fn.docstring)
