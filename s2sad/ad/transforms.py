"""Whole derivative functions: grad, value_and_grad, jvp and vjp, as IR → IR.

Each transform builds a new :class:`~s2sad.ir.core.Function` from a primal
one, using the sweeps of :mod:`.forward` and :mod:`.reverse`:

``grad_f(*args)``                       → ∂f/∂wrt (one value, or a tuple for a tuple ``wrt``)
``value_and_grad_f(*args)``             → (f, gradient)
``jvp_f(*args, *tangents_of_wrt)``      → (f, tangent of f)
``vjp_f(*args, cotangent)``             → (f, cotangent(s) of wrt)

For a function returning a tuple, tangents and cotangents of the output are
tuples of the same length.  The results are not yet optimised: run
:func:`s2sad.opt.optimize` on them.
"""

from __future__ import annotations

import textwrap
from typing import Any

from ..errors import DifferentiationError, S2SADError
from ..ir.builder import Builder
from ..ir.core import Function, Kind, Value, values_read, walk_ops
from ..primitives_numpy import MAX_BROADCAST, ShapeFacts
from .forward import forward_sweep, forward_sweeps
from .reverse import reverse_sweep
from .rules import derived_hint


def _params(b: Builder, fn: Function) -> tuple[Value, ...]:
    return tuple(b.fresh(p.kind, p.hint) for p in fn.params)


def _zero_if_none(b: Builder, v: Value | None, like: Value | None = None,
                  unread: bool = False) -> Value:
    """``v``, or a zero of the kind of ``like`` (0.0, or a list of zeros).

    The kind of a parameter the body never reads (``unread``) is unknown: its zero
    is decided at run time from the argument, as JAX's ``zeros_like`` would.
    """
    if v is not None:
        if like is not None and like.kind is Kind.ARRAY and v.kind is not Kind.ARRAY:
            return b.emit("unbroadcast", (v, like))  # a scalar adjoint of an array input
        return v
    if like is not None and like.kind is Kind.LIST:
        return b.emit("zeros_like", (like,))
    if like is not None and like.kind is Kind.ARRAY:
        return b.emit("np_zeros_like", (like,), hint=derived_hint(like.hint, "bar"))
    if like is not None and unread:
        return b.emit("zero_like", (like,), hint=derived_hint(like.hint, "bar"))
    return b.const(0.0)


def as_argument(b: Builder, g: Value, param: Value) -> Value:
    """The gradient ``g`` of ``param`` as it is returned: of the argument's type.  A list
    parameter's gradient is built as a list (the code indexes items, which a 1-D NumPy
    array passed for it does too); for an array argument it is returned as an array
    (``_like_argument``: O(1) for a list, one conversion for an array)."""
    if param.kind is Kind.LIST:
        return b.emit("like_argument", (g, param))
    return g


def _array_code(fn: Function) -> bool:
    """Does ``fn`` compute with arrays?  Then a number parameter may be an array that
    NumPy broadcasts, and its zero gradient is decided at run time, like an unread one's."""
    def walk(block) -> bool:
        return any(r.kind is Kind.ARRAY for op in block.ops for r in op.results) or any(
            walk(region) for op in block.ops for region in op.regions)

    return any(p.kind is Kind.ARRAY for p in fn.params) or walk(fn.body)


def _zero_kind_unknown(fn: Function) -> set[int]:
    """The parameters whose zero gradient's kind is unknown when s2sad compiles: those the
    body never reads, and, in array code, every number parameter."""
    read = values_read(fn.body) | set(fn.results)
    arrays = _array_code(fn)
    return {i for i, p in enumerate(fn.params)
            if p not in read or (arrays and p.kind is Kind.FLOAT)}


def _structure_like(template, start: int):
    """Re-number a result structure so that its indices start at ``start``."""
    if isinstance(template, tuple):
        out, i = [], start
        for t in template:
            s, i = _structure_like(t, i)
            out.append(s)
        return tuple(out), i
    return start, start + 1


def _shape_of_wrt(wrt: tuple[int, ...], single: bool, start: int):
    if single:
        return start
    return tuple(range(start, start + len(wrt)))


def _derived(fn: Function, name: str, params, results, structure, *, keep_defaults: bool,
             b: Builder, doc: str) -> Function:
    defaults = fn.defaults if keep_defaults else ()
    return b.finish(name, params, results, structure=structure, defaults=defaults,
                    source=fn.source, names_used=fn.names_used, docstring=doc)


def _doc(summary: str, detail: str) -> str:
    """A docstring for generated code: a summary line, then wrapped detail."""
    body = textwrap.fill(detail, width=80, initial_indent="    ", subsequent_indent="    ")
    return f"{summary}\n\n{body}\n    "


