"""How the array primitives are spelled in generated Python.

:func:`spell` turns one op of :mod:`s2sad.primitives_numpy` into an ``ast``
expression: the NumPy call or operator a person would write (``a @ b``,
``np.sum(x, axis=0)``, ``x.T``, ``x[:, 0]``), or a call of a helper of
:mod:`s2sad.runtime`, which the module then defines (``_unbroadcast(g, x)``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from .. import primitives as P
from .. import runtime
from ..ir.core import Kind, Op

HELPER_OF = {"zero_like": "_zero_like", "like_argument": "_like_argument",
             "one_array": "_one_array",
             "unbroadcast": "_unbroadcast", "broadcast_like": "_broadcast_like",
             "sum_to": "_sum_to", "scalar_seed": "_scalar_seed", "matmul_seed": "_matmul_seed",
             "scalar_input": "_scalar_input",
             "sum_bar": "_sum_bar", "mean_bar": "_mean_bar", "extreme_mask": "_extreme_mask",
             "matmul_bar_a": "_matmul_bar_a", "matmul_bar_b": "_matmul_bar_b",
             "trace_bar": "_trace_bar", "index_bar": "_index_bar",
             "index_repeats": "_index_repeats", "index_like": "_index_like",
             "repeat_like": "_repeat_like", "product_like": "_product_like",
             "inner_bar_a": "_inner_bar_a", "inner_bar_b": "_inner_bar_b",
             "prod_others": "_prod_others", "cofactor": "_cofactor",
             "cumsum_bar": "_cumsum_bar", "repeat_bar": "_repeat_bar", "tile_bar": "_tile_bar",
             "diag_bar": "_diag_bar", "sort_tangent": "_sort_tangent", "sort_bar": "_sort_bar",
             "cumprod_tangent": "_cumprod_tangent", "cumprod_bar": "_cumprod_bar",
             "join_bar": "_join_bar", "einsum_bar": "_einsum_bar",
             "cholesky_tangent": "_cholesky_tangent", "cholesky_bar": "_cholesky_bar",
             "pad_bar": "_pad_bar", "eigh_tangent": "_eigh_tangent", "eigh_bar": "_eigh_bar",
             "svd_values_tangent": "_svd_values_tangent", "svd_values_bar": "_svd_values_bar"}
HELPER_OF.update({"np_kron_bar": "_kron_bar", "np_tensordot_bar": "_tensordot_bar",
                  "take_along_bar": "_take_along_bar", "qr_tangent": "_qr_tangent",
                  "qr_bar": "_qr_bar", "svd_vectors_tangent": "_svd_vectors_tangent",
                  "svd_vectors_bar": "_svd_vectors_bar"})
# the attributes of the library layer's ops that their calls take as keywords
_ATTR_KEYWORDS = ("k", "how", "subscripts", "side", "widths", "part", "axes")
# np.<name>(x, ...) of the library layer's ops (their attributes as keywords)
_LIBRARY_CALLS = {"np_flip": "flip", "np_roll": "roll", "np_triu": "triu", "np_tril": "tril",
                  "np_cumsum": "cumsum", "np_cumprod": "cumprod", "np_repeat": "repeat",
                  "np_diag": "diag", "np_sort": "sort", "np_argmax": "argmax",
                  "np_argmin": "argmin", "np_argsort": "argsort",
                  "np_count_nonzero": "count_nonzero", "np_searchsorted": "searchsorted"}
assert set(HELPER_OF.values()) <= set(runtime.HELPERS)
HELPER_NAMES = frozenset(runtime.HELPERS)

_NUMPY_CALLS = {"np_sum": "sum", "np_mean": "mean", "np_max": "max", "np_min": "min",
                "np_prod": "prod", "expand_dims": "expand_dims", "squeeze": "squeeze",
                "outer": "outer", "inner": "inner", "trace": "trace", "ravel": "ravel",
                "np_where": "where",
                "np_zeros_like": "zeros_like", "np_ones_like": "ones_like", "eye": "eye",
                "arange": "arange", "ndim": "ndim", "size": "size"}

_LINALG_CALLS = frozenset({"inv", "det", "solve", "cholesky", "pinv"})


def _name(n: str) -> ast.Name:
    return ast.Name(id=n, ctx=ast.Load())


def _keywords(op: Op) -> list[ast.keyword]:
    out = []
    axis = op.attr("axis")
    if axis is not None:
        value: ast.expr = (ast.Tuple(elts=[ast.Constant(a) for a in axis], ctx=ast.Load())
                           if isinstance(axis, tuple) else ast.Constant(axis))
        out.append(ast.keyword(arg="axis", value=value))
    if op.attr("keepdims"):
        out.append(ast.keyword(arg="keepdims", value=ast.Constant(True)))
    return out


def _tuple(items: list[ast.expr]) -> ast.expr:
    return items[0] if len(items) == 1 else ast.Tuple(elts=items, ctx=ast.Load())


def _index(template: tuple, dynamic: list[ast.expr], as_value: bool) -> ast.expr:
    """The subscript ``[i, 1:n, None]`` (``as_value``: ``(i, slice(1, n), None)``)."""
    def get(k):
        return None if k is None else dynamic[k]

    items: list[ast.expr] = []
    for item in template:
        if item[0] in ("int", "array"):
            items.append(get(item[1]))
        elif item[0] == "slice":
            lo, hi, step = (get(k) for k in item[1:])
            if as_value:
                items.append(ast.Call(func=_name("slice"), args=[
                    e if e is not None else ast.Constant(None) for e in (lo, hi, step)],
                    keywords=[]))
            else:
                items.append(ast.Slice(lower=lo, upper=hi, step=step))
        elif item[0] == "none":
            items.append(ast.Constant(None))
        else:
            items.append(ast.Constant(Ellipsis))
    return _tuple(items)


def index_value(op: Op, dynamic: list[ast.expr]) -> ast.expr:
    """``op``'s index as a value (``(i, slice(1, n))``), for ``np.add.at``."""
    return _index(op.attr("index"), dynamic, as_value=True)


