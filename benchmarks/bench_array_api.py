"""The array API target on JAX and PyTorch, side by side in one run (issue 17).

Two gradients, float64 throughout:

* ``logistic_regression`` — mean log-loss of ``X @ w + b``, N = 10⁶ rows, 20 features;
* ``mlp`` — ``tanh(X W1 + b1) W2 + b2`` with mean squared error, batch 4096, 784→512→10.

Methods: s2sad's NumPy target on NumPy arrays; ``jax.jit`` of s2sad's ``array_api``
gradient on JAX arrays; ``jax.jit(jax.grad(loss))`` (the loss written with
``jax.numpy``); PyTorch eager ``loss.backward()``; s2sad's ``array_api`` gradient run
eagerly on PyTorch tensors.  Medians of interleaved repeats after a warm-up call (the
jit compile is not timed); every gradient is checked against the NumPy target's.
The issue's target: jitted s2sad within 1.2× of ``jax.jit(jax.grad)``.

    python benchmarks/bench_array_api.py [--quick]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

import benchtools
import numpy as np

import s2sad


def logreg_loss(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def mlp_loss(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    return np.mean((h @ W2 + b2 - y) ** 2)


def logreg_point(n: int, d: int = 20) -> tuple:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = (X @ rng.standard_normal(d) + rng.logistic(size=n) > 0) * 1.0
    return 0.1 * rng.standard_normal(d), 0.2, X, y


def mlp_point(batch: int, d_in: int = 784, hidden: int = 512, d_out: int = 10) -> tuple:
    rng = np.random.default_rng(1)
    return (rng.standard_normal((d_in, hidden)) / np.sqrt(d_in), 0.1 * rng.standard_normal(hidden),
            rng.standard_normal((hidden, d_out)) / np.sqrt(hidden),
            0.1 * rng.standard_normal(d_out), rng.standard_normal((batch, d_in)),
            rng.standard_normal((batch, d_out)))


def _jax_loss(name: str, jnp: Any) -> Callable[..., Any]:
    if name == "logistic_regression":
        def loss(w, b, X, y):
            z = X @ w + b
            return jnp.mean(jnp.logaddexp(0.0, z) - y * z)
    else:
        def loss(W1, b1, W2, b2, X, y):
            h = jnp.tanh(X @ W1 + b1)
            return jnp.mean((h @ W2 + b2 - y) ** 2)
    return loss


def _torch_grad(name: str, torch: Any) -> Callable[..., Any]:
    def grad(*args):
        params = [a.detach().requires_grad_(True) for a in args[:-2]]
        if name == "logistic_regression":
            w, b = params
            X, y = args[-2:]
            z = X @ w + b
            loss = torch.mean(torch.logaddexp(torch.zeros_like(z), z) - y * z)
        else:
            W1, b1, W2, b2 = params
            X, y = args[-2:]
            loss = torch.mean((torch.tanh(X @ W1 + b1) @ W2 + b2 - y) ** 2)
        loss.backward()
        return tuple(p.grad for p in params)
    return grad


def _flat(v: Any) -> np.ndarray:
    v = v if isinstance(v, tuple) else (v,)
    return np.concatenate([np.ravel(np.asarray(a.detach() if hasattr(a, "detach") else a,
                                               dtype=np.float64)) for a in v])


def run(quick: bool = False, log: Callable[[str], None] = lambda s: None) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import torch

    jax.config.update("jax_enable_x64", True)
    cases = [("logistic_regression", f"N = {10**4 if quick else 10**6:,}, 20 features",
              logreg_loss, logreg_point(10**4 if quick else 10**6), (0, 1)),
             ("mlp", f"batch {64 if quick else 4096}, 784→512→10", mlp_loss,
              mlp_point(64 if quick else 4096), (0, 1, 2, 3))]
    methods = ("numpy", "s2sad_jit", "jax_jit", "torch", "s2sad_torch")
    rows = []
    for name, size, loss, point, wrt in cases:
        numpy_grad = s2sad.grad(loss, wrt=wrt)
        xp_grad = s2sad.grad(loss, wrt=wrt, target="array_api")
        jax_point = tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in point)
        torch_point = tuple(torch.asarray(a) if isinstance(a, np.ndarray)
                            else torch.tensor(a, dtype=torch.float64) for a in point)
        s2sad_jit, jax_jit = jax.jit(xp_grad), jax.jit(jax.grad(_jax_loss(name, jnp), wrt))
        funcs = {
            "numpy": numpy_grad,
            "s2sad_jit": lambda *a, g=s2sad_jit: jax.block_until_ready(g(*a)),
            "jax_jit": lambda *a, g=jax_jit: jax.block_until_ready(g(*a)),
            "torch": _torch_grad(name, torch),
            "s2sad_torch": xp_grad,
        }
        args_of = {"s2sad_jit": jax_point, "jax_jit": jax_point, "torch": torch_point,
                   "s2sad_torch": torch_point}
        want = _flat(numpy_grad(*point))
        errors, compile_s = {}, {}
        for m in methods:
            start = time.perf_counter()
            got = _flat(funcs[m](*args_of.get(m, point)))  # warm-up: jit compiles here
            compile_s[m] = time.perf_counter() - start
            errors[m] = float(np.max(np.abs(got - want)) / max(1.0, np.max(np.abs(want))))
        cost = {}  # XLA's count of the two jitted programs: the same work, or not
        for m, f in (("s2sad_jit", s2sad_jit), ("jax_jit", jax_jit)):
            c = f.lower(*jax_point).compile().cost_analysis()
            c = c[0] if isinstance(c, list) else c
            cost[m] = {k: c.get(k, 0.0) for k in ("flops", "transcendentals",
                                                 "bytes accessed")}
        log(f"{name}: timing")
        seconds = benchtools.time_interleaved(funcs, point, repeat=3 if quick else 7,
                                              target=0.05 if quick else 0.5, args_of=args_of)
        rows.append({"case": name, "size": size, "seconds": seconds, "errors": errors,
                     "first_call": compile_s, "cost": cost})
        log(f"{name}: " + ", ".join(f"{m} {seconds[m] * 1e3:.2f} ms" for m in methods))
    return {"rows": rows, "markdown": markdown(rows, quick, jax.__version__, torch.__version__)}


_HEADS = {"numpy": "s2sad NumPy target", "s2sad_jit": "jax.jit(s2sad array_api)",
          "jax_jit": "jax.jit(jax.grad)", "torch": "PyTorch backward()",
          "s2sad_torch": "s2sad array_api on torch"}


def markdown(rows: list[dict], quick: bool, jax_version: str, torch_version: str) -> str:
    methods = list(_HEADS)
    out = [f"# Array API target on JAX and PyTorch{' (quick)' if quick else ''}", "",
           f"float64, CPU, {os.cpu_count()} cores (shared); jax {jax_version}, torch "
           f"{torch_version}, Python {sys.version.split()[0]}. Median ms per gradient "
           "call after a warm-up call; interleaved repeats.", "",
           "| case | size | " + " | ".join(_HEADS[m] for m in methods)
           + " | s2sad jit / jax.grad jit |",
           "|---|---|" + "---:|" * (len(methods) + 1)]
    for r in rows:
        s = r["seconds"]
        ratio = s["s2sad_jit"] / s["jax_jit"]
        out.append(f"| {r['case']} | {r['size']} | "
                   + " | ".join(f"{s[m] * 1e3:.2f}" for m in methods)
                   + f" | {ratio:.2f}{'' if ratio <= 1.2 else ' ⚠'} |")
    out += ["", "Largest error against the NumPy target (relative to the gradient's "
            "largest entry): " + "; ".join(
                f"{r['case']}: " + ", ".join(f"{m} {r['errors'][m]:.1e}" for m in methods)
                for r in rows) + ".",
            "", "First call (jit compile included), s: " + "; ".join(
                f"{r['case']}: " + ", ".join(f"{m} {r['first_call'][m]:.2f}" for m in methods)
                for r in rows) + ".",
            "", "XLA's cost analysis of the two jitted programs (s2sad / jax.grad): " + "; ".join(
                f"{r['case']}: " + ", ".join(
                    f"{k} {r['cost']['s2sad_jit'][k]:.3g} / {r['cost']['jax_jit'][k]:.3g}"
                    for k in ("flops", "transcendentals", "bytes accessed")) for r in rows) + ".",
            "", "Target: jax.jit of the s2sad gradient within 1.2× of jax.jit(jax.grad) "
            "(⚠ marks a miss)."]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(benchtools.main(run, "array_api", __doc__))
