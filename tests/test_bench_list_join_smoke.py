"""Smoke test of benchmarks/bench_list_join.py: the quick mode runs and s2sad's gradients
agree with the hand-written ones (no timing assertions)."""

from __future__ import annotations

import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs a benchmark script: `pytest -m slow`


def test_quick_run_is_correct():
    report = load_benchmark("bench_list_join").run(quick=True, log=lambda s: None)
    assert len(report["rows"]) == 4
    for row in report["rows"]:
        assert row["err"] < 1e-10, row
        assert row["ratio"] > 0.0, row
    assert "Geometric mean" in report["markdown"]
