"""Logistic regression on more data than the workers' memory holds, with s2sad's
``array_api`` gradient on Dask arrays, on a ``dask.distributed.LocalCluster``.

The data (2·10⁷ rows × 20 float64 features by default: 3.2 GB, against 2 workers of
1 GB each) is generated chunk by chunk by ``dask.array`` on the workers, never held
whole: each gradient call regenerates the chunks, reduces them, and frees them.  The
gradient is the generated one, unchanged: called on NumPy weights and Dask data it
builds a lazy graph (``xp`` is Dask's namespace) and computes nothing; one
``client.compute`` per optimizer step runs that graph as one reduction.

    pip install -e ".[distributed]"        # dask[array,distributed], array-api-compat
    python examples/dask_logistic.py --rows 200000          # a small run, seconds
    python examples/dask_logistic.py                        # 2e7 x 20: minutes

The dashboard address is printed; open it to watch the workers' memory.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import s2sad


def loss(w, X, y):
    """Mean log-loss (``logaddexp(0, z) - y z``: finite for any logit) plus a small
    L2 penalty."""
    z = X @ w
    return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5e-3 * np.sum(w * w)


value_and_grad = s2sad.value_and_grad(loss, target="array_api")


def make_data(rows: int, features: int, chunk_rows: int, seed: int = 0):
    """Lazy (X, y): standard normal features and labels from a noisy linear model,
    generated chunk by chunk where they are used (nothing is computed here)."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, features), chunks=(chunk_rows, features))
    w_true = np.linspace(-1.0, 1.0, features)
    noise = rng.logistic(size=rows, chunks=chunk_rows)
    y = (X @ w_true + noise > 0.0).astype(np.float64)
    return X, y


def step_values(w, X, y, compute):
    """(loss, gradient) at w as NumPy: the generated gradient builds the graph, ``compute``
    runs it (one call, one reduction over the chunks)."""
    value, grad = value_and_grad(w, X, y)
    value, grad = compute(value, grad)
    return float(value), np.asarray(grad, dtype=np.float64)


def fit(X, y, compute, method: str = "lbfgs", steps: int = 30, rate: float = 2.0,
        log=None):
    """Weights fitted by L-BFGS (SciPy) or by ``steps`` of gradient descent with a fixed
    ``rate``; ``compute(*lazy)`` turns the lazy loss and gradient into numbers."""
    w = np.zeros(X.shape[1])
    if method == "gd":
        for k in range(steps):
            value, grad = step_values(w, X, y, compute)
            w = w - rate * grad
            if log:
                log(k, value, grad)
        return w
    from scipy.optimize import minimize

    calls = []

    def fun(w):
        value, grad = step_values(w, X, y, compute)
        if log:
            log(len(calls), value, grad)
        calls.append(value)
        return value, grad

    return minimize(fun, w, jac=True, method="L-BFGS-B",
                    options={"maxiter": steps, "gtol": 1e-8}).x


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="1GB", help="per worker")
    parser.add_argument("--method", choices=("lbfgs", "gd"), default="lbfgs")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)

    from dask.distributed import Client, LocalCluster, progress

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      memory_limit=args.memory_limit, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        X, y = make_data(args.rows, args.features, args.chunk_rows)
        gib = X.nbytes / 2**30
        print(f"dashboard: {client.dashboard_link}")
        print(f"data: {args.rows:,} x {args.features} float64 = {gib:.2f} GiB in "
              f"{X.numblocks[0]} chunks; workers: {args.workers} x {args.memory_limit}")
        value, grad = value_and_grad(np.zeros(args.features), X, y)
        print(f"the gradient is lazy: {type(grad).__name__}, one graph of "
              f"{len(grad.__dask_graph__()):,} tasks per call")

        def compute(*lazy):
            futures = client.compute(list(lazy))
            progress(futures, notebook=False)
            print()
            return client.gather(futures)

        def log(k, value, grad):
            print(f"step {k:3d}  loss {value:.6f}  |grad| {np.linalg.norm(grad):.2e}")

        start = time.perf_counter()
        w = fit(X, y, compute, args.method, args.steps, log=log)
        print(f"fitted in {time.perf_counter() - start:.1f} s: w = {np.round(w, 3)}")


if __name__ == "__main__":
    main()
