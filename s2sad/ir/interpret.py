"""The reference interpreter: evaluate IR directly, op by op.

It is the oracle that generated code is compared with: both must agree on
every input, because they share nothing but the primitive table's evaluators.
Structured ops run their regions; tapes are Python lists.
"""

from __future__ import annotations

from typing import Any

from .. import primitives as P
from .. import runtime
from ..errors import InternalError
from .core import Block, Function, Op, Value


def _structured(structure, flat: list[Any]):
    if isinstance(structure, tuple):
        return tuple(_structured(s, flat) for s in structure)
    return flat[structure]


def interpret(fn: Function, *args: Any) -> Any:
    if len(args) != len(fn.params):
        raise TypeError(f"{fn.name} takes {len(fn.params)} arguments, got {len(args)}")
    env: dict[Value, Any] = dict(zip(fn.params, args, strict=True))
    _run(fn.body, env)
    return _structured(fn.structure, [env[r] for r in fn.results])


def _run(block: Block, env: dict[Value, Any]) -> tuple[Any, ...]:
    for op in block.ops:
        results = _op(op, env)
        for r, v in zip(op.results, results, strict=True):
            env[r] = v
    return tuple(env[v] for v in block.yields)


def _region(block: Block, env: dict[Value, Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    env.update(zip(block.args, args, strict=True))
    return _run(block, env)


def _op(op: Op, env: dict[Value, Any]) -> tuple[Any, ...]:
    vals = [env[v] for v in op.operands]
    attrs = dict(op.attrs)
    if op.prim == "const":
        return (attrs["value"],)
    if op.prim == "cond":
        return _region(op.regions[0] if vals[0] else op.regions[1], env, ())
    if op.prim == "for_range":
        start, stop, step, *carried = vals
        indices = range(start, stop, step)
        for i in reversed(indices) if attrs.get("reverse") else indices:
            carried = list(_region(op.regions[0], env, (i, *carried)))
        return tuple(carried)
    if op.prim == "while_loop":
        carried = vals
        while _region(op.regions[0], env, tuple(carried))[0]:
            carried = list(_region(op.regions[1], env, tuple(carried)))
        return tuple(carried)
    if op.prim == "tape_new":
        return ([],)
    if op.prim == "tape_push":
        tape, *items = vals
        tape.append(tuple(list(v) if isinstance(v, list) else v for v in items))
        return (tape,)
    if op.prim == "tape_read":
        tape = vals[0]
        return (tape, *tape[vals[1]])
    if op.prim == "ckpt_new":
        return (runtime.function("_Checkpoints")(range(*vals) if vals else None,
                                                 op.attr("k"), op.attr("budget")),)
    if op.prim == "ckpt_take":
        store, i, *items = vals
        store.take(i, tuple(items))
        return (store,)
    if op.prim == "ckpt_restore":
        j, items = vals[0].restore(vals[1])
        return (vals[0], j, *items)
    if op.prim == "list_pop":
        xs = vals[0]
        return (xs, xs.pop())
    if op.regions:
        raise InternalError(f"interpret: unknown structured op {op.prim}")
    lib = attrs.pop("lib", None)
    return (P.PRIMITIVES[op.prim].evaluate(lib, *vals, **attrs),)
