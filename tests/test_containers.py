"""Container parameters (s2sad/frontend/containers.py): lists of (W, b) tuples, dicts,
NamedTuples, dataclasses and objects, compiled for the structure of the arguments at
the first call.

Every derivative is compared with central finite differences (Ridders' extrapolation,
tests/oracles.py) taken leaf by leaf, element by element, on the containers themselves.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np
import pytest

import s2sad
from s2sad.frontend.containers import structure_key
from tests.oracles import derivative

RNG = np.random.default_rng(7)


# -- a finite-difference oracle on containers -----------------------------------------------
def _paths(x, path=()):
    """(path, leaf) of every number and array of container ``x``, depth first."""
    if isinstance(x, np.ndarray):
        yield path, x
    elif isinstance(x, float):  # (an int is a count, not perturbed)
        yield path, x
    elif isinstance(x, dict):
        for k, v in x.items():
            yield from _paths(v, (*path, k))
    elif isinstance(x, (list, tuple)):
        for i, v in enumerate(x):
            yield from _paths(v, (*path, i))
    elif dataclasses.is_dataclass(x) or hasattr(x, "__dict__"):
        for k, v in vars(x).items():
            yield from _paths(v, (*path, k))


def _get(x, path):
    for k in path:
        x = x[k] if isinstance(x, (dict, list, tuple)) else getattr(x, k)
    return x


def _replace(x, path, value):
    """A copy of container ``x`` with the leaf at ``path`` replaced (the rest shared)."""
    if not path:
        return value
    k, rest = path[0], path[1:]
    if isinstance(x, dict):
        return {**x, k: _replace(x[k], rest, value)}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return x._replace(**{x._fields[k]: _replace(x[k], rest, value)})
    if isinstance(x, (list, tuple)):
        items = list(x)
        items[k] = _replace(x[k], rest, value)
        return type(x)(items)
    new = type(x).__new__(type(x))
    new.__dict__.update(vars(x))
    object.__setattr__(new, k, _replace(getattr(x, k), rest, value))
    return new


def fd_grad(f, args, i=0):
    """The gradient of scalar ``f(*args)`` with respect to container ``args[i]``, as
    {path: gradient of that leaf}."""
    out = {}
    for path, leaf in _paths(args[i]):
        def along(t, path=path, leaf=leaf, flat=None):
            moved = np.array(leaf, dtype=float)
            moved.flat[flat] += t
            value = moved if isinstance(leaf, np.ndarray) else float(moved)
            call = list(args)
            call[i] = _replace(args[i], path, value)
            return float(f(*call))

        if isinstance(leaf, np.ndarray):
            out[path] = np.array([derivative(lambda t, k=k: along(t, flat=k), 0.0)
                                  for k in range(leaf.size)]).reshape(leaf.shape)
        else:
            out[path] = derivative(lambda t: along(t, flat=0), 0.0)
    return out


def assert_grad_like(got, want: dict, like, rtol=1e-6, atol=1e-8):
    """``got`` has the structure and class of ``like``, and its leaves are ``want``."""
    assert structure_key(got) == structure_key(like) or type(got) is type(like)
    for path, value in want.items():
        np.testing.assert_allclose(_get(got, path), value, rtol=rtol, atol=atol,
                                   err_msg=str(path))


# -- the models --------------------------------------------------------------------------------
def mlp(params, x):
    for W, b in params[:-1]:
        x = np.tanh(W @ x + b)
    W, b = params[-1]
    return np.sum((W @ x + b) ** 2)


def layers(sizes):
    return [(RNG.normal(size=(m, n)), RNG.normal(size=m))
            for n, m in zip(sizes, sizes[1:], strict=False)]


def dict_model(p, x):
    h = np.tanh(p["W1"] @ x + p["b1"])
    return np.sum(p["W2"] @ h) * p["scale"] + p["scale"] ** 2


class Linear(NamedTuple):
    w: np.ndarray
    c: float


@dataclasses.dataclass
class Affine:
    w: np.ndarray
    c: float
    name: str = "affine"


@dataclasses.dataclass(frozen=True)
class Frozen:
    w: np.ndarray
    c: float


def linear_loss(p, x):
    return np.sum(np.sin(p.w * x)) * p.c + p.c ** 3


X3 = np.array([0.3, -1.2, 2.0])


@pytest.mark.parametrize("sizes", [(3, 4, 1), (3, 5, 4, 2)])
def test_a_list_of_layer_tuples(sizes):
    params = layers(sizes)
    g = s2sad.grad(mlp)
    got = g(params, X3)
    assert isinstance(got, list) and all(isinstance(t, tuple) for t in got)
    assert_grad_like(got, fd_grad(mlp, (params, X3)), params)
    # the generated code unpacks and packs the layers, as a person would write it
    assert "(W, b), (W_1, b_1)" in g.source
    assert "return [(W_bar, b_bar), (W_1_bar, b_1_bar)" in g.source


def test_each_structure_is_compiled_once():
    def net(params, x):  # a function of its own: the compiled ones are cached per function
        for W, b in params:
            x = np.sin(W @ x + b)
        return np.sum(x)

    g = s2sad.grad(net)
    two, three = layers((3, 4, 1)), layers((3, 4, 4, 1))
    g(two, X3)
    first = g.source
    g(three, X3)
    assert "W_2" not in first and "W_2" in g.source
    assert len(g.table) == 2
    g(layers((3, 4, 1)), -X3)  # same structure, other values: no new compile
    assert len(g.table) == 2
    assert s2sad.grad(net) is g
    assert_grad_like(g(three, -X3), fd_grad(net, (three, -X3)), three)


def test_source_is_known_after_the_first_call():
    g = s2sad.grad(dict_model)
    with pytest.raises(AttributeError, match="first call"):
        g.source  # noqa: B018
    p = {"W1": RNG.normal(size=(2, 3)), "b1": RNG.normal(size=2), "W2": RNG.normal(size=(1, 2)),
         "scale": -0.7}
    assert g.specialize(p, X3) is g.specialize(p, X3)
    assert "p['W1']" in g.source


@pytest.mark.parametrize("scale", [-0.7, 1.3])
def test_a_dict_of_arrays_and_numbers(scale):
    p = {"W1": RNG.normal(size=(2, 3)), "b1": RNG.normal(size=2), "W2": RNG.normal(size=(1, 2)),
         "scale": scale, "note": "a string rides along"}
    value, got = s2sad.value_and_grad(dict_model)(p, X3)
    assert value == pytest.approx(dict_model(p, X3))
    assert list(got) == list(p) and got["note"] is None
    assert_grad_like(got, fd_grad(dict_model, (p, X3)), p)


@pytest.mark.parametrize("make", [lambda: Linear(np.array([0.5, -1.0, 2.0]), 1.5),
                                  lambda: Affine(np.array([0.5, -1.0, 2.0]), -0.8),
                                  lambda: Frozen(np.array([-0.5, 1.0, 0.2]), 0.9)])
def test_namedtuples_and_dataclasses_come_back_as_their_class(make):
    p = make()
    got = s2sad.grad(linear_loss)(p, X3)
    assert type(got) is type(p)
    assert_grad_like(got, fd_grad(linear_loss, (p, X3)), p)
    if isinstance(p, Affine):
        assert got.name == "affine"  # fields that are not numbers keep their values


def test_forward_mode_on_a_dict_of_numbers():
    def f(p, x):
        return math.sin(p["a"] * x) + p["b"] ** 2 * p["a"]

    for p in ({"a": 0.4, "b": -1.1}, {"a": -2.0, "b": 0.3}):
        for mode in ("forward", "reverse"):
            got = s2sad.grad(f, mode=mode)(p, 0.7)
            assert set(got) == {"a", "b"}
            assert_grad_like(got, fd_grad(f, (p, 0.7)), p)


def test_jvp_vjp_and_hvp_take_containers():
    params = layers((3, 2, 1))
    tangent = layers((3, 2, 1))

    def along(t):
        moved = [(W + t * dW, b + t * db) for (W, b), (dW, db) in zip(params, tangent,
                                                                       strict=True)]
        return mlp(moved, X3)

    value, out_dot = s2sad.jvp(mlp)(params, X3, tangent)
    assert value == pytest.approx(mlp(params, X3))
    assert out_dot == pytest.approx(derivative(along, 0.0), rel=1e-6)
    value, cot = s2sad.vjp(mlp)(params, X3, 2.0)
    assert_grad_like(cot, {k: 2.0 * v for k, v in fd_grad(mlp, (params, X3)).items()}, params)
    hv = s2sad.hvp(mlp)(params, X3, tangent)
    g = s2sad.grad(mlp)

    def grad_along(t):  # the directional derivative of the gradient, by differences
        moved = [(W + t * dW, b + t * db) for (W, b), (dW, db) in zip(params, tangent,
                                                                       strict=True)]
        return g(moved, X3)

    for k, (W, b) in enumerate(hv):
        for j, part in enumerate((W, b)):
            want = np.array([derivative(lambda t, f=f, k=k, j=j: grad_along(t)[k][j].flat[f], 0.0)
                             for f in range(part.size)]).reshape(part.shape)
            np.testing.assert_allclose(part, want, rtol=1e-5, atol=1e-7)


def test_loops_over_containers_every_way():
    def f(p, q, x):
        total = 0.0
        for k, v in p.items():
            total = total + np.sum(v * x) * len(k)
        for i, (W, b) in enumerate(q):
            total = total + i * np.sum(W @ x + b)
        for W, b in reversed(q):
            total = total * 0.5 + np.sum(b ** 2) + np.sum(W)
        total = total + sum(np.sum(v ** 2) for v in p.values())
        for key in p:
            total = total + np.sum(np.cos(p[key]))
        return total + len(q)

    p = {"u": RNG.normal(size=3), "v": RNG.normal(size=3)}
    q = [(RNG.normal(size=(2, 3)), RNG.normal(size=2)) for _ in range(2)]
    got = s2sad.grad(f, wrt=(0, 1))(p, q, X3)
    assert_grad_like(got[0], fd_grad(f, (p, q, X3), 0), p)
    assert_grad_like(got[1], fd_grad(f, (p, q, X3), 1), q)


def test_nested_containers():
    def f(model, x):
        enc = model["encoder"]
        h = np.tanh(enc[0][0] @ x + enc[0][1])
        return np.sum(model["head"].w * h) * model["head"].c

    model = {"encoder": [(RNG.normal(size=(3, 3)), RNG.normal(size=3))],
             "head": Linear(RNG.normal(size=3), 0.6)}
    got = s2sad.grad(f)(model, X3)
    assert type(got["head"]) is Linear and isinstance(got["encoder"][0], tuple)
    assert_grad_like(got, fd_grad(f, (model, X3)), model)


def test_a_function_passed_as_an_argument_is_a_compile_time_choice():
    def act_sq(t):
        return t * t

    def f(w, act, x):
        return np.sum(act(w * x))

    g = s2sad.grad(f)
    w = np.array([0.2, -0.4, 1.1])
    for act in (np.tanh, np.sin, act_sq, lambda t: np.exp(-t)):
        want = fd_grad(lambda w, act, x: f(w[0], act, x), ([w], act, X3))[(0,)]
        np.testing.assert_allclose(g(w, act, X3), want, rtol=1e-6, atol=1e-8)
    assert len(g.table) == 4


def test_an_object_as_self_and_as_data():
    class Model:
        def __init__(self):
            self.W = RNG.normal(size=(2, 3))
            self.b = np.array([0.1, -0.2])
            self.depth = 2

        def loss(self, x):
            h = x
            for _ in range(self.depth):
                h = np.tanh(self.W @ X3 + self.b) * np.sum(h)
            return np.sum(h ** 2)

    model = Model()
    by_self = s2sad.grad(Model.loss, wrt="self")(model, X3)
    assert type(by_self) is Model and by_self is not model
    want = fd_grad(Model.loss, (model, X3))
    np.testing.assert_allclose(by_self.W, want[("W",)], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(by_self.b, want[("b",)], rtol=1e-6, atol=1e-8)


def test_containers_of_other_shapes_and_errors():
    def f(p, x):
        return np.sum(p["W"] @ x)

    g = s2sad.grad(f)
    with pytest.raises(s2sad.S2SADError, match="no key 'W'"):
        g({"V": np.eye(3)}, X3)
    with pytest.raises(s2sad.S2SADError, match="string key 'W'"):
        g(np.eye(3), X3)  # an array is not a dict: the error of the construct

    def by_runtime_index(params, k):
        return np.sum(params[k][0])

    with pytest.raises(s2sad.S2SADError, match="must be a constant"):
        s2sad.grad(by_runtime_index)(layers((2, 2, 2)), 1)
    with pytest.raises(s2sad.S2SADError, match="hessian with respect to the container"):
        s2sad.hessian(mlp)(layers((3, 1)), X3)

    def returns_dict(p):
        return {"y": p["a"]}

    with pytest.raises(s2sad.S2SADError, match="returns a dict"):
        s2sad.grad(returns_dict)({"a": 1.0})
    assert s2sad.jvp(returns_dict)({"a": 1.0}, {"a": 3.0}) == ({"y": 1.0}, {"y": 3.0})


def test_the_command_line_says_why_it_cannot_compile_a_container(tmp_path):
    from s2sad.frontend import lower, parse_file

    src = tmp_path / "model.py"
    src.write_text("def loss(params, x):\n"
                   "    for W, b in params:\n"
                   "        x = W @ x + b\n"
                   "    return x.sum()\n")
    with pytest.raises(s2sad.S2SADError) as info:
        lower(parse_file(src).functions["loss"])
    text = str(info.value)
    assert ":2:" in text and "Python API" in text and "separate parameters" in text


def test_structure_keys():
    assert structure_key(1.5) == "n" and structure_key(np.ones(2)) == "a"
    assert structure_key([1.0, 2.0]) == "l"
    assert structure_key([(np.ones(2), 1.0)]) == ("list", ("tuple", "a", "n"))
    assert structure_key({"a": None}) == ("dict", ("a",), ("static", None))
    assert structure_key(Linear(np.ones(1), 1.0)) == ("namedtuple", Linear, "a", "n")
    assert structure_key(Frozen(np.ones(1), 2.0)) == ("dataclass", Frozen, ("w", "c"), "a", "n")


def test_strings_and_dicts_built_in_the_function():
    def f(cfg, x):
        scaled = {"a": x * cfg["scale"], "b": x + 1.0}
        if cfg["act"] == "tanh":
            y = np.tanh(scaled["a"])
        else:
            y = np.sin(scaled["a"])
        if cfg["bias"] is None:
            return np.sum(y * scaled["b"])
        return np.sum(y * scaled["b"]) + cfg["bias"]

    g = s2sad.grad(f, wrt=(0, 1))
    x = np.array([0.3, -0.8])
    for cfg in ({"scale": 1.7, "act": "tanh", "bias": None},
                {"scale": -0.4, "act": "sin", "bias": 0.5}):
        got_cfg, got_x = g(cfg, x)
        assert got_cfg["act"] is None
        assert got_cfg["scale"] == pytest.approx(fd_grad(f, (cfg, x))[("scale",)], rel=1e-6)
        np.testing.assert_allclose(got_x, fd_grad(lambda c, x: f(c, x[0]), (cfg, [x]), 1)[(0,)],
                                   rtol=1e-6)
    assert len(g.table) == 2


def test_star_arguments_of_containers_and_zip_with_lists():
    def unpack(p):
        return p["means"], p["weights"], p["shifts"]

    def f(p, x):
        total = 0.0
        for m, w, c in zip(*unpack(p)):  # noqa: B905 (autograd's GMM example)
            total = total + np.sum(np.tanh(m * x)) * w + c * c
        return total + np.sum(np.arctan2(*p["pair"]))

    p = {"means": [np.array([0.3, -0.2]), np.array([1.1, 0.4])], "weights": [0.5, -1.5],
         "shifts": [1.0, -0.3], "pair": (np.array([0.7, -0.1]), np.array([1.2, 0.9]))}
    x = np.array([1.0, -2.0])
    assert_grad_like(s2sad.grad(f)(p, x), fd_grad(f, (p, x)), p)


@pytest.mark.parametrize("annotated", [True, False])
def test_for_row_in_an_array(annotated):
    """``for row in X`` iterates rows, as NumPy does: a loop over ``X[i]`` (an unannotated
    parameter may also be a list of arrays: compiled for the argument)."""
    def rows(w, X: np.ndarray):
        total = 0.0
        for i, row in enumerate(X[1:]):
            total = total + (i + 1.0) * np.sum(np.tanh(row * w))
        for row, v in zip(X, w, strict=True):
            total = total + np.sum(row) * v
        return total

    def rows_plain(w, X):
        return rows(w, X)

    f = rows if annotated else rows_plain
    X = RNG.normal(size=(3, 3))
    w = np.array([0.3, -0.7, 1.2])
    got = s2sad.grad(f, wrt=(0, 1))(w, X)
    want = fd_grad(lambda a, X: f(a[0], X[0]), ([w], [X]), 0)[(0,)], fd_grad(
        lambda a, X: f(a[0], X[0]), ([w], [X]), 1)[(0,)]
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="different lengths"):  # zip's strict check, kept
        s2sad.grad(f, wrt=(0, 1))(w[:2], X)


SHAPES = [(3, 2), (2, 1)]  # data of the environment: read by value, guarded by value


def unpack_flat(w, x):
    """Autograd's examples keep a list of layer shapes and cut a flat weight vector."""
    h = x
    start = 0
    for m, n in SHAPES:
        W = w[start:start + m * n].reshape((m, n))
        h = np.tanh(h @ W)
        start = start + m * n
    return np.sum(h ** 2)


