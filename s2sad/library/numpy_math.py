"""NumPy's elementwise spellings that are compositions of primitives
(``np.reciprocal``, ``np.deg2rad``) and dtype conversions."""

from __future__ import annotations

import math

from . import Call, entry


@entry("numpy.reciprocal", "x")
def reciprocal(c: Call):
    return c.emit("div", [c.const(1.0), c.arg("x")], out=True)


def _scale(name: str, factor: float) -> None:
    @entry(f"numpy.{name}", "x")
    def lower(c: Call):
        return c.emit("mul", [c.arg("x"), c.const(factor)], out=True)


_scale("deg2rad", math.pi / 180.0)
_scale("radians", math.pi / 180.0)
_scale("rad2deg", 180.0 / math.pi)
_scale("degrees", 180.0 / math.pi)


@entry("numpy.linalg.slogdet", "a")
def slogdet(c: Call):
    """``(sign, log|det A|)``: the log-determinant without det's overflow; its derivative
    is ``A⁻ᵀ``; the sign is piecewise constant."""
    a = c.array("a")
    return (c.emit("slogdet_sign", [a]), c.emit("logabsdet", [a], out=True))


@entry("numpy.linalg.cholesky", "a")
def cholesky(c: Call):
    """The lower Cholesky factor (of A's lower triangle, as NumPy reads it)."""
    return c.emit("cholesky", [c.array("a")], out=True)


@entry("numpy.logaddexp2", "x1, x2")
def logaddexp2(c: Call):
    """``logaddexp(x1 ln 2, x2 ln 2) / ln 2``: the stable logaddexp, in base 2."""
    ln2 = c.const(math.log(2.0))
    a, b = (c.emit("mul", [c.arg(p), ln2]) for p in ("x1", "x2"))
    return c.emit("div", [c.emit("logaddexp", [a, b], lib="numpy"), ln2], out=True)


@entry("numpy.heaviside", "x1, x2")
def heaviside(c: Call):
    """0 below 0, ``x2`` at 0, 1 above: no derivative in x1, x2's where x1 is 0."""
    x1 = c.arg("x1")
    at_zero = c.emit("np_where", [c.emit("eq", [x1, c.const(0.0)]), c.arg("x2"), c.const(0.0)])
    return c.emit("np_where", [c.emit("gt", [x1, c.const(0.0)]), c.const(1.0), at_zero],
                  out=True)


@entry("numpy.nan_to_num", "x, copy, nan, posinf, neginf", static="copy", copy=True, nan=0.0,
       posinf=None, neginf=None)
def nan_to_num(c: Call):
    """x where it is finite (derivative 1), the replacements elsewhere (derivative 0 in x).
    ``posinf``/``neginf`` default to the largest finite floats, as NumPy's."""
    x = c.arg("x")
    big = c.const(1.7976931348623157e308)
    posinf = c.arg("posinf") if c.given("posinf") else big
    neginf = c.arg("neginf") if c.given("neginf") else c.emit("neg", [big])
    inf_value = c.emit("np_where", [c.emit("gt", [x, c.const(0.0)]), posinf, neginf])
    other = c.emit("np_where", [c.emit("isnan", [x], lib="numpy"), c.arg("nan"), inf_value])
    return c.emit("np_where", [c.emit("isfinite", [x], lib="numpy"), x, other], out=True)


@entry("numpy.linalg.matrix_power", "a, n", static="n")
def matrix_power(c: Call):
    """``A @ A @ …`` by squaring, for a constant int n (``inv(A)`` first for n < 0)."""
    a, n = c.array("a"), c.static_int("n")
    if n < 0:
        a, n = c.emit("inv", [a]), -n
    if n == 0:
        raise c.error("`np.linalg.matrix_power(A, 0)` is the identity: no derivative",
                      hint="write np.eye(A.shape[0])")
    result, power = None, a
    while n:
        if n & 1:
            result = power if result is None else c.emit("matmul", [result, power])
        n >>= 1
        if n:
            power = c.emit("matmul", [power, power])
    return result


def _nan_ignoring(name: str, prim: str) -> None:
    @entry(f"numpy.{name}", "x1, x2")
    def lower(c: Call):
        """The larger (smaller) of x1 and x2, the other where one is nan; ties go to x1
        (the convention of np.maximum here)."""
        a, b = c.arg("x1"), c.arg("x2")
        first = c.emit("logical_or", [c.emit("isnan", [b], lib="numpy"),
                                      c.emit(prim, [a, b])], lib="numpy")
        return c.emit("np_where", [first, a, b], out=True)


_nan_ignoring("fmax", "ge")
_nan_ignoring("fmin", "le")


def _real_part(name: str) -> None:
    @entry(f"numpy.{name}", "val")
    def lower(c: Call):
        """The array itself: s2sad's arrays are real (complex ones are not supported)."""
        return c.arg("val")


for _name in ("real", "conj", "conjugate", "real_if_close"):
    _real_part(_name)


@entry("numpy.imag", "val")
def imag(c: Call):
    """Zeros: s2sad's arrays are real."""
    v = c.arg("val")
    return c.emit("np_zeros_like", [v]) if v.kind.name == "ARRAY" else c.const(0.0)


_EIGH_WHY = "s2sad reads the lower triangle, NumPy's default|leave `UPLO` out"


@entry("numpy.linalg.eigh", "a, UPLO", refused={"UPLO": _EIGH_WHY}, UPLO=None)
def eigh(c: Call):
    """``(w, V)`` of a symmetric matrix (its lower triangle).  The eigenvectors'
    derivative needs distinct eigenvalues (it divides by their gaps); the eigenvalues'
    does not."""
    a = c.array("a")
    return (c.emit("eigh", [a], part=0), c.emit("eigh", [a], part=1))


@entry("numpy.linalg.eigvalsh", "a, UPLO", refused={"UPLO": _EIGH_WHY}, UPLO=None)
def eigvalsh(c: Call):
    return c.emit("eigh", [c.array("a")], out=True, part=0)


@entry("numpy.linalg.svd", "a, full_matrices, compute_uv, hermitian",
       static="full_matrices compute_uv hermitian", full_matrices=True, compute_uv=True,
       hermitian=False)
def svd(c: Call):
    """The singular values are differentiated (``U diag(s̄) Vᵀ``); ``U`` and ``Vh``
    (``full_matrices=False``) are values whose derivative is not supported yet."""
    a = c.array("a")
    s = c.emit("svd_values", [a])
    if not c.static("compute_uv"):
        return s
    if c.static("full_matrices"):
        raise c.error("`np.linalg.svd` with full_matrices=True is not supported",
                      at=c.node, why="s2sad computes the reduced decomposition",
                      hint="np.linalg.svd(A, full_matrices=False), or compute_uv=False "
                           "for the singular values")
    return (c.emit("svd_vectors", [a], part=0), s, c.emit("svd_vectors", [a], part=2))



@entry("math.ldexp", "x, i")
def ldexp(c: Call):
    """``x * 2 ** i`` (``i`` an int: exact, as ldexp is)."""
    return c.emit("mul", [c.arg("x"), c.emit("pow", [c.const(2.0), c.arg("i")])], out=True)
