"""Constructs whose error used to send users the wrong way, and which s2sad now supports:
for-loops over a constant slice of a list, ``max``/``min``/``sum`` of an array (NumPy's
``np.max``/``np.sum`` along axis 0, as Python's builtins iterate an array's first axis), and
``np.linalg.norm(x, axis=k)``.  Each is compared with finite differences, in both modes
where the argument is a number or a list."""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from tests.srcmod import load_source
from tests.test_numpy import fd_grad

SLICES = ["xs[1:]", "xs[:-1]", "xs[1:-1]", "xs[::2]", "xs[1::3]", "xs[-3:]", "xs[:10]",
          "xs[5:2]", "xs[-10:2]", "xs[2:]"]


def _slice_loop(spelled: str):
    src = (f"def f(xs, c):\n    s = c * c\n    for v in {spelled}:\n"
           "        s = s + v * v * c\n    return s\n")
    return load_source(src, "slice_loop").f


@pytest.mark.parametrize("spelled", SLICES)
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_for_loop_over_a_slice_of_a_list(spelled, mode):
    f = _slice_loop(spelled)
    for seed in range(3):
        xs = [float(v) for v in np.random.default_rng(seed).uniform(-2.0, 2.0, 5)]
        c = (-1.3, 0.4, 2.2)[seed]
        assert s2sad.value_and_grad(f, wrt=1, mode=mode)(xs, c)[0] == pytest.approx(f(xs, c))
        got = s2sad.grad(f, wrt=1, mode=mode)(xs, c)
        np.testing.assert_allclose(got, fd_grad(f, (xs, c), 1), rtol=1e-7)
        if mode == "reverse":
            got = s2sad.grad(f, wrt=0)(xs, c)
            want = fd_grad(lambda a, c: f(list(a), c), (np.array(xs), c), 0)
            np.testing.assert_allclose(np.asarray(got), want, rtol=1e-7, atol=1e-12)


def test_a_slice_loop_is_a_range_loop_in_the_generated_code():
    src = s2sad.grad(_slice_loop("xs[1:-1]"), wrt=0).source
    assert "range(" in src and "xs[1:" not in src, src


def max_abs(x: np.ndarray):
    return max(np.abs(x)) * min(x * x)


def sum_of_rows(X: np.ndarray, c):
    return np.sum(sum(X * c) ** 2) + sum(np.sin(X[0]), 2.0 * c)


def norms(X: np.ndarray):
    return (np.sum(np.linalg.norm(X, axis=1)) + np.sum(np.linalg.norm(X, axis=0) ** 3)
            + np.sum(np.linalg.norm(X, axis=1, keepdims=True) * X)
            + np.linalg.norm(X, axis=(0, 1)))


def norm_spelled_out(X: np.ndarray):
    return np.sum(np.sqrt(np.sum(X ** 2, axis=1)))  # the hint for other norms' shape


@pytest.mark.parametrize("f, shapes", [
    (max_abs, [(5,)]), (sum_of_rows, [(3, 4), None]), (norms, [(3, 4)]),
    (norm_spelled_out, [(3, 4)]),
])
def test_builtin_reductions_of_arrays_and_norm_along_an_axis(f, shapes):
    for seed in range(3):
        rng = np.random.default_rng(seed)
        args = tuple(rng.uniform(-2.0, 2.0, s) if s else float(rng.uniform(-2.0, 2.0))
                     for s in shapes)
        for i in range(len(args)):
            np.testing.assert_allclose(s2sad.grad(f, wrt=i)(*args), fd_grad(f, args, i),
                                       rtol=1e-6, atol=1e-9)


def test_norm_along_an_axis_is_numpys():
    X = np.random.default_rng(0).uniform(-2.0, 2.0, (3, 4))
    value, _ = s2sad.value_and_grad(norms)(X)
    assert value == pytest.approx(norms(X))


def one_norms(X: np.ndarray):
    return np.sum(np.sum(np.abs(X), axis=1) ** 2)  # the hint for norms other than the 2-norm


