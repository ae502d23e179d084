"""Item adjoints of arrays are O(1) per item (issue 13).

A loop that reads scalar items of an array (``s += X[i, 0] * X[i, 1]``) adds each
item's adjoint into one adjoint array in place (``X_bar[i, 0] += g``), as lists
do: never a full-size zero array per item (``_index_bar``), which made such a
gradient quadratic in n.  Checked here:

* every gradient against central finite differences, entry by entry, at points
  with negative entries (``tests.test_numpy.fd_grad``), and hvp against finite
  differences of the gradient;
* the generated code: no ``_index_bar`` inside a loop, no array copy per pass;
* the caller's arrays (arguments, cotangents) are never written into.

The timing (the gradient/primal ratio flat in n) is ``benchmarks/bench_items.py``.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import s2sad
from tests.oracles import assert_close
from tests.test_numpy import fd_directional, fd_grad


def pairs(X: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        s += X[i, 0] * X[i, 1]
    return s


def pairs_inferred(X):  # X is an array because of X.shape
    s = 0.0
    for i in range(X.shape[0]):
        s += X[i, 0] * X[i, 1] ** 2
    return s


def chain_1d(x: np.ndarray):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += np.sin(x[i]) * x[i + 1]
    return s


def lennard_jones(X: np.ndarray):
    e = 0.0
    n = X.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            dx = X[i, 0] - X[j, 0]
            dy = X[i, 1] - X[j, 1]
            r2 = dx * dx + dy * dy
            e += 1.0 / r2 ** 6 - 1.0 / r2 ** 3
    return e


def branchy(X: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        if X[i, 0] > 0.0:
            s += X[i, 0] * X[i, 1]
        s += X[i, 1] ** 2
    return s


def branchy_else(X: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        if X[i, 0] > 0.0:
            s += X[i, 0] * X[i, 1]
        else:
            s += np.cos(X[i, 1])
    return s


def local_array(x: np.ndarray):
    Y = np.sin(x) * 2.0  # items of an array the function makes
    s = 0.0
    for i in range(Y.shape[0]):
        s += Y[i, 0] * Y[i, 1]
    return s


def mixed(X: np.ndarray):  # whole-array and item adjoints of one array
    s = 0.0
    for i in range(X.shape[0]):
        s += X[i, 0] * X[i, 1]
    return s * np.sum(X * X)


def mixed_in_loop(X: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        s += np.sum(X * X[i, 0]) + X[i, 1]
    return s


def rows(X: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        s += np.sum(X[i] * X[i]) * X[i, 0]
    return s


def straight(X: np.ndarray):  # items read outside loops
    return X[0, 0] * X[1, 1] - np.sin(X[2, 0]) * X[0, 1]


def nested_rows(X: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            s += X[i, j] * X[i, j] * (i + 1.0) - X[i, j] * X[0, j]
    return s


def nested_subscripts(X: np.ndarray):  # X[i][j]: x_bar[i, j] += g, no zero row per item
    s = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            s += np.sin(X[i][j]) * X[i][j] + X[i][1:3] @ X[0][:2]
    return s


def two_arrays(X: np.ndarray, w: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        s += np.tanh(X[i, 0] * w[0] + X[i, 1] * w[1])
    return s


def double_subscript(X: np.ndarray):
    """X[i][j]: the row's adjoint is O(row) per item (a row, not the whole array)."""
    s = 0.0
    for i in range(X.shape[0]):
        s += X[i][0] * X[i][1] ** 3
    return s


def _point(shape, seed):
    return np.random.default_rng(seed).uniform(-1.5, 1.5, shape)


CASES = [
    (pairs, ((5, 2),)),
    (pairs_inferred, ((5, 2),)),
    (chain_1d, ((6,),)),
    (branchy, ((6, 2),)),
    (branchy_else, ((6, 2),)),
    (local_array, ((5, 2),)),
    (mixed, ((4, 2),)),
    (mixed_in_loop, ((4, 2),)),
    (rows, ((4, 3),)),
    (straight, ((3, 2),)),
    (nested_rows, ((3, 4),)),
    (nested_subscripts, ((3, 4),)),
    (two_arrays, ((5, 2), (2,))),
]


