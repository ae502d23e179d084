"""A two-layer tanh network trained with four optimizers, gradients from s2sad.

The network ``tanh(X W1 + b1) W2 + b2`` fits a smooth function of two inputs
(mean squared error).  One ``s2sad.value_and_grad`` of the loss with respect to
all four parameters drives plain gradient descent, Momentum, RMSProp and Adam,
each a few lines.  If matplotlib is installed, the loss curves are saved to
``OUT_DIR/mlp_losses.png``.

    python examples/mlp.py [OUT_DIR]      # OUT_DIR defaults to the current directory
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import s2sad


def loss(W1, b1, W2, b2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2 + b2
    return np.mean((out - y) ** 2)


def make_data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2.0, 2.0, (n, 2))
    y = np.sin(1.5 * X[:, 0]) * np.cos(X[:, 1])
    return X, y


def init_params(d: int = 2, hidden: int = 16, seed: int = 1):
    """[W1 (d × hidden), b1 (hidden,), W2 (hidden,), b2 (a float)]."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((d, hidden)) / np.sqrt(d), np.zeros(hidden),
            rng.standard_normal(hidden) / np.sqrt(hidden), 0.0]


# -- optimizers: (params, grads, state, step number t ≥ 1) -> new params -------------------


def gradient_descent(params, grads, state, t, lr=0.1):
    return [p - lr * g for p, g in zip(params, grads, strict=True)]


def momentum(params, grads, state, t, lr=0.05, beta=0.9):
    v = state.get("v", [0.0 * p for p in params])
    v = state["v"] = [beta * vi + g for vi, g in zip(v, grads, strict=True)]
    return [p - lr * vi for p, vi in zip(params, v, strict=True)]


def rmsprop(params, grads, state, t, lr=0.01, rho=0.9, eps=1e-8):
    s = state.get("s", [0.0 * p for p in params])
    s = state["s"] = [rho * si + (1 - rho) * g * g for si, g in zip(s, grads, strict=True)]
    return [p - lr * g / (np.sqrt(si) + eps) for p, g, si in zip(params, grads, s, strict=True)]


def adam(params, grads, state, t, lr=0.02, beta1=0.9, beta2=0.999, eps=1e-8):
    m = state.get("m", [0.0 * p for p in params])
    v = state.get("v", [0.0 * p for p in params])
    m = state["m"] = [beta1 * mi + (1 - beta1) * g for mi, g in zip(m, grads, strict=True)]
    v = state["v"] = [beta2 * vi + (1 - beta2) * g * g for vi, g in zip(v, grads, strict=True)]
    return [p - lr * (mi / (1 - beta1 ** t)) / (np.sqrt(vi / (1 - beta2 ** t)) + eps)
            for p, mi, vi in zip(params, m, v, strict=True)]


OPTIMIZERS = {"gradient descent": gradient_descent, "momentum": momentum,
              "rmsprop": rmsprop, "adam": adam}


def train(optimizer, X, y, steps: int = 300) -> list[float]:
    """The loss before each step and after the last one, from the same initial weights."""
    value_and_grad = s2sad.value_and_grad(loss, wrt=(0, 1, 2, 3))
    params = init_params(X.shape[1])
    state: dict = {}
    losses = []
    for t in range(1, steps + 1):
        value, grads = value_and_grad(*params, X, y)
        losses.append(float(value))
        params = optimizer(params, grads, state, t)
    losses.append(float(loss(*params, X, y)))
    return losses


def plot(curves: dict[str, list[float]], out_dir: Path) -> Path | None:
    """Save the loss curves as a PNG, or return None without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: no plot")
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, losses in curves.items():
        ax.semilogy(losses, label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("mean squared error")
    ax.set_title("two-layer tanh network, gradients by s2sad")
    ax.legend()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "mlp_losses.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"loss curves written to {path}")
    return path


def main(out_dir: str | Path | None = None, steps: int = 300) -> dict[str, list[float]]:
    """Train with every optimizer; plot only when ``out_dir`` is given."""
    X, y = make_data()
    curves = {name: train(opt, X, y, steps) for name, opt in OPTIMIZERS.items()}
    for name, losses in curves.items():
        print(f"{name:17s} loss {losses[0]:.4f} -> {losses[-1]:.5f} in {steps} steps")
    if out_dir is not None:
        plot(curves, Path(out_dir))
    return curves


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
