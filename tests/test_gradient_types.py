"""The gradient has the type and shape of the argument (issue 13).

Code that indexes the items of an unannotated parameter treats it as a list, and a
1-D NumPy array may be passed for it.  Its gradient (and every other derivative with
respect to it) then comes back as a float64 array of the argument's shape, not as a
list (``scipy.optimize`` does arithmetic on it); a list argument still gets a list.
Every value is checked against central finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from tests.oracles import assert_close, partial


def rosen(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def weighted(x, w):
    return sum(x[i] * x[i] * w for i in range(len(x)))


def unread(x, y):  # the gradient with respect to x is zero
    return y * y


POINTS = [[1.5, -0.5, 2.0], [-1.2, 0.3, -0.7, 0.9]]


def _fd_grad(f, x, *rest):
    def at(k):
        def g(t):
            y = list(x)
            y[k] = t
            return f(y, *rest)
        return partial(g, [x[k]], 0)
    return [at(k) for k in range(len(x))]


def _fd_hvp(f, x, v):
    g = s2sad.grad(f)
    return [partial(lambda t, k=k: g([a + t * b for a, b in zip(x, v, strict=True)])[k],
                    [0.0], 0, h=1e-3) for k in range(len(x))]


def _is_array_like(got, x):
    assert isinstance(got, np.ndarray), type(got)
    assert got.dtype == np.float64 and got.shape == np.shape(x)


@pytest.mark.parametrize("x", POINTS)
def test_grad_of_an_array_is_an_array_and_of_a_list_a_list(x):
    g = s2sad.grad(rosen)
    want = _fd_grad(rosen, x)
    a = np.array(x)
    got = g(a)
    _is_array_like(got, a)
    assert_close(got.tolist(), want, rtol=1e-7)
    assert np.array_equal(a, x)  # not written into
    assert_close((a - 0.5 * got).tolist(), [u - 0.5 * w for u, w in zip(x, want, strict=True)],
                 rtol=1e-7)  # arithmetic, as an optimizer does it
    got = g(list(x))
    assert type(got) is list
    assert_close(got, want, rtol=1e-7)
    ints = np.array([1, -2, 3])  # an int array: a float gradient
    _is_array_like(g(ints), ints)
    assert_close(g(ints).tolist(), _fd_grad(rosen, [1.0, -2.0, 3.0]), rtol=1e-7)


@pytest.mark.parametrize("x", POINTS)
def test_value_and_grad_vjp_and_several_parameters(x):
    a = np.array(x)
    want = _fd_grad(rosen, x)
    value, got = s2sad.value_and_grad(rosen)(a)
    assert value == pytest.approx(rosen(x))
    _is_array_like(got, a)
    assert_close(got.tolist(), want, rtol=1e-7)
    value, got = s2sad.vjp(rosen)(a, 2.0)
    _is_array_like(got, a)
    assert_close(got.tolist(), [2.0 * w for w in want], rtol=1e-7)
    _, got = s2sad.vjp(rosen)(list(x), 2.0)
    assert type(got) is list
    gx, gw = s2sad.grad(weighted, wrt=(0, 1))(a, 1.5)
    _is_array_like(gx, a)
    assert_close(gx.tolist(), _fd_grad(weighted, x, 1.5), rtol=1e-7)
    assert gw == pytest.approx(sum(v * v for v in x))
    gx, _ = s2sad.grad(weighted, wrt=(0, 1))(list(x), 1.5)
    assert type(gx) is list


def test_a_parameter_the_body_never_reads():
    a = np.array(POINTS[0])
    gx, gy = s2sad.grad(unread, wrt=(0, 1))(a, 3.0)
    _is_array_like(gx, a)
    assert not gx.any() and gy == 6.0


@pytest.mark.parametrize("mode", ["reverse-over-forward", "forward-over-reverse"])
@pytest.mark.parametrize("x", POINTS)
def test_hvp(x, mode):
    v = [0.5 - k for k in range(len(x))]
    want = _fd_hvp(rosen, x, v)
    h = s2sad.hvp(rosen, mode=mode)
    a = np.array(x)
    got = h(a, np.array(v))
    _is_array_like(got, a)
    assert_close(got.tolist(), want, rtol=1e-6)
    got = h(list(x), list(v))
    assert type(got) is list
    assert_close([float(t) for t in got], want, rtol=1e-6)


@pytest.mark.parametrize("x", POINTS)
def test_hessian_and_jacobian_blocks(x):
    a = np.array(x)
    n = len(x)
    H = s2sad.hessian(rosen)(a)
    assert isinstance(H, np.ndarray) and H.shape == (n, n)
    for k in range(n):
        e = [0.0] * n
        e[k] = 1.0
        assert_close(H[:, k].tolist(), _fd_hvp(rosen, x, e), rtol=1e-6)
    for mode in ("reverse", "forward"):
        J = s2sad.jacobian(rosen, mode=mode)(a)
        _is_array_like(J, a)
        assert_close(J.tolist(), _fd_grad(rosen, x), rtol=1e-7)


def test_scipy_optimize_takes_the_gradient():
    """The use that broke: scipy.optimize does arithmetic on the gradient."""
    optimize = pytest.importorskip("scipy.optimize")
    res = optimize.minimize(rosen, np.array([-1.2, 1.0, 0.5]), jac=s2sad.grad(rosen),
                            method="CG", options={"gtol": 1e-8})
    assert res.success and np.allclose(res.x, 1.0, atol=1e-5)


def test_a_list_gradient_costs_no_call():
    """For a list the conversion is one type test in the generated code."""
    src = s2sad.grad(rosen).source
    assert "return x_bar if type(x) is list else _like_argument(x_bar, x)" in src
    assert "import numpy" not in src
