"""The SymPy bridge and the derivative check: ``s2sad.symbolic.from_ir`` and ``s2sad.check``.

The IR → SymPy translation is tested against hand-written SymPy expressions;
the check is tested on right *and* wrong derivatives (a check that never
fails checks nothing), on domains that reject points, on tuple-valued
functions in both modes, and on IR with regions (numeric comparison only).
"""

from __future__ import annotations

import importlib
import math
import time
import types

import numpy as np
import pytest
import sympy as sp

import s2sad
from s2sad.check import (
    CheckReport,
    Derivative,
    check_function,
    decide_equal,
    module_derivative,
    round_constants,
)
from s2sad.graph import to_dot, to_mermaid
from s2sad.ir.builder import Builder
from s2sad.ir.core import Block, Function, Kind, Op
from s2sad.symbolic.from_ir import NotSymbolic, number, op_to_sympy, to_sympy

x, y = sp.symbols("x y", real=True)


# -- functions under test (live: s2sad reads their source) ---------------------------------


def poly(x, y):
    return x ** 3 * y + 2 * x - y / 4


def trig(x):
    return math.sin(x) * math.exp(-x * x) + math.tanh(x)


def domain(x):
    return math.log(x) + math.sqrt(x) + math.acos(x)


def kinks(x, y):
    return abs(x) + max(x, y) + min(x, 2 * y) + x % 0.7 + math.floor(x)


def pair(x, y):
    return math.sin(x) * y, x / y + math.hypot(x, y)


def thirds(w):
    return (w * 0.5 - 2.1) ** 2 / 3


def weighted(xs, w):
    s = 0.0
    for x in xs:
        s = s + w * math.sin(x)
    return s


def looped(x):
    y = x
    for _ in range(3):
        y = y * math.cos(y) + x
    return y


def branchy(x, y):
    if x > y:
        z = x * x * y
    else:
        z = math.sin(x) + y
    return z


def nest(x):
    for_a_while = math.sin(x) * x + math.cos(x)
    again = math.sin(for_a_while) * for_a_while + math.cos(for_a_while)
    return math.sin(again) * again + math.cos(again)


# -- IR → SymPy ------------------------------------------------------------------------------


def test_numbers_are_exact():
    assert number(3) == sp.Integer(3)
    assert number(0.5) == sp.Rational(1, 2)
    assert number(0.1) == sp.Rational(3602879701896397, 2**55)  # the float's binary value
    assert number(math.inf) == sp.oo and number(-math.inf) == -sp.oo
    assert number(True) is sp.true


def test_straight_line_translation():
    syms, (out,) = to_sympy(s2sad.lift(poly))
    assert [str(s) for s in syms] == ["x", "y"]
    assert all(s.is_real for s in syms)
    assert sp.simplify(out - (x**3 * y + 2 * x - y / 4)) == 0
    _, (out,) = to_sympy(s2sad.lift(trig))
    assert out == sp.sin(x) * sp.exp(-x**2) + sp.tanh(x)


def test_tuple_results_and_parameter_override():
    fn = s2sad.lift(pair)
    _, outs = to_sympy(fn)
    assert len(outs) == 2
    _, outs = to_sympy(fn, [sp.Integer(0), sp.Integer(2)])
    assert outs[0] == 0 and outs[1] == 2  # sin(0)*2, 0/2 + hypot(0, 2)
    with pytest.raises(ValueError):
        to_sympy(fn, [x])


