"""NumPy's functions that build and rearrange arrays: constant-filled arrays, joins of
pieces, repeats and tiles, rolls and flips, triangles and diagonals, dtype changes,
``einsum``."""

from __future__ import annotations

import ast

from . import Call, entry

_DTYPE_WHY = "s2sad computes in float64|leave `dtype` out"


@entry("numpy.full", "shape, fill_value, dtype", refused={"dtype": _DTYPE_WHY}, dtype=None)
def full(c: Call):
    """``np.zeros(shape) + fill_value``: the derivative of the fill value is summed."""
    from ..frontend.arrays import Shape

    shape = c.lw.expr(c.nodes["shape"], c.ctx)
    if isinstance(shape, Shape):
        zeros = c.emit("np_zeros_like", [shape.array])
    else:
        zeros = c.emit("np_zeros", c.lw._dims(shape, c.nodes["shape"], c.ctx))
    return c.emit("add", [zeros, c.arg("fill_value")], out=True)


@entry("numpy.full_like", "a, fill_value, dtype", refused={"dtype": _DTYPE_WHY}, dtype=None)
def full_like(c: Call):
    zeros = c.emit("np_zeros_like", [c.array("a")])
    return c.emit("add", [zeros, c.arg("fill_value")], out=True)


def _atleast(n: int) -> None:
    @entry(f"numpy.atleast_{n}d", "*arys")
    def lower(c: Call):
        if len(c.items()) != 1:
            raise c.error(f"`{c.spelled}` of {len(c.items())} arrays is not supported",
                          hint=f"call it on each array: `a = np.atleast_{n}d(a)`")
        x = c.lw.as_array(c.lw.value(c.items()[0], c.ctx), c.node, c.ctx)
        return c.emit("atleast", [x], out=True, n=n)


for _n in (1, 2, 3):
    _atleast(_n)


def _join(how: str) -> None:
    @entry(f"numpy.{how}", "tup, dtype, casting", refused={"dtype": _DTYPE_WHY},
           static="casting", dtype=None, casting="same_kind")
    def lower(c: Call):
        seq = c.nodes["tup"]
        if isinstance(seq, (ast.List, ast.Tuple)) and seq.elts and not any(
                isinstance(e, ast.Starred) for e in seq.elts):
            items = [c.lw.as_array(c.lw.value(e, c.ctx), e, c.ctx) for e in seq.elts]
        else:  # a tuple known when compiling: *args, `args + (ones,)`, a container's items
            got = c.lw.expr(seq, c.ctx)
            if not isinstance(got, tuple) or not got or not all(
                    hasattr(v, "kind") for v in got):
                raise c.error(f"`{c.spelled}` needs a list of arrays written in the call",
                              at=seq, why="s2sad must know the number of pieces when it "
                                          "compiles", hint=f"{c.spelled}([a, b, c])")
            items = [c.lw.as_array(v, seq, c.ctx) for v in got]
        return c.emit("np_join", items, out=True, how=how)


for _how in ("hstack", "vstack", "column_stack"):
    _join(_how)


@entry("numpy.repeat", "a, repeats, axis", static="axis", method=True, axis=None)
def repeat(c: Call):
    r = c.arg("repeats")
    if r.kind.name != "INT":
        raise c.error("`repeats` must be one int here", at=c.nodes.get("repeats"),
                      why="s2sad repeats every element the same number of times",
                      hint="np.repeat(x, 3); for counts per element, build the array with "
                           "np.concatenate")
    return c.emit("np_repeat", [c.array("a"), r], out=True, axis=c.static("axis"))


@entry("numpy.tile", "A, reps")
def tile(c: Call):
    reps = c.lw.expr(c.nodes["reps"], c.ctx)
    dims = c.lw._dims(reps, c.nodes["reps"], c.ctx)
    return c.emit("np_tile", [c.array("A"), *dims], out=True)


@entry("numpy.roll", "a, shift, axis", static="axis", axis=None)
def roll(c: Call):
    shift = c.lw.need_int(c.arg("shift"))
    return c.emit("np_roll", [c.array("a"), shift], out=True, axis=c.static("axis"))


@entry("numpy.flip", "m, axis", static="axis", axis=None)
def flip(c: Call):
    return c.emit("np_flip", [c.array("m")], out=True, axis=c.static("axis"))


@entry("numpy.fliplr", "m")
def fliplr(c: Call):
    return c.emit("np_flip", [c.array("m")], out=True, axis=1)


