"""The one-command benchmark of s2sad against every peer (issue 7).

    python benchmarks/suite.py              # full run (about 2.5 minutes on a 2-core VM)
    python benchmarks/suite.py --quick      # smoke run (a few seconds)
    python benchmarks/suite.py --publish    # full run, then copy the report to docs/performance/

Per case, timed side by side in one run (median of interleaved timeit repeats,
``benchtools``): the plain function, a hand-written gradient, s2sad's reverse-mode
and forward-mode gradients, and the peers that are installed (``peers.py``):
SymPy (``diff`` + ``lambdify``, without and with ``cse=True``; SymPy's ``diff`` time
is its own column), autograd, JAX eager (``jax.grad``) and jitted
(``jax.jit(jax.grad(...))``, float64) and PyTorch eager (``backward()``, float64).
Every peer runs the *same* source as s2sad, with ``math``/``np`` rebound to its own
functions.  Each gradient is checked against the hand-written one at the timing
point and two more points (a peer off by more than 1e-6 is flagged ⚠).  Tangent
is not installable on Python ≥ 3.8, so it is not run.

Cases: the textbook scalar functions and the deep-nesting chain x ← sin(x)·x + cos(x)
for k = 5 … 1000 levels (``cases.py``); the extended Rosenbrock function and softmax
cross-entropy as loops over a list, and Kepler's equation as a ``while`` loop
(``bench_control.py``); Rosenbrock and softmax cross-entropy in NumPy (below),
logistic regression and a 2-layer MLP (``bench_numpy.py``).  Separately, for the
chain: s2sad's compile time and the op count of its gradient against k, and
SymPy's ``diff`` time and ``count_ops`` (raw and after ``cse``) in a child process
with a time budget (SymPy's time explodes with k).

A peer that cannot run a case, or whose cost extrapolated from a smaller size of
the same case exceeds the budget, gets "n/a" and a footnote; nothing crashes.  The
report (Markdown) is printed and written to ``benchmarks/results/suite.md``
(``suite-quick.md`` with ``--quick``) with the plots ``suite_ratios.png`` and
``suite_chain.png`` (when matplotlib imports).
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_control
import bench_numpy
import cases
import numpy as np
import peers
from bench_core import _table, machine
from benchtools import RESULTS, ROOT, clear_s2sad_caches, geomean, max_abs_error, time_interleaved

import s2sad
from s2sad.api import lift
from s2sad.ir.core import count_ops

DOCS = ROOT / "docs" / "performance"

# -- the NumPy versions of the loop cases (s2sad reads their source from this file) -----------


def rosenbrock_np(x):
    return np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosenbrock_np_hand(x):
    """∂/∂x_i gets −2(1 − x_i) − 400·x_i·t_i from term i and 200·t_{i−1} from term i − 1."""
    head = x[:-1]
    t = 200.0 * (x[1:] - head * head)
    g = np.zeros_like(x)
    g[:-1] = -2.0 * (1.0 - head) - 2.0 * head * t
    g[1:] += t
    return g


def softmax_np(z, k):
    m = np.max(z)
    return np.log(np.sum(np.exp(z - m))) + m - z[k]


def softmax_np_hand(z, k):
    """softmax(z) − e_k, with the max shift."""
    e = np.exp(z - np.max(z))
    g = e * (1.0 / np.sum(e))
    g[k] -= 1.0
    return g


# -- the cases --------------------------------------------------------------------------------

GROUPS = {"scalar": "Scalar functions", "loop": "Loops over lists and `while` loops",
          "numpy": "NumPy"}
S2SAD = ("rev", "fwd")
METHODS = ("plain", "hand", *S2SAD, *(m for fam in peers.FAMILIES for m in peers.METHODS[fam]))
GRADIENTS = METHODS[2:]
LABELS = {"plain": "plain", "hand": "hand", "rev": "s2sad rev", "fwd": "s2sad fwd",
          **peers.LABELS}
FLAG = 1e-6  # a gradient further than this from the hand-written one is flagged


@dataclass
class Case:
    group: str  # "scalar", "loop" or "numpy"
    name: str
    size: str  # the n column
    f: Callable[..., Any]
    hand: Callable[..., Any]
    wrt: Any
    points: list[tuple]  # the first one is timed
    family: str = ""  # cases of a family differ in size: a peer's cost is extrapolated along it
    scale: float = 1.0
    skip: dict[str, str] = field(default_factory=dict)  # method -> why it is not run

    @property
    def title(self) -> str:
        return f"{self.name} {self.size}".strip()


def scalar_cases(chain_ks: Sequence[int]) -> list[Case]:
    out = [Case("scalar", c.name, "", c.f, c.hand, c.wrt, c.points)
           for c in cases.cases(chain_ks[0])[:-1]]
    for k in chain_ks:
        c = cases.cases(k)[-1]
        out.append(Case("scalar", "chain", f"k={k}", c.f, c.hand, c.wrt, c.points,
                        family="chain", scale=k))
    return out


LOOP_CASES = {("rosenbrock", "hand"), ("softmax_xent", "hand"), ("kepler", "hand, taped")}


def loop_cases(quick: bool) -> list[Case]:
    out = []
    for c in bench_control.cases(quick):
        if (c.name, c.hand_label) in LOOP_CASES:
            scale = c.n if isinstance(c.n, int) else 1
            out.append(Case("loop", c.name, f"{c.n}", c.f, c.hand, c.wrt, c.points,
                            family=c.name, scale=scale))
    return out


def numpy_cases(loops: Sequence[Case]) -> list[Case]:
    """Rosenbrock and softmax cross-entropy in NumPy at the loop cases' points, then
    bench_numpy's logistic regression and MLP."""
    out = []
    for c in loops:
        if c.name in ("rosenbrock", "softmax_xent"):
            f, hand = ((rosenbrock_np, rosenbrock_np_hand) if c.name == "rosenbrock"
                       else (softmax_np, softmax_np_hand))
            points = [(np.array(p[0]), *p[1:]) for p in c.points]
            # no family: a NumPy call costs about the same at every size here
            out.append(Case("numpy", f.__name__, c.size, f, hand, c.wrt, points))
    for c in bench_numpy.cases():
        out.append(Case("numpy", c.name, c.size, c.f, c.hand, c.wrt, c.points))
    return out


