"""The worked examples of the AD textbooks, as plain Python.

    s2sad grad examples/textbook.py              # every function's gradient
    s2sad grad examples/textbook.py -f sin_quad  # one of them

Run as a script, it prints each gradient at a sample point.
"""

import math

# A small data set for the mean-squared-error loss: y ≈ 2x + 1 with noise.
X1, X2, X3 = 0.5, 1.5, 3.0
Y1, Y2, Y3 = 2.1, 3.9, 7.2


def cubic(x):
    """d/dx (x³ + 2x) = 3x² + 2; at x = 2 it is 14."""
    return x ** 3 + 2 * x


def exp_sin(x):
    """y = e^(x²) + sin x."""
    return math.exp(x ** 2) + math.sin(x)


def poly2(x1, x2):
    """y = x₁² + x₂³ → (2x₁, 3x₂²)."""
    return x1 ** 2 + x2 ** 3


def sin_quad(x):
    """f(x) = sin(x² + 2x + 1); f'(2) = 6·cos 9 ≈ -5.466781."""
    return math.sin(x ** 2 + 2 * x + 1)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^-x); σ' = σ(1 - σ)."""
    return 1 / (1 + math.exp(-x))


def mse(w, b):
    """Mean squared error of the line y = w·x + b on three points."""
    r1 = w * X1 + b - Y1
    r2 = w * X2 + b - Y2
    r3 = w * X3 + b - Y3
    return (r1 ** 2 + r2 ** 2 + r3 ** 2) / 3


def step(x):
    """One level of the deep-nesting chain x ← sin(x)·x + cos(x)."""
    return math.sin(x) * x + math.cos(x)


def chain5(x):
    """Five levels of the chain: naive symbolic derivatives swell here."""
    return step(step(step(step(step(x)))))


if __name__ == "__main__":
    import s2sad

    for f, args in ((cubic, (2.0,)), (exp_sin, (0.5,)), (poly2, (1.0, 2.0)),
                    (sin_quad, (2.0,)), (sigmoid, (0.3,)), (mse, (1.5, 0.5)),
                    (chain5, (0.7,))):
        wrt = tuple(range(len(args))) if len(args) > 1 else 0
        print(f"{f.__name__}{args}: gradient {s2sad.grad(f, wrt=wrt)(*args)}")
