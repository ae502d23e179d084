"""Smoke test of the benchmarks: the --quick code paths run and the gradients agree.

No timing assertions: this only checks that ``benchmarks/bench_core.py`` (and
the codegen ablation) do not crash and that s2sad's gradients match the
hand-written ones (the correctness column).
"""

from __future__ import annotations

import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs the benchmark scripts: `pytest -m slow`


@pytest.fixture(scope="module")
def bench_core():
    return load_benchmark("bench_core")


@pytest.fixture(scope="module")
def quick_report(bench_core):
    return bench_core.run(quick=True, ks=(3, 6), with_cold=False)


def test_quick_run_covers_every_case(bench_core, quick_report):
    names = [r.case for r in quick_report.runtime]
    assert names == [c.name for c in bench_core.cases.cases()]
    assert "chain20" in names
    for row in quick_report.runtime:
        assert set(row.times) == set(bench_core.VARIANTS)
        assert all(t > 0 for t in row.times.values())


def test_correctness_column(quick_report):
    for row in quick_report.runtime:
        for mode in ("reverse", "forward"):
            assert row.abs_err[mode] < 1e-9, (row.case, mode, row.abs_err[mode])


def test_compile_rows_and_report(bench_core, quick_report):
    assert [r.k for r in quick_report.compile] == [3, 6]
    for r in quick_report.compile:
        assert r.primal_ops == 4 * r.k
        assert set(r.stages) == set(bench_core.STAGES)
    assert quick_report.profile
    text = bench_core.render_markdown(quick_report)
    assert "| chain20 |" in text and "geometric mean" in text and "Compile time" in text


def test_hand_written_chain_matches_plain_derivative(bench_core):
    # The generated hand-written chain gradient against a central difference.
    chain = bench_core.cases.load_chain(3)
    x, h = 0.3, 1e-6
    fd = (chain.chain(x + h) - chain.chain(x - h)) / (2 * h)
    assert abs(chain.grad_chain(x) - fd) < 1e-6


def test_ablation_rewrites_stay_correct():
    ablate = load_benchmark("ablate_codegen")
    import s2sad

    chain = ablate.cases.load_chain(4)
    vs = ablate.variants(s2sad.grad(chain.chain).source)
    for label in ("as generated", "+floats", "+cancel", "+return", "+import"):
        _, f = vs[label]
        assert abs(f(0.3) - chain.grad_chain(0.3)) <= 1e-12 * abs(chain.grad_chain(0.3)), label
