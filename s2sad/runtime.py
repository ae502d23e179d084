"""The small NumPy helpers that generated array code calls, as source text.

Generated modules must not import s2sad (DESIGN §6), so a helper that an
array derivative needs — summing a broadcast adjoint back to its operand's
shape, the adjoint of a matrix product whose operands may be vectors — is
*copied into* the module that uses it.  This file is the one place each
helper is written: code generation pastes the text of those a module calls
(:func:`source_of`), and the reference interpreter and constant folding run
the very same text (:func:`function`), so the two cannot drift apart.

Each helper is written for any shape that NumPy accepts in the primal: the
shapes of arrays are known only at run time.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

HELPERS: dict[str, str] = {}


def _helper(name: str, source: str) -> None:
    HELPERS[name] = source.strip("\n") + "\n"


_helper("_unbroadcast", '''
def _unbroadcast(g, x):
    """The adjoint g of a broadcast result, summed back to the shape of x."""
    if isinstance(x, (float, int)):  # a scalar (NumPy's too): the sum over all copies
        return g.sum() if isinstance(g, np.ndarray) and g.ndim else g
    shape = x.shape if isinstance(x, np.ndarray) else np.shape(x)
    if (g.shape if isinstance(g, np.ndarray) else np.shape(g)) == shape:
        return g
    if not shape:
        return np.sum(g)
    if np.ndim(g) < len(shape):
        return np.broadcast_to(g, shape).copy()
    g = np.sum(g, axis=tuple(range(np.ndim(g) - len(shape))))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and np.shape(g)[i] != 1)
    return np.sum(g, axis=axes, keepdims=True) if axes else g
''')

_helper("_sum_to", '''
def _sum_to(g, x, *like):
    """g, an adjoint that broadcasts to the shape of np.broadcast(*like), summed back
    to the shape of x over the axes NumPy broadcast x along."""
    return _unbroadcast(_broadcast_like(g, *like), x)
''')

_helper("_zero_like", '''
def _zero_like(x):
    """The gradient of a parameter the function never reads: a zero of x's kind."""
    if isinstance(x, np.ndarray):
        return np.zeros(x.shape)
    return [0.0] * len(x) if hasattr(x, "__len__") else 0.0
''')

_helper("_broadcast_like", '''
def _broadcast_like(t, *like):
    """A tangent that stands for its broadcast, as an array of the shape of np.broadcast(*like)."""
    shape = _broadcast_shape(*like)
    if (t.shape if isinstance(t, np.ndarray) else np.shape(t)) == shape:
        return t
    return np.broadcast_to(t, shape).copy()
''')

_helper("_broadcast_shape", '''
def _broadcast_shape(*xs):
    """np.broadcast(*xs).shape, without building the broadcast when the arrays among xs
    have one shape and the rest are scalars (the common case)."""
    shape = ()
    for x in xs:
        if isinstance(x, np.ndarray):
            if x.shape != shape and x.ndim:
                if shape:
                    return np.broadcast(*xs).shape
                shape = x.shape
        elif not isinstance(x, (float, int)):
            return np.broadcast(*xs).shape
    return shape
''')

_helper("_broadcast_size", '''
def _broadcast_size(*xs):
    """np.broadcast(*xs).size: how many elements the arrays xs broadcast together have."""
    n = 1
    for d in _broadcast_shape(*xs):
        n *= d
    return n
''')

_helper("_argmax", '''
def _argmax(xs):
    """The index of the first largest item of xs (a list, tuple or 1-D array): the
    item max(xs) returns, which alone gets the derivative of max(xs)."""
    return (xs if isinstance(xs, (list, tuple)) else list(xs)).index(max(xs))
''')

_helper("_argmin", '''
def _argmin(xs):
    """The index of the first smallest item of xs (a list, tuple or 1-D array): the
    item min(xs) returns, which alone gets the derivative of min(xs)."""
    return (xs if isinstance(xs, (list, tuple)) else list(xs)).index(min(xs))
''')

_helper("_like_argument", '''
def _like_argument(g, x):
    """The gradient g (a list) of argument x, of x's type: g itself when x is a list or a
    tuple, a float array of x's shape when x is a NumPy array (x.astype makes it: no
    NumPy import)."""
    if type(x).__module__ != "numpy" or not hasattr(x, "astype"):
        return g
    out = x.astype(float)  # a new array of x's shape, without importing NumPy here
    out[...] = g
    return out
''')

_helper("_one_array", '''
def _one_array(x, name, function, where):
    """x, argument `name` that `function` treats as one array.  A list or tuple of arrays
    of one shape is that array (np.asarray); of different shapes it is refused: lists of
    arrays are not supported yet.  O(1) for an array, O(len(x)) for a list."""
    if not isinstance(x, (list, tuple)):
        return x
    if len({np.shape(item) for item in x}) > 1:
        what = "`" + name + "` is a list of arrays of different shapes, but `" + function
        what += "` reads its items as the items of one array (" + where + ")."
        fix = " Lists of arrays are not supported yet: pass the arrays as separate"
        fix += " parameters of `" + function + "`, or stack them into one array (np.stack)"
        raise TypeError(what + fix + " if they can have one shape.")
    return np.asarray(x)
''')

# helpers that need no NumPy: a module that calls only these does not import it
_helper("_replace_fields", '''
def _replace_fields(obj, **fields):
    """A copy of obj (a dataclass, or an object with attributes) with these fields
    replaced, made without calling its __init__, as a container is rebuilt from its
    leaves; its other fields keep their values."""
    import copy

    new = copy.copy(obj)
    for name, value in fields.items():
        object.__setattr__(new, name, value)
    return new
''')

NUMPY_FREE = frozenset({"_argmax", "_argmin", "_like_argument", "_replace_fields"})
NUMPY_FREE |= {"_Checkpoints"}

_helper("_scalar_seed", '''
def _scalar_seed(*xs):
    """1.0, the seed of a gradient; only a scalar output has a gradient.  The output has
    the shape of xs broadcast together (the output itself, or values it is computed from
    elementwise)."""
    if any(np.ndim(x) != 0 for x in xs):
        raise ValueError("grad needs a scalar output, not an array of shape %s: use vjp, "
                         "or reduce the output (np.sum, np.mean)" % (np.broadcast(*xs).shape,))
    return 1.0
