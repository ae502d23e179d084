"""The rest of issue 15's functions in the library layer (tests/fixtures/library_more.py):
np.kron, np.tensordot, np.cross, np.take_along_axis, np.rollaxis, np.angle,
np.linalg.pinv / lstsq / qr, the singular vectors of np.linalg.svd, np.copysign, and
math's copysign, remainder, prod, fsum and dist — both modes against Richardson finite
differences at several points (negative values included), read live and from the file,
Hessians where the rules differentiate again, and the located errors (with the nearest
supported spelling) for what stays unsupported."""

from __future__ import annotations

import math

import numpy as np
import pytest

try:
    import scipy.special
except ImportError:  # the test extra's: only the ppf spelling needs it
    scipy = None

import s2sad
from s2sad.codegen import load
from s2sad.frontend import lower, parse_file
from s2sad.pipeline import derive, generate
from tests.fixtures import library_more as L
from tests.srcmod import load_source
from tests.test_numpy import fd_grad


def _full_rank(r, shape):
    """A well-conditioned matrix with distinct singular values (QR and the singular
    vectors are differentiable there)."""
    a = r.uniform(-1.0, 1.0, shape)
    u, _, vh = np.linalg.svd(a, full_matrices=False)
    return (u * np.linspace(2.5, 0.8, min(shape))) @ vh


ARGS = {
    "kron_forms": lambda r: (r.uniform(-2.0, 2.0, (3, 4)), r.uniform(-2.0, 2.0, 3)),
    "tensordot_forms": lambda r: (r.uniform(-2.0, 2.0, (3, 4)), r.uniform(-2.0, 2.0, 3)),
    "tensordot_3d": lambda r: (r.uniform(-2.0, 2.0, (2, 3, 4)), r.uniform(-2.0, 2.0, (4, 5, 2))),
    "cross_forms": lambda r: (r.uniform(-2.0, 2.0, 3), r.uniform(-2.0, 2.0, (4, 3))),
    "take_along_forms": lambda r: (r.uniform(-2.0, 2.0, (3, 4)),),
    "pinv_forms": lambda r: (_full_rank(r, (4, 3)),),
    "lstsq_forms": lambda r: (_full_rank(r, (4, 3)), r.uniform(-1.0, 1.0, 4)),
    "qr_forms": lambda r: (_full_rank(r, (4, 3)),),
    "svd_vectors": lambda r: (_full_rank(r, (4, 3)),),
    "math_numbers": None,  # FIXED
    "math_sequences": lambda r: (list(r.uniform(-2.0, 2.0, 3)), list(r.uniform(-2.0, 2.0, 3))),
    "rolled_and_angles": lambda r: (np.sign(r.uniform(-1.0, 1.0, (2, 3, 4)))
                                    * r.uniform(0.2, 2.0, (2, 3, 4)),),
    "copysign_arrays": lambda r: (np.sign(r.uniform(-1.0, 1.0, 5)) * r.uniform(0.3, 2.0, 5),
                                  r.uniform(-2.0, 2.0, 5)),
}
# a first finite-difference step smaller than the distance to the nearest jump or kink
H = {"math_numbers": 1e-3, "copysign_arrays": 1e-3, "take_along_forms": 1e-3,
     "rolled_and_angles": 1e-3}
NAMES = sorted(ARGS)


# points chosen away from fmod's jumps (multiples of 0.7), remainder's (odd multiples of
# 0.45) and copysign's kink (0), negative values included
FIXED = {"math_numbers": [(-1.23, 0.77), (0.61, -1.4), (-0.3, -0.55)]}


def _points(name):
    if name in FIXED:
        return FIXED[name]
    return [ARGS[name](np.random.default_rng(seed)) for seed in range(3)]


def _fd(f, args, i, h):
    """Finite differences, item by item for a list argument."""
    if isinstance(args[i], list):
        as_array = np.array(args[i])
        return fd_grad(lambda *a: f(*a[:i], list(a[i]), *a[i + 1:]),
                       (*args[:i], as_array, *args[i + 1:]), i, h)
    return fd_grad(f, args, i, h)


