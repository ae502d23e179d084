"""The primitive table's NumPy array entries, with their hand-written AD rules.

Elementwise functions (``np.sin``, ``+``, ``np.maximum`` …) are the scalar
primitives of :mod:`s2sad.primitives` applied to arrays: their partials are the
same, NumPy broadcasts them, and reverse mode sums an adjoint back to its
operand's shape (``unbroadcast``).  The primitives here are the ones that are
*not* elementwise — reductions, matrix products, linear algebra (``inv``,
``det``, ``solve``), reshaping, indexing, constructors — so, as DESIGN §3 says,
they carry hand-written rules:

* ``jvp(b, op, operands, out, tangents)`` → the tangent of the result (``None``:
  zero), given the tangents of the operands (``None``: zero);
* ``vjp(b, op, operands, out, ybar)`` → one adjoint contribution per operand
  (``None``: zero).

Shapes are known only at run time, so every rule is shape-generic; where a rule
needs a case analysis on shapes it calls a helper of :mod:`s2sad.runtime`, which
code generation copies into the generated module.

Attributes are compile-time facts: ``axis`` (``None``, an int or a tuple),
``keepdims``, the spelling of a matrix product, and the shape of an index.

Arrays are values in the IR.  ``np.stack`` / ``np.concatenate`` take their pieces
as operands (``axis`` an attribute); ``x.copy()`` is ``np_copy``; an assignment
``h[index] = v`` is ``index_set(h, v, *ints, index=template)`` (the template of
``np_index``), whose result is a new array: its tangent is ``index_set(ḣ, v̇)``,
its adjoint zeroes the region of ``ȳ`` for ``h`` and gives ``v`` that region summed
to v's shape.  Reverse mode adds an item's adjoint into an adjoint array with
``index_add`` (``x_bar[i] += g``).  Code generation writes both in place when
nothing else can see the old array, and on a copy otherwise.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from . import runtime
from .errors import DifferentiationError
from .ir.core import Kind, Static, walk_ops

_A, _F, _I = Kind.ARRAY, Kind.FLOAT, Kind.INT


def _reduce_kind(kinds, attrs) -> Kind:
    return _F if attrs.get("axis") is None and not attrs.get("keepdims") else _A


def _array(kinds, attrs) -> Kind:
    return _A


def _int(kinds, attrs) -> Kind:
    return _I


def _like_second(kinds, attrs) -> Kind:
    return kinds[1]


def _axis_attrs(op) -> dict[str, Any]:
    attrs = dict(op.attrs)
    return {k: attrs[k] for k in ("axis", "keepdims") if k in attrs}


def _helper_eval(name: str, **fixed: Any) -> Callable[..., Any]:
    return lambda lib, *args, **attrs: runtime.function(name)(*args, **{**attrs, **fixed})


def index_value(template: tuple, dynamic: tuple) -> Any:
    """The Python index that ``template`` describes, with the run-time ints filled in.

    Items: ``("int", k)`` (operand k), ``("array", k)`` (operand k, an int array or a
    mask: a gather), ``("slice", lo, hi, step)`` (each an operand position or ``None``),
    ``("none",)`` (``np.newaxis``), ``("ellipsis",)``.
    """
    def get(k):
        return None if k is None else dynamic[k]

    items = []
    for item in template:
        if item[0] == "int":
            items.append(int(get(item[1])))
        elif item[0] == "array":
            items.append(np.asarray(get(item[1])))
        elif item[0] == "slice":
            items.append(slice(get(item[1]), get(item[2]), get(item[3])))
        elif item[0] == "none":
            items.append(None)
        else:
            items.append(Ellipsis)
    return items[0] if len(items) == 1 else tuple(items)


def _index_eval(lib, x, *dynamic, index):
    return np.asarray(x)[index_value(index, dynamic)]


def _index_bar_eval(lib, g, x, *dynamic, index):
    return runtime.function("_index_bar")(g, x, index_value(index, dynamic))


def _draw_eval(lib, *args, method, module, layout, keywords):
    from .frontend.draws import draw_arguments

    source = np.random if module else args[0]
    positional, named = draw_arguments(list(args if module else args[1:]),
                                       {"layout": layout, "keywords": keywords})
    return getattr(source, method)(*positional, **dict(named))


def _draw_refused(op) -> DifferentiationError:
    return DifferentiationError(
        f"the random draw `{op.attr('method')}` has parameters that depend on the "
        "differentiated arguments", op.loc,
        why="s2sad differentiates a draw only through the values it is combined with",
        hint="reparameterise: `mu + sigma * rng.standard_normal(size)` instead of "
             "`rng.normal(mu, sigma, size)`")


def _draw_jvp(b, op, operands, out, tangents):
    if any(t is not None for t in tangents):
        raise _draw_refused(op)
    return None


def _draw_vjp(b, op, operands, out, ybar):
    raise _draw_refused(op)


def _index_like_eval(lib, x, *dynamic, index, **_):
    return runtime.function("_index_like")(x, index_value(index, dynamic))


def _index_repeats_eval(lib, x, *dynamic, index):
    return runtime.function("_index_repeats")(x, index_value(index, dynamic))


def _index_set_eval(lib, x, v, *dynamic, index):
    out = np.array(x, dtype=float)
    out[index_value(index, dynamic)] = v
    return out


def _index_add_eval(lib, x, g, *dynamic, index):
    out = np.array(x, dtype=float)
    out[index_value(index, dynamic)] += g
    return out


def along(axis: int, item: tuple) -> tuple:
    """The index template that applies ``item`` along ``axis``: ``[k]``, ``[:, k]``,
    ``[..., k]`` (a negative axis counts from the end, after an ellipsis)."""
    whole = ("slice", None, None, None)
    if axis >= 0:
        return (whole,) * axis + (item,)
    return (("ellipsis",), item) + (whole,) * (-axis - 1)


# -- rules -------------------------------------------------------------------------------------

def _linear_jvp(b, op, operands, out, tangents):
    """Linear in the first operand, the others (ints, shapes) fixed: the op on the tangent."""
    if tangents[0] is None:
        return None
    return b.emit(op.prim, (tangents[0], *operands[1:]), attrs=op.attrs, loc=op.loc)


def _lse_vjp(b, op, operands, out, ybar):
    """z̄ = e · (ȳ / s): one division, one pass over the array."""
    _, z, m, e, s = operands
    return [None, b.emit("mul", (e, b.emit("div", (ybar, s), loc=op.loc)), loc=op.loc),
            None, None, None]


def _lse_jvp(b, op, operands, out, tangents):
    """ẏ = sum(e · ż) / s; m, e and s carry no derivative of their own."""
    _, z, m, e, s = operands
    if tangents[1] is None:
        return None
    return b.emit("div", (b.emit("np_sum", (b.emit("mul", (e, tangents[1]), loc=op.loc),),
                                 loc=op.loc), s), loc=op.loc)


def _full(op) -> bool:
    """A reduction over every element, to a scalar."""
    return op.attr("axis") is None and not op.attr("keepdims")


def _sum_vjp(b, op, operands, out, ybar):
    if _full(op):  # every element gets ybar: a scalar, NumPy broadcasts it where it goes
        return [ybar]
    like = ShapeFacts.of(b).root(operands[0])
    return [b.emit("sum_bar", (ybar, like), attrs=_axis_attrs(op), loc=op.loc)]


def _mean_vjp(b, op, operands, out, ybar):
    facts = ShapeFacts.of(b)
    if _full(op):
        return [b.emit("div", (ybar, facts.size(operands[0], op.loc)), loc=op.loc)]
    like = facts.root(operands[0])
    return [b.emit("mean_bar", (ybar, like), attrs=_axis_attrs(op), loc=op.loc)]


def _extreme_jvp(b, op, operands, out, tangents):
    if tangents[0] is None:
        return None
    attrs = _axis_attrs(op)
    mask = b.emit("extreme_mask", (operands[0], out), attrs=attrs, loc=op.loc)
    return b.emit("np_sum", (b.emit("mul", (mask, tangents[0]), loc=op.loc),), attrs=attrs,
                  loc=op.loc)


def _extreme_vjp(b, op, operands, out, ybar):
    attrs = _axis_attrs(op)
    mask = b.emit("extreme_mask", (operands[0], out), attrs=attrs, loc=op.loc)
    if _full(op):
        return [b.emit("mul", (mask, ybar), loc=op.loc)]
    spread = b.emit("sum_bar", (ybar, operands[0]), attrs=attrs, loc=op.loc)
    return [b.emit("mul", (mask, spread), loc=op.loc)]


def _bilinear_jvp(b, op, operands, out, tangents):
    """``d(a ∘ b) = da ∘ b + a ∘ db`` for a product ``∘`` (matmul, outer)."""
    terms = []
    if tangents[0] is not None:
        terms.append(b.emit(op.prim, (tangents[0], operands[1]), attrs=op.attrs, loc=op.loc))
    if tangents[1] is not None:
        terms.append(b.emit(op.prim, (operands[0], tangents[1]), attrs=op.attrs, loc=op.loc))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else b.emit("add", tuple(terms), loc=op.loc)


def _matmul_vjp(b, op, operands, out, ybar):
    a, c = operands
    facts = ShapeFacts.of(b)
    if facts.ranks.get(a) == 1 and facts.ranks.get(c) == 1:  # a dot product: as a person
        return [b.emit("mul", (ybar, c), loc=op.loc), b.emit("mul", (ybar, a), loc=op.loc)]
    return [b.emit("matmul_bar_a", (ybar, a, c), loc=op.loc),
            b.emit("matmul_bar_b", (ybar, a, c), loc=op.loc)]


def _inner_vjp(b, op, operands, out, ybar):
    a, c = operands
    return [b.emit("inner_bar_a", (ybar, a, c), loc=op.loc),
            b.emit("inner_bar_b", (ybar, a, c), loc=op.loc)]


def _outer_vjp(b, op, operands, out, ybar):
    a, c = operands
    a_bar = b.emit("matmul", (ybar, b.emit("ravel", (c,), loc=op.loc)), attrs={"spelling": "@"},
                   loc=op.loc)
    c_bar = b.emit("matmul", (b.emit("ravel", (a,), loc=op.loc), ybar), attrs={"spelling": "@"},
                   loc=op.loc)
    return [b.emit("reshape_like", (a_bar, a), loc=op.loc),
            b.emit("reshape_like", (c_bar, c), loc=op.loc)]


def _broadcast_like_vjp(b, op, operands, out, ybar):
    """The tangent broadcast to a shape: its adjoint is summed back (``_sum_to``)."""
    return [b.emit("sum_to", (ybar, *operands), loc=op.loc)] + [None] * (len(operands) - 1)


def _transpose_vjp(b, op, operands, out, ybar):
    return [b.emit("transpose", (ybar,), attrs=op.attrs, loc=op.loc)]


def _reshape_vjp(b, op, operands, out, ybar):
    return [b.emit("reshape_like", (ybar, operands[0]), loc=op.loc)] + [None] * (
        len(operands) - 1)


def _reshape_like_vjp(b, op, operands, out, ybar):
    return [b.emit("reshape_like", (ybar, operands[0]), loc=op.loc), None]


def _index_vjp(b, op, operands, out, ybar):
    like = ShapeFacts.of(b).root(operands[0])  # x is read for its shape only
    return [b.emit("index_bar", (ybar, like, *operands[1:]), attrs=op.attrs, loc=op.loc)] + [
        None] * (len(operands) - 1)


def _trace_vjp(b, op, operands, out, ybar):
    return [b.emit("trace_bar", (ybar, operands[0]), loc=op.loc)]


def _where_jvp(b, op, operands, out, tangents):
    ta, tb = tangents[1:]
    if ta is None and tb is None:
        return None
    zero = b.const(0.0)
    return b.emit("np_where", (operands[0], ta or zero, tb or zero), loc=op.loc)


def _where_vjp(b, op, operands, out, ybar):
    c, x, y = operands
    zero = b.const(0.0)
    return [None,
            fit(b, b.emit("np_where", (c, ybar, zero), loc=op.loc), x, op.loc),
            fit(b, b.emit("np_where", (c, zero, ybar), loc=op.loc), y, op.loc)]


def _array_lit_jvp(b, op, operands, out, tangents):
    if all(t is None for t in tangents):
        return None
    zero = b.const(0.0)
    return b.emit("array_lit", tuple(t or zero for t in tangents), loc=op.loc)


def _array_lit_vjp(b, op, operands, out, ybar):
    return [b.emit("np_index", (ybar, b.const(k)), attrs={"index": (("int", 0),)}, loc=op.loc)
            for k in range(len(operands))]


def _prod_jvp(b, op, operands, out, tangents):
    """``d prod(x) = sum(others · dx)`` over the reduced axes, ``others`` the product of
    the other elements: exact where elements are zero (never ``prod / x``)."""
    if tangents[0] is None:
        return None
    others = _prod_others(b, op, operands[0])
    return b.emit("np_sum", (b.emit("mul", (others, tangents[0]), loc=op.loc),),
                  attrs=_axis_attrs(op), loc=op.loc)


def _prod_vjp(b, op, operands, out, ybar):
    others = _prod_others(b, op, operands[0])
    if not _full(op):
        ybar = b.emit("sum_bar", (ybar, ShapeFacts.of(b).root(operands[0])),
                      attrs=_axis_attrs(op), loc=op.loc)
    return [b.emit("mul", (others, ybar), loc=op.loc)]


def _prod_others(b, op, x):
    axis = op.attr("axis")
    return b.emit("prod_others", (x,), attrs={} if axis is None else {"axis": axis},
                  loc=op.loc)


def _swapaxes_vjp(b, op, operands, out, ybar):
    return [b.emit("swapaxes", (ybar,), loc=op.loc)]


def _shaped(b, t, like, loc):
    """A tangent that may be a scalar standing for an array (``A + c`` with only ``c``
    varied), broadcast to the shape of ``like``: matrix products need the array."""
    return t if t.kind is _A else b.emit("unbroadcast", (t, like), loc=loc)


def _inv_jvp(b, op, operands, out, tangents):
    """``d inv(A) = -Y dA Y`` with ``Y = inv(A)``."""
    if tangents[0] is None:
        return None
    dA = _shaped(b, tangents[0], operands[0], op.loc)
    product = b.emit("matmul", (b.emit("matmul", (out, dA), loc=op.loc), out), loc=op.loc)
    return b.emit("neg", (product,), loc=op.loc)


def _inv_vjp(b, op, operands, out, ybar):
    """``Ā = -Yᵀ Ȳ Yᵀ`` (transposes of the last two axes: stacks of matrices too)."""
    yt = b.emit("swapaxes", (out,), loc=op.loc)
    product = b.emit("matmul", (b.emit("matmul", (yt, ybar), loc=op.loc), yt), loc=op.loc)
    return [b.emit("neg", (product,), loc=op.loc)]


def _det_jvp(b, op, operands, out, tangents):
    """``d det(A) = sum(C ∘ dA)`` over the last two axes, ``C`` the cofactor matrix."""
    if tangents[0] is None:
        return None
    cofactor = b.emit("cofactor", (operands[0],), loc=op.loc)
    return b.emit("np_sum", (b.emit("mul", (cofactor, tangents[0]), loc=op.loc),),
                  attrs={"axis": (-2, -1)}, loc=op.loc)


def _det_vjp(b, op, operands, out, ybar):
    """``Ā = Ȳ[..., None, None] · C``; a scalar Ȳ (one matrix, or a seed that stands for
    every matrix of a stack) multiplies ``C`` as it is."""
    cofactor = b.emit("cofactor", (operands[0],), loc=op.loc)
    if not ShapeFacts.of(b).surely_scalar(ybar):
        ybar = b.emit("expand_dims", (ybar,), attrs={"axis": (-2, -1)}, loc=op.loc)
    return [b.emit("mul", (ybar, cofactor), loc=op.loc)]


def _solve_jvp(b, op, operands, out, tangents):
    """``x = solve(A, b)``: ``dx = solve(A, db - dA x)``."""
    a, rhs = operands
    da, db = tangents
    change = None if db is None else _shaped(b, db, rhs, op.loc)
    if da is not None:
        da_x = b.emit("matmul", (_shaped(b, da, a, op.loc), out), loc=op.loc)
        change = (b.emit("neg", (da_x,), loc=op.loc) if change is None
                  else b.emit("sub", (change, da_x), loc=op.loc))
    if change is None:
        return None
    return b.emit("solve", (a, change), loc=op.loc)


def _solve_vjp(b, op, operands, out, ybar):
    """``b̄ = solve(Aᵀ, x̄)``, ``Ā = -b̄ xᵀ`` (the adjoint of ``A`` in ``A @ x``)."""
    a = operands[0]
    rhs_bar = b.emit("solve", (b.emit("swapaxes", (a,), loc=op.loc), ybar), loc=op.loc)
    a_bar = b.emit("neg", (b.emit("matmul_bar_a", (rhs_bar, a, out), loc=op.loc),), loc=op.loc)
    return [a_bar, rhs_bar]


def _pieces_jvp(b, op, operands, out, tangents):
    """np.stack / np.concatenate: the same op on the tangents (zeros for inactive pieces)."""
    if all(t is None for t in tangents):
        return None
    pieces = []
    for v, t in zip(operands, tangents, strict=True):
        if t is None:
            t = b.emit("np_zeros_like", (v,), loc=op.loc) if v.kind is _A else b.const(0.0)
        pieces.append(t)
    return b.emit(op.prim, tuple(pieces), attrs=op.attrs, loc=op.loc)


def _stack_vjp(b, op, operands, out, ybar):
    """Piece k of np.stack(pieces, axis) gets ``ybar[..., k, ...]`` (k at ``axis``)."""
    template = along(op.attr("axis", 0), ("int", 0))
    return [b.emit("np_index", (ybar, b.const(k)), attrs={"index": template}, loc=op.loc)
            for k in range(len(operands))]


def _concatenate_vjp(b, op, operands, out, ybar):
    """Piece k of np.concatenate(pieces, axis) gets its slice of ``ybar`` along ``axis``,
    from the sum of the sizes of the pieces before it to that sum plus its own size."""
    axis = op.attr("axis", 0)
    template = along(axis, ("slice", 0, 1, None))
    first = ("slice", None, 0, None)  # the first piece: [:n0]
    last = ("slice", 0, None, None)  # the last piece: [start:]
    facts = ShapeFacts.of(b)
    parts, start = [], None
    for k, v in enumerate(operands):
        if k == len(operands) - 1 and start is not None:
            parts.append(b.emit("np_index", (ybar, start), attrs={"index": along(axis, last)},
                                loc=op.loc))
            break
        size = b.emit("dim", (facts.root(v),), attrs={"axis": axis}, loc=op.loc)
        if start is None:
            stop = size
            parts.append(b.emit("np_index", (ybar, stop), attrs={"index": along(axis, first)},
                                loc=op.loc))
        else:
            stop = b.emit("add", (start, size), loc=op.loc)
            parts.append(b.emit("np_index", (ybar, start, stop), attrs={"index": template},
                                loc=op.loc))
        start = stop
    return parts


def _copy_jvp(b, op, operands, out, tangents):
    return tangents[0]  # a copy has the tangent of its original (no need to copy that)


def _copy_vjp(b, op, operands, out, ybar):
    return [ybar]


def _index_set_jvp(b, op, operands, out, tangents):
    """``y = x`` with ``y[index] = v``: the tangent is ``ẋ`` with ``ẋ[index] = v̇``."""
    tx, tv = tangents[:2]
    if tx is None and tv is None:
        return None
    if tx is None:
        x = b.emit("np_zeros_like", (operands[0],), loc=op.loc)
    elif tx.kind is not _A:  # a scalar tangent stands for itself broadcast to x's shape
        x = b.emit("unbroadcast", (tx, operands[0]), loc=op.loc)
    else:
        x = tx
    v = tv if tv is not None else b.const(0.0)
    hint = f"{op.result.hint}.dot" if op.result.hint else None  # h_dot
    return b.emit("index_set", (x, v, *operands[2:]), attrs=op.attrs, loc=op.loc, hint=hint)


def _index_set_vjp(b, op, operands, out, ybar):
    """``x̄`` is ``ȳ`` with the assigned region zeroed (those entries of x were overwritten);
    ``v̄`` is ``ȳ[index]``, summed back to v's shape (v may be broadcast into the region)."""
    x, v, *dynamic = operands
    # a copy of the region (it may be a view of ȳ), so that ȳ can be zeroed in place
    region = b.emit("np_copy", (b.emit("np_index", (ybar, *dynamic), attrs=op.attrs,
                                       loc=op.loc),), loc=op.loc)
    v_bar = fit(b, region, v, op.loc)
    x_bar = b.emit("index_set", (ybar, b.const(0.0), *dynamic), attrs=op.attrs, loc=op.loc,
                   hint=ybar.hint)
    return [x_bar, v_bar] + [None] * len(dynamic)


