"""What the staleness guard costs per call of a compiled derivative.

Usage::

    python benchmarks/bench_guard.py            # full run (about 20 s)
    python benchmarks/bench_guard.py --quick    # smoke run (a few seconds)

A function compiled by the Python API opens with a guard (s2sad/codegen/guard.py) that
checks, by identity, every global, closure value, code object and default the
derivative was compiled against (s2sad/frontend/environment.py).  This script times,
side by side in one run, the API's guarded function and the same generated source
loaded without the guard, on functions that read few and many things from their
environment.  Target (issue 13): under 1 µs per call.
"""

from __future__ import annotations

import platform
from typing import Any

import benchtools

import s2sad
from s2sad.codegen import load

CASES = {
    "textbook (no globals)": ("import math\n\n\ndef f(x):\n"
                              "    return math.sin(x) * x + x ** 2\n", (0.7,)),
    "5 constants + 2 helpers": (
        "import math\n\nA = 1.5\nB = -0.5\nC = 2.0\nD = 0.25\nE = 3.0\n\n\n"
        "def h1(t):\n    return A * math.sin(t) + B\n\n\n"
        "def h2(t):\n    return C * t * t + D\n\n\n"
        "def f(x, y):\n    return h1(x) * h2(y) + E * x * y\n", (0.7, -1.2)),
    "closure over 3 values": (
        "import math\n\n\ndef make(a, b, c):\n"
        "    def f(x):\n        return a * math.exp(b * x) + c * x\n"
        "    return f\n\n\nf = make(0.5, -1.0, 2.0)\n", (0.3,)),
}


def run(quick: bool = False, log=print) -> dict[str, Any]:
    repeat, target = (3, 0.02) if quick else (9, 0.2)
    rows = []
    for name, (source, args) in CASES.items():
        log(name)
        mod = benchtools.load_source(source, "guard")
        guarded = s2sad.grad(mod.f, wrt=tuple(range(len(args))))
        fn_name = guarded.__name__
        bare = load(guarded.source, fn_name, f"<bare {fn_name}>")
        assert guarded(*args) == bare(*args)
        times = benchtools.time_interleaved({"guarded": guarded, "bare": bare}, args,
                                            repeat=repeat, target=target)
        reads = len(guarded.guard.snapshot.reads)
        rows.append((name, reads, times["bare"], times["guarded"]))
    lines = [
        "# The staleness guard: cost per call",
        "",
        f"Python {platform.python_version()} on {platform.machine()}; median of {repeat} "
        "interleaved repeats. `bare` is the same generated source loaded without the guard.",
        "",
        "| case | reads checked | bare (ns) | guarded (ns) | guard (ns) |",
        "|---|---:|---:|---:|---:|",
    ]
    worst = 0.0
    for name, reads, bare_t, guarded_t in rows:
        cost = (guarded_t - bare_t) * 1e9
        worst = max(worst, cost)
        lines.append(f"| {name} | {reads} | {bare_t * 1e9:.0f} | {guarded_t * 1e9:.0f} | "
                     f"{cost:.0f} |")
    lines += ["", f"Target: under 1000 ns per call: worst {worst:.0f} ns "
                  f"({'met' if worst < 1000 else 'missed'})."]
    return {"markdown": "\n".join(lines) + "\n", "rows": rows}


if __name__ == "__main__":
    raise SystemExit(benchtools.main(run, "guard", __doc__))
