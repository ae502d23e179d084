"""The Numba target (``target="numba"``), compiled and run: the Python target's numbers
to 1e-12, and finite differences.  Skipped without Numba.

Numba compiles each function on its first call (about a second each), so the compiled
functions are built once per module (a fixture) and shared; the sweeps over the suite's
other cases are in the slow layer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import s2sad
from s2sad.errors import S2SADError
from tests.oracles import assert_close, call_extras, gradient
from tests.test_numba_codegen import chain, kepler, lennard_jones, lotka, piecewise, rosenbrock

pytestmark = pytest.mark.slow  # Numba compiles for seconds; the generated text is checked by
# tests/test_numba_codegen.py in the default run

numba = pytest.importorskip("numba", reason="the Numba target needs numba "
                                            "(pip install 's2sad[numba]')")

RNG = np.random.default_rng(7)
X = np.array([-1.3, 0.4, 1.7, -0.2, 2.5, 0.9])
P = RNG.normal(size=(6, 2)) * 2.0 + np.arange(12).reshape(6, 2)

CASES = {  # name -> (function, args, wrt)
    "rosenbrock": (rosenbrock, (X,), 0),
    "chain": (chain, (0.7, 25), 0),
    "kepler": (kepler, (0.8, 0.4), (0, 1)),
    "lotka": (lotka, (1.1, 0.4, 0.4, 0.1, 50), (0, 1, 2, 3)),
    "lennard_jones": (lennard_jones, (P,), 0),
    "piecewise": (piecewise, (X * 1.5,), 0),
}


@pytest.fixture(scope="module")
def compiled():
    """name -> (Python-target gradient, Numba-target gradient), compiled once."""
    return {name: (s2sad.grad(f, wrt=wrt), s2sad.grad(f, wrt=wrt, target="numba"))
            for name, (f, _, wrt) in CASES.items()}


def _fd(f, args, wrt):
    """Central differences of f at args with respect to wrt (ints, or one array)."""
    from tests.oracles import derivative

    if isinstance(wrt, int) and isinstance(args[wrt], np.ndarray):
        a = args[wrt]
        out = np.zeros(a.shape)
        for i in np.ndindex(a.shape):
            def along(t, i=i):
                b = a.copy()
                b[i] = t
                return f(*args[:wrt], b, *args[wrt + 1:])
            out[i] = derivative(along, float(a[i]))
        return out
    def partial(i):
        return derivative(lambda t: f(*args[:i], t, *args[i + 1:]), args[i])

    return partial(wrt) if isinstance(wrt, int) else tuple(partial(i) for i in wrt)


@pytest.mark.parametrize("name", list(CASES))
def test_numba_gradient_equals_python_and_finite_differences(compiled, name):
    f, args, wrt = CASES[name]
    python, nb = compiled[name]
    got, want = nb(*args), python(*args)
    assert type(nb).__name__ == "CPUDispatcher"
    assert np.allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                       rtol=1e-12, atol=1e-12)
    assert_close(np.asarray(got).ravel().tolist(), np.asarray(_fd(f, args, wrt)).ravel().tolist(),
                 rtol=1e-5, atol=1e-6, what=name)


def test_numba_gradient_at_other_points(compiled):
    python, nb = compiled["kepler"]
    for M, e in [(-2.0, 0.1), (3.0, 0.7), (-0.3, 0.9)]:  # negative values, long loops
        assert_close(nb(M, e), python(M, e), rtol=1e-12, atol=1e-12)
        assert_close(nb(M, e), gradient(kepler, [M, e]), rtol=1e-5, atol=1e-7)


def f2(a, b):
    return a * math.exp(b) + b ** 3 - math.sin(a * b)


@pytest.mark.parametrize("kind,args,extra", [
    ("value_and_grad", (0.5, -0.3), {"wrt": (0, 1)}),
    ("jvp", (0.5, -0.3, 1.0), {}),
    ("vjp", (-0.5, 1.3, 1.0), {"wrt": (0, 1)}),
    ("hvp", (0.5, -0.3, 1.0, -2.0), {"wrt": (0, 1)}),
    ("hessian", (-0.5, 0.3), {"wrt": (0, 1)}),
    ("jacobian", (0.5, -0.3), {"wrt": (0, 1)}),
    ("derivative", (0.5, -0.3), {"n": 2}),
])
def test_every_kind_on_numba_matches_python(kind, args, extra):
    python = getattr(s2sad, kind)(f2, **extra)(*args)
    nb = getattr(s2sad, kind)(f2, target="numba", **extra)(*args)
    assert_close(nb, python, rtol=1e-12, atol=1e-12, what=kind)
    if kind == "jvp":  # and the oracle: d/da f2 at (0.5, -0.3)
        assert_close(nb[1], gradient(f2, list(args[:2]), [0])[0], rtol=1e-6)


@pytest.mark.slow  # an hvp and its driver: about 5 s of Numba compilation
def test_hessian_of_array_on_numba():
    h = s2sad.hessian(rosenbrock, target="numba")
    x = X[:4]
    assert_close(h(x).ravel().tolist(), s2sad.hessian(rosenbrock)(x).ravel().tolist(),
                 rtol=1e-12, atol=1e-12)
    assert h(x).shape == (4, 4)


@numba.njit
def _sq(v):
    return v * v


@numba.njit
def _energy(x):
    s = 0.0
    for i in range(len(x)):
        s += _sq(x[i]) * math.sin(x[i])
    return s


def test_grad_of_an_njit_function_is_njit_and_inlines_njit_calls():
    g = s2sad.grad(_energy)
    assert type(g).__name__ == "CPUDispatcher" and "_sq" not in g.source
    want = [2 * v * math.sin(v) + v * v * math.cos(v) for v in X]
    assert_close(g(X).tolist(), want, rtol=1e-12)
    assert_close(s2sad.grad(_energy, target="python")(X).tolist(), want, rtol=1e-12)

    @numba.njit
    def descend(x):  # the gradient is callable from other njit code
        for _ in range(3):
            x = x - 0.01 * g(x)
        return x

    assert descend(X.copy()).shape == X.shape


@pytest.mark.slow  # compiles the corpus for Numba: about 20 s
def test_corpus_on_the_numba_target():
    """Every function of the straight-line corpus (tests/test_corpus.py): its gradient
    (scalar functions) and its vjp (all) on the Numba target equal the Python target's
    to 1e-12, and the gradient agrees with finite differences."""
    from tests import test_corpus as tc

    for case in tc.CORPUS:
        wrt = tc._all(case)
        nb_vjp = s2sad.vjp(case.fn, wrt=wrt, target="numba")
        py_vjp = s2sad.vjp(case.fn, wrt=wrt)
        scalar = tc._is_scalar(case)
        if scalar:
            nb_grad = s2sad.grad(case.fn, wrt=wrt, target="numba")
        for point in case.points:
            bars = tuple(0.5 + k for k in range(len(tc._outputs(case, point))))
            extras = bars if len(bars) > 1 else bars[:1]
            assert_close(call_extras(nb_vjp, point, extras),
                         call_extras(py_vjp, point, extras), rtol=1e-12,
                         atol=1e-12, what=f"vjp {case.name} at {point}")
            if scalar:
                assert_close(nb_grad(*point), tc._fd_grad(case, point), rtol=tc.RTOL,
                             atol=tc.ATOL, what=f"grad {case.name} at {point}")


# -- the existing test cases, on the Numba target (slow: one Numba compilation each) ----------


def _sweep_jobs(group: str) -> list:
    """(name, function, wrt, points) of one group of the suite's existing cases."""
    from tests import test_control_flow as TC
    from tests import test_item_adjoints as TA
    from tests import test_numpy as TN
    from tests import test_sequences as TS

    if group == "control_flow":
        return [(f.__name__, f, wrt if len(wrt) > 1 else wrt[0], pts) for f, wrt, pts in TC.CASES]
    if group == "sequences":
        return [(f.__name__, f, 0, pts) for f, pts in TS.CASES]
    if group == "item_adjoints":
        return [(f.__name__, f, tuple(range(len(shapes))) if len(shapes) > 1 else 0,
                 [tuple(TA._point(s, 3) for s in shapes)]) for f, shapes in TA.CASES]
    return [(p.id, p.values[0].f, p.values[0].wrt if len(p.values[0].wrt) > 1
             else p.values[0].wrt[0], [p.values[0].args]) for p in getattr(TN, group)]


