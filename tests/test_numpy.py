"""NumPy arrays through s2sad, checked against independent oracles only.

Every derivative is compared with either a closed form (the matrix-calculus
identities, the stable gradients of softplus / log-sum-exp / softmax
cross-entropy) or with Ridders-extrapolated central finite differences
(``tests/oracles.py``) taken entry by entry over every array argument.  s2sad
is never compared with itself, except for the inner-product identity
⟨ẏ, ȳ⟩ = ⟨ẋ, x̄⟩, which ties jvp and vjp together (and both are also checked
against finite differences).

The tests are grouped by feature, one ``CASES`` table per group, each case run in
reverse mode (``grad``) and in forward mode (``jvp`` with a random tangent, and
``grad(mode="forward")`` where it is not refused for an array argument), so a
failing group names the missing feature:

* ``test_elementwise_*``   ``+ - * / **``, unary minus, float literals
* ``test_ufunc_*``         np.sin, np.exp, np.log, … on 0-d, 1-d and 2-d arrays
* ``test_binary_ufunc_*``  np.power, np.arctan2, np.hypot with broadcasting
* ``test_broadcast_*``     scalars, 0-d arrays, rows (1, n), columns (n, 1), vectors
* ``test_product_*``       ``@``, np.dot, np.matmul, np.outer, np.inner
* ``test_reduction_*``     np.sum / np.mean / np.max / np.min, ``axis=``, ``keepdims=``, methods
* ``test_shape_op_*``      ``.T``, np.transpose, ``reshape``, np.ravel
* ``test_select_*``        np.where, np.maximum, np.minimum, np.clip, np.abs, np.logaddexp
* ``test_constructor_*``   np.zeros, np.ones, *_like, np.eye, np.arange, np.pi
* ``test_shape_query_*``   ``x.shape``, ``x.shape[0]``, ``n, d = X.shape``, ``x.ndim``, ``len(x)``
* ``test_index_*``         ``x[i]``, ``x[-1]``, ``x[:, 0]``, ``x[1:3]``, ``X[i, j]``
* ``test_identity_*``      the four matrix-calculus identities, to 1e-12
* ``test_stable_*``        finite gradients at inputs of magnitude 1000
* ``test_inner_product_*`` ⟨jvp tangent, ȳ⟩ = ⟨ẋ, vjp cotangent⟩
* ``test_model_*``         the loss functions of ``examples/*.py``

Test points avoid kinks (ties of max/min, the corners of clip/abs/where) by at
least 0.1, and the finite differences near kinks start from a small step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pytest

import s2sad
from tests.oracles import derivative
from tests.srcmod import load_example, load_source

RTOL = 1e-6  # against finite differences (Ridders is good to ~1e-9 on these functions)
ATOL = 1e-8


# -- points --------------------------------------------------------------------------------


def rand(shape: tuple[int, ...] | None, seed: int, lo: float = -2.0, hi: float = 2.0) -> Any:
    """Uniform random values in [lo, hi): an ndarray of ``shape``, a Python float for None."""
    rng = np.random.default_rng(seed)
    if shape is None:
        return float(rng.uniform(lo, hi))
    return np.asarray(rng.uniform(lo, hi, shape), dtype=float)


def spaced(shape: tuple[int, ...], seed: int, kinks: tuple[float, ...] = (0.0,),
           gap: float = 0.15, lo: float = -2.5, hi: float = 2.5) -> np.ndarray:
    """Distinct values (pairwise ≥ ``gap`` apart) at least ``gap`` from every kink."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    got: list[float] = []
    while len(got) < n:
        v = float(rng.uniform(lo, hi))
        if all(abs(v - k) >= gap for k in kinks) and all(abs(v - u) >= gap for u in got):
            got.append(v)
    return np.array(got).reshape(shape)


def apart(x: np.ndarray, seed: int, gap: float = 0.15) -> np.ndarray:
    """An array like ``x`` whose every entry differs from x's by at least ``gap``."""
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], np.shape(x))
    return x + sign * rng.uniform(gap, 1.0, np.shape(x))


# -- finite differences over every entry ------------------------------------------------------


def _with(args: tuple, i: int, value: Any) -> list:
    moved = list(args)
    moved[i] = value
    return moved


def _copy(args: tuple) -> list:
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def fd_grad(f: Callable[..., Any], args: tuple, i: int, h: float | None = None) -> Any:
    """∂f/∂args[i] by Ridders' central differences, one entry at a time.

    A float for a Python-float argument, an array of the argument's shape for an ndarray.
    """
    a = args[i]
    if not isinstance(a, np.ndarray):
        return derivative(lambda t: float(f(*_with(args, i, float(t)))), float(a), h)
    out = np.empty(a.shape)
    for idx in np.ndindex(a.shape):
        def g(t: float, idx: tuple = idx) -> float:
            moved = a.copy()
            moved[idx] = t
            return float(f(*_with(args, i, moved)))
        out[idx] = derivative(g, float(a[idx]), h)
    return out


def fd_directional(f: Callable[..., Any], args: tuple, wrt: tuple[int, ...],
                   tangents: list, h: float | None = None) -> Any:
    """d/dt f(args + t·tangents) at t = 0 (entry by entry for an array-valued f)."""
    def at(t: float) -> Any:
        moved = list(args)
        for i, d in zip(wrt, tangents, strict=True):
            moved[i] = args[i] + t * d
        return f(*moved)

    step = 0.1 if h is None else h
    probe = np.asarray(at(0.0))
    if probe.ndim == 0:
        return derivative(lambda t: float(at(t)), 0.0, step)
    out = np.empty(probe.shape)
    for idx in np.ndindex(probe.shape):
        out[idx] = derivative(lambda t, idx=idx: float(np.asarray(at(t))[idx]), 0.0, step)
    return out


def tangent_like(a: Any, rng: np.random.Generator) -> Any:
    if isinstance(a, np.ndarray):
        return rng.uniform(-1.0, 1.0, a.shape)
    return float(rng.uniform(-1.0, 1.0))


