"""np.stack, np.concatenate, np.array of arrays, and assignment into local arrays.

Checked like ``tests/test_numpy.py`` (whose helpers these tests reuse): every
derivative against Ridders-extrapolated central finite differences, in reverse
mode (``grad``) and forward mode (``jvp``), plus the inner-product identity
⟨ẏ, ȳ⟩ = ⟨ẋ, x̄⟩ on a concatenate/stack function and on a small RNN.

* ``test_pieces_*``   np.stack / np.concatenate / np.array([a, b]) with several
  shapes, positive and negative axes, numbers and inactive pieces
* ``test_assign_*``   ``h[t] = v``, ``h[i, :] = row``, ``h[1:5:2] = v``, ``h[i] += v``,
  a scalar broadcast into a slice, ``x.copy()`` and ``np.array(x)``
* ``test_loop_*``     assignment inside ``for`` and ``while`` loops (the RNN)
* ``test_codegen_*``  in place when the old array is dead, on a copy otherwise
* ``test_error_*``    located errors: assigning into an argument, a view, an alias
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import s2sad
from tests.test_numpy import (
    ATOL,
    RTOL,
    _copy,
    case,
    check_forward,
    check_reverse,
    fd_directional,
    fd_grad,
    rand,
)

# == np.stack, np.concatenate, np.array of arrays ==============================================


def pc_stack(a, b):
    return np.sum(np.sin(np.stack([a, b * a])) * b)


def pc_stack_neg(a, b):
    y = np.stack([a, np.cos(b), a * b], axis=-1)
    return np.sum(y * y * np.arange(3.0))


def pc_stack_axis1(A, B):
    y = np.stack((A, B), axis=1)
    return np.sum(np.sin(y) * y[:, 0:1])


def pc_stack_numbers(x, y: float):
    v = np.stack([x, 2.0, x * y])
    return np.sum(v * v * np.array([1.0, 2.0, 3.0]))


def pc_concat(a, b):
    y = np.concatenate([a, np.sin(b), a * 2.0])
    return np.sum(y * y * np.arange(y.shape[0]))


def pc_concat_axis1(A, B):
    y = np.concatenate((A, np.ones((A.shape[0], 1)), B), axis=1)
    return np.sum(np.tanh(y) * y)


def pc_concat_neg(A, B):
    y = np.concatenate([A, B * A], axis=-2)
    return np.sum(np.sin(y) * y[..., 0:1])


def pc_array_of_arrays(a, b):
    y = np.array([a, np.sin(a), b])
    return np.sum(y[1:] * y[0])


PIECES = [
    case(pc_stack, rand((3,), 1), rand((3,), 2)),
    case(pc_stack, rand((2, 3), 3), rand((2, 3), 4)),
    case(pc_stack_neg, rand((4,), 5), rand((4,), 6)),
    case(pc_stack_neg, rand((2, 3), 7), rand((2, 3), 8)),
    case(pc_stack_axis1, rand((2, 3), 9), rand((2, 3), 10)),
    case(pc_stack_numbers, 0.7, -1.3),
    case(pc_concat, rand((2,), 11), rand((3,), 12)),
    case(pc_concat_axis1, rand((2, 3), 13), rand((2, 2), 14)),
    case(pc_concat_neg, rand((2, 2, 3), 15), rand((2, 2, 3), 16)),
    case(pc_concat_neg, rand((3, 2), 17), rand((3, 2), 18)),
    case(pc_array_of_arrays, rand((3,), 19), rand((3,), 20)),
]


@pytest.mark.parametrize("c", PIECES)
def test_pieces_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", PIECES)
def test_pieces_forward(c):
    check_forward(c)


# == assignment into arrays the function creates ===============================================


def as_items(x: np.ndarray):
    h = np.zeros(3)
    h[0] = x[1] * x[2]
    h[-1] = np.sin(x[0])
    h[-2] = h[0] * x[-1]
    return np.sum(h * x[:3])


def as_rows(X):
    H = np.zeros(X.shape)
    H[1, :] = np.sin(X[0])
    H[0] = X[1] * 2.0
    H[:, -1] = X[:, 0] ** 2
    return np.sum(H * X)


def as_step_slices(x: np.ndarray):
    h = np.ones(6)
    h[1:5:2] = x[:2] ** 2
    h[4:0:-3] = np.sin(x[2:4])
    h[::-5] = x[0] * x[3]
    return np.sum(h * h * np.arange(6.0))


def as_scalar_into_slice(x: np.ndarray, s: float):
    h = np.zeros(5)
    h[1:4] = s * x[0]
    h[-1:] = s
    return np.sum(h * x)


def as_augmented(x: np.ndarray):
    h = x.copy()
    h[1] += x[0] ** 2
    h[2:] *= 2.0
    h[0] -= np.sum(x)
    h[-1] /= 1.5 + x[1] ** 2
    return np.sum(h * h)


def as_np_array_copy(X):
    H = np.array(X)
    H[0, 1:] = np.sin(H[1, 1:])
    return np.sum(H * X)


def as_of_arithmetic(x):
    h = x * 2.0
    h[0] = np.sum(x)
    return np.sum(h * h)


ASSIGN = [
    case(as_items, rand((3,), 21)),
    case(as_items, rand((5,), 22)),
    case(as_rows, rand((2, 3), 23)),
    case(as_rows, rand((4, 2), 24)),
    case(as_step_slices, rand((4,), 25)),
    case(as_scalar_into_slice, rand((5,), 26), 0.6),
    case(as_augmented, rand((4,), 27)),
    case(as_np_array_copy, rand((2, 3), 28)),
    case(as_of_arithmetic, rand((3,), 29)),
]


@pytest.mark.parametrize("c", ASSIGN)
def test_assign_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", ASSIGN)
def test_assign_forward(c):
    check_forward(c)


# == assignment in loops: a small RNN ==========================================================


def rnn(w, x: np.ndarray):
    h = np.zeros(len(x))
    for t in range(len(x)):
        h[t] = np.tanh(w * h[t - 1] + x[t])
    return np.sum(h * h)


def rnn_while(w, x: np.ndarray):
    h = np.zeros(x.shape[0])
    t = 1
    while t < x.shape[0]:
        h[t] = np.tanh(w * h[t - 1] + x[t])
        t += 1
    return np.sum(h)


def rnn_matrix(W, X):
    T, d = X.shape
    H = np.zeros((T, d))
    for t in range(1, T):
        H[t, :] = np.tanh(W @ H[t - 1] + X[t])
    return np.sum(H[-1] ** 2) + np.mean(H)


def loop_branch(x: np.ndarray):
    h = np.zeros(x.shape[0])
    for t in range(x.shape[0]):
        if t % 2 == 0:
            h[t] = x[t] ** 2
        else:
            h[t] += np.sin(x[t]) * h[t - 1]
    return np.sum(h * x)


def loop_rows_then_stack(x: np.ndarray):
    out = np.zeros((3, x.shape[0]))
    for i in range(3):
        out[i] = x ** (i + 1)
    return np.sum(np.concatenate([out, np.stack([x, x * x])], axis=0) ** 2)


def loop_reads_whole(x: np.ndarray):
    h = np.zeros(x.shape[0])
    for t in range(x.shape[0]):
        h[t] = np.sin(x[t]) + 0.1 * np.sum(h)
    return np.sum(h * x)


def loop_nested(x: np.ndarray):
    h = np.zeros(3)
    for i in range(2):
        for j in range(3):
            h[j] = h[j] * x[i] + np.sin(x[j])
    return np.sum(h * h)


def loop_two_arrays_break(x: np.ndarray):
    h = np.zeros(x.shape[0])
    g = np.ones(x.shape[0])
    s = 0.0
    for t in range(1, x.shape[0]):
        h[t] = g[t - 1] * x[t] + h[t - 1]
        g[t] = np.cos(h[t]) * x[t - 1]
        s = s + h[t] * g[t]
        if s > 3.0:
            break
    return s + np.sum(g * h)


LOOPS = [
    case(rnn, 0.7, rand((4,), 31)),
    case(rnn, -1.1, rand((6,), 32)),
    case(rnn_while, 0.9, rand((5,), 33)),
    case(rnn_matrix, 0.5 * rand((3, 3), 34), rand((4, 3), 35)),
    case(loop_branch, rand((5,), 36)),
    case(loop_rows_then_stack, rand((3,), 37)),
    case(loop_reads_whole, rand((4,), 38)),
    case(loop_nested, rand((3,), 39)),
    case(loop_two_arrays_break, rand((5,), 40)),
    case(loop_two_arrays_break, 2.0 + rand((6,), 45, 0.0, 1.0)),
]


@pytest.mark.parametrize("c", LOOPS)
def test_loop_reverse(c):
    check_reverse(c)


@pytest.mark.parametrize("c", LOOPS)
def test_loop_forward(c):
    check_forward(c)


@pytest.mark.parametrize("c", PIECES[:3] + ASSIGN[:4] + LOOPS)
def test_value_and_grad_value(c):
    """The primal value the generated value_and_grad computes is the function's."""
    value, _ = s2sad.value_and_grad(c.f, wrt=c.wrt)(*_copy(c.args))
    np.testing.assert_allclose(value, c.f(*c.args), rtol=1e-13, atol=1e-14)


