"""Property tests: random programs whose loop bounds and indices are int arithmetic (issue 13).

Hypothesis draws straight-line programs over ``x, y`` (floats), a list ``xs`` and
two unannotated int parameters ``n`` and ``m`` (``m`` with a default).  Int
expressions of ``n``, ``m``, ``len(xs)`` and int constants, built with ``+ - * //
%``, unary ``-``, ``abs``, ``min`` and ``max``, appear as ``range`` bounds (one,
two or three arguments), as list indices, as ``while`` bounds, and inside float
arithmetic (``y * (n + 1)``: a float product).  The float parts are smooth
(sin, cos, tanh, affine maps), so there are no branch switches to stay away from.

For each program and point, on the generated code:

* ``value_and_grad`` (reverse) returns the value of the function, and its gradient
  w.r.t. ``x, y, xs`` equals Richardson finite differences (tests/oracles.py);
* the forward-mode gradient w.r.t. ``x, y`` equals the same finite differences;
* ``jvp`` and ``vjp`` return the value, and ⟨ẏ, ȳ⟩ = ⟨ẋ, x̄⟩.

Before the fix, any of these programs with ``range(n + 1)`` or ``xs[n - 1]`` failed
to run (``range(n + 1.0)``) or to compile (a float list index).  The machinery
(settings, loading, deterministic examples) is that of ``test_properties_control``.
"""

from __future__ import annotations

import ast
import math

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

import s2sad
from tests import oracles
from tests.test_properties_control import (  # noqa: F401  (the fixture is autouse)
    SETTINGS,
    _deterministic_examples,
    _load,
)

INT_ATOMS = ["n", "m", "len(xs)", "0", "1", "2", "3"]
DIVISORS = ["2", "3", "len(xs)", "(m % 3 + 1)"]  # never zero
INT_OPS = ["+", "-", "*", "//", "%"]


class IntGen:
    """One program being drawn."""

    def __init__(self, draw):
        self.draw = draw
        self.counter = 0

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    def int_expr(self, depth: int = 2, extra: tuple[str, ...] = ()) -> str:
        """An int expression of the int parameters, ``len(xs)`` and constants."""
        if depth == 0 or self.draw(st.integers(0, 3)) == 0:
            return self.pick(INT_ATOMS + list(extra))
        kind = self.pick(["binop", "binop", "binop", "neg", "abs", "min", "max"])
        a = self.int_expr(depth - 1, extra)
        if kind == "neg":
            return f"-{a}"
        if kind in ("abs", "min", "max"):
            if kind == "abs":
                return f"abs({a})"
            return f"{kind}({a}, {self.int_expr(depth - 1, extra)})"
        op = self.pick(INT_OPS)
        if op in ("//", "%"):
            return f"({a} {op} {self.pick(DIVISORS)})"
        if op == "*":  # keep trip counts small: a product of atoms only
            return f"({self.pick(INT_ATOMS)} * {self.pick(INT_ATOMS + list(extra))})"
        return f"({a} {op} {self.int_expr(depth - 1, extra)})"

    def index(self, extra: tuple[str, ...] = ()) -> str:
        e = self.int_expr(2, extra)
        return self.pick([f"xs[abs({e}) % len(xs)]", f"xs[-1 - abs({e}) % len(xs)]",
                          f"xs[min(abs({e}), len(xs) - 1)]", f"xs[{e} % len(xs)]"])

    def float_stmt(self, ind: str, extra: tuple[str, ...] = ()) -> str:
        e = self.int_expr(2, extra)
        rhs = self.pick([
            f"0.5 * s + math.sin(y * {e})",
            f"s + x * ({e}) * 0.1",
            f"math.tanh(s) * (x + {e})",
            f"s + {self.index(extra)} * y",
            f"0.5 * s + math.cos(x * ({e}) + {self.index(extra)})",
            f"s * math.tanh({self.index(extra)}) + y / (1 + ({e}) * ({e}))",
        ])
        return f"{ind}s = {rhs}"

    def loop(self, ind: str, depth: int) -> list[str]:
        self.counter += 1
        i = f"i{self.counter}"
        a, b = self.int_expr(), self.int_expr()
        header = self.pick([f"range({a})", f"range({a}, {b})",
                            f"range({a}, {b}, {self.pick(['2', '-1', '(m % 2 + 1)'])})",
                            f"range(min({a}, 6))"])
        if self.draw(st.booleans()):  # a while loop over an int bound instead
            lines = [f"{ind}{i} = 0", f"{ind}while {i} < {a}:"]
            body = ind + "    "
            lines += [self.float_stmt(body, (i,)) for _ in range(self.draw(st.integers(1, 2)))]
            return lines + [f"{body}{i} = {i} + 1"]
        lines = [f"{ind}for {i} in {header}:"]
        body = ind + "    "
        for _ in range(self.draw(st.integers(1, 2))):
            if depth < 1 and self.draw(st.integers(0, 3)) == 0:
                lines += self.loop(body, depth + 1)
            else:
                lines.append(self.float_stmt(body, (i,)))
        return lines

    def program(self) -> str:
        lines = ["import math", "", "", "def prog(x, y, xs, n, m=2):", "    s = x * y"]
        for _ in range(self.draw(st.integers(1, 3))):
            if self.draw(st.booleans()):
                lines += self.loop("    ", 0)
            else:
                lines.append(self.float_stmt("    "))
        lines.append("    return s")
        return "\n".join(lines) + "\n"


