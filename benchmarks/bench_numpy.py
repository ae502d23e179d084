"""NumPy benchmark of s2sad: gradients of array models against hand-written NumPy.

    python benchmarks/bench_numpy.py            # full run (about half a minute)
    python benchmarks/bench_numpy.py --quick    # smoke run (a few seconds)

**Run time**, side by side in one run (median of interleaved timeit repeats): the
plain loss, a careful hand-written NumPy gradient, s2sad's reverse-mode gradient,
and — when they import, never required — ``jax.jit(jax.grad(...))`` (float64)
and PyTorch eager (``loss.backward()``, float64).  Ratio s2sad / hand-written
(target ≤ 1.2) and a correctness column: the largest absolute difference between
s2sad's and the hand-written gradient over several random points (and the same
for JAX and PyTorch).

* ``logistic_regression`` — mean log-loss ``mean(logaddexp(0, Xw + b) − y·(Xw + b))``,
  N = 1000 samples, D = 20 features, gradient with respect to (w, b);
* ``mlp`` — a two-layer tanh network ``tanh(X W1 + b1) W2 + b2`` with mean squared
  error, batch 64, 32 → 64 → 1, gradient with respect to (W1, b1, W2, b2);
* ``mlp_list``, ``mlp_dict`` — the same network with its parameters in a list of
  ``(W, b)`` tuples and in a dict (gradient: a container of the same structure).

The hand-written gradients are what one would write for production: one forward
pass keeping the activations, then the backward pass with matrix products, no
recomputation (``σ(z)`` through ``tanh``, ``1 − h²`` from the kept ``h``).

Also reported: s2sad's compile time per case (first ``s2sad.grad`` call, cache
cleared).  The report is printed as Markdown and written to
``benchmarks/results/numpy.md`` (``numpy-quick.md`` with ``--quick``).
Absolute times depend on the machine; the ratios are the point.
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import benchtools
import numpy as np
from benchtools import clear_s2sad_caches, max_abs_error, time_interleaved

import s2sad

# -- the benchmark functions (s2sad reads their source from this file) ------------------------


def logreg_loss(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def logreg_hand(w, b, X, y):
    """∂/∂z of the mean log-loss is (σ(z) − y)/N; σ(z) = (1 + tanh(z/2))/2 never overflows."""
    z = X @ w + b
    d = (0.5 + 0.5 * np.tanh(0.5 * z) - y) * (1.0 / z.shape[0])
    return d @ X, float(np.sum(d))


def mlp_loss(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def mlp_hand(W1, b1, W2, b2, X, y):
    """Backpropagation: keep h, then out_bar = 2(out − y)/size, and the products back."""
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    out_bar = (out - y) * (2.0 / out.size)
    z_bar = (out_bar @ W2.T) * (1.0 - h * h)
    return X.T @ z_bar, np.sum(z_bar, axis=0), h.T @ out_bar, np.sum(out_bar, axis=0)


def mlp_list_loss(params, X, y):
    """The same network with its parameters as a list of (W, b) layers, as neural-network
    code keeps them (s2sad compiles it for the structure of the list)."""
    h = X
    for W, b in params[:-1]:
        h = np.tanh(h @ W + b)
    W, b = params[-1]
    return np.mean((h @ W + b - y) ** 2)


def mlp_list_hand(params, X, y):
    (W1, b1), (W2, b2) = params
    g = mlp_hand(W1, b1, W2, b2, X, y)
    return [(g[0], g[1]), (g[2], g[3])]


def mlp_dict_loss(p, X, y):
    h = np.tanh(X @ p["W1"] + p["b1"])
    return np.mean((h @ p["W2"] + p["b2"] - y) ** 2)


def mlp_dict_hand(p, X, y):
    g = mlp_hand(p["W1"], p["b1"], p["W2"], p["b2"], X, y)
    return dict(zip(("W1", "b1", "W2", "b2"), g, strict=True))


# -- data ---------------------------------------------------------------------------------------


def logreg_point(seed: int, n: int = 1000, d: int = 20) -> tuple:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (rng.uniform(size=n) < 0.5).astype(float)
    return rng.standard_normal(d) * 0.5, float(rng.standard_normal()), X, y


def mlp_point(seed: int, batch: int = 64, d_in: int = 32, hidden: int = 64) -> tuple:
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((d_in, hidden)) / np.sqrt(d_in)
    b1 = 0.1 * rng.standard_normal(hidden)
    W2 = rng.standard_normal((hidden, 1)) / np.sqrt(hidden)
    b2 = 0.1 * rng.standard_normal(1)
    X = rng.standard_normal((batch, d_in))
    y = rng.standard_normal((batch, 1))
    return W1, b1, W2, b2, X, y


# -- optional JAX / PyTorch ----------------------------------------------------------------------


def _jax_grad(name: str) -> Callable[..., Any] | None:
    """``jax.jit(jax.grad(loss, argnums))`` in float64, or None if JAX does not import
    (or for the container MLPs: the peers are timed on the MLP of separate arrays)."""
    if name.startswith("mlp_"):
        return None
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    if name == "logistic_regression":
        def loss(w, b, X, y):
            z = X @ w + b
            return jnp.mean(jnp.logaddexp(0.0, z) - y * z)
        argnums = (0, 1)
    else:
        def loss(W1, b1, W2, b2, X, y):
            h = jnp.tanh(X @ W1 + b1)
            return jnp.mean((h @ W2 + b2 - y) ** 2)
        argnums = (0, 1, 2, 3)
    g = jax.jit(jax.grad(loss, argnums=argnums))

    def run(*args: Any) -> Any:
        out = g(*args)
        jax.block_until_ready(out)
        return out

    def convert(*args: Any) -> tuple:
        return tuple(jnp.asarray(a, dtype=jnp.float64) for a in args)

    run.convert = convert  # type: ignore[attr-defined]
    return run


def _torch_grad(name: str) -> Callable[..., Any] | None:
    """PyTorch eager: build the loss, ``backward()``, return the ``.grad``s (float64)."""
    if name.startswith("mlp_"):
        return None
    try:
        import torch
    except ImportError:
        return None
    n_wrt = 2 if name == "logistic_regression" else 4

    def run(*args: Any) -> Any:
        params = [a.detach().requires_grad_(True) for a in args[:n_wrt]]
        data = args[n_wrt:]
        if name == "logistic_regression":
            w, b = params
            X, y = data
            z = X @ w + b
            loss = torch.mean(torch.logaddexp(torch.zeros_like(z), z) - y * z)
        else:
            W1, b1, W2, b2 = params
            X, y = data
            h = torch.tanh(X @ W1 + b1)
            loss = torch.mean((h @ W2 + b2 - y) ** 2)
        loss.backward()
        return tuple(p.grad for p in params)

    def convert(*args: Any) -> tuple:
        return tuple(torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in args)

    run.convert = convert  # type: ignore[attr-defined]
    return run


# -- run time -------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    size: str
    f: Callable[..., Any]
    hand: Callable[..., Any]
    wrt: Any  # a parameter index or a tuple of them
    points: list[tuple]  # the first one is timed


def cases(quick: bool = False) -> list[Case]:
    del quick  # the sizes are the same: they are small enough for a smoke run
    return [
        Case("logistic_regression", "N=1000, D=20", logreg_loss, logreg_hand, (0, 1),
             [logreg_point(s) for s in (1, 2, 3)]),
        Case("mlp", "batch 64, 32→64→1, tanh", mlp_loss, mlp_hand, (0, 1, 2, 3),
             [mlp_point(s) for s in (4, 5, 6)]),
        Case("mlp_list", "the MLP, params = [(W1, b1), (W2, b2)]", mlp_list_loss,
             mlp_list_hand, 0, [_as_list(mlp_point(s)) for s in (4, 5, 6)]),
        Case("mlp_dict", "the MLP, params = {\"W1\": ..., ...}", mlp_dict_loss, mlp_dict_hand, 0,
             [_as_dict(mlp_point(s)) for s in (4, 5, 6)]),
    ]


def _as_list(point: tuple) -> tuple:
    W1, b1, W2, b2, X, y = point
    return [(W1, b1), (W2, b2)], X, y


def _as_dict(point: tuple) -> tuple:
    W1, b1, W2, b2, X, y = point
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, X, y


@dataclass
class Row:
    case: str
    size: str
    plain: float
    hand: float
    s2sad: float
    abs_err: float
    compile_s: float
    others: dict[str, float] = field(default_factory=dict)  # "jax" / "torch" -> seconds
    others_err: dict[str, float] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.s2sad / self.hand


def run_runtime(*, quick: bool = False, log: Callable[[str], None] = lambda s: None,
                ) -> list[Row]:
    repeat = 3 if quick else 15
    target = 0.002 if quick else 0.05
    rows = []
    for case in cases(quick):
        clear_s2sad_caches()
        t0 = time.perf_counter()
        g = s2sad.grad(case.f, wrt=case.wrt, mode="reverse")
        compile_s = time.perf_counter() - t0
        err = max_abs_error(g, case.hand, case.points)
        t = time_interleaved({"plain": case.f, "hand": case.hand, "s2sad": g}, case.points[0],
                             repeat=repeat, target=target)
        row = Row(case.name, case.size, t["plain"], t["hand"], t["s2sad"], err, compile_s)
        for label, make in (("jax", _jax_grad), ("torch", _torch_grad)):
            other = make(case.name)
            if other is None:
                continue
            convert = other.convert  # type: ignore[attr-defined]
            row.others_err[label] = max_abs_error(other, case.hand, case.points, convert)
            args = convert(*case.points[0])
            row.others[label] = time_interleaved({label: other}, args, repeat=repeat,
                                                 target=target)[label]
        rows.append(row)
        extra = "".join(f"  {k} {v * 1e6:9.2f} us" for k, v in row.others.items())
        log(f"  {case.name:20s} plain {row.plain * 1e6:9.2f} us  hand {row.hand * 1e6:9.2f} us  "
            f"s2sad {row.s2sad * 1e6:9.2f} us  ratio {row.ratio:.2f}  err {err:.1e}{extra}")
    return rows


# -- report -----------------------------------------------------------------------------------


def _us(t: float) -> str:
    return f"{t * 1e6:,.2f}" if t < 1e-3 else f"{t * 1e6:,.0f}"


def markdown(rows: list[Row], *, quick: bool) -> str:
    others = sorted({k for r in rows for k in r.others})
    out = [f"# s2sad NumPy benchmark{' (quick)' if quick else ''}", ""]
    out.append(f"Python {platform.python_version()} on {platform.machine()} "
               f"({platform.system()}), NumPy {np.__version__}, "
               f"s2sad {getattr(s2sad, '__version__', '?')}. "
               "Times: median of interleaved timeit repeats, µs per call.")
    out += ["", "## Run time: reverse-mode gradient, s2sad vs hand-written NumPy", ""]
    head = ("| case | size | plain µs | hand µs | s2sad µs | s2sad / hand | s2sad / plain "
            "| max abs err vs hand | compile ms |")
    rule = "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    for k in others:
        head += f" {k} µs | {k} err |"
        rule += "---:|---:|"
    out += [head, rule]
    for r in rows:
        flag = "" if r.ratio <= 1.2 else " ⚠"
        line = (f"| {r.case} | {r.size} | {_us(r.plain)} | {_us(r.hand)} | {_us(r.s2sad)} | "
                f"**{r.ratio:.2f}**{flag} | {r.s2sad / r.plain:.2f} | {r.abs_err:.1e} | "
                f"{r.compile_s * 1e3:.1f} |")
        for k in others:
            if k in r.others:
                line += f" {_us(r.others[k])} | {r.others_err[k]:.1e} |"
            else:
                line += " — | — |"
        out.append(line)
    missing = [k for k in ("jax", "torch") if k not in others]
    out += ["", "Target: s2sad / hand ≤ 1.2 (⚠ marks a miss).  `jax` is "
            "`jax.jit(jax.grad(...))` after warm-up, `torch` is PyTorch eager with "
            "`backward()`, both in float64."]
    if missing:
        out.append(f"Not installed here, so not timed: {', '.join(missing)}.")
    return "\n".join(out) + "\n"


def run(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    log("run time")
    rows = run_runtime(quick=quick, log=log)
    return {"runtime": rows, "markdown": markdown(rows, quick=quick)}


def main(argv: Sequence[str] | None = None) -> int:
    return benchtools.main(run, "numpy", __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
