"""Smoke test of benchmarks/bench_numpy.py: the quick mode runs and its gradients are right.

No timing assertions: only that every case runs, that s2sad's gradients agree with
the hand-written NumPy ones (the correctness column), and that the hand-written
references are themselves right (against finite differences), so that the
correctness column means something.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.oracles import derivative
from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs the benchmark scripts: `pytest -m slow`


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_numpy")


@pytest.fixture(scope="module")
def report(bench):
    return bench.run(quick=True)


def test_runtime_rows_are_correct(report):
    rows = report["runtime"]
    assert {r.case for r in rows} == {"logistic_regression", "mlp", "mlp_list", "mlp_dict"}
    for r in rows:
        assert r.plain > 0 and r.hand > 0 and r.s2sad > 0 and r.compile_s > 0
        assert r.abs_err < 1e-12, (r.case, r.abs_err)
        for label, err in r.others_err.items():  # JAX / PyTorch, when installed
            assert err < 1e-10, (r.case, label, err)


def _fd_entries(f, args, i, count, seed):
    """Finite-difference partials of f w.r.t. ``count`` random entries of args[i]."""
    a = args[i]
    rng = np.random.default_rng(seed)
    if not isinstance(a, np.ndarray):
        def g(t):
            moved = list(args)
            moved[i] = t
            return float(f(*moved))
        return [((), derivative(g, a))]
    out = []
    flat = rng.choice(a.size, size=min(count, a.size), replace=False)
    for k in flat:
        idx = np.unravel_index(k, a.shape)

        def g(t, idx=idx):
            moved = list(args)
            moved[i] = a.copy()
            moved[i][idx] = t
            return float(f(*moved))
        out.append((idx, derivative(g, float(a[idx]))))
    return out


@pytest.mark.parametrize("name", ["logistic_regression", "mlp"])
def test_hand_written_gradients_match_finite_differences(bench, name):
    if name == "logistic_regression":
        f, hand, args = bench.logreg_loss, bench.logreg_hand, bench.logreg_point(7, n=40, d=5)
    else:
        f, hand, args = bench.mlp_loss, bench.mlp_hand, bench.mlp_point(8, batch=6, d_in=4,
                                                                        hidden=5)
    grads = hand(*args)
    for i, g in enumerate(grads):
        assert np.shape(g) == np.shape(args[i]), (name, i, np.shape(g), np.shape(args[i]))
        for idx, want in _fd_entries(f, args, i, count=8, seed=i):
            np.testing.assert_allclose(np.asarray(g)[idx], want, rtol=1e-7, atol=1e-10,
                                       err_msg=f"{name}: arg {i} entry {idx}")


def test_markdown(report):
    md = report["markdown"]
    assert "| logistic_regression | N=1000, D=20 |" in md
    assert "| mlp | batch 64, 32→64→1, tanh |" in md
    assert "s2sad / hand" in md