# -- the shared checks ----------------------------------------------------------------------


class Case(NamedTuple):
    f: Callable[..., Any]
    args: tuple
    wrt: tuple[int, ...]
    h: float | None = None  # first finite-difference step (small near kinks)


def case(f: Callable[..., Any], *args: Any, wrt: tuple[int, ...] | None = None,
         h: float | None = None, id: str | None = None) -> Any:
    """A pytest param: ``wrt`` defaults to every float / ndarray argument."""
    if wrt is None:
        wrt = tuple(i for i, a in enumerate(args)
                    if isinstance(a, np.ndarray) or type(a) is float)
    shapes = ",".join("f" if type(a) is float else "i" if type(a) is int
                      else "x".join(map(str, a.shape)) or "0d" for a in args)
    return pytest.param(Case(f, args, wrt, h), id=id or f"{f.__name__}[{shapes}]")


def _wrt_arg(wrt: tuple[int, ...]) -> Any:
    return wrt[0] if len(wrt) == 1 else wrt


def assert_gradient_like(g: Any, arg: Any, what: str) -> None:
    """A float for a float argument; an ndarray of the same shape for an ndarray."""
    if isinstance(arg, np.ndarray) and arg.ndim > 0:
        assert isinstance(g, np.ndarray), f"{what}: gradient is {type(g).__name__}, not ndarray"
        assert g.shape == arg.shape, f"{what}: gradient shape {g.shape} != {arg.shape}"
    elif isinstance(arg, np.ndarray):
        assert np.ndim(g) == 0, f"{what}: gradient of a 0-d array has shape {np.shape(g)}"
    else:
        assert isinstance(g, float) and np.ndim(g) == 0, (
            f"{what}: gradient of a float is {type(g).__name__} {np.shape(g)}")


def check_reverse(c: Case) -> None:
    """``grad`` (reverse) against finite differences; the arguments are not mutated."""
    args = _copy(c.args)
    got = s2sad.grad(c.f, wrt=_wrt_arg(c.wrt))(*args)
    for a, b in zip(args, c.args, strict=True):
        np.testing.assert_array_equal(a, b, err_msg="the gradient mutated an argument")
    got = got if len(c.wrt) > 1 else (got,)
    assert isinstance(got, tuple) and len(got) == len(c.wrt)
    for i, g in zip(c.wrt, got, strict=True):
        what = f"{c.f.__name__}: d/d arg {i}"
        assert_gradient_like(g, c.args[i], what)
        want = fd_grad(c.f, c.args, i, c.h)
        np.testing.assert_allclose(g, want, rtol=RTOL, atol=ATOL, err_msg=what)


def check_forward(c: Case) -> None:
    """``jvp`` with a random tangent against the finite-difference directional derivative,
    then ``grad(mode="forward")`` per argument (which may refuse an array argument)."""
    rng = np.random.default_rng(1234)
    tangents = [tangent_like(c.args[i], rng) for i in c.wrt]
    value, tangent = s2sad.jvp(c.f, wrt=_wrt_arg(c.wrt))(*_copy(c.args), *tangents)
    np.testing.assert_allclose(value, c.f(*c.args), rtol=1e-12, atol=1e-14,
                               err_msg=f"{c.f.__name__}: jvp value")
    want = fd_directional(c.f, c.args, c.wrt, tangents, c.h)
    np.testing.assert_allclose(tangent, want, rtol=RTOL, atol=ATOL,
                               err_msg=f"{c.f.__name__}: jvp tangent")
    for i in c.wrt:
        try:
            g = s2sad.grad(c.f, wrt=i, mode="forward")(*_copy(c.args))
        except (s2sad.DifferentiationError, ValueError) as e:
            refused = isinstance(e, s2sad.DifferentiationError) or (
                "forward-mode gradient needs a scalar" in str(e))
            if refused and isinstance(c.args[i], np.ndarray) and c.args[i].ndim > 0:
                continue  # allowed: one sweep per entry would be needed (jvp is checked above)
            raise
        what = f"{c.f.__name__}: forward d/d arg {i}"
        assert_gradient_like(g, c.args[i], what)
        np.testing.assert_allclose(g, fd_grad(c.f, c.args, i, c.h), rtol=RTOL, atol=ATOL,
                                   err_msg=what)


# == elementwise arithmetic ====================================================================


def ew_arith(x, y):
    return np.sum(x * y + x - y * y)


def ew_div(x, y):
    return np.sum(x / y)


def ew_neg(x):
    return np.sum(-x * x + (-x) * -2.0)


def ew_pow_int(x):
    return np.sum(x ** 3)


def ew_pow_float(x):
    return np.sum(x ** 2.5)


def ew_pow_array(x, y):
    return np.sum(x ** y)


def ew_rpow(x):
    return np.sum(2.0 ** x)


def ew_literals(x):
    return np.sum(3 * x - 2.5 / (x * x + 1) + 1)


def ew_rational(x):
    return np.sum((x - 1.0) / (x * x + 2.0))


def ew_augmented(x, y):
    s = x * 1.0
    s += y
    s *= x
    s -= 0.5
    s /= 1.0 + y * y
    return np.sum(s)


ELEMENTWISE = [
    case(ew_arith, rand((3, 4), 1), rand((3, 4), 2)),
    case(ew_arith, rand((), 3), rand((), 4)),
    case(ew_div, rand((5,), 5), rand((5,), 6, 0.5, 2.0)),
    case(ew_div, rand((2, 3), 7), rand((2, 3), 8, -2.0, -0.5)),
    case(ew_neg, rand((4,), 9)),
    case(ew_pow_int, rand((2, 3), 10)),
    case(ew_pow_int, rand((), 11)),
    case(ew_pow_float, rand((4,), 12, 0.5, 2.0)),
    case(ew_pow_array, rand((2, 3), 13, 0.5, 2.0), rand((2, 3), 14)),
    case(ew_rpow, rand((3,), 15)),
    case(ew_literals, rand((2, 2), 16)),
    case(ew_rational, rand((5,), 17)),
    case(ew_augmented, rand((3, 2), 18), rand((3, 2), 19)),
]