# -- measuring one case ---------------------------------------------------------------------


@dataclass
class Settings:
    repeat: int  # interleaved repeats
    target: float  # seconds per repeat
    slow: float  # a gradient slower than this per call is timed apart, SLOW_REPEAT single calls
    call_budget: float  # skip a peer whose extrapolated time per call exceeds this
    prep_budget: float  # … or whose extrapolated preparation (SymPy diff, jit compile) does
    chain_ks: tuple[int, ...]  # run time of the chain
    compile_ks: tuple[int, ...]  # compile time and size of the chain
    compile_repeat: int
    sympy_timeout: float  # per k of the chain series, in a child process
    sympy_stop: float  # stop SymPy's chain series once one k took longer
    sympy_max_k: int  # … or past this k


# the smoke run: one or two cases of each kind, enough for every column and note
QUICK_CASES = {"cubic": None, "chain5": None, "chain": "k=5", "rosenbrock": "10", "kepler": None,
               "rosenbrock_np": "10", "softmax_np": None, "logistic_regression": None}
FULL = Settings(9, 0.03, 0.1, 4.0, 20.0, (5, 20, 100, 1000),
                (5, 10, 20, 50, 100, 200, 500, 1000), 3, 15.0, 5.0, 1000)
QUICK = Settings(3, 0.001, 0.01, 0.2, 3.0, (5,), (5, 10, 20), 1, 1.5, 1.0, 5)
SLOW_REPEAT = 3


@dataclass
class Result:
    """One method on one case: a time, or a note saying why there is none."""

    seconds: float | None = None  # median per call
    err: float | None = None  # max abs difference from the hand-written gradient
    note: str = ""  # "n/a" reason, "not installed", "not run", "—"
    prep: float | None = None  # SymPy: seconds of diff
    first: float | None = None  # seconds of the first call (jax.jit: trace + compile)

    @property
    def flagged(self) -> bool:
        return self.err is not None and not self.err <= FLAG  # NaN is flagged too


@dataclass
class Row:
    case: Case
    results: dict[str, Result]

    def time(self, m: str) -> float | None:
        return self.results[m].seconds

    def ratio(self, a: str, b: str) -> float | None:
        ta, tb = self.time(a), self.time(b)
        return ta / tb if ta is not None and tb is not None else None


