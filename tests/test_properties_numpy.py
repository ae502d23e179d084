"""Property tests: random straight-line NumPy programs.

Hypothesis draws programs over an array ``x`` (shape (3,)), an array or float ``y``
(shape (3,), (1,), a 2×3 matrix or a float: broadcasting) and a matrix ``A`` (2×3):
elementwise functions on safe domains (``np.sin``, ``np.tanh``, ``np.exp`` of a bounded
value, ``np.log1p`` of a square, ``np.sqrt(1 + u²)``), ``+ - *``, division by a
positive quantity, ``A @ u``, reductions (``np.sum``, ``np.mean`` with and without
``axis``), and a scalar loss at the end. For each program and point:

* the reverse-mode gradient with respect to ``x`` and ``y`` = Ridders finite
  differences, entry by entry (tests/test_numpy.py's ``fd_grad``);
* the jvp = the directional finite difference, with random array tangents;
* the inner-product identity ⟨ẏ, ȳ⟩ = ⟨ẋ, x̄⟩ between jvp and vjp.

Deterministic and small (``derandomize=True``); ``benchmarks/fuzz_campaign.py`` runs
the same check on thousands of fresh programs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import s2sad
from tests.srcmod import load_source
from tests.test_numpy import ATOL, RTOL, fd_directional, fd_grad, tangent_like

SETTINGS = dict(derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))

UNARY = ["np.sin({a})", "np.tanh({a})", "np.exp(np.sin({a}))", "np.log1p({a} * {a})",
         "np.sqrt(1.0 + {a} * {a})", "np.cos(0.5 * {a}) * {a}", "-{a}"]
BINARY = ["{a} + {b}", "{a} - {b}", "{a} * {b}", "{a} / (1.5 + {b} * {b})",
          "{a} * np.sin({b}) + {b}"]
REDUCE = ["np.sum({a})", "np.mean({a})", "np.sum({a} * {a})", "np.sum(A @ {a})",
          "np.mean(np.sum(A * {a}, axis=0))"]
Y_SHAPES = [(3,), (1,), (2, 3), None]  # None: a Python float


@dataclass
class Program:
    source: str
    y_shape: tuple | None

    def __repr__(self) -> str:
        return f"\n# y shape {self.y_shape}\n{self.source}"


@st.composite
def programs(draw) -> Program:
    y_shape = draw(st.sampled_from(Y_SHAPES))
    names = ["x", "y"]
    lines = []
    for i in range(draw(st.integers(1, 5))):
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        if draw(st.booleans()):
            text = draw(st.sampled_from(UNARY)).format(a=a)
        else:
            text = draw(st.sampled_from(BINARY)).format(a=a, b=b)
        lines.append(f"    v{i} = {text}")
        names.append(f"v{i}")
    # the loss: a reduction of the last value (shape (3,) or broadcast with y), plus a term
    # in x, so that the result depends on x and is a scalar
    last = f"({names[-1]} + x)"  # at least x's shape (3,): A @ last is defined
    if y_shape == (2, 3) and "y" in "".join(lines):
        reduce = draw(st.sampled_from(REDUCE[:3]))
    else:
        reduce = draw(st.sampled_from(REDUCE))
    lines.append(f"    return {reduce.format(a=last)} + 0.5 * np.sum(np.sin(x))")
    source = ("import numpy as np\n\n\ndef prog(x, y, A):\n" + "\n".join(lines) + "\n")
    return Program(source, y_shape)


seeds = st.integers(0, 2**31 - 1)


def _point(program: Program, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, 3)
    y = (float(rng.uniform(-1.5, 1.5)) if program.y_shape is None
         else rng.uniform(-1.5, 1.5, program.y_shape))
    A = rng.uniform(-1.0, 1.0, (2, 3))
    return x, y, A


def check_program(program: Program, seed: int) -> None:
    f = load_source(program.source, "prog").prog
    args = _point(program, seed)
    value = f(*args)
    assert np.ndim(value) == 0 and np.isfinite(value), program
    grads = s2sad.grad(f, wrt=(0, 1))(*args)
    for i, g in zip((0, 1), grads, strict=True):
        want = fd_grad(f, args, i)
        assert np.shape(g) == np.shape(args[i]), (program, i, np.shape(g))
        np.testing.assert_allclose(g, want, rtol=RTOL, atol=ATOL, err_msg=repr(program))
    rng = np.random.default_rng(seed + 1)
    tangents = [tangent_like(args[i], rng) for i in (0, 1)]
    v, tangent = s2sad.jvp(f, wrt=(0, 1))(*args, *tangents)
    np.testing.assert_allclose(v, value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tangent, fd_directional(f, args, (0, 1), tangents),
                               rtol=RTOL, atol=ATOL, err_msg=repr(program))
    ybar = float(rng.uniform(-2, 2))
    _, cot = s2sad.vjp(f, wrt=(0, 1))(*args, ybar)
    lhs = tangent * ybar
    rhs = sum(float(np.sum(c * t)) for c, t in zip(cot, tangents, strict=True))
    scale = 1.0 + sum(float(np.sum(np.abs(c * t))) for c, t in zip(cot, tangents, strict=True))
    assert abs(lhs - rhs) <= 1e-12 * scale, (program, lhs, rhs)


@settings(max_examples=60, **SETTINGS)
@given(program=programs(), seed=seeds)
def test_numpy_programs_differentiate_correctly(program, seed):
    check_program(program, seed)


def test_generator_covers_broadcasting_and_reductions():
    seen: set[str] = set()

    @settings(max_examples=120, **SETTINGS)
    @given(program=programs())
    def collect(program):
        seen.update(w for w in ("A @", "axis=0", "np.mean", "/ (1.5", "np.exp") if w in
                    program.source)
        seen.add(str(program.y_shape))

    collect()
    assert {"A @", "axis=0", "np.mean", "/ (1.5", "np.exp", "None", "(1,)", "(2, 3)",
            "(3,)"} <= seen


# -- regression tests: bugs these properties found ------------------------------------------


def unused_array(x, y):
    v = x + y  # noqa: F841  (y is read, but nothing of it reaches the result)
    return np.sum(x * x)


def cancelling(x, y):
    v = y - x
    return np.sum(v + x)


def only_y_varies(x, y):
    return np.sum(y + x)


def test_regression_zero_gradient_of_an_array_has_its_shape():
    """Was: the gradient with respect to an array whose contributions are all dead was the
    float 0.0 (and a list of 2 zeros for an unread (2, 3) array)."""
    x, y = np.array([0.1, 0.2, 0.3]), np.ones((2, 3))
    _, (gx, gy) = s2sad.value_and_grad(unused_array, wrt=(0, 1))(x, y)
    np.testing.assert_allclose(gx, fd_grad(unused_array, (x, y), 0), rtol=RTOL)
    assert isinstance(gy, np.ndarray) and gy.shape == (2, 3) and not gy.any()
    _, (_, cy) = s2sad.vjp(unused_array, wrt=(0, 1))(x, y, 1.0)
    assert isinstance(cy, np.ndarray) and cy.shape == (2, 3) and not cy.any()


def test_regression_a_tangent_keeps_the_broadcast_shape():
    """Was (silently wrong): the jvp of np.sum(y + x) with only y varied, y of shape (1,)
    and x of shape (3,), summed y_dot once instead of three times; likewise after
    `- x_dot + x_dot` cancelled."""
    x, y = np.array([0.1, -0.2, 0.3]), np.array([0.5])
    for f, wrt, tangents in ((only_y_varies, (1,), [np.array([1.0])]),
                             (cancelling, (0, 1), [np.array([0.3, 0.1, -0.4]),
                                                   np.array([1.0])])):
        _, tangent = s2sad.jvp(f, wrt=wrt)(x, y, *tangents)
        want = fd_directional(f, (x, y), wrt, tangents)
        np.testing.assert_allclose(tangent, want, rtol=RTOL, atol=ATOL, err_msg=f.__name__)