@pytest.mark.parametrize("c", ELEMENTWISE)
def test_elementwise_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", ELEMENTWISE)
def test_elementwise_forward(c):
    check_forward(c)


# == unary ufuncs =============================================================================

UFUNCS = {  # name -> domain of the test points
    "sin": (-2.0, 2.0), "cos": (-2.0, 2.0), "tan": (-1.2, 1.2), "exp": (-2.0, 2.0),
    "log": (0.3, 3.0), "tanh": (-2.0, 2.0), "sqrt": (0.3, 3.0), "arctan": (-2.0, 2.0),
    "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9), "sinh": (-2.0, 2.0), "cosh": (-2.0, 2.0),
    "arcsinh": (-2.0, 2.0), "arctanh": (-0.9, 0.9), "log1p": (-0.7, 2.0),
    "expm1": (-2.0, 2.0), "log2": (0.3, 3.0), "log10": (0.3, 3.0), "square": (-2.0, 2.0),
}
_UFUNC_MODULE = load_source("import numpy as np\n\n" + "".join(
    f"\n\ndef uf_{u}(x):\n    return np.sum(np.{u}(x) * x)\n" for u in UFUNCS), "ufuncs")

UFUNC_CASES = [
    case(getattr(_UFUNC_MODULE, f"uf_{u}"), rand(shape, k, *dom))
    for k, (u, dom) in enumerate(UFUNCS.items())
    for shape in ((), (5,), (2, 3))
]


@pytest.mark.parametrize("c", UFUNC_CASES)
def test_ufunc_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", UFUNC_CASES)
def test_ufunc_forward(c):
    check_forward(c)


# == binary ufuncs ===========================================================================


def bu_power(x, y):
    return np.sum(np.power(x, y))


def bu_arctan2(y, x):
    return np.sum(np.arctan2(y, x))


def bu_hypot(x, y):
    return np.sum(np.hypot(x, y))


BINARY_UFUNCS = [
    case(bu_power, rand((2, 3), 20, 0.5, 2.0), rand((3,), 21)),
    case(bu_power, rand((3,), 22, 0.5, 2.0), 1.5),
    case(bu_arctan2, rand((2, 3), 23), rand((2, 1), 24, 0.5, 2.0)),
    case(bu_hypot, rand((4,), 25, 0.5, 2.0), rand((), 26, 0.5, 2.0)),
]


@pytest.mark.parametrize("c", BINARY_UFUNCS)
def test_binary_ufunc_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", BINARY_UFUNCS)
def test_binary_ufunc_forward(c):
    check_forward(c)


# == broadcasting =============================================================================


def bc_mix(x, y):
    return np.sum(np.sin(x * y) + x / (y * y + 1.0) - y)


def bc_sub_div(x, y):
    return np.sum((x - y) / (2.0 + x * x) * y)


def bc_annotated_float(x, y: float):
    return np.sum(np.sin(x * y) + x / (y * y + 1.0) - y)


def bc_mean_of_difference(x, y):
    """A mean's scalar adjoint meets operands smaller than the result (copies, sums)."""
    return np.mean(np.exp(x) - y * x) + np.mean(x - 2.0)


