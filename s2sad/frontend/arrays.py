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
* ``np.stack([a, b], axis=k)``, ``np.concatenate((a, b), axis=k)`` (the pieces
  written in the call, ``k`` a constant) and ``np.array([a, b])`` of arrays.
* ``h[t] = v``, ``h[i, :] = row``, ``h[1:5:2] = v``, ``h[i] += v`` give ``h`` a new
  value (``index_set``), as ``ys[i] = v`` does for lists.  Only an array the
  function created may be assigned into (``np.zeros(n)``, ``x.copy()``,
  ``np.array(x)``, the result of arithmetic): not an argument, nor a view of one,
  nor an array another name (``g = h``) or a view read later also sees, since
  there Python's in-place semantics and s2sad's values would differ.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from .. import library
from .. import primitives as P
from ..ir.core import Kind, Static, Value, values_read


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
    "expand_dims", "squeeze", "linalg.inv", "linalg.det", "linalg.solve", "stack",
    "concatenate", "copy", "shape", "size", "ndim",
}
_REDUCTIONS = {"sum": "np_sum", "mean": "np_mean", "max": "np_max", "min": "np_min",
               "amax": "np_max", "amin": "np_min", "prod": "np_prod"}
_LINALG = {"linalg.inv": 1, "linalg.det": 1, "linalg.solve": 2}  # np.linalg.<name>: operands
# ops whose operands are numbers (items, sizes), or whose array operand is the first
_SCALAR_OPERANDS = {"array_lit", "np_zeros", "np_ones", "eye", "arange", "dim", "ndim", "size"}
_FIRST_OPERAND = {"np_index", "reshape", "getitem"}
_TWO_OPERANDS = {"index_set"}  # the array and the value; the others are indices
_METHODS = {"sum", "mean", "max", "min", "prod", "dot", "reshape", "ravel", "transpose",
            "flatten", "squeeze", "copy"}
# what to write instead of an array attribute s2sad does not support
_ATTRIBUTE_HINTS = {"flat": "use `x.ravel()` (or `np.ravel(x)`)",
                    "real": "s2sad differentiates real arrays: use the array itself"}
# how the functions whose keywords s2sad does not take are called by position
_POSITIONAL = {"np.linalg.solve": "np.linalg.solve(A, b)", "np.linalg.inv": "np.linalg.inv(A)",
               "np.linalg.det": "np.linalg.det(A)", "np.where": "np.where(cond, a, b)",
               "np.clip": "np.clip(x, lo, hi)", "np.dot": "np.dot(a, b)",
               "np.outer": "np.outer(a, b)", "np.arange": "np.arange(start, stop, step)"}
# what to write instead of a list method s2sad does not support
_LIST_HINT = ("build a new list with `append` in a loop, or a comprehension: "
              "`ys = [v for v in xs if ...]`")
_LIST_METHODS = {
    "pop": "read the last item as `xs[-1]`, and build the shorter list you need with "
           "`append` in a loop: `ys = []; for i in range(len(xs) - 1): ys.append(xs[i])`",
    "extend": "append the items one by one: `for v in more: ys.append(v)`",
    "insert": _LIST_HINT, "remove": _LIST_HINT, "clear": "start a new list: `ys = []`",
    "reverse": "loop over the indices backwards: `for i in range(len(xs) - 1, -1, -1)`",
    "sort": "sort the values before calling the differentiated function",
    "index": "loop over the indices and compare", "count": "loop over the items and count",
}
# ops whose result may share memory with their array operand (a NumPy view): the
# function does not own such a result, so it may not assign into it
VIEWS = {"np_index", "transpose", "reshape", "ravel", "reshape_like", "select", "swapaxes",
         "expand_dims", "squeeze", "np_flip", "atleast", "np_diag", "astype", "np_axes"}