def _lj_point(seed):  # particles on a jittered grid: no two closer than ~0.7
    rng = np.random.default_rng(seed)
    grid = np.array([[i, j] for i in range(3) for j in range(2)], dtype=float) * 1.1 - 1.0
    return grid + rng.uniform(-0.1, 0.1, grid.shape)


def _points(f, shapes):
    if f is lennard_jones:
        return [(_lj_point(s),) for s in (1, 2)]
    return [tuple(_point(sh, 10 * s + k) for k, sh in enumerate(shapes)) for s in (1, 2, 3)]


@pytest.mark.parametrize("f, shapes", CASES + [(lennard_jones, None),
                                              (double_subscript, ((4, 3),))],
                         ids=lambda c: getattr(c, "__name__", ""))
def test_gradient_against_finite_differences(f, shapes):
    n = f.__code__.co_argcount
    wrt = tuple(range(n)) if n > 1 else 0
    g = s2sad.grad(f, wrt=wrt)
    for args in _points(f, shapes):
        copies = [a.copy() for a in args]
        got = g(*args)
        got = got if n > 1 else (got,)
        for i, a in enumerate(args):
            want = fd_grad(f, args, i)
            assert isinstance(got[i], np.ndarray) and got[i].shape == a.shape
            assert_close(tuple(got[i].ravel()), tuple(want.ravel()), rtol=1e-6, atol=1e-8,
                         what=f"{f.__name__} d/d{i}")
        for a, c in zip(args, copies, strict=True):  # the caller's arrays are untouched
            assert np.array_equal(a, c)


@pytest.mark.parametrize("f, shapes", CASES + [(lennard_jones, None)],
                         ids=lambda c: getattr(c, "__name__", ""))
def test_no_full_size_adjoint_per_item(f, shapes):
    """The item adjoints are added into one array in place: no `_index_bar`, no copy of
    an adjoint array, inside a loop."""
    n = f.__code__.co_argcount
    wrt = tuple(range(n)) if n > 1 else 0
    src = s2sad.grad(f, wrt=wrt).source
    body = src[src.index("\ndef grad_"):]
    looped = [line for line in body.splitlines() if line.startswith(" " * 8)]
    assert not [line for line in looped if "_index_bar(" in line or ".copy()" in line]
    assert re.search(r"\w\[[^]]+\] [-+]= ", body)  # x_bar[i, 0] += g


@pytest.mark.parametrize("f, shapes", [c for c in CASES if c[0] is not two_arrays]
                         + [(lennard_jones, None)],
                         ids=lambda c: getattr(c, "__name__", ""))
def test_hvp_against_finite_differences_of_the_gradient(f, shapes):
    h = s2sad.hvp(f)
    g = s2sad.grad(f)
    for args in _points(f, shapes)[:2]:
        v = _point(args[0].shape, 7)
        x = args[0].copy()
        got = h(x, v)
        assert np.array_equal(x, args[0])
        want = fd_directional(lambda y: g(y), (args[0],), (0,), [v], h=1e-3)
        assert isinstance(got, np.ndarray) and got.shape == x.shape
        assert_close(tuple(got.ravel()), tuple(np.ravel(want)), rtol=1e-6, atol=1e-7,
                     what=f.__name__)


