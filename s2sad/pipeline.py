"""The pipeline in one place: lifted IR → derivative IR → optimised IR → Python source.

Both faces of s2sad (the Python API and the command line) go through
:func:`derive` and :func:`generate`, so they produce the same code.
"""

from __future__ import annotations

import ast
import dataclasses
import textwrap

from .ad.higher import (
    derivative_function,
    hessian_scalar_function,
    hvp_function,
    jacobian_scalar_function,
)
from .ad.transforms import grad_function, jvp_function, vjp_function
from .codegen import module, njit, render, xp
from .codegen.pyast import function_default_name
from .drivers import DRIVER_HELPERS, Driver, hessian_driver, jacobian_driver
from .errors import InternalError, S2SADError
from .ir.core import (
    KEYWORD_ONLY,
    NO_DEFAULT,
    ArrayDefault,
    Function,
    FunctionDefault,
    Kind,
    Pack,
    Packed,
    Static,
    walk_ops,
)
from .opt import optimize
from .opt.identities import fuse_identities, stopped_values
from .opt.selections import rewrite_selections
from .opt.shapes import specialize_shapes

# the derivatives whose parameters are the function's own, in order: what a shape key
# (one entry per argument) can specialise
SHAPE_KINDS = ("grad", "value_and_grad")
KINDS = ("grad", "value_and_grad", "jvp", "vjp", "hvp", "hessian", "jacobian", "derivative")


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


def _scalars(values) -> bool:
    return all(v.kind is Kind.FLOAT for v in values)


def _scalar_params(fn: Function, indices: tuple[int, ...]) -> bool:
    """Float or int parameters (an int one, a range bound, has zero derivatives)."""
    return all(fn.params[i].kind in (Kind.FLOAT, Kind.INT) for i in indices)


def derive(fn: Function, kind: str, wrt=0, mode: str = "reverse", n: int = 1,
           shapes: tuple | None = None) -> Function | Driver:
    """The optimised IR of derivative ``kind`` of ``fn`` (for a Hessian or Jacobian of
    arrays or lists: a :class:`Driver` around such IR).  ``shapes``: the
    :func:`~s2sad.opt.shapes.shape_key` of the arguments it will be called with, for a
    gradient (or ``value_and_grad``) specialised to them.  A broken invariant on the way
    is an :class:`InternalError` that says where ``fn``'s IR was written."""
    try:
        # (both keep all but the body)
        prepared = fuse_identities(rewrite_selections(fn, stopped_values(fn)))
        if fn.arguments is not None or _has_pack(fn.structure):
            return _derive_packed(prepared, kind, wrt, mode, n)
        derived = _derive(prepared, kind, wrt, mode, n)
        if shapes is not None and kind in SHAPE_KINDS and isinstance(derived, Function):
            derived = specialize_shapes(derived, shapes)
        return derived
    except InternalError as exc:
        if exc.dump_path is not None:
            raise
        raise InternalError(exc.message, ir=fn) from exc


def _derive(fn: Function, kind: str, wrt, mode: str, n: int) -> Function | Driver:
    indices, single = normalize_wrt(fn, wrt)
    draw = next((op for op in walk_ops(fn.body) if op.prim == "random_draw"), None)
    if draw is not None and kind in ("hessian", "jacobian"):
        raise S2SADError(f"{kind} of `{fn.name}`, which draws random numbers, is not supported",
                         draw.loc, why=f"a {kind} is built from several sweeps, and each "
                         "would draw anew", hint="draw the numbers outside the function and "
                         "pass them in, or use s2sad.hvp / s2sad.vjp (one sweep a call)")
    if kind == "hvp":
        return _starred(fn, optimize(_keyword_extras(fn, hvp_function(fn, indices, single,
                                                                      mode))))
    if kind == "derivative":
        if not single:
            raise S2SADError("derivative takes one parameter in wrt, not a tuple")
        return derivative_function(fn, n, indices[0])
    if kind == "hessian":
        if _scalar_params(fn, indices):
            return optimize(hessian_scalar_function(fn, indices, single))
        return hessian_driver(fn, indices, single)
    if kind == "jacobian":
        if mode not in ("forward", "reverse"):
            raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
        if _scalar_params(fn, indices) and _scalars(fn.results):
            return optimize(jacobian_scalar_function(fn, indices, single, mode))
        return jacobian_driver(fn, indices, single, mode)
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
    return _starred(fn, optimize(_keyword_extras(fn, derived) if kind in ("jvp", "vjp")
                                 else derived))