@entry("numpy.flipud", "m")
def flipud(c: Call):
    return c.emit("np_flip", [c.array("m")], out=True, axis=0)


def _triangle(name: str) -> None:
    @entry(f"numpy.{name}", "m, k", static="k", k=0)
    def lower(c: Call):
        k = c.static_int("k")
        return c.emit(f"np_{name}", [c.array("m")], out=True, k=k or None)


_triangle("triu")
_triangle("tril")


@entry("numpy.diag", "v, k", static="k", k=0)
def diag(c: Call):
    """A vector's diagonal matrix, or a matrix's diagonal (by the run-time ndim)."""
    k = c.static_int("k")
    return c.emit("np_diag", [c.array("v")], out=True, k=k or None)


@entry("numpy.diagonal", "a, offset, axis1, axis2", static="offset axis1 axis2", method=True,
       offset=0, axis1=0, axis2=1)
def diagonal(c: Call):
    """``np.diagonal`` of a matrix (the default axes): np.diag's, whose rule it shares."""
    if (c.static("axis1"), c.static("axis2")) != (0, 1):
        raise c.error("`np.diagonal` with other axes than 0 and 1 is not supported",
                      hint="move the axes first with np.swapaxes / .T, or use np.einsum")
    k = c.static_int("offset")
    return c.emit("np_diag", [c.array("a")], out=True, k=k or None)


_FLOATS = {"float": "float", "float64": "float64", "double": "float64", "float32": "float32",
           "single": "float32", "float16": "float16", "int": "int", "int64": "int",
           "int32": "int"}


def dtype_name(c: Call, node: ast.expr) -> str:
    """``float``, ``np.float32``, ``"float64"``: the dtype's name, or a located error."""
    text = node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) \
        else ast.unparse(node).rpartition(".")[2]
    if text not in _FLOATS:
        raise c.error(f"the dtype `{ast.unparse(node)}` is not supported", at=node,
                      why="s2sad differentiates real numbers (complex dtypes are not)",
                      hint="float, np.float64, np.float32, or int (no derivative)")
    return _FLOATS[text]


@entry("numpy.ndarray.astype", "x, dtype", method=True)
def astype(c: Call):
    """``x.astype(float)`` is x itself; ``np.float32`` rounds (the derivative passes);
    ``int`` truncates (no derivative)."""
    dtype = dtype_name(c, c.nodes["dtype"])
    x = c.arg("x")
    if dtype in ("float", "float64"):
        return x
    return c.emit("astype", [x], out=True, dtype=dtype)


def _scalar_type(name: str) -> None:
    @entry(f"numpy.{name}", "x")
    def lower(c: Call):
        dtype = _FLOATS[name]
        x = c.arg("x")
        return x if dtype == "float64" else c.emit("astype", [x], out=True, dtype=dtype)


for _t in ("float64", "float32", "double"):
    _scalar_type(_t)


@entry("numpy.einsum", "subscripts, *operands")
def einsum(c: Call):
    """Explicit subscripts (``"ij,jk->ik"``); each operand's adjoint is an einsum of the
    result's adjoint with the others."""
    spec = c.static("subscripts")
    if not isinstance(spec, str) or "->" not in spec or "." in spec:
        raise c.error("`np.einsum` needs explicit subscripts written in the call",
                      at=c.nodes.get("subscripts"), why="s2sad reads the output letters "
                      "from '->' (implicit output and '...' are not supported)",
                      hint='np.einsum("ij,jk->ik", a, b)')
    ops = [c.lw.as_array(c.lw.value(e, c.ctx), e, c.ctx) for e in c.items()]
    if len(ops) != spec.count(",") + 1:
        raise c.error(f"`np.einsum(\"{spec}\", ...)` needs {spec.count(',') + 1} operands")
    return c.emit("np_einsum", ops, out=True, subscripts=spec.replace(" ", ""))


