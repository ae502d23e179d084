"""Smoke test of benchmarks/bench_checkpoint.py: the quick mode runs, its gradients are
the unchecked ones bit for bit, and checkpointing bounds the memory (no timing
assertions)."""

from __future__ import annotations

import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs the benchmark script: `pytest -m slow`


@pytest.fixture(scope="module")
def report():
    return load_benchmark("bench_checkpoint").run(quick=True)


def test_rows(report):
    rows = {r.k: r for r in report["rows"]}
    assert set(rows) == {None, 10, 100, 1000}
    assert all(r.identical for r in rows.values())
    for k in (10, 100, 1000):
        r = rows[k]
        assert r.recomputed + r.swept == r.minimum  # revolve's minimum, exactly
    # a snapshot is two floats: K = 10 and 100 keep far less than a tape of 2,000 passes
    assert rows[10].peak < 0.05 * rows[None].peak
    assert rows[100].peak < 0.1 * rows[None].peak


def test_markdown(report):
    md = report["markdown"]
    assert "| none (tape) |" in md and "| 100 |" in md and "| NO |" not in md
