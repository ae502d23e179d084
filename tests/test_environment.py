"""A compiled derivative is never stale (s2sad/frontend/environment.py and the API's guard).

Each test compiles a derivative, changes something the function reads when it runs — a
module global, a helper's global in another module, a closure cell, the function's own
code, a helper's code, a name that shadows a builtin — and checks that the *same* handle
and a new ``s2sad.grad`` both give the derivative of the function as it is now, against
finite differences (tests/oracles.py).  Rebinding a name to an equal value must not
compile again; defaults keep the value their ``def`` evaluated, as Python does.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad
from s2sad import api
from s2sad.frontend import environment
from tests.oracles import assert_close, derivative
from tests.srcmod import load_source

POINTS = (-1.3, 0.4, 2.1)


def check(handle, f, points=POINTS) -> None:
    for x in points:
        assert_close(handle(x), derivative(f, x))
        assert_close(s2sad.grad(f)(x), derivative(f, x))


@pytest.fixture(autouse=True)
def no_disk_cache(monkeypatch):
    monkeypatch.setenv("S2SAD_NO_CACHE", "1")


def test_a_changed_module_global_is_read_again():
    mod = load_source("import math\nSCALE = 2.0\n\ndef h(x):\n    return SCALE * math.sin(x) * x\n")
    g = s2sad.grad(mod.h)
    check(g, mod.h)
    mod.SCALE = 5.0
    check(g, mod.h)
    assert "5.0" in s2sad.grad(mod.h).source
    mod.SCALE = -0.5
    check(g, mod.h)


def test_rebinding_to_an_equal_value_does_not_compile_again(monkeypatch):
    mod = load_source("SCALE = 2.0\n\ndef h(x):\n    return SCALE * x * x\n")
    g = s2sad.grad(mod.h)
    g(1.0)
    mod.SCALE = float("2.0")  # a new object with the same value
    assert mod.SCALE is not 2.0  # noqa: F632 - the point is identity

    def fail(f):
        raise AssertionError("compiled again for an equal value")

    monkeypatch.setattr(api, "_lift", fail)
    assert g(1.5) == 6.0
    assert g(-1.0) == -4.0


def test_replaced_code_is_compiled_again():
    mod = load_source("def h(x):\n    return x * x\n\ndef cube(x):\n    return x ** 3\n")
    g = s2sad.grad(mod.h)
    assert g(2.0) == 4.0
    mod.h.__code__ = mod.cube.__code__  # what IPython's %autoreload does
    check(g, mod.h)
    assert s2sad.grad(mod.h)(2.0) == 12.0


def test_a_helper_of_another_module_is_followed():
    other = load_source("K = 3.0\n\ndef helper(t):\n    return K * t * t\n\n"
                        "def quartic(t):\n    return t ** 4\n", stem="other")
    mod = load_source(f"from {other.__name__} import helper\n\n"
                      "def h(x):\n    return helper(x) + x\n")
    g = s2sad.grad(mod.h)
    check(g, mod.h)
    other.K = -7.0  # a global of the helper's module
    check(g, mod.h)
    other.helper.__code__ = other.quartic.__code__  # the helper's code
    assert_close(g(1.5), 4 * 1.5 ** 3 + 1)


def test_a_rebound_helper_is_followed():
    mod = load_source("def helper(t):\n    return t * t\n\n"
                      "def other(t):\n    return t * t * t\n\n"
                      "def h(x):\n    return helper(x)\n")
    g = s2sad.grad(mod.h)
    assert g(2.0) == 4.0
    mod.helper = mod.other
    assert g(2.0) == 12.0


def test_a_closure_cell_is_read_again():
    mod = load_source("def make(a):\n"
                      "    def h(x):\n        return a * x * x\n"
                      "    def set_a(v):\n        nonlocal a\n        a = v\n"
                      "    return h, set_a\n")
    h, set_a = mod.make(1.5)
    g = s2sad.grad(h)
    check(g, h)
    set_a(-4.0)
    check(g, h)


def test_a_global_that_shadows_a_builtin_later_is_followed():
    mod = load_source("def h(x):\n    return abs(x) * x\n\n"
                      "def square(t):\n    return t * t\n")
    g = s2sad.grad(mod.h)
    assert g(-2.0) == 4.0  # d/dx (|x| x) = 2|x|
    mod.abs = abs  # the same builtin, now a global: still valid
    assert g(-2.0) == 4.0
    mod.abs = mod.square
    check(g, mod.h)  # now x**3


def test_defaults_keep_the_value_their_def_evaluated():
    mod = load_source("SCALE = 2.0\nSCALE = 2.0\n\n\ndef h(x, s=SCALE):\n    return s * x * x\n")
    mod.SCALE = 3.0  # after the def: the default is still 2.0, in Python and in s2sad
    assert mod.h(1.0) == 2.0
    assert s2sad.grad(mod.h)(1.0) == 4.0
    g = s2sad.grad(mod.h)
    mod.h.__defaults__ = (10.0,)
    assert s2sad.grad(mod.h)(1.0) == 20.0
    for args in ((1.0,), (1.0, 3.0)):  # it cannot tell a default from an argument:
        with pytest.raises(s2sad.S2SADError, match="defaults of `h` changed"):
            g(*args)  # it says so, and never guesses


def test_a_change_of_kind_compiles_again_and_says_what_is_wrong():
    mod = load_source("SCALE = 2.0\n\ndef h(x):\n    return SCALE * x\n")
    g = s2sad.grad(mod.h)
    assert g(1.0) == 2.0
    mod.SCALE = 3  # an int: the same derivative, compiled again
    assert g(1.0) == 3.0
    mod.SCALE = [1.0, 2.0]  # a list: not a number s2sad can use; never the old answer
    with pytest.raises(s2sad.S2SADError, match="SCALE"):
        g(1.0)


def test_value_and_grad_jvp_and_hessian_are_guarded_too():
    mod = load_source("import math\nW = 2.0\n\ndef h(x, y):\n    return W * math.sin(x) * y\n")
    vg, jv, hs = s2sad.value_and_grad(mod.h), s2sad.jvp(mod.h), s2sad.hessian(mod.h)
    x, y = 0.7, -1.1
    mod.W = -3.0
    value, grad = vg(x, y)
    assert_close(value, -3.0 * math.sin(x) * y)
    assert_close(grad, -3.0 * math.cos(x) * y)
    assert_close(jv(x, y, 1.0)[1], -3.0 * math.cos(x) * y)
    assert_close(hs(x, y), 3.0 * math.sin(x) * y)


def test_the_guard_costs_identity_checks_only():
    """The per-call test is a function of identity checks (no values compared, nothing
    hashed): a snapshot of many reads checks as true quickly and does not touch arrays."""
    mod = load_source("import math\nA = 1.0\nB = 2.0\n\n"
                      "def helper(t):\n    return A * t\n\n"
                      "def h(x):\n    return helper(x) * B + math.sin(x)\n")
    with environment.recording(mod.h) as reads:
        api.lower(api.from_function(mod.h))
    snap = reads.snapshot()
    assert snap.fresh()
    mod.B = 3.0
    assert not snap.fresh()
    assert not snap.holds()
    mod.B = float("2.0")
    assert not snap.fresh() and snap.holds() and snap.fresh()


def test_disk_entries_are_checked_against_what_the_function_reads(tmp_path, monkeypatch):
    monkeypatch.delenv("S2SAD_NO_CACHE")
    monkeypatch.setenv("S2SAD_CACHE_DIR", str(tmp_path / "cache"))
    other = load_source("K = 3.0\n\ndef helper(t):\n    return K * t * t\n", stem="other")
    mod = load_source(f"from {other.__name__} import helper\n\n"
                      "def h(x):\n    return helper(x) + x\n\n"
                      "def cube(x):\n    return x ** 3\n")
    assert s2sad.grad(mod.h)(1.0) == 7.0
    api._cache.clear()
    api._ir_cache.clear()
    other.K = 5.0  # the helper's module is not part of the key: the reads catch it
    assert s2sad.grad(mod.h)(1.0) == 11.0
    api._cache.clear()
    api._ir_cache.clear()
    mod.h.__code__ = mod.cube.__code__  # the same file, another code: another entry
    assert s2sad.grad(mod.h)(2.0) == 12.0


def test_array_globals_are_never_hashed_per_call(monkeypatch):
    """The per-call test compares identities; a value's text (a hash, for an array) is
    computed only when an identity differs."""
    mod = load_source("import numpy as np\nW = np.arange(1.0, 4.0)\n\n"
                      "def h(x):\n    return np.sum(W * x * x)\n", stem="arrays")
    g = s2sad.grad(mod.h)
    assert "['W'] is" in g.guard.test
    calls = []
    real = environment.value_text
    monkeypatch.setattr(environment, "value_text", lambda v: calls.append(v) or real(v))
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(g(x), 2.0 * mod.W * x)
    assert calls == []
    assert environment.value_text(np.float64(2.0)) == "float64:" + repr(np.float64(2.0))
    assert environment.value_text(2.0) != environment.value_text(2)
    assert environment.value_text(object()) is None


def test_a_rebound_module_name_is_caught_when_the_cache_is_consulted():
    mod = load_source("import math\n\ndef h(x):\n    return math.sin(x)\n", stem="modname")
    g = s2sad.grad(mod.h)
    assert "math" not in g.guard.test  # not per call
    mod.math = load_source("def sin(t):\n    return t * t\n", stem="fakemath")
    # compiled again when asked: `math.sin` is now the user's module's function, inlined
    assert s2sad.grad(mod.h)(1.5) == 3.0


def test_the_guarded_code_keeps_the_lines_and_docstring_of_its_source():
    """The guard's two lines take the room of the docstring's: tracebacks and
    inspect.getsource read the standalone .source, line for line."""
    import inspect
    import traceback

    mod = load_source("import math\n\ndef h(x):\n    return math.sqrt(x)\n", stem="lines")
    g = s2sad.grad(mod.h)
    assert inspect.getsource(g) in g.source and "_s2sad" not in inspect.getsource(g)
    assert g.__doc__.startswith("Gradient of h")
    with pytest.raises(ZeroDivisionError) as info:
        g(0.0)
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert frame.line == g.source.splitlines()[frame.lineno - 1].strip()
    assert "math.sqrt(x)" in frame.line
