"""The worked examples of the AD textbooks, with their known answers.

The functions are those of ``examples/textbook.py``.  Every expected value is
computed here by hand (closed-form derivative) and also checked against
finite differences; the closed forms are the textbooks' answers — e.g.
``d/dx sin(x² + 2x + 1)`` at 2 is ``6·cos 9 ≈ -5.466781`` (not 4.2426, a
value some sources misprint).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

import s2sad
from tests import oracles


def _load_examples():
    path = Path(__file__).resolve().parent.parent / "examples" / "textbook.py"
    spec = importlib.util.spec_from_file_location("s2sad_examples_textbook", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # so that inspect finds the source
    spec.loader.exec_module(module)
    return module


textbook = _load_examples()

MODES = ("reverse", "forward")
RTOL, ATOL = 1e-12, 1e-12  # closed forms: AD is exact up to rounding
FD_RTOL, FD_ATOL = 1e-7, 1e-9


@pytest.mark.parametrize("mode", MODES)
def test_cubic_at_two_is_fourteen(mode):
    df = s2sad.grad(textbook.cubic, mode=mode)
    assert df(2.0) == 14.0
    for x in (-3.0, -0.5, 0.0, 1.25, 4.0):
        oracles.assert_close(df(x), 3 * x * x + 2, RTOL, ATOL)
        oracles.assert_close(df(x), oracles.derivative(textbook.cubic, x), FD_RTOL, FD_ATOL)


@pytest.mark.parametrize("mode", MODES)
def test_exp_of_square_plus_sine(mode):
    df = s2sad.grad(textbook.exp_sin, mode=mode)
    for x in (-1.5, -0.2, 0.0, 0.5, 1.3):
        want = 2 * x * math.exp(x * x) + math.cos(x)
        oracles.assert_close(df(x), want, RTOL, ATOL)
        oracles.assert_close(df(x), oracles.derivative(textbook.exp_sin, x), FD_RTOL, FD_ATOL)


@pytest.mark.parametrize("mode", MODES)
def test_two_variable_polynomial(mode):
    df = s2sad.grad(textbook.poly2, wrt=(0, 1), mode=mode)
    assert df(1.0, 2.0) == (2.0, 12.0)
    for x1, x2 in ((-1.5, 0.5), (3.0, -2.0), (0.25, -0.75)):
        assert df(x1, x2) == (2 * x1, 3 * x2 * x2)
        oracles.assert_close(df(x1, x2), oracles.gradient(textbook.poly2, (x1, x2)),
                             FD_RTOL, FD_ATOL)
    # by name, one at a time
    assert s2sad.grad(textbook.poly2, wrt="x2", mode=mode)(1.0, -3.0) == 27.0
    assert s2sad.grad(textbook.poly2, wrt="x1", mode=mode)(-4.0, 1.0) == -8.0


@pytest.mark.parametrize("mode", MODES)
def test_sine_of_quadratic_at_two(mode):
    df = s2sad.grad(textbook.sin_quad, mode=mode)
    got = df(2.0)
    assert got == pytest.approx(6 * math.cos(9), rel=1e-14)
    assert got == pytest.approx(-5.46678157, abs=1e-8)  # ≈ -5.466781(57)
    assert abs(got - 4.2426) > 9  # the misprinted textbook value
    for x in (-2.5, -1.0, 0.0, 0.7):
        oracles.assert_close(df(x), (2 * x + 2) * math.cos(x * x + 2 * x + 1), RTOL, ATOL)
        oracles.assert_close(df(x), oracles.derivative(textbook.sin_quad, x), FD_RTOL, FD_ATOL)


@pytest.mark.parametrize("mode", MODES)
def test_sigmoid_derivative_is_sigma_one_minus_sigma(mode):
    vg = s2sad.value_and_grad(textbook.sigmoid, mode=mode)
    for x in (-8.0, -1.2, 0.0, 0.3, 2.5, 10.0):
        s, ds = vg(x)
        sigma = 1 / (1 + math.exp(-x))
        assert s == pytest.approx(sigma, rel=1e-15)
        oracles.assert_close(ds, sigma * (1 - sigma), RTOL, 1e-15)
        oracles.assert_close(ds, oracles.derivative(textbook.sigmoid, x), FD_RTOL, FD_ATOL)
    assert vg(0.0)[1] == 0.25


@pytest.mark.parametrize("mode", MODES)
def test_mean_squared_error(mode):
    vg = s2sad.value_and_grad(textbook.mse, wrt=("w", "b"), mode=mode)
    xs = (textbook.X1, textbook.X2, textbook.X3)
    ys = (textbook.Y1, textbook.Y2, textbook.Y3)
    for w, b in ((1.5, 0.5), (-1.0, 2.0), (2.0, 1.0), (0.0, 0.0)):
        value, (dw, db) = vg(w, b)
        residuals = [w * x + b - y for x, y in zip(xs, ys, strict=True)]
        assert value == pytest.approx(sum(r * r for r in residuals) / 3, rel=1e-14)
        oracles.assert_close(dw, 2 / 3 * sum(r * x for r, x in zip(residuals, xs, strict=True)),
                             RTOL, ATOL)
        oracles.assert_close(db, 2 / 3 * sum(residuals), RTOL, ATOL)
        oracles.assert_close((dw, db), oracles.gradient(textbook.mse, (w, b)), FD_RTOL, FD_ATOL)


def test_mse_gradient_descent_converges_to_least_squares():
    """A few hundred steps of gradient descent with the compiled gradient find the fit."""
    vg = s2sad.value_and_grad(textbook.mse, wrt=(0, 1))
    w, b = 0.0, 0.0
    for _ in range(2000):
        _, (dw, db) = vg(w, b)
        w, b = w - 0.1 * dw, b - 0.1 * db
    xs = (textbook.X1, textbook.X2, textbook.X3)
    ys = (textbook.Y1, textbook.Y2, textbook.Y3)
    mx, my = sum(xs) / 3, sum(ys) / 3
    w_ls = (sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
            / sum((x - mx) ** 2 for x in xs))
    b_ls = my - w_ls * mx
    assert w == pytest.approx(w_ls, rel=1e-9)
    assert b == pytest.approx(b_ls, rel=1e-9)


@pytest.mark.parametrize("mode", MODES)
def test_chain_of_five_steps(mode):
    df = s2sad.grad(textbook.chain5, mode=mode)

    def step_and_slope(x):
        # step(x) = sin(x)·x + cos(x); step'(x) = x·cos(x)
        return math.sin(x) * x + math.cos(x), x * math.cos(x)

    for x in (-1.1, 0.3, 0.7, 2.0):
        v, slope = x, 1.0
        for _ in range(5):
            v, d = step_and_slope(v)
            slope *= d
        oracles.assert_close(df(x), slope, RTOL, 1e-14)
        oracles.assert_close(df(x), oracles.derivative(textbook.chain5, x), FD_RTOL, FD_ATOL)
