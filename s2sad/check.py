"""Checking s2sad's derivatives against SymPy: symbolically, numerically, and by size.

For every (output, input) pair of a function, :func:`check` compares the
derivative s2sad generates with the one SymPy computes from the same IR
(:mod:`s2sad.symbolic.from_ir`):

* **symbolically**: ``simplify(s2sad − sympy) == 0`` within a time budget per
  pair; the verdict is ``equal``, ``equal*`` (equal once float constants are
  read as the simple fractions they round, e.g. 2/3 folded to 0.666…),
  ``differs`` (the difference simplifies to a nonzero number) or ``undecided``
  (out of time, or SymPy could not reduce it);
* **numerically**: at N random points of the function's domain (points where
  the primal or SymPy's derivative is not finite and real are skipped and
  counted), with SymPy's derivative evaluated in 30-digit mpmath arithmetic and
  s2sad's by running the generated Python code;
* **by size** — the expression-swell comparison: SymPy's derivative as a tree
  (``count_ops``), the same after ``sympy.cse``, and the ops of s2sad's
  optimised derivative IR (for one pair: the ops that pair's result depends on;
  on the *total* line: the whole derivative function, all pairs together).

A pair passes when it is proven equal, or when it is not proven different and
every valid point agrees within ``atol + rtol·|reference|``.  A pair with no
valid point and no proof fails ("unverified"): a check that checked nothing
does not pass.

The inputs (:func:`plan_inputs`): an **int parameter** — annotated ``int``, or
read (directly or through int arithmetic) as a ``range`` bound, an index or a
size (:func:`int_parameters`) — is never sampled: it is held at the value the
user fixes (``--fix n=100``, ``fix=``), else at its default, else at
:data:`DEFAULT_INT`, and not differentiated (its derivative is piecewise
constant); the report says which values were held, why, and how to change
them.  A list parameter has length 3 unless ``--shape xs=5`` (``shapes=``)
says otherwise.

**Array code** (a parameter of kind ARRAY, or a number given a shape, or an
array output) is checked numerically only (:func:`check_arrays`): reverse and
forward mode against Richardson-extrapolated central differences of the
reference interpreter, at random points of the shapes given (``--shape
X=3x4``) or found (:func:`default_shapes`: the first combination of
:data:`DEFAULT_SHAPES` under which the function runs, reported).

Control flow is translated as :mod:`s2sad.symbolic.from_ir` says: ``if``
chains become ``Piecewise``, loops with a static trip count (held ints
included) are unrolled, list parameters are lists of symbols of their length.  What
cannot be translated exactly (a loop whose trip count depends on the inputs)
gets a *numeric comparison only*, against central finite differences
(Richardson-extrapolated) of the reference interpreter, and says so.  So do
functions whose SymPy expression tree is too large for SymPy (more than
``SYMPY_TREE_LIMIT`` nodes: a nested chain's tree grows exponentially, and
SymPy's ``diff`` walks the tree), against 50-digit central differences.

>>> import math, s2sad
>>> def f(x, y):
...     return math.sin(x) * y
>>> s2sad.check(f).ok
True
"""

from __future__ import annotations

import contextlib
import inspect
import math
import random
import re
import signal
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import S2SADError
from .ir.core import Block, Function, Kind, Op, Value, walk_ops
from .ir.interpret import interpret
from .symbolic.from_ir import (
    LIST_LENGTH,
    NotSymbolic,
    drop_singular_derivatives,
    to_sympy,
    tree_size,
)

DEFAULT_POINTS = 20
DEFAULT_BUDGET = 2.0  # seconds of sympy.simplify per pair
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-9
MPMATH_DPS = 30
HP_DPS = 50  # digits of the finite differences used when SymPy's tree is too large
SYMPY_TREE_LIMIT = 200_000  # nodes of the primal's SymPy tree SymPy is asked to differentiate
# Sampling ranges, cycled through so that functions defined on (0, ∞) or [-1, 1] get points.
_RANGES = ((-3.0, 3.0), (0.0, 3.0), (-1.0, 1.0), (0.0, 1.0))


# -- the report ------------------------------------------------------------------------------


@dataclass
class PairRow:
    """The comparison of one entry ∂output/∂input of the Jacobian."""

    output: str
    input: str
    symbolic: str  # "equal" | "equal*" | "differs" | "undecided" | "n/a" (no symbolic form)
    max_abs_err: float | None  # None: no valid point
    max_rel_err: float | None
    sympy_ops: int | None  # SymPy's derivative: count_ops of the tree (or an Estimate)
    sympy_cse_ops: int | None  # ... after sympy.cse
    s2sad_ops: int | None  # ops of s2sad's derivative IR this entry depends on
    ok: bool
    note: str = ""

    @property
    def status(self) -> str:
        if self.ok:
            return "ok"
        return "UNVERIFIED" if self.max_abs_err is None else "MISMATCH"


@dataclass
class FunctionReport:
    """The check of one function: one :class:`PairRow` per (output, input)."""

    name: str
    mode: str
    wrt: tuple[str, ...]
    rows: list[PairRow]
    points: int  # valid points compared
    rejected: int  # sampled points outside the domain (primal or SymPy not finite/real)
    seed: int
    derivative: str  # what was checked: "grad_f (compiled now)" or "grad_f in OUT.py"
    numeric_only: str | None = None  # why there is no symbolic comparison
    sympy_total: int | None = None
    sympy_cse_total: int | None = None
    s2sad_total: int | None = None
    inputs: list[str] = field(default_factory=list)  # held values, list lengths, array shapes
    reference: str = "SymPy"  # what the derivatives were compared with

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def text(self) -> str:
        return _render_function(self)

    def __str__(self) -> str:
        return self.text()


@dataclass
class CheckReport:
    """The result of :func:`check` (and of ``s2sad check``): ``.ok``, ``.rows``, ``.text()``."""

    functions: list[FunctionReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.functions)

    @property
    def rows(self) -> list[PairRow]:
        return [r for f in self.functions for r in f.rows]

    def text(self) -> str:
        return "\n\n".join(f.text() for f in self.functions)

    def __str__(self) -> str:
        return self.text()

    def __bool__(self) -> bool:
        return self.ok


def _fmt_err(x: float | None) -> str:
    if x is None:
        return "-"
    if x == 0:
        return "0"
    return f"{x:.1e}"


def _fmt_int(x: int | None) -> str:
    return "-" if x is None else str(x)  # an Estimate prints as ~N


def _render_function(rep: FunctionReport) -> str:
    n_out = len({r.output for r in rep.rows})
    head = (f"{rep.name}: {n_out} output{'s' if n_out != 1 else ''}, "
            f"{len(rep.wrt)} input{'s' if len(rep.wrt) != 1 else ''}, {rep.mode} mode; "
            f"checked {rep.derivative}")
    pts = (f"  {rep.points} random point{'s' if rep.points != 1 else ''} (seed {rep.seed}), "
           f"{rep.rejected} rejected outside the domain")
    lines = [head, pts]
    lines += [f"  {line}" for line in rep.inputs]
    if rep.numeric_only:
        lines.append(f"  numeric comparison only: {rep.numeric_only}")
    header = ("output", "input", "symbolic", "max abs err", "max rel err", "SymPy ops",
              "after cse", "s2sad ops", "result")
    table = [header]
    for r in rep.rows:
        table.append((r.output, r.input, r.symbolic, _fmt_err(r.max_abs_err),
                      _fmt_err(r.max_rel_err), _fmt_int(r.sympy_ops), _fmt_int(r.sympy_cse_ops),
                      _fmt_int(r.s2sad_ops), r.status))
    if len(rep.rows) > 1 or rep.s2sad_total is not None:
        table.append(("total", "", "", "", "", _fmt_int(rep.sympy_total),
                      _fmt_int(rep.sympy_cse_total), _fmt_int(rep.s2sad_total), ""))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    right = {3, 4, 5, 6, 7}
    for row in table:
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append(("  " + "  ".join(cells)).rstrip())
    if any(r.symbolic == "equal*" for r in rep.rows):
        lines.append("  equal*: equal once float constants are read as the fractions they round "
                     "(2/3 for 0.6666666666666666)")
    for r in rep.rows:
        if r.note:
            lines.append(f"  note: d({r.output})/d({r.input}): {r.note}")
    lines.append(f"  {'ok' if rep.ok else 'FAILED'}: "
                 + (f"every derivative agrees with {rep.reference}" if rep.ok
                    else f"a derivative disagrees with {rep.reference} or could not be "
                         "verified"))
    return "\n".join(lines)


