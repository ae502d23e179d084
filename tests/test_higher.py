"""Higher-order derivatives: hvp, hessian, jacobian, derivative, and the guard that
refuses to differentiate derivative code s2sad has no rule for.

Oracles (tests/oracles.py): SymPy's exact derivatives, and Richardson-extrapolated
finite differences of independent gradients (SymPy's, hand-written, or themselves
finite differences) — never s2sad's own output.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

import s2sad
from s2sad.pipeline import derive, generate

from . import oracles

POINTS2 = [(0.7, -1.3), (-1.1, 0.4), (2.0, 1.5), (-0.3, -2.2)]


# -- functions under test, with their SymPy forms -----------------------------------------------

def f_xy(x, y):
    return x * x * y + math.sin(y)


def f_mixed(x, y, z):
    return math.exp(x * y) / (1 + z * z) + math.log(1 + x * x) * z - math.atan(y * z)


def rosenbrock2(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def loop_branch(x, y):
    s = 0.5
    for _ in range(4):
        if s * x > 0.0:
            s = s * y + math.sin(x * s)
        else:
            s = s - x * y * math.cos(s)
    k = 0
    while k < 3:
        s = s + 0.1 * x * s
        k += 1
    return s * s + x


def rosen_loop(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def quadratic_form(x: np.ndarray, A: np.ndarray):
    return x @ A @ x


def tanh_loss(W, x):
    return np.sum(np.tanh(W @ x) ** 2)


def tanh_loss_grad_W(W, x):  # hand-written: d/dW sum(tanh(Wx)^2) = (2 t (1 - t^2)) x^T
    t = np.tanh(W @ x)
    return np.outer(2 * t * (1 - t * t), x)


X, Y, Z = sp.symbols("x y z", real=True)
SYMPY = {
    "f_xy": (f_xy, X * X * Y + sp.sin(Y), (X, Y)),
    "f_mixed": (f_mixed, sp.exp(X * Y) / (1 + Z * Z) + sp.log(1 + X * X) * Z - sp.atan(Y * Z),
                (X, Y, Z)),
    "rosenbrock2": (rosenbrock2, (1 - X) ** 2 + 100 * (Y - X * X) ** 2, (X, Y)),
}


def sympy_hessian(expr, symbols, point):
    H = sp.hessian(expr, symbols)
    return tuple(tuple(oracles.sympy_value(H[i, j], symbols, point) for j in range(len(symbols)))
                 for i in range(len(symbols)))


def fd_hessian_of_gradient(grad, point):
    """H[i][j] = ∂(grad_j)/∂x_i by finite differences of an independent gradient."""
    n = len(point)
    return tuple(tuple(oracles.partial(lambda *a, j=j: grad(*a)[j], point, i) for j in range(n))
                 for i in range(n))


# -- Hessians of scalar parameters -------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SYMPY))
def test_hessian_against_sympy_and_finite_differences(name):
    fn, expr, symbols = SYMPY[name]
    n = len(symbols)
    H = s2sad.hessian(fn, wrt=tuple(range(n)))
    sym_grad = sp.lambdify(symbols, [sp.diff(expr, s) for s in symbols], "math")
    points = [(0.7, -1.3, 0.4), (-1.1, 0.4, -0.9), (0.3, 1.5, 2.0)]
    for point in (p[:n] for p in points):
        got = H(*point)
        oracles.assert_close(got, sympy_hessian(expr, symbols, point), 1e-12, 1e-12,
                             what=f"{name} vs SymPy at {point}")
        oracles.assert_close(got, fd_hessian_of_gradient(sym_grad, point), 1e-7, 1e-7,
                             what=f"{name} vs FD of the gradient at {point}")
        for i in range(n):  # symmetric by construction: the very same float
            for j in range(n):
                assert got[i][j] == got[j][i]


@pytest.mark.parametrize("strategy", ["rof", "fof"])
def test_both_scalar_hessian_strategies(strategy):
    from s2sad.ad.higher import hessian_scalar_function
    from s2sad.codegen import load
    from s2sad.opt import optimize

    fn, expr, symbols = SYMPY["f_mixed"]
    ir = optimize(hessian_scalar_function(s2sad.lift(fn), (0, 1, 2), False, strategy))
    H = load(generate([ir]), ir.name)
    for point in [(0.7, -1.3, 0.4), (-1.1, 0.4, -0.9)]:
        oracles.assert_close(H(*point), sympy_hessian(expr, symbols, point), 1e-12, 1e-12)
    ir = optimize(hessian_scalar_function(s2sad.lift(loop_branch), (0, 1), False, strategy))
    H = load(generate([ir]), ir.name)
    for point in [(0.8, 0.6), (-0.7, 0.9), (0.5, -0.8)]:
        oracles.assert_close(H(*point), nested_fd_hessian(loop_branch, point), 1e-5, 1e-6)


def test_hessian_generated_code_is_symbolic_and_shares_entries():
    H = s2sad.hessian(f_xy, wrt=(0, 1))
    assert "d2f_xy_dx_dy = 2.0 * x" in H.source
    assert "return (d2f_xy_dx_dx, d2f_xy_dx_dy), (d2f_xy_dx_dy, d2f_xy_dy_dy)" in H.source
    assert "s2sad" not in H.source.split('"""', 2)[2]