# what each group may leave out: refused by s2sad, or failing loudly in Numba (broadcasting
# arrays of different shapes, stacks of matrices, np.ndim)
# (how many of each group run on Numba today, of: control_flow 22, sequences 18 (two
# append), item_adjoints 13, ELEMENTWISE 13, BROADCAST 23, PRODUCTS 17, REDUCTIONS 29 (axis,
# keepdims), SELECT 14)
_SWEEP = {"control_flow": 22, "sequences": 16, "item_adjoints": 13, "ELEMENTWISE": 13,
          "BROADCAST": 11, "PRODUCTS": 10, "REDUCTIONS": 11, "SELECT": 12}


@pytest.mark.slow
@pytest.mark.parametrize("group", list(_SWEEP))
def test_existing_cases_on_the_numba_target(group):
    """Every case of the group that Numba compiles gives the Python target's gradient to
    1e-12 (which its own tests check against finite differences); the rest are located
    refusals or loud Numba errors, never a different number."""
    import numba.core.errors

    ok, no_blas = [], []
    for name, f, wrt, points in _sweep_jobs(group):
        try:
            nb = s2sad.grad(f, wrt=wrt, target="numba")
        except S2SADError as err:
            assert "cannot be compiled for the Numba target" in err.what and err.loc, name
            continue
        py = s2sad.grad(f, wrt=wrt)
        try:
            got = [nb(*[np.asarray(a, dtype=float) if isinstance(a, (list, tuple)) else a
                        for a in p]) for p in points]
        except ImportError:  # `@` and its adjoints: Numba's np.dot needs SciPy's BLAS
            no_blas.append(name)
            continue
        except (numba.core.errors.TypingError, ValueError):
            continue
        for p, g in zip(points, got, strict=True):
            want = py(*p)
            for u, v in zip(*(x if isinstance(x, tuple) else (x,) for x in (g, want)),
                            strict=True):
                np.testing.assert_allclose(np.asarray(u, dtype=float),
                                           np.asarray(v, dtype=float), rtol=1e-12,
                                           atol=1e-12, err_msg=f"{group}: {name} at {p}")
        ok.append(name)
    assert len(ok) + len(no_blas) >= _SWEEP[group], (group, ok)
    try:
        import scipy  # noqa: F401
    except ImportError:
        return
    assert not no_blas, no_blas