class OverBudget(BaseException):
    """A peer's call ran past its time limit (raised by :func:`time_limit`; a
    BaseException, so that no `except Exception` inside a peer swallows it)."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`OverBudget` in the block after ``seconds`` (SIGALRM: Python code is
    stopped at its next bytecode, a long native call when it returns; no limit where
    there is no SIGALRM or off the main thread)."""
    if math.isinf(seconds) or not hasattr(signal, "setitimer") or \
            threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise OverBudget(f"stopped after {seconds:g} s (budget)")

    old = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class Budget:
    """What each peer cost on the smaller sizes of a case family, to skip the sizes it
    would take too long on (a 10,000-iteration loop unrolled by jax.jit, SymPy's diff,
    autograd's O(n²) list indexing).  The cost is extrapolated with the growth seen
    between the last two sizes (at least linear; SymPy's preparation at least
    quadratic)."""

    # the preparations that grow with the size: (least exponent, what is done)
    PREP = {"sympy": (2, "to build and differentiate the expression"),
            "jax_jit": (1, "to trace and compile (jax.jit unrolls the Python loop)")}

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # (family, method) -> [(scale, seconds per call, seconds to prepare + first call)]
        self.seen: dict[tuple[str, str], list[tuple[float, float, float]]] = {}

    def _estimate(self, hist: list[tuple[float, float, float]], scale: float, i: int,
                  least: float) -> float:
        s1, *v1 = hist[-1]
        power = least
        if len(hist) >= 2:
            s0, *v0 = hist[-2]
            if v0[i] > 0 and v1[i] > 0:
                power = max(least, math.log(v1[i] / v0[i]) / math.log(s1 / s0))
        return v1[i] * (scale / s1) ** power

    def skip(self, case: Case, method: str) -> str | None:
        method = "sympy" if method == "sympy_cse" else method  # one diff for both
        hist = self.seen.get((case.family, method))
        if not case.family or not hist or case.scale <= hist[-1][0]:
            return None
        where = f"{LABELS[method]}: not run at {case.title}: est."
        call = self._estimate(hist, case.scale, 0, 1.0)
        if call > self.settings.call_budget:
            return (f"{where} {call:.1f} s per call (extrapolated from the smaller sizes) > "
                    f"{self.settings.call_budget:g} s budget")
        if method in self.PREP:
            least, what = self.PREP[method]
            first = self._estimate(hist, case.scale, 1, least)
            if first > self.settings.prep_budget:
                return f"{where} {first:.0f} s {what} > {self.settings.prep_budget:g} s budget"
        return None

    def record(self, case: Case, method: str, call: float, first: float) -> None:
        if case.family and method != "sympy_cse":
            self.seen.setdefault((case.family, method), []).append((case.scale, call, first))


def _gradients(case: Case, families: Sequence[str], installed: dict[str, str | None],
               budget: Budget, results: dict[str, Result]) -> dict[str, peers.Method]:
    """Every gradient method that can run on ``case``; the others get their note."""
    grads: dict[str, peers.Method] = {}
    for m, mode in (("rev", "reverse"), ("fwd", "forward")):
        try:
            grads[m] = peers.Method(s2sad.grad(case.f, wrt=case.wrt, mode=mode),
                                    lambda *a: a)
        except Exception as exc:  # S2SADError: reported, never raised
            results[m].note = f"{LABELS[m]}: {peers.reason(exc)}"
    for fam in peers.FAMILIES:
        todo = []
        for m in peers.METHODS[fam]:
            why = ("not run" if fam not in families else
                   "not installed" if installed.get(fam) is None else
                   case.skip.get(m) or budget.skip(case, m))
            if why:
                results[m].note = why
            else:
                todo.append(m)
        if not todo:
            continue
        try:
            with time_limit(budget.settings.prep_budget):
                made = peers.prepare(fam, case.f, case.wrt, case.points[0])
        except OverBudget as exc:  # SymPy's diff
            for m in todo:
                results[m].note = f"{LABELS[todo[0]]}: {exc} to prepare at {case.title}"
                budget.record(case, m, 0.0, budget.settings.prep_budget * 10)
            continue
        except Exception as exc:
            for m in todo:
                results[m].note = f"{LABELS[todo[0]]}: {peers.reason(exc)}"
            continue
        for m in todo:
            grads[m] = made[m]
            results[m].prep = made[m].prep if fam == "sympy" else None
    return grads


