"""Smoke test of benchmarks/bench_guard.py: the --quick path runs, the guarded and the
bare function agree, and the report has its table.  No timing assertions."""

from __future__ import annotations

import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs a benchmark script: `pytest -m slow`


def test_quick_run_reports_every_case():
    bench = load_benchmark("bench_guard")
    report = bench.run(quick=True, log=lambda s: None)
    assert [r[0] for r in report["rows"]] == list(bench.CASES)
    for _, reads, bare, guarded in report["rows"]:
        assert reads >= 2 and bare > 0 and guarded > 0
    assert "| guard (ns) |" in report["markdown"] and "Target" in report["markdown"]
