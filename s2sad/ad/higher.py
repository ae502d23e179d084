"""Higher-order derivatives as IR → IR: Hessian-vector products, Hessians, n-th
derivatives and Jacobians, composed from the first-order sweeps.

* ``hvp_f(*args, *v)`` → H·v, **reverse over forward**: the tangent output of the
  forward sweep (with the tangents ``v`` as parameters) is a scalar function of
  the arguments; its reverse-mode gradient with respect to ``wrt`` is H·v.
  Forward IR has no tapes, and the reverse sweep tapes loops and reverses
  branches, so this composes through ``if``/``for``/``while`` and lists.  It
  gives the numbers forward-over-reverse would, at the same order of cost.
* ``hessian_f`` for scalar parameters: the whole matrix as one symbolic function
  (primal work shared by the builder's CSE), reverse over forward (one forward
  sweep per parameter with the constant unit seed, each differentiated in
  reverse mode) or forward over forward, whichever gives fewer ops.  Only
  ``H[i][j]`` for ``j >= i`` is computed; ``H[j][i]`` is the same value, so the
  matrix is symmetric by construction.
* ``d<n>_f``: repeated forward mode.
* ``jacobian_f`` for scalar parameters and outputs: one forward sweep per input
  (unit seeds) or one reverse sweep per output (unit cotangents).

Array and list parameters or outputs need one sweep per element, a number known
only at run time: :mod:`s2sad.pipeline` then writes a small driver function
around the ``hvp``/``jvp``/``vjp`` IR built here (:func:`inner_vjp_function`).
"""

from __future__ import annotations

import dataclasses

from ..errors import DifferentiationError
from ..ir.builder import Builder
from ..ir.core import Function, Kind, Value
from ..opt import optimize
from .forward import forward_sweep, forward_sweeps
from .reverse import reverse_sweep
from .rules import derived_hint
from .transforms import (
    _check_scalar_output,
    _derived,
    _doc,
    _params,
    _zero_if_none,
    cotangent_names,
    grad_function,
    output_seed,
    tangent_sweep,
)


def _name_result(b: Builder, v: Value, base: str, suffix: str) -> None:
    """Give result ``v`` (computed by an op of ``b``, nothing else names it) a derived
    name such as ``d2f_dx_dy``: reverse mode would have called it ``x_bar``, which is
    misleading for an entry of a Hessian or Jacobian.  ``v`` is new and private to
    this function's builder, so setting its hint is safe."""
    op = b.defs.get(v)
    if op is not None and op.prim != "const" and not op.regions and (
            v.hint is None or v.hint.endswith((".bar", ".dot"))):
        b.rename(v, derived_hint(base, suffix))


def _names(fn: Function, wrt: tuple[int, ...]) -> str:
    return ", ".join(fn.param_names[i] for i in wrt)


def _tangent_function(fn: Function, wrt: tuple[int, ...], unit: int | None = None) -> Function:
    """``(*args, *tangents) -> tangent of f`` (or ``(*args) -> ∂f/∂args[unit]`` with
    the constant seed 1.0), optimised."""
    b = Builder()
    params = _params(b, fn)
    if unit is None:
        tangents = tuple(b.fresh(fn.params[i].kind, derived_hint(fn.param_names[i], "dot"))
                         for i in wrt)
        seeds = dict(zip(wrt, tangents, strict=True))
    else:
        tangents, seeds = (), {unit: b.const(1.0)}
    _, (out,) = forward_sweep(b, fn, params, seeds)
    out = _zero_if_none(b, out)
    return optimize(b.finish(f"tangent_{fn.name}", params + tangents, (out,), structure=0,
                             source=fn.source, names_used=fn.names_used))


