"""Logistic regression by gradient descent, with the gradient from s2sad.

The mean log-loss is written stably with ``np.logaddexp``:
−[y log σ(z) + (1 − y) log(1 − σ(z))] = log(1 + eᶻ) − y·z = logaddexp(0, z) − y·z,
so it stays finite for any logit z.  Two Gaussian blobs, plain gradient descent
on (w, b) with ``s2sad.grad(loss, wrt=(0, 1))``.

    python examples/logistic_regression.py
"""

from __future__ import annotations

import numpy as np

import s2sad


def loss(w, b, X, y):
    z = X @ w + b
    return np.mean(np.logaddexp(0.0, z) - y * z)


def make_data(n: int = 200, d: int = 2, seed: int = 0):
    """Two Gaussian blobs in d dimensions, labels 0.0 / 1.0."""
    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=n) < 0.5).astype(float)
    centers = np.where(y[:, None] > 0.5, 1.0, -1.0)
    X = centers + rng.standard_normal((n, d))
    return X, y


def train(X, y, steps: int = 300, lr: float = 0.5):
    """Gradient descent from zero: (w, b) and the loss before each step."""
    grad = s2sad.grad(loss, wrt=(0, 1))  # (∂/∂w an array, ∂/∂b a float)
    w = np.zeros(X.shape[1])
    b = 0.0
    losses = []
    for _ in range(steps):
        losses.append(float(loss(w, b, X, y)))
        gw, gb = grad(w, b, X, y)
        w = w - lr * gw
        b = b - lr * gb
    losses.append(float(loss(w, b, X, y)))
    return w, b, losses


def accuracy(w, b, X, y) -> float:
    return float(np.mean((X @ w + b > 0) == (y > 0.5)))


def main(steps: int = 300) -> dict:
    X, y = make_data()
    w, b, losses = train(X, y, steps)
    acc = accuracy(w, b, X, y)
    print(f"log-loss {losses[0]:.4f} -> {losses[-1]:.4f} in {steps} steps; "
          f"training accuracy {acc:.3f}")
    print(f"w = {np.round(w, 4)}, b = {b:.4f}")
    return {"losses": losses, "w": w, "b": b, "accuracy": acc}


if __name__ == "__main__":
    main()
