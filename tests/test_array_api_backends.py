"""The array API target on the libraries people run: JAX (eager and under ``jax.jit``),
PyTorch CPU tensors and Dask arrays, float64 everywhere, against the NumPy target to
1e-12 (itself checked against finite differences in tests/test_numpy.py and
tests/test_array_api.py).  Also: writes into arrays become functional updates
(``_at(h)[i].set(v)``: JAX's ``h.at[i].set(v)``, in place on the other libraries), and
Python control flow on array values is a located compile-time error, never a tracer
error inside ``jax.jit``.

One case per backend runs by default; the sweeps of the whole corpus are marked slow.
A backend that is not installed is skipped with the extra that installs it."""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from tests import test_numpy as T
from tests import test_numpy_assign as A
from tests.srcmod import load_source
from tests.test_array_api import CASES

pytest.importorskip("array_api_compat", reason="the array API target needs "
                    "array-api-compat: pip install 's2sad[array-api]'")

BACKENDS = ("jax", "jit", "torch", "dask")
# the default layer: JAX eager and jitted (importing torch costs seconds: its cases are slow)
DEFAULT_BACKENDS = ("jit",)


def _jax():
    jax = pytest.importorskip("jax", reason="needs JAX: pip install 's2sad[jax]'")
    jax.config.update("jax_enable_x64", True)  # float64, as NumPy
    return jax


def _torch():
    return pytest.importorskip("torch", reason="needs PyTorch (CPU): pip install "
                               "torch==2.13.0+cpu (.ci/run installs it where it can)")


def _dask():
    return pytest.importorskip("dask.array", reason="needs Dask: pip install 's2sad[dask]'")


def converter(backend):
    """The function that turns a NumPy argument into ``backend``'s float64 array."""
    if backend in ("jax", "jit"):
        jnp = _jax().numpy
        return lambda a: jnp.asarray(a)
    if backend == "torch":
        torch = _torch()
        return lambda a: torch.asarray(a.copy(), dtype=torch.float64)
    if backend == "dask":
        da = _dask()
        return lambda a: da.from_array(a.copy(), chunks=2)
    raise ValueError(backend)


def to_numpy(a):
    """A result on any backend as NumPy (tuples item by item; numbers stay numbers)."""
    if isinstance(a, tuple):
        return tuple(to_numpy(v) for v in a)
    if hasattr(a, "compute"):  # Dask
        a = a.compute()
    if type(a).__module__.startswith("torch"):
        return a.numpy()
    return a if isinstance(a, (int, float)) else np.asarray(a)


def run(g, args, backend, static=()):
    """``g`` on ``args`` (NumPy arrays converted to ``backend``'s; Python numbers stay
    numbers), under ``jax.jit`` for ``"jit"`` with the Python numbers ``static``."""
    conv = converter(backend)
    if backend == "jit":
        g = _jax().jit(g, static_argnums=tuple(static))
    return to_numpy(g(*[conv(a) if isinstance(a, np.ndarray) else a for a in args]))


def check(c, backend, jit_static_numbers=True):
    """The array API gradient of case ``c`` on ``backend`` equals the NumPy target's."""
    wrt = T._wrt_arg(c.wrt)
    want = s2sad.grad(c.f, wrt=wrt)(*T._copy(c.args))
    g = s2sad.grad(c.f, wrt=wrt, target="array_api")
    static = [i for i, a in enumerate(c.args) if not isinstance(a, np.ndarray)]
    got = run(g, c.args, backend, static if jit_static_numbers else ())
    want, got = ((want,), (got,)) if len(c.wrt) == 1 else (want, got)
    for i, w, a in zip(c.wrt, want, got, strict=True):
        np.testing.assert_allclose(a, w, rtol=1e-12, atol=1e-14, err_msg=backend)
        assert np.shape(a) == np.shape(c.args[i])


def _case(p):
    return p.values[0]


def _sweep(cases, backends, default=()):
    """(case, backend) params: those of ``default`` (indices into cases) run by default,
    the others are slow."""
    return [pytest.param(_case(c), b, id=f"{b}-{c.id}",
                         marks=() if k in default and b in DEFAULT_BACKENDS else pytest.mark.slow)
            for k, c in enumerate(cases) for b in backends]


