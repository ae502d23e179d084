"""Independent oracles for derivative tests: finite differences and SymPy.

Nothing here uses s2sad.  Derivatives computed by s2sad are compared with

* central finite differences refined by Richardson extrapolation (Ridders'
  method: a tableau of central differences at geometrically shrinking steps,
  extrapolated to step 0, keeping the entry with the smallest error estimate).
  On smooth functions it is accurate to about 1e-10 relative or better;
* exact derivatives from SymPy, evaluated with 30 significant digits.

All finite-difference helpers accept a ``bounds`` pair per argument (or one
pair for all): the steps never leave the open interval, so functions can be
differentiated right next to the edge of their domain (``acos`` near ±1,
``log`` near 0+).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from typing import Any

# -- finite differences --------------------------------------------------------------------

_CON = 1.4  # step shrink factor of the tableau
_CON2 = _CON * _CON
_NTAB = 12  # maximum tableau size
_SAFE = 2.0  # stop when the error grows by this factor


def derivative_with_error(
    g: Callable[[float], float],
    x: float,
    h: float | None = None,
    bounds: tuple[float, float] = (-math.inf, math.inf),
) -> tuple[float, float]:
    """``g'(x)`` and an estimate of its error, by Ridders' extrapolation.

    ``h`` is the first (largest) step; by default ``0.1 · max(1, |x|)``.  The step
    is shrunk so that ``x ± h`` stays strictly inside ``bounds``.
    """
    x = float(x)
    if h is None:
        h = 0.1 * max(1.0, abs(x))
    lo, hi = bounds
    room = min(x - lo, hi - x)
    if room <= 0:
        raise ValueError(f"x={x} is not inside the open interval {bounds}")
    h = min(h, 0.5 * room)

    def central(step: float) -> float:
        return (float(g(x + step)) - float(g(x - step))) / (2.0 * step)

    table = [[0.0] * _NTAB for _ in range(_NTAB)]
    table[0][0] = central(h)
    best, err = table[0][0], math.inf
    for i in range(1, _NTAB):
        h /= _CON
        table[0][i] = central(h)
        fac = _CON2
        for j in range(1, i + 1):
            table[j][i] = (table[j - 1][i] * fac - table[j - 1][i - 1]) / (fac - 1.0)
            fac *= _CON2
            errt = max(abs(table[j][i] - table[j - 1][i]),
                       abs(table[j][i] - table[j - 1][i - 1]))
            if errt <= err:
                err, best = errt, table[j][i]
        if abs(table[i][i] - table[i - 1][i - 1]) >= _SAFE * err:
            break
    return best, err


class OracleError(ArithmeticError):
    """The finite-difference estimate is not reliable here (its error estimate is large)."""


def derivative(g: Callable[[float], float], x: float, h: float | None = None,
               bounds: tuple[float, float] = (-math.inf, math.inf),
               max_rel_err: float = 1e-8) -> float:
    """``g'(x)`` by Richardson-extrapolated central differences.

    If the error estimate is poor, the extrapolation is restarted from smaller first
    steps and the estimate with the smallest error is kept.
    Raises :class:`OracleError` when the extrapolation's own error estimate is
    above ``max_rel_err · max(1, |g'(x)|)``: a test point where the oracle cannot
    be trusted (a pole or a kink within the first step) is a bad test point, and
    must not pass or fail silently.
    """
    if h is None:
        h = 0.1 * max(1.0, abs(float(x)))
    best, err = derivative_with_error(g, x, h, bounds)
    for shrink in (3.7, 13.0):  # restart from smaller first steps if the tableau misbehaved
        if err <= max_rel_err * max(1.0, abs(best)):
            break
        b, e = derivative_with_error(g, x, h / shrink, bounds)
        if e < err:
            best, err = b, e
    if not err <= max_rel_err * max(1.0, abs(best)):
        raise OracleError(f"finite differences unreliable at x={x!r}: estimate {best!r}, "
                          f"error estimate {err!r}")
    return best


def _bounds_for(bounds: Any, n: int) -> list[tuple[float, float]]:
    if bounds is None:
        return [(-math.inf, math.inf)] * n
    if len(bounds) == 2 and all(isinstance(b, (int, float)) for b in bounds):
        return [tuple(bounds)] * n
    return [tuple(b) if b is not None else (-math.inf, math.inf) for b in bounds]


def partial(f: Callable[..., float], args: Sequence[float], i: int, h: float | None = None,
            bounds: tuple[float, float] = (-math.inf, math.inf)) -> float:
    """``∂f/∂args[i]`` at ``args``."""
    args = [float(a) for a in args]

    def g(t: float) -> float:
        moved = list(args)
        moved[i] = t
        return f(*moved)

    return derivative(g, args[i], h, bounds)


def gradient(f: Callable[..., float], args: Sequence[float], wrt: Sequence[int] | None = None,
             h: float | None = None, bounds: Any = None) -> tuple[float, ...]:
    """The gradient of scalar ``f`` at ``args`` with respect to the indices ``wrt`` (all)."""
    wrt = range(len(args)) if wrt is None else wrt
    b = _bounds_for(bounds, len(args))
    return tuple(partial(f, args, i, h, b[i]) for i in wrt)


def fd_gradient(f: Callable[..., float], args: Sequence[float], h: float | None = None,
                bounds: Any = None) -> tuple[float, ...]:
    """The gradient with respect to every argument (same as :func:`gradient`)."""
    return gradient(f, args, None, h, bounds)


def directional(f: Callable[..., Any], args: Sequence[float], direction: Sequence[float],
                h: float | None = None) -> Any:
    """``d/dt f(args + t·direction)`` at ``t = 0``; a tuple for a tuple-valued ``f``."""
    args = [float(a) for a in args]
    direction = [float(d) for d in direction]

    def at(t: float) -> Any:
        return f(*(a + t * d for a, d in zip(args, direction, strict=True)))

    probe = at(0.0)
    scale = max(1.0, max(abs(a) for a in args)) if args else 1.0
    norm = math.sqrt(sum(d * d for d in direction)) or 1.0
    step = 0.1 * scale / norm if h is None else h
    if isinstance(probe, tuple):
        return tuple(derivative(lambda t, k=k: at(t)[k], 0.0, step) for k in range(len(probe)))
    return derivative(at, 0.0, step)


# -- SymPy -------------------------------------------------------------------------------------


def _sympy():
    import sympy

    return sympy


def sympy_value(expr: Any, symbols: Sequence[Any], point: Sequence[float],
                digits: int = 30) -> float:
    """``expr`` evaluated at ``point`` (exact binary values of the floats)."""
    sp = _sympy()
    subs = {s: sp.Float(float(p), digits) for s, p in zip(symbols, point, strict=True)}
    return float(sp.N(expr.subs(subs), digits))


def sympy_gradient(expr: Any, symbols: Sequence[Any], point: Sequence[float],
                   wrt: Sequence[int] | None = None, digits: int = 30) -> tuple[float, ...]:
    """The exact gradient of SymPy ``expr`` (``sympy.diff``) evaluated at ``point``."""
    wrt = range(len(symbols)) if wrt is None else wrt
    return tuple(sympy_value(_sympy().diff(expr, symbols[i]), symbols, point, digits)
                 for i in wrt)


# -- comparison --------------------------------------------------------------------------------


def flatten(x: Any) -> list[float]:
    """The numbers of a (nested) tuple, in order, as floats."""
    if isinstance(x, (tuple, list)):
        out: list[float] = []
        for item in x:
            out.extend(flatten(item))
        return out
    return [float(x)]


def close(got: Any, want: Any, rtol: float = 1e-7, atol: float = 1e-9) -> bool:
    """Whether two numbers (or equally nested tuples of numbers) agree."""
    g, w = flatten(got), flatten(want)
    if len(g) != len(w):
        return False
    return all(
        (math.isnan(a) and math.isnan(b)) or a == b or abs(a - b) <= atol + rtol * abs(b)
        for a, b in zip(g, w, strict=True)
    )


def assert_close(got: Any, want: Any, rtol: float = 1e-7, atol: float = 1e-9,
                 what: str = "") -> None:
    """Assert :func:`close`, with a readable message."""
    if isinstance(want, (tuple, list)) or isinstance(got, (tuple, list)):
        assert isinstance(got, (tuple, list)) and isinstance(want, (tuple, list)) and len(
            got) == len(want), f"{what}: structure differs: got {got!r}, want {want!r}"
    assert close(got, want, rtol, atol), (
        f"{what}: got {got!r}, want {want!r} (rtol={rtol}, atol={atol})")


def call_extras(compiled: Callable[..., Any], args: Sequence[Any], extras: Sequence[Any]) -> Any:
    """``compiled(*args, *extras)``: the tangents, cotangents or vector of a jvp, vjp or
    hvp after the arguments, by keyword where they are keyword-only (a function with
    defaults or ``*args``: see the README)."""
    params = list(inspect.signature(compiled).parameters.values())
    named = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
    if not named:
        return compiled(*args, *extras)
    return compiled(*args, **dict(zip(named, extras, strict=True)))
