"""The extended Rosenbrock function, written as a loop over a list.

    s2sad grad examples/rosenbrock.py
"""


def rosenbrock(x):
    s = 0.0
    for i in range(len(x) - 1):
        s += 100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2
    return s