''')

_helper("_matmul_seed", '''
def _matmul_seed(a, b):
    """1.0, the seed of a gradient whose output is a @ b (or a value computed from it
    elementwise with numbers): a scalar only when a and b are both vectors."""
    if np.ndim(a) != 1 or np.ndim(b) != 1:
        raise ValueError("grad needs a scalar output, not the array a @ b of a %s-D and "
                         "a %s-D array: use vjp, or reduce the output (np.sum, np.mean)"
                         % (np.ndim(a), np.ndim(b)))
    return 1.0
''')

_helper("_scalar_input", '''
def _scalar_input(x):
    """1.0, the seed of a forward-mode gradient; only right for a scalar argument."""
    if np.ndim(x) != 0:
        raise ValueError("a forward-mode gradient needs a scalar argument, not an array of "
                         "shape %s: use mode='reverse', or jvp" % (np.shape(x),))
    return 1.0
''')

_helper("_sum_bar", '''
def _sum_bar(g, x, axis=None, keepdims=False):
    """The adjoint of np.sum(x, axis, keepdims): g spread over the summed axes."""
    if np.ndim(g) and axis is not None and not keepdims:
        g = np.expand_dims(g, axis)
    return np.broadcast_to(g, np.shape(x)).copy()
''')

_helper("_mean_bar", '''
def _mean_bar(g, x, axis=None, keepdims=False):
    """The adjoint of np.mean(x, axis, keepdims): g shared out over the averaged axes."""
    shape = np.shape(x)
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis)
    return _sum_bar(g / np.prod([shape[a] for a in axes]), x, axis, keepdims)
''')

_helper("_extreme_mask", '''
def _extreme_mask(x, y, axis=None, keepdims=False):
    """Where x attains its max or min y along axis; ties share the derivative equally."""
    if axis is not None and not keepdims and np.ndim(y):
        y = np.expand_dims(y, axis)
    mask = x == y
    if axis is None:  # one extreme for the whole array: count its ties
        return mask / np.count_nonzero(mask)
    mask = mask.astype(float)
    return mask / np.sum(mask, axis=axis, keepdims=True)
''')

_helper("_matmul_bar_a", '''
def _matmul_bar_a(g, a, b):
    """The adjoint of a in a @ b (a, b vectors, matrices or stacks of matrices)."""
    a, b = np.asarray(a), np.asarray(b)
    if b.ndim == 1:
        return np.multiply.outer(g, b)
    if a.ndim == 1:
        return b @ g if b.ndim == 2 else np.tensordot(np.moveaxis(b, -2, 0), g, axes=np.ndim(g))
    if a.ndim == b.ndim == 2:
        return g @ b.T
    return _unbroadcast(g @ np.swapaxes(b, -1, -2), a)
''')

_helper("_matmul_bar_b", '''
def _matmul_bar_b(g, a, b):
    """The adjoint of b in a @ b (a, b vectors, matrices or stacks of matrices)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1:
        return g * a if b.ndim == 1 else a[:, None] * np.expand_dims(g, -2)
    if b.ndim == 1:
        return g @ a if a.ndim == 2 else np.tensordot(g, a, axes=np.ndim(g))
    if a.ndim == b.ndim == 2:
        return a.T @ g
    return _unbroadcast(np.swapaxes(a, -1, -2) @ g, b)
''')

_helper("_inner_bar_a", '''
def _inner_bar_a(g, a, b):
    """The adjoint of a in np.inner(a, b): g contracted with b over b's leading axes."""
    lead = np.ndim(b) - 1
    return np.tensordot(g, b, axes=(list(range(np.ndim(g) - lead, np.ndim(g))),
                                    list(range(lead))))
''')

_helper("_inner_bar_b", '''
def _inner_bar_b(g, a, b):
    """The adjoint of b in np.inner(a, b): g contracted with a over a's leading axes."""
    lead = np.ndim(a) - 1
    return np.tensordot(g, a, axes=(list(range(lead)), list(range(lead))))
''')

_helper("_index_bar", '''
def _index_bar(g, x, index):
    """The adjoint of x[index].  Basic indexing and masks read no element twice; an
    index holding an int array (a parameter passed one: x[idx], X[rows, cols]) may, and
    each read adds its adjoint (np.bincount, or np.add.at), as a gather's adjoint must."""
    parts = index if type(index) is tuple else (index,)
    arrays = [np.asarray(p) for p in parts if isinstance(p, (np.ndarray, list))]
    shape = np.shape(x)
    if arrays and all(a.dtype.kind in "iu" for a in arrays) and len(parts) == len(shape) \
            and all(isinstance(p, (np.ndarray, list, int, np.integer))
                    and not isinstance(p, bool) for p in parts):
        # every axis indexed by ints (x[idx], X[rows, cols]): the reads of each element
        # counted with their weights in one np.bincount, NumPy's fastest scatter-add
        # (np.add.at is several times slower), on the flat position of each read; -1 is
        # n - 1, as in indexing, and an index out of range raises IndexError, as
        # x[index] would have (_index_like did not read it)
        if len(shape) == 1:  # np.bincount's own pass finds negative and large indices
            cells = np.asarray(parts[0])
            g = g if np.shape(g) == cells.shape else np.broadcast_to(g, cells.shape)
            try:
                out = np.bincount(np.ravel(cells), np.ravel(g), minlength=shape[0])
            except ValueError:  # a negative index
                cells = _index_wrapped(cells, shape[0])
                out = np.bincount(np.ravel(cells), np.ravel(g), minlength=shape[0])
            if len(out) > shape[0]:
                _index_wrapped(cells, shape[0])  # raises
            return out
        cells = None
        for p, n in zip(parts, shape):
            p = _index_wrapped(np.asarray(p), n)
            cells = p if cells is None else cells * n + p
        if np.shape(g) != np.shape(cells):  # (a read-only view slows np.bincount down)
            g = np.broadcast_to(g, np.shape(cells))
        return np.reshape(np.bincount(np.ravel(cells), np.ravel(g),
                                      minlength=int(np.prod(shape))), shape)
    x_bar = np.zeros(shape)
    if any(a.dtype != bool for a in arrays):
        np.add.at(x_bar, index, g)
    else:  # slices, ints and masks read each element once at most
        x_bar[index] = g
    return x_bar
''')

_helper("_index_wrapped", '''
def _index_wrapped(p, n):
    """The int index array p for an axis of length n with -1 read as n - 1; IndexError
    for an index out of range, as indexing raises."""
    lo, hi = (p.min(), p.max()) if p.size else (0, 0)
    if lo < -n or hi >= n:
        raise IndexError(f"index {lo if lo < -n else hi} is out of bounds for an axis of "
                         f"size {n}")
    return np.where(p < 0, p + n, p) if lo < 0 else p