SCALE = 2.0


def _scaled(x):
    return SCALE * x * x


def test_asking_again_after_a_change_compiles_again():
    """The dispatcher checks nothing per call (as Numba freezes globals); asking s2sad
    again after the function's environment changed gives the new derivative."""
    global SCALE
    first = s2sad.grad(_scaled, target="numba")
    assert first(-1.5) == pytest.approx(-6.0, rel=1e-14)
    assert s2sad.grad(_scaled, target="numba") is first
    try:
        SCALE = 3.0
        again = s2sad.grad(_scaled, target="numba")
        assert again is not first and again(-1.5) == pytest.approx(-9.0, rel=1e-14)
        assert again(-1.5) == pytest.approx(gradient(_scaled, [-1.5])[0], rel=1e-8)
    finally:
        SCALE = 2.0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["grad_forward", "jvp", "vjp"])
def test_control_flow_cases_in_every_mode_on_the_numba_target(kind):
    """Forward mode, jvp and vjp of the control-flow cases (loops, branches, while,
    break, early returns) on the Numba target equal the Python target's to 1e-12."""
    from tests import test_control_flow as TC

    for f, wrt, points in TC.CASES:
        w = wrt if len(wrt) > 1 else wrt[0]
        if kind == "grad_forward":
            nb, py = (s2sad.grad(f, wrt=w, mode="forward", target=t) for t in ("numba", None))
            extras: tuple = ()
        else:
            nb, py = (getattr(s2sad, kind)(f, wrt=w, target=t) for t in ("numba", None))
            extras = (0.7,) * len(wrt) if kind == "jvp" else (1.3,)
        for p in points:
            assert_close(call_extras(nb, p, extras), call_extras(py, p, extras), rtol=1e-12,
                         atol=1e-12, what=f"{kind} {f.__name__} at {p}")
