"""Smoke test of benchmarks/bench_items.py: the quick mode runs and its gradients are right.

No timing assertions (the ratios the benchmark reports are the point of the full run):
only that every case runs at every size, that s2sad's gradients agree with the
hand-written ones (the correctness column), and that the hand-written references agree
with finite differences, so that the column means something.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.oracles import assert_close
from tests.srcmod import load_benchmark
from tests.test_numpy import fd_grad

pytestmark = pytest.mark.slow  # runs the benchmark scripts: `pytest -m slow`


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_items")


@pytest.fixture(scope="module")
def report(bench):
    return bench.run(quick=True)


def test_every_case_runs_and_is_right(bench, report):
    rows = report["runtime"]
    assert {r.case for r in rows} == {c.name for c in bench.CASES}
    assert len(rows) == len(bench.CASES) * len(bench.QUICK_SIZES)
    for r in rows:
        assert r.plain > 0 and r.grad > 0
        assert r.abs_err < 1e-9, (r.case, r.n, r.abs_err)
    assert set(report["flatness"]) == {c.name for c in bench.CASES}
    assert "| pairs | 100 |" in report["markdown"] and "(1.00 = flat)" in report["markdown"]


def test_hand_written_gradients_match_finite_differences(bench):
    for case in bench.CASES:
        x = case.point(case.size(200), 3)
        want = fd_grad(case.f, (x,), 0)
        got = case.hand(x)
        assert_close(tuple(np.ravel(got)), tuple(np.ravel(want)), rtol=1e-6, atol=1e-8,
                     what=case.name)
