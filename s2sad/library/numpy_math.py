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
