"""Binomial checkpointing (``checkpoints=K``): the same gradients, bit for bit, in
bounded memory, with the number of recomputed passes of Griewank's schedule.

Every gradient is compared with the unchecked reverse-mode gradient (exact equality:
the same operations on the same numbers) and with central finite differences.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

import s2sad
from s2sad.errors import S2SADError
from s2sad.ir import interpret, verify
from s2sad.pipeline import derive
from s2sad.runtime import function as helper
from tests.fixtures import control as C
from tests.oracles import assert_close, gradient
from tests.test_control_flow import CASES, IDS, STEP, _float_wrt

# K = 2 runs by default; 1, 3 and 10 in the slow layer (the suite stays fast)
KS = (pytest.param(1, marks=pytest.mark.slow), 2, pytest.param(3, marks=pytest.mark.slow),
      pytest.param(10, marks=pytest.mark.slow))


def lotka_volterra(alpha, beta, x0, y0, n):
    """RK4 steps of the Lotka-Volterra equations: a carried state of two floats."""
    dt, delta, gamma = 0.01, 0.4, 0.8
    x, y = x0, y0
    for _ in range(n):
        k1x, k1y = alpha * x - beta * x * y, delta * x * y - gamma * y
        x2, y2 = x + 0.5 * dt * k1x, y + 0.5 * dt * k1y
        k2x, k2y = alpha * x2 - beta * x2 * y2, delta * x2 * y2 - gamma * y2
        x3, y3 = x + 0.5 * dt * k2x, y + 0.5 * dt * k2y
        k3x, k3y = alpha * x3 - beta * x3 * y3, delta * x3 * y3 - gamma * y3
        x4, y4 = x + dt * k3x, y + dt * k3y
        k4x, k4y = alpha * x4 - beta * x4 * y4, delta * x4 * y4 - gamma * y4
        x = x + dt / 6 * (k1x + 2 * k2x + 2 * k3x + k4x)
        y = y + dt / 6 * (k1y + 2 * k2y + 2 * k3y + k4y)
    return x * y


def damped_logistic(r, x, n):
    """A nonlinear recurrence, with the index read in the body."""
    for i in range(n):
        x = r * x * (1 - x) + 0.01 * math.sin(x + 0.1 * i)
    return x


def counter_loops(x, m, n):
    """Nested loops (each level checkpointed) and a value from outside read in both."""
    s = x
    for _ in range(n):
        t = 0.0
        for j in range(m):
            t = t * 0.5 + math.sin(s + j * x)
        s = s + 0.1 * t * x
    return s


def prefix_in_place(xs, n):
    """A carried list changed in place: a snapshot must not see the later changes."""
    ys = list(xs)
    for i in range(1, n):
        ys[i] = ys[i] * ys[i - 1] + 1
    return sum(ys)


def rolling_in_place(xs, n):
    """Items written again and again: a restored snapshot must be the list as it was."""
    ys = list(xs)
    for i in range(n):
        ys[i % 3] = math.sin(ys[(i + 1) % 3]) * ys[i % 3] + 0.5
    return ys[0] * ys[1] + ys[2]


def over_a_list(xs, a):
    """A loop over a sequence: its trip count is known when it starts."""
    s = a
    for v in xs:
        s = s * v + math.sin(s)
    return s


def heat(u, k, n):
    """An explicit heat-equation stepper: an array carried, and updated in place."""
    for _ in range(n):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2 * u[1:-1] + u[:-2]
        u = u + k * lap
        u *= 1 - 0.01 * k
    return np.sum(u ** 2)


# (function, float wrt, arguments but the trip count (last))
TRIPS = [
    (lotka_volterra, (0, 1, 2, 3), (1.1, 0.4, 1.3, 0.7)),
    (damped_logistic, (0, 1), (2.5, 0.3)),
    (counter_loops, (0,), (0.7, 3)),
    (C.fibonacci_like, (0, 1), (0.5, -1.2)),
    (C.sum_of_sines, (0,), (-0.4,)),
    (C.reverse_range, (0,), (0.6,)),
    (C.kept_value_in_a_branch, (0,), (-0.3,)),
]


def _exact(got, want):
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a == b or (math.isnan(a) and math.isnan(b)), (got, want)


@pytest.mark.parametrize("f, wrt, points", CASES, ids=IDS)
@pytest.mark.parametrize("k", KS)
def test_control_flow_cases_bit_identical(f, wrt, points, k):
    plain = s2sad.grad(f, wrt=wrt, mode="reverse")
    checked = s2sad.grad(f, wrt=wrt, mode="reverse", checkpoints=k)
    for point in points:
        _exact(checked(*point), plain(*point))
        g_of_floats, floats = _float_wrt(f, wrt, point)
        got = checked(*point)
        assert_close(got if isinstance(got, tuple) else (got,),
                     gradient(g_of_floats, floats, h=STEP), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("f, wrt, args", TRIPS, ids=[t[0].__name__ for t in TRIPS])
@pytest.mark.parametrize("k", KS)
def test_trip_counts_bit_identical_and_finite_differences(f, wrt, args, k):
    plain = s2sad.grad(f, wrt=wrt, mode="reverse")
    checked = s2sad.grad(f, wrt=wrt, mode="reverse", checkpoints=k)
    vg = s2sad.value_and_grad(f, wrt=wrt, mode="reverse", checkpoints=k)
    for n in sorted({0, 1, k, k + 1, 100, 1000 if f is not counter_loops else 30}):
        point = (*args, n)
        got = checked(*point)
        _exact(got, plain(*point))
        value, also = vg(*point)
        assert value == f(*point)
        _exact(also, got)
        if n > 100:  # (sin(1000 x) and the like: finite differences are noise there)
            continue
        g_of_floats, floats = _float_wrt(f, wrt, point)
        assert_close(got if isinstance(got, tuple) else (got,),
                     gradient(g_of_floats, floats), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("k", KS)
def test_containers_changed_in_place_and_sequences(k):
    xs = [0.9, 1.1, -0.7, 0.5, 0.3]
    for f, wrt, args in ((prefix_in_place, (0,), (xs, 5)), (rolling_in_place, (0,), (xs, 13)),
                         (over_a_list, (0, 1), (xs, 0.3))):
        want = s2sad.grad(f, wrt, mode="reverse")(*args)
        got = s2sad.grad(f, wrt, mode="reverse", checkpoints=k)(*args)
        assert got == want
        for j in range(len(xs)):  # the list's gradient, item by item, by finite differences
            def item(t, j=j, f=f, args=args):
                ys = list(args[0])
                ys[j] = t
                return f(ys, *args[1:])
            assert_close(got[0][j], gradient(item, [xs[j]])[0], rtol=1e-6, atol=1e-9)
    u = np.linspace(0.0, 1.0, 7) ** 2
    want = s2sad.grad(heat, (0, 1), mode="reverse")(u, 0.2, 9)
    got = s2sad.grad(heat, (0, 1), mode="reverse", checkpoints=k)(u, 0.2, 9)
    assert np.array_equal(got[0], want[0]) and got[1] == want[1]
    assert_close(got[1], gradient(lambda t: heat(u, t, 9), [0.2])[0], rtol=1e-6)


def smooth(u, k, n):
    """An array carried, never written into: the array API target's kind of loop."""
    for _ in range(n):
        u = u + k * np.sin(u) * 0.1
    return np.sum(u * u)


