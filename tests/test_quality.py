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


# -- 3. loop-invariant work out of loops -----------------------------------------------------


def _loop_bodies(source: str) -> list[str]:
    """The text of every loop body of the module's functions."""
    import ast
    return [ast.unparse(node) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.For | ast.While)]


def test_rk4_computes_its_step_fractions_once():
    g = s2sad.grad(quality.rk4, wrt=(0, 1))
    loops = _loop_bodies(g.source)
    assert len(loops) == 2  # the primal sweep and the reverse sweep
    for loop in loops:
        assert "0.5 * h" not in loop and "h / 6.0" not in loop
    body = _body(g.source, "grad_rk4")
    assert body.count("0.5 * h") == 1 and body.count("h / 6.0") == 1  # shared by both sweeps
    # h·k3, a product of an invariant and a carried value, is not reassociated or moved
    assert any("h * " in loop for loop in loops)


def test_an_invariant_rises_through_nested_loops():
    f = s2sad.grad(quality.scaled_sum, wrt=(1, 2))
    for loop in _loop_bodies(f.source):
        assert "a * b" not in loop and "np.sin(a)" not in loop
    body = _body(f.source, "grad_scaled_sum")
    assert body.count("np.sin(a)") == 1  # once: not in either sweep, and not on a tape
    assert "tape_1.append(s_1)" in body
    xs = [0.5, -1.2, 2.0]
    got = f(xs, 0.7, -1.3)
    for i, (a, b) in enumerate(((0.7 + 1e-6, -1.3), (0.7, -1.3 + 1e-6))):
        lo = (0.7 - 1e-6, -1.3) if i == 0 else (0.7, -1.3 - 1e-6)
        fd = (quality.scaled_sum(xs, a, b) - quality.scaled_sum(xs, *lo)) / 2e-6
        assert got[i] == pytest.approx(fd, rel=1e-6)


def _bits(x):
    if isinstance(x, tuple | list):
        return tuple(_bits(v) for v in x)
    return float(x).hex()


def _control_cases():
    from tests.test_control_flow import CASES as control_cases
    from tests.test_sequences import CASES as sequence_cases
    out = [(f, wrt, points) for f, wrt, points in control_cases]
    out += [(f, 0, points) for f, points in sequence_cases]
    out.append((quality.rk4, (0, 1), [(0.7, 0.1, 5), (-1.3, 0.25, 3), (2.0, 0.05, 0)]))
    out.append((quality.scaled_sum, (1, 2), [([0.5, -1.2, 2.0], 0.7, -1.3), ([], 0.3, 0.2)]))
    return out


@pytest.mark.parametrize("f, wrt, points", _control_cases(),
                         ids=lambda c: getattr(c, "__name__", ""))
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_hoisting_keeps_every_result_bit_for_bit(f, wrt, points, mode, monkeypatch):
    """The same operation on the same operands, moved: not one bit changes."""
    from s2sad import api
    from s2sad.opt import passes

    def compiled():
        api._cache.clear()
        api._ir_cache.clear()
        try:
            return s2sad.grad(f, wrt=wrt, mode=mode)
        except s2sad.S2SADError:
            return None  # forward mode refuses list inputs

    hoisted = compiled()
    if hoisted is None:
        pytest.skip("no gradient in this mode")
    monkeypatch.setattr(passes, "hoist_invariants", lambda fn: fn)
    plain = compiled()
    api._cache.clear()
    api._ir_cache.clear()
    if f in (quality.rk4, quality.scaled_sum):  # the comparison compares two modules
        assert hoisted.source != plain.source
    for point in points:
        assert _bits(hoisted(*point)) == _bits(plain(*point))
