"""Each primitive of the table, checked against independent oracles (DESIGN §3, §10, §11).

One table (:data:`SPECS`) drives everything.  Each spec names a primitive of
:data:`s2sad.primitives.PRIMITIVES`, gives an *independently written* SymPy
form of the function, the Python spellings of it (``math.X``, ``np.X``,
operators, builtins) and test points (including negative values and points
right next to the edge of the domain).  From it:

(a) the partials the table derives (:func:`s2sad.primitives.symbolic_partials`)
    are evaluated and compared with ``sympy.diff`` of the independent form
    and with finite differences of the primitive's evaluator;
(b) each spelling becomes a module-level function (in a generated module),
    whose gradient in both modes is compared with finite differences of the
    function itself.

Then the conventions at non-differentiable points (DESIGN §10) and the
constant-exponent rule (DESIGN §3: no ``log(x)`` for ``x ** 3``).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import sympy as sp

import s2sad
from s2sad import primitives as P
from s2sad.ir import verify
from s2sad.ir.core import walk_ops
from tests import oracles
from tests.srcmod import load_source

MODES = ("reverse", "forward")
INF = math.inf
REALS = (-INF, INF)
POS = (0.0, INF)
UNIT = (-1.0, 1.0)

RTOL_FD = 1e-7  # AD against Richardson-extrapolated finite differences
ATOL_FD = 1e-9
RTOL_SYM = 1e-10  # the table's partials against SymPy's exact derivative


@dataclass(frozen=True)
class Spec:
    """One row of the table.

    ``form`` takes SymPy symbols, one per argument, and returns the function
    written independently of s2sad's table.  ``spellings`` are Python
    expressions in ``x`` (and ``y``).  ``points`` are argument tuples where the
    function is smooth; ``bounds`` one (lo, hi) open interval per argument, the
    domain the finite differences must stay in.  ``attrs`` are the primitive's
    static attributes (``exponent`` of ``powc``).  ``partials=False`` when the
    arguments of the spelled function are not the primitive's operands (e.g.
    ``math.pow(x, 3)``: the exponent is a constant operand).  ``zero``: the
    derivative is zero wherever it exists; ``jumps`` are the points where it
    does not, where s2sad's convention is a derivative of exactly 0.
    """

    prim: str
    form: Callable[..., Any] | None
    spellings: tuple[str, ...]
    points: tuple[tuple[float, ...], ...]
    bounds: tuple[tuple[float, float], ...] | None = None
    attrs: dict = field(default_factory=dict)
    partials: bool = True
    zero: bool = False
    jumps: tuple[tuple[float, ...], ...] = ()
    label: str = ""
    h: float | None = None  # first finite-difference step, if the default is too large

    @property
    def nargs(self) -> int:
        return len(self.points[0])

    @property
    def id(self) -> str:
        return self.label or self.prim


SMOOTH_PTS = ((-2.5,), (-0.3,), (0.0,), (1.2,), (3.0,))
# SciPy is an optional dependency: its spellings are tested where it is installed
HAVE_SCIPY = importlib.util.find_spec("scipy") is not None


def _scipy(*spellings: str) -> tuple[str, ...]:
    return spellings if HAVE_SCIPY else ()


def _truncated_div(a, b):
    """trunc(a / b), written independently of the table's fmod."""
    return sp.Piecewise((sp.floor(a / b), a / b >= 0), (sp.ceiling(a / b), True))

PAIR_PTS = ((1.5, 2.0), (-0.7, 0.4), (2.5, -1.25), (-3.0, -0.5))

