"""Control-flow benchmark of s2sad (issue 3): loops over lists, while loops, tape memory.

    python benchmarks/bench_control.py            # full run (about a minute)
    python benchmarks/bench_control.py --quick    # smoke run (a few seconds)

1. **Run time**, side by side in one run (median of interleaved timeit repeats):
   the plain function, a careful hand-written reverse-mode gradient and s2sad's
   reverse-mode gradient, with the ratio s2sad / hand-written (target ≤ 1.5)
   and a correctness column (largest absolute difference between s2sad's and
   the hand-written gradient over several points).

   * ``rosenbrock`` — the extended Rosenbrock function as a Python loop over a
     list, n = 10, 100, 10,000;
   * ``softmax_xent`` — softmax cross-entropy written as loops over a list (a
     max-shift loop, a sum-of-exps loop, a log), n = 100; ``softmax_xent_builtin``
     is the same with ``max(z)`` and ``sum(<generator>)``;
   * ``prefix`` — ``ys[i] = ys[i] * ys[i - 1] + 1`` over a copy of the list, n = 100,
     1,000: item assignment to a local list inside a loop;
   * ``kepler`` — Newton's method for Kepler's equation E − e·sin E = M, a
     ``while`` loop whose trip count depends on the data (JAX has no reverse
     mode for ``lax.while_loop``).  Two hand-written gradients: the adjoint of
     the iteration with a tape (what AD computes: the fair comparison), and the
     implicit-function-theorem gradient (what a numerical analyst would write
     for a converged solve: O(1) after the solve);
   * ``fixed_point`` — the linearly convergent iteration x ← a·cos x + b until
     the step is below 1e-13 (dozens of passes), same two hand-written gradients.

2. **Tape memory** (``tracemalloc`` peak during one call of the gradient, inputs
   allocated before): the Rosenbrock gradient at n = 100,000 against the size of
   the input list (list object + its float objects), and loops that carry one
   scalar through n iterations with a nonlinear body, so that the tape has n
   entries: bytes per iteration, for s2sad and for a hand-written tape; and the
   ``prefix`` loop, whose tape holds a copy of the whole list per pass.

3. **Compile time against trip count**: ``s2sad.grad`` of the same loop with a
   literal trip count of 10 … 1,000,000 (fresh modules, cache cleared): the time
   and the size of the generated code do not depend on the count (a loop stays
   a loop).

The report is printed as Markdown and written to ``benchmarks/results/control.md``
(``control-quick.md`` with ``--quick``).  Absolute times depend on the machine;
the ratios are the point.
"""

from __future__ import annotations

import gc
import math
import platform
import random
import re
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import benchtools
from benchtools import clear_s2sad_caches, load_source, max_abs_error, time_interleaved

import s2sad

# -- the benchmark functions (s2sad reads their source from this file) ------------------------


