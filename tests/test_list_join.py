"""``np.stack`` / ``np.concatenate`` / ``np.vstack`` / ``np.hstack`` / ``np.column_stack`` /
``np.array`` of a list built at run time (``rows.append(...)`` in a loop whose length is
an argument, a ``while`` loop, a comprehension): one ``list_join`` op, whose adjoint
splits the array back into a list of pieces (``list(g)``, ``np.split``).  Every case is
checked in both modes against Richardson finite differences, at points with negative
values too."""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from tests.oracles import derivative


def stack0(x, n: int):
    rows = []
    for i in range(n):
        rows.append(np.sin(x) * i + x ** 2)
    return np.sum(np.stack(rows) ** 3)


def stack1(x, n: int):
    rows = []
    for i in range(n):
        rows.append(np.tanh(x * (i + 1)))
    return np.sum(np.stack(rows, axis=1) * np.arange(3.0)[:, None] ** 2)


def stack_last(x, n: int):
    rows = []
    for i in range(n):
        rows.append(np.outer(x, x) * (i - 1.5))
    return np.sum(np.sin(np.stack(rows, axis=-1)) * np.arange(n))


def array_of_numbers(x, n: int):
    ys = []
    for i in range(n):
        ys.append(x[0] * i - x[1] ** 2 + x[2] * x[0])
    return np.sum(np.cos(np.array(ys)) * np.arange(n))


def array_of_rows(x, n: int):
    rows = []
    for i in range(n):
        rows.append(x ** 2 * (i + 0.5))
    return np.sum(np.array(rows) @ x)


def concatenate_ragged(x, n: int):
    parts = []
    for i in range(n):
        parts.append(x[: i + 1] * (i - 1.0))  # pieces of different lengths
    return np.sum(np.concatenate(parts) ** 3)


def concatenate_columns(x, n: int):
    blocks = []
    for i in range(n):
        blocks.append(np.outer(x, x[: (i % 3) + 1]) + i)  # 3 rows, 1 to 3 columns
    joined = np.concatenate(blocks, axis=1)
    return np.sum(np.exp(-joined ** 2) * np.arange(joined.shape[1]))


def concatenate_last(x, n: int):
    blocks = []
    for i in range(n):
        blocks.append(np.outer(x, x[: (i % 2) + 1]) * i)
    return np.sum(np.tanh(np.concatenate(blocks, axis=-1)))


def vstack_rows(x, n: int):
    rows = []
    for i in range(n):
        rows.append(np.tanh(x * (i - 1)))
    return np.sum(np.vstack(rows) @ np.array([1.0, -2.0, 3.0]))


def vstack_blocks(x, n: int):
    blocks = []
    for i in range(n):
        blocks.append(np.outer(x[: (i % 2) + 1], x) * (i + 1))  # 1 or 2 rows of 3
    return np.sum(np.sin(np.vstack(blocks)))


def hstack_ragged(x, n: int):
    parts = []
    for i in range(n):
        parts.append(x[i % 3:] * (i + 1.0))
    return np.sum(np.hstack(parts) ** 2 * np.cos(np.hstack(parts)))


def hstack_matrices(x, n: int):
    blocks = []
    for i in range(n):
        blocks.append(np.outer(x, x[: (i % 2) + 1]) - i)
    return np.sum(np.hstack(blocks) ** 3)


def column_stack_rows(x, n: int):
    cols = []
    for i in range(n):
        cols.append(np.sin(x * (i + 1)))
    return np.sum(np.column_stack(cols) @ np.arange(1.0, n + 1.0))


def while_rows(x, n: int):
    rows, k = [], 0
    while k < n:
        rows.append(x * x * k - x)
        k += 1
    return np.sum(np.stack(rows) ** 3)


def comprehension(x, n: int):
    return np.sum(np.stack([np.sin(x * i) for i in range(n)], axis=1) ** 2)


