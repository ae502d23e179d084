"""NumPy's elementwise spellings that are compositions of primitives
(``np.reciprocal``, ``np.deg2rad``), dtype conversions, ``np.linalg``'s functions, and
``math``'s functions of sequences (``math.prod``, ``fsum``, ``dist``)."""

from __future__ import annotations

import ast
import math

from . import Call, entry, is_array


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
    """The singular values (``U diag(s̄) Vᵀ``) and, of ``full_matrices=False``, the
    singular vectors ``U`` and ``Vh``, whose derivative needs distinct nonzero singular
    values (it divides by the gaps ``s_j² - s_i²``, as eigh's by eigenvalue gaps)."""
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


_PINV_WHY = ("s2sad differentiates the pseudo-inverse of a full-rank matrix with NumPy's "
             "default cutoff|leave it out")


@entry("numpy.linalg.pinv", "a, rcond, hermitian, rtol", static="hermitian",
       refused={"rcond": _PINV_WHY, "rtol": _PINV_WHY}, rcond=None, hermitian=False,
       rtol=None)
def pinv(c: Call):
    """The pseudo-inverse ``P = A⁺``, differentiated as a full-rank matrix's (Golub and
    Pereyra: products of A, P and dA).  Where A loses rank the small singular values NumPy
    cuts off jump to zero: there ``A⁺`` is not continuous, let alone differentiable."""
    if c.static("hermitian"):
        raise c.error("`hermitian=True` of np.linalg.pinv is not supported",
                      at=c.nodes.get("hermitian"), hint="leave it out")
    return c.emit("pinv", [c.array("a")], out=True)


@entry("numpy.linalg.lstsq", "a, b, rcond", refused={"rcond": _PINV_WHY}, rcond=None)
def lstsq(c: Call):
    """``(x, residuals, rank, s)`` of a full-column-rank ``a`` (more rows than columns):
    the solution ``x = A⁺ b`` (written ``np.linalg.pinv(A) @ b``, whose derivative is
    pinv's), the residuals ``Σ (A x - b)²`` per column of b, the rank ``min(m, n)`` and
    the singular values.  (NumPy's residuals are an empty array unless m > n and A has
    full rank, which is what s2sad assumes.)"""
    a, b = c.array("a"), c.array("b")
    x = c.emit("matmul", [c.emit("pinv", [a]), b], out=True)
    r = c.emit("sub", [c.emit("matmul", [a, x]), b])
    residuals = c.emit("np_sum", [c.emit("mul", [r, r])], axis=0)
    rank = c.emit("min2", [c.emit("dim", [a], axis=-2), c.emit("dim", [a], axis=-1)],
                  lib="builtin")
    return (x, residuals, rank, c.emit("svd_values", [a]))


@entry("numpy.linalg.qr", "a, mode", static="mode", mode="reduced")
def qr(c: Call):
    """``(Q, R)`` of the reduced decomposition, for a full-column-rank ``a`` with at least
    as many rows as columns (the derivative divides by R's diagonal; the helper raises
    for a wide matrix)."""
    if c.static("mode") not in ("reduced", "r"):
        raise c.error(f"np.linalg.qr with mode={c.static('mode')!r} is not supported",
                      at=c.nodes.get("mode"), why="s2sad differentiates the reduced "
                      "decomposition", hint='leave `mode` out (mode="reduced")')
    a = c.array("a")
    if c.static("mode") == "r":
        return c.emit("qr", [a], out=True, part=1)
    return (c.emit("qr", [a], part=0), c.emit("qr", [a], part=1))


def _complex_spectrum(name: str, nearest: str) -> None:
    from . import REFUSING

    REFUSING.add(f"numpy.linalg.{name}")

    @entry(f"numpy.linalg.{name}", "a")
    def lower(c: Call):
        """Refused: a general matrix's eigenvalues and eigenvectors may be complex."""
        raise c.error(f"`{c.spelled}` is not supported",
                      why="a general matrix's eigenvalues and eigenvectors may be complex, "
                          "and s2sad differentiates real arrays",
                      hint=f"for a symmetric matrix use `{nearest}` (the lower triangle "
                           "is read); for singular values, np.linalg.svd")


_complex_spectrum("eig", "np.linalg.eigh(A)")
_complex_spectrum("eigvals", "np.linalg.eigvalsh(A)")


@entry("numpy.angle", "z, deg", static="deg", deg=False)
def angle(c: Call):
    """The argument of a real number: π where its sign bit is set (-0.0 too, as
    ``arctan2(0, x)``), 0 elsewhere, nan for nan; piecewise constant (no derivative)."""
    x = c.arg("z")
    half_turn = 180.0 if c.static("deg") else math.pi
    negative = c.emit("lt", [c.emit("copysign", [c.const(1.0), x], lib="numpy"), c.const(0.0)])
    turn = c.emit("np_where", [negative, c.const(half_turn), c.const(0.0)])
    nan = c.emit("isnan", [x], lib="numpy")
    return c.emit("np_where", [nan, c.emit("mul", [x, c.const(0.0)]), turn], out=True)


# -- math's functions of sequences: products, exact sums, distances ----------------------------

