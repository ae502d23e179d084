"""Gradients of arrays compiled for the shapes of their arguments (issue 19): the ranks
and the axes of length 1 seen at the first call, so that the code says ``X.T @ g``
where the generic code asks ``_matmul_bar_b`` to test ``ndim`` at every call.  Every
result is compared with central finite differences at several points, negative
values included; a call with other ranks compiles again."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import s2sad
from s2sad import api
from s2sad.opt.shapes import shape_key
from tests.test_codegen import _golden_case

EXAMPLES = Path(__file__).parent.parent / "examples"
RNG = np.random.default_rng(19)


def fd(f, args, i, h=1e-6):
    """∂f/∂args[i] by central differences, element by element (the independent oracle)."""
    x0 = np.asarray(args[i], dtype=float)
    out = np.zeros(x0.shape)
    for k in range(x0.size):
        parts = []
        for d in (h, -h):
            x = x0.copy()
            x.flat[k] += d
            moved = list(args)
            moved[i] = x if x0.ndim else float(x)
            parts.append(f(*moved))
        out.flat[k] = (parts[0] - parts[1]) / (2 * h)
    return out if x0.ndim else float(out)


def check(g, f, args, wrt):
    got = g(*args)
    got = got if isinstance(wrt, tuple) else (got,)
    for i, gi in zip(wrt if isinstance(wrt, tuple) else (wrt,), got, strict=True):
        np.testing.assert_allclose(gi, fd(f, args, i), rtol=1e-6, atol=1e-7)
        assert np.shape(gi) == np.shape(args[i])


def mlp(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def logreg(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def linreg(w, X, y):
    r = X @ w - y
    return r @ r / X.shape[0]


def tanh_layer(W, x):
    return np.sum(np.tanh(W @ x))


def softmax_pick(z, k):
    m = np.max(z)
    return np.log(np.sum(np.exp(z - m))) + m - z[k]


def softmax_picks(z, k):
    m = np.max(z)
    return np.sum(np.log(np.sum(np.exp(z - m))) + m - z[k])


def scaled(x, a):
    return np.sum(a * x * x)


def _mlp_point(n, d=3, hidden=4, out=None):
    W2 = RNG.standard_normal((hidden, out)) if out else RNG.standard_normal(hidden)
    b2 = RNG.standard_normal(out) if out else float(RNG.standard_normal())
    y = RNG.standard_normal((n, out)) if out else RNG.standard_normal(n)
    return (RNG.standard_normal((d, hidden)), RNG.standard_normal(hidden), W2, b2,
            RNG.standard_normal((n, d)), y)


def test_the_key_is_the_ranks_and_the_axes_of_length_one():
    assert shape_key((np.ones((1000, 20)), np.ones(1000), 2.0, 3, np.float64(1.0))) == (
        2, 1, 0, 0, 0)
    assert shape_key((np.ones((1, 5)), [1.0, 2.0], np.ones(()))) == ((True, False), None, 0)
    assert shape_key((True, np.int64(3), np.ones((3, 1, 2)))) == (None, 0, (False, True, False))
    # every batch size shares a key
    assert shape_key((np.ones((7, 3)),)) == shape_key((np.ones((700, 3)),))


def test_the_mlp_gradient_is_written_as_a_person_would():
    api._cache.clear()
    g = s2sad.grad(mlp, wrt=(0, 1, 2, 3))
    assert "_matmul_bar_b(" in g.source  # before the first call: the generic code
    for n in (5, 9):
        check(g, mlp, _mlp_point(n, out=2), (0, 1, 2, 3))
    src = g.source
    for helper in ("_matmul_bar", "_unbroadcast", "_broadcast_size", "_sum_to"):
        assert helper not in src, helper
    assert "X.T @ " in src and "h.T @ " in src and "@ W2.T" in src
    assert "np.sum(_t1, axis=0)" in src  # b1's adjoint: the batch axis summed
    assert len(g.table) == 1  # both batch sizes share it
    check(g, mlp, _mlp_point(5), (0, 1, 2, 3))  # W2 a vector: np.outer
    assert "np.outer(" in g.source and len(g.table) == 2


def test_other_ranks_compile_again_and_stay_right():
    api._cache.clear()
    g = s2sad.grad(tanh_layer)
    W, x = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    check(g, tanh_layer, (W, x), 0)
    assert "np.outer(" in g.source and "_matmul_bar_a" not in g.source
    # a stack of matrices: another key, compiled again (here the generic helper stays)
    Ws = RNG.standard_normal((2, 3, 4))
    check(g, tanh_layer, (Ws, x), 0)
    # a matrix on the right: W @ X of two matrices
    X = -RNG.standard_normal((4, 2))
    check(g, tanh_layer, (W, X), 0)
    assert "@ x.T" in g.source
    assert len(g.table) == 3
    check(g, tanh_layer, (W, x), 0)  # the first one again: found, not compiled
    assert len(g.table) == 3


def test_an_axis_of_length_one_compiles_again_and_sums_there():
    """A batch of one row broadcasts against a bias of shape (1,): the generic sum back
    to the bias's shape is needed, and the specialisation for that key keeps it."""
    api._cache.clear()
    g = s2sad.grad(mlp, wrt=(0, 1, 2, 3))
    check(g, mlp, _mlp_point(6, out=1), (0, 1, 2, 3))
    check(g, mlp, _mlp_point(1, out=1), (0, 1, 2, 3))
    check(g, mlp, _mlp_point(1), (0, 1, 2, 3))
    assert len(g.table) == 3


