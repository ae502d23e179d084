"""Core benchmark of s2sad: generated gradients against hand-written ones, and compile time.

    python benchmarks/bench_core.py            # full run (about 1.5 minutes)
    python benchmarks/bench_core.py --quick    # smoke run (a few seconds)

1. **Run time.**  For each case (the textbook functions and the deep-nesting
   chain x ← sin(x)·x + cos(x), k = 20), time side by side in one run: the
   plain function, a careful hand-written gradient (``cases.py``), s2sad's
   reverse-mode gradient and s2sad's forward-mode gradient.  Each variant is
   calibrated to a fixed time per repeat, the repeats of a case's variants are
   interleaved (so drift on a shared machine hits them all alike), and the
   median is reported.  A correctness column gives the largest absolute (and
   relative) difference between s2sad's gradients and the hand-written one at
   several points.
2. **Compile time** of ``s2sad.grad`` for chains of k = 50 … 1600 levels
   (4 primitive ops each), on fresh function objects (the in-memory cache never
   hits), with a per-stage breakdown through the internal pipeline and a
   cProfile of the largest-but-one chain.

The report is printed as Markdown and written to ``benchmarks/results/core.md``
(``core-quick.md`` with ``--quick``).  Absolute times depend on the machine;
the ratios are the point.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import math
import os
import platform
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cases
from benchtools import (
    RESULTS,
    ROOT,
    clear_s2sad_caches,
    geomean,
    sample_interleaved,
    time_interleaved,
)

import s2sad
from s2sad.ad.transforms import grad_function
from s2sad.codegen import load, module, render
from s2sad.frontend import from_function, lower
from s2sad.ir.core import count_ops
from s2sad.opt import optimize
from s2sad.pipeline import normalize_wrt

CHAIN_KS = (50, 100, 200, 400, 800, 1600)
RUNTIME_REPEAT = 15  # short interleaved repeats: the median shrugs off bursts of other load
RUNTIME_TARGET = 0.05  # seconds per repeat
QUICK_CHAIN_KS = (5, 10, 20)
STAGES = ("source", "lift", "AD", "optimize", "IR→ast", "render", "load")
STAGE_NOTES = {
    "source": "`frontend.from_function`: inspect.getsource, ast.parse, name resolver",
    "lift": "`frontend.lower`: AST → SSA IR (CSE by construction)",
    "AD": "`ad.transforms.grad_function`: activity analysis + reverse sweep "
          "(first half of `pipeline.derive`)",
    "optimize": "`opt.optimize`: CSE/fold rebuild + DCE (second half of `pipeline.derive`)",
    "IR→ast": "`codegen.module`: IR → Python `ast` (naming, folding temporaries) "
              "(first half of `pipeline.generate`)",
    "render": "`codegen.render`: `ast` → source text (astor) (second half of "
              "`pipeline.generate`)",
    "load": "`codegen.load`: compile() + exec of the generated module",
}


# -- timing helpers ---------------------------------------------------------------------------


# -- 1. run time ------------------------------------------------------------------------------


def _flat(v: Any) -> tuple[float, ...]:
    return tuple(v) if isinstance(v, tuple) else (v,)


def max_errors(g: Callable[..., Any], hand: Callable[..., Any],
               points: Sequence[Sequence[float]]) -> tuple[float, float]:
    """Largest absolute and relative difference of ``g`` against ``hand`` over ``points``."""
    worst_abs = worst_rel = 0.0
    for p in points:
        for a, b in zip(_flat(g(*p)), _flat(hand(*p)), strict=True):
            d = abs(a - b)
            worst_abs = max(worst_abs, d)
            rel = d / abs(b) if b != 0 else (0.0 if d == 0 else math.inf)
            worst_rel = max(worst_rel, rel)
    return worst_abs, worst_rel


@dataclass
class RuntimeRow:
    case: str
    args: tuple[float, ...]
    times: dict[str, float]  # plain, hand, reverse, forward: median seconds per call
    abs_err: dict[str, float]  # reverse, forward
    rel_err: dict[str, float]
    best: dict[str, float] = field(default_factory=dict)  # fastest repeat, as a cross-check

    def ratio(self, a: str, b: str) -> float:
        return self.times[a] / self.times[b]


VARIANTS = ("plain", "hand", "reverse", "forward")


def run_runtime(*, quick: bool = False, repeat: int | None = None,
                target: float | None = None, chain_k: int = 20,
                log: Callable[[str], None] = lambda s: None) -> list[RuntimeRow]:
    repeat = repeat or (3 if quick else RUNTIME_REPEAT)
    target = target or (0.002 if quick else RUNTIME_TARGET)
    rows = []
    for case in cases.cases(chain_k):
        rev = s2sad.grad(case.f, wrt=case.wrt, mode="reverse")
        fwd = s2sad.grad(case.f, wrt=case.wrt, mode="forward")
        errs = {m: max_errors(g, case.hand, case.points)
                for m, g in (("reverse", rev), ("forward", fwd))}
        funcs = {"plain": case.f, "hand": case.hand, "reverse": rev, "forward": fwd}
        samples = sample_interleaved(funcs, case.args, repeat=repeat, target=target)
        times = {k: statistics.median(v) for k, v in samples.items()}
        rows.append(RuntimeRow(case.name, case.args, times,
                               {m: e[0] for m, e in errs.items()},
                               {m: e[1] for m, e in errs.items()},
                               {k: min(v) for k, v in samples.items()}))
        log(f"  {case.name:10s} " + "  ".join(f"{k} {v * 1e9:8.1f} ns" for k, v in times.items()))
    return rows


def call_overhead(*, quick: bool = False) -> float:
    """Seconds per call of a one-argument function that returns its argument."""
    def identity(x):
        return x

    return time_interleaved({"id": identity}, (0.7,), repeat=3 if quick else 7,
                            target=0.002 if quick else 0.1)["id"]


# -- 2. compile time --------------------------------------------------------------------------


def _timed(fn: Callable[[], Any], *, gc_enabled: bool = True) -> float:
    gc.collect()
    if not gc_enabled:
        gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def staged_compile(f: Callable[..., Any], mode: str = "reverse") -> dict[str, float]:
    """Seconds per pipeline stage for ``grad(f)`` (what ``s2sad.grad`` does, minus caching)."""
    t: dict[str, float] = {}
    gc.collect()
    c0 = time.perf_counter()
    pf = from_function(f)
    c1 = time.perf_counter()
    fn = lower(pf)
    c2 = time.perf_counter()
    indices, single = normalize_wrt(fn, 0)
    derived = grad_function(fn, indices, single, mode=mode)
    c3 = time.perf_counter()
    opt = optimize(derived)
    c4 = time.perf_counter()
    tree = module([opt], header=f"grad of {fn.name}")
    c5 = time.perf_counter()
    source = render(tree)
    c6 = time.perf_counter()
    load(source, opt.name, f"<bench: {opt.name}>")
    c7 = time.perf_counter()
    for name, a, b in zip(STAGES, (c0, c1, c2, c3, c4, c5, c6), (c1, c2, c3, c4, c5, c6, c7),
                          strict=True):
        t[name] = b - a
    return t


@dataclass
class CompileRow:
    k: int
    primal_ops: int
    rev_ops: int
    rev_lines: int
    reverse: float  # s2sad.grad end to end, median
    reverse_best: float  # fastest of the repeats
    forward: float
    reverse_nogc: float
    stages: dict[str, float] = field(default_factory=dict)  # fastest per stage


def run_compile(ks: Sequence[int] = CHAIN_KS, *, repeat: int = 3,
                log: Callable[[str], None] = lambda s: None) -> list[CompileRow]:
    # Warm up: the first compile imports SymPy and derives the partials table.
    s2sad.grad(cases.load_chain(2).chain)
    rows = []
    for k in ks:
        staged = [staged_compile(cases.load_chain(k).chain) for _ in range(repeat)]
        stages = {s: min(r[s] for r in staged) for s in STAGES}

        def e2e(mode: str, gc_enabled: bool = True, k: int = k) -> tuple[float, Any]:
            f = cases.load_chain(k).chain
            box: list[Any] = []
            sec = _timed(lambda: box.append(s2sad.grad(f, mode=mode)), gc_enabled=gc_enabled)
            clear_s2sad_caches()
            return sec, box[0]

        rev_times, g = [], None
        for _ in range(repeat):
            sec, g = e2e("reverse")
            rev_times.append(sec)
        fwd = e2e("forward")[0]
        nogc = e2e("reverse", gc_enabled=False)[0]
        lifted = lower(from_function(cases.load_chain(k).chain))
        row = CompileRow(k, count_ops(lifted), count_ops(g.ir), len(g.source.splitlines()),
                         statistics.median(rev_times), min(rev_times), fwd, nogc, stages)
        rows.append(row)
        log(f"  k={k:5d}  reverse {row.reverse_best:7.3f} s  forward {fwd:7.3f} s  "
            f"gc off {nogc:7.3f} s  staged {sum(stages.values()):7.3f} s")
    return rows


def growth_exponent(rows: Sequence[CompileRow]) -> float:
    """Least-squares slope of log(time) against log(k): 1 is linear, 2 quadratic."""
    xs = [math.log(r.k) for r in rows]
    ys = [math.log(r.reverse_best) for r in rows]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx


@dataclass
class ProfileRow:
    where: str
    ncalls: str
    tottime: float
    cumtime: float


def _short(path: str) -> str:
    for base in (str(ROOT) + os.sep, ):
        if path.startswith(base):
            return path[len(base):]
    if "site-packages" in path:
        return path.split("site-packages" + os.sep, 1)[1]
    if "lib" + os.sep + "python" in path:
        return "stdlib/" + path.rsplit(os.sep, 1)[-1]
    return path


def profile_compile(k: int, top: int = 15) -> tuple[float, list[ProfileRow]]:
    f = cases.load_chain(k).chain
    prof = cProfile.Profile()
    gc.collect()
    prof.enable()
    s2sad.grad(f)
    prof.disable()
    clear_s2sad_caches()
    stats = pstats.Stats(prof)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for (path, line, func), (cc, nc, tt, ct, _callers) in entries[:top]:
        where = f"{func} ({_short(path)}:{line})" if line else func
        ncalls = str(nc) if cc == nc else f"{nc}/{cc}"
        rows.append(ProfileRow(where, ncalls, tt, ct))
    return total, rows


def cold_start() -> dict[str, float] | None:
    """In a fresh interpreter: ``import s2sad``, the first and the second ``grad``."""
    code = (
        "import time, sys\n"
        "t0 = time.perf_counter(); import s2sad; t1 = time.perf_counter()\n"
        f"sys.path.insert(0, {str(ROOT / 'examples')!r})\n"
        "import textbook\n"
        "t2 = time.perf_counter(); s2sad.grad(textbook.cubic); t3 = time.perf_counter()\n"
        "s2sad.grad(textbook.exp_sin); t4 = time.perf_counter()\n"
        "print(t1 - t0, t3 - t2, t4 - t3)\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60, check=True).stdout.split()
    except (subprocess.SubprocessError, OSError):
        return None
    a, b, c = (float(x) for x in out)
    return {"import s2sad": a, "first grad (imports SymPy, derives partials)": b,
            "second grad (exp_sin)": c}


# -- report -----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "s2sad"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        commit += " (s2sad/ modified)" if dirty else ""
    except (subprocess.SubprocessError, OSError):
        commit = "unknown"
    return {
        "machine": f"{cpu}, {os.cpu_count()} logical CPUs (shared machine: ratios matter, "
                   "absolute times do not)",
        "python": f"{platform.python_implementation()} {platform.python_version()} "
                  f"on {platform.platform()}",
        "s2sad": f"{s2sad.__version__}, commit {commit}",
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def _ns(t: float) -> str:
    return f"{t * 1e9:,.0f}" if t >= 1e-7 else f"{t * 1e9:.1f}"


def _e(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str = "") -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    marks = {"l": ":--", "r": "--:", "c": ":-:"}
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(marks[a] for a in align) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


@dataclass
class Report:
    info: dict[str, str]
    runtime: list[RuntimeRow]
    overhead: float
    compile: list[CompileRow]
    profile_k: int
    profile_total: float
    profile: list[ProfileRow]
    cold: dict[str, float] | None
    settings: str
    elapsed: float = 0.0


def summary(rows: Sequence[RuntimeRow]) -> dict[str, float]:
    def best(a: str, b: str) -> float:
        return geomean([r.best[a] / r.best[b] for r in rows]) if all(r.best for r in rows) \
            else math.nan

    return {
        "best reverse/hand": best("reverse", "hand"),
        "best forward/hand": best("forward", "hand"),
        "hand/plain": geomean([r.ratio("hand", "plain") for r in rows]),
        "reverse/plain": geomean([r.ratio("reverse", "plain") for r in rows]),
        "forward/plain": geomean([r.ratio("forward", "plain") for r in rows]),
        "reverse/hand": geomean([r.ratio("reverse", "hand") for r in rows]),
        "forward/hand": geomean([r.ratio("forward", "hand") for r in rows]),
    }


def _met(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def render_markdown(rep: Report) -> str:
    out = ["# s2sad core benchmark", ""]
    out += [f"- **{k}**: {v}" for k, v in rep.info.items()]
    out += [f"- **settings**: {rep.settings}", f"- **wall time of this run**: "
            f"{rep.elapsed:.0f} s", ""]

    # Run time.
    out += ["## Run time: generated gradient vs hand-written", "",
            "Median ns per call; ratios are of those medians. *rev*/*fwd* = s2sad "
            "reverse/forward mode. Errors: largest difference from the hand-written "
            "gradient over the timing point and 2–3 more points (abs; relative in the last "
            "column).", ""]
    header = ["case", "point", "plain ns", "hand ns", "rev ns", "fwd ns", "hand/plain",
              "rev/plain", "fwd/plain", "**rev/hand**", "fwd/hand", "abs err rev · fwd",
              "rel err rev · fwd"]
    body = []
    for r in rep.runtime:
        body.append([
            r.case, ", ".join(f"{a:g}" for a in r.args),
            *(_ns(r.times[v]) for v in VARIANTS),
            f"{r.ratio('hand', 'plain'):.2f}", f"{r.ratio('reverse', 'plain'):.2f}",
            f"{r.ratio('forward', 'plain'):.2f}", f"**{r.ratio('reverse', 'hand'):.2f}**",
            f"{r.ratio('forward', 'hand'):.2f}",
            f"{_e(r.abs_err['reverse'])} · {_e(r.abs_err['forward'])}",
            f"{_e(r.rel_err['reverse'])} · {_e(r.rel_err['forward'])}",
        ])
    s = summary(rep.runtime)
    body.append(["**geometric mean**", "", "", "", "", "", f"{s['hand/plain']:.2f}",
                 f"{s['reverse/plain']:.2f}", f"{s['forward/plain']:.2f}",
                 f"**{s['reverse/hand']:.2f}**", f"{s['forward/hand']:.2f}",
                 _e(max(max(r.abs_err.values()) for r in rep.runtime)),
                 _e(max(max(r.rel_err.values()) for r in rep.runtime))])
    out += _table(header, body, "ll" + "r" * (len(header) - 2))
    out += ["", f"A call of a one-argument function that returns its argument costs "
            f"{_ns(rep.overhead)} ns here: part of every number above.", ""]
    out += [f"- Target generated/hand-written ≤ 1.3 (geometric mean): reverse "
            f"{s['reverse/hand']:.2f} {_met(s['reverse/hand'] <= 1.3)}, forward "
            f"{s['forward/hand']:.2f} {_met(s['forward/hand'] <= 1.3)}.",
            f"- Worst case: reverse {max(r.ratio('reverse', 'hand') for r in rep.runtime):.2f}"
            f" ({max(rep.runtime, key=lambda r: r.ratio('reverse', 'hand')).case}), forward "
            f"{max(r.ratio('forward', 'hand') for r in rep.runtime):.2f} "
            f"({max(rep.runtime, key=lambda r: r.ratio('forward', 'hand')).case}).",
            f"- Cross-check with the fastest repeat instead of the median (insensitive to "
            f"load from other processes): geometric mean reverse/hand "
            f"{s['best reverse/hand']:.2f}, forward/hand {s['best forward/hand']:.2f}.", ""]

    # Compile time.
    if rep.compile:
        out += ["## Compile time: `s2sad.grad` of the chain x ← sin(x)·x + cos(x)", "",
                "k levels, 4 primitive ops each. Fresh function objects each time (no cache "
                "hit); s2sad's in-memory caches are cleared between measurements. *best* is "
                "the fastest of the end-to-end `s2sad.grad` repeats (other processes on a "
                "shared machine can only add time) and the per-level, per-op, growth and "
                "target figures use it; *median* is shown beside it; *forward* and *gc off* "
                "are single runs.", ""]
        header = ["k", "primal ops", "rev IR ops", "rev lines", "reverse best s", "median s",
                  "ms / level", "µs / op", "× prev (k doubled)", "forward s",
                  "reverse, gc off s"]
        body = []
        prev = None
        for r in rep.compile:
            grow = (f"{r.reverse_best / prev.reverse_best:.2f}" if prev and r.k == 2 * prev.k
                    else "")
            body.append([str(r.k), str(r.primal_ops), str(r.rev_ops), str(r.rev_lines),
                         f"{r.reverse_best:.3f}", f"{r.reverse:.3f}",
                         f"{r.reverse_best / r.k * 1e3:.2f}",
                         f"{r.reverse_best / r.primal_ops * 1e6:.0f}", grow,
                         f"{r.forward:.3f}",
                         f"{r.reverse_nogc:.3f}"])
            prev = r
        out += _table(header, body)
        by_ops = [r for r in rep.compile if r.primal_ops >= 200]
        by_k = [r for r in rep.compile if r.k >= 200]
        out += [""]
        if len(rep.compile) >= 2:
            out += [f"- Growth: time ∝ k^{growth_exponent(rep.compile):.2f} (least squares "
                    f"over k = {rep.compile[0].k}…{rep.compile[-1].k}; 1 is linear)."]
        if by_ops:
            r = by_ops[0]
            out += [f"- Target \"200-op chain < 1 s\": {r.primal_ops} primal ops (k = {r.k}) "
                    f"compile in {r.reverse_best:.3f} s {_met(r.reverse_best < 1)}."]
        if by_k:
            r = by_k[0]
            out += [f"- Read as 200 *levels* (k = {r.k}, {r.primal_ops} ops): "
                    f"{r.reverse_best:.3f} s {_met(r.reverse_best < 1)}."]
        out += [""]
        out += ["### Where the time goes (per stage, fastest of the staged runs, seconds)", ""]
        header = ["k", *STAGES, "total"]
        body = []
        for r in rep.compile:
            tot = sum(r.stages.values())
            body.append([str(r.k)] + [f"{r.stages[s]:.3f} ({r.stages[s] / tot:.0%})"
                                      for s in STAGES] + [f"{tot:.3f}"])
        out += _table(header, body)
        out += [""] + [f"- *{s}*: {STAGE_NOTES[s]}" for s in STAGES] + [""]
    if rep.profile:
        out += [f"### cProfile of `s2sad.grad`, k = {rep.profile_k} (top functions by own "
                f"time; profiled total {rep.profile_total:.2f} s)", ""]
        out += _table(["function", "calls", "own s", "cumulative s"],
                      [[p.where, p.ncalls, f"{p.tottime:.3f}", f"{p.cumtime:.3f}"]
                       for p in rep.profile])
        out += [""]
    if rep.cold:
        out += ["### Cold start (fresh interpreter)", ""]
        out += _table(["step", "s"], [[k, f"{v:.3f}"] for k, v in rep.cold.items()])
        out += [""]
    return "\n".join(out)


def run(*, quick: bool = False, repeat: int | None = None, ks: Sequence[int] | None = None,
        compile_repeat: int | None = None, with_cold: bool | None = None,
        log: Callable[[str], None] = lambda s: None) -> Report:
    start = time.perf_counter()
    ks = tuple(ks or (QUICK_CHAIN_KS if quick else CHAIN_KS))
    compile_repeat = compile_repeat or (1 if quick else 3)
    with_cold = (not quick) if with_cold is None else with_cold
    log("run time:")
    runtime = run_runtime(quick=quick, repeat=repeat, log=log)
    overhead = call_overhead(quick=quick)
    log("compile time:")
    comp = run_compile(ks, repeat=compile_repeat, log=log) if ks else []
    profile_k = ks[-2] if len(ks) >= 2 else (ks[0] if ks else 0)
    ptotal, prof = profile_compile(profile_k) if ks else (0.0, [])
    cold = cold_start() if with_cold else None
    settings = (f"{'quick' if quick else 'full'} mode; run time: median of "
                f"{repeat or (3 if quick else RUNTIME_REPEAT)} interleaved repeats of "
                f"{'~2 ms' if quick else f'~{RUNTIME_TARGET} s'} each; compile: best and median "
                f"of {compile_repeat}")
    rep = Report(machine(), runtime, overhead, comp, profile_k, ptotal, prof, cold, settings)
    rep.elapsed = time.perf_counter() - start
    return rep


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few-second smoke run")
    ap.add_argument("--repeat", type=int, help="run-time repeats per variant (default 7)")
    ap.add_argument("--ks", type=lambda s: tuple(int(x) for x in s.split(",")),
                    help="chain lengths for compile time, e.g. 50,100,200")
    ap.add_argument("--output", type=Path, help="Markdown file to write (default "
                    "benchmarks/results/core.md, core-quick.md with --quick)")
    args = ap.parse_args(argv)
    rep = run(quick=args.quick, repeat=args.repeat, ks=args.ks,
              log=lambda s: print(s, file=sys.stderr, flush=True))
    text = render_markdown(rep)
    print(text)
    out = args.output or RESULTS / ("core-quick.md" if args.quick else "core.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    print(f"\n(written to {out})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
