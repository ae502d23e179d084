"""Copying IR into a builder: the one way passes re-emit the ops of a function.

:func:`clone_ops` re-emits a block's ops into a :class:`~s2sad.ir.builder.Builder`
with operands renamed through ``env`` (old value → new value).  Because the
builder hash-conses and simplifies, cloning is also how CSE and folding run as
a pass, and how two sweeps over the same primal share one copy of it.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import InternalError
from .builder import Builder
from .core import Block, Function, Op, Value


def clone_op(b: Builder, op: Op, env: dict[Value, Value]) -> None:
    """Re-emit ``op`` with renamed operands, recording its results in ``env``."""
    if op.regions:
        raise InternalError(f"clone_op: structured op {op.prim} needs its own rule")
    operands = tuple(env[v] for v in op.operands)
    env[op.result] = b.emit(op.prim, operands, attrs=op.attrs, loc=op.loc, hint=op.result.hint)


def clone_ops(
    b: Builder,
    block: Block,
    env: dict[Value, Value],
    after_op: Callable[[Op], None] | None = None,
) -> None:
    for op in block.ops:
        clone_op(b, op, env)
        if after_op is not None:
            after_op(op)


def inline(b: Builder, fn: Function, args: tuple[Value, ...]) -> tuple[Value, ...]:
    """Emit ``fn``'s body with its parameters bound to ``args``; return its results."""
    env = dict(zip(fn.params, args, strict=True))
    clone_ops(b, fn.body, env)
    return tuple(env[r] for r in fn.results)