# == the inner-product identity ================================================================


def layer(a, B):
    y = np.concatenate([np.sin(a), B[0] * a, np.stack([a, B[1]], axis=-1).ravel()])
    return y * y


def rnn_states(w, x):
    h = np.zeros(len(x))
    for t in range(len(x)):
        h[t] = np.tanh(w * h[t - 1] + x[t])
    return h


@pytest.mark.parametrize("f, args", [
    (layer, (rand((3,), 41), rand((2, 3), 42))),
    (rnn_states, (0.8, rand((5,), 43))),
])
def test_inner_product(f, args):
    rng = np.random.default_rng(44)
    tangents = [rng.standard_normal(np.shape(a)) if np.ndim(a) else float(rng.standard_normal())
                for a in args]
    ybar = rng.standard_normal(np.shape(f(*args)))
    y1, ydot = s2sad.jvp(f, wrt=(0, 1))(*_copy(args), *tangents)
    y2, bars = s2sad.vjp(f, wrt=(0, 1))(*_copy(args), ybar)
    np.testing.assert_allclose(y1, f(*args), rtol=1e-13)
    np.testing.assert_allclose(y2, f(*args), rtol=1e-13)
    lhs = float(np.sum(ydot * ybar))
    rhs = sum(float(np.sum(np.asarray(t) * np.asarray(b))) for t, b in zip(tangents, bars,
                                                                          strict=True))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-12)
    np.testing.assert_allclose(ydot, fd_directional(f, args, (0, 1), tangents), rtol=RTOL,
                               atol=ATOL)
    np.testing.assert_allclose(bars[1], fd_grad(lambda *a: np.sum(f(*a) * ybar), args, 1),
                               rtol=RTOL, atol=ATOL)


