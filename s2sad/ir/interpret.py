"""The reference interpreter: evaluate IR directly, op by op.

It is the oracle that generated code is compared with: both must agree on
every input, because they share nothing but the primitive table's evaluators.
"""

from __future__ import annotations

from typing import Any

from .. import primitives as P
from .core import Function, Value


def _structured(structure, flat: list[Any]):
    if isinstance(structure, tuple):
        return tuple(_structured(s, flat) for s in structure)
    return flat[structure]


def interpret(fn: Function, *args: Any) -> Any:
    if len(args) != len(fn.params):
        raise TypeError(f"{fn.name} takes {len(fn.params)} arguments, got {len(args)}")
    env: dict[Value, Any] = dict(zip(fn.params, args, strict=True))
    for op in fn.body.ops:
        attrs = dict(op.attrs)
        if op.prim == "const":
            env[op.result] = attrs["value"]
            continue
        lib = attrs.pop("lib", None)
        env[op.result] = P.PRIMITIVES[op.prim].evaluate(lib, *(env[v] for v in op.operands),
                                                        **attrs)
    return _structured(fn.structure, [env[r] for r in fn.results])
