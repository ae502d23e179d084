"""A corpus of straight-line functions through every mode (DESIGN §4, §11).

Every function is run through ``grad`` (reverse and forward), ``value_and_grad``,
``jvp`` and ``vjp``, each compared with finite differences at three or more
points (including negative values); the jvp/vjp inner-product identity
``⟨ẏ, ȳ⟩ = ⟨ẋ, x̄⟩`` with random directions; the IR verifier on every lifted and
derived IR (optimised and not); and the reference interpreter against the
generated code and against Python itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import cos as mcos
from math import exp

import numpy as np
import pytest

import s2sad
from s2sad.ad.transforms import grad_function, jvp_function, vjp_function
from s2sad.ir import interpret, verify
from s2sad.opt import cse_fold, dce
from s2sad.pipeline import derive
from tests import oracles

RTOL, ATOL = 1e-7, 1e-9  # AD against finite differences
EXACT = 1e-12  # AD against AD / interpreter against generated code

# -- module constants used by the corpus -------------------------------------------------------

SCALE = 2.5
OFFSET = -0.75
N = 3
TWO_PI = 2 * math.pi
LABEL_POS = 0.3


# -- helpers that the corpus calls (inlined by s2sad) --------------------------------------------


def _scaled(u, k=2.0, c=0.5):
    return k * u + c * u * u


def _inner(u):
    return math.tanh(u) * u


def _outer(u, v):
    return _inner(u * v) + _inner(u - v)


def _pair(u, v):
    return u * v, u - v


def _sigmoid(z):
    return 1 / (1 + math.exp(-z))


def _swapper(y, x):
    return x - 2 * y


def _weighted(u, k=SCALE, c=OFFSET):
    return k * u * u + c


# -- the corpus ------------------------------------------------------------------------------------


def poly(x, y):
    return x ** 3 * y - 2 * x * y ** 2 + 7


def trig_mix(x, y):
    return math.sin(x * y) + np.cos(x - y) ** 2


def reassign(x):
    t = x * x
    t = math.sin(t) + t
    t = t * x
    return t


def augmented(x, y):
    s = x
    s += y * y
    s *= math.exp(-x)
    s -= 3
    s /= 1 + y * y
    s **= 2
    return s


def swap(a, b):
    a, b = b, a
    a, b = a * b, a - b
    return a * a + math.sin(b)


def three_outputs(x, y):
    return x * y, math.sin(x) + y, x / (1 + y * y)


def nested_outputs(x, y):
    r = math.hypot(x, y)
    return r, (x / r, y / r)


def helper_kwargs(x, y):
    return _scaled(x) + _scaled(y, c=-1.0) + _scaled(k=x, u=y)


def nested_helpers(x, y):
    return _outer(x, y) * _outer(y, 0.5)


def helper_tuple(x, y):
    p, q = _pair(x, y)
    return p * math.cos(q) + _sigmoid(p - q)


def constants(x):
    return SCALE * x ** N + OFFSET * math.pi * x + math.e + TWO_PI / x


def numpy_mix(x, y):
    return np.exp(np.sin(x)) * np.arctan2(y, 1.5) + np.square(x - y) + np.pi * np.tanh(y)


def imported_names(x):
    return mcos(x) * exp(-x * x / 2)


def softplus(x):
    return math.log1p(math.exp(x))


def logistic_loss(w, b):
    p = _sigmoid(w * 0.7 + b)
    return -(LABEL_POS * math.log(p) + (1 - LABEL_POS) * math.log(1 - p))


def gaussian(x, mu, sigma):
    return math.exp(-0.5 * ((x - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))


def rosenbrock(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def hyperbolic(x):
    return math.sinh(x) * math.cosh(x) - math.tanh(x) ** 2 + math.asinh(x)


def unused_arg(x, y, z):
    return x * x + z


def constant_fn(x):
    return 2.5


def identity(x):
    return x


def shared_value(x):
    a = math.exp(x)
    return a * a + a / (1 + a)


def kinks_away(x, y):
    return abs(x) * max(x, y) + min(x * y, 1.0)


def quotients(x, y, z):
    return x / (y * z) - (x - y) / (1 + z * z)


def smooth_funcs(x):
    return math.log(1 + x * x) + math.sqrt(1 + x * x) + math.erf(x) + math.atan(x)


def variable_power(x, y):
    return (1 + x * x) ** y + math.pow(2.0, x * y)


def shared_outputs(x, y):
    u = x * y
    return u, u * u, math.sin(u)


def builtin_casts(x, y):
    return float(x) * 2 + int(3.7) * x * y + round(2.6) * y + pow(x, 2)


def unary_minus(x):
    return -x ** 2 + (-x) ** 3 - -x


def linear_combo(a, b, c, d):
    return a * b + c * d - a * d + 0.5 * b


def swapped_parameter_names(x, y):
    return _swapper(x, y) * _swapper(y=x, x=y) + _swapper(x, x=math.sin(y))


def with_default(x, k=2.0):
    return _weighted(x) + _weighted(k, c=x) + k * x


def precedence(x, y):
    a = x - (y - x) + x / (y / x) - x / y * x
    b = 2 ** -x + (1 + x * x) ** (y ** 2) + ((1 + y * y) ** 0.5) ** 3 + 2 ** y ** 2
    c = -x * -y - -(x + y) * 2 - (-x) ** 2 + -x ** 2 + (-2.0) ** 2 * x
    return a + b + c


def kinks_multi(x, y):
    m = max(x, y)
    n = min(x * y, m)
    return m * n + abs(m - n) + max(x, 1.0) * min(y, -0.5) + max(x, x) * min(y, y)


def long_expression(x, y):
    z = math.exp(math.sin(x)) * math.log(2 + math.cos(y)) - math.sqrt(1 + (x * y) ** 2)
    w = z * z / (1 + z * z) + math.atan2(x, 1 + y * y)
    return w * math.tanh(z) + x * y * z * w


@dataclass(frozen=True)
class Case:
    fn: object
    points: tuple[tuple[float, ...], ...]
    h: float | None = None  # first finite-difference step, if the default is too large

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def nargs(self) -> int:
        return len(self.points[0])


P2 = ((0.7, -1.3), (-1.1, 0.4), (1.9, 2.2), (-0.35, -0.8))
P1 = ((-1.7,), (-0.4,), (0.6,), (2.1,))

CORPUS = [
    Case(poly, P2),
    Case(trig_mix, P2),
    Case(reassign, P1),
    Case(augmented, P2),
    Case(swap, P2),
    Case(three_outputs, P2),
    Case(nested_outputs, P2),
    Case(helper_kwargs, P2),
    Case(nested_helpers, P2),
    Case(helper_tuple, P2),
    Case(constants, P1),
    Case(numpy_mix, P2),
    Case(imported_names, P1),
    Case(softplus, P1 + ((-30.0,), (25.0,))),
    Case(logistic_loss, P2),
    Case(gaussian, ((0.3, -0.2, 0.8), (-1.5, 0.4, 1.7), (2.0, 1.0, 0.5)), h=0.02),
    Case(rosenbrock, P2),
    Case(hyperbolic, P1),
    Case(unused_arg, ((0.5, -1.0, 2.0), (-2.0, 3.0, -0.5), (1.5, 0.0, 4.0))),
    Case(constant_fn, P1),
    Case(identity, P1),
    Case(shared_value, P1),
    Case(kinks_away, ((1.5, 0.5), (-2.0, 1.0), (0.8, 2.0), (-0.6, -1.2)), h=0.01),
    Case(quotients, ((1.0, 2.0, -0.5), (-1.5, 0.7, 1.2), (0.3, -2.0, -3.0))),
    Case(smooth_funcs, P1),
    Case(variable_power, P2),
    Case(shared_outputs, P2),
    Case(builtin_casts, P2),
    Case(unary_minus, P1),
    Case(linear_combo, ((1.0, -2.0, 0.5, 3.0), (-0.5, 0.25, -1.5, 2.0), (2.0, 1.0, -1.0, -2.0))),
    Case(swapped_parameter_names, P2),
    Case(with_default, P2),
    Case(precedence, P2),
    Case(kinks_multi, ((0.7, -1.3), (-1.1, 0.4), (1.9, 2.2), (2.5, -0.2)), h=0.01),
    Case(long_expression, P2),
]

CASES = [pytest.param(c, id=c.name) for c in CORPUS]
MODES = ("reverse", "forward")


def _outputs(case: Case, point) -> tuple:
    """The leaves of ``f(*point)``, flattened (one for a scalar function)."""
    return tuple(oracles.flatten(case.fn(*point)))


def _is_scalar(case: Case) -> bool:
    return not isinstance(case.fn(*case.points[0]), tuple)


def _all(case: Case):
    return tuple(range(case.nargs))


def _flat_fn(case: Case, k: int):
    return lambda *a: oracles.flatten(case.fn(*a))[k]


def _rng(case: Case):
    """A generator seeded per case (deterministic: no hash randomisation)."""
    return np.random.default_rng(sum(map(ord, case.name)))


def _call(compiled, point, extras):
    return oracles.call_extras(compiled, point, extras)


def _structure(v):
    return tuple(_structure(x) for x in v) if isinstance(v, tuple) else None


def _fd_grad(case: Case, point, wrt=None):
    return oracles.gradient(case.fn, point, wrt=wrt, h=case.h)


def _fd_weighted_grad(case: Case, point, weights):
    """∇⟨w, f⟩: the vjp oracle."""

    def weighted(*a):
        return sum(w * y for w, y in zip(weights, oracles.flatten(case.fn(*a)), strict=True))

    return oracles.gradient(weighted, point, h=case.h)


# -- lifting, verification and interpretation -----------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_lift_verifies_and_interprets(case):
    fn = verify(s2sad.lift(case.fn))
    assert fn.param_names == case.fn.__code__.co_varnames[: case.nargs]
    for point in case.points:
        got = interpret(fn, *point)
        oracles.assert_close(got, case.fn(*point), EXACT, 0.0, what=f"interpret at {point}")
        # the optimisation passes keep the IR valid and the function the same
        for opt in (cse_fold(fn), dce(fn), dce(cse_fold(fn))):
            verify(opt)
            oracles.assert_close(interpret(opt, *point), got, EXACT, 0.0)


KINDS = [("grad", "reverse"), ("grad", "forward"), ("value_and_grad", "reverse"),
         ("value_and_grad", "forward"), ("jvp", "forward"), ("vjp", "reverse")]


def _extra_args(case: Case, kind: str, point) -> tuple:
    if kind == "jvp":
        return tuple(0.5 + 0.25 * i for i in range(case.nargs))
    if kind == "vjp":
        return tuple(1.0 - 0.3 * k for k in range(len(_outputs(case, point))))
    return ()


@pytest.mark.parametrize(("kind", "mode"), KINDS, ids=[f"{k}-{m}" for k, m in KINDS])
@pytest.mark.parametrize("case", CASES)
def test_derived_ir_verifies_and_interpreter_agrees_with_codegen(case, kind, mode):
    if kind in ("grad", "value_and_grad") and not _is_scalar(case):
        pytest.skip("grad needs a scalar output")
    fn = s2sad.lift(case.fn)
    wrt = _all(case)
    # unoptimised transforms
    if kind == "grad":
        raw = grad_function(fn, wrt, False, mode=mode)
    elif kind == "value_and_grad":
        raw = grad_function(fn, wrt, False, mode=mode, with_value=True)
    elif kind == "jvp":
        raw = jvp_function(fn, wrt)
    else:
        raw = vjp_function(fn, wrt, False)
    verify(raw)
    verify(cse_fold(raw))
    verify(dce(raw))
    optimized = verify(derive(fn, kind, wrt, mode))
    compiled = getattr(s2sad, kind)(case.fn, wrt, **({"mode": mode} if kind in (
        "grad", "value_and_grad") else {}))
    verify(compiled.ir)
    for point in case.points:
        args = tuple(point) + _extra_args(case, kind, point)
        want = _call(compiled, point, args[len(point):])
        oracles.assert_close(interpret(optimized, *args), want, EXACT, 1e-15,
                             what=f"interpret(optimised {kind}) at {args}")
        oracles.assert_close(interpret(raw, *args), want, EXACT, 1e-15,
                             what=f"interpret(unoptimised {kind}) at {args}")


# -- gradients against finite differences ----------------------------------------------

SCALAR_CASES = [p for p in CASES if _is_scalar(p.values[0])]
TUPLE_CASES = [p for p in CASES if not _is_scalar(p.values[0])]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", SCALAR_CASES)
def test_grad(case, mode):
    df = s2sad.grad(case.fn, wrt=_all(case), mode=mode)
    for point in case.points:
        oracles.assert_close(df(*point), _fd_grad(case, point), RTOL, ATOL,
                             what=f"grad {case.name} ({mode}) at {point}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", SCALAR_CASES)
def test_grad_single_wrt_by_index_and_name(case, mode):
    last = case.nargs - 1
    name = case.fn.__code__.co_varnames[last]
    by_index = s2sad.grad(case.fn, wrt=last, mode=mode)
    by_name = s2sad.grad(case.fn, wrt=name, mode=mode)
    by_negative = s2sad.grad(case.fn, wrt=-1, mode=mode)
    for point in case.points:
        (want,) = _fd_grad(case, point, wrt=[last])
        got = by_index(*point)
        assert not isinstance(got, tuple)
        oracles.assert_close(got, want, RTOL, ATOL, what=f"∂/∂{name} at {point}")
        assert by_name(*point) == got
        assert by_negative(*point) == got


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", SCALAR_CASES)
def test_value_and_grad(case, mode):
    vg = s2sad.value_and_grad(case.fn, wrt=_all(case), mode=mode)
    for point in case.points:
        value, grads = vg(*point)
        oracles.assert_close(value, case.fn(*point), EXACT, 0.0, what=f"value at {point}")
        oracles.assert_close(grads, _fd_grad(case, point), RTOL, ATOL,
                             what=f"value_and_grad {case.name} ({mode}) at {point}")


@pytest.mark.parametrize("case", SCALAR_CASES)
def test_forward_equals_reverse(case):
    rev = s2sad.grad(case.fn, wrt=_all(case), mode="reverse")
    fwd = s2sad.grad(case.fn, wrt=_all(case), mode="forward")
    for point in case.points:
        oracles.assert_close(fwd(*point), rev(*point), EXACT, 1e-14)


@pytest.mark.parametrize("case", TUPLE_CASES)
def test_grad_of_tuple_output_is_a_located_error(case):
    with pytest.raises(s2sad.DifferentiationError, match="vjp"):
        s2sad.grad(case.fn, wrt=_all(case))


@pytest.mark.parametrize("case", CASES)
def test_jvp(case):
    jf = s2sad.jvp(case.fn, wrt=_all(case))
    rng = _rng(case)
    for point in case.points:
        direction = tuple(rng.uniform(-1, 1, case.nargs))
        value, tangent = _call(jf, point, direction)
        oracles.assert_close(value, case.fn(*point), EXACT, 0.0, what=f"jvp value at {point}")
        want = tuple(
            oracles.directional(_flat_fn(case, k), point, direction, h=case.h)
            for k in range(len(_outputs(case, point))))
        oracles.assert_close(oracles.flatten(tangent), want, RTOL, ATOL,
                             what=f"jvp {case.name} at {point} along {direction}")
        # the tangent has the structure of the value
        assert _structure(tangent) == _structure(value)


@pytest.mark.parametrize("case", CASES)
def test_vjp(case):
    vf = s2sad.vjp(case.fn, wrt=_all(case))
    rng = _rng(case)
    for point in case.points:
        nout = len(_outputs(case, point))
        cot = tuple(rng.uniform(-1, 1, nout))
        value, xbar = _call(vf, point, cot)
        oracles.assert_close(value, case.fn(*point), EXACT, 0.0, what=f"vjp value at {point}")
        oracles.assert_close(xbar, _fd_weighted_grad(case, point, cot), RTOL, ATOL,
                             what=f"vjp {case.name} at {point} with cotangent {cot}")


@pytest.mark.parametrize("case", CASES)
def test_jvp_vjp_inner_product_identity(case):
    jf = s2sad.jvp(case.fn, wrt=_all(case))
    vf = s2sad.vjp(case.fn, wrt=_all(case))
    rng = np.random.default_rng(12345)
    for point in case.points:
        nout = len(_outputs(case, point))
        for _ in range(3):
            xdot = rng.normal(size=case.nargs)
            ybar = rng.normal(size=nout)
            _, ydot = _call(jf, point, xdot)
            _, xbar = _call(vf, point, ybar)
            lhs = float(np.dot(oracles.flatten(ydot), ybar))
            rhs = float(np.dot(oracles.flatten(xbar), xdot))
            scale = float(np.dot(np.abs(oracles.flatten(ydot)), np.abs(ybar))) + 1.0
            assert abs(lhs - rhs) <= 1e-12 * scale, (case.name, point, lhs, rhs)


@pytest.mark.parametrize("case", CASES)
def test_vjp_with_subset_wrt(case):
    if case.nargs < 2:
        pytest.skip("one argument")
    vf = s2sad.vjp(case.fn, wrt=(case.nargs - 1, 0))
    for point in case.points:
        nout = len(_outputs(case, point))
        cot = tuple(0.5 + k for k in range(nout))
        _, xbar = _call(vf, point, cot)
        full = _fd_weighted_grad(case, point, cot)
        oracles.assert_close(xbar, (full[-1], full[0]), RTOL, ATOL)


@pytest.mark.parametrize("case", CASES)
def test_jvp_with_subset_wrt(case):
    if case.nargs < 2:
        pytest.skip("one argument")
    jf = s2sad.jvp(case.fn, wrt=(case.nargs - 1, 0))
    for point in case.points:
        direction = [0.0] * case.nargs
        direction[-1], direction[0] = 0.75, -0.5
        _, tangent = _call(jf, point, (0.75, -0.5))
        want = tuple(oracles.directional(_flat_fn(case, k), point, direction, h=case.h)
                     for k in range(len(_outputs(case, point))))
        oracles.assert_close(oracles.flatten(tangent), want, RTOL, ATOL)


# -- composition: Hessians as forward-over-reverse, at the IR level (DESIGN §4) ------------------


@pytest.mark.parametrize("case", SCALAR_CASES)
def test_hessian_forward_over_reverse_is_symmetric(case):
    wrt = _all(case)
    g = verify(derive(s2sad.lift(case.fn), "grad", wrt, "reverse"))
    hvp = verify(derive(g, "jvp", wrt, "forward"))
    n = case.nargs
    for point in case.points[:3]:
        rows = []
        for i in range(n):
            e = [0.0] * n
            e[i] = 1.0
            _, col = interpret(hvp, *point, *e)
            rows.append(oracles.flatten(col))
        for i in range(n):
            for j in range(n):
                assert abs(rows[i][j] - rows[j][i]) <= 1e-9 * (1 + abs(rows[i][j])), (
                    case.name, point, i, j, rows)
        # the Hessian against finite differences of the compiled gradient
        dg = s2sad.grad(case.fn, wrt=wrt)
        for j in range(n):
            fd_col = oracles.gradient(lambda *a, j=j, dg=dg: oracles.flatten(dg(*a))[j], point,
                                      h=case.h)
            oracles.assert_close([rows[i][j] for i in range(n)], fd_col, 1e-6, 1e-8,
                                 what=f"Hessian column {j} at {point}")


# -- defaults and the decorator -------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_parameter_default_is_used_by_grad(mode):
    vg = s2sad.value_and_grad(with_default, mode=mode)
    for x in (-1.5, 0.25, 2.0):
        value, dx = vg(x)
        assert value == with_default(x)
        oracles.assert_close(dx, oracles.derivative(with_default, x), RTOL, ATOL)
        assert vg(x, 2.0) == (value, dx)


@s2sad.differentiable(wrt=(0, 1))
def decorated(x, y):
    return x * math.exp(y) - y * y


@s2sad.differentiable
def decorated_tuple(x):
    return x, x * math.sin(x)


def test_differentiable_decorator():
    assert decorated(1.0, 2.0) == 1.0 * math.exp(2.0) - 4.0  # still callable as itself
    for point in ((1.0, 0.5), (-2.0, -1.0), (0.3, 1.7)):
        fd = oracles.gradient(decorated, point)
        oracles.assert_close(decorated.grad(*point), fd, RTOL, ATOL)
        value, g = decorated.value_and_grad(*point)
        assert value == decorated(*point)
        oracles.assert_close(g, fd, RTOL, ATOL)
        _, ydot = decorated.jvp(*point, 0.5, -1.0)
        oracles.assert_close(ydot, 0.5 * fd[0] - fd[1], RTOL, ATOL)
        _, xbar = decorated.vjp(*point, 2.0)
        oracles.assert_close(xbar, (2 * fd[0], 2 * fd[1]), RTOL, ATOL)


def test_differentiable_decorator_on_tuple_output():
    with pytest.raises(s2sad.DifferentiationError):
        decorated_tuple.grad(1.0)
    with pytest.raises(s2sad.DifferentiationError):
        decorated_tuple.value_and_grad(1.0)
    for x in (-1.2, 0.4, 2.5):
        value, tangent = decorated_tuple.jvp(x, 1.0)
        assert value == decorated_tuple(x)
        want = oracles.directional(decorated_tuple, (x,), (1.0,))
        oracles.assert_close(tangent, want, RTOL, ATOL)
        _, xbar = decorated_tuple.vjp(x, 1.0, -0.5)
        oracles.assert_close(xbar, want[0] - 0.5 * want[1], RTOL, ATOL)
