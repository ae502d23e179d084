"""The Numba target: what generated code looks like when ``numba.njit`` compiles it.

The Python target's code (:mod:`s2sad.codegen.pyast`) is almost Numba's nopython subset
already: floats, ints, ``math``, ``numpy`` calls on arrays, ``for``/``while``/``if``.
The differences, all decided here or where ``pyast`` asks :data:`TARGETS`:

* every function of the module is ``@numba.njit(cache=True)``, and the module imports
  ``numba`` (besides ``math`` and ``numpy``, never anything else);
* a loop's tape is a 2-D float64 array, one row per iteration and one column per value
  recorded (an int or bool is stored as a float: exact below 2**53), preallocated when
  the loop's trip count is known before it starts (a ``for`` loop) and doubled when it
  fills up otherwise (a ``while`` loop: ``np.concatenate``) — never a list of tuples;
* a list is a 1-D float64 array: ``[0.0] * len(x)`` is ``np.zeros(len(x))``, a copy is
  ``x.copy()``, the sum of two adjoints ``a + b``.  A list that grows or shrinks
  (``append``, ``pop``) has no such array, and is refused;
* ``reversed(range(a, b))``, which Numba does not type, is ``range(b - 1, a - 1, -1)``;
* the runtime helpers a module calls are the versions in :data:`HELPERS`, type-dispatched
  with ``isinstance(x, (float, int))``, which Numba resolves when it compiles; the Python
  target's other helpers (broadcasting adjoints with keyword axes, ``np.ndindex``
  drivers) are refused.

What cannot be compiled for Numba is an :class:`~s2sad.errors.S2SADError` at s2sad's
compile time, located at the construct, that says why (:func:`refuse`).  No code is
ever left for Numba's object mode.
"""

from __future__ import annotations

import ast

from ..errors import Loc, S2SADError

TARGETS = ("python", "numba")
DECORATOR = "numba.njit(cache=True)"
# the names generated code reads besides math and np
RESERVED = frozenset({"numba"})

_HINT = "use target='python' for this function (s2sad's default), or rewrite the construct"

