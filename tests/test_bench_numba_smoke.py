"""Smoke test of benchmarks/bench_numba.py: the --quick path runs every case, each
s2sad Numba gradient agrees with the hand-written @njit one and with the Python target,
and the report has its table.  No timing assertions."""

from __future__ import annotations

import pytest

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