def _sequence_call(c: Call, name: str, *args: ast.expr) -> ast.Call:
    """The call ``name(*args)`` at the library call's place (a desugaring's part)."""
    return ast.copy_location(ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=list(args),
                                      keywords=[]), c.node)


def _items(node: ast.expr) -> list[ast.expr] | None:
    """The items of a list or tuple written in the call, or None."""
    if isinstance(node, (ast.List, ast.Tuple)) and not any(
            isinstance(e, ast.Starred) for e in node.elts):
        return list(node.elts)
    return None


@entry("math.prod", "iterable, start", start=1)
def prod(c: Call):
    """``start · x₀ · x₁ · …``: the products written out for a list in the call,
    ``np.prod(x, axis=0)`` for an array (Python iterates its rows), a loop over a list
    or generator built at run time (each factor's derivative is the product of the
    others, computed without division: exact through zeros)."""
    node = c.nodes["iterable"]
    start = c.arg("start")
    items = _items(node)
    if items is not None:
        acc = start
        for e in items:
            acc = c.emit("mul", [acc, c.lw.value(e, c.ctx)])
        return acc
    if not isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        value = c.lw.expr(node, c.ctx)
        if is_array(value):
            total = c.emit("np_prod", [value], axis=0)
            return c.emit("mul", [start, total], out=True)
    # acc = start; for v in iterable: acc = acc * v  (a generator's own loop and filters)
    lw, acc = c.lw, c.lw.hidden(c.hint or "product")
    c.ctx.env[acc] = start
    if isinstance(node, (ast.GeneratorExp, ast.ListComp)):
        if len(node.generators) != 1 or node.generators[0].is_async:
            raise c.error("only one `for` per generator is supported", at=node)
        gen = node.generators[0]
        target, source, elt, conds = gen.target, gen.iter, node.elt, gen.ifs
    else:
        seq, item = lw.hidden("xs"), lw.hidden("x")
        c.ctx.env[seq] = lw.as_list(value, node, c.ctx)
        target, source = ast.Name(id=item, ctx=ast.Store()), ast.Name(id=seq, ctx=ast.Load())
        elt, conds = ast.Name(id=item, ctx=ast.Load()), []
    update: ast.stmt = ast.Assign(targets=[ast.Name(id=acc, ctx=ast.Store())], value=ast.BinOp(
        ast.Name(id=acc, ctx=ast.Load()), ast.Mult(), elt))
    for cond in reversed(conds):
        update = ast.If(test=cond, body=[update], orelse=[])
    lw._run_desugared([ast.For(target=target, iter=source, body=[update], orelse=[])],
                      c.node, c.ctx)
    return c.ctx.env[acc]


@entry("math.fsum", "seq")
def fsum(c: Call):
    """The sum, as the builtin ``sum`` (each item's derivative is 1).  The value is the
    plain sum's, not fsum's exactly rounded one: they differ by rounding only."""
    items = _items(c.nodes["seq"])
    if items:  # written out: x0 + x1 + ...
        total = c.lw.value(items[0], c.ctx)
        for e in items[1:]:
            total = c.emit("add", [total, c.lw.value(e, c.ctx)])
        return total
    return c.lw.reduction("sum", _sequence_call(c, "sum", c.nodes["seq"]), c.ctx, c.hint)


@entry("math.dist", "p, q")
def dist(c: Call):
    """``sqrt(Σ (pᵢ - qᵢ)²)``: as ``math.hypot``, an infinite derivative at p = q (scalar
    code raises ZeroDivisionError there, as ``hypot`` at the origin)."""
    ps, qs = _items(c.nodes["p"]), _items(c.nodes["q"])
    if ps is not None and qs is not None:
        if len(ps) != len(qs):
            raise c.error(f"`{c.spelled}` of {len(ps)} and {len(qs)} coordinates",
                          why="both points must have the same dimension",
                          hint="give both points the same number of coordinates")
        total = None
        for a, b in zip(ps, qs, strict=True):
            d = c.emit("sub", [c.lw.value(a, c.ctx), c.lw.value(b, c.ctx)])
            sq = c.emit("mul", [d, d])
            total = sq if total is None else c.emit("add", [total, sq])
        return c.emit("sqrt", [total], out=True, lib="math")
    # sqrt(sum((a - b) * (a - b) for a, b in zip(p, q, strict=True)))
    a, b = (ast.Name(id=c.lw.hidden(n), ctx=ast.Load()) for n in ("p_i", "q_i"))
    diff = ast.BinOp(a, ast.Sub(), b)
    pairs = _sequence_call(c, "zip", c.nodes["p"], c.nodes["q"])
    pairs.keywords = [ast.keyword(arg="strict", value=ast.Constant(True))]
    gen = ast.GeneratorExp(elt=ast.BinOp(diff, ast.Mult(), diff), generators=[
        ast.comprehension(target=ast.Tuple(elts=[ast.Name(id=a.id, ctx=ast.Store()),
                                                 ast.Name(id=b.id, ctx=ast.Store())],
                                           ctx=ast.Store()),
                          iter=pairs, ifs=[], is_async=0)])
    total = c.lw.reduction("sum", _sequence_call(c, "sum", gen), c.ctx, None)
    return c.emit("sqrt", [total], out=True, lib="math")