HELPERS: dict[str, str] = {
    "_unbroadcast": '''
def _unbroadcast(g, x):
    """The adjoint g of a broadcast result, summed back to the shape of x (Numba: a
    number, an array's sum for a number, or an adjoint of x's own shape)."""
    if isinstance(x, (float, int)):
        if isinstance(g, (float, int)):
            return g
        return g.sum()
    if isinstance(g, (float, int)):
        return np.full(x.shape, g)
    if g.shape == x.shape:
        return g
    raise ValueError("on the Numba target an adjoint is not summed over broadcast axes")
''',
    "_scalar_seed": '''
def _scalar_seed(x):
    """1.0, the seed of a gradient; only a scalar output has a gradient (Numba: one
    value a call, a product of calls for several)."""
    if isinstance(x, (float, int)):
        return 1.0
    raise ValueError("grad needs a scalar output, not an array: use vjp, or reduce "
                     "the output (np.sum, np.mean)")
''',
    "_matmul_seed": '''
def _matmul_seed(a, b):
    """1.0, the seed of a gradient whose output is a @ b: a scalar only when a and b
    are both vectors (Numba: decided per types, when it compiles)."""
    if a.ndim == 1 and b.ndim == 1:
        return 1.0
    raise ValueError("grad needs a scalar output, not the array a @ b: use vjp, or "
                     "reduce the output (np.sum, np.mean)")
''',
    "_like_argument": '''
def _like_argument(g, x):
    """The gradient g (a 1-D float64 array) of argument x: on the Numba target lists are
    1-D float64 arrays, so g is already of x's kind."""
    return g
''',
    "_one_array": '''
def _one_array(x, name, function, where):
    """x, an array (on the Numba target no list of arrays reaches here)."""
    return x
''',
    "_zero_like": '''
def _zero_like(x):
    """A zero of x's kind (np.zeros_like on the Numba target): 0.0 for a number, which
    np.zeros_like would make a 0-d array; float64 zeros of x's shape for an array."""
    if isinstance(x, (float, int)):
        return 0.0
    return np.zeros(x.shape)
''',
    "_same_shape": '''
def _same_shape(a, b):
    """Numba broadcasts nothing in differentiated code: the arrays must have one shape."""
    if isinstance(b, (float, int)):  # (Numba prunes isinstance tests, not `b is None`)
        return
    if a.shape != b.shape:
        raise ValueError("on the Numba target, arrays of different shapes are not "
                         "broadcast together in differentiated code")
''',
    "_pick": '''
def _pick(a, b):
    """The one of a, b that is an array (a if both are, checked to have b's shape)."""
    if isinstance(b, (float, int)):
        return a
    if isinstance(a, (float, int)):
        return b
    _same_shape(a, b)
    return a
''',
    "_broadcast_size": '''
def _broadcast_size(a, b=0.0, c=0.0, d=0.0, e=0.0, f=0.0):
    """np.broadcast(a, b, ...).size: the arrays among the operands have one shape
    (numbers broadcast; the defaults are numbers), else a ValueError."""
    r = _pick(_pick(_pick(_pick(_pick(a, b), c), d), e), f)
    if isinstance(r, (float, int)):
        return 1
    return r.size
''',
    "_sum_to": '''
def _sum_to(g, x, a, b=0.0, c=0.0, d=0.0, e=0.0, f=0.0):
    """g, the adjoint of a result of the shape a, b, ... have together, summed back to
    the shape of x (on the Numba target those arrays have one shape; numbers broadcast)."""
    n = _broadcast_size(a, b, c, d, e, f)
    if isinstance(x, (float, int)):
        if isinstance(g, (float, int)):
            return g * n
        return g.sum()
    if isinstance(g, (float, int)):
        return np.full(x.shape, g)
    _same_shape(g, x)
    return g
''',
    "_sum_bar": '''
def _sum_bar(g, x):
    """The adjoint of np.sum(x) (no axis on the Numba target): g in every element."""
    if isinstance(x, (float, int)):
        return g
    return np.full(x.shape, g)
''',
    "_mean_bar": '''
def _mean_bar(g, x):
    """The adjoint of np.mean(x) (no axis on the Numba target): g shared out."""
    if isinstance(x, (float, int)):
        return g
    return np.full(x.shape, g / x.size)
''',
    "_index_bar": '''
def _index_bar(g, x, index):
    """The adjoint of x[index] (basic indexing: no element is read twice)."""
    x_bar = np.zeros(x.shape)
    x_bar[index] = g
    return x_bar
''',
    "_extreme_mask": '''
def _extreme_mask(x, y):
    """Where x attains its max or min y (no axis on the Numba target); ties share the
    derivative equally."""
    mask = (x == y) * 1.0
    return mask / mask.sum()
''',
    "_matmul_bar_a": '''
def _matmul_bar_a(g, a, b):
    """The adjoint of a in a @ b (vectors and matrices; Numba's np.dot needs SciPy's
    BLAS, as the primal's @ does)."""
    if b.ndim == 1:
        if a.ndim == 1:
            return g * b
        return np.outer(g, b)
    if a.ndim == 1:
        return np.dot(b, g)
    return np.dot(g, b.T)
''',
    "_matmul_bar_b": '''
def _matmul_bar_b(g, a, b):
    """The adjoint of b in a @ b (vectors and matrices)."""
    if a.ndim == 1:
        if b.ndim == 1:
            return g * a
        return np.outer(a, g)
    if b.ndim == 1:
        return np.dot(g, a)
    return np.dot(a.T, g)
''',
    "_copy": '''
def _copy(x):
    """x.copy() of an array; a number (an item of an array) is its own copy."""
    if isinstance(x, (float, int)):
        return x
    return x.copy()
''',
    "_argmax": '''
def _argmax(xs):
    """The index of the first largest item of xs, the one max(xs) returns."""
    k = 0
    for i in range(1, len(xs)):
        if xs[i] > xs[k]:
            k = i
    return k
''',
    "_argmin": '''
def _argmin(xs):
    """The index of the first smallest item of xs, the one min(xs) returns."""
    k = 0
    for i in range(1, len(xs)):
        if xs[i] < xs[k]:
            k = i
    return k
''',
    # binomial checkpointing (``checkpoints=K``): the Python target's _Checkpoints, on one
    # float64 array (ints are exact in it below 2**53), see _ckpt_new
    "_ckpt_new": '''
def _ckpt_new(start, stop, step, columns, k=0, budget=0):
    """Binomial checkpointing (Griewank's revolve; the Python target's _Checkpoints) of a
    loop over range(start, stop, step), or a while loop's (step 0: passes 0, 1, ...
    counted until the reverse sweep), keeping at most k snapshots of `columns` numbers.
    One float64 array holds it all: row 0 the schedule's state (k, the index of the next
    snapshot, whether there is one, the pass reversed next, the snapshots kept, the
    passes recomputed, the spacing of a while loop's, start, step, the passes), rows 1..
    the snapshots (their pass, the end of their passes, their snapshots, the values).
    k = 0: as many snapshots as `budget` bytes hold, at least one."""
    width = max(10, 3 + columns)
    if k <= 0:
        k = max(1, budget // (8 * width))
    n = -1
    if step > 0:
        n = max(0, (stop - start + step - 1) // step)
    elif step < 0:
        n = max(0, (start - stop - step - 1) // -step)
    if n >= 0:
        k = max(1, min(k, n))  # (no more snapshots than passes: the same schedule)
    ck = np.zeros((k + 1, width))
    ck[0, 0] = k
    ck[0, 6] = 1
    ck[0, 7] = start
    ck[0, 8] = step if n >= 0 else 1
    ck[0, 9] = n
    if n != 0:
        ck[0, 2] = 1
        ck[0, 1] = start if n > 0 else 0
    ck[0, 3] = n - 1
    return ck
''',
    "_ckpt_split": '''
def _ckpt_split(ck):
    """Where the latest snapshot's passes get the next snapshot, if before the pass
    reversed next: Griewank and Walther's split, the last
    min(C(s - 1 + r, s - 1), n - C(s + r - 2, s)) of its n passes, r the fewest
    recomputations of a pass with C(s + r, s) >= n (binomials built up one r at a time:
    no product exceeds n (s + r))."""
    top = int(ck[0, 4])
    p, end = int(ck[top, 0]), int(ck[top, 1])
    n = end - p
    s = min(int(ck[top, 2]), n)
    ck[0, 2] = 0
    if n < 2 or s < 2:
        return
    r, c, c1 = 0, 1, 1  # c = C(s + r, s), c1 = C(s - 1 + r, s - 1)
    while c < n:
        r += 1
        c = c * (s + r) // r
        c1 = c1 * (s - 1 + r) // r
    least = 0  # C(s + r - 2, s)
    if r >= 2:
        least = 1
        for q in range(1, r - 1):
            least = least * (s + q) // q
    mid = end - min(c1, n - least, n - 1)
    if mid <= ck[0, 3]:
        ck[0, 1] = ck[0, 7] + mid * ck[0, 8]
        ck[0, 2] = 1
''',
    "_ckpt_take": '''
def _ckpt_take(ck, i):
    """At the start of pass i (its loop index): the row of `ck` the loop's values go
    into when the schedule keeps a snapshot there; 0 when it does not."""
    if ck[0, 2] == 0 or i != ck[0, 1]:
        return 0
    k, top = int(ck[0, 0]), int(ck[0, 4])
    if ck[0, 9] < 0:  # a while loop's, running: evenly spaced, twice as far when full
        spacing = int(ck[0, 6])
        if top == k:
            if k == 1:
                ck[0, 2] = 0
                return 0
            for m in range(0, top, 2):  # every other snapshot dropped
                ck[m // 2 + 1, :] = ck[m + 1, :]
            top = (top + 1) // 2
            spacing *= 2
            ck[0, 6] = spacing
        row = 0
        if i % spacing == 0:
            top += 1
            row = top
            ck[row, 0] = i
        ck[0, 4] = top
        ck[0, 1] = (i // spacing + 1) * spacing
        return row
    p = (i - int(ck[0, 7])) // int(ck[0, 8])
    row = top + 1
    ck[row, 0] = p
    if top > 0:  # the latest snapshot's passes from p on, and one snapshot less, are its
        ck[row, 1] = ck[top, 1]
        ck[row, 2] = ck[top, 2] - 1
        ck[top, 1] = p
    else:
        ck[row, 1] = ck[0, 9]
        ck[row, 2] = k
    ck[0, 4] = row
    _ckpt_split(ck)
    return row
''',
    "_ckpt_restore": '''
def _ckpt_restore(ck, i):
    """Before pass i is reversed: the snapshots after it forgotten, (the loop index j
    of the latest one before it, its row of `ck`); the reverse sweep advances from j
    to i, taking snapshots on the way."""
    k, top = int(ck[0, 0]), int(ck[0, 4])
    if ck[0, 9] < 0:  # a while loop's first reversed pass is its last
        ck[0, 9] = i + 1
        for m in range(1, top + 1):  # each to the next, k - m + 1 snapshots
            ck[m, 1] = ck[m + 1, 0] if m < top else i + 1
            ck[m, 2] = k - m + 1
    start, step = int(ck[0, 7]), int(ck[0, 8])
    p = (i - start) // step
    ck[0, 3] = p
    while ck[top, 0] > p:
        top -= 1
    ck[0, 4] = top
    _ckpt_split(ck)
    j = int(ck[top, 0])
    ck[0, 5] += p - j
    return start + j * step, top
''',
}

