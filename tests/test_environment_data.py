"""Arrays read from the environment: module globals and closure values (issue 14, item 3).

They are constants of the derivative, read by reference when the generated code runs:
a change in place is seen, a rebinding compiles again (the guard), an assignment into
one is refused.  The command line writes array literals of the source file into the
emitted module.  Every derivative is compared with central finite differences.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from s2sad_cli.main import cli

import s2sad
from tests.srcmod import load_source

RNG = np.random.default_rng(20261203)


@pytest.fixture(autouse=True)
def no_disk_cache(monkeypatch):
    monkeypatch.setenv("S2SAD_NO_CACHE", "1")


def fd_grad(f, w, h=1e-6):
    w = np.asarray(w, dtype=float)
    out = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        e = np.zeros_like(w)
        e[i] = h
        out[i] = (f(w + e) - f(w - e)) / (2 * h)
    return out


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)


LOGREG = '''
import numpy as np

X = np.array({X})
y = np.array({y})


def loss(w):
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z)
'''


def logreg_module():
    X = RNG.normal(size=(12, 3))
    y = (RNG.random(12) > 0.5).astype(float)
    return load_source(LOGREG.format(X=X.tolist(), y=y.tolist()), stem="logreg")


def test_module_arrays_are_read_when_the_gradient_runs():
    mod = logreg_module()
    g = s2sad.grad(mod.loss)
    for w in (np.array([0.3, -0.2, 0.1]), np.array([-1.5, 2.0, 0.7])):
        close(g(w), fd_grad(mod.loss, w))
    assert "Reads the arrays X, y" in g.source
    mod.X[:] = RNG.normal(size=mod.X.shape)  # changed in place: read when it runs
    w = np.array([0.5, 0.5, -0.5])
    close(g(w), fd_grad(mod.loss, w))
    mod.X = RNG.normal(size=(7, 3))  # rebound, another shape: compiled again
    mod.y = np.ones(7)
    close(g(w), fd_grad(mod.loss, w))


def test_closures_over_arrays_differentiate_per_closure():
    mod = load_source('''
import numpy as np


def make_loss(A, b):
    def loss(w):
        r = A @ w - b
        return 0.5 * np.sum(r * r) + np.sum(np.tanh(w) * b[:2])
    return loss
''', stem="closure")
    for _ in range(2):
        A, b = RNG.normal(size=(4, 2)), RNG.normal(size=4)
        f = mod.make_loss(A, b)
        w = RNG.normal(size=2)
        close(s2sad.grad(f)(w), fd_grad(f, w))
        _, tangent = s2sad.jvp(f)(w, np.array([1.0, 0.0]))
        close(tangent, fd_grad(f, w)[0])
        g = s2sad.grad(f)
        close(s2sad.hessian(f)(w), np.array([fd_grad(lambda v, k=k, g=g: g(v)[k], w)
                                             for k in range(2)]))


def test_two_arrays_of_one_name_get_two_names():
    other = load_source("import numpy as np\n\nW = np.array([1.0, -2.0])\n\n"
                        "def helper(v):\n    return np.sum(W * v)\n", stem="other")
    mod = load_source(f"import numpy as np\nfrom {other.__name__} import helper\n\n"
                      "W = np.array([0.5, 3.0])\n\n"
                      "def f(v):\n    return helper(v) * np.sum(W * v)\n", stem="main")
    g = s2sad.grad(mod.f)
    v = np.array([0.7, -0.4])
    close(g(v), fd_grad(mod.f, v))
    assert "W_1" in g.source


def test_an_environment_array_is_not_assigned_into():
    mod = load_source("import numpy as np\n\nB = np.zeros(3)\n\n"
                      "def f(x):\n    h = B\n    h[0] = x\n    return np.sum(h) * x\n",
                      stem="assign")
    with pytest.raises(s2sad.S2SADError, match="did not create"):
        s2sad.grad(mod.f)


def test_the_generated_code_never_changes_an_environment_array():
    mod = load_source("import numpy as np\n\nB = np.array([1.0, 2.0, 3.0])\n\n"
                      "def f(x):\n    h = B.copy()\n    h[0] = x\n    return np.sum(h * h)\n",
                      stem="copy")
    before = mod.B.copy()
    assert s2sad.grad(mod.f)(1.5) == pytest.approx(3.0)
    np.testing.assert_array_equal(mod.B, before)


CLI_SOURCE = '''import numpy as np

A = np.array([[2.0, 1.0], [1.0, 3.0]])
b = np.array([1, -1])


def quad(x):
    return 0.5 * x @ A @ x - b @ x
'''


def test_the_command_line_writes_array_literals_into_the_module(tmp_path):
    src = tmp_path / "quad.py"
    src.write_text(CLI_SOURCE)
    out = tmp_path / "quad_grad.py"
    result = CliRunner().invoke(cli, ["grad", str(src), "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "A = np.array([[2.0, 1.0], [1.0, 3.0]])" in text
    code = ("import numpy as np, quad_grad\n"
            "print(quad_grad.grad_quad(np.array([1.0, 2.0])).tolist())")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    assert run.stdout.strip() == "[3.0, 8.0]"  # A x - b


def test_the_command_line_says_what_it_cannot_read(tmp_path):
    src = tmp_path / "loaded.py"
    src.write_text("import numpy as np\n\nD = np.loadtxt('data.txt')\n\n\n"
                   "def f(x):\n    return np.sum(D * x)\n")
    result = CliRunner().invoke(cli, ["grad", str(src)])
    assert result.exit_code == 2
    assert "without running it" in result.output