def bc_logistic(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


BROADCAST = [
    case(bc_mean_of_difference, rand((3, 1), 62), rand((1, 4), 63),
         id="bc_mean_of_difference[column 3x1, row 1x4]"),
    case(bc_mean_of_difference, rand((3, 4), 64), rand((3, 4), 65),
         id="bc_mean_of_difference[same 3x4]"),
    case(bc_mean_of_difference, rand((4,), 66), rand(None, 67),
         id="bc_mean_of_difference[vector 4, float]"),
    case(bc_mean_of_difference, rand(None, 68), rand((2, 3), 69),
         id="bc_mean_of_difference[float, 2x3]"),
    case(bc_logistic, rand((3,), 70), rand(None, 71), rand((5, 3), 72), rand((5,), 73),
         id="bc_logistic[labels like z]"),
    case(bc_logistic, rand((3,), 74), rand((5,), 75), rand((5, 3), 76), rand((2, 1), 77),
         id="bc_logistic[vector b, labels 2x1 broadcast z]"),
    case(bc_logistic, rand((3,), 78), rand(None, 79), rand((5, 3), 80), rand(None, 81),
         id="bc_logistic[scalar label]"),
    case(bc_mix, rand((3, 4), 30), rand((3, 4), 31), id="bc_mix[same 3x4]"),
    case(bc_mix, rand((3, 4), 32), rand((), 33), id="bc_mix[3x4, 0-d array]"),
    case(bc_mix, rand((3, 4), 34), rand(None, 35), id="bc_mix[3x4, float]"),
    case(bc_mix, rand(None, 36), rand((3, 4), 37), id="bc_mix[float, 3x4]"),
    case(bc_mix, rand((), 38), rand((2, 3), 39), id="bc_mix[0-d array, 2x3]"),
    case(bc_mix, rand((3, 4), 40), rand((1, 4), 41), id="bc_mix[3x4, row 1x4]"),
    case(bc_mix, rand((3, 4), 42), rand((3, 1), 43), id="bc_mix[3x4, column 3x1]"),
    case(bc_mix, rand((3, 1), 44), rand((3, 4), 45), id="bc_mix[column 3x1, 3x4]"),
    case(bc_mix, rand((3, 4), 46), rand((4,), 47), id="bc_mix[3x4, vector 4]"),
    case(bc_mix, rand((3, 1), 48), rand((1, 4), 49), id="bc_mix[column 3x1, row 1x4]"),
    case(bc_mix, rand((2, 3, 4), 50), rand((3, 1), 51), id="bc_mix[2x3x4, 3x1]"),
    case(bc_mix, rand((), 52), rand((), 53), id="bc_mix[0-d, 0-d]"),
    case(bc_sub_div, rand((3, 4), 54), rand((1, 4), 55), id="bc_sub_div[3x4, row 1x4]"),
    case(bc_sub_div, rand((3, 4), 56), rand((3, 1), 57), id="bc_sub_div[3x4, column 3x1]"),
    case(bc_sub_div, rand((4,), 58), rand(None, 59), id="bc_sub_div[vector 4, float]"),
    case(bc_annotated_float, rand((3, 4), 60), rand(None, 61),
         id="bc_annotated_float[3x4, y: float]"),
]


@pytest.mark.parametrize("c", BROADCAST)
def test_broadcast_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", BROADCAST)
def test_broadcast_forward(c):
    check_forward(c)


# == products =================================================================================


def pr_vec_matmul(x, y):
    return x @ y


def pr_matvec(A, x):
    return np.sum(np.tanh(A @ x))


def pr_vecmat(x, A):
    return np.sum(np.sin(x @ A))


def pr_matmat(A, B):
    return np.sum(np.sin(A @ B))


def pr_chain(A, B, x):
    return np.sum(np.tanh(A @ B @ x))


def pr_dot_vec(x, y):
    return np.dot(x, y) * np.dot(x, x)


def pr_dot_mat(A, B):
    return np.sum(np.cos(np.dot(A, B)))


def pr_dot_matvec(A, x):
    return np.sum(np.dot(A, x) ** 2)


def pr_matmul(A, B):
    return np.sum(np.exp(0.3 * np.matmul(A, B)))


def pr_outer(x, y):
    return np.sum(np.sin(np.outer(x, y)))


def pr_inner(x, y):
    return np.inner(x, y) * np.inner(x, x)


PRODUCTS = [
    case(pr_vec_matmul, rand((4,), 60), rand((4,), 61)),
    case(pr_matvec, rand((3, 4), 62), rand((4,), 63)),
    case(pr_vecmat, rand((3,), 64), rand((3, 4), 65)),
    case(pr_matmat, rand((3, 4), 66), rand((4, 2), 67)),
    case(pr_matmat, rand((1, 3), 68), rand((3, 1), 69)),
    case(pr_chain, rand((2, 3), 70), rand((3, 4), 71), rand((4,), 72)),
    case(pr_dot_vec, rand((3,), 73), rand((3,), 74)),
    case(pr_dot_mat, rand((2, 3), 75), rand((3, 2), 76)),
    case(pr_dot_matvec, rand((3, 4), 77), rand((4,), 78)),
    case(pr_matmul, rand((2, 3), 79), rand((3, 4), 80)),
    case(pr_outer, rand((3,), 81), rand((4,), 82)),
    case(pr_inner, rand((4,), 83), rand((4,), 84)),
    # stacks of matrices, with vectors and matrices on the other side
    case(pr_matvec, rand((2, 3, 4), 85), rand((4,), 86), id="pr_matvec[stack 2x3x4, 4]"),
    case(pr_vecmat, rand((3,), 87), rand((2, 3, 4), 88), id="pr_vecmat[3, stack 2x3x4]"),
    case(pr_matmat, rand((2, 3, 4), 89), rand((4, 2), 90), id="pr_matmat[stack, matrix]"),
    case(pr_matmat, rand((3, 4), 91), rand((2, 4, 2), 92), id="pr_matmat[matrix, stack]"),
    case(pr_matmat, rand((2, 3, 4), 93), rand((2, 4, 2), 94), id="pr_matmat[stack, stack]"),
]


@pytest.mark.parametrize("c", PRODUCTS)
def test_product_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", PRODUCTS)
def test_product_forward(c):
    check_forward(c)


# == reductions ===============================================================================


def rd_sum_all(x):
    return np.sin(np.sum(x)) + np.sum(x * x)


def rd_sum_axis0(x):
    return np.sum(np.sin(np.sum(x, axis=0)))


def rd_sum_axis1(x):
    return np.sum(np.sin(np.sum(x, axis=1)))


def rd_sum_axis_neg(x):
    return np.sum(np.sin(np.sum(x, axis=-1)))


def rd_sum_keepdims_rows(x):
    return np.sum(np.sin(x - np.sum(x, axis=1, keepdims=True)))


def rd_sum_keepdims_cols(x):
    return np.sum(np.cos(x * np.sum(x, axis=0, keepdims=True)))


def rd_sum_keepdims_all(x):
    return np.sum(np.sin(x * np.sum(x, keepdims=True)))


def rd_mean_all(x):
    return np.sin(np.mean(x)) * np.mean(x * x)


def rd_mean_axis0(x):
    return np.sum(np.sin(np.mean(x, axis=0)))


def rd_mean_keepdims(x):
    return np.sum((x - np.mean(x, axis=1, keepdims=True)) ** 2 * x)


def rd_max_all(x):
    return np.max(x) * np.sum(x)


def rd_max_axis0(x):
    return np.sum(np.sin(np.max(x, axis=0)))


def rd_max_keepdims(x):
    return np.sum(np.exp(x - np.max(x, axis=1, keepdims=True)))


def rd_min_axis1(x):
    return np.sum(np.min(x, axis=1) ** 2)


def rd_min_keepdims(x):
    return np.sum(np.sin(x * np.min(x, axis=0, keepdims=True)))


def rd_min_all(x):
    return np.min(x) ** 2 + np.sum(x)


def me_sum(x):
    return np.sin(x.sum()) + (x * x).sum()


def me_sum_axis(x):
    return np.sum(np.cos(x.sum(axis=1)))


def me_mean_axis0(x):
    return np.sum(np.sin(x.mean(axis=0)))


def me_mean(x):
    return x.mean() * (x * x).mean()


def me_max(x):
    return x.max() * x.sum()


def me_min_axis(x):
    return np.sum(np.sin(x.min(axis=0)))


def me_max_keepdims(x):
    return np.sum(np.exp(x - x.max(axis=1, keepdims=True)))


SMALL_H = 0.01  # first finite-difference step near kinks (points are ≥ 0.15 from them)

REDUCTIONS = [
    case(rd_sum_all, rand((3, 4), 90)),
    case(rd_sum_all, rand((), 91)),
    case(rd_sum_all, rand((5,), 92)),
    case(rd_sum_axis0, rand((3, 4), 93)),
    case(rd_sum_axis0, rand((2, 3, 4), 94)),
    case(rd_sum_axis0, rand((5,), 95)),
    case(rd_sum_axis1, rand((3, 4), 96)),
    case(rd_sum_axis_neg, rand((2, 3, 4), 97)),
    case(rd_sum_keepdims_rows, rand((3, 4), 98)),
    case(rd_sum_keepdims_cols, rand((3, 4), 99)),
    case(rd_sum_keepdims_all, rand((3, 4), 100)),
    case(rd_mean_all, rand((3, 4), 101)),
    case(rd_mean_all, rand((), 102)),
    case(rd_mean_axis0, rand((3, 4), 103)),
    case(rd_mean_keepdims, rand((3, 4), 104)),
    case(rd_max_all, spaced((3, 4), 105), h=SMALL_H),
    case(rd_max_all, spaced((5,), 106), h=SMALL_H),
    case(rd_max_axis0, spaced((3, 4), 107), h=SMALL_H),
    case(rd_max_keepdims, spaced((3, 4), 108), h=SMALL_H),
    case(rd_min_axis1, spaced((3, 4), 109), h=SMALL_H),
    case(rd_min_keepdims, spaced((3, 4), 110), h=SMALL_H),
    case(rd_min_all, spaced((2, 3), 111), h=SMALL_H),
    case(me_sum, rand((3, 4), 112)),
    case(me_sum_axis, rand((3, 4), 113)),
    case(me_mean_axis0, rand((3, 4), 114)),
    case(me_mean, rand((5,), 115)),
    case(me_max, spaced((3, 4), 116), h=SMALL_H),
    case(me_min_axis, spaced((3, 4), 117), h=SMALL_H),
    case(me_max_keepdims, spaced((3, 4), 118), h=SMALL_H),
]


@pytest.mark.parametrize("c", REDUCTIONS)
def test_reduction_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", REDUCTIONS)
def test_reduction_forward(c):
    check_forward(c)


# == shape operations ===========================================================================


def so_T(x, W):
    return np.sum(np.sin(x.T) * W)


def so_T_product(A, B):
    return np.sum(np.tanh((A @ B).T) * np.arange(3))


def so_T_1d(x, y):
    return x.T @ y


def so_transpose(x, W):
    return np.sum(np.tanh(np.transpose(x) @ W))


def so_reshape(x, w):
    return np.sum(np.sin(x.reshape(4, 3) @ w))


def so_reshape_tuple(x, w):
    return np.sum(np.sin(x.reshape((2, 6))) * w)


def so_reshape_flat(x, w):
    return np.sum(x.reshape(-1) * w * x.reshape(-1))


def so_ravel(x, w):
    return np.ravel(x) @ w + np.sum(np.ravel(x) ** 3)


SHAPE_OPS = [
    case(so_T, rand((3, 4), 120), rand((4, 3), 121)),
    case(so_T_product, rand((3, 2), 122), rand((2, 4), 123)),
    case(so_T_1d, rand((4,), 124), rand((4,), 125)),
    case(so_transpose, rand((3, 4), 126), rand((3, 2), 127)),
    case(so_reshape, rand((3, 4), 128), rand((3,), 129)),
    case(so_reshape, rand((12,), 130), rand((3,), 131)),
    case(so_reshape_tuple, rand((3, 4), 132), rand((2, 6), 133)),
    case(so_reshape_flat, rand((3, 4), 134), rand((12,), 135)),
    case(so_ravel, rand((2, 3), 136), rand((6,), 137)),
]


@pytest.mark.parametrize("c", SHAPE_OPS)
def test_shape_op_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", SHAPE_OPS)
def test_shape_op_forward(c):
    check_forward(c)


# == selection: where, maximum, minimum, clip, abs, logaddexp ===================================


def se_where_leaky(x):
    return np.sum(np.where(x > 0, x, 0.1 * x) * x)


def se_where_two(x, y):
    return np.sum(np.where(x > y, x * y, x - y))


def se_maximum_zero(x):
    return np.sum(np.maximum(x, 0.0) * x)


def se_maximum(x, y):
    return np.sum(np.maximum(x, y) ** 2)


def se_minimum(x, y):
    return np.sum(np.sin(np.minimum(x, y)))


def se_clip(x):
    return np.sum(np.clip(x, -1.0, 1.0) * x)


def se_abs(x):
    return np.sum(np.abs(x) * x)


def se_logaddexp(x, y):
    return np.sum(np.logaddexp(x, y))


def se_softplus(x):
    return np.sum(np.logaddexp(0.0, x) * x)


_X34 = spaced((3, 4), 140)
_ROW = spaced((1, 4), 141)
SELECT = [
    case(se_where_leaky, spaced((3, 4), 142), h=SMALL_H),
    case(se_where_leaky, spaced((), 143), h=SMALL_H),
    case(se_where_two, _X34, apart(_X34, 144), h=SMALL_H),
    case(se_maximum_zero, spaced((5,), 145), h=SMALL_H),
    case(se_maximum, _X34, apart(_X34, 146), h=SMALL_H),
    case(se_maximum, spaced((3,), 147, kinks=(0.3,)), 0.3, h=SMALL_H, id="se_maximum[3,float]"),
    case(se_minimum, _X34, apart(_X34, 148), h=SMALL_H),
    case(se_minimum, spaced((3, 4), 149, kinks=tuple(_ROW.ravel())), _ROW, h=SMALL_H,
         id="se_minimum[3x4,row 1x4]"),
    case(se_clip, spaced((3, 4), 150, kinks=(-1.0, 1.0)), h=SMALL_H),
    case(se_abs, spaced((2, 3), 151), h=SMALL_H),
    case(se_abs, spaced((), 152), h=SMALL_H),
    case(se_logaddexp, rand((3, 4), 153), rand((3, 4), 154)),
    case(se_logaddexp, rand((3, 4), 155), rand((3, 1), 156)),
    case(se_softplus, rand((5,), 157)),
]


@pytest.mark.parametrize("c", SELECT)
def test_select_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", SELECT)
def test_select_forward(c):
    check_forward(c)


# == constructors and constants ===============================================================


def co_zeros(x):
    z = np.zeros(3)
    return np.sum((x + z) ** 2 * x)


def co_zeros_shape(x):
    z = np.zeros(x.shape)
    return np.sum(np.sin(z + x) * x)


def co_ones(x):
    return np.sum(np.ones((3, 4)) * np.sin(x))


def co_zeros_like(x):
    return np.sum(np.exp(np.zeros_like(x) + 0.5 * x))


def co_ones_like(x):
    return np.sum(np.ones_like(x) / (1.0 + x * x))


def co_eye(A):
    return np.sum(np.sin(A + 2.0 * np.eye(3)) @ A)


def co_eye_n(A):
    n = A.shape[0]
    return np.sum(np.tanh(np.eye(n) @ A * A))


def co_arange(x):
    return np.sum(np.arange(4) * x ** 2)


def co_arange_len(x):
    return np.sum(np.arange(len(x)) * np.sin(x))


def co_pi(x):
    return np.sum(np.sin(np.pi * x) + x / np.pi)


CONSTRUCTORS = [
    case(co_zeros, rand((3,), 160)),
    case(co_zeros, rand((2, 3), 161)),
    case(co_zeros_shape, rand((2, 3), 162)),
    case(co_ones, rand((3, 4), 163)),
    case(co_ones, rand((4,), 164)),
    case(co_zeros_like, rand((2, 3), 165)),
    case(co_ones_like, rand((5,), 166)),
    case(co_eye, rand((3, 3), 167)),
    case(co_eye_n, rand((4, 4), 168)),
    case(co_arange, rand((4,), 169)),
    case(co_arange, rand((3, 4), 170)),
    case(co_arange_len, rand((5,), 171)),
    case(co_pi, rand((2, 2), 172)),
]


@pytest.mark.parametrize("c", CONSTRUCTORS)
def test_constructor_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", CONSTRUCTORS)
def test_constructor_forward(c):
    check_forward(c)


# == shape queries =============================================================================


def sq_shape0(x):
    return np.sum(x ** 2) / x.shape[0]


def sq_unpack(X):
    n, d = X.shape
    return np.sum(np.sin(X)) / n + d * np.mean(X * X)


def sq_shape1(X):
    return np.sum(np.sin(X @ np.arange(X.shape[1])))


def sq_ndim(x):
    return np.sum(x) * x.ndim + np.sum(x * x)


def sq_len(x):
    return np.sum(np.sin(x)) / len(x)


def sq_len_2d(X):
    return np.sum(X ** 3) / len(X)


SHAPE_QUERIES = [
    case(sq_shape0, rand((5,), 180)),
    case(sq_shape0, rand((3, 2), 181)),
    case(sq_unpack, rand((3, 4), 182)),
    case(sq_shape1, rand((3, 4), 183)),
    case(sq_ndim, rand((2, 3), 184)),
    case(sq_ndim, rand((4,), 185)),
    case(sq_len, rand((6,), 186)),
    case(sq_len_2d, rand((3, 2), 187)),
]


@pytest.mark.parametrize("c", SHAPE_QUERIES)
def test_shape_query_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", SHAPE_QUERIES)
def test_shape_query_forward(c):
    check_forward(c)


# == index reads ===============================================================================


def ix_items(x: np.ndarray):
    return x[0] * x[-1] + x[1] ** 2


def ix_int_arg(x, i):
    return np.sin(x[i]) * np.sum(x)


def ix_int_arg_row(X, i):
    return np.sum(np.sin(X[i])) * np.sum(X)


def ix_negative(x):
    return x[-1] * np.sum(x ** 2)


def ix_column(X):
    return np.sum(np.sin(X[:, 0])) + np.sum(X[:, -1] ** 2)


def ix_row(X):
    return np.sum(X[1] * X[2])


def ix_slice(x):
    return np.sum(x[1:3] ** 2) + np.sum(x) * x[0]


def ix_shifted_slices(x):
    return np.sum((x[1:] - x[:-1]) ** 2 * x[1:])


def ix_2d(X):
    return X[1, 2] * X[0, 1] + np.sum(X)


def ix_2d_int_args(X, i, j):
    return X[i, j] ** 2 * np.sum(X)


def ix_row_slice(X):
    return np.sum(np.sin(X[1:3]) * X[0:2, :])


INDEXING = [
    case(ix_items, rand((4,), 190)),
    case(ix_int_arg, rand((5,), 191), 2),
    case(ix_int_arg_row, rand((3, 2), 192), 1),
    case(ix_negative, rand((4,), 193)),
    case(ix_column, rand((3, 4), 194)),
    case(ix_row, rand((4, 3), 195)),
    case(ix_slice, rand((5,), 196)),
    case(ix_shifted_slices, rand((6,), 197)),
    case(ix_2d, rand((3, 4), 198)),
    case(ix_2d_int_args, rand((3, 4), 199), 2, 1),
    case(ix_2d_int_args, rand((3, 4), 200), -1, 0),
    case(ix_row_slice, rand((4, 3), 201)),
]


@pytest.mark.parametrize("c", INDEXING)
def test_index_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", INDEXING)
def test_index_forward(c):
    check_forward(c)


# == value_and_grad, tuple wrt, names ===========================================================


def mixed_params(w, b, X, y):
    z = X @ w + b
    return np.mean((np.tanh(z) - y) ** 2)


def test_value_and_grad_mixed_float_and_array():
    rng = np.random.default_rng(210)
    w, b, X, y = rng.standard_normal(3), 0.3, rng.standard_normal((5, 3)), rng.standard_normal(5)
    value, (gw, gb) = s2sad.value_and_grad(mixed_params, wrt=(0, 1))(w, b, X, y)
    np.testing.assert_allclose(value, mixed_params(w, b, X, y), rtol=1e-12)
    assert_gradient_like(gw, w, "w")
    assert_gradient_like(gb, b, "b")
    np.testing.assert_allclose(gw, fd_grad(mixed_params, (w, b, X, y), 0), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gb, fd_grad(mixed_params, (w, b, X, y), 1), rtol=RTOL, atol=ATOL)


def test_grad_wrt_names_and_data_argument():
    rng = np.random.default_rng(211)
    args = (rng.standard_normal(3), 0.3, rng.standard_normal((5, 3)), rng.standard_normal(5))
    gX, gw = s2sad.grad(mixed_params, wrt=("X", "w"))(*args)
    np.testing.assert_allclose(gX, fd_grad(mixed_params, args, 2), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(gw, fd_grad(mixed_params, args, 0), rtol=RTOL, atol=ATOL)


# == the four matrix-calculus identities (exact, closed form) ====================================


def id_linear(a, x):
    return a @ x


def id_linear_dot(a, x):
    return np.dot(a, x)


def id_quadratic(A, x):
    return x @ A @ x


def id_quadratic_grouped(A, x):
    return x @ (A @ x)


def id_trace(A, X):
    return np.trace(A.T @ X)


def id_frobenius(A, X):
    return np.sum(A * X)


def id_least_squares(A, x, b):
    r = A @ x - b
    return r @ r


def id_least_squares_sum(A, x, b):
    return np.sum((A @ x - b) ** 2)


EXACT = {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("f", [id_linear, id_linear_dot])
def test_identity_linear(f):
    """∇ₓ(aᵀx) = a."""
    rng = np.random.default_rng(220)
    a, x = rng.standard_normal(5), rng.standard_normal(5)
    g = s2sad.grad(f, wrt=1)(a, x)
    assert_gradient_like(g, x, "x")
    np.testing.assert_allclose(g, a, **EXACT)


@pytest.mark.parametrize("f", [id_quadratic, id_quadratic_grouped])
def test_identity_quadratic(f):
    """∇ₓ(xᵀAx) = (A + Aᵀ)x."""
    rng = np.random.default_rng(221)
    A, x = rng.standard_normal((4, 4)), rng.standard_normal(4)
    g = s2sad.grad(f, wrt=1)(A, x)
    assert_gradient_like(g, x, "x")
    np.testing.assert_allclose(g, (A + A.T) @ x, **EXACT)


@pytest.mark.parametrize("f", [id_trace, id_frobenius])
def test_identity_trace(f):
    """∇_X tr(AᵀX) = ∇_X Σ A∘X = A."""
    rng = np.random.default_rng(222)
    A, X = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    g = s2sad.grad(f, wrt=1)(A, X)
    assert_gradient_like(g, X, "X")
    np.testing.assert_allclose(g, A, **EXACT)


@pytest.mark.parametrize("f", [id_least_squares, id_least_squares_sum])
def test_identity_least_squares(f):
    """∇ₓ‖Ax − b‖² = 2Aᵀ(Ax − b)."""
    rng = np.random.default_rng(223)
    A, x, b = rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal(5)
    g = s2sad.grad(f, wrt=1)(A, x, b)
    assert_gradient_like(g, x, "x")
    np.testing.assert_allclose(g, 2.0 * A.T @ (A @ x - b), **EXACT)


# == numerical stability at |x| = 1000 ==========================================================


def st_softplus(x):
    return np.sum(np.logaddexp(0.0, x))


def st_logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def st_sigmoid(x):
    return np.sum(1 / (1 + np.exp(-x)))


def st_softmax_xent(Z, Y):
    m = np.max(Z, axis=1, keepdims=True)
    lse = m + np.log(np.sum(np.exp(Z - m), axis=1, keepdims=True))
    return np.mean(np.sum(Y * (lse - Z), axis=1))


def _expit(x):
    """σ(x) without overflow (independent of s2sad)."""
    return np.exp(-np.logaddexp(0.0, -x))


def _softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


BIG = np.array([1000.0, -1000.0, 500.0, -3.0, 0.5, 999.0])


def _finite_grad(f, *args):
    with np.errstate(over="ignore"):  # the primal may overflow harmlessly (exp(1000))
        g = s2sad.grad(f)(*args)
    assert np.all(np.isfinite(g)), f"{f.__name__}: non-finite gradient {g!r}"
    return g


def test_stable_softplus():
    g = _finite_grad(st_softplus, BIG)
    np.testing.assert_allclose(g, _expit(BIG), rtol=1e-12, atol=1e-300)


def test_stable_logsumexp_with_max_shift():
    g = _finite_grad(st_logsumexp, BIG)
    np.testing.assert_allclose(g, _softmax(BIG), rtol=1e-12, atol=1e-300)


def test_stable_sigmoid():
    g = _finite_grad(st_sigmoid, BIG)
    s = _expit(BIG)
    np.testing.assert_allclose(g, s * (1.0 - s), rtol=1e-10, atol=1e-300)


def test_stable_softmax_cross_entropy():
    Z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 999.0, 1000.0], [3.0, -2.0, 1000.0]])
    Y = np.eye(3)[[1, 2, 0]]
    with np.errstate(over="ignore"):
        value = st_softmax_xent(Z, Y)
    assert np.isfinite(value)
    g = _finite_grad(st_softmax_xent, Z, Y)
    np.testing.assert_allclose(g, (_softmax(Z, axis=1) - Y) / Z.shape[0], rtol=1e-12,
                               atol=1e-300)


