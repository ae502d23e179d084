"""Smoke test of benchmarks/bench_checkpoint.py: the quick mode runs, its gradients are
the unchecked ones bit for bit, the recomputed passes are revolve's minimum, and
checkpointing bounds the memory (no timing assertions)."""

from __future__ import annotations

import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs the benchmark script: `pytest -m slow`


@pytest.fixture(scope="module")
def report():
    return load_benchmark("bench_checkpoint").run(quick=True)


def test_rows(report):
    (lv, lv_rows), (heat, heat_rows) = report["results"]
    assert "Lotka" in lv.name and "heat" in heat.name
    for p, rows in ((lv, lv_rows), (heat, heat_rows)):
        by_k = {r.k: r for r in rows}
        assert set(by_k) == {None, 10, 100, 1000, "auto"}
        assert all(r.identical for r in rows)
        for r in rows[1:]:
            assert r.recomputed + r.swept == r.minimum  # revolve's minimum, exactly
        # the default budget of 64 MB holds every pass of the quick sizes: none recomputed
        assert by_k["auto"].recomputed == 0 and by_k["auto"].snapshots >= p.n
    lv_k = {r.k: r for r in lv_rows}
    # a snapshot is two floats: K = 10 and 100 keep far less than a tape of 2,000 passes
    assert lv_k[10].peak < 0.05 * lv_k[None].peak
    assert lv_k[100].peak < 0.1 * lv_k[None].peak
    heat_k = {r.k: r for r in heat_rows}
    # 200 passes of an array of 200 cells: K = 10 keeps far less than the tape
    assert heat_k[10].peak < 0.3 * heat_k[None].peak
    assert heat_k[1000].recomputed == 0  # K >= n: every pass kept


def test_markdown(report):
    md = report["markdown"]
    assert "| none (tape) |" in md and "| 100 |" in md and "| NO |" not in md
    assert "## RK4 Lotka-Volterra" in md and "## 1-D heat equation" in md
    assert "| auto (64 MB) |" in md