@pytest.mark.parametrize("prim,args,attrs,expected", [
    ("powc", (x,), {"exponent": 3}, x**3),
    ("powc", (x,), {"exponent": 0.5}, sp.sqrt(x)),
    ("abs", (x,), {"lib": "builtin"}, sp.Abs(x)),
    ("max2", (x, y), {}, sp.Piecewise((x, x >= y), (y, True))),
    ("floor", (x,), {"lib": "math"}, sp.floor(x)),
    ("floordiv", (x, y), {}, sp.floor(x / y)),
    ("lt", (x, y), {}, sp.Lt(x, y)),
    ("select", (sp.Lt(x, y), x, y), {}, sp.Piecewise((x, x < y), (y, True))),
    ("log1p", (x,), {"lib": "math"}, sp.log(1 + x)),
])
def test_each_translation(prim, args, attrs, expected):
    assert op_to_sympy(prim, args, attrs) == expected


def test_unknown_primitive_and_regions_are_not_symbolic():
    with pytest.raises(NotSymbolic):
        op_to_sympy("no_such_prim", (x,), {})
    with pytest.raises(NotSymbolic):
        to_sympy(_with_region())


def test_translation_of_a_file_function(tmp_path):
    from s2sad.frontend import lower, parse_file

    src = tmp_path / "m.py"
    src.write_text("import numpy as np\nK = 2.5\n\ndef f(a):\n    return np.exp(K * a)\n")
    _, (out,) = to_sympy(lower(parse_file(src).functions["f"]))
    a = sp.Symbol("a", real=True)
    assert out == sp.exp(sp.Rational(5, 2) * a)


# -- the symbolic verdict --------------------------------------------------------------------


def test_decide_equal():
    assert decide_equal(2 * x + 2, 2 * (x + 1), 5.0) == "equal"
    assert decide_equal(sp.sin(x) ** 2, 1 - sp.cos(x) ** 2, 5.0) == "equal"
    assert decide_equal(x + 1, x, 5.0) == "differs"
    assert decide_equal(sp.sin(x), sp.cos(x), 5.0) == "undecided"  # not a proof either way
    assert decide_equal(sp.sin(x) ** 2, 1 - sp.cos(x) ** 2, 0) == "undecided"  # no budget


def test_decide_equal_up_to_rounded_constants():
    folded = sp.Rational(0.6666666666666666) * x  # what s2sad's constant folding produces
    assert folded != sp.Rational(2, 3) * x
    assert decide_equal(folded, sp.Rational(2, 3) * x, 5.0) == "equal*"
    assert round_constants(folded) == sp.Rational(2, 3) * x
    assert round_constants(sp.Rational(1, 3) + x) == sp.Rational(1, 3) + x  # already simple
    assert decide_equal(sp.Rational(0.7) * x, sp.Rational(2, 3) * x, 5.0) != "equal*"


def test_decide_equal_respects_its_budget():
    e = x
    for _ in range(6):
        e = sp.sin(e) * e + sp.cos(e)
    a = sp.diff(e, x)
    b = sp.expand_trig(sp.diff(e, x) + (sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1) * e)
    start = time.perf_counter()
    verdict = decide_equal(a, b, 0.2)
    assert time.perf_counter() - start < 3.0
    assert verdict in ("undecided", "equal")


# -- s2sad.check ------------------------------------------------------------------------------


def test_check_is_exported():
    assert callable(s2sad.check)
    assert isinstance(s2sad.check(poly, points=3), CheckReport)


@pytest.mark.parametrize("f", [poly, trig, kinks, nest])
def test_right_derivatives_pass(f):
    report = s2sad.check(f, points=8)
    assert report.ok, report.text()
    assert bool(report) is True
    (fr,) = report.functions
    assert fr.points == 8
    n_in = f.__code__.co_argcount
    assert len(report.rows) == n_in
    for row in report.rows:
        assert row.ok and row.status == "ok"
        assert row.max_abs_err is not None and row.max_abs_err < 1e-6
        assert row.symbolic in ("equal", "equal*", "undecided")