# -- derivatives under test ------------------------------------------------------------------


@dataclass
class Derivative:
    """A derivative function under test, evaluated through its Python code.

    ``kind`` is the calling convention: ``grad`` (``g(*x)`` → ∂f/∂wrt, a tuple
    or, for one input, a number), ``value_and_grad`` (→ ``(f, grad)``),
    ``vjp`` (``v(*x, *cotangents)`` → ``(f, cotangents of wrt)``) or ``jvp``
    (``j(*x, *tangents)`` → ``(f, tangent(s) of the output)``).  ``ir``, when
    known, is its IR with the same parameters: it gives the symbolic
    comparison and the op counts.
    """

    kind: str
    fn: Callable[..., Any]
    label: str
    ir: Function | None = None
    mode: str | None = None  # the AD mode that produced it, when known

    def __post_init__(self) -> None:
        # the tangents or cotangents of a function with defaults are keyword-only
        # (``jvp_f(x, s=2.0, *, x_dot)``): the check passes every argument, so it can
        # give them by position
        try:
            params = list(inspect.signature(self.fn).parameters.values())
        except (TypeError, ValueError):
            return
        named = [p.name for p in params if p.kind is p.KEYWORD_ONLY]
        if named:
            fn, n = self.fn, len(params) - len(named)
            self.fn = lambda *a: fn(*a[:n], **dict(zip(named, a[n:], strict=True)))

    def jacobian(self, point: Sequence[Any], n_out: int,
                 layout: Sequence[int | None]) -> list[list[float]]:
        """``J[i][j]`` = ∂output_i/∂(input coordinate j) at ``point``.

        ``layout`` has one entry per input in ``wrt``: ``None`` for a number, the
        length for a list (whose elements are coordinates of their own).
        """
        n_wrt = sum(1 if n is None else n for n in layout)
        if self.kind in ("grad", "value_and_grad"):
            got = self.fn(*point)
            if self.kind == "value_and_grad":
                got = got[1]
            row = _flat(got)
            _expect(len(row), n_wrt, self.label, "gradient entries")
            return [row]
        if self.kind == "vjp":
            jac = []
            for i in range(n_out):
                cot = [1.0 if k == i else 0.0 for k in range(n_out)]
                row = _flat(self.fn(*point, *cot)[1])
                _expect(len(row), n_wrt, self.label, "cotangents")
                jac.append(row)
            return jac
        if self.kind == "jvp":
            cols = []
            for j in range(n_wrt):
                col = _flat(self.fn(*point, *_unit(layout, j))[1])
                _expect(len(col), n_out, self.label, "output tangents")
                cols.append(col)
            return [[cols[j][i] for j in range(n_wrt)] for i in range(n_out)]
        raise ValueError(f"unknown derivative kind {self.kind!r}")

    def symbolic(self, syms: Sequence[Any], n_out: int,
                 layout: Sequence[int | None]) -> list[list[Any]]:
        """The same Jacobian as SymPy expressions, from ``ir``."""
        import sympy

        assert self.ir is not None
        n_in = len(layout)
        n_wrt = sum(1 if n is None else n for n in layout)
        one, zero = sympy.Integer(1), sympy.Integer(0)
        if self.kind in ("grad", "value_and_grad"):
            _, res = to_sympy(self.ir, syms)
            return [_flat(list(res[-n_in:]))]
        if self.kind == "vjp":
            jac = []
            for i in range(n_out):
                _, res = to_sympy(self.ir, [*syms, *(one if k == i else zero
                                                      for k in range(n_out))])
                jac.append(_flat(list(res[-n_in:])))
            return jac
        cols = []
        for j in range(n_wrt):
            tangents = [[sympy.Integer(int(t)) for t in u] if isinstance(u, list)
                        else sympy.Integer(int(u)) for u in _unit(layout, j)]
            _, res = to_sympy(self.ir, [*syms, *tangents])
            cols.append(list(res[-n_out:]))
        return [[cols[j][i] for j in range(n_wrt)] for i in range(n_out)]

    def result_index(self, i: int, j: int, n_out: int, n_wrt: int) -> int | None:
        """Which flat result of ``ir`` holds (or feeds) entry (i, j); ``j`` counts inputs
        (a list input is one result)."""
        if self.ir is None:
            return None
        n = len(self.ir.results)
        if self.kind in ("grad", "value_and_grad", "vjp"):
            return n - n_wrt + j
        return n - n_out + i


def _unit(layout: Sequence[int | None], j: int) -> list[Any]:
    """Tangents for the inputs of ``layout`` that are 1 in flat coordinate ``j``, else 0."""
    out: list[Any] = []
    k = 0
    for n in layout:
        if n is None:
            out.append(1.0 if k == j else 0.0)
            k += 1
        else:
            out.append([1.0 if k + e == j else 0.0 for e in range(n)])
            k += n
    return out


def _flat(x: Any) -> list[float]:
    if isinstance(x, (tuple, list)):
        out: list[float] = []
        for item in x:
            out.extend(_flat(item))
        return out
    return [x]


def _expect(got: int, want: int, label: str, what: str) -> None:
    if got != want:
        raise S2SADError(f"{label} returns {got} {what}, but {want} were expected",
                         hint="pass --wrt (or wrt=) naming the inputs it differentiates")


def _cone_size(fn: Function, value: Value) -> int:
    """Non-constant ops of ``fn`` that ``value`` depends on (through regions too)."""
    defining: dict[Value, Any] = {}
    for op in walk_ops(fn.body):
        for r in op.results:
            defining[r] = op
    seen: set[int] = set()
    stack = [value]
    count = 0
    while stack:
        v = stack.pop()
        op = defining.get(v)
        if op is None or id(op) in seen:
            continue
        seen.add(id(op))
        if op.prim != "const":
            count += 1
        stack.extend(op.operands)
        for region in op.regions:  # what the region yields, and everything it reads
            stack.extend(region.yields)
            stack.extend(_free_uses(region))
    return count


def _free_uses(block: Block) -> list[Value]:
    return [v for op in walk_ops(block) for v in op.operands]


# -- symbolic comparison ---------------------------------------------------------------------


class _Timeout(Exception):
    pass


def _can_time() -> bool:
    """Can a SIGALRM timer bound ``simplify``?  POSIX, main thread, and no timer of someone
    else's pending (which ours would clobber)."""
    return (hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_REAL)[0] == 0)


@contextlib.contextmanager
def _time_limit(seconds: float):
    def on_alarm(signum, frame):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def round_constants(expr: Any) -> Any:
    """Replace each non-integer rational by the simplest fraction within 4 ulp of it.

    Float constants enter the translation as their exact binary values, and
    s2sad folds constants in floating point (``2/3`` becomes
    ``0.6666666666666666``).  Mapping both sides' constants to nearby simple
    fractions (``2/3``, ``21/10``) separates "equal up to the rounding of
    constants" from a real difference.
    """
    import sympy

    mapping = {}
    for q in expr.atoms(sympy.Rational):
        if q.is_Integer:
            continue
        simple = q.limit_denominator(10**9)
        if abs(simple - q) <= abs(q) * sympy.Rational(4, 2**52):
            mapping[q] = simple
    return expr.xreplace(mapping) if mapping else expr


def decide_equal(a: Any, b: Any, budget: float) -> str:
    """Is ``a − b`` zero, deciding within ``budget`` seconds?

    ``equal``: proven; ``equal*``: proven once float constants are read as the
    simple fractions they round (see :func:`round_constants`); ``differs``: the
    difference is a nonzero number; ``undecided``: otherwise.  The budget needs
    ``SIGALRM`` (POSIX, main thread, no other interval timer running); elsewhere
    only the quick structural test runs.
    """
    import sympy

    diff = a - b
    if diff == 0:
        return "equal"
    if diff.is_number and not diff.has(sympy.Float) and diff.is_zero is False:
        return "differs" if round_constants(diff) != 0 else "equal*"
    if budget <= 0 or not _can_time():
        return "undecided"
    try:
        with _time_limit(budget):
            simple = sympy.simplify(diff)
            if simple == 0:
                return "equal"
            rounded = round_constants(simple)
            if rounded == 0 or sympy.simplify(round_constants(a) - round_constants(b)) == 0:
                return "equal*"
    except _Timeout:
        return "undecided"
    except Exception:  # noqa: BLE001 - SymPy may fail on exotic input; that decides nothing
        return "undecided"
    if simple.is_number and simple.is_zero is False and simple.is_finite:
        return "differs"
    return "undecided"


