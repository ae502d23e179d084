"""Indexing with a value from the arguments (``x[idx]`` with ``idx`` an int array that
may repeat, ``X[rows, cols]``, ``x[mask]``): each read adds its adjoint (a gather's
adjoint is a scatter-add), never an assignment that would drop repeated reads.  Checked
against finite differences in both modes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad
from tests.oracles import derivative


def fd(f, x, *rest):
    out = np.zeros_like(x)
    for k in range(x.size):
        def along(t, k=k):
            y = x.copy()
            y.flat[k] = t
            return f(y, *rest)
        out.flat[k] = derivative(along, x.flat[k])
    return out


def repeated(x, idx):
    return np.sum(x[idx] ** 2)


def picked(logits, labels):  # softmax cross-entropy with integer labels
    z = logits - np.max(logits, axis=1, keepdims=True)
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(logits.shape[0]), labels])


def masked(x, mask):
    return np.sum(np.sin(x[mask]) * 2.0)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_repeated_index_adds_each_read(mode):
    x = np.array([1.0, -2.0, 3.0, 0.5])
    idx = np.array([0, 0, 1, 3, 3, 3])
    if mode == "reverse":
        got = s2sad.grad(repeated)(x, idx)
    else:
        got = np.array([s2sad.jvp(repeated)(x, idx, e)[1] for e in np.eye(4)])
    np.testing.assert_allclose(got, fd(repeated, x, idx), rtol=1e-7)
    np.testing.assert_allclose(got, [4.0, -4.0, 0.0, 3.0])


def test_labels_pick_one_entry_per_row():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(5, 3))
    labels = np.array([0, 2, 2, 1, 0])
    np.testing.assert_allclose(s2sad.grad(picked)(logits, labels),
                               fd(picked, logits, labels), rtol=1e-6, atol=1e-9)


def test_a_mask_and_an_index_in_a_loop():
    x = np.array([0.3, -1.2, 2.0, 0.7])
    mask = x > 0
    np.testing.assert_allclose(s2sad.grad(masked)(x, mask), fd(masked, x, mask), rtol=1e-7)

    def looped(x, idx):
        total = 0.0
        for i in range(3):
            total = total + (i + 1.0) * np.sum(x[idx] * x[i])
        return total

    idx = np.array([1, 1, 2])
    np.testing.assert_allclose(s2sad.grad(looped)(x, idx), fd(looped, x, idx), rtol=1e-7)


def test_writes_through_a_mask_work_and_through_int_arrays_are_refused():
    def clipped(x):
        h = x.copy()
        h[h < 0.0] = 0.0
        return np.sum(h ** 2)

    x = np.array([0.5, -1.0, 2.0, -0.2])
    np.testing.assert_allclose(s2sad.grad(clipped)(x), fd(clipped, x), rtol=1e-7)

    def scattered(x, idx):
        h = np.zeros(3)
        h[idx] = x
        return np.sum(h)

    with pytest.raises(ValueError, match="repeats an index"):  # the last write would win
        s2sad.grad(scattered)(np.array([1.0, 2.0]), np.array([0, 0]))
    np.testing.assert_allclose(s2sad.grad(scattered)(np.array([1.0, 2.0]),
                                                     np.array([2, 0])), [1.0, 1.0])

    def scattered_by_arange(x):
        h = np.zeros(3)
        h[np.arange(2)] = x
        return np.sum(h)

    with pytest.raises(s2sad.S2SADError, match="array of indices"):
        s2sad.grad(scattered_by_arange)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_np_take_is_a_gather(axis):
    def f(a, idx):
        return np.sum(np.take(a, idx, axis=axis) ** 2)

    a = np.arange(6.0).reshape(2, 3) / 4.0 - 0.5
    idx = np.array([1, 1, 0])
    if axis == 0:
        idx = np.array([1, 1])
    np.testing.assert_allclose(s2sad.grad(f)(a, idx), fd(f, a, idx), rtol=1e-7, atol=1e-12)


@pytest.mark.skipif(not hasattr(math, "exp2"), reason="math.exp2 is new in Python 3.11")
def test_exp2_and_ldexp():
    def f(x):
        return math.exp2(x) * math.ldexp(x, 3) + np.sum(np.exp2(np.array([x, 2.0 * x])))

    for x in (-1.5, 0.25, 10.0):
        assert s2sad.grad(f)(x) == pytest.approx(derivative(f, x), rel=1e-8)
    assert s2sad.value_and_grad(lambda_exp2)(10.0)[0] == 1024.0  # the value is exp2's own


def lambda_exp2(x):
    return math.exp2(x)