def _check_scalar_output(fn: Function, what: str) -> None:
    # An int or bool output is piecewise constant: its gradient is 0 (DESIGN §10).
    if not fn.returns_tuple and fn.results[0].kind is Kind.LIST:
        kind = fn.results[0].kind.value
        op = next((o for o in reversed(fn.body.ops) if fn.results[0] in o.results), None)
        raise DifferentiationError(
            f"`{what}` needs a function with one scalar output, but `{fn.name}` returns "
            f"a {kind}",
            op.loc if op is not None else None,
            why="a gradient is the derivative of one scalar",
            hint="use s2sad.vjp with a list cotangent, or s2sad.jvp")
    if fn.returns_tuple:
        raise DifferentiationError(
            f"`{what}` needs a function with one scalar output, but `{fn.name}` returns "
            f"a tuple of {len(fn.results)} values",
            fn.body.ops[-1].loc if fn.body.ops else None,
            why="a gradient is the derivative of one scalar",
            hint="use s2sad.vjp (reverse mode, with a cotangent per output) or s2sad.jvp "
                 "for functions with several outputs",
        )


def grad_function(fn: Function, wrt: tuple[int, ...], single: bool, *, mode: str = "reverse",
                  with_value: bool = False, chosen: str = "") -> Function:
    """``grad`` (or ``value_and_grad``) of a scalar function, in reverse or forward mode;
    ``mode="auto"``: the cheaper of the two where that is provable (:func:`cheaper_mode`),
    whose docstring says why it was chosen."""
    if mode == "auto":
        cheaper, why = cheaper_mode(fn, wrt)
        if cheaper == "forward":
            try:
                return grad_function(fn, wrt, single, mode="forward", with_value=with_value,
                                     chosen=why)
            except S2SADError:  # a construct forward mode does not take: reverse does
                pass
        return grad_function(fn, wrt, single, mode="reverse", with_value=with_value)
    what = "value_and_grad" if with_value else "grad"
    unread = _zero_kind_unknown(fn)
    _check_scalar_output(fn, what)
    b = Builder()
    params = _params(b, fn)
    if mode == "reverse":
        seed: Any = output_seed if fn.results[0].kind is Kind.ARRAY else b.const(1.0)
        (value,), adjoints = reverse_sweep(b, fn, params, wrt, (seed,))
        grads = [as_argument(b, _zero_if_none(b, a, params[i], i in unread), params[i])
                 for a, i in zip(adjoints, wrt, strict=True)]
    elif mode == "forward":  # one direction per input, all in one sweep
        directions = []
        for i in wrt:
            if fn.params[i].kind is Kind.LIST:
                raise DifferentiationError(
                    f"a forward-mode gradient with respect to the list `{fn.param_names[i]}` "
                    "would need one sweep per item",
                    why="forward mode computes one directional derivative per sweep",
                    hint="use mode='reverse' (the default), or s2sad.jvp with a list tangent")
            seed = b.const(1.0)
            if any(p.kind is Kind.ARRAY for p in fn.params) or any(
                    r.kind is Kind.ARRAY for op in walk_ops(fn.body) for r in op.results):
                # Array code: the argument may be an array (one sweep per item would be
                # needed), and the seed 1.0 would then give the sum of its gradient.  Which
                # arguments are arrays is partly inferred (`np.sum(x * c)`: x or c?), so a
                # scalar passes and an array is refused when the gradient runs.
                seed = b.emit("scalar_input", (params[i],))
            directions.append({i: seed})
        (value,), tangents = forward_sweeps(b, fn, params, directions)
        grads = [_zero_if_none(b, t, params[i], i in unread)
                 for (t,), i in zip(tangents, wrt, strict=True)]
    else:
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    names = ", ".join(fn.param_names[i] for i in wrt)
    if with_value:
        results = (value, *grads)
        structure = (0, _shape_of_wrt(wrt, single, 1))
        doc = _doc(f"Value of {fn.name} and its gradient ({mode} mode).",
                   f"The gradient is with respect to {names}.{chosen}")
    else:
        results = tuple(grads)
        structure = _shape_of_wrt(wrt, single, 0)
        doc = _doc(f"Gradient of {fn.name} ({mode} mode).",
                   f"With respect to {names}.{chosen}")
    return _derived(fn, f"{what}_{fn.name}", params, results, structure, keep_defaults=True,
                    b=b, doc=doc)


def cheaper_mode(fn: Function, wrt: tuple[int, ...]) -> tuple[str, str]:
    """``("forward", why)`` when forward mode provably costs less than reverse: one float
    parameter (an int one has no derivative) in, no arrays anywhere (an array argument
    would need one sweep per element), and a loop, whose reverse sweep would keep a tape
    of every pass that forward mode does not need.  ``("reverse", "")`` otherwise (one
    input and no loop: the two cost the same; several inputs: reverse is cheaper)."""
    if len(wrt) != 1 or fn.params[wrt[0]].kind is not Kind.FLOAT:
        return "reverse", ""
    if any(p.kind is Kind.ARRAY for p in fn.params) or any(
            r.kind is Kind.ARRAY for op in walk_ops(fn.body) for r in op.results):
        return "reverse", ""
    if not any(op.prim in ("for_range", "while_loop") for op in walk_ops(fn.body)):
        return "reverse", ""
    return "forward", (" Forward mode was chosen: one number in, through a loop, so there"
                       " is no record of the passes to keep for a reverse sweep.")