def test_lists_of_the_environment_are_compile_time_data_guarded_by_value():
    w = RNG.normal(size=8)
    g = s2sad.grad(unpack_flat)
    want = fd_grad(lambda a, x: unpack_flat(a[0], x), ([w], X3), 0)[(0,)]
    np.testing.assert_allclose(g(w, X3), want, rtol=1e-6, atol=1e-8)
    try:
        SHAPES[1] = (2, 2)  # changed in place: the same list object, another value
        w2 = RNG.normal(size=10)
        want = fd_grad(lambda a, x: unpack_flat(a[0], x), ([w2], X3), 0)[(0,)]
        np.testing.assert_allclose(g(w2, X3), want, rtol=1e-6, atol=1e-8)
    finally:
        SHAPES[1] = (2, 1)

    def closure_over(shapes):
        def loss(w):
            return sum(np.sum(w[:m] * n) for m, n in shapes)
        return loss

    loss = closure_over([(2, 3.0), (3, -1.0)])
    np.testing.assert_allclose(s2sad.grad(loss)(np.array([1.0, 2.0, 3.0])), [2.0, 2.0, -1.0])


@pytest.mark.parametrize("xs", [[0.5, -1.0], [2.0, 0.25, 3.0]])
def test_extend_appends_each_item(xs):
    def f(xs, a):
        ys = list(xs)
        ys.extend([a, a * a])
        ys.extend(xs)
        total = 0.0
        for v in ys:
            total = total + math.sin(v) * v
        return total

    ga = s2sad.grad(f, wrt=1)(xs, 0.7)
    assert ga == pytest.approx(derivative(lambda t: f(xs, t), 0.7), rel=1e-7)
    gx = s2sad.grad(f)(xs, 0.7)
    for i in range(len(xs)):
        assert gx[i] == pytest.approx(derivative(
            lambda t, i=i: f(xs[:i] + [t] + xs[i + 1:], 0.7), xs[i]), rel=1e-7)