def test_report_text_is_a_table():
    report = s2sad.check(poly, points=4)
    text = report.text()
    assert text == str(report)
    lines = text.splitlines()
    assert lines[0] == ("poly: 1 output, 2 inputs, reverse mode; checked grad_poly "
                        "(compiled now)")
    assert "4 random points (seed 0)" in lines[1]
    header = lines[2].split()
    assert header[:3] == ["output", "input", "symbolic"] and header[-1] == "result"
    assert lines[3].split()[:2] == ["poly", "x"] and lines[4].split()[:2] == ["poly", "y"]
    assert lines[5].split()[0] == "total"
    assert lines[-1].strip() == "ok: every derivative agrees with SymPy"


def test_wrt_by_name_and_index():
    assert [r.input for r in s2sad.check(poly, wrt="y", points=3).rows] == ["y"]
    assert [r.input for r in s2sad.check(poly, wrt=(1, 0), points=3).rows] == ["y", "x"]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_tuple_outputs_every_pair(mode):
    report = s2sad.check(pair, mode=mode, points=6)
    assert report.ok, report.text()
    assert [(r.output, r.input) for r in report.rows] == [
        ("pair[0]", "x"), ("pair[0]", "y"), ("pair[1]", "x"), ("pair[1]", "y")]
    (fr,) = report.functions
    assert fr.derivative.startswith("vjp_pair" if mode == "reverse" else "jvp_pair")
    assert fr.mode == mode


def test_domain_points_are_rejected_not_failed():
    report = s2sad.check(domain, points=10)
    (fr,) = report.functions
    assert report.ok, report.text()
    assert fr.points == 10 and fr.rejected > 0
    assert "rejected outside the domain" in report.text()


def test_constants_folded_in_floating_point_are_equal_star():
    report = s2sad.check(thirds, points=4)
    assert report.ok
    assert report.rows[0].symbolic in ("equal", "equal*")
    if report.rows[0].symbolic == "equal*":
        assert "equal once float constants" in report.text()


def test_the_swell_comparison():
    report = s2sad.check(nest, points=3)
    (row,) = report.rows
    (fr,) = report.functions
    # SymPy's derivative tree swells; sympy.cse and s2sad both keep it small.
    assert row.sympy_ops > 2 * row.s2sad_ops
    assert row.sympy_cse_ops < row.sympy_ops
    assert fr.s2sad_total == s2sad.ir.count_ops(s2sad.api._compile(nest, "grad", 0, "reverse").ir)
    assert fr.sympy_total == row.sympy_ops


def test_seed_and_points_are_deterministic():
    a = s2sad.check(trig, points=5, seed=3).text()
    assert a == s2sad.check(trig, points=5, seed=3).text()
    assert a != s2sad.check(trig, points=5, seed=4).text()


# -- wrong derivatives fail ------------------------------------------------------------------


def _derivative(fn, kind="grad", ir=None, label="hand-written"):
    return Derivative(kind, fn, label, ir)


def test_a_wrong_derivative_fails_numerically():
    fn = s2sad.lift(trig)
    wrong = _derivative(lambda x: math.cos(x) * math.exp(-x * x))  # forgot two terms
    report = check_function(fn, derivative=wrong, points=5)
    assert not report.ok
    (row,) = report.rows
    assert row.status == "MISMATCH" and row.symbolic == "n/a"
    assert "s2sad" in row.note and "SymPy" in row.note
    assert "FAILED" in report.text()


def test_a_wrong_derivative_ir_fails_symbolically():
    def bad_grad(x, y):
        return 3 * x ** 2 * y + 2, x ** 3 - 0.25 + 1e-3  # off by a constant

    good = s2sad.lift(poly)
    bad_ir = s2sad.lift(bad_grad)
    report = check_function(good, derivative=_derivative(bad_grad, ir=bad_ir), points=3,
                            rtol=0.0, atol=0.0)
    rows = {r.input: r for r in report.rows}
    assert rows["x"].ok and rows["x"].symbolic == "equal"
    assert not rows["y"].ok and rows["y"].symbolic == "differs"