def one_array_arguments(b, fn, args: tuple) -> tuple:
    """``args``, but those of ``fn``'s array parameters whose items it reads (``ps[0]``)
    passed through ``one_array``: Python would read items of a list of arrays of different
    shapes too, but the derivative code treats the argument as one array (its adjoint has
    its shape), so the generated code refuses such a list when it is called, with a message
    that says where and what to do (a list of arrays of one shape becomes that array)."""
    first: dict = {}
    for op in walk_ops(fn.body):
        if op.prim == "np_index" and op.operands[0] in fn.params:
            first.setdefault(op.operands[0], op)
    # the leaves of a container argument are arrays by the structure compiled for
    typed = {i for a in fn.arguments or () if not isinstance(a, int)
             and not isinstance(a.pack, Static) for i in a.pack.leaves()}
    out = []
    for k, (p, name, a) in enumerate(zip(fn.params, fn.param_names, args, strict=True)):
        op = first.get(p)
        if op is None or p.kind is not _A or k in typed:
            out.append(a)
            continue
        where = (f"line {op.loc.lineno} of {os.path.basename(op.loc.filename)}"
                 if op.loc is not None else f"`{fn.name}`")
        out.append(b.emit("one_array", (a,), attrs={"name": name, "function": fn.name,
                                                     "where": where}, loc=op.loc, hint=a.hint))
    return tuple(out)


