"""Copying IR into a builder: the one way passes re-emit the ops of a function.

:func:`clone_ops` re-emits a block's ops into a :class:`~s2sad.ir.builder.Builder`
with operands renamed through ``env`` (old value → new value).  Because the
builder hash-conses and simplifies, cloning is also how CSE and folding run as
a pass, and how two sweeps over the same primal share one copy of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .builder import Builder
from .core import Block, Function, Op, Value

Custom = Callable[[Builder, Op, dict[Value, Value]], bool]


def clone_op(b: Builder, op: Op, env: dict[Value, Value], custom: Custom | None = None
             ) -> None:
    """Re-emit ``op`` with renamed operands, recording its results in ``env``.

    A ``cond`` whose predicate has become a constant is replaced by the ops of
    the region that runs.  ``custom(b, op, env)``, if given, may emit ``op`` (or ops
    nested in it) its own way instead and return True.
    """
    if custom is not None and custom(b, op, env):
        return
    operands = tuple(env[v] for v in op.operands)
    if op.prim == "cond" and b.is_const(operands[0]):
        region = op.regions[0] if b.const_value(operands[0]) else op.regions[1]
        clone_ops(b, region, env, custom=custom)
        env.update(zip(op.results, (env[y] for y in region.yields), strict=True))
        return
    if op.regions:
        invariant = _invariant_slots(op)
        regions = []
        for region in op.regions:
            args = tuple(b.fresh(a.kind, a.hint) for a in region.args)
            env.update(zip(region.args, args, strict=True))
            for k, init in invariant.items():  # a slot the body never changes is its init
                env[region.args[len(region.args) - len(op.results) + k]] = operands[init]
            b.push_block(args)
            clone_ops(b, region, env, custom=custom)
            regions.append(b.pop_block(tuple(env[y] for y in region.yields)))
        results = b.emit_multi(op.prim, operands, [r.kind for r in op.results],
                               hints=[r.hint for r in op.results], attrs=op.attrs, loc=op.loc,
                               regions=tuple(regions))
    elif len(op.results) == 1:
        results = (b.emit(op.prim, operands, attrs=op.attrs, loc=op.loc, hint=op.result.hint),)
    else:
        results = b.emit_multi(op.prim, operands, [r.kind for r in op.results],
                               hints=[r.hint for r in op.results], attrs=op.attrs, loc=op.loc)
    env.update(zip(op.results, results, strict=True))


def _invariant_slots(op: Op) -> dict[int, int]:
    """Loop slots whose body yields them unchanged: slot index -> index of its init."""
    if op.prim not in ("for_range", "while_loop"):
        return {}
    body = op.regions[-1]
    lead = len(op.operands) - len(op.results)
    carried = body.args[len(body.args) - len(op.results):]
    return {j: lead + j for j, (a, y) in enumerate(zip(carried, body.yields, strict=True))
            if a is y}


def clone_ops(
    b: Builder,
    block: Block,
    env: dict[Value, Value],
    after_op: Callable[[Op], None] | None = None,
    custom: Custom | None = None,
) -> None:
    for op in block.ops:
        clone_op(b, op, env, custom)
        if after_op is not None:
            after_op(op)


def inline(b: Builder, fn: Function, args: tuple[Value, ...]) -> tuple[Value, ...]:
    """Emit ``fn``'s body with its parameters bound to ``args``; return its results."""
    env = dict(zip(fn.params, args, strict=True))
    clone_ops(b, fn.body, env)
    return tuple(env[r] for r in fn.results)


def rewritten(fn: Function, custom: Custom) -> Function:
    """``fn`` re-emitted with ``custom`` given each op first (it emits a replacement and
    returns True, or returns False to have the op cloned): a rewrite pass before
    differentiation.  Everything but the body is kept (parameters in order, results,
    defaults, the container layout of ``arguments``)."""
    b = Builder()
    params = tuple(b.fresh(p.kind, p.hint) for p in fn.params)
    env: dict[Value, Value] = dict(zip(fn.params, params, strict=True))
    clone_ops(b, fn.body, env, custom=custom)
    new = b.finish(fn.name, params, tuple(env[r] for r in fn.results))
    return dataclasses.replace(fn, params=new.params, body=new.body)
