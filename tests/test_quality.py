"""Generated code as good as a careful person's (issue 19).

Each test fails on the code before the change it names: a value computed only for
its shape, a repeated pure subexpression, loop-invariant work in a loop, an
algebraic identity not used.  Derivatives are also checked against finite
differences, and rewrites that change floating-point results are checked bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from s2sad_cli.main import cli

import s2sad
from tests.conftest import ROOT
from tests.fixtures import quality
from tests.repeats import repeated_subexpressions

GOLDEN = sorted((ROOT / "tests" / "golden").rglob("*.py"))
SOURCES = sorted((ROOT / "examples").glob("*.py")) + [
    ROOT / "tests" / "fixtures" / name for name in ("control.py", "sequences.py", "quality.py")]
COMMANDS = [["grad"], ["grad", "--mode", "forward"], ["value-and-grad"], ["jvp"], ["vjp"],
            ["hessian"], ["jacobian"]]


def _body(source: str, name: str) -> str:
    return source[source.index(f"def {name}("):]


def _logistic_point(seed: int):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((40, 3))
    y = (rng.uniform(size=40) < 0.5).astype(float)
    return rng.standard_normal(3), X, y


def _fd(f, w, *rest, h=1e-6):
    out = np.zeros_like(w)
    for i in range(w.size):
        e = np.zeros_like(w)
        e[i] = h
        out[i] = (f(w + e, *rest) - f(w - e, *rest)) / (2 * h)
    return out


# -- 1. no values computed only for their shape ---------------------------------------------


def test_no_logarithm_is_computed_only_for_its_shape():
    g = s2sad.grad(quality.logistic_loss)
    body = _body(g.source, "grad_logistic_loss")
    assert "np.log" not in body  # the derivative needs p, not log p
    for seed in (0, 1, 2):
        w, X, y = _logistic_point(seed)
        np.testing.assert_allclose(g(w, X, y), _fd(quality.logistic_loss, w, X, y),
                                   rtol=1e-6, atol=1e-8)


# -- 2. every repeat shared ------------------------------------------------------------------


def test_the_counter_finds_repeats_and_respects_changes_and_branches():
    src = (
        "def f(x, y, p):\n"
        "    a = (1.0 - x) * y\n"
        "    b = (1.0 - x) / y\n"  # a repeat
        "    x = x + 1.0\n"
        "    c = 1.0 - x\n"  # x changed: not a repeat
        "    d = y * 2.0 if p else y * 3.0\n"
        "    e = y * 3.0\n"  # computed above only when not p: not a repeat
        "    for i in range(3):\n"
        "        y = y * 2.0\n"  # y changes in the loop: not a repeat
        "    return a, b, c, d, e\n")
    assert repeated_subexpressions(src) == {"f": {"1.0 - x": 1}}


def test_an_int_and_a_float_constant_are_one_value():
    """`1 - p` (the sigmoid's partial) and the user's `1.0 - p` are computed once."""
    g = s2sad.grad(quality.bernoulli_variance)
    assert repeated_subexpressions(g.source) == {}
    assert _body(g.source, "grad_bernoulli_variance").count("1.0 - ") == 1
    for z in (np.array([-2.0, 0.3, 1.5]), np.array([0.7])):
        fd = _fd(quality.bernoulli_variance, z)
        np.testing.assert_allclose(g(z), fd, rtol=1e-6, atol=1e-9)


def test_no_repeated_subexpressions_in_golden_files():
    assert GOLDEN
    found = {path.name: r for path in GOLDEN
             if (r := repeated_subexpressions(path.read_text(encoding="utf-8")))}
    assert found == {}


@pytest.mark.parametrize("command", [c if c == COMMANDS[0] else pytest.param(
    c, marks=pytest.mark.slow) for c in COMMANDS], ids=lambda c: "-".join(c))  # grad by default
def test_no_repeated_subexpressions_in_generated_modules(command):
    found = {}
    for path in SOURCES:
        result = CliRunner().invoke(cli, [*command, str(path)])
        if result.exit_code not in (0, 1) or "def " not in result.stdout:
            continue
        if r := repeated_subexpressions(result.stdout):
            found[path.name] = r
    assert found == {}


# -- 3. loop-invariant work out of loops -----------------------------------------------------


def _loop_bodies(source: str) -> list[str]:
    """The text of every loop body of the module's functions."""
    import ast
    return [ast.unparse(node) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.For | ast.While)]