SPECS: list[Spec] = [
    # -- arithmetic --------------------------------------------------------------------------
    Spec("add", lambda a, b: a + b, ("x + y",), PAIR_PTS),
    Spec("sub", lambda a, b: a - b, ("x - y",), PAIR_PTS),
    Spec("mul", lambda a, b: a * b, ("x * y",), PAIR_PTS),
    Spec("div", lambda a, b: a / b, ("x / y",), PAIR_PTS),
    Spec("neg", lambda a: -a, ("-x",), SMOOTH_PTS),
    Spec("pow", lambda a, b: a**b, ("x ** y", "math.pow(x, y)", "np.power(x, y)", "pow(x, y)"),
         ((0.5, -1.5), (2.0, 3.0), (1.3, 0.0), (3.0, -0.5), (1e-3, 2.5)), bounds=(POS, REALS)),
    Spec("pow", lambda a: 2 ** a, ("2.0 ** x", "math.pow(2.0, x)", "np.power(2.0, x)"),
         ((-2.0,), (0.0,), (1.5,)), partials=False, label="pow-const-base"),
    Spec("pow", lambda a: a**3, ("math.pow(x, 3)", "np.power(x, 3)", "math.pow(x, 3.0)"),
         ((-2.0,), (-0.5,), (0.0,), (1.5,)), partials=False, label="pow-const-exponent"),
    Spec("powc", lambda a: a**2, ("x ** 2", "np.square(x)", "pow(x, 2)", "x ** 2.0"),
         SMOOTH_PTS, attrs={"exponent": 2}, label="powc-2"),
    Spec("powc", lambda a: a**3, ("x ** 3", "pow(x, 3)"), SMOOTH_PTS, attrs={"exponent": 3},
         label="powc-3"),
    Spec("powc", lambda a: a**-2, ("x ** -2", "pow(x, -2)"),
         ((-2.5,), (-0.3,), (0.7,), (3.0,)), attrs={"exponent": -2}, label="powc-neg2"),
    Spec("powc", lambda a: a ** sp.Rational(5, 2), ("x ** 2.5",),
         ((1e-3,), (0.5,), (4.0,)), bounds=(POS,), attrs={"exponent": 2.5}, label="powc-2.5"),
    Spec("powc", lambda a: sp.sqrt(a), ("x ** 0.5",), ((1e-4,), (0.5,), (9.0,)),
         bounds=(POS,), attrs={"exponent": 0.5}, label="powc-0.5"),
    Spec("powc", lambda a: a**0, ("x ** 0",), ((-1.5,), (0.0,), (2.0,)),
         attrs={"exponent": 0}, label="powc-0"),
    Spec("mod", None, ("x % y", "np.mod(x, y)", "np.remainder(x, y)"),
         ((5.3, 2.0), (-5.3, 2.0), (5.3, -2.0), (0.7, 3.0))),
    Spec("fmod", lambda a, b: a - b * _truncated_div(a, b), ("math.fmod(x, y)", "np.fmod(x, y)"),
         ((5.3, 2.0), (-5.3, 2.0), (5.3, -2.0), (0.7, 3.0), (-0.7, -3.0))),
    # IEEE's remainder: a - b·(a/b rounded to the nearest int); away from the ties
    Spec("ieee_remainder", lambda a, b: a - b * sp.floor(a / b + sp.Rational(1, 2)),
         ("math.remainder(x, y)",),
         ((5.3, 2.0), (-5.3, 2.0), (5.3, -2.0), (0.7, 3.0), (-0.7, -3.0))),
    # |a| with b's sign, away from a = 0 (abs's kink) and b = 0 (the sign's jump)
    Spec("copysign", lambda a, b: sp.Abs(a) * sp.sign(b), ("math.copysign(x, y)",
                                                            "np.copysign(x, y)"), PAIR_PTS),
    # -- elementwise functions -----------------------------------------------------------------
    Spec("sin", sp.sin, ("math.sin(x)", "np.sin(x)"), SMOOTH_PTS),
    Spec("cos", sp.cos, ("math.cos(x)", "np.cos(x)"), SMOOTH_PTS),
    Spec("tan", sp.tan, ("math.tan(x)", "np.tan(x)"),
         ((-1.5,), (-0.4,), (0.0,), (0.9,), (1.55,)), bounds=((-math.pi / 2, math.pi / 2),)),
    Spec("asin", sp.asin, ("math.asin(x)", "np.arcsin(x)"),
         ((-0.9999,), (-0.5,), (0.0,), (0.7,), (0.9999,)), bounds=(UNIT,)),
    Spec("acos", sp.acos, ("math.acos(x)", "np.arccos(x)"),
         ((-0.9999,), (-0.5,), (0.0,), (0.7,), (0.9999,)), bounds=(UNIT,)),
    Spec("atan", sp.atan, ("math.atan(x)", "np.arctan(x)"), SMOOTH_PTS),
    Spec("sinh", sp.sinh, ("math.sinh(x)", "np.sinh(x)"), SMOOTH_PTS),
    Spec("cosh", sp.cosh, ("math.cosh(x)", "np.cosh(x)"), SMOOTH_PTS),
    Spec("tanh", sp.tanh, ("math.tanh(x)", "np.tanh(x)"), SMOOTH_PTS),
    Spec("asinh", sp.asinh, ("math.asinh(x)", "np.arcsinh(x)"), SMOOTH_PTS),
    Spec("acosh", sp.acosh, ("math.acosh(x)", "np.arccosh(x)"),
         ((1.0001,), (1.5,), (3.0,), (10.0,)), bounds=((1.0, INF),)),
    Spec("atanh", sp.atanh, ("math.atanh(x)", "np.arctanh(x)"),
         ((-0.999,), (-0.3,), (0.0,), (0.5,), (0.999,)), bounds=(UNIT,)),
    Spec("exp", sp.exp, ("math.exp(x)", "np.exp(x)"), SMOOTH_PTS),
    Spec("expm1", lambda a: sp.exp(a) - 1, ("math.expm1(x)", "np.expm1(x)"), SMOOTH_PTS),
    Spec("exp2", lambda a: 2 ** a, ("math.exp2(x)", "np.exp2(x)") if hasattr(math, "exp2")
         else ("np.exp2(x)",), SMOOTH_PTS),
    Spec("log", sp.log, ("math.log(x)", "np.log(x)"),
         ((1e-4,), (0.3,), (1.0,), (7.5,)), bounds=(POS,)),
    Spec("log1p", lambda a: sp.log(a + 1), ("math.log1p(x)", "np.log1p(x)"),
         ((-0.999,), (-0.5,), (0.0,), (2.0,)), bounds=((-1.0, INF),)),
    Spec("log2", lambda a: sp.log(a, 2), ("math.log2(x)", "np.log2(x)"),
         ((1e-4,), (0.3,), (1.0,), (7.5,)), bounds=(POS,)),
    Spec("log10", lambda a: sp.log(a, 10), ("math.log10(x)", "np.log10(x)"),
         ((1e-4,), (0.3,), (1.0,), (7.5,)), bounds=(POS,)),
    Spec("sqrt", lambda a: a ** sp.Rational(1, 2), ("math.sqrt(x)", "np.sqrt(x)"),
         ((1e-6,), (0.25,), (2.0,), (100.0,)), bounds=(POS,)),
    Spec("erf", sp.erf, ("math.erf(x)",), SMOOTH_PTS),
    Spec("erfc", sp.erfc, ("math.erfc(x)",), SMOOTH_PTS),
    Spec("abs", sp.Abs, ("abs(x)", "math.fabs(x)", "np.abs(x)", "np.absolute(x)", "np.fabs(x)"),
         ((-2.0,), (-0.5,), (0.5,), (3.0,))),
    Spec("atan2", sp.atan2, ("math.atan2(x, y)", "np.arctan2(x, y)"),
         ((1.0, 2.0), (-1.5, 0.5), (0.3, -2.0), (-0.7, -0.2))),
    Spec("hypot", lambda a, b: sp.sqrt(a**2 + b**2), ("math.hypot(x, y)", "np.hypot(x, y)"),
         ((3.0, 4.0), (-1.5, 0.5), (0.0, 2.0), (-2.0, 0.0), (1e-3, -1e-3)), h=2e-4),
    Spec("sigmoid", lambda a: 1 / (1 + sp.exp(-a)), ("1 / (1 + math.exp(-x))",
                                                      "1.0 / (1.0 + np.exp(-x))"),
         ((-30.0,), (-1.5,), (0.0,), (0.7,), (20.0,))),
    Spec("logaddexp", lambda a, b: sp.log(sp.exp(a) + sp.exp(b)), ("np.logaddexp(x, y)",),
         ((1.0, 2.0), (-1.5, 0.5), (30.0, -2.0), (-0.7, -0.2), (0.0, 0.0))),
    Spec("log_base", lambda a, b: sp.log(a, b), ("math.log(x, y)",),
         ((2.0, 10.0), (0.01, 2.0), (5.0, 0.5), (0.7, 3.0)), bounds=(POS, POS)),
    # -- special functions (log-gamma's derivative is digamma: the runtime helper _polygamma
    # without SciPy, scipy.special.polygamma where the source used SciPy) ---------------------
    Spec("gammaln", sp.loggamma, ("math.lgamma(x)", *_scipy("scipy.special.gammaln(x)")),
         ((-2.5,), (-0.3,), (0.7,), (3.0,), (12.5,), (150.0,)), h=1e-3),
    Spec("gamma", sp.gamma, ("math.gamma(x)", *_scipy("scipy.special.gamma(x)")),
         ((-2.5,), (-0.3,), (0.7,), (3.0,), (12.5,)), h=1e-3),
    Spec("polygamma", None, _scipy("scipy.special.digamma(x)", "scipy.special.psi(x)",
                                   "scipy.special.polygamma(2, x)"),
         ((-2.5,), (-0.3,), (0.7,), (3.0,), (12.5,)), partials=False, h=1e-3),
    *([Spec("ndtr", lambda a: sp.erfc(-a / sp.sqrt(2)) / 2,
            ("scipy.special.ndtr(x)", "scipy.stats.norm.cdf(x)"),
            ((-30.0,), (-2.5,), (0.0,), (1.2,), (8.0,))),
       Spec("log_ndtr", lambda a: sp.log(sp.erfc(-a / sp.sqrt(2)) / 2),
            ("scipy.special.log_ndtr(x)", "scipy.stats.norm.logcdf(x)"),
            ((-40.0,), (-5.0,), (0.0,), (3.0,), (9.0,))),
       Spec("erfinv", sp.erfinv, ("scipy.special.erfinv(x)",),
            ((-0.99,), (-0.3,), (0.0,), (0.5,), (0.999,)), bounds=(UNIT,)),
       Spec("erfcinv", sp.erfcinv, ("scipy.special.erfcinv(x)",),
            ((0.01,), (0.5,), (1.0,), (1.7,), (1.99,)), bounds=((0.0, 2.0),),
            partials=False),  # SymPy evaluates erfcinv to a complex number here
       # Bessel functions: the order is a constant operand (partials=False: one argument)
       Spec("besselj", None, ("scipy.special.j0(x)", "scipy.special.j1(x)",
                              "scipy.special.jn(3, x)", "scipy.special.jv(2, x)"),
            ((-2.5,), (-0.3,), (0.7,), (6.0,)), partials=False),
       Spec("bessely", None, ("scipy.special.y0(x)", "scipy.special.y1(x)",
                              "scipy.special.yv(2.5, x)", "scipy.special.yn(2, x)"),
            ((0.3,), (1.7,), (6.0,)), bounds=(POS,), partials=False),
       Spec("besseli", None, ("scipy.special.i0(x)", "scipy.special.i1(x)",
                              "scipy.special.iv(2, x)"),
            ((-2.5,), (-0.3,), (0.7,), (6.0,)), partials=False)]
      if HAVE_SCIPY else []),
    Spec("cbrt", lambda a: sp.sign(a) * sp.Abs(a) ** sp.Rational(1, 3),
         ("np.cbrt(x)", *(("math.cbrt(x)",) if sys.version_info >= (3, 11) else ())),
         ((-8.0,), (-0.3,), (0.5,), (27.0,))),
    Spec("sinc", lambda a: sp.sin(sp.pi * a) / (sp.pi * a), ("np.sinc(x)",),
         ((-2.5,), (-0.3,), (0.7,), (3.2,))),
    Spec("max2", sp.Max, ("max(x, y)", "np.maximum(x, y)"), PAIR_PTS),
    Spec("min2", sp.Min, ("min(x, y)", "np.minimum(x, y)"), PAIR_PTS),
    # -- piecewise constant: derivative 0 ------------------------------------------------------
    Spec("floor", None, ("math.floor(x)", "np.floor(x)"), ((-2.5,), (0.5,), (3.7,)),
         zero=True, jumps=((-1.0,), (0.0,), (3.0,))),
    Spec("ceil", None, ("math.ceil(x)", "np.ceil(x)"), ((-2.5,), (0.5,), (3.7,)),
         zero=True, jumps=((-1.0,), (0.0,), (3.0,))),
    Spec("trunc", None, ("math.trunc(x)", "np.trunc(x)", "int(x)"), ((-2.5,), (0.5,), (3.7,)),
         zero=True, jumps=((-1.0,), (0.0,), (3.0,))),
    Spec("round", None, ("round(x)",), ((-2.2,), (0.2,), (3.7,)),
         zero=True, jumps=((-1.5,), (0.5,), (2.5,))),
    Spec("sign", None, ("np.sign(x)",), ((-2.5,), (0.5,), (3.7,)), zero=True, jumps=((0.0,),)),
    Spec("floordiv", None, ("x // y", "np.floor_divide(x, y)"),
         ((5.3, 2.0), (-5.3, 2.0), (5.3, -2.0)),
         zero=True, jumps=((4.0, 2.0), (-3.0, 1.5))),
]