def test_hessian_of_one_scalar_is_a_float():
    assert s2sad.hessian(f_xy, wrt="y")(1.5, 0.3) == pytest.approx(-math.sin(0.3))


def test_rosenbrock_hessian_in_closed_form():
    H = s2sad.hessian(rosenbrock2, wrt=(0, 1))
    for x, y in POINTS2:
        oracles.assert_close(H(x, y), ((1200 * x * x - 400 * y + 2, -400 * x),
                                       (-400 * x, 200.0)), 1e-14, 0.0)


def nested_fd_hessian(f, point) -> tuple:
    """∂²f/∂x_i∂x_j by finite differences of finite-difference partials of f itself."""
    n = len(point)
    return tuple(tuple(oracles.derivative(
        lambda t, i=i, j=j: oracles.partial(f, [t if k == i else point[k] for k in range(n)], j),
        point[i], h=0.01, max_rel_err=1e-5) for j in range(n)) for i in range(n))


def test_hessian_through_a_loop_and_branches_against_nested_finite_differences():
    H = s2sad.hessian(loop_branch, wrt=(0, 1))
    for point in [(0.8, 0.6), (-0.7, 0.9), (0.5, -0.8)]:
        oracles.assert_close(H(*point), nested_fd_hessian(loop_branch, point), 1e-5, 1e-6,
                             what=f"loop_branch at {point}")


# -- arrays and lists: hvp and the Hessian driver ------------------------------------------------

def test_hessian_of_a_quadratic_form_is_A_plus_A_transpose():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4))
    x = rng.normal(size=4)
    H = s2sad.hessian(quadratic_form, wrt=0)(x, A)
    assert H.shape == (4, 4)
    np.testing.assert_allclose(H, A + A.T, rtol=1e-13, atol=1e-13)


def test_hessian_of_a_matrix_parameter_has_shape_x_shape_twice_and_is_symmetric():
    rng = np.random.default_rng(1)
    W, x = rng.normal(size=(2, 3)) * 0.5, rng.normal(size=3)
    H = s2sad.hessian(tanh_loss, wrt=0)(W, x)
    assert H.shape == (2, 3, 2, 3)
    flat = H.reshape(6, 6)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-12, atol=1e-12)
    for idx in np.ndindex(2, 3):  # row idx: d(grad_W)/dW[idx], FD of the hand-written gradient
        def g(t, idx=idx):
            Wt = W.copy()
            Wt[idx] = t
            return tanh_loss_grad_W(Wt, x)
        want = [oracles.derivative(lambda t, k=k: g(t)[k], W[idx]) for k in np.ndindex(2, 3)]
        np.testing.assert_allclose(H[idx].ravel(), want, rtol=1e-7, atol=1e-9)