@pytest.mark.parametrize("k", KS)
def test_array_api_target_with_checkpoints(k):
    xps = pytest.importorskip("array_api_strict", reason="pip install -e '.[array-api]'")
    u = np.linspace(-1.0, 1.0, 5)
    want = s2sad.grad(smooth, (0, 1), mode="reverse", target="array_api")(xps.asarray(u),
                                                                          0.3, 12)
    g = s2sad.grad(smooth, (0, 1), mode="reverse", checkpoints=k, target="array_api")
    got = g(xps.asarray(u), 0.3, 12)  # (its arrays have no .copy(): never copied)
    assert np.array_equal(np.asarray(got[0]), np.asarray(want[0]))
    assert float(got[1]) == float(want[1])
    assert_close(float(got[1]), gradient(lambda t: smooth(u, t, 12), [0.3])[0], rtol=1e-6)


def test_vjp_with_checkpoints_is_the_vjp():
    plain = s2sad.vjp(lotka_volterra, wrt=(0, 1))
    checked = s2sad.vjp(lotka_volterra, wrt=(0, 1), checkpoints=3)
    for n in (0, 5, 40):
        value, ct = checked(1.1, 0.4, 1.3, 0.7, n, -0.7)
        want_value, want = plain(1.1, 0.4, 1.3, 0.7, n, -0.7)
        assert value == want_value
        _exact(ct, want)


def test_interpreter_runs_the_checkpointed_ir():
    lifted = s2sad.lift(lotka_volterra)
    from s2sad.ad.reverse import CHECKPOINTS
    token = CHECKPOINTS.set(2)
    try:
        fn = derive(lifted, "grad", (0, 1))
    finally:
        CHECKPOINTS.reset(token)
    verify(fn)
    assert any(o.prim == "ckpt_restore" for o in _ops(fn.body))
    plain = s2sad.grad(lotka_volterra, (0, 1), mode="reverse")
    _exact(interpret(fn, 1.1, 0.4, 1.3, 0.7, 9), plain(1.1, 0.4, 1.3, 0.7, 9))


def _ops(block):
    for o in block.ops:
        yield o
        for r in o.regions:
            yield from _ops(r)


