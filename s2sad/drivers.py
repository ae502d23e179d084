"""Hessians and Jacobians of arrays and lists: a loop, at run time, over their elements.

How many sweeps such a derivative needs (one Hessian-vector product per element of an
array argument, one tangent or adjoint sweep per element of an input or output) is
known only when the code runs. A :class:`Driver` is then the generated function: a
short, readable loop over unit vectors (the helpers ``_basis``, ``_zero``, ``_block``,
pasted into the module) that calls derivative functions built as IR by
:mod:`s2sad.ad.higher` (its ``parts``). :func:`s2sad.pipeline.generate` writes both.
"""

from __future__ import annotations

import dataclasses

from .ad.higher import hvp_function, inner_jvp_function, inner_vjp_function
from .codegen import njit
from .ir.core import Function
from .opt import optimize


@dataclasses.dataclass
class Driver:
    """A generated function that is not IR: a loop, at run time, over the elements of
    array or list arguments (or outputs), calling derivative functions built from IR
    (``parts``).  The Hessian and Jacobian of arrays need one sweep per element, a
    number known only when the code runs."""

    name: str
    parts: list[Function]
    source: str  # the text of the driver's ``def``
    helpers: tuple[str, ...] = ("_basis", "_zero", "_block")
    numba_source: str | None = None  # the driver for numba.njit, where there is one


DRIVER_HELPERS = {
    "_basis": '''
def _basis(x):
    """(index, unit vector of the shape of x) for each element of x: a number, list or
    array."""
    if np.ndim(x) == 0:
        yield (), 1.0
        return
    for i in np.ndindex(np.shape(x)):
        e = np.zeros(np.shape(x))
        e[i] = 1.0
        yield i, (e.tolist() if isinstance(x, (list, tuple)) else e)
''',
    "_zero": '''
def _zero(x):
    """A zero of the shape of x: 0.0, a list of zeros, or an array of zeros."""
    if np.ndim(x) == 0:
        return 0.0
    return [0.0] * len(x) if isinstance(x, (list, tuple)) else np.zeros(np.shape(x))
''',
    "_block": '''
def _block(h):
    """A block of a Hessian or Jacobian: a float when it has one element and no axes."""
    return float(h) if np.ndim(h) == 0 else h
''',
}


def _fresh(base: str, taken: set[str]) -> str:
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _driver_names(fn: Function, *bases: str) -> list[str]:
    taken = set(fn.names_used) | set(fn.param_names) | {"np", "math", "_basis", "_zero",
                                                         "_block", "Ellipsis"}
    return [_fresh(b, taken) for b in bases]


def _signature(fn: Function) -> str:
    return ", ".join(fn.param_names)


def hessian_driver(fn: Function, wrt: tuple[int, ...], single: bool) -> Driver:
    hvp = optimize(hvp_function(fn, wrt, single, "reverse-over-forward"))
    args = _signature(fn)
    names = ", ".join(fn.param_names[i] for i in wrt)
    if single:
        x = fn.param_names[wrt[0]]
        H, i, v = _driver_names(fn, "H", "i", "v")
        text = f'''
def hessian_{fn.name}({args}):
    """Hessian of {fn.name} with respect to {x}: an array of shape
    np.shape({x}) + np.shape({x}), one Hessian-vector product per element of {x}.
    """
    {H} = np.zeros(np.shape({x}) * 2)
    for {i}, {v} in _basis({x}):
        {H}[{i}] = hvp_{fn.name}({args}, {v})
    return _block({H})
'''
    else:
        wrt_t = ", ".join(fn.param_names[i] for i in wrt) + ","
        W, H, k, p, q, i, e, v, l_, col, row, h = _driver_names(
            fn, "wrt", "H", "k", "p", "q", "i", "e", "v", "l", "column", "row", "h")
        text = f'''
def hessian_{fn.name}({args}):
    """Hessian of {fn.name} with respect to ({names}): H[k][l] is the block of second
    derivatives by inputs k and l, of shape np.shape(input k) + np.shape(input l);
    one Hessian-vector product per input element.
    """
    {W} = ({wrt_t})
    {H} = [[np.zeros(np.shape({p}) + np.shape({q})) for {q} in {W}] for {p} in {W}]
    for {k}, {p} in enumerate({W}):
        for {i}, {e} in _basis({p}):
            {v} = [_zero({q}) for {q} in {W}]
            {v}[{k}] = {e}
            for {l_}, {col} in enumerate(hvp_{fn.name}({args}, *{v})):
                {H}[{k}][{l_}][{i}] = {col}
    return tuple(tuple(_block({h}) for {h} in {row}) for {row} in {H})
'''
    helpers = ("_basis", "_block") if single else ("_basis", "_zero", "_block")
    numba = njit.hessian_driver_text(f"hessian_{fn.name}", fn.name, args, x, H, i, v) if (
        single) else None
    return Driver(f"hessian_{fn.name}", [hvp], text, helpers, numba)


