"""NumPy's statistics, running sums and products, differences, sorting, and the
int-valued index functions (allowed, with no derivative)."""

from __future__ import annotations

from . import Call, entry

_DTYPE_WHY = "s2sad computes in float64|leave `dtype` out"
_OUT_WHY = "s2sad's arrays are values, never written into|use the result: `y = np.f(x)`"
_REFUSE = {"dtype": _DTYPE_WHY, "out": _OUT_WHY}


def _var(c: Call):
    """np.var: a primitive (its rules: ``2 (x - mean) / (n - ddof)``)."""
    x = c.array("a")
    axis, keepdims = c.static("axis"), bool(c.static("keepdims"))
    ddof = c.lw.need_int(c.arg("ddof"))
    return c.emit("np_var", [x, ddof], out=True, axis=axis, keepdims=keepdims or None)


_STATS = dict(axis=None, dtype=None, out=None, ddof=0, keepdims=False)


@entry("numpy.var", "a, axis, dtype, out, ddof, keepdims", static="axis keepdims",
       refused=_REFUSE, method=True, **_STATS)
def var(c: Call):
    return _var(c)


@entry("numpy.std", "a, axis, dtype, out, ddof, keepdims", static="axis keepdims",
       refused=_REFUSE, method=True, **_STATS)
def std(c: Call):
    """``sqrt(var)``: its derivative is infinite where the variance is 0 (as NumPy's
    and autograd's)."""
    return c.emit("sqrt", [_var(c)], out=True, lib="numpy")


def _running(name: str) -> None:
    @entry(f"numpy.{name}", "a, axis, dtype, out", static="axis", refused=_REFUSE,
           method=True, axis=None, dtype=None, out=None)
    def lower(c: Call):
        """Along ``axis``; without one, along the flattened array (``np.ravel`` first, so
        that the result has a known shape: its derivative never computes it for that)."""
        x, axis = c.array("a"), c.static("axis")
        if axis is None:
            x, axis = c.emit("ravel", [x]), 0
        return c.emit(f"np_{name}", [x], out=True, axis=axis)


_running("cumsum")
_running("cumprod")


@entry("numpy.diff", "a, n, axis", static="n axis", n=1, axis=-1)
def diff(c: Call):
    """``x[1:] - x[:-1]`` along ``axis``, ``n`` times (slices: no rule of its own)."""
    from ..primitives_numpy import along

    x = c.array("a")
    axis = c.static_int("axis")
    for _ in range(c.static_int("n")):
        hi = c.emit("np_index", [x, c.const(1)], index=along(axis, ("slice", 0, None, None)))
        lo = c.emit("np_index", [x, c.const(-1)], index=along(axis, ("slice", None, 0, None)))
        x = c.emit("sub", [hi, lo])
    return x


_SORT = dict(axis=-1, kind=None, order=None)
_SORT_WHY = {"order": "s2sad sorts arrays of numbers|leave `order` out"}


@entry("numpy.sort", "a, axis, kind, order", static="axis kind", refused=_SORT_WHY, **_SORT)
def sort(c: Call):
    """Sorted along ``axis``; the derivative moves each tangent (adjoint) with its value
    (ties keep their order: a stable sort)."""
    x, axis = c.array("a"), c.static("axis")
    if axis is None:
        x, axis = c.emit("ravel", [x]), -1
    return c.emit("np_sort", [x], out=True, axis=axis)


@entry("numpy.argsort", "a, axis, kind, order", static="axis kind", refused=_SORT_WHY,
       method=True, **_SORT)
def argsort(c: Call):
    x, axis = c.array("a"), c.static("axis")
    if axis is None:
        x, axis = c.emit("ravel", [x]), -1
    return c.emit("np_argsort", [x], out=True, axis=axis)


def _index(name: str) -> None:
    @entry(f"numpy.{name}", "a, axis, out, keepdims", static="axis keepdims", method=True,
           refused={"out": _OUT_WHY}, axis=None, out=None, keepdims=False)
    def lower(c: Call):
        axis, keepdims = c.static("axis"), c.static("keepdims")
        return c.emit(f"np_{name}", [c.array("a")], out=True, axis=axis,
                      keepdims=keepdims or None)


_index("argmax")
_index("argmin")


@entry("numpy.count_nonzero", "a, axis, keepdims", static="axis keepdims", axis=None,
       keepdims=False)
def count_nonzero(c: Call):
    axis, keepdims = c.static("axis"), c.static("keepdims")
    return c.emit("np_count_nonzero", [c.array("a")], out=True, axis=axis,
                  keepdims=keepdims or None)


@entry("numpy.searchsorted", "a, v, side, sorter", static="side",
       refused={"sorter": "s2sad searches sorted arrays|sort the array first: np.sort(a)"},
       side="left", sorter=None)
def searchsorted(c: Call):
    side = c.static("side")
    return c.emit("np_searchsorted", [c.array("a"), c.arg("v")], out=True,
                  side=None if side == "left" else side)
