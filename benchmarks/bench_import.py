"""Import-time cost of ``@s2sad.differentiable``, with and without the disk cache.

    python benchmarks/bench_import.py            # full run (about half a minute)
    python benchmarks/bench_import.py --quick    # smoke run (a few seconds)

A module of 20 decorated functions (the textbook's kind: ``math`` calls, a branch,
a loop, a helper function; each decorator compiles ``grad``, ``value_and_grad``,
``jvp`` and ``vjp``) is imported in fresh Python processes:

* ``import s2sad`` alone, the baseline every user pays once;
* the module with the disk cache off (every derivative compiled);
* the module with a cold cache (compiled and written);
* the module with a warm cache (read back).

Reported: the median wall time of each over several processes, and the cost per
decorated function above the baseline. Target (issue 7): under 5 ms per function
when cached. The report goes to ``benchmarks/results/import.md``.
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

from benchtools import ROOT, main

N_FUNCTIONS = 20

_FUNCTION = '''

@s2sad.differentiable(wrt=(0, 1))
def f{k}(x, y):
    s = 0.0
    for i in range(3):
        s = s + math.sin(x * (i + {k})) * y
    if x > y:
        return scale(s) + x ** 2
    return s * math.exp(-y * y) + math.log1p(x * x)
'''


def module_source() -> str:
    head = "import math\n\nimport s2sad\n\n\ndef scale(v):\n    return 0.5 * v + math.tanh(v)\n"
    return head + "".join(_FUNCTION.format(k=k) for k in range(N_FUNCTIONS))


def _time_import(statement: str, workdir: Path, env: dict[str, str]) -> float:
    """Seconds for ``statement`` in a fresh interpreter, measured inside it."""
    code = textwrap.dedent(f"""
        import sys, time
        sys.path[:0] = [{str(workdir)!r}, {str(ROOT)!r}]
        t = time.perf_counter()
        {statement}
        print(time.perf_counter() - t)
    """)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True, cwd=workdir)
    return float(out.stdout.split()[-1])


def run(quick: bool = False, log=print) -> dict[str, Any]:
    repeats = 2 if quick else 5
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "twenty.py").write_text(module_source())
        cache_dir = workdir / "cache"
        base_env = {k: v for k, v in os.environ.items() if k != "S2SAD_NO_CACHE"}
        env_on = {**base_env, "S2SAD_CACHE_DIR": str(cache_dir)}
        env_off = {**base_env, "S2SAD_NO_CACHE": "1"}
        samples: dict[str, list[float]] = {k: [] for k in
                                           ("import s2sad", "cache off", "cold cache",
                                            "warm cache")}
        for r in range(repeats):
            log(f"repeat {r + 1}/{repeats}")
            samples["import s2sad"].append(_time_import("import s2sad", workdir, env_off))
            samples["cache off"].append(_time_import("import twenty", workdir, env_off))
            shutil.rmtree(cache_dir, ignore_errors=True)
            samples["cold cache"].append(_time_import("import twenty", workdir, env_on))
            samples["warm cache"].append(_time_import("import twenty", workdir, env_on))
        rows = {k: statistics.median(v) for k, v in samples.items()}
        n_entries = len(list(cache_dir.glob("*.py")))
    base = rows["import s2sad"]
    lines = [
        "# s2sad import-time benchmark",
        "",
        f"Python {platform.python_version()} on {platform.machine()} ({platform.system()}). "
        f"A module of {N_FUNCTIONS} `@s2sad.differentiable` functions (4 derivatives each; "
        f"{n_entries} cache entries), imported in fresh processes; median of {repeats}.",
        "",
        "| import | seconds | ms per function above `import s2sad` |",
        "|---|---:|---:|",
    ]
    for name, seconds in rows.items():
        per = "" if name == "import s2sad" else f"{(seconds - base) * 1e3 / N_FUNCTIONS:.2f}"
        lines.append(f"| {name} | {seconds:.3f} | {per} |")
    warm = (rows["warm cache"] - base) * 1e3 / N_FUNCTIONS
    lines += ["", f"Target: under 5 ms per function with a warm cache: "
                  f"{warm:.2f} ms ({'met' if warm < 5 else 'missed'})."]
    return {"markdown": "\n".join(lines) + "\n", "rows": rows}


if __name__ == "__main__":
    raise SystemExit(main(run, "import", __doc__))
