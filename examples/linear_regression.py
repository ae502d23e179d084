"""Linear regression by gradient descent, with the gradient from s2sad.

The textbook loss ‖Xw − y‖² / n (the intercept is a column of ones in X),
minimized by plain gradient descent with ``s2sad.grad(loss)``; the result is
compared with the least-squares solution from ``np.linalg.lstsq``.

    python examples/linear_regression.py
"""

from __future__ import annotations

import numpy as np

import s2sad


def loss(w, X, y):
    r = X @ w - y
    return r @ r / X.shape[0]


def make_data(n: int = 200, d: int = 4, noise: float = 0.1, seed: int = 0):
    """``X`` (n × (d + 1), last column ones), ``y`` and the true weights."""
    rng = np.random.default_rng(seed)
    X = np.hstack([rng.standard_normal((n, d)), np.ones((n, 1))])
    w_true = rng.uniform(-2.0, 2.0, d + 1)
    y = X @ w_true + noise * rng.standard_normal(n)
    return X, y, w_true


def train(X, y, steps: int = 200, lr: float = 0.1):
    """Gradient descent from w = 0: the final weights and the loss before each step."""
    grad = s2sad.grad(loss)  # ∂loss/∂w, an array shaped like w
    w = np.zeros(X.shape[1])
    losses = []
    for _ in range(steps):
        losses.append(float(loss(w, X, y)))
        w = w - lr * grad(w, X, y)
    losses.append(float(loss(w, X, y)))
    return w, losses


def main(steps: int = 200) -> dict:
    X, y, w_true = make_data()
    w, losses = train(X, y, steps)
    w_lstsq = np.linalg.lstsq(X, y, rcond=None)[0]
    print(f"loss {losses[0]:.4f} -> {losses[-1]:.6f} in {steps} steps")
    print(f"w (gradient descent) = {np.round(w, 4)}")
    print(f"w (least squares)    = {np.round(w_lstsq, 4)}")
    print(f"w (true)             = {np.round(w_true, 4)}")
    return {"losses": losses, "w": w, "w_lstsq": w_lstsq, "w_true": w_true,
            "loss_lstsq": float(loss(w_lstsq, X, y))}


if __name__ == "__main__":
    main()
