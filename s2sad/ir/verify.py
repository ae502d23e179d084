"""The IR verifier: SSA, visibility, arity and kinds.

:func:`verify` raises :class:`~s2sad.errors.InternalError` with the offending op
and a few ops of context.  Tests run it after every pass.
"""

from __future__ import annotations

from .. import primitives as P
from ..errors import InternalError
from .core import Block, Function, Value
from .printer import format_function, format_op


def _fail(fn: Function, block: Block, index: int, message: str) -> None:
    lo, hi = max(0, index - 3), min(len(block.ops), index + 3)
    context = "\n".join(
        ("> " if i == index else "  ") + format_op(block.ops[i], "") for i in range(lo, hi)
    )
    raise InternalError(f"IR verification failed in {fn.name}: {message}\n{context}")


def verify(fn: Function) -> Function:
    defined: set[Value] = set()
    for p in fn.params:
        if p in defined:
            raise InternalError(f"IR verification failed in {fn.name}: parameter {p} twice")
        defined.add(p)
    _verify_block(fn, fn.body, defined, [set(fn.params)])
    for r in fn.results:
        if r not in defined:
            raise InternalError(
                f"IR verification failed in {fn.name}: result {r} is not defined\n"
                + format_function(fn)
            )
    return fn


def _verify_block(fn: Function, block: Block, defined: set, visible: list[set]) -> None:
    scope = set(block.args)
    visible = visible + [scope]
    for a in block.args:
        defined.add(a)
    for i, op in enumerate(block.ops):
        prim = P.PRIMITIVES.get(op.prim)
        if prim is None:
            _fail(fn, block, i, f"unknown primitive {op.prim!r}")
        if not op.regions and prim.nin != P.VARIADIC and len(op.operands) != prim.nin:
            _fail(fn, block, i, f"{op.prim} takes {prim.nin} operands, has {len(op.operands)}")
        for v in op.operands:
            if not any(v in s for s in visible):
                _fail(fn, block, i, f"operand {v} is not defined before use in a visible scope")
        for region in op.regions:
            _verify_block(fn, region, defined, visible)
        for r in op.results:
            if r in defined:
                _fail(fn, block, i, f"value {r} is defined twice")
            defined.add(r)
            scope.add(r)
        if not op.regions and len(op.results) == 1:
            kind = prim.result_kind(tuple(v.kind for v in op.operands), dict(op.attrs))
            if op.results[0].kind is not kind:
                _fail(fn, block, i, f"result kind {op.results[0].kind.value}, expected "
                                    f"{kind.value}")
    for v in block.yields:
        if not any(v in s for s in visible):
            raise InternalError(f"IR verification failed in {fn.name}: yielded {v} not visible")