# -- numeric comparison ----------------------------------------------------------------------


def _finite_real(x: Any) -> bool:
    if isinstance(x, bool):
        return True
    if isinstance(x, complex):
        return False
    try:
        return math.isfinite(x)
    except TypeError:
        return False


def _sympy_evaluator(syms, exprs) -> Callable[[Sequence[float]], list[float | None]]:
    """Evaluate ``exprs`` at a point in 30-digit mpmath; ``None`` where not finite and real."""
    import mpmath
    import sympy

    try:
        # cse=True prints each shared subexpression once: swollen trees stay small.
        fast = sympy.lambdify(syms, list(exprs), modules="mpmath", cse=True)
    except Exception:  # noqa: BLE001 - fall back to evalf
        fast = None

    def slow(*point: Any) -> list[Any]:
        subs = {s: sympy.Rational(p) for s, p in zip(_flat(list(syms)), _flat(list(point)),
                                                      strict=True)}
        out: list[Any] = []
        for e in exprs:
            try:
                out.append(complex(e.evalf(MPMATH_DPS, subs=subs)))
            except (TypeError, ValueError):
                out.append(math.nan)
        return out

    def evaluate(point: Sequence[float]) -> list[float | None]:
        with mpmath.workdps(MPMATH_DPS):
            args = [[mpmath.mpf(q) for q in p] if isinstance(p, list) else mpmath.mpf(p)
                    for p in point]
            try:
                raw = fast(*args) if fast is not None else slow(*point)
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                try:
                    raw = slow(*point)
                except Exception:  # noqa: BLE001 - not evaluable here: skip the point
                    return [None] * len(exprs)
            out: list[float | None] = []
            for v in raw:
                if isinstance(v, (mpmath.mpc, complex)):
                    im = v.imag
                    if abs(im) > 1e-25 * max(1, abs(v.real)):
                        out.append(None)
                        continue
                    v = v.real
                try:
                    f = float(v)
                except (TypeError, ValueError):
                    out.append(None)
                    continue
                out.append(f if math.isfinite(f) else None)
            return out

    return evaluate


def _shifted(point: Sequence[Any], coord: tuple[int, int | None], step: Any) -> list[Any]:
    """``point`` with input coordinate ``coord`` (parameter, list element) moved by ``step``."""
    moved = [list(a) if isinstance(a, list) else a for a in point]
    i, e = coord
    if e is None:
        moved[i] = moved[i] + step
    else:
        moved[i][e] = moved[i][e] + step
    return moved


def _coordinate(point: Sequence[Any], coord: tuple[int, int | None]) -> Any:
    i, e = coord
    return point[i] if e is None else point[i][e]


def _finite_difference(fn: Function, point: Sequence[Any], coord: tuple[int, int | None],
                       n_out: int) -> list[float]:
    """∂outputs/∂(coordinate) by Richardson-extrapolated central differences of the
    interpreter."""
    h = 1e-3 * max(1.0, abs(_coordinate(point, coord)))

    def central(step: float) -> list[float]:
        up, down = _shifted(point, coord, step), _shifted(point, coord, -step)
        a, b = _flat(interpret(fn, *up)), _flat(interpret(fn, *down))
        return [(a[i] - b[i]) / (2 * step) for i in range(n_out)]

    d1, d2 = central(h), central(h / 2)
    return [(4 * d2[i] - d1[i]) / 3 for i in range(n_out)]


def _hp_difference(fn: Function, point: Sequence[Any], coords: Sequence[tuple[int, int | None]],
                   n_out: int, held: Collection[int] = ()) -> list[float | None]:
    """The Jacobian by central differences of the IR evaluated in ``HP_DPS``-digit arithmetic
    (each op through its SymPy form on SymPy Floats: linear in the size of the IR).

    With 50 digits and a step of 1e-15, truncation (~h²) and rounding (~1e-50/h) errors
    are far below float64's: the result is exact for the comparison's purposes.
    """
    import sympy

    def at(values: list[Any]) -> list[Any] | None:
        try:
            _, outs = to_sympy(fn, values)
        except (ZeroDivisionError, ValueError, TypeError, OverflowError):
            return None
        got = []
        for v in outs:
            v = sympy.N(v, HP_DPS) if not v.is_Float else v
            if not (v.is_number and v.is_extended_real and v.is_finite):
                return None
            got.append(v)
        return got

    from .symbolic.from_ir import number

    base = [number(p) if k in held  # an int stays an Integer: range() needs one
            else [sympy.Float(q, HP_DPS) for q in p] if isinstance(p, list)
            else sympy.Float(p, HP_DPS) for k, p in enumerate(point)]
    cols = []
    for c in coords:
        h = sympy.Float(1e-15, HP_DPS) * max(1, abs(_coordinate(point, c)))
        a, b = at(_shifted(base, c, h)), at(_shifted(base, c, -h))
        if a is None or b is None:
            return [None] * (n_out * len(coords))
        cols.append([float((a[i] - b[i]) / (2 * h)) for i in range(n_out)])
    return [cols[j][i] for i in range(n_out) for j in range(len(coords))]


def _sample(rng: random.Random, specs: Sequence[Input], attempt: int) -> list[Any]:
    lo, hi = _RANGES[attempt % len(_RANGES)]
    return [_random_value(rng, s, lo, hi) for s in specs]


# -- the inputs: held ints, list lengths, array shapes ---------------------------------------

DEFAULT_INT = 3  # the value an int parameter with no default is held at (reported)
# Default array shapes, tried in this order (as a product over the array parameters) until
# the primal runs; non-square first, so that a transposed adjoint cannot pass by accident.
DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = ((3, 4), (4, 3), (4,), (3,), (3, 3))
MAX_SHAPE_TRIES = 2000

# Operand positions that Python requires to be ints: range bounds, indices, sizes.
_INT_OPERANDS: dict[str, tuple[int, ...]] = {"for_range": (0, 1, 2), "getitem": (1,),
                                             "setitem": (1,), "eye": (0,)}
_INT_OPERANDS_FROM = {"np_index": 1, "index_set": 2, "reshape": 1, "np_zeros": 0,
                      "np_ones": 0}
# Ops through which an int stays an int (int(), round(), len() make one from anything:
# a parameter read through them may be a float).
_INT_THROUGH = {"add", "sub", "mul", "neg", "floordiv", "mod", "abs", "powc", "select"}


def int_parameters(fn: Function, annotated: Sequence[str] = ()) -> dict[int, str]:
    """The parameters of ``fn`` that are ints, each with the reason, e.g. ``"a loop bound
    (f.py:3)"``: annotated ``int`` (names in ``annotated``), or read — directly or through
    int arithmetic — where Python needs an int (a ``range`` bound, an index, a size).

    The frontend lifts such parameters as numbers; their derivative is piecewise constant,
    and sampling them as floats would only make ``range(2.7)`` fail, so the check holds
    them at one value instead.
    """
    defining: dict[Value, Op] = {}
    for op in walk_ops(fn.body):
        for r in op.results:
            defining[r] = op
    index = {p: k for k, p in enumerate(fn.params)}
    found: dict[int, str] = {k: "annotated `int`" for k, name in enumerate(fn.param_names)
                             if name in annotated}

    def mark(v: Value, what: str, loc: Any) -> None:
        seen: set[Value] = set()
        stack = [v]
        while stack:
            u = stack.pop()
            if u in seen:
                continue
            seen.add(u)
            if u in index:
                where = f" at {Path(loc.filename).name}:{loc.lineno}" if loc is not None else ""
                found.setdefault(index[u], what + where)
                continue
            op = defining.get(u)
            if op is not None and op.prim in _INT_THROUGH:
                stack.extend(op.operands[1:] if op.prim == "select" else op.operands)

    for op in walk_ops(fn.body):
        positions = _INT_OPERANDS.get(op.prim)
        if positions is None and op.prim in _INT_OPERANDS_FROM:
            positions = tuple(range(_INT_OPERANDS_FROM[op.prim], len(op.operands)))
        what = {"for_range": "a loop bound", "eye": "a size", "reshape": "a size",
                "np_zeros": "a size", "np_ones": "a size"}.get(op.prim, "an index")
        for k in positions or ():
            if k < len(op.operands):
                mark(op.operands[k], what, op.loc)
    for k, p in enumerate(fn.params):  # the frontend's verdict (frontend/ints.py) wins
        if p.kind is Kind.INT:
            found.setdefault(k, "an int to the compiler (a range bound, an index or a size)")
    return dict(sorted(found.items()))


