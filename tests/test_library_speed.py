"""The library layer's reverse rules do no wasted work (issue 15, performance): what the
generated gradient computes is what a careful hand-written gradient computes.

Each rule is checked twice: on the generated code (the work that was there before and
must not come back: a result computed only for its shape, a product computed twice, a
copy, an ``np.add.at`` where ``np.bincount`` does), and against Richardson finite
differences at several points with negative values, on the shapes the change touches
(``axis``, no axis on a 2-D array, 0-d, broadcasting, negative and repeated indices).
The timings themselves are ``benchmarks/bench_library.py``'s."""

from __future__ import annotations

import ast

import numpy as np
import pytest

import s2sad
from tests.oracles import derivative


def fd(f, x, *rest):
    """Richardson finite differences of ``f`` in each element of array ``x``."""
    x = np.asarray(x, dtype=float)
    out = np.zeros_like(x)
    for k in range(x.size):
        def along(t, k=k):
            y = x.copy()
            y.flat[k] = t
            return f(y, *rest)
        out.flat[k] = derivative(along, x.flat[k])
    return out


def assert_close(got, want, rtol=1e-6, atol=1e-8):
    np.testing.assert_allclose(np.asarray(got, dtype=float), want, rtol=rtol, atol=atol)


def body(g) -> str:
    """The generated gradient function's own code (not the helpers it calls)."""
    tree = ast.parse(g.source)
    fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
              and not n.name.startswith("_"))
    return ast.unparse(fn)


def calls(g, name: str) -> list[ast.Call]:
    tree = ast.parse(body(g))
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call)
            and ast.unparse(n.func) == name]


POINTS = [np.random.default_rng(s) for s in (1, 2, 3)]


# -- np.cumsum, np.cumprod, np.sort: the result is not computed only for its shape --------

def running_sum(x, w):
    return np.sum(np.cumsum(x) * w)


def running_sum_rows(x, w):
    return np.sum(np.cumsum(x, axis=1) * w)


def running_sum_0d(x):
    return np.sum(np.cumsum(x * 2.0) * np.array([3.0]))


def running_product(x, w):
    return np.sum(np.cumprod(x) * w)


def running_product_cols(x, w):
    return np.sum(np.cumprod(x, axis=0) * w)


def running_product_sq(x):
    return np.sum(np.cumprod(x, axis=-1) ** 2)


def running_sum_axis(x):
    return np.sum(np.cumsum(x, axis=0) * np.array([2.0]))


def sorted_weights(x, w):
    return np.sum(np.sort(x) * w)


def sorted_rows(x, w):
    return np.sum(np.sort(x, axis=0) * w)


def test_cumsum_gradient_does_not_compute_the_running_sum():
    g = s2sad.grad(running_sum, wrt=0)
    assert "np.cumsum" not in body(g), g.source
    g = s2sad.grad(running_sum_rows, wrt=0)
    assert "np.cumsum" not in body(g), g.source


def test_sort_gradient_does_not_sort():
    g = s2sad.grad(sorted_weights, wrt=0)
    assert "np.sort" not in body(g), g.source  # the helper's stable argsort is all


def test_cumprod_gradient_reads_the_product_computed_once():
    g = s2sad.grad(running_product, wrt=0)
    assert len(calls(g, "np.cumprod")) == 1, g.source
    (bar,) = calls(g, "_cumprod_bar")
    assert len(bar.args) == 3, g.source  # (ȳ, x, y): the helper does not recompute y


