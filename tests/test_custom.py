"""``s2sad.stop_gradient`` and custom primitives (``@s2sad.primitive(partials=...)``).

Oracles are finite differences (tests/oracles.py) of the user's own Python
functions — with the stopped value frozen by hand where ``stop_gradient`` is
involved — never s2sad's own output.  The functions live in
tests/fixtures/custom_prims.py: custom primitives must be defined at module level,
as the generated code imports them from there.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import s2sad
from s2sad.api import lift
from s2sad.codegen import load
from s2sad.pipeline import derive, generate
from tests.fixtures import custom_prims as C
from tests.oracles import assert_close, derivative, gradient

ROOT = Path(__file__).resolve().parent.parent
MODES = ("reverse", "forward")


def _sigmoid(x: float) -> float:
    return 0.5 + 0.5 * math.tanh(0.5 * x)


# -- stop_gradient ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [-2.5, 0.0, 0.7, 3.0, 1000.0])
def test_stop_gradient_scalar(mode, x):
    g = s2sad.grad(C.sg_times, mode=mode)
    # the oracle: d/dt [t * x] at t = x, the stopped factor frozen at its value
    assert_close(g(x), derivative(lambda t: t * x, x), what=f"grad x*sg(x) at {x}")
    assert g(x) == x
    assert_close(s2sad.jvp(C.sg_times)(x, 1.0), (x * x, x))
    assert_close(s2sad.vjp(C.sg_times)(x, 2.0), (x * x, 2.0 * x))


def test_stop_gradient_runs_as_identity():
    assert s2sad.stop_gradient(2.5) == 2.5
    w = np.arange(3.0)
    assert s2sad.stop_gradient(w) is w
    assert C.sg_times(3.0) == 9.0


@pytest.mark.parametrize("mode", MODES)
def test_stop_gradient_module_attribute_two_inputs(mode):
    g = s2sad.grad(C.sg_module_attr, wrt=(0, 1), mode=mode)
    x, y = 1.3, -0.4
    frozen = x * y
    want = gradient(lambda a, b: frozen * b + a, [x, y])
    assert_close(g(x, y), want)


def test_stop_gradient_array():
    w = np.array([0.5, -1.5, 2.0, 3.0])
    frozen = w.copy()
    want = [derivative(lambda t, k=k: float(np.sum(np.where(np.arange(4) == k, t, w)
                                                    * frozen ** 2)), w[k]) for k in range(4)]
    assert_close(list(np.asarray(s2sad.grad(C.sg_array)(w))), want)  # reverse mode
    direction = np.array([1.0, -2.0, 0.5, 3.0])
    value, tangent = s2sad.jvp(C.sg_array)(w, direction)  # forward mode
    assert_close(float(tangent), float(np.dot(want, direction)))
    assert_close(float(value), C.sg_array(w))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [-0.8, 0.4, 1.7])
def test_stop_gradient_in_a_loop(mode, x):
    def frozen(t, c=x, n=5):  # the multiplier frozen at x
        s = 1.0
        for _ in range(n):
            s = s * c + t
        return s

    assert_close(s2sad.grad(C.sg_loop, mode=mode)(x, 5), derivative(frozen, x))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [0.5, 1.5, 3.0])
def test_stop_gradient_in_a_while_loop(mode, x):
    def frozen(t):  # replay the iterations with the stopped values recorded at x
        s, stopped = x, []
        while s < 100.0:
            stopped.append(s)
            s = s * 2.0 + s * x
        s = t
        for v in stopped:
            s = s * 2.0 + v * t
        return s

    assert_close(s2sad.grad(C.sg_while, mode=mode)(x), derivative(frozen, x, h=1e-3))


@pytest.mark.parametrize("fn", [C.sg_times, C.sg_array, C.sg_loop, C.softplus_chain])
def test_generated_code_has_no_stop_gradient(fn):
    for mode in MODES:
        src = s2sad.grad(fn, mode=mode).source
        assert "stop_gradient" not in src
        assert "s2sad" not in src.split('"""', 2)[2]  # only the header mentions s2sad


