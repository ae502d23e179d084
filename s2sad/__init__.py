"""s2sad: source-to-source symbolic automatic differentiation for Python.

Write ordinary Python; get exact derivatives back as plain, readable,
standalone Python source.

>>> import s2sad
>>> def f(x, y):
...     return x * y + y ** 2
>>> s2sad.grad(f, wrt=(0, 1))(3.0, 2.0)
(2.0, 7.0)
"""

__version__ = "0.1.0"

from .api import (  # noqa: E402
    derivative,
    differentiable,
    grad,
    hessian,
    hvp,
    jacobian,
    jvp,
    lift,
    value_and_grad,
    vjp,
)
from .check import check  # noqa: E402, F401
from .custom import primitive, stop_gradient  # noqa: E402
from .errors import (  # noqa: E402
    DifferentiationError,
    InternalError,
    NameResolutionError,
    S2SADError,
    UnsupportedError,
)

__all__ = [
    "DifferentiationError",
    "InternalError",
    "NameResolutionError",
    "S2SADError",
    "UnsupportedError",
    "__version__",
    "derivative",
    "differentiable",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "jvp",
    "lift",
    "primitive",
    "stop_gradient",
    "value_and_grad",
    "vjp",
]
