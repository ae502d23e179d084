"""What the benchmark scripts share: interleaved timing, and importing generated source.

The scripts are run as ``python benchmarks/<script>.py``, so this folder is on
``sys.path`` and they ``import benchtools`` (``benchmarks/`` is not a package;
the smoke tests put the folder on ``sys.path`` the same way).
"""

from __future__ import annotations

import argparse
import atexit
import importlib.util
import itertools
import math
import os
import statistics
import sys
import tempfile
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"

_counter = itertools.count()
_tmp = tempfile.TemporaryDirectory(prefix="s2sad_bench_")
atexit.register(_tmp.cleanup)


def load_source(source: str, stem: str = "gen") -> ModuleType:
    """Write ``source`` to a fresh ``.py`` file and import it (s2sad reads the file)."""
    name = f"_s2sad_bench_{stem}_{os.getpid()}_{next(_counter)}"
    path = Path(_tmp.name) / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _timer(f: Callable[..., Any], args: Sequence[Any]) -> timeit.Timer:
    """A Timer for ``f(*args)`` with the function and arguments bound as fast locals."""
    names = [f"a{i}" for i in range(len(args))]
    setup = "; ".join(["f = _f"] + [f"{n} = _{n}" for n in names])
    glb = {"_f": f, **{f"_{n}": a for n, a in zip(names, args, strict=True)}}
    return timeit.Timer(f"f({', '.join(names)})", setup=setup, globals=glb)


def _calibrate(timer: timeit.Timer, target: float) -> int:
    """Loop count so that one repeat of ``timer`` takes about ``target`` seconds."""
    n = 1
    while True:
        t = timer.timeit(n)
        if t >= min(0.02, target / 5):
            return max(1, math.ceil(n * target / t))
        n *= 4 if t < 1e-4 else 2


def sample_interleaved(funcs: dict[str, Callable[..., Any]], args: Sequence[Any], *,
                       repeat: int, target: float,
                       args_of: dict[str, Sequence[Any]] | None = None,
                       ) -> dict[str, list[float]]:
    """Seconds per call of each function, ``repeat`` samples each, taken round-robin
    (so that drift on a shared machine hits every variant alike).  ``args_of`` gives
    some functions their own arguments (the same point converted, e.g. to tensors)."""
    args_of = args_of or {}
    timers = {k: _timer(f, args_of.get(k, args)) for k, f in funcs.items()}
    numbers = {k: _calibrate(t, target) for k, t in timers.items()}
    samples: dict[str, list[float]] = {k: [] for k in funcs}
    for _ in range(repeat):
        for k, t in timers.items():
            samples[k].append(t.timeit(numbers[k]) / numbers[k])
    return samples


def time_interleaved(funcs: dict[str, Callable[..., Any]], args: Sequence[Any], *,
                     repeat: int, target: float,
                     args_of: dict[str, Sequence[Any]] | None = None) -> dict[str, float]:
    """Median seconds per call of each function, with the repeats interleaved."""
    samples = sample_interleaved(funcs, args, repeat=repeat, target=target, args_of=args_of)
    return {k: statistics.median(v) for k, v in samples.items()}


# compile times are measured: never read a derivative from s2sad's disk cache
os.environ.setdefault("S2SAD_NO_CACHE", "1")


def clear_s2sad_caches() -> None:
    """Forget every compiled derivative (a compile-time measurement must not hit them)."""
    from s2sad import api

    api._cache.clear()
    api._ir_cache.clear()


def _flat(v: Any) -> list[float]:
    """Numbers, arrays and (nested) tuples, lists or dicts of them, as one flat list of
    floats."""
    if isinstance(v, dict):
        return [a for key in sorted(v) for a in _flat(v[key])]
    if isinstance(v, (tuple, list)):
        return [a for item in v for a in _flat(item)]
    return [float(a) for a in np.ravel(np.asarray(v, dtype=float))]


def max_abs_error(g: Callable[..., Any], hand: Callable[..., Any], points: Sequence[tuple],
                  convert: Callable[..., tuple] | None = None) -> float:
    """The largest |g − hand| over the points (``convert`` maps the arguments for g)."""
    worst = 0.0
    for p in points:
        a = _flat(g(*(convert(*p) if convert else p)))
        b = _flat(hand(*p))
        assert len(a) == len(b), (len(a), len(b))
        worst = max([worst, *(abs(u - v) for u, v in zip(a, b, strict=True))])
    return worst


def geomean(xs: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(x) for x in xs))


def main(run: Callable[..., dict], stem: str, doc: str,
         argv: Sequence[str] | None = None) -> int:
    """The command line of a benchmark script: ``--quick``; the Markdown report of
    ``run(quick=..., log=...)`` goes to stdout and to ``results/<stem>[-quick].md``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run (a few seconds)")
    args = parser.parse_args(argv)

    def log(s: str) -> None:
        print(s, file=sys.stderr, flush=True)

    report = run(quick=args.quick, log=log)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / (f"{stem}-quick.md" if args.quick else f"{stem}.md")
    out.write_text(report["markdown"], encoding="utf-8")
    print(report["markdown"])
    print(f"(written to {out})", file=sys.stderr)
    return 0