def test_a_derivative_that_raises_fails():
    def raises(x):
        raise ZeroDivisionError("oops")

    report = check_function(s2sad.lift(trig), derivative=_derivative(raises), points=2)
    assert not report.ok
    assert "ZeroDivisionError" in report.rows[0].note


def test_no_valid_point_is_unverified():
    def nowhere(x):
        return math.sqrt(-1 - x * x)

    report = check_function(s2sad.lift(nowhere), derivative=_derivative(lambda x: 0.0), points=2)
    (row,) = report.rows
    assert row.status == "UNVERIFIED" and not report.ok
    assert "no point" in row.note


def test_wrong_result_count_is_an_error():
    with pytest.raises(s2sad.S2SADError, match="returns 1 gradient entries, but 2"):
        check_function(s2sad.lift(poly), derivative=_derivative(lambda x, y: 1.0), points=1)


# -- numeric comparison only: IR with regions -------------------------------------------------


def _with_region() -> Function:
    """f(x) = x * x, computed inside a structured op that nothing knows (a future one)."""
    b = Builder()
    x = b.fresh(Kind.FLOAT, "x")
    inner = b.fresh(Kind.FLOAT)
    body = Block(ops=[Op("mul", (x, x), (inner,))], yields=(inner,))
    out = b.fresh(Kind.FLOAT, "y")
    region_op = Op("mystery_region", (), (out,), regions=(body,))
    return Function("square", (x,), Block(ops=[region_op], yields=(out,)))


def test_regions_get_a_numeric_comparison_only(monkeypatch):
    chk = importlib.import_module("s2sad.check")  # `import s2sad.check` gives the function

    fn = _with_region()
    monkeypatch.setattr(chk, "interpret", lambda f, *args: args[0] * args[0])
    right = check_function(fn, derivative=_derivative(lambda x: 2 * x), points=5)
    assert right.ok, right.text()
    assert right.numeric_only and "regions" in right.numeric_only
    assert "numeric comparison only" in right.text()
    assert right.rows[0].symbolic == "n/a" and right.rows[0].sympy_ops is None
    wrong = check_function(fn, derivative=_derivative(lambda x: 2.1 * x), points=5)
    assert not wrong.ok


def counted(x):
    k = 0
    y = x
    while k < 3:
        y = math.sin(y) * x
        k = k + 1
    return y


def doubling(x):
    y = x
    while y < 10:
        y = y * 2 + 1
    return y


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("f", [looped, branchy, counted, doubling])
def test_control_flow_is_checked(f, mode):
    report = s2sad.check(f, points=6, mode=mode, budget=0.3)
    assert report.ok, report.text()
    for row in report.rows:
        assert row.max_abs_err is not None and row.max_abs_err < 1e-5


def test_if_chains_become_piecewise():
    _, (out,) = to_sympy(s2sad.lift(branchy))
    assert out == sp.Piecewise((x * x * y, x > y), (sp.sin(x) + y, True))
    report = s2sad.check(branchy, points=4)
    assert report.functions[0].numeric_only is None
    assert {r.symbolic for r in report.rows} <= {"equal", "equal*"}


def test_static_loops_are_unrolled():
    _, (out,) = to_sympy(s2sad.lift(counted))
    assert out == sp.sin(sp.sin(sp.sin(x) * x) * x) * x
    assert s2sad.check(counted, points=3, budget=0).functions[0].numeric_only is None
    assert s2sad.check(looped, points=3, budget=0).functions[0].numeric_only is None


def test_data_dependent_loops_get_a_numeric_comparison_only():
    with pytest.raises(NotSymbolic, match="`while` loop whose condition depends"):
        to_sympy(s2sad.lift(doubling))
    (fr,) = s2sad.check(doubling, points=3).functions
    assert "condition depends on the inputs" in fr.numeric_only