# -- custom primitives ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [-1000.0, -30.0, -1.2, 0.0, 0.3, 2.0, 40.0, 1000.0])
def test_custom_log1pexp(mode, x):
    g = s2sad.grad(C.softplus_only, mode=mode)(x)
    assert math.isfinite(g)
    assert_close(g, derivative(C.log1pexp, x), what=f"log1pexp'({x})")
    assert_close(s2sad.jvp(C.softplus_only)(x, 2.0), (C.log1pexp(x), 2.0 * _sigmoid(x)))


def test_custom_primitive_is_one_op_and_returned_itself():
    assert C.log1pexp(0.0) == math.log(2.0)  # the decorator returns the function
    prims = [op.prim for op in lift(C.softplus_only).body.ops]
    assert sum(p.startswith("custom:") for p in prims) == 1
    assert not {"log1p", "exp", "cond"} & set(prims)  # its body is not inlined


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [-1000.0, -2.0, -0.3, 0.4, 1.1, 1000.0])
def test_custom_in_loop_and_branch(mode, x):
    g = s2sad.grad(C.softplus_loop_branch, mode=mode)(x, 4)
    want = derivative(lambda t: C.softplus_loop_branch(t, 4), x)
    assert math.isfinite(g)
    assert_close(g, want, rtol=1e-7, atol=1e-9, what=f"at {x}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [-2.0, 0.25, 1.5])
def test_custom_times_stop_gradient(mode, x):
    # f(x) = log1pexp(3x) * stop_gradient(x): d/dx = 3 σ(3x) x
    g = s2sad.grad(C.softplus_chain, mode=mode)(x)
    assert_close(g, derivative(lambda t: C.log1pexp(3.0 * t) * x, x))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("point", [(0.7, -1.3), (2.0, 0.5), (-1.1, -0.2)])
def test_custom_several_inputs(mode, point):
    g = s2sad.grad(C.uses_radius, wrt=(0, 1), mode=mode)(*point)
    assert_close(g, gradient(C.uses_radius, list(point)))
    _, vbar = s2sad.vjp(C.uses_radius, wrt=(0, 1))(*point, 1.0)
    assert_close(vbar, gradient(C.uses_radius, list(point)))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [-1.4, 0.2, 0.9])
def test_custom_opaque_primal(mode, x):
    # c_erf calls libm through ctypes inside a `try`: s2sad could not lift its body
    with pytest.raises(s2sad.S2SADError, match="try"):
        s2sad.api.lift(C.c_erf)
    g = s2sad.grad(C.uses_c_erf, mode=mode)(x)
    assert_close(g, derivative(C.uses_c_erf, x))


@pytest.mark.parametrize("x", [-0.7, 0.4, 1.2])
def test_custom_partials_that_call_the_primitive(x):
    assert_close(s2sad.grad(C.uses_my_exp)(x), derivative(C.uses_my_exp, x))
    assert_close(s2sad.grad(C.uses_my_exp, mode="forward")(x), derivative(C.uses_my_exp, x))


def _fd_array_gradient(f, args, i):
    """The gradient of f with respect to array argument i, element by element."""
    w = args[i]
    out = []
    for k in range(w.size):
        def along(t, k=k):
            moved = list(args)
            moved[i] = np.where(np.arange(w.size) == k, t, w)
            return float(f(*moved))
        out.append(derivative(along, float(w[k])))
    return np.array(out)


W = np.array([-1000.0, -2.0, -0.3, 0.0, 0.8, 3.0, 1000.0])


def test_custom_elementwise_on_arrays_reverse():
    b = 0.7
    gw, gb = s2sad.grad(C.softplus_array, wrt=(0, 1))(W, b)
    assert np.all(np.isfinite(gw))
    assert_close(list(gw), list(_fd_array_gradient(C.softplus_array, [W, b], 0)), rtol=1e-6)
    assert_close(float(gb), derivative(lambda t: float(C.softplus_array(W, t)), b), rtol=1e-6)
    w = np.array([0.5, -1.2, 2.0])
    gw, gy = s2sad.grad(C.hypot_array, wrt=(0, 1))(w, -0.8)
    assert_close(list(gw), list(_fd_array_gradient(C.hypot_array, [w, -0.8], 0)))
    assert_close(float(gy), derivative(lambda t: float(C.hypot_array(w, t)), -0.8))