def test_hvp_equals_hessian_times_vector_on_arrays_and_lists():
    rng = np.random.default_rng(2)
    W, x = rng.normal(size=(2, 3)) * 0.5, rng.normal(size=3)
    V = rng.normal(size=(2, 3))
    Hv = s2sad.hvp(tanh_loss, wrt=0)(W, x, V)
    want = [oracles.derivative(lambda t, k=k: tanh_loss_grad_W(W + t * V, x)[k], 0.0)
            for k in np.ndindex(2, 3)]  # d/dt of the hand-written gradient along V
    np.testing.assert_allclose(Hv.ravel(), want, rtol=1e-7, atol=1e-9)
    # the Rosenbrock loop on a list, against SymPy's Hessian
    xs = sp.symbols("x0:5", real=True)
    expr = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(4))
    point, v = [-1.2, 1.0, 0.3, -0.5, 2.0], [0.5, -1.0, 2.0, 0.25, -0.75]
    H_sym = np.array(sympy_hessian(expr, xs, point))
    got = s2sad.hvp(rosen_loop)(point, v)
    assert isinstance(got, list)
    np.testing.assert_allclose(got, H_sym @ v, rtol=1e-13)
    H = s2sad.hessian(rosen_loop)
    np.testing.assert_allclose(H(point), H_sym, rtol=1e-13)
    assert "tape" not in H.source  # the hvp it calls is optimised: no value needs a tape
    assert "for i_1, v in _basis(x):" in H.source


def test_hessian_of_several_array_parameters_is_a_tuple_of_blocks():
    def f(x: np.ndarray, s):
        return np.sum(np.sin(x) * s) * s

    x, s = np.array([0.3, -1.2]), 0.7
    H = s2sad.hessian(f, wrt=(0, 1))(x, s)
    # f = s² Σ sin x: H_xx = -s² diag(sin x), H_xs = 2 s cos x, H_ss = 2 Σ sin x
    np.testing.assert_allclose(H[0][0], -s * s * np.diag(np.sin(x)), rtol=1e-14)
    np.testing.assert_allclose(H[0][1], 2 * s * np.cos(x), rtol=1e-14)
    np.testing.assert_allclose(H[1][0], 2 * s * np.cos(x), rtol=1e-14)
    assert H[1][1] == pytest.approx(2 * np.sum(np.sin(x)), rel=1e-14)
    assert isinstance(H[1][1], float)


# -- n-th derivatives --------------------------------------------------------------------------

def sin_(x):
    return math.sin(x)


def fifth(x):
    return x ** 5


def composite(x):
    return math.exp(math.sin(x)) * x / (1 + x * x)


def test_fourth_derivative_of_sin_is_sin():
    d4 = s2sad.derivative(sin_, n=4)
    for x in (-2.0, -0.3, 0.0, 1.1):
        assert d4(x) == pytest.approx(math.sin(x), abs=1e-15)
    assert "def d4_sin_(x):" in d4.source


def test_third_derivative_of_x5():
    d3 = s2sad.derivative(fifth, n=3)
    for x in (-1.5, 0.0, 2.0):
        assert d3(x) == pytest.approx(60 * x * x, rel=1e-15)


@pytest.mark.parametrize("n", range(1, 7))
def test_nth_derivative_of_a_composite_against_sympy(n):
    expr = sp.exp(sp.sin(X)) * X / (1 + X * X)
    d = sp.diff(expr, X, n)
    dn = s2sad.derivative(composite, n=n)
    for x in (-1.7, -0.4, 0.9, 2.3):
        assert dn(x) == pytest.approx(oracles.sympy_value(d, (X,), (x,)), rel=1e-10, abs=1e-12)


def x_sin(x):
    return x * math.sin(x)


def test_repeated_forward_mode_collects_equal_terms():
    # d²/dx² x·sin x: the term cos x arises twice (Leibniz), and is collected
    d2 = s2sad.derivative(x_sin, n=2)
    assert "return 2.0 * math.cos(x) - x * math.sin(x)" in d2.source


def test_derivative_order_must_be_positive():
    with pytest.raises(s2sad.DifferentiationError, match="order"):
        s2sad.derivative(sin_, n=0)


# -- Jacobians ---------------------------------------------------------------------------------

def polar(r, t):
    return r * math.cos(t), r * math.sin(t), r * r * t