def test_generated_code_has_the_body_once_per_role_and_no_tape():
    src = s2sad.grad(lotka_volterra, (0, 1), mode="reverse", checkpoints=10).source
    assert "_Checkpoints(range(n), 10)" in src
    src = src[src.index("def grad_lotka_volterra"):]  # the function, not the helper
    assert ".append(" not in src and "tape" not in src
    # `for _ in range(n)`: the checkpointed loops read their index, so it gets a name (the
    # advance inside the reverse loop must not rebind the reverse loop's index)
    assert "for _ in" not in src and "restore(_)" not in src
    assert "for i in range(n):" in src and "for i_2 in range(j, i_1):" in src
    assert src.count(".take(") == 2  # the primal sweep and the advance
    assert src.count(".restore(") == 1
    # the body's four slope evaluations: in the primal loop, the advance, the reverse step
    assert src.count("alpha * x") <= 3 * 4 + 4
    assert "import s2sad" not in src


def test_default_is_the_tape():
    src = s2sad.grad(lotka_volterra, (0, 1), mode="reverse").source
    assert "_Checkpoints" not in src and ".append(" in src


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "10"])
def test_checkpoints_must_be_a_positive_int(k):
    with pytest.raises(ValueError, match="checkpoints must be"):
        s2sad.grad(C.taylor_exp, checkpoints=k)


def newton_sqrt(a, tol):
    """A while loop whose number of passes depends on the data (dozens for small tol)."""
    x, k = a, 0
    while abs(x * x - a) > tol * a and k < 200:
        x = 0.5 * (x + a / x) + 0.0 * k
        k += 1
    return x


def slow_spiral(r, steps):
    """A while loop that runs `steps` passes (an online schedule, its count unknown)."""
    x, y, t = r, 0.0, 0
    while t < steps:
        x, y = x * math.cos(0.01) - y * math.sin(0.01) * r, y * 0.999 + x * 0.01
        t += 1
    return x * x + y


@pytest.mark.parametrize("k", KS)
def test_while_loops_online_schedule(k):
    """A while loop's store learns its number of passes only when the reverse sweep
    starts: evenly spaced snapshots while it runs (twice as far apart when K are kept),
    then the binomial schedule between them.  Same gradients, at most K snapshots."""
    g = s2sad.grad(slow_spiral, 0, mode="reverse", checkpoints=k)
    counting = g.__globals__["_Checkpoints"] = _Counting(g.__globals__["_Checkpoints"])
    for steps in sorted({0, 1, k, k + 1, 100, 257}):
        plain = s2sad.grad(slow_spiral, 0, mode="reverse")(0.8, steps)
        counting.stores.clear()
        got = g(0.8, steps)
        assert got == plain
        assert_close(got, gradient(lambda r, s=steps: slow_spiral(r, s), [0.8])[0],
                     rtol=1e-6, atol=1e-9)
        (store,) = counting.stores
        assert store.peak <= k
        assert store.takes - steps == store.recomputed  # every pass recomputed is counted
    for a in (2.0, 0.3, 1e6):
        plain = s2sad.grad(newton_sqrt, 0, mode="reverse")(a, 1e-14)
        assert s2sad.grad(newton_sqrt, 0, mode="reverse", checkpoints=k)(a, 1e-14) == plain
        assert_close(plain, 0.5 / math.sqrt(a), rtol=1e-9)


def _numba_source(f, wrt, setting):
    """The Numba target's module for grad of f under ``checkpoints`` setting (generating
    Numba source needs no numba)."""
    from s2sad.ad.reverse import CHECKPOINTS
    from s2sad.pipeline import generate

    token = CHECKPOINTS.set(setting)
    try:
        fn = derive(s2sad.lift(f), "grad", wrt)
    finally:
        CHECKPOINTS.reset(token)
    return generate([fn], target="numba")


def test_numba_target_refuses_checkpointing_an_array_with_a_location():
    with pytest.raises(S2SADError, match="cannot be compiled for the Numba target") as info:
        _numba_source(heat, (0, 1), 4)
    assert info.value.lineno == heat.__code__.co_firstlineno + 2  # the loop
    assert "row of numbers" in info.value.why and "without" in info.value.hint
    from s2sad.pipeline import generate  # the hint's two ways out both work
    generate([derive(s2sad.lift(heat), "grad", (0, 1))], target="numba")
    assert "_Checkpoints(range(n), 4)" in s2sad.grad(heat, (0, 1), mode="reverse",
                                                     checkpoints=4).source


def test_numba_checkpoints_are_rows_of_one_float64_array():
    from s2sad.checkpointing import TapeBudget

    src = _numba_source(lotka_volterra, (0, 1), 10)
    body = src.split("def grad_lotka_volterra")[1]
    assert "class _Checkpoints" not in src and "tape" not in body
    assert "checkpoints = _ckpt_new(0, n, 1, columns=2, k=10)" in body
    assert body.count("_ckpt_take(checkpoints,") == 2  # the primal sweep and the advance
    assert body.count("_ckpt_restore(checkpoints,") == 1
    assert "checkpoints[row, 3] = x" in body and "checkpoints[row, 4] = y" in body
    assert body.count("alpha * x") <= 3 * 4 + 4  # the body once per role
    assert src.count("@numba.njit(cache=True)") == 5  # grad and the four helpers
    src = _numba_source(slow_spiral, (0,), TapeBudget(4096))  # a while loop's: step 0
    assert "_ckpt_new(0, 0, 0, columns=3, budget=4096)" in src
    assert "int(checkpoints[row_1, 5])" in src  # the int t, kept as a float, exact


