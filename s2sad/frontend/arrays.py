"""Lifting NumPy array code: array parameters, ``@``, reductions, shapes, indexing.

A mixin of :class:`~s2sad.frontend.lower.Lowerer`.  Shapes are not known at
compile time, only which values are arrays:

* A parameter annotated ``np.ndarray`` (or ``NDArray``) is an array.  So is a
  parameter that the body feeds, directly or through arithmetic, into an
  operation that needs an array (``@``, ``.T``, ``.shape``, ``np.sum``,
  slicing, …): the function is lowered again with it as one (as lists are).
  A parameter annotated ``float`` or ``int`` stays a number.
* ``x.shape`` is a :class:`Shape`; ``x.shape[k]``, ``n, d = x.shape`` and
  ``len(x)`` are the run-time sizes (ints), ``np.zeros(x.shape)`` is
  ``np.zeros_like``.
* Elementwise operations are the scalar primitives, applied to arrays.  The
  others are the primitives of :mod:`s2sad.primitives_numpy`.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from .. import primitives as P
from ..ir.core import Kind, Value, values_read


class RetryWithArray(Exception):
    """Parameters turned out to be arrays: lower again with them as arrays."""

    def __init__(self, names: set[str]) -> None:
        super().__init__(", ".join(sorted(names)))
        self.names = names


@dataclass(frozen=True)
class Shape:
    """``x.shape``: a tuple of run-time sizes of unknown length."""

    array: Value


# np.<name> (and np.linalg.<name>) that are not elementwise scalar primitives
ARRAY_FUNCTIONS = {
    "sum", "mean", "max", "min", "amax", "amin", "dot", "matmul", "outer", "inner", "trace",
    "transpose", "reshape", "ravel", "where", "clip", "zeros", "ones", "zeros_like",
    "ones_like", "eye", "identity", "arange", "array", "asarray", "linalg.norm", "prod",
    "expand_dims", "squeeze", "linalg.inv", "linalg.det", "linalg.solve",
}
_REDUCTIONS = {"sum": "np_sum", "mean": "np_mean", "max": "np_max", "min": "np_min",
               "amax": "np_max", "amin": "np_min", "prod": "np_prod"}
_LINALG = {"linalg.inv": 1, "linalg.det": 1, "linalg.solve": 2}  # np.linalg.<name>: operands
# ops whose operands are numbers (items, sizes), or whose array operand is the first
_SCALAR_OPERANDS = {"array_lit", "np_zeros", "np_ones", "eye", "arange", "dim", "ndim", "size"}
_FIRST_OPERAND = {"np_index", "reshape", "getitem"}
_METHODS = {"sum", "mean", "max", "min", "prod", "dot", "reshape", "ravel", "transpose",
            "flatten", "squeeze"}
# array functions s2sad knows but cannot differentiate yet: say so, and what to use
ARRAY_LATER = {
    "stack": "build the result with arithmetic on the pieces", "concatenate": "",
    "hstack": "", "vstack": "", "cumsum": "", "sort": "", "argmax": "", "argmin": "",
    "einsum": "use `@` and `np.sum`", "tensordot": "use `@`",
}


def annotation_kind(node: ast.expr | None) -> Kind | None:
    """The kind a parameter annotation declares (``None``: it says nothing)."""
    if node is None:
        return None
    text = ast.unparse(node).replace(" ", "")
    base = text.split("[")[0].split(".")[-1]
    if base in ("ndarray", "NDArray", "ArrayLike"):
        return Kind.ARRAY
    if base in ("list", "List", "tuple", "Tuple", "Sequence"):
        return Kind.LIST
    if base in ("float", "int"):
        return Kind.FLOAT
    return None


class ArrayMixin:
    params: set[Value]
    pinned: set[str]  # parameters annotated as numbers

    # -- which values are arrays -----------------------------------------------------------
    def params_behind(self, v: Value) -> set[Value]:
        """The parameters ``v`` is computed from (through arithmetic, branches and loops)."""
        seen = self.behind_seen  # values already walked: their parameters are arrays now
        found: set[Value] = set()
        stack = [v]
        while stack:
            u = stack.pop()
            if u in seen:
                continue
            seen.add(u)
            if u in self.params:
                found.add(u)
                continue
            op = self.b.defs.get(u)
            if op is not None and op.prim not in _SCALAR_OPERANDS:
                stack.extend(op.operands[:1] if op.prim in _FIRST_OPERAND else op.operands)
                for region in op.regions:
                    stack.extend(values_read(region))
            stack.extend(self.arg_sources.get(u, ()))
        return found

    def as_array(self, value: Any, node: ast.AST, ctx) -> Value:
        """``value`` where an array is needed: an array, or a number (NumPy broadcasts it).
        A parameter behind it that is not an array yet becomes one (lower again)."""
        if isinstance(value, Shape) or isinstance(value, tuple):
            raise self.unsupported(ctx.pf, node, "a tuple used as an array",
                                   hint="build an array with np.array([...])")
        if value.kind is Kind.ARRAY:
            return value
        # A parameter combined with an array only elementwise (`A @ x - b`) may stay a
        # float: NumPy broadcasts it, and reverse mode sums its adjoint to its run-time
        # shape (primitives_numpy.ShapeFacts never trusts such a value to be a scalar).
        names = {p.hint for p in self.params_behind(value)
                 if p.kind is not Kind.ARRAY and p.hint not in self.pinned}
        if names:
            raise RetryWithArray(names)
        if value.kind is Kind.LIST:
            raise self.unsupported(ctx.pf, node, "a list used as an array",
                                   why="s2sad keeps lists and arrays apart",
                                   hint="build an array with np.array([...]) of numbers")
        return value

    # -- operators and attributes ----------------------------------------------------------
    def matmul(self, left: Value, right: Value, node: ast.AST, ctx, hint, spelling="@"):
        a = self.as_array(left, node, ctx)
        b = self.as_array(right, node, ctx)
        return self.emit("matmul", [a, b], ctx, node, hint, spelling=spelling)

    def array_attribute(self, value: Any, node: ast.Attribute, ctx, hint) -> Any:
        """``x.T``, ``x.shape``, ``x.ndim``, ``x.size`` of a value."""
        attr = node.attr
        if attr not in ("T", "shape", "ndim", "size"):
            raise self.unsupported(ctx.pf, node, f"the attribute `.{attr}` is not supported",
                                   hint="use x.T, x.shape, x.ndim or a NumPy function")
        x = self.as_array(value, node.value, ctx)
        if attr == "T":
            return self.emit("transpose", [x], ctx, node, hint)
        if attr == "shape":
            return Shape(x)
        return self.emit(attr, [x], ctx, node, hint)  # ndim, size: run-time ints

    def shape_item(self, shape: Shape, index: Value, node: ast.AST, ctx, hint) -> Value:
        k = self.b.const_value(index)
        if not isinstance(k, int) or isinstance(k, bool):
            raise self.unsupported(ctx.pf, node, "`x.shape[...]` needs a constant index",
                                   hint="write x.shape[0], x.shape[1], ...")
        return self.emit("dim", [shape.array], ctx, node, hint, axis=k)

    def unpack_shape(self, shape: Shape, count: int, node: ast.AST, ctx) -> tuple:
        return tuple(self.emit("dim", [shape.array], ctx, node, None, axis=k)
                     for k in range(count))

    # -- indexing --------------------------------------------------------------------------
    def array_index(self, x: Value, node: ast.Subscript, ctx, hint) -> Value:
        """Basic indexing ``x[i]``, ``x[:, 0]``, ``x[1:3]``, ``x[None]``, ``x[..., -1]``."""
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        dynamic: list[Value] = []

        def operand(e: ast.expr | None) -> int | None:
            if e is None:
                return None
            v = self.value(e, ctx)
            c = self.b.const_value(v)
            integral = v.kind in (Kind.INT, Kind.BOOL) or (
                v.kind is Kind.FLOAT and v in self.params) or (
                isinstance(c, int) and not isinstance(c, bool))
            if not integral:
                raise self.unsupported(ctx.pf, e, "an array index must be an integer",
                                       why="indexing with arrays or floats is not supported",
                                       hint="index with ints and slices: x[i], x[:, 0]")
            dynamic.append(v)
            return len(dynamic) - 1

        template = []
        for item in items:
            if isinstance(item, ast.Slice):
                template.append(("slice", operand(item.lower), operand(item.upper),
                                 operand(item.step)))
            elif isinstance(item, ast.Constant) and item.value is None:
                template.append(("none",))
            elif isinstance(item, ast.Constant) and item.value is Ellipsis:
                template.append(("ellipsis",))
            elif (isinstance(item, ast.Attribute) and item.attr == "newaxis"):
                template.append(("none",))
            else:
                template.append(("int", operand(item)))
        return self.emit("np_index", [x, *dynamic], ctx, node, hint, index=tuple(template))

    # -- NumPy functions and array methods -------------------------------------------------
    def _keywords(self, node: ast.Call, ctx, allowed: tuple[str, ...], spelled: str):
        out: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg not in allowed:
                raise self.unsupported(ctx.pf, kw.value if kw.arg else node,
                                       f"the keyword `{kw.arg}` of `{spelled}` is not "
                                       "supported", hint=f"supported: {', '.join(allowed)}"
                                       if allowed else "pass the arguments by position")
            out[kw.arg] = kw.value
        return out

    def _static(self, node: ast.expr | None, ctx, what: str) -> Any:
        """A compile-time int, tuple of ints, bool or None (``axis=``, ``keepdims=``)."""
        if node is None:
            return None
        if isinstance(node, ast.Constant) and (node.value is None or isinstance(
                node.value, (bool, int))):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(
                node.operand, ast.Constant) and isinstance(node.operand.value, int):
            return -node.operand.value
        if isinstance(node, ast.Tuple):
            return tuple(self._static(e, ctx, what) for e in node.elts)
        raise self.unsupported(ctx.pf, node, f"`{what}` must be a constant here",
                               why="it decides the shape of the result, which s2sad must know "
                                   "when it compiles", hint=f"write {what}=0, {what}=(0, 1) …")

    def _reduce(self, prim: str, x: Value, axis_node, keep_node, node, ctx, hint) -> Value:
        axis = self._static(axis_node, ctx, "axis")
        keepdims = bool(self._static(keep_node, ctx, "keepdims"))
        attrs: dict[str, Any] = {}
        if axis is not None:
            attrs["axis"] = axis
        if keepdims:
            attrs["keepdims"] = True
        return self.emit(prim, [self.as_array(x, node, ctx)], ctx, node, hint, **attrs)

    def _reshaping(self, name: str, x: Value, axis_node, node, ctx, hint) -> Value:
        """``np.expand_dims(x, axis)``, ``np.squeeze(x, axis=None)``: compile-time axes."""
        axis = self._static(axis_node, ctx, "axis")
        if name == "expand_dims" and axis is None:
            raise self.unsupported(ctx.pf, node, "`np.expand_dims` needs an axis",
                                   hint="write np.expand_dims(x, 0) or x[None]")
        attrs = {} if axis is None else {"axis": axis}
        return self.emit(name, [x], ctx, node, hint, **attrs)

    def _dims(self, value: Any, node: ast.AST, ctx) -> list[Value]:
        items = value if isinstance(value, tuple) else (value,)
        for v in items:
            if not isinstance(v, Value) or v.kind is Kind.ARRAY or v.kind is Kind.LIST:
                raise self.unsupported(ctx.pf, node, "a shape must be ints or a tuple of ints",
                                       hint="np.zeros((n, d)), np.zeros(x.shape)")
        return list(items)

    def array_call(self, name: str, node: ast.Call, ctx, hint) -> Any:
        """``np.<name>(...)`` for the array functions."""
        spelled = f"np.{name}"
        if name in ARRAY_LATER:
            raise self.unsupported(ctx.pf, node, f"`{spelled}` is not supported yet",
                                   why="s2sad has no derivative rule for it yet",
                                   hint=ARRAY_LATER[name] or "write it with supported operations")
        args = node.args
        if name in _REDUCTIONS:
            kw = self._keywords(node, ctx, ("axis", "keepdims"), spelled)
            if not 1 <= len(args) <= 2:
                raise self.unsupported(ctx.pf, node, f"`{spelled}` takes an array (and axis)")
            axis = args[1] if len(args) == 2 else kw.get("axis")
            return self._reduce(_REDUCTIONS[name], self.value(args[0], ctx), axis,
                                kw.get("keepdims"), node, ctx, hint)
        if name == "linalg.norm":
            self._keywords(node, ctx, (), spelled)
            if len(args) != 1:
                raise self.unsupported(ctx.pf, node, "only `np.linalg.norm(x)` (the 2-norm or "
                                       "Frobenius norm) is supported",
                                       hint="write other norms with np.sum and np.abs")
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            sq = self.emit("np_sum", [self.emit("mul", [x, x], ctx, node)], ctx, node)
            return self.emit("sqrt", [sq], ctx, node, hint, lib=P.NUMPY)
        if name in ("expand_dims", "squeeze"):
            kw = self._keywords(node, ctx, ("axis",), spelled)
            if not 1 <= len(args) <= 2:
                raise self.unsupported(ctx.pf, node, f"`{spelled}` takes an array and an axis",
                                       hint=f"write {spelled}(x, 0) or {spelled}(x, (0, 1))")
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            return self._reshaping(name, x, args[1] if len(args) == 2 else kw.get("axis"),
                                   node, ctx, hint)
        self._keywords(node, ctx, (), spelled)
        if name in _LINALG:
            if len(args) != _LINALG[name]:
                raise self.unsupported(ctx.pf, node, f"`{spelled}` takes {_LINALG[name]} "
                                       f"argument(s), got {len(args)}",
                                       hint="np.linalg.inv(A), np.linalg.det(A), "
                                            "np.linalg.solve(A, b) for a vector or matrix b")
            operands = [self.as_array(self.value(a, ctx), node, ctx) for a in args]
            return self.emit(name.split(".")[1], operands, ctx, node, hint)
        if name in ("zeros", "ones"):
            self._count(node, ctx, spelled, 1)
            shape = self.expr(args[0], ctx)
            if isinstance(shape, Shape):
                return self.emit(f"np_{name}_like", [shape.array], ctx, node, hint)
            return self.emit(f"np_{name}", self._dims(shape, args[0], ctx), ctx, node, hint)
        if name in ("zeros_like", "ones_like"):
            self._count(node, ctx, spelled, 1)
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            return self.emit(f"np_{name}", [x], ctx, node, hint)
        if name in ("eye", "identity"):
            self._count(node, ctx, spelled, 1)
            return self.emit("eye", self._dims(self.expr(args[0], ctx), args[0], ctx), ctx,
                             node, hint)
        if name == "arange":
            if not 1 <= len(args) <= 3:
                raise self.unsupported(ctx.pf, node, "`np.arange` takes 1 to 3 arguments")
            return self.emit("arange", [self.value(a, ctx) for a in args], ctx, node, hint)
        if name in ("array", "asarray"):
            self._count(node, ctx, spelled, 1)
            if isinstance(args[0], (ast.List, ast.Tuple)):
                items = [self.value(e, ctx) for e in args[0].elts]
                if any(v.kind in (Kind.ARRAY, Kind.LIST) for v in items):
                    raise self.unsupported(ctx.pf, args[0], "`np.array` of arrays is not "
                                           "supported yet", hint="np.array([a, b, c]) of numbers")
                return self.emit("array_lit", items, ctx, node, hint)
            return self.as_array(self.value(args[0], ctx), node, ctx)
        if name in ("dot", "matmul", "outer", "inner"):
            self._count(node, ctx, spelled, 2)
            a, b = (self.value(e, ctx) for e in args)
            if name in ("outer", "inner"):
                return self.emit(name, [self.as_array(a, node, ctx),
                                           self.as_array(b, node, ctx)], ctx, node, hint)
            return self.matmul(a, b, node, ctx, hint, spelling=name)
        if name in ("trace", "transpose", "ravel"):
            self._count(node, ctx, spelled, 1)
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            return self.emit(name, [x], ctx, node, hint)
        if name == "reshape":
            self._count(node, ctx, spelled, 2)
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            return self.emit("reshape", [x, *self._dims(self.expr(args[1], ctx), args[1], ctx)],
                             ctx, node, hint)
        if name == "where":
            self._count(node, ctx, spelled, 3)
            c, a, b = (self.value(e, ctx) for e in args)
            if c.kind is not Kind.BOOL:
                c = self.emit("ne", [c, self.b.const(0)], ctx, node)
            return self.emit("np_where", [c, a, b], ctx, node, hint)
        if name == "clip":
            self._count(node, ctx, spelled, 3)
            x, lo, hi = (self.value(e, ctx) for e in args)
            low = self.emit("max2", [x, lo], ctx, node, None, lib=P.NUMPY)
            return self.emit("min2", [low, hi], ctx, node, hint, lib=P.NUMPY)
        raise self.unsupported(ctx.pf, node, f"`{spelled}` is not supported")  # unreachable

    def _count(self, node: ast.Call, ctx, spelled: str, n: int) -> None:
        if len(node.args) != n:
            raise self.unsupported(ctx.pf, node, f"`{spelled}` takes {n} argument(s) here, "
                                   f"got {len(node.args)}")

    def array_method(self, value: Any, node: ast.Call, ctx, hint) -> Any:
        """``x.sum(axis=0)``, ``x.mean()``, ``x.max()``, ``x.dot(y)``, ``x.reshape(n, 1)`` …"""
        method = node.func.attr
        spelled = f".{method}()"
        if method not in _METHODS:
            raise self.unsupported(ctx.pf, node.func, f"the method `{spelled}` is not "
                                   "supported", hint="use a NumPy function on the value")
        x = self.as_array(value, node.func.value, ctx)
        args = node.args
        if method in _REDUCTIONS:
            kw = self._keywords(node, ctx, ("axis", "keepdims"), spelled)
            if len(args) > 1:
                raise self.unsupported(ctx.pf, node, f"`{spelled}` takes at most an axis "
                                       "by position", hint="pass keepdims=... by keyword")
            axis = args[0] if args else kw.get("axis")
            return self._reduce(_REDUCTIONS[method], x, axis, kw.get("keepdims"), node, ctx,
                                hint)
        if method == "squeeze":
            kw = self._keywords(node, ctx, ("axis",), spelled)
            if len(args) > 1:
                raise self.unsupported(ctx.pf, node, "`.squeeze()` takes at most an axis",
                                       hint="write x.squeeze() or x.squeeze(0)")
            return self._reshaping("squeeze", x, args[0] if args else kw.get("axis"), node,
                                   ctx, hint)
        self._keywords(node, ctx, (), spelled)
        if method == "dot":
            self._count(node, ctx, spelled, 1)
            return self.matmul(x, self.value(args[0], ctx), node, ctx, hint, spelling="dot")
        if method in ("ravel", "flatten"):
            self._count(node, ctx, spelled, 0)
            return self.emit("ravel", [x], ctx, node, hint)
        if method == "transpose":
            self._count(node, ctx, spelled, 0)
            return self.emit("transpose", [x], ctx, node, hint)
        # reshape(n, m) or reshape((n, m))
        if len(args) == 1:
            dims = self._dims(self.expr(args[0], ctx), args[0], ctx)
        else:
            dims = self._dims(tuple(self.value(a, ctx) for a in args), node, ctx)
        return self.emit("reshape", [x, *dims], ctx, node, hint)
