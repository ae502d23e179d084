"""The run-time helpers' fast paths against NumPy's own answers (s2sad/runtime.py).

``_broadcast_shape``/``_broadcast_size`` skip building ``np.broadcast`` when the
arrays share one shape, and ``_unbroadcast`` sums straight to a scalar operand:
each must give exactly what the general path (NumPy) gives, for every mix of
Python and NumPy scalars, 0-d arrays and arrays that broadcast.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from s2sad import runtime

broadcast_shape = runtime.function("_broadcast_shape")
broadcast_size = runtime.function("_broadcast_size")
unbroadcast = runtime.function("_unbroadcast")

OPERANDS = [2.5, 3, True, np.float64(1.5), np.float32(2.0), np.array(4.0), np.ones(3),
            np.ones((2, 3)), np.ones((1, 3)), np.ones((2, 1)), np.ones((4, 2, 3)), [1.0, 2.0, 3.0]]


@pytest.mark.parametrize("n", [1, 2, 3])
def test_broadcast_shape_and_size_are_numpys(n):
    for xs in itertools.product(OPERANDS, repeat=n):
        try:
            want = np.broadcast(*xs)
        except ValueError:
            with pytest.raises(ValueError):
                broadcast_shape(*xs)
            continue
        assert broadcast_shape(*xs) == want.shape, xs
        assert broadcast_size(*xs) == want.size, xs


@pytest.mark.parametrize("x", [2.5, 3, np.float64(-1.0), np.array(0.5)])
@pytest.mark.parametrize("g", [np.arange(6.0).reshape(2, 3) - 2.5, np.array(7.0), 1.25,
                               np.float64(-3.0)])
def test_unbroadcast_to_a_scalar_sums_every_copy(x, g):
    got = unbroadcast(g, x)
    assert np.shape(got) == np.shape(np.sum(g)) or np.shape(got) == np.shape(g)
    assert float(got) == float(np.sum(g))


def test_unbroadcast_to_an_array_sums_the_broadcast_axes():
    g = np.arange(24.0).reshape(4, 2, 3)
    assert np.array_equal(unbroadcast(g, np.ones((2, 1))), g.sum(axis=(0, 2)).reshape(2, 1))
    assert np.array_equal(unbroadcast(g, np.ones(3)), g.sum(axis=(0, 1)))
    assert unbroadcast(g, np.ones((4, 2, 3))) is g


def test_extreme_mask_shares_ties_equally():
    extreme_mask = runtime.function("_extreme_mask")
    x = np.array([[1.0, 3.0, 3.0], [3.0, 0.5, 2.0]])
    np.testing.assert_array_equal(extreme_mask(x, np.max(x)),
                                  np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]) / 3.0)
    np.testing.assert_array_equal(extreme_mask(x, np.max(x, axis=1), axis=1),
                                  np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]))
    np.testing.assert_array_equal(extreme_mask(x, np.min(x, axis=0, keepdims=True), axis=0,
                                               keepdims=True), x == np.min(x, axis=0))
    assert extreme_mask(np.array(2.0), 2.0) == 1.0