''')

_helper("_index_like", '''
def _index_like(x, index):
    """Zeros of the shape of x[index] as a read-only view of one number (O(1)), where the
    index is ints and int arrays on the leading axes (x[idx], X[rows, cols]) or one mask
    of x's leading shape; x[index] itself otherwise.  For an adjoint that reads the
    gather's shape only."""
    parts = index if type(index) is tuple else (index,)
    shape = np.shape(x)
    if len(parts) <= len(shape) and all(isinstance(p, (np.ndarray, list, int, np.integer))
                                        and not isinstance(p, bool) for p in parts):
        arrays = [np.asarray(p) for p in parts]
        mask = arrays[0]
        if len(arrays) == 1 and mask.dtype == bool and mask.shape == shape[:mask.ndim]:
            return np.broadcast_to(0.0, (np.count_nonzero(mask),) + shape[mask.ndim:])
        if all(a.dtype.kind in "iu" for a in arrays):
            return np.broadcast_to(0.0, np.broadcast_shapes(*(a.shape for a in arrays))
                                   + shape[len(arrays):])
    return x[index]
''')

_helper("_index_repeats", '''
def _index_repeats(x, index):
    """Does x[index] select an element twice?  Only an index holding an int array can
    (a parameter used as an index, passed an array)."""
    parts = index if type(index) is tuple else (index,)
    if not any(isinstance(p, (np.ndarray, list)) and np.asarray(p).dtype != bool
               for p in parts):
        return False
    cells = np.arange(np.size(x)).reshape(np.shape(x))[index]
    return np.unique(cells).size != np.size(cells)
''')

_helper("_trace_bar", '''
def _trace_bar(g, x):
    """The adjoint of np.trace(x) for a matrix x."""
    return g * np.eye(*np.shape(x))
''')

_helper("_prod_others", '''
def _prod_others(x, axis=None):
    """For each element of x, the product of the other elements along axis (of all
    elements for None): exclusive products from both ends, no division, so exact at zeros."""
    x = np.asarray(x, dtype=float)
    axes = tuple(range(np.ndim(x))) if axis is None else tuple(np.atleast_1d(axis))
    lead = np.ndim(x) - len(axes)  # the axes kept come first, the reduced ones last
    ends = list(range(lead, np.ndim(x)))
    moved = np.moveaxis(x, axes, ends)
    rows = np.reshape(moved, np.shape(moved)[:lead] + (-1,))
    ones = np.ones(np.shape(rows)[:-1] + (1,))
    before = np.cumprod(np.concatenate([ones, rows[..., :-1]], axis=-1), axis=-1)
    after = np.cumprod(np.concatenate([ones, rows[..., :0:-1]], axis=-1), axis=-1)[..., ::-1]
    return np.moveaxis(np.reshape(before * after, np.shape(moved)), ends, axes)
''')

_helper("_cofactor", '''
def _cofactor(a):
    """The cofactor matrix det(a) * inv(a).T of a (or of each matrix of a stack), from the
    SVD a = u diag(s) vh: det(u) det(vh) u diag(p) vh with p_i the product of the other
    singular values.  No division: finite and right for singular a too."""
    u, s, vh = np.linalg.svd(a)
    sign = np.linalg.det(u) * np.linalg.det(vh)
    return sign[..., None, None] * np.matmul(u * _prod_others(s, axis=-1)[..., None, :], vh)
