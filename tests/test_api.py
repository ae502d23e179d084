"""The Python API's calling conventions (s2sad/api.py): methods and bound methods, and
the extra arguments of ``jvp``/``vjp``/``hvp`` for functions with defaults.

Derivatives are compared with finite differences (tests/oracles.py).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad
from tests.oracles import assert_close, derivative

POINTS = (-1.7, 0.3, 2.2)


class Model:
    """A class whose methods read no attributes of ``self`` (attributes are data of
    the environment: a later issue)."""

    @s2sad.differentiable
    def loss(self, w):
        return math.sin(w) * w + w ** 2

    @s2sad.differentiable(wrt="b")
    def two(self, a, b):
        return a * b ** 3

    def plain(self, w, v):
        return math.exp(w) * v


def fd_array(f, x, h=1e-6):
    out = np.zeros_like(x)
    for i in range(len(x)):
        e = np.zeros_like(x)
        e[i] = h
        out[i] = (f(x + e) - f(x - e)) / (2 * h)
    return out


def d_loss(w):
    return derivative(lambda t: math.sin(t) * t + t ** 2, w)


@pytest.mark.parametrize("w", POINTS)
def test_differentiable_method_is_differentiated_after_self(w):
    m = Model()
    assert_close(Model.loss.grad(m, w), d_loss(w))  # through the class, self explicit
    assert_close(m.loss.grad(w), d_loss(w))  # through an instance, self bound
    value, grad = m.loss.value_and_grad(w)
    assert_close(value, m.loss(w))
    assert_close(grad, d_loss(w))
    assert_close(m.loss.jvp(w, 0.5)[1], 0.5 * d_loss(w))
    assert_close(m.loss.vjp(w, -2.0)[1], -2.0 * d_loss(w))
    assert_close(m.two.grad(1.5, w), derivative(lambda b: 1.5 * b ** 3, w))


def test_differentiable_method_never_differentiates_self():
    """The old answer was 0.0 (the derivative with respect to self)."""
    m = Model()
    assert m.loss.grad(1.0) != 0.0
    assert "With respect to w." in m.loss.grad.source


@pytest.mark.parametrize("w", POINTS)
def test_bound_methods_are_differentiated_after_self(w):
    m = Model()
    assert_close(s2sad.grad(m.plain)(w, 3.0), 3.0 * math.exp(w))
    assert_close(s2sad.grad(m.plain, wrt="v")(w, 3.0), math.exp(w))
    gw, gv = s2sad.grad(m.plain, wrt=(0, 1))(w, 3.0)
    assert_close((gw, gv), (3.0 * math.exp(w), math.exp(w)))
    assert_close(s2sad.grad(Model.plain, wrt=1)(m, w, 3.0), 3.0 * math.exp(w))


class Shekel:
    """Written as SciPy's benchmark classes are: constants in __init__, read as self.*."""

    def __init__(self):
        self.N = 2
        self.scale = 0.5
        self.A = np.array([[4.0, 4.0], [1.0, 1.0], [8.0, 8.0]])
        self.c = np.array([0.1, 0.2, 0.2])

    def fun(self, x, *args):
        total = 0.0
        for i in range(self.c.shape[0]):
            d = 0.0
            for j in range(self.N):
                d += (x[j] - self.A[i, j]) ** 2
            total += -1.0 / (d + self.c[i])
        return self.scale * total


@pytest.mark.parametrize("x", [np.array([4.2, 3.9]), np.array([-1.0, 2.5])])
def test_a_bound_method_reads_its_objects_attributes(x):
    obj = Shekel()
    g = s2sad.grad(obj.fun)
    np.testing.assert_allclose(g(x), fd_array(obj.fun, x), rtol=1e-6, atol=1e-9)
    obj.scale = -2.0  # a number rebound: compiled again
    np.testing.assert_allclose(g(x), fd_array(obj.fun, x), rtol=1e-6, atol=1e-9)
    obj.A[0, 0] = 3.0  # an array changed in place: read when the gradient runs
    np.testing.assert_allclose(g(x), fd_array(obj.fun, x), rtol=1e-6, atol=1e-9)
    other = Shekel()
    other.c = np.array([0.5, 0.5, 0.5])  # another object: its own derivative
    np.testing.assert_allclose(s2sad.grad(other.fun)(x), fd_array(other.fun, x),
                               rtol=1e-6, atol=1e-9)