def spell(op: Op, args: list[ast.expr], call: Callable[[str, str, list[ast.expr]], ast.expr],
          use_helper: Callable[[str], None]) -> ast.expr | None:
    """The expression for an array op (``None``: not an array primitive).

    ``call(lib, name, args)`` spells a library call; ``use_helper(name)`` records
    that the module must define a helper.
    """
    name = op.prim
    if name in HELPER_OF:
        helper = HELPER_OF[name]
        use_helper(helper)
        if name == "index_bar":
            g, x, *dynamic = args
            args = [g, x, _index(op.attr("index"), dynamic, as_value=True)]
        elif name in ("index_repeats", "index_like"):
            x, *dynamic = args
            args = [x, _index(op.attr("index"), dynamic, as_value=True)]
        elif name == "one_array":
            args = [*args, *(ast.Constant(op.attr(a)) for a in ("name", "function", "where"))]
        return ast.Call(func=_name(helper), args=args, keywords=_keywords(op) + [
            ast.keyword(arg=a, value=ast.Constant(op.attr(a))) for a in _ATTR_KEYWORDS
            if op.attr(a) is not None])
    if name == "size" and len(args) > 1:  # the size of several arrays broadcast together
        use_helper("_broadcast_size")
        return ast.Call(func=_name("_broadcast_size"), args=args, keywords=[])
    if name in _NUMPY_CALLS:
        expr = call(P.NUMPY, _NUMPY_CALLS[name], args)
        expr.keywords = _keywords(op)
        if op.attr("dtype") == "float":  # an adjoint, of an argument that may hold ints
            expr.keywords.append(ast.keyword(arg="dtype", value=_name("float")))
        return expr
    if name in _LIBRARY_CALLS:
        expr = call(P.NUMPY, _LIBRARY_CALLS[name], args)
        expr.keywords = _keywords(op) + [ast.keyword(arg=a, value=ast.Constant(op.attr(a)))
                                         for a in _ATTR_KEYWORDS if op.attr(a) is not None]
        return expr
    if name in ("logabsdet", "slogdet_sign"):  # np.linalg.slogdet(A)[1], [0]
        expr = call(P.NUMPY, "slogdet", args)
        expr.func = ast.Attribute(ast.Attribute(expr.func.value, "linalg", ast.Load()),
                                  "slogdet", ast.Load())
        return ast.Subscript(value=expr, slice=ast.Constant(1 if name == "logabsdet" else 0),
                             ctx=ast.Load())
    if name == "np_axes":  # np.swapaxes(x, a, b), np.moveaxis(x, a, b), np.transpose(x, a)
        extra = [op.attr("a")] + ([] if op.attr("b") is None else [op.attr("b")])
        return call(P.NUMPY, op.attr("how"), [args[0], *(ast.Constant(v) for v in extra)])
    if name in ("np_kron", "np_tensordot", "np_cross"):  # np.kron(a, b), np.cross(a, b, …)
        expr = call(P.NUMPY, name[3:], args)
        expr.keywords = _keywords(op)  # np.cross's axis
        if name == "np_tensordot":
            expr.keywords = [ast.keyword(arg="axes", value=ast.Constant(op.attr("axes")))]
        return expr
    if name == "np_take_along":  # np.take_along_axis(x, indices, axis=k)
        expr = call(P.NUMPY, "take_along_axis", args)
        expr.keywords = [ast.keyword(arg="axis", value=ast.Constant(op.attr("axis")))]
        return expr
    if name in ("eigh", "svd_vectors", "svd_values", "qr"):  # np.linalg.eigh(A)[1], svd, …
        linalg = ast.Attribute(call(P.NUMPY, "linalg", []).func, name.split("_")[0],
                               ast.Load())
        if name == "svd_values":
            return ast.Call(func=linalg, args=args, keywords=[
                ast.keyword(arg="compute_uv", value=ast.Constant(False))])
        keywords = [] if name in ("eigh", "qr") else [ast.keyword(arg="full_matrices",
                                                          value=ast.Constant(False))]
        return ast.Subscript(value=ast.Call(func=linalg, args=args, keywords=keywords),
                             slice=ast.Constant(op.attr("part")), ctx=ast.Load())
    if name == "np_pad":
        expr = call(P.NUMPY, "pad", [args[0], ast.Constant(op.attr("widths"))])
        if op.attr("fill"):
            expr.keywords = [ast.keyword(arg="constant_values",
                                         value=ast.Constant(op.attr("fill")))]
        return expr
    if name == "np_var":  # np.var(x, axis=..., ddof=..., keepdims=...)
        expr = call(P.NUMPY, "var", args[:1])
        expr.keywords = _keywords(op)
        expr.keywords.insert(len(expr.keywords) - bool(op.attr("keepdims")),
                             ast.keyword(arg="ddof", value=args[1]))
        return expr
    if name == "np_tile":
        return call(P.NUMPY, "tile", [args[0], ast.Tuple(elts=args[1:], ctx=ast.Load())])
    if name == "atleast":
        return call(P.NUMPY, f"atleast_{op.attr('n')}d", args)
    if name == "np_join":
        return call(P.NUMPY, op.attr("how"), [ast.List(elts=args, ctx=ast.Load())])
    if name == "np_einsum":
        return call(P.NUMPY, "einsum", [ast.Constant(op.attr("subscripts")), *args])
    if name == "astype":
        dtype = op.attr("dtype")
        if op.results[0].kind is Kind.ARRAY:
            return ast.Call(func=ast.Attribute(args[0], "astype", ast.Load()),
                            args=[_name(dtype) if dtype in ("float", "int") else
                                  call(P.NUMPY, dtype, []).func], keywords=[])
        if dtype in ("float", "int"):
            return ast.Call(func=_name(dtype), args=args, keywords=[])
        return call(P.NUMPY, dtype, args)
    if name == "matmul":
        spelling = op.attr("spelling", "@")
        if spelling == "@":
            return ast.BinOp(args[0], ast.MatMult(), args[1])
        return call(P.NUMPY, spelling, args)
    if name in _LINALG_CALLS:  # np.linalg.inv(A)
        expr = call(P.NUMPY, name, args)
        expr.func = ast.Attribute(ast.Attribute(expr.func.value, "linalg", ast.Load()), name,
                                  ast.Load())
        return expr
    if name == "transpose":
        return ast.Attribute(args[0], "T", ast.Load())
    if name == "swapaxes":  # the transpose of the last two axes: matrices and stacks of them
        return call(P.NUMPY, "swapaxes", [args[0], ast.Constant(-1), ast.Constant(-2)])
    if name == "reshape":
        return call(P.NUMPY, "reshape", [args[0], ast.Tuple(elts=args[1:], ctx=ast.Load())])
    if name == "reshape_like":
        return call(P.NUMPY, "reshape", [args[0], call(P.NUMPY, "shape", [args[1]])])
    if name == "np_index":
        return ast.Subscript(value=args[0], slice=_index(op.attr("index"), args[1:], False),
                             ctx=ast.Load())
    if name == "dim":
        return ast.Subscript(value=ast.Attribute(args[0], "shape", ast.Load()),
                             slice=ast.Constant(op.attr("axis")), ctx=ast.Load())
    if name in ("np_zeros", "np_ones"):
        return call(P.NUMPY, name[3:], [_tuple(args) if len(args) == 1 else
                                        ast.Tuple(elts=args, ctx=ast.Load())])
    if name == "array_lit":
        return call(P.NUMPY, "array", [ast.List(elts=args, ctx=ast.Load())])
    if name in ("np_stack", "np_concatenate"):
        expr = call(P.NUMPY, name[3:], [ast.List(elts=args, ctx=ast.Load())])
        if op.attr("axis", 0) != 0:
            expr.keywords = [ast.keyword(arg="axis", value=ast.Constant(op.attr("axis")))]
        return expr
    if name == "np_copy":
        return ast.Call(func=ast.Attribute(args[0], "copy", ast.Load()), args=[], keywords=[])
    if name in ("list_join", "list_unjoin"):
        return _list_join(op, args, call, use_helper)
    return None


