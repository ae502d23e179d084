"""Smoke test of benchmarks/bench_library.py: the quick mode runs and s2sad's gradients
agree with the hand-written ones (no timing assertions)."""

from __future__ import annotations

import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs a benchmark script: `pytest -m slow`
pytest.importorskip("scipy", reason="scipy (the `test` extra) is not installed")


def test_quick_run_is_correct():
    bench = load_benchmark("bench_library")
    report = bench.run(quick=True, log=lambda s: None)
    assert len(report["rows"]) == len(bench.CASES) >= 15
    for row in report["rows"]:
        assert row["error"] < 1e-10, row
        assert row["ratio"] > 0.0, row
    assert "Geometric mean" in report["markdown"]