def star_sum(x, *ys):
    total = x * x
    for y in ys:
        total = total + math.sin(x * y) * y
    return total


@pytest.mark.parametrize("ys", [(), (1.0,), (0.5, -2.0, 3.0)])
def test_star_args_the_function_reads(ys):
    x = 0.7
    gx, gys = s2sad.grad(star_sum, wrt=(0, 1))(x, *ys)
    assert gx == pytest.approx(derivative(lambda t: star_sum(t, *ys), x), rel=1e-7)
    assert isinstance(gys, tuple) and len(gys) == len(ys)
    for i in range(len(ys)):
        moved = lambda t, i=i: star_sum(x, *ys[:i], t, *ys[i + 1:])  # noqa: E731
        assert gys[i] == pytest.approx(derivative(moved, ys[i]), rel=1e-7)
    assert s2sad.grad(star_sum)(x, *ys) == pytest.approx(gx)


def test_decorated_functions_and_methods_take_containers():
    @s2sad.differentiable
    def loss(params, x):
        return sum(np.sum(np.tanh(W @ x + b)) for W, b in params)

    class Model:
        def __init__(self):
            self.scale = -1.5

        @s2sad.differentiable
        def loss(self, params, x):
            return self.scale * loss(params, x)

    params = layers((3, 3, 3))[:1] + [(RNG.normal(size=(3, 3)), RNG.normal(size=3))]
    want = fd_grad(loss, (params, X3))
    assert_grad_like(loss.grad(params, X3), want, params)
    m = Model()
    scaled = {k: -1.5 * v for k, v in want.items()}
    assert_grad_like(m.loss.grad(params, X3), scaled, params)
    assert_grad_like(s2sad.grad(m.loss)(params, X3), scaled, params)