def test_logistic_regression_sums_nothing_back():
    g = s2sad.grad(logreg, wrt=(0, 1))
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        X = rng.standard_normal((30, 4))
        args = (rng.standard_normal(4), -abs(rng.standard_normal()), X,
                (rng.uniform(size=30) < 0.5).astype(float))
        check(g, logreg, args, (0, 1))
    assert "_sum_to" not in g.source and "_broadcast_size" not in g.source
    assert "z_bar @ X" in g.source and "np.sum(z_bar)" in g.source


def test_linear_regression_scales_its_residual_once():
    g = s2sad.grad(linreg)
    X = RNG.standard_normal((20, 3))
    for w in (RNG.standard_normal(3), -np.ones(3)):
        check(g, linreg, (w, X, RNG.standard_normal(20)), 0)
    body = g.source[g.source.index("def grad_linreg"):]
    assert "_matmul_seed" not in body and "_unbroadcast" not in body
    assert " + _t0" not in body  # not r·s + r·s: one pass, r·(2·s)
    assert "@ X" in body


def test_an_int_index_updates_in_place_and_an_index_array_gathers():
    g = s2sad.grad(softmax_pick)
    z = np.array([0.5, -1.0, 2.0, -0.3])
    check(g, softmax_pick, (z, 2), 0)
    assert "z_bar[k] -= 1.0" in g.source and "np.add.at" not in g.source
    assert "_scalar_seed" not in g.source and "np.size" not in g.source
    # k an int array that repeats an index: another key, and np.add.at adds each read
    g = s2sad.grad(softmax_picks)
    k = np.array([1, 1, 3])
    check(g, softmax_picks, (z, k), 0)
    assert "np.add.at(z_bar, k, " in g.source
    check(g, softmax_picks, (z, 3), 0)
    assert "z_bar[k] -= 3.0" in g.source or "z_bar[k] -= " in g.source


def test_a_float_parameter_given_an_array_is_not_taken_for_a_number():
    api._cache.clear()
    g = s2sad.grad(scaled, wrt=(0, 1))
    x = -RNG.standard_normal(5)
    check(g, scaled, (x, 0.7), (0, 1))
    check(g, scaled, (x, RNG.standard_normal(5)), (0, 1))
    check(g, scaled, (x, -RNG.standard_normal((2, 5))), (0, 1))
    assert len(g.table) == 3


def test_lists_keyword_arguments_and_value_and_grad():
    g = s2sad.grad(softmax_pick)
    z = [0.5, -1.0, 2.0, -0.3]
    check(g, softmax_pick, (np.array(z), 1), 0)
    np.testing.assert_allclose(g(z, 1), fd(softmax_pick, (np.array(z), 1), 0), rtol=1e-6)
    np.testing.assert_allclose(g(np.array(z), k=1), fd(softmax_pick, (np.array(z), 1), 0),
                               rtol=1e-6)
    vg = s2sad.value_and_grad(tanh_layer)
    W, x = RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    value, grad = vg(W, x)
    assert value == pytest.approx(tanh_layer(W, x))
    np.testing.assert_allclose(grad, fd(tanh_layer, (W, x), 0), rtol=1e-6, atol=1e-7)
    assert "np.outer(" in vg.source


def test_the_disk_cache_keeps_each_specialisation(tmp_path, monkeypatch):
    monkeypatch.delenv("S2SAD_NO_CACHE", raising=False)
    monkeypatch.setenv("S2SAD_CACHE_DIR", str(tmp_path / "cache"))
    sys.path.insert(0, str(EXAMPLES))
    try:
        import mlp as example
    finally:
        sys.path.pop(0)
    args = _mlp_point(8)
    api._cache.clear()
    api._ir_cache.clear()
    first = s2sad.grad(example.loss, wrt=(0, 1, 2, 3))
    want = first(*args)
    source = first.source
    api._cache.clear()
    api._ir_cache.clear()

    def fail(f):
        raise AssertionError("lifted again: the disk cache missed")

    monkeypatch.setattr(api, "_lift", fail)
    again = s2sad.grad(example.loss, wrt=(0, 1, 2, 3))
    for a, b in zip(again(*args), want, strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.source == source and "X.T @ " in source
    api._cache.clear()
    api._ir_cache.clear()


@pytest.mark.parametrize("name, f, args, wrt", [
    ("mlp", mlp, lambda: _mlp_point(8), (0, 1, 2, 3)),
    ("logreg", logreg, lambda: (np.ones(3), 0.5, np.ones((6, 3)), np.ones(6)), (0, 1)),
    ("softmax_pick", softmax_pick, lambda: (np.ones(4), 1), 0),
])
def test_golden_shape_specialised(name, f, args, wrt):
    """The code as compiled for the first call's shapes (README, "Shapes")."""
    g = s2sad.grad(f, wrt=wrt)
    g(*args())
    _golden_case(f"grad_{name}_for_shapes", g.source)


def rosenbrock_np(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def test_no_key_per_call_where_nothing_would_be_replaced():
    """Rosenbrock in NumPy asks no shape at run time (its `np.add.at` is inside the
    `_index_bar` helper's text): the plain generated function, with no key per call."""
    g = s2sad.grad(rosenbrock_np)
    assert not isinstance(g, api._ShapeSpecialising)
    for x in (np.array([0.5, -1.2, 2.0, -0.3]), -np.ones(3)):
        check(g, rosenbrock_np, (x,), 0)