def test_a_differentiable_method_reads_the_attributes_of_its_object():
    class Scaled:
        def __init__(self, scale):
            self.scale = scale

        @s2sad.differentiable
        def loss(self, w):
            return self.scale * w * w

    a, b = Scaled(2.0), Scaled(-3.0)
    assert a.loss.grad(1.5) == 6.0 and b.loss.grad(1.5) == -9.0
    assert Scaled.loss.grad(a, 1.5) == 6.0
    assert a.loss.value_and_grad(1.0) == (2.0, 4.0)


def test_an_attribute_s2sad_cannot_read_is_refused_with_a_location():
    class Setty:
        weights = {1.0, 2.0}

        def loss(self, w):
            return min(self.weights) * w

    with pytest.raises(s2sad.S2SADError, match="self.weights") as info:
        s2sad.grad(Setty().loss)
    assert info.value.lineno is not None


def test_a_list_attribute_is_data_compared_by_value():
    class Listy:
        def __init__(self):
            self.weights = [1.0, 2.0]

        def loss(self, w):
            return self.weights[0] * w * w + self.weights[1] * w

    obj = Listy()
    g = s2sad.grad(obj.loss)
    assert_close(g(1.5), 2.0 * 1.5 + 2.0)
    obj.weights[0] = -3.0  # changed in place: compiled again
    assert_close(g(1.5), -6.0 * 1.5 + 2.0)


def with_default(x, scale=2.0):
    return scale * x * x + math.sin(x)


@pytest.mark.parametrize("x", POINTS)
def test_jvp_of_a_function_with_defaults_takes_keyword_tangents(x):
    jf = s2sad.jvp(with_default)
    d = derivative(with_default, x)
    value, tangent = jf(x, x_dot=0.5)  # the default applies
    assert_close((value, tangent), (with_default(x), 0.5 * d))
    value, tangent = jf(x, -1.0, x_dot=0.5)  # or the argument is given
    assert_close(tangent, 0.5 * derivative(lambda t: with_default(t, -1.0), x))
    with pytest.raises(TypeError, match="x_dot"):
        jf(x, 0.5)  # never read as (x, scale) with a silent missing tangent


def test_vjp_and_hvp_of_a_function_with_defaults_take_keyword_extras():
    x = 0.8
    vf = s2sad.vjp(with_default)
    value, xbar = vf(x, out_bar=2.0)
    assert_close(xbar, 2.0 * derivative(with_default, x))
    assert_close(value, with_default(x))
    hv = s2sad.hvp(with_default)
    assert_close(hv(x, x_dot=1.5), 1.5 * (4.0 - math.sin(x)))
    with pytest.raises(TypeError):
        hv(x, 1.5)


def test_without_defaults_the_extras_stay_positional():
    def f(x, y):
        return x * y

    assert s2sad.jvp(f, wrt=(0, 1))(2.0, 3.0, 1.0, 0.0) == (6.0, 3.0)


class Ackley:
    """SciPy's benchmark classes define their objective as ``fun(self, x, *args)``."""

    def fun(self, x, *args):
        return (-20.0 * np.exp(-0.2 * np.sqrt(np.mean(x ** 2)))
                - np.exp(np.mean(np.cos(2.0 * np.pi * x))) + 20.0 + np.exp(1.0))


@pytest.mark.parametrize("x", [np.array([0.3, -0.4]), np.array([-1.2, 2.5, 0.7])])
def test_unread_star_args_are_accepted_and_ignored(x):
    obj = Ackley()
    g = s2sad.grad(obj.fun)
    np.testing.assert_allclose(g(x), fd_array(obj.fun, x), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g(x, "any", 3), g(x))  # scipy.optimize passes args=() on
    assert "def grad_fun(self, x, *args):" in g.source


def test_star_args_make_the_extras_keyword_only():
    def f(x, y, *args, **kw):
        return x * y * y

    assert s2sad.grad(f)(2.0, 3.0, 7, z=1) == 9.0
    assert s2sad.jvp(f)(2.0, 3.0, 5, x_dot=1.0) == (18.0, 9.0)
    assert s2sad.vjp(f)(2.0, 3.0, out_bar=2.0) == (18.0, 18.0)


def test_star_args_that_are_read_are_compiled_for_the_call():
    def f(x, *args):
        return x * args[0]

    g = s2sad.grad(f, wrt=(0, 1))
    assert g(2.0, 3.0, 5.0) == (3.0, (2.0, 0.0))  # args[1] is not read: its zero
    with pytest.raises(s2sad.S2SADError, match="a tuple or list of 0 items") as info:
        g(2.0)  # args[0] of no extra arguments: located where it is read
    assert info.value.lineno == f.__code__.co_firstlineno + 1


