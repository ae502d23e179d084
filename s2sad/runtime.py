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
    """The adjoint of x[index] (basic indexing: no element is read twice)."""
    x_bar = np.zeros(np.shape(x))
    x_bar[index] = g
    return x_bar
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

# helpers that call other helpers
_NEEDS = {"_matmul_bar_a": ("_unbroadcast",), "_matmul_bar_b": ("_unbroadcast",),
          "_mean_bar": ("_sum_bar",), "_sum_to": ("_unbroadcast", "_broadcast_like"),
          "_broadcast_like": ("_broadcast_shape",), "_broadcast_size": ("_broadcast_shape",),
          "_cofactor": ("_prod_others",)}


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
