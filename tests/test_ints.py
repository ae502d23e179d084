"""Ints stay ints (frontend/ints.py): int parameters in range bounds, indices and sizes.

A parameter without an annotation is lowered as a float.  ``range(n + 1)`` used to
become ``range(n + 1.0)`` in the generated code (a float value, whose int constant
code generation spells as a float) and raised ``TypeError`` in every mode.  Each
case below runs every derivative kind on the generated code and compares with
central finite differences at several points, negative ones included.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

import s2sad
from s2sad.ir import Kind
from tests.oracles import assert_close, call_extras, gradient
from tests.srcmod import load_source

SOURCE = '''
import math

import numpy as np


def plus_one(a, n):
    for i in range(n + 1):
        a = a * 1.5
    return a


def minus_one(a, n):
    for i in range(n - 1):
        a = math.sin(a) + a
    return a


def twice(a, n):
    for i in range(2 * n):
        a = a * 0.75 + 0.5
    return a


def halves(a, n):
    for i in range(n // 2):
        a = a * a * 0.25
    return a


def stepped(a, n):
    s = a
    for i in range(1, n + 1, 2):
        s = s * i + a
    return s


def while_bound(a, n):
    i = 0
    while i < n + 1:
        a = a * 1.5
        i = i + 1
    return a


def list_index(xs, n):
    return xs[n - 1] * xs[0] + xs[n % 2]


def array_index(x: np.ndarray, n):
    return x[n - 1] * x[0] + np.sum(x[: n // 2 + 1])


def array_size(a, n):
    h = np.zeros(n + 1)
    for i in range(n + 1):
        h[i] = a * (i + 1)
    return np.sum(h * h)


def last_pairs(xs):
    s = 0.0
    for i in range(len(xs) - 1):
        s = s + xs[i] * xs[len(xs) - 1 - i]
    return s


def with_default(a, n=2):
    for i in range(n + 1):
        a = a * 1.25
    return a


def mixed(a, n):
    s = a * (n + 1)
    for i in range(n + 1):
        s = s + a * (n + 1) + a * (i - n)
    return s / (n + 1)


def annotated(a, n: int):
    for i in range(n + 1):
        a = a * 1.5
    return a * n


def helper(a, k):
    for i in range(k - 1):
        a = a * 1.5
    return a


def through_helper(a, n):
    return helper(a, n + 2)
'''

M = load_source(SOURCE, "ints")

# (name, args, index of the float argument the derivatives are taken by)
CASES = [
    ("plus_one", (0.7, 3), 0), ("plus_one", (-1.3, 0), 0),
    ("minus_one", (0.4, 4), 0), ("minus_one", (-0.9, 3), 0),
    ("twice", (0.3, 2), 0), ("twice", (-2.0, 3), 0),
    ("halves", (1.1, 5), 0), ("halves", (-0.6, 4), 0),
    ("stepped", (0.5, 5), 0), ("stepped", (-1.5, 4), 0),
    ("while_bound", (0.9, 2), 0), ("while_bound", (-0.4, 3), 0),
    ("with_default", (0.8,), 0), ("with_default", (-1.2, 4), 0),
    ("mixed", (0.6, 3), 0), ("mixed", (-2.5, 1), 0),
    ("annotated", (0.5, 2), 0), ("annotated", (-0.5, 3), 0),
    ("through_helper", (1.2, 2), 0), ("through_helper", (-0.3, 3), 0),
    ("array_size", (0.7, 3), 0), ("array_size", (-1.4, 2), 0),
]


def _partial(f, args, k):
    def g(t):
        moved = list(args)
        moved[k] = t
        return float(f(*moved))
    return gradient(g, [args[k]])[0]


@pytest.mark.parametrize("name, args, k", CASES)
def test_int_bounds_in_every_mode(name, args, k):
    f = getattr(M, name)
    want_value = f(*args)
    want = _partial(f, args, k)
    full = args if len(args) == 2 else (*args, 2)  # jvp, vjp, hvp take every argument
    got = {
        "grad": s2sad.grad(f, wrt=k)(*args),
        "grad forward": s2sad.grad(f, wrt=k, mode="forward")(*args),
        "value_and_grad": s2sad.value_and_grad(f, wrt=k)(*args)[1],
        "jvp": call_extras(s2sad.jvp(f, wrt=k), full, (1.0,))[1],
        "vjp": call_extras(s2sad.vjp(f, wrt=k), full, (1.0,))[1],
        "derivative": s2sad.derivative(f, wrt=k)(*args),
    }
    for what, value in got.items():
        assert_close(value, want, 1e-7, 1e-9, what=f"{what} of {name}{args}")
    assert_close(s2sad.value_and_grad(f, wrt=k)(*args)[0], want_value, 1e-12, 1e-12)
    if not name.startswith("array"):
        second = _partial(lambda *a: s2sad.grad(f, wrt=k)(*a), args, k)
        assert_close(s2sad.hessian(f, wrt=k)(*args), second, 1e-6, 1e-8,
                     what=f"hessian of {name}{args}")
        assert_close(call_extras(s2sad.hvp(f, wrt=k), full, (1.0,)), second, 1e-6, 1e-8,
                     what=f"hvp of {name}{args}")


@pytest.mark.parametrize("name, args", [
    ("list_index", ([0.5, -1.5, 2.0], 2)), ("list_index", ([-0.7, 1.1, 0.3, 4.0], 4)),
    ("last_pairs", ([0.5, -1.5, 2.0, 0.25],)),
    ("array_index", (np.array([0.5, -1.5, 2.0]), 3)),
    ("array_index", (np.array([-0.7, 1.1, 0.3, 4.0]), 2)),
])
def test_int_indices(name, args):
    f = getattr(M, name)
    xs = [float(v) for v in args[0]]
    rest = args[1:]

    def flat(*v):
        return f(np.array(v) if isinstance(args[0], np.ndarray) else list(v), *rest)

    want = gradient(flat, xs)
    assert_close(list(s2sad.grad(f)(*args)), list(want), 1e-7, 1e-9, what=f"grad of {name}")
    direction = [0.3 * (i + 1) * (-1) ** i for i in range(len(xs))]
    tangent = np.array(direction) if isinstance(args[0], np.ndarray) else direction
    assert_close(s2sad.jvp(f)(*args, tangent)[1],
                 sum(g * d for g, d in zip(want, direction, strict=True)), 1e-7, 1e-9)
    assert_close(list(s2sad.vjp(f)(*args, 1.0)[1]), list(want), 1e-7, 1e-9)


def test_int_parameters_are_ints_in_the_ir():
    """The parameter behind a range bound, an index or a size is an int; one used only in
    float arithmetic or a comparison stays a float (its gradient is kept)."""
    kinds = {name: [p.kind for p in s2sad.lift(getattr(M, name)).params]
             for name in ("plus_one", "list_index", "array_size", "annotated",
                          "through_helper", "while_bound")}
    assert kinds["plus_one"] == [Kind.FLOAT, Kind.INT]
    assert kinds["list_index"] == [Kind.LIST, Kind.INT]
    assert kinds["array_size"] == [Kind.FLOAT, Kind.INT]
    assert kinds["annotated"] == [Kind.FLOAT, Kind.INT]
    assert kinds["through_helper"] == [Kind.FLOAT, Kind.INT]
    assert kinds["while_bound"] == [Kind.FLOAT, Kind.FLOAT]


def _float_constants_in_ranges(source: str) -> list[str]:
    bad = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "range":
            for c in ast.walk(node):
                if isinstance(c, ast.Constant) and isinstance(c.value, float):
                    bad.append(ast.unparse(node))
    return bad


@pytest.mark.parametrize("name", ["plus_one", "minus_one", "twice", "stepped", "mixed",
                                  "with_default", "annotated", "through_helper"])
@pytest.mark.parametrize("kind", ["grad", "value_and_grad", "jvp", "vjp", "hessian", "hvp"])
def test_generated_range_bounds_are_ints(name, kind):
    compiled = getattr(s2sad, kind)(getattr(M, name))
    assert _float_constants_in_ranges(compiled.source) == [], compiled.source


def test_int_arithmetic_mixed_with_float_arithmetic_is_a_float_product():
    """``a * (n + 1)`` is a float product with the exact value, and so is its derivative."""
    f = M.mixed
    for a, n in ((0.6, 3), (-2.5, 1), (1e-3, 7)):
        value, g = s2sad.value_and_grad(f)(a, n)
        assert isinstance(value, float) and isinstance(g, float)
        assert_close(value, f(a, n), 1e-14, 0.0)
        assert_close(g, (n + 1 + (n + 1) * (n + 1) + sum(i - n for i in range(n + 1)))
                     / (n + 1), 1e-14, 0.0)


def test_an_int_parameter_has_gradient_zero():
    """A parameter that is an int (a range bound) is piecewise constant: gradient 0."""
    assert s2sad.grad(M.plus_one, wrt=(0, 1))(0.5, 2) == (1.5 ** 3, 0.0)


def test_cli_output_keeps_int_bounds(tmp_path):
    """The command line emits the same code: ``range(n + 1)`` in the written module."""
    from click.testing import CliRunner
    from s2sad_cli.main import cli

    src = tmp_path / "loops.py"
    src.write_text(SOURCE, encoding="utf-8")
    for kind in ("grad", "jvp", "vjp", "hessian"):
        result = CliRunner().invoke(cli, [kind, str(src)])
        assert result.exit_code == 0, result.output
        assert _float_constants_in_ranges(result.output) == [], result.output
        namespace: dict = {}
        exec(compile(result.output, str(tmp_path / f"{kind}.py"), "exec"), namespace)
        if kind == "grad":  # with respect to every parameter: (a_bar, 0.0)
            assert_close(namespace["grad_plus_one"](0.7, 3),
                         (_partial(M.plus_one, (0.7, 3), 0), 0.0))
            assert_close(namespace["grad_through_helper"](-1.2, 2), (1.5 ** 3, 0.0))


def test_derivative_with_respect_to_an_int_says_why_and_what_works():
    """``n`` is an int (a range bound): its n-th derivative is refused with a reason, and
    the hint's spelling (``wrt='a'``) works."""
    from s2sad.errors import DifferentiationError

    with pytest.raises(DifferentiationError) as info:
        s2sad.derivative(M.plus_one, wrt=1)
    message = str(info.value)
    assert "the int `n`" in message and "range bound" in message and "wrt='a'" in message
    assert "sweep per item" not in message
    assert_close(s2sad.derivative(M.plus_one, wrt="a")(0.5, 2), 1.5 ** 3)


@pytest.mark.parametrize("name, args", [("mixed", (0.6, 3)), ("mixed", (-2.5, 1)),
                                        ("stepped", (0.5, 5)), ("minus_one", (-0.9, 3))])
def test_hessian_and_jacobian_with_respect_to_an_int_have_zero_rows(name, args):
    """With respect to every parameter (the command line's default), an int parameter's
    row and column of the Hessian and its Jacobian column are zeros, and the rest is the
    closed form of the float parameters (no Hessian-vector-product driver, no numpy)."""
    f = getattr(M, name)
    second = _partial(lambda *a: s2sad.grad(f)(*a), args, 0)
    h = s2sad.hessian(f, wrt=(0, 1))
    assert "np." not in h.source and "hvp_" not in h.source
    (h00, h01), (h10, h11) = h(*args)
    assert_close(h00, second, 1e-6, 1e-8)
    assert (h01, h10, h11) == (0.0, 0.0, 0.0)
    for mode in ("reverse", "forward"):
        j = s2sad.jacobian(f, wrt=(0, 1), mode=mode)
        assert "np." not in j.source
        j0, j1 = j(*args)
        assert_close(j0, _partial(f, args, 0), 1e-7, 1e-9)
        assert j1 == 0.0
