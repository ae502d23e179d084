"""Structural tests: no expression swell, and each optimisation pass does its job (DESIGN §5).

The chain ``x ← sin(x)·x + cos(x)``, repeated k times, is the classic example of
expression swell: SymPy's unsimplified derivative roughly triples in size with
each level, while s2sad's reverse-mode IR grows by a constant number of ops per
level (linearly in k) and stays within 4× the primal.  Then a chain of 10,000
ops goes through the whole pipeline (no ``RecursionError``), and the passes
``cse_fold`` and ``dce`` are checked on hand-built IR by counting ops.
"""

from __future__ import annotations

import math

import pytest
import sympy as sp

import s2sad
from s2sad.ir import Block, Function, Kind, Op, Value, count_ops, interpret, verify
from s2sad.ir.core import walk_ops
from s2sad.opt import cse_fold, dce, optimize
from s2sad.pipeline import derive
from tests import oracles
from tests.srcmod import load_source

# -- expression swell ------------------------------------------------------------------------------


def chain_source(k: int) -> str:
    lines = ["import math", "", "", "def chain(x):"]
    lines += ["    x = math.sin(x) * x + math.cos(x)"] * k
    lines += ["    return x", ""]
    return "\n".join(lines)


_chains: dict[int, object] = {}


def chain(k: int):
    if k not in _chains:
        _chains[k] = load_source(chain_source(k), f"chain{k}").chain
    return _chains[k]


def chain_slope(x: float, k: int) -> float:
    """d/dx of the k-fold chain by hand: step'(x) = x·cos(x)."""
    slope = 1.0
    for _ in range(k):
        slope *= x * math.cos(x)
        x = math.sin(x) * x + math.cos(x)
    return slope


def sympy_chain_derivative_size(k: int) -> int:
    x = sp.Symbol("x")
    e = x
    for _ in range(k):
        e = sp.sin(e) * e + sp.cos(e)
    return sp.count_ops(sp.diff(e, x))


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_chain_derivative_ir_is_linear_and_small(mode):
    sizes = {}
    for k in (10, 40, 200):
        primal = verify(s2sad.lift(chain(k)))
        assert count_ops(primal) == 4 * k  # sin, mul, cos, add per level
        d = verify(derive(primal, "grad", 0, mode))
        sizes[k] = count_ops(d)
        assert sizes[k] <= 4 * count_ops(primal), (k, sizes[k], count_ops(primal))
    # linear growth: the same number of ops per level between 10→40 and 40→200
    per_level_a = (sizes[40] - sizes[10]) / 30
    per_level_b = (sizes[200] - sizes[40]) / 160
    assert per_level_a == per_level_b, sizes
    assert per_level_b <= 16


def test_chain_derivative_is_correct():
    for k in (10, 40):
        f = chain(k)
        for mode in ("reverse", "forward"):
            df = s2sad.grad(f, mode=mode)
            for x in (-0.9, 0.35, 1.2):
                oracles.assert_close(df(x), chain_slope(x, k), 1e-12, 1e-14,
                                     what=f"chain{k} ({mode}) at {x} vs closed form")
                oracles.assert_close(df(x), oracles.derivative(f, x, h=0.01), 1e-7, 1e-9,
                                     what=f"chain{k} ({mode}) at {x} vs finite differences")


def test_sympy_swells_where_s2sad_does_not():
    sym = {k: sympy_chain_derivative_size(k) for k in range(1, 7)}
    for k in range(3, 7):
        assert sym[k] >= 2.5 * sym[k - 1], sym  # ~3× per level
    ours = {k: count_ops(derive(s2sad.lift(chain(k)), "grad", 0, "reverse")) for k in range(1, 7)}
    steps = {ours[k] - ours[k - 1] for k in range(2, 7)}
    assert len(steps) == 1, ours  # a constant number of ops per level
    assert ours[6] * 10 < sym[6], (ours, sym)


# -- a very long chain ---------------------------------------------------------------------

LONG_PAIRS = 1667  # two lines of three ops each per pair: 10,002 ops


def long_chain_source(pairs: int) -> str:
    lines = ["import math", "", "", "def long_chain(x, y):"]
    for _ in range(pairs):
        lines.append("    x = x + 0.001 * math.sin(y)")
        lines.append("    y = y - 0.001 * math.cos(x)")
    lines += ["    return x * y", ""]
    return "\n".join(lines)


