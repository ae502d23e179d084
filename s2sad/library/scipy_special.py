"""``scipy.special``: special functions (primitives with derived partials) and
``logsumexp`` (written with the maximum subtracted: its adjoint is the softmax
``exp(x - logsumexp)``, at most 1, never an overflow)."""

from __future__ import annotations

from .. import primitives as P
from . import Call, entry

_B_WHY = ("s2sad supports logsumexp of the array itself|write the weights into the "
          "exponent: `logsumexp(a + np.log(b))` for positive weights b")


def _special(name: str, prim: str | None = None) -> None:
    @entry(f"scipy.special.{name}", "x")
    def lower(c: Call):
        return c.emit(prim or name, [c.arg("x")], out=True, lib=P.SCIPY)


for _name in ("gammaln", "gamma", "ndtr", "log_ndtr", "erf", "erfc"):
    _special(_name)


@entry("scipy.special.digamma", "x")
def _digamma(c: Call):
    return c.emit("polygamma", [c.const(0), c.arg("x")], out=True, lib=P.SCIPY)


@entry("scipy.special.psi", "x")
def _psi(c: Call):
    return _digamma(c)


@entry("scipy.special.polygamma", "n, x", static="n")
def _polygamma(c: Call):
    return c.emit("polygamma", [c.const(c.static_int("n")), c.arg("x")], out=True,
                  lib=P.SCIPY)


@entry("scipy.special.expit", "x")
def _expit(c: Call):  # the sigmoid primitive: stable partials σ(1 - σ)
    return c.emit("sigmoid", [c.arg("x")], out=True, lib=P.NUMPY)


@entry("scipy.special.logsumexp", "a, axis, b, keepdims, return_sign", axis=None, b=None,
       keepdims=False, return_sign=False, static="axis keepdims return_sign",
       refused={"b": _B_WHY})
def logsumexp(c: Call):
    """``m + log(sum(exp(a - m)))``, ``m`` the maximum along ``axis`` held constant (it
    cancels in the derivative): the adjoint is ``exp(a - out)``, a softmax."""
    if c.static("return_sign"):
        raise c.error("`return_sign=True` of logsumexp is not supported",
                      hint="logsumexp of positive terms needs no sign: leave it out")
    a = c.array("a")
    axis, keepdims = c.static("axis"), bool(c.static("keepdims"))
    m = c.emit("stop_gradient", [c.emit("np_max", [a], axis=axis, keepdims=True)])
    e = c.emit("exp", [c.emit("sub", [a, m])], lib=P.NUMPY)
    s = c.emit("np_sum", [e], axis=axis, keepdims=True if keepdims else None)
    if not keepdims:
        m = (c.emit("np_max", [m]) if axis is None  # the one number, as a float
             else c.emit("squeeze", [m], axis=axis))
    return c.emit("add", [c.emit("log", [s], lib=P.NUMPY), m], out=True)


_special("erfinv")


@entry("scipy.special.logit", "x")
def logit(c: Call):
    """``log(x) - log1p(-x)``: no cancellation near 1."""
    x = c.arg("x")
    return c.emit("sub", [c.emit("log", [x], lib=P.NUMPY),
                          c.emit("log1p", [c.emit("neg", [x])], lib=P.NUMPY)], out=True)


@entry("scipy.special.log_expit", "x")
def log_expit(c: Call):
    """``-logaddexp(0, -x)``: finite for x = -1000."""
    return c.emit("neg", [c.emit("logaddexp", [c.const(0.0), c.emit("neg", [c.arg("x")])],
                                 lib=P.NUMPY)], out=True)


def _lse_keep(c: Call, x, axis):
    """logsumexp(x, axis, keepdims=True), the maximum subtracted."""
    m = c.emit("stop_gradient", [c.emit("np_max", [x], axis=axis, keepdims=True)])
    s = c.emit("np_sum", [c.emit("exp", [c.emit("sub", [x, m])], lib=P.NUMPY)], axis=axis,
               keepdims=True)
    return c.emit("add", [c.emit("log", [s], lib=P.NUMPY), m])


@entry("scipy.special.log_softmax", "x, axis", static="axis", axis=None)
def log_softmax(c: Call):
    """``x - logsumexp(x, axis, keepdims=True)``."""
    x = c.array("x")
    return c.emit("sub", [x, _lse_keep(c, x, c.static("axis"))], out=True)


@entry("scipy.special.softmax", "x, axis", static="axis", axis=None)
def softmax(c: Call):
    """``exp(x - logsumexp(x, axis, keepdims=True))``: no overflow."""
    x = c.array("x")
    return c.emit("exp", [c.emit("sub", [x, _lse_keep(c, x, c.static("axis"))])], out=True,
                  lib=P.NUMPY)