CASES = [stack0, stack1, stack_last, array_of_numbers, array_of_rows, concatenate_ragged,
         concatenate_columns, concatenate_last, vstack_rows, vstack_blocks, hstack_ragged,
         hstack_matrices, column_stack_rows, while_rows, comprehension]
POINTS = [np.array([0.3, -0.7, 1.1]), np.array([-1.3, 0.4, -0.2])]


def _fd(f, x, n, e):
    return derivative(lambda t: f(x + t * e, n), 0.0)


@pytest.mark.parametrize("f", CASES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [1, 4])
def test_reverse_and_forward_against_finite_differences(f, n):
    g = s2sad.grad(f, mode="reverse")
    jvp = s2sad.jvp(f)
    for x in POINTS:
        got = g(x, n)
        assert np.shape(got) == x.shape
        for k in range(3):
            e = np.eye(3)[k]
            want = _fd(f, x, n, e)
            assert got[k] == pytest.approx(want, rel=1e-7, abs=1e-9), (k, x)
            value, tangent = jvp(x, n, e)
            assert value == pytest.approx(f(x, n), rel=1e-13)
            assert tangent == pytest.approx(want, rel=1e-7, abs=1e-9), (k, x)


def test_the_generated_code_reads_as_written():
    g = s2sad.grad(stack0)
    src = g.source
    assert "np.stack(rows)" in src
    assert "rows_bar" in src and "list(3.0 * (" in src
    assert "rows_bar.pop()" in src
    assert "np.stack(rows, axis=1)" in s2sad.grad(stack1).source
    assert "list(np.moveaxis(" in s2sad.grad(stack1).source
    src = s2sad.grad(concatenate_ragged).source
    assert "np.concatenate(parts)" in src
    assert "parts_bar = _unjoin(" in src and "how='concatenate', axis=0)" in src
    assert "def _unjoin(" in src  # the helper the module defines: one slice per piece
    assert "np.vstack(rows)" in s2sad.grad(vstack_rows).source
    assert "np.array(ys)" in s2sad.grad(array_of_numbers).source


def test_an_empty_list():
    # np.array([]) is an empty array: defined, and its gradient is zeros
    got = s2sad.grad(array_of_numbers)(POINTS[0], 0)
    np.testing.assert_array_equal(got, np.zeros(3))
    # np.stack([]) / np.concatenate([]) are NumPy's error, in the derivative as in f
    for f in (stack0, concatenate_ragged, vstack_rows):
        with pytest.raises(ValueError) as want:
            f(POINTS[0], 0)
        with pytest.raises(ValueError) as got:
            s2sad.grad(f)(POINTS[0], 0)
        assert str(got.value) == str(want.value)


def test_a_value_and_grad_and_a_vjp():
    x, n = POINTS[1], 3
    value, g = s2sad.value_and_grad(concatenate_columns)(x, n)
    assert value == pytest.approx(concatenate_columns(x, n), rel=1e-13)
    np.testing.assert_allclose(g, s2sad.grad(concatenate_columns)(x, n), rtol=1e-13)

    def rows_out(x, n: int):
        rows = []
        for i in range(n):
            rows.append(x * (i + 1.0) - x ** 3)
        return np.stack(rows)

    ct = np.arange(12.0).reshape(4, 3) - 5.0
    _, x_bar = s2sad.vjp(rows_out)(x, 4, ct)
    for k in range(3):
        e = np.eye(3)[k]
        want = derivative(lambda t, e=e: float(np.sum(rows_out(x + t * e, 4) * ct)), 0.0)
        assert x_bar[k] == pytest.approx(want, rel=1e-8, abs=1e-10)


def test_a_hessian_vector_product_through_a_join():
    x, v = POINTS[0], np.array([0.5, -1.0, 2.0])
    hv = s2sad.hvp(stack0)(x, 3, v)
    g = s2sad.grad(stack0)
    want = derivative(lambda t: float(g(x + t * v, 3) @ np.array([1.0, 0.0, 0.0])), 0.0)
    assert hv[0] == pytest.approx(want, rel=1e-6)