@pytest.mark.slow  # Numba compiles each gradient for seconds
@pytest.mark.parametrize("f, wrt, args, options, trips", [
    (lotka_volterra, (0, 1, 2, 3), (1.1, 0.4, 1.3, 0.7), {"checkpoints": 3},
     (0, 1, 3, 4, 1000)),
    (slow_spiral, (0,), (-0.8,), {"checkpoints": "auto", "tape_budget": 1000},
     (0, 1, 12, 13, 1000)),
    (counter_loops, (0,), (0.7, 3), {"checkpoints": 2}, (0, 1, 2, 3, 30)),
], ids=["for", "while-auto", "nested"])
def test_numba_target_with_checkpoints_is_bit_identical(f, wrt, args, options, trips):
    pytest.importorskip("numba", reason="the Numba target needs numba "
                                        "(pip install 's2sad[numba]')")
    compiled = s2sad.grad(f, wrt, mode="reverse", target="numba", **options)
    python = s2sad.grad(f, wrt, mode="reverse", **options)
    plain = s2sad.grad(f, wrt, mode="reverse")
    for n in trips:
        got = compiled(*args, n)
        _exact(got, python(*args, n))
        _exact(got, plain(*args, n))
    g_of_floats, floats = _float_wrt(f, wrt, (*args, trips[-2]))
    got = compiled(*args, trips[-2])
    assert_close(got if isinstance(got, tuple) else (got,), gradient(g_of_floats, floats),
                 rtol=1e-6, atol=1e-9)


def _njit_helpers():
    from s2sad.codegen import njit

    namespace = {"np": np}
    for name in ("_ckpt_new", "_ckpt_split", "_ckpt_take", "_ckpt_restore"):
        exec(njit.HELPERS[name], namespace)  # (plain Python too)
    return namespace


@pytest.mark.parametrize("online", [False, True], ids=["for", "while"])
def test_numba_schedule_is_the_python_schedule(online):
    """The Numba helpers, run as plain Python, keep and restore the same snapshots as
    the Python target's _Checkpoints, recompute as many passes, and keep at most K."""
    nb, store_of = _njit_helpers(), helper("_Checkpoints")
    for passes in (range(0), range(1), range(7), range(3, 40, 2), range(30, -7, -3),
                   range(257)):
        for k in (1, 2, 3, 5, 10, 300):
            store = store_of(None if online else passes, k)
            ck = nb["_ckpt_new"](0, 0, 0, 1, k) if online else nb["_ckpt_new"](
                passes.start, passes.stop, passes.step, 1, k)
            index = list(range(len(passes))) if online else list(passes)

            def take(m, store=store, ck=ck, k=k):
                store.take(m, (m,))
                row = nb["_ckpt_take"](ck, m)
                if row:
                    ck[row, 3] = m
                assert int(ck[0, 4]) == len(store.stack) <= k
            for m in index:
                take(m)
            for at in reversed(range(len(index))):
                j, (value,) = store.restore(index[at])
                j2, row = nb["_ckpt_restore"](ck, index[at])
                assert (j2, ck[row, 3]) == (j, value)
                for m in index[index.index(j):at]:
                    take(m)
            assert int(ck[0, 5]) == store.recomputed


def test_numba_budget_rows():
    nb = _njit_helpers()
    ck = nb["_ckpt_new"](0, 10**6, 1, 2, budget=8000)  # rows of 10 floats: 100 of them
    assert ck.shape == (101, 10) and ck[0, 0] == 100
    assert nb["_ckpt_new"](0, 5, 1, 2, budget=10**9).shape == (6, 10)  # no more than n
    assert nb["_ckpt_new"](0, 10**6, 1, 12, budget=1).shape == (2, 15)  # at least one


# -- the schedule: recomputed passes and snapshots, counted in the generated code ----------
def _binomial(s, r):
    return math.comb(s + r, s) if r >= 0 else 0


def _revolve_minimum(n, k):
    """Griewank and Walther's minimum of forward passes to reverse n passes with k
    snapshots: t = r n - C(k + r, k + 1), r the least with C(k + r, k) >= n."""
    if n <= 1:
        return 0
    r = 0
    while _binomial(k, r) < n:
        r += 1
    return r * n - _binomial(k + 1, r - 1)