# == the straight-line corpus of tests/test_array_api.py ====================================

# bc_sub_div[vector 4, float]: a Python float broadcast against an array (PyTorch made it
# float32 before _broadcast_like took the arrays' dtype)
_REPRESENTATIVE = [k for k, c in enumerate(CASES) if c.id == "bc_sub_div[vector 4, float]"]


@pytest.mark.parametrize("c, backend", _sweep(CASES, BACKENDS, _REPRESENTATIVE))
def test_corpus_matches_numpy_target(c, backend):
    check(c, backend)


@pytest.mark.slow
@pytest.mark.parametrize("c", [_case(c) for c in CASES[::5]])
def test_corpus_under_jit_with_traced_numbers(c):
    """Python-number arguments passed traced (not static) to jax.jit: still traceable."""
    check(c, "jit", jit_static_numbers=False)


@pytest.mark.parametrize("backend", ["jit", pytest.param("torch", marks=pytest.mark.slow)])
def test_jvp_and_vjp(backend):
    c = _case(next(c for c in CASES if c.id.startswith("bc_logistic")))
    rng = np.random.default_rng(11)
    wrt = T._wrt_arg(c.wrt)
    tangents = [T.tangent_like(c.args[i], rng) for i in c.wrt]
    want = s2sad.jvp(c.f, wrt=wrt)(*T._copy(c.args), *tangents)
    got = run(s2sad.jvp(c.f, wrt=wrt, target="array_api"), [*c.args, *tangents], backend)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1], T.fd_directional(c.f, c.args, c.wrt, tangents, c.h),
                               rtol=T.RTOL, atol=T.ATOL)
    want = s2sad.vjp(c.f, wrt=wrt)(*T._copy(c.args), -0.7)
    got = run(s2sad.vjp(c.f, wrt=wrt, target="array_api"), [*c.args, -0.7], backend)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    for a, b in zip(got[1], want[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


# == writes into arrays: functional updates ================================================

# cases of tests/test_numpy_assign.py in the standard's terms; left out: as_rows, rnn_matrix,
# loop_rows_then_stack (`H[1] = row` indexes fewer axes than H has, which array_api_strict
# refuses: write `H[1, :]`), as_step_slices on PyTorch (no negative slice steps),
# loop_two_arrays_break (`if s > 3.0: break` on an array value: refused, see below)
_WRITES = [c for c in A.ASSIGN + A.LOOPS if _case(c).f.__name__ in (
    "as_items", "as_step_slices", "as_scalar_into_slice", "as_augmented",
    "as_np_array_copy", "as_of_arithmetic", "rnn", "rnn_while", "loop_branch",
    "loop_reads_whole", "loop_nested")]
_WRITES_2D = [c for c in A.ASSIGN + A.LOOPS if _case(c).f.__name__ in (
    "as_rows", "rnn_matrix", "loop_rows_then_stack")]


def _writes_params():
    params = []
    for c in _WRITES:
        for b in (*BACKENDS, "strict"):
            if b == "torch" and _case(c).f.__name__ == "as_step_slices":
                continue
            default = (b, _case(c).f.__name__) in (("jit", "as_augmented"), ("jax", "rnn"),
                                                  ("strict", "loop_branch"))
            params.append(pytest.param(_case(c), b, id=f"{b}-{c.id}",
                                       marks=() if default else pytest.mark.slow))
    params += [pytest.param(_case(c), b, id=f"{b}-{c.id}", marks=pytest.mark.slow)
               for c in _WRITES_2D for b in BACKENDS]
    return params


@pytest.mark.parametrize("c, backend", _writes_params())
def test_writes_into_arrays_match_numpy_target(c, backend):
    if backend == "strict":
        xps = pytest.importorskip("array_api_strict", reason="pip install 's2sad[array-api]'")
        wrt = T._wrt_arg(c.wrt)
        want = s2sad.grad(c.f, wrt=wrt)(*T._copy(c.args))
        got = s2sad.grad(c.f, wrt=wrt, target="array_api")(
            *[xps.asarray(a) if isinstance(a, np.ndarray) else a for a in c.args])
        want, got = ((want,), (got,)) if len(c.wrt) == 1 else (want, got)
        for w, a in zip(want, got, strict=True):
            np.testing.assert_allclose(np.from_dlpack(a) if hasattr(a, "__dlpack__") else a,
                                       w, rtol=1e-12, atol=1e-14)
        return
    check(c, backend)


_WRITERS = load_source('''
import numpy as np


def writes(x):
    y = np.exp(x)
    y[0] = 2.0
    y[1:3] += x[0:2]
    return np.sum(y * x)


def copies(x):
    h = x.copy()
    h[1] = h[0] * 3.0
    return np.sum(h * x) + np.sum(x)
''', "array_api_writers")


def test_writes_are_functional_updates_in_the_generated_code():
    """`y[0] = 2.0` is `y_1 = _at(y, copy=True)[0].set(2.0)` where y is read later
    (JAX's spelling; in place into a copy on NumPy), `_at(t)[i].add(g)` where the old
    array is dead; the arguments are never written."""
    src = s2sad.grad(_WRITERS.writes, target="array_api").source
    assert "_at(y, copy=True)[0].set(2.0)" in src and "].add(" in src
    assert "np." not in src and "\nimport numpy" not in src
    x = T.rand((4,), 3)
    g = s2sad.grad(_WRITERS.copies, target="array_api")
    assert "h = x\n" in g.source and "_at(h, copy=True)[1].set(" in g.source  # x.copy(): x
    before = x.copy()
    np.testing.assert_allclose(g(x), T.fd_grad(_WRITERS.copies, (x,), 0), rtol=T.RTOL,
                               atol=T.ATOL)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("backend", ["jit", pytest.param("torch", marks=pytest.mark.slow),
                                     pytest.param("dask", marks=pytest.mark.slow)])
def test_writes_on_backends_match_finite_differences(backend):
    for x in (T.rand((4,), 5), -np.abs(T.rand((5,), 6))):
        got = run(s2sad.grad(_WRITERS.writes, target="array_api"), (x,), backend)
        np.testing.assert_allclose(got, s2sad.grad(_WRITERS.writes)(x.copy()), rtol=1e-12)
        np.testing.assert_allclose(got, T.fd_grad(_WRITERS.writes, (x,), 0), rtol=T.RTOL,
                                   atol=T.ATOL)


@pytest.mark.slow  # imports torch
def test_writes_leave_jax_arguments_and_torch_arguments_unchanged():
    torch, jnp = _torch(), _jax().numpy
    x = T.rand((4,), 8)
    g = s2sad.grad(_WRITERS.copies, target="array_api")
    t = torch.asarray(x.copy())
    g(t)
    np.testing.assert_array_equal(t.numpy(), x)
    np.testing.assert_allclose(np.asarray(g(jnp.asarray(x))), g(x.copy()), rtol=1e-12)


# == control flow on array values ===========================================================

_CONTROL = load_source('''
import numpy as np


def branch(x):
    s = np.sum(x)
    if s > 0:
        return s * s
    return np.sum(np.exp(x))


def branch_fixed(x):
    s = np.sum(x)
    return np.where(s > 0, s * s, np.sum(np.exp(x)))


def halve(x):
    s = np.sum(x * x)
    while s > 1.0:
        s = s / 2.0
    return s


def count(x, n: int):
    acc = x
    for i in range(n):
        acc = np.tanh(acc) * x
    return np.sum(acc)


def on_number(x, t: float):
    if t > 0.0:
        return np.sum(np.sin(x) * t)
    return np.sum(x * x)


def by_shape(x):
    acc = x
    for i in range(x.shape[0]):
        if i % 2 == 0:
            acc = acc * np.sin(x)
    return np.sum(acc)
''', "array_api_control")


@pytest.mark.parametrize("name, what, line", [
    ("branch", "an `if` on an array value", 7),
    ("halve", "a `while` loop whose test is an array value", 19),
])
def test_control_flow_on_array_values_is_a_located_compile_time_error(name, what, line):
    with pytest.raises(s2sad.S2SADError) as e:
        s2sad.grad(getattr(_CONTROL, name), target="array_api")
    text = str(e.value)
    assert what in text and "array API target" in text and "jax.jit" in text
    assert "np.where(cond, a, b)" in text and "target='python'" in text
    assert e.value.loc is not None and e.value.loc.lineno == line


def test_the_hint_for_a_branch_works_under_jit():
    g = s2sad.grad(_CONTROL.branch_fixed, target="array_api")
    for x in (T.rand((4,), 1), -np.abs(T.rand((4,), 2)), np.array([0.5, -2.0, 0.1])):
        want = s2sad.grad(_CONTROL.branch)(x.copy())
        np.testing.assert_allclose(run(g, (x,), "jit"), want, rtol=1e-12)
        np.testing.assert_allclose(want, T.fd_grad(_CONTROL.branch, (x,), 0), rtol=T.RTOL,
                                   atol=T.ATOL)


def test_loops_on_numbers_and_shapes_are_traceable():
    """A loop count from an int parameter or a branch on a float one (static under
    jax.jit), a loop count from a shape and a branch on the loop counter are Python
    control flow jax.jit traces."""
    jax = _jax()
    x = T.rand((5,), 4)
    g = s2sad.grad(_CONTROL.count, target="array_api")
    jitted = jax.jit(g, static_argnames="n")
    for n in (0, 3):
        np.testing.assert_allclose(np.asarray(jitted(jax.numpy.asarray(x), n=n)),
                                   s2sad.grad(_CONTROL.count)(x, n), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jitted(jax.numpy.asarray(x), n=3)),
                               T.fd_grad(_CONTROL.count, (x, 3), 0), rtol=T.RTOL, atol=T.ATOL)
    g = jax.jit(s2sad.grad(_CONTROL.on_number, target="array_api"), static_argnames="t")
    for t in (0.5, -0.5):  # a branch on a number argument: static under jax.jit
        np.testing.assert_allclose(np.asarray(g(jax.numpy.asarray(x), t=t)),
                                   s2sad.grad(_CONTROL.on_number)(x, t), rtol=1e-12)
    got = run(s2sad.grad(_CONTROL.by_shape, target="array_api"), (x,), "jit")
    np.testing.assert_allclose(got, s2sad.grad(_CONTROL.by_shape)(x), rtol=1e-12)
    np.testing.assert_allclose(got, T.fd_grad(_CONTROL.by_shape, (x,), 0), rtol=T.RTOL,
                               atol=T.ATOL)


_GATHER = load_source('''
import numpy as np


def gather(x, idx):
    return np.sum(x[idx] ** 2)
''', "array_api_gather")


@pytest.mark.slow  # imports torch and Dask
def test_an_index_array_that_repeats_adds_each_read_on_jax_and_is_refused_elsewhere():
    """The adjoint of x[idx] adds g once per read: JAX's .at[idx].add does; an in-place
    x[idx] += g would add a repeated index once, so the libraries that write in place
    raise instead of returning a wrong gradient."""
    jax, jnp = _jax(), _jax().numpy
    x, idx = np.array([0.5, -1.0, 2.0, 3.0]), np.array([0, 2, 2])
    g = s2sad.grad(_GATHER.gather, target="array_api")
    want = s2sad.grad(_GATHER.gather)(x, idx)
    np.testing.assert_allclose(want, [1.0, 0.0, 8.0, 0.0])  # 2 x_i per read
    for f in (g, jax.jit(g)):
        np.testing.assert_allclose(np.asarray(f(jnp.asarray(x), jnp.asarray(idx))), want,
                                   rtol=1e-12)
    with pytest.raises(TypeError, match="an array of indices: use JAX arrays"):
        g(x, idx)


def power_series_of_rows(x: np.ndarray):
    s = 0.0
    for i in range(3):
        s = s + np.sum(x ** i)  # d/dx x**i is 0 where i == 0: a where on a Python bool
    return s


@pytest.mark.parametrize("backend", ["jit", pytest.param("torch", marks=pytest.mark.slow)])
def test_a_where_on_a_number_takes_an_array_condition(backend):
    x = np.array([0.0, 0.5, -1.5])
    g = s2sad.grad(power_series_of_rows, target="array_api")
    np.testing.assert_allclose(run(g, (x,), backend), 1.0 + 2.0 * x, rtol=1e-12)  # exact