def test_rk4_computes_its_step_fractions_once():
    g = s2sad.grad(quality.rk4, wrt=(0, 1))
    loops = _loop_bodies(g.source)
    assert len(loops) == 2  # the primal sweep and the reverse sweep
    for loop in loops:
        assert "0.5 * h" not in loop and "h / 6.0" not in loop
    body = _body(g.source, "grad_rk4")
    assert body.count("0.5 * h") == 1 and body.count("h / 6.0") == 1  # shared by both sweeps
    # h·k3, a product of an invariant and a carried value, is not reassociated or moved
    assert any("h * " in loop for loop in loops)


def test_an_invariant_rises_through_nested_loops():
    f = s2sad.grad(quality.scaled_sum, wrt=(1, 2))
    for loop in _loop_bodies(f.source):
        assert "a * b" not in loop and "np.sin(a)" not in loop
    body = _body(f.source, "grad_scaled_sum")
    assert body.count("np.sin(a)") == 1  # once: not in either sweep, and not on a tape
    assert "tape_1.append(s_1)" in body
    xs = [0.5, -1.2, 2.0]
    got = f(xs, 0.7, -1.3)
    for i, (a, b) in enumerate(((0.7 + 1e-6, -1.3), (0.7, -1.3 + 1e-6))):
        lo = (0.7 - 1e-6, -1.3) if i == 0 else (0.7, -1.3 - 1e-6)
        fd = (quality.scaled_sum(xs, a, b) - quality.scaled_sum(xs, *lo)) / 2e-6
        assert got[i] == pytest.approx(fd, rel=1e-6)


def _bits(x):
    if isinstance(x, tuple | list):
        return tuple(_bits(v) for v in x)
    return float(x).hex()


def _control_cases():
    from tests.test_control_flow import CASES as control_cases
    from tests.test_sequences import CASES as sequence_cases
    out = [(f, wrt, points) for f, wrt, points in control_cases]
    out += [(f, 0, points) for f, points in sequence_cases]
    out.append((quality.rk4, (0, 1), [(0.7, 0.1, 5), (-1.3, 0.25, 3), (2.0, 0.05, 0)]))
    out.append((quality.scaled_sum, (1, 2), [([0.5, -1.2, 2.0], 0.7, -1.3), ([], 0.3, 0.2)]))
    return out


@pytest.mark.parametrize("f, wrt, points", _control_cases(),
                         ids=lambda c: getattr(c, "__name__", ""))
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_hoisting_keeps_every_result_bit_for_bit(f, wrt, points, mode, monkeypatch):
    """The same operation on the same operands, moved: not one bit changes."""
    from s2sad import api
    from s2sad.opt import passes

    def compiled():
        api._cache.clear()
        api._ir_cache.clear()
        try:
            return s2sad.grad(f, wrt=wrt, mode=mode)
        except s2sad.S2SADError:
            return None  # forward mode refuses list inputs

    hoisted = compiled()
    if hoisted is None:
        pytest.skip("no gradient in this mode")
    monkeypatch.setattr(passes, "hoist_invariants", lambda fn: fn)
    plain = compiled()
    api._cache.clear()
    api._ir_cache.clear()
    if f in (quality.rk4, quality.scaled_sum):  # the comparison compares two modules
        assert hoisted.source != plain.source
    for point in points:
        assert _bits(hoisted(*point)) == _bits(plain(*point))


# -- 4. the algebra a person does ------------------------------------------------------------


def test_each_identity_is_proved_by_sympy():
    """The derivative each marked expression takes (s2sad/opt/identities.py) is the
    derivative of the expression as written, in exact arithmetic."""
    sp = pytest.importorskip("sympy")
    z, y, m = sp.symbols("z y m", real=True)
    s = 1 / (1 + sp.exp(-z))
    assert sp.simplify(sp.diff(sp.log(s), z) - (1 - s)) == 0
    assert sp.simplify(sp.diff(sp.log(1 - s), z) - (-s)) == 0
    loss = y * sp.log(s) + (1 - y) * sp.log(1 - s)
    assert sp.simplify(sp.diff(loss, z) - (y - s)) == 0
    assert sp.simplify(sp.diff(loss, y) - z) == 0
    zs = sp.symbols("z0:4", real=True)
    e = [sp.exp(zi - m) for zi in zs]
    lse = sp.log(sum(e)) + m
    assert sp.simplify(sp.diff(lse, m)) == 0  # for any m: the max's adjoint is zero
    for zi, ei in zip(zs, e, strict=True):
        assert sp.simplify(sp.diff(lse, zi) - ei / sum(e)) == 0