def test_the_hint_for_other_norms_compiles():
    for seed in range(3):
        X = np.random.default_rng(seed).uniform(-2.0, 2.0, (3, 4))
        np.testing.assert_allclose(s2sad.grad(one_norms)(X), fd_grad(one_norms, (X,), 0),
                                   rtol=1e-6)


@pytest.mark.parametrize("call", ["np.linalg.norm(X, 1)", "np.linalg.norm(X, ord=1)",
                                  "np.linalg.norm(X, ord=2)"])
def test_matrix_norms_say_what_is_supported(call):
    f = load_source(f"import numpy as np\n\n\ndef f(X):\n    return np.sum({call})\n",
                    "norm").f
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(f)
    assert "needs an int axis" in info.value.what
    assert "axis=-1" in info.value.hint


def indexes_computed(u0):
    u = u0 * 2.0  # unannotated: arithmetic, then indexing, makes u0 an array
    return u[0] * u[1]


def builtin_sum_of_arithmetic(x):
    return sum(x ** 2) + max(np.cos(x)) * min(x * 3.0)


@pytest.mark.parametrize("f", [indexes_computed, builtin_sum_of_arithmetic])
def test_arithmetic_then_indexing_or_a_builtin_reduction_makes_an_array(f):
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(-2.0, 2.0, 4)
        np.testing.assert_allclose(s2sad.grad(f)(x), fd_grad(f, (x,), 0), rtol=1e-6,
                                   atol=1e-9)


def nested(x, a):
    def sq(t):
        return t * t * a

    act = lambda t: np.tanh(t) * a  # noqa: E731 - as people write it
    s = 0.0
    for i in range(3):
        s += sq(x + i) + act(x)
    a = 2.0 * a  # a closure reads the variable when it runs: later calls see this a
    return s + sq(x)


def rnn(w, xs: np.ndarray):
    def step(h, x):
        return np.tanh(w * h + x)

    h = 0.0
    for t in range(len(xs)):
        h = step(h, xs[t])
    return h


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_nested_def_and_lambda_are_inlined_with_their_closure(mode):
    for x, a in ((0.7, 1.5), (-1.2, -0.4), (2.0, 0.3)):
        got = s2sad.grad(nested, wrt=(0, 1), mode=mode)(x, a)
        want = [fd_grad(nested, (x, a), 0), fd_grad(nested, (x, a), 1)]
        np.testing.assert_allclose(got, want, rtol=1e-6)
    xs = np.array([0.1, -0.2, 0.5])
    np.testing.assert_allclose(s2sad.grad(rnn)(0.3, xs), fd_grad(rnn, (0.3, xs), 0), rtol=1e-6)


def apply(g, x):
    return g(x)


def passes_a_nested_function(x):
    def g(t):
        return t * x

    return apply(g, x)


def test_a_nested_function_called_elsewhere_is_refused_where_it_is_called():
    with pytest.raises(s2sad.S2SADError, match="outside the function that defines it") as e:
        s2sad.grad(passes_a_nested_function)
    assert e.value.lineno == apply.__code__.co_firstlineno + 1


def booth(coords):
    x, y = coords  # as SciPy's test functions write it
    return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2


def booth_array(coords: np.ndarray):
    x, y = coords
    return (x + 2.0 * y - 7.0) ** 2 + (2.0 * x + y - 5.0) ** 2 * np.sin(x)


@pytest.mark.parametrize("f", [booth, booth_array])
def test_unpacking_a_list_or_array_checks_its_length_as_python_does(f):
    for point in ([1.0, 2.0], [-3.5, 0.25], [0.0, -1.0]):
        x = np.array(point)
        np.testing.assert_allclose(s2sad.grad(f)(x), fd_grad(f, (x,), 0), rtol=1e-6,
                                   atol=1e-9)
        np.testing.assert_allclose(s2sad.grad(f)(list(point)), fd_grad(f, (x,), 0),
                                   rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="unpacks 2 values"):
        s2sad.grad(f)(np.array([1.0, 2.0, 3.0]))


