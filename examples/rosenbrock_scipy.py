"""The extended Rosenbrock function minimized by SciPy's BFGS with s2sad's gradient.

    f(x) = Σᵢ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²,   minimum 0 at x = (1, …, 1)

written with array slices, differentiated by ``s2sad.grad`` and handed to
``scipy.optimize.minimize(method="BFGS", jac=...)``.  Skipped (returns None)
when SciPy is not installed.

    python examples/rosenbrock_scipy.py
"""

from __future__ import annotations

import numpy as np

import s2sad


def rosenbrock(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def start(n: int) -> np.ndarray:
    """(−1.2, …, −1.2): far from the minimum, in the valley that leads to it."""
    return np.full(n, -1.2)


def main(n: int = 10):
    try:
        from scipy.optimize import minimize
    except ImportError:
        print("scipy is not installed: skipping the BFGS example")
        return None
    res = minimize(rosenbrock, start(n), method="BFGS", jac=s2sad.grad(rosenbrock),
                   options={"gtol": 1e-9, "maxiter": 2000})
    print(f"n = {n}: f = {res.fun:.3e} after {res.nit} iterations "
          f"({res.njev} gradients), max |x - 1| = {np.max(np.abs(res.x - 1.0)):.2e}")
    return res


if __name__ == "__main__":
    main()
