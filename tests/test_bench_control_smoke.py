"""Smoke test of benchmarks/bench_control.py: the quick mode runs and its gradients are right.

No timing assertions: only that every part runs, that s2sad's gradients agree
with the hand-written ones (the correctness column), that the tape memory is
what a tape of floats costs, and that the generated code does not depend on the
trip count.
"""

from __future__ import annotations

import pytest

from tests.srcmod import load_benchmark

pytestmark = pytest.mark.slow  # runs the benchmark scripts: `pytest -m slow`


@pytest.fixture(scope="module")
def bench():
    return load_benchmark("bench_control")


@pytest.fixture(scope="module")
def report(bench):
    return bench.run(quick=True)


def test_runtime_rows_are_correct(report):
    rows = report["runtime"]
    names = {r.case for r in rows}
    assert {"rosenbrock", "softmax_xent", "softmax_xent_builtin", "kepler", "fixed_point",
            "prefix (ys[i] = …)"} <= names
    for r in rows:
        assert r.plain > 0 and r.hand > 0 and r.s2sad > 0
        assert r.abs_err < 1e-9, (r.case, r.n, r.hand_label, r.abs_err)


def test_hand_written_gradients_match_finite_differences(bench):
    """The hand-written references are right, so the correctness column means something."""
    from tests.oracles import assert_close, partial

    x = [1.2, -0.5, 0.3, 2.0]
    for k, g in enumerate(bench.rosenbrock_hand(x)):
        def at(t, k=k):
            y = list(x)
            y[k] = t
            return bench.rosenbrock(y)
        assert_close(g, partial(at, [x[k]], 0), rtol=1e-8)
    z = [0.5, -1.0, 2.0, 0.1]
    for k, g in enumerate(bench.softmax_xent_hand(z, 2)):
        def at(t, k=k):
            y = list(z)
            y[k] = t
            return bench.softmax_xent(y, 2)
        assert_close(g, partial(at, [z[k]], 0), rtol=1e-8)
    x = [-0.7, -0.6, -0.9, -0.55]
    for k, g in enumerate(bench.prefix_hand(x)):
        def at(t, k=k):
            y = list(x)
            y[k] = t
            return bench.prefix(y)
        assert_close(g, partial(at, [x[k]], 0), rtol=1e-8)
    for f, hand, point in ((bench.kepler, bench.kepler_hand, (1.0, 0.5)),
                           (bench.fixed_point, bench.fixed_point_hand, (0.7, 0.3))):
        want = [partial(f, point, i, h=1e-3) for i in range(2)]
        assert_close(hand(*point), tuple(want), rtol=1e-7)
    assert_close(bench.carry_hand(0.7, 5),
                 partial(lambda t: bench.carry(t, 5), [0.7], 0), rtol=1e-8)


def test_memory_rows(report):
    rows = {m.what: m for m in report["memory"]}
    ros = rows["rosenbrock: s2sad grad"]
    # the gradient is a new list of n floats: about the size of the input list, no tape
    assert 0.5 < ros.peak / ros.reference < 2.0
    carry = rows["carry (for, 1 scalar): s2sad"]
    assert 16 < carry.per_item < 100  # one float on the tape per pass


def test_compile_time_does_not_depend_on_trip_count(report):
    rows = report["compile"]
    assert len(rows) >= 2
    assert all(r.source_equal for r in rows)
    assert len({r.lines for r in rows}) == 1


def test_markdown(report):
    md = report["markdown"]
    assert "| rosenbrock | 100 |" in md
    assert "Tape memory" in md and "Compile time vs trip count" in md