def ring(x):
    ys = []
    for i in range(len(x)):
        ys.append(x[i] * x[i - 1] + math.sin(x[i]))
    return ys


def layer(x: np.ndarray, A: np.ndarray):
    return np.tanh(A @ x) * x[0]


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_of_a_tuple_output(mode):
    J = s2sad.jacobian(polar, wrt=(0, 1), mode=mode)
    for r, t in [(2.0, 0.5), (-0.7, -2.1)]:
        got = J(r, t)
        want = tuple(oracles.gradient(lambda a, b, k=k: polar(a, b)[k], (r, t)) for k in range(3))
        oracles.assert_close(got, want, 1e-9, 1e-10, what=f"{mode} at {(r, t)}")
    assert s2sad.jacobian(polar, wrt=1, mode=mode)(2.0, 0.5) == pytest.approx(
        (-2.0 * math.sin(0.5), 2.0 * math.cos(0.5), 4.0))


@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobian_of_a_list_output(mode):
    x = [0.3, -1.2, 2.0, 0.7]
    J = s2sad.jacobian(ring, mode=mode)(x)
    assert J.shape == (4, 4)
    for j in range(4):
        col = oracles.directional(lambda *a: tuple(ring(list(a))), x,
                                  [1.0 if k == j else 0.0 for k in range(4)])
        np.testing.assert_allclose(J[:, j], col, rtol=1e-9, atol=1e-10)


def test_jacobian_of_an_array_output_forward_equals_reverse_equals_fd():
    rng = np.random.default_rng(3)
    A, x = rng.normal(size=(3, 4)), rng.normal(size=4)
    def fd_jacobian(i):  # ∂ layer / ∂ argument i, of shape y.shape + arg.shape
        args = [x, A]
        out = np.zeros((3, *args[i].shape))
        for idx in np.ndindex(args[i].shape):
            def g(t, idx=idx):
                moved = [a.copy() for a in args]
                moved[i][idx] = t
                return layer(*moved)
            out[(slice(None), *idx)] = [oracles.derivative(lambda t, k=k: g(t)[k],
                                                           args[i][idx]) for k in range(3)]
        return out

    want_x, want_A = fd_jacobian(0), fd_jacobian(1)
    for mode in ("forward", "reverse"):
        Jx = s2sad.jacobian(layer, mode=mode)(x, A)
        JA = s2sad.jacobian(layer, wrt="A", mode=mode)(x, A)  # y.shape + A.shape
        assert Jx.shape == (3, 4) and JA.shape == (3, 3, 4)
        np.testing.assert_allclose(Jx, want_x, rtol=1e-9, atol=1e-10, err_msg=mode)
        np.testing.assert_allclose(JA, want_A, rtol=1e-9, atol=1e-10, err_msg=mode)


# -- the guard: derivative code without derivative rules ------------------------------------------

def looped(x, n):
    s = 0.0
    for _ in range(n):
        s = s * x + x
    return s


def matvec_loss(x: np.ndarray, A: np.ndarray):
    return np.sum((A @ x) ** 2)


def test_forward_over_reverse_carries_tangents_on_the_tape():
    from s2sad.codegen import load

    g = derive(s2sad.lift(looped), "grad", 0, "reverse")
    h = derive(g, "grad", 0, "forward")
    source = generate([h])
    assert "tape.append((s, s_dot))" in source
    d2 = load(source, h.name)
    for x in (0.7, -1.3):  # looped(x, 5) = x + x² + … + x⁵
        assert d2(x, 5) == pytest.approx(sum(k * (k - 1) * x ** (k - 2) for k in range(2, 6)),
                                         rel=1e-14)


def test_reverse_over_reverse_through_a_tape_is_refused_with_a_location():
    g = derive(s2sad.lift(looped), "grad", 0, "reverse")
    with pytest.raises(s2sad.DifferentiationError) as info:
        derive(g, "grad", 0, "reverse")
    err = info.value
    assert "not supported yet" in str(err) and "tape" in str(err)
    assert err.lineno == looped.__code__.co_firstlineno + 2  # the `for` line
    assert "s2sad.hessian" in err.hint