def _one_array_jvp(b, op, operands, out, tangents):
    return tangents[0]


def _one_array_vjp(b, op, operands, out, ybar):
    return [ybar]


# -- the library layer's array primitives (s2sad.library): rules O(size), no dense Jacobians

def _same_op_vjp(b, op, operands, out, ybar):
    """A self-adjoint linear map of the first operand (np.triu, np.tril)."""
    return [b.emit(op.prim, (ybar, *operands[1:]), attrs=op.attrs, loc=op.loc)] + [
        None] * (len(operands) - 1)


def _flip_vjp(b, op, operands, out, ybar):
    return [b.emit("np_flip", (ybar,), attrs=op.attrs, loc=op.loc)]


def _roll_vjp(b, op, operands, out, ybar):
    back = b.emit("neg", (operands[1],), loc=op.loc)
    return [b.emit("np_roll", (ybar, back), attrs=op.attrs, loc=op.loc), None]


def _helper_vjp(helper: str, *attrs: str):
    """The adjoint of the first operand by a runtime helper ``helper(ȳ, *operands)``."""
    def vjp(b, op, operands, out, ybar):
        kept = {a: op.attr(a) for a in attrs if op.attr(a) is not None}
        return [b.emit(helper, (ybar, *operands), attrs=kept, loc=op.loc)] + [None] * (
            len(operands) - 1)
    return vjp


def _sort_jvp(b, op, operands, out, tangents):
    if tangents[0] is None:
        return None
    return b.emit("sort_tangent", (tangents[0], operands[0]), attrs=op.attrs, loc=op.loc)


def _cumprod_jvp(b, op, operands, out, tangents):
    if tangents[0] is None:
        return None
    return b.emit("cumprod_tangent", (operands[0], tangents[0]), attrs=op.attrs, loc=op.loc)


def _cumprod_vjp(b, op, operands, out, ybar):
    """``revcumsum(ȳ y) / x`` by a helper that reads the result y (computed anyway)."""
    kept = {} if op.attr("axis") is None else {"axis": op.attr("axis")}
    return [b.emit("cumprod_bar", (ybar, operands[0], out), attrs=kept, loc=op.loc)]


def _join_vjp(b, op, operands, out, ybar):
    how = op.attr("how")
    return [b.emit("join_bar", (ybar, *operands), attrs={"how": how, "k": k}, loc=op.loc)
            for k in range(len(operands))]


def _einsum_jvp(b, op, operands, out, tangents):
    terms = []
    for k, t in enumerate(tangents):
        if t is not None:
            ops = list(operands)
            ops[k] = _shaped(b, t, operands[k], op.loc)
            terms.append(b.emit("np_einsum", tuple(ops), attrs=op.attrs, loc=op.loc))
    if not terms:
        return None
    acc = terms[0]
    for t in terms[1:]:
        acc = b.emit("add", (acc, t), loc=op.loc)
    return acc


def _einsum_vjp(b, op, operands, out, ybar):
    return [_einsum_adjoint(b, op, operands, ybar, k) for k in range(len(operands))]