@entry("numpy.meshgrid", "*xi, indexing", static="indexing", indexing="xy")
def meshgrid(c: Call):
    """Each 1-D input broadcast along the others' axes (``indexing="xy"``: the first two
    axes swapped): ``zeros(shape) + x[:, None, …]``, so each adjoint is a sum."""

    indexing = c.static("indexing")
    if indexing not in ("xy", "ij"):
        raise c.error("`indexing` of np.meshgrid must be \"xy\" or \"ij\"",
                      at=c.nodes.get("indexing"), hint='indexing="ij"')
    xs = [c.lw.as_array(c.lw.value(e, c.ctx), e, c.ctx) for e in c.items()]
    if not xs:
        raise c.error("`np.meshgrid` needs arrays", hint="np.meshgrid(x, y)")
    order = list(range(len(xs)))
    if indexing == "xy" and len(xs) > 1:
        order[0], order[1] = 1, 0  # the grid's axis k runs along input order[k]
    dims = [c.emit("dim", [xs[k]], axis=0) for k in order]
    zeros = c.emit("np_zeros", dims)
    out = []
    for j, x in enumerate(xs):
        axis = order.index(j)
        index = tuple(("none",) if a != axis else ("slice", None, None, None)
                      for a in range(len(xs)))
        shaped = c.emit("np_index", [x], index=index)
        out.append(c.emit("add", [zeros, shaped]))
    return tuple(out)


def _two_axes(name: str) -> None:
    @entry(f"numpy.{name}", "a, source, destination" if name == "moveaxis" else
           "a, axis1, axis2", static="source destination axis1 axis2", method=name == "swapaxes")
    def lower(c: Call):
        a, b = (c.static(p) for p in c.entry.params[1:])
        for p, v in zip(c.entry.params[1:], (a, b), strict=True):
            if not isinstance(v, int) or isinstance(v, bool):
                raise c.error(f"`{p}` of `{c.spelled}` must be one int here",
                              at=c.nodes.get(p), hint=f"{c.spelled}(x, 0, -1)")
        return c.emit("np_axes", [c.array("a")], out=True, how=name, a=a, b=b)


_two_axes("swapaxes")
_two_axes("moveaxis")


@entry("numpy.rollaxis", "a, axis, start", static="axis start", start=0)
def rollaxis(c: Call):
    """``np.moveaxis(a, axis, start)``, one less when start lies after the axis (NumPy's
    rule for axes counted from the front; negative ones need the ndim, known only when the
    function runs)."""
    axis, start = c.static("axis"), c.static("start")
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
               for v in (axis, start)):
        raise c.error("`np.rollaxis` needs axes counted from the front (ints ≥ 0)",
                      at=c.nodes.get("axis") if not isinstance(axis, int) or axis < 0 else
                      c.nodes.get("start"), why="where a negative axis lands depends on the "
                      "array's ndim, known only when the function runs",
                      hint="np.moveaxis(x, source, destination) (negative axes allowed)")
    return c.emit("np_axes", [c.array("a")], out=True, how="moveaxis", a=axis,
                  b=start - 1 if start > axis else start)


@entry("numpy.permute_dims", "a, axes", static="axes")
def permute_dims(c: Call):
    axes = c.static("axes")
    if not isinstance(axes, tuple):
        raise c.error("`axes` must be a tuple of ints", at=c.nodes.get("axes"),
                      hint="np.permute_dims(x, (1, 0))")
    return c.emit("np_axes", [c.array("a")], out=True, how="transpose", a=axes)


@entry("numpy.broadcast_to", "array, shape")
def broadcast_to(c: Call):
    """``np.zeros(shape) + x`` (a new array, not NumPy's read-only view): the adjoint is
    summed back over the broadcast axes."""
    from ..frontend.arrays import Shape

    shape = c.lw.expr(c.nodes["shape"], c.ctx)
    zeros = (c.emit("np_zeros_like", [shape.array]) if isinstance(shape, Shape) else
             c.emit("np_zeros", c.lw._dims(shape, c.nodes["shape"], c.ctx)))
    return c.emit("add", [zeros, c.arg("array")], out=True)


@entry("numpy.linspace", "start, stop, num, endpoint", static="endpoint", num=50, endpoint=True)
def linspace(c: Call):
    """``start + (stop - start) · arange(num) / (num - 1)`` (``/ num`` without the
    endpoint): differentiable in start and stop (numbers)."""
    start, stop, num = c.arg("start"), c.arg("stop"), c.lw.need_int(c.arg("num"))
    steps = num if not c.static("endpoint") else c.emit("sub", [num, c.const(1)])
    ramp = c.emit("div", [c.emit("arange", [num]), c.emit("max2", [steps, c.const(1)],
                                                          lib="builtin")])
    return c.emit("add", [start, c.emit("mul", [c.emit("sub", [stop, start]), ramp])],
                  out=True)