# why a helper of the Python target has no Numba version
_NO_HELPER = ("it sums or broadcasts adjoints over axes known only at run time (keyword "
              "axes, np.broadcast_to, fancy index tuples), which Numba's nopython mode does "
              "not type")


def refuse(what: str, loc: Loc | None, why: str, hint: str = _HINT) -> S2SADError:
    """The located error for a construct that cannot be compiled for Numba."""
    return S2SADError(f"{what} cannot be compiled for the Numba target", loc, why=why,
                      hint=hint)


def helper_refused(helper: str, loc: Loc | None, case: str = "") -> S2SADError:
    """The error for a construct whose derivative calls a helper with no Numba version
    (``case``: for these operands)."""
    if case:
        why = (f"its derivative calls s2sad's helper `{helper}` {case}, which has no Numba "
               f"version: {_NO_HELPER}")
    else:
        why = f"its derivative calls s2sad's helper `{helper}`, which has no Numba version: " + (
            _NO_HELPER)
    return refuse("this array expression", loc, why=why)


def needs(helper: str) -> set[str]:
    """The helpers ``helper`` calls."""
    return _NEEDS.get(helper, set())


# what each helper calls
_NEEDS = {"_ckpt_take": {"_ckpt_split"}, "_ckpt_restore": {"_ckpt_split"},
          "_pick": {"_same_shape"}, "_broadcast_size": {"_pick", "_same_shape"},
          "_sum_to": {"_broadcast_size", "_pick", "_same_shape"}}