@cache
def _fewest(n, k, swept):
    """The fewest passes recomputed to reverse n passes with k snapshots (the first
    holding pass 0), by dynamic programming over where the next snapshot goes: an
    independent check of the closed form.  ``swept``: the passes were all just run once
    (the primal sweep), so advancing to the next snapshot costs nothing the first time."""
    if n <= 1:
        return 0
    if k == 1:
        return n * (n - 1) // 2
    return min((0 if swept else m) + _fewest(n - m, k - 1, swept) + _fewest(m, k, False)
               for m in range(1, n))


class _Counting:
    """Wraps a generated module's _Checkpoints: counts the passes the generated code runs
    again (a take in the reverse sweep) and the most snapshots held at once."""

    def __init__(self, base):
        self.base, self.stores = base, []

    def __call__(self, passes, k=None, budget=None):
        store = self.base(passes, k, budget)
        store.takes, store.peak, store.swept = 0, 0, 0
        passes = passes if passes is not None else range(-1)  # (a while loop's: no sweep)
        take = store.take

        def counted(i, values):
            store.takes += 1
            take(i, values)
            store.peak = max(store.peak, len(store.stack))
            if store.takes == len(passes):  # the primal sweep's last pass
                store.swept = store.stack[-1][0]  # ran up to its last snapshot for nothing
        store.take = counted
        self.stores.append(store)
        return store


@pytest.mark.parametrize("k", [1, 2, 3, 5, 10])
def test_recomputed_passes_are_the_binomial_optimum(k):
    g = s2sad.grad(damped_logistic, (0, 1), mode="reverse", checkpoints=k)
    counting = g.__globals__["_Checkpoints"] = _Counting(g.__globals__["_Checkpoints"])
    for n in [0, 1, 2, k, k + 1, 7, 20, 41, 60, 100]:
        counting.stores.clear()
        g(2.9, 0.3, n)
        (store,) = counting.stores
        recomputed = store.takes - n  # the primal sweep takes each pass once
        assert recomputed == store.recomputed
        assert store.peak <= k
        # the primal sweep ran to the last snapshot it took: with it, the schedule costs
        # exactly revolve's minimum
        assert recomputed + store.swept == _revolve_minimum(n, k)
        if n <= 60:
            assert _revolve_minimum(n, k) == _fewest(n, k, False)
            # never more than revolve's passes, never fewer than any schedule after a sweep
            assert _fewest(n, k, True) <= recomputed <= _revolve_minimum(n, k)


def test_schedule_keeps_at_most_k_snapshots_for_long_loops():
    store_of = helper("_Checkpoints")
    for n, k in [(10_000, 10), (10_000, 100), (5_000, 1000)]:
        store, peak = store_of(range(n), k), 0
        for i in range(n):
            store.take(i, (i,))
            peak = max(peak, len(store.stack))
        swept = store.stack[-1][0]
        for i in reversed(range(n)):
            j, v = store.restore(i)
            assert v == (j,) and j <= i
            for m in range(j, i):
                store.take(m, (m,))
                peak = max(peak, len(store.stack))
        assert peak <= k
        assert store.recomputed + swept == _revolve_minimum(n, k)


# -- the command line ------------------------------------------------------------------------
def test_cli_checkpoints_writes_a_standalone_module_with_the_same_gradient(tmp_path):
    from click.testing import CliRunner
    from s2sad_cli.main import cli

    from tests.srcmod import load_source

    src = "tests/fixtures/control.py"
    for command, name, extra in (("grad", "grad_kept_value_in_a_branch", ()),
                                 ("vjp", "vjp_kept_value_in_a_branch", (0.8,))):
        out = tmp_path / f"{command}.py"
        result = CliRunner().invoke(cli, [command, src, "-f", "kept_value_in_a_branch",
                                          "--wrt", "x", "--checkpoints", "3", "-o", str(out)])
        assert result.exit_code == 0, result.output
        text = out.read_text()
        assert "--checkpoints 3" in text and "_Checkpoints(range(n), 3)" in text
        got = getattr(load_source(text, "ckpt_cli"), name)(-0.3, 17, *extra)
        reverse = {"mode": "reverse"} if command == "grad" else {}  # (auto: forward here)
        want = getattr(s2sad, command)(C.kept_value_in_a_branch, 0, **reverse)(-0.3, 17, *extra)
        _exact(got, want)
    assert CliRunner().invoke(cli, ["grad", src, "--checkpoints", "0"]).exit_code == 2


# -- checkpoints="auto": K from a byte budget, picked when the loop starts -------------------
def _counted(g, *args):
    """Count the stores of the function ``g`` runs for ``args`` (a gradient of arrays is
    compiled for their shapes at its first call: that function's module is patched)."""
    fn = g.specialize(*args) if hasattr(g, "specialize") else g
    counting = fn.__globals__["_Checkpoints"] = _Counting(fn.__globals__["_Checkpoints"])
    return counting