@pytest.mark.slow
def test_ten_thousand_op_chain_compiles_and_is_correct():
    f = load_source(long_chain_source(LONG_PAIRS), "long_chain").long_chain
    primal = s2sad.lift(f)
    assert count_ops(primal) >= 10_000
    vg = s2sad.value_and_grad(f, wrt=(0, 1))
    verify(vg.ir)
    compile(vg.source, "<long_chain>", "exec")  # the text itself compiles (no deep nesting)
    for point in ((0.3, -0.7), (-1.2, 0.9)):
        value, grads = vg(*point)
        assert value == f(*point)
        oracles.assert_close(grads, oracles.gradient(f, point), 1e-7, 1e-9,
                             what=f"long chain at {point}")


# -- the passes, on hand-built IR ------------------------------------------------------------------


class _IR:
    """A tiny helper to write IR by hand, duplicates and dead ops included."""

    def __init__(self, nparams: int = 1) -> None:
        self.ids = iter(range(10_000))
        self.params = tuple(Value(next(self.ids), Kind.FLOAT, "xyz"[i]) for i in range(nparams))
        self.ops: list[Op] = []

    def op(self, prim: str, *operands: Value, kind: Kind = Kind.FLOAT, **attrs) -> Value:
        v = Value(next(self.ids), kind)
        self.ops.append(Op(prim, operands, (v,), tuple(sorted(attrs.items()))))
        return v

    def const(self, value) -> Value:
        kind = Kind.INT if isinstance(value, int) else Kind.FLOAT
        return self.op("const", kind=kind, value=value)

    def function(self, *results: Value) -> Function:
        structure = 0 if len(results) == 1 else tuple(range(len(results)))
        return verify(Function("f", self.params, Block(ops=list(self.ops), yields=results),
                               structure=structure))


def _prims(fn: Function) -> list[str]:
    return [op.prim for op in walk_ops(fn.body)]


POINTS = (-1.7, -0.3, 0.0, 0.8, 2.4)


def _same_function(a: Function, b: Function) -> None:
    for x in POINTS:
        oracles.assert_close(interpret(b, *([x] * len(b.params))),
                             interpret(a, *([x] * len(a.params))), 0.0, 0.0)


def test_cse_fold_removes_duplicate_ops():
    ir = _IR()
    (x,) = ir.params
    s1 = ir.op("sin", x, lib="math")
    s2 = ir.op("sin", x, lib="math")  # duplicate
    m1 = ir.op("mul", s1, x)
    m2 = ir.op("mul", x, s2)  # duplicate up to commutativity
    fn = ir.function(ir.op("add", m1, m2))
    assert count_ops(fn) == 5
    out = verify(cse_fold(fn))
    assert count_ops(out) == 3
    # one sin, one sin·x, and the sum of the two equal products as 2·(sin·x)
    assert _prims(out).count("sin") == 1 and _prims(out).count("add") == 0
    _same_function(fn, out)
    assert count_ops(fn) == 5  # the input is not modified


def test_cse_fold_keeps_ops_that_differ_in_attributes():
    ir = _IR()
    (x,) = ir.params
    a = ir.op("powc", x, exponent=2)
    b = ir.op("powc", x, exponent=3)
    c = ir.op("sin", x, lib="math")
    d = ir.op("sin", x, lib="numpy")
    fn = ir.function(ir.op("add", ir.op("add", a, b), ir.op("add", c, d)))
    out = verify(cse_fold(fn))
    assert _prims(out).count("powc") == 2
    _same_function(fn, out)


def test_dce_removes_dead_ops():
    ir = _IR(2)
    x, y = ir.params
    dead1 = ir.op("cos", x, lib="math")
    ir.op("mul", dead1, y)  # dead: only used by nothing
    ir.op("exp", y, lib="math")  # dead
    live = ir.op("mul", x, y)
    fn = ir.function(live)
    assert count_ops(fn) == 4
    out = verify(dce(fn))
    assert count_ops(out) == 1 and _prims(out) == ["mul"]
    _same_function(fn, out)
    assert count_ops(fn) == 4


