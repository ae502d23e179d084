"""Binomial checkpointing benchmark (issue 18): memory and time of ``checkpoints=K``.

    python benchmarks/bench_checkpoint.py            # full run: 100,000 RK4 steps
    python benchmarks/bench_checkpoint.py --quick    # smoke run: 2,000 steps

The gradient of an RK4 integration of the Lotka-Volterra equations (two floats carried
through the loop, four parameters) with respect to its parameters and initial state,
compiled by s2sad in reverse mode without checkpoints (a tape of every pass) and with
``checkpoints=K`` for K = 10, 100, 1000.  For each:

* **peak memory**: ``tracemalloc``'s peak during one call (the inputs are floats,
  allocated before), and its ratio to the unchecked gradient's;
* **time**: the best of a few calls, and its ratio to the unchecked gradient's;
* **recomputed passes**: the passes the reverse sweep ran again (counted by the
  generated module's ``_Checkpoints``), against Griewank and Walther's minimum
  t = r·n − C(K + r, K + 1) for reversing n passes with K snapshots (r the least with
  C(K + r, K) ≥ n): the primal sweep's run to the last snapshot it took plus the
  recomputed passes equal t exactly;
* **identical**: the gradient equals the unchecked one bit for bit.

The report is printed as Markdown and written to ``benchmarks/results/checkpoint.md``
(``checkpoint-quick.md`` with ``--quick``).
"""

from __future__ import annotations

import math
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import dataclass

import benchtools

import s2sad


def lotka_volterra(alpha, beta, x0, y0, n):
    """x·y after n RK4 steps of dx = αx − βxy, dy = δxy − γy."""
    dt, delta, gamma = 0.001, 0.4, 0.8
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


WRT = (0, 1, 2, 3)
POINT = (1.1, 0.4, 1.3, 0.7)


def revolve_minimum(n: int, k: int) -> int:
    """Griewank and Walther's fewest forward passes to reverse n passes, k snapshots."""
    if n <= 1:
        return 0
    r = 0
    while math.comb(k + r, k) < n:
        r += 1
    return r * n - math.comb(k + r, k + 1)


@dataclass
class Row:
    k: int | None
    peak: int  # bytes
    seconds: float
    recomputed: int | None
    swept: int | None  # the passes the primal sweep ran up to its last snapshot
    minimum: int | None
    identical: bool


def _peak(g, args) -> int:
    """tracemalloc's peak during one call, right after a call untraced: CPython keeps up
    to 2,000 freed tuples of each size for reuse, and tracemalloc counts those it sees
    freed while tracing as still allocated (112 kB of 2-tuples, for any number of
    steps); warm, the call reuses them."""
    g(*args)
    tracemalloc.start()
    try:
        g(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _best(g, args, repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        g(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def run(quick: bool = False, log=lambda s: None) -> dict:
    n = 2_000 if quick else 100_000
    ks: list[int | None] = [None, 10, 100, 1000]
    args = (*POINT, n)
    repeats = 2 if quick else 3
    rows = []
    want = None
    for k in ks:
        log(f"checkpoints={k}, n={n}")
        g = s2sad.grad(lotka_volterra, WRT, mode="reverse", checkpoints=k)
        stores = []
        if k is not None:  # keep the store the first call makes, to read its counts
            make = g.__globals__["_Checkpoints"]

            def keeping(passes, k, make=make, stores=stores):
                store = make(passes, k)
                store.swept, take, count = 0, store.take, iter(range(len(passes), 0, -1))

                def counted(i, values):  # notes where the primal sweep's last snapshot is
                    take(i, values)
                    if next(count, 0) == 1:
                        store.swept = store.stack[-1][0]
                store.take = counted
                stores.append(store)
                return store
            g.__globals__["_Checkpoints"] = keeping
        got = g(*args)
        if k is not None:  # counted once; timed and measured as generated
            g.__globals__["_Checkpoints"] = make
        want = got if want is None else want
        peak = _peak(g, args)
        seconds = _best(g, args, repeats)
        recomputed = swept = minimum = None
        if k is not None:
            store = stores[-1]
            recomputed = store.recomputed
            swept = store.swept
            minimum = revolve_minimum(n, k)
        rows.append(Row(k, peak, seconds, recomputed, swept, minimum, got == want))
    return {"n": n, "rows": rows, "markdown": markdown(n, rows, quick)}


def markdown(n: int, rows: list[Row], quick: bool) -> str:
    base = rows[0]
    out = [f"# Binomial checkpointing: RK4 Lotka-Volterra, {n:,} steps"
           + (" (quick)" if quick else ""), "",
           "| checkpoints | peak memory | vs tape | time (s) | vs tape | recomputed passes "
           "| per step | + primal to last snapshot = revolve minimum | identical |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.k is None:
            counts = "— | — | —"
        else:
            total = r.recomputed + r.swept
            counts = (f"{r.recomputed:,} | {r.recomputed / n:.2f} | "
                      f"{r.recomputed:,} + {r.swept:,} = {total:,} "
                      f"{'=' if total == r.minimum else '≠'} {r.minimum:,}")
        out.append(f"| {r.k if r.k is not None else 'none (tape)'} | "
                   f"{r.peak / 1e6:.3f} MB | {r.peak / base.peak:.2%} | {r.seconds:.3f} | "
                   f"{r.seconds / base.seconds:.2f}× | {counts} | "
                   f"{'yes' if r.identical else 'NO'} |")
    out += ["", "Peak: tracemalloc's peak during one call of the gradient.  Time: the best "
            "of a few calls.  Recomputed passes: counted by the generated module's "
            "_Checkpoints."]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    return benchtools.main(run, "checkpoint", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