def _forward_over_reverse(fn: Function, wrt: tuple[int, ...], single: bool) -> Function:
    """``(*args, *v)`` → the tangent of the reverse-mode gradient along ``v``."""
    grad = optimize(grad_function(fn, wrt, single))
    b = Builder()
    params = _params(b, fn)
    tangents = tuple(b.fresh(fn.params[i].kind, derived_hint(fn.param_names[i], "dot"))
                     for i in wrt)
    _, outs = forward_sweep(b, grad, params, dict(zip(wrt, tangents, strict=True)))
    outs = tuple(_zero_if_none(b, t, params[i], True) for t, i in zip(outs, wrt, strict=True))
    return b.finish(f"hvp_{fn.name}", params + tangents, outs, structure=grad.structure,
                    source=fn.source, names_used=fn.names_used)


def hvp_function(fn: Function, wrt: tuple[int, ...], single: bool,
                 order: str = "reverse-over-forward") -> Function:
    """``hvp_f(*args, *v)`` → H·v (one value, or a tuple for a tuple ``wrt``).

    ``order``: ``"reverse-over-forward"`` (the reverse-mode gradient of the tangent
    output of the forward sweep) or ``"forward-over-reverse"`` (the forward sweep of
    the reverse-mode gradient: its tapes then carry tangents too)."""
    _check_scalar_output(fn, "hvp")
    if order == "forward-over-reverse":
        g = _forward_over_reverse(fn, wrt, single)
    elif order == "reverse-over-forward":
        g = grad_function(_tangent_function(fn, wrt), wrt, single)
    else:
        raise ValueError("mode must be 'reverse-over-forward' or 'forward-over-reverse', "
                         f"not {order!r}")
    names = _names(fn, wrt)
    vs = ", ".join(f"{fn.param_names[i]}_dot" for i in wrt)
    return dataclasses.replace(
        g, name=f"hvp_{fn.name}", defaults=(),
        docstring=_doc(f"Hessian of {fn.name} times a vector ({order.replace('-', ' ')} "
                       "mode).",
                       f"The Hessian is with respect to {names}; {vs} is the vector (one part "
                       "per argument). The Hessian itself is never formed."))


def _not_ints(fn: Function, wrt: tuple[int, ...]) -> tuple[int, ...]:
    """``wrt`` without its int parameters: a Hessian's or Jacobian's rows and columns
    of an int (a range bound, an index) are zeros, like its gradient."""
    return tuple(i for i in wrt if fn.params[i].kind is not Kind.INT)


def _check_scalars(fn: Function, wrt: tuple[int, ...], what: str) -> None:
    for i in wrt:
        kind = fn.params[i].kind
        if kind in (Kind.INT, Kind.BOOL):
            floats = [n for p, n in zip(fn.params, fn.param_names, strict=True)
                      if p.kind is Kind.FLOAT]
            raise DifferentiationError(
                f"`{what}` with respect to the {kind.value} `{fn.param_names[i]}`",
                why=f"`{fn.param_names[i]}` is used as an int (a range bound, an index or a "
                    "size, or annotated `int`): the function is piecewise constant in it",
                hint=f"take the derivative with respect to a float: wrt={floats[0]!r}" if floats
                else "differentiate a function of a float parameter")
        if kind is not Kind.FLOAT:
            raise DifferentiationError(
                f"`{what}` with respect to the {fn.params[i].kind.value} "
                f"`{fn.param_names[i]}` would need one sweep per item",
                why="n-th derivatives are of a function of one scalar",
                hint="s2sad.hessian, s2sad.hvp and s2sad.jacobian handle arrays and lists")