def test_custom_elementwise_on_arrays_forward():
    w = np.array([0.5, -1.2, 2.0])
    dw = np.array([1.0, 0.5, -2.0])
    value, tangent = s2sad.jvp(C.hypot_array, wrt=(0, 1))(w, -0.8, dw, 0.3)
    want = derivative(lambda t: float(C.hypot_array(w + t * dw, -0.8 + 0.3 * t)), 0.0)
    assert_close(float(value), float(C.hypot_array(w, -0.8)))
    assert_close(float(tangent), want)
    value, tangent = s2sad.jvp(C.softplus_array)(W, 0.7, dw[[0, 1, 2, 0, 1, 2, 0]])
    want = derivative(lambda t: float(C.softplus_array(W + t * dw[[0, 1, 2, 0, 1, 2, 0]], 0.7)),
                      0.0)
    assert_close(float(tangent), want, rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("x", [-1000.0, -1.0, 0.5, 1000.0])
def test_custom_numpy_primitive_on_scalars(mode, x):
    assert_close(s2sad.grad(C.softplus_scalar_np, mode=mode)(x),
                 derivative(C.softplus_scalar_np, x))


def _second(f, outer="forward", inner="forward", wrt=0):
    fn = derive(derive(lift(f), "grad", wrt, inner), "grad", wrt, outer)
    return load(generate([fn]), fn.name)


@pytest.mark.parametrize("inner", MODES)
@pytest.mark.parametrize("x", [-3.0, -0.5, 0.0, 0.8, 2.5, 1000.0, -1000.0])
def test_custom_second_derivative(inner, x):
    d2 = _second(C.softplus_twice, inner=inner)
    got = d2(x)
    assert math.isfinite(got)

    def first(t):  # f(t) = log1pexp(2t)·t, its derivative written by hand from the partials
        return 2.0 * C.log1pexp_partials(2.0 * t) * t + C.log1pexp(2.0 * t)

    assert_close(got, derivative(first, x, h=1e-2), rtol=1e-6, atol=1e-9, what=f"at {x}")


def _fd_second(f, point, wrt):
    """∂²f/∂x_wrt² by finite differences of finite differences of f itself (never of an
    s2sad derivative)."""
    def along(t):
        p = list(point)
        p[wrt] = t
        return f(*p)

    return derivative(lambda t: derivative(along, t, h=1e-2), point[wrt], h=1e-2)


@pytest.mark.parametrize("point", [(0.7, -1.3), (2.0, 0.5)])
def test_custom_second_derivative_several_inputs(point):
    for wrt in (0, 1):
        d2 = _second(C.uses_radius, wrt=wrt)
        assert_close(d2(*point), _fd_second(C.uses_radius, point, wrt), rtol=1e-6)
    d2 = _second(C.uses_my_exp)
    assert_close(d2(0.6), _fd_second(C.uses_my_exp, (0.6,), 0), rtol=1e-6)


@pytest.mark.slow
def test_generated_module_imports_the_primitive_in_a_subprocess(tmp_path):
    source = s2sad.grad(C.softplus_loop_branch).source
    assert "from tests.fixtures.custom_prims import log1pexp" in source
    assert "It calls custom primitives" in source.split('"""')[1]
    imports = [ln for ln in source.splitlines() if ln.startswith(("import ", "from "))]
    assert set(imports) <= {"import math", "import numpy as np",
                            "from tests.fixtures.custom_prims import log1pexp"}
    (tmp_path / "gen_custom.py").write_text(source, encoding="utf-8")
    code = "import gen_custom; print(repr(gen_custom.grad_softplus_loop_branch(0.3, 4)))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    assert_close(float(out.stdout), derivative(lambda t: C.softplus_loop_branch(t, 4), 0.3))


SRC = '''\
import math

import s2sad
from s2sad import stop_gradient


def log1pexp_partials(x):
    return 0.5 + 0.5 * math.tanh(0.5 * x)


@s2sad.primitive(partials=log1pexp_partials)
def log1pexp(x):
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def f(x):
    return log1pexp(3.0 * x) * stop_gradient(x)
'''


@pytest.mark.slow
@pytest.mark.parametrize("spelling", ["s2sad", "sd", "from"])
def test_cli_source_file_imports_from_its_stem(tmp_path, spelling):
    from s2sad.frontend import lower
    from s2sad.frontend.source import parse_file

    path = tmp_path / "mysoftplus.py"
    src = SRC
    if spelling == "sd":
        src = src.replace("import s2sad\n", "import s2sad as sd\n").replace("@s2sad.", "@sd.")
    elif spelling == "from":
        src = src.replace("import s2sad\n", "from s2sad import primitive\n").replace(
            "@s2sad.primitive", "@primitive")
    path.write_text(src, encoding="utf-8")
    fn = lower(parse_file(path).functions["f"])
    for kind, mode in (("value_and_grad", "reverse"), ("jvp", "forward")):
        text = generate([derive(fn, kind, 0, mode)], header="Derivatives of mysoftplus.py.")
        assert "from mysoftplus import log1pexp" in text
        assert "next to mysoftplus.py" in text
        assert "stop_gradient" not in text
    text = generate([derive(fn, "value_and_grad", 0, "reverse")], header="h")
    (tmp_path / "gen_cli.py").write_text(text, encoding="utf-8")
    code = "import gen_cli; print(repr(gen_cli.value_and_grad_f(0.4)[1]))"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, check=True)
    assert_close(float(out.stdout), derivative(lambda t: C.log1pexp(3.0 * t) * 0.4, 0.4))


