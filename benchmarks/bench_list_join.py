"""Joining a list built at run time (issue 15): s2sad's gradients through ``np.stack``,
``np.vstack``, ``np.concatenate`` and ``np.array`` of a list grown in a loop, against
the gradient a person would write with NumPy.

    python benchmarks/bench_list_join.py            # full run (about half a minute)
    python benchmarks/bench_list_join.py --quick    # smoke run (a few seconds)

Each case builds ``m`` pieces in a loop (m = 300, pieces of 300 numbers; 20 and 30 with
``--quick``), joins them and reduces the result to a number; the hand-written gradient
keeps the pieces its reverse pass needs and splits the joined adjoint back itself.  Run
time of both (median of interleaved timeit repeats), their ratio (the issue's target:
geometric mean ≤ 1.2, none > 1.5), and the largest absolute difference between the two
gradients.  The report is printed as Markdown and written to
``benchmarks/results/list_join.md``.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import benchtools
import numpy as np
from benchtools import max_abs_error, time_interleaved

import s2sad

# -- objectives (s2sad reads their source from this file) and hand-written gradients ---------


def stacked(x, W):
    rows = []
    for i in range(W.shape[0]):
        rows.append(np.tanh(x * W[i]))
    return np.sum(np.stack(rows) ** 2)


def stacked_hand(x, W):
    rows = [np.tanh(x * W[i]) for i in range(W.shape[0])]
    rows_bar = list(2.0 * np.stack(rows))
    x_bar = np.zeros_like(x)
    for i in reversed(range(W.shape[0])):
        x_bar += rows_bar[i] * (1.0 - rows[i] ** 2) * W[i]
    return x_bar


def mixture(x, W):  # autograd's GMM: one row per component, then np.vstack
    rows = []
    for i in range(W.shape[0]):
        rows.append(np.sin(x + W[i]) * W[i])
    lls = np.vstack(rows)
    top = np.max(lls, axis=0)
    return np.sum(top + np.log(np.sum(np.exp(lls - top), axis=0)))


def mixture_hand(x, W):
    rows = [np.sin(x + W[i]) * W[i] for i in range(W.shape[0])]
    lls = np.vstack(rows)
    e = np.exp(lls - np.max(lls, axis=0))
    rows_bar = list(e / np.sum(e, axis=0))
    x_bar = np.zeros_like(x)
    for i in reversed(range(W.shape[0])):
        x_bar += rows_bar[i] * W[i] * np.cos(x + W[i])
    return x_bar


def ragged(x, W):
    parts = []
    for i in range(W.shape[0]):
        parts.append(np.tanh(x[: i % 7 + 1] * W[i, 0]))
    return np.sum(np.concatenate(parts) ** 2)


def ragged_hand(x, W):
    parts = [np.tanh(x[: i % 7 + 1] * W[i, 0]) for i in range(W.shape[0])]
    g = 2.0 * np.concatenate(parts)
    x_bar = np.zeros_like(x)
    start = 0
    for i, p in enumerate(parts):
        stop = start + len(p)
        x_bar[: len(p)] += g[start:stop] * (1.0 - p ** 2) * W[i, 0]
        start = stop
    return x_bar


def numbers(x, W):
    ys = []
    for i in range(W.shape[0]):
        ys.append(np.sum(x * W[i]))
    return np.sum(np.cos(np.array(ys)))


def numbers_hand(x, W):
    ys = np.array([np.sum(x * W[i]) for i in range(W.shape[0])])
    ys_bar = -np.sin(ys)
    x_bar = np.zeros_like(x)
    for i in reversed(range(W.shape[0])):
        x_bar += ys_bar[i] * W[i]
    return x_bar


@dataclass
class Case:
    name: str
    f: Callable[..., Any]
    hand: Callable[..., Any]


CASES = [Case("np.stack(rows)", stacked, stacked_hand),
         Case("np.vstack(rows) (GMM)", mixture, mixture_hand),
         Case("np.concatenate(ragged)", ragged, ragged_hand),
         Case("np.array(numbers)", numbers, numbers_hand)]


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    m, d = (20, 30) if quick else (300, 300)
    repeat, target = (3, 0.01) if quick else (7, 0.1)
    rng = np.random.default_rng(0)
    lines = ["# Joining a list built at run time: s2sad vs hand-written NumPy gradients", "",
             f"{m} pieces of up to {d} numbers; Python {platform.python_version()}, "
             f"NumPy {np.__version__}.", "",
             "| case | s2sad | hand | ratio | max abs diff |",
             "|---|---:|---:|---:|---:|"]
    ratios, rows = [], []
    for case in CASES:
        points = [(rng.normal(0.0, 1.0, d), rng.normal(0.0, 0.5, (m, d))) for _ in range(2)]
        g = s2sad.grad(case.f)
        err = max_abs_error(g, case.hand, points)
        t = time_interleaved({"s2sad": g, "hand": case.hand}, points[0], repeat=repeat,
                             target=target)
        ratio = t["s2sad"] / t["hand"]
        ratios.append(ratio)
        rows.append({"case": case.name, "ratio": ratio, "err": err})
        lines.append(f"| {case.name} | {t['s2sad'] * 1e3:.3f} ms | {t['hand'] * 1e3:.3f} ms "
                     f"| {ratio:.2f} | {err:.1e} |")
        log(lines[-1])
    lines += ["", f"Geometric mean of the ratios: {benchtools.geomean(ratios):.2f} "
              f"(largest {max(ratios):.2f})."]
    return {"markdown": "\n".join(lines) + "\n", "rows": rows}


if __name__ == "__main__":
    sys.exit(benchtools.main(run, "list_join", __doc__))