@pytest.mark.parametrize("f, shapes", [
    (running_sum, [(3, 4), (12,)]), (running_sum_rows, [(3, 4), (3, 4)]),
    (running_sum_rows, [(3, 4), (4,)]),  # w broadcast along the rows
    (running_product, [(3, 4), (12,)]), (running_product_cols, [(3, 4), (3, 4)]),
    (running_product_cols, [(2, 3, 2), (3, 2)]),
    (sorted_weights, [(5,), (5,)]), (sorted_weights, [(3, 4), (4,)]),
    (sorted_rows, [(3, 4), (3, 4)]),
])
def test_running_and_sorted_gradients_match_finite_differences(f, shapes):
    g = s2sad.grad(f, wrt=0)
    for rng in POINTS:
        x, w = (rng.uniform(-2.0, 2.0, s) for s in shapes)
        if f in (running_product, running_product_cols):
            x = np.where(np.abs(x) < 0.3, 0.7, x)  # away from 0: a smooth product
        assert_close(g(x, w), fd(f, x, w), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("f", [running_sum_0d, running_product_sq, running_sum_axis])
def test_0d_and_last_axis(f):
    """A number's gradient is a number (NumPy reads a 0-d array as one element along
    any axis, and its running sum or product has shape (1,))."""
    for mode in ("grad", "jvp"):
        g = s2sad.grad(f) if mode == "grad" else lambda v: s2sad.jvp(f)(v, 1.0)[1]
        for v in (-1.5, 0.75):
            got = g(v)
            assert np.shape(got) == (), (mode, got)
            assert_close(got, fd(lambda u: f(float(u)), np.array(v)))
    if f is running_product_sq:
        x = np.array([[0.5, -1.25, 2.0], [-0.75, 1.5, -2.0]])
        assert_close(s2sad.grad(f)(x), fd(f, x))


def underflowing(x):
    return np.sum(np.cumprod(x) * np.array([1.0, -2.0, 0.5, 4.0]))


def test_cumprod_through_an_underflow_is_exact():
    """The last product is 0 without a zero factor (it underflowed): the exact
    recurrence, in both modes, not revcumsum(g * y) / x, whose y is 0 there."""
    x = np.array([1e-200, 1e-200, 3.0, -2.0])
    w = np.array([1.0, -2.0, 0.5, 4.0])
    # d/dx_k of sum_i w_i prod_{j<=i} x_j, exactly (the products of the others)
    want = [sum(w[i] * np.prod([x[j] for j in range(i + 1) if j != k]) for i in range(k, 4))
            for k in range(4)]
    assert want[1] != 0.0
    assert_close(s2sad.grad(underflowing)(x), want, rtol=1e-12, atol=0.0)
    tangents = [s2sad.jvp(underflowing)(x, e)[1] for e in np.eye(4)]
    assert_close(tangents, want, rtol=1e-12, atol=0.0)


# -- np.repeat: the copies are not made for their shape -----------------------------------

def repeated(x, w):
    return np.sum(np.repeat(x, 3) * w)


def repeated_rows(x, w):
    return np.sum(np.repeat(x, 2, axis=0) * w)


def repeated_last(x, w):
    return np.sum(np.sin(np.repeat(x, 2, axis=-1)) * w)


def test_repeat_gradient_does_not_repeat():
    g = s2sad.grad(repeated, wrt=0)
    assert "np.repeat" not in body(g) and "_repeat_like(x, 3)" in body(g), g.source


@pytest.mark.parametrize("f, shapes", [
    (repeated, [(5,), (15,)]), (repeated, [(2, 3), (18,)]), (repeated, [(2, 3), ()]),
    (repeated_rows, [(2, 3), (4, 3)]), (repeated_rows, [(2, 3), (3,)]),
    (repeated_last, [(2, 3), (2, 6)]), (repeated_rows, [(), (2,)]),
])
def test_repeat_gradients_match_finite_differences(f, shapes):
    g = s2sad.grad(f, wrt=0)
    for rng in POINTS:
        x, w = (rng.uniform(-2.0, 2.0, s) for s in shapes)
        got = g(x, w)
        assert np.shape(got) == np.shape(x)
        assert_close(got, fd(f, x, w))


# -- np.einsum: one einsum per operand, the subscripts permuted ----------------------------

def contraction(X, W):
    return np.einsum("ij,ij->", X * X, W)


def product(A, B):
    return np.sum(np.sin(np.einsum("ij,jk->ik", A, B)))


def chain(A, B, C):
    return np.sum(np.einsum("ij,jk,kl->il", A, B, C) ** 2)


def transposed(A, B):
    return np.einsum("ij,ji->", A, B)


def outer_sum(a, b):
    return np.sum(np.cos(np.einsum("i,j->ij", a, b)))


def batched(A, B):
    return np.sum(np.einsum("bij,bjk->bik", A, B) ** 2)


def summed_letter(A, b):
    return np.sum(np.einsum("ij,j->i", A, b) ** 2) + np.einsum("ij->", A) ** 2


def diagonal(A, b):
    return np.sum(np.einsum("ii,i->i", A, b) ** 2)


def broadcast_rows(A, B):  # a letter of length 1 against a longer one: NumPy broadcasts
    return np.sum(np.einsum("ij,jk->ik", A, B) ** 2) + np.einsum("ij,ij->", A, A * 2.0)


def lone(A):
    return np.sum(np.einsum("ij->ji", A) * np.arange(6.0).reshape(3, 2))


def test_einsum_full_contraction_gradient_is_the_other_operand():
    g = s2sad.grad(contraction, wrt=0)
    code = body(g)
    assert "_einsum_bar" not in code and "X * X" not in code, g.source
    assert "einsum" not in code, g.source  # W * (2.0 * X), as by hand


def test_einsum_adjoint_is_one_einsum_with_permuted_subscripts():
    g = s2sad.grad(product, wrt=(0, 1))
    code = body(g)
    assert "_einsum_bar" not in code, g.source
    assert "np.einsum('ik,jk->ij'" in code and "np.einsum('ik,ij->jk'" in code, g.source


@pytest.mark.parametrize("f, shapes", [
    (contraction, [(3, 4), (3, 4)]), (product, [(2, 3), (3, 4)]),
    (chain, [(2, 3), (3, 4), (4, 2)]), (transposed, [(3, 2), (2, 3)]),
    (outer_sum, [(3,), (4,)]), (batched, [(2, 2, 3), (2, 3, 2)]),
    (summed_letter, [(3, 4), (4,)]), (diagonal, [(3, 3), (3,)]), (lone, [(2, 3)]),
    (broadcast_rows, [(2, 1), (3, 4)]), (broadcast_rows, [(1, 1), (1, 4)]),
])
def test_einsum_gradients_match_finite_differences(f, shapes):
    n = len(shapes)
    g = s2sad.grad(f, wrt=tuple(range(n)) if n > 1 else 0)
    for rng in POINTS:
        args = [rng.uniform(-2.0, 2.0, s) for s in shapes]
        got = g(*args) if n > 1 else (g(*args),)
        for k in range(n):
            want = fd(lambda v, k=k, a=args: f(*a[:k], v, *a[k + 1:]), args[k])
            assert_close(got[k], want, rtol=1e-6, atol=1e-8)


# -- gathers: the adjoint is one np.bincount, and the values read are not read again -------

def gathered(x, idx, w):
    return np.sum(x[idx] * w)


def masked(x, mask, w):
    return np.sum(x[mask] * w)


def picked(X, labels, w):
    return np.sum(X[np.arange(X.shape[0]), labels] * w)


def rows(X, idx, w):
    return np.sum(X[idx] * w)


def taken(x, idx, w):
    return np.sum(np.take(x, idx) * w)


def test_gather_gradient_reads_no_value_and_scatters_with_bincount():
    g = s2sad.grad(gathered, wrt=0)
    code = body(g)
    assert "x[idx]" not in code and "_index_like(x, idx)" in code, g.source
    assert "np.bincount" in g.source and "np.add.at" not in code, g.source


@pytest.mark.parametrize("f, make", [
    (gathered, lambda r: (r.uniform(-2, 2, 6), np.array([0, 5, -1, 2, 2, 0, -6]),
                          r.uniform(-2, 2, 7))),
    (gathered, lambda r: (r.uniform(-2, 2, 6), np.array([[1, 1], [-2, 3]]),
                          r.uniform(-2, 2, (2, 2)))),
    (gathered, lambda r: (r.uniform(-2, 2, 6), np.array([4, 4, 4]), -1.5)),  # w a number
    (gathered, lambda r: (r.uniform(-2, 2, 6), [1, 3, 1], r.uniform(-2, 2, (2, 3)))),
    (masked, lambda r: (r.uniform(-2, 2, 6), np.array([1, 0, 1, 1, 0, 0], bool),
                        r.uniform(-2, 2, 3))),
    (masked, lambda r: (r.uniform(-2, 2, (2, 3)), np.array([[1, 0, 1], [0, 0, 1]], bool),
                        r.uniform(-2, 2, 3))),
    (picked, lambda r: (r.uniform(-2, 2, (4, 3)), np.array([2, 0, -1, 2]),
                        r.uniform(-2, 2, 4))),
    (rows, lambda r: (r.uniform(-2, 2, (4, 3)), np.array([3, 0, 3, -1]),
                      r.uniform(-2, 2, 3))),
    (taken, lambda r: (r.uniform(-2, 2, (2, 3)), np.array([5, 0, 5, -2]),
                       r.uniform(-2, 2, 4))),
])
def test_gather_gradients_match_finite_differences(f, make):
    g = s2sad.grad(f, wrt=0)
    for rng in POINTS:
        x, idx, w = make(rng)
        assert_close(g(x, idx, w), fd(f, x, idx, w), rtol=1e-6, atol=1e-8)


def test_gather_out_of_bounds_still_raises():
    g = s2sad.grad(gathered, wrt=0)
    x = np.ones(4)
    for bad in (np.array([0, 4]), np.array([-5, 1])):
        with pytest.raises(IndexError):
            gathered(x, bad, np.ones(2))
        with pytest.raises(IndexError):
            g(x, bad, np.ones(2))


def test_second_derivatives_through_the_new_adjoints():
    """The adjoints are ops with rules of their own (np.einsum, a product, bincount's
    shape-only witness): Hessians differentiate through them."""
    rng = np.random.default_rng(4)
    A, B = rng.uniform(-2.0, 2.0, (2, 3)), rng.uniform(-2.0, 2.0, (3, 2))
    H = s2sad.hessian(product, wrt=0)(A, B)
    grad = s2sad.grad(product, wrt=0)
    for k in range(A.size):
        want = fd(lambda v, k=k: grad(v, B).flat[k], A)
        assert_close(H.reshape(A.size, A.size)[k], want.ravel())
    x, idx, w = np.array([1.0, -2.0, 0.5]), np.array([0, 0, 2, -1]), np.array([1, 2, -1, .5])
    H = s2sad.hessian(cubed_reads, wrt=0)(x, idx, w)
    want = np.zeros((3, 3))
    for k, i in enumerate(idx):
        want[i, i] += 6.0 * x[i] * w[k]
    assert_close(H, want)


def cubed_reads(x, idx, w):
    return np.sum(x[idx] ** 3 * w)


# -- np.kron, np.tensordot, np.cross, np.take_along_axis: the result is not computed for its
# shape (`_product_like`, O(1)) where the gradient needs only its shape ----------------------

def kron_weighted(A, B, W):
    return np.sum(np.kron(A, B) * W)


def tensordot_weighted(A, B, W):
    return np.sum(np.tensordot(A, B, axes=([0], [-2])) * W)


def tensordot_int_weighted(A, B, W):
    return np.sum(np.tensordot(A, B, axes=1) * W)


def cross_weighted(A, B, W):
    return np.sum(np.cross(A, B, axis=0) * W)


def take_along_weighted(X, idx, W):
    return np.sum(np.take_along_axis(X, idx, axis=-1) * W)


def take_along_flat_weighted(X, idx, W):
    return np.sum(np.take_along_axis(X, idx, axis=None) * W)


_PRODUCT_CASES = [
    (kron_weighted, "np.kron", lambda r: (r.normal(size=(2, 3)), r.normal(size=(3,)),
                                          r.normal(size=(2, 9)))),
    (tensordot_weighted, "np.tensordot", lambda r: (r.normal(size=(4, 3)),
                                                    r.normal(size=(2, 4, 5)),
                                                    r.normal(size=(3, 2, 5)))),
    (tensordot_int_weighted, "np.tensordot", lambda r: (r.normal(size=(2, 4)),
                                                        r.normal(size=(4, 5)),
                                                        r.normal(size=(1, 5)))),
    (cross_weighted, "np.cross", lambda r: (r.normal(size=(3, 4)), r.normal(size=(3, 1)),
                                            r.normal(size=(3, 4)))),
    (take_along_weighted, "np.take_along_axis", lambda r: (
        r.normal(size=(3, 4)), r.integers(-4, 4, (3, 6)), r.normal(size=(3, 6)))),
    (take_along_flat_weighted, "np.take_along_axis", lambda r: (
        r.normal(size=(3, 4)), r.integers(0, 12, (7,)), r.normal(size=(7,)))),
]


@pytest.mark.parametrize("f, spelled, make", _PRODUCT_CASES,
                         ids=[case[0].__name__ for case in _PRODUCT_CASES])
def test_products_are_not_computed_for_their_shape(f, spelled, make):
    for rng in POINTS:
        args = make(rng)
        g = s2sad.grad(f, wrt=0)
        assert_close(g(*args), fd(f, *args))
    generic = g.generic if hasattr(g, "generic") else g
    primal = [c for c in calls(generic, spelled)  # the product itself, of the operands
              if [ast.unparse(a) for a in c.args[:2]] in (["A", "B"], ["X", "idx"])]
    assert not primal and "_product_like" in generic.source, generic.source