class Counted:
    """SciPy's benchmark classes count evaluations: `self.nfev += 1` opens `fun`."""

    def __init__(self):
        self.nfev = 0
        self.N = 3

    def fun(self, x, *args):
        self.nfev += 1
        u = sum(x ** 2)  # the builtin sum of an array, as the benchmarks write it
        return np.exp(-0.2 * np.sqrt(u / self.N)) + np.sum(np.cos(x))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_side_effect_on_self_runs_once_per_call(mode):
    obj = Counted()
    x = np.array([0.3, -1.2, 0.8])
    if mode == "reverse":
        g = s2sad.grad(obj.fun)
        np.testing.assert_allclose(g(x), fd_array(lambda v: Counted().fun(v), x),
                                   rtol=1e-6, atol=1e-9)
        assert obj.nfev == 1
        s2sad.value_and_grad(obj.fun)(x)
        assert obj.nfev == 2
        assert "self.nfev += 1" in g.source
    else:
        _, tangent = s2sad.jvp(obj.fun)(x, x_dot=np.array([1.0, 0.0, 0.0]))
        assert obj.nfev == 1
        assert tangent == pytest.approx(fd_array(lambda v: Counted().fun(v), x)[0])


def test_a_side_effect_in_a_loop_or_on_a_read_attribute_is_refused():
    class InLoop:
        def fun(self, x):
            for _ in range(3):
                self.nfev += 1
            return x * x

    class ReadBack:
        nfev = 0

        def fun(self, x):
            self.nfev += 1
            return x * self.nfev

    with pytest.raises(s2sad.S2SADError, match="inside a loop"):
        s2sad.grad(InLoop().fun)
    with pytest.raises(s2sad.S2SADError, match="also reads it"):
        s2sad.grad(ReadBack().fun)


def mse(w, X, y):
    r = X @ w - y
    return 0.5 * np.mean(r * r)


def test_a_lambda_is_differentiated_with_its_closure():
    """How optimisers are called: s2sad.grad(lambda w: loss(w, X, y))."""
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(8, 3)), rng.normal(size=8)
    g = s2sad.grad(lambda w: mse(w, X, y))
    for w in (np.array([0.1, -0.3, 0.5]), np.array([-2.0, 1.0, 0.0])):
        np.testing.assert_allclose(g(w), fd_array(lambda v: mse(v, X, y), w), rtol=1e-6,
                                   atol=1e-9)
    assert "def grad_lambda_(w):" in g.source
    both = s2sad.grad(lambda a, b: a * b + math.sin(a), wrt=(0, 1))
    assert_close(both(-0.7, 2.0), (2.0 + math.cos(-0.7), -0.7))


def test_lambdas_that_cannot_be_told_apart_are_refused():
    pair = [lambda t: t * t, lambda t: t * t * t]
    with pytest.raises(s2sad.S2SADError, match="2 lambdas"):
        s2sad.grad(pair[1])


@pytest.mark.parametrize("x", [np.array([4.2, 3.9]), np.array([-1.0, 2.5])])
def test_a_method_taken_without_its_object_takes_the_object_first(x):
    """``Shekel.fun`` is a function of (self, x): the object is an argument, read as a
    container of its attributes (compiled at the first call), and ``wrt="self"`` gives
    the derivative with respect to its numbers as an object of the same class."""
    obj = Shekel()
    g = s2sad.grad(Shekel.fun, wrt=1)
    np.testing.assert_allclose(g(obj, x), fd_array(obj.fun, x), rtol=1e-6, atol=1e-9)
    by_self = s2sad.grad(Shekel.fun, wrt="self")(obj, x)
    assert type(by_self) is Shekel and by_self is not obj

    def with_scale(s):
        other = Shekel()
        other.scale = s
        return other.fun(x)

    assert_close(by_self.scale, derivative(with_scale, obj.scale), rtol=1e-6)
    c_bar = fd_array(lambda c: _with(obj, c=c).fun(x), obj.c)
    np.testing.assert_allclose(by_self.c, c_bar, rtol=1e-6, atol=1e-9)


def _with(obj, **fields):
    new = Shekel()
    new.__dict__.update(vars(obj))
    new.__dict__.update(fields)
    return new


def _mse(w, X, y):
    return np.mean((X @ w - y) ** 2)