@pytest.mark.parametrize("name", NAMES)
def test_values_are_the_librarys(name):
    f = getattr(L, name)
    for args in _points(name):
        value, _ = s2sad.value_and_grad(f)(*args)
        assert value == pytest.approx(f(*args), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_reverse_mode_matches_finite_differences(name):
    f = getattr(L, name)
    for args in _points(name):
        for i in range(len(args)):
            got = s2sad.grad(f, wrt=i)(*args)
            np.testing.assert_allclose(np.asarray(got, dtype=float), _fd(f, args, i, H.get(name)),
                                       rtol=1e-6, atol=1e-8, err_msg=f"{name} ∂/∂{i} at {args}")


@pytest.mark.parametrize("name", NAMES)
def test_forward_mode_matches_finite_differences(name):
    f = getattr(L, name)
    rng = np.random.default_rng(7)
    for args in _points(name)[:2]:
        for i in range(len(args)):
            shape = np.shape(args[i])
            direction = rng.uniform(-1.0, 1.0, shape) if shape else 0.7
            if isinstance(args[i], list):
                direction = list(direction)
            _, tangent = s2sad.jvp(f, wrt=i)(*args, direction)
            want = np.sum(_fd(f, args, i, H.get(name)) * np.asarray(direction))
            np.testing.assert_allclose(tangent, want, rtol=1e-6, atol=1e-8,
                                       err_msg=f"{name} tangent along {i} at {args}")


@pytest.mark.parametrize("name", NAMES)
def test_the_file_read_without_running_it_gives_the_same_gradient(name):
    fn = lower(parse_file(L.__file__).functions[name])
    args = _points(name)[0]
    grad = derive(fn, "grad", 0, "reverse")
    got = load(generate([grad]), grad.name)(*args)
    np.testing.assert_allclose(got, s2sad.grad(getattr(L, name))(*args), rtol=1e-12,
                               atol=1e-12)


# -- second derivatives: the products' pullbacks and pinv's rules differentiate again -------

W44 = np.arange(16.0).reshape(4, 4) / 8.0 - 1.0
W23 = L.W34[:2, :3].copy()
B3 = L.W43[:3, 0].copy()
ROWS2 = np.array([[0, 0], [1, 0]])

def hess_kron(x):
    a = x.reshape(2, 2)
    return np.sum(np.kron(a, a * a) ** 2 * W44)


def hess_tensordot(x):
    a = x.reshape(2, 2)
    return np.sum(np.tensordot(a, a ** 2, axes=([0], [1])) ** 2) + np.tensordot(a, a, 2) ** 2


def hess_cross(x):
    a = x.reshape(2, 3)
    return np.sum(np.cross(a, a[::-1] ** 2) ** 2)


def hess_take_along(x):
    return np.sum(np.take_along_axis(x.reshape(2, 2), ROWS2, axis=1) ** 3)


def hess_pinv(x):
    return np.sum(np.linalg.pinv(x.reshape(3, 2)) ** 2 * W23)


def hess_lstsq(x):
    return np.sum(np.linalg.lstsq(x.reshape(3, 2), B3)[0] ** 2)


def hess_math(x):
    return (math.prod([x[0], x[1], x[0]]) + math.dist((x[0], 1.0), (x[1], -x[0]))
            + math.copysign(x[0] * x[1], -1.0) * x[0] + math.remainder(x[0] * x[1], 0.9))


_HESS = {hess_kron: 4, hess_tensordot: 4, hess_cross: 6, hess_take_along: 4, hess_pinv: 6,
         hess_lstsq: 6, hess_math: 2}


@pytest.mark.parametrize("f", list(_HESS), ids=lambda f: f.__name__)
def test_hessians_match_finite_differences_of_the_gradient(f):
    n, g = _HESS[f], s2sad.grad(f)
    for seed in range(2):
        r = np.random.default_rng(seed)
        x = r.uniform(0.4, 1.6, n) * np.sign(r.uniform(-1.0, 1.0, n))
        if f is hess_math:  # away from remainder's jumps and copysign's kink
            x = np.array([[-1.1, 0.7], [0.8, -0.45]][seed])
        if f in (hess_pinv, hess_lstsq):
            x = _full_rank(r, (3, 2)).ravel()
        want = np.array([fd_grad(lambda v, i=i: g(v)[i], (x,), 0, 1e-3) for i in range(n)])
        np.testing.assert_allclose(s2sad.hessian(f)(x), want, rtol=1e-6, atol=1e-8)


W43 = L.W43


def hess_qr(A):
    return np.sum(np.linalg.qr(A)[1] ** 2)


def hess_svd_vectors(A):
    return np.sum(np.linalg.svd(A, full_matrices=False)[0] ** 2 * W43)


@pytest.mark.parametrize("f", [hess_qr, hess_svd_vectors], ids=lambda f: f.__name__)
def test_second_derivatives_through_decompositions_are_refused_not_zero(f):
    """QR's and the singular vectors' rules are helpers with no rule of their own yet:
    a Hessian through them is a located error, never a silent zero."""
    A = _full_rank(np.random.default_rng(0), (4, 3))
    assert np.isfinite(s2sad.grad(f)(A)).all()
    with pytest.raises(s2sad.S2SADError, match="no derivative rule yet") as info:
        s2sad.hessian(f)(A)
    assert info.value.loc is not None


# -- numerics and shapes ---------------------------------------------------------------------

def kron_0d(a, B):
    return np.sum(np.kron(a, B) ** 2)


def test_kron_of_a_0d_array_and_a_float():
    B = np.array([[1.0, -2.0], [0.5, 3.0]])
    for a in (np.array(-1.5), -1.5):
        np.testing.assert_allclose(s2sad.grad(kron_0d)(a, B), 2.0 * a * np.sum(B ** 2))
        np.testing.assert_allclose(s2sad.grad(kron_0d, wrt=1)(a, B), 2.0 * a * a * B)


def take_big(x, idx):
    return np.sum(np.take_along_axis(x, idx, axis=1) * 2.0)


def test_take_along_axis_adds_every_read_of_a_repeated_index():
    x = np.arange(6.0).reshape(2, 3)
    idx = np.array([[0, 0, 0, 2], [1, 1, 2, 1]])
    np.testing.assert_array_equal(s2sad.grad(take_big)(x, idx), [[6.0, 0.0, 2.0],
                                                                  [0.0, 6.0, 2.0]])
    negative = np.array([[0, 0, -1, 2], [1, -2, 2, 1]])  # counted from the end, as NumPy
    np.testing.assert_array_equal(s2sad.grad(take_big)(x, negative), [[4.0, 0.0, 4.0],
                                                                       [0.0, 6.0, 2.0]])


def cross_two(a, b):
    return np.sum(np.cross(a, b))


def test_cross_of_2_vectors_raises_instead_of_a_wrong_value():
    """NumPy's 2-D cross product (a number; deprecated since NumPy 2.0) is not supported
    in reverse mode: its adjoint, a cross product with that number, raises ValueError."""
    with pytest.raises(ValueError), pytest.warns(DeprecationWarning):
        s2sad.grad(cross_two)(np.array([1.0, 2.0]), np.array([3.0, -1.0]))


def test_qr_of_a_wide_matrix_raises_in_the_derivative():
    with pytest.raises(ValueError, match="at least as many rows as columns"):
        s2sad.grad(hess_qr)(np.arange(6.0).reshape(2, 3) ** 2)


def pinv_rank_one(A):
    return np.sum(np.linalg.pinv(A) ** 2)


def test_pinv_at_constant_rank_matches_finite_differences():
    """The rule holds at any rank the perturbation keeps: a rank-one matrix varied along a
    rank-one direction (the kink is where the rank changes)."""
    u, v = np.array([1.0, -2.0, 0.5]), np.array([0.3, 1.2])

    def along(t):
        return pinv_rank_one(np.outer(u * (1.0 + t), v))

    got = np.sum(s2sad.grad(pinv_rank_one)(np.outer(u, v)) * np.outer(u, v))
    want = fd_grad(lambda t: along(float(t)), (0.0,), 0)
    assert got == pytest.approx(want, rel=1e-6)


# -- generated code reads as NumPy ----------------------------------------------------------------

def test_generated_code_calls_the_numpy_functions_and_small_helpers():
    src = s2sad.grad(L.kron_forms).source
    assert "np.kron(A, b)" in src and "_kron_bar(" in src and "np.tensordot(" in src
    src = s2sad.grad(L.take_along_forms).source
    assert "np.take_along_axis(X, ROWS, axis=1)" in src and "np.bincount(" in src
    assert "for " not in src.split("def grad_take_along_forms")[1]  # no Python loop
    src = s2sad.grad(L.pinv_forms).source
    assert "np.linalg.pinv(A)" in src and "def _pinv" not in src  # products of A and P
    assert "np.linalg.qr(A)[0]" in s2sad.grad(L.qr_forms).source
    src = s2sad.grad(L.math_numbers).source
    src = s2sad.grad(L.cross_forms).source
    assert "np.cross(B, 2.0 * np.cross(a, B))" in src and ", axis=0)" in src
    src = s2sad.grad(L.math_numbers).source
    assert "math.copysign(x, y)" in src and "for " not in src  # lists in the call: written out
    assert "math.remainder(x, 0.9)" in s2sad.grad(L.math_numbers, wrt=1).source


# -- located errors, and the nearest supported spelling for what is not supported --------------

_BAD = {
    "tensordot_axes": ("np.tensordot(x, x, axes=n)", "n)", "must be a constant", "axes=0"),
    "tensordot_lengths": ("np.sum(np.tensordot(x, x, axes=([0, 1], [0])))", "([0, 1], [0])",
                          "differ in length", "axes=([1], [0])"),
    "cross_axes": ("np.sum(np.cross(x, x, axisa=0))", "np.cross", "different `axisa`",
                   "np.moveaxis"),
    "pinv_rcond": ("np.sum(np.linalg.pinv(x, rcond=1e-3))", "1e-3", "`rcond`", "leave it out"),
    "lstsq_rcond": ("np.sum(np.linalg.lstsq(x, x, 1e-3)[0])", "1e-3", "`rcond`",
                    "leave it out"),
    "qr_complete": ('np.sum(np.linalg.qr(x, mode="complete")[0])', '"complete"', "mode=",
                    'mode="reduced"'),
    "eigvals": ("np.sum(np.linalg.eigvals(x))", "np.linalg.eigvals", "not supported",
                "np.linalg.eigvalsh(A)"),
    "gradient": ("np.sum(np.gradient(x))", "np.gradient", "not supported", "`np.diff(x)`"),
    "partition": ("np.sum(np.partition(x, 1))", "np.partition", "not supported", "`np.sort("),
    "nansum": ("np.nansum(x)", "np.nansum", "not supported",
               "`np.sum(np.where(np.isnan(x), 0.0, x))`"),
    "rank": ("np.linalg.matrix_rank(x) * np.sum(x)", "np.linalg.matrix_rank", "not supported",
             "np.count_nonzero(np.linalg.svd(A, compute_uv=False) > tol)"),
    "rollaxis_negative": ("np.sum(np.rollaxis(x, -1))", "-1", "counted from the front",
                          "np.moveaxis"),
    "typo": ("np.sum(np.cumsun(x))", "np.cumsun", "not supported",
             "`np.cumsum` (the closest supported name)"),
}


@pytest.mark.parametrize("name", list(_BAD))
def test_unsupported_forms_are_located_errors_with_a_hint(name):
    expr, at, what, hint = _BAD[name]
    mod = load_source(f"import numpy as np\n\n\ndef f(x, n):\n    return {expr}\n",
                      "library_more_bad")
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(mod.f)
    err = info.value
    assert (err.lineno, err.col_offset) == (5, len("    return ") + expr.index(at)), str(err)
    assert what in str(err), str(err)
    assert hint in (err.hint or ""), str(err)


def nearest_sum(x):
    return np.sum(np.where(np.isnan(x), 0.0, x))


def nearest_sort(x):
    return np.sum(np.sort(x, axis=0) * np.arange(4.0))


def nearest_ppf(p):
    return -np.sqrt(2.0) * scipy.special.erfcinv(2.0 * p)


def test_the_suggested_spellings_compile_and_match_the_unsupported_function():
    x = np.array([0.5, np.nan, -1.5, 2.0])
    np.testing.assert_array_equal(s2sad.grad(nearest_sum)(x), [1.0, 0.0, 1.0, 1.0])
    assert s2sad.value_and_grad(nearest_sum)(x)[0] == np.nansum(x)
    y = np.array([0.3, -1.0, 2.0, 0.1])
    assert s2sad.value_and_grad(nearest_sort)(y)[0] == pytest.approx(
        np.sum(np.partition(y, 1, axis=0) * 0.0 + np.sort(y) * np.arange(4.0)))
    if scipy is None:
        pytest.skip("scipy (the `test` extra) is not installed")
    from scipy.stats import norm

    for p in (0.01, 0.3, 0.9):
        value, slope = s2sad.value_and_grad(nearest_ppf)(p)
        assert value == pytest.approx(norm.ppf(p), rel=1e-12)
        assert slope == pytest.approx(1.0 / norm.pdf(value), rel=1e-10)
