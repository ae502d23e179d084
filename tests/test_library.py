"""The library layer (s2sad/library): NumPy and SciPy functions, every spelling, both
modes, against Richardson finite differences at several points (negative values, ties,
zeros, tails), read live (``s2sad.grad``) and from the file (the CLI's static reader);
and the numerics where the naive formula is not safe (logsumexp's overflow, log_ndtr's
far tail, cumprod through a zero), checked against mpmath at 30 digits."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("scipy", reason="scipy (the `test` extra) is not installed")

import scipy.special  # noqa: E402
import scipy.stats  # noqa: E402

import s2sad  # noqa: E402
from s2sad.codegen import load  # noqa: E402
from s2sad.frontend import lower, parse_file  # noqa: E402
from s2sad.pipeline import derive, generate  # noqa: E402
from tests.fixtures import library_functions as L  # noqa: E402
from tests.srcmod import load_source  # noqa: E402
from tests.test_numpy import fd_grad  # noqa: E402


def _u(rng, lo, hi, shape=None):
    return rng.uniform(lo, hi, shape) if shape else float(rng.uniform(lo, hi))


def _away_from_ints(a, step=1.0):
    """Points at least 0.05 from the jumps of floor/mod/astype(int) (multiples of step)."""
    frac = np.mod(a / step, 1.0)
    return np.where(np.abs(frac - 0.5) > 0.45, a + 0.1 * step, a)


ARGS = {
    "lgamma_math": lambda r: (_u(r, 0.2, 6.0),),
    "gammaln_forms": lambda r: (r.uniform(0.2, 5.0, 4),),
    "logsumexp_forms": lambda r: (r.uniform(-3.0, 3.0, (3, 4)),),
    "expit_erf": lambda r: (r.uniform(-4.0, 4.0, 5),),
    "norm_forms": lambda r: (_u(r, -3.0, 3.0), _u(r, -1.0, 1.0), _u(r, 0.5, 2.0)),
    "norm_arrays": lambda r: (r.uniform(-3.0, 3.0, 4), r.uniform(-1.0, 1.0, 4),
                              _u(r, 0.5, 2.0)),
    "t_logpdf": lambda r: (_u(r, -4.0, 4.0), _u(r, 1.5, 8.0), _u(r, 0.5, 2.0)),
    "mvn_logpdf": lambda r: (r.uniform(-2.0, 2.0, 3), r.uniform(-1.0, 1.0, 3)),
    "mvn_rows": lambda r: (r.uniform(-2.0, 2.0, (4, 3)), r.uniform(-1.0, 1.0, 3),
                           r.uniform(-1.0, 1.0, (3, 3))),
    "var_std": lambda r: (r.uniform(-2.0, 2.0, (3, 4)),),
    "running": lambda r: (r.uniform(-1.5, 1.5, (3, 4)),),
    "differences": lambda r: (r.uniform(-2.0, 2.0, (3, 4)),),
    "sorting": lambda r: (r.uniform(-2.0, 2.0, (3, 4)),),
    "indices": lambda r: (r.uniform(-2.0, 2.0, 6),),
    "rearranged": lambda r: (r.uniform(-2.0, 2.0, (3, 4)),),
    "repeated": lambda r: (r.uniform(-2.0, 2.0, (3, 4)),),
    "diagonals": lambda r: (r.uniform(-2.0, 2.0, (3, 4)),),
    "joined": lambda r: (r.uniform(-2.0, 2.0, (3, 4)), r.uniform(-2.0, 2.0, 4)),
    "filled": lambda r: (r.uniform(-2.0, 2.0, (3, 4)),),
    "dtypes": lambda r: (_away_from_ints(r.uniform(-2.0, 2.0, (3, 4))),),
    "einsums": lambda r: (r.uniform(-2.0, 2.0, (3, 4)), r.uniform(-2.0, 2.0, 4)),
    "norms": lambda r: (r.uniform(-2.0, 2.0, (3, 4)),),
    "elementwise": lambda r: (np.sign(r.uniform(-1.0, 1.0, 6)) * r.uniform(0.3, 3.0, 6),),
    "special_more": lambda r: (r.uniform(0.1, 0.9, 4), r.uniform(0.2, 2.0, 4)),
    "softmaxes": lambda r: (r.uniform(-3.0, 3.0, (3, 4)),),
    "stats_more": lambda r: (_u(r, 0.5, 3.5), _u(r, 1.2, 4.0), _u(r, 0.7, 3.0)),
    "counts": lambda r: (_u(r, 0.3, 5.0), _u(r, 0.1, 0.9)),
    "dirichlet_alpha": lambda r: (r.uniform(0.5, 4.0, 3),),
    "log_determinants": lambda r: (r.uniform(-1.0, 1.0, (3, 3)) + 2.0 * np.eye(3),),
    "grids": lambda r: (r.uniform(-2.0, 2.0, 4), r.uniform(-2.0, 2.0, 3)),
    "more_elementwise": lambda r: (np.sign(r.uniform(-1.0, 1.0, 5)) * r.uniform(0.3, 3.0, 5),),
    "powers": lambda r: (r.uniform(-1.0, 1.0, (3, 3)) + 2.0 * np.eye(3),),
    "rearranged_axes": lambda r: (r.uniform(-2.0, 2.0, (2, 3, 4)),),
    "split_and_spread": lambda r: (r.uniform(-2.0, 2.0, 6),),
    "bessels": lambda r: (r.uniform(0.3, 2.0, 4),),
    "more_densities": lambda r: (_u(r, 0.5, 3.0), _u(r, 1.5, 4.0), r.uniform(-1.0, 1.0, (3, 3))),
    "rotated_padded": lambda r: (r.uniform(-2.0, 2.0, (3, 4)), _u(r, -1.0, 1.0)),
    "nan_ignoring": lambda r: (r.uniform(-2.0, 2.0, 5), r.uniform(-2.0, 2.0, 5)),
    "spectra": lambda r: (r.uniform(-1.0, 1.0, (3, 3)),),
}
# a first finite-difference step smaller than the distance to the nearest jump or kink
H = {"dtypes": 1e-3, "elementwise": 1e-3, "indices": 1e-4, "norms": 1e-3,
     "more_elementwise": 1e-3, "nan_ignoring": 1e-3}
NAMES = sorted(ARGS)


# every name in the slow layer, every other one in the default run (the suite stays fast)
HALF = [n if i % 2 == 0 else pytest.param(n, marks=pytest.mark.slow)
        for i, n in enumerate(NAMES)]


def _points(name):
    return [ARGS[name](np.random.default_rng(seed)) for seed in range(3)]


@pytest.mark.parametrize("name", NAMES)
def test_values_are_the_librarys(name):
    """The derivative's value is the function's own (SciPy's, NumPy's) to rounding."""
    f = getattr(L, name)
    for args in _points(name):
        value, _ = s2sad.value_and_grad(f)(*args)
        assert value == pytest.approx(f(*args), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", HALF)
def test_reverse_mode_matches_finite_differences(name):
    f = getattr(L, name)
    for args in _points(name):
        for i in range(len(args)):
            got = s2sad.grad(f, wrt=i)(*args)
            np.testing.assert_allclose(got, fd_grad(f, args, i, H.get(name)), rtol=1e-6,
                                       atol=1e-8, err_msg=f"{name} ∂/∂{i} at {args}")


@pytest.mark.parametrize("name", HALF)
def test_forward_mode_matches_finite_differences(name):
    f = getattr(L, name)
    rng = np.random.default_rng(7)
    for args in _points(name)[:2]:
        for i in range(len(args)):
            direction = rng.uniform(-1.0, 1.0, np.shape(args[i])) if np.ndim(args[i]) else 0.7
            _, tangent = s2sad.jvp(f, wrt=i)(*args, direction)
            want = np.sum(fd_grad(f, args, i, H.get(name)) * direction)
            np.testing.assert_allclose(tangent, want, rtol=1e-6, atol=1e-8,
                                       err_msg=f"{name} tangent along {i} at {args}")


@pytest.mark.parametrize("name", HALF)
def test_the_file_read_without_running_it_gives_the_same_gradient(name):
    fn = lower(parse_file(L.__file__).functions[name])
    args = _points(name)[0]
    grad = derive(fn, "grad", 0, "reverse")
    got = load(generate([grad]), grad.name)(*args)
    np.testing.assert_allclose(got, s2sad.grad(getattr(L, name))(*args), rtol=1e-12,
                               atol=1e-12)


# -- numerics ---------------------------------------------------------------------------------

def lse_extreme(x):
    return scipy.special.logsumexp(x)


def test_logsumexp_gradient_is_a_softmax_without_overflow():
    x = np.array([1000.0, 1000.5, -1000.0, 999.0])
    g = s2sad.grad(lse_extreme)(x)
    e = np.exp(x - x.max())
    np.testing.assert_allclose(g, e / e.sum(), rtol=1e-14)
    assert np.isfinite(g).all()
    assert s2sad.value_and_grad(lse_extreme)(x)[0] == pytest.approx(
        scipy.special.logsumexp(x), rel=1e-15)


def logcdf_tail(x):
    return scipy.stats.norm.logcdf(x)


@pytest.mark.parametrize("x", [-40.0, -12.0, -3.0, 0.0, 5.0, 30.0])
def test_norm_logcdf_derivative_in_the_far_tails_against_mpmath(x):
    import mpmath

    mpmath.mp.dps = 30
    t = mpmath.mpf(x)
    want = mpmath.npdf(t) / mpmath.ncdf(t)  # d/dx log Φ(x), exactly
    for mode in ("reverse", "forward"):
        got = s2sad.grad(logcdf_tail, mode=mode)(x)
        assert math.isfinite(got)
        assert got == pytest.approx(float(want), rel=1e-12, abs=1e-300)


def lgamma_only(x):
    return math.lgamma(x)


@pytest.mark.parametrize("x", [-7.3, -0.5, 1e-3, 0.5, 1.0, 8.0, 1e3, 1e8])
def test_digamma_of_lgamma_against_mpmath(x):
    import mpmath

    mpmath.mp.dps = 30
    got = s2sad.grad(lgamma_only)(x)
    assert got == pytest.approx(float(mpmath.digamma(x)), rel=1e-13)
    second = s2sad.derivative(lgamma_only, n=2)(x)
    assert second == pytest.approx(float(mpmath.polygamma(1, x)), rel=1e-12)


def cumprod_sum(x):
    return np.sum(np.cumprod(x) * np.array([1.0, 2.0, 3.0, 4.0, 5.0]))


@pytest.mark.parametrize("x", [[0.5, 2.0, 0.0, -1.5, 3.0], [0.0, 2.0, 1.5, -1.0, 3.0],
                               [0.0, 0.0, 1.5, -1.0, 3.0], [1.5, -2.0, 0.5, 0.25, 0.0]])
def test_cumprod_through_zeros_is_exact(x):
    """No division by the zero: ∂/∂x_i = Σ_{j≥i} w_j Π_{k≤j, k≠i} x_k, written out."""
    x = np.array(x)
    w = np.arange(1.0, 6.0)
    want = np.array([sum(w[j] * np.prod(np.delete(x[:j + 1], i)) for j in range(i, 5))
                     for i in range(5)])
    for mode in ("reverse", "forward"):
        if mode == "reverse":
            got = s2sad.grad(cumprod_sum)(x)
        else:
            got = np.array([s2sad.jvp(cumprod_sum)(x, e)[1] for e in np.eye(5)])
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0.0)
        assert np.isfinite(got).all()


def sort_weighted(x):
    return np.sum(np.sort(x) * np.array([1.0, 2.0, 3.0, 4.0]))


def test_sort_with_ties_moves_each_adjoint_with_its_value():
    # tied values: a stable sort gives each its own rank (the subgradient of that order)
    g = s2sad.grad(sort_weighted)(np.array([2.0, -1.0, 2.0, 0.5]))
    np.testing.assert_array_equal(g, [3.0, 1.0, 4.0, 2.0])


def argmax_pick(x):
    return x[np.argmax(x)] * 2.0 + np.argmin(x)


def test_int_results_are_allowed_and_have_no_derivative():
    x = np.array([0.3, -1.0, 2.5, 0.7])
    np.testing.assert_array_equal(s2sad.grad(argmax_pick)(x), [0.0, 0.0, 2.0, 0.0])


def float32_values(X):
    return L.float32(X)


def test_float32_rounds_the_value_and_passes_the_derivative():
    X = np.random.default_rng(0).uniform(-2.0, 2.0, (3, 4))
    g = s2sad.grad(L.float32)(X)
    want = 2.0 * X.astype(np.float32).astype(float)
    want[0, 0] += 2.0
    np.testing.assert_allclose(g, want, rtol=1e-6)


# -- what generated code imports --------------------------------------------------------------

def test_generated_code_imports_scipy_special_only_where_the_source_used_scipy():
    src = s2sad.grad(L.norm_forms, wrt=(0, 1, 2)).source
    assert "import scipy.special" in src and "scipy.stats" not in src
    assert "norm" not in src.replace("norm_forms", "")  # no distribution object
    plain = s2sad.grad(L.lgamma_math).source
    assert "scipy" not in plain and "_polygamma(0, x)" in plain
    logpdf = s2sad.grad(L.mvn_logpdf).source
    assert "scipy" not in logpdf  # written with np.linalg.solve and det


# -- located errors -----------------------------------------------------------------------------

_BAD = {
    "lse_b": ("scipy.special.logsumexp(x, b=x)", "x)", "`b`", "np.log(b)"),
    "lse_sign": ("scipy.special.logsumexp(x, return_sign=True)", "scipy.special.logsumexp",
                 "return_sign", "leave it out"),
    "einsum_implicit": ('np.einsum("ij,jk", x, x)', '"ij,jk"', "explicit subscripts",
                        'np.einsum("ij,jk->ik", a, b)'),
    "einsum_ellipsis": ('np.einsum("...i->...", x)', '"...i->..."', "explicit", "->"),
    "astype_complex": ("np.sum(x.astype(np.complex128))", "np.complex128", "dtype",
                       "np.float64"),
    "var_dtype": ("np.var(x, dtype=np.float32)", "np.float32", "`dtype`", "leave `dtype` out"),
    "repeat_array": ("np.sum(np.repeat(x, x))", "x))", "`repeats` must be one int",
                     "np.repeat(x, 3)"),
    "stack_of_name": ("np.sum(np.hstack(xs))", "xs", "written in the call", "np.hstack([a, "),
    "mvn_singular": ("scipy.stats.multivariate_normal.logpdf(x, allow_singular=True)", "True",
                     "allow_singular", "leave it out"),
    "eig": ("np.sum(np.linalg.eig(x)[0])", "np.linalg.eig", "not supported",
            "np.linalg.eigh(A)"),
    "svd_full": ("np.sum(np.linalg.svd(x)[1])", "np.linalg.svd", "full_matrices=True",
                 "full_matrices=False"),
    "eigh_upper": ('np.sum(np.linalg.eigh(x, UPLO="U")[0])', '"U"', "`UPLO`",
                   "leave `UPLO` out"),
    "pad_wrap": ('np.sum(np.pad(x, 1, mode="wrap"))', '"wrap"', 'mode=\'wrap\'',
                 'mode="constant"'),
    "norm_unknown": ("scipy.stats.norm.ppf(x)", "scipy.stats.norm.ppf", "scipy.stats.norm.ppf",
                     None),
}


@pytest.mark.parametrize("name", list(_BAD))
def test_unsupported_arguments_are_located_errors_with_a_hint(name):
    expr, at, what, hint = _BAD[name]
    mod = load_source("import numpy as np\nimport scipy.special\nimport scipy.stats\n\n\n"
                      f"def f(x, xs):\n    return {expr}\n", "library_bad")
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(mod.f)
    err = info.value
    assert (err.lineno, err.col_offset) == (7, len("    return ") + expr.index(at)), str(err)
    assert what in str(err), str(err)
    if hint is not None:
        assert hint in (err.hint or ""), str(err)


# -- second derivatives: the adjoint helpers that are linear have rules of their own ----------

def hess_sorted(x):
    return np.sum(np.sort(x) * np.arange(4.0) * x[0]) + np.var(x) ** 2 + np.sum(np.cumsum(x) ** 3)


def hess_built(x):
    return (np.sum(np.repeat(x, 2) ** 3) + np.sum(np.tile(x, 2) ** 3)
            + np.sum(np.hstack([x, x ** 2]) ** 2) + np.sum(np.diag(x) @ np.diag(x) * x[1]))


def hess_special(x):
    return np.sum(scipy.special.gammaln(x * x + 0.5) + scipy.stats.norm.logcdf(x * 3.0)
                  + scipy.special.logsumexp(x * x))


@pytest.mark.parametrize("f", [hess_sorted, hess_built, hess_special])
def test_hessians_match_finite_differences_of_the_gradient(f):
    g = s2sad.grad(f)
    for seed in range(2):
        x = np.random.default_rng(seed).uniform(-2.0, 2.0, 4)
        want = np.array([fd_grad(lambda v, i=i: g(v)[i], (x,), 0, 1e-3) for i in range(4)])
        np.testing.assert_allclose(s2sad.hessian(f)(x), want, rtol=1e-6, atol=1e-8)


# -- the Numba target: SciPy calls and helpers without a Numba version are located errors ------

def numba_scipy(x):
    return scipy.special.gammaln(x) * 2.0


def numba_sort(x):
    return np.sum(np.sort(x) * np.array([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("f, what", [(numba_scipy, "scipy.special."),
                                     (numba_sort, "this array expression")])
def test_the_numba_target_refuses_what_numba_cannot_type(f, what):
    from s2sad.api import lift

    with pytest.raises(s2sad.S2SADError, match="cannot be compiled for the Numba target") as info:
        generate([derive(lift(f), "grad", 0)], header="t", target="numba")
    assert what in info.value.what and info.value.loc is not None