def dict_out(p, x):
    h = np.tanh(p["W"] @ x)
    return {"loss": np.sum(h ** 2) * p["c"], "parts": (np.sum(h), math.sin(p["c"]))}


def test_a_dict_result_for_jvp_and_vjp():
    p = {"W": RNG.normal(size=(2, 3)), "c": 0.8}
    dp = {"W": RNG.normal(size=(2, 3)), "c": -0.5}

    def along(t):
        return dict_out({"W": p["W"] + t * dp["W"], "c": p["c"] + t * dp["c"]}, X3)

    value, tangent = s2sad.jvp(dict_out)(p, X3, dp)
    assert set(value) == {"loss", "parts"} and value["loss"] == pytest.approx(
        dict_out(p, X3)["loss"])
    assert tangent["loss"] == pytest.approx(derivative(lambda t: along(t)["loss"], 0.0))
    for k in (0, 1):
        assert tangent["parts"][k] == pytest.approx(
            derivative(lambda t, k=k: along(t)["parts"][k], 0.0))
    weights = {"loss": 1.5, "parts": (-2.0, 0.25)}

    def weighted(p, x):
        out = dict_out(p, x)
        return (1.5 * out["loss"] - 2.0 * out["parts"][0] + 0.25 * out["parts"][1])

    value, cot = s2sad.vjp(dict_out)(p, X3, weights)
    assert_grad_like(cot, fd_grad(weighted, (p, X3)), p)
    with pytest.raises(s2sad.S2SADError, match="returns a dict"):
        s2sad.grad(dict_out)(p, X3)


