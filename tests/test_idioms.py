"""Idioms of real public code that s2sad used to refuse (found on DEAP's benchmarks and
nevergrad's test functions, run as their authors wrote them):

- ``assert`` (an input check of the primal: it runs where it stands, in every derivative);
- ``and`` / ``or`` on numbers where only their truth matters (``if x > 0 and i % 2``);
- ``float("inf")`` and ``float("nan")``;
- an object whose class defines ``__call__`` (a loss, a test function with data);
- ``helpers.f(x)``: a function of another module of the user's, called through the module;
- ``functools.reduce``;
- a method calling the object's other methods (``self.predict(x)``), or an object it holds
  (``self._f(x)``, pints' toy log-densities).

Every derivative is checked against Richardson finite differences (tests/oracles.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad
from tests.oracles import assert_close, derivative
from tests.srcmod import load_source

MODES = ("reverse", "forward")


@pytest.fixture(autouse=True)
def no_disk_cache(monkeypatch):
    monkeypatch.setenv("S2SAD_NO_CACHE", "1")


def close(got, want):
    assert_close(np.ravel(np.asarray(got, dtype=float)).tolist(),
                 np.ravel(np.asarray(want, dtype=float)).tolist())


def fd_gradient(f, x, *rest):
    x = np.asarray(x, dtype=float)
    return np.array([derivative(lambda t, i=i: f(np.where(np.arange(x.size) == i, t, x), *rest),
                                x[i]) for i in range(x.size)])


# -- assert ---------------------------------------------------------------------------------


def checked_series(x, n):
    assert n > 0, "n must be positive"
    assert len(x) == 3
    s = 0.0
    for i in range(n):
        assert x[0] < 10.0
        s = s + math.sin(x[0] * i) + x[1] * x[2]
    return s


def checked_norm(x):
    assert x.ndim == 1, f"a vector, not {x.shape}"
    return np.sqrt(np.sum(x * x) + 1.0)


@pytest.mark.parametrize("x", [[0.3, -1.2, 2.0], [-2.5, 0.7, 1.1]])
def test_assert_is_a_check_and_the_gradient_is_exact(x):
    g = s2sad.grad(checked_series, wrt=0)
    close(np.asarray(g(list(x), 4)), fd_gradient(lambda v: checked_series(list(v), 4), x))
    assert "raise AssertionError" in g.source


@pytest.mark.parametrize("args, message", [
    (([0.3, -1.2, 2.0], 0), "n must be positive"),
    (([0.3, -1.2], 2), "`assert len(x) == 3` failed"),
    (([11.0, -1.2, 2.0], 2), "`assert x[0] < 10.0` failed"),
])
def test_a_failing_assert_raises_in_the_derivative_as_in_the_function(args, message):
    with pytest.raises(AssertionError):
        checked_series(*args)
    for mode in ("reverse", "forward"):
        g = s2sad.grad(checked_series, wrt=1 if mode == "forward" else 0, mode=mode)
        with pytest.raises(AssertionError, match=message.replace("[", r"\[").replace("(", r"\(")
                           .replace(")", r"\)")):
            g(*args)


def test_assert_on_an_array_in_both_modes():
    x = np.array([0.5, -1.5, 2.0])
    close(s2sad.grad(checked_norm)(x), fd_gradient(checked_norm, x))
    with pytest.raises(AssertionError, match="`assert x.ndim == 1"):
        s2sad.grad(checked_norm)(np.ones((2, 2)))
    assert_close(s2sad.jvp(checked_norm)(x, np.ones(3))[1],
                 fd_gradient(checked_norm, x).sum())


def asserted_constant(x):
    assert 2 > 1
    return x * x


def test_an_assert_that_holds_when_compiling_leaves_no_code():
    g = s2sad.grad(asserted_constant)
    assert "Assertion" not in g.source
    assert g(1.5) == 3.0


# -- and / or on numbers, as conditions -------------------------------------------------------


def skewed(x):
    s = 0.0
    for i in range(len(x)):
        s += x[i] * x[i] * (10 if x[i] > 0.0 and i % 2 else 1)
    return s if not (len(x) % 2 or x[0] < -5.0) else -s


@pytest.mark.parametrize("x", [[1.0, -2.0, 3.0, 4.0], [-1.0, 2.0, -3.0, 0.5, 1.5]])
def test_and_or_on_numbers_in_a_condition_take_their_truth(x):
    g = s2sad.grad(skewed)
    close(np.asarray(g(np.array(x))), fd_gradient(skewed, x))


def number_or(x, k):
    return x * (k or 2.0)


def test_and_or_giving_a_number_stay_refused():
    with pytest.raises(s2sad.S2SADError, match="`or` on a number is not supported"):
        s2sad.grad(number_or, wrt=0)


# -- float("inf") ---------------------------------------------------------------------------


def capped(x):
    value = 1.0 + math.tanh(x)
    if value == 0:
        return float("inf")
    return max(value ** -3, float("-inf"))


@pytest.mark.parametrize("mode", MODES)
def test_float_of_a_string_is_a_constant(mode):
    g = s2sad.grad(capped, mode=mode)
    for x in (-1.3, 0.2, 2.0):
        assert_close(g(x), derivative(capped, x))


def bad_float(x):
    return x * float("one")


def test_float_of_another_string_is_a_located_error():
    with pytest.raises(s2sad.S2SADError, match='`float\\(\'one\'\\)` is not a number'):
        s2sad.grad(bad_float)


# -- objects with __call__ --------------------------------------------------------------------


class LeastSquares:
    def __init__(self, seed, m=5, n=4):
        rng = np.random.default_rng(seed)
        self.A = rng.standard_normal((m, n))
        self.y = rng.standard_normal(m)
        self.n = n

    def __call__(self, x, scale=1.0):
        assert len(x) == self.n
        r = self.A @ x - self.y
        return scale * np.sum(r * r)


def test_a_callable_object_is_differentiated_as_its_call():
    loss = LeastSquares(3)
    x = np.array([0.3, -1.2, 2.0, 0.7])
    g = s2sad.grad(loss)
    close(g(x), fd_gradient(loss, x))
    close(g(x, 2.5), fd_gradient(loss, x, 2.5))
    assert_close(s2sad.grad(loss, wrt="scale")(x, 2.0), derivative(lambda s: loss(x, s), 2.0))
    loss.A = loss.A * 2.0  # the object's data is read again (as for a bound method)
    close(g(x), fd_gradient(loss, x))


# -- a function of the user's other module, called through the module ---------------------------


def test_a_function_called_through_another_user_module():
    helpers = load_source("import math\n\ndef act(z):\n    return math.tanh(z) * z\n",
                          stem="helpers")
    user = load_source(f"import {helpers.__name__} as h\n\ndef f(x):\n    return h.act(x) + x\n",
                       stem="user")
    g = s2sad.grad(user.f)
    for x in (-1.3, 0.4, 2.1):
        assert_close(g(x), derivative(user.f, x))
    # rebinding the module's function compiles again: never the old derivative
    helpers2 = load_source("import math\n\ndef act(z):\n    return math.sin(z)\n", stem="helpers")
    helpers.act = helpers2.act
    for x in (-1.3, 0.4, 2.1):
        assert_close(g(x), derivative(user.f, x))
        assert_close(g(x), math.cos(x) + 1.0)


def test_an_installed_package_function_is_still_refused():
    user = load_source("import json\n\ndef f(x):\n    return json.loads('1.0') * x\n")
    with pytest.raises(s2sad.S2SADError, match="cannot see into"):
        s2sad.grad(user.f)


# -- functools.reduce ---------------------------------------------------------------------------

REDUCERS = load_source('''
import functools
import math
import operator
from functools import reduce
from operator import mul

import numpy as np


def griewank(ind):  # DEAP's spelling
    return 1.0 / 4000.0 * sum(x ** 2 for x in ind) - \\
        reduce(mul, (math.cos(x / math.sqrt(i + 1.0)) for i, x in enumerate(ind)), 1) + 1


def product(xs):
    return functools.reduce(operator.mul, xs)


def horner(c, x):
    return reduce(lambda acc, ci: acc * x + ci, c)


def softplus_fold(xs, a):
    return reduce(lambda acc, v: math.log1p(math.exp(acc * a + v)), xs, 0.5)


def summed_rows(X):
    return np.sum(reduce(operator.add, X) ** 2)


def no_start(xs):
    return reduce(mul, (x * x for x in xs))
''', stem="reducers")

POINTS = ([0.3, -1.2, 2.0, 0.7], [-0.9, 0.4, 1.6])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["griewank", "product"])
@pytest.mark.parametrize("x", POINTS)
def test_reduce_of_a_generator_or_a_list(name, x, mode):
    f = getattr(REDUCERS, name)
    if mode == "forward":  # a directional derivative
        direction = [1.0, -0.5] + [0.25] * (len(x) - 2)
        _, tangent = s2sad.jvp(f)(list(x), direction)
        assert_close(tangent, float(fd_gradient(lambda v: f(list(v)), x) @ direction))
    else:
        close(s2sad.grad(f)(list(x)), fd_gradient(lambda v: f(list(v)), x))


@pytest.mark.parametrize("x", POINTS)
def test_reduce_with_a_lambda_reads_the_closure(x):
    for f in (REDUCERS.horner, REDUCERS.softplus_fold):
        gc, ga = s2sad.grad(f, wrt=(0, 1))(list(x), 0.7)
        close(gc, fd_gradient(lambda v, f=f: f(list(v), 0.7), x))
        assert_close(ga, derivative(lambda a, f=f: f(list(x), a), 0.7))


def test_reduce_over_the_rows_of_an_array():
    X = np.array([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]])
    close(s2sad.grad(REDUCERS.summed_rows)(X),
          np.broadcast_to(2.0 * X.sum(axis=0), X.shape))


def test_reduce_of_a_generator_needs_a_start_value():
    with pytest.raises(s2sad.S2SADError, match="without a start value"):
        s2sad.grad(REDUCERS.no_start)


def test_the_command_line_reads_reduce_and_operator(tmp_path):
    from click.testing import CliRunner
    from s2sad_cli.main import cli

    path = tmp_path / "folds.py"
    path.write_text("from functools import reduce\nimport operator\nimport math\n\n\n"
                    "def f(xs):\n    return reduce(operator.mul, (math.sin(x) for x in xs), 1.0)\n")
    result = CliRunner().invoke(cli, ["grad", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    ns: dict = {}
    exec(result.stdout, ns)  # noqa: S102 - generated code
    x = [0.3, -1.2, 2.0]

    def f(v):
        return math.sin(v[0]) * math.sin(v[1]) * math.sin(v[2])

    close(ns["grad_f"](x), fd_gradient(f, x))


# -- methods calling methods, and objects held by the object ------------------------------------


class Quadratic:
    def __init__(self, a=1.0, b=100.0):
        self._a = a
        self._b = b

    def __call__(self, x):
        return (self._a - x[0]) ** 2 + self._b * (x[1] - x[0] ** 2) ** 2


class TwoLayer:
    def __init__(self):
        self.W = np.array([[1.0, 2.0], [0.5, -1.0], [0.25, 0.75]])
        self.v = np.array([0.3, -0.6, 1.2])
        self.error = Quadratic(0.5, 10.0)  # an object with __call__, held by the object
        self.calls = 0

    def hidden(self, x, scale=1.0):
        return np.tanh(scale * (self.W @ x))

    def predict(self, x):
        return self.v @ self.hidden(x, scale=0.5)

    def loss(self, x):
        self.calls += 1
        return self.predict(x) ** 2 + np.log1p(self.error(x))


class Counting:
    def __init__(self):
        self.seen = 0.0

    def __call__(self, x):
        self.seen += 1.0  # an update of another object than the one differentiated
        return x[0] * x[1]


class Holder:
    def __init__(self):
        self.inner = Counting()

    def loss(self, x):
        return self.inner(x) + x[0]


@pytest.mark.parametrize("x", [[0.3, -0.7], [-1.2, 0.4], [2.0, 1.5]])
def test_a_method_calls_other_methods_and_a_held_callable_object(x):
    model = TwoLayer()
    x = np.array(x)
    g = s2sad.grad(model.loss)
    close(g(x), fd_gradient(model.loss, x))
    assert "self_W" in g.source and "hidden" not in g.source.split("def grad_loss")[1]


def test_a_replaced_method_or_held_object_compiles_again():
    model = TwoLayer()
    x = np.array([0.3, -0.7])
    g = s2sad.grad(model.loss)
    before = g(x)
    model.error = Quadratic(2.0, 1.0)  # another object held: read again
    close(g(x), fd_gradient(model.loss, x))
    assert not np.allclose(g(x), before)
    original = TwoLayer.predict
    try:
        TwoLayer.predict = lambda self, x: np.sum(self.hidden(x))  # the class's method
        close(g(x), fd_gradient(model.loss, x))
    finally:
        TwoLayer.predict = original


def test_an_update_of_a_held_object_is_refused_not_misapplied():
    with pytest.raises(s2sad.S2SADError):
        s2sad.grad(Holder().loss)(np.array([1.0, 2.0]))