def test_unrolling_is_bounded(monkeypatch):
    from_ir = importlib.import_module("s2sad.symbolic.from_ir")
    monkeypatch.setattr(from_ir, "MAX_UNROLL", 2)
    with pytest.raises(NotSymbolic, match="more than 2 iterations"):
        to_sympy(s2sad.lift(counted))


def test_list_parameters_are_checked_element_by_element():
    report = s2sad.check(weighted, points=4)
    assert report.ok, report.text()
    assert [r.input for r in report.rows] == ["xs[0]", "xs[1]", "xs[2]", "w"]
    (fr,) = report.functions
    assert fr.wrt == ("xs", "w") and fr.numeric_only is None
    assert all(r.symbolic == "equal" for r in report.rows)  # lists of symbols xs[0], ...

    def wrong(xs, w):  # the gradient of w is right, the list's is off by 10%
        return [1.1 * w * math.cos(x) for x in xs], sum(math.sin(x) for x in xs)

    bad = check_function(s2sad.lift(weighted), derivative=_derivative(wrong), points=3)
    assert [r.ok for r in bad.rows] == [False, False, False, True]


def test_list_parameters_in_forward_mode_via_jvp():
    fn = s2sad.lift(weighted)

    def jvp_weighted(xs, w, xs_dot, w_dot):
        value = sum(w * math.sin(x) for x in xs)
        along_xs = sum(w * math.cos(x) * d for x, d in zip(xs, xs_dot, strict=True))
        return value, along_xs + w_dot * sum(math.sin(x) for x in xs)

    report = check_function(fn, derivative=_derivative(jvp_weighted, kind="jvp"), points=3)
    assert report.ok, report.text()


def test_graph_draws_regions():
    fn = _with_region()
    dot = to_dot(fn)
    assert "subgraph cluster" in dot and 'label="mystery_region: region 0"' in dot
    assert '[label="region 0"]' in dot
    mermaid = to_mermaid(fn)
    assert 'subgraph cluster' in mermaid and "\n  end\n" in mermaid


# -- checking an emitted module --------------------------------------------------------------


def _module(**functions) -> types.ModuleType:
    mod = types.ModuleType("emitted")
    for name, f in functions.items():
        setattr(mod, name, f)
    return mod


def test_module_derivative_reads_wrt_from_the_docstring():
    def grad_poly(x, y):
        """Gradient of poly (reverse mode).

        With respect to y.
        """
        return x ** 3 - 0.25

    fn = s2sad.lift(poly)
    derivative, wrt = module_derivative(_module(grad_poly=grad_poly), "m.py", fn)
    assert wrt == (1,) and derivative.kind == "grad" and derivative.mode == "reverse"
    report = check_function(fn, wrt, derivative=derivative, points=3)
    assert report.ok, report.text()
    assert report.derivative == "grad_poly in m.py"


def test_module_derivative_reads_wrt_from_jvp_tangent_names():
    def jvp_poly(x, y, x_dot):
        return poly(x, y), (3 * x ** 2 * y + 2) * x_dot

    derivative, wrt = module_derivative(_module(jvp_poly=jvp_poly), "m.py", s2sad.lift(poly))
    assert wrt == (0,) and derivative.kind == "jvp" and derivative.mode == "forward"


def test_module_without_the_derivative():
    with pytest.raises(s2sad.S2SADError, match="defines no grad_poly"):
        module_derivative(_module(), "m.py", s2sad.lift(poly))
    with pytest.raises(s2sad.S2SADError, match="defines no vjp_pair or jvp_pair"):
        module_derivative(_module(grad_pair=lambda x, y: 0.0), "m.py", s2sad.lift(pair))


# -- swollen expressions: SymPy's own limits ----------------------------------------------------


def test_tree_size_counts_the_tree_over_the_dag():
    from s2sad.symbolic.from_ir import dag_nodes, tree_size

    e = x
    for _ in range(30):  # a tree of 2**31 - 1 nodes, a DAG of 31
        e = sp.Function("g")(e, e)
    assert tree_size(e) == 2**31 - 1
    assert len(dag_nodes(e)) == 31


