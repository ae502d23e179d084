"""The array API target: generated code that runs on any array library of the standard.

The Python target's code calls ``np.<name>``.  On ``target="array_api"`` every function
of the module first asks its arguments for their namespace, ``xp = _namespace(x, y)``
(``array_api_compat.array_namespace`` of the arguments that are arrays), and calls
``xp.<name>`` of the standard (https://data-apis.org/array-api/) instead, so one module
runs on NumPy, ``array_api_strict``, Dask, JAX, PyTorch or CuPy arrays.  Decided here or
where :mod:`s2sad.codegen.pyast` asks:

* :data:`NAMES` spells NumPy's functions by the standard's names (``np.arctan`` is
  ``xp.atan``, ``np.power`` ``xp.pow``, ``np.concatenate`` ``xp.concat``); a NumPy
  function with no standard spelling is refused (:func:`refuse`), located;
* the runtime helpers a module calls are the versions in :data:`HELPERS`, which use
  only the standard's functions and attributes (no ``np.broadcast``, no ``.copy()``,
  no in-place writes); a helper of the Python target with no version here is refused;
* arrays are never written in place (``h[t] = v`` is refused): JAX arrays cannot be,
  and Dask graphs should not be;
* Python numbers stay Python numbers, computed with ``math``, but only those surely
  numbers (constants, float parameters, their arithmetic): a function of a reduction is
  ``xp.exp(xp.sum(x))``, since ``math.exp`` would compute a lazy (Dask) 0-d array there.
"""

from __future__ import annotations

import ast

from ..errors import Loc, S2SADError
from ..ir.core import Function, Kind, Value, walk_ops

TARGET = "array_api"
# names generated code reads on this target besides math
RESERVED = frozenset({"xp", "array_api_compat", "_namespace"})
# the targets of s2sad (the Python target, njit.py's, this module's)
TARGETS = ("python", "numba", TARGET)

HINT = "use target='python' for this function (s2sad's default), or rewrite the construct"

# NumPy's name -> the standard's (the same name when both spell it alike)
NAMES: dict[str, str] = {n: n for n in (
    "sum", "mean", "max", "min", "prod", "exp", "log", "sin", "cos", "tan", "tanh", "sinh",
    "cosh", "sqrt", "abs", "log1p", "expm1", "log2", "log10", "square", "hypot",
    "logaddexp", "maximum", "minimum", "where", "expand_dims", "squeeze", "zeros_like",
    "ones_like", "zeros", "ones", "reshape", "stack", "sign", "floor", "ceil", "trunc",
    "round", "clip", "matmul", "tensordot", "eye", "arange", "full", "full_like",
    "exp2", "reciprocal", "negative", "positive", "multiply", "add", "subtract", "divide",
    "isnan", "isfinite", "flip", "roll", "argmax", "argmin", "argsort", "sort",
    "count_nonzero", "searchsorted", "std", "var", "cumulative_sum", "asarray",
    "broadcast_to", "permute_dims", "moveaxis", "vecdot", "empty")}
NAMES.update({"arctan": "atan", "arcsin": "asin", "arccos": "acos", "arcsinh": "asinh",
              "arccosh": "acosh", "arctanh": "atanh", "arctan2": "atan2", "power": "pow",
              "concatenate": "concat", "absolute": "abs", "true_divide": "divide",
              "cumsum": "cumulative_sum", "transpose": "permute_dims"})
# np.<name>(x) that are attributes or helpers here: np.size(x), np.ndim(x), np.shape(x)
AS_HELPER = {"size": "_size", "ndim": "_ndim", "shape": "_shape"}


def refuse(what: str, loc: Loc | None, why: str, hint: str = HINT) -> S2SADError:
    """The located error for a construct that has no array-API spelling."""
    return S2SADError(f"{what} cannot be compiled for the array API target", loc, why=why,
                      hint=hint)


def function_refused(fname: str, loc: Loc | None) -> S2SADError:
    """The error for ``np.<fname>``, which the array API standard does not define."""
    hint = ("write `a @ b` instead of np.dot (the standard's matmul)" if fname == "dot" else HINT)
    return refuse(f"`np.{fname}`", loc, why=f"`{fname}` is not a function of the array API "
                  "standard (nor one s2sad spells with the standard's functions)", hint=hint)


