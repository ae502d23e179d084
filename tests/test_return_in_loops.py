"""``return`` inside loops (a Newton iteration that returns when it converges, a search
that returns the first hit): lowered as a flag and a ``break``, then the return after the
loop.  Derivatives against finite differences, in both modes."""

from __future__ import annotations

import math

import pytest

import s2sad
from tests.oracles import assert_close, derivative


def newton_sqrt(a, x0):
    x = x0
    for _ in range(60):
        dx = (x * x - a) / (2.0 * x)
        x = x - dx
        if abs(dx) < 1e-13:
            return x
    return -1.0


def first_product_over(x, y, t):
    k = 0.0
    while k < 20.0:
        for j in range(4):
            p = (x + k) * (y - j)
            if p > t:
                return p * x, k
        k = k + 1.0
    return 0.0, -1.0


@pytest.mark.parametrize("a", [0.3, 2.0, 7.5])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_newton_returns_when_it_converges(a, mode):
    got = s2sad.grad(newton_sqrt, mode=mode)(a, 1.0)
    assert_close(got, 0.5 / math.sqrt(a), rtol=1e-9)
    assert_close(got, derivative(lambda t: newton_sqrt(t, 1.0), a), rtol=1e-6)


@pytest.mark.parametrize("x, y, t", [(0.5, 3.0, 4.0), (-0.7, 2.5, 1.0), (1.2, -0.5, 9.0)])
def test_a_return_out_of_nested_loops(x, y, t):
    value, (out_dot, k_dot) = s2sad.jvp(first_product_over, wrt=(0, 1))(x, y, t, 1.0, 0.0)
    assert value == first_product_over(x, y, t)
    assert_close(out_dot, derivative(lambda s: first_product_over(s, y, t)[0], x))
    assert k_dot == 0.0
    gx, gy = s2sad.grad(lambda x, y, t: first_product_over(x, y, t)[0], wrt=(0, 1))(x, y, t)
    assert_close(gx, derivative(lambda s: first_product_over(s, y, t)[0], x))
    assert_close(gy, derivative(lambda s: first_product_over(x, s, t)[0], y))