# helpers called with a fixed number of operands at most (their `like` arrays)
MAX_OPERANDS = {"_sum_to": 8, "_broadcast_size": 6}


def helper_definitions(names: set[str]) -> list[ast.stmt]:
    """The ``def`` statements of the Numba helpers a module uses, and of those they call
    (in a fixed order)."""
    names = set(names).union(*(needs(n) for n in names))
    return [stmt for name in HELPERS if name in names
            for stmt in ast.parse(HELPERS[name]).body]


def decorate(mod: ast.Module) -> ast.Module:
    """``mod`` with ``import numba`` after its other imports and every top-level function
    compiled by ``@numba.njit(cache=True)``."""
    body = list(mod.body)
    at = max((k + 1 for k, s in enumerate(body) if isinstance(s, (ast.Import, ast.ImportFrom))),
             default=1 if body and isinstance(body[0], ast.Expr) else 0)
    body.insert(at, ast.Import(names=[ast.alias(name="numba")]))
    uses_np = any(isinstance(n, ast.Name) and n.id == "np" for n in ast.walk(mod))
    imports_np = [s for s in body if isinstance(s, ast.Import) and s.names[0].name == "numpy"]
    if uses_np and not imports_np:
        body.insert(at, ast.Import(names=[ast.alias(name="numpy", asname="np")]))
    elif imports_np and not uses_np:  # the Numba helpers need no NumPy
        body.remove(imports_np[0])
    decorator = ast.parse(DECORATOR, mode="eval").body
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef):
            stmt.decorator_list = [decorator]
    return ast.fix_missing_locations(ast.Module(body=body, type_ignores=[]))


def hessian_driver_text(name: str, fn_name: str, args: str, x: str, H: str, i: str,
                        v: str) -> str:
    """An njit Hessian of one 1-D array (or list) parameter ``x``: one Hessian-vector
    product per element, the rows of the (symmetric) Hessian."""
    return f'''
def {name}({args}):
    """Hessian of {fn_name} with respect to {x} (a 1-D float64 array): an array of shape
    (len({x}), len({x})), one Hessian-vector product per element of {x}.
    """
    {H} = np.zeros((len({x}), len({x})))
    {v} = np.zeros(len({x}))
    for {i} in range(len({x})):
        {v}[{i}] = 1.0
        {H}[{i}] = hvp_{fn_name}({args}, {v})
        {v}[{i}] = 0.0
    return {H}
'''