def test_hvp_forward_over_reverse_equals_reverse_over_forward():
    point, v = [-1.2, 1.0, 0.3, -0.5, 2.0], [0.5, -1.0, 2.0, 0.25, -0.75]
    xs = sp.symbols("x0:5", real=True)
    expr = sum(100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(4))
    want = np.array(sympy_hessian(expr, xs, point)) @ v
    fo_r = s2sad.hvp(rosen_loop, mode="forward-over-reverse")
    assert "forward over reverse" in fo_r.source
    for hvp in (fo_r, s2sad.hvp(rosen_loop)):
        np.testing.assert_allclose(hvp(point, v), want, rtol=1e-13)
    for hvp in (s2sad.hvp(loop_branch, (0, 1), mode="forward-over-reverse"),
                s2sad.hvp(loop_branch, (0, 1))):
        for p in [(0.8, 0.6), (-0.7, 0.9)]:
            H = np.array(nested_fd_hessian(loop_branch, p))
            oracles.assert_close(hvp(*p, 1.0, -2.0), tuple(H @ [1.0, -2.0]), 1e-5, 1e-6)
    # reverse mode's array helpers have no tangent rules yet: refused, not wrong
    with pytest.raises(s2sad.DifferentiationError, match="not supported yet"):
        s2sad.hvp(tanh_loss, mode="forward-over-reverse")
    with pytest.raises(ValueError):
        s2sad.hvp(tanh_loss, mode="sideways")


def test_differentiating_an_array_adjoint_helper_is_refused_with_a_location():
    g = derive(s2sad.lift(matvec_loss), "grad", 0, "reverse")
    assert "_matmul_bar_b" in generate([g])
    with pytest.raises(s2sad.DifferentiationError, match="matmul_bar_b") as info:
        derive(g, "jvp", 0, "forward")
    assert info.value.lineno == matvec_loss.__code__.co_firstlineno + 1


def squared_det(A: np.ndarray):
    return np.linalg.det(A) ** 2


def test_hvp_through_a_forward_rule_helper_is_refused_with_a_location():
    # det's tangent rule uses the cofactor helper, which has no derivative rule yet
    with pytest.raises(s2sad.DifferentiationError, match="cofactor") as info:
        s2sad.hvp(squared_det)
    assert info.value.lineno == squared_det.__code__.co_firstlineno + 1
    assert "not supported yet" in str(info.value)


def test_forward_over_forward_and_constant_helpers_still_work():
    # straight-line reverse code has no tape: forward over it is fine
    g = derive(s2sad.lift(f_xy), "grad", (0, 1), "reverse")
    derive(g, "jvp", (0, 1), "forward")
    # forward-mode gradients of array code seed with scalar_input, a constant: not refused
    def scaled(t: float, A: np.ndarray):
        return np.sum((A * t) ** 3)

    d2 = s2sad.derivative(scaled, n=2, wrt=0)
    assert "_scalar_input" in d2.source
    assert d2(0.5, np.array([1.0, 2.0])) == pytest.approx(6 * 0.5 * (1 + 8))
    with pytest.raises(s2sad.DifferentiationError, match="the array `x`"):
        s2sad.derivative(matvec_loss, n=2, wrt=0)


# -- custom primitives in a Hessian ------------------------------------------------------------


def test_hessian_through_a_custom_primitive():
    """f(x, y) = log1pexp(x·y) + x: the Hessian uses the primitive's partials (the sigmoid),
    differentiated again. Oracle: finite differences of the closed-form gradient
    (σ(xy)·y + 1, σ(xy)·x), written here without s2sad."""
    from tests.fixtures import custom_prims as cp

    def sigma(t):
        return 0.5 + 0.5 * math.tanh(0.5 * t)

    def gradient(x, y):
        return sigma(x * y) * y + 1.0, sigma(x * y) * x

    hess = s2sad.hessian(cp.custom_two_args, wrt=(0, 1))
    for point in ((0.3, -0.7), (-1.2, 2.0), (40.0, 30.0)):
        got = hess(*point)
        for i in range(2):
            row = oracles.gradient(lambda a, b, i=i: gradient(a, b)[i], point)
            oracles.assert_close(got[i], row, 1e-7, 1e-9, what=f"row {i} at {point}")