def test_huge_trees_get_an_estimated_size(monkeypatch):
    chk = importlib.import_module("s2sad.check")
    exact = s2sad.check(nest, points=2).rows[0].sympy_ops
    monkeypatch.setattr(chk, "EXACT_COUNT_LIMIT", 10)
    report = s2sad.check(nest, points=2)
    estimate = report.rows[0].sympy_ops
    assert isinstance(estimate, chk.Estimate) and str(estimate) == f"~{int(estimate)}"
    assert abs(int(estimate) - exact) <= exact // 10
    assert f"~{int(estimate)}" in report.text()


def test_trees_too_large_for_sympy_use_high_precision_differences(monkeypatch):
    chk = importlib.import_module("s2sad.check")
    monkeypatch.setattr(chk, "SYMPY_TREE_LIMIT", 10)
    report = s2sad.check(nest, points=4)
    assert report.ok, report.text()
    (fr,) = report.functions
    assert "too many for SymPy" in fr.numeric_only and "50-digit" in fr.numeric_only
    (row,) = report.rows
    assert row.symbolic == "n/a" and row.sympy_ops is None and row.max_abs_err < 1e-12
    wrong = check_function(s2sad.lift(nest), derivative=_derivative(
        lambda x: 1.001 * s2sad.grad(nest)(x)), points=4)
    assert not wrong.ok


# -- int parameters are held, never sampled ---------------------------------------------------


def loop_count(x, n):
    for _ in range(n):
        x = x * x + 0.1
    return x


def annotated_count(x, n: int = 4):
    for _ in range(n):
        x = x * 0.5 + math.sin(x)
    return x


def list_count(xs, n):
    s = 0.0
    for i in range(n):
        s += xs[i] * xs[i + 1]
    return s


def int_kinds(x, k, s, m, xs):
    for _ in range(int(s)):  # s may be a float: int() makes the bound
        x = x * 2.0
    return x * float(k) + s + xs[m]


def test_int_parameters_are_read_from_the_ir_and_annotations():
    from s2sad.check import int_parameters

    found = int_parameters(s2sad.lift(loop_count))
    assert list(found) == [1] and "loop bound" in found[1] and "test_check.py" in found[1]
    assert list(int_parameters(s2sad.lift(list_count))) == [1]  # range(n), xs[i + 1]
    fn = s2sad.lift(int_kinds)
    assert list(int_parameters(fn)) == [3]  # m is an index; int(s) makes any s an int
    assert "an index" in int_parameters(fn)[3]
    assert list(int_parameters(fn, ["k"])) == [1, 3]
    assert int_parameters(fn, ["k"])[1] == "annotated `int`"


def test_an_int_loop_count_is_held_not_sampled():
    # once: "0 random points, 500 rejected" and a note about list indices
    report = s2sad.check(loop_count, points=5)
    assert report.ok, report.text()
    (fr,) = report.functions
    assert fr.points == 5 and fr.wrt == ("x",) and fr.numeric_only is None
    assert [r.input for r in report.rows] == ["x"] and report.rows[0].symbolic == "equal"
    text = report.text()
    assert "held n = 3 (not differentiated)" in text and "--fix n=VALUE" in text
    assert "list ind" not in text


def test_fix_holds_an_int_at_a_value():
    def reference(x, n):  # the derivative of n passes of x <- x*x + 0.1, by the chain rule
        d = 1.0
        for _ in range(n):
            d, x = d * 2 * x, x * x + 0.1
        return d

    report = s2sad.check(loop_count, points=4, fix={"n": 5})
    assert report.ok and "held n = 5" in report.text() and "from --fix" in report.text()
    bad = check_function(s2sad.lift(loop_count), fix={"n": 5}, points=4,
                         derivative=_derivative(lambda x, n: reference(x, 4)))
    assert not bad.ok  # the check really runs 5 passes: 4 disagree
    good = check_function(s2sad.lift(loop_count), fix={"n": 5}, points=4,
                          derivative=_derivative(lambda x, n: reference(x, n)))
    assert good.ok, good.text()


