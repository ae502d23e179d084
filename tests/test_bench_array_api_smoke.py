"""Smoke test of benchmarks/bench_array_api.py: its quick mode runs, every method's
gradient equals the NumPy target's, and the report has its table.  No timing assertion."""

from __future__ import annotations

import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs a benchmark script: `pytest -m slow`


def test_quick_run_every_method_agrees_with_the_numpy_target():
    pytest.importorskip("array_api_compat", reason="pip install 's2sad[array-api]'")
    pytest.importorskip("jax", reason="needs JAX: pip install 's2sad[jax]'")
    pytest.importorskip("torch", reason="needs PyTorch: pip install torch==2.13.0+cpu")
    report = load_benchmark("bench_array_api").run(quick=True)
    assert [r["case"] for r in report["rows"]] == ["logistic_regression", "mlp"]
    for r in report["rows"]:
        assert set(r["seconds"]) == {"numpy", "s2sad_jit", "jax_jit", "torch", "s2sad_torch"}
        assert all(t > 0 for t in r["seconds"].values())
        assert all(e < 1e-12 for e in r["errors"].values()), r["errors"]
        assert r["cost"]["s2sad_jit"]["flops"] <= 1.01 * r["cost"]["jax_jit"]["flops"]
    assert "| jax.jit(s2sad array_api) | jax.jit(jax.grad) |" in report["markdown"]
