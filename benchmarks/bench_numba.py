"""The Numba target side by side: plain Python primal, @njit primal, a hand-written @njit
gradient, s2sad's Python target and s2sad's Numba target, on the loop-heavy cases of
issue 16 (JAX is not run: its jit cannot trace Python loops and branches on values).

    python benchmarks/bench_numba.py [--quick]

Reported per case: microseconds per call of each, the ratios the issue sets targets for
(s2sad Numba / hand-written @njit gradient ≤ 2, geometric mean ≤ 1.3; s2sad Numba /
@njit primal ≤ 4; s2sad Python / s2sad Numba ≥ 20 on the loop cases), the first-call
cost (s2sad's generation, then Numba's compilation, cold), the first call of the cached
module in a fresh process (``cache=True``: no compilation), and the peak memory of one
gradient call on each target (tracemalloc; the Numba target's by running its
``py_func``, which makes the same NumPy allocations).  Every s2sad gradient is checked
against the hand-written one before it is timed.  No timing is asserted anywhere.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import benchtools
import numpy as np

import s2sad

# -- the cases --------------------------------------------------------------------------------


def rosenbrock(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def lotka_rk4(a, b, c, d, n):
    x = 1.0
    y = 1.0
    h = 0.0001
    for _ in range(n):
        k1x = a * x - b * x * y
        k1y = d * x * y - c * y
        x2 = x + 0.5 * h * k1x
        y2 = y + 0.5 * h * k1y
        k2x = a * x2 - b * x2 * y2
        k2y = d * x2 * y2 - c * y2
        x3 = x + 0.5 * h * k2x
        y3 = y + 0.5 * h * k2y
        k3x = a * x3 - b * x3 * y3
        k3y = d * x3 * y3 - c * y3
        x4 = x + h * k3x
        y4 = y + h * k3y
        k4x = a * x4 - b * x4 * y4
        k4y = d * x4 * y4 - c * y4
        x = x + h / 6 * (k1x + 2 * k2x + 2 * k3x + k4x)
        y = y + h / 6 * (k1y + 2 * k2y + 2 * k3y + k4y)
    return x + y


def chain(x, k):
    for _ in range(k):
        x = math.sin(x) * x + math.cos(x)
    return x


def kepler(M, e):
    E = M
    dE = 1.0
    while abs(dE) > 1e-13:
        dE = (E - e * math.sin(E) - M) / (1 - e * math.cos(E))
        E = E - dE
    return E


def softmax_xent(z, label):
    m = z[0]
    for i in range(len(z)):
        if z[i] > m:
            m = z[i]
    s = 0.0
    for i in range(len(z)):
        s += math.exp(z[i] - m)
    return math.log(s) + m - z[label]


def lennard_jones(X):
    n = X.shape[0]
    e = 0.0
    for i in range(n):
        for j in range(i + 1, n):
            dx = X[i, 0] - X[j, 0]
            dy = X[i, 1] - X[j, 1]
            dz = X[i, 2] - X[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            s6 = 1.0 / (r2 * r2 * r2)
            e += 4.0 * (s6 * s6 - s6)
    return e


def piecewise(x):
    s = 0.0
    for i in range(len(x)):
        v = x[i]
        if v < -1.0:
            s += -2.0 * v - 1.0
        elif v < 1.0:
            s += v * v
        else:
            s += math.log(v) + 1.0
    return s


# -- hand-written @njit gradients (built lazily: Numba is optional) ---------------------------

HAND_SOURCE = '''
import math
import numpy as np
import numba


@numba.njit
def rosenbrock(x):
    g = np.zeros(len(x))
    for i in range(len(x) - 1):
        t = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * t
    return g


@numba.njit
def _stage_bar(X, Y, kxb, kyb, a, b, c, d):
    """The adjoints of one Lotka-Volterra stage k = (aX - bXY, dXY - cY) at (X, Y)."""
    return (kxb * (a - b * Y) + kyb * d * Y, -kxb * b * X + kyb * (d * X - c),
            kxb * X, -kxb * X * Y, -kyb * Y, kyb * X * Y)


@numba.njit
def lotka_rk4(a, b, c, d, n):
    # forward: the state of every step; reverse: each step's stages recomputed
    h = 0.0001
    xs = np.empty(n)
    ys = np.empty(n)
    x = 1.0
    y = 1.0
    for t in range(n):
        xs[t] = x
        ys[t] = y
        k1x = a * x - b * x * y
        k1y = d * x * y - c * y
        x2 = x + 0.5 * h * k1x
        y2 = y + 0.5 * h * k1y
        k2x = a * x2 - b * x2 * y2
        k2y = d * x2 * y2 - c * y2
        x3 = x + 0.5 * h * k2x
        y3 = y + 0.5 * h * k2y
        k3x = a * x3 - b * x3 * y3
        k3y = d * x3 * y3 - c * y3
        x4 = x + h * k3x
        y4 = y + h * k3y
        k4x = a * x4 - b * x4 * y4
        k4y = d * x4 * y4 - c * y4
        x = x + h / 6 * (k1x + 2 * k2x + 2 * k3x + k4x)
        y = y + h / 6 * (k1y + 2 * k2y + 2 * k3y + k4y)
    xb, yb, ab, bb, cb, db = 1.0, 1.0, 0.0, 0.0, 0.0, 0.0
    for t in range(n - 1, -1, -1):
        x = xs[t]
        y = ys[t]
        k1x = a * x - b * x * y
        k1y = d * x * y - c * y
        x2 = x + 0.5 * h * k1x
        y2 = y + 0.5 * h * k1y
        k2x = a * x2 - b * x2 * y2
        k2y = d * x2 * y2 - c * y2
        x3 = x + 0.5 * h * k2x
        y3 = y + 0.5 * h * k2y
        k3x = a * x3 - b * x3 * y3
        k3y = d * x3 * y3 - c * y3
        x4 = x + h * k3x
        y4 = y + h * k3y
        k1xb, k1yb = h / 6 * xb, h / 6 * yb
        k2xb, k2yb = h / 3 * xb, h / 3 * yb
        k3xb, k3yb = h / 3 * xb, h / 3 * yb
        X4b, Y4b, da, db_, dc, dd = _stage_bar(x4, y4, h / 6 * xb, h / 6 * yb, a, b, c, d)
        ab += da
        bb += db_
        cb += dc
        db += dd
        k3xb += h * X4b
        k3yb += h * Y4b
        X3b, Y3b, da, db_, dc, dd = _stage_bar(x3, y3, k3xb, k3yb, a, b, c, d)
        ab += da
        bb += db_
        cb += dc
        db += dd
        k2xb += 0.5 * h * X3b
        k2yb += 0.5 * h * Y3b
        X2b, Y2b, da, db_, dc, dd = _stage_bar(x2, y2, k2xb, k2yb, a, b, c, d)
        ab += da
        bb += db_
        cb += dc
        db += dd
        k1xb += 0.5 * h * X2b
        k1yb += 0.5 * h * Y2b
        X1b, Y1b, da, db_, dc, dd = _stage_bar(x, y, k1xb, k1yb, a, b, c, d)
        ab += da
        bb += db_
        cb += dc
        db += dd
        xb = xb + X4b + X3b + X2b + X1b
        yb = yb + Y4b + Y3b + Y2b + Y1b
    return ab, bb, cb, db


@numba.njit
def chain(x, k):
    xs = np.empty(k)
    for t in range(k):
        xs[t] = x
        x = math.sin(x) * x + math.cos(x)
    g = 1.0
    for t in range(k - 1, -1, -1):
        g *= xs[t] * math.cos(xs[t])
    return g


@numba.njit
def kepler(M, e):
    # by the implicit function theorem at the solution: E - e sin E = M
    E = M
    dE = 1.0
    while abs(dE) > 1e-13:
        dE = (E - e * math.sin(E) - M) / (1 - e * math.cos(E))
        E = E - dE
    q = 1.0 - e * math.cos(E)
    return 1.0 / q, math.sin(E) / q


@numba.njit
def softmax_xent(z, label):
    m = z[0]
    for i in range(len(z)):
        if z[i] > m:
            m = z[i]
    g = np.empty(len(z))
    s = 0.0
    for i in range(len(z)):
        g[i] = math.exp(z[i] - m)
        s += g[i]
    for i in range(len(z)):
        g[i] /= s
    g[label] -= 1.0
    return g


@numba.njit
def lennard_jones(X):
    n = X.shape[0]
    G = np.zeros(X.shape)
    for i in range(n):
        for j in range(i + 1, n):
            dx = X[i, 0] - X[j, 0]
            dy = X[i, 1] - X[j, 1]
            dz = X[i, 2] - X[j, 2]
            r2 = dx * dx + dy * dy + dz * dz
            s6 = 1.0 / (r2 * r2 * r2)
            # dE/dr2 = 4 (2 s6 - 1) ds6/dr2, ds6/dr2 = -3 s6 / r2
            f = 4.0 * (2.0 * s6 - 1.0) * (-3.0 * s6 / r2) * 2.0
            G[i, 0] += f * dx
            G[j, 0] -= f * dx
            G[i, 1] += f * dy
            G[j, 1] -= f * dy
            G[i, 2] += f * dz
            G[j, 2] -= f * dz
    return G


@numba.njit
def piecewise(x):
    g = np.empty(len(x))
    for i in range(len(x)):
        v = x[i]
        if v < -1.0:
            g[i] = -2.0
        elif v < 1.0:
            g[i] = 2.0 * v
        else:
            g[i] = 1.0 / v
    return g
'''

LOOPS = ("rosenbrock", "lotka_rk4", "chain", "softmax_xent", "lennard_jones", "piecewise")


def cases(quick: bool) -> dict[str, tuple]:
    """name -> (function, arguments, wrt)."""
    rng = np.random.default_rng(0)
    n = 200 if quick else 10_000
    grid = np.stack(np.meshgrid(*[np.arange(6.0)] * 3, indexing="ij"), -1).reshape(-1, 3)
    X = (grid[:20 if quick else 200] * 1.1 + rng.uniform(-0.05, 0.05, (20 if quick else 200, 3)))
    return {
        "rosenbrock": (rosenbrock, (rng.uniform(-1.5, 1.5, n),), 0),
        "lotka_rk4": (lotka_rk4, (1.1, 0.4, 0.4, 0.1, 500 if quick else 100_000), (0, 1, 2, 3)),
        "chain": (chain, (0.7, 200 if quick else 10_000), 0),
        "kepler": (kepler, (1.3, 0.6), (0, 1)),
        "softmax_xent": (softmax_xent, (rng.normal(size=n), 3), 0),
        "lennard_jones": (lennard_jones, (X,), 0),
        "piecewise": (piecewise, (rng.uniform(-3, 3, n) + 0.001,), 0),
    }


def _peak_bytes(f, args) -> int:
    tracemalloc.start()
    try:
        f(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


_RELOAD = """
import sys, time
import numba  # noqa: F401  (importing Numba is not part of the first call)
sys.path.insert(0, {folder!r})
import {chain} as a, {rosen} as b
import numpy as np
t = time.perf_counter()
a.grad_chain(0.7, 100)
t1 = time.perf_counter()
b.grad_rosenbrock(np.ones(5))
print(t1 - t, time.perf_counter() - t1)
"""


def _reload_seconds(chain_g, rosen_g) -> tuple[float, float]:
    """The first calls of two cached modules in a fresh process (``cache=True``: Numba
    loads their machine code from ``__pycache__``; the first load also starts Numba's
    code generator)."""
    paths = [Path(g.py_func.__code__.co_filename) for g in (chain_g, rosen_g)]
    code = _RELOAD.format(folder=str(paths[0].parent), chain=paths[0].stem, rosen=paths[1].stem)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    first, second = (float(v) for v in out.stdout.split()[-2:])
    return first, second


def run(quick: bool = False, log=print) -> dict:
    import numba  # noqa: F401  (the Numba target needs it; so does the hand-written side)

    tempfile.tempdir = tempfile.mkdtemp(prefix="s2sad_bench_numba_")  # cold Numba cache
    hand = benchtools.load_source(HAND_SOURCE, "hand_numba")
    repeat, target = (1, 0.005) if quick else (5, 0.2)
    rows = []
    for name, (f, args, wrt) in cases(quick).items():
        log(f"{name} ...")
        hand_g = getattr(hand, name)
        njit_primal = numba.njit(f)
        t0 = time.perf_counter()
        g_nb = s2sad.grad(f, wrt=wrt, target="numba")
        t_s2sad = time.perf_counter() - t0
        t0 = time.perf_counter()
        g_nb(*args)
        t_numba = time.perf_counter() - t0
        hand_g(*args)
        njit_primal(*args)
        g_py = s2sad.grad(f, wrt=wrt)
        err = benchtools.max_abs_error(g_nb, hand_g, [args])
        err_py = benchtools.max_abs_error(g_nb, g_py, [args])
        assert err < 1e-6 * max(1.0, float(np.max(np.abs(benchtools._flat(hand_g(*args)))))), (
            name, err)
        funcs = {"python primal": f, "njit primal": njit_primal, "njit hand grad": hand_g,
                 "s2sad python": g_py, "s2sad numba": g_nb}
        times = benchtools.time_interleaved(funcs, args, repeat=repeat, target=target)
        mem_py = _peak_bytes(g_py, args)
        g_nb.py_func(*args)  # (its helpers compile on this first call: not measured)
        mem_nb = _peak_bytes(g_nb.py_func, args)
        rows.append({"case": name, **{k: v * 1e6 for k, v in times.items()},
                     "s2sad compile (ms)": t_s2sad * 1e3, "numba compile (ms)": t_numba * 1e3,
                     "bytes python": mem_py, "bytes numba": mem_nb, "err": err,
                     "err vs python": err_py})
    reload_s = _reload_seconds(s2sad.grad(chain, target="numba"),
                               s2sad.grad(rosenbrock, target="numba"))
    return {"rows": rows, "reload_seconds": reload_s, "markdown": _markdown(rows, reload_s, quick)}


def _markdown(rows, reload_s, quick) -> str:
    cols = ["python primal", "njit primal", "njit hand grad", "s2sad python", "s2sad numba"]
    lines = [f"# bench_numba{' (--quick)' if quick else ''}", "",
             "Microseconds per call (median of interleaved repeats); ratios of the s2sad "
             "Numba gradient.", "",
             "| case | " + " | ".join(cols) + " | numba/hand | numba/njit primal | "
             "python/numba | s2sad ms | Numba compile ms | peak bytes of a call: python | numba |",
             "|" + "---|" * (len(cols) + 8)]
    ratios = []
    for r in rows:
        hand_ratio = r["s2sad numba"] / r["njit hand grad"]
        ratios.append(hand_ratio)
        lines.append(
            f"| {r['case']} | " + " | ".join(f"{r[c]:.1f}" for c in cols)
            + f" | {hand_ratio:.2f} | {r['s2sad numba'] / r['njit primal']:.2f}"
            f" | {r['s2sad python'] / r['s2sad numba']:.0f}"
            f" | {r['s2sad compile (ms)']:.0f} | {r['numba compile (ms)']:.0f}"
            f" | {r['bytes python']:,} | {r['bytes numba']:,} |")
    lines += ["", f"Geometric mean of numba/hand: {benchtools.geomean(ratios):.2f} "
              f"(target ≤ 1.3; no case > 2: worst {max(ratios):.2f}).",
              f"First calls of cached modules in a fresh process (cache=True: loaded from "
              f"__pycache__, not compiled): chain {reload_s[0] * 1e3:.1f} ms (the first "
              f"load also starts Numba's code generator), then rosenbrock "
              f"{reload_s[1] * 1e3:.1f} ms.",
              "The Kepler hand gradient uses the implicit function theorem at the solution; "
              "s2sad differentiates the Newton iterations.",
              "JAX is not run: jax.jit cannot trace these Python loops on values (`while`, "
              "`if` on traced floats), and unrolling 10^4-10^5 iterations is not a "
              "comparison.",
              f"Python: {sys.version.split()[0]}, Numba {__import__('numba').__version__}, "
              f"{os.cpu_count()} cores."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(benchtools.main(run, "bench_numba", __doc__))