def _without_identities(monkeypatch, f, **kw):
    from s2sad import api, pipeline

    api._cache.clear()
    api._ir_cache.clear()
    monkeypatch.setattr(pipeline, "fuse_identities", lambda fn: fn)
    try:
        return getattr(s2sad, kw.pop("kind", "grad"))(f, **kw)
    finally:
        monkeypatch.undo()
        api._cache.clear()
        api._ir_cache.clear()


def _exact_sigmoid(z):
    import mpmath
    return 1 / (1 + mpmath.exp(-mpmath.mpf(float(z))))


def _rel_errors(got, exact):
    import mpmath
    out = []
    for g, e in zip(np.ravel(got), exact, strict=True):
        if not np.isfinite(g):
            out.append(math.inf)
        else:
            out.append(float(abs(mpmath.mpf(float(g)) - e) / max(abs(e), mpmath.mpf(1e-300))))
    return np.array(out)


EXTREME = np.array([-800.0, -40.0, -20.0, -3.0, -1e-8, 0.0, 0.5, 3.0, 20.0, 40.0, 800.0])


@pytest.mark.parametrize("f, exact", [
    (quality.log_sigmoid_sum, lambda z: 1 - _exact_sigmoid(z)),
    (quality.log1m_sigmoid_sum, lambda z: -_exact_sigmoid(z)),
], ids=["log_sigmoid", "log1m_sigmoid"])
def test_log_sigmoid_gradients_are_at_least_as_accurate(f, exact, monkeypatch):
    pytest.importorskip("mpmath")
    new, old = s2sad.grad(f), _without_identities(monkeypatch, f)
    want = [exact(z) for z in EXTREME]
    with np.errstate(all="ignore"):
        err_new, err_old = _rel_errors(new(EXTREME), want), _rel_errors(old(EXTREME), want)
    assert np.all(err_new <= err_old + 4e-16), (err_new, err_old)
    assert np.all(np.isfinite(err_new))  # where the chain divided 0 by 0, or inf by inf
    assert not np.all(np.isfinite(err_old))  # (the comparison can fail)
    assert "np.log" not in _body(new.source, f"grad_{f.__name__}")


def test_cross_entropy_gradient_is_y_minus_p(monkeypatch):
    pytest.importorskip("mpmath")
    f = quality.cross_entropy_of_logits
    new = s2sad.grad(f, wrt=(0, 1))
    old = _without_identities(monkeypatch, f, wrt=(0, 1))
    body = _body(new.source, "grad_cross_entropy_of_logits")
    assert "np.log" not in body and body.count("np.exp") == 1 and "/ (1.0 -" not in body
    for y in (np.zeros_like(EXTREME), np.ones_like(EXTREME), np.full_like(EXTREME, 0.3)):
        want_z = [y[i] - _exact_sigmoid(z) for i, z in enumerate(EXTREME)]
        with np.errstate(all="ignore"):
            (gz_new, gy_new), (gz_old, _) = new(EXTREME, y), old(EXTREME, y)
            err_new, err_old = _rel_errors(gz_new, want_z), _rel_errors(gz_old, want_z)
        assert np.all(err_new <= err_old + 4e-16), (err_new, err_old)
        assert np.all(np.isfinite(err_new))
        # d/dy = log σ(z) - log(1 - σ(z)) = z, exactly
        assert np.array_equal(gy_new, EXTREME)
    # the value is computed as the user wrote it: bit for bit the same
    y = np.full(3, 0.25)
    z = np.array([-1.5, 0.2, 2.5])
    vg_new = s2sad.value_and_grad(f, wrt=(0, 1))(z, y)
    vg_old = _without_identities(monkeypatch, f, wrt=(0, 1), kind="value_and_grad")(z, y)
    assert vg_new[0] == vg_old[0]