def rosenbrock(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def rosenbrock_hand(x):
    """∇ of the extended Rosenbrock function: one forward pass, no tape needed."""
    n = len(x)
    g = [0.0] * n
    for i in range(n - 1):
        xi = x[i]
        t = 200.0 * (x[i + 1] - xi * xi)
        g[i] += -2.0 * (1.0 - xi) - 2.0 * xi * t
        g[i + 1] = t  # first contribution to g[i + 1]
    return g


def softmax_xent(z, k):
    m = z[0]
    for v in z:
        if v > m:
            m = v
    total = 0.0
    for v in z:
        total += math.exp(v - m)
    return math.log(total) + m - z[k]


def softmax_xent_builtin(z, k):
    m = max(z)
    total = sum(math.exp(v - m) for v in z)
    return math.log(total) + m - z[k]


def softmax_xent_hand(z, k):
    """∇ = softmax(z) − e_k: the exponentials are computed once and kept."""
    m = z[0]
    for v in z:
        if v > m:
            m = v
    es = [math.exp(v - m) for v in z]
    total = 0.0
    for e in es:
        total += e
    inv = 1.0 / total
    g = [e * inv for e in es]
    g[k] -= 1.0
    return g


def kepler(M, e):
    E = M
    d = 1.0
    k = 0
    while abs(d) > 1e-12 and k < 50:
        d = (E - e * math.sin(E) - M) / (1 - e * math.cos(E))
        E = E - d
        k += 1
    return E


def kepler_hand(M, e):
    """The adjoint of the Newton iteration, with a tape of (E, sin E, cos E, 1 − e cos E, d)."""
    E = M
    d = 1.0
    k = 0
    tape = []
    while abs(d) > 1e-12 and k < 50:
        s = math.sin(E)
        c = math.cos(E)
        den = 1 - e * c
        d = (E - e * s - M) / den
        tape.append((s, c, den, d))
        E = E - d
        k += 1
    E_bar = 1.0
    M_bar = 0.0
    e_bar = 0.0
    for s, c, den, d in reversed(tape):
        # E' = E − d,  d = num / den,  num = E − e·s − M,  den = 1 − e·c
        num_bar = -E_bar / den
        den_bar = E_bar * d / den
        E_bar += num_bar * den + den_bar * e * s
        e_bar -= num_bar * s + den_bar * c
        M_bar -= num_bar
    return M_bar + E_bar, e_bar


def kepler_implicit(M, e):
    """The implicit-function-theorem gradient at the converged E: F(E, M, e) = 0."""
    E = kepler(M, e)
    den = 1 - e * math.cos(E)
    return 1.0 / den, math.sin(E) / den


def fixed_point(a, b):
    x = 0.0
    dx = 1.0
    while abs(dx) > 1e-13:
        x_new = a * math.cos(x) + b
        dx = x_new - x
        x = x_new
    return x


def fixed_point_hand(a, b):
    """The adjoint of the iteration, with a tape of (cos x, sin x)."""
    x = 0.0
    dx = 1.0
    tape = []
    while abs(dx) > 1e-13:
        c = math.cos(x)
        tape.append((c, math.sin(x)))
        x_new = a * c + b
        dx = x_new - x
        x = x_new
    x_bar = 1.0
    a_bar = 0.0
    b_bar = 0.0
    for c, s in reversed(tape):
        a_bar += x_bar * c
        b_bar += x_bar
        x_bar = -a * s * x_bar
    return a_bar, b_bar


def fixed_point_implicit(a, b):
    """x = a cos x + b  ⇒  dx = (cos x · da + db) / (1 + a sin x)."""
    x = fixed_point(a, b)
    den = 1.0 + a * math.sin(x)
    return math.cos(x) / den, 1.0 / den


def prefix(xs):
    ys = list(xs)
    for i in range(1, len(ys)):
        ys[i] = ys[i] * ys[i - 1] + 1.0
    return ys[-1]


def prefix_hand(xs):
    """Each ys[i] is written once, over xs[i]: the primal list is the only tape needed."""
    n = len(xs)
    ys = list(xs)
    for i in range(1, n):
        ys[i] = ys[i] * ys[i - 1] + 1.0
    g = [0.0] * n
    b = 1.0  # adjoint of ys[i]
    for i in range(n - 1, 0, -1):
        g[i] = b * ys[i - 1]
        b *= xs[i]
    g[0] = b
    return g


def carry(x, n):
    s = x
    for _ in range(n):
        s = math.sin(s) + x
    return s


def carry_hand(x, n):
    """The adjoint of ``carry`` with a tape of cos(s) (one float per iteration)."""
    s = x
    tape = []
    for _ in range(n):
        tape.append(math.cos(s))
        s = math.sin(s) + x
    s_bar = 1.0
    x_bar = 0.0
    for c in reversed(tape):
        x_bar += s_bar
        s_bar *= c
    return x_bar + s_bar


def carry2(x, y, n):
    u = x
    v = y
    for _ in range(n):
        u, v = math.sin(v) + x, u * math.cos(v)
    return u + v


def count_while(x, n):
    s = x
    k = 0
    while k < n:
        s = math.tanh(s) + x
        k += 1
    return s


# -- timing helpers ---------------------------------------------------------------------------


# -- 1. run time ------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    n: int | str  # problem size (list length) or a description
    f: Callable[..., Any]
    hand: Callable[..., Any]
    hand_label: str
    wrt: Any
    points: list[tuple]  # the first one is timed


@dataclass
class RuntimeRow:
    case: str
    n: int | str
    hand_label: str
    plain: float
    hand: float
    s2sad: float
    abs_err: float

    @property
    def ratio(self) -> float:
        return self.s2sad / self.hand


def _lists(n: int, count: int, seed: int, lo: float, hi: float) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(lo, hi) for _ in range(n)] for _ in range(count)]