def helper_refused(helper: str, loc: Loc | None) -> S2SADError:
    """The error for a construct whose derivative calls a helper with no array-API version."""
    return refuse("this array expression", loc,
                  why=f"its derivative calls s2sad's helper `{helper}`, which has no array-API "
                      "version yet (it needs NumPy functions outside the standard)")


_NAMESPACE = '''
def _namespace(*xs):
    """The array API namespace of the arrays among xs: NumPy arrays mixed with those
    of one other library (small parameters, large Dask data) take the other library's;
    array_api_compat's wrapper of NumPy when every argument is a Python number."""
    arrays = [x for x in xs if not isinstance(x, (bool, int, float))
              and array_api_compat.is_array_api_obj(x)]
    others = [x for x in arrays if not array_api_compat.is_numpy_array(x)]
    if not arrays:
        from array_api_compat import numpy as numpy_namespace
        return numpy_namespace
    return array_api_compat.array_namespace(*(others or arrays))
'''

HELPERS: dict[str, str] = {
    "_namespace": _NAMESPACE,
    "_unjoin": '''
def _unjoin(g, pieces, how, axis=None):
    """The adjoint of np.<how>(pieces) of a list: g cut back into a list of blocks, each
    in the shape of its piece (one slice per piece)."""
    if how == "concatenate":
        shapes = [_shape(p) for p in pieces]
        sizes = [s[axis] for s in shapes]
    else:  # vstack, hstack, column_stack: not spelled on this target
        raise ValueError(f"np.{how} has no array API spelling")
    lead = (slice(None),) * (axis % _ndim(g))
    blocks, start = [], 0
    for shape, size in zip(shapes, sizes):
        stop = start + size
        block = g[(*lead, slice(start, stop))]
        blocks.append(block if tuple(block.shape) == shape
                      else _namespace(g).reshape(block, shape))
        start = stop
    return blocks
''',
    "_size": '''
def _size(x):
    """The number of elements of x (1 for a Python number)."""
    if isinstance(x, (bool, int, float)):
        return 1
    n = 1
    for d in x.shape:
        n *= d
    return n
''',
    "_ndim": '''
def _ndim(x):
    """The number of axes of x (0 for a Python number)."""
    return 0 if isinstance(x, (bool, int, float)) else x.ndim
''',
    "_shape": '''
def _shape(x):
    """The shape of x (() for a Python number)."""
    return () if isinstance(x, (bool, int, float)) else tuple(x.shape)
''',
    "_broadcast_shape": '''
def _broadcast_shape(*xs):
    """The shape the arrays among xs broadcast to (Python numbers broadcast)."""
    shapes = [tuple(x.shape) for x in xs if not isinstance(x, (bool, int, float))]
    n = max((len(s) for s in shapes), default=0)
    out = [1] * n
    for s in shapes:
        for i, d in enumerate(s, n - len(s)):
            if d != 1:
                if out[i] not in (1, d):
                    raise ValueError(f"shapes {shapes} do not broadcast together")
                out[i] = d
    return tuple(out)
''',
    "_broadcast_size": '''
def _broadcast_size(*xs):
    """How many elements the arrays xs broadcast together have."""
    n = 1
    for d in _broadcast_shape(*xs):
        n *= d
    return n
''',
    "_broadcast_like": '''
def _broadcast_like(t, *like):
    """A tangent that stands for its broadcast, as an array of the shape of xs broadcast."""
    shape = _broadcast_shape(*like)
    if _shape(t) == shape:
        return t
    xp = _namespace(t, *like)
    if isinstance(t, (bool, int, float)):  # a number takes the arrays' dtype (torch: float32)
        t = xp.asarray(t, dtype=next((x.dtype for x in like if not isinstance(
            x, (bool, int, float)) and xp.isdtype(x.dtype, "real floating")), None))
    return xp.broadcast_to(t, shape)
''',
    "_unbroadcast": '''
def _unbroadcast(g, x):
    """The adjoint g of a broadcast result, summed back to the shape of x."""
    if isinstance(x, (bool, int, float)):
        return _namespace(g).sum(g) if _ndim(g) else g
    shape, xp = tuple(x.shape), _namespace(g, x)
    if _shape(g) == shape:
        return g
    if not shape:
        return xp.sum(g)
    if _ndim(g) < len(shape):
        return xp.broadcast_to(xp.asarray(g, dtype=x.dtype), shape)
    if _ndim(g) > len(shape):
        g = xp.sum(g, axis=tuple(range(_ndim(g) - len(shape))))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    return xp.sum(g, axis=axes, keepdims=True) if axes else g
''',
    "_sum_to": '''
def _sum_to(g, x, *like):
    """g, an adjoint that broadcasts to the shape of like broadcast, summed back to the
    shape of x over the axes x was broadcast along."""
    return _unbroadcast(_broadcast_like(g, *like), x)
''',
    "_sum_bar": '''
def _sum_bar(g, x, axis=None, keepdims=False):
    """The adjoint of xp.sum(x, axis, keepdims): g spread over the summed axes."""
    if isinstance(x, (bool, int, float)):
        return g
    xp = _namespace(g, x)
    if _ndim(g) and axis is not None and not keepdims:
        for a in sorted(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))):
            g = xp.expand_dims(g, axis=a)
    return xp.broadcast_to(xp.asarray(g, dtype=x.dtype), tuple(x.shape))
''',
    "_mean_bar": '''
def _mean_bar(g, x, axis=None, keepdims=False):
    """The adjoint of xp.mean(x, axis, keepdims): g shared out over the averaged axes."""
    if isinstance(x, (bool, int, float)):
        return g
    axes = range(x.ndim) if axis is None else axis if isinstance(axis, tuple) else (axis,)
    n = 1
    for a in axes:
        n *= x.shape[a]
    return _sum_bar(g / n, x, axis, keepdims)
''',
    "_extreme_mask": '''
def _extreme_mask(x, y, axis=None, keepdims=False):
    """Where x attains its max or min y along axis; ties share the derivative equally."""
    xp = _namespace(x, y)
    if axis is not None and not keepdims and _ndim(y):
        for a in sorted(a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))):
            y = xp.expand_dims(y, axis=a)
    mask = xp.astype(x == y, x.dtype)
    return mask / xp.sum(mask, axis=axis, keepdims=True)
''',
    "_matmul_bar_a": '''
def _matmul_bar_a(g, a, b):
    """The adjoint of a in a @ b (a, b vectors, matrices or stacks of matrices)."""
    xp = _namespace(g, a, b)
    if b.ndim == 1:
        return g * b if a.ndim == 1 else xp.expand_dims(g, axis=-1) * b
    if a.ndim == 1:
        gb = xp.expand_dims(g, axis=-2) @ xp.matrix_transpose(b)
        return xp.sum(xp.reshape(gb, (-1, a.shape[0])), axis=0)
    return _unbroadcast(g @ xp.matrix_transpose(b), a)
''',
    "_matmul_bar_b": '''
def _matmul_bar_b(g, a, b):
    """The adjoint of b in a @ b (a, b vectors, matrices or stacks of matrices)."""
    xp = _namespace(g, a, b)
    if a.ndim == 1:
        return g * a if b.ndim == 1 else xp.expand_dims(a, axis=-1) * xp.expand_dims(g, axis=-2)
    if b.ndim == 1 and a.ndim == 2:
        return g @ a  # (aᵀ g, without a transposed copy of a: XLA makes one)
    if b.ndim == 1:
        ag = xp.matrix_transpose(a) @ xp.expand_dims(g, axis=-1)
        return xp.sum(xp.reshape(ag, (-1, b.shape[0])), axis=0)
    return _unbroadcast(xp.matrix_transpose(a) @ g, b)
''',
    "_scalar_seed": '''
def _scalar_seed(*xs):
    """1.0, the seed of a gradient; only a scalar output has a gradient."""
    if any(_ndim(x) != 0 for x in xs):
        raise ValueError("grad needs a scalar output, not an array of shape %s: use vjp, "
                         "or reduce the output (xp.sum, xp.mean)" % (_broadcast_shape(*xs),))
    return 1.0
''',
    "_matmul_seed": '''
def _matmul_seed(a, b):
    """1.0, the seed of a gradient whose output is a @ b: a scalar only for two vectors."""
    if _ndim(a) != 1 or _ndim(b) != 1:
        raise ValueError("grad needs a scalar output, not the array a @ b of a %s-D and "
                         "a %s-D array: use vjp, or reduce the output (xp.sum, xp.mean)"
                         % (_ndim(a), _ndim(b)))
    return 1.0
''',
    "_scalar_input": '''
def _scalar_input(x):
    """1.0, the seed of a forward-mode gradient; only right for a scalar argument."""
    if _ndim(x) != 0:
        raise ValueError("a forward-mode gradient needs a scalar argument, not an array of "
                         "shape %s: use mode='reverse', or jvp" % (_shape(x),))
    return 1.0
''',
    "_at": '''
def _at(x, copy=False):
    """x.at, JAX's functional update: _at(x)[i].set(v) is x with x[i] = v (.add(v): with
    x[i] += v), a new array.  Arrays of the other libraries can be written: the same
    spelling writes into x itself (into a copy of x if copy) and returns it."""
    if array_api_compat.is_jax_array(x):
        return x.at
    return _Writer(_namespace(x).asarray(x, copy=True) if copy else x)


class _Writer:
    """_at(x)[index].set(v) / .add(v) on an array that can be written: in place."""

    def __init__(self, x):
        self.x, self.index = x, None

    def __getitem__(self, index):
        self.index = index
        return self

    def set(self, v):
        self.x[self.index] = v
        return self.x

    def add(self, v):
        parts = self.index if type(self.index) is tuple else (self.index,)
        if any(hasattr(p, "dtype") and p.dtype != bool for p in parts):
            # x[idx] += v adds a repeated element of idx once: JAX's .at[idx].add(v) adds
            # each (NumPy's np.add.at is not part of the standard)
            raise TypeError("an array of indices: use JAX arrays, or target='python'")
        self.x[self.index] += v
        return self.x
''',
    "_index_bar": '''
def _index_bar(g, x, index):
    """The adjoint of x[index]: zeros of x's shape with g added at index (each read of an
    element an array of indices repeats adds its share: JAX only, see _Writer.add)."""
    xp = _namespace(g, x)
    return _at(xp.zeros(tuple(x.shape), dtype=x.dtype))[index].add(g)
''',
    "_one_array": '''
def _one_array(x, name, function, where):
    """x, argument `name` that `function` reads as one array: it must be one."""
    if isinstance(x, (list, tuple)):
        raise TypeError(f"`{name}` of `{function}` is a {type(x).__name__}, which the "
                        f"array API gradient reads as one array ({where}): pass an array")
    return x
''',
    "_zero_like": '''
def _zero_like(x):
    """A zero of x's kind: 0.0 for a Python number, float zeros of x's shape otherwise."""
    if isinstance(x, (bool, int, float)):
        return 0.0
    return _namespace(x).zeros_like(x)
''',
}