def _einsum_adjoint(b, op, operands, ybar, k):
    """Operand k's adjoint: one einsum of ȳ with the other operands, the subscripts
    permuted (``"ij,jk->ik"``: A's is ``"ik,jk->ij"``), which reads neither operand k nor
    the result.  Of a full contraction (ȳ a number): ``ȳ * other`` when the one other
    operand has k's subscripts (``"ij,ij->"``).  NumPy broadcasts a letter of length 1
    against a longer one: ``_sum_to`` brings the adjoint to k's shape (a shape check
    when they agree), read from a value of the same shape computed anyway.  The helper
    ``_einsum_bar`` (which reads operand k's shape) remains for what one einsum cannot
    write: a letter only k has (summed: its adjoint is broadcast), a letter k repeats
    (a diagonal), and a lone operand, whose einsum would be a view of ȳ."""
    spec = op.attr("subscripts")
    ins, result = spec.split("->")
    ins = ins.split(",")
    mine, others = ins[k], [s for j, s in enumerate(ins) if j != k]
    seen = set(result).union(*others)
    if len(set(mine)) == len(mine) and set(mine) <= seen and others:
        rest = [v for j, v in enumerate(operands) if j != k]
        if not result and len(others) == 1 and others[0] == mine:
            part = b.emit("mul", (ybar, rest[0]), loc=op.loc)
        else:
            part = b.emit("np_einsum", (ybar, *rest), loc=op.loc,
                          attrs={"subscripts": ",".join([result, *others]) + "->" + mine})
        like = ShapeFacts.of(b).root(operands[k])
        return b.emit("sum_to", (part, like, like, part), loc=op.loc)
    return b.emit("einsum_bar", (ybar, *operands), attrs={"subscripts": spec, "k": k},
                  loc=op.loc)


def _astype_jvp(b, op, operands, out, tangents):
    if tangents[0] is None or op.attr("dtype") not in _FLOAT_DTYPES:
        return None
    return b.emit("astype", (tangents[0],), attrs=op.attrs, loc=op.loc)


def _astype_vjp(b, op, operands, out, ybar):
    return [ybar if op.attr("dtype") in _FLOAT_DTYPES else None]


_FLOAT_DTYPES = frozenset({"float", "float64", "float32", "float16"})


def _astype_kind(kinds, attrs) -> Kind:
    if kinds[0] is _A:
        return _A
    return _F if attrs.get("dtype") in _FLOAT_DTYPES else _I


def _arg_kind(kinds, attrs) -> Kind:
    """np.argmax(x) is an int; along an axis, an array of ints (no derivative: a
    constant of the derivative)."""
    return _I if attrs.get("axis") is None and not attrs.get("keepdims") else _A


# The adjoint helpers above that are linear in their first operand, the others read for
# their shapes or their order only (piecewise constant): their tangent is the helper of the
# tangent, their adjoint the transposed map (so Hessians differentiate through them).
def _transpose_by(prim: str, keep: int = 1):
    """The vjp of a linear helper whose transpose is ``prim(ȳ, *operands[keep:])``."""
    def vjp(b, op, operands, out, ybar):
        return [b.emit(prim, (ybar, *operands[keep:]), attrs=op.attrs, loc=op.loc)] + [
            None] * (len(operands) - 1)
    return vjp


def _join_bar_vjp(b, op, operands, out, ybar):
    """join_bar picks piece k's block: its transpose joins ȳ with zeros for the others."""
    pieces = operands[1:]
    k = op.attr("k")
    parts = tuple(ybar if j == k else b.emit("np_zeros_like", (p,), loc=op.loc)
                  for j, p in enumerate(pieces))
    return [b.emit("np_join", parts, attrs={"how": op.attr("how")}, loc=op.loc)] + [
        None] * len(pieces)


def _logabsdet_jvp(b, op, operands, out, tangents):
    """``d log|det A| = sum(A⁻ᵀ ∘ dA)`` over the last two axes."""
    if tangents[0] is None:
        return None
    inv_t = b.emit("swapaxes", (b.emit("inv", (operands[0],), loc=op.loc),), loc=op.loc)
    return b.emit("np_sum", (b.emit("mul", (inv_t, _shaped(b, tangents[0], operands[0],
                                                            op.loc)), loc=op.loc),),
                  attrs={"axis": (-2, -1)}, loc=op.loc)


def _logabsdet_vjp(b, op, operands, out, ybar):
    """``Ā = ȳ[..., None, None] · A⁻ᵀ``."""
    inv_t = b.emit("swapaxes", (b.emit("inv", (operands[0],), loc=op.loc),), loc=op.loc)
    if not ShapeFacts.of(b).surely_scalar(ybar):
        ybar = b.emit("expand_dims", (ybar,), attrs={"axis": (-2, -1)}, loc=op.loc)
    return [b.emit("mul", (ybar, inv_t), loc=op.loc)]


def _no_derivative_jvp(b, op, operands, out, tangents):
    return None


def _no_derivative_vjp(b, op, operands, out, ybar):
    return [None] * len(operands)


def _cholesky_jvp(b, op, operands, out, tangents):
    if tangents[0] is None:
        return None
    return b.emit("cholesky_tangent", (out, tangents[0]), loc=op.loc)


def _cholesky_vjp(b, op, operands, out, ybar):
    return [b.emit("cholesky_bar", (ybar, out), loc=op.loc)]


def _axes_vjp(b, op, operands, out, ybar):
    """The inverse rearrangement: swapaxes is its own, moveaxis(a → b) is moveaxis(b → a),
    transpose(axes) is transpose(argsort(axes))."""
    how, a, c = op.attr("how"), op.attr("a"), op.attr("b")
    if how == "moveaxis":
        a, c = c, a
    elif how == "transpose":
        n = len(a)
        a = tuple(int(k) for k in np.argsort([k % n for k in a]))
    attrs = {"how": how, "a": a} if c is None else {"how": how, "a": a, "b": c}
    return [b.emit("np_axes", (ybar,), attrs=attrs, loc=op.loc)]


def _axes_eval(lib, x, how, a, b=None):
    return np.transpose(x, a) if how == "transpose" else getattr(np, how)(x, a, b)


def _eigh_jvp(b, op, operands, out, tangents):
    if tangents[0] is None:
        return None
    return b.emit("eigh_tangent", (operands[0], tangents[0]), attrs=op.attrs, loc=op.loc)


def _eigh_vjp(b, op, operands, out, ybar):
    return [b.emit("eigh_bar", (ybar, operands[0]), attrs=op.attrs, loc=op.loc)]


def _svd_values_jvp(b, op, operands, out, tangents):
    if tangents[0] is None:
        return None
    return b.emit("svd_values_tangent", (operands[0], tangents[0]), loc=op.loc)


def _svd_values_vjp(b, op, operands, out, ybar):
    return [b.emit("svd_values_bar", (ybar, operands[0]), loc=op.loc)]


def _var_parts(b, op, x, ddof):
    """``x - mean(x)`` (kept dims) and ``2 / (n - ddof)``, n the reduced count."""
    axis = op.attr("axis")
    mean = b.emit("np_mean", (x,), attrs={"keepdims": True} if axis is None else
                  {"axis": axis, "keepdims": True}, loc=op.loc)
    n = b.emit("floordiv", (b.emit("size", (x,), loc=op.loc),
                            b.emit("size", (mean,), loc=op.loc)), loc=op.loc)
    scale = b.emit("div", (b.const(2.0), b.emit("sub", (n, ddof), loc=op.loc)), loc=op.loc)
    return b.emit("sub", (x, mean), loc=op.loc), scale


def _var_jvp(b, op, operands, out, tangents):
    """``d var = 2 Σ (x - mean)·dx / (n - ddof)`` (the mean's own change cancels)."""
    if tangents[0] is None:
        return None
    dev, scale = _var_parts(b, op, *operands)
    total = b.emit("np_sum", (b.emit("mul", (dev, tangents[0]), loc=op.loc),),
                   attrs=_axis_attrs(op), loc=op.loc)
    return b.emit("mul", (scale, total), loc=op.loc)


def _var_vjp(b, op, operands, out, ybar):
    """``x̄ = ȳ · 2 (x - mean) / (n - ddof)``, ȳ spread over the reduced axes."""
    dev, scale = _var_parts(b, op, *operands)
    if not _full(op):
        ybar = b.emit("sum_bar", (ybar, ShapeFacts.of(b).root(operands[0])),
                      attrs=_axis_attrs(op), loc=op.loc)
    return [b.emit("mul", (dev, b.emit("mul", (scale, ybar), loc=op.loc)), loc=op.loc), None]


def _einsum_kind(kinds, attrs) -> Kind:
    """A full contraction (``"ij,ij->"``) is a number."""
    return _F if attrs["subscripts"].endswith("->") else _A


# Results that are scalars whatever their operands: full reductions, sizes, the trace.
# Not det: the determinants of a stack of matrices are an array.
_SCALAR_RESULTS = frozenset({"np_sum", "np_mean", "np_max", "np_min", "np_prod", "trace", "dim",
                             "ndim", "size", "const", "scalar_seed", "scalar_input",
                             "logsumexp_shift", "matmul_seed",
                             # (their float-kind results: full reductions, full contractions)
                             "np_var", "np_einsum", "logabsdet"})


# ops whose result has the shape of their first operand, whatever the others
_SAME_SHAPE = frozenset({"index_set", "index_add", "np_copy"})
# the library's rearrangements that keep their operand's shape (along an axis: np.cumsum
# without one flattens); ShapeFacts.leaves follows them, so that the derivative reads the
# operand's shape and does not compute the result only for its shape
_KEEPS_SHAPE = frozenset({"np_sort", "np_cumsum", "np_cumprod", "np_flip", "np_roll"})