def output_seed(b: Builder, y: Value) -> Value:
    """The seed 1.0 of the gradient of output ``y``, which may be an array: checked at run
    time to be a scalar, from the values whose shapes make ``y``'s (its shape leaves), so
    that ``y`` itself is not computed when only its gradient is asked for."""
    facts = ShapeFacts.of(b)
    leaves = facts.leaves(y)
    if not leaves:
        return b.const(1.0)
    op = b.defs.get(leaves[0])
    if len(leaves) == 1 and op is not None and op.prim == "matmul" and op.attr(
            "spelling", "@") == "@":
        # `r @ r / n`: a scalar exactly when both operands are vectors, which their shapes
        # say: the product itself is not computed only for its shape (linear regression)
        seed = b.emit("matmul_seed", op.operands)
        facts.known_scalar(leaves[0])
        for v in op.operands:  # and the adjoint of a dot product is the direct form
            facts.ranks[v] = 1
        return seed
    return b.emit("scalar_seed", leaves if len(leaves) <= MAX_BROADCAST else (y,))


def tangent_sweep(fn: Function, wrt: tuple[int, ...]):
    """A builder with ``fn``'s parameters, one tangent parameter per ``wrt`` entry, and the
    forward sweep: ``(b, params, tangents, results, output tangents)``."""
    b = Builder()
    params = _params(b, fn)
    tangents = tuple(b.fresh(fn.params[i].kind, derived_hint(fn.param_names[i], "dot"))
                     for i in wrt)
    results, outs = forward_sweep(b, fn, params, dict(zip(wrt, tangents, strict=True)))
    return b, params, tangents, results, tuple(_zero_if_none(b, t) for t in outs)


def jvp_function(fn: Function, wrt: tuple[int, ...]) -> Function:
    """Forward mode: ``jvp_f(*args, *tangents)`` → ``(f(*args), tangent of the output)``."""
    b, params, tangents, results, out_tangents = tangent_sweep(fn, wrt)
    n = len(results)
    value_s, _ = _structure_like(fn.structure, 0)
    tangent_s, _ = _structure_like(fn.structure, n)
    names = ", ".join(f"{fn.param_names[i]}_dot" for i in wrt)  # as codegen spells them
    doc = _doc(f"Value of {fn.name} and its directional derivative (forward mode).",
               f"The tangents {names} go with the differentiated arguments; the result is "
               f"(value, tangent of the value).")
    return _derived(fn, f"jvp_{fn.name}", params + tangents, results + out_tangents,
                    (value_s, tangent_s), keep_defaults=False, b=b, doc=doc)


def cotangent_names(fn: Function) -> list[str]:
    if not fn.returns_tuple:
        r = fn.results[0]
        base = r.hint if r.hint and r.hint not in fn.param_names else "out"
        return [derived_hint(base, "bar")]
    return [derived_hint(f"out{i}", "bar") for i in range(len(fn.results))]


def vjp_function(fn: Function, wrt: tuple[int, ...], single: bool) -> Function:
    """Reverse mode: ``vjp_f(*args, cotangent)`` → ``(f(*args), cotangent(s) of wrt)``.

    For a tuple-valued ``f`` the cotangent is one argument per output.
    """
    if any(r.kind is Kind.LIST for r in fn.results):
        raise DifferentiationError(
            f"`vjp` of `{fn.name}`, which returns a list, is not supported yet",
            why="a list cotangent would be updated in place",
            hint="return the items as a tuple of floats")
    b = Builder()
    params = _params(b, fn)
    cotangents = tuple(b.fresh(Kind.ARRAY if r.kind is Kind.ARRAY else Kind.FLOAT, name)
                       for r, name in zip(fn.results, cotangent_names(fn), strict=True))
    results, adjoints = reverse_sweep(b, fn, params, wrt, cotangents)
    unread = _zero_kind_unknown(fn)
    adjoints = tuple(as_argument(b, _zero_if_none(b, a, params[i], i in unread), params[i])
                     for a, i in zip(adjoints, wrt, strict=True))
    value_s, n = _structure_like(fn.structure, 0)
    names = ", ".join(fn.param_names[i] for i in wrt)
    spelled = ", ".join(p.hint.replace(".", "_") for p in cotangents)
    weigh = "weights the output" if len(cotangents) == 1 else "weight the outputs"
    doc = _doc(f"Value of {fn.name} and the cotangents of its arguments (reverse mode).",
               f"{spelled} {weigh}; the result is (value, cotangents of {names}).")
    return _derived(fn, f"vjp_{fn.name}", params + cotangents, results + adjoints,
                    (value_s, _shape_of_wrt(wrt, single, n)), keep_defaults=False, b=b,
                    doc=doc)

