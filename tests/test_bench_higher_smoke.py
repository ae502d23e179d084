"""Smoke test of benchmarks/bench_higher.py: the --quick code paths run, and the
Hessian-vector products it times agree with finite differences and SciPy."""

from __future__ import annotations

import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs the benchmark scripts: `pytest -m slow`


def test_quick_run():
    bench = load_benchmark("bench_higher")
    report = bench.run(quick=True)
    assert "# Higher-order derivatives" in report["markdown"]
    for row in report["hvp"]:
        assert row["grad µs"] > 0 and row["hvp µs"] > 0
    assert float(report["hvp"][0]["check"].rsplit("=", 1)[1]) < 1e-6
    assert [r["n"] for r in report["nth"]] == [1, 2, 3]
    for row in report["compile"]:
        assert row["hessian (both, keep smaller) ops"] == min(row["hessian RoF ops"],
                                                             row["hessian FoF ops"])