@pytest.mark.slow  # two SymPy checks of unrolled loops: 2 s
def test_an_annotated_int_is_held_at_its_default():
    report = s2sad.check(annotated_count, points=3)
    assert report.ok, report.text()
    assert "held n = 4 (not differentiated): an int (annotated `int`), at its default" \
        in report.text()


def test_list_length_and_int_together():
    report = s2sad.check(list_count, points=3, fix={"n": 4}, shapes={"xs": 5})
    assert report.ok, report.text()
    assert [r.input for r in report.rows] == [f"xs[{k}]" for k in range(5)]
    assert "list xs of length 5: from --shape" in report.text()
    default = s2sad.check(list_count, points=3, fix={"n": 2})
    assert default.ok and "list xs of length 3: the default" in default.text()


def test_held_values_that_do_not_fit_say_so():
    report = s2sad.check(list_count, points=2)  # n = 3 reads xs[3] of a list of 3
    assert not report.ok
    assert all(r.status == "UNVERIFIED" for r in report.rows)
    note = report.rows[0].note
    assert "IndexError" in note and "--fix n=" in note and "--shape xs=" in note


def test_fix_and_shapes_are_validated():
    with pytest.raises(s2sad.S2SADError, match="has no parameter `m`"):
        s2sad.check(loop_count, fix={"m": 3})
    with pytest.raises(s2sad.S2SADError, match="so its value must be an int"):
        s2sad.check(loop_count, fix={"n": 2.5})
    with pytest.raises(s2sad.S2SADError, match="nothing is left to differentiate"):
        s2sad.check(loop_count, fix={"x": 1.0})
    with pytest.raises(s2sad.S2SADError, match="is an int"):
        s2sad.check(loop_count, shapes={"n": 3})
    with pytest.raises(s2sad.S2SADError, match="`n` is not differentiated"):
        s2sad.check(loop_count, wrt="n")
    with pytest.raises(s2sad.S2SADError, match="bad shape"):
        s2sad.check(weighted, shapes={"xs": 0})
    with pytest.raises(s2sad.S2SADError, match="its shape is one length"):
        s2sad.check(weighted, shapes={"xs": (2, 2)})
    fixed = s2sad.check(poly, fix={"y": -1.5}, points=3)  # a number held too
    assert fixed.ok and [r.input for r in fixed.rows] == ["x"]


# -- arrays: reverse and forward mode against finite differences ------------------------------


def logreg_loss(w, X, y):
    return np.mean(np.logaddexp(0, X @ w) - y * (X @ w))


def mlp_like(W, X):
    return np.sum(np.tanh(X @ W) ** 2)


def broadcast(x: np.ndarray, b: np.ndarray, s):
    return np.sum(np.sin(x * b + s) * x)


def array_out(x: np.ndarray, y):
    return np.exp(x) * y, np.sum(x)


def looped_array(x: np.ndarray, n):
    s = 0.0
    for i in range(n):
        s += np.sum(np.tanh(x * i))
    return s


ARRAY_CASES = [
    (logreg_loss, {"X": (5, 3), "w": 3, "y": 5}),
    (mlp_like, {"X": (4, 3), "W": (3, 2)}),
    (broadcast, {"x": (2, 3), "b": (3,)}),
]