def _derive_packed(fn: Function, kind: str, wrt, mode: str, n: int) -> Function:
    """:func:`derive` for a function with container parameters (``fn.arguments``) or a
    dict among its results: the derivative with respect to their leaves, taking and
    returning containers of the same structure (a gradient ``params_bar`` is a list of
    tuples where ``params`` is one; a dataclass is rebuilt with ``dataclasses.replace``;
    a jvp's output tangent is a dict where the function returns one, and a vjp takes a
    cotangent dict for it)."""
    outputs = fn.structure
    if _has_pack(outputs):
        if kind not in ("jvp", "vjp"):
            raise S2SADError(
                f"{kind} of `{fn.name}`, which returns a dict, is not supported",
                why="a gradient, Hessian or Jacobian needs a number (or array) output",
                hint="use s2sad.jvp or s2sad.vjp (they take and return dicts of the "
                     "outputs), or return one number")
        fn = dataclasses.replace(fn, structure=_tupled(outputs))
    if fn.arguments is None:
        fn = dataclasses.replace(fn, arguments=tuple(range(len(fn.params))))
    derived = _derive_arguments(fn, kind, wrt, mode, n)
    if not _has_pack(outputs) or isinstance(derived, Driver):
        return derived
    value_s, rest = derived.structure
    structure = (_untupled(outputs, value_s),
                 _untupled(outputs, rest) if kind == "jvp" else rest)
    arguments = derived.arguments
    if kind == "vjp":  # one cotangent per output, as the outputs are laid out
        numbered = iter(range(len(fn.params), len(fn.params) + len(fn.results)))
        cotangents = _packs(_untupled(outputs, _renumber(fn.structure, numbered)))
        first = len(fn.params)
        arguments = tuple(a for a in arguments if not (isinstance(a, int) and a >= first))
        arguments += (Packed("out_bar", cotangents),)
        spelled = ", ".join(p.hint.replace(".", "_") for p in derived.params[first:])
        weigh = "weights the outputs" if len(fn.results) == 1 else "weight the outputs"
        doc = (derived.docstring or "").replace(
            f"{spelled} {weigh}", "out_bar, shaped like the output, weighs it")
        derived = dataclasses.replace(derived, docstring=doc)
    return dataclasses.replace(derived, structure=structure, arguments=arguments)


def _has_pack(structure) -> bool:
    if isinstance(structure, Pack):
        return True
    return isinstance(structure, tuple) and any(_has_pack(s) for s in structure)


def _tupled(structure):
    """A result structure with each Pack as the tuple of its items (what AD reads)."""
    if isinstance(structure, (Pack, tuple)):
        items = structure.items if isinstance(structure, Pack) else structure
        return tuple(_tupled(s) for s in items)
    return structure


def _renumber(structure, numbers):
    """``structure`` (ints in tuples) with its ints replaced, in order, by ``numbers``."""
    if isinstance(structure, tuple):
        return tuple(_renumber(s, numbers) for s in structure)
    return next(numbers)


def _packs(layout):
    """A result layout as an argument's: its tuples as Packs too."""
    if isinstance(layout, tuple):
        return Pack("tuple", None, (), tuple(_packs(i) for i in layout))
    if isinstance(layout, Pack):
        return dataclasses.replace(layout, items=tuple(_packs(i) for i in layout.items))
    return layout


def _untupled(template, numbered):
    """``numbered`` (``template`` tupled, then renumbered) with ``template``'s Packs."""
    if isinstance(template, Pack):
        return dataclasses.replace(template, items=tuple(
            _untupled(t, v) for t, v in zip(template.items, numbered, strict=True)))
    if isinstance(template, tuple):
        return tuple(_untupled(t, v) for t, v in zip(template, numbered, strict=True))
    return numbered