# == generated code ============================================================================


def rnn_list(w, x):
    h = np.zeros(len(x))
    for t in range(len(x)):
        h[t] = np.tanh(w * h[t - 1] + x[t])
    return np.sum(h * h)


def test_loop_rnn_over_a_list():
    x = [0.3, -0.2, 0.9]
    w_bar, x_bar = s2sad.grad(rnn_list, wrt=(0, 1))(0.6, x)
    np.testing.assert_allclose(w_bar, fd_grad(rnn_list, (0.6, np.array(x)), 0), rtol=RTOL)
    np.testing.assert_allclose(x_bar, fd_grad(rnn_list, (0.6, np.array(x)), 1), rtol=RTOL)


def test_codegen_in_place_when_the_old_array_is_dead():
    src = s2sad.jvp(rnn, wrt=0).source
    assert "h[t] = " in src and "h_dot[t] = " in src
    assert ".copy()" not in src  # nothing else sees h: written in place
    src = s2sad.grad(rnn, wrt=(0, 1)).source
    assert "tape.append(h" not in src and ".copy()" in src  # the tape keeps items, not h
    assert "        h[t] = " in src and "h = h.copy()" not in src
    assert "h_bar[t_1] = 0.0" in src  # the adjoint is zeroed in place
    assert "h_bar[t_1 - 1] += " in src and "x_bar[t_1] += " in src  # and added to in place