@pytest.mark.parametrize("w", [np.array([0.2, -0.3]), np.array([-1.5, 0.7])])
def test_a_functools_partial_is_differentiated_as_it_calls(w):
    import functools

    X = np.array([[0.0, 1.0], [2.0, -3.0], [4.0, 0.5]])
    y = np.array([1.0, -1.0, 0.5])
    want = fd_array(lambda v: _mse(v, X, y), w)
    by_keyword = s2sad.grad(functools.partial(_mse, X=X, y=y))
    np.testing.assert_allclose(by_keyword(w), want, rtol=1e-6, atol=1e-9)
    assert "def grad__mse(w, X, y)" in by_keyword.source

    def swapped(X, w, y):
        return _mse(w, X, y)

    np.testing.assert_allclose(s2sad.grad(functools.partial(swapped, X), wrt=0)(w, y), want,
                               rtol=1e-6, atol=1e-9)
    value, got = s2sad.value_and_grad(functools.partial(_mse, X=X, y=y))(w)
    assert value == pytest.approx(_mse(w, X, y))
    with pytest.raises(s2sad.S2SADError, match="partial with keyword"):
        s2sad.jvp(functools.partial(_mse, X=X, y=y))


@pytest.mark.parametrize("xs", [[0.1, -0.5, 2.0], [1.5, 0.25, -3.0]])
def test_map_is_the_comprehension_it_means(xs):
    def square(t):
        return t * t

    def f(xs, ys):
        return (sum(map(math.sin, xs)) + sum(map(square, xs))
                + sum(list(map(lambda a, b: a * b, xs, ys))))

    ys = [2.0, -1.0, 0.5]
    gx, gy = s2sad.grad(f, wrt=(0, 1))(xs, ys)
    for i in range(3):
        assert_close(gx[i], derivative(lambda t, i=i: f(xs[:i] + [t] + xs[i + 1:], ys), xs[i]))
        assert_close(gy[i], derivative(lambda t, i=i: f(xs, ys[:i] + [t] + ys[i + 1:]), ys[i]))


def _logsumexp(X, axis, keepdims=False):  # autograd's convnet example, as written
    max_X = np.max(X)
    return max_X + np.log(np.sum(np.exp(X - max_X), axis=axis, keepdims=keepdims))


def _moment(x, mode="sum", bias=None):
    y = np.sum(x ** 2) if mode == "sum" else np.mean(x ** 2)
    if bias is None:
        return y
    return y + bias


@pytest.mark.parametrize("X", [np.array([[1.0, 2.0], [0.5, -1.0]]),
                               np.array([[-3.0, 0.2], [0.1, 4.0]])])
def test_bool_string_and_none_defaults_are_compile_time_choices(X):
    g = s2sad.grad(lambda X: np.sum(_logsumexp(X, 0) ** 2))
    want = np.zeros_like(X)
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            def along(t, i=i, j=j):
                Y = X.copy()
                Y[i, j] = t
                return np.sum(_logsumexp(Y, 0) ** 2)
            want[i, j] = derivative(along, X[i, j])
    np.testing.assert_allclose(g(X), want, rtol=1e-6, atol=1e-9)
    x = X[0]
    gm = s2sad.grad(_moment)
    np.testing.assert_allclose(gm(x), 2.0 * x)
    np.testing.assert_allclose(gm(x, "sum", None), 2.0 * x)
    with pytest.raises(TypeError, match="compiled for mode='sum'"):
        gm(x, "mean")
    with pytest.raises(TypeError, match="compiled for bias=None"):
        gm(x, "sum", 1.0)


def _weighted(x, w=np.array([1.0, -2.0, 0.5]), c=np.array([[0.3], [1.2], [-0.4]])):  # noqa: B008
    # (skopt's hart6 is written this way)
    return np.sum(w * np.exp(-np.sum((x - c) ** 2, axis=1)))


@pytest.mark.parametrize("x", [np.array([0.2, -0.1]), np.array([1.5, 0.7])])
def test_array_defaults_are_arrays_held_by_name(x):
    g = s2sad.grad(_weighted)
    np.testing.assert_allclose(g(x), fd_array(_weighted, x), rtol=1e-6, atol=1e-9)
    assert "w=_default_w" in g.source
    w = np.array([0.5, 0.5, 2.0])
    np.testing.assert_allclose(s2sad.grad(_weighted, wrt="w")(x, w),
                               fd_array(lambda v: _weighted(x, v), w), rtol=1e-6, atol=1e-9)
    inlined = s2sad.grad(lambda x: _weighted(x) ** 2)
    np.testing.assert_allclose(inlined(x), fd_array(lambda v: _weighted(v) ** 2, x),
                               rtol=1e-6, atol=1e-9)
