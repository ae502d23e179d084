"""Control flow through every mode, against finite differences and SymPy.

Points are chosen away from branch switches (where the derivative jumps and
finite differences straddle two pieces); the kinks themselves have their own
tests, with the conventions of the README.
"""

from __future__ import annotations

import math
import random

import pytest

import s2sad
from s2sad.ir import interpret, verify
from s2sad.pipeline import derive
from tests.fixtures import control as C
from tests.oracles import assert_close, directional, gradient

# (function, float-argument indices, points) — other arguments are ints.
CASES = [
    (C.relu, (0,), [(1.3,), (-0.7,)]),
    (C.piecewise, (0,), [(-2.5,), (-0.3,), (0.4,), (2.2,)]),
    (C.nested_if, (0, 1), [(1.5, 2.0), (1.5, -2.0), (-1.2, 0.7)]),
    (C.ifexp, (0,), [(0.5,), (2.0,), (3.5,)]),
    (C.chained_compare, (0, 1), [(0.5, 1.0), (1.5, 0.3), (0.5, 3.0), (-0.5, 1.0)]),
    (C.truthiness, (0,), [(1.1, 0), (1.1, 3)]),
    (C.taylor_exp, (0,), [(0.7, 8), (-1.3, 12), (2.0, 1)]),
    (C.loop_with_branch, (0,), [(0.3, 6), (-0.4, 5), (1.7, 9)]),
    (C.branch_with_loop, (0,), [(0.8, 4), (-0.8, 4), (1.3, 0)]),
    (C.halve_until_small, (0,), [(3.1,), (0.5,), (-5.3,)]),
    (C.while_with_break, (0,), [(0.9,), (3.0,), (-2.0,)]),
    (C.for_with_break, (0,), [(0.7, 6), (1.5, 10), (3.0, 0)]),
    (C.for_with_continue, (0,), [(0.3, 7), (-1.1, 4)]),
    (C.nested_loops, (0,), [(0.9, 5), (-1.4, 4)]),
    (C.fibonacci_like, (0, 1), [(0.5, 1.2, 6), (-0.3, 0.8, 1)]),
    (C.reverse_range, (0,), [(0.6, 5), (-1.2, 3)]),
    (C.early_returns, (0, 1), [(2.5, 1.0), (-1.0, 3.0), (1.0, 3.0), (0.5, 1.5),
                               (0.3, 0.4)]),
    (C.loop_then_branch, (0,), [(0.2, 3), (1.5, 4)]),
    (C.kepler, (0, 1), [(1.0, 0.5), (0.3, 0.9), (-2.5, 0.2)]),
    (C.log_sum_exp_loop, (0,), [(0.7, 5), (-1.3, 3)]),
    (C.kept_value_in_a_branch, (0,), [(0.3, 4), (-0.6, 5), (1.1, 3)]),
    (C.sum_of_sines, (0,), [(0.4, 6), (-1.7, 3)]),
]

IDS = [f"{f.__name__}" for f, _, _ in CASES]
STEP = 1e-3  # the first finite-difference step stays inside one piece of the function


def _float_wrt(f, wrt, point):
    def g(*floats):
        args = list(point)
        for i, v in zip(wrt, floats, strict=True):
            args[i] = v
        return f(*args)
    return g, [point[i] for i in wrt]