def _concat_and_multiply(weights, *args):  # autograd's RNN and LSTM examples, as written
    cat_state = np.hstack(args + (np.ones((args[0].shape[0], 1)),))
    return np.dot(cat_state, weights)


def _rows_of(p):
    return p["a"], p["b"], p["c"]


def test_star_args_of_helpers_tuple_sums_and_zip_of_a_helpers_tuple():
    def rnn_step(W, x, h):
        return np.sum(np.tanh(_concat_and_multiply(W, x, h)) ** 2)

    W = RNG.normal(size=(5, 2))
    x, h = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))
    got = s2sad.grad(rnn_step, wrt=(0, 2))(W, x, h)
    np.testing.assert_allclose(got[0], fd_grad(lambda a, x, h: rnn_step(a[0], x, h),
                                               ([W], x, h))[(0,)], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got[1], fd_grad(lambda a, W, x: rnn_step(W, x, a[0]),
                                               ([h], W, x))[(0,)], rtol=1e-6, atol=1e-8)

    def gmm_like(p, x):  # autograd's GMM: zip(*unpack(params)) over arrays' rows
        total = 0.0
        for a, b, c in zip(*_rows_of(p), strict=True):
            total = total + np.sum(np.tanh(a * x) * b) + c
        return total

    p = {"a": RNG.normal(size=(3, 2)), "b": RNG.normal(size=(3, 2)), "c": RNG.normal(size=3)}
    x2 = np.array([0.4, -1.1])
    assert_grad_like(s2sad.grad(gmm_like)(p, x2), fd_grad(gmm_like, (p, x2)), p)