def xlog(c: Call, x, y, log: str):
    """``x · log(y)`` (``log1p``), 0 where x is 0 (SciPy's xlogy/xlog1py, also at y = 0).
    At x = 0 the derivative with respect to x is taken as 0 (a convention: where y = 0
    the function itself jumps there)."""
    zero = c.emit("eq", [x, c.const(0.0)])
    safe = c.emit("np_where", [zero, c.const(1.0 if log == "log" else 0.0), y])
    term = c.emit("mul", [x, c.emit(log, [safe], lib=P.NUMPY)])
    return c.emit("np_where", [zero, c.const(0.0), term])


@entry("scipy.special.xlogy", "x, y")
def xlogy(c: Call):
    return xlog(c, c.arg("x"), c.arg("y"), "log")


@entry("scipy.special.xlog1py", "x, y")
def xlog1py(c: Call):
    return xlog(c, c.arg("x"), c.arg("y"), "log1p")


@entry("scipy.special.entr", "x")
def entr(c: Call):
    """``-x log x`` (0 at 0; SciPy's -inf for x < 0 is not reproduced: the domain is x ≥ 0)."""
    x = c.arg("x")
    return c.emit("neg", [xlog(c, x, x, "log")], out=True)


def betaln_of(c: Call, a, b):
    g = [c.emit("gammaln", [v], lib=P.SCIPY) for v in (a, b, c.emit("add", [a, b]))]
    return c.emit("sub", [c.emit("add", [g[0], g[1]]), g[2]])


@entry("scipy.special.betaln", "a, b")
def betaln(c: Call):
    return betaln_of(c, c.arg("a"), c.arg("b"))


_special("erfcinv")


def _bessel(name: str, prim: str, order: float | None) -> None:
    """J0/J1/Jn/Jv, Y0/…, I0/…: one primitive each, the order a constant operand."""
    params = "x" if order is not None else "v, x"

    @entry(f"scipy.special.{name}", params, static="" if order is not None else "v")
    def lower(c: Call):
        v = order if order is not None else c.static("v")
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise c.error(f"the order of `{c.spelled}` must be a constant number",
                          at=c.nodes.get("v"), hint=f"{c.spelled}(1, x)")
        return c.emit(prim, [c.const(float(v)), c.arg("x")], out=True, lib=P.SCIPY)


for _prim, _letter in (("besselj", "j"), ("bessely", "y"), ("besseli", "i")):
    _bessel(f"{_letter}0", _prim, 0.0)
    _bessel(f"{_letter}1", _prim, 1.0)
    _bessel(f"{_letter}v", _prim, None)
_bessel("jn", "besselj", None)
_bessel("yn", "bessely", None)


@entry("scipy.special.ive", "v, x", static="v")
def ive(c: Call):
    """``iv(v, x) · exp(-|x|)``."""
    v = c.static("v")
    value = c.emit("besseli", [c.const(float(v)), c.arg("x")], lib=P.SCIPY)
    scale = c.emit("exp", [c.emit("neg", [c.emit("abs", [c.arg("x")], lib=P.NUMPY)])],
                   lib=P.NUMPY)
    return c.emit("mul", [value, scale], out=True)


@entry("scipy.special.rgamma", "x")
def rgamma(c: Call):
    return c.emit("div", [c.const(1.0), c.emit("gamma", [c.arg("x")], lib=P.SCIPY)], out=True)


@entry("scipy.special.gammasgn", "x")
def gammasgn(c: Call):  # piecewise constant: no derivative
    return c.emit("sign", [c.emit("gamma", [c.arg("x")], lib=P.SCIPY)], out=True, lib=P.NUMPY)


@entry("scipy.special.beta", "a, b")
def beta(c: Call):
    """``exp(betaln(a, b))`` (positive a, b)."""
    return c.emit("exp", [betaln_of(c, c.arg("a"), c.arg("b"))], out=True, lib=P.NUMPY)


@entry("scipy.special.multigammaln", "a, d", static="d")
def multigammaln(c: Call):
    """``d(d-1)/4 · log π + Σ_{j<d} gammaln(a - j/2)`` for a constant int d."""
    import math

    d = c.static("d")
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        raise c.error("`d` of multigammaln must be a constant positive int",
                      at=c.nodes.get("d"), hint="multigammaln(a, 3)")
    a = c.arg("a")
    total = c.const(d * (d - 1) / 4.0 * math.log(math.pi))
    for j in range(d):
        total = c.emit("add", [total, c.emit("gammaln", [c.emit("sub", [a, c.const(j / 2.0)])],
                                             lib=P.SCIPY)])
    return total