# Primitives that cannot be spelled in straight-line Python: `select` is what an `if`
# expression becomes (control flow is not supported yet); its partials are hand-written.
# stop_gradient and custom primitives (@s2sad.primitive): tests/test_custom.py
NOT_SPELLABLE = {"select", "stop_gradient", "same_value"} | (  # same_value: test_quality.py
    set() if HAVE_SCIPY else {"ndtr", "log_ndtr", "erfinv", "erfcinv", "besselj", "bessely",
                              "besseli"})


def _arglist(n: int) -> str:
    return ", ".join("xyz"[:n])


def _build_module():
    lines = ["import math", "", "import numpy as np", ""] + (
        ["import scipy.special", "import scipy.stats", ""] if HAVE_SCIPY else [])
    names: dict[tuple[int, int], str] = {}
    for i, spec in enumerate(SPECS):
        for j, spelled in enumerate(spec.spellings):
            name = f"f_{i}_{j}"
            names[i, j] = name
            lines += ["", f"def {name}({_arglist(spec.nargs)}):", f"    return {spelled}", ""]
    return load_source("\n".join(lines), "primitives"), names


MODULE, NAMES = _build_module()


def spelled_function(spec: Spec, spelling: str):
    i = SPECS.index(spec)
    return getattr(MODULE, NAMES[i, spec.spellings.index(spelling)])