@pytest.mark.parametrize("decorator, match", [
    ("@s2sad.primitive", "has no derivative rule"),
    ("@s2sad.primitive()", "has no derivative rule"),
    ("@s2sad.primitive(partials=math.tanh)", "must name a function defined"),
])
def test_cli_source_file_bad_rule(tmp_path, decorator, match):
    from s2sad.frontend import lower
    from s2sad.frontend.source import parse_file

    path = tmp_path / "badrule.py"
    path.write_text(SRC.replace("@s2sad.primitive(partials=log1pexp_partials)", decorator),
                    encoding="utf-8")
    with pytest.raises(s2sad.S2SADError, match=match) as info:
        lower(parse_file(path).functions["f"])
    assert info.value.filename == str(path) and info.value.lineno == 11


# -- located errors ------------------------------------------------------------------------------


def test_error_no_rule_at_decoration():
    with pytest.raises(s2sad.S2SADError, match="has no derivative rule") as info:
        @s2sad.primitive
        def norule(x):
            return x
    assert info.value.filename == __file__ and info.value.lineno is not None
    with pytest.raises(s2sad.S2SADError, match="has no derivative rule"):
        s2sad.primitive()(C.sg_times)


def test_error_partials_not_a_def():
    with pytest.raises(s2sad.S2SADError, match="must be a function defined with `def`"):
        s2sad.primitive(partials=lambda x: 1.0)(C.sg_times)
    with pytest.raises(s2sad.S2SADError, match="must be a function defined with `def`"):
        s2sad.primitive(partials=math.cos)(C.sg_times)


@pytest.mark.parametrize("fn, line, match", [
    (C.uses_wrong_count, "return 1.0, 2.0", "returns a tuple of 2, but `wrong_count` has 1"),
    (C.uses_wrong_count_2, "return x + y", "returns 1 value, but `wrong_count_2` has 2"),
    (C.uses_unreadable, "try:", "`unreadable_partials` of custom primitive `unreadable` "
                                "cannot be read by s2sad: a `try` statement"),
])
def test_error_bad_partials_located(fn, line, match):
    for mode in MODES:
        with pytest.raises(s2sad.S2SADError, match=match) as info:
            s2sad.grad(fn, mode=mode)
        err = info.value
        assert err.filename == C.__file__
        assert Path(C.__file__).read_text().splitlines()[err.lineno - 1].strip() == line


def test_error_keyword_arguments_to_a_custom_primitive():
    with pytest.raises(s2sad.UnsupportedError, match="keyword arguments to custom primitive"):
        s2sad.grad(C.custom_keyword)