def _keeps_shape(op) -> bool:
    return op is not None and op.prim in _KEEPS_SHAPE and (
        op.prim in ("np_flip", "np_roll") or op.attr("axis") is not None)


def _memo_walk(v, memo: dict, deps, value):
    """``memo[v]``, computing ``value(u)`` for ``v`` and, first, for every value of
    ``deps(u)`` it needs — iteratively, as chains of 10,000 ops would overflow recursion."""
    stack = [v]
    while stack:
        u = stack[-1]
        if u in memo:
            stack.pop()
            continue
        todo = [w for w in deps(u) if w not in memo]
        if todo:
            stack.extend(todo)
            continue
        memo[u] = value(u)
        stack.pop()
    return memo[v]


def elementwise(op) -> bool:
    """Does ``op`` apply a function element by element, NumPy broadcasting its operands?"""
    from .primitives import PRIMITIVES

    prim = PRIMITIVES[op.prim]
    return prim.derivative in ("partials", "zero") or op.prim == "np_where" or (
        prim.derivative == "none" and prim.operator is not None)  # comparisons


class ShapeFacts:
    """What is known at compile time about the run-time shapes of a builder's values.

    One per builder (:meth:`of`): values are never redefined, so what is learnt
    about one stays true while the builder grows.
    """

    def __init__(self, b) -> None:
        self.b = b
        self.roots: dict = {}
        self.scalars: dict = {}
        self.leaf_sets: dict = {}
        self.trims: dict = {}  # (block, base's shape, trims) -> the first such slice
        self.ranks: dict = {}  # value -> its number of axes, where a run-time check proved it

    @classmethod
    def of(cls, b) -> ShapeFacts:
        facts = _FACTS.get(b)
        if facts is None:
            facts = _FACTS[b] = cls(b)
        return facts

    def _op(self, u):
        op = self.b.defs.get(u)
        return None if op is None or op.regions or len(op.results) != 1 else op

    def surely_scalar(self, v) -> bool:
        """Is float ``v`` a scalar at run time?  A float parameter (or a value computed
        from one) may be an array that NumPy broadcasts: only constants and reductions
        are sure."""
        from .primitives import PRIMITIVES

        def passes(u) -> bool:  # a scalar if its operands are
            op = self._op(u)
            if op is None or op.prim in _SCALAR_RESULTS:
                return False
            if u.kind is _A:  # an array op of numbers known to be scalars (`r @ r / n`)
                return elementwise(op) and op.prim != "np_where"
            return PRIMITIVES[op.prim].derivative in ("partials", "zero", "none")

        def value(u) -> bool:
            if passes(u):
                return all(self.scalars[w] for w in self._op(u).operands)
            op = self._op(u)
            if u.kind is _A or op is None:
                return u.kind in (_I, Kind.BOOL)  # an int is never an array of floats
            return op.prim in _SCALAR_RESULTS

        return _memo_walk(v, self.scalars,
                          lambda u: self._op(u).operands if passes(u) else (), value)

    def root(self, v):
        """A value with the same run-time shape as ``v``: follow elementwise ops whose
        array operands all have one shape and whose other operands are surely scalars."""
        def arrays(u) -> list:
            op = self._op(u)
            if op is not None and op.prim in _SAME_SHAPE:
                return [op.operands[0]]
            if op is None or not elementwise(op):
                return []
            return [w for w in op.operands if w.kind is _A]

        def value(u):
            op = self._op(u)
            if op is not None and op.prim in _SAME_SHAPE:
                return self.roots[op.operands[0]]
            roots = {self.roots[w] for w in arrays(u)}
            others = [w for w in self._op(u).operands if w.kind is not _A] if roots else []
            if len(roots) == 1 and all(self.surely_scalar(w) for w in others):
                return roots.pop()
            return u

        return _memo_walk(v, self.roots, arrays, value)

    def leaves(self, v) -> tuple:
        """Values whose shapes, broadcast together, are ``v``'s run-time shape: ``()``
        for a sure scalar, ``(v,)`` for a value not computed elementwise.  Two values
        with the same leaves have the same shape."""
        def broadcasts(u) -> bool:  # computed elementwise from its operands' shapes
            op = self._op(u)
            return op is not None and elementwise(op) and not self.surely_scalar(u)

        def deps(u) -> tuple:
            op = self._op(u)
            if _keeps_shape(op):
                return op.operands[:1]
            return op.operands if broadcasts(u) else ()

        def value(u) -> tuple:
            if self.surely_scalar(u):
                return ()
            op = self._op(u)
            if _keeps_shape(op):
                return self.leaf_sets[op.operands[0]]
            if not broadcasts(u):
                return (self._slice_like(u),)
            return tuple(sorted({w for o in op.operands for w in self.leaf_sets[o]},
                                key=lambda w: w.id))

        return _memo_walk(v, self.leaf_sets, deps, value)

    def _slice_like(self, v):
        """For ``x[s:]`` or ``x[:-s]`` (on any axes), the first slice of this block with
        the same trims of an array of ``x``'s shape: it has the same shape (n − s along
        such an axis, or 0), as ``x[1:]`` and ``x[:-1]`` have.  ``v`` itself otherwise."""
        op = self._op(v)
        if op is None or op.prim != "np_index":
            return v
        trims = []
        for item in op.attr("index"):
            if item[0] != "slice" or item[3] is not None:
                return v
            start, stop = (None if ref is None else self.b.const_value(op.operands[1 + ref])
                           for ref in item[1:3])
            if item[1] is None and item[2] is None:
                trims.append(0)
            elif item[2] is None and type(start) is int and start >= 0:
                trims.append(start)
            elif item[1] is None and type(stop) is int and stop < 0:
                trims.append(-stop)
            else:
                return v
        key = (id(self.b.blocks.get(v)), self.root(op.operands[0]), tuple(trims))
        return self.trims.setdefault(key, v)

    def known_scalar(self, v) -> None:
        """Record that ``v`` is a scalar from here on (a check that raises otherwise has
        been built: the gradient's seed).  What was inferred from not knowing it is
        forgotten, to be inferred again."""
        for k in [k for k, leaves in self.leaf_sets.items() if v in leaves]:
            del self.leaf_sets[k]
        for k in [k for k, sure in self.scalars.items() if not sure]:
            del self.scalars[k]
        self.scalars[v] = True
        self.leaf_sets[v] = ()

    def same_as(self, v, like) -> None:
        """Record that ``v`` has the shape of ``like`` (an adjoint has its value's shape)."""
        self.leaf_sets[v] = self.leaves(like)

    def size(self, v, loc):
        """The number of elements of ``v``, computed from its leaves: ``v`` itself may
        be a value that the derivative does not need."""
        leaves = self.leaves(v)
        if not leaves or len(leaves) > MAX_BROADCAST:
            leaves = (v,)
        return self.b.emit("size", leaves, loc=loc)


_FACTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
MAX_BROADCAST = 32  # np.broadcast takes at most 32 arrays (NumPy 1.x)


# Reverse mode keeps a full reduction's adjoint a scalar as long as it can: an
# adjoint of kind float for an array value stands for that number broadcast to the
# value's shape.  These rules read such a scalar right; the others get it broadcast
# to the result's shape first.
# Operands whose tangent a rule reads as it is, broadcast by NumPy (the value assigned into
# a region, the sides of np.where); forward mode gives the others their value's exact shape.
TANGENT_MAY_BROADCAST = {"index_set": frozenset({1}), "np_where": frozenset({0, 1, 2})}

SCALAR_COTANGENT_OK = frozenset({"np_sum", "np_mean", "np_max", "np_min", "np_prod", "np_var",
                                 "np_index", "np_copy"})


def fit(b, contribution, operand, loc):
    """An adjoint contribution (an array) summed back to the shape of ``operand``, which
    NumPy broadcast up in the primal.  A scalar contribution stands for itself broadcast
    to the operand's shape already."""
    if contribution.kind is not _A:
        return contribution
    return b.emit("unbroadcast", (contribution, operand), loc=loc)


# -- products whose pullbacks are products again (np.kron, np.tensordot) ---------------------
# ``prim(a, b)`` is bilinear; the adjoint of operand k is ``<prim>_bar(ȳ, other, like,
# side=k)``, bilinear in (ȳ, other) and shaped like ``like`` (read for its shape only).  The
# derivatives of a ``_bar`` op are again ``prim`` and the other side's ``_bar``, so the
# family is closed under differentiation: Hessians need no new rule.

