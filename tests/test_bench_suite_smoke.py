"""Smoke test of benchmarks/suite.py: the quick mode runs without peers, and its gradients
are right.

No timing assertions: only that the cases run, that s2sad's gradients agree with the
hand-written ones (the correctness column), that the suite's own hand-written NumPy
gradients are right (against finite differences), that a peer's failure becomes a
note instead of an exception, and that the report has its tables.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.oracles import derivative
from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs the benchmark scripts: `pytest -m slow`


@pytest.fixture(scope="module")
def suite():
    return load_benchmark("suite")


@pytest.fixture(scope="module")
def report(suite):
    return suite.run(quick=True, peers=())


def test_every_group_runs_and_s2sad_matches_the_hand_written_gradient(report):
    rows = report["rows"]
    assert {r.case.group for r in rows} == {"scalar", "loop", "numpy"}
    for r in rows:
        res = r.results
        assert res["plain"].seconds > 0 and res["hand"].seconds > 0
        assert res["rev"].seconds > 0, (r.case.title, res["rev"].note)
        assert res["rev"].err < 1e-9, (r.case.title, res["rev"].err)
        if res["fwd"].seconds is not None:
            assert res["fwd"].err < 1e-9, (r.case.title, res["fwd"].err)
        else:  # forward-mode grad of a list or an array is refused, with a reason
            assert res["fwd"].note.startswith("s2sad fwd: "), (r.case.title, res["fwd"].note)
        for m in ("sympy", "sympy_cse", "autograd", "jax", "jax_jit", "torch"):
            assert res[m].seconds is None and res[m].note == "not run"


def test_chain_series(report):
    chain = report["chain"]
    assert [r.k for r in chain] == [5, 10, 20]
    for r in chain:
        assert r.primal_ops == 4 * r.k and r.grad_ops > 0 and r.compile_s > 0
        assert r.sympy == {"note": "not run"}


@pytest.mark.parametrize("name", ["rosenbrock_np", "softmax_np"])
def test_hand_written_numpy_gradients_match_finite_differences(suite, name):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1.5, 1.5, 6)
    f, hand, rest = ((suite.rosenbrock_np, suite.rosenbrock_np_hand, ()) if name == "rosenbrock_np"
                     else (suite.softmax_np, suite.softmax_np_hand, (2,)))
    g = hand(x, *rest)
    for i in range(x.size):
        def at(t, i=i):
            y = x.copy()
            y[i] = t
            return float(f(y, *rest))
        np.testing.assert_allclose(g[i], derivative(at, x[i]), rtol=1e-7, atol=1e-9)


def test_a_failing_peer_is_a_note(suite):
    """A peer that cannot run a case gets n/a and a reason (here SymPy on NumPy code)."""
    case = next(c for c in suite.numpy_cases(suite.loop_cases(True)) if c.name == "softmax_np")
    budget = suite.Budget(suite.QUICK)
    row = suite.measure(case, families=("sympy",), installed={"sympy": "x"},
                        settings=suite.QUICK, budget=budget)
    assert row.results["sympy"].seconds is None
    assert "NumPy array code" in row.results["sympy"].note
    assert row.results["rev"].err < 1e-9


def test_markdown(report):
    md = report["markdown"]
    for heading in ("## Summary", "### Scalar functions", "### Loops", "### NumPy",
                    "## The deep-nesting chain", "## Correctness", "## Median time per call"):
        assert heading in md, heading
    assert "| s2sad reverse / hand-written |" in md
    assert "| cubic |" in md and "| rosenbrock | 10 |" in md and "| logistic_regression |" in md
    assert "not run" in md and "Tangent" in md
