"""Item-adjoint benchmark of s2sad (issue 13): loops that read items of arrays.

    python benchmarks/bench_items.py            # full run (about a minute)
    python benchmarks/bench_items.py --quick    # smoke run (a few seconds)

A loop that reads scalar items of an array (``s += X[i, 0] * X[i, 1]``) must cost
O(1) per item in reverse mode: each item's adjoint is added into one adjoint
array in place (``X_bar[i, 0] += g``).  Were a full-size zero array built per
item, the gradient would be quadratic in n.  For each case and n, the plain
function and s2sad's reverse-mode gradient are timed side by side (median of
interleaved timeit repeats), with their ratio, which must be **flat in n**, and
a correctness column (largest absolute difference from a hand-written loop
gradient at two points).

Cases:

* ``pairs`` — ``s += X[i, 0] * X[i, 1]`` over the rows of an n x 2 array
  annotated ``np.ndarray``; ``pairs_inferred`` the same, unannotated (an array
  because of ``X.shape``), with ``X[i, 1] ** 2``;
* ``chain_1d`` — ``s += sin(x[i]) * x[i + 1]`` over a 1-D array;
* ``local`` — items of an array the function computes (``Y = np.sin(X) * 2``);
* ``branch`` — items read in an ``if`` inside the loop;
* ``lennard_jones`` — the double loop over pairs of particles
  (``X[i, 0] - X[j, 0]``), n²/2 passes, at n/40 particles (25, 200, 800).

The report is printed as Markdown and written to ``benchmarks/results/items.md``
(``items-quick.md`` with ``--quick``).  Absolute times depend on the machine;
the ratios are the point.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import benchtools
import numpy as np
from benchtools import max_abs_error, time_interleaved

import s2sad

# == the cases =================================================================================


def pairs(X: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        s += X[i, 0] * X[i, 1]
    return s


def pairs_hand(X):
    g = np.zeros_like(X)
    for i in range(X.shape[0]):
        g[i, 0] += X[i, 1]
        g[i, 1] += X[i, 0]
    return g


def pairs_inferred(X):
    s = 0.0
    for i in range(X.shape[0]):
        s += X[i, 0] * X[i, 1] ** 2
    return s


def pairs_inferred_hand(X):
    g = np.zeros_like(X)
    for i in range(X.shape[0]):
        a, b = X[i, 0], X[i, 1]
        g[i, 0] += b * b
        g[i, 1] += 2.0 * a * b
    return g


def chain_1d(x: np.ndarray):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += math.sin(x[i]) * x[i + 1]
    return s


def chain_1d_hand(x):
    g = np.zeros_like(x)
    for i in range(x.shape[0] - 1):
        g[i] += math.cos(x[i]) * x[i + 1]
        g[i + 1] += math.sin(x[i])
    return g


def local(X: np.ndarray):
    Y = np.sin(X) * 2.0
    s = 0.0
    for i in range(Y.shape[0]):
        s += Y[i, 0] * Y[i, 1]
    return s


def local_hand(X):
    Y = np.sin(X) * 2.0
    g = np.zeros_like(X)
    for i in range(X.shape[0]):
        g[i, 0] += Y[i, 1]
        g[i, 1] += Y[i, 0]
    return g * 2.0 * np.cos(X)


def branch(X: np.ndarray):
    s = 0.0
    for i in range(X.shape[0]):
        if X[i, 0] > 0.0:
            s += X[i, 0] * X[i, 1]
        s += X[i, 1] * X[i, 1]
    return s


def branch_hand(X):
    g = np.zeros_like(X)
    for i in range(X.shape[0]):
        if X[i, 0] > 0.0:
            g[i, 0] += X[i, 1]
            g[i, 1] += X[i, 0]
        g[i, 1] += 2.0 * X[i, 1]
    return g


def lennard_jones(X: np.ndarray):
    e = 0.0
    n = X.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            dx = X[i, 0] - X[j, 0]
            dy = X[i, 1] - X[j, 1]
            r2 = dx * dx + dy * dy
            e += 1.0 / r2 ** 6 - 1.0 / r2 ** 3
    return e


def lennard_jones_hand(X):
    g = np.zeros_like(X)
    n = X.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            dx = X[i, 0] - X[j, 0]
            dy = X[i, 1] - X[j, 1]
            r2 = dx * dx + dy * dy
            d = -6.0 / r2 ** 7 + 3.0 / r2 ** 4  # dE/d(r2)
            g[i, 0] += 2.0 * dx * d
            g[j, 0] -= 2.0 * dx * d
            g[i, 1] += 2.0 * dy * d
            g[j, 1] -= 2.0 * dy * d
    return g


@dataclass
class Case:
    name: str
    f: Callable[..., Any]
    hand: Callable[..., Any]
    point: Callable[[int, int], np.ndarray]  # (n, seed) -> the argument
    size: Callable[[int], int] = lambda n: n  # n -> the size the case is run at


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.5, 1.5, (n, 2))


def _vector(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1.5, 1.5, n)


def _particles(n: int, seed: int) -> np.ndarray:
    """n particles on a jittered square grid (no two too close)."""
    side = math.ceil(math.sqrt(n))
    grid = np.array([[i % side, i // side] for i in range(n)], dtype=float) * 1.2
    return grid + np.random.default_rng(seed).uniform(-0.1, 0.1, grid.shape)


CASES = [
    Case("pairs", pairs, pairs_hand, _rows),
    Case("pairs_inferred", pairs_inferred, pairs_inferred_hand, _rows),
    Case("chain_1d", chain_1d, chain_1d_hand, _vector),
    Case("local", local, local_hand, _rows),
    Case("branch", branch, branch_hand, _rows),
    Case("lennard_jones", lennard_jones, lennard_jones_hand, _particles,
         size=lambda n: max(4, n // 40)),
]

SIZES = (1000, 8000, 32000)
QUICK_SIZES = (100, 400)


# == the run ===================================================================================


@dataclass
class Row:
    case: str
    n: int
    size: int  # the argument's length (particles for lennard_jones)
    plain: float
    grad: float
    abs_err: float

    @property
    def ratio(self) -> float:
        return self.grad / self.plain


def run_runtime(*, quick: bool = False, log: Callable[[str], None] = lambda s: None,
                ) -> list[Row]:
    repeat = 3 if quick else 7
    target = 0.002 if quick else 0.05
    rows = []
    for case in CASES:
        g = s2sad.grad(case.f, mode="reverse")
        for n in QUICK_SIZES if quick else SIZES:
            size = case.size(n)
            points = [(case.point(size, seed),) for seed in (1, 2)]
            err = max_abs_error(g, case.hand, points)
            t = time_interleaved({"plain": case.f, "grad": g}, points[0], repeat=repeat,
                                 target=target)
            row = Row(case.name, n, size, t["plain"], t["grad"], err)
            rows.append(row)
            log(f"  {case.name:15s} n={n:6d} size={size:6d} plain {row.plain * 1e3:9.3f} ms  "
                f"grad {row.grad * 1e3:9.3f} ms  ratio {row.ratio:6.2f}  err {err:.1e}")
    return rows


def flatness(rows: Sequence[Row]) -> dict[str, float]:
    """Per case: the ratio at the largest n over the ratio at the smallest (1 = flat;
    a full-size zero array per item would grow it about like n)."""
    out = {}
    for name in dict.fromkeys(r.case for r in rows):
        mine = [r for r in rows if r.case == name]
        out[name] = mine[-1].ratio / mine[0].ratio
    return out


def markdown(rows: Sequence[Row], quick: bool) -> str:
    lines = [f"# Item adjoints: gradient / primal against n{' (quick)' if quick else ''}", "",
             "| case | n | size | plain (ms) | grad (ms) | grad / plain | max abs err |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.case} | {r.n} | {r.size} | {r.plain * 1e3:.3f} | "
                     f"{r.grad * 1e3:.3f} | {r.ratio:.2f} | {r.abs_err:.1e} |")
    lines += ["", "Growth of the ratio from the smallest n to the largest (1.00 = flat):", ""]
    lines += [f"- {name}: {g:.2f}" for name, g in flatness(rows).items()]
    return "\n".join(lines) + "\n"


def run(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    log("run time")
    rows = run_runtime(quick=quick, log=log)
    return {"runtime": rows, "flatness": flatness(rows), "markdown": markdown(rows, quick)}


def main(argv: Sequence[str] | None = None) -> int:
    return benchtools.main(run, "items", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