def test_logistic_regression_gradient_is_what_a_person_writes():
    g = s2sad.grad(quality.logistic_loss)
    body = _body(g.source, "grad_logistic_loss")
    assert "np.log" not in body and body.count("np.exp") == 1
    assert "(y - " in body  # σ(z) - y, up to the sign taken into the 1/N
    h = s2sad.hessian(quality.logistic_loss)
    for seed in (3, 4):
        w, X, y = _logistic_point(seed)
        np.testing.assert_allclose(g(w, X, y), _fd(quality.logistic_loss, w, X, y),
                                   rtol=1e-6, atol=1e-8)
        p = 1.0 / (1.0 + np.exp(-(X @ w)))
        want = X.T @ ((p * (1.0 - p))[:, None] * X) / len(y)  # Xᵀ diag(σ') X / N
        np.testing.assert_allclose(h(w, X, y), want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_scalar_cross_entropy_in_both_modes(mode):
    f = quality.scalar_cross_entropy
    g = s2sad.grad(f, wrt=(0, 1), mode=mode)
    body = _body(g.source, "grad_scalar_cross_entropy")
    assert "math.log" not in body  # neither log is needed: p - y, and z
    for z, y in ((0.3, 1.0), (-2.5, 0.0), (4.0, 0.7), (-0.1, 0.2)):
        p = 1.0 / (1.0 + math.exp(-z))
        gz, gy = g(z, y)
        assert gz == pytest.approx(p - y, rel=1e-12, abs=1e-15)
        assert gy == pytest.approx(-z, rel=1e-12)


def test_softmax_gradient_skips_the_max(monkeypatch):
    pytest.importorskip("mpmath")
    import mpmath
    f = quality.softmax_cross_entropy
    g = s2sad.grad(f)
    old = _without_identities(monkeypatch, f)
    assert "_extreme_mask" not in g.source and "_extreme_mask" in old.source
    assert "np.log" not in _body(g.source, "grad_softmax_cross_entropy")  # nor its value
    for z, k in ((np.array([0.5, -1.0, 2.0, 2.0]), 1), (np.array([700.0, 0.0, -700.0]), 0),
                 (np.array([1e-3, 2e-3, -5.0]), 2)):
        zs = [mpmath.mpf(float(v)) for v in z]
        total = sum(mpmath.exp(v) for v in zs)
        want = [mpmath.exp(v) / total - (1 if i == k else 0) for i, v in enumerate(zs)]
        got, before = g(z, k), old(z, k)
        err_new = np.array([float(abs(mpmath.mpf(float(a)) - b)) for a, b in zip(got, want,
                                                                                   strict=True)])
        err_old = np.array([float(abs(mpmath.mpf(float(a)) - b)) for a, b in zip(before, want,
                                                                                   strict=True)])
        assert np.all(err_new <= err_old + 4e-16), (err_new, err_old)
        if k == 1:  # a tie at the max: the adjoint through np.max was split between them
            assert np.all(err_new < 1e-15)


# -- 5. the cheaper mode ---------------------------------------------------------------------


def test_one_number_through_a_loop_is_differentiated_in_forward_mode():
    from tests.fixtures import control
    g = s2sad.grad(control.loop_with_branch)
    assert "(forward mode)" in g.source and "Forward mode was chosen" in g.source
    assert "tape" not in _body(g.source, "grad_loop_with_branch").split('"""')[2]
    for x, n in ((0.3, 6), (-0.4, 5), (1.7, 9)):
        fd = (control.loop_with_branch(x + 1e-6, n) - control.loop_with_branch(x - 1e-6, n)) / 2e-6
        assert g(x, n) == pytest.approx(fd, rel=1e-6)
        assert g(x, n) == pytest.approx(s2sad.grad(control.loop_with_branch, mode="reverse")(x, n),
                                        rel=1e-14)
    vg = s2sad.value_and_grad(control.loop_with_branch)
    assert "Forward mode was chosen" in vg.source
    assert vg(0.3, 6)[0] == control.loop_with_branch(0.3, 6)


@pytest.mark.parametrize("f, wrt, mode", [
    (quality.rk4, (0, 1), "reverse"),  # two inputs: reverse
    (quality.logistic_loss, 0, "reverse"),  # arrays: an array input needs a sweep per item
    (quality.scalar_cross_entropy, 0, "reverse"),  # no loop: the two cost the same
])
def test_the_mode_stays_reverse_where_forward_is_not_provably_cheaper(f, wrt, mode):
    src = s2sad.grad(f, wrt=wrt).source
    assert f"({mode} mode)" in src and "was chosen" not in src


def test_identities_apply_only_where_they_hold():
    """Two different sigmoids, or a max per column: the chain rule, still correct."""
    rng = np.random.default_rng(7)
    z, y = rng.standard_normal(5), rng.uniform(size=5)
    g = s2sad.grad(quality.two_sigmoids, wrt=(0, 1))
    assert "np.log" in _body(g.source, "grad_two_sigmoids")  # its y-derivative needs them
    gz, gy = g(z, y)
    np.testing.assert_allclose(gz, _fd(lambda t: quality.two_sigmoids(t, y), z), rtol=1e-6)
    np.testing.assert_allclose(gy, _fd(lambda t: quality.two_sigmoids(z, t), y), rtol=1e-6)
    Z = rng.standard_normal((4, 3))
    h = s2sad.grad(quality.lse_by_rows)
    assert "_extreme_mask" in h.source
    fd = _fd(lambda t: quality.lse_by_rows(t.reshape(4, 3)), Z.ravel()).reshape(4, 3)
    np.testing.assert_allclose(h(Z), fd, rtol=1e-6, atol=1e-9)


def test_a_product_is_not_computed_only_to_check_that_it_is_a_number():
    g = s2sad.grad(quality.squared_norm, wrt=(0, 1, 2))
    body = _body(g.source, "grad_squared_norm")
    assert "r @ r" not in body and "_matmul_seed(r, r)" in body
    # once the seed has checked that r is a vector, r @ r's adjoint is written directly:
    # the rank-dispatching helpers remain only for X @ w, whose ranks are unknown
    assert body.count("_matmul_bar_") == 2 and "_matmul_bar_a(_t1, r, r)" not in body
    for seed in (0, 1):
        w, X, y = _logistic_point(seed)
        gw, gX, gy = g(w, X, y)
        np.testing.assert_allclose(gw, _fd(quality.squared_norm, w, X, y), rtol=1e-6)
        np.testing.assert_allclose(gy, _fd(lambda t, w=w, X=X: quality.squared_norm(w, X, t), y),
                                   rtol=1e-6, atol=1e-9)
        fX = _fd(lambda t, w=w, X=X, y=y: quality.squared_norm(w, t.reshape(X.shape), y),
                 X.ravel())
        np.testing.assert_allclose(gX, fX.reshape(X.shape), rtol=1e-6, atol=1e-9)
    # a matrix output has no gradient: the check reads the operands' ranks
    W, Y = np.ones((3, 2)), np.ones((40, 2))
    with pytest.raises(ValueError, match="scalar output"):
        g(W, _logistic_point(0)[1], Y)


def test_softmax_as_loops_skips_the_max(monkeypatch):
    pytest.importorskip("mpmath")
    import mpmath
    f = quality.softmax_loops
    g = s2sad.grad(f)
    old = _without_identities(monkeypatch, f)
    assert "m_bar" in old.source and "m_bar" not in g.source
    for z, k in (([0.5, -1.0, 2.0, 2.0], 1), ([700.0, 0.0, -700.0, 3.0], 0),
                 ([1e-3, 2e-3, -5.0], 2)):
        zs = [mpmath.mpf(v) for v in z]
        total = sum(mpmath.exp(v) for v in zs)
        want = [mpmath.exp(v) / total - (1 if i == k else 0) for i, v in enumerate(zs)]
        err_new = [float(abs(mpmath.mpf(a) - b)) for a, b in zip(g(z, k), want, strict=True)]
        err_old = [float(abs(mpmath.mpf(a) - b)) for a, b in zip(old(z, k), want, strict=True)]
        assert all(n <= o + 4e-16 for n, o in zip(err_new, err_old, strict=True))
        assert max(err_new) < 1e-15


def test_the_loop_identity_needs_the_sum_alone():
    f = quality.shift_used_twice
    g = s2sad.grad(f, wrt=(0, 1))
    z, c = [0.3, -0.2, 1.1], 0.7
    gz, gc = g(z, c)
    fc = (f(z, c + 1e-6) - f(z, c - 1e-6)) / 2e-6
    assert gc == pytest.approx(fc, rel=1e-6)  # m = c² still carries the second sum's
    for i in range(3):
        up, down = list(z), list(z)
        up[i] += 1e-6
        down[i] -= 1e-6
        assert gz[i] == pytest.approx((f(up, c) - f(down, c)) / 2e-6, rel=1e-6)


def test_a_stopped_max_is_not_recorded_where_it_won():
    """The max of softmax as loops carries no derivative (the log-sum-exp identity stops
    both its uses), so the loop keeps its plain running max: no index of the winner
    (`last`), no item read again after the loop."""
    f = quality.softmax_loops
    g = s2sad.grad(f)
    assert "last" not in g.source
    for z, k in (([0.5, -1.0, 2.0, 2.0], 1), ([-3.0, -0.25, -7.5], 2), ([4.0], 0)):
        for i, gi in enumerate(g(z, k)):
            up, down = list(z), list(z)
            up[i] += 1e-6
            down[i] -= 1e-6
            assert gi == pytest.approx((f(up, k) - f(down, k)) / 2e-6, rel=1e-6, abs=1e-8)