def measure(case: Case, *, families: Sequence[str], installed: dict[str, str | None],
            settings: Settings, budget: Budget) -> Row:
    results = {m: Result() for m in METHODS}
    grads = _gradients(case, families, installed, budget, results)
    point = case.points[0]
    checked: dict[str, tuple[Callable[..., Any], tuple]] = {}
    per_call: dict[str, float] = {}
    for m, g in grads.items():
        args = g.convert(*point)
        # s2sad is never stopped; a peer's first call may compile (JAX: each op per shape)
        limit = math.inf if m in S2SAD else settings.prep_budget
        try:
            t0 = time.perf_counter()
            with time_limit(limit):
                g.call(*args)  # the first call: jax.jit traces and compiles here
            results[m].first = time.perf_counter() - t0
            limit = math.inf if m in S2SAD else 2 * settings.call_budget * len(case.points)
            t0 = time.perf_counter()
            with time_limit(limit):
                results[m].err = max_abs_error(g.call, case.hand, case.points, g.convert)
            per_call[m] = (time.perf_counter() - t0) / len(case.points)
        except OverBudget as exc:
            results[m].note = f"{LABELS[m]}: {exc} at {case.title}"
            budget.record(case, m, limit, limit)
            continue
        except Exception as exc:
            results[m].note = f"{LABELS[m]}: {peers.reason(exc)}"
            continue
        checked[m] = (g.call, args)
    fast = {m: c for m, c in checked.items() if per_call[m] <= settings.slow}
    slow = {m: c for m, c in checked.items() if m not in fast}
    funcs = {"plain": case.f, "hand": case.hand, **{m: c[0] for m, c in fast.items()}}
    args_of = {m: c[1] for m, c in checked.items()}
    times = time_interleaved(funcs, point, repeat=settings.repeat, target=settings.target,
                             args_of=args_of)
    if slow:
        times |= time_interleaved({m: c[0] for m, c in slow.items()}, point,
                                  repeat=SLOW_REPEAT, target=0.0, args_of=args_of)
    for m, t in times.items():
        results[m].seconds = t
        if m in grads and m not in S2SAD:
            budget.record(case, m, t, (results[m].first or 0.0) + (results[m].prep or 0.0))
    return Row(case, results)


# -- the chain: compile time and derivative size against k -------------------------------


@dataclass
class ChainRow:
    k: int
    primal_ops: int
    compile_s: float  # s2sad.grad, fastest of the repeats, caches cleared
    grad_ops: int  # ops of the generated gradient (s2sad's IR, after its CSE)
    grad_lines: int
    sympy: dict[str, Any]  # peers.sympy_chain's result, or {"note": ...}

    @property
    def sympy_finished(self) -> bool:
        return "cse_ops" in self.sympy


def run_chain(settings: Settings, *, with_sympy: bool,
              log: Callable[[str], None]) -> list[ChainRow]:
    s2sad.grad(cases.load_chain(2).chain)  # warm-up: the first grad imports SymPy
    rows = []
    stop = "" if with_sympy else "not run"
    for k in settings.compile_ks:
        best, g, f = math.inf, None, None
        for _ in range(settings.compile_repeat):
            f = cases.load_chain(k).chain
            clear_s2sad_caches()
            gc.collect()
            t0 = time.perf_counter()
            g = s2sad.grad(f)
            best = min(best, time.perf_counter() - t0)
        assert g is not None and f is not None
        if stop or k > settings.sympy_max_k:
            sym: dict[str, Any] = {"note": stop or "not run (quick)"}
        else:
            sym = peers.sympy_chain(k, settings.sympy_timeout)
            if sym.get("timed_out") or "error" in sym or sym["wall"] > settings.sympy_stop:
                stop = f"skipped (k = {k} took {sym['wall']:.1f} s)"
        rows.append(ChainRow(k, count_ops(lift(f)), best, count_ops(g.ir),
                             len(g.source.splitlines()), sym))
        clear_s2sad_caches()
        log(f"  chain k={k:5d}: s2sad compile {best * 1e3:8.1f} ms, {rows[-1].grad_ops} ops; "
            f"SymPy {sym}")
    return rows


# -- the run ----------------------------------------------------------------------------------