def _jacobian_return(J: str, single: bool, one_out: bool, names) -> str:
    h, row = names
    if one_out and single:
        return f"_block({J}[0][0])"
    if one_out:
        return f"tuple(_block({h}) for {h} in {J}[0])"
    if single:
        return f"tuple(_block({row}[0]) for {row} in {J})"
    return f"tuple(tuple(_block({h}) for {h} in {row}) for {row} in {J})"


def jacobian_driver(fn: Function, wrt: tuple[int, ...], single: bool, mode: str) -> Driver:
    args = _signature(fn)
    names = ", ".join(fn.param_names[i] for i in wrt)
    wrt_t = ", ".join(fn.param_names[i] for i in wrt) + ","
    one_out = not fn.returns_tuple
    per = ("tangent sweep per input element" if mode == "forward"
           else "adjoint sweep per output element")
    doc = (f'''"""Jacobian of {fn.name} ({mode} mode) with respect to ({names}).

    J[o][k] = d(output o) / d(input k), of shape np.shape(output o) + np.shape(input k)
    (no index o for a single output, no index k for a single input); one
    {per}.
    """''')
    W, J, k, p, q, i, e, t, ys, dots, o, y, dot, c, bars, bar, h, row, u = _driver_names(
        fn, "wrt", "J", "k", "p", "q", "i", "e", "t", "ys", "y_dots", "o", "y", "y_dot", "c",
        "bars", "bar", "h", "row", "u")
    ret = _jacobian_return(J, single, one_out, (h, row))
    if mode == "forward":
        inner = inner_jvp_function(fn, wrt)
        text = f'''
def jacobian_{fn.name}({args}):
    {doc}
    {W} = ({wrt_t})
    {J} = None
    for {k}, {p} in enumerate({W}):
        for {i}, {e} in _basis({p}):
            {t} = [_zero({q}) for {q} in {W}]
            {t}[{k}] = {e}
            {ys}, {dots} = _jvp_{fn.name}({args}, *{t})
            if {J} is None:
                {J} = [[np.zeros(np.shape({y}) + np.shape({q})) for {q} in {W}] for {y} in {ys}]
            for {o}, {dot} in enumerate({dots}):
                {J}[{o}][{k}][(Ellipsis,) + {i}] = {dot}
    return {ret}
'''
        return Driver(f"jacobian_{fn.name}", [optimize(inner)], text)
    inner = inner_vjp_function(fn, wrt, single)
    n = len(fn.results)
    primal = dataclasses.replace(optimize(fn), name=f"_values_{fn.name}",
                                 structure=tuple(range(n)), defaults=(),
                                 docstring=f"The outputs of {fn.name}, as a tuple.")
    text = f'''
def jacobian_{fn.name}({args}):
    {doc}
    {W} = ({wrt_t})
    {ys} = _values_{fn.name}({args})
    {J} = [[np.zeros(np.shape({y}) + np.shape({q})) for {q} in {W}] for {y} in {ys}]
    for {o}, {y} in enumerate({ys}):
        for {i}, {e} in _basis({y}):
            {c} = [_zero({u}) for {u} in {ys}]
            {c}[{o}] = {e}
            _, {bars} = _vjp_{fn.name}({args}, *{c})
            for {k}, {bar} in enumerate({bars}):
                {J}[{o}][{k}][{i}] = {bar}
    return {ret}
'''
    return Driver(f"jacobian_{fn.name}", [primal, optimize(inner)], text)