''')

_helper("_polygamma", """
def _polygamma(n, x):
    \"\"\"The polygamma function psi^(n)(x) (n = 0: digamma), for a number or an array:
    the recurrence psi^(n)(x) = psi^(n)(x + 1) - (-1)^n n! / x^(n+1) up to x >= 10, then the
    asymptotic series (error below 1e-16 there); digamma below 0.5 by the reflection
    psi(x) = psi(1 - x) - pi / tan(pi x).  Poles (x = 0, -1, ...) give inf or nan.\"\"\"
    x = np.asarray(x, dtype=float)
    if n == 0:
        reflect = x < 0.5
        shift = np.where(reflect, np.pi / np.tan(np.pi * x), 0.0)
        x = np.where(reflect, 1.0 - x, x)
    fact = float(np.prod(np.arange(1, n + 1)))
    acc = np.zeros(np.shape(x))
    with np.errstate(divide="ignore", invalid="ignore"):
        while True:
            low = x < 10.0
            if not np.any(low):
                break
            acc = acc + np.where(low, (-1.0) ** n * fact / np.where(low, x, 1.0) ** (n + 1), 0.0)
            x = np.where(low, x + 1.0, x)
        bern = (1.0 / 6, -1.0 / 30, 1.0 / 42, -1.0 / 30, 5.0 / 66, -691.0 / 2730, 7.0 / 6)
        if n == 0:
            series = np.log(x) - 0.5 / x
            for k, b in enumerate(bern, start=1):
                series = series - b / (2 * k * x ** (2 * k))
            out = series - acc - shift
        else:
            sign = (-1.0) ** (n + 1)
            series = fact / (n * x ** n) + fact / (2.0 * x ** (n + 1))
            term = fact / n  # (2k + n - 1)! / (2k)!, from k = 0 up
            for k, b in enumerate(bern, start=1):
                term = term * (2 * k + n - 1) * (2 * k + n - 2) / ((2 * k) * (2 * k - 1))
                series = series + b * term / x ** (2 * k + n)
            out = sign * series - acc
    return out if out.ndim else float(out)
""")

_helper("_cumsum_bar", """
def _cumsum_bar(g, x, axis=None):
    \"\"\"The adjoint of np.cumsum(x, axis): the running sum of g from the end (a 0-d
    x is one element, as NumPy reads it along an axis too).\"\"\"
    if np.ndim(x) == 0:
        axis = None
    g = np.broadcast_to(g, np.shape(x) if axis is not None else (np.size(x),))
    if axis is None:
        return np.reshape(np.cumsum(g[::-1])[::-1], np.shape(x))
    return np.flip(np.cumsum(np.flip(g, axis), axis), axis)
""")

_helper("_cumprod_grad", """
def _cumprod_grad(x, t, g, axis=None):
    \"\"\"The tangent (t given) or the adjoint (g given) of np.cumprod(x, axis).  When the
    last products are finite and not 0 (no zero in x, no underflow), by one division:
    y * cumsum(t / x), or revcumsum(g * y) / x.  Otherwise exactly, by the recurrences
    along the axis (never a division by zero, nor a product that underflowed).\"\"\"
    shape = np.shape(x)
    x = np.asarray(x, dtype=float)
    if t is not None:
        t = np.broadcast_to(t, shape)
    if axis is None or np.ndim(x) == 0:  # (a 0-d x is one element along any axis)
        x, axis = np.ravel(x), 0
        t = None if t is None else np.ravel(t)
    y = np.moveaxis(np.cumprod(x, axis=axis), axis, 0)
    x = np.moveaxis(x, axis, 0)
    nonzero = len(y) == 0 or bool(np.all(np.isfinite(y[-1]) & (y[-1] != 0)))
    if t is not None:
        t = np.moveaxis(t, axis, 0)
        if nonzero:
            out = y * np.cumsum(t / x, axis=0)
        else:
            out, dp, p = np.empty_like(y), 0.0, 1.0
            for j in range(len(x)):
                dp, p = dp * x[j] + p * t[j], p * x[j]
                out[j] = dp
        return np.moveaxis(out, 0, axis)
    g = np.moveaxis(np.broadcast_to(g, np.moveaxis(y, 0, axis).shape), axis, 0)
    if nonzero:
        out = np.cumsum((g * y)[::-1], axis=0)[::-1] / x
    else:
        out, s = np.empty_like(y), 0.0
        for i in range(len(x) - 1, -1, -1):
            s = g[i] + (x[i + 1] * s if i + 1 < len(x) else 0.0)
            out[i] = (y[i - 1] if i else 1.0) * s
    return np.reshape(np.moveaxis(out, 0, axis), shape)
""")

_helper("_sort_tangent", """
def _sort_tangent(t, x, axis=-1):
    \"\"\"The tangent of np.sort(x, axis): t in the order that sorts x (stable for ties).\"\"\"
    t = np.broadcast_to(t, np.shape(x))
    if axis is None:
        return np.ravel(t)[np.argsort(x, axis=None, kind="stable")]
    return np.take_along_axis(t, np.argsort(x, axis=axis, kind="stable"), axis=axis)
""")

_helper("_sort_bar", """
def _sort_bar(g, x, axis=-1):
    \"\"\"The adjoint of np.sort(x, axis): g put back where each sorted value came from.\"\"\"
    order = np.argsort(x, axis=axis, kind="stable")
    out = np.zeros(np.shape(x) if axis is not None else np.size(x))
    g = np.broadcast_to(g, np.shape(out))
    if axis is None:
        out[order] = g
        return np.reshape(out, np.shape(x))
    np.put_along_axis(out, order, g, axis=axis)
    return out
""")

_helper("_repeat_bar", """
def _repeat_bar(g, x, repeats, axis=None):
    \"\"\"The adjoint of np.repeat(x, repeats, axis) for an int repeats: the copies summed.\"\"\"
    shape = np.shape(x)
    if axis is None or not shape:  # (a 0-d x is one element along any axis)
        g = np.broadcast_to(g, (np.size(x) * repeats,))
        return np.reshape(np.sum(np.reshape(g, (-1, repeats)), axis=1), shape)
    axis = axis % len(shape)
    out = shape[:axis] + (shape[axis] * repeats,) + shape[axis + 1:]
    g = np.reshape(np.broadcast_to(g, out), shape[:axis] + (shape[axis], repeats)
                   + shape[axis + 1:])
    return np.sum(g, axis=axis + 1)
""")

_helper("_repeat_like", """
def _repeat_like(x, repeats, axis=None):
    \"\"\"Zeros of the shape of np.repeat(x, repeats, axis) for an int repeats, as a
    read-only view of one number (O(1)): for an adjoint that reads that shape only.\"\"\"
    shape = np.shape(x)
    if axis is None or not shape:
        return np.broadcast_to(0.0, (np.size(x) * repeats,))
    axis = axis % len(shape)
    return np.broadcast_to(0.0, shape[:axis] + (shape[axis] * repeats,) + shape[axis + 1:])
""")

_helper("_product_like", """
def _product_like(a, b, how, axes=None, axis=None):
    \"\"\"Zeros of the shape of np.kron(a, b), np.tensordot(a, b, axes), np.cross(a, b,
    axis=axis) or np.take_along_axis(a, b, axis) (how), as a read-only view of one number
    (O(1)): for an adjoint that reads that shape only.\"\"\"
    sa, sb = np.shape(a), np.shape(b)
    if how == "kron":
        n = max(len(sa), len(sb))
        sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
        shape = tuple(p * q for p, q in zip(sa, sb))
    elif how == "tensordot":
        if isinstance(axes, int):
            shape = sa[:len(sa) - axes] + sb[axes:]
        else:
            ia = {i % len(sa) for i in axes[0]}
            ib = {i % len(sb) for i in axes[1]}
            shape = (tuple(d for i, d in enumerate(sa) if i not in ia)
                     + tuple(d for i, d in enumerate(sb) if i not in ib))
    elif how == "cross":
        shape = np.broadcast_shapes(sa, sb)
    elif axis is None:  # take_along_axis of the flattened array
        shape = sb
    else:
        k = axis % len(sa)
        shape = np.broadcast_shapes(sa[:k] + (1,) + sa[k + 1:], sb)
    return np.broadcast_to(0.0, shape)
""")

_helper("_tile_bar", """
def _tile_bar(g, x, *reps):
    \"\"\"The adjoint of np.tile(x, reps): the copies summed.\"\"\"
    shape = np.shape(x)
    d = max(len(reps), len(shape))
    xs = (1,) * (d - len(shape)) + tuple(shape)
    rs = (1,) * (d - len(reps)) + reps
    g = np.broadcast_to(g, tuple(r * n for r, n in zip(rs, xs)))
    g = np.reshape(g, tuple(v for pair in zip(rs, xs) for v in pair))
    return np.reshape(np.sum(g, axis=tuple(range(0, 2 * d, 2))), shape)
""")

_helper("_diag_bar", """
def _diag_bar(g, x, k=0):
    \"\"\"The adjoint of np.diag(x, k): the diagonal of g (x a vector), or g placed on the
    k-th diagonal of zeros of x's shape (x a matrix).\"\"\"
    if np.ndim(x) == 1:
        return np.diagonal(np.broadcast_to(g, (len(x) + abs(k),) * 2), k).copy()
    out = np.zeros(np.shape(x))
    i = np.arange(len(np.diagonal(out, k)))
    out[i + max(-k, 0), i + max(k, 0)] = g
    return out
""")

_helper("_join_layout", """
def _join_layout(shapes, how, axis=None):
    \"\"\"Where np.<how> (concatenate along axis, vstack, hstack, column_stack) puts pieces
    of these shapes: the axis they are joined along, and each one's length on it.\"\"\"
    if how == "concatenate":
        return axis, [s[axis] for s in shapes]
    if how == "vstack":
        return 0, [s[0] if len(s) > 1 else 1 for s in shapes]
    if how == "column_stack":
        return 1, [s[1] if len(s) > 1 else 1 for s in shapes]
    axis = 0 if all(len(s) <= 1 for s in shapes) else 1  # hstack: 1, or 0 for 1-D pieces
    return axis, [s[axis] if len(s) > axis else 1 for s in shapes]
""")

_helper("_join_bar", """
def _join_bar(g, *pieces, how, k):
    \"\"\"The adjoint of piece k of np.<how>(pieces) (hstack, vstack, column_stack): its
    block of g, in its own shape.\"\"\"
    shapes = [np.shape(p) for p in pieces]
    axis, sizes = _join_layout(shapes, how)
    start = sum(sizes[:k])
    block = np.take(g, np.arange(start, start + sizes[k]), axis=axis)
    return np.reshape(block, shapes[k])
""")

_helper("_unjoin", """
def _unjoin(g, pieces, how, axis=None):
    \"\"\"The adjoint of np.<how>(pieces) of a list: g cut back into a list of blocks,
    each in the shape of its piece (concatenate along axis; vstack, hstack, column_stack
    as NumPy lays their pieces out).  One slice per piece: no copy.\"\"\"
    if how in ("vstack", "column_stack") and all(getattr(p, "ndim", 0) == 1 for p in pieces):
        return list(g) if how == "vstack" else list(g.T)  # rows (columns) of g
    shapes = [p.shape if type(p) is np.ndarray else np.shape(p) for p in pieces]
    axis, sizes = _join_layout(shapes, how, axis)
    lead = (slice(None),) * (axis % g.ndim)
    blocks, start = [], 0
    for shape, size in zip(shapes, sizes):
        stop = start + size
        block = g[start:stop] if not lead else g[(*lead, slice(start, stop))]
        blocks.append(block if block.shape == shape else block.reshape(shape))
        start = stop
    return blocks
""")

_helper("_einsum_bar", """
def _einsum_bar(g, *ops, subscripts, k):
    \"\"\"The adjoint of operand k of np.einsum(subscripts, *ops) (explicit '->'): g
    contracted with the other operands to k's own letters; letters only k has are
    broadcast, and a letter k repeats (a diagonal) gets g on that diagonal only.\"\"\"
    ins, out = subscripts.replace(" ", "").split("->")
    ins = ins.split(",")
    mine = ins[k]
    letters = "".join(dict.fromkeys(mine))
    seen = set(out).union(*(set(s) for j, s in enumerate(ins) if j != k))
    have = "".join(c for c in letters if c in seen)
    others = [ops[j] for j in range(len(ops)) if j != k]
    spec = ",".join([out] + [s for j, s in enumerate(ins) if j != k]) + "->" + have
    part = np.einsum(spec, g, *others)
    sizes = {c: n for c, n in zip(mine, np.shape(ops[k]))}
    part = np.reshape(part, [sizes[c] if c in have else 1 for c in letters])
    part = np.broadcast_to(part, [sizes[c] for c in letters])
    if len(letters) == len(mine):
        return np.array(part, dtype=float)
    result = np.zeros(np.shape(ops[k]))
    diagonal = np.einsum(mine + "->" + letters, result)  # a writable view of the diagonal
    diagonal[...] = part
    return result
""")

_helper("_cumprod_tangent", """
def _cumprod_tangent(x, t, axis=None):
    \"\"\"The tangent of np.cumprod(x, axis) for the tangent t of x.\"\"\"
    return _cumprod_grad(x, t, None, axis)
""")

_helper("_cumprod_bar", """
def _cumprod_bar(g, x, y, axis=None):
    \"\"\"The adjoint of y = np.cumprod(x, axis): revcumsum(g * y) / x, in one division
    when the last product along the axis is finite and not 0 (so no x is 0); exactly
    through zeros otherwise.\"\"\"
    if axis is None or np.ndim(x) == 0 or np.size(y) == 0:
        return _cumprod_grad(x, None, g, None if np.ndim(x) == 0 else axis)
    last = np.take(y, -1, axis=axis)
    if not np.all(np.isfinite(last) & (last != 0)):
        return _cumprod_grad(x, None, g, axis)
    return np.flip(np.cumsum(np.flip(g * y, axis), axis), axis) / x
""")

_helper("_cholesky_tangent", """
def _cholesky_tangent(L, dA):
    \"\"\"The tangent of L = np.linalg.cholesky(A) for a tangent dA of A (of its lower
    triangle, which is all cholesky reads): L Phi(L^-1 S L^-T), S the symmetric matrix of
    dA's lower triangle, Phi the lower triangle with half the diagonal.\"\"\"
    dA = np.broadcast_to(dA, np.shape(L))
    S = np.tril(dA) + np.swapaxes(np.tril(dA, -1), -1, -2)
    P = np.linalg.solve(L, np.swapaxes(np.linalg.solve(L, S), -1, -2))
    P = np.tril(P) - 0.5 * P * np.eye(np.shape(L)[-1])
    return L @ P
""")

_helper("_cholesky_bar", """
def _cholesky_bar(g, L):
    \"\"\"The adjoint of A in L = np.linalg.cholesky(A) (on A's lower triangle, which is all
    cholesky reads): G = L^-T Phi(L^T g) L^-1, then tril(G + G^T) - diag(G).\"\"\"
    g = np.broadcast_to(g, np.shape(L))
    M = np.swapaxes(L, -1, -2) @ g
    eye = np.eye(np.shape(L)[-1])
    Y = np.tril(M) - 0.5 * M * eye
    Lt = np.swapaxes(L, -1, -2)
    Z = np.linalg.solve(Lt, np.swapaxes(Y, -1, -2))
    G = np.linalg.solve(Lt, np.swapaxes(Z, -1, -2))
    return np.tril(G + np.swapaxes(G, -1, -2)) - G * eye
""")

_helper("_pad_bar", """
def _pad_bar(g, x, widths=0):
    \"\"\"The adjoint of np.pad(x, widths): the middle of g, where x was.\"\"\"
    shape = np.shape(x)
    w = np.broadcast_to(np.asarray(widths, dtype=int).reshape(-1, 2)
                        if np.ndim(widths) else np.full((1, 2), widths), (len(shape), 2))
    g = np.broadcast_to(g, tuple(n + a + b for n, (a, b) in zip(shape, w)))
    return np.array(g[tuple(slice(a, a + n) for n, (a, b) in zip(shape, w))], dtype=float)
""")

_helper("_eigh_tangent", """
def _eigh_tangent(a, da, part):
    \"\"\"The tangent of np.linalg.eigh(a)[part] (0: eigenvalues, 1: eigenvectors) for a
    tangent da of a's lower triangle (all eigh reads): with S the symmetric matrix of it,
    dw = diag(V^T S V) and dV = V (F * (V^T S V)), F_ij = 1 / (w_j - w_i) off the
    diagonal.  Repeated eigenvalues make F infinite: their eigenvectors are not
    differentiable (the eigenvalues are).\"\"\"
    w, v = np.linalg.eigh(a)
    da = np.broadcast_to(da, np.shape(a))
    s = np.tril(da) + np.swapaxes(np.tril(da, -1), -1, -2)
    m = np.swapaxes(v, -1, -2) @ s @ v
    if part == 0:
        return np.diagonal(m, axis1=-2, axis2=-1).copy()
    gap = w[..., None, :] - w[..., :, None]
    off = ~np.eye(np.shape(a)[-1], dtype=bool)
    f = np.divide(1.0, gap, out=np.zeros_like(gap), where=off)
    return v @ (f * m)
""")

_helper("_eigh_bar", """
def _eigh_bar(g, a, part):
    \"\"\"The adjoint of a (its lower triangle, as eigh reads it) for the adjoint g of
    np.linalg.eigh(a)[part]: G = V (diag(g) or F * (V^T g)) V^T, then
    tril(G + G^T) - diag(G).\"\"\"
    w, v = np.linalg.eigh(a)
    vt = np.swapaxes(v, -1, -2)
    if part == 0:
        inner = np.broadcast_to(g, np.shape(w))[..., None, :] * np.eye(np.shape(a)[-1])
    else:
        gap = w[..., None, :] - w[..., :, None]
        off = ~np.eye(np.shape(a)[-1], dtype=bool)
        f = np.divide(1.0, gap, out=np.zeros_like(gap), where=off)
        inner = f * (vt @ np.broadcast_to(g, np.shape(v)))
    big = v @ inner @ vt
    return np.tril(big + np.swapaxes(big, -1, -2)) - big * np.eye(np.shape(a)[-1])
""")

_helper("_svd_values_tangent", """
def _svd_values_tangent(a, da):
    \"\"\"The tangent of the singular values of a: diag(U^T da V) (distinct, nonzero
    singular values).\"\"\"
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    da = np.broadcast_to(da, np.shape(a))
    return np.einsum("...ji,...jk,...ik->...i", u, da, vh)
""")

_helper("_svd_values_bar", """
def _svd_values_bar(g, a):
    \"\"\"The adjoint of a for the adjoint g of its singular values: U diag(g) V^T.\"\"\"
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return (u * np.broadcast_to(g, np.shape(s))[..., None, :]) @ vh
""")

_helper("_kron_bar", '''
def _kron_bar(g, other, like, side):
    """The adjoint of operand `side` (0: a, 1: b) of np.kron(a, b), shaped like `like`,
    for the adjoint g of the product and the other operand: g seen as the interleaved
    axes (a0, b0, a1, b1, ...) contracted with the other operand over its axes."""
    sa, sb = (np.shape(like), np.shape(other)) if side == 0 else (np.shape(other),
                                                                   np.shape(like))
    nd = max(len(sa), len(sb))
    sa, sb = (1,) * (nd - len(sa)) + sa, (1,) * (nd - len(sb)) + sb  # as np.kron pads
    g = np.broadcast_to(g, tuple(m * n for m, n in zip(sa, sb)))
    g = np.reshape(g, [n for pair in zip(sa, sb) for n in pair])
    theirs = list(range(1 - side, 2 * nd, 2))
    part = np.tensordot(g, np.reshape(other, sb if side == 0 else sa),
                        axes=(theirs, list(range(nd))))
    return np.reshape(part, np.shape(like))