def test_optimize_runs_both():
    ir = _IR()
    (x,) = ir.params
    s1 = ir.op("sin", x, lib="math")
    s2 = ir.op("sin", x, lib="math")
    ir.op("tanh", s1, lib="math")  # dead
    fn = ir.function(ir.op("add", s1, s2))
    out = verify(optimize(fn))
    assert count_ops(out) == 2
    _same_function(fn, out)


NESTED = load_source("""
def nested(x, n):
    s = 0.0
    for i in range(n):
        for j in range(i):
            s += x ** j / (i + 1)
    return s
""", "nested").nested


def test_optimize_removes_a_dead_primal_sweep_of_nested_loops():
    """The gradient of ``s += x ** j / (i + 1)`` never reads ``s``: once the inner tape
    is pruned, the outer tape's slot is unread, and so the primal sweep is dead.  It
    used to be left in the code (with an unused ``s_1 = tape[i_1]``), and so was
    ``s_bar_1 = s_bar``, carried through both loops unchanged."""
    from s2sad.ad.transforms import grad_function

    raw = grad_function(s2sad.lift(NESTED), (0,), True)
    out = verify(optimize(raw))
    prims = _prims(out)
    assert not {"tape_new", "tape_push", "tape_read"} & set(prims)
    loops = [op for op in walk_ops(out.body) if op.prim == "for_range"]
    assert len(loops) == 2 and all(op.attr("reverse") for op in loops)  # no primal sweep
    # s_bar never changes: neither loop carries it (only x_bar), and 1.0 * ... is folded
    assert [len(op.results) for op in loops] == [1, 1]
    assert "s_bar" not in s2sad.grad(NESTED).source
    assert count_ops(out) <= count_ops(raw) - 6  # the primal loops, the tapes
    for x, n in ((0.7, 4), (-1.3, 5), (2.0, 0)):
        want = oracles.derivative(lambda t, n=n: NESTED(t, n), x)
        oracles.assert_close(interpret(out, x, n), want, 1e-7, 1e-9)
        oracles.assert_close(s2sad.grad(NESTED)(x, n), want, 1e-7, 1e-9)


WHILE_COUNTED = load_source("""
def counted(a, n):
    i = 0
    while i < n + 1:
        a = a * 1.5
        i = i + 1
    return a
""", "counted").counted


def test_dce_drops_a_loop_slot_read_only_by_its_own_update():
    """The gradient of ``a = a * 1.5`` in a while loop needs the pass count, not ``a``:
    the primal loop keeps its counter and test, and drops ``a`` and its product."""
    out = verify(optimize(derive(s2sad.lift(WHILE_COUNTED), "grad", 0)))
    (primal,) = [op for op in walk_ops(out.body) if op.prim == "while_loop"]
    assert [r.kind for r in primal.results] == [Kind.INT, Kind.INT]  # i and the pass count
    assert "mul" not in [op.prim for op in walk_ops(primal.regions[1])]
    for a, n in ((0.7, 2), (-1.3, 0), (2.0, 4)):
        want = oracles.derivative(lambda t, n=n: WHILE_COUNTED(t, n), a)
        oracles.assert_close(interpret(out, a, n), want, 1e-7, 1e-9)
        oracles.assert_close(s2sad.grad(WHILE_COUNTED)(a, n), want, 1e-7, 1e-9)


def test_folding_of_exact_identities():
    ir = _IR()
    (x,) = ir.params
    one, zero, minus_zero = ir.const(1.0), ir.const(0.0), ir.const(-0.0)
    a = ir.op("mul", x, one)  # x * 1 → x
    b = ir.op("add", a, minus_zero)  # x + -0.0 → x (x + 0.0 is not x for x = -0.0)
    c = ir.op("sub", b, zero)  # x - 0 → x
    d = ir.op("div", c, one)  # x / 1 → x
    e = ir.op("neg", ir.op("neg", d))  # --x → x
    f = ir.op("sin", e, lib="math")
    fn = ir.function(f)
    assert count_ops(fn) == 7
    out = verify(optimize(fn))
    assert _prims(out) == ["sin"], _prims(out)
    assert out.body.ops[0].operands == out.params
    _same_function(fn, out)