def shapes_as_functions(x):
    n = np.shape(x)[0]
    return np.sum(x * x) / np.size(x) + n * np.sum(x) / np.size(x) + np.ndim(x) * x[0]


def test_np_shape_size_and_ndim_as_functions():
    for seed in range(3):
        x = np.random.default_rng(seed).uniform(-2.0, 2.0, 3 + seed)
        np.testing.assert_allclose(s2sad.grad(shapes_as_functions)(x),
                                   fd_grad(shapes_as_functions, (x,), 0), rtol=1e-6,
                                   atol=1e-9)


def relu(t):
    return np.maximum(t, 0.0)


def layer(x, W, act):
    return act(x @ W)


def two_layers(W1, W2, x: np.ndarray):
    """A function passed to a helper: how network code chooses its nonlinearity."""
    h = layer(x, W1, np.tanh)
    act = relu
    return np.sum(layer(h, W2, act) ** 2)


def test_functions_passed_as_values_are_compile_time_choices():
    rng = np.random.default_rng(7)
    W1, W2, x = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=(5, 3))
    g1, g2 = s2sad.grad(two_layers, wrt=(0, 1))(W1, W2, x)
    np.testing.assert_allclose(g1, fd_grad(two_layers, (W1, W2, x), 0), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(g2, fd_grad(two_layers, (W1, W2, x), 1), rtol=1e-6, atol=1e-9)


def chooses_a_function_by_branch(x):
    f = np.sin
    if x > 0:
        f = np.cos
    return f(x)


def uses_a_function_as_a_number(x):
    f = np.sin
    return f + x


@pytest.mark.parametrize("f, message", [
    (chooses_a_function_by_branch, "different function"),
    (uses_a_function_as_a_number, "used here as a number"),
])
def test_functions_as_values_that_s2sad_cannot_follow_are_located_errors(f, message):
    with pytest.raises(s2sad.S2SADError, match=message) as info:
        s2sad.grad(f)
    assert info.value.lineno is not None


def with_function_default(w, x, noise=0.1, nonlinearity=np.tanh):
    return np.sum(nonlinearity(x * w)) * noise


def with_own_function_default(w, x, act=relu):
    return np.sum(act(x * w) ** 2)


def layer_with_default(x, w, act=relu):
    return np.sum(act(x * w))


def calls_a_helper_with_a_default(w, x):
    return layer_with_default(x, w) + layer_with_default(x, w, np.sin)


@pytest.mark.parametrize("f", [with_function_default, with_own_function_default,
                               calls_a_helper_with_a_default])
def test_function_defaults_are_compile_time_choices(f):
    x = np.array([0.3, -0.5, 1.2, -2.0])
    for w in (0.7, -1.3, 2.1):
        assert s2sad.grad(f)(w, x) == pytest.approx(fd_grad(f, (w, x), 0), rel=1e-6)


def test_a_derivative_refuses_another_function_than_the_default_it_was_compiled_for():
    g = s2sad.grad(with_function_default)
    x = np.array([0.3, -0.5])
    assert g(0.5, x, 0.1, np.tanh) == pytest.approx(fd_grad(with_function_default, (0.5, x), 0))
    with pytest.raises(TypeError, match="compiled for nonlinearity=np.tanh"):
        g(0.5, x, 0.1, np.sin)


def test_the_command_line_writes_a_library_default_and_refuses_its_own(tmp_path):
    from click.testing import CliRunner
    from s2sad_cli.main import cli

    src = tmp_path / "defaults_mod.py"
    src.write_text("import numpy as np\n\n\ndef relu(t):\n    return np.maximum(t, 0.0)\n\n\n"
                   "def lib(w, x, act=np.tanh):\n    return np.sum(act(x * w))\n\n\n"
                   "def own(w, x, act=relu):\n    return np.sum(act(x * w))\n")
    done = CliRunner().invoke(cli, ["grad", str(src), "-f", "lib"])
    assert done.exit_code == 0, done.output
    assert "_default_act = np.tanh" in done.output and "With respect to w, x." in done.output
    done = CliRunner().invoke(cli, ["grad", str(src), "-f", "own"])
    assert done.exit_code == 2 and "a function of this file" in done.output


def masks(x: np.ndarray):
    inside = np.logical_and(x > -1.0, x < 1.0)
    outside = ~((x > -1.5) | (x < -5.0))
    both = (x > 0.0) & np.logical_not(x > 2.0)
    return np.sum(np.where(inside, x * x, 0.0) + np.where(outside, 3.0 * x, 0.0)
                  + np.where(np.logical_or(both, outside), np.sin(x), 0.0))


def test_masks_combine_with_logical_functions_and_bitwise_operators():
    for x in (np.array([0.5, -2.0, 0.3, 2.5, -1.2]), np.array([1.7, -0.4, -3.0, 0.9, 0.1])):
        np.testing.assert_allclose(s2sad.grad(masks)(x), fd_grad(masks, (x,), 0), rtol=1e-6,
                                   atol=1e-9)


def checks_its_input(x: np.ndarray):
    """As PySwarms writes its test functions: input checks that raise."""
    if not x.shape[0] == 2:
        raise IndexError("only takes two-dimensional input")
    if not np.logical_and(x >= -4.5, x <= 4.5).all():
        raise ValueError("input must be within [-4.5, 4.5]")
    if np.any(x > 100.0):
        raise ValueError("too large")
    return (1.5 - x[0] + x[0] * x[1]) ** 2


def test_input_checks_that_raise_run_where_they_stand():
    for x in (np.array([1.0, 0.5]), np.array([-2.0, 3.0])):
        np.testing.assert_allclose(s2sad.grad(checks_its_input)(x),
                                   fd_grad(checks_its_input, (x,), 0), rtol=1e-6, atol=1e-9)
    with pytest.raises(IndexError, match="two-dimensional"):
        s2sad.grad(checks_its_input)(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match=r"within \[-4.5, 4.5\]"):
        s2sad.value_and_grad(checks_its_input)(np.array([9.0, 0.0]))
    assert "raise ValueError('input must be within" in s2sad.grad(checks_its_input).source


def checks_every_item(xs, a):
    for v in xs:
        if v < 0.0:
            raise ValueError("negative item")
    return a * a


def test_a_loop_that_only_checks_is_kept():
    g = s2sad.grad(checks_every_item, wrt=1)
    assert g([1.0, 2.0], 3.0) == 6.0
    with pytest.raises(ValueError, match="negative item"):
        g([1.0, -2.0], 3.0)


def horner_reversed(xs, a):
    s = 0.0
    for v in reversed(xs):
        s = s * a + v  # the order matters
    return s


def reversed_range(a, n):
    s = 1.0
    for i in reversed(range(1, n)):
        s = s * a + i
    return s


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_reversed_loops(mode):
    for xs, a in (([1.0, -2.0, 0.5, 3.0], 0.7), ([2.0], -1.3), ([], 0.4)):
        got = s2sad.grad(horner_reversed, wrt=1, mode=mode)(xs, a)
        assert got == pytest.approx(fd_grad(horner_reversed, (xs, a), 1), abs=1e-9)
        if mode == "reverse" and xs:
            assert s2sad.grad(horner_reversed, wrt=0)(xs, a) == pytest.approx(
                [a ** k for k in range(len(xs))])
    for n in (0, 1, 5):
        got = s2sad.grad(reversed_range, mode=mode)(0.7, n)
        assert got == pytest.approx(fd_grad(reversed_range, (0.7, n), 0), abs=1e-9)


def repeats(x, n):
    ys = [x] * n
    zs = 3 * [0.0]
    for i in range(n):
        ys[i] = ys[i] * (i + 1)
    zs[1] = x
    return sum(ys) + zs[1] * zs[1]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_a_repeated_list_is_the_comprehension_it_means(mode):
    for x, n in ((0.7, 4), (-1.2, 1), (2.0, 0)):
        got = s2sad.grad(repeats, mode=mode)(x, n)
        assert got == pytest.approx(fd_grad(repeats, (x, n), 0), abs=1e-8)