def _split(name: str, axis: int | None) -> None:
    @entry(f"numpy.{name}", "ary, indices_or_sections, axis" if axis is None else
           "ary, indices_or_sections", static="indices_or_sections axis", axis=0)
    def lower(c: Call):
        """Pieces as slices: ``n`` equal ones (a constant n) or cut at constant indices."""
        from ..primitives_numpy import along

        x = c.array("ary")
        ax = c.static_int("axis") if axis is None else axis
        cuts = c.static("indices_or_sections")
        if isinstance(cuts, int) and not isinstance(cuts, bool):
            size = c.emit("floordiv", [c.emit("dim", [x], axis=ax), c.const(cuts)])
            bounds = [c.emit("mul", [size, c.const(k)]) for k in range(cuts + 1)]
            bounds[0] = None
            bounds[-1] = None
        elif isinstance(cuts, tuple) and all(isinstance(k, int) for k in cuts):
            bounds = [None, *(c.const(k) for k in cuts), None]
        else:
            raise c.error(f"`{c.spelled}` needs a constant number of pieces or a tuple of "
                          "indices", at=c.nodes.get("indices_or_sections"),
                          hint=f"{c.spelled}(x, 3) or {c.spelled}(x, (2, 5))")
        pieces = []
        for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
            dynamic = [v for v in (lo, hi) if v is not None]
            item = ("slice", None if lo is None else 0,
                    None if hi is None else (1 if lo is not None else 0), None)
            pieces.append(c.emit("np_index", [x, *dynamic], index=along(ax, item)))
        return tuple(pieces)


_split("split", None)
_split("array_split", None)
_split("vsplit", 0)
_split("hsplit", 1)
_split("dsplit", 2)


@entry("numpy.astype", "x, dtype")
def astype_function(c: Call):
    """NumPy 2's ``np.astype(x, dtype)``: as ``x.astype(dtype)``."""
    return astype(c)


@entry("numpy.rot90", "m, k, axes", static="k axes", k=1, axes=(0, 1))
def rot90(c: Call):
    """NumPy's own construction: flips and a swap of the two axes."""
    k, axes = c.static_int("k") % 4, c.static("axes")
    x = c.array("m")
    a, b = axes
    if k == 0:
        return x
    if k == 2:
        return c.emit("np_flip", [c.emit("np_flip", [x], axis=a)], out=True, axis=b)
    if k == 1:
        return c.emit("np_axes", [c.emit("np_flip", [x], axis=b)], out=True, how="swapaxes",
                      a=a, b=b)
    return c.emit("np_flip", [c.emit("np_axes", [x], how="swapaxes", a=a, b=b)], out=True,
                  axis=b)


@entry("numpy.pad", "array, pad_width, mode, constant_values", static="pad_width mode",
       mode="constant", constant_values=0.0)
def pad(c: Call):
    """Constant padding (a constant or differentiated fill value); the adjoint of the
    array is the adjoint's middle, the fill value's the sum of the rest."""
    if c.static("mode") != "constant":
        raise c.error(f"np.pad with mode={c.static('mode')!r} is not supported",
                      at=c.nodes.get("mode"), why="s2sad pads with a constant",
                      hint='mode="constant" (the default), or build the border with '
                           "np.concatenate")
    widths = c.static("pad_width")
    ok = isinstance(widths, int) or (isinstance(widths, tuple) and all(
        isinstance(w, int) or (isinstance(w, tuple) and all(isinstance(v, int) for v in w))
        for w in widths))
    if not ok or isinstance(widths, bool):
        raise c.error("`pad_width` of np.pad must be constant ints", at=c.nodes.get(
            "pad_width"), hint="np.pad(x, 2) or np.pad(x, ((1, 1), (0, 2)))")
    x = c.array("array")
    padded = c.emit("np_pad", [x], widths=widths)
    fill = c.arg("constant_values")
    if c.lw.b.const_value(fill) == 0:
        return padded
    ones = c.emit("np_pad", [c.emit("np_zeros_like", [x])], widths=widths, fill=1.0)
    return c.emit("add", [padded, c.emit("mul", [ones, fill])], out=True)


@entry("numpy.take", "a, indices, axis, out, mode", static="axis mode", method=True,
       refused={"out": "assign the result to a name"}, axis=None, out=None, mode="raise")