def test_codegen_spelling():
    src = s2sad.value_and_grad(pc_concat_neg, wrt=0).source
    assert "np.concatenate([A, A * B], axis=-2)" in src
    n = re.search(r"y_bar\[\.\.\., :(_t\d+), :\]", src)  # the first piece's slice
    assert n is not None and f"y_bar[..., {n.group(1)}:, :]" in src, src
    src = s2sad.value_and_grad(pc_stack_neg, wrt=0).source
    assert "axis=-1)" in src and "[..., 0]" in src and "[..., 2]" in src
    src = s2sad.jvp(as_augmented, wrt=0).source
    assert "h = x.copy()" in src and "h[1] += " in src and "h[2:] *= 2.0" in src
    assert "h[0] -= np.sum(x)" in src and "h_dot[2:] *= 2.0" in src


def keeps_old(x):
    h = np.zeros(3)
    g = h * 1.0
    h2 = g
    h2 = np.sin(h2)
    g[1] = x
    return np.sum(h2) + np.sum(g) * x


def reads_old_after(x):
    h = np.zeros(2)
    h = h + x
    old = h * 1.0
    h[0] = x * x
    return np.sum(h) + np.sum(old)


def test_codegen_copies_when_the_old_array_is_read_later():
    for f in (keeps_old, reads_old_after):
        src = s2sad.grad(f).source
        np.testing.assert_allclose(s2sad.grad(f)(0.3), fd_grad(f, (0.3,), 0), rtol=RTOL)
        np.testing.assert_allclose(s2sad.jvp(f)(0.3, 1.0)[1], fd_grad(f, (0.3,), 0),
                                   rtol=RTOL)
        assert src  # compiled


def test_codegen_arguments_are_not_changed():
    x = rand((4,), 50)
    kept = x.copy()
    for fn in (s2sad.grad(as_augmented), s2sad.jvp(as_augmented)):
        fn(x) if fn.__name__.startswith("grad") else fn(x, np.ones(4))
        np.testing.assert_array_equal(x, kept)


# == located errors ============================================================================


def err_assign_argument(x):
    x[0] = 1.0
    return np.sum(x)


def err_assign_argument_in_loop(x: np.ndarray):
    h = x
    for t in range(2):
        h[t] = 0.0
    return np.sum(h)


def err_assign_view(x):
    h = x[1:]
    h[0] = 1.0
    return np.sum(h)


def err_view_alive(x):
    h = np.zeros(3)
    r = h[0:2]
    h[0] = x
    return np.sum(r) + np.sum(h)


def err_row_view_alive(x):
    H = np.zeros((2, 2))
    r = H[0]
    H[0, 1] = x
    return np.sum(r) * np.sum(H)


def err_view_read_in_loop(x):
    h = np.zeros(3)
    r = h[1:]
    s = 0.0
    for t in range(3):
        s = s + np.sum(r)
        h[t] = x
    return s + np.sum(h)


def view_dead_after(x):
    h = np.zeros(3)
    r = h[0:2]
    s = np.sum(r) + x
    h[0] = x * s
    for t in range(1, 3):
        prev = h[t - 1]
        h[t] = np.sin(prev) * x
    return np.sum(h * h)


def test_views_read_before_the_assignment_are_fine():
    check_reverse(case(view_dead_after, 0.4).values[0])
    check_forward(case(view_dead_after, 0.4).values[0])


def err_alias(x):
    h = np.zeros(3)
    g = h
    h[0] = x
    return np.sum(g)