def run(quick: bool = False, log: Callable[[str], None] = lambda s: None, *,
        peers: Sequence[str] = peers.FAMILIES) -> dict[str, Any]:
    families = tuple(peers)
    start = time.perf_counter()
    settings = QUICK if quick else FULL
    installed = _installed(families)
    log(f"peers: {installed}")
    log("chain: compile time and size")
    chain = run_chain(settings, with_sympy=bool(installed.get("sympy")), log=log)
    finished = {r.k for r in chain if r.sympy_finished}
    loops = loop_cases(quick)
    all_cases = scalar_cases(settings.chain_ks) + loops + numpy_cases(loops)
    if quick:
        all_cases = [c for c in all_cases if c.name in QUICK_CASES
                     and QUICK_CASES[c.name] in (None, c.size)]
    for c in all_cases:
        if c.family == "chain" and c.scale not in finished:
            c.skip = dict.fromkeys(("sympy", "sympy_cse"), "—")
    budget = Budget(settings)
    rows = []
    for c in all_cases:
        t0 = time.perf_counter()
        row = measure(c, families=families, installed=installed, settings=settings,
                      budget=budget)
        rows.append(row)
        log(f"  {time.perf_counter() - t0:5.1f} s {c.group:6s} {c.name} {c.size}: " + " ".join(
            f"{m} {r.seconds * 1e6:.3g}" for m, r in row.results.items() if r.seconds))
    elapsed = time.perf_counter() - start
    md = markdown(rows, chain, installed=installed, settings=settings, quick=quick,
                  elapsed=elapsed)
    return {"rows": rows, "chain": chain, "installed": installed, "elapsed": elapsed,
            "markdown": md}


def _installed(families: Sequence[str]) -> dict[str, str | None]:
    import sympy  # a dependency of s2sad: always there

    got = peers.available([f for f in families if f != "sympy"])
    return {**({"sympy": sympy.__version__} if "sympy" in families else {}), **got}


# -- the report -------------------------------------------------------------------------------


def _x(r: float) -> str:
    return f"{r:.2f}" if r < 10 else f"{r:.1f}" if r < 100 else f"{r:,.0f}"


def _us(t: float) -> str:
    return f"{t * 1e6:.3f}" if t < 1e-6 else f"{t * 1e6:,.2f}" if t < 1e-3 else \
        f"{t * 1e6:,.0f}"


