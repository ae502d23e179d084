"""Generated code as good as a careful person's (issue 19).

Each test fails on the code before the change it names: a value computed only for
its shape, a repeated pure subexpression, loop-invariant work in a loop, an
algebraic identity not used.  Derivatives are also checked against finite
differences, and rewrites that change floating-point results are checked bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from s2sad_cli.main import cli

import s2sad
from tests.conftest import ROOT
from tests.fixtures import quality
from tests.repeats import repeated_subexpressions

GOLDEN = sorted((ROOT / "tests" / "golden").rglob("*.py"))
SOURCES = sorted((ROOT / "examples").glob("*.py")) + [
    ROOT / "tests" / "fixtures" / name for name in ("control.py", "sequences.py", "quality.py")]
COMMANDS = [["grad"], ["grad", "--mode", "forward"], ["value-and-grad"], ["jvp"], ["vjp"],
            ["hessian"], ["jacobian"]]


def _body(source: str, name: str) -> str:
    return source[source.index(f"def {name}("):]


def _logistic_point(seed: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 3))
    y = (rng.uniform(size=40) < 0.5).astype(float)
    return rng.standard_normal(3), X, y


def _fd(f, w, *rest, h=1e-6):
    out = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = h
        out[i] = (f(w + e, *rest) - f(w - e, *rest)) / (2 * h)
    return out


# -- 1. no values computed only for their shape ---------------------------------------------


def test_no_logarithm_is_computed_only_for_its_shape():
    g = s2sad.grad(quality.logistic_loss)
    body = _body(g.source, "grad_logistic_loss")
    assert "np.log" not in body  # the derivative needs p, not log p
    for seed in (0, 1, 2):
        w, X, y = _logistic_point(seed)
        np.testing.assert_allclose(g(w, X, y), _fd(quality.logistic_loss, w, X, y),
                                   rtol=1e-6, atol=1e-8)


# -- 2. every repeat shared ------------------------------------------------------------------


def test_the_counter_finds_repeats_and_respects_changes_and_branches():
    src = (
        "def f(x, y, p):\n"
        "    a = (1.0 - x) * y\n"
        "    b = (1.0 - x) / y\n"  # a repeat
        "    x = x + 1.0\n"
        "    c = 1.0 - x\n"  # x changed: not a repeat
        "    d = y * 2.0 if p else y * 3.0\n"
        "    e = y * 3.0\n"  # computed above only when not p: not a repeat
        "    for i in range(3):\n"
        "        y = y * 2.0\n"  # y changes in the loop: not a repeat
        "    return a, b, c, d, e\n")
    assert repeated_subexpressions(src) == {"f": {"1.0 - x": 1}}


def test_an_int_and_a_float_constant_are_one_value():
    """`1 - p` (the sigmoid's partial) and the user's `1.0 - p` are computed once."""
    g = s2sad.grad(quality.logistic_loss)
    assert repeated_subexpressions(g.source) == {}
    assert _body(g.source, "grad_logistic_loss").count("1.0 - _t") == 1


def test_no_repeated_subexpressions_in_golden_files():
    assert GOLDEN
    found = {path.name: r for path in GOLDEN
             if (r := repeated_subexpressions(path.read_text(encoding="utf-8")))}
    assert found == {}


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c))
def test_no_repeated_subexpressions_in_generated_modules(command):
    found = {}
    for path in SOURCES:
        result = CliRunner().invoke(cli, [*command, str(path)])
        if result.exit_code not in (0, 1) or "def " not in result.stdout:
            continue
        if r := repeated_subexpressions(result.stdout):
            found[path.name] = r
    assert found == {}
