"""Binomial checkpointing benchmark (issue 18): memory and time of ``checkpoints=K``.

    python benchmarks/bench_checkpoint.py            # full run: the issue's sizes (minutes)
    python benchmarks/bench_checkpoint.py --quick    # smoke run: a few seconds

Two loops, differentiated by s2sad in reverse mode without checkpoints (a tape of every
pass) and with ``checkpoints=K`` for K = 10, 100, 1000 (and ``checkpoints="auto"`` with
its default budget of 64 MB):

* **RK4 Lotka-Volterra**, 10⁶ steps (quick: 2,000): two floats carried, the gradient in
  the four parameters and initial state;
* **1-D heat equation**, explicit scheme in NumPy, 10⁴ cells and 10⁴ steps (quick: 200
  and 200): an array carried, the gradient of the sum of squares of the final state in
  the initial state and the diffusivity.

For each:

* **peak memory**: ``tracemalloc``'s peak during one call (the inputs are allocated
  before; NumPy reports its buffers to tracemalloc), and its ratio to the unchecked
  gradient's;
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
import os
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import benchtools
import numpy as np

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


def heat(u, kappa, n):
    """Σ u² after n explicit steps of u_t = κ u_xx (unit spacing, κ < 1/2: stable), the
    two end cells held at their values."""
    for _ in range(n):
        lap = np.zeros_like(u)
        lap[1:-1] = u[2:] - 2 * u[1:-1] + u[:-2]
        u = u + kappa * lap
    return np.sum(u * u)


@dataclass
class Problem:
    name: str
    f: Callable[..., Any]
    wrt: tuple[int, ...]
    args: tuple  # the arguments, the number of passes last
    n: int  # passes
    rss: bool = False  # peak by the resident set's growth (_rss_peak), not tracemalloc


def problems(quick: bool) -> list[Problem]:
    steps = 2_000 if quick else 1_000_000
    cells, passes = (200, 200) if quick else (10_000, 10_000)
    x = np.linspace(0.0, 1.0, cells)
    u0 = np.sin(np.pi * x) + 0.1 * np.sin(7 * np.pi * x)
    return [Problem("RK4 Lotka-Volterra", lotka_volterra, (0, 1, 2, 3),
                    (1.1, 0.4, 1.3, 0.7, steps), steps,
                    rss=not quick and sys.platform == "linux"),
            Problem(f"1-D heat equation, {cells:,} cells", heat, (0, 1), (u0, 0.2, passes),
                    passes)]


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
    k: int | str | None
    peak: int  # bytes
    seconds: float
    recomputed: int | None
    swept: int | None  # the passes the primal sweep ran up to its last snapshot
    minimum: int | None
    identical: bool
    snapshots: int | None = None  # K (as picked, for "auto")


def _status(key: str) -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


def _rss_peak(g, args) -> int:
    """The growth of the resident set's high-water mark during one call, in a forked
    child (so that what earlier calls freed to the allocator is not reused): for the
    10⁶-step loop, whose millions of allocations tracemalloc would take many minutes
    to trace.  Linux only; resolution: a page."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: measure, report, leave without cleaning up
        try:
            os.close(read)
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # high-water mark := the current resident set
            before = _status("VmRSS:")
            g(*args)
            os.write(write, str(_status("VmHWM:") - before).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    os.waitpid(pid, 0)
    return int(text)


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
    """The least CPU time of ``repeats`` calls: the machine is shared, and CPU time does
    not count the time other processes take."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.process_time()
        g(*args)
        best = min(best, time.process_time() - t0)
    return best


def _same(a, b) -> bool:
    if isinstance(a, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(np.array_equal(a, b))


def _counting(g, stores: list) -> Callable[[], None]:
    """Make the generated module's _Checkpoints keep each store it makes (with the pass
    where the primal sweep took its last snapshot) in ``stores``; returns the undo."""
    make = g.__globals__["_Checkpoints"]

    def keeping(passes, k=None, budget=None):
        store = make(passes, k, budget)
        store.swept, take, count = 0, store.take, iter(range(len(passes), 0, -1))

        def counted(i, values):  # notes where the primal sweep's last snapshot is
            take(i, values)
            if next(count, 0) == 1:
                store.swept = store.stack[-1][0]
        store.take = counted
        stores.append(store)
        return store
    g.__globals__["_Checkpoints"] = keeping
    return lambda: g.__globals__.__setitem__("_Checkpoints", make)


def measure(p: Problem, ks: Sequence[int | str | None], repeats: int,
            log=lambda s: None) -> list[Row]:
    rows: list[Row] = []
    want = None
    for k in ks:
        log(f"{p.name}: checkpoints={k}, n={p.n}")
        g = s2sad.grad(p.f, p.wrt, mode="reverse", checkpoints=k)
        if hasattr(g, "specialize"):  # compiled for the arguments' shapes: that function
            g = g.specialize(*p.args)
        stores: list = []
        if k is not None:  # counted once; timed and measured as generated
            undo = _counting(g, stores)
        got = g(*p.args)
        if k is not None:
            undo()
        want = got if want is None else want
        peak = _rss_peak(g, p.args) if p.rss else _peak(g, p.args)
        seconds = _best(g, p.args, repeats)
        recomputed = swept = minimum = snapshots = None
        if k is not None:
            store = stores[-1]
            recomputed, swept, snapshots = store.recomputed, store.swept, store.k
            minimum = revolve_minimum(p.n, min(store.k, p.n))
        rows.append(Row(k, peak, seconds, recomputed, swept, minimum, _same(got, want),
                        snapshots))
        del g, got
    return rows


def run(quick: bool = False, log=lambda s: None) -> dict:
    repeats = 2 if quick else 3
    ks: list[int | str | None] = [None, 10, 100, 1000, "auto"]
    results = [(p, measure(p, ks, repeats, log)) for p in problems(quick)]
    return {"results": results, "rows": results[0][1],
            "markdown": markdown(results, quick)}


def markdown(results: list[tuple[Problem, list[Row]]], quick: bool) -> str:
    out = ["# Binomial checkpointing" + (" (quick)" if quick else ""), ""]
    for p, rows in results:
        base = rows[0]
        out += [f"## {p.name}, {p.n:,} steps", "",
                "| checkpoints | K | peak memory | vs tape | time (s) | vs tape "
                "| recomputed passes | per step "
                "| + primal to last snapshot = revolve minimum | identical |",
                "|---|--:|--:|--:|--:|--:|--:|--:|---|---|"]
        for r in rows:
            if r.k is None:
                counts = "— | — | —"
            else:
                total = r.recomputed + r.swept
                counts = (f"{r.recomputed:,} | {r.recomputed / p.n:.2f} | "
                          f"{r.recomputed:,} + {r.swept:,} = {total:,} "
                          f"{'=' if total == r.minimum else '≠'} {r.minimum:,}")
            label = {None: "none (tape)", "auto": "auto (64 MB)"}.get(r.k, r.k)  # type: ignore
            out.append(f"| {label} | {f'{r.snapshots:,}' if r.snapshots is not None else '—'} | "
                       f"{r.peak / 1e6:.3f} MB | {r.peak / base.peak:.2%} | "
                       f"{r.seconds:.3f} | {r.seconds / base.seconds:.2f}× | {counts} | "
                       f"{'yes' if r.identical else 'NO'} |")
        hundred = next(r for r in rows if r.k == 100)
        met = hundred.peak < 0.05 * base.peak and hundred.seconds < 4 * base.seconds
        out += ["", f"K = 100: peak {hundred.peak / base.peak:.2%} of the tape's (bar: under "
                f"5 %), time {hundred.seconds / base.seconds:.2f}× (bar: under 4×): "
                f"{'met' if met else 'NOT met'}"
                + (" (quick sizes: the bar is the full run's)." if quick else "."), ""]
    by_rss = [p.name for p, _ in results if p.rss]
    peak = "Peak: tracemalloc's peak during one call of the gradient" + (
        f" ({', '.join(by_rss)}: the growth of the resident set's high-water mark during "
        "one call, in a forked process; tracemalloc would take many minutes)." if by_rss
        else ".")
    out += [peak + "  Time: the least CPU time of a few calls (a shared machine).  "
            "Recomputed passes: counted by the generated module's _Checkpoints.  K: the "
            "snapshots kept (auto: picked when the loop starts, budget // bytes of one "
            "snapshot)."]
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    return benchtools.main(run, "checkpoint", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
