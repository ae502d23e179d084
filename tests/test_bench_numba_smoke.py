"""Smoke test of benchmarks/bench_numba.py: the --quick path runs every case, each
s2sad Numba gradient agrees with the hand-written @njit one and with the Python target,
and the report has its table.  No timing assertions."""

from __future__ import annotations

import numpy as np
import pytest

from tests.oracles import assert_close, derivative
from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # compiles a dozen Numba functions: `pytest -m slow`


def test_quick_run_reports_every_case():
    pytest.importorskip("numba", reason="bench_numba needs numba (pip install 's2sad[numba]')")
    bench = load_benchmark("bench_numba")
    report = bench.run(quick=True, log=lambda s: None)
    assert [r["case"] for r in report["rows"]] == list(bench.cases(True))
    for r in report["rows"]:
        assert r["err vs python"] <= 1e-9 and r["s2sad numba"] > 0 and r["bytes numba"] > 0
    assert "| numba/hand |" in report["markdown"] and "Geometric mean" in report["markdown"]
    assert all(t > 0 for t in report["reload_seconds"])



def _fd(f, args, wrt):
    """Central differences (Ridders) of f at args: by each element of an array first
    argument, else by the scalar arguments wrt."""
    if isinstance(args[0], np.ndarray):
        a = args[0]
        out = np.zeros(a.shape)
        for i in np.ndindex(a.shape):
            def along(t, i=i):
                b = a.copy()
                b[i] = t
                return f(b, *args[1:])
            out[i] = derivative(along, float(a[i]))
        return out
    ws = (wrt,) if isinstance(wrt, int) else wrt
    return tuple(derivative(lambda t, k=k: f(*args[:k], t, *args[k + 1:]), args[k])
                 for k in ws)


def test_hand_written_gradients_match_finite_differences():
    pytest.importorskip("numba", reason="bench_numba needs numba (pip install 's2sad[numba]')")
    bench = load_benchmark("bench_numba")
    hand = bench.benchtools.load_source(bench.HAND_SOURCE, "hand_numba_check")
    rng = np.random.default_rng(5)
    X = np.arange(15.0).reshape(5, 3) * 0.7 + rng.uniform(-0.1, 0.1, (5, 3))
    points = {"rosenbrock": (rng.uniform(-1.5, 1.5, 6),), "lotka_rk4": (1.1, 0.4, 0.4, 0.1, 50),
              "chain": (0.7, 20), "kepler": (-1.3, 0.6), "softmax_xent": (rng.normal(size=5), 2),
              "lennard_jones": (X,), "piecewise": (np.array([-2.5, -0.5, 0.3, 1.7, 2.9]),)}
    for name, (f, _, wrt) in bench.cases(True).items():
        args = points[name]
        got = getattr(hand, name)(*args)
        want = _fd(f, args, wrt)
        assert_close(np.ravel(got).tolist(), np.ravel(want).tolist(), rtol=1e-6, atol=1e-8,
                     what=name)
