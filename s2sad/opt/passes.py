"""The optimisation pipeline.

* :func:`cse_fold` rebuilds a function through a simplifying
  :class:`~s2sad.ir.builder.Builder`: identical ops are shared (value
  numbering), constants are folded and exact identities applied
  (:mod:`.simplify`).
* :func:`dce` drops ops whose results nothing uses.
* :func:`optimize` runs both.

Every pass returns a new function; its input is not modified.
"""

from __future__ import annotations

from ..ir.builder import Builder
from ..ir.clone import clone_ops
from ..ir.core import Block, Function, Op, Value


def cse_fold(fn: Function) -> Function:
    b = Builder(simplify=True)
    params = tuple(b.fresh(p.kind, p.hint) for p in fn.params)
    env: dict[Value, Value] = dict(zip(fn.params, params, strict=True))
    clone_ops(b, fn.body, env)
    return b.finish(fn.name, params, tuple(env[r] for r in fn.results), **_meta(fn))


def _uses(block: Block) -> set[Value]:
    """Every value a block reads, at any depth (its own values included)."""
    used = set(block.yields)
    for op in block.ops:
        used.update(op.operands)
        for region in op.regions:
            used |= _uses(region)
    return used


def _dce_block(block: Block) -> Block:
    live: set[Value] = set(block.yields)
    kept = []
    for op in reversed(block.ops):
        if not any(r in live for r in op.results):
            continue
        if op.regions:  # keep every carried value of a live loop; prune inside regions
            op = Op(op.prim, op.operands, op.results, op.attrs, op.loc,
                    tuple(_dce_block(r) for r in op.regions))
            for region in op.regions:
                live |= _uses(region)
        kept.append(op)
        live.update(op.operands)
    kept.reverse()
    return Block(args=block.args, ops=kept, yields=block.yields)


def dce(fn: Function) -> Function:
    return Function(fn.name, fn.params, _dce_block(fn.body), **_meta(fn))


def optimize(fn: Function) -> Function:
    return dce(cse_fold(fn))


def _meta(fn: Function) -> dict:
    return dict(structure=fn.structure, defaults=fn.defaults, source=fn.source,
                names_used=fn.names_used, docstring=fn.docstring)