def _derive_arguments(fn: Function, kind: str, wrt, mode: str, n: int) -> Function:
    """:func:`_derive_packed` for ``fn``'s container parameters."""
    args = fn.arguments
    names = [a.name if isinstance(a, Packed) else fn.params[a].hint for a in args]
    chosen, single = normalize_wrt(_Signature(fn.name, names), wrt)
    groups = [args[j] for j in chosen]
    flat: list[int] = []
    for g in groups:
        if isinstance(g, int):
            flat.append(g)
            continue
        if not isinstance(g.pack, Pack):
            raise S2SADError(f"`{g.name}` is {g.pack.value!r}, which has no derivative",
                             hint="differentiate with respect to another parameter (wrt=)")
        flat.extend(g.pack.leaves())  # (an empty tuple of *args has an empty gradient)
    if not flat:
        raise S2SADError("the parameters in wrt hold no numbers or arrays",
                         hint="differentiate with respect to another parameter (wrt=)")
    packed = [g for g in groups if isinstance(g, Packed)]
    if packed and kind in ("hessian", "jacobian", "derivative"):
        raise S2SADError(
            f"{kind} with respect to the container `{packed[0].name}` is not supported",
            why="its blocks would be a container of containers; s2sad builds those for "
                "gradients, vjp, jvp and hvp",
            hint="use s2sad.hvp (Hessian-vector products take and return containers), or "
                 "differentiate with respect to an array parameter")
    if not packed:  # plain parameters only: the containers are data
        derived = _derive(fn, kind, flat[0] if single else tuple(flat), mode, n)
        return _with_arguments(fn, derived, kind, groups, flat, None)
    derived = _derive(fn, kind, tuple(flat), mode, n)
    return _with_arguments(fn, derived, kind, groups, flat, single)


class _Signature:
    """What :func:`normalize_wrt` reads of a function: its name and parameter names."""

    def __init__(self, name: str, names: list[str]) -> None:
        self.name, self.param_names = name, tuple(names)


def _with_arguments(fn: Function, derived, kind: str, groups: list, flat: list[int],
                    single: bool | None):
    """``derived`` (of ``fn``'s flat parameters) taking ``fn``'s containers, its extra
    tangents shaped like the containers they go with, and (unless ``single`` is None:
    no container among ``groups``) its derivatives packed like them."""
    if isinstance(derived, Driver):
        return derived
    count = len(fn.params)
    arguments = list(fn.arguments)
    extra = list(range(count, len(derived.params)))
    if kind in ("jvp", "hvp"):  # one tangent per flat parameter of wrt, in order
        position = dict(zip(flat, extra, strict=True))
        for g in groups:
            if isinstance(g, int):
                arguments.append(position[g])
            else:
                arguments.append(Packed(f"{g.name}_dot", _remap(g.pack, position, None)))
    else:
        arguments.extend(extra)
    structure, doc = derived.structure, derived.docstring
    if single is not None:
        suffix = "hvp" if kind == "hvp" else "bar"

        def regroup(entries: tuple):
            position = dict(zip(flat, entries, strict=True))
            out = tuple(position[g] if isinstance(g, int) else
                        _remap(g.pack, position, g.name, suffix) for g in groups)
            return out[0] if single else out

        if kind in ("grad", "hvp"):
            structure = regroup(structure)
        elif kind in ("value_and_grad", "vjp"):
            structure = (structure[0], regroup(structure[1]))
        leaf_names = ", ".join(fn.param_names[i] for i in flat)
        group_names = ", ".join(g.name if isinstance(g, Packed) else fn.param_names[g]
                                for g in groups)
        doc = doc.replace(leaf_names, group_names) if doc else doc
    return dataclasses.replace(derived, arguments=tuple(arguments), structure=structure,
                               docstring=doc)


def _remap(pack: Pack | Static, position: dict[int, int], like: str | None,
           suffix: str = "bar"):
    """``pack`` with each leaf index replaced by ``position[index]``; in a result
    (``like``: the argument it mirrors), a static leaf is ``None``, and each part is
    named after its leaf with ``suffix``."""
    if isinstance(pack, Static):
        return Static(None) if like is not None else pack
    items = tuple(
        position[i] if isinstance(i, int) else
        _remap(i, position, like, suffix) if isinstance(i, Pack) else
        (Static(None) if like is not None else i)
        for i in pack.items)
    sources = tuple(i if isinstance(i, int) else None for i in pack.items)
    return Pack(pack.kind, pack.cls, pack.keys, items, like,
                sources if like is not None else (), suffix)