def _wrt(spec: Spec):
    return 0 if spec.nargs == 1 else tuple(range(spec.nargs))


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _bounds(spec: Spec):
    return spec.bounds or (REALS,) * spec.nargs


SPELLED = [pytest.param(spec, s, id=f"{spec.id}:{s}") for spec in SPECS for s in spec.spellings]
SMOOTH_SPELLED = [p for p in SPELLED if not p.values[0].zero]
ZERO_SPELLED = [p for p in SPELLED if p.values[0].zero]


# -- the table is covered --------------------------------------------------------------------


def test_every_differentiable_primitive_has_a_spec():
    covered = {s.prim for s in SPECS}
    wanted = {name for name, p in P.PRIMITIVES.items()
              if p.derivative in ("partials", "zero") and p.imported is None} - NOT_SPELLABLE
    assert wanted <= covered, f"primitives without a test spec: {sorted(wanted - covered)}"


@pytest.mark.parametrize(("spec", "spelling"), SPELLED)
def test_spelling_lifts_to_the_primitive(spec, spelling):
    fn = verify(s2sad.lift(spelled_function(spec, spelling)))
    prims = [op.prim for op in walk_ops(fn.body) if op.prim != "const"]
    assert spec.prim in prims, f"{spelling} lifted to {prims}, not {spec.prim}"
    if spec.prim == "powc":
        exps = [op.attr("exponent") for op in walk_ops(fn.body) if op.prim == "powc"]
        assert exps == [spec.attrs["exponent"]]