def cases(quick: bool = False) -> list[Case]:
    out = []
    for n in (10, 100) if quick else (10, 100, 10_000):
        out.append(Case("rosenbrock", n, rosenbrock, rosenbrock_hand, "hand", 0,
                        [(x,) for x in _lists(n, 3, n, -2.0, 2.0)]))
    for f in (softmax_xent, softmax_xent_builtin):
        pts = [(z, i % 100) for i, z in enumerate(_lists(100, 3, 5, -3.0, 3.0))]
        out.append(Case(f.__name__, 100, f, softmax_xent_hand, "hand", 0, pts))
    for n in (100, 1000):
        # values in (0.5, 1.0): the prefix products stay bounded
        out.append(Case("prefix (ys[i] = …)", n, prefix, prefix_hand, "hand", 0,
                        [(x,) for x in _lists(n, 3, n + 1, -1.0, -0.5)]))
    kepler_pts = [(1.0, 0.5), (0.3, 0.9), (2.5, 0.2)]
    fp_pts = [(0.7, 0.3), (0.5, -1.0), (-0.8, 0.6)]
    for name, f, hands, pts in (
            ("kepler", kepler, ((kepler_hand, "hand, taped"),
                                (kepler_implicit, "implicit fn.")), kepler_pts),
            ("fixed_point", fixed_point, ((fixed_point_hand, "hand, taped"),
                                          (fixed_point_implicit, "implicit fn.")), fp_pts)):
        trips = _trip_count(f, pts[0])
        for hand, label in hands:
            out.append(Case(name, f"{trips} passes", f, hand, label, (0, 1), pts))
    return out


def _trip_count(f: Callable[..., Any], args: tuple) -> int:
    """Passes through the while loop of ``kepler``/``fixed_point`` at ``args``."""
    if f is kepler:
        M, e = args
        E, d, k = M, 1.0, 0
        while abs(d) > 1e-12 and k < 50:
            d = (E - e * math.sin(E) - M) / (1 - e * math.cos(E))
            E, k = E - d, k + 1
        return k
    a, b = args
    x, dx, k = 0.0, 1.0, 0
    while abs(dx) > 1e-13:
        x_new = a * math.cos(x) + b
        dx, x, k = x_new - x, x_new, k + 1
    return k


def run_runtime(*, quick: bool = False, log: Callable[[str], None] = lambda s: None,
                ) -> list[RuntimeRow]:
    repeat = 3 if quick else 15
    target = 0.002 if quick else 0.05
    rows = []
    for case in cases(quick):
        g = s2sad.grad(case.f, wrt=case.wrt, mode="reverse")
        err = max_abs_error(g, case.hand, case.points)
        t = time_interleaved({"plain": case.f, "hand": case.hand, "s2sad": g}, case.points[0],
                             repeat=repeat, target=target)
        row = RuntimeRow(case.name, case.n, case.hand_label, t["plain"], t["hand"], t["s2sad"],
                         err)
        rows.append(row)
        log(f"  {case.name:22s} n={case.n!s:10s} plain {row.plain * 1e6:9.2f} us  "
            f"{case.hand_label} {row.hand * 1e6:9.2f} us  s2sad {row.s2sad * 1e6:9.2f} us  "
            f"ratio {row.ratio:.2f}  err {err:.1e}")
    return rows