@pytest.mark.parametrize("budget", [1, 100, "1kB", "64MB"])
def test_auto_budget_is_bit_identical_to_the_tape(budget):
    for f, wrt, args in TRIPS[:4]:
        plain = s2sad.grad(f, wrt=wrt, mode="reverse")
        auto = s2sad.grad(f, wrt=wrt, mode="reverse", checkpoints="auto", tape_budget=budget)
        vjp = s2sad.vjp(f, wrt=wrt, checkpoints="auto", tape_budget=budget)
        for n in (0, 1, 2, 17, 60):
            got = auto(*args, n)
            _exact(got, plain(*args, n))
            _exact(vjp(*args, n, 1.0)[1], got)
        g_of_floats, floats = _float_wrt(f, wrt, (*args, 17))
        assert_close(auto(*args, 17) if len(wrt) > 1 else (auto(*args, 17),),
                     gradient(g_of_floats, floats), rtol=1e-6, atol=1e-9)
    u = np.linspace(-1.0, 1.0, 7) ** 3
    want = s2sad.grad(heat, (0, 1), mode="reverse")(u, 0.2, 23)
    got = s2sad.value_and_grad(heat, (0, 1), mode="reverse", checkpoints="auto",
                               tape_budget=budget)(u, 0.2, 23)
    assert got[0] == heat(u, 0.2, 23)
    assert np.array_equal(got[1][0], want[0]) and got[1][1] == want[1]
    assert_close(got[1][1], gradient(lambda t: heat(u, t, 23), [0.2])[0], rtol=1e-6)
    for steps in (0, 5, 40):  # a while loop: the online schedule, K from its first pass
        assert s2sad.grad(slow_spiral, 0, mode="reverse", checkpoints="auto",
                          tape_budget=budget)(-0.8, steps) == s2sad.grad(
            slow_spiral, 0, mode="reverse")(-0.8, steps)


