"""The extended Rosenbrock function minimized by SciPy's Newton-CG with s2sad's
gradient and Hessian-vector product.

    f(x) = Σᵢ 100 (xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²,   minimum 0 at x = (1, …, 1)

written as a plain loop over a list.  ``s2sad.grad`` gives ``jac`` and
``s2sad.hvp`` gives ``hessp``: H·p by reverse mode over forward mode, without
ever forming the n × n Hessian.  Skipped (returns None) when SciPy is not
installed.

    python examples/newton_cg.py
"""

from __future__ import annotations

import numpy as np

import s2sad


def rosenbrock(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s


def start(n: int) -> np.ndarray:
    """(−1.2, 1, −1.2, 1, …): the classic starting point, far from the minimum."""
    return np.array([-1.2 if i % 2 == 0 else 1.0 for i in range(n)])


def main(n: int = 20):
    try:
        from scipy.optimize import minimize
    except ImportError:
        print("scipy is not installed: skipping the Newton-CG example")
        return None
    grad = s2sad.grad(rosenbrock)  # grad_rosenbrock(x) -> a list
    hvp = s2sad.hvp(rosenbrock)  # hvp_rosenbrock(x, p) -> H(x) · p, a list
    res = minimize(rosenbrock, start(n), method="Newton-CG",
                   jac=lambda x: np.asarray(grad(x)),
                   hessp=lambda x, p: np.asarray(hvp(x, p)),
                   options={"xtol": 1e-12, "maxiter": 500})
    print(f"n = {n}: f = {res.fun:.3e} after {res.nit} iterations ({res.njev} gradients, "
          f"{res.nhev} Hessian-vector products), max |x - 1| = "
          f"{np.max(np.abs(res.x - 1.0)):.2e}")
    return res


if __name__ == "__main__":
    main()