def hessian_scalar_function(fn: Function, wrt: tuple[int, ...], single: bool,
                            strategy: str = "smaller") -> Function:
    """``hessian_f(*args)`` for scalar parameters: ``H[i][j]`` in ``wrt`` order (a float
    for one parameter), symmetric by construction: only ``j >= i`` is computed, and
    ``H[j][i]`` is the same value.

    ``strategy``: ``"rof"`` (reverse over forward: per parameter one forward sweep
    with the unit seed, differentiated in reverse mode), ``"fof"`` (forward over
    forward: per parameter the forward-mode gradient, differentiated forward by
    each later parameter), or ``"smaller"`` (both, keeping the one with fewer ops
    after optimisation: FoF wins on deep one-variable chains, RoF on loops with
    branches and on several variables; see benchmarks/bench_higher.py).
    """
    from ..ir.core import count_ops

    _check_scalar_output(fn, "hessian")
    _check_scalars(fn, _not_ints(fn, wrt), "hessian")
    if strategy == "smaller":  # (one order may meet an op it cannot differentiate yet)
        built, errors = [], []
        for s in ("rof", "fof"):
            try:
                built.append(optimize(hessian_scalar_function(fn, wrt, single, s)))
            except DifferentiationError as err:
                errors.append(err)
        if not built:
            raise errors[0]
        return min(built, key=count_ops)
    b = Builder()
    params = _params(b, fn)
    n = len(wrt)
    floats = _not_ints(fn, wrt)  # the rows and columns of an int are zeros
    at = [k for k, i in enumerate(wrt) if i in floats]  # their places in wrt
    entries: dict[tuple[int, int], Value] = {}
    for r, i in enumerate(floats):
        if strategy == "rof":
            row_fn = _tangent_function(fn, floats, unit=i)
            seed = output_seed if row_fn.results[0].kind is Kind.ARRAY else b.const(1.0)
            _, row = reverse_sweep(b, row_fn, params, floats[r:], (seed,))
        else:
            g = optimize(grad_function(fn, (i,), True, mode="forward"))
            _, lanes = forward_sweeps(b, g, params, [{j: b.const(1.0)} for j in floats[r:]])
            row = [tangents[0] for tangents in lanes]
        for c, a in enumerate(row, start=r):
            entries[at[r], at[c]] = entries[at[c], at[r]] = _zero_if_none(b, a)
    names = [fn.param_names[i] for i in wrt]
    for (r, c), v in entries.items():
        if r <= c:
            _name_result(b, v, f"d2{fn.name}", f"d{names[r]}_d{names[c]}")
    results = tuple(entries.get((r, c)) or b.const(0.0) for r in range(n) for c in range(n))
    structure = 0 if single else tuple(tuple(r * n + c for c in range(n)) for r in range(n))
    how = "reverse over forward" if strategy == "rof" else "forward over forward"
    doc = _doc(f"Hessian of {fn.name} ({how} mode).",
               f"The second derivative with respect to {_names(fn, wrt)}." if single else
               f"With respect to ({_names(fn, wrt)}): H[i][j] is the second derivative by "
               "inputs i and j, in that order.")
    return _derived(fn, f"hessian_{fn.name}", params, results, structure, keep_defaults=True,
                    b=b, doc=doc)


