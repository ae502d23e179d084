"""Higher-order derivatives: the cost of a Hessian-vector product, and of compiling Hessians.

1. **hvp / gradient run time** for the MLP loss of ``bench_numpy.py`` (arrays, with
   respect to all four weights) and the extended Rosenbrock function written as a
   loop over a list (``examples/newton_cg.py``).  Theory: a Hessian-vector product
   costs a small constant times a gradient (about 2-4×), in either order:
   reverse over forward (the default) or forward over reverse.
2. **Compile time** of ``s2sad.hessian`` of the chain x ← sin(x)·x + cos(x) with
   k = 50 levels (200 primal ops) against ``s2sad.grad`` of the same chain, and the
   size of the generated code: reverse over forward against forward over forward
   (``hessian`` builds both for scalar parameters and keeps the smaller).
3. **n-th derivatives**: op counts of ``s2sad.derivative(f, n)`` for n = 1 … 6 on a
   composite function, against SymPy's raw ``diff`` (``count_ops``) and after
   ``sympy.cse``.

    python benchmarks/bench_higher.py [--quick]
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

import benchtools
import cases
import numpy as np
from bench_numpy import mlp_loss, mlp_point  # the same network as the gradient benchmark

import s2sad
from s2sad.ad.higher import hessian_scalar_function
from s2sad.ir.core import count_ops
from s2sad.opt import optimize
from s2sad.pipeline import derive

sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))


def rosenbrock(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def composite(x):
    return math.exp(math.sin(x)) * x / (1 + x * x)


def run_hvp(quick: bool, log: Callable[[str], None]) -> list[dict[str, Any]]:
    repeat, target = (3, 0.01) if quick else (9, 0.2)
    rows = []
    point = mlp_point(0)
    rng = np.random.default_rng(1)
    v = tuple(rng.standard_normal(np.shape(a)) for a in point[:4])
    g = s2sad.grad(mlp_loss, wrt=(0, 1, 2, 3))
    hv = s2sad.hvp(mlp_loss, wrt=(0, 1, 2, 3))
    # correctness: H·v against central differences of the gradient along v
    eps = 1e-5
    plus = g(*(a + eps * d for a, d in zip(point[:4], v, strict=True)), *point[4:])
    minus = g(*(a - eps * d for a, d in zip(point[:4], v, strict=True)), *point[4:])
    fd = [(p - m) / (2 * eps) for p, m in zip(plus, minus, strict=True)]
    got = hv(*point, *v)
    err = max(float(np.max(np.abs(a - b))) for a, b in zip(got, fd, strict=True))
    times = benchtools.time_interleaved({"grad": lambda *a: g(*a[:6]), "hvp": hv},
                                        (*point, *v), repeat=repeat, target=target)
    rows.append({"case": "MLP loss 64×32→64→1 (arrays, 4 weights)", **times,
                 "check": f"max |Hv − FD| = {err:.1e}"})
    log(f"mlp: {times}")
    n = 100
    x = [(-1.2 if i % 2 == 0 else 1.0) for i in range(n)]
    p = [np.cos(i) for i in range(n)]
    g = s2sad.grad(rosenbrock)
    hv = s2sad.hvp(rosenbrock)
    hv_for = s2sad.hvp(rosenbrock, mode="forward-over-reverse")
    from_scipy = ""
    try:
        from scipy.optimize import rosen_hess_prod
        err = float(np.max(np.abs(np.asarray(hv(x, p))
                                  - rosen_hess_prod(np.asarray(x), np.asarray(p)))))
        from_scipy = f"max |Hv − SciPy| = {err:.1e}"
    except ImportError:
        pass
    times = benchtools.time_interleaved({"grad": lambda a, b: g(a), "hvp": hv,
                                         "hvp FoR": hv_for}, (x, p),
                                        repeat=repeat, target=target)
    rows.append({"case": f"Rosenbrock loop, list of {n}", **times, "check": from_scipy})
    log(f"rosenbrock: {times}")
    return rows


def run_compile(quick: bool, log: Callable[[str], None]) -> list[dict[str, Any]]:
    rows = []
    for k in ((5, 20) if quick else (50, 100)):
        f = cases.load_chain(k).chain
        lifted = s2sad.lift(f)
        primal = count_ops(lifted)
        out: dict[str, Any] = {"k": k, "primal ops": primal}
        for what, build in (
                ("grad", lambda fn: derive(fn, "grad", 0, "reverse")),
                ("hessian RoF", lambda fn: optimize(hessian_scalar_function(fn, (0,), True,
                                                                            "rof"))),
                ("hessian FoF", lambda fn: optimize(hessian_scalar_function(fn, (0,), True,
                                                                            "fof"))),
                ("hessian (both, keep smaller)", lambda fn: derive(fn, "hessian", 0))):
            best, ops = float("inf"), 0
            for _ in range(1 if quick else 3):
                benchtools.clear_s2sad_caches()
                t0 = time.perf_counter()
                ir = build(s2sad.lift(f))
                best = min(best, time.perf_counter() - t0)
                ops = count_ops(ir)
            out[f"{what} s"] = best
            out[f"{what} ops"] = ops
        t0 = time.perf_counter()
        benchtools.clear_s2sad_caches()
        s2sad.hessian(f)  # the whole pipeline: IR, AD, optimisation, code, load
        out["hessian end-to-end s"] = time.perf_counter() - t0
        rows.append(out)
        log(f"chain {k}: {out}")
    return rows


def run_nth(quick: bool, log: Callable[[str], None]) -> list[dict[str, Any]]:
    import sympy as sp

    x = sp.Symbol("x", real=True)
    expr = sp.exp(sp.sin(x)) * x / (1 + x * x)
    rows = []
    for n in range(1, 4 if quick else 7):
        d = sp.diff(expr, x, n)
        replacements, reduced = sp.cse(d)
        cse_ops = sum(sp.count_ops(e) for _, e in replacements) + sp.count_ops(reduced[0])
        ir = derive(s2sad.lift(composite), "derivative", 0, "forward", n)
        rows.append({"n": n, "SymPy diff ops": int(sp.count_ops(d)), "after cse": int(cse_ops),
                     "s2sad ops": count_ops(ir)})
        log(f"n={n}: {rows[-1]}")
    return rows


def _table(rows: list[dict[str, Any]], fmt: dict[str, str]) -> str:
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        lines.append("| " + " | ".join(format(r[k], fmt.get(k, "")) if not isinstance(
            r[k], str) else r[k] for k in keys) + " |")
    return "\n".join(lines)


def run(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    hvp_rows = run_hvp(quick, log)
    for r in hvp_rows:
        r["hvp / grad"] = r["hvp"] / r["grad"]
        r["grad"] *= 1e6
        r["hvp"] *= 1e6
    hvp_rows = [{"case": r["case"], "grad µs": r["grad"], "hvp µs": r["hvp"],
                 "hvp / grad": r["hvp / grad"],
                 "FoR hvp / grad": (f"{r['hvp FoR'] / r['grad'] * 1e6:.2f}" if "hvp FoR" in r
                                    else "n/a (array helpers)"),
                 "check": r["check"]} for r in hvp_rows]
    compile_rows = run_compile(quick, log)
    nth_rows = run_nth(quick, log)
    md = "\n\n".join([
        "# Higher-order derivatives" + (" (quick)" if quick else ""),
        "## Hessian-vector product vs gradient (run time, median)",
        _table(hvp_rows, {"grad µs": ".1f", "hvp µs": ".1f", "hvp / grad": ".2f"}),
        "## Compiling a Hessian of the chain x ← sin(x)·x + cos(x) (k levels, 4 ops each)",
        _table(compile_rows, {k: ".3f" for k in compile_rows[0] if k.endswith(" s")}),
        "## n-th derivative of exp(sin x)·x/(1 + x²): op counts",
        _table(nth_rows, {}),
    ]) + "\n"
    return {"markdown": md, "hvp": hvp_rows, "compile": compile_rows, "nth": nth_rows}


def main(argv=None) -> int:
    return benchtools.main(run, "bench_higher", __doc__, argv)


if __name__ == "__main__":
    raise SystemExit(main())