def ret_plus_items(X: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        s += X[i, 0] ** 2
    return X + s


def test_vjp_cotangent_is_not_written_into():
    """The output's cotangent is the caller's array and X's adjoint starts from it: the
    items are added into a new array, never into the cotangent."""
    X = _point((4, 2), 3)
    ct = _point((4, 2), 4)
    ct0 = ct.copy()
    _, got = s2sad.vjp(ret_plus_items)(X, ct)
    assert np.array_equal(ct, ct0)
    # X_bar = ct, and 2 X[i, 0] sum(ct) added on column 0
    expect = ct0.copy()
    expect[:, 0] += 2.0 * X[:, 0] * ct0.sum()
    assert isinstance(got, np.ndarray)
    assert_close(tuple(got.ravel()), tuple(expect.ravel()))


# == a list of arrays passed where the function reads items of one array ======================


def two_params(ps, x):
    return np.sum(ps[0] @ (x * x)) + np.sum(ps[1])


def items_in_loop(ps, x):
    s = 0.0
    for i in range(len(ps)):
        s += np.sum(ps[i] * x)
    return s


RAGGED = [np.ones((2, 3)), np.ones(4)]


@pytest.mark.parametrize("derive", [
    lambda f: s2sad.grad(f, wrt=(0, 1)),
    lambda f: s2sad.value_and_grad(f),
    lambda f: (lambda ps, x: s2sad.vjp(f)(ps, x, 1.0)),
    lambda f: (lambda ps, x: s2sad.jvp(f, wrt=1)(ps, x, np.ones(3))),
    lambda f: (lambda ps, x: s2sad.hvp(f, wrt=1)(ps, x, np.ones(3))),
], ids=["grad", "value_and_grad", "vjp", "jvp", "hvp"])
def test_a_list_of_arrays_of_different_shapes_is_refused_with_a_message(derive):
    """Not NumPy's inhomogeneous-shape ValueError inside the generated code: a TypeError
    that names the parameter, the line, what is not supported, and what to do."""
    d = derive(two_params)
    with pytest.raises(TypeError) as err:
        d(RAGGED, np.ones(3))
    msg = str(err.value)
    line = two_params.__code__.co_firstlineno + 1
    assert "`ps` is a list of arrays of different shapes" in msg
    assert f"line {line} of test_item_adjoints.py" in msg and "`two_params`" in msg
    assert "not supported yet" in msg
    assert "separate parameters" in msg and "np.stack" in msg


def test_the_advice_works():
    """Both suggested fixes compile and give the gradient the list would have had."""
    def separate(p0, p1, x):
        return np.sum(p0 @ (x * x)) + np.sum(p1)

    rng = np.random.default_rng(5)
    p0, p1, x = rng.uniform(-1, 1, (2, 3)), rng.uniform(-1, 1, 4), rng.uniform(-1, 1, 3)
    g0, g1, gx = s2sad.grad(separate, wrt=(0, 1, 2))(p0, p1, x)
    for got, i in ((g0, 0), (g1, 1), (gx, 2)):
        assert_close(tuple(np.ravel(got)), tuple(np.ravel(fd_grad(separate, (p0, p1, x), i))))
    stacked = np.stack([rng.uniform(-1, 1, 3), rng.uniform(-1, 1, 3)])
    gp, gx = s2sad.grad(items_in_loop, wrt=(0, 1))(stacked, x)
    assert_close(tuple(gp.ravel()), tuple(fd_grad(items_in_loop, (stacked, x), 0).ravel()))
    assert_close(tuple(gx), tuple(fd_grad(items_in_loop, (stacked, x), 1)))


def test_a_list_of_arrays_of_one_shape_is_that_array():
    ps = [np.array([1.0, -2.0, 0.5]), np.array([0.3, 0.7, -1.1])]
    x = np.array([0.2, -0.4, 1.3])
    gp, gx = s2sad.grad(items_in_loop, wrt=(0, 1))(ps, x)
    stacked = np.stack(ps)
    assert_close(tuple(gp.ravel()), tuple(fd_grad(items_in_loop, (stacked, x), 0).ravel()))
    assert_close(tuple(gx), tuple(fd_grad(items_in_loop, (stacked, x), 1)))
    with pytest.raises(TypeError, match="`ps` is a list of arrays of different shapes"):
        s2sad.grad(items_in_loop)([np.ones(3), np.ones(2)], x)


def test_the_check_is_where_an_array_is_indexed_only():
    src = s2sad.grad(two_params, wrt=(0, 1)).source
    assert "ps = _one_array(ps, 'ps', 'two_params'," in src
    assert "import s2sad" not in src and "from s2sad" not in src  # standalone
    assert "x = _one_array(x" not in src
    assert "_one_array" not in s2sad.grad(lambda_free_sum).source


def lambda_free_sum(x):
    return np.sum(x * x)