''')

_helper("_tensordot_bar", '''
def _tensordot_bar(g, other, like, side, axes=2):
    """The adjoint of operand `side` (0: a, 1: b) of np.tensordot(a, b, axes), shaped
    like `like`, for the adjoint g of the product: g contracted with the other operand
    over the free axes, then the axes put back in the operand's order."""
    na, nb = (np.ndim(like), np.ndim(other)) if side == 0 else (np.ndim(other),
                                                                 np.ndim(like))
    if isinstance(axes, int):
        in_a, in_b = list(range(na - axes, na)), list(range(axes))
    else:
        in_a, in_b = ([int(i) for i in np.atleast_1d(s)] for s in axes)
        in_a, in_b = [i % na for i in in_a], [i % nb for i in in_b]
    free_a = [i for i in range(na) if i not in in_a]
    free_b = [i for i in range(nb) if i not in in_b]
    sa, sb = (np.shape(like), np.shape(other)) if side == 0 else (np.shape(other),
                                                                   np.shape(like))
    g = np.broadcast_to(g, tuple(sa[i] for i in free_a) + tuple(sb[i] for i in free_b))
    if side == 0:  # axes of the result: a's free ones, then a's contracted ones in b's order
        part = np.tensordot(g, other, axes=(list(range(len(free_a), g.ndim)), free_b))
        order = free_a + [in_a[in_b.index(j)] for j in sorted(in_b)]
    else:  # b's contracted ones in a's order, then b's free ones
        part = np.tensordot(other, g, axes=(free_a, list(range(len(free_a)))))
        order = [in_b[in_a.index(i)] for i in sorted(in_a)] + free_b
    return np.transpose(part, np.argsort(order))