def int_annotations(f: Any) -> list[str]:
    """The names of ``f``'s parameters annotated ``int`` (a live function, or the
    ``ast.FunctionDef`` of one read from a file)."""
    import ast
    import inspect

    if isinstance(f, ast.FunctionDef):
        args = f.args.posonlyargs + f.args.args
        return [a.arg for a in args if a.annotation is not None
                and ast.unparse(a.annotation) in ("int", "builtins.int")]
    try:
        params = inspect.signature(f).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in params if p.annotation in (int, "int", "builtins.int")]


@dataclass(frozen=True)
class Input:
    """How the check feeds one parameter.

    ``kind``: ``held`` (``value``, never differentiated), ``number``, ``list`` (of
    ``shape[0]`` numbers) or ``array`` (of ``shape``); ``origin`` says where the value or
    shape came from, for the report.
    """

    name: str
    kind: str
    value: Any = None
    shape: tuple[int, ...] = ()
    origin: str = ""

    def describe(self) -> str:
        if self.kind == "held":
            return f"held {self.name} = {self.value!r} (not differentiated): {self.origin}"
        if self.kind == "list":
            return f"list {self.name} of length {self.shape[0]}: {self.origin}"
        dims = "x".join(map(str, self.shape)) or "() (a 0-d array)"
        return f"array {self.name} of shape {dims}: {self.origin}"


