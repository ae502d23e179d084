"""Running maxima and minima in loops (s2sad/opt/selections.py), against finite
differences and the plain function.

A loop that keeps or replaces a running value by a candidate records the index of
the last replacement and recomputes the winner after the loop.  The value must be
the plain function's, bit for bit (ties and NaN included), and the gradient the
finite difference's, in both modes; loops that do not have that shape are left as
they are.
"""

from __future__ import annotations

import math

import pytest

import s2sad
from s2sad.ir import interpret, verify
from tests.oracles import assert_close, partial


def if_greater(z, c):
    m = z[0] * c
    for v in z:
        if v > m:
            m = v
    return m * m + c


def ternary_at_least(z):
    m = -10.0
    for i in range(len(z)):
        m = z[i] if z[i] >= m else m  # a tie: the later item wins
    return math.sin(m)


def builtin_max_second(z, c):
    m = c
    for v in z:
        m = max(v, m)  # Python: v unless m > v
    return m * 3.0


def builtin_min_first(z):
    m = z[-1]
    for v in z:
        m = min(m, abs(v - 0.5))
    return m


def smaller_with_sum(z, c):
    """A running min beside another carried value, over a range with a negative step."""
    lo = c
    s = 0.0
    for i in range(len(z) - 1, -1, -1):
        s += z[i] * z[i]
        if z[i] * c < lo:
            lo = z[i] * c
    return lo + s


def nested(rows, c):
    total = 0.0
    for i in range(3):
        m = c
        for v in rows:
            if v + i > m:
                m = v + i
        total += m * (i + 1)
    return total


def reads_the_running_value(z):
    """Not a pure selection: m also feeds a sum, so the loop is left as it is."""
    m = z[0]
    s = 0.0
    for v in z:
        if v > m:
            m = v
        s += m
    return s


CASES = [
    (if_greater, [([0.5, -1.0, 2.0, 0.1], 0.3), ([-3.0, -2.0], 4.0), ([1.0, 3.0, 2.5], -1.0)]),
    (ternary_at_least, [([0.5, -1.0, 2.0, 0.1],), ([-12.0, -11.0],), ([0.3, 0.9, -0.2],)]),
    (builtin_max_second, [([0.5, -1.0, 2.0], 0.1), ([0.5, -1.0], 3.0)]),
    (builtin_min_first, [([0.9, 0.2, 1.7, -0.4],), ([2.0, 0.45],)]),
    (smaller_with_sum, [([0.5, -1.0, 2.0, 0.1], 0.7), ([0.5, 1.3], -2.0), ([0.2, 0.4], -0.1)]),
    (nested, [([0.5, -1.0, 2.0], 0.3), ([0.1, 0.2], 5.0)]),
    (reads_the_running_value, [([0.5, -1.0, 2.0, 0.1],), ([3.0, 1.0, 4.0],)]),
]
IDS = [f.__name__ for f, _ in CASES]


def fd_gradient(f, args):
    """∂f/∂ each item of the list (and ∂f/∂ the float, if any), by finite differences."""
    xs, rest = list(args[0]), list(args[1:])
    out = []
    for k in range(len(xs)):
        def moved(t, k=k):
            ys = list(xs)
            ys[k] = t
            return f(ys, *rest)
        out.append(partial(moved, [xs[k]], 0, h=1e-4))
    if rest:
        out.append(partial(lambda t: f(xs, t), [rest[0]], 0, h=1e-4))
    return out


@pytest.mark.parametrize("f, points", CASES, ids=IDS)
def test_gradient_matches_finite_differences(f, points):
    wrt = (0, 1) if len(points[0]) == 2 else 0
    g = s2sad.grad(f, wrt=wrt)
    vg = s2sad.value_and_grad(f, wrt=wrt)
    for args in points:
        got = g(*args)
        flat = [*got[0], got[1]] if isinstance(got, tuple) else got
        assert_close(flat, fd_gradient(f, args), rtol=1e-7, atol=1e-9)
        assert vg(*args)[0] == f(*args)  # the same number, not a close one


@pytest.mark.parametrize("f, points", CASES, ids=IDS)
def test_jvp_matches_finite_differences(f, points):
    jvp = s2sad.jvp(f)
    for args in points:
        xdot = [0.5 * (k + 1) for k in range(len(args[0]))]
        value, ydot = jvp(*args, xdot)
        want = sum(d * t for d, t in zip(fd_gradient(f, args), xdot, strict=False))
        assert value == f(*args)
        assert ydot == pytest.approx(want, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("f, points", CASES, ids=IDS)
def test_ir_verifies_and_interpreter_agrees(f, points):
    from s2sad.opt.selections import rewrite_selections

    lifted = verify(s2sad.lift(f))
    rewritten = verify(rewrite_selections(lifted))
    for args in points:
        assert interpret(rewritten, *args) == f(*args)


def test_ties_go_where_the_loop_puts_them():
    """`v > m` keeps the first of equal items, `>=` takes the last, builtin max(v, m)
    takes v unless m > v: the derivative goes to the item the loop's value is."""
    g = s2sad.grad(if_greater, wrt=0)
    assert g([1.0, 3.0, 3.0], -1.0) == [0.0, 6.0, 0.0]
    assert s2sad.grad(ternary_at_least)([3.0, 1.0, 3.0]) == [0.0, 0.0, math.cos(3.0)]
    assert s2sad.grad(builtin_max_second, wrt=(0, 1))([2.0, 2.0], 2.0) == ([0.0, 3.0], 0.0)


def test_nan_and_empty_lists_give_the_plain_value():
    nan = float("nan")
    for z in ([1.0, nan, 0.5], [nan, 2.0]):
        value, _ = s2sad.value_and_grad(builtin_max_second, wrt=0)(z, 0.1)
        want = builtin_max_second(z, 0.1)
        assert value == want or (math.isnan(value) and math.isnan(want))
    assert s2sad.grad(smaller_with_sum, wrt=(0, 1))([], 0.7) == ([], 1.0)


def test_a_running_max_needs_no_tape():
    src = s2sad.grad(if_greater, wrt=0).source
    assert "tape" not in src and "last = i if " in src and "[last] += m_bar" in src
    src = s2sad.grad(reads_the_running_value).source
    assert "last" not in src and "tape" in src  # left as it is