def test_a_hessian_through_a_join():
    def f(x: np.ndarray, n: int):
        rows = []
        for i in range(n):
            rows.append(np.sin(x) * i + x ** 3)
        return np.sum(np.stack(rows, axis=1) ** 2)

    x = POINTS[1]
    H = s2sad.hessian(f)(x, 3)
    g = s2sad.grad(f)
    for i in range(3):
        for j in range(3):
            e = np.eye(3)[j]
            want = derivative(lambda t, e=e, i=i: g(x + t * e, 3)[i], 0.0)
            assert H[i, j] == pytest.approx(want, rel=1e-7, abs=1e-9)


def test_the_axis_must_be_one_int():
    def f(x, n: int, k: int):
        rows = []
        for i in range(n):
            rows.append(x * i)
        return np.sum(np.stack(rows, axis=k))

    with pytest.raises(s2sad.S2SADError, match="axis") as e:
        s2sad.grad(f)(POINTS[0], 2, 0)
    assert e.value.lineno == f.__code__.co_firstlineno + 4


def test_the_array_api_target_stacks_and_concatenates():
    pytest.importorskip("array_api_compat", reason="the array API target needs "
                        "array-api-compat (pip install -e '.[array-api]')")
    xps = pytest.importorskip("array_api_strict", reason="runs on array-api-strict "
                              "(pip install -e '.[array-api]')")

    def joined(x: np.ndarray, n: int):
        parts = []
        for i in range(n):
            parts.append(x * (i + 1.0))
            parts.append(np.ones(2) * np.sum(x * x) * i)  # pieces of different lengths
        return np.sum(np.concatenate(parts) ** 2)

    for f in (stack1, while_rows, comprehension, joined):
        g = s2sad.grad(f, target="array_api")
        assert ("list(xp.unstack(" if f is not joined else "_unjoin(") in g.source
        for x in POINTS:
            want = s2sad.grad(f)(x, 3)
            np.testing.assert_allclose(np.asarray(g(xps.asarray(x), 3)), want, rtol=1e-12)
            np.testing.assert_allclose(g(x, 3), want, rtol=1e-12)
    # np.vstack is no function of the standard: a located error at the call
    with pytest.raises(s2sad.S2SADError, match="np.vstack` cannot be compiled for the "
                       "array API") as e:
        s2sad.grad(vstack_rows, target="array_api")
    assert e.value.lineno == vstack_rows.__code__.co_firstlineno + 4


def test_the_numba_target_refuses_the_list_where_it_grows():
    # (a list is a fixed-length float64 array there: its `append` is the located error)
    with pytest.raises(s2sad.S2SADError, match="`append` on a list cannot be compiled for "
                       "the Numba target") as e:
        s2sad.grad(stack0, target="numba")
    assert e.value.lineno == stack0.__code__.co_firstlineno + 3


@pytest.mark.parametrize("f", [stack0, stack1, array_of_numbers, concatenate_columns,
                               vstack_rows, hstack_ragged, column_stack_rows],
                         ids=lambda f: f.__name__)
def test_the_interpreter_runs_the_derivative_ir(f):
    from s2sad.ir import interpret, verify
    from s2sad.pipeline import derive

    fn = derive(s2sad.lift(f), "grad", 0, "reverse", 1)
    verify(fn)
    assert any(o.prim == "list_unjoin" for o in fn.body.ops)
    x = POINTS[1]
    np.testing.assert_allclose(interpret(fn, x, 3), s2sad.grad(f)(x, 3), rtol=1e-13)


def test_a_named_list_literal_is_joined_too():
    # once refused ("needs a list of arrays written in the call"): the list is a value
    def f(a):
        parts = [a, a ** 2]
        parts.append(np.sin(a))
        return np.sum(np.concatenate(parts) ** 2)

    for x in POINTS:
        got = s2sad.grad(f)(x)
        for k in range(3):
            e = np.eye(3)[k]
            assert got[k] == pytest.approx(derivative(lambda t, e=e, x=x: f(x + t * e), 0.0),
                                           rel=1e-8)
