"""Property tests: random straight-line programs, forward = reverse = finite differences = SymPy.

Hypothesis draws small programs over two parameters ``x, y``: assignments to
new names or re-assignments of existing ones (parameters included),
augmented assignments, arithmetic and math/NumPy functions composed so that
every function stays on its domain (``exp(sin(.))``, ``log(1 + u²)``,
``sqrt(1 + u²)``, ``u / (1.5 + v²)``, ``tanh`` …).  Each program is written to a
real module (s2sad reads source), and its gradient in both modes is compared
with finite differences and, for a second set of programs, with SymPy's
exact derivative of the same program built symbolically in parallel.

The runs are deterministic (``derandomize=True``) and small, to keep the
suite fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

import s2sad
from s2sad.ir import interpret, verify
from tests import oracles
from tests.srcmod import load_source

SETTINGS = dict(derandomize=True, database=None, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

# (python template, sympy builder) — the templates keep every call on its domain.
UNARY = [
    ("math.sin({a})", sp.sin),
    ("math.cos({a})", sp.cos),
    ("np.sin({a})", sp.sin),
    ("math.tanh({a})", sp.tanh),
    ("np.tanh({a})", sp.tanh),
    ("math.atan({a})", sp.atan),
    ("np.arctan({a})", sp.atan),
    ("math.exp(math.sin({a}))", lambda a: sp.exp(sp.sin(a))),
    ("np.exp(np.cos({a}))", lambda a: sp.exp(sp.cos(a))),
    ("math.log(1 + {a} * {a})", lambda a: sp.log(1 + a * a)),
    ("math.log1p({a} ** 2)", lambda a: sp.log(1 + a**2)),
    ("math.sqrt(1 + {a} * {a})", lambda a: sp.sqrt(1 + a * a)),
    ("np.sqrt(1 + np.square({a}))", lambda a: sp.sqrt(1 + a**2)),
    ("{a} / (1 + {a} * {a})", lambda a: a / (1 + a * a)),
    ("math.erf({a})", sp.erf),
    ("math.asinh({a})", sp.asinh),
    ("{a} ** 2", lambda a: a**2),
    ("{a} ** 3", lambda a: a**3),
    ("-{a}", lambda a: -a),
]

BINARY = [
    ("{a} + {b}", lambda a, b: a + b),
    ("{a} - {b}", lambda a, b: a - b),
    ("{a} * {b}", lambda a, b: a * b),
    ("{a} / (1.5 + {b} * {b})", lambda a, b: a / (sp.Rational(3, 2) + b * b)),
    ("math.atan2({a}, 1 + {b} ** 2)", lambda a, b: sp.atan2(a, 1 + b**2)),
    ("math.hypot({a}, 1 + {b} * {b})", lambda a, b: sp.sqrt(a**2 + (1 + b * b) ** 2)),
    ("np.arctan2({b}, 2 + np.cos({a}))", lambda a, b: sp.atan2(b, 2 + sp.cos(a))),
    ("{a} * math.sin({b}) + {b}", lambda a, b: a * sp.sin(b) + b),
    ("(1 + {a} * {a}) ** {c}", None),  # variable exponent of a positive base, see below
]
AUG = [("+=", lambda a, b: a + b), ("-=", lambda a, b: a - b), ("*=", lambda a, b: a * b)]
CONSTANTS = [0.5, -1.25, 2.0, 3.0, -0.75]


@dataclass
class Program:
    source: str
    expr: object  # the SymPy expression of the returned value, in X and Y

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return "\n" + self.source


X, Y = sp.symbols("x y", real=True)


@st.composite
def programs(draw) -> Program:
    names = ["x", "y"]
    env = {"x": X, "y": Y}
    lines = []
    n = draw(st.integers(1, 6))
    for i in range(n):
        kind = draw(st.sampled_from(["unary", "binary", "binary", "aug", "const"]))
        a = draw(st.sampled_from(names))
        b = draw(st.sampled_from(names))
        if kind == "unary":
            tmpl, fn = draw(st.sampled_from(UNARY))
            text, expr = tmpl.format(a=a), fn(env[a])
        elif kind == "binary":
            tmpl, fn = draw(st.sampled_from(BINARY))
            if fn is None:  # positive base to a (constant or variable) power
                c = draw(st.sampled_from(CONSTANTS + [b]))
                text = tmpl.format(a=a, c=c)
                exponent = env[c] if isinstance(c, str) else sp.nsimplify(c)
                expr = (1 + env[a] * env[a]) ** exponent
            else:
                text, expr = tmpl.format(a=a, b=b), fn(env[a], env[b])
        elif kind == "const":
            c = draw(st.sampled_from(CONSTANTS))
            text, expr = f"{c} * {a} + {b}", sp.nsimplify(c) * env[a] + env[b]
        else:
            op, fn = draw(st.sampled_from(AUG))
            lines.append(f"    {a} {op} math.tanh({b})")
            env[a] = fn(env[a], sp.tanh(env[b]))
            continue
        reuse = draw(st.booleans()) and i > 0
        target = draw(st.sampled_from(names)) if reuse else f"v{i}"
        lines.append(f"    {target} = {text}")
        env[target] = expr
        if target not in names:
            names.append(target)
    last = names[-1]
    other = draw(st.sampled_from(names))
    lines.append(f"    return {last} + 0.5 * {other}")
    expr = env[last] + sp.Rational(1, 2) * env[other]
    source = "import math\n\nimport numpy as np\n\n\ndef prog(x, y):\n" + "\n".join(lines) + "\n"
    return Program(source, expr)


points = st.tuples(st.floats(-2.0, 2.0), st.floats(-2.0, 2.0)).map(
    lambda p: tuple(round(v, 3) for v in p))


def _compile(program: Program):
    return load_source(program.source, "prog").prog


def _finite(*values) -> bool:
    return all(math.isfinite(v) for v in oracles.flatten(values))


@settings(max_examples=100, **SETTINGS)
@given(program=programs(), point=points)
def test_forward_equals_reverse_equals_finite_differences(program, point):
    f = _compile(program)
    try:
        value = f(*point)
        fd = oracles.gradient(f, point)
    except (OverflowError, oracles.OracleError):
        reject()
    if not _finite(value, fd) or max(abs(v) for v in (value, *fd)) > 1e8:
        reject()
    rev = s2sad.value_and_grad(f, wrt=(0, 1), mode="reverse")
    fwd = s2sad.grad(f, wrt=(0, 1), mode="forward")
    verify(rev.ir)
    verify(fwd.ir)
    v, g_rev = rev(*point)
    g_fwd = fwd(*point)
    oracles.assert_close(v, value, 1e-13, 1e-300, what="value")
    oracles.assert_close(g_fwd, g_rev, 1e-9, 1e-12 * (1 + abs(value)), what="forward vs reverse")
    scale = max(1.0, *(abs(d) for d in fd))
    for got, want in zip(g_rev, fd, strict=True):
        assert abs(got - want) <= 1e-6 * scale, (program.source, point, g_rev, fd)
    # the reference interpreter agrees with the generated code
    oracles.assert_close(interpret(rev.ir, *point), (v, g_rev), 1e-13, 1e-300)


@settings(max_examples=40, **SETTINGS)
@given(program=programs(), point=points)
def test_gradient_equals_sympy(program, point):
    f = _compile(program)
    want = oracles.sympy_gradient(program.expr, (X, Y), point)
    value = oracles.sympy_value(program.expr, (X, Y), point)
    if not _finite(value, want) or max(abs(v) for v in (value, *want)) > 1e8:
        reject()
    # the SymPy twin really is the same program
    oracles.assert_close(f(*point), value, 1e-12, 1e-12, what="SymPy twin value")
    scale = max(1.0, *(abs(w) for w in want))
    for mode in ("reverse", "forward"):
        got = s2sad.grad(f, wrt=(0, 1), mode=mode)(*point)
        for g, w in zip(got, want, strict=True):
            assert abs(g - w) <= 1e-9 * scale, (mode, program.source, point, got, want)


@settings(max_examples=20, **SETTINGS)
@given(program=programs(), point=points,
       xdot=st.tuples(st.floats(-1, 1), st.floats(-1, 1)), ybar=st.floats(-2, 2))
def test_jvp_vjp_inner_product(program, point, xdot, ybar):
    f = _compile(program)
    try:
        value = f(*point)
    except OverflowError:
        reject()
    if not _finite(value) or abs(value) > 1e8:
        reject()
    _, ydot = s2sad.jvp(f, wrt=(0, 1))(*point, *xdot)
    _, xbar = s2sad.vjp(f, wrt=(0, 1))(*point, ybar)
    lhs = ydot * ybar
    rhs = float(np.dot(xbar, xdot))
    scale = (abs(xbar[0] * xdot[0]) + abs(xbar[1] * xdot[1])) + 1.0
    assert abs(lhs - rhs) <= 1e-12 * scale, (program.source, lhs, rhs)