class Program:
    def __init__(self, source: str):
        self.source = source

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return "\n" + self.source


@st.composite
def programs(draw) -> Program:
    source = IntGen(draw).program()
    ast.parse(source)
    return Program(source)


_coord = st.floats(-2.0, 2.0).map(lambda v: round(v, 3))


@st.composite
def points(draw):
    length = draw(st.integers(2, 4))
    xs = draw(st.lists(_coord, min_size=length, max_size=length))
    n, m = draw(st.integers(0, 4)), draw(st.one_of(st.none(), st.integers(0, 4)))
    ints = (n,) if m is None else (n, m)  # m=None: the default
    return draw(_coord), draw(_coord), xs, ints


def _check(program: Program, pts) -> None:
    f = _load(program.source, "ints").prog
    rev = s2sad.value_and_grad(f, wrt=(0, 1, 2))
    fwd = s2sad.grad(f, wrt=(0, 1), mode="forward")
    jvp, vjp = s2sad.jvp(f, wrt=(0, 1)), s2sad.vjp(f, wrt=(0, 1, 2))
    checked = 0
    for x, y, xs, ints in pts:
        k = len(xs)

        def flat(*v, ints=ints, k=k):
            return f(v[0], v[1], list(v[2:2 + k]), *ints)

        args = (x, y, list(xs), *ints)
        full = (*args, 2) if len(ints) == 1 else args  # jvp and vjp take every argument
        where = f"at {args}"
        try:
            value = f(*args)
            if not math.isfinite(value) or abs(value) > 1e6:
                continue
            fd = oracles.gradient(flat, [x, y, *xs], h=1e-3)
        except (OverflowError, ValueError, ZeroDivisionError, oracles.OracleError):
            continue
        checked += 1
        scale = max(1.0, *(abs(d) for d in fd))
        v, (gx, gy, gxs) = rev(*args)
        oracles.assert_close(v, value, 1e-12, 1e-12, what=f"value_and_grad value {where}")
        got = [gx, gy, *gxs]
        for j, (a, b) in enumerate(zip(got, fd, strict=True)):
            assert abs(a - b) <= 1e-6 * scale, f"reverse vs FD, input {j} {where}: {got} {fd}"
        gf = fwd(*args)
        for j in (0, 1):
            assert abs(gf[j] - fd[j]) <= 1e-6 * scale, f"forward vs FD {where}: {gf} {fd[:2]}"
        vj, ydot = oracles.call_extras(jvp, full, (0.3, -0.7))
        oracles.assert_close(vj, value, 1e-12, 1e-12, what=f"jvp value {where}")
        vv, (bx, by, bxs) = oracles.call_extras(vjp, full, (1.5,))
        oracles.assert_close(vv, value, 1e-12, 1e-12, what=f"vjp value {where}")
        lhs, rhs = ydot * 1.5, 0.3 * bx - 0.7 * by
        assert abs(lhs - rhs) <= 1e-9 * (1.0 + abs(lhs)), f"<ẏ,ȳ> = <ẋ,x̄> {where}"
        assert len(bxs) == k
    if not checked:
        reject()


_points = st.lists(points(), min_size=2, max_size=2)


@pytest.mark.parametrize("count", [25])
def test_int_arithmetic_in_bounds_and_indices(count):
    """Random int arithmetic in range bounds, while bounds and indices: the generated
    code runs in both modes and agrees with finite differences."""
    @settings(max_examples=count, **SETTINGS)
    @given(program=programs(), pts=_points)
    def check(program, pts):
        _check(program, pts)

    check()


def test_generator_covers_every_construct():
    """The strategy really produces each int construct the property is meant to exercise."""
    wanted = ["range(min(", " // ", " % ", " * ", " - ", "abs(", "max(", "-1 - ", "while ",
              ", -1)", ", 2)", "range((n", "y * (", "    for i"]
    seen: set[str] = set()

    @settings(max_examples=120, **SETTINGS)
    @given(program=programs())
    def collect(program):
        seen.update(w for w in wanted if w in program.source)

    collect()
    assert set(wanted) <= seen, sorted(set(wanted) - seen)
