"""benchmarks/bench_corpus.py: the harness classifies correctly, and no function of the
real-code corpus gets a wrong derivative (a silent wrong derivative must fail CI).

The corpus files are not committed (benchmarks/corpus/README.md): the tests that run
them skip where they are missing.  The harness tests below need no corpus file.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.srcmod import load_benchmark, load_source

bench = load_benchmark("bench_corpus")
Case = bench._cases_module().Case

needs_corpus = pytest.mark.skipif(not bench.corpus_present(),
                                  reason="the corpus files are not here "
                                         "(benchmarks/corpus/README.md)")

SOURCE = """\
import math


def f(x, y):
    return math.sin(x) * y + x * x


def g(x, y):
    with open("log.txt") as log:
        return x * y
"""


@pytest.fixture(scope="module")
def mod():
    return load_source(SOURCE, "corpus_harness")


def _case(mod, name="f", wrt=0):
    return Case(f"{mod.__name__}:{name}", mod.__name__, lambda m: getattr(m, name),
                lambda m, fn, rng: (float(rng.uniform(-2, 2)), float(rng.uniform(-2, 2))),
                wrt=wrt)


def test_a_right_gradient_is_ok(mod):
    row = bench.run_case(_case(mod, wrt=(0, 1)))
    assert row["outcome"] == "ok", row
    assert row["forward"]["outcome"] == "ok", row
    assert row["err"] < 1e-9


def test_a_wrong_gradient_is_flagged(mod, monkeypatch):
    # ∂f/∂x = cos(x)·y + 2x; this one forgets the 2x
    monkeypatch.setattr(bench.s2sad, "grad",
                        lambda f, wrt=0, mode="reverse": lambda x, y: math.cos(x) * y)
    row = bench.run_case(_case(mod))
    assert row["outcome"] == "WRONG" and "rel err" in row["detail"], row
    assert row["forward"]["outcome"] == "WRONG"
    report = bench.report([row], quick=True)
    assert "## WRONG and crash (bugs)" in report and "**WRONG** (reverse)" in report


def test_a_gradient_of_the_wrong_structure_is_flagged(mod, monkeypatch):
    monkeypatch.setattr(bench.s2sad, "grad",
                        lambda f, wrt=0, mode="reverse": lambda x, y: np.zeros(3))
    assert bench.run_case(_case(mod))["outcome"] == "WRONG"


def test_an_exception_in_the_generated_code_is_a_crash(mod, monkeypatch):
    def broken(f, wrt=0, mode="reverse"):
        def g(x, y):
            raise ZeroDivisionError("boom")
        return g
    monkeypatch.setattr(bench.s2sad, "grad", broken)
    row = bench.run_case(_case(mod))
    assert row["outcome"] == "crash" and "ZeroDivisionError: boom" in row["detail"], row


def test_a_refusal_is_recorded_with_its_reason(mod):
    row = bench.run_case(_case(mod, name="g"))  # s2sad refuses `with`
    assert row["outcome"] == "refused", row
    assert row["reason"] and "\n" not in row["detail"]
    report = bench.report([row], quick=True)
    assert "## Refusal reasons, by how many functions they block" in report
    assert row["reason"].replace("|", "\\|") in report


def test_reason_keys_blank_names_but_keep_constructs():
    from s2sad.errors import UnsupportedError

    assert bench._reason(UnsupportedError("calling `norm.logpdf` is not supported")) == (
        "calling `…` is not supported", ["norm.logpdf"])
    assert bench._reason(UnsupportedError("a `raise` statement is not supported"))[0] == (
        "a `raise` statement is not supported")
    assert bench._reason(UnsupportedError("`*args` parameters are not supported"))[0] == (
        "`*args` parameters are not supported")


@pytest.mark.slow  # every case, both modes: 3 s
@needs_corpus
def test_the_whole_corpus_has_no_wrong_derivative():
    """Every case, both modes (a few seconds): no WRONG, no crash, no defective case."""
    report = bench.run(quick=False, log=lambda s: None)
    rows = report["rows"]
    assert len(rows) >= 60
    for r in rows:
        for mode, x in (("reverse", r), ("forward", r["forward"])):
            assert x["outcome"] not in ("WRONG", "crash"), f"{mode} {r['name']}: {x['detail']}"
            assert x["outcome"] != "bad-case", f"{mode} {r['name']}: {x['detail']}"
    assert sum(r["outcome"] == "ok" for r in rows) >= 1


@pytest.mark.slow
@needs_corpus
def test_quick_run_reports_every_quick_case():
    report = bench.run(quick=True, log=lambda s: None)
    quick = [c.name for c in bench._cases_module().CASES if c.quick]
    assert [r["name"] for r in report["rows"]] == quick
    md = report["markdown"]
    for heading in ("# What s2sad differentiates in a corpus of real public code (quick)",
                    "| mode | ok | refused | WRONG | crash |", "## Per corpus file",
                    "## Per function"):
        assert heading in md
    for r in report["rows"]:
        assert r["outcome"] in bench.OUTCOMES
        assert f"| `{r['name']}` | {r['outcome']} |" in md
    assert "WRONG" not in {r["outcome"] for r in report["rows"]}
    assert "WRONG" not in {r["forward"]["outcome"] for r in report["rows"]}
    assert "## WRONG and crash" not in md