# -- 2. tape memory ---------------------------------------------------------------------------


def peak_bytes(f: Callable[..., Any], *args: Any) -> int:
    """Peak memory allocated during ``f(*args)`` (tracemalloc; the inputs exist before)."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = f(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    del result
    return peak - base


def list_bytes(xs: list[float]) -> int:
    """The list object plus its (distinct) float objects."""
    return sys.getsizeof(xs) + sum(sys.getsizeof(v) for v in {id(v): v for v in xs}.values())


@dataclass
class MemoryRow:
    what: str
    n: int
    peak: int  # bytes
    reference: int  # bytes: the input list, or 0
    note: str

    @property
    def per_item(self) -> float:
        return self.peak / self.n


def run_memory(*, quick: bool = False) -> list[MemoryRow]:
    n = 10_000 if quick else 100_000
    x = _lists(n, 1, 1, -2.0, 2.0)[0]
    size = list_bytes(x)
    rows = [
        MemoryRow("rosenbrock: s2sad grad", n, peak_bytes(s2sad.grad(rosenbrock), x), size,
                  "the result x_bar is a new list of n floats; no tape is needed"),
        MemoryRow("rosenbrock: hand grad", n, peak_bytes(rosenbrock_hand, x), size, ""),
        MemoryRow("rosenbrock: plain", n, peak_bytes(rosenbrock, x), size, ""),
    ]
    g_prefix = s2sad.grad(prefix)
    for m in (1000, 3000):
        xs = _lists(m, 1, 2, -1.0, -0.5)[0]
        rows.append(MemoryRow("prefix (ys[i] = …): s2sad", m, peak_bytes(g_prefix, xs),
                              list_bytes(xs), "tape: ys[i] before each pass changes it (O(n))"))
        rows.append(MemoryRow("prefix (ys[i] = …): hand", m, peak_bytes(prefix_hand, xs),
                              list_bytes(xs), "ys and the result"))
    g_carry = s2sad.grad(carry, wrt=0, mode="reverse")  # the tape is what is measured
    g_carry2 = s2sad.grad(carry2, wrt=(0, 1))
    g_while = s2sad.grad(count_while, wrt=0, mode="reverse")
    rows += [
        MemoryRow("carry (for, 1 scalar): s2sad", n, peak_bytes(g_carry, 0.7, n), 0,
                  "tape: s per pass"),
        MemoryRow("carry (for, 1 scalar): hand", n, peak_bytes(carry_hand, 0.7, n), 0,
                  "tape: cos(s) per pass"),
        MemoryRow("carry2 (for, 2 scalars): s2sad", n, peak_bytes(g_carry2, 0.7, 0.3, n), 0,
                  "u, v carried"),
        MemoryRow("count_while (while, 1 scalar): s2sad", n,
                  peak_bytes(g_while, 0.7, n), 0, "tape: s per pass, plus the pass count"),
    ]
    return rows


# -- 3. compile time against the trip count ---------------------------------------------------


TRIP_SOURCE = '''import math


def loop(x, y):
    s = x
    for i in range({n}):
        if s > y:
            s = math.sin(s) * y + 0.5 * x
        else:
            s = s + math.cos(x * i)
    t = 0.0
    k = 0
    while k < {n} and t < 1e300:
        t = t + math.tanh(s * k)
        k += 1
    return s + t
'''




@dataclass
class CompileRow:
    trips: int
    seconds: float  # fastest of the repeats of s2sad.grad on a fresh function
    lines: int  # lines of generated code
    source_equal: bool  # generated code identical up to the literal trip count


def run_compile(*, quick: bool = False) -> list[CompileRow]:
    trips = (10, 1000) if quick else (10, 100, 1000, 10_000, 100_000, 1_000_000)
    repeat = 1 if quick else 3
    rows = []
    ref = None
    for n in trips:
        best = math.inf
        src = ""
        for _ in range(repeat):
            f = load_source(TRIP_SOURCE.format(n=n), "trip").loop
            clear_s2sad_caches()
            gc.collect()
            t0 = time.perf_counter()
            g = s2sad.grad(f, wrt=(0, 1))
            best = min(best, time.perf_counter() - t0)
            src = g.source
        normalized = re.sub(rf"\b{n}\b", "N", src)
        # the function name differs per module: compare from the first def on
        body = normalized[normalized.index("def "):]
        ref = ref if ref is not None else body
        rows.append(CompileRow(n, best, len(src.splitlines()), body == ref))
    return rows


# -- report -----------------------------------------------------------------------------------


def _us(t: float) -> str:
    return f"{t * 1e6:,.2f}" if t < 1e-3 else f"{t * 1e6:,.0f}"


def markdown(runtime: list[RuntimeRow], memory: list[MemoryRow], compile_rows: list[CompileRow],
             *, quick: bool) -> str:
    out = [f"# s2sad control-flow benchmark{' (quick)' if quick else ''}", ""]
    out.append(f"Python {platform.python_version()} on {platform.machine()} "
               f"({platform.system()}), s2sad {getattr(s2sad, '__version__', '?')}. "
               "Times: median of interleaved timeit repeats, µs per call.")
    out += ["", "## Run time: reverse-mode gradient, s2sad vs hand-written", "",
            "| case | n | plain µs | hand-written | hand µs | s2sad µs | s2sad / hand "
            "| s2sad / plain | max abs err vs hand |",
            "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for r in runtime:
        flag = "" if r.ratio <= 1.5 else " ⚠"
        out.append(f"| {r.case} | {r.n} | {_us(r.plain)} | {r.hand_label} | {_us(r.hand)} | "
                   f"{_us(r.s2sad)} | **{r.ratio:.2f}**{flag} | {r.s2sad / r.plain:.2f} | "
                   f"{r.abs_err:.1e} |")
    out += ["", "Target: s2sad / hand ≤ 1.5 (⚠ marks a miss). `implicit fn.` is the "
            "implicit-function-theorem gradient at the converged solution — a different, "
            "O(1) algorithm, shown for scale; its error column is the difference between "
            "differentiating the iterations and differentiating the solution.", ""]
    out += ["## Tape memory (tracemalloc peak during one gradient call)", "",
            "| what | n | peak bytes | bytes / item | input list bytes | peak / input | note |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for m in memory:
        ref = f"{m.reference:,}" if m.reference else "—"
        rel = f"{m.peak / m.reference:.2f}" if m.reference else "—"
        out.append(f"| {m.what} | {m.n:,} | {m.peak:,} | {m.per_item:.1f} | {ref} | {rel} | "
                   f"{m.note} |")
    out += ["", "A float is a 24-byte object plus an 8-byte list slot: a tape holding one "
            "fresh float per pass costs about 32 bytes per iteration (plus list "
            "over-allocation).", ""]
    out += ["## Compile time vs trip count", "",
            "The same function (a `for` loop with a branch and a `while` loop, both with a "
            "literal trip count N) compiled with `s2sad.grad` on fresh modules.", "",
            "| trip count N | compile ms | generated lines | same code up to N |",
            "|---:|---:|---:|---|"]
    for c in compile_rows:
        out.append(f"| {c.trips:,} | {c.seconds * 1e3:.1f} | {c.lines} | "
                   f"{'yes' if c.source_equal else 'NO'} |")
    return "\n".join(out) + "\n"


def run(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    log("run time")
    runtime = run_runtime(quick=quick, log=log)
    log("tape memory")
    memory = run_memory(quick=quick)
    log("compile time")
    compile_rows = run_compile(quick=quick)
    return {"runtime": runtime, "memory": memory, "compile": compile_rows,
            "markdown": markdown(runtime, memory, compile_rows, quick=quick)}


def main(argv: Sequence[str] | None = None) -> int:
    return benchtools.main(run, "control", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
