"""Library-layer benchmark: s2sad's gradients through NumPy/SciPy functions (issue 15)
against hand-written NumPy gradients.

    python benchmarks/bench_library.py            # full run (about half a minute)
    python benchmarks/bench_library.py --quick    # smoke run (a few seconds)

Each case is a scalar objective of one array of n elements (n = 100,000; 1,000 with
``--quick``) that calls one library function, and the gradient a person would write
for it with NumPy.  Run time of both, side by side (median of interleaved timeit
repeats), their ratio (the issue's target: geometric mean ≤ 1.2, none > 1.5), and the
largest absolute difference between the two gradients (correctness).  The report is
printed as Markdown and written to ``benchmarks/results/library.md``.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import benchtools
import numpy as np
import scipy.special
import scipy.stats
from benchtools import max_abs_error, time_interleaved

import s2sad

# -- objectives (s2sad reads their source from this file) and hand-written gradients ---------


def lse(x):
    return scipy.special.logsumexp(x)


def lse_hand(x):
    e = np.exp(x - np.max(x))
    return e / np.sum(e)


def variance(x):
    return np.var(x)


def variance_hand(x):
    return (x - np.mean(x)) * (2.0 / x.size)


def running_sum(x, w):
    return np.sum(np.cumsum(x) * w)


def running_sum_hand(x, w):
    return np.cumsum(w[::-1])[::-1]


def running_product(x, w):
    return np.sum(np.cumprod(x) * w)


def running_product_hand(x, w):
    y = np.cumprod(x)
    return np.cumsum((w * y)[::-1])[::-1] / x


def sorted_weights(x, w):
    return np.sum(np.sort(x) * w)


def sorted_weights_hand(x, w):
    g = np.empty_like(x)
    g[np.argsort(x, kind="stable")] = w
    return g


def normal_loglik(x, mu):
    return np.sum(scipy.stats.norm.logpdf(x, mu, 1.5))


def normal_loglik_hand(x, mu):
    return (mu - x) / 2.25


def repeated(x, w):
    return np.sum(np.repeat(x, 3) * w)


def repeated_hand(x, w):
    return np.sum(np.reshape(w, (-1, 3)), axis=1)


def contraction(X, W):
    return np.einsum("ij,ij->", X * X, W)


def contraction_hand(X, W):
    return 2.0 * X * W


# issue 15's rest: products along axes and a gather along an axis

def kron_product(A, B, W):
    return np.sum(np.kron(A, B) * W)


def kron_product_hand(A, B, W):
    m, p = A.shape[0], B.shape[0]
    return np.einsum("ikjl,kl->ij", W.reshape(m, p, m, p), B)


def tensor_contraction(A, B, W):
    return np.sum(np.tensordot(A, B, axes=([0], [0])) * W)


def tensor_contraction_hand(A, B, W):
    return B @ W.T


def gathered(X, idx, W):
    return np.sum(np.take_along_axis(X, idx, axis=1) * W)


def gathered_hand(X, idx, W):
    flat = (np.arange(X.shape[0])[:, None] * X.shape[1] + idx).ravel()
    return np.bincount(flat, weights=W.ravel(), minlength=X.size).reshape(X.shape)


def cross_products(A, B, W):
    return np.sum(np.cross(A, B) * W)


def cross_products_hand(A, B, W):
    return np.cross(B, W)


def _square(n, p):
    """The side m of an (m, m) factor whose Kronecker product with a (p, p) one has
    about n elements."""
    return max(2, int(round((n / (p * p)) ** 0.5)))


@dataclass
class Case:
    name: str
    f: Callable[..., Any]
    hand: Callable[..., Any]
    args: Callable[[np.random.Generator, int], tuple]


CASES = [
    Case("logsumexp", lse, lse_hand, lambda r, n: (r.normal(0.0, 3.0, n),)),
    Case("np.var", variance, variance_hand, lambda r, n: (r.normal(0.0, 1.0, n),)),
    Case("np.cumsum", running_sum, running_sum_hand,
         lambda r, n: (r.normal(0.0, 1.0, n), r.normal(0.0, 1.0, n))),
    Case("np.cumprod", running_product, running_product_hand,
         lambda r, n: (r.uniform(0.999, 1.001, n), r.normal(0.0, 1.0, n))),
    Case("np.sort", sorted_weights, sorted_weights_hand,
         lambda r, n: (r.normal(0.0, 1.0, n), r.normal(0.0, 1.0, n))),
    Case("norm.logpdf", normal_loglik, normal_loglik_hand,
         lambda r, n: (r.normal(0.0, 1.0, n), 0.3)),
    Case("np.repeat", repeated, repeated_hand,
         lambda r, n: (r.normal(0.0, 1.0, n), r.normal(0.0, 1.0, 3 * n))),
    Case("np.einsum", contraction, contraction_hand,
         lambda r, n: (r.normal(0.0, 1.0, (n // 100, 100)), r.normal(0.0, 1.0, (n // 100, 100)))),
    Case("np.kron", kron_product, kron_product_hand,
         lambda r, n: (r.normal(0.0, 1.0, (_square(n, 10),) * 2), r.normal(0.0, 1.0, (10, 10)),
                       r.normal(0.0, 1.0, (10 * _square(n, 10),) * 2))),
    Case("np.tensordot", tensor_contraction, tensor_contraction_hand,
         lambda r, n: (r.normal(0.0, 1.0, (100, n // 100)), r.normal(0.0, 1.0, (100, 50)),
                       r.normal(0.0, 1.0, (n // 100, 50)))),
    Case("np.take_along_axis", gathered, gathered_hand,
         lambda r, n: (r.normal(0.0, 1.0, (n // 100, 100)), r.integers(0, 100, (n // 100, 100)),
                       r.normal(0.0, 1.0, (n // 100, 100)))),
    Case("np.cross", cross_products, cross_products_hand,
         lambda r, n: tuple(r.normal(0.0, 1.0, (n // 3, 3)) for _ in range(3))),
]


def run(quick: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    n = 1_000 if quick else 100_000
    repeat, target = (3, 0.01) if quick else (7, 0.1)
    rows = []
    for case in CASES:
        rng = np.random.default_rng(0)
        args = case.args(rng, n)
        grad = s2sad.grad(case.f, wrt=0)
        points = [case.args(np.random.default_rng(s), n) for s in (1, 2)]
        err = max_abs_error(grad, case.hand, points)
        times = time_interleaved({"s2sad": grad, "hand": case.hand}, args, repeat=repeat,
                                 target=target)
        rows.append({"case": case.name, "s2sad": times["s2sad"], "hand": times["hand"],
                     "ratio": times["s2sad"] / times["hand"], "error": err})
        log(f"{case.name}: ratio {rows[-1]['ratio']:.2f}, max |Δ| {err:.1e}")
    gm = benchtools.geomean([r["ratio"] for r in rows])
    lines = [f"# Library-layer gradients against hand-written NumPy (n = {n:,})", "",
             f"Python {platform.python_version()}, NumPy {np.__version__}; median of "
             f"{repeat} interleaved repeats.", "",
             "| case | s2sad (µs) | hand-written (µs) | ratio | max abs difference |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| `{r['case']}` | {r['s2sad'] * 1e6:.1f} | {r['hand'] * 1e6:.1f} | "
              f"{r['ratio']:.2f} | {r['error']:.1e} |" for r in rows]
    lines += ["", f"Geometric mean of the ratios: **{gm:.2f}**; largest "
              f"{max(r['ratio'] for r in rows):.2f}."]
    return {"rows": rows, "geomean": gm, "markdown": "\n".join(lines) + "\n"}


if __name__ == "__main__":
    sys.exit(benchtools.main(run, "library", __doc__))
