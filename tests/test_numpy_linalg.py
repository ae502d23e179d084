"""np.linalg.inv / det / solve, np.prod, np.expand_dims and np.squeeze, against oracles.

Every case runs in reverse mode (``grad``) and forward mode (``jvp`` with a random
tangent) and is compared with Ridders-extrapolated central finite differences, with
the helpers of ``tests/test_numpy.py`` (``check_reverse``, ``check_forward``).  Then:

* ``np.prod`` with one and with two zero elements (products of the *other* elements:
  never ``prod / x``), against the closed form and finite differences;
* ``det`` at a singular matrix (rank n−1): the gradient is the cofactor matrix, here
  computed independently from minors;
* the identities ∇ log|det A| = A⁻ᵀ and ∇_b ‖solve(A, b)‖² = 2 A⁻ᵀ A⁻¹ b;
* ``vjp`` / ``jvp`` of ``inv`` with array cotangents and tangents (matrices and stacks);
* the inner-product identity ⟨ẏ, ȳ⟩ = ⟨ẋ, x̄⟩ on a function of inv, solve and det;
* located errors for the forms that are not supported.

Matrices are random with entries of both signs, plus a multiple of the identity so
that they are well conditioned (the finite differences stay accurate to ~1e-9).
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from tests.srcmod import load_source
from tests.test_numpy import (
    ATOL,
    RTOL,
    case,
    check_forward,
    check_reverse,
    fd_directional,
    fd_grad,
    rand,
)


def mat(shape: tuple[int, ...], seed: int) -> np.ndarray:
    """A well-conditioned matrix (or stack of matrices), entries of both signs."""
    return rand(shape, seed, -1.0, 1.0) + 2.0 * np.eye(shape[-1])


# == np.linalg.inv ============================================================================


def inv_sin(A):
    return np.sum(np.sin(np.linalg.inv(A)))


def inv_times(A, x):
    return np.sum(np.tanh(np.linalg.inv(A) @ x) * x)


def inv_twice(A):
    B = np.linalg.inv(A)
    return np.sum(B @ np.linalg.inv(A + B))


INV = [
    case(inv_sin, mat((2, 2), 1)),
    case(inv_sin, mat((3, 3), 2)),
    case(inv_sin, mat((4, 4), 3)),
    case(inv_sin, mat((2, 3, 3), 4)),
    case(inv_times, mat((3, 3), 5), rand((3,), 6)),
    case(inv_times, mat((3, 3), 7), rand((3, 2), 8)),
    case(inv_twice, mat((3, 3), 9)),
]


@pytest.mark.parametrize("c", INV)
def test_inv_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", INV)
def test_inv_forward(c):
    check_forward(c)


# == np.linalg.det ============================================================================


def det(A):
    return np.linalg.det(A)


def det_scaled(A, t):
    return np.linalg.det(A * t) * t


def det_stack_squares(A):
    return np.sum(np.linalg.det(A) ** 2)


def det_stack_weighted(A, w):
    return np.sum(np.linalg.det(A) * w)


def det_of_product(A, B):
    return np.linalg.det(A @ B) - np.linalg.det(A.T)


DET = [
    case(det, mat((2, 2), 20)),
    case(det, mat((3, 3), 21)),
    case(det, mat((4, 4), 22)),
    case(det, rand((3, 3), 23)),  # not shifted: any sign of det
    case(det_scaled, mat((3, 3), 24), -0.7),
    case(det_stack_squares, mat((2, 3, 3), 25)),
    case(det_stack_weighted, mat((2, 3, 3), 26), rand((2,), 27)),
    case(det_of_product, rand((3, 3), 28), rand((3, 3), 29)),
]


@pytest.mark.parametrize("c", DET)
def test_det_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", DET)
def test_det_forward(c):
    check_forward(c)


def cofactors_by_minors(A: np.ndarray) -> np.ndarray:
    n = A.shape[0]
    C = np.empty_like(A)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(A, i, axis=0), j, axis=1)
            C[i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return C


@pytest.mark.parametrize("A", [
    np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
    np.array([[2.0, -1.0, 0.5, 1.0], [0.0, 3.0, -2.0, 1.5], [2.0, 2.0, -1.5, 2.5],
              [1.0, -0.5, 0.25, 0.5]]),  # row 3 = row 1 + row 2, row 4 = row 1 / 2: rank 2
    np.array([[1.0, -2.0], [-0.5, 1.0]]),
], ids=["3x3 rank 2", "4x4 rank 2", "2x2 rank 1"])
def test_det_at_singular_matrix(A):
    """The gradient of det at a singular matrix is the cofactor matrix (zero at rank n-2)."""
    g = s2sad.grad(det)(A.copy())
    np.testing.assert_allclose(g, cofactors_by_minors(A), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(g, fd_grad(det, (A,), 0), rtol=RTOL, atol=ATOL)
    tangent = np.random.default_rng(30).uniform(-1.0, 1.0, A.shape)
    _, dot = s2sad.jvp(det)(A.copy(), tangent)
    np.testing.assert_allclose(dot, np.sum(cofactors_by_minors(A) * tangent), rtol=1e-9,
                               atol=1e-12)


def log_abs_det(A):
    return np.log(np.abs(np.linalg.det(A)))


@pytest.mark.parametrize("A", [mat((3, 3), 31), rand((4, 4), 32)], ids=["3x3", "4x4"])
def test_identity_log_abs_det(A):
    """∇ log|det A| = A⁻ᵀ."""
    g = s2sad.grad(log_abs_det)(A)
    np.testing.assert_allclose(g, np.linalg.inv(A).T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g, fd_grad(log_abs_det, (A,), 0), rtol=RTOL, atol=ATOL)


# == np.linalg.solve ==========================================================================


def solve_sin(A, b):
    return np.sum(np.sin(np.linalg.solve(A, b)))


def solve_weighted(A, b, w):
    return np.sum(np.linalg.solve(A.T, b) * w)


def solve_twice(A, b):
    x = np.linalg.solve(A, b)
    return np.sum(np.linalg.solve(A, x * x))


SOLVE = [
    case(solve_sin, mat((3, 3), 40), rand((3,), 41)),
    case(solve_sin, mat((3, 3), 42), rand((3, 2), 43)),
    case(solve_sin, mat((4, 4), 44), rand((4,), 45)),
    case(solve_sin, mat((2, 3, 3), 46), rand((2, 3, 2), 47)),
    case(solve_weighted, mat((4, 4), 48), rand((4, 3), 49), rand((4, 3), 50)),
    case(solve_twice, mat((3, 3), 51), rand((3,), 52)),
]


@pytest.mark.parametrize("c", SOLVE)
def test_solve_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", SOLVE)
def test_solve_forward(c):
    check_forward(c)


def solve_norm2(A, b):
    return np.sum(np.linalg.solve(A, b) ** 2)


def test_identity_solve_norm():
    """∇_b ‖solve(A, b)‖² = 2 A⁻ᵀ A⁻¹ b, and ∇_A against finite differences."""
    A, b = mat((4, 4), 53), rand((4,), 54)
    gA, gb = s2sad.grad(solve_norm2, wrt=(0, 1))(A, b)
    Ainv = np.linalg.inv(A)
    np.testing.assert_allclose(gb, 2.0 * Ainv.T @ Ainv @ b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gb, fd_grad(solve_norm2, (A, b), 1), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gA, fd_grad(solve_norm2, (A, b), 0), rtol=RTOL, atol=ATOL)


# == np.prod ==================================================================================


def prod_all(x):
    return np.prod(x)


def prod_axis0(x):
    return np.sum(np.sin(np.prod(x, axis=0)))


def prod_axis_neg(x):
    return np.sum(np.prod(x, -1) ** 2)


def prod_axes(x):
    return np.sum(np.cos(np.prod(x, axis=(0, 2))))


def prod_axes_neg(x):
    return np.sum(np.prod(x, axis=(-1, 0)) * np.arange(3))


def prod_keepdims(x):
    return np.sum(x / (1.0 + np.prod(x, axis=1, keepdims=True) ** 2))


def prod_keepdims_all(x):
    return np.sum(x * np.prod(x, keepdims=True))


def prod_method(x):
    return x.prod() + np.sum(x.prod(axis=1) * x.prod(0, keepdims=True).T)


def prod_rows(x):
    return np.sum(np.prod(x, axis=1))


def prod_scaled(x, t):
    return np.prod(x * t)


PROD = [
    case(prod_all, rand((5,), 60)),
    case(prod_all, rand((3, 4), 61)),
    case(prod_all, rand((), 62)),
    case(prod_all, rand((2, 3, 2), 63)),
    case(prod_axis0, rand((3, 4), 64)),
    case(prod_axis0, rand((4,), 65)),
    case(prod_axis_neg, rand((2, 3, 4), 66)),
    case(prod_axes, rand((2, 3, 2), 67)),
    case(prod_axes_neg, rand((2, 3, 2), 68)),
    case(prod_keepdims, rand((3, 4), 69)),
    case(prod_keepdims_all, rand((2, 3), 70)),
    case(prod_method, rand((3, 3), 71)),
    case(prod_scaled, rand((4,), 72), -1.3),
    case(prod_all, np.array([1.5, 0.0, -2.0, 0.5]), id="prod_all[one zero]"),
    case(prod_all, np.array([[1.5, 0.0], [-2.0, 0.0]]), id="prod_all[two zeros]"),
    case(prod_axis0, np.array([[0.0, 1.0, 0.0], [-2.0, 0.0, 0.0], [0.5, 3.0, -1.0]]),
         id="prod_axis0[zeros]"),
]


@pytest.mark.parametrize("c", PROD)
def test_prod_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", PROD)
def test_prod_forward(c):
    check_forward(c)


def test_prod_at_zeros_is_exact():
    """∂ prod / ∂xᵢ = the product of the other elements: finite and exact at zeros."""
    one = np.array([1.5, 0.0, -2.0, 0.5])
    np.testing.assert_array_equal(s2sad.grad(prod_all)(one), [0.0, -1.5, 0.0, 0.0])
    two = np.array([1.5, 0.0, -2.0, 0.0])
    np.testing.assert_array_equal(s2sad.grad(prod_all)(two), np.zeros(4))
    _, dot = s2sad.jvp(prod_all)(one, np.array([0.0, 2.0, 0.0, 0.0]))
    assert dot == -3.0
    rows = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0]])
    g = s2sad.grad(prod_rows)(rows)
    np.testing.assert_array_equal(g, [[6.0, 0.0, 0.0], [0.0, 0.0, 0.0]])


# == np.expand_dims, np.squeeze ===============================================================


def expand0(x, w):
    return np.sum(np.sin(np.expand_dims(x, 0)) * w)


def expand_neg(x, w):
    return np.sum(np.expand_dims(x, axis=-1) * w)


def expand_tuple(x):
    return np.sum(np.expand_dims(x, (0, 2)) @ np.expand_dims(x, (0, 1)))


def squeeze_all(x, w):
    return np.sum(np.tanh(np.squeeze(x)) * w)


def squeeze_axis(x, w):
    return np.sum(np.squeeze(x, axis=0) @ w)


def squeeze_method(x):
    return np.sum(x.squeeze() ** 3) + np.sum(x.squeeze(-1) * x.squeeze(axis=-1))


def squeeze_to_scalar(x):
    return np.squeeze(x) * np.sum(x)


SHAPES = [
    case(expand0, rand((3,), 80), rand((2, 3), 81)),
    case(expand_neg, rand((3,), 82), rand((3, 2), 83)),
    case(expand_neg, rand((), 84), rand((2,), 85)),
    case(expand_tuple, rand((3,), 86)),
    case(squeeze_all, rand((1, 3, 1), 87), rand((3,), 88)),
    case(squeeze_axis, rand((1, 3, 2), 89), rand((2,), 90)),
    case(squeeze_method, rand((2, 1), 91)),
    case(squeeze_to_scalar, rand((1, 1), 92)),
]


@pytest.mark.parametrize("c", SHAPES)
def test_expand_squeeze_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", SHAPES)
def test_expand_squeeze_forward(c):
    check_forward(c)


# == vjp / jvp of inv, and the inner-product identity ===========================================


def inv(A):
    return np.linalg.inv(A)


@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_inv_vjp_jvp_with_arrays(shape):
    rng = np.random.default_rng(100)
    A = mat(shape, 101)
    cot, tan = rng.standard_normal(shape), rng.standard_normal(shape)
    Y = np.linalg.inv(A)
    value, A_bar = s2sad.vjp(inv)(A.copy(), cot)
    np.testing.assert_allclose(value, Y, rtol=1e-13)
    Yt = np.swapaxes(Y, -1, -2)
    np.testing.assert_allclose(A_bar, -Yt @ cot @ Yt, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(A_bar, fd_grad(lambda A: np.sum(inv(A) * cot), (A,), 0),
                               rtol=RTOL, atol=ATOL)
    value, A_dot = s2sad.jvp(inv)(A.copy(), tan)
    np.testing.assert_allclose(A_dot, -Y @ tan @ Y, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(A_dot, fd_directional(inv, (A,), (0,), [tan]), rtol=RTOL,
                               atol=ATOL)


def mixed(A, b):
    x = np.linalg.solve(A, b)
    return np.linalg.inv(A) @ x * np.linalg.det(A) + np.prod(b) * x


def test_inner_product_inv_solve_det():
    rng = np.random.default_rng(110)
    A, b = mat((3, 3), 111), rand((3,), 112)
    Ad, bd, ybar = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal(3)
    _, ydot = s2sad.jvp(mixed, wrt=(0, 1))(A, b, Ad, bd)
    _, (A_bar, b_bar) = s2sad.vjp(mixed, wrt=(0, 1))(A, b, ybar)
    np.testing.assert_allclose(np.sum(ydot * ybar), np.sum(Ad * A_bar) + np.sum(bd * b_bar),
                               rtol=1e-11)
    np.testing.assert_allclose(ydot, fd_directional(mixed, (A, b), (0, 1), [Ad, bd]),
                               rtol=RTOL, atol=ATOL)


# == unsupported forms: located errors ==========================================================

_BAD = {
    "prod_dtype": ("np.prod(x, dtype=np.float32)", "np.float32", "dtype"),
    "prod_method_dtype": ("x.prod(0, float)", "x.prod(0, float)", ".prod()"),
    "solve_three": ("np.sum(np.linalg.solve(x, x, x))", "np.linalg.solve", "np.linalg.solve"),
    "det_keyword": ("np.linalg.det(a=x)", "x", "keyword"),
    "expand_no_axis": ("np.sum(np.expand_dims(x))", "np.expand_dims(x)", "axis"),
    "squeeze_dynamic": ("np.sum(np.squeeze(x, n))", "n", "constant"),
    "dstack": ("np.sum(np.dstack([x, x]))", "np.dstack", "not supported yet"),
}


@pytest.mark.parametrize("name", list(_BAD))
def test_unsupported_forms_are_located(name):
    expr, at, msg = _BAD[name]
    mod = load_source(f"import numpy as np\n\n\ndef f(x, n):\n    return {expr}\n", "linalg")
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(mod.f)
    err = info.value
    assert (err.lineno, err.col_offset) == (5, len("    return ") + expr.rindex(at)), str(err)
    assert msg in str(err), str(err)