def _fills(h, x):
    h[0] = x
    return h


def err_callee_changes_caller(x):
    h = np.zeros(2)
    _fills(h, x)
    return np.sum(h)


def err_dstack(a, b):
    return np.sum(np.dstack([a, b]))


def err_axis_not_constant(a, k: int):
    return np.sum(np.stack([a, a], axis=k))


def err_assign_list_into_array(x):
    h = np.zeros(2)
    h[0] = [x]
    return np.sum(h)


@pytest.mark.parametrize("f, lineno, words", [
    (err_assign_argument, 1, "item assignment into the argument `x`"),
    (err_assign_argument_in_loop, 3, "item assignment into the argument `x`"),
    (err_assign_view, 2, "did not create"),
    (err_view_alive, 3, "`r` may be a view of it"),
    (err_row_view_alive, 3, "`r` may be a view of it"),
    (err_view_read_in_loop, 6, "`r` may be a view of it"),
    (err_alias, 3, "same array as `g`"),
    (err_callee_changes_caller, 1, "the caller passed in"),
    (err_dstack, 1, "np.dstack"),
    (err_axis_not_constant, 1, "must be a constant"),
    (err_assign_list_into_array, 2, "number or an array"),
])
def test_error_located(f, lineno, words):
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(f, wrt=0)
    err = info.value
    assert words in str(err)
    target = _fills if f is err_callee_changes_caller else f
    assert err.lineno == target.__code__.co_firstlineno + lineno
    assert err.filename and err.filename.endswith("test_numpy_assign.py")


def test_error_argument_hint_says_copy():
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(err_assign_argument)
    assert "x.copy()" in str(info.value) and "np.array(x)" in str(info.value)
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(err_dstack)
    assert "np.concatenate" in str(info.value)


def log_softmax_pick(z, k):
    m = np.max(z)
    return np.log(np.sum(np.exp(z - m))) + m - z[k]


def test_an_item_adjoint_is_added_in_place_into_a_whole_one():
    """z[k]'s adjoint is added into the full-shaped adjoint of the other term in place
    (np.add.at(z_bar, k, ...): k is an argument, which may be an int array repeating an
    index, tests/test_gather.py), not spread over a new array of zeros and added."""
    g = s2sad.grad(log_softmax_pick)
    for z, k in ((np.array([0.5, -1.0, 2.0, 0.3]), 2), (np.array([3.0, 3.0, -1.0]), 0)):
        np.testing.assert_allclose(g(z, k), fd_grad(log_softmax_pick, (z, k), 0),
                                   rtol=RTOL, atol=1e-9)
    assert "np.add.at(z_bar, k, " in g.generic.source and "np.zeros" not in g.generic.source
    # compiled for the int k of these calls (a number: it reads one item), in place
    assert "z_bar[k] -= 1.0" in g.source and "np.zeros" not in g.source


def rnn_from_one(w, x):
    h = np.zeros(len(x))
    h[0] = x[0]
    for t in range(1, len(x)):
        h[t] = np.tanh(w * h[t - 1] + x[t])
    return np.sum(h * h)


def test_an_rnn_needs_no_tape_when_no_later_pass_changes_what_it_reads():
    """h[t - 1] is never written again after pass t reads it: the reverse sweep reads it
    from the final h, and nothing is taped (range(0, …) would read h[-1] first: taped)."""
    g = s2sad.grad(rnn_from_one, wrt=(0, 1))
    for w, x in ((0.6, np.array([0.3, -0.2, 0.9, 0.5])), (-1.3, np.array([1.0, 0.2]))):
        w_bar, x_bar = g(w, x)
        np.testing.assert_allclose(w_bar, fd_grad(rnn_from_one, (w, x), 0), rtol=RTOL)
        np.testing.assert_allclose(x_bar, fd_grad(rnn_from_one, (w, x), 1), rtol=RTOL)
    assert "tape" not in g.source and "h[t - 1]" in g.source
    assert "tape.append(" in s2sad.grad(rnn, wrt=(0, 1)).source