# -- (a) the table's partials ------------------------------------------------------------------


def _eval_lib(prim: P.Primitive) -> str | None:
    for lib in (P.MATH, P.NUMPY, P.BUILTIN):
        if lib in prim.names:
            return lib
    return None


PARTIAL_SPECS = [pytest.param(s, id=s.id) for s in SPECS
                 if s.partials and not s.zero and P.PRIMITIVES[s.prim].derivative == "partials"]


def _independent_partials(spec: Spec, syms):
    if spec.prim == "mod":
        # SymPy cannot differentiate Mod; a % b = a - b·floor(a/b), whose floor is
        # piecewise constant: ∂/∂a = 1, ∂/∂b = -floor(a/b) away from the jumps.
        a, b = syms
        return [sp.Integer(1), -sp.floor(a / b)]
    if spec.prim == "fmod":  # the same, with trunc for floor
        a, b = syms
        return [sp.Integer(1), -_truncated_div(a, b)]
    if spec.prim == "ieee_remainder":  # the same, with the nearest int for floor
        a, b = syms
        return [sp.Integer(1), -sp.floor(a / b + sp.Rational(1, 2))]
    form = spec.form(*syms)
    return [sp.diff(form, s) for s in syms]


@pytest.mark.parametrize("spec", PARTIAL_SPECS)
def test_partials_match_sympy_and_finite_differences(spec):
    prim = P.PRIMITIVES[spec.prim]
    partials = P.symbolic_partials(spec.prim)
    assert partials is not None and len(partials) == prim.nin == spec.nargs
    ops = sp.symbols(f"a0:{prim.nin}", real=True)
    out, exponent = sp.Symbol("out", real=True), sp.Symbol("exponent", real=True)
    for d in partials:
        assert d.free_symbols <= {*ops, out, exponent}, d
    indep = sp.symbols(f"u0:{prim.nin}", real=True)
    expected = _independent_partials(spec, indep)
    lib = _eval_lib(prim)
    attrs = dict(spec.attrs)
    bounds = _bounds(spec)
    for point in spec.points:
        value = prim.evaluate(lib, *point, **attrs)
        subs = {s: sp.Float(v, 30) for s, v in zip(ops, point, strict=True)}
        subs[out] = sp.Float(float(value), 30)
        for i, d in enumerate(partials):
            if "exponent" in attrs:  # the exponent is static: substituted first, as s2sad does
                d = d.subs(exponent, sp.nsimplify(attrs["exponent"]))
            got = float(sp.N(d.subs(subs), 30))
            want = oracles.sympy_value(expected[i], indep, point)
            oracles.assert_close(got, want, RTOL_SYM, 1e-14,
                                 what=f"∂{spec.prim}/∂a{i} at {point} vs SymPy")

            def along(t, i=i, point=point):
                moved = list(point)
                moved[i] = t
                return prim.evaluate(lib, *moved, **attrs)

            fd = oracles.derivative(along, point[i], h=spec.h, bounds=bounds[i])
            oracles.assert_close(got, fd, RTOL_FD, ATOL_FD,
                                 what=f"∂{spec.prim}/∂a{i} at {point} vs finite differences")


