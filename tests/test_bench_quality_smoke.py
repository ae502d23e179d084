"""Smoke test of benchmarks/bench_quality.py: the --quick path runs (it asserts that each
generated gradient agrees with the hand-written one), and the hand-written gradients it
adds agree with finite differences.  No timing assertions."""

from __future__ import annotations

import numpy as np
import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs a benchmark script: `pytest -m slow`


def _fd(f, args, i, h=1e-6):
    out = []
    for k in range(np.size(args[i])):
        def at(d, k=k):
            moved = list(args)
            x = np.array(args[i], dtype=float)
            x.flat[k] += d
            moved[i] = x if np.ndim(args[i]) else float(x)
            return f(*moved)
        out.append((at(h) - at(-h)) / (2 * h))
    return np.array(out).reshape(np.shape(args[i]))


def test_quick_run_reports_every_case():
    bench = load_benchmark("bench_quality")
    table = bench.run(None, quick=True)
    for name, *_ in bench.all_cases():
        assert f"| {name} |" in table
    assert "new / hand: geometric mean" in table


def test_hand_written_gradients_agree_with_finite_differences():
    bench = load_benchmark("bench_quality")
    rng = np.random.default_rng(3)
    X, y, w = rng.standard_normal((30, 4)), rng.uniform(size=30), rng.standard_normal(4)
    for f, hand in ((bench.linreg, bench.linreg_hand),
                    (bench.logreg_sigmoid, bench.logreg_sigmoid_hand)):
        np.testing.assert_allclose(hand(w, X, y), _fd(f, (w, X, y), 0), rtol=1e-6, atol=1e-8)
    got = bench.rk4_hand(0.7, 0.1, 6)
    for i in (0, 1):
        assert got[i] == pytest.approx(_fd(bench.rk4, (0.7, 0.1, 6), i), rel=1e-7)