def test_auto_budget_picks_k_from_the_size_of_one_snapshot():
    u = np.linspace(-1.0, 1.0, 7) ** 2  # a snapshot: one array of 7 floats, and its record
    snap = helper("_Checkpoints")._nbytes((u,))
    assert 56 < snap < 56 + 400
    n = 40
    plain = s2sad.grad(heat, (0, 1), mode="reverse")(u, 0.3, n)
    for budget, k in ((1, 1), (snap, 1), (2 * snap - 1, 1), (2 * snap, 2), (3 * snap + 5, 3),
                      (snap * 40, 40), ("64MB", 64_000_000 // snap)):
        g = s2sad.grad(heat, (0, 1), mode="reverse", checkpoints="auto", tape_budget=budget)
        counting = _counted(g, u, 0.3, n)
        got = g(u, 0.3, n)
        assert np.array_equal(got[0], plain[0]) and got[1] == plain[1]
        (store,) = counting.stores
        assert store.k == k and store.peak <= k
        if k >= n:  # the whole tape fits: every pass kept, none recomputed
            assert store.recomputed == 0 and store.takes == n
        else:
            assert store.recomputed > 0
            assert store.recomputed + store.swept == _revolve_minimum(n, k)
    # lotka_volterra carries two floats
    snap = helper("_Checkpoints")._nbytes((1.0, 2.0))
    g = s2sad.grad(lotka_volterra, (0, 1), mode="reverse", checkpoints="auto",
                   tape_budget=5 * snap + 3)
    counting = _counted(g)
    g(1.1, 0.4, 1.3, 0.7, 50)
    assert counting.stores[0].k == 5


@pytest.mark.parametrize("values", [lambda i: (i + 0.5, i * 2.5), lambda i: (i + 0.5,),
                                    lambda i: (np.full(100, i + 0.5),),
                                    lambda i: ([i + 0.5 for _ in range(5)], i * 1.5),
                                    lambda i: (np.full(3000, i + 0.5), np.ones((2, 9)))],
                         ids=["2 floats", "a float", "an array", "a list and a float",
                              "two arrays"])
def test_snapshot_size_is_what_keeping_it_costs(values):
    """The size auto divides the budget by is what a kept snapshot really takes (numbers
    are Python objects, not 8 bytes: with 8, a float state would overrun the budget
    about 15 times): tracemalloc's count of a store holding n snapshots, per snapshot,
    within 10 % under the estimate."""
    import tracemalloc

    store_of, n = helper("_Checkpoints"), 2000
    estimate = store_of._nbytes(values(0))
    tracemalloc.start()
    try:
        store = store_of(range(n), n)
        for i in range(n):
            store.take(i, values(i))
        held = tracemalloc.get_traced_memory()[0] / n
    finally:
        tracemalloc.stop()
    assert len(store.stack) == n
    assert 0.9 * estimate <= held <= estimate, (held, estimate)


def test_auto_budget_that_holds_every_pass_recomputes_nothing():
    g = s2sad.grad(damped_logistic, (0, 1), mode="reverse", checkpoints="auto",
                   tape_budget="1MB")
    counting = _counted(g)
    for n in (1, 10, 1000):
        counting.stores.clear()
        got = g(2.9, 0.3, n)
        _exact(got, s2sad.grad(damped_logistic, (0, 1), mode="reverse")(2.9, 0.3, n))
        (store,) = counting.stores
        assert store.recomputed == 0 and store.takes == n  # no pass advanced again
    g = s2sad.grad(slow_spiral, 0, mode="reverse", checkpoints="auto", tape_budget="1MB")
    counting = _counted(g)
    g(0.8, 300)
    assert counting.stores[0].recomputed == 0 and counting.stores[0].takes == 300


@pytest.mark.slow  # tracemalloc over whole sweeps: seconds
def test_auto_budget_bounds_the_measured_peak():
    """tracemalloc's peak during the gradient of an array-state loop: the snapshots stay
    within the budget; one pass's working arrays (the reverse step's temporaries, about
    17 arrays of the state's size here) come on top, whatever the budget and n.  With
    floats carried, the peak is within the budget and a few kB."""
    import tracemalloc

    m, n = 1500, 150
    state = m * 8
    u = np.linspace(0.0, 1.0, m) ** 2

    def peak(n=n, **options):
        g = s2sad.grad(heat, (0, 1), mode="reverse", **options)
        g(u, 0.2, n)  # (warm: CPython's free lists)
        tracemalloc.start()
        try:
            got = g(u, 0.2, n)
            return tracemalloc.get_traced_memory()[1], got
        finally:
            tracemalloc.stop()

    tape, want = peak()
    # K = 1: one pass's working set (the same for any n; 20 passes: 190 recomputed)
    least, _ = peak(20, checkpoints="auto", tape_budget=1)
    assert tape > n * state  # the tape keeps every pass
    assert least < 25 * state
    for budget in (4 * state, 16 * state, 40 * state):
        got_peak, got = peak(checkpoints="auto", tape_budget=budget)
        assert np.array_equal(got[0], want[0]) and got[1] == want[1]
        assert got_peak <= budget + least, (budget, got_peak, least)
        assert got_peak < tape / 2
    # two floats carried: snapshots of Python numbers are counted at their real size.
    # (tracemalloc also counts the tuples and floats CPython's free lists keep for reuse,
    # which vary from call to call: tens of kB)
    tape = None
    for budget, n in ((None, 2000), (1, 30), (150_000, 2000)):
        options = {"checkpoints": "auto", "tape_budget": budget} if budget else {}
        g = s2sad.grad(lotka_volterra, (0, 1, 2, 3), mode="reverse", **options)
        g(1.1, 0.4, 1.3, 0.7, n)
        tracemalloc.start()
        try:
            g(1.1, 0.4, 1.3, 0.7, n)
            got_peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        if budget is None:
            tape = got_peak
        else:
            assert got_peak <= budget + 30_000 and got_peak < tape / 2, (budget, got_peak)


def test_auto_is_what_interpreter_and_array_api_run():
    lifted = s2sad.lift(lotka_volterra)
    from s2sad.ad.reverse import CHECKPOINTS
    from s2sad.checkpointing import TapeBudget

    token = CHECKPOINTS.set(TapeBudget(40))
    try:
        fn = derive(lifted, "grad", (0, 1))
    finally:
        CHECKPOINTS.reset(token)
    (new,) = [o for o in _ops(fn.body) if o.prim == "ckpt_new"]
    assert new.attr("budget") == 40 and new.attr("k") is None
    plain = s2sad.grad(lotka_volterra, (0, 1), mode="reverse")
    _exact(interpret(fn, 1.1, 0.4, 1.3, 0.7, 9), plain(1.1, 0.4, 1.3, 0.7, 9))
    src = s2sad.grad(lotka_volterra, (0, 1), mode="reverse", checkpoints="auto",
                     tape_budget="2kB").source
    assert "_Checkpoints(range(n), budget=2000)" in src
    xps = pytest.importorskip("array_api_strict", reason="pip install -e '.[array-api]'")
    u = np.linspace(-1.0, 1.0, 5)
    want = s2sad.grad(smooth, (0, 1), mode="reverse", target="array_api")(xps.asarray(u),
                                                                          0.3, 12)
    snap = helper("_Checkpoints")._nbytes((xps.asarray(u),))  # (no nbytes: 8 an item)
    assert snap == helper("_Checkpoints")._nbytes((u,))
    g = s2sad.grad(smooth, (0, 1), mode="reverse", checkpoints="auto", tape_budget=3 * snap,
                   target="array_api")
    counting = _counted(g)
    got = g(xps.asarray(u), 0.3, 12)
    assert np.array_equal(np.asarray(got[0]), np.asarray(want[0]))
    assert float(got[1]) == float(want[1])
    assert counting.stores[0].k == 3


@pytest.mark.parametrize("size, nbytes", [(1, 1), (4096, 4096), ("500kB", 500_000),
                                          ("64MB", 64_000_000), ("1GB", 10**9),
                                          ("1.5 gb", 1_500_000_000), ("2MiB", 2 * 2**20),
                                          ("123", 123), ("10B", 10)])
def test_tape_budget_sizes(size, nbytes):
    from s2sad.checkpointing import TapeBudget, parse_size, setting

    assert parse_size(size) == nbytes
    assert setting("auto", size) == TapeBudget(nbytes)
    assert parse_size(str(TapeBudget(nbytes))) == nbytes  # the command line's spelling


def test_auto_budget_default_and_bad_values():
    from s2sad.checkpointing import TapeBudget, setting

    assert setting("auto") == TapeBudget(64_000_000)
    for bad in (0, -5, "0MB", "64 megabytes", "MB", "1e6", 2.5, True, [64]):
        with pytest.raises(ValueError, match="tape budget must be"):
            s2sad.grad(lotka_volterra, checkpoints="auto", tape_budget=bad)
    for k in (None, 3):  # a budget means nothing without auto: said, not ignored
        with pytest.raises(ValueError, match="read only with checkpoints='auto'"):
            s2sad.grad(lotka_volterra, checkpoints=k, tape_budget="1MB")
    with pytest.raises(ValueError, match="or 'auto'"):
        s2sad.vjp(lotka_volterra, checkpoints="automatic")


def test_cli_checkpoints_auto_with_a_tape_budget(tmp_path):
    from click.testing import CliRunner
    from s2sad_cli.main import cli

    from tests.srcmod import load_source

    src = "tests/fixtures/control.py"
    out = tmp_path / "auto.py"
    args = ["grad", src, "-f", "kept_value_in_a_branch", "--wrt", "x", "--checkpoints",
            "auto", "--tape-budget", "500kB", "-o", str(out)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "--checkpoints auto --tape-budget 500kB" in text
    assert "_Checkpoints(range(n), budget=500000)" in text
    got = load_source(text, "ckpt_auto_cli").grad_kept_value_in_a_branch(-0.3, 17)
    _exact(got, s2sad.grad(C.kept_value_in_a_branch, 0, mode="reverse")(-0.3, 17))
    assert "--tape-budget 64MB" in CliRunner().invoke(cli, args[:-4]).output  # the default
    for bad in (["--checkpoints", "auto", "--tape-budget", "lots"],
                ["--checkpoints", "3", "--tape-budget", "1MB"], ["--tape-budget", "1MB"],
                ["--checkpoints", "many"]):
        result = CliRunner().invoke(cli, ["grad", src, *bad])
        assert result.exit_code == 2, (bad, result.output)
        assert "--tape-budget" in result.output or "--checkpoints" in result.output


# -- the fuzzed programs of tests/test_properties_control.py ---------------------------------
def _same_gradient(got, want):
    """Equal to the last bit: numbers (NaN matching NaN) and lists of them."""
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        if isinstance(b, list):
            _same_gradient(a, b)
        else:
            assert a == b or (math.isnan(a) and math.isnan(b)), (got, want)


@pytest.mark.parametrize("with_list, count, settings_", [
    pytest.param(False, 3, [2, ("auto", 300)], marks=pytest.mark.slow),
    (True, 3, [2, ("auto", 300)]),
    pytest.param(False, 15, [1, 3, 10], marks=pytest.mark.slow),
    pytest.param(True, 15, [1, 3, 10, ("auto", 1)], marks=pytest.mark.slow)])
def test_fuzzed_programs_bit_identical(with_list, count, settings_):
    """Random programs (branches, break and continue, while loops, nested loops, lists
    changed in place): the checkpointed gradient is the tape's, bit for bit, at trip
    counts 0, 1, 2, 3 and more than K."""
    from hypothesis import given, reject, settings

    from tests.test_properties_control import SETTINGS, _load, _split, points, programs

    @settings(max_examples=count, **SETTINGS)
    @given(program=programs(with_list=with_list), point=points())
    def check(program, point):
        f = _load(program.source, "ckpt").prog
        wrt = (0, 1, 2) if with_list else (0, 1)
        plain = s2sad.grad(f, wrt=wrt, mode="reverse")
        checked = [s2sad.grad(f, wrt=wrt, mode="reverse", checkpoints=s) if isinstance(s, int)
                   else s2sad.grad(f, wrt=wrt, mode="reverse", checkpoints="auto",
                                   tape_budget=s[1]) for s in settings_]
        flat, rebuild = _split(point, with_list)
        ran = 0
        for n in (0, 1, 2, 3, 12):
            args = (*rebuild(flat)[:-1], n)
            try:
                want = plain(*args)
            except (OverflowError, ValueError, ZeroDivisionError, IndexError):
                continue
            ran += 1
            for g in checked:
                _same_gradient(g(*args), want)
        if not ran:
            reject()

    check()