def _product_vjp(b, op, operands, out, ybar):
    a, c = operands
    bar = f"{op.prim}_bar"
    attrs = dict(op.attrs)
    return [b.emit(bar, (ybar, c, a), attrs={**attrs, "side": 0}, loc=op.loc),
            b.emit(bar, (ybar, a, c), attrs={**attrs, "side": 1}, loc=op.loc)]


def _product_jvp(b, op, operands, out, tangents):
    """``d(a ∘ c) = da ∘ c + a ∘ dc``, each tangent given its operand's shape first."""
    a, c = operands
    terms = []
    if tangents[0] is not None:
        terms.append(b.emit(op.prim, (_shaped(b, tangents[0], a, op.loc), c), attrs=op.attrs,
                            loc=op.loc))
    if tangents[1] is not None:
        terms.append(b.emit(op.prim, (a, _shaped(b, tangents[1], c, op.loc)), attrs=op.attrs,
                            loc=op.loc))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else b.emit("add", tuple(terms), loc=op.loc)


def _product_bar_jvp(b, op, operands, out, tangents):
    """Linear in the adjoint and in the other operand; ``like`` gives a shape only."""
    g, other, like = operands
    terms = []
    if tangents[0] is not None:  # (the helper broadcasts an adjoint that is a scalar)
        terms.append(b.emit(op.prim, (tangents[0], other, like), attrs=op.attrs, loc=op.loc))
    if tangents[1] is not None:
        terms.append(b.emit(op.prim, (g, _shaped(b, tangents[1], other, op.loc), like),
                            attrs=op.attrs, loc=op.loc))
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else b.emit("add", tuple(terms), loc=op.loc)


def _product_bar_vjp(b, op, operands, out, ybar):
    """``y = bar_k(ḡ, other)`` is ``∂/∂x_k <ḡ, prim(x_0, x_1)>``: its adjoint in ḡ is the
    product with ȳ in place k, in ``other`` the other side's bar with ȳ in place k."""
    g, other, like = operands
    side = op.attr("side")
    prim = op.prim[:-len("_bar")]
    ybar = _shaped(b, ybar, like, op.loc)
    attrs = {k: v for k, v in op.attrs if k != "side"}
    pair = (ybar, other) if side == 0 else (other, ybar)
    g_bar = b.emit(prim, pair, attrs=attrs, loc=op.loc)
    other_bar = b.emit(op.prim, (g, ybar, other), attrs={**attrs, "side": 1 - side}, loc=op.loc)
    return [g_bar, other_bar, None]


def _cross_vjp(b, op, operands, out, ybar):
    """``<ḡ, a × b> = <a, b × ḡ> = <b, ḡ × a>``, each summed back to its operand's shape."""
    a, c = operands
    g = _shaped(b, ybar, out, op.loc)
    return [fit(b, b.emit("np_cross", (c, g), attrs=op.attrs, loc=op.loc), a, op.loc),
            fit(b, b.emit("np_cross", (g, a), attrs=op.attrs, loc=op.loc), c, op.loc)]


# -- matrix functions written with matrix products (their derivatives differentiate again) --

def _pinv_jvp(b, op, operands, out, tangents):
    """Golub and Pereyra's derivative of ``P = A⁺`` (constant rank):
    ``dP = -P dA P + P Pᵀ dAᵀ (I - A P) + (I - P A) dAᵀ Pᵀ P``, with the ``I - …``
    products written out (no identity matrix built)."""
    if tangents[0] is None:
        return None
    a, p, loc = operands[0], out, op.loc

    def mm(x, y):
        return b.emit("matmul", (x, y), loc=loc)

    def t(x):
        return b.emit("swapaxes", (x,), loc=loc)

    dA = _shaped(b, tangents[0], a, loc)
    dAt = t(dA)
    first = b.emit("neg", (mm(mm(p, dA), p),), loc=loc)
    second = mm(mm(p, t(p)), b.emit("sub", (dAt, mm(mm(dAt, a), p)), loc=loc))
    third = mm(b.emit("sub", (dAt, mm(mm(p, a), dAt)), loc=loc), mm(t(p), p))
    return b.emit("add", (b.emit("add", (first, second), loc=loc), third), loc=loc)


def _pinv_vjp(b, op, operands, out, ybar):
    """The transpose of :func:`_pinv_jvp`:
    ``Ā = -Pᵀ Ḡ Pᵀ + (Ḡᵀ - A P Ḡᵀ) P Pᵀ + Pᵀ P (Ḡᵀ - Ḡᵀ P A)``."""
    a, p, loc = operands[0], out, op.loc

    def mm(x, y):
        return b.emit("matmul", (x, y), loc=loc)

    def t(x):
        return b.emit("swapaxes", (x,), loc=loc)

    g = _shaped(b, ybar, p, loc)
    pt, gt = t(p), t(g)
    first = b.emit("neg", (mm(mm(pt, g), pt),), loc=loc)
    second = mm(b.emit("sub", (gt, mm(mm(a, p), gt)), loc=loc), mm(p, pt))
    third = mm(mm(pt, p), b.emit("sub", (gt, mm(mm(gt, p), a)), loc=loc))
    return [b.emit("add", (b.emit("add", (first, second), loc=loc), third), loc=loc)]


def _decomposition_jvp(b, op, operands, out, tangents):
    """``np.linalg.qr(A)[part]``, the singular vectors: a helper recomputes the
    decomposition and returns the tangent of the part."""
    if tangents[0] is None:
        return None
    return b.emit(f"{op.prim}_tangent", (operands[0], _shaped(b, tangents[0], operands[0],
                                                               op.loc)),
                  attrs=op.attrs, loc=op.loc)


def _decomposition_vjp(b, op, operands, out, ybar):
    return [b.emit(f"{op.prim}_bar", (ybar, operands[0]), attrs=op.attrs, loc=op.loc)]


# -- the table ---------------------------------------------------------------------------------

