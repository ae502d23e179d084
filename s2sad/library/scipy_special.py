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