def test_partials_use_primal_output_where_it_saves_work():
    out = sp.Symbol("out", real=True)
    for name in ("exp", "tanh", "sqrt", "tan", "hypot"):
        assert any(out in d.free_symbols for d in P.symbolic_partials(name)), name


def test_powc_partial_has_no_log():
    (d,) = P.symbolic_partials("powc")
    assert not d.has(sp.log)


# -- (b) end to end, through every spelling ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("spec", "spelling"), SMOOTH_SPELLED)
def test_gradient_matches_finite_differences(spec, spelling, mode):
    f = spelled_function(spec, spelling)
    df = s2sad.grad(f, wrt=_wrt(spec), mode=mode)
    verify(df.ir)
    for point in spec.points:
        got = _as_tuple(df(*point))
        want = oracles.gradient(f, point, h=spec.h, bounds=_bounds(spec))
        oracles.assert_close(got, want, RTOL_FD, ATOL_FD,
                             what=f"grad {spelling} ({mode}) at {point}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("spec", "spelling"), ZERO_SPELLED)
def test_piecewise_constant_has_exactly_zero_derivative(spec, spelling, mode):
    f = spelled_function(spec, spelling)
    df = s2sad.grad(f, wrt=_wrt(spec), mode=mode)
    for point in spec.points:
        got = _as_tuple(df(*point))
        assert all(g == 0.0 for g in got), (spelling, point, got)
        oracles.assert_close(got, oracles.gradient(f, point, h=0.01), 0.0, 0.0,
                             what=f"{spelling} at {point} vs finite differences")
    for point in spec.jumps:  # at a jump the convention is 0 too (DESIGN §10)
        got = _as_tuple(df(*point))
        assert all(g == 0.0 for g in got), (spelling, point, got)


# -- products with piecewise-constant factors, and `%` -------------------------------------------


def x_floor_x(x):
    return x * math.floor(x) + np.ceil(x) * x * x


def mod_chain(x, y):
    return (x * y) % 1.5 + math.sin(x % y)


@pytest.mark.parametrize("mode", MODES)
def test_piecewise_constant_factor(mode):
    df = s2sad.grad(x_floor_x, mode=mode)
    for x in (-2.3, -0.6, 0.4, 1.7, 3.2):
        oracles.assert_close(df(x), oracles.derivative(lambda t: x_floor_x(t), x, h=0.05),
                             RTOL_FD, ATOL_FD, what=f"x_floor_x at {x}")


@pytest.mark.parametrize("mode", MODES)
def test_mod_in_context(mode):
    df = s2sad.grad(mod_chain, wrt=(0, 1), mode=mode)
    for point in ((1.1, 0.7), (-1.3, 0.9), (2.2, -1.7)):
        oracles.assert_close(df(*point), oracles.gradient(mod_chain, point, h=1e-3),
                             RTOL_FD, ATOL_FD, what=f"mod_chain at {point}")


# -- conventions at non-differentiable points (DESIGN §10) ---------------------------------------

ABS_SPEC = next(s for s in SPECS if s.prim == "abs")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("spelling", ABS_SPEC.spellings)
def test_abs_derivative_at_zero_is_zero(spelling, mode):
    df = s2sad.grad(spelled_function(ABS_SPEC, spelling), mode=mode)
    for x in (0.0, -0.0):
        got = df(x)
        assert got == 0.0 and not math.isnan(got), (spelling, x, got)


def relu_max(x):
    return max(0.0, x)


def relu_np(x):
    return np.maximum(0.0, x)


def max3(x, y, z):
    return max(x, y, z)


def min3(x, y, z):
    return min(x, y, z)


TIE_SPELLED = [pytest.param(s, sp_, id=f"{s.prim}:{sp_}") for s in SPECS
               if s.prim in ("max2", "min2") for sp_ in s.spellings]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("spec", "spelling"), TIE_SPELLED)
