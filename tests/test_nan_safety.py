"""NaN and inf safety: where the function is finite and differentiable, so is its gradient.

Each case is a scalar function written the way a careful numerical programmer writes
it (a max shift, ``log1p``, ``hypot``), evaluated at points of magnitude up to 1e300
where a naive derivative formula overflows (``exp(1000)``, ``x**2`` for x = 1e200) or
divides 0 by 0. The oracle is SymPy's exact derivative of the same expression,
evaluated with 30 significant digits (never s2sad's output); both modes must agree
with it to 1e-12 relative and be finite. Branch and kink conventions (DESIGN §10) are
tested in test_control_flow.py and test_primitives.py; NumPy's large inputs in
test_numpy.py (``test_stable_*``).
"""

from __future__ import annotations

import math

import pytest

import s2sad
from tests.oracles import sympy_gradient


def softplus(x):
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def log_sum_exp(a, b):
    m = max(a, b)
    return m + math.log(math.exp(a - m) + math.exp(b - m))


def gaussian(x):
    return math.exp(-x * x)


def arctangent(x):
    return math.atan(x)


def soft_sign(x):
    return x / (1.0 + abs(x))


def radius(x, y):
    return math.hypot(x, y)


def tanh_scaled(x):
    return math.tanh(1000.0 * x) * x


def logistic(x):
    return 0.5 + 0.5 * math.tanh(0.5 * x)


def _sympy(name):
    import sympy as sp

    x, y = sp.symbols("x y", real=True)
    exprs = {
        "softplus": (sp.log(1 + sp.exp(x)), (x,)),
        "log_sum_exp": (sp.log(sp.exp(x) + sp.exp(y)), (x, y)),
        "gaussian": (sp.exp(-x * x), (x,)),
        "arctangent": (sp.atan(x), (x,)),
        "soft_sign": (x / (1 + sp.Abs(x)), (x,)),
        "radius": (sp.sqrt(x * x + y * y), (x, y)),
        "tanh_scaled": (sp.tanh(1000 * x) * x, (x,)),
        "logistic": (1 / (1 + sp.exp(-x)), (x,)),
    }
    return exprs[name]


CASES = [
    (softplus, [(1000.0,), (-1000.0,), (745.0,), (-745.0,), (0.5,), (-30.0,)]),
    (log_sum_exp, [(1000.0, -1000.0), (-1000.0, 1000.0), (1000.0, 999.0), (-800.0, -801.0)]),
    (gaussian, [(30.0,), (-30.0,), (1e200,), (-1e200,)]),
    (arctangent, [(1e200,), (-1e300,), (1e-300,)]),
    (soft_sign, [(1e300,), (-1e300,), (1e-300,)]),
    (radius, [(1e300, 1e300), (-1e300, 3.0), (3e-200, -4e-200), (0.0, 2.0)]),
    (tanh_scaled, [(1.0,), (-1.0,), (1e-3,), (-0.5,)]),
    (logistic, [(1000.0,), (-1000.0,), (1e300,), (-1e300,)]),
]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f, points", CASES, ids=[f.__name__ for f, _ in CASES])
def test_gradient_is_finite_and_exact_where_the_function_is(f, points, mode):
    expr, symbols = _sympy(f.__name__)
    wrt = tuple(range(len(symbols)))
    g = s2sad.grad(f, wrt=wrt if len(wrt) > 1 else 0, mode=mode)
    for point in points:
        assert math.isfinite(f(*point))
        got = g(*point)
        got = got if isinstance(got, tuple) else (got,)
        want = sympy_gradient(expr, symbols, point)
        for gi, wi in zip(got, want, strict=True):
            assert math.isfinite(gi), (f.__name__, point, got)
            assert gi == pytest.approx(wi, rel=1e-12, abs=1e-300), (f.__name__, point, got,
                                                                    want)