def take(c: Call):
    """``a[indices]`` along ``axis`` (of ``a`` flattened when it is None): a gather, whose
    adjoint adds every read of a repeated index."""
    if c.static("mode") != "raise":
        raise c.error("`np.take` with `mode=` other than 'raise' is not supported",
                      at=c.nodes.get("mode"), hint="index in range (np.clip the indices)")
    a, idx = c.array("a"), c.arg("indices")
    axis = c.static("axis")
    tag = "array" if idx.kind.name in ("ARRAY", "BOOL") else "int"
    if axis is None:
        a, template = c.emit("ravel", [a]), ((tag, 0),)
    elif axis >= 0:
        template = (("slice", None, None, None),) * axis + ((tag, 0),)
    elif axis == -1:
        template = (("ellipsis",), (tag, 0))
    else:
        raise c.error("`np.take` along a negative axis other than -1 is not supported",
                      at=c.nodes.get("axis"), hint="give the axis from the front: axis=0")
    return c.emit("np_index", [a, idx], out=True, index=template, gather=True)


# -- products and gathers along axes ---------------------------------------------------------

@entry("numpy.kron", "a, b")
def kron(c: Call):
    """The Kronecker product; each operand's adjoint contracts the product's adjoint with
    the other operand (one ``np.tensordot``: O(size of the product))."""
    return c.emit("np_kron", [c.array("a"), c.array("b")], out=True)


def _as_tuples(v):
    return tuple(_as_tuples(e) for e in v) if isinstance(v, (list, tuple)) else v


@entry("numpy.tensordot", "a, b, axes", static="axes", axes=2)
def tensordot(c: Call):
    """``axes`` an int (a's last axes with b's first) or a pair of lists of axes; each
    adjoint is again a tensordot, with the axes put back in the operand's order."""
    node = c.nodes.get("axes")
    try:  # ([1], [0]): lists, which c.static does not read
        axes = _as_tuples(ast.literal_eval(node)) if node is not None else 2
    except ValueError:
        axes = c.static("axes")
    pair = isinstance(axes, tuple) and len(axes) == 2 and all(
        isinstance(s, int) or (isinstance(s, tuple) and all(isinstance(i, int) for i in s))
        for s in axes)
    if pair:
        axes = tuple(s if isinstance(s, tuple) else (s,) for s in axes)
        if len(axes[0]) != len(axes[1]):
            raise c.error("the two lists of `axes` of np.tensordot differ in length",
                          at=c.nodes.get("axes"), hint="np.tensordot(a, b, axes=([1], [0]))")
    elif not isinstance(axes, int) or isinstance(axes, bool) or axes < 0:
        raise c.error("`axes` of np.tensordot must be a constant int or a pair of lists of "
                      "ints", at=c.nodes.get("axes"),
                      hint="np.tensordot(a, b, axes=1) or np.tensordot(a, b, axes=([1], [0]))")
    return c.emit("np_tensordot", [c.array("a"), c.array("b")], out=True, axes=axes)


@entry("numpy.cross", "a, b, axisa, axisb, axisc, axis", static="axisa axisb axisc axis",
       axisa=-1, axisb=-1, axisc=-1, axis=None)
def cross(c: Call):
    """The cross product of 3-vectors along ``axis`` (broadcast over the other axes).
    Its adjoints are cross products again (``ā = b × ḡ``, ``b̄ = ḡ × a``, summed back
    over broadcast axes), so Hessians need no new rule.  NumPy's 2-vectors (deprecated
    since NumPy 2.0) are not supported: their adjoint raises ValueError in np.cross."""
    axis = c.static("axis")
    axes = {c.static(p) for p in ("axisa", "axisb", "axisc")}
    if axis is None:
        if len(axes) != 1:
            raise c.error("np.cross with different `axisa`, `axisb`, `axisc` is not "
                          "supported", why="s2sad takes the vectors along one axis",
                          hint="move the axes first (np.moveaxis), then np.cross(a, b, axis=k)")
        axis = axes.pop()
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise c.error("`axis` of np.cross must be one int", at=c.nodes.get("axis"),
                      hint="np.cross(a, b, axis=0)")
    return c.emit("np_cross", [c.array("a"), c.array("b")], out=True,
                  axis=None if axis == -1 else axis)


@entry("numpy.take_along_axis", "arr, indices, axis", static="axis", axis=-1)
def take_along_axis(c: Call):
    """A gather along one axis (of ``arr`` flattened for ``axis=None``); its adjoint adds
    every read into zeros with ``np.add.at``, so a repeated index adds each read."""
    axis = c.static("axis")
    x = c.array("arr")
    if axis is None:
        x, axis = c.emit("ravel", [x]), 0
    elif not isinstance(axis, int) or isinstance(axis, bool):
        raise c.error("`axis` of np.take_along_axis must be one int or None",
                      at=c.nodes.get("axis"), hint="np.take_along_axis(a, idx, axis=1)")
    return c.emit("np_take_along", [x, c.arg("indices")], out=True, axis=axis)