def _list_join(op: Op, args: list[ast.expr], call, use_helper) -> ast.expr:
    """``np.stack(rows)`` (``np.concatenate(rows, axis=1)``, ``np.vstack(rows)``, ...) of a
    list built at run time, and its adjoint: ``list(g)`` for a stack along axis 0 (or
    ``np.array(rows)``), ``list(np.moveaxis(g, k, 0))`` along axis k, else the blocks of
    ``np.split`` (the helper ``_unjoin``)."""
    how, axis = op.attr("how"), op.attr("axis")
    axis_kw = [ast.keyword(arg="axis", value=ast.Constant(axis))] if axis else []
    if op.prim == "list_join":
        expr = call(P.NUMPY, how, args)
        expr.keywords = axis_kw
        return expr
    g = args[0]
    if how in ("array", "asarray") or (how == "stack" and not axis):
        return call(P.BUILTIN, "list", [g])
    if how == "stack":
        return call(P.BUILTIN, "list", [call(P.NUMPY, "moveaxis", [g, ast.Constant(axis),
                                                                   ast.Constant(0)])])
    use_helper("_unjoin")
    keywords = [ast.keyword(arg="how", value=ast.Constant(how))]
    if how == "concatenate":
        keywords.append(ast.keyword(arg="axis", value=ast.Constant(axis)))
    return ast.Call(func=_name("_unjoin"), args=args, keywords=keywords)


def index_target(name: str, op: Op, dynamic: list[ast.expr]) -> ast.Subscript:
    """The target ``h[t]``, ``h[i, :]`` of an ``index_set`` op on the array named ``name``."""
    return ast.Subscript(value=ast.Name(id=name, ctx=ast.Load()),
                         slice=_index(op.attr("index"), dynamic, False), ctx=ast.Store())


def helper_definitions(names: set[str]) -> list[ast.stmt]:
    """The ``def`` statements of the helpers a module uses."""
    if not names:
        return []
    return ast.parse(runtime.source_of(names)).body