def _starred(fn: Function, derived: Function) -> Function:
    """``derived`` accepting (and ignoring) the ``*args``/``**kwargs`` that ``fn`` does."""
    return dataclasses.replace(derived, star=fn.star) if fn.star != (None, None) else derived


def _keyword_extras(fn: Function, derived: Function) -> Function:
    """``derived`` (``jvp_f(*args, *tangents)`` and the like) keeping ``fn``'s defaults.

    When ``fn`` has defaults, positional tangents after its arguments would be ambiguous
    (``jvp_f(1.25, 1.0)``: a tangent, or the second argument?), so they are keyword-only
    there: ``jvp_f(1.25, x_dot=1.0)``; after ``*args`` Python makes them so.  Without
    either they stay positional."""
    starred = any(isinstance(a, Packed) and a.star for a in fn.arguments or ())
    if all(d is NO_DEFAULT for d in fn.defaults) and fn.star[0] is None and not starred:
        return derived
    extra = len(derived.params) - len(fn.params)
    marks = fn.defaults + (NO_DEFAULT,) * (len(fn.params) - len(fn.defaults))
    return dataclasses.replace(derived, defaults=marks + (KEYWORD_ONLY,) * extra)


def environment(fns: list[Function | Driver]) -> dict[str, object]:
    """The arrays the generated module reads from the function's environment, and the
    function defaults it checks, by the names it reads them under (the API puts them in
    the module's namespace)."""
    out: dict[str, object] = {}
    for fn in fns:
        for part in fn.parts if isinstance(fn, Driver) else [fn]:
            for op in walk_ops(part.body):
                if op.prim == "env_array":
                    out[op.attr("name")] = op.attr("ref").value
            for p, d in zip(part.params, part.defaults, strict=False):
                if isinstance(d, (FunctionDefault, ArrayDefault)) and d.spelled is None:
                    out[function_default_name(p)] = d.value  # the module cannot spell it
    return out


def numba_driver(d: Driver) -> list:
    """The items of a Numba module for a Hessian or Jacobian driver: its functions and its
    njit loop (for the Hessian of one array or list; other drivers are refused)."""
    if d.numba_source is None:
        loc = next((op.loc for op in walk_ops(d.parts[-1].body) if op.loc), None)
        raise njit.refuse(f"`{d.name}` (a Hessian or Jacobian of arrays or lists)", loc,
                          why="its driver loops over basis vectors of shapes and block "
                              "layouts known only at run time (np.ndindex, nested lists), "
                              "which Numba's nopython mode does not type",
                          hint="on the Numba target, call hvp, jvp or vjp in a loop of your "
                               "own @njit code, or use target='python'")
    return [*d.parts, (ast.parse(textwrap.dedent(d.numba_source)).body, {"numpy"})]


def generate(fns: list[Function | Driver], header: str | None = None,
             target: str = "python") -> str:
    """Python source of a module defining ``fns``; ``target="numba"``: of one whose
    functions ``numba.njit`` compiles (:mod:`s2sad.codegen.njit`); ``target="array_api"``:
    of one that runs on any array API namespace (:mod:`s2sad.codegen.xp`)."""
    items: list = []
    helpers: dict[str, None] = {}
    drivers = []
    for fn in fns:
        if isinstance(fn, Driver) and target == "numba":
            items.extend(numba_driver(fn))
        elif isinstance(fn, Driver) and target == xp.TARGET:
            raise xp.refuse(f"`{fn.name}` (a Hessian or Jacobian driver)", None,
                            why="its driver loops over the entries of NumPy arrays, writing "
                                "rows in place",
                            hint="call jvp or vjp in a loop of your own, or use "
                                 "target='python'")
        elif isinstance(fn, Driver):
            items.extend(fn.parts)
            helpers.update(dict.fromkeys(fn.helpers))
            drivers.append(fn)
        else:
            items.append(fn)
    for name in helpers:
        items.append((ast.parse(textwrap.dedent(DRIVER_HELPERS[name])).body, {"numpy"}))
    for d in drivers:
        items.append((ast.parse(textwrap.dedent(d.source)).body, {"numpy"}))
    if target == "numba" and header:
        header = header.replace("needs only math and numpy", "needs only math, numpy and numba")
    if target == xp.TARGET and header:
        header = header.replace("needs only math and numpy", "needs only math and array_api_compat")
    return render(module(items, header, target))