@pytest.mark.parametrize("f, wrt, points", CASES, ids=IDS)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_gradient_matches_finite_differences(f, wrt, points, mode):
    g = s2sad.grad(f, wrt=wrt, mode=mode)
    for point in points:
        g_of_floats, floats = _float_wrt(f, wrt, point)
        want = gradient(g_of_floats, floats, h=STEP)
        got = g(*point)
        got = got if isinstance(got, tuple) else (got,)
        assert_close(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("f, wrt, points", CASES, ids=IDS)
def test_value_and_grad_value_is_the_function(f, wrt, points):
    vg = s2sad.value_and_grad(f, wrt=wrt)
    for point in points:
        value, _ = vg(*point)
        assert value == pytest.approx(f(*point), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("f, wrt, points", CASES, ids=IDS)
def test_jvp_vjp_inner_product_identity(f, wrt, points):
    """⟨ẏ, ȳ⟩ = ⟨ẋ, x̄⟩ for random directions, and the jvp matches finite differences."""
    rng = random.Random(7)
    jvp = s2sad.jvp(f, wrt=wrt)
    vjp = s2sad.vjp(f, wrt=wrt)
    for point in points:
        xdot = [rng.uniform(-1, 1) for _ in wrt]
        ybar = rng.uniform(-1, 1)
        value, ydot = jvp(*point, *xdot)
        value2, xbar = vjp(*point, ybar)
        xbar = xbar if isinstance(xbar, tuple) else (xbar,)
        assert value == value2
        lhs = ydot * ybar
        rhs = sum(a * b for a, b in zip(xdot, xbar, strict=True))
        assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-12)
        g_of_floats, floats = _float_wrt(f, wrt, point)
        assert_close(ydot, directional(g_of_floats, floats, xdot, h=STEP), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("f, wrt, points", CASES, ids=IDS)
def test_ir_verifies_and_interpreter_agrees(f, wrt, points):
    lifted = s2sad.lift(f)
    verify(lifted)
    for kind in ("grad", "jvp", "vjp"):
        verify(derive(lifted, kind, wrt))
    fn = derive(lifted, "grad", wrt)
    g = s2sad.grad(f, wrt=wrt)
    for point in points:
        assert interpret(lifted, *point) == pytest.approx(f(*point), rel=1e-12)
        got = interpret(fn, *point)
        assert got == pytest.approx(g(*point), rel=1e-12)


def test_tuple_outputs_through_a_loop():
    jvp = s2sad.jvp(C.tuple_result_loop)
    vjp = s2sad.vjp(C.tuple_result_loop)
    x, n = 0.7, 4
    (s, p), (sdot, pdot) = jvp(x, n, 1.0)
    want = directional(lambda t: C.tuple_result_loop(t, n), [x], [1.0], h=STEP)
    assert_close((sdot, pdot), want)
    _, xbar = vjp(x, n, 0.3, -0.6)
    assert xbar == pytest.approx(0.3 * want[0] - 0.6 * want[1], rel=1e-9)


# -- kinks and untaken branches (DESIGN §10) ------------------------------------------------

def test_relu_at_zero_is_zero():
    assert s2sad.grad(C.relu)(0.0) == 0.0
    assert s2sad.grad(C.relu, mode="forward")(0.0) == 0.0


def test_untaken_branch_never_leaks_nan():
    for mode in ("reverse", "forward"):
        g = s2sad.grad(C.avoid_log_of_negative, mode=mode)
        assert g(-1.0) == 1.0  # math.log(-1) would raise; the branch must not run
        assert g(0.0) == 1.0
        assert g(2.0) == pytest.approx(1.5)
        d = s2sad.grad(C.avoid_division_by_zero, mode=mode)
        assert d(0.0) == 0.0  # sin(x)/x at 0 would divide by zero
        assert math.isfinite(d(1e-3))
        assert d(0.5) == pytest.approx(gradient(C.avoid_division_by_zero, [0.5], h=STEP)[0])


# -- against SymPy: if chains as Piecewise, fixed loops unrolled ------------------------------

def test_piecewise_against_sympy():
    import sympy as sp

    x = sp.Symbol("x", real=True)
    expr = 2 * sp.Piecewise((-x * x, x < -1), (sp.sin(x), x < 1), (sp.exp(1 - x) + x, True))
    d = sp.diff(expr, x)
    g = s2sad.grad(C.piecewise)
    for point in (-2.5, -0.3, 0.4, 2.2, 7.0):
        assert g(point) == pytest.approx(float(d.subs(x, point)), rel=1e-12)


def test_unrolled_loop_against_sympy():
    import sympy as sp

    x = sp.Symbol("x", real=True)
    n = 6
    term, total = sp.Integer(1), sp.Integer(1)
    for k in range(1, n):
        term = term * x / k
        total += term
    d = sp.diff(total, x)
    g = s2sad.grad(C.taylor_exp)
    for point in (-1.5, 0.3, 2.0):
        assert g(point, n) == pytest.approx(float(d.subs(x, point)), rel=1e-12)


# -- the tape records only what the reverse sweep reads ---------------------------------------

def test_tape_holds_only_what_the_reverse_sweep_reads():
    # The branch tests s, so s is taped (one value per iteration); nothing else is.
    src = s2sad.grad(C.loop_with_branch, mode="reverse").source
    assert src.count(".append(") == 1 and ".append(s)" in src
    # A loop whose partials need no carried value records nothing at all.
    assert ".append(" not in s2sad.grad(C.for_with_continue, mode="reverse").source


def test_compile_time_does_not_depend_on_trip_count():
    f = s2sad.grad(C.taylor_exp)
    ops = f.ir
    from s2sad.ir import count_ops

    small, large = f(0.5, 3), f(0.5, 300)
    assert math.isfinite(small) and math.isfinite(large)
    assert count_ops(ops) < 60


def test_reverse_sweep_keeps_math_calls_instead_of_recomputing_them():
    """Newton's method: sin E, cos E and the step go on the tape; the adjoint reads them
    (sin' = cos: the kept cos E is reused) and calls no math function itself."""
    src = s2sad.grad(C.kepler, wrt=(0, 1)).source
    assert src.count("math.sin(") == 1 and src.count("math.cos(") == 1
    assert "tape.append((" in src
    src = s2sad.grad(C.log_sum_exp_loop).source
    assert src.count("math.exp(") == 1


def test_a_loop_whose_values_the_gradient_never_reads_is_not_run():
    """Recomputing beats taping when nothing else needs the primal loop: the gradient of
    a sum of sin(x·i)·exp(−x) is one backward loop, with no tape and no forward loop."""
    src = s2sad.grad(C.sum_of_sines, mode="reverse").source
    assert "tape" not in src and src.count("for ") == 1


def test_forward_mode_in_several_inputs_runs_each_loop_once():
    """One sweep carries the tangents of every input: the loop (and its primal) runs once,
    not once per input; the gradients are checked against finite differences above."""
    src = s2sad.grad(C.kepler, wrt=(0, 1), mode="forward").source
    assert src.count("    while ") == 1 and "E_dot" in src
    jac = s2sad.jacobian(C.fibonacci_like, wrt=(0, 1), mode="forward")
    assert jac.source.count("    for ") == 1
    a, b, n = 0.5, 1.2, 6
    got = jac(a, b, n)
    want = gradient(lambda u, v: C.fibonacci_like(u, v, n), [a, b], h=STEP)
    assert_close(list(got), want, rtol=1e-7, atol=1e-9)