class Notes:
    """Numbered footnotes, each reason once."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def ref(self, text: str) -> str:
        if text not in self.items:
            self.items.append(text)
        return f"n/a [{self.items.index(text) + 1}]"


def _cell(row: Row, m: str, notes: Notes, base: str = "plain") -> str:
    r = row.results[m]
    if r.seconds is None:
        if r.note in ("not installed", "not run", "—"):
            return r.note
        return notes.ref(r.note)
    text = _x(r.seconds / row.results[base].seconds)  # type: ignore[operator]
    return text + (" ⚠" if r.flagged else "")


def _group_table(rows: Sequence[Row], notes: Notes) -> list[str]:
    header = ["case", "n", "plain µs", "hand", "**s2sad rev**", "rev / hand", "s2sad fwd",
              "fwd / hand", *(LABELS[m] for m in GRADIENTS[2:4]), "SymPy diff ms",
              *(LABELS[m] for m in GRADIENTS[4:])]
    body = []
    for row in rows:
        rh, fh = row.ratio("rev", "hand"), row.ratio("fwd", "hand")
        prep = row.results["sympy"].prep
        body.append([row.case.name, row.case.size, _us(row.results["plain"].seconds or 0.0),
                     _cell(row, "hand", notes), f"**{_cell(row, 'rev', notes)}**",
                     f"**{rh:.2f}**" if rh else "—", _cell(row, "fwd", notes),
                     f"{fh:.2f}" if fh else "—",
                     *(_cell(row, m, notes) for m in GRADIENTS[2:4]),
                     f"{prep * 1e3:,.1f}" if prep is not None and row.time("sympy") else "—",
                     *(_cell(row, m, notes) for m in GRADIENTS[4:])])
    return _table(header, body, "ll" + "r" * (len(header) - 2))


def summary(rows: Sequence[Row]) -> dict[str, tuple[float, int] | None]:
    """Geometric means (and how many cases they cover) of s2sad/hand and peer/s2sad."""
    out: dict[str, tuple[float, int] | None] = {}
    pairs = [("rev", "hand"), ("fwd", "hand"), *((m, "rev") for m in GRADIENTS[2:])]
    for a, b in pairs:
        xs = [x for row in rows if (x := row.ratio(a, b)) is not None]
        out[f"{a}/{b}"] = (geomean(xs), len(xs)) if xs else None
    return out


def _summary_lines(rows: Sequence[Row]) -> list[str]:
    parts = {"scalar functions + loops": [r for r in rows if r.case.group != "numpy"],
             "NumPy": [r for r in rows if r.case.group == "numpy"]}
    sums = {k: summary(v) for k, v in parts.items()}
    names = {"rev/hand": "s2sad reverse / hand-written", "fwd/hand": "s2sad forward / hand-written",
             **{f"{m}/rev": f"{LABELS[m]} / s2sad reverse" for m in GRADIENTS[2:]}}
    body = []
    for key, label in names.items():
        cells = []
        for s in sums.values():
            got = s[key]
            cells.append(f"**{_x(got[0])}** ({got[1]} cases)" if got else "—")
        body.append([label, *cells])
    out = ["Geometric means of time ratios (peer / s2sad > 1: s2sad is faster):", ""]
    out += _table(["ratio", *parts], body)
    out.append("")
    for m in S2SAD:
        worst = max((r for r in rows if r.ratio(m, "hand")), key=lambda r: r.ratio(m, "hand"),
                    default=None)
        if worst:
            out.append(f"- Largest single s2sad {'reverse' if m == 'rev' else 'forward'} / "
                       f"hand-written ratio: **{worst.ratio(m, 'hand'):.2f}** "
                       f"({worst.case.title}).")
    jit = [(r, r.ratio("jax_jit", "rev")) for r in rows]
    ran = [(r, x) for r, x in jit if x is not None]
    if ran:
        slower = [r.case.title + f" ({x:.2f})" for r, x in ran if x <= 1]
        verdict = ("**yes**" if not slower else f"**no**: jax.jit is faster on "
                   f"{', '.join(slower)}")
        na = [r.case.title for r, x in jit if x is None]
        out.append(f"- Faster than jax.jit on every case it ran on ({len(ran)} cases)? {verdict}."
                   + (f" jax.jit did not run on: {', '.join(na)}." if na else ""))
        out.append("- jax.jit / s2sad reverse per case: " + ", ".join(
            r.case.title + f" {x:.1f}" for r, x in ran) + ".")
    else:
        out.append("- Faster than jax.jit on every case? jax.jit was not run.")
    worst_err = max((r.results[m].err or 0.0 for r in rows for m in S2SAD), default=0.0)
    flagged = [f"{LABELS[m]} on {r.case.title}"
               for r in rows for m in GRADIENTS if r.results[m].flagged]
    out.append(f"- Largest difference of an s2sad gradient from the hand-written one: "
               f"{worst_err:.1e}. Gradients off by more than {FLAG:g} (⚠): "
               f"{', '.join(flagged) if flagged else 'none'}.")
    return out


def _errors_table(rows: Sequence[Row]) -> list[str]:
    body = []
    for row in rows:
        cells = []
        for m in GRADIENTS:
            e = row.results[m].err
            cells.append("—" if e is None else f"{e:.0e}" + (" ⚠" if row.results[m].flagged
                                                               else ""))
        body.append([row.case.name, row.case.size, *cells])
    return _table(["case", "n", *(LABELS[m] for m in GRADIENTS)], body, "ll" +
                  "r" * len(GRADIENTS))


def _times_table(rows: Sequence[Row]) -> list[str]:
    body = [[row.case.name, row.case.size,
             *(_us(t) if (t := row.time(m)) is not None else "—" for m in METHODS)]
            for row in rows]
    return _table(["case", "n", *(LABELS[m] for m in METHODS)], body, "ll" + "r" * len(METHODS))


def _chain_table(chain: Sequence[ChainRow], settings: Settings) -> list[str]:
    def sym(r: ChainRow, key: str, fmt: str) -> str:
        if key in r.sympy:
            return format(r.sympy[key], fmt)
        if key != "diff_s" and "diff_s" not in r.sympy:
            return "—"  # the reason is in the diff column
        if "note" in r.sympy:
            return r.sympy["note"]
        return f"> {settings.sympy_timeout:g} s (stopped)" if r.sympy.get("timed_out") else \
            "failed"

    body = [[str(r.k), str(r.primal_ops), f"{r.compile_s * 1e3:,.1f}", f"{r.grad_ops:,}",
             sym(r, "diff_s", ".3f"), sym(r, "raw_ops", ","), sym(r, "cse_s", ".3f"),
             sym(r, "cse_ops", ",")] for r in chain]
    return _table(["k", "primal ops", "s2sad compile ms", "s2sad gradient ops",
                   "SymPy diff s", "SymPy ops (raw)", "SymPy cse s", "SymPy ops (after cse)"],
                  body)


def markdown(rows: Sequence[Row], chain: Sequence[ChainRow], *, installed: dict[str, str | None],
             settings: Settings, quick: bool, elapsed: float) -> str:
    info = machine()
    versions = [f"Python {platform.python_version()}", f"NumPy {np.__version__}"]
    for fam, label in (("sympy", "SymPy"), ("autograd", "autograd"), ("jax", "JAX"),
                       ("torch", "PyTorch")):
        v = installed.get(fam)
        state = "not run" if fam not in installed else "not installed"
        versions.append(f"{label} {v}" if v else f"{label} {state}")
    out = [f"# s2sad against its peers{' (quick run)' if quick else ''}", "",
           f"`python benchmarks/suite.py{' --quick' if quick else ''}`: every gradient timed "
           "side by side in one run (median of interleaved timeit repeats, "
           f"{settings.repeat} repeats of ~{settings.target * 1e3:g} ms; a gradient slower "
           f"than {settings.slow * 1e3:g} ms per call: median of {SLOW_REPEAT} single calls).",
           ""]
    out += [f"- **{k}**: {v}" for k, v in info.items()]
    out += [f"- **versions**: {', '.join(versions)}; s2sad {s2sad.__version__}",
            "- **Tangent** (Google's source-to-source AD for Python) is not installable on "
            "Python ≥ 3.8, so it is not run; issue 7 quotes about 40× for it on scalar code.",
            "- PyTorch runs with `torch.set_num_threads(1)`, like every other method here "
            "(with two threads its MLP gradient took 39 ms instead of 0.18 ms on this VM); "
            "JAX in float64 (`jax_enable_x64`).",
            f"- **wall time of this run**: {elapsed:.0f} s", ""]
    out += ["## Summary", ""] + _summary_lines(rows) + [""]
    notes = Notes()
    out += ["## Run time", "",
            "*plain µs*: median time per call of the plain function. Every other column is "
            "a gradient's time per call **divided by the plain function's** (so 3.0 means "
            "three plain calls' worth), except *rev / hand* and *fwd / hand*: s2sad's time "
            "over the hand-written gradient's. *SymPy* is `lambdify` of `sympy.diff` "
            "(without and with `cse=True`); *SymPy diff ms* is SymPy's time to differentiate. "
            "⚠: the gradient differs from the hand-written one by more than "
            f"{FLAG:g} somewhere (see the correctness table). n/a [i]: see note i below.", ""]
    for group, title in GROUPS.items():
        grp = [r for r in rows if r.case.group == group]
        if grp:
            out += [f"### {title}", ""] + _group_table(grp, notes) + [""]
    if notes.items:
        out += ["Notes:", ""] + [f"{i}. {t}" for i, t in enumerate(notes.items, 1)] + [""]
    if any(r.case.family == "chain" and r.results["sympy"].note == "—" for r in rows):
        out += ["SymPy is \"—\" on the chains whose `diff` did not finish within its budget in "
                "the compile-time series below.", ""]
    out += ["## The deep-nesting chain: compile time and derivative size against k", "",
            "x ← sin(x)·x + cos(x), k levels as straight-line code. *s2sad compile*: "
            f"`s2sad.grad` on a fresh function, caches cleared, fastest of "
            f"{settings.compile_repeat}; *s2sad gradient ops*: operations of the generated "
            "gradient (s2sad's IR, shared values counted once). SymPy: `sympy.diff` of the "
            "expression, `count_ops` of the derivative as a tree (*raw*) and after `cse` "
            f"(shared subexpressions counted once), in a child process stopped after "
            f"{settings.sympy_timeout:g} s; the series stops once one k took more than "
            f"{settings.sympy_stop:g} s.", ""]
    out += _chain_table(chain, settings) + [""]
    out += ["## Correctness: largest absolute difference from the hand-written gradient", "",
            "Over the timing point and two more points. For k ≥ 100 the chain has converged "
            "to π/2, where its derivative underflows to 0: the check is weak there.", ""]
    out += _errors_table(rows) + [""]
    out += ["## Median time per call, µs", ""] + _times_table(rows) + [""]
    return "\n".join(out)


# -- plots ------------------------------------------------------------------------------------


MARKERS = dict(zip(("hand", *GRADIENTS), "soDv^<>PX", strict=True))


def plot_ratios(rows: Sequence[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = ["hand", *GRADIENTS]
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(rows) + 1.5))
    labels = [r.case.title for r in rows]
    ys = list(range(len(rows)))[::-1]
    for i, m in enumerate(methods):
        pts = [(row.ratio(m, "plain"), y) for row, y in zip(rows, ys, strict=True)]
        pts = [(x, y) for x, y in pts if x is not None]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] + (i - len(methods) / 2) * 0.05 for p in pts],
                       marker=MARKERS.get(m, "o"), s=28, label=LABELS[m], alpha=0.85)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xscale("log")
    ax.axvline(1.0, color="grey", lw=0.8)
    ax.set_xlabel("gradient time / plain function time (log scale)")
    ax.grid(axis="x", which="both", alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08 - 1.0 / len(rows)), ncol=5,
              fontsize=8)
    ax.set_title("s2sad and peers: cost of a gradient, per case")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_chain(chain: Sequence[ChainRow], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    ks = [r.k for r in chain]
    left.plot(ks, [r.compile_s for r in chain], "o-", label="s2sad compile")

    def series(key: str) -> tuple[list[int], list[float]]:
        got = [(r.k, r.sympy[key]) for r in chain if key in r.sympy]
        return [k for k, _ in got], [v for _, v in got]

    kd, vd = series("diff_s")
    kc, vc = series("cse_s")
    if kd:
        left.plot(kd, vd, "s-", label="SymPy diff")
    if kc:
        left.plot(kc, [vd[kd.index(k)] + v for k, v in zip(kc, vc, strict=True)], "^--",
                  label="SymPy diff + cse")
    stopped = [r.k for r in chain if "diff_s" not in r.sympy and "note" not in r.sympy]
    stopped += [r.k for r in chain if str(r.sympy.get("note", "")).startswith("skipped (")]
    if stopped:
        left.axvline(min(stopped), color="grey", ls=":", label="SymPy past its budget")
    left.set(xscale="log", yscale="log", xlabel="k (levels)", ylabel="seconds",
             title="compile / differentiation time")
    right.plot(ks, [r.grad_ops for r in chain], "o-", label="s2sad gradient")
    for key, style, label in (("raw_ops", "s-", "SymPy raw"), ("cse_ops", "^--",
                                                              "SymPy after cse")):
        kx, vx = series(key)
        if kx:
            right.plot(kx, vx, style, label=label)
    right.set(xscale="log", yscale="log", xlabel="k (levels)", ylabel="operations",
              title="derivative size")
    for ax in (left, right):
        ax.set_xticks(ks, [str(k) for k in ks], minor=False)
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.grid(which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("deep-nesting chain x ← sin(x)·x + cos(x)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write(report: dict[str, Any], *, quick: bool, publish: bool,
          log: Callable[[str], None]) -> list[Path]:
    """The Markdown and the plots into results/ (and docs/performance/ with publish)."""
    RESULTS.mkdir(exist_ok=True)
    tag = "-quick" if quick else ""
    md = RESULTS / f"suite{tag}.md"
    md.write_text(report["markdown"], encoding="utf-8")
    files = [md]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("matplotlib is not installed: no plots")
    else:
        files.append(RESULTS / f"suite_ratios{tag}.png")
        plot_ratios(report["rows"], files[-1])
        files.append(RESULTS / f"suite_chain{tag}.png")
        plot_chain(report["chain"], files[-1])
    if publish:
        DOCS.mkdir(parents=True, exist_ok=True)
        for p in files:
            shutil.copy(p, DOCS / p.name)
        files += [DOCS / p.name for p in files]
    return files


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few-second smoke run")
    ap.add_argument("--publish", action="store_true",
                    help="also copy the report and plots to docs/performance/")
    ap.add_argument("--peers", default=",".join(peers.FAMILIES),
                    help="comma-separated peers to run (default: %(default)s; '' for none)")
    opts = ap.parse_args(argv)

    def log(s: str) -> None:
        print(s, file=sys.stderr, flush=True)

    report = run(quick=opts.quick, log=log, peers=[p for p in opts.peers.split(",") if p])
    print(report["markdown"])
    for p in write(report, quick=opts.quick, publish=opts.publish, log=log):
        log(f"(written to {p})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