def _shape_text(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def normalize_shape(name: str, shape: Any) -> tuple[int, ...]:
    """``5``, ``(3, 4)``, ``[3, 4]`` or ``"3x4"`` as a tuple of sizes (an error otherwise)."""
    if isinstance(shape, str):
        parts = [p for p in re.split(r"[x,×*\s]+", shape.strip().strip("()")) if p]
        try:
            shape = tuple(int(p) for p in parts)
        except ValueError:
            shape = None
    elif isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    elif isinstance(shape, (tuple, list)) and all(
            isinstance(d, int) and not isinstance(d, bool) for d in shape):
        shape = tuple(shape)
    else:
        shape = None
    if shape is None or any(d < 1 for d in shape):
        raise S2SADError(f"bad shape for `{name}`: {shape!r}" if shape is not None
                         else f"bad shape for `{name}`",
                         hint=f"give sizes of at least 1: --shape {name}=3x4 on the command "
                              f"line, shapes={{'{name}': (3, 4)}} in Python")
    return shape


def plan_inputs(fn: Function, fix: dict[str, Any] | None = None,
                shapes: dict[str, Any] | None = None, annotated_ints: Sequence[str] = (),
                strict: bool = True) -> list[Input]:
    """One :class:`Input` per parameter of ``fn``.

    An int parameter (:func:`int_parameters`) is held at ``fix[name]``, else at its default,
    else at :data:`DEFAULT_INT`; ``fix`` may hold a number parameter too.  A list
    parameter has length ``shapes[name]`` (default ``LIST_LENGTH``); an array parameter
    the shape ``shapes[name]`` (default: found later by :func:`default_shapes`); a number
    parameter given a shape is checked as an array of it.  With ``strict``, a name in
    ``fix`` or ``shapes`` that is not a parameter is an error (the command line checks
    names across all the functions it checks instead).
    """
    from .ir.core import NO_DEFAULT

    fix, shapes = dict(fix or {}), dict(shapes or {})
    names = list(fn.param_names)
    if strict:
        for what, given in (("fix", fix), ("shape", shapes)):
            for name in given:
                if name not in names:
                    raise S2SADError(f"--{what} {name}: `{fn.name}` has no parameter `{name}`",
                                     hint=f"its parameters are: {', '.join(names) or '(none)'}")
    ints = int_parameters(fn, annotated_ints)
    defaults = list(fn.defaults) + [NO_DEFAULT] * (len(names) - len(fn.defaults))
    out: list[Input] = []
    for k, (p, name) in enumerate(zip(fn.params, names, strict=True)):
        if name in fix and name in shapes:
            raise S2SADError(f"`{name}` is given both --fix and --shape",
                             hint="a held parameter has a value, not a shape: give one of them")
        if k in ints:
            if name in shapes:
                raise S2SADError(f"--shape {name}: `{name}` is an int ({ints[k]}), not an "
                                 "array or list", hint=f"hold it at a value: --fix {name}=5")
            if name in fix:
                value = fix[name]
                if isinstance(value, bool) or not isinstance(value, int):
                    raise S2SADError(
                        f"--fix {name}={value}: `{name}` is an int ({ints[k]}), so its value "
                        "must be an int", hint=f"give a whole number, e.g. --fix {name}=5")
                out.append(Input(name, "held", value, origin=f"an int ({ints[k]}), from --fix"))
            elif defaults[k] is not NO_DEFAULT and isinstance(defaults[k], int):
                out.append(Input(name, "held", defaults[k],
                                 origin=f"an int ({ints[k]}), at its default; change it with "
                                        f"--fix {name}=VALUE (Python: fix=)"))
            else:
                out.append(Input(name, "held", DEFAULT_INT,
                                 origin=f"an int ({ints[k]}) with no default, so "
                                        f"{DEFAULT_INT}; change it with --fix {name}=VALUE "
                                        "(Python: fix=)"))
        elif name in fix:
            value = fix[name]
            if p.kind not in (Kind.FLOAT, Kind.INT, Kind.BOOL) or isinstance(value, bool) \
                    or not isinstance(value, (int, float)):
                what = {Kind.LIST: "a list", Kind.ARRAY: "an array"}.get(p.kind, "a number")
                raise S2SADError(f"--fix {name}={value}: `{name}` is {what}; --fix holds "
                                 "numbers only", hint=f"give {name} a shape with --shape "
                                 f"{name}=5 instead" if p.kind in (Kind.LIST, Kind.ARRAY)
                                 else f"give a number, e.g. --fix {name}=2.5")
            out.append(Input(name, "held", float(value) if p.kind is Kind.FLOAT else value,
                             origin="from --fix"))
        elif p.kind is Kind.LIST:
            if name in shapes:
                shape = normalize_shape(name, shapes[name])
                if len(shape) != 1:
                    raise S2SADError(f"--shape {name}={_shape_text(shape)}: `{name}` is a list "
                                     "(indexed item by item), so its shape is one length",
                                     hint=f"--shape {name}=5")
                out.append(Input(name, "list", shape=shape, origin="from --shape"))
            else:
                out.append(Input(name, "list", shape=(LIST_LENGTH,),
                                 origin=f"the default; change it with --shape {name}=N "
                                        "(Python: shapes=)"))
        elif p.kind is Kind.ARRAY or (name in shapes and p.kind is Kind.FLOAT):
            if name in shapes:
                out.append(Input(name, "array", shape=normalize_shape(name, shapes[name]),
                                 origin="from --shape"))
            else:
                out.append(Input(name, "array", shape=None, origin="default"))  # type: ignore
        elif name in shapes:
            raise S2SADError(f"--shape {name}: `{name}` is a {p.kind.value}, which has no shape")
        else:
            out.append(Input(name, "number"))
    return out


def _random_value(rng: random.Random, spec: Input, lo: float, hi: float) -> Any:
    import numpy as np

    if spec.kind == "held":
        return spec.value
    if spec.kind == "list":
        return [rng.uniform(lo, hi) for _ in range(spec.shape[0])]
    if spec.kind == "array":
        size = math.prod(spec.shape)
        return np.array([rng.uniform(lo, hi) for _ in range(size)]).reshape(spec.shape)
    return rng.uniform(lo, hi)


def _runs(fn: Function, point: Sequence[Any]) -> str | None:
    """``None`` if ``fn`` runs at ``point`` with finite results of the kinds it declares,
    else why not."""
    import numpy as np

    try:
        with np.errstate(all="ignore"):
            out = _leaves(interpret(fn, *point))
    except Exception as exc:  # noqa: BLE001 - the function does not run here
        return f"{type(exc).__name__}: {exc}"
    for v, r in zip(out, fn.results, strict=True):
        if r.kind is not Kind.ARRAY and np.ndim(v) != 0:
            return f"a result that should be a number has shape {np.shape(v)}"
        if not np.all(np.isfinite(np.asarray(v, dtype=float))):
            return "a result is not finite"
    return None


def default_shapes(fn: Function, specs: list[Input], seed: int = 0) -> list[Input]:
    """``specs`` with a shape for every array parameter that has none: the first
    combination of :data:`DEFAULT_SHAPES` under which ``fn`` runs (an error if none does)."""
    import itertools

    todo = [k for k, s in enumerate(specs) if s.kind == "array" and s.shape is None]
    if not todo:
        return specs
    rng = random.Random(seed)
    why = None
    for combo in itertools.islice(itertools.product(DEFAULT_SHAPES, repeat=len(todo)),
                                  MAX_SHAPE_TRIES):
        trial = list(specs)
        for k, shape in zip(todo, combo, strict=True):
            trial[k] = Input(specs[k].name, "array", shape=shape,
                             origin="a default (the first tried that runs); change it with "
                                    f"--shape {specs[k].name}=DIMS (Python: shapes=)")
        point = [_random_value(rng, s, 0.1, 0.9) for s in trial]
        why = _runs(fn, point)
        if why is None:
            return trial
    names = ", ".join(specs[k].name for k in todo)
    raise S2SADError(f"`{fn.name}` did not run with any default shape of its arrays ({names}); "
                     f"the last attempt: {why}",
                     hint="give the shapes: --shape " + " --shape ".join(
                         f"{specs[k].name}=3x4" for k in todo)
                     + " (shapes={...} in Python)")


def _leaves(x: Any) -> list[Any]:
    """The leaves of a (nested) tuple of results."""
    if isinstance(x, tuple):
        return [leaf for item in x for leaf in _leaves(item)]
    return [x]


# -- the check -------------------------------------------------------------------------------


def output_labels(fn: Function) -> list[str]:
    """``f`` for a scalar function; ``f[0]``, ``f[1][0]``… for the leaves of a returned tuple."""
    labels: list[tuple[int, str]] = []

    def walk(s: Any, path: str) -> None:
        if isinstance(s, tuple):
            for k, sub in enumerate(s):
                walk(sub, f"{path}[{k}]")
        else:
            labels.append((s, path))

    walk(fn.structure, fn.name)
    return [label for _, label in sorted(labels)]


def compiled_derivative(fn: Function, wrt: tuple[int, ...], mode: str,
                        kind: str | None = None) -> Derivative:
    """s2sad's derivative of ``fn``, compiled now: ``kind``, by default ``grad`` for a
    scalar ``fn``, else ``vjp`` (reverse mode) or ``jvp`` (forward mode)."""
    from .codegen import load
    from .pipeline import derive, generate

    if kind is None:
        kind = "grad" if not fn.returns_tuple else "vjp" if mode == "reverse" else "jvp"
    ir = derive(fn, kind, wrt, mode)
    source = generate([ir])
    return Derivative(kind, load(source, ir.name, f"<s2sad check: {ir.name}>"),
                      f"{ir.name} (compiled now)", ir, mode)


def check_function(
    fn: Function,
    wrt: Sequence[int] | None = None,
    *,
    mode: str = "reverse",
    points: int = DEFAULT_POINTS,
    seed: int = 0,
    budget: float = DEFAULT_BUDGET,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    derivative: Derivative | None = None,
    fix: dict[str, Any] | None = None,
    shapes: dict[str, Any] | None = None,
    annotated_ints: Sequence[str] = (),
    strict: bool = True,
) -> FunctionReport:
    """Check the derivative of IR function ``fn`` with respect to parameters ``wrt``
    (indices; all parameters but the held ones by default) against SymPy, or for array
    code against finite differences.  ``derivative`` is the function under test; by
    default s2sad compiles one now (for array code: one per mode).

    ``fix``, ``shapes``, ``annotated_ints`` and ``strict``: see :func:`plan_inputs`.
    Held parameters are passed at their value and never differentiated; a ``wrt``
    naming one is an error unless ``derivative`` (an emitted module) includes it,
    whose entry is then not compared.
    """
    import sympy

    if mode not in ("reverse", "forward"):
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    specs = plan_inputs(fn, fix, shapes, annotated_ints, strict)
    held = {k for k, s in enumerate(specs) if s.kind == "held"}
    if wrt is None:
        wrt = tuple(k for k in range(len(fn.params)) if k not in held)
        if not wrt and fn.params:
            raise S2SADError(f"every parameter of `{fn.name}` is held "
                             f"({', '.join(s.describe() for s in specs)}): nothing is left to "
                             "differentiate")
    else:
        wrt = tuple(wrt)
        for j in wrt:
            if j in held and derivative is None:
                raise S2SADError(f"`{fn.param_names[j]}` is not differentiated: "
                                 f"{specs[j].describe()}",
                                 why="the derivative with respect to an int is piecewise "
                                     "constant, and a held value is a constant",
                                 hint="leave it out of --wrt (wrt=)")
    if not wrt:
        raise S2SADError(f"`{fn.name}` has no parameter to differentiate with respect to")
    for v in fn.results:
        if v.kind not in (Kind.FLOAT, Kind.INT, Kind.BOOL, Kind.ARRAY):
            raise S2SADError(f"`{fn.name}` returns a {v.kind.value}: s2sad check compares "
                             "functions whose outputs are numbers or arrays")
    stopped = next((op for op in walk_ops(fn.body) if op.prim == "stop_gradient"), None)
    if stopped is not None:
        raise S2SADError(f"`{fn.name}` uses stop_gradient, which s2sad check cannot verify",
                         stopped.loc,
                         why="SymPy and finite differences differentiate through it",
                         hint="check the function without stop_gradient, or test it against "
                              "finite differences with the stopped value held fixed")
    if any(s.kind == "array" for s in specs) or any(v.kind is Kind.ARRAY for v in fn.results):
        specs = default_shapes(fn, specs, seed)
        return check_arrays(fn, specs, wrt, mode=mode, points=points, seed=seed, rtol=rtol,
                            atol=atol, derivative=derivative)
    if derivative is None:
        derivative = compiled_derivative(fn, wrt, mode)
    outs_labels = output_labels(fn)
    # The input coordinates: a number, or each element of a list parameter.  ``layout``
    # is the derivative's calling convention (every input of wrt); ``coords`` are the
    # compared ones (not the held), ``columns`` where each is in the derivative's Jacobian.
    layout = [specs[j].shape[0] if specs[j].kind == "list" else None for j in wrt]
    coords: list[tuple[int, int | None]] = []  # (parameter index, list element)
    columns: list[int] = []
    in_labels: list[str] = []
    owner: list[int] = []  # which input of wrt each coordinate belongs to
    column = 0
    for pos, (j, n) in enumerate(zip(wrt, layout, strict=True)):
        name = fn.param_names[j]
        for e in ([None] if n is None else range(n)):
            if j not in held:
                coords.append((j, e))
                columns.append(column)
                in_labels.append(name if e is None else f"{name}[{e}]")
                owner.append(pos)
            column += 1
    n_out, n_wrt = len(fn.results), len(coords)
    free = [k for k in range(len(specs)) if k not in held]

    # SymPy's derivative of the same IR.
    numeric_only = None
    sym_jac = None
    high_precision = False
    syms = _symbols(fn, specs)
    try:
        _, outs = to_sympy(fn, syms)
    except NotSymbolic as exc:
        numeric_only = f"{exc}; compared with finite differences of the interpreter"
    except (IndexError, ZeroDivisionError, ValueError, TypeError, OverflowError) as exc:
        # the held values or list lengths do not fit the function (an index past the end)
        numeric_only = (f"SymPy cannot evaluate it ({type(exc).__name__}: {exc}); compared "
                        "with finite differences of the interpreter")
    else:
        nodes = sum(tree_size(o) for o in outs)
        if nodes > SYMPY_TREE_LIMIT:
            numeric_only = (f"SymPy's expression tree of {fn.name} has {nodes:,} nodes (more "
                            f"than {SYMPY_TREE_LIMIT:,}), too many for SymPy to differentiate; "
                            f"compared with {HP_DPS}-digit central differences")
            high_precision = True
        else:
            sym_jac = [[drop_singular_derivatives(sympy.diff(outs[i], _coordinate(syms, c)))
                        for c in coords] for i in range(n_out)]

    # s2sad's derivative as SymPy expressions, where its IR is known.
    s2_jac = None
    if sym_jac is not None and derivative.ir is not None:
        try:
            full = derivative.symbolic(syms, n_out, layout)
            s2_jac = [[row[c] for c in columns] for row in full]
        except NotSymbolic:
            s2_jac = None

    # Sizes: the expression-swell comparison.
    sympy_ops = sympy_cse = None
    sympy_total = sympy_cse_total = None
    if sym_jac is not None:
        sympy_ops = [[sympy_size(e) for e in row] for row in sym_jac]
        sympy_cse = [[_cse_size([e]) for e in row] for row in sym_jac]
        flat_sizes = [n for row in sympy_ops for n in row]
        sympy_total = sum(int(n) for n in flat_sizes)
        if any(isinstance(n, Estimate) for n in flat_sizes):
            sympy_total = Estimate(sympy_total)
        sympy_cse_total = _cse_size([e for row in sym_jac for e in row])
    s2sad_total = None
    if derivative.ir is not None:
        from .ir.core import count_ops

        s2sad_total = count_ops(derivative.ir)

    # Symbolic verdicts.
    verdict = [["n/a"] * n_wrt for _ in range(n_out)]
    if s2_jac is not None and sym_jac is not None:
        verdict = [[decide_equal(s2_jac[i][j], sym_jac[i][j], budget) for j in range(n_wrt)]
                   for i in range(n_out)]

    # Numeric comparison.
    reference: Callable[[Sequence[float]], list[float | None]]
    if sym_jac is not None:
        evaluate = _sympy_evaluator([syms[k] for k in free],
                                    [e for row in sym_jac for e in row])

        def reference(point: Sequence[Any]) -> list[float | None]:
            return evaluate([point[k] for k in free])
    elif high_precision:
        def reference(point: Sequence[float]) -> list[float | None]:
            return _hp_difference(fn, point, coords, n_out, held)
    else:
        def reference(point: Sequence[Any]) -> list[float | None]:
            cols = [_finite_difference(fn, point, c, n_out) for c in coords]
            return [cols[j][i] if _finite_real(cols[j][i]) else None
                    for i in range(n_out) for j in range(n_wrt)]
        rtol, atol = max(rtol, 1e-5), max(atol, 1e-7)  # finite differences are less exact
    ref_name = "SymPy" if sym_jac is not None else "reference"

    rng = random.Random(seed)
    max_abs = [[None] * n_wrt for _ in range(n_out)]
    max_rel = [[None] * n_wrt for _ in range(n_out)]
    bad = [[False] * n_wrt for _ in range(n_out)]
    notes = [[""] * n_wrt for _ in range(n_out)]
    used = rejected = 0
    attempt = 0
    max_attempts = max(50, 25 * points)
    last_failure = None
    while used < points and attempt < max_attempts:
        point = _sample(rng, specs, attempt)
        attempt += 1
        try:
            primal = _flat(interpret(fn, *point))
        except Exception as exc:  # noqa: BLE001 - outside the domain (math domain error, 1/0, ...)
            rejected += 1
            last_failure = f"{type(exc).__name__}: {exc}"
            continue
        if not all(_finite_real(v) for v in primal):
            rejected += 1
            continue
        ref = reference(point)
        if any(r is None for r in ref):
            rejected += 1
            continue
        used += 1
        try:
            full = derivative.jacobian(point, n_out, layout)
            got = [[row[c] for c in columns] for row in full]
            error = None
        except S2SADError:
            raise
        except Exception as exc:  # noqa: BLE001 - the derivative fails where f is defined
            got, error = None, f"{type(exc).__name__}: {exc} at {_fmt_point(point)}"
        for i in range(n_out):
            for j in range(n_wrt):
                r = ref[i * n_wrt + j]
                g = got[i][j] if got is not None else math.nan
                try:
                    g = float(g)
                except (TypeError, ValueError):
                    g = math.nan
                ae = abs(g - r) if math.isfinite(g) else math.inf
                re_ = ae / abs(r) if r != 0 else (0.0 if ae == 0 else math.inf)
                max_abs[i][j] = ae if max_abs[i][j] is None else max(max_abs[i][j], ae)
                max_rel[i][j] = re_ if max_rel[i][j] is None else max(max_rel[i][j], re_)
                if not ae <= atol + rtol * abs(r):
                    if not bad[i][j]:
                        notes[i][j] = error or (f"s2sad {g!r}, {ref_name} {r!r} at "
                                                f"{_fmt_point(point)}")
                    bad[i][j] = True

    rows = []
    for i in range(n_out):
        for j in range(n_wrt):
            v = verdict[i][j]
            if v in ("equal", "equal*"):
                ok = True
            elif v == "differs":
                ok = False
            else:
                ok = used > 0 and not bad[i][j]
            note = notes[i][j]
            if used == 0 and v not in ("equal", "equal*"):
                note = _no_point_note(last_failure, specs)
            idx = derivative.result_index(i, owner[j], n_out, len(wrt))
            rows.append(PairRow(
                output=outs_labels[i], input=in_labels[j], symbolic=v,
                max_abs_err=max_abs[i][j], max_rel_err=max_rel[i][j],
                sympy_ops=sympy_ops[i][j] if sympy_ops else None,
                sympy_cse_ops=sympy_cse[i][j] if sympy_cse else None,
                s2sad_ops=_cone_size(derivative.ir, derivative.ir.results[idx])
                if idx is not None else None,
                ok=ok, note=note if not ok or v == "differs" else "",
            ))
    return FunctionReport(
        name=fn.name, mode=derivative.mode or mode,
        wrt=tuple(fn.param_names[j] for j in wrt if j not in held),
        rows=rows, points=used,
        rejected=rejected, seed=seed, derivative=derivative.label, numeric_only=numeric_only,
        sympy_total=sympy_total, sympy_cse_total=sympy_cse_total, s2sad_total=s2sad_total,
        inputs=_input_lines(specs), reference="SymPy" if sym_jac is not None
        else "finite differences",
    )


def check_arrays(fn: Function, specs: list[Input], wrt: Sequence[int], *, mode: str = "reverse",
                 points: int = DEFAULT_POINTS, seed: int = 0, rtol: float = DEFAULT_RTOL,
                 atol: float = DEFAULT_ATOL,
                 derivative: Derivative | None = None) -> FunctionReport:
    """The numeric check of array code: s2sad's reverse-mode and forward-mode derivatives
    (or ``derivative`` alone) against Richardson-extrapolated central differences of the
    reference interpreter, at ``points`` random points of the shapes in ``specs``.

    A function with array outputs, or several outputs, is checked through
    φ = Σ_o ⟨u_o, f_o⟩ with a random weight u_o of each output's shape, drawn anew at each
    point: reverse mode is the ``vjp`` with cotangents u, forward mode contracts the
    ``jvp``'s output tangents with u, one tangent sweep per input element.  A parameter
    passes when, at every point, every element of its gradient is within
    ``atol + rtol·max|reference|`` of the reference (``rtol`` at least 1e-5 and ``atol``
    at least 1e-7: finite differences are that exact).  SymPy has no part in it.
    """
    import numpy as np

    from .ir.core import count_ops

    held = {k for k, s in enumerate(specs) if s.kind == "held"}
    compared = [pos for pos, j in enumerate(wrt) if j not in held]
    scalar_out = not fn.returns_tuple and fn.results[0].kind is not Kind.ARRAY
    if derivative is None:
        tested = [compiled_derivative(fn, tuple(wrt), "reverse",
                                      "grad" if scalar_out else "vjp"),
                  compiled_derivative(fn, tuple(wrt), "forward", "jvp")]
        if mode == "forward":
            tested.reverse()
    else:
        if derivative.kind in ("grad", "value_and_grad") and not scalar_out:
            raise S2SADError(f"{derivative.label} is a gradient, but `{fn.name}` returns "
                             "an array or several values", hint="check a vjp or jvp instead")
        tested = [derivative]
    rtol, atol = max(rtol, 1e-5), max(atol, 1e-7)  # finite differences are less exact
    n_res = len(fn.results)

    def phi(point: Sequence[Any], u: Sequence[Any]) -> float:
        with np.errstate(all="ignore"):
            outs = _leaves(interpret(fn, *point))
        return float(sum(np.sum(w * np.asarray(y, dtype=float))
                         for w, y in zip(u, outs, strict=True)))

    def zero(spec: Input) -> Any:
        if spec.kind == "array":
            return np.zeros(spec.shape)
        return [0.0] * spec.shape[0] if spec.kind == "list" else 0.0

    def shifted(point: Sequence[Any], j: int, e: int, step: float) -> list[Any]:
        moved = list(point)
        v = point[j]
        if isinstance(v, np.ndarray):
            v = v.copy()
            v.flat[e] += step
        elif isinstance(v, list):
            v = list(v)
            v[e] += step
        else:
            v = v + step
        moved[j] = v
        return moved

    def size(spec: Input) -> int:
        return math.prod(spec.shape) if spec.kind in ("array", "list") else 1

    def element(v: Any, e: int) -> float:
        if isinstance(v, np.ndarray):
            return float(v.flat[e])
        return float(v[e]) if isinstance(v, list) else float(v)

    def reference(point: Sequence[Any], u: Sequence[Any]) -> list[np.ndarray] | None:
        """∂φ/∂(each compared parameter), by Richardson-extrapolated central differences."""
        grads = []
        for pos in compared:
            j = wrt[pos]
            out = np.empty(size(specs[j]))
            for e in range(out.size):
                h = 1e-3 * max(1.0, abs(element(point[j], e)))

                def central(step: float, j: int = j, e: int = e) -> float:
                    return (phi(shifted(point, j, e, step), u)
                            - phi(shifted(point, j, e, -step), u)) / (2 * step)

                try:
                    out[e] = (4 * central(h / 2) - central(h)) / 3
                except Exception:  # noqa: BLE001 - a step left the domain: skip the point
                    return None
                if not math.isfinite(out[e]):
                    return None
            grads.append(out)
        return grads

    def run(d: Derivative, point: Sequence[Any], u: Sequence[Any]) -> list[Any]:
        """The derivative under test's ∂φ/∂(each compared parameter), as returned."""
        if d.kind == "jvp":
            grads = []
            for pos in compared:
                j = wrt[pos]
                got = []
                for e in range(size(specs[j])):
                    tangents = [zero(specs[i]) for i in wrt]
                    tangents[pos] = shifted([tangents[pos]], 0, e, 1.0)[0]
                    out = d.fn(*point, *tangents)[1]
                    leaves = _leaves(out) if n_res > 1 else [out]
                    got.append(float(sum(np.sum(w * np.asarray(t, dtype=float))
                                         for w, t in zip(u, leaves, strict=True))))
                grads.append(np.array(got).reshape(specs[j].shape))
            return grads
        if d.kind == "vjp":
            res = d.fn(*point, *u)[1]
        else:
            res = d.fn(*point)
            if d.kind == "value_and_grad":
                res = res[1]
        # one input: the gradient itself (or a 1-tuple of it, from a tuple wrt)
        if len(wrt) == 1:
            res = list(res) if isinstance(res, tuple) and len(res) == 1 else [res]
        else:
            res = list(res)
        if len(res) != len(wrt):
            raise S2SADError(f"{d.label} returns {len(res)} gradients, but {len(wrt)} were "
                             "expected", hint="pass --wrt (or wrt=) naming the inputs it "
                                              "differentiates")
        return [res[pos] for pos in compared]

    rng = random.Random(seed)
    n_rows = len(tested) * len(compared)
    max_abs: list[float | None] = [None] * n_rows
    max_rel: list[float | None] = [None] * n_rows
    notes = [""] * n_rows
    used = rejected = attempt = 0
    last_failure = None
    while used < points and attempt < max(50, 25 * points):
        point = _sample(rng, specs, attempt)
        attempt += 1
        why = _runs(fn, point)
        if why is not None:
            rejected += 1
            if not why.startswith("a result"):
                last_failure = why
            continue
        with np.errstate(all="ignore"):
            outs = _leaves(interpret(fn, *point))
        u = [1.0] if scalar_out else [
            np.array([rng.gauss(0.0, 1.0) for _ in range(np.size(y))]).reshape(np.shape(y))
            if r.kind is Kind.ARRAY else rng.gauss(0.0, 1.0)
            for y, r in zip(outs, fn.results, strict=True)]
        ref = reference(point, u)
        if ref is None:
            rejected += 1
            continue
        used += 1
        for t, d in enumerate(tested):
            try:
                with np.errstate(all="ignore"):
                    got = run(d, point, u)
                error = None
            except S2SADError:
                raise
            except Exception as exc:  # noqa: BLE001 - the derivative fails where f is defined
                got, error = None, f"{type(exc).__name__}: {exc} at {_fmt_point(point)}"
            for k, pos in enumerate(compared):
                row = t * len(compared) + k
                spec = specs[wrt[pos]]
                want = spec.shape if spec.kind in ("array", "list") else ()
                r = ref[k].reshape(want)
                note = error
                if got is not None:
                    g = got[k]
                    if np.shape(g) != want:
                        note = (f"the gradient of {spec.name} has shape {np.shape(g)}, the "
                                f"parameter {want}")
                if note is not None:
                    ae = rel = math.inf
                else:
                    g = np.asarray(g, dtype=float)
                    ae = float(np.max(np.abs(g - r))) if g.size else 0.0
                    scale = float(np.max(np.abs(r))) if r.size else 0.0
                    rel = ae / scale if scale else (0.0 if ae == 0 else math.inf)
                    if not (math.isfinite(ae) and ae <= atol + rtol * scale):
                        e = int(np.argmax(np.abs(g - r))) if g.size else 0
                        where = tuple(int(i) for i in np.unravel_index(e, want))
                        note = (f"s2sad {float(g.flat[e])!r}, finite differences "
                                f"{float(r.flat[e])!r} in element {list(where)} at "
                                f"{_fmt_point(point)}")
                max_abs[row] = ae if max_abs[row] is None else max(max_abs[row], ae)
                max_rel[row] = rel if max_rel[row] is None else max(max_rel[row], rel)
                if note is not None and not notes[row]:
                    notes[row] = note

    label = fn.name if scalar_out else f"u·{fn.name}"
    rows = []
    for t, d in enumerate(tested):
        d_mode = d.mode or ("forward" if d.kind == "jvp" else "reverse")
        for k, pos in enumerate(compared):
            row = t * len(compared) + k
            ok = used > 0 and not notes[row]
            idx = None if d.kind == "jvp" else d.result_index(0, pos, n_res, len(wrt))
            rows.append(PairRow(
                output=label, input=f"{fn.param_names[wrt[pos]]} ({d_mode})", symbolic="n/a",
                max_abs_err=max_abs[row], max_rel_err=max_rel[row], sympy_ops=None,
                sympy_cse_ops=None,
                s2sad_ops=_cone_size(d.ir, d.ir.results[idx]) if idx is not None else None,
                ok=ok, note=notes[row] if notes[row] or used else
                _no_point_note(last_failure, specs)))
    why = ("NumPy arrays: SymPy does not differentiate array code here; each mode is "
           "compared with Richardson-extrapolated central differences of the interpreter "
           "(errors over the parameter's elements, relative to the largest reference element "
           f"r; pass within {atol:g} + {rtol:g}·r)")
    if not scalar_out:
        why += f"; the outputs are checked through Σ u·{fn.name} with a random u at each point"
    modes = [d.mode or ("forward" if d.kind == "jvp" else "reverse") for d in tested]
    return FunctionReport(
        name=fn.name, mode=" and ".join(modes),
        wrt=tuple(fn.param_names[wrt[pos]] for pos in compared),
        rows=rows, points=used, rejected=rejected, seed=seed,
        derivative=" and ".join(d.label for d in tested), numeric_only=why,
        s2sad_total=count_ops(tested[0].ir) if tested[0].ir is not None else None,
        inputs=_input_lines(specs), reference="finite differences",
    )


def _no_point_note(last_failure: str | None, specs: Sequence[Input]) -> str:
    """Why no point was compared: the domain, or (when the function raised) possibly the
    held values and lengths, which the user can change."""
    note = "no point of the domain was found to compare at"
    if last_failure is not None:
        note += f" (the function raised {last_failure})"
        knobs = [f"--fix {s.name}=..." for s in specs if s.kind == "held"]
        knobs += [f"--shape {s.name}=..." for s in specs if s.kind in ("list", "array")]
        if knobs:
            note += f"; if the held values or lengths do not fit, change them: {', '.join(knobs)}"
    return note


def _input_lines(specs: Sequence[Input]) -> list[str]:
    """The report's lines about inputs that are not plain sampled numbers."""
    return [s.describe() for s in specs if s.kind != "number"]


def _symbols(fn: Function, specs: Sequence[Input]) -> list[Any]:
    """The SymPy inputs of ``fn``: a held parameter as its exact value, a list as
    symbols ``xs[0]``, ``xs[1]``, … of its length, a number as a real symbol."""
    import sympy

    from .symbolic.from_ir import number

    out: list[Any] = []
    for spec in specs:
        if spec.kind == "held":
            out.append(number(spec.value))
        elif spec.kind == "list":
            out.append([sympy.Symbol(f"{spec.name}[{k}]", real=True)
                        for k in range(spec.shape[0])])
        else:
            out.append(sympy.Symbol(spec.name, real=True))
    return out


def _fmt_point(point: Sequence[Any]) -> str:
    def one(p: Any) -> str:
        shape = getattr(p, "shape", None)
        if shape:  # an array: its shape (the seed reproduces the values)
            return f"<{_shape_text(shape)} array>"
        if isinstance(p, list):
            return "[" + ", ".join(f"{q:.6g}" for q in p) + "]"
        return f"{p:.6g}"

    return "(" + ", ".join(one(p) for p in point) + ")"


EXACT_COUNT_LIMIT = 20_000  # tree nodes; beyond, count_ops itself would take seconds


def _estimate_weight(e: Any) -> int:
    if not e.args:
        return 0
    if e.is_Add or e.is_Mul:
        return len(e.args) - 1
    return 1


class Estimate(int):
    """An op count estimated over the DAG (printed ``~N``): the tree was too large for
    ``sympy.count_ops`` to walk in reasonable time."""

    def __str__(self) -> str:
        return f"~{int(self)}"

    __repr__ = __str__


def sympy_size(e: Any) -> int:
    """``sympy.count_ops(e)`` (the size of the expression *tree*), or an :class:`Estimate`
    of it (Add/Mul of n terms: n−1 ops, any other operation: 1) when the tree is huge."""
    import sympy

    if tree_size(e) <= EXACT_COUNT_LIMIT:
        return int(sympy.count_ops(e))
    return Estimate(tree_size(e, _estimate_weight))


def _cse_size(exprs: list[Any]) -> int:
    import sympy

    replacements, reduced = sympy.cse(exprs)
    parts = [rhs for _, rhs in replacements] + list(reduced)
    sizes = [sympy_size(p) for p in parts]
    total = sum(int(s) for s in sizes)
    return Estimate(total) if any(isinstance(s, Estimate) for s in sizes) else total


# -- checking an emitted module --------------------------------------------------------------

KIND_PREFIXES = ("grad", "value_and_grad", "vjp", "jvp")
_WRT_DOC = (
    re.compile(r"[Ww]ith respect to ([\w, ]+?)\."),  # grad / value_and_grad
    re.compile(r"cotangents of ([\w, ]+?)\)\."),  # vjp
)


def module_derivative(module: Any, module_label: str, fn: Function,
                      ir_of: Callable[[str], Function | None] | None = None,
                      wrt: Sequence[int] | None = None) -> tuple[Derivative, tuple[int, ...]]:
    """The derivative of ``fn`` defined by an emitted (and possibly hand-edited) module.

    Looks for ``grad_<name>``, ``value_and_grad_<name>``, ``vjp_<name>`` and
    ``jvp_<name>``, in that order (``grad`` kinds only for scalar functions).
    Without ``wrt``, the inputs are read from the docstring the generator writes,
    from the ``<param>_dot`` names of a ``jvp``, or else are all parameters.
    """
    import inspect

    found = None
    for kind in KIND_PREFIXES:
        if fn.returns_tuple and kind in ("grad", "value_and_grad"):
            continue
        candidate = getattr(module, f"{kind}_{fn.name}", None)
        if callable(candidate):
            found = (kind, candidate)
            break
    if found is None:
        wanted = ("vjp_{0} or jvp_{0}" if fn.returns_tuple
                  else "grad_{0}, value_and_grad_{0}, vjp_{0} or jvp_{0}").format(fn.name)
        raise S2SADError(f"{module_label} defines no {wanted}",
                         hint=f"emit one with `s2sad grad SRC.py -f {fn.name} -o "
                              f"{module_label}`")
    kind, func = found
    names = list(fn.param_names)
    if wrt is None:
        doc = inspect.getdoc(func) or ""
        picked: list[str] | None = None
        if kind == "jvp":
            try:
                params = list(inspect.signature(func).parameters)[len(names):]
            except (TypeError, ValueError):
                params = []
            tangents = [p[:-4] for p in params if p.endswith("_dot")]
            if params and len(tangents) == len(params) and all(t in names for t in tangents):
                picked = tangents
        else:
            for pattern in _WRT_DOC:
                m = pattern.search(" ".join(doc.split()))
                if m:
                    got = [w.strip() for w in m.group(1).split(",")]
                    if all(w in names for w in got):
                        picked = got
                        break
        wrt = tuple(names.index(w) for w in picked) if picked else tuple(range(len(names)))
    wrt = tuple(wrt)
    ir = ir_of(f"{kind}_{fn.name}") if ir_of is not None else None
    label = f"{kind}_{fn.name} in {module_label}"
    mode = {"jvp": "forward", "vjp": "reverse"}.get(kind)
    m = re.search(r"\((forward|reverse) mode\)", inspect.getdoc(func) or "")
    if m:
        mode = m.group(1)
    return Derivative(kind, func, label, ir, mode), wrt


# -- the Python entry point ------------------------------------------------------------------


def check(
    f: Any,
    wrt: Any = None,
    *,
    mode: str = "reverse",
    points: int = DEFAULT_POINTS,
    seed: int = 0,
    budget: float = DEFAULT_BUDGET,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    fix: dict[str, Any] | None = None,
    shapes: dict[str, Any] | None = None,
) -> CheckReport:
    """Compare s2sad's derivative of ``f`` with SymPy's: symbolically, numerically, by size.

    ``f`` is a Python function (or a lifted IR :class:`~s2sad.ir.core.Function`);
    ``wrt`` a parameter index or name or a tuple of them (default: every parameter
    that is not held).  Returns a :class:`CheckReport`: ``.ok``, ``.rows`` (one
    :class:`PairRow` per (output, input)), and ``.text()``, the table that
    ``s2sad check`` prints.

    An int parameter (annotated ``int``, or used as a ``range`` bound, an index or a
    size) is never sampled: it is held at ``fix[name]``, else its default, else
    :data:`DEFAULT_INT`, and not differentiated; ``fix`` may hold number parameters too.
    ``shapes`` gives list lengths (``{"xs": 5}``) and array shapes (``{"X": (3, 4)}``);
    arrays without one get the first default shape under which ``f`` runs.  Functions
    of arrays are checked numerically (:func:`check_arrays`).  The report says which
    values were held and which shapes were used.
    """
    from .pipeline import normalize_wrt

    annotated: list[str] = []
    if isinstance(f, Function):
        fn = f
    else:
        from .api import lift

        fn = lift(f)
        annotated = int_annotations(f)
    indices = None if wrt is None else normalize_wrt(fn, wrt)[0]
    report = check_function(fn, indices, mode=mode, points=points, seed=seed, budget=budget,
                            rtol=rtol, atol=atol, fix=fix, shapes=shapes,
                            annotated_ints=annotated)
    return CheckReport([report])
