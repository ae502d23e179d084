"""The Numba target's generated text (``target="numba"``, ``--target numba``): njit
modules, tapes as float64 arrays, lists as arrays, located refusals.  These need no
Numba (tests/test_numba.py compiles and runs the code)."""

from __future__ import annotations

import ast
import math

import numpy as np
import pytest

import s2sad
from s2sad.api import lift
from s2sad.errors import S2SADError
from s2sad.pipeline import derive, generate

# -- functions (the cases of benchmarks/bench_numba.py, small) ---------------------------------


def rosenbrock(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def chain(x, k):
    for _ in range(k):
        x = math.sin(x) * x + math.cos(x)
    return x


def kepler(M, e):
    E = M
    dE = 1.0
    while abs(dE) > 1e-13:
        dE = (E - e * math.sin(E) - M) / (1 - e * math.cos(E))
        E = E - dE
    return E


def lotka(a, b, c, d, n):
    x = 1.0
    y = 1.0
    h = 0.01
    for _ in range(n):
        k1x = a * x - b * x * y
        k1y = d * x * y - c * y
        x2 = x + 0.5 * h * k1x
        y2 = y + 0.5 * h * k1y
        k2x = a * x2 - b * x2 * y2
        k2y = d * x2 * y2 - c * y2
        x = x + h * k2x
        y = y + h * k2y
    return x * y


def lennard_jones(X):
    n = X.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = X[i, 0] - X[j, 0]
            dy = X[i, 1] - X[j, 1]
            r2 = dx * dx + dy * dy
            s6 = 1.0 / (r2 * r2 * r2)
            e += 4.0 * (s6 * s6 - s6)
    return e


def piecewise(x):
    s = 0.0
    for i in range(len(x)):
        v = x[i]
        if v < -1.0:
            s += -2.0 * v - 1.0
        elif v < 1.0:
            s += v * v
        else:
            s += math.log(v) + 1.0
    return s


def grows(x):
    ys = []
    for i in range(3):
        ys.append(x * i)
    return ys[2]


def _numba_source(f, kind="grad", wrt=0):
    return generate([derive(lift(f), kind, wrt)], header="t", target="numba")


def _imports(source: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.add(node.module)
    return out


# -- the generated text (no Numba needed) -------------------------------------------------------


def test_module_is_njit_and_imports_only_math_numpy_numba():
    src = _numba_source(kepler, wrt=(0, 1))
    assert _imports(src) <= {"math", "numpy", "numba"} and "numba" in _imports(src)
    tree = ast.parse(src)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert defs and all(ast.unparse(d.decorator_list[0]) == "numba.njit(cache=True)"
                        for d in defs)


def test_tapes_are_float64_arrays_not_lists():
    # a for loop's tape: allocated with the trip count; a while loop's: grown by doubling
    src = _numba_source(chain)
    assert "np.empty((max(k, 0), 1))" in src and ".append(" not in src
    assert "reversed(" not in src and "tape[_, 0]" in src
    src = _numba_source(kepler, wrt=(0, 1))
    assert "np.empty((16, 3))" in src and ".append(" not in src
    assert "tape = np.concatenate((tape, np.empty_like(tape)))" in src


def test_lists_are_arrays():
    src = _numba_source(rosenbrock)
    assert "np.zeros(len(x))" in src and "type(x) is list" not in src


def test_append_is_a_located_error():
    with pytest.raises(S2SADError) as info:
        _numba_source(grows)
    err = info.value
    assert "cannot be compiled for the Numba target" in err.what and "append" in err.what
    assert err.lineno == grows.__code__.co_firstlineno + 3 and "fixed" in err.why


def test_hessian_of_several_arrays_is_a_located_error():
    def two(x, y):
        return np.sum(x * y)

    with pytest.raises(S2SADError, match="cannot be compiled for the Numba target"):
        _numba_source(two, "hessian", (0, 1))


def test_cli_target_numba(tmp_path):
    from click.testing import CliRunner
    from s2sad_cli.main import cli

    src = tmp_path / "m.py"
    src.write_text("import math\n\n\ndef chain(x, k):\n    for _ in range(k):\n"
                   "        x = math.sin(x) * x + math.cos(x)\n    return x\n")
    result = CliRunner().invoke(cli, ["grad", str(src), "--target", "numba"])
    assert result.exit_code == 0, result.output
    assert "@numba.njit(cache=True)" in result.output and "--target numba" in result.output
    assert _imports(result.output) == {"math", "numpy", "numba"}


@pytest.mark.slow  # runs the command line a few dozen times, then ruff
def test_emitted_numba_modules_are_ruff_clean(tmp_path, monkeypatch):
    from click.testing import CliRunner
    from s2sad_cli.main import cli

    from tests.test_generated_lint import ROOT, SOURCES, ruff

    monkeypatch.chdir(ROOT)
    written = []
    for src in SOURCES:
        for command in (["grad"], ["value-and-grad"], ["jvp"], ["vjp"], ["hessian"]):
            result = CliRunner().invoke(cli, [*command, str(src.relative_to(ROOT)),
                                              "--target", "numba"])
            assert result.exit_code in (0, 2), result.output  # 2: nothing to emit
            if result.exit_code == 0:
                out = tmp_path / f"{src.stem}_{command[0]}.py"
                out.write_text(result.stdout, encoding="utf-8")
                written.append(out)
    assert len(written) >= len(SOURCES) * 3
    assert ruff(written) == ""


def _with_function_default(x, act=np.tanh):
    return act(x) * x


def _containers(params, x):
    s = 0.0
    for W, b in params:
        s += np.sum(W * x + b)
    return s


def test_function_default_and_containers_are_located_errors():
    with pytest.raises(S2SADError, match="cannot be compiled for the Numba target") as info:
        s2sad.grad(_with_function_default, target="numba")
    assert "act" in info.value.what and info.value.why
    with pytest.raises(S2SADError, match="cannot be compiled for the Numba target") as info:
        s2sad.grad(_containers, wrt=0, target="numba")(
            [(np.ones(2), np.zeros(2))], np.ones(2))
    assert "container" in info.value.what and "separate parameters" in info.value.hint


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="target must be one of"):
        s2sad.grad(rosenbrock, target="cuda")