def define(register: Callable[..., Any], Primitive: type) -> None:  # noqa: N803
    """Register the array primitives (called once, by :mod:`s2sad.primitives`)."""
    from .primitives import VARIADIC

    def reduction(name, fn, vjp, jvp=_linear_jvp):
        register(Primitive(name, 1, kind_rule=_reduce_kind, derivative="rule", jvp_rule=jvp,
                           vjp_rule=vjp, evaluator=lambda lib, x, **a: fn(x, **a)))

    reduction("np_sum", np.sum, _sum_vjp)
    # log(sum(exp(z - m))) + m as the user computed it (args z, m, e = exp(z - m), s =
    # sum(e); opt/identities.py): its derivative is softmax(z) = e / s, none through m
    register(Primitive("logsumexp_shift", 5, kind_rule=lambda k, a: _F, derivative="rule",
                       jvp_rule=_lse_jvp, vjp_rule=_lse_vjp, fold=False,
                       evaluator=lambda lib, v, *args, **_: v))
    reduction("np_mean", np.mean, _mean_vjp)
    reduction("np_max", np.max, _extreme_vjp, _extreme_jvp)
    reduction("np_min", np.min, _extreme_vjp, _extreme_jvp)
    reduction("np_prod", np.prod, _prod_vjp, _prod_jvp)
    register(Primitive("matmul", 2, kind_rule=_array, derivative="rule",
                       jvp_rule=_bilinear_jvp, vjp_rule=_matmul_vjp,
                       evaluator=lambda lib, a, c, **_: np.matmul(a, c)))
    register(Primitive("inner", 2, kind_rule=_array, derivative="rule",
                       jvp_rule=_bilinear_jvp, vjp_rule=_inner_vjp,
                       evaluator=lambda lib, a, c, **_: np.inner(a, c)))
    register(Primitive("outer", 2, kind_rule=_array, derivative="rule",
                       jvp_rule=_bilinear_jvp, vjp_rule=_outer_vjp,
                       evaluator=lambda lib, a, c, **_: np.outer(a, c)))
    register(Primitive("trace", 1, kind_rule=lambda k, a: _F, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_trace_vjp,
                       evaluator=lambda lib, x, **_: np.trace(x)))
    register(Primitive("broadcast_like", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_broadcast_like_vjp,
                       evaluator=_helper_eval("_broadcast_like")))
    register(Primitive("transpose", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_transpose_vjp,
                       evaluator=lambda lib, x, **_: np.transpose(x)))
    register(Primitive("swapaxes", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_swapaxes_vjp,
                       evaluator=lambda lib, x, **_: np.swapaxes(x, -1, -2)))
    register(Primitive("expand_dims", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_reshape_vjp,
                       evaluator=lambda lib, x, axis, **_: np.expand_dims(x, axis)))
    register(Primitive("squeeze", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_reshape_vjp,
                       evaluator=lambda lib, x, axis=None, **_: np.squeeze(x, axis)))
    register(Primitive("inv", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_inv_jvp, vjp_rule=_inv_vjp,
                       evaluator=lambda lib, a, **_: np.linalg.inv(a)))
    register(Primitive("det", 1, kind_rule=lambda k, a: _F, derivative="rule",
                       jvp_rule=_det_jvp, vjp_rule=_det_vjp,
                       evaluator=lambda lib, a, **_: np.linalg.det(a)))
    register(Primitive("solve", 2, kind_rule=_array, derivative="rule",
                       jvp_rule=_solve_jvp, vjp_rule=_solve_vjp,
                       evaluator=lambda lib, a, c, **_: np.linalg.solve(a, c)))
    register(Primitive("reshape", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_reshape_vjp,
                       evaluator=lambda lib, x, *dims, **_: np.reshape(x, dims)))
    register(Primitive("ravel", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_reshape_vjp,
                       evaluator=lambda lib, x, **_: np.ravel(x)))
    register(Primitive("reshape_like", 2, kind_rule=_like_second, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_reshape_like_vjp,
                       evaluator=lambda lib, g, x, **_: np.reshape(g, np.shape(x))))
    register(Primitive("np_index", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_index_vjp, evaluator=_index_eval))
    register(Primitive("np_where", 3, kind_rule=_array, derivative="rule",
                       jvp_rule=_where_jvp, vjp_rule=_where_vjp,
                       evaluator=lambda lib, c, x, y, **_: np.where(c, x, y)))
    register(Primitive("array_lit", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_array_lit_jvp, vjp_rule=_array_lit_vjp, cse=False,
                       evaluator=lambda lib, *items, **_: np.array(items, dtype=float)))

    register(Primitive("np_stack", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_pieces_jvp, vjp_rule=_stack_vjp, cse=False,
                       evaluator=lambda lib, *items, axis=0: np.stack(items, axis=axis)))
    register(Primitive("np_concatenate", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_pieces_jvp, vjp_rule=_concatenate_vjp, cse=False,
                       evaluator=lambda lib, *items, axis=0: np.concatenate(items, axis=axis)))
    # a new array the function owns (and so may assign into): x.copy(), np.array(x)
    register(Primitive("np_copy", 1, kind_rule=_array, derivative="rule", jvp_rule=_copy_jvp,
                       vjp_rule=_copy_vjp, cse=False,
                       evaluator=lambda lib, x, **_: np.array(x, dtype=float)))
    # `y = x; y[index] = v` as a value: a new array (code generation assigns in place
    # when the old array is dead and nothing else can see it, and copies it otherwise)
    register(Primitive("index_set", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_index_set_jvp, vjp_rule=_index_set_vjp, cse=False,
                       evaluator=_index_set_eval))

    # the helpers that reverse mode emits (their own derivatives: a later version; until
    # then rule_missing, so that differentiating them again is refused, not taken as 0)
    def helper(name, nin, kind_rule, fn_name, **kw):
        kw.setdefault("rule_missing", True)
        register(Primitive(name, nin, kind_rule=kind_rule, derivative="none",
                           evaluator=kw.pop("evaluator", None) or _helper_eval(fn_name), **kw))

    helper("unbroadcast", 2, _like_second, "_unbroadcast")
    helper("sum_to", VARIADIC, _like_second, "_sum_to")
    # constants (the seed 1.0) and a piecewise-constant mask: no derivative is right
    helper("scalar_seed", VARIADIC, lambda k, a: _F, "_scalar_seed", cse=False,
           rule_missing=False)
    helper("matmul_seed", 2, lambda k, a: _F, "_matmul_seed", cse=False, rule_missing=False)
    helper("scalar_input", 1, lambda k, a: _F, "_scalar_input", cse=False, rule_missing=False)
    helper("sum_bar", 2, _array, "_sum_bar")
    helper("mean_bar", 2, _array, "_mean_bar")
    helper("extreme_mask", 2, _array, "_extreme_mask", rule_missing=False)
    helper("matmul_bar_a", 3, _array, "_matmul_bar_a")
    helper("matmul_bar_b", 3, _array, "_matmul_bar_b")
    helper("trace_bar", 2, _array, "_trace_bar")
    helper("prod_others", 1, _array, "_prod_others")
    helper("cofactor", 1, _array, "_cofactor")
    helper("inner_bar_a", 3, _array, "_inner_bar_a")
    helper("inner_bar_b", 3, _array, "_inner_bar_b")
    helper("index_bar", VARIADIC, _array, "_index_bar", evaluator=_index_bar_eval)
    # an array of the shape of x[index] that does not read x (a gather's result read for
    # its shape only: reverse mode's sums back to an operand's shape)
    helper("index_like", VARIADIC, _array, "_index_like", evaluator=_index_like_eval,
           rule_missing=False)
    helper("repeat_like", 2, _array, "_repeat_like", rule_missing=False)
    # the same for np.kron, np.tensordot, np.cross and np.take_along_axis (attrs: how, and
    # their axes or axis): their results read for the shape only
    helper("product_like", 2, _array, "_product_like", rule_missing=False)
    # does h[index] = v write an element twice (an int array from the arguments)?
    helper("index_repeats", VARIADIC, lambda k, a: Kind.BOOL, "_index_repeats",
           evaluator=_index_repeats_eval, rule_missing=False)
    # a random draw (rng.standard_normal(n)): an effect of the primal, run once where it
    # stands; attrs: method, module (np.random itself), layout and keywords of its call
    register(Primitive("random_draw", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_draw_jvp, vjp_rule=_draw_vjp, cse=False, fold=False,
                       effect=True, evaluator=_draw_eval))
    # an argument read as one array: a list of arrays of different shapes is refused
    register(Primitive("one_array", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_one_array_jvp, vjp_rule=_one_array_vjp, cse=False,
                       evaluator=lambda lib, x, **a: runtime.function("_one_array")(
                           x, a["name"], a["function"], a["where"])))
    # `x_bar[index] += g` as a value (code generation: in place when it may, as index_set)
    register(Primitive("index_add", VARIADIC, kind_rule=_array, derivative="none", cse=False,
                       rule_missing=True,
                       evaluator=_index_add_eval))

    # the library layer's array functions (s2sad.library): linear maps with their
    # transposes, sorting, running products, and the int-valued index functions
    def linear(name, vjp, fn, nin=1, cse=True):
        register(Primitive(name, nin, kind_rule=_array, derivative="rule",
                           jvp_rule=_linear_jvp, vjp_rule=vjp, cse=cse,
                           evaluator=lambda lib, *args, **a: fn(*args, **a)))

    linear("np_flip", _flip_vjp, lambda x, axis=None: np.flip(x, axis))
    linear("np_roll", _roll_vjp, lambda x, shift, axis=None: np.roll(x, shift, axis), nin=2)
    linear("np_triu", _same_op_vjp, lambda x, k=0: np.triu(x, k))
    linear("np_tril", _same_op_vjp, lambda x, k=0: np.tril(x, k))
    linear("np_axes", _axes_vjp, lambda x, **a: _axes_eval(None, x, **a))
    # np.pad(x, widths) with zeros (fill: a constant border, whose derivative is 0)
    linear("np_pad", _helper_vjp("pad_bar", "widths"),
           lambda x, widths, fill=0.0: np.pad(x, widths, constant_values=fill))
    linear("atleast", _reshape_vjp, lambda x, n: getattr(np, f"atleast_{n}d")(x))
    linear("np_cumsum", _helper_vjp("cumsum_bar", "axis"),
           lambda x, axis=None: np.cumsum(x, axis))
    linear("np_repeat", _helper_vjp("repeat_bar", "axis"),
           lambda x, r, axis=None: np.repeat(x, r, axis), nin=2)
    linear("np_tile", _helper_vjp("tile_bar"), lambda x, *reps: np.tile(x, reps), nin=VARIADIC)
    linear("np_diag", _helper_vjp("diag_bar", "k"), lambda x, k=0: np.diag(x, k))
    # np.var(x, axis, ddof, keepdims): ddof an int operand; a rule of its own, as the
    # composition's derivative through the mean (exactly 0) costs a pass
    register(Primitive("np_var", 2, kind_rule=_reduce_kind, derivative="rule",
                       jvp_rule=_var_jvp, vjp_rule=_var_vjp,
                       evaluator=lambda lib, x, ddof, **a: np.var(x, ddof=ddof, **a)))
    register(Primitive("np_sort", 1, kind_rule=_array, derivative="rule", jvp_rule=_sort_jvp,
                       vjp_rule=_helper_vjp("sort_bar", "axis"),
                       evaluator=lambda lib, x, axis=-1: np.sort(x, axis)))
    register(Primitive("np_cumprod", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_cumprod_jvp, vjp_rule=_cumprod_vjp,
                       evaluator=lambda lib, x, axis=None: np.cumprod(x, axis)))
    register(Primitive("np_join", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_pieces_jvp, vjp_rule=_join_vjp, cse=False,
                       evaluator=lambda lib, *items, how: getattr(np, how)(items)))
    register(Primitive("np_einsum", VARIADIC, kind_rule=_einsum_kind, derivative="rule",
                       jvp_rule=_einsum_jvp, vjp_rule=_einsum_vjp,
                       evaluator=lambda lib, *ops, subscripts: np.einsum(subscripts, *ops)))
    register(Primitive("astype", 1, kind_rule=_astype_kind, derivative="rule",
                       jvp_rule=_astype_jvp, vjp_rule=_astype_vjp,
                       evaluator=lambda lib, x, dtype: (
                           np.asarray(x).astype(dtype) if isinstance(x, np.ndarray)
                           else getattr(np, dtype if dtype != "float" else "float64")(x)
                           if dtype in _FLOAT_DTYPES else int(x))))
    def linear_helper(name, nin, fn_name, vjp):
        register(Primitive(name, nin, kind_rule=_array, derivative="rule",
                           jvp_rule=_linear_jvp, vjp_rule=vjp,
                           evaluator=_helper_eval(fn_name)))

    linear_helper("cumsum_bar", 2, "_cumsum_bar", _transpose_by("np_cumsum", keep=2))
    linear_helper("repeat_bar", 3, "_repeat_bar", _transpose_by("np_repeat", keep=2))
    linear_helper("tile_bar", VARIADIC, "_tile_bar", _transpose_by("np_tile", keep=2))
    linear_helper("diag_bar", 2, "_diag_bar", _transpose_by("np_diag", keep=2))
    linear_helper("sort_tangent", 2, "_sort_tangent", _transpose_by("sort_bar"))
    linear_helper("sort_bar", 2, "_sort_bar", _transpose_by("sort_tangent"))
    # np.linalg.slogdet(A): log|det A| (differentiable) and its sign (piecewise constant)
    register(Primitive("logabsdet", 1, kind_rule=lambda k, a: _F, derivative="rule",
                       jvp_rule=_logabsdet_jvp, vjp_rule=_logabsdet_vjp,
                       evaluator=lambda lib, a, **_: np.linalg.slogdet(a)[1]))
    register(Primitive("slogdet_sign", 1, kind_rule=lambda k, a: _F, derivative="rule",
                       jvp_rule=_no_derivative_jvp, vjp_rule=_no_derivative_vjp,
                       evaluator=lambda lib, a, **_: np.linalg.slogdet(a)[0]))
    register(Primitive("cholesky", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_cholesky_jvp, vjp_rule=_cholesky_vjp,
                       evaluator=lambda lib, a, **_: np.linalg.cholesky(a)))
    # np.linalg.eigh(A)[part] (0: eigenvalues, 1: eigenvectors), singular values
    register(Primitive("eigh", 1, kind_rule=_array, derivative="rule", jvp_rule=_eigh_jvp,
                       vjp_rule=_eigh_vjp,
                       evaluator=lambda lib, a, part: np.linalg.eigh(a)[part]))
    register(Primitive("svd_values", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_svd_values_jvp, vjp_rule=_svd_values_vjp,
                       evaluator=lambda lib, a, **_: np.linalg.svd(a, compute_uv=False)))
    # the singular vectors (full_matrices=False; rules registered with qr's below)
    register(Primitive("svd_vectors", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_decomposition_jvp, vjp_rule=_decomposition_vjp,
                       evaluator=lambda lib, a, part: np.linalg.svd(a, full_matrices=False)[
                           part]))
    helper("eigh_tangent", 2, _array, "_eigh_tangent")
    helper("eigh_bar", 2, _array, "_eigh_bar")
    helper("svd_values_tangent", 2, _array, "_svd_values_tangent")
    helper("svd_values_bar", 2, _array, "_svd_values_bar")
    helper("cholesky_tangent", 2, _array, "_cholesky_tangent")
    helper("cholesky_bar", 2, _array, "_cholesky_bar")
    helper("pad_bar", 2, _array, "_pad_bar")
    helper("cumprod_tangent", 2, _array, "_cumprod_tangent")
    helper("cumprod_bar", 3, _array, "_cumprod_bar")
    register(Primitive("join_bar", VARIADIC, kind_rule=_array, derivative="rule",
                       jvp_rule=_linear_jvp, vjp_rule=_join_bar_vjp,
                       evaluator=_helper_eval("_join_bar")))
    helper("einsum_bar", VARIADIC, _array, "_einsum_bar")
    # ints: which element, how many, where (no derivative flows through an index)
    for name in ("argmax", "argmin", "argsort", "count_nonzero"):
        register(Primitive(f"np_{name}", 1, kind_rule=_array if name == "argsort" else _arg_kind,
                           derivative="none",
                           evaluator=lambda lib, x, _f=name, **a: getattr(np, _f)(x, **a)))
    register(Primitive("np_searchsorted", 2,
                       kind_rule=lambda k, a: _I if k[1] is not _A else _A,
                       derivative="none",
                       evaluator=lambda lib, a, v, **kw: np.searchsorted(a, v, **kw)))

    # shapes and constructors: no derivative flows through them
    def constant(name, nin, kind_rule, fn):
        register(Primitive(name, nin, kind_rule=kind_rule, derivative="none",
                           evaluator=lambda lib, *args, **a: fn(*args, **a)))

    constant("dim", 1, _int, lambda x, axis: np.shape(x)[axis])
    constant("ndim", 1, _int, lambda x: np.ndim(x))
    constant("size", VARIADIC, _int,  # of one array, or of several broadcast together
             lambda *xs: np.size(xs[0]) if len(xs) == 1 else np.broadcast(*xs).size)
    constant("np_zeros", VARIADIC, _array, lambda *dims: np.zeros(dims))
    constant("np_ones", VARIADIC, _array, lambda *dims: np.ones(dims))
    constant("np_zeros_like", 1, _array, lambda x, **_: np.zeros_like(x, dtype=float))
    constant("np_ones_like", 1, _array, lambda x: np.ones_like(x, dtype=float))
    constant("eye", 1, _array, lambda n: np.eye(n))
    # an array read from the environment (a global, a closure value): a constant of the
    # derivative, spelt as a name of the generated module (attrs: name, ref)
    constant("env_array", 0, _array, lambda name, ref: ref.value)
    constant("arange", VARIADIC, _array, lambda *args: np.arange(*args))

    # np.kron, np.tensordot (attrs: axes) and their pullbacks (see _product_vjp)
    register(Primitive("np_kron", 2, kind_rule=_array, derivative="rule",
                       jvp_rule=_product_jvp, vjp_rule=_product_vjp,
                       evaluator=lambda lib, a, c, **_: np.kron(a, c)))
    register(Primitive("np_tensordot", 2, kind_rule=_array, derivative="rule",
                       jvp_rule=_product_jvp, vjp_rule=_product_vjp,
                       evaluator=lambda lib, a, c, axes: np.tensordot(a, c, axes=axes)))
    # np.cross(a, b, axis=k) of 3-vectors (attrs: axis, when not the last)
    register(Primitive("np_cross", 2, kind_rule=_array, derivative="rule",
                       jvp_rule=_product_jvp, vjp_rule=_cross_vjp,
                       evaluator=lambda lib, a, c, axis=-1: np.cross(a, c, axis=axis)))
    for name in ("np_kron_bar", "np_tensordot_bar"):
        register(Primitive(name, 3, kind_rule=_array, derivative="rule",
                           jvp_rule=_product_bar_jvp, vjp_rule=_product_bar_vjp,
                           evaluator=_helper_eval("_" + name[3:])))
    # np.take_along_axis(a, indices, axis): a gather; its adjoint scatter-adds (np.add.at)
    linear("np_take_along", _helper_vjp("take_along_bar", "axis"),
           lambda x, idx, axis: np.take_along_axis(x, idx, axis=axis), nin=2)
    linear_helper("take_along_bar", 3, "_take_along_bar", _transpose_by("np_take_along", keep=2))
    # np.linalg.pinv (full rank), whose rules are matrix products of A and P
    register(Primitive("pinv", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_pinv_jvp, vjp_rule=_pinv_vjp,
                       evaluator=lambda lib, a, **_: np.linalg.pinv(a)))
    # np.linalg.qr(A)[part] (reduced; 0: Q, 1: R) and the singular vectors (part 0: U,
    # 2: Vh of full_matrices=False): helpers that recompute the decomposition
    register(Primitive("qr", 1, kind_rule=_array, derivative="rule",
                       jvp_rule=_decomposition_jvp, vjp_rule=_decomposition_vjp,
                       evaluator=lambda lib, a, part: np.linalg.qr(a)[part]))
    for name in ("qr_tangent", "qr_bar", "svd_vectors_tangent", "svd_vectors_bar"):
        helper(name, 2, _array, "_" + name)