# what each helper calls (besides _namespace, which every module defines)
_NEEDS = {"_broadcast_size": {"_broadcast_shape"}, "_index_bar": {"_at"},
          "_broadcast_like": {"_broadcast_shape", "_shape"},
          "_unbroadcast": {"_shape", "_ndim"},
          "_sum_to": {"_unbroadcast", "_broadcast_like", "_broadcast_shape", "_shape", "_ndim"},
          "_sum_bar": {"_ndim"}, "_mean_bar": {"_sum_bar", "_ndim"},
          "_extreme_mask": {"_ndim"}, "_scalar_seed": {"_ndim", "_broadcast_shape"},
          "_matmul_seed": {"_ndim"}, "_scalar_input": {"_ndim", "_shape"},
          "_matmul_bar_a": {"_unbroadcast", "_shape", "_ndim"},
          "_matmul_bar_b": {"_unbroadcast", "_shape", "_ndim"},
          "_unjoin": {"_ndim", "_shape"}}


def needs(helper: str) -> set[str]:
    """The helpers ``helper`` calls."""
    return _NEEDS.get(helper, set())


def helper_definitions(names: set[str]) -> list[ast.stmt]:
    """The ``def`` statements of the helpers a module uses, with those they call and
    ``_namespace`` (in a fixed order)."""
    names = set(names).union(*(needs(n) for n in names)) | {"_namespace"}
    return [stmt for name in HELPERS if name in names
            for stmt in ast.parse(HELPERS[name]).body]


