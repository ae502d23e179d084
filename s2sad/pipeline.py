"""The pipeline in one place: lifted IR → derivative IR → optimised IR → Python source.

Both faces of s2sad (the Python API and the command line) go through
:func:`derive` and :func:`generate`, so they produce the same code.
"""

from __future__ import annotations

from .ad.transforms import grad_function, jvp_function, vjp_function
from .codegen import module, render
from .errors import InternalError, S2SADError
from .ir.core import Function
from .opt import optimize

KINDS = ("grad", "value_and_grad", "jvp", "vjp")


def normalize_wrt(fn: Function, wrt) -> tuple[tuple[int, ...], bool]:
    """``wrt`` as parameter indices, and whether it named one parameter (not a tuple)."""
    single = not isinstance(wrt, (tuple, list))
    items = [wrt] if single else list(wrt)
    names = fn.param_names
    out: list[int] = []
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, str)):
            raise S2SADError(f"wrt must be a parameter index or name, not {w!r}")
        if isinstance(w, str):
            if w not in names:
                raise S2SADError(f"`{fn.name}` has no parameter named {w!r}",
                                 hint=f"its parameters are: {', '.join(names) or '(none)'}")
            i = names.index(w)
        else:
            i = w + len(names) if w < 0 else w
            if not 0 <= i < len(names):
                raise S2SADError(f"wrt={w} is out of range: `{fn.name}` has {len(names)} "
                                 "parameter(s)")
        if i in out:
            raise S2SADError(f"parameter `{names[i]}` appears twice in wrt")
        out.append(i)
    if not out:
        raise S2SADError("wrt names no parameter")
    return tuple(out), single


def derive(fn: Function, kind: str, wrt=0, mode: str = "reverse") -> Function:
    """The optimised IR of derivative ``kind`` of ``fn``.  A broken invariant on the way
    is an :class:`InternalError` that says where ``fn``'s IR was written."""
    try:
        return _derive(fn, kind, wrt, mode)
    except InternalError as exc:
        if exc.dump_path is not None:
            raise
        raise InternalError(exc.message, ir=fn) from exc


def _derive(fn: Function, kind: str, wrt, mode: str) -> Function:
    indices, single = normalize_wrt(fn, wrt)
    if kind == "grad":
        derived = grad_function(fn, indices, single, mode=mode)
    elif kind == "value_and_grad":
        derived = grad_function(fn, indices, single, mode=mode, with_value=True)
    elif kind == "jvp":
        derived = jvp_function(fn, indices)
    elif kind == "vjp":
        derived = vjp_function(fn, indices, single)
    else:
        raise ValueError(f"unknown derivative kind {kind!r}; expected one of {KINDS}")
    return optimize(derived)


def generate(fns: list[Function], header: str | None = None) -> str:
    """Python source of a module defining ``fns``."""
    return render(module(fns, header))
