"""Lists as arguments (issue: control flow and sequences), against finite differences.

The gradient with respect to a list is a list of the same length.  Each entry
is checked against a Richardson finite difference in that entry.
"""

from __future__ import annotations

import math
import random

import pytest

import s2sad
from s2sad.ir import interpret, verify
from s2sad.pipeline import derive
from tests.fixtures import sequences as S
from tests.oracles import assert_close, partial

STEP = 1e-3


def list_gradient(f, args, which):
    """∂f/∂args[which][k] for every k, by finite differences."""
    xs = list(args[which])

    def at(k):
        def g(t):
            moved = list(xs)
            moved[k] = t
            new = list(args)
            new[which] = moved
            return f(*new)
        return g

    return [partial(lambda t, k=k: at(k)(t), [xs[k]], 0, h=STEP) for k in range(len(xs))]


CASES = [
    (S.rosenbrock, [([1.2, -0.5, 0.3, 2.0],), ([-1.0, 1.0],), ([0.1] * 7,)]),
    (S.softmax_cross_entropy, [([0.5, -1.0, 2.0], 1), ([3.0, 1.0, -2.0, 0.0], 0)]),
    (S.dot, [([1.0, 2.0], [3.0, -4.0]), ([0.5, 1.5, -2.5], [1.0, 2.0])]),
    (S.weighted_sum, [([1.0, -2.0, 3.0],)]),
    (S.first_last, [([2.0, 5.0, -3.0],), ([4.0],)]),
    (S.sum_and_min, [([1.0, -2.0, 3.5],), ([0.3, 0.2, 0.9, -0.4],)]),
    (S.filtered, [([0.5, -1.0, 2.0, 0.1], 0.2)]),
    (S.loop_over_items, [([0.5, -1.0, 2.0], 0.7)]),
    (S.search, [([0.5, 1.0, 2.0, 3.0], 1.0), ([0.1, 0.2], 5.0)]),
    (S.tuple_argument, [((1.5, -2.0, 0.3),)]),
    (S.list_in_branch, [([1.5, -2.0], 0.8), ([1.5, -2.0], -0.8)]),
    (S.build_then_sum, [([1.0, -2.0, 3.0], 0.5)]),
    (S.prefix_products, [([0.5, 2.0, -1.0],), ([1.5, -0.3, 0.8, 1.1],)]),
    (S.smoothing, [([0.5, -1.0, 2.0, 0.1, 0.7], 0.6), ([1.5, -0.3, 0.8], -1.2)]),
    (S.two_writes, [([0.5, -1.0, 0.3, 0.9],), ([0.2, 0.4, -0.7, 0.3, -0.5],)]),
    (S.comprehension, [([1.0, -2.0, 3.0],), ([-1.0, -2.0],)]),
    (S.histogram, [([1.0, -2.0, 3.0],)]),
    (S.copy_and_change, [([1.5, -2.0],)]),
]
IDS = [f.__name__ for f, _ in CASES]


@pytest.mark.parametrize("f, points", CASES, ids=IDS)
def test_gradient_wrt_the_list(f, points):
    g = s2sad.grad(f)
    for args in points:
        got = g(*args)
        assert isinstance(got, list) and len(got) == len(args[0])
        assert_close(got, list_gradient(f, args, 0), rtol=1e-7, atol=1e-9)


def test_gradient_wrt_two_lists():
    g = s2sad.grad(S.dot, wrt=(0, 1))
    xs, ys = [1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]
    gx, gy = g(xs, ys)
    assert gx == ys and gy == xs


def test_gradient_wrt_a_list_and_a_float():
    g = s2sad.grad(S.loop_over_items, wrt=(0, 1))
    xs, c = [0.5, -1.0, 2.0], 0.7
    gx, gc = g(xs, c)
    assert_close(gx, list_gradient(S.loop_over_items, (xs, c), 0))
    assert gc == pytest.approx(partial(lambda t: S.loop_over_items(xs, t), [c], 0, h=STEP),
                               rel=1e-8)


def test_the_argument_list_is_not_modified():
    xs = [1.2, -0.5, 0.3]
    s2sad.grad(S.rosenbrock)(xs)
    assert xs == [1.2, -0.5, 0.3]


