"""The array API target (``target="array_api"``, ``--target array-api``): one generated
module runs on NumPy arrays and on ``array_api_strict``'s (the standard's reference
implementation, which rejects anything outside the standard), with the NumPy target's
results to 1e-12 and finite differences' to the tolerances of tests/test_numpy.py."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import s2sad
from tests import test_numpy as T
from tests.srcmod import load_source

aac = pytest.importorskip("array_api_compat", reason="the array API target needs "
                          "array-api-compat: pip install 's2sad[array-api]'")
xps = pytest.importorskip("array_api_strict", reason="these tests run on array-api-strict: "
                          "pip install 's2sad[array-api]'")

_ELEMENTWISE = [T.ELEMENTWISE[k] for k in (0, 1, 2, 4, 5, 7, 8, 9, 11, 12)]
_UFUNCS = [c for c in T.UFUNC_CASES if c.id.split("[")[0].removeprefix("uf_") not in ("square",)]
_PRODUCTS = [c for c in T.PRODUCTS if not c.id.startswith(("pr_dot", "pr_outer", "pr_inner"))]
# bc_mean_of_difference[float, 2x3] calls np.exp(x) of a Python float x: the standard's
# functions take arrays only (array_api_strict refuses a float; NumPy's namespace takes it),
# a known limit of the target (README)
_BROADCAST = [c for c in T.BROADCAST if c.id != "bc_mean_of_difference[float, 2x3]"]
CASES = _ELEMENTWISE + _UFUNCS[::3] + T.BINARY_UFUNCS + _BROADCAST + _PRODUCTS + T.REDUCTIONS


def strict(a):
    """``a`` as an array_api_strict array (a Python number stays one)."""
    return xps.asarray(a, dtype=xps.float64) if isinstance(a, np.ndarray) else a


def to_numpy(a):
    """A result of the array API target as NumPy (Python numbers stay numbers)."""
    if isinstance(a, tuple):
        return tuple(to_numpy(v) for v in a)
    return np.from_dlpack(a) if hasattr(a, "__dlpack__") else a


def _args(c):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in c.args]


def _slow(c):
    """Case ``c`` (a value or a pytest.param) in the slow layer."""
    if isinstance(c, type(pytest.param(None))):
        return pytest.param(*c.values, marks=(*c.marks, pytest.mark.slow), id=c.id)
    return pytest.param(c, marks=pytest.mark.slow)


@pytest.mark.parametrize("c", [c if i % 3 == 0 else _slow(c)
                               for i, c in enumerate(CASES)])  # a third by default
def test_grad_matches_numpy_target_and_finite_differences(c):
    wrt = T._wrt_arg(c.wrt)
    want = s2sad.grad(c.f, wrt=wrt)(*_args(c))
    g = s2sad.grad(c.f, wrt=wrt, target="array_api")
    assert "\nimport numpy" not in g.source and "np." not in g.source
    on_numpy = g(*_args(c))
    on_strict = to_numpy(g(*[strict(a) for a in c.args]))
    want, on_numpy, on_strict = ((v,) if len(c.wrt) == 1 else v
                                 for v in (want, on_numpy, on_strict))
    for i, w, a, b in zip(c.wrt, want, on_numpy, on_strict, strict=True):
        np.testing.assert_allclose(a, w, rtol=1e-12, atol=1e-14, err_msg="numpy arrays")
        np.testing.assert_allclose(b, w, rtol=1e-12, atol=1e-14, err_msg="array_api_strict")
        assert np.shape(b) == np.shape(c.args[i])
        np.testing.assert_allclose(b, T.fd_grad(c.f, c.args, i, c.h), rtol=T.RTOL,
                                   atol=T.ATOL, err_msg="finite differences")


@pytest.mark.parametrize("c", CASES[::4])
def test_jvp_and_vjp_on_strict_arrays(c):
    rng = np.random.default_rng(7)
    wrt = T._wrt_arg(c.wrt)
    tangents = [T.tangent_like(c.args[i], rng) for i in c.wrt]
    want = s2sad.jvp(c.f, wrt=wrt)(*_args(c), *tangents)
    got = to_numpy(s2sad.jvp(c.f, wrt=wrt, target="array_api")(
        *[strict(a) for a in c.args], *[strict(t) for t in tangents]))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1], T.fd_directional(c.f, c.args, c.wrt, tangents, c.h),
                               rtol=T.RTOL, atol=T.ATOL)
    want = s2sad.vjp(c.f, wrt=wrt)(*_args(c), 0.7)
    got = to_numpy(s2sad.vjp(c.f, wrt=wrt, target="array_api")(
        *[strict(a) for a in c.args], 0.7))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-14)
    pairs = zip(got[1], want[1], strict=True) if len(c.wrt) > 1 else [(got[1], want[1])]
    for a, b in pairs:
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_value_and_grad_logistic_regression_on_strict_arrays():
    w, b, X, y = T.rand((3,), 1), 0.3, T.rand((50, 3), 2), (T.rand((50,), 3) > 0) * 1.0
    want = s2sad.value_and_grad(T.bc_logistic, wrt=(0, 1))(w, b, X, y)
    got = to_numpy(s2sad.value_and_grad(T.bc_logistic, wrt=(0, 1), target="array_api")(
        strict(w), b, strict(X), strict(y)))
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1][0], want[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[1][1], want[1][1], rtol=1e-12, atol=1e-14)


_REFUSED = load_source('''
import numpy as np


def writes_into(x):
    y = np.exp(x)
    y[0] = 2.0
    return np.sum(y * x)


def dots(x, y):
    return np.dot(x, y)


def items(x):
    return x[1] * x[0]


def branches(x):
    if np.sum(x) > 0.0:
        return np.sum(x * x)
    return np.sum(x)


def writes_into_fixed(x):
    y = np.where(np.arange(x.shape[0]) == 0, 2.0, np.exp(x))
    return np.sum(y * x)
''', "array_api_refused")


@pytest.mark.parametrize("name, what, hint", [
    ("branches", "an `if` on an array value", "np.where(cond, a, b)"),
    ("dots", "`np.dot`", "a @ b"),
    ("items", "reading an argument item by item", "target='python'"),
])
def test_refused_constructs_are_located_errors(name, what, hint):
    with pytest.raises(s2sad.S2SADError) as e:
        s2sad.grad(getattr(_REFUSED, name), target="array_api")
    text = str(e.value)
    assert what in text and "array API target" in text and hint in text
    assert e.value.loc is not None and e.value.loc.lineno > 1


def test_the_hint_for_writes_into_works():
    x = T.rand((4,), 9)
    g = s2sad.grad(_REFUSED.writes_into_fixed, target="array_api")
    got = to_numpy(g(strict(x)))
    np.testing.assert_allclose(got, s2sad.grad(_REFUSED.writes_into)(x), rtol=1e-12)
    np.testing.assert_allclose(got, T.fd_grad(_REFUSED.writes_into, (x,), 0), rtol=T.RTOL,
                               atol=T.ATOL)


def test_hessian_driver_refused():
    with pytest.raises(s2sad.S2SADError, match="array API target"):
        s2sad.hessian(T.rd_sum_all, target="array_api")


def test_cli_target_array_api(tmp_path):
    src = tmp_path / "model.py"
    src.write_text(textwrap.dedent('''
        import numpy as np


        def loss(w, X):
            return np.sum(np.tanh(X @ w) ** 2)
    '''))
    out = tmp_path / "grad_model.py"
    subprocess.run([sys.executable, "-m", "s2sad", "grad", str(src), "--target", "array-api",
                    "-o", str(out)], check=True)
    text = out.read_text()
    assert "xp = _namespace(w, X)" in text and "\nimport numpy" not in text
    assert "--target array-api" in text
    module = load_source(text, "grad_model_aa")
    w, X = T.rand((3,), 5), T.rand((4, 3), 6)
    want = s2sad.grad(module_loss(src), wrt=(0, 1))(w, X)
    got = to_numpy(module.grad_loss(strict(w), strict(X)))
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def module_loss(path):
    return load_source(path.read_text(), "model_aa").loss


_LOGISTIC = load_source('''
import numpy as np


def loss(w, X, y):
    z = X @ w
    # np.log of a reduction: a 0-d Dask array, which math.log would compute
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.01 * np.sum(w * w) + 0.1 * np.log(
        np.mean(np.exp(0.1 * z)))
''', "array_api_logistic")


@pytest.mark.slow
def test_dask_logistic_regression_stays_lazy_until_compute():
    """The array API gradient on Dask arrays (NumPy weights, chunked data): the call
    builds a graph and computes nothing; gradient descent on it matches the NumPy
    target's run to 1e-12."""
    da = pytest.importorskip("dask.array", reason="needs Dask: pip install 'dask[array]'")
    import dask

    def forbidden(*args, **kwargs):
        raise AssertionError("the gradient computed a Dask value before .compute()")

    rng = np.random.default_rng(3)
    Xn = rng.normal(size=(4000, 6))
    yn = (Xn @ rng.normal(size=6) + rng.normal(size=4000) > 0) * 1.0
    X, y = da.from_array(Xn, chunks=(500, 6)), da.from_array(yn, chunks=500)
    g = s2sad.grad(_LOGISTIC.loss, target="array_api")
    g_numpy = s2sad.grad(_LOGISTIC.loss)
    w = w_numpy = np.zeros(6)
    for _ in range(20):
        with dask.config.set(scheduler=forbidden):
            step = g(w, X, y)
        assert isinstance(step, da.Array)
        w = w - 0.5 * step.compute(scheduler="sync")
        w_numpy = w_numpy - 0.5 * g_numpy(w_numpy, Xn, yn)
    np.testing.assert_allclose(w, w_numpy, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(g(w, X, y).compute(), T.fd_grad(_LOGISTIC.loss, (w, Xn, yn), 0),
                               rtol=T.RTOL, atol=T.ATOL)


@pytest.mark.slow
def test_the_default_target_on_dask_arrays_gives_numpys_numbers():
    """The NumPy target's gradient run on Dask arrays (through NumPy's __array_function__
    dispatch): the same numbers as on NumPy arrays, though its shape helpers make Dask
    compute mid-gradient (README: use target='array_api' to stay lazy)."""
    da = pytest.importorskip("dask.array", reason="needs Dask: pip install 'dask[array]'")
    rng = np.random.default_rng(5)
    Xn = rng.normal(size=(2000, 4))
    yn = (Xn @ rng.normal(size=4) > 0) * 1.0
    X, y = da.from_array(Xn, chunks=(400, 4)), da.from_array(yn, chunks=400)
    g = s2sad.grad(_LOGISTIC.loss)
    for w in (np.zeros(4), np.array([0.3, -1.2, 0.5, 2.0])):
        np.testing.assert_allclose(np.asarray(g(w, X, y)), g(w, Xn, yn), rtol=1e-12,
                                   atol=1e-15)