def test_constant_folding():
    ir = _IR()
    (x,) = ir.params
    two, three = ir.const(2.0), ir.const(3.0)
    six = ir.op("mul", two, three)
    s = ir.op("sqrt", six, lib="math")
    fn = ir.function(ir.op("mul", s, x))
    out = verify(optimize(fn))
    assert _prims(out) == ["const", "mul"]
    assert interpret(out, 1.0) == math.sqrt(6.0)


def test_times_zero_is_not_folded():
    ir = _IR()
    (x,) = ir.params
    fn = ir.function(ir.op("mul", x, ir.const(0.0)))
    out = verify(optimize(fn))
    assert "mul" in _prims(out)
    assert math.isnan(interpret(out, math.inf))  # inf * 0 is NaN, not 0
    assert math.isnan(interpret(out, math.nan))


def test_x_minus_x_is_not_folded():
    ir = _IR()
    (x,) = ir.params
    fn = ir.function(ir.op("sub", x, x))
    out = verify(optimize(fn))
    assert "sub" in _prims(out)
    assert math.isnan(interpret(out, math.inf))


# -- the same identities, through the frontend -----------------------------------------------------


def times_one_plus_zero(x):
    return x * 1 - 0


def times_zero(x):
    return x * 0 + x * x


def repeated_subexpression(x, y):
    return math.sin(x * y) * math.sin(x * y) + math.sin(y * x)


def test_plus_zero_is_kept():
    ir = _IR()
    (x,) = ir.params
    fn = ir.function(ir.op("add", x, ir.const(0.0)))
    assert _prims(verify(optimize(fn))) == ["const", "add"]  # -0.0 + 0.0 is +0.0


def test_lifted_identities_disappear():
    fn = verify(s2sad.lift(times_one_plus_zero))
    assert count_ops(fn) == 0  # returns x itself
    assert interpret(fn, 2.5) == 2.5
    assert s2sad.grad(times_one_plus_zero)(-3.0) == 1.0


def test_lifted_times_zero_keeps_the_mul():
    fn = verify(s2sad.lift(times_zero))
    assert "mul" in _prims(fn)
    assert math.isnan(interpret(fn, math.inf))
    df = s2sad.grad(times_zero)
    for x in (-2.0, 0.5, 1.5):
        oracles.assert_close(df(x), oracles.derivative(times_zero, x), 1e-7, 1e-9)


def test_lifted_repeated_subexpression_is_shared():
    fn = verify(s2sad.lift(repeated_subexpression))
    assert _prims(fn).count("sin") == 1
    assert _prims(fn).count("mul") == 1  # x*y, shared with y*x
    assert _prims(fn).count("powc") == 1  # sin·sin is sin**2: one partial, 2·sin
    d = verify(derive(fn, "grad", (0, 1), "reverse"))
    assert _prims(d).count("sin") == 1 and _prims(d).count("cos") == 1
    df = s2sad.grad(repeated_subexpression, wrt=(0, 1))
    for point in ((0.4, -1.1), (-0.8, 0.6), (1.3, 2.0)):
        oracles.assert_close(df(*point), oracles.gradient(repeated_subexpression, point),
                             1e-7, 1e-9)


# -- folding must not change a result's sign of zero ----------------------------------------------
# (DESIGN §5: only identities that are exact in floating point.)  atan2 makes the sign of a
# zero visible: atan2(±0.0, -1) = ±π.


def plus_zero(x):
    return math.atan2(x + 0, -1.0)


def zero_minus(x):
    return math.atan2(0 - x, -1.0)


def negated_difference(x, y):
    return math.atan2(-(x - y), -1.0)


def minus_zero(x):
    return math.atan2(x - 0, -1.0)


def test_exact_folding_keeps_sign_of_zero():
    # x - 0 → x is exact, also for x = -0.0
    vg = s2sad.value_and_grad(minus_zero)
    for x in (-0.0, 0.0, -1.5):
        assert vg(x)[0] == minus_zero(x)


@pytest.mark.parametrize(("f", "args"), [(plus_zero, (-0.0,)), (zero_minus, (0.0,)),
                                         (negated_difference, (1.0, 1.0))],
                         ids=["x+0", "0-x", "-(x-y)"])
def test_folding_keeps_sign_of_zero(f, args):
    value, _ = s2sad.value_and_grad(f)(*args)
    assert value == f(*args)