''')

_helper("_take_along_bar", '''
def _take_along_bar(g, x, indices, axis):
    """The adjoint of np.take_along_axis(x, indices, axis): g added into zeros shaped
    like x where each element was read (np.bincount of the flat positions, so a repeated
    index adds every read; a loop over the axes only, twice as fast as np.add.at)."""
    shape = np.shape(x)
    axis = axis % len(shape)
    indices = np.asarray(indices)
    if (indices < 0).any():  # counted from the end, as NumPy reads them
        indices = np.where(indices < 0, indices + shape[axis], indices)
    flat = 0
    for d, n in enumerate(shape):  # the flat position, row-major, broadcast over the axes
        at = indices if d == axis else np.arange(n).reshape((-1,) + (1,) * (len(shape) - 1 - d))
        flat = at if d == 0 else flat * n + at
    if np.shape(g) != np.shape(flat):  # (a scalar standing for the result's adjoint)
        g = np.broadcast_to(g, np.shape(flat)).copy()
    return np.bincount(np.ravel(flat), weights=np.ravel(g), minlength=int(np.prod(shape))
                       ).reshape(shape)
''')

_helper("_qr_parts", """
def _qr_parts(a):
    \"\"\"np.linalg.qr(a) (reduced) and R^-1's solver, for the rules of Q and R: they hold
    for a full column rank a with at least as many rows as columns.\"\"\"
    if np.shape(a)[-2] < np.shape(a)[-1]:
        raise ValueError("the derivative of np.linalg.qr needs at least as many rows as "
                         "columns (a full column rank matrix)")
    return np.linalg.qr(a)
""")

_helper("_qr_tangent", """
def _qr_tangent(a, da, part):
    \"\"\"The tangent of np.linalg.qr(a)[part] (0: Q, 1: R) for a tangent da of a:
    with C = Q^T da R^-1 and W = tril(C, -1) - tril(C, -1)^T (skew), dQ = Q (W - C) +
    da R^-1 and dR = (C - W) R.\"\"\"
    q, r = _qr_parts(a)
    da_rinv = np.swapaxes(np.linalg.solve(np.swapaxes(r, -1, -2), np.swapaxes(da, -1, -2)),
                          -1, -2)
    c = np.swapaxes(q, -1, -2) @ da_rinv
    low = np.tril(c, -1)
    w = low - np.swapaxes(low, -1, -2)
    if part == 0:
        return q @ (w - c) + da_rinv
    return (c - w) @ r
""")

_helper("_qr_bar", """
def _qr_bar(g, a, part):
    \"\"\"The adjoint of a for the adjoint g of np.linalg.qr(a)[part] (0: Q, 1: R):
    with M = R Rbar^T - Qbar^T Q and copyltu(M) = tril(M) + tril(M, -1)^T,
    Abar = (Qbar + Q copyltu(M)) R^-T.\"\"\"
    q, r = _qr_parts(a)
    if part == 0:
        q_bar = np.broadcast_to(g, np.shape(q))
        m = -(np.swapaxes(q_bar, -1, -2) @ q)
    else:
        q_bar = 0.0
        m = r @ np.swapaxes(np.broadcast_to(g, np.shape(r)), -1, -2)
    m = np.tril(m) + np.swapaxes(np.tril(m, -1), -1, -2)
    x = q_bar + q @ m
    return np.swapaxes(np.linalg.solve(r, np.swapaxes(x, -1, -2)), -1, -2)
""")

_helper("_svd_gaps", """
def _svd_gaps(s):
    \"\"\"F with F_ij = 1 / (s_j^2 - s_i^2) off the diagonal, 0 on it: infinite where two
    singular values coincide (their singular vectors are not unique).\"\"\"
    gap = s[..., None, :] ** 2 - s[..., :, None] ** 2
    off = ~np.eye(np.shape(s)[-1], dtype=bool)
    return np.divide(1.0, gap, out=np.zeros_like(gap), where=off)
""")

_helper("_svd_vectors_tangent", """
def _svd_vectors_tangent(a, da, part):
    \"\"\"The tangent of np.linalg.svd(a, full_matrices=False)[part] (0: U, 2: Vh) for a
    tangent da of a (distinct nonzero singular values): with P = U^T da V,
    dU = U (F * (P S + S P^T)) + (I - U U^T) da V S^-1 and
    dV = V (F * (S P + P^T S)) + (I - V V^T) da^T U S^-1.\"\"\"
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    v, ut = np.swapaxes(vh, -1, -2), np.swapaxes(u, -1, -2)
    f = _svd_gaps(s)
    p = ut @ da @ v
    pt = np.swapaxes(p, -1, -2)
    sr, sc = s[..., None, :], s[..., :, None]  # S on the right, S on the left
    if part == 0:
        inside = u @ (f * (p * sr + sc * pt))
        rest = da @ v / sr
        return inside + rest - u @ (ut @ rest)
    dat = np.swapaxes(da, -1, -2)
    inside = v @ (f * (sc * p + pt * sr))
    rest = dat @ u / sr
    return np.swapaxes(inside + rest - v @ (vh @ rest), -1, -2)
""")

_helper("_svd_vectors_bar", """
def _svd_vectors_bar(g, a, part):
    \"\"\"The adjoint of a for the adjoint g of np.linalg.svd(a, full_matrices=False)[part]
    (0: U, 2: Vh): Abar = U (F * (U^T Ubar - Ubar^T U)) S V^T + (I - U U^T) Ubar S^-1 V^T
    for U, and U S (F * (V^T Vbar - Vbar^T V)) V^T + U S^-1 Vbar^T (I - V V^T) for V.\"\"\"
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    ut = np.swapaxes(u, -1, -2)
    f = _svd_gaps(s)
    sr, sc = s[..., None, :], s[..., :, None]
    if part == 0:
        u_bar = np.broadcast_to(g, np.shape(u))
        k = ut @ u_bar
        rest = u_bar / sr
        return (u @ (f * (k - np.swapaxes(k, -1, -2))) * sr + rest - u @ (ut @ rest)) @ vh
    v = np.swapaxes(vh, -1, -2)
    v_bar = np.swapaxes(np.broadcast_to(g, np.shape(vh)), -1, -2)
    k = vh @ v_bar
    rest = np.swapaxes(v_bar, -1, -2) / sc
    return u @ (sc * (f * (k - np.swapaxes(k, -1, -2))) @ vh + rest - (rest @ v) @ vh)
""")

_helper("_Checkpoints", """
class _Checkpoints:
    \"\"\"Binomial checkpointing (Griewank's revolve) of a loop over range `passes`, keeping
    at most `k` snapshots of its carried values instead of a record of every pass.

    take(i, values) at the start of pass i keeps a snapshot where the schedule puts one;
    restore(i) forgets the snapshots after pass i and returns the latest one before it,
    (j, values): the reverse sweep advances from j to i (taking snapshots on the way),
    then reverses pass i.  A snapshot at pass p stands for passes p .. end - 1 with s
    snapshots (its own included); `recomputed` counts the passes advanced again.
    With `budget` (bytes) instead of `k`, k is picked at the first take: as many
    snapshots of that size as the budget holds, at least one (every pass, so no
    recomputation, when the budget holds them all).\"\"\"

    def __init__(self, passes, k=None, budget=None):
        self.passes, self.k, self.budget, self.recomputed = passes, k, budget, 0
        self.stack = []  # [p, end, s, values]: a snapshot, its passes and snapshots
        if passes is None:  # a while loop's: passes 0, 1, ... until the reverse sweep
            self.target, self.due, self.spacing = None, 0, 1
        else:  # the pass reversed next; the index of the next snapshot
            self.target, self.due = len(passes) - 1, passes[0] if passes else None

    def _split(self):
        \"\"\"Where the latest snapshot's passes get the next snapshot, if before the pass
        reversed next: Griewank and Walther's split, the last
        min(C(s - 1 + r, s - 1), n - C(s + r - 2, s)) of its n passes, r the fewest
        recomputations of a pass with C(s + r, s) >= n.\"\"\"
        p, end, s, _ = self.stack[-1]
        n, self.due = end - p, None
        if n < 2 or s < 2:
            return
        r, c = 0, 1  # c = C(s + r, s)
        while c < n:
            r, c = r + 1, c * (s + r + 1) // (r + 1)
        least = c * r * (r - 1) // ((s + r) * (s + r - 1))  # C(s + r - 2, s)
        mid = end - min(c * s // (s + r), n - least, n - 1)
        if mid <= self.target:
            self.due = self.passes[mid]

    def take(self, i, values):
        if i == self.due and self.k is None:
            self.k = max(1, self.budget // max(1, self._nbytes(values)))
        if i == self.due and self.target is None:  # evenly spaced, twice as far when full
            if len(self.stack) == self.k:
                if self.k == 1:
                    self.due = None
                    return
                del self.stack[1::2]
                self.spacing *= 2
            if i % self.spacing == 0:
                self.stack.append([i, None, None, self._copy(values)])
            self.due = (i // self.spacing + 1) * self.spacing
        elif i == self.due:
            p = self.passes.index(i)
            if self.stack:
                top = self.stack[-1]
                self.stack.append([p, top[1], top[2] - 1, self._copy(values)])
                top[1] = p
            else:
                self.stack.append([p, len(self.passes), self.k, self._copy(values)])
            self._split()

    def restore(self, i):
        if self.target is None:  # a while loop's first reversed pass is its last
            self.passes = range(i + 1)
            for s, snapshot in enumerate(self.stack):  # each to the next, K - s snapshots
                end = self.stack[s + 1][0] if s + 1 < len(self.stack) else i + 1
                snapshot[1:3] = end, self.k - s
        p = self.target = self.passes.index(i)
        while self.stack[-1][0] > p:
            self.stack.pop()
        self._split()
        j, values = self.stack[-1][0], self.stack[-1][3]
        self.recomputed += p - j
        return self.passes[j], self._copy(values)

    @staticmethod
    def _nbytes(values, record=200):
        \"\"\"What keeping a snapshot of `values` costs, in bytes, as CPython holds it:
        its record in the stack (about 200), and for each value its slot (8) and its
        object: an array's data and header (nbytes + 112 + 16 a dimension; 8 bytes an
        item if it does not say its nbytes), a list's or tuple's header (56) and items,
        a number's 24.\"\"\"
        size = record
        for v in values:
            if isinstance(v, (list, tuple)):
                size += 64 + _Checkpoints._nbytes(v, 0)
            elif hasattr(v, "nbytes"):
                size += 120 + 16 * len(v.shape) + int(v.nbytes)
            elif hasattr(v, "shape"):  # an array API array that does not say its size
                nbytes = 8
                for n in v.shape:
                    nbytes *= int(n)
                size += 120 + 16 * len(v.shape) + nbytes
            else:
                size += 32
        return size

    @staticmethod
    def _copy(values):
        \"\"\"A copy of the lists and arrays: the loop may change them in place, and a
        snapshot is restored again and again.  (An array with no copy method, of the
        array API target, is never changed in place.)\"\"\"
        return tuple(v.copy() if isinstance(v, list) or hasattr(v, "ndim") and hasattr(
            v, "copy") else v for v in values)
""")

# helpers that call other helpers
_NEEDS = {"_matmul_bar_a": ("_unbroadcast",), "_matmul_bar_b": ("_unbroadcast",),
          "_mean_bar": ("_sum_bar",), "_sum_to": ("_unbroadcast", "_broadcast_like"),
          "_broadcast_like": ("_broadcast_shape",), "_broadcast_size": ("_broadcast_shape",),
          "_cofactor": ("_prod_others",), "_cumprod_tangent": ("_cumprod_grad",),
          "_cumprod_bar": ("_cumprod_grad",), "_index_bar": ("_index_wrapped",)}
# (the library layer's matrix decompositions)
_NEEDS.update({"_join_bar": ("_join_layout",), "_unjoin": ("_join_layout",)})
_NEEDS.update({"_qr_tangent": ("_qr_parts",), "_qr_bar": ("_qr_parts",),
               "_svd_vectors_tangent": ("_svd_gaps",), "_svd_vectors_bar": ("_svd_gaps",)})


def with_dependencies(names: set[str]) -> list[str]:
    """``names`` and the helpers they call, in a stable order."""
    out, todo = set(), list(names)
    while todo:
        n = todo.pop()
        if n not in out:
            out.add(n)
            todo.extend(_NEEDS.get(n, ()))
    return sorted(out)


def source_of(names: set[str]) -> str:
    """The source text of these helpers (and what they call), ready to paste."""
    return "\n\n".join(HELPERS[n] for n in with_dependencies(names))


@cache
def function(name: str) -> Any:
    """The helper as a Python function (for the interpreter and constant folding)."""
    namespace: dict[str, Any] = {"np": np}
    exec(compile(source_of({name}), f"<s2sad helper {name}>", "exec"), namespace)  # noqa: S102
    return namespace[name]
