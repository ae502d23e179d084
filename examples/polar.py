"""Functions with several outputs, for `s2sad jvp` and `s2sad vjp`.

    s2sad vjp examples/polar.py                       # vjp_to_cartesian, vjp_rotate, ...
    s2sad jvp examples/polar.py -f rotate --wrt theta # d(rotate)/d(theta) along a tangent
    s2sad grad examples/polar.py                      # only `distance2` is scalar: the
                                                      # others are listed with the reason
    s2sad check examples/polar.py                     # every (output, input) pair vs SymPy
"""

import math

TARGET_X = 1.0
TARGET_Y = 2.0


def to_cartesian(r, theta):
    """Polar → Cartesian coordinates: (r cos θ, r sin θ)."""
    return r * math.cos(theta), r * math.sin(theta)


def rotate(x, y, theta):
    """The point (x, y) rotated by θ about the origin."""
    c = math.cos(theta)
    s = math.sin(theta)
    return c * x - s * y, s * x + c * y


def distance2(r, theta):
    """Squared distance from the polar point (r, θ) to the target; calls `to_cartesian`."""
    px, py = to_cartesian(r, theta)
    return (px - TARGET_X) ** 2 + (py - TARGET_Y) ** 2