def test_max_min_ties_go_to_first_argument(spec, spelling, mode):
    df = s2sad.grad(spelled_function(spec, spelling), wrt=(0, 1), mode=mode)
    for v in (-2.0, 0.0, 1.5):
        assert tuple(df(v, v)) == (1.0, 0.0), (spelling, v)


@pytest.mark.parametrize("mode", MODES)
def test_three_way_max_min_ties(mode):
    dmax = s2sad.grad(max3, wrt=(0, 1, 2), mode=mode)
    dmin = s2sad.grad(min3, wrt=(0, 1, 2), mode=mode)
    assert tuple(dmax(1.0, 1.0, 1.0)) == (1.0, 0.0, 0.0)
    assert tuple(dmin(1.0, 1.0, 1.0)) == (1.0, 0.0, 0.0)
    assert tuple(dmax(0.5, 2.0, 2.0)) == (0.0, 1.0, 0.0)
    assert tuple(dmin(3.0, -1.0, -1.0)) == (0.0, 1.0, 0.0)
    assert tuple(dmax(0.5, 2.0, -1.0)) == (0.0, 1.0, 0.0)
    assert tuple(dmin(0.5, 2.0, -1.0)) == (0.0, 0.0, 1.0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("relu", [relu_max, relu_np], ids=["max", "np.maximum"])
def test_relu_derivative_at_zero_is_zero(relu, mode):
    df = s2sad.grad(relu, mode=mode)
    assert df(0.0) == 0.0
    assert df(-1.5) == 0.0
    assert df(2.0) == 1.0


def sqrt_math(x):
    return math.sqrt(x)


def sqrt_np(x):
    return np.sqrt(x)


def hypot_math(x, y):
    return math.hypot(x, y)


@pytest.mark.parametrize("mode", MODES)
def test_sqrt_derivative_at_zero_is_inf_numpy(mode):
    df = s2sad.grad(sqrt_np, mode=mode)
    with np.errstate(divide="ignore"):
        assert df(0.0) == math.inf


@pytest.mark.parametrize("mode", MODES)
def test_sqrt_derivative_at_zero_raises_like_python_with_math(mode):
    # Documented convention (README, "Conventions"): scalar `math` code follows Python's
    # float semantics, where an infinite derivative is a ZeroDivisionError, as `1 / 0.0`
    # is in the primal; NumPy code gives IEEE inf (above).
    df = s2sad.grad(sqrt_math, mode=mode)
    with pytest.raises(ZeroDivisionError):
        df(0.0)


@pytest.mark.parametrize("mode", MODES)
def test_hypot_on_the_axes(mode):
    # hypot(x, 0) = |x| and hypot(0, y) = |y|: differentiable away from the origin.
    df = s2sad.grad(hypot_math, wrt=(0, 1), mode=mode)
    for point in ((0.0, 2.0), (0.0, -3.0), (1.5, 0.0), (-4.0, 0.0)):
        oracles.assert_close(df(*point), oracles.gradient(hypot_math, point), RTOL_FD,
                             ATOL_FD, what=f"hypot at {point}")


@pytest.mark.parametrize("mode", MODES)
def test_hypot_at_origin_raises_like_python(mode):
    # hypot has no derivative at (0, 0) (a cone's tip): as for sqrt at 0, scalar code
    # raises ZeroDivisionError there rather than invent a value (README, "Conventions").
    df = s2sad.grad(hypot_math, wrt=(0, 1), mode=mode)
    with pytest.raises(ZeroDivisionError):
        df(0.0, 0.0)


def power(x, y):
    return x ** y


@pytest.mark.parametrize("mode", MODES)
def test_power_with_variable_exponent_at_zero_base_wrt_base(mode):
    # d/dx x**y = y·x**(y-1): 0 at x = 0 for y > 1
    df = s2sad.grad(power, wrt=0, mode=mode)
    assert df(0.0, 2.0) == 0.0
    assert df(0.0, 3.5) == 0.0


@pytest.mark.parametrize("mode", MODES)
def test_power_with_variable_exponent_at_zero_base(mode):
    df = s2sad.grad(power, wrt=(0, 1), mode=mode)
    assert tuple(df(0.0, 2.0)) == (0.0, 0.0)


@pytest.mark.parametrize("mode", MODES)
def test_power_with_zero_exponent_at_zero_base(mode):
    # x ** 0 is the constant 1, so d/dx is 0 everywhere, x = 0 included (SymPy: diff(x**0) = 0);
    # the formula y·x**(y-1) gives 0·0**-1 there: a ZeroDivisionError on floats, nan on arrays
    df = s2sad.grad(power, wrt=(0, 1), mode=mode)
    assert tuple(df(0.0, 0.0)) == (0.0, 0.0)
    assert df(0.0, 0)[0] == 0.0
    for x in (-2.0, 0.5, 3.0):
        assert s2sad.grad(power, wrt=0, mode=mode)(x, 0.0) == 0.0
    xs = np.array([0.0, 1.0, 2.0])
    with np.errstate(all="ignore"):
        dx, dy = s2sad.grad(power_sum_np, wrt=(0, 1))(xs, 0.0)
    np.testing.assert_array_equal(dx, [0.0, 0.0, 0.0])
    oracles.assert_close(dy, math.log(2.0), RTOL_FD, ATOL_FD, what="d/dy at y = 0")


def power_sum_np(x, y):
    return np.sum(np.power(x, y))


@pytest.mark.parametrize("mode", MODES)
def test_integer_powers_in_a_loop_at_zero(mode):
    # x ** j for j = 0, 1, ... : the j = 0 term's derivative is 0, also at x = 0
    df = s2sad.grad(power_series, wrt=0, mode=mode)
    for x in (0.0, -1.5, 0.75):
        oracles.assert_close(df(x, 5), oracles.derivative(lambda t: power_series(t, 5), x),
                             RTOL_FD, ATOL_FD, what=f"power_series at {x}")


def power_series(x, n):
    s = 0.0
    for j in range(n):
        s += x ** j / (j + 1)
    return s


# -- constant exponents (DESIGN §3) ---------------------------------------------------------------


def cube(x):
    return x ** 3


def square_np(x):
    return np.square(x)


def poly_powers(x):
    return x ** 5 - 2 * x ** 4 + x ** -2 + pow(x, 3)


def pow_math3(x):
    return math.pow(x, 3)


def power_np3(x):
    return np.power(x, 3)


def pow_times_y(x, y):
    return y * x ** 3 + x ** 2 * y ** 2


CONST_EXP = [cube, square_np, poly_powers, pow_math3, power_np3]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("f", CONST_EXP, ids=lambda f: f.__name__)
def test_constant_exponent_at_negative_base(f, mode):
    df = s2sad.grad(f, mode=mode)
    assert "log" not in df.source, df.source
    for x in (-3.0, -1.5, -0.25, 0.75, 2.0):
        oracles.assert_close(df(x), oracles.derivative(f, x, h=0.1 * min(1.0, abs(x))),
                             RTOL_FD, ATOL_FD, what=f"{f.__name__} at {x}")


def pow_rounded_exponent(x, y):
    return x ** round(y) + x ** int(y)


@pytest.mark.parametrize("mode", MODES)
def test_integer_valued_exponent_at_negative_base(mode):
    # The exponent is piecewise constant in y: it is not active, so no log(x) may be
    # evaluated (it would fail for x < 0) and ∂/∂y is exactly 0 (DESIGN §4, §10).
    df = s2sad.grad(pow_rounded_exponent, wrt=(0, 1), mode=mode)
    for x, y in ((-2.0, 2.6), (-2.0, -2.6), (-0.7, 3.2), (1.3, 1.7)):
        dx, dy = df(x, y)
        assert dy == 0.0
        want = oracles.derivative(lambda t, y=y: pow_rounded_exponent(t, y), x,
                                  h=0.1 * min(1.0, abs(x)))
        oracles.assert_close(dx, want, RTOL_FD, ATOL_FD, what=f"at {(x, y)}")


def test_constant_exponent_jvp_vjp_have_no_log():
    for fn in (s2sad.jvp(pow_times_y, (0, 1)), s2sad.vjp(pow_times_y, (0, 1)),
               s2sad.value_and_grad(pow_times_y, (0, 1)),
               s2sad.grad(pow_times_y, (0, 1), mode="forward")):
        assert "log" not in fn.source, fn.source
        assert not any(op.prim in ("log", "pow") for op in walk_ops(fn.ir.body))
    value, (dx, dy) = s2sad.value_and_grad(pow_times_y, (0, 1))(-2.0, -1.5)
    assert value == pow_times_y(-2.0, -1.5)
    oracles.assert_close((dx, dy), oracles.gradient(pow_times_y, (-2.0, -1.5)),
                         RTOL_FD, ATOL_FD)