@pytest.mark.parametrize("f, points", CASES, ids=IDS)
def test_jvp_vjp_with_list_tangents(f, points):
    """jvp takes a list tangent; ⟨ẏ, ȳ⟩ = ⟨ẋ, x̄⟩ with the list cotangent of vjp."""
    rng = random.Random(3)
    jvp, vjp = s2sad.jvp(f), s2sad.vjp(f)
    for args in points:
        xdot = [rng.uniform(-1, 1) for _ in args[0]]
        ybar = rng.uniform(-1, 1)
        value, ydot = jvp(*args, xdot)
        value2, xbar = vjp(*args, ybar)
        assert value == value2 == pytest.approx(f(*args))
        assert ydot * ybar == pytest.approx(sum(a * b for a, b in zip(xdot, xbar, strict=True)),
                                            rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("f, points", CASES, ids=IDS)
def test_ir_verifies_and_interpreter_agrees(f, points):
    lifted = verify(s2sad.lift(f))
    fn = verify(derive(lifted, "grad", 0))
    for args in points:
        assert interpret(lifted, *[list(a) if isinstance(a, (list, tuple)) else a
                                   for a in args]) == pytest.approx(f(*args))
        assert interpret(fn, *args) == pytest.approx(s2sad.grad(f)(*args))


def test_forward_mode_gradient_wrt_a_list_says_what_to_do():
    with pytest.raises(s2sad.DifferentiationError, match="mode='reverse'"):
        s2sad.grad(S.rosenbrock, mode="forward")


def test_rosenbrock_adjoint_reads_like_a_hand_written_one():
    src = s2sad.grad(S.rosenbrock).source
    assert "x_bar = [0.0] * len(x)" in src
    assert "reversed(range(" in src
    assert ".append(" not in src  # nothing needs a tape: x is an argument


def test_local_list_float_arguments():
    g = s2sad.grad(S.literal, wrt=(0, 1))
    a, b = 1.5, -2.0
    assert g(a, b) == pytest.approx((1 + b * b, 2 * a * b))
    gc = s2sad.grad(S.build_then_sum, wrt=1)
    xs, c = [1.0, -2.0, 3.0], 0.5
    assert gc(xs, c) == pytest.approx(2 * c * sum(v * v for v in xs))


@pytest.mark.parametrize("f", [S.mutates_argument, S.appends_to_argument])
def test_mutating_an_argument_is_rejected(f):
    with pytest.raises(s2sad.UnsupportedError, match="did not create") as info:
        s2sad.grad(f)
    assert "list(xs)" in info.value.hint
    assert info.value.lineno is not None


def test_appending_in_a_loop_records_no_copies():
    src = s2sad.grad(S.comprehension).source
    assert "tape" not in src  # the reverse sweep pops the adjoint list instead
    assert ".pop()" in src


@pytest.mark.parametrize("f", [S.prefix_products, S.smoothing, S.two_writes])
def test_item_updates_in_a_loop_tape_items_not_lists(f):
    """A loop that only reads and assigns items of a list tapes the items it reads:
    O(1) per iteration, where a copy of the list would make the gradient O(n²)."""
    src = s2sad.grad(f).source
    assert "tape.append(" in src and "list(ys)" not in src


def max_min_spread(xs):
    return max(xs) * 2.0 - min(xs) + max(xs) ** 2


@pytest.mark.parametrize("xs", [[0.5, -1.0, 2.0, 0.1], [-3.0, -0.2, -7.5], [4.0]])
def test_max_and_min_of_a_list(xs):
    """max(xs) and min(xs) are their first largest / smallest item: the gradient (and a
    jvp) goes to that item alone; a tuple and a 1-D array work as lists do."""
    import numpy as np

    want = list_gradient(max_min_spread, (xs,), 0)
    g = s2sad.grad(max_min_spread)
    assert_close(g(xs), want, rtol=1e-7, atol=1e-9)
    assert_close(g(tuple(xs)), want, rtol=1e-7, atol=1e-9)
    got = g(np.array(xs))  # the gradient has the argument's type: an array for an array
    assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == (len(xs),)
    assert_close(got.tolist(), want, rtol=1e-7, atol=1e-9)
    _, ydot = s2sad.jvp(max_min_spread)(xs, [1.0] * len(xs))
    assert ydot == pytest.approx(sum(want), rel=1e-7)


def test_max_of_a_list_with_ties_goes_to_the_first():
    """At a tie the derivative goes to the first largest item, as Python's max returns
    it, and as max(a, b) gives it to a (README, conventions at kinks)."""
    assert s2sad.grad(max_min_spread)([1.0, 3.0, 3.0, -2.0, -2.0]) == [0.0, 8.0, 0.0, -1.0, 0.0]
    src = s2sad.grad(max_min_spread).source
    assert "for " not in src and "_argmax(xs)" in src and "import numpy" not in src


def lookahead(xs):
    ys = list(xs)
    for i in range(len(ys) - 1):
        ys[i] = ys[i] * math.sin(ys[i + 1])  # ys[i + 1] changes in the next pass: taped
    return ys[0] + ys[1]


def write_then_read(xs, c):
    ys = list(xs)
    t = 0.0
    for i in range(1, len(ys)):
        ys[i] = ys[i - 1] * c + ys[i]
        t += ys[i] * ys[i]  # the item just written: final
    return t


def changed_after_the_loop(xs, c):
    ys = list(xs)
    for i in range(1, len(ys)):
        ys[i] = ys[i - 1] * ys[i] * c + math.tanh(ys[i - 1] * c)
    ys[0] = 7.0  # the reverse sweep must read the items as the loop left them
    ys[1] = ys[1] * 3.0
    return ys[-1] + ys[0] + ys[1]


def wraps_around(xs):
    ys = list(xs)
    for i in range(len(ys)):
        ys[i] = ys[i - 1] * ys[i]  # at i = 0, ys[-1]: the last item, changed later
    return ys[-1] + ys[0]


@pytest.mark.parametrize("f, args", [
    (lookahead, ([0.5, -1.0, 2.0, 0.1],)),
    (write_then_read, ([0.5, -1.0, 2.0, 0.1], 0.7)),
    (changed_after_the_loop, ([0.5, -1.0, 2.0, 0.1], 0.7)),
    (wraps_around, ([0.5, -1.2, 1.1, 0.9],)),
], ids=["lookahead", "write_then_read", "changed_after_the_loop", "wraps_around"])
def test_items_read_from_the_final_list_only_when_no_later_pass_changes_them(f, args):
    g = s2sad.grad(f)
    assert_close(g(*args), list_gradient(f, args, 0), rtol=1e-7, atol=1e-9)


def test_an_item_no_later_pass_changes_is_not_taped():
    src = s2sad.grad(S.prefix_products).source
    assert "tape.append(_t" in src and "tape.append((" not in src  # ys[i - 1] is not kept
    assert "tape" not in s2sad.grad(write_then_read).source  # every item it reads is final