# array functions s2sad knows but cannot differentiate yet: say so, and what to use
ARRAY_LATER = {
    "dstack": "use np.stack([...], axis=-1) of 2-D pieces, or np.concatenate([...], axis=2) "
              "with an explicit axis",
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
    if base == "int":
        return Kind.INT
    if base == "float":
        return Kind.FLOAT
    return None


class ArrayMixin:
    params: set[Value]
    pinned: set[str]  # parameters annotated as numbers
    read_only: set[Value]  # arrays made read-only (x.setflags(write=False))

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
                stack.extend(op.operands[:1] if op.prim in _FIRST_OPERAND else
                             op.operands[:2] if op.prim in _TWO_OPERANDS else op.operands)
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
                                   hint=_ATTRIBUTE_HINTS.get(
                                       attr, "use x.T, x.shape, x.ndim, x.size or a NumPy "
                                             "function"))
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
        template, dynamic = self.index_template(node, ctx)
        if any(item[0] == "array" for item in template) or any(
                self._from_params(v) for v in dynamic):
            # x[idx] with idx from the arguments: it may be an int array that reads an
            # element twice, so the adjoint is never the in-place x_bar[idx] += g
            return self.emit("np_index", [x, *dynamic], ctx, node, hint, index=template,
                             gather=True)
        return self.emit("np_index", [x, *dynamic], ctx, node, hint, index=template)

    def _from_params(self, v: Value) -> bool:
        """Is ``v`` computed from the function's parameters (not only from constants,
        loop counters and sizes)?"""
        stack, seen = [v], set()
        while stack:
            u = stack.pop()
            if u in seen:
                continue
            seen.add(u)
            if u in self.params:
                return True
            op = self.b.defs.get(u)
            if op is not None and op.prim not in ("len", "dim", "shape_item", "ndim"):
                stack.extend(op.operands)
        return False

    def index_template(self, node: ast.Subscript, ctx) -> tuple[tuple, list[Value]]:
        """The index of ``x[...]`` as a template and its run-time ints (see
        :func:`s2sad.primitives_numpy.index_value`)."""
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        dynamic: list[Value] = []

        def operand(e: ast.expr | None) -> int | None:
            if e is None:
                return None
            v = self.need_int(self.value(e, ctx))
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
                got = self.expr(item, ctx)
                if isinstance(got, Value) and got.kind in (Kind.ARRAY, Kind.BOOL):
                    # x[idx], X[np.arange(n), labels], x[x > 0]: an int array or a mask
                    dynamic.append(got)
                    template.append(("array", len(dynamic) - 1))
                else:
                    template.append(("int", operand(item)))
        return tuple(template), dynamic

    # -- assignment into arrays --------------------------------------------------------------
    def owns(self, v: Any) -> bool:
        """Did the function create array (or list) ``v``, so that it may assign into it?
        Not a parameter, nor a view of another array (``x[1:]``, ``x.T``), nor one made
        read-only (``x.setflags(write=False)``)."""
        if v in self.read_only:
            return False
        if v in self.owned:
            return True
        if not isinstance(v, Value) or v.kind is not Kind.ARRAY or v in self.params:
            return False
        op = self.b.defs.get(v)
        return (op is not None and not op.regions and op.prim not in VIEWS
                and op.prim != "env_array")  # an array of the environment is not its own

    def argument_assignment(self, param: Value, name: str, target: ast.AST, ctx):
        if name != param.hint:  # h = x, h = x * 1.0: h is the argument's value
            x = param.hint
            return self.unsupported(
                ctx.pf, target, f"item assignment into the argument `{x}` through `{name}`, "
                "which is the same array to s2sad",
                why=f"s2sad treats arrays as values: `{name} = {x}`, and arithmetic that leaves "
                    f"`{x}` unchanged (`{x} * 1.0`, `{x} / 1.0`, `{x} - 0.0`), give `{name}` the "
                    "caller's array, and assigning into it would change the caller's data",
                hint=f"copy it explicitly: `{name} = {x}.copy()` (or `np.array({x})`; for a "
                     f"list, `list({x})`), then `{name}[...] = ...`")
        copy = "h"
        return self.unsupported(
            ctx.pf, target, f"item assignment into the argument `{param.hint}` (an array or "
            "list the function did not create)", why="it would change the caller's data, and "
            "a derivative function must not change its inputs",
            hint=f"assign into a copy: `{copy} = {param.hint}.copy()` (or "
                 f"`np.array({param.hint})`; for a list, `list({param.hint})`), then "
                 f"`{copy}[...] = ...`")

    def _view_of(self, v: Any, same: list[Value]) -> bool:
        """May ``v`` be a view of one of ``same`` (``x[1:]``, ``x.T``, a reshape, or ``x[i]``
        of an array of more than one dimension)?"""
        while isinstance(v, Value):
            op = self.b.defs.get(v)
            if op is None or op.prim not in VIEWS or op.prim == "select":
                return False
            v = op.operands[0]
            if any(v is u for u in same):
                return True
        return False

    def _note_views(self, name: str, same: list[Value], result: Value, target, ctx) -> None:
        """Remember the names that may hold a view of the array assigned into: reading
        one after the assignment is an error (:meth:`check_views`)."""
        loops = self.b.open_blocks[1:] if ctx.in_loop else []
        for n, v in ctx.env.items():
            if n != name and self._view_of(v, same):
                self.view_checks.append((v, n, name, result, loops, ctx.pf.loc(target)))

    def check_views(self, fn) -> None:
        """A view of an array taken before an assignment into the array and read after it
        would see the change in Python, but not in s2sad, which treats arrays as values:
        say so (located at the assignment) rather than compute something else."""
        from ..errors import UnsupportedError
        from ..ir.core import walk_ops

        for v, view, name, result, loops, loc in self.view_checks:
            late = v in fn.results or any(
                (v in op.operands or any(v in region.yields for region in op.regions))
                and min(r.id for r in op.results) > result.id
                for op in walk_ops(fn.body) if op.results)
            for block in loops:  # read again on the loop's next iteration
                inner = set(block.args) | {r for op in walk_ops(block) for r in op.results}
                late = late or (v not in inner and (v in block.yields or any(
                    v in op.operands or any(v in r.yields for r in op.regions)
                    for op in walk_ops(block))))
            if late:
                raise UnsupportedError(
                    f"item assignment into `{name}` while `{view}` may be a view of it, "
                    "read after the assignment", loc,
                    why="in Python the view would see the change (an index, slice, `.T` or "
                        "reshape of an array can share its memory); s2sad treats arrays as "
                        "values and would not",
                    hint=f"copy the view where it is taken: `{view} = ....copy()`, or index "
                         f"`{name}` again after the assignment")

    def array_assignment(self, target: ast.Subscript, x: Value, value: Any, ctx,
                         aug: ast.operator | None = None, node: ast.AST | None = None) -> None:
        """``h[t] = v``, ``h[i, :] = row``, ``h[1:3] = v``, ``h[i] += v`` on an array the
        function created: a new array value (``index_set``), bound to ``h``."""
        name = target.value.id
        self._check_assignable(name, x, target, ctx)
        template, dynamic = self.index_template(target, ctx)
        for item in template:
            if item[0] == "array" and dynamic[item[1]].kind is Kind.ARRAY:
                raise self.unsupported(
                    ctx.pf, target.slice, "assigning through an array of indices is not "
                    "supported", why="an index repeated in it is written twice, and only the "
                    "last write counts: which values reach the result depends on the order",
                    hint="assign through a mask (`h[x > 0] = 0.0`), use np.where, or add "
                         "with np.add.at on a copy outside the differentiated function")
        if any(self._from_params(v) for v in dynamic):
            # h[k] = v with k from the arguments: an int array passed for k that repeats an
            # index would make the last write win, which the derivative does not follow
            repeats = self.emit("index_repeats", [x, *dynamic], ctx, target, index=template)
            self.b.emit("raise_if", (repeats,), attrs=(
                ("exc", "ValueError"), ("message", "an index array that repeats an index "
                                                   "writes an element twice, which the "
                                                   "derivative does not support")),
                loc=ctx.pf.loc(target))
        if aug is not None:
            old = self.emit("np_index", [x, *dynamic], ctx, target, index=template)
            value = self._binop(aug, old, value, node or target, ctx)
        if isinstance(value, tuple) or value.kind is Kind.LIST:
            raise self.unsupported(ctx.pf, node or target, "only a number or an array can be "
                                   "assigned into an array", hint="h[i] = v, h[i, :] = row")
        result = self.emit("index_set", [x, value, *dynamic], ctx, node or target,
                           self.hint_of(name), index=template)
        self._note_views(name, self._same_array(x), result, target, ctx)
        ctx.env[name] = self.own(result)

    def _same_array(self, x: Value) -> list[Value]:
        """The values that hold the same array as ``x``: a loop's value and what came in."""
        same = [x]
        while self.arg_sources.get(same[-1]) and self.arg_sources[same[-1]][0] not in same:
            same.append(self.arg_sources[same[-1]][0])
        return same

    def _check_assignable(self, name: str, x: Value, target: ast.Subscript, ctx) -> None:
        same = self._same_array(x)
        param = next((v for v in same if v in self.params), None)
        if param is not None:
            raise self.argument_assignment(param, name, target, ctx)
        if any(v in self.borrowed for v in same):
            raise self.unsupported(
                ctx.pf, target, f"item assignment into `{name}`, an array the caller passed in",
                why="it would change the caller's array (s2sad treats arrays as values)",
                hint=f"assign into a copy: `{name} = {name}.copy()`, and return it")
        if not self.owns(x):
            raise self.unsupported(
                ctx.pf, target, f"item assignment into `{name}`, an array the function did not "
                "create", why="it may be an argument or a view of one (`x[1:]`, `x.T`), "
                "which would change the caller's data",
                hint=f"assign into a copy: `{name} = {name}.copy()`, or build it with "
                     "np.zeros(...)")
        others = sorted(n for n, v in ctx.env.items()
                        if n != name and any(v is u for u in same)
                        and n in self.shared.get(v, ()))
        if others:
            raise self.unsupported(
                ctx.pf, target, f"item assignment into `{name}`, which is the same array as "
                f"`{others[0]}`", why="in Python both names would see the change; s2sad "
                "treats arrays as values and would not",
                hint=f"copy it: `{name} = {others[0]}.copy()`")

    # -- NumPy functions and array methods -------------------------------------------------
    def _keywords(self, node: ast.Call, ctx, allowed: tuple[str, ...], spelled: str):
        out: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg == "dtype" and self._float64(kw.value, ctx):
                continue  # dtype=float: what s2sad computes in anyway
            if (kw.arg == "copy" and spelled.endswith(("array", "asarray"))
                    and isinstance(kw.value, ast.Constant) and kw.value.value is True):
                continue  # np.array(x, copy=True): a new array, as np.array(x) is here
            if kw.arg not in allowed:
                raise self.unsupported(ctx.pf, kw.value if kw.arg else node,
                                       f"the keyword `{kw.arg}` of `{spelled}` is not "
                                       "supported", hint=f"supported: {', '.join(allowed)}"
                                       if allowed else "pass the arguments by position: "
                                       f"{_POSITIONAL.get(spelled, f'{spelled}(...)')}")
            out[kw.arg] = kw.value
        return out

    def _float64(self, node: ast.expr, ctx) -> bool:
        """Does ``node`` name float64 (``float``, ``np.float64``, ``np.double``, ``"float"``,
        ``"float64"``, ``"f8"``)?"""
        from .resolve import BuiltinRef, ModuleRef

        if isinstance(node, ast.Constant):
            return node.value in ("float", "float64", "f8", "<f8", "double", "d")
        if isinstance(node, ast.Name) and node.id not in ctx.env:
            return ctx.pf.resolver.lookup(node.id) == BuiltinRef("float")
        if (isinstance(node, ast.Attribute) and node.attr in ("float64", "double")
                and isinstance(node.value, ast.Name) and node.value.id not in ctx.env):
            got = ctx.pf.resolver.lookup(node.value.id)
            return isinstance(got, ModuleRef) and got.lib == P.NUMPY and not got.sub
        return False

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
        if isinstance(node, ast.Name) and node.id not in ctx.env:  # a module or closure int
            from .resolve import ConstRef, DataRef

            got = ctx.pf.resolver.lookup(node.id)
            if isinstance(got, ConstRef) and isinstance(got.value, int):
                return got.value
            if isinstance(got, DataRef) and all(type(v) is int for v in got.value):
                return tuple(got.value)
            scope = getattr(ctx.pf.resolver, "scope", {})
            if node.id in scope and scope[node.id] is None:
                return None
        if isinstance(node, ast.Name) and node.id in ctx.env:  # axis=axis of a helper
            got = ctx.env[node.id]
            if isinstance(got, Value) and self.b.is_const(got) and isinstance(
                    self.b.const_value(got), (bool, int)):
                return self.b.const_value(got)
            if isinstance(got, Static) and got.value is None:
                return None
            if isinstance(got, tuple) and all(isinstance(v, Value) and self.b.is_const(v)
                                              for v in got):
                return tuple(self.b.const_value(v) for v in got)
        raise self.unsupported(ctx.pf, node, f"`{what}` must be a constant here",
                               why="it decides the shape of the result, which s2sad must know "
                                   "when it compiles", hint=f"write {what}=0, {what}=(0, 1) …")

    def _norm_order(self, node: ast.expr | None, ctx) -> Any:
        """The ``ord`` of np.linalg.norm: None, "fro", or a nonzero number (np.inf too)."""
        if node is None:
            return None
        if isinstance(node, ast.Constant) and node.value in (None, "fro"):
            return node.value
        value = self.b.const_value(self.value(node, ctx))
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1 or (
                value == float("-inf")):
            return value
        raise self.unsupported(ctx.pf, node, "this `ord` of `np.linalg.norm` is not supported",
                               why="s2sad has the Frobenius norm and the vector p-norms "
                                   "(p >= 1, np.inf, -np.inf)",
                               hint='ord="fro", ord=2, ord=1 or ord=np.inf with an int axis')

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
            self.need_int(v)
        return list(items)

    def array_call(self, name: str, node: ast.Call, ctx, hint) -> Any:
        """``np.<name>(...)`` for the array functions."""
        spelled = f"np.{name}"
        if name in ARRAY_LATER:
            raise self.unsupported(ctx.pf, node, f"`{spelled}` is not supported yet",
                                   why="s2sad has no derivative rule for it yet",
                                   hint=ARRAY_LATER[name] or "write it with supported operations")
        args = node.args
        if name in ("shape", "size", "ndim"):  # np.shape(x): x.shape, a run-time tuple
            if len(args) != 1 or node.keywords:
                raise self.unsupported(ctx.pf, node, f"`{spelled}` takes one array",
                                       hint=f"write {spelled}(x)")
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            return Shape(x) if name == "shape" else self.emit(name, [x], ctx, node, hint)
        if name in _REDUCTIONS:
            kw = self._keywords(node, ctx, ("axis", "keepdims"), spelled)
            if not 1 <= len(args) <= 2:
                raise self.unsupported(ctx.pf, node, f"`{spelled}` takes an array (and axis)")
            axis = args[1] if len(args) == 2 else kw.get("axis")
            if isinstance(args[0], (ast.List, ast.Tuple)):  # np.sum([a, b]): of np.array([a, b])
                x = self.array_call("array", ast.copy_location(ast.Call(
                    func=node.func, args=[args[0]], keywords=[]), args[0]), ctx, None)
            else:
                x = self.value(args[0], ctx)
            return self._reduce(_REDUCTIONS[name], x, axis, kw.get("keepdims"), node, ctx, hint)
        if name == "linalg.norm":
            # the 2-norm (Frobenius for a matrix), of the whole array or along `axis`:
            # np.sqrt(np.sum(x * x, axis=axis, keepdims=keepdims)); other vector norms
            # (ord=1, np.inf, -np.inf, p) along an int axis, from np.abs
            kw = self._keywords(node, ctx, ("axis", "keepdims", "ord"), spelled)
            if not 1 <= len(args) <= 3:
                raise self.unsupported(ctx.pf, node, "`np.linalg.norm` takes x, ord, axis")
            ord_node = args[1] if len(args) > 1 else kw.get("ord")
            axis_node = args[2] if len(args) > 2 else kw.get("axis")
            order = self._norm_order(ord_node, ctx)
            axis = self._static(axis_node, ctx, "axis")
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            if order in (None, "fro") or (order == 2 and isinstance(axis, int)):
                sq = self._reduce("np_sum", self.emit("mul", [x, x], ctx, node), axis_node,
                                  kw.get("keepdims"), node, ctx, None)
                return self.emit("sqrt", [sq], ctx, node, hint, lib=P.NUMPY)
            if not isinstance(axis, int) or isinstance(axis, bool):
                raise self.unsupported(ctx.pf, ord_node, f"`np.linalg.norm` with ord={order!r} "
                                       "needs an int axis", why="without one, the order means "
                                       "a matrix norm for a matrix (the largest singular value "
                                       "for 2, column sums for 1), which s2sad does not have",
                                       hint="give the axis of the vectors: np.linalg.norm(x, "
                                            f"ord={order!r}, axis=-1)")
            a = self.emit("abs", [x], ctx, node, lib=P.NUMPY)
            if order in (float("inf"), float("-inf")):
                prim = "np_max" if order > 0 else "np_min"
                return self._reduce(prim, a, axis_node, kw.get("keepdims"), node, ctx, hint)
            if order == 1:
                return self._reduce("np_sum", a, axis_node, kw.get("keepdims"), node, ctx, hint)
            powered = self.emit("powc", [a], ctx, node, exponent=order)
            total = self._reduce("np_sum", powered, axis_node, kw.get("keepdims"), node, ctx,
                                 None)
            return self.emit("powc", [total], ctx, node, hint, exponent=1.0 / order)
        if name in ("expand_dims", "squeeze"):
            kw = self._keywords(node, ctx, ("axis",), spelled)
            if not 1 <= len(args) <= 2:
                raise self.unsupported(ctx.pf, node, f"`{spelled}` takes an array and an axis",
                                       hint=f"write {spelled}(x, 0) or {spelled}(x, (0, 1))")
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            return self._reshaping(name, x, args[1] if len(args) == 2 else kw.get("axis"),
                                   node, ctx, hint)
        if name in ("stack", "concatenate"):
            kw = self._keywords(node, ctx, ("axis",), spelled)
            if not 1 <= len(args) <= 2:
                raise self.unsupported(ctx.pf, node, f"`{spelled}` takes a list of arrays "
                                       "(and axis)")
            axis = self._static(args[1] if len(args) == 2 else kw.get("axis"), ctx, "axis")
            return self.pieces(name, args[0], 0 if axis is None else axis, node, ctx, hint)
        self._keywords(node, ctx, (), spelled)
        if name in _LINALG:
            if len(args) != _LINALG[name]:
                raise self.unsupported(ctx.pf, node, f"`{spelled}` takes {_LINALG[name]} "
                                       f"argument(s), got {len(args)}",
                                       hint="np.linalg.inv(A), np.linalg.det(A), "
                                            "np.linalg.solve(A, b) for a vector or matrix b")
            operands = [self.as_array(self.value(a, ctx), node, ctx) for a in args]
            return self.emit(name.split(".")[1], operands, ctx, node, hint)
        if name == "copy":
            self._count(node, ctx, spelled, 1)
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            return self.own(self.emit("np_copy", [x], ctx, node, hint))
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
                if any(v.kind is Kind.LIST for v in items):
                    raise self.unsupported(ctx.pf, args[0], "`np.array` of lists is not "
                                           "supported", hint="np.array([a, b, c]) of numbers "
                                           "or of arrays of one shape")
                if any(v.kind is Kind.ARRAY for v in items):  # np.stack(items, axis=0)
                    return self.emit("np_stack", items, ctx, node, hint, axis=0)
                return self.emit("array_lit", items, ctx, node, hint)
            got = self.value(args[0], ctx)
            if got.kind is Kind.LIST and got not in self.params:  # a list built at run time
                return self.joined_list(name, got, None, node, ctx, hint)
            x = self.as_array(got, node, ctx)
            if name == "array" and x.kind is Kind.ARRAY:  # a copy, which the function owns
                return self.own(self.emit("np_copy", [x], ctx, node, hint))
            return x
        if name in ("dot", "matmul", "outer", "inner"):
            self._count(node, ctx, spelled, 2)
            a, b = (self.value(e, ctx) for e in args)
            if name in ("outer", "inner"):
                return self.emit(name, [self.as_array(a, node, ctx),
                                           self.as_array(b, node, ctx)], ctx, node, hint)
            return self.matmul(a, b, node, ctx, hint, spelling=name)
        if name == "transpose" and len(args) == 2:  # np.transpose(x, axes)
            axes = self._static(args[1], ctx, "axes")
            if not isinstance(axes, tuple):
                raise self.unsupported(ctx.pf, args[1], "the axes of `np.transpose` must be a "
                                       "tuple of ints", hint="np.transpose(x, (1, 0, 2))")
            x = self.as_array(self.value(args[0], ctx), node, ctx)
            return self.emit("np_axes", [x], ctx, node, hint, how="transpose", a=axes)
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

    def pieces(self, name: str, seq: ast.expr, axis: int, node: ast.Call, ctx, hint) -> Value:
        """``np.stack(seq, axis)`` / ``np.concatenate(seq, axis)`` of a list or tuple written
        in the call."""
        spelled = f"np.{name}"
        if isinstance(seq, (ast.Name, ast.ListComp)):  # a list built at run time
            got = self.expr(seq, ctx)
            if isinstance(got, Value) and got.kind is Kind.LIST:
                return self.joined_list(name, got, axis, node, ctx, hint)
        if not isinstance(seq, (ast.List, ast.Tuple)) or not seq.elts or any(
                isinstance(e, ast.Starred) for e in seq.elts):
            raise self.unsupported(ctx.pf, seq, f"`{spelled}` needs a list of arrays written "
                                   "in the call", why="s2sad must know the number of pieces "
                                   "when it compiles", hint=f"{spelled}([a, b, c], axis=0)")
        if not isinstance(axis, int) or isinstance(axis, bool):
            raise self.unsupported(ctx.pf, node, f"the axis of `{spelled}` must be one int",
                                   hint=f"{spelled}([a, b], axis=0)")
        items = []
        for e in seq.elts:
            v = self.value(e, ctx)
            if v.kind is Kind.LIST:
                raise self.unsupported(ctx.pf, e, f"a list inside `{spelled}`",
                                       hint="pass arrays (or numbers, for np.stack)")
            items.append(self.as_array(v, e, ctx) if name == "concatenate" else v)
        return self.emit(f"np_{name}", items, ctx, node, hint, axis=axis)

    def _count(self, node: ast.Call, ctx, spelled: str, n: int) -> None:
        if len(node.args) != n:
            raise self.unsupported(ctx.pf, node, f"`{spelled}` takes {n} argument(s) here, "
                                   f"got {len(node.args)}")

    def array_method(self, value: Any, node: ast.Call, ctx, hint) -> Any:
        """``x.sum(axis=0)``, ``x.mean()``, ``x.max()``, ``x.dot(y)``, ``x.reshape(n, 1)`` …"""
        method = node.func.attr
        spelled = f".{method}()"
        if method in ("all", "any") and not node.args and not node.keywords:
            return self.emit(f"np_{method}", [value], ctx, node, hint, lib=P.NUMPY)
        if method in library.METHODS and not (isinstance(value, Value)
                                              and value.kind is Kind.LIST):
            # x.var(), x.cumsum(axis=0), x.astype(np.float32): the library layer's entry
            return library.call(self, library.METHODS[method], node, ctx, hint, first=value)
        if method not in _METHODS:
            if isinstance(value, Value) and value.kind is Kind.LIST or method in _LIST_METHODS:
                raise self.unsupported(ctx.pf, node.func, f"the list method `{spelled}` is not "
                                       "supported", why="s2sad's lists support `append`, "
                                       "indexing, `len`, item assignment and loops",
                                       hint=_LIST_METHODS.get(method) or _LIST_HINT)
            methods = sorted(_METHODS | set(library.METHODS))
            raise self.unsupported(ctx.pf, node.func, f"the method `{spelled}` is not "
                                   "supported", hint="supported array methods: "
                                   f"{', '.join(f'.{m}()' for m in methods)}; or a "
                                   "NumPy function s2sad supports")
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
        if method == "copy":
            self._count(node, ctx, spelled, 0)
            return self.own(self.emit("np_copy", [x], ctx, node, hint))
        if method in ("ravel", "flatten"):
            self._count(node, ctx, spelled, 0)
            return self.emit("ravel", [x], ctx, node, hint)
        if method == "transpose":
            if args:  # x.transpose(1, 0, 2) or x.transpose((1, 0, 2))
                axes = self._static(args[0] if len(args) == 1 else ast.Tuple(
                    elts=list(args), ctx=ast.Load()), ctx, "axes")
                if not isinstance(axes, tuple):
                    raise self.unsupported(ctx.pf, node, "the axes of `.transpose()` must be "
                                           "ints", hint="x.transpose(1, 0, 2)")
                return self.emit("np_axes", [x], ctx, node, hint, how="transpose", a=axes)
            return self.emit("transpose", [x], ctx, node, hint)
        # reshape(n, m) or reshape((n, m))
        if len(args) == 1:
            dims = self._dims(self.expr(args[0], ctx), args[0], ctx)
        else:
            dims = self._dims(tuple(self.value(a, ctx) for a in args), node, ctx)
        return self.emit("reshape", [x, *dims], ctx, node, hint)