def derivative_function(fn: Function, n: int, wrt: int) -> Function:
    """``d<n>_f(*args)``: the n-th derivative with respect to scalar ``wrt`` (repeated
    forward mode; every stage is optimised before the next)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise DifferentiationError(f"derivative order must be an integer >= 1, not {n!r}")
    _check_scalars(fn, (wrt,), "derivative")
    g = fn
    for _ in range(n):
        g = optimize(grad_function(g, (wrt,), True, mode="forward"))
    name = fn.param_names[wrt]
    return dataclasses.replace(
        g, name=f"d{n}_{fn.name}", defaults=fn.defaults,
        docstring=_doc(f"Derivative {n} of {fn.name} (forward mode, {n} times).",
                       f"With respect to {name}."))


def jacobian_scalar_function(fn: Function, wrt: tuple[int, ...], single: bool,
                             mode: str) -> Function:
    """``jacobian_f(*args)`` for scalar parameters and a scalar or tuple-of-scalars output:
    ``J[i][j] = ∂y_i/∂x_j`` (no index for a single output or a single input)."""
    _check_scalars(fn, _not_ints(fn, wrt), "jacobian")
    outs = fn.results
    for r in outs:
        if r.kind is not Kind.FLOAT and r.kind is not Kind.INT and r.kind is not Kind.BOOL:
            raise DifferentiationError("internal: jacobian_scalar_function needs scalar outputs")
    b = Builder()
    params = _params(b, fn)
    m, n = len(outs), len(wrt)
    floats = _not_ints(fn, wrt)  # the columns of an int are zeros
    at = [k for k, i in enumerate(wrt) if i in floats]  # their places in wrt
    J: dict[tuple[int, int], Value] = {}
    if mode == "forward":  # one direction per input, in one sweep
        _, lanes = forward_sweeps(b, fn, params, [{i: b.const(1.0)} for i in floats])
        for c, tangents in enumerate(lanes):
            for r, t in enumerate(tangents):
                J[r, at[c]] = _zero_if_none(b, t)
    elif mode == "reverse":
        for r in range(m):
            cts = tuple(b.const(1.0) if k == r else None for k in range(m))
            _, adjoints = reverse_sweep(b, fn, params, floats, cts) if floats else ((), ())
            for c, a in enumerate(adjoints):
                J[r, at[c]] = _zero_if_none(b, a)
    else:
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    one_out = not fn.returns_tuple
    for (r, c), v in J.items():
        _name_result(b, v, "dy" if one_out else f"dy{r}", f"d{fn.param_names[wrt[c]]}")
    results = tuple(J.get((r, c)) or b.const(0.0) for r in range(m) for c in range(n))

    def row(r: int):
        return r * n if single else tuple(r * n + c for c in range(n))

    structure = row(0) if one_out else tuple(row(r) for r in range(m))
    doc = _doc(f"Jacobian of {fn.name} ({mode} mode).",
               f"With respect to {_names(fn, wrt)}: J[i][j] = d(output i) / d(input j); "
               "no index for a single output or a single input.")
    return _derived(fn, f"jacobian_{fn.name}", params, results, structure, keep_defaults=True,
                    b=b, doc=doc)


def inner_vjp_function(fn: Function, wrt: tuple[int, ...], single: bool) -> Function:
    """Like :func:`~s2sad.ad.transforms.vjp_function`, but a list output takes a list
    cotangent, which the generated code may update in place: for drivers (the
    reverse-mode Jacobian) that pass a fresh cotangent on every call."""
    b = Builder()
    params = _params(b, fn)
    cotangents = tuple(b.fresh(r.kind if r.kind in (Kind.ARRAY, Kind.LIST) else Kind.FLOAT,
                               name)
                       for r, name in zip(fn.results, cotangent_names(fn), strict=True))
    results, adjoints = reverse_sweep(b, fn, params, wrt, cotangents)
    adjoints = tuple(_zero_if_none(b, a, params[i], True) for a, i in zip(adjoints, wrt,
                                                                           strict=True))
    n = len(results)
    structure = (tuple(range(n)), tuple(range(n, n + len(adjoints))))
    return _derived(fn, f"_vjp_{fn.name}", params + cotangents, results + adjoints, structure,
                    keep_defaults=False, b=b,
                    doc=_doc(f"Values of {fn.name} and cotangents of its inputs.",
                             "The results are (tuple of outputs, tuple of cotangents)."))


def inner_jvp_function(fn: Function, wrt: tuple[int, ...]) -> Function:
    """``(*args, *tangents) -> (tuple of outputs, tuple of output tangents)``."""
    b, params, tangents, results, outs = tangent_sweep(fn, wrt)
    n = len(results)
    structure = (tuple(range(n)), tuple(range(n, 2 * n)))
    return _derived(fn, f"_jvp_{fn.name}", params + tangents, results + outs, structure,
                    keep_defaults=False, b=b,
                    doc=_doc(f"Values of {fn.name} and their tangents (forward mode).",
                             "The results are (tuple of outputs, tuple of tangents)."))
