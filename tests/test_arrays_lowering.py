"""How array code is lifted and written out: which parameters become arrays, the
located errors of unsupported array code, and the shape of the generated code.

The derivative *values* of array code are tested against finite differences in
``tests/test_numpy.py``; here each test also checks one value against a closed form,
so that a structural change cannot hide a wrong derivative.
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from s2sad.ir.core import Kind
from tests.srcmod import load_source

M = load_source('''
import numpy as np


def via_sum(x, w, c):
    return np.sum(x * w) + c


def via_slice(x):
    return x[0] + np.sum(x[1:] ** 2)


def via_loop(x, n):
    s = 0.0
    for i in range(n):
        s = s + x * 0.5
    return np.sum(s)


def annotated(x: np.ndarray, c: float):
    return np.sum(x) * c


def least_squares(x, A, b):
    r = A @ x - b
    return np.sum(r * r)


def not_scalar(x):
    return x.T * 2.0


def shapes(X):
    n, d = X.shape
    return np.sum(X) / (n * d) + len(X) + X.shape[1] * np.mean(X)
''', "arrays_lowering")


def kinds(f):
    fn = s2sad.lift(f)
    return {p.hint: p.kind for p in fn.params}


def test_a_parameter_fed_into_an_array_operation_is_an_array():
    assert kinds(M.via_sum) == {"x": Kind.ARRAY, "w": Kind.ARRAY, "c": Kind.FLOAT}


def test_slicing_makes_an_indexed_parameter_an_array():
    assert kinds(M.via_slice) == {"x": Kind.ARRAY}
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(s2sad.grad(M.via_slice)(x), [1.0, -2.0, 4.0], rtol=1e-15)


def test_a_loop_slot_carries_array_ness_back_to_the_parameter():
    assert kinds(M.via_loop)["x"] is Kind.ARRAY
    g = s2sad.grad(M.via_loop)(np.array([1.0, 2.0]), 3)
    np.testing.assert_allclose(g, [1.5, 1.5], rtol=1e-15)


def test_annotations_decide_up_front():
    assert kinds(M.annotated) == {"x": Kind.ARRAY, "c": Kind.FLOAT}
    g = s2sad.grad(M.annotated, wrt=(0, 1))(np.array([1.0, 2.0]), 3.0)
    np.testing.assert_allclose(g[0], [3.0, 3.0], rtol=1e-15)
    assert g[1] == pytest.approx(3.0)


def test_gradient_of_an_array_has_its_shape():
    x, A, b = np.array([0.5, -1.0]), np.arange(6.0).reshape(3, 2), np.array([1.0, 0.0, -1.0])
    gx, gA, gb = s2sad.grad(M.least_squares, wrt=(0, 1, 2))(x, A, b)
    r = A @ x - b
    np.testing.assert_allclose(gx, 2 * A.T @ r, rtol=1e-14)
    np.testing.assert_allclose(gA, 2 * np.outer(r, x), rtol=1e-14)
    np.testing.assert_allclose(gb, -2 * r, rtol=1e-14)
    assert gx.shape == (2,) and gA.shape == (3, 2) and gb.shape == (3,)


def test_a_full_sum_of_squares_stays_a_scalar_adjoint():
    """np.sum's adjoint is the scalar 1.0 (broadcast by NumPy), and r * r has the shape of
    r: no array of ones, no un-broadcast.  (`A @ x - b` may broadcast: that one stays.)"""
    source = s2sad.grad(M.least_squares, wrt=0).source
    body = source[source.index("def grad_least_squares"):]
    assert "r_bar = 2.0 * r\n" in body
    assert "_sum_bar" not in body
    assert "+=" not in body  # arrays are never updated in place


def test_helpers_are_copied_into_the_module_and_s2sad_is_not_imported():
    source = s2sad.grad(M.least_squares, wrt=(0, 1)).source
    assert "def _matmul_bar_a(" in source and "def _matmul_bar_b(" in source
    assert "def _unbroadcast(" in source  # _matmul_bar_a calls it
    assert "s2sad" not in source.split('"""', 2)[2]  # nothing after the header


def test_grad_of_an_array_output_raises_at_run_time():
    g = s2sad.grad(M.not_scalar)
    with pytest.raises(ValueError, match="scalar output"):
        g(np.ones(3))


def pick_plus(z, k, c):
    return np.log(np.sum(np.exp(z))) - z[k] * c


def test_the_scalar_check_reads_shapes_not_the_output():
    """The seed checks the values the output's shape comes from (z[k], c), so the output
    itself (a logarithm) is not computed for a gradient; the check still fails on an
    array output, naming its shape."""
    g = s2sad.grad(pick_plus)
    z = np.array([0.5, -1.0, 2.0])
    want = np.exp(z) / np.sum(np.exp(z))
    want[1] -= 0.3
    np.testing.assert_allclose(g(z, 1, 0.3), want, rtol=1e-12)
    assert "np.log(" not in g.source
    with pytest.raises(ValueError, match=r"scalar output, not an array of shape \(2,\)"):
        g(z, 1, np.ones(2))
    with pytest.raises(ValueError, match=r"of shape \(3,\)"):
        g(np.ones((3, 3)), 1, 0.3)


def test_shapes_are_run_time_ints():
    X = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(s2sad.grad(M.shapes)(X), np.full((2, 3), 1 / 6 + 3 / 6))


def test_forward_mode_gradient_with_respect_to_an_array_is_refused_when_it_runs():
    """Whether `np.sum(x * w)` takes arrays x, w or a scalar is known only at run time:
    a scalar gets its derivative, an array a ValueError (never the sum of its gradient)."""
    g = s2sad.grad(M.via_sum, wrt=(1, 2), mode="forward")
    assert g(np.array([1.0, 2.0]), 3.0, 0.5) == pytest.approx((3.0, 1.0))
    with pytest.raises(ValueError, match="forward-mode gradient needs a scalar"):
        g(np.array([1.0, 2.0]), np.array([3.0, 1.0]), 0.5)
    with pytest.raises(ValueError, match="forward-mode gradient needs a scalar"):
        s2sad.grad(M.via_sum, mode="forward")(np.array([1.0, 2.0]), 3.0, 0.5)


def test_check_checks_array_functions_numerically(tmp_path):
    # once refused ("not arrays yet"); tests/test_check.py tests the array check itself
    from click.testing import CliRunner
    from s2sad_cli.main import cli

    src = tmp_path / "arr.py"
    src.write_text("import numpy as np\n\n\ndef f(x):\n    return np.sum(x * x)\n")
    result = CliRunner().invoke(cli, ["check", str(src)])
    assert result.exit_code == 0, result.output
    assert "numeric comparison only: NumPy arrays" in result.output