@pytest.mark.parametrize("f", [st_softplus, st_logsumexp, st_sigmoid])
def test_stable_jvp(f):
    """Forward mode is finite too: the directional derivative along a random tangent."""
    t = np.random.default_rng(230).uniform(-1.0, 1.0, BIG.shape)
    with np.errstate(over="ignore"):
        value, tangent = s2sad.jvp(f)(BIG, t)
    assert np.isfinite(value) and np.isfinite(tangent), (value, tangent)


# == inner-product identity ⟨ẏ, ȳ⟩ = ⟨ẋ, x̄⟩ =======================================================


def layer(W, x):
    return np.tanh(W @ x + 0.5) * np.sum(x)


def scalar_net(W, X):
    return np.sum(np.sin(W @ X) * X[0])


def test_inner_product_array_output():
    rng = np.random.default_rng(240)
    W, x = rng.standard_normal((3, 4)), rng.standard_normal(4)
    Wd, xd = rng.standard_normal((3, 4)), rng.standard_normal(4)
    ybar = rng.standard_normal(3)
    y1, ydot = s2sad.jvp(layer, wrt=(0, 1))(W, x, Wd, xd)
    y2, (Wbar, xbar) = s2sad.vjp(layer, wrt=(0, 1))(W, x, ybar)
    np.testing.assert_allclose(y1, layer(W, x), rtol=1e-12)
    np.testing.assert_allclose(y2, layer(W, x), rtol=1e-12)
    assert ydot.shape == (3,) and Wbar.shape == W.shape and xbar.shape == x.shape
    lhs = float(np.sum(ydot * ybar))
    rhs = float(np.sum(Wd * Wbar) + np.sum(xd * xbar))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)
    # and each side against an independent oracle
    np.testing.assert_allclose(ydot, fd_directional(layer, (W, x), (0, 1), [Wd, xd]),
                               rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(xbar, fd_grad(lambda W, x: layer(W, x) @ ybar, (W, x), 1),
                               rtol=RTOL, atol=ATOL)


def test_inner_product_scalar_output():
    rng = np.random.default_rng(241)
    W, X = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    Wd, Xd = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    ybar = 0.7
    _, ydot = s2sad.jvp(scalar_net, wrt=(0, 1))(W, X, Wd, Xd)
    _, (Wbar, Xbar) = s2sad.vjp(scalar_net, wrt=(0, 1))(W, X, ybar)
    np.testing.assert_allclose(float(ydot) * ybar, np.sum(Wd * Wbar) + np.sum(Xd * Xbar),
                               rtol=1e-12)
    np.testing.assert_allclose(Xbar, ybar * fd_grad(scalar_net, (W, X), 1), rtol=RTOL,
                               atol=ATOL)


# == the models of examples/ ===================================================================


def _check_model(f, args, wrt):
    got = s2sad.grad(f, wrt=wrt)(*_copy(args))
    got = got if isinstance(wrt, tuple) else (got,)
    for i, g in zip(wrt if isinstance(wrt, tuple) else (wrt,), got, strict=True):
        assert_gradient_like(g, args[i], f"{f.__name__} arg {i}")
        np.testing.assert_allclose(g, fd_grad(f, args, i), rtol=RTOL, atol=ATOL,
                                   err_msg=f"{f.__name__}: d/d arg {i}")


def test_model_linear_regression():
    ex = load_example("linear_regression")
    X, y, _ = ex.make_data(n=12, d=3)
    w = np.random.default_rng(250).standard_normal(4)
    _check_model(ex.loss, (w, X, y), 0)


def test_model_logistic_regression():
    ex = load_example("logistic_regression")
    X, y = ex.make_data(n=15, d=3)
    w = np.random.default_rng(251).standard_normal(3)
    _check_model(ex.loss, (w, -0.4, X, y), (0, 1))


def test_model_mlp():
    ex = load_example("mlp")
    X, y = ex.make_data(n=10)
    W1, b1, W2, b2 = ex.init_params(d=2, hidden=4, seed=3)
    b1 = b1 + np.random.default_rng(252).uniform(-0.5, 0.5, b1.shape)
    _check_model(ex.loss, (W1, b1, W2, 0.2, X, y), (0, 1, 2, 3))


def test_model_rosenbrock_slices():
    ex = load_example("rosenbrock_scipy")
    x = rand((6,), 253)
    _check_model(ex.rosenbrock, (x,), 0)
    # and the closed form ∂f/∂xᵢ
    g = s2sad.grad(ex.rosenbrock)(x)
    want = np.zeros_like(x)
    want[:-1] += -400.0 * x[:-1] * (x[1:] - x[:-1] ** 2) - 2.0 * (1.0 - x[:-1])
    want[1:] += 200.0 * (x[1:] - x[:-1] ** 2)
    np.testing.assert_allclose(g, want, rtol=1e-12, atol=1e-12)


def stencil(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def stencil_2d(U):
    dx = U[:, 1:] - U[:, :-1]
    dy = U[2:, :] * U[:-2, :]
    return np.sum(dx * dx) + np.sum(np.sin(dy))


@pytest.mark.parametrize("f, shapes", [(stencil, [(1,), (2,), (7,)]),
                                       (stencil_2d, [(3, 4), (5, 2), (2, 3)])],
                         ids=["stencil", "stencil_2d"])
def test_trimmed_slices_have_one_shape(f, shapes):
    """x[1:] and x[:-1] have one shape whatever x's, so their adjoints need no run-time
    shape checks (the gradient reads like the hand-written one), and are right for every
    length, empty slices included."""
    rng = np.random.default_rng(5)
    g = s2sad.grad(f)
    for shape in shapes:
        x = rng.uniform(-1.5, 1.5, size=shape)
        np.testing.assert_allclose(g(x), fd_grad(f, (x,), 0), rtol=RTOL, atol=ATOL)
    src = s2sad.grad(stencil).source
    assert "_sum_to" not in src and "_broadcast_size" not in src and "_unbroadcast" not in src