@pytest.mark.parametrize("f, shapes", ARRAY_CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_array_functions_are_checked_numerically(f, shapes):
    for given in (None, shapes):
        report = s2sad.check(f, points=4, shapes=given)
        assert report.ok, report.text()
        (fr,) = report.functions
        assert fr.mode == "reverse and forward" and fr.reference == "finite differences"
        assert "numeric comparison only: NumPy arrays" in report.text()
        assert {r.input.split()[1] for r in report.rows} == {"(reverse)", "(forward)"}
        assert all(r.max_rel_err is not None and r.max_rel_err < 1e-6 for r in report.rows)
        for name, shape in (given or {}).items():
            dims = "x".join(map(str, shape if isinstance(shape, tuple) else (shape,)))
            assert f"array {name} of shape {dims}: from --shape" in report.text()
        if given is None:
            assert "a default (the first tried that runs)" in report.text()


def test_array_outputs_and_held_ints():
    report = s2sad.check(array_out, points=3)
    assert report.ok, report.text()
    assert report.rows[0].output == "u·array_out" and "random u" in report.text()
    looped = s2sad.check(looped_array, points=3, fix={"n": 4}, shapes={"x": (2, 2)})
    assert looped.ok and "held n = 4" in looped.text()
    assert [r.input for r in looped.rows] == ["x (reverse)", "x (forward)"]


def test_a_wrong_array_derivative_fails():
    fn = s2sad.lift(logreg_loss)

    def sigmoid(z):
        return 0.5 + 0.5 * np.tanh(0.5 * z)

    def right(w, X, y):
        z = X @ w
        g = (sigmoid(z) - y) / len(z)
        return X.T @ g, np.outer(g, w), -z / len(z)

    def wrong(w, X, y):  # forgot the 1/N of the mean in the gradient of w
        gw, gX, gy = right(w, X, y)
        return gw * len(y), gX, gy

    def wrong_shape(w, X, y):
        gw, gX, gy = right(w, X, y)
        return gw, gX.T, gy

    shapes = {"X": (5, 3), "w": 3, "y": 5}
    ok = check_function(fn, shapes=shapes, derivative=_derivative(right), points=3)
    assert ok.ok, ok.text()
    bad = check_function(fn, shapes=shapes, derivative=_derivative(wrong), points=3)
    assert [r.ok for r in bad.rows] == [False, True, True]
    assert "finite differences" in bad.rows[0].note and "element" in bad.rows[0].note
    shaped = check_function(fn, shapes=shapes, derivative=_derivative(wrong_shape), points=3)
    assert [r.ok for r in shaped.rows] == [True, False, True]
    assert "has shape (3, 5), the parameter (5, 3)" in shaped.rows[1].note


def test_a_wrong_custom_rule_fails():
    from tests.fixtures import wrong_prims as W

    scalar = s2sad.check(W.uses_bad_softplus, points=4)
    assert not scalar.ok and scalar.rows[0].status == "MISMATCH"
    arrays = s2sad.check(W.uses_bad_np_softplus, points=3, shapes={"X": (4, 3), "w": 3})
    assert not arrays.ok
    assert all(r.status == "MISMATCH" for r in arrays.rows)


def test_default_shapes_that_never_run_are_an_error():
    from s2sad.check import DEFAULT_SHAPES, default_shapes, plan_inputs

    fn = s2sad.lift(mlp_like)
    specs = plan_inputs(fn)
    assert [s.shape for s in default_shapes(fn, specs)] == [DEFAULT_SHAPES[0], DEFAULT_SHAPES[1]]
    with pytest.raises(s2sad.S2SADError, match="did not run with any default shape"):
        default_shapes(s2sad.lift(needs_five), plan_inputs(s2sad.lift(needs_five)))


def needs_five(x: np.ndarray):
    return np.sum(x.reshape(5) ** 2)


def float_bound(x, s):
    for _ in range(int(s)):  # s is a number: int() makes the bound, so s is sampled
        x = x * 2.0
    return x


def test_a_data_dependent_loop_bound_is_named_right():
    report = s2sad.check(float_bound, points=3)
    (fr,) = report.functions
    assert fr.numeric_only.startswith("a loop bound that depends on the inputs")
    assert "list index" not in report.text()
