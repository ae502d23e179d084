"""Shape specialisation: a derivative compiled for the shapes seen at its first call.

The generic derivative cannot know its arguments' ranks, so the run-time helpers
(``_unbroadcast``, ``_sum_to``, ``_matmul_bar_b``...) test ``ndim`` and shapes at every
call.  :func:`shape_key` reduces each argument to what decides those tests: an array's
rank and which of its axes have length 1 (``2`` for a 1000 × 20 array, ``(False, True)``
for a 1000 × 1 one: the lengths other than 1 are left out, so one compilation serves
every batch size), ``0`` for a number, ``None`` for anything else (a list: its shape is
not read).
:func:`specialize_shapes` propagates these symbolic shapes through the derivative's IR
and, where they prove what a helper would find, emits what a person writes:
``h.T @ g`` for ``_matmul_bar_b(g, h, W)``, ``g`` for ``_unbroadcast(g, x)`` of equal
shapes, ``1.0`` for a seed whose output is proved scalar, ``x_bar[k] += v`` for an
index proved to be one int.

Soundness.  A dimension is ``1`` or a symbol standing for a length other than 1.  Two
symbols broadcast together in an op that every call runs (the function's top-level
block, not a branch or a loop body) must be equal — NumPy raises otherwise, before any
later op runs — so from that op on they are one symbol (union-find).  A shape that is
not proved is ``None`` and its helper is kept.  The API checks the key at every call
and compiles again for arguments of another key.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..ir.builder import Builder
from ..ir.clone import clone_op, rewritten
from ..ir.core import Function, Op, Value
from ..primitives_numpy import _SCALAR_RESULTS, elementwise

Shape = tuple | None

# The calls this pass may replace, as generated source spells them (a derivative read
# from the disk cache has no IR), that are worth a key per call: not `_one_array`
# alone, one isinstance test, cheaper than the key
DISPATCHING_NAMES = ("_unbroadcast(", "_sum_to(", "_broadcast_like(", "_matmul_bar_a(",
                     "_matmul_bar_b(", "_matmul_seed(", "_scalar_seed(",
                     "_broadcast_size(", "np.add.at(")


def shape_key(args: tuple) -> tuple:
    """Per argument: its rank, for a number (0, but not a bool) or an ndarray with no
    axis of length 1; for an ndarray with one, a bool per axis (is its length 1?);
    ``None`` for anything else.  What a specialisation is compiled for; computed at
    every call of a specialising gradient, so it does no Python-level loop per axis."""
    return tuple([(a.ndim if 1 not in a.shape else tuple(map(_IS_ONE, a.shape)))
                  if type(a) is np.ndarray else
                  0 if isinstance(a, (float, int, np.integer)) and a is not True
                  and a is not False else None for a in args])  # (a bool index: a mask)


_IS_ONE = (1).__eq__


def _axes(entry: int | tuple) -> tuple:
    """A key entry as one bool per axis."""
    return (False,) * entry if isinstance(entry, int) else entry


def worth_specializing(source: str) -> bool:
    """Does generated ``source`` call a helper that this pass could replace?  (In its
    function, the last one: a helper's own text may spell ``np.add.at``.)"""
    body = source[source.rfind("\ndef "):]
    return any(name in body for name in DISPATCHING_NAMES)


class _Dims:
    """Union-find over symbolic dimensions (a symbol: a length other than 1)."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, d: Any) -> Any:
        if d == 1:
            return 1
        while d in self.parent:
            d = self.parent[d]
        return d

    def shape(self, s: Shape) -> Shape:
        return None if s is None else tuple(self.find(d) for d in s)

    def broadcast(self, shapes: list[Shape], unify: bool) -> Shape:
        """The shape of ``shapes`` broadcast together; symbols meeting on one axis are
        made one when ``unify`` (an op every call runs), else the shape is unknown."""
        if any(s is None for s in shapes):
            return None
        rank = max((len(s) for s in shapes), default=0)
        out = []
        for axis in range(-rank, 0):
            dims = {self.find(s[axis]) for s in shapes if len(s) >= -axis} - {1}
            if len(dims) > 1:
                if not unify:
                    return None
                first, *rest = dims
                for d in rest:
                    self.parent[d] = first
                dims = {first}
            out.append(dims.pop() if dims else 1)
        return tuple(out)


def specialize_shapes(fn: Function, shapes: tuple) -> Function:
    """``fn`` with the shape-dispatching helpers replaced where the argument shapes
    (:func:`shape_key` of the arguments, by position) prove what they would find."""
    from . import optimize

    dims = _Dims()
    known: dict[Value, Shape] = {}
    for i, (p, s) in enumerate(zip(fn.params, shapes, strict=False)):
        if s is not None:
            known[p] = tuple(1 if d else (i, axis) for axis, d in enumerate(_axes(s)))
    top = set(fn.body.ops)
    sizes: dict[tuple, Value] = {}  # shape -> the first np.size of a value of that shape

    def shape(v: Value) -> Shape:
        return dims.shape(known.get(v))

    def custom(b: Builder, op: Op, env: dict[Value, Value]) -> bool:
        if len(op.results) != 1 or op.regions:
            return False
        s = _result_shape(op, shape, dims, op in top)
        if s is not None:
            known[op.result] = s
        ins = [shape(v) for v in op.operands]
        new = _replacement(b, op, [env[v] for v in op.operands], ins, s)
        whole = _broadcast_known(ins) if op.prim == "size" and new is None else None
        if whole is not None and whole in ins:  # np.size of one of them, one per shape
            new = sizes.get(whole)
            if new is None:
                new = sizes[whole] = b.emit("size", (env[op.operands[ins.index(whole)]],),
                                            loc=op.loc, hint=op.result.hint)
        if new is None:
            return False
        env[op.result] = new
        return True

    return optimize(rewritten(fn, custom))


def _result_shape(op: Op, shape, dims: _Dims, unify: bool) -> Shape:
    """The symbolic shape of ``op``'s one result (``None``: not proved)."""
    ins = [shape(v) for v in op.operands]
    prim = op.prim
    if prim == "size" and len(ins) > 1:  # np.broadcast(*xs).size: a broadcast of xs
        dims.broadcast(ins, unify)
        return ()
    if prim in _SCALAR_RESULTS and (prim not in ("np_sum", "np_mean", "np_max", "np_min",
                                                 "np_prod") or op.attr("axis") is None):
        return () if prim not in ("np_einsum", "np_var") else None
    if prim in ("unbroadcast", "sum_to", "one_array", "stop_gradient", "index_add",
                "index_set", "np_copy", "neg"):
        return ins[0] if prim not in ("unbroadcast", "sum_to") else ins[1]
    if prim == "index_bar":
        return ins[1]
    if prim == "matmul_bar_a":
        return ins[1]
    if prim == "matmul_bar_b":
        return ins[2]
    if prim == "broadcast_like":
        return dims.broadcast(ins[1:], unify)
    if prim == "transpose" and not op.attrs and ins[0] is not None:
        return ins[0][::-1]
    if prim == "matmul" and None not in ins:
        a, c = ins
        if len(a) == len(c) == 1:
            return ()
        if len(a) == 2 and len(c) == 1:
            return a[:1]
        if len(a) == 1 and len(c) == 2:
            return c[1:]
        if len(a) == len(c) == 2:
            return (a[0], c[1])
        return None
    if prim == "np_index" and ins[0] is not None:
        return _index_shape(op, ins)
    if elementwise(op):
        return dims.broadcast(ins, unify)
    return None


def _index_shape(op: Op, ins: list) -> Shape:
    """``x[i, :, None]`` of a known ``x`` with int (rank 0) ``i``: ints drop their axis,
    full slices keep it, ``None`` adds one of length 1; anything else is not proved."""
    base, out, axis = ins[0], [], 0
    for item in op.attr("index"):
        if item[0] == "int" and ins[1 + item[1]] == ():
            axis += 1
        elif item[0] == "slice" and item[1:] == (None, None, None):
            if axis >= len(base):
                return None
            out.append(base[axis])
            axis += 1
        elif item[0] == "none":
            out.append(1)
        else:
            return None
    return None if axis > len(base) else tuple(out) + base[axis:]


def _replacement(b: Builder, op: Op, args: list[Value], ins: list[Shape], out: Shape
                 ) -> Value | None:
    """What a person writes for helper ``op`` of operands of shapes ``ins`` (``None``:
    keep the helper)."""
    prim, loc = op.prim, op.loc
    if prim == "one_array" and ins[0] is not None:  # an ndarray or a number: itself
        return args[0]
    if prim in ("unbroadcast", "sum_to") and None not in ins:
        g, x = ins[0], ins[1]
        if prim == "sum_to":
            like = _broadcast_known(ins[2:])
            if like is None or g != like:  # (then _broadcast_like would copy)
                return None
        if g == x:
            return args[0]
        return _sum_back(b, args[0], g, x, op)
    if prim == "broadcast_like" and None not in ins and ins[0] == _broadcast_known(ins[1:]):
        return args[0]
    if prim in ("matmul_bar_a", "matmul_bar_b") and None not in ins:
        return _matmul_bar(b, prim, args, [len(s) for s in ins[1:]], op)
    if prim == "matmul_seed" and ins[0] is not None and ins[1] is not None and (
            len(ins[0]) == len(ins[1]) == 1):
        return b.const(1.0, loc)
    if prim == "scalar_seed" and all(s == () for s in ins):
        return b.const(1.0, loc)
    if prim == "size" and all(s == () for s in ins):
        return b.const(1, loc)
    if prim == "index_add" and op.attr("gather") and all(
            item[0] != "array" for item in op.attr("index")) and all(s == () for s in ins[2:]):
        # every index an int: no element is read twice, so no np.add.at
        clone = Op(prim, op.operands, op.results, tuple(
            (k, v) for k, v in op.attrs if k != "gather"), loc, op.regions)
        env = dict(zip(op.operands, args, strict=True))
        clone_op(b, clone, env)
        return env[op.result]
    return None


def _sum_back(b: Builder, g_value: Value, g: tuple, x: tuple, op: Op) -> Value | None:
    """``_unbroadcast(g, x)`` where it is one sum: over the leading axes NumPy added
    (``np.sum(g, axis=0)`` for a bias), or over the axes of length 1 in ``x`` only
    (``keepdims``); ``None`` for anything else."""
    lead = len(g) - len(x)
    if lead < 0:
        return None
    if x == ():
        return b.emit("np_sum", (g_value,), loc=op.loc, hint=op.result.hint)
    ones = tuple(i for i, d in enumerate(x) if d == 1 and g[lead + i] != 1)
    if any(d != 1 and d != g[lead + i] for i, d in enumerate(x)) or (lead and ones):
        return None
    axes = tuple(range(lead)) if lead else ones
    attrs: dict = {"axis": axes[0] if len(axes) == 1 else axes}
    if not lead:
        attrs["keepdims"] = True
    return b.emit("np_sum", (g_value,), attrs=attrs, loc=op.loc, hint=op.result.hint)


def _broadcast_known(shapes: list[Shape]) -> Shape:
    """The broadcast of shapes that are already one up to 1s (no new fact is learnt)."""
    return _Dims().broadcast(shapes, unify=False)


def _matmul_bar(b: Builder, prim: str, args: list[Value], ranks: list[int], op: Op
                ) -> Value | None:
    """The adjoint of one operand of ``a @ c`` for vector and matrix operands, as the
    helper computes it (``np.multiply.outer`` of two vectors is ``np.outer``)."""
    g, a, c = args
    loc, hint = op.loc, op.result.hint

    def matmul(x: Value, y: Value) -> Value:
        return b.emit("matmul", (x, y), attrs={"spelling": "@"}, loc=loc, hint=hint)

    def t(x: Value) -> Value:
        return b.emit("transpose", (x,), loc=loc)

    if prim == "matmul_bar_a":
        if ranks == [2, 2]:
            return matmul(g, t(c))  # g @ c.T
        if ranks == [2, 1]:
            return b.emit("outer", (g, c), loc=loc, hint=hint)
        if ranks == [1, 2]:
            return matmul(c, g)
        if ranks == [1, 1]:
            return b.emit("mul", (g, c), loc=loc, hint=hint)
        return None
    if ranks == [2, 2]:
        return matmul(t(a), g)  # a.T @ g
    if ranks == [2, 1]:
        return matmul(g, a)
    if ranks == [1, 2]:
        return b.emit("outer", (a, g), loc=loc, hint=hint)
    if ranks == [1, 1]:
        return b.emit("mul", (g, a), loc=loc, hint=hint)
    return None