def test_error_custom_primitive_on_a_list():
    with pytest.raises(s2sad.UnsupportedError, match="called on a list") as info:
        s2sad.grad(C.custom_on_list)
    assert info.value.filename == C.__file__ and "log1pexp(xs)" in info.value.render()


def test_error_custom_primitive_not_at_module_level():
    def partials(x):
        return 1.0

    @s2sad.primitive(partials=partials)
    def local(x):
        return x

    def uses(x):
        return local(x) * x

    with pytest.raises(s2sad.UnsupportedError, match="not defined at the top level") as info:
        s2sad.grad(uses)
    assert info.value.filename == __file__


def test_error_stop_gradient_of_a_list(tmp_path):
    from s2sad.frontend import lower
    from s2sad.frontend.source import parse_file

    path = tmp_path / "sglist.py"
    path.write_text(textwrap.dedent('''\
        from s2sad import stop_gradient

        def h(xs):
            return xs[0] * stop_gradient(xs)[1]
        '''), encoding="utf-8")
    with pytest.raises(s2sad.UnsupportedError, match="stop_gradient` of a list") as info:
        lower(parse_file(path).functions["h"])
    assert info.value.filename == str(path) and info.value.lineno == 4


def test_check_refuses_stop_gradient_and_verifies_custom():
    with pytest.raises(s2sad.S2SADError, match="uses stop_gradient") as info:
        s2sad.check(C.sg_times)
    assert info.value.filename == C.__file__
    rep = s2sad.check(C.softplus_only)  # no SymPy form: finite differences of the primal
    assert rep.ok, rep.text()


# -- jvp= / vjp= rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("point", [(0.7, -1.3), (2.0, 0.5), (-30.0, 0.2), (800.0, 2.0)])
def test_custom_jvp_vjp_rules(mode, point):
    g = s2sad.grad(C.uses_smooth_max, wrt=(0, 1), mode=mode)(*point)
    assert all(math.isfinite(v) for v in g)
    assert_close(g, gradient(C.uses_smooth_max, list(point)), rtol=1e-6)
    value, tangent = s2sad.jvp(C.uses_smooth_max, wrt=(0, 1))(*point, 1.0, -0.5)
    want = derivative(lambda t: C.uses_smooth_max(point[0] + t, point[1] - 0.5 * t), 0.0)
    assert_close(tangent, want, rtol=1e-6)
    assert_close(value, C.uses_smooth_max(*point))


@pytest.mark.parametrize("inner", MODES)
@pytest.mark.parametrize("point", [(0.7, -1.3), (2.0, 0.5)])
def test_custom_jvp_vjp_second_derivative(inner, point):
    for wrt in (0, 1):
        d2 = _second(C.uses_smooth_max, inner=inner, wrt=wrt)
        assert_close(d2(*point), _fd_second(C.uses_smooth_max, point, wrt), rtol=1e-6)


def test_custom_jvp_only_forward_works_reverse_is_located_error():
    for x in (-0.4, 1.1):
        assert_close(s2sad.grad(C.uses_sine_forward_only, mode="forward")(x),
                     derivative(C.uses_sine_forward_only, x))
    with pytest.raises(s2sad.S2SADError, match="has no vjp rule, which reverse mode") as info:
        s2sad.grad(C.uses_sine_forward_only)
    err = info.value
    assert err.filename == C.__file__
    assert "sine_forward_only(x)" in Path(C.__file__).read_text().splitlines()[err.lineno - 1]


def test_custom_jvp_rule_errors():
    with pytest.raises(s2sad.S2SADError, match="`bad_jvp` of custom primitive `bad_jvp_prim` "
                                               "returns a tuple of 2") as info:
        s2sad.grad(C.uses_bad_jvp, mode="forward")
    assert info.value.filename == C.__file__
    with pytest.raises(s2sad.UnsupportedError, match="called on an array"):
        s2sad.grad(C.smooth_max_on_array)
    with pytest.raises(s2sad.S2SADError, match="both partials= and jvp="):
        s2sad.primitive(partials=C.two_partials, jvp=C.sine_jvp)(C.sg_times)