def namespace_line(params: list[str]) -> ast.stmt:
    """``xp = _namespace(x, y)``: the namespace of a function's arguments."""
    return ast.Assign(targets=[ast.Name("xp", ast.Store())],
                      value=ast.Call(ast.Name("_namespace", ast.Load()),
                                     [ast.Name(p, ast.Load()) for p in params], []))


# ops whose result is a Python int even of an array (shapes are static under jax.jit)
_SHAPE_QUERIES = frozenset({"len", "dim", "shape_item", "ndim", "size"})
_CONTROL_HINT = ("choose between values with `np.where(cond, a, b)` (both sides are "
                 "computed), or use target='python' for a loop that runs until an array "
                 "value says stop")


def array_valued(fn: Function) -> set[Value]:
    """The values of ``fn`` computed from arrays (not only from their shapes): a reduction,
    its arithmetic, a comparison of it; at run time 0-d arrays, which are JAX tracers under
    ``jax.jit`` and lazy on Dask.  A parameter itself is not one: a number the caller
    passes (``range(n)``, ``if t > 0``) is a Python number, static under ``jax.jit``.
    A loop's carried values count (to a fixed point); tapes and checkpoints do not: what
    they record for a branch was checked where the branch was taken."""
    tainted: set[Value] = set()
    changed = True

    def mark(values) -> None:
        nonlocal changed
        for v in values:
            if v not in tainted:
                tainted.add(v)
                changed = True

    def data(v: Value) -> bool:
        return v in tainted or v.kind is Kind.ARRAY

    while changed:
        changed = False
        for op in walk_ops(fn.body):
            if op.prim in _SHAPE_QUERIES or op.prim.startswith(("tape_", "ckpt_")):
                continue
            if op.prim in ("for_range", "while_loop"):
                inits = op.operands[3:] if op.prim == "for_range" else op.operands
                body = op.regions[-1]
                args = [r.args[len(r.args) - len(inits):] for r in op.regions]
                for j, init in enumerate(inits):
                    if init in tainted or body.yields[j] in tainted:
                        mark([op.results[j], *(a[j] for a in args)])
            elif op.prim == "cond":
                mark([r for j, r in enumerate(op.results)
                      if any(region.yields[j] in tainted for region in op.regions)])
            elif any(data(v) for v in op.operands):
                mark(op.results)
    return tainted


def control_refused(fn: Function) -> S2SADError | None:
    """The located error for the first branch or loop of ``fn`` whose test or trip count
    is an array value (:func:`array_valued`), or None.  Such code cannot be traced by
    ``jax.jit`` (a tracer has no truth value) and would compute a Dask graph mid-call, so
    this target refuses it at compile time rather than fail inside the tracer."""
    tainted = array_valued(fn)
    for op in walk_ops(fn.body):
        if op.prim == "cond" and op.operands[0] in tainted:
            what = "an `if` on an array value"
        elif op.prim == "while_loop" and op.regions[0].yields[0] in tainted:
            what = "a `while` loop whose test is an array value"
        elif op.prim == "for_range" and any(v in tainted for v in op.operands[:3]):
            what = "a `for` loop whose count is an array value"
        else:
            continue
        return refuse(what, op.loc, why="its test is a 0-d array (a reduction of the "
                      "arguments): `jax.jit` cannot trace Python control flow on it, and "
                      "Dask would compute it in the middle of the gradient", hint=_CONTROL_HINT)
    return None
