"""Lifting containers: parameters that are lists of arrays, tuples, dicts, NamedTuples,
dataclasses or objects, specialised on the structure of the arguments of a call.

A mixin of :class:`~s2sad.frontend.lower.Lowerer`.  Neural-network code keeps its
parameters in containers (``[(W1, b1), (W2, b2)]``, ``{"W": W, "b": b}``, a
``@dataclass``), and reads them with ``for W, b in params``, ``params["W"]``,
``params.W``.  s2sad compiles such a function for the *structure* of the arguments it
is called with, as JAX traces a pytree: the kind of each container, its length, keys
or class, and the kind of each leaf (a number, an array, a list of numbers, or a
compile-time :class:`~s2sad.ir.core.Static`: a string, ``None``, a bool, a function).
Each leaf is a parameter of the IR; the generated function takes the container,
unpacks it in its first lines and returns derivatives packed the same way
(:class:`~s2sad.ir.core.Packed`, :class:`~s2sad.ir.core.Pack`).

* :func:`structure_key` is the structure of one argument as a hashable key, cheap
  enough to compute on every call (the API keys its compiled functions by it).
* When a function uses a parameter as a container and no structure is known (the
  first, eager compile of the API; the command line), lowering raises
  :class:`NeedsStructure`; the API then compiles at the first call, per structure.
* Inside the function a list or tuple is a compile-time tuple of values; a dict,
  NamedTuple, dataclass or object is a :class:`Container`.  Loops over them are
  unrolled (the structure is fixed), so ``for W, b in params`` becomes straight-line
  code over the layers, which is what a hand-written backward pass is.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
from typing import Any

import numpy as np

from ..errors import UnsupportedError
from ..ir.core import Kind, Pack, Packed, Static, Value
from .control import has_exit

PLAIN = ("n", "a", "l")  # the keys of a number, an array and a list of numbers
_A_LEAF = object()  # stands for a leaf's value in a comparison with None or a string


# -- structures of call-time values ----------------------------------------------------------
def structure_key(x: Any) -> Any:
    """The structure of argument ``x``: ``"n"`` (a number), ``"a"`` (an array), ``"l"``
    (a list or tuple of numbers), or a tuple ``(kind, ...)`` for a container and its
    items' keys.  Hashable, and O(number of leaves) (a list of numbers is one leaf)."""
    t = type(x)
    if t is _ARRAY:  # (the commonest first: this runs on every call)
        return "a"
    if t is float or t is int:
        return "n"
    if t is list or t is tuple:
        if x and type(x[0]) in _NUMBER_TYPES:
            return "l"
        return (_SEQUENCE_NAMES[t], *[structure_key(v) for v in x])
    if t is dict:
        return ("dict", tuple(x), *[structure_key(v) for v in x.values()])
    return _other_key(x, t)


_ARRAY = np.ndarray
_SEQUENCE_NAMES = {list: "list", tuple: "tuple"}


_NUMBER_TYPES = {float, int, np.float64, np.float32, np.int64, np.int32}


def _other_key(x: Any, t: type) -> Any:
    if t is bool or x is None or t is str:
        return ("static", x)
    if isinstance(x, (np.random.Generator, np.random.RandomState)):
        return ("generator", t)  # a run-time leaf that draws (see frontend/draws.py)
    if isinstance(x, (np.floating, np.integer)):
        return "n"
    if isinstance(x, tuple) and hasattr(t, "_fields"):
        return ("namedtuple", t, *map(structure_key, x))
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        names = _field_names(t)
        return ("dataclass", t, names, *(structure_key(getattr(x, n)) for n in names))
    if isinstance(x, (list, tuple)):  # subclasses of list and tuple
        return (("list" if isinstance(x, list) else "tuple"), *map(structure_key, x))
    if callable(x):
        try:
            hash(x)
        except TypeError:
            return ("other", t)
        return ("static", x)
    attrs = getattr(x, "__dict__", None)
    if isinstance(attrs, dict) and not isinstance(x, type):
        return ("object", t, tuple(attrs), *map(structure_key, attrs.values()))
    return ("other", t)


@functools.lru_cache(maxsize=256)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def describe(key: Any) -> str:
    """``key`` in words, for messages: ``a dict``, ``a list``, ``a number``."""
    if key == "n":
        return "a number"
    if key == "a":
        return "an array"
    if key == "l":
        return "a list of numbers"
    kind = key[0]
    if kind in ("namedtuple", "dataclass", "object", "other"):
        return f"a `{key[1].__name__}` object"
    if kind == "static":
        return f"{type(key[1]).__name__} {key[1]!r}"
    return f"a {kind}"


class NeedsStructure(UnsupportedError):
    """Parameter ``name`` is used as a container, and its structure is not known here:
    the API compiles again at the first call, for the structure of the argument; the
    command line reports this error.  ``original`` is the error to report when the
    argument turns out not to be a container."""

    def __init__(self, name: str, original: UnsupportedError) -> None:
        api = ("through the Python API, which compiles for the arguments of the first call, "
               f"`{name}` may be a container (a list of arrays or tuples, a dict, a "
               "NamedTuple, a dataclass) or a function")
        super().__init__(original.what, original.loc, why=original.why,
                         hint=f"{original.hint}; or {api}" if original.hint else api)
        self.name = name
        self.original = original


@dataclasses.dataclass(eq=False)
class Container:
    """A dict, NamedTuple, dataclass or object of the function, at compile time: its
    items are values (or containers, tuples, statics)."""

    kind: str  # "dict", "namedtuple", "dataclass", "object"
    cls: Any
    keys: tuple
    items: tuple

    def get(self, key: Any) -> Any:
        return self.items[self.keys.index(key)]

    def noun(self) -> str:
        return "a dict" if self.kind == "dict" else f"a `{self.cls.__name__}` object"


def _identifier(key: Any) -> str | None:
    return key if isinstance(key, str) and key.isidentifier() else None


class ContainerMixin:
    """Container parameters and the operations on containers."""

    # -- parameters ------------------------------------------------------------------------
    def container_argument(self, name: str, key: Any, kinds: dict, params: list[Value]):
        """``(value, layout)`` of container parameter ``name`` of structure ``key``: the
        value the body sees, and its :class:`Packed` layout over the leaf parameters
        appended to ``params``."""
        value, item = self._leaves(key, name, kinds, params)
        if isinstance(item, int):  # a generator: a plain parameter, not a container
            return value, item
        return value, Packed(name, item)

    def _leaves(self, key: Any, hint: str, kinds: dict, params: list[Value]):
        if key in PLAIN:
            kind = {"n": kinds.get(hint, Kind.FLOAT), "a": Kind.ARRAY, "l": Kind.LIST}[key]
            if key != "n":
                self.pinned.add(hint)
            leaf = self.b.fresh(kind, hint)
            params.append(leaf)
            self.leaves.add(leaf)
            return leaf, len(params) - 1
        kind = key[0]
        if kind == "static":
            return self._static_leaf(key[1], hint), Static(key[1])
        if kind == "generator":  # passed through to the draws; never differentiated
            leaf = self.b.fresh(Kind.INT, hint)
            params.append(leaf)
            self.leaves.add(leaf)
            self.generators[leaf] = key[1]
            return leaf, len(params) - 1
        if kind in ("list", "tuple"):
            got = [self._leaves(k, f"{hint}.{i}", kinds, params) for i, k in enumerate(key[1:])]
            return tuple(v for v, _ in got), Pack(kind, None, (), tuple(i for _, i in got))
        if kind == "dict":
            keys, children = key[1], key[2:]
        elif kind == "namedtuple":
            keys, children = key[1]._fields, key[2:]
        elif kind in ("dataclass", "object"):
            keys, children = key[2], key[3:]
        else:
            raise UnsupportedError(
                f"`{hint}` holds {describe(key)}, which s2sad cannot read",
                self.top.loc(self.top.node),
                why="s2sad reads numbers, NumPy arrays, lists, tuples, dicts, NamedTuples, "
                    "dataclasses and objects with attributes",
                hint="pass the numbers and arrays it holds instead")
        got = [self._leaves(k, f"{hint}.{_identifier(name) or i}", kinds, params)
               for i, (name, k) in enumerate(zip(keys, children, strict=True))]
        cls = None if kind == "dict" else key[1]
        return (Container(kind, cls, tuple(keys), tuple(v for v, _ in got)),
                Pack(kind, cls, tuple(keys), tuple(i for _, i in got)))

    def _static_leaf(self, value: Any, hint: str) -> Any:
        from .lower import _FUNCTIONS
        from .resolve import classify

        if isinstance(value, bool):
            return self.b.const(value)
        if value is None or isinstance(value, str):
            return Static(value)
        got = classify(value)
        if isinstance(got, _FUNCTIONS):
            return got  # a function passed in: a compile-time choice (keyed in the caches)
        raise UnsupportedError(
            f"`{hint}` is {describe(('static', value))}, which s2sad cannot call",
            self.top.loc(self.top.node),
            why="s2sad calls functions it can see into (Python functions, lambdas) or knows "
                "a rule for (math, NumPy)", hint="pass a Python function or a NumPy function")

    def constant_data(self, value: Any, loc) -> Any:
        """A list, tuple or dict of numbers and strings of the environment, as the
        compile-time values it holds (tuples, dicts, constants, statics)."""
        if isinstance(value, (list, tuple)):
            return tuple(self.constant_data(v, loc) for v in value)
        if isinstance(value, dict):
            return Container("dict", None, tuple(value),
                             tuple(self.constant_data(v, loc) for v in value.values()))
        if value is None or isinstance(value, str):
            return Static(value)
        return self.b.const(value, loc)

    def rename_leaves(self) -> None:
        """Name each leaf parameter after the first name the source gives it (``W`` of
        ``for W, b in params``), so that the generated code reads like the source."""
        taken: dict[str, int] = {}
        # a leaf the source never names: its key or field (`W1` of p["W1"], `w` of p.w)
        # when no other leaf has that key, else its path (`enc_W`, `params_0_1`)
        unnamed = sorted((v for v in self.leaves if v not in self.leaf_names),
                         key=lambda v: v.id)
        last = [leaf.hint.rpartition(".")[2] for leaf in unnamed]
        for leaf in unnamed:
            key = leaf.hint.rpartition(".")[2]
            if key.isidentifier() and last.count(key) == 1:
                self.leaf_names[leaf] = key
        for leaf, name in self.leaf_names.items():
            k = taken.get(name, 0)
            taken[name] = k + 1  # W, W_1, W_2 for the layers: their adjoints W_1_bar ...
            object.__setattr__(leaf, "hint", name if not k else f"{name}_{k}")

    def note_binding(self, name: str, value: Any) -> None:
        if isinstance(value, Value) and value in self.leaves and value not in self.leaf_names:
            self.leaf_names[value] = name

    # -- uses that need a structure -----------------------------------------------------------
    def root_param(self, value: Any) -> Value | None:
        """The source parameter (not structured) that ``value`` is, or is an item of."""
        while isinstance(value, Value):
            if value in self.plain_params:
                return value
            op = self.b.defs.get(value)
            if op is None or op.prim not in ("getitem", "np_index"):
                return None
            value = op.operands[0]
        return None

    def container_use(self, value: Any, error: UnsupportedError) -> UnsupportedError:
        """``error`` for a use of ``value`` only a container allows: a
        :class:`NeedsStructure` when ``value`` is (an item of) a parameter."""
        root = self.root_param(value)
        if root is not None and root.hint:
            return NeedsStructure(root.hint, error)
        return error

    # -- reading containers ----------------------------------------------------------------
    def container_item(self, base: Any, node: ast.Subscript, ctx) -> Any:
        """``d["W"]``, ``params[0]``, ``params[-1]``, ``params[1:]`` of a container or a
        compile-time tuple."""
        key = self._static_key(node.slice, ctx)
        if isinstance(base, tuple) and isinstance(node.slice, ast.Slice):
            return base[key]
        if isinstance(base, Container):
            if base.kind == "namedtuple" and isinstance(key, int):
                base = base.items
            elif key in base.keys and not isinstance(key, bool):
                return base.get(key)
            else:
                keys = ", ".join(map(repr, base.keys)) or "none"
                raise self.unsupported(ctx.pf, node.slice, f"{base.noun()} with no key "
                                       f"{key!r}", why=f"its keys are: {keys}",
                                       hint="use one of its keys")
        if not isinstance(key, int) or isinstance(key, bool) or not (
                -len(base) <= key < len(base)):
            raise self.unsupported(ctx.pf, node.slice, f"index {key!r} of a tuple or list of "
                                   f"{len(base)} items", why="a container's items are known "
                                   "when s2sad compiles, so its index must be a constant "
                                   "within it", hint="use a constant index, or loop over the "
                                   "items: `for W, b in params`")
        return base[key]

    def _static_key(self, node: ast.expr, ctx) -> Any:
        if isinstance(node, ast.Slice):
            parts = [None if p is None else self._constant_int(p)
                     for p in (node.lower, node.upper, node.step)]
            if any(p is None and q is not None for p, q in zip(
                    parts, (node.lower, node.upper, node.step), strict=True)):
                raise self.unsupported(ctx.pf, node, "a slice of a container needs constant "
                                       "bounds", hint="write the bounds as numbers: "
                                       "`params[1:]`, `params[:-1]`")
            return slice(*parts)
        if isinstance(node, ast.Constant) and not isinstance(node.value, (float, complex)):
            return node.value
        got = self.expr(node, ctx)
        if isinstance(got, Static):
            return got.value
        if isinstance(got, Value) and self.b.is_const(got):
            return self.b.const_value(got)
        raise self.unsupported(ctx.pf, node, "a container indexed with a value computed at "
                               "run time", why="a container's items are known when s2sad "
                               "compiles, so its index must be a constant",
                               hint="index with a constant, or loop over the items: `for W, "
                                    "b in params` (`for key in d`, `d.items()`)")

    def static_compare(self, node: ast.Compare, ctx) -> Value | None:
        """``cfg["act"] == "tanh"``, ``key != "W"``, ``opt is None``: a comparison of
        compile-time strings and ``None`` (a bool constant); None if it is not one."""
        operands = [node.left, *node.comparators]
        if not any(isinstance(o, ast.Constant) and (o.value is None or isinstance(
                o.value, str)) for o in operands) and not any(
                isinstance(self._maybe_container(o, ctx), Static) for o in operands):
            return None
        values = []
        for o in operands:
            v = o.value if isinstance(o, ast.Constant) else self._maybe_container(o, ctx)
            if isinstance(v, Static):
                v = v.value
            elif isinstance(v, Value) and v in self.leaves:
                v = _A_LEAF  # a number or array by the structure compiled for: not None
            elif not (v is None or isinstance(v, (str, int, float))) or isinstance(v, bool):
                return None  # a value of the run time: the comparison's own rules apply
            values.append(v)
        ops = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b,
               ast.Is: lambda a, b: a is b, ast.IsNot: lambda a, b: a is not b,
               ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b}
        result = True
        for op, a, b in zip(node.ops, values, values[1:], strict=False):
            fn = ops.get(type(op))
            if fn is None:
                raise self.unsupported(ctx.pf, node, "only ==, !=, is, is not, in and not in "
                                       "compare strings here", hint="use == on strings")
            result = result and fn(a, b)
        return self.b.const(bool(result))

    def expr_Dict(self, node: ast.Dict, ctx, hint: str | None) -> Container:
        """``{"W": W, "b": b}`` with constant keys: a dict known when s2sad compiles."""
        keys = []
        for k in node.keys:
            if not (isinstance(k, ast.Constant) and isinstance(k.value, (str, int))):
                raise self.unsupported(ctx.pf, k if k is not None else node, "a dict key that "
                                       "is not a constant string or int", why="a dict's "
                                       "keys are known when s2sad compiles",
                                       hint="write the keys as constants: {\"W\": W}")
            keys.append(k.value)
        items = tuple(self.expr(v, ctx) for v in node.values)
        return Container("dict", None, tuple(keys), items)

    def container_attribute(self, base: Container, node: ast.Attribute, ctx) -> Any:
        if base.kind != "dict" and node.attr in base.keys:
            return base.get(node.attr)
        raise self.unsupported(ctx.pf, node, f"{base.noun()} has no attribute `{node.attr}` "
                               "that s2sad can read", why="s2sad reads the fields of a "
                               "NamedTuple or dataclass and the attributes of an object "
                               "(those in its __dict__); methods are not called",
                               hint="read a field, or pass the value as a parameter")

    def as_items(self, value: Any, node: ast.AST, ctx) -> tuple | None:
        """The items of ``value`` if it is a compile-time container (to unpack or loop
        over), else None."""
        if isinstance(value, tuple):
            return value
        if isinstance(value, Container):
            if value.kind == "dict":
                return tuple(Static(k) for k in value.keys)  # iterating a dict: its keys
            if value.kind == "namedtuple":
                return value.items
            raise self.unsupported(ctx.pf, node, f"iterating over {value.noun()}",
                                   why="only lists, tuples, dicts and NamedTuples are "
                                       "iterable", hint="read its fields by name")
        return None

    # -- loops over containers -------------------------------------------------------------
    def unrolled_for(self, node: ast.For, ctx) -> bool:
        """``for W, b in params``, ``for k, v in d.items()``, ``for i, t in
        enumerate(layers)``, ``zip`` of them: the body once per item, in order (the
        structure is fixed when s2sad compiles).  False if the loop is not over a
        container."""
        rows = self._container_rows(node.iter, node.target, ctx)
        if rows is None:
            return False
        if node.orelse or has_exit(node.body):
            raise self.unsupported(
                ctx.pf, node, "`break`, `continue`, `return` or `else` in a loop over a "
                "container", why="s2sad unrolls a loop over a container's items (their number "
                "is known when it compiles), and an early exit would depend on the values",
                hint="loop over all items; choose with `if` inside the body")
        for row in rows:
            self._bind(node.target, row, ctx)
            self.stmts(node.body, ctx)
        return True

    def expand_starred(self, call: ast.Call, ctx) -> ast.Call:
        """``f(*t)`` with ``t`` a compile-time tuple (or NamedTuple), ``zip(*groups)``:
        ``f(t[0], t[1], ...)``, its length being known when s2sad compiles (``t`` is
        evaluated once, into a hidden name); other calls unchanged."""
        if not any(isinstance(a, ast.Starred) for a in call.args):
            return call
        args: list[ast.expr] = []
        for a in call.args:
            value = self.expr(a.value, ctx) if isinstance(a, ast.Starred) else None
            if isinstance(value, Container) and value.kind == "namedtuple":
                value = value.items
            if not isinstance(value, tuple):
                args.append(a)  # not starred, or a run-time list: the call's own rules
                continue
            held = self.hidden("items")
            ctx.env[held] = value
            args.extend(ast.copy_location(ast.Subscript(
                value=ast.Name(held, ast.Load()), slice=ast.Constant(i), ctx=ast.Load()), a)
                for i in range(len(value)))
        return ast.copy_location(ast.Call(func=call.func, args=args, keywords=call.keywords),
                                 call)

    def _container_rows(self, it: ast.expr, target: ast.expr, ctx) -> list | None:
        if isinstance(it, ast.Call):
            it = self.expand_starred(it, ctx)
        call = it.func if isinstance(it, ast.Call) else None
        if isinstance(call, ast.Name) and call.id not in ctx.env and all(
                k.arg == "strict" and call.id == "zip" for k in it.keywords) and (
                call.id in ("enumerate", "zip", "reversed")) and it.args:
            parts = [self._iterable(a, ctx) for a in it.args]
            if all(p is None for p in parts):
                if isinstance(target, ast.Tuple):
                    # for i, (W, b) in enumerate(params), for (W, b), a in zip(params, acts)
                    items = target.elts[1:] if call.id == "enumerate" else target.elts
                    for arg, t in zip(it.args, items, strict=False):
                        if isinstance(t, ast.Tuple):
                            self._tuple_target_of_list([arg], t, ctx)
                return None
            if call.id != "zip" and len(parts) != 1:
                raise self.unsupported(ctx.pf, it, f"`{call.id}` takes one argument here")
            if call.id == "zip" and any(p is None for p in parts):
                # zip(layers, rates): a list beside a container is read item by item, as
                # far as the container goes (Python's zip stops at the shortest; a shorter
                # list is an IndexError when the derivative runs)
                n = min(len(p) for p in parts if p is not None)
                parts = [p if p is not None else self._items_of_sequence(a, n, ctx)
                         for p, a in zip(parts, it.args, strict=True)]
            if call.id == "enumerate":
                return [(self.b.const(i), v) for i, v in enumerate(parts[0])]
            if call.id == "reversed":
                return list(reversed(parts[0]))
            return list(zip(*parts, strict=False))
        if isinstance(call, ast.Attribute) and call.attr in ("items", "values", "keys") and (
                not it.args):
            base = self._maybe_container(call.value, ctx)
            if isinstance(base, Container) and base.kind == "dict":
                keys = [Static(k) for k in base.keys]
                return {"keys": keys, "values": list(base.items),
                        "items": list(zip(keys, base.items, strict=True))}[call.attr]
            return None
        rows = self._iterable(it, ctx)
        if rows is None and isinstance(target, ast.Tuple):
            self._tuple_target_of_list([it], target, ctx)
        return None if rows is None else list(rows)

    def _items_of_sequence(self, node: ast.expr, n: int, ctx) -> tuple:
        """The first ``n`` items of the list or array ``node``, by constant indices."""
        value = self.expr(node, ctx)
        if isinstance(value, Value) and value.kind is Kind.ARRAY:
            return tuple(self.emit("np_index", [value, self.b.const(k)], ctx, node, None,
                                   index=(("int", 0),)) for k in range(n))
        xs = self.as_list(value, node, ctx)
        return tuple(self.emit("getitem", [xs, self.b.const(k)], ctx, node, None)
                     for k in range(n))

    def _tuple_target_of_list(self, iters: list[ast.expr], target: ast.Tuple, ctx) -> None:
        """``for W, b in params`` over a parameter taken for a list of numbers: it holds
        tuples, so it is a container (NeedsStructure)."""
        node = iters[0] if len(iters) == 1 else None
        while isinstance(node, ast.Subscript):  # params[:-1]: an item or slice of params
            node = node.value
        if isinstance(node, ast.Name):
            value = ctx.env.get(node.id)
            if isinstance(value, Value):
                raise self.container_use(value, self.unsupported(
                    ctx.pf, target, f"unpacking each item into {len(target.elts)} names is "
                    "not supported", why="s2sad's lists hold numbers, not tuples or arrays",
                    hint="pass the arrays as separate parameters (W1, b1, W2, b2, ...), or "
                         "stack layers of one shape into arrays `Ws`, `bs` (annotated "
                         "`np.ndarray`) and loop over indices: `for k in range(Ws.shape[0]): "
                         "W, b = Ws[k], bs[k]`"))

    def _iterable(self, node: ast.expr, ctx) -> tuple | None:
        """The items of ``node`` if it is a compile-time container (or a list or tuple
        written in the function holding containers or arrays), else None."""
        if isinstance(node, (ast.List, ast.Tuple)):
            items = tuple(self.expr(e, ctx) for e in node.elts)
            if isinstance(node, ast.Tuple) or any(
                    not isinstance(v, Value) or v.kind is Kind.ARRAY for v in items):
                return items
            return None
        value = self._maybe_container(node, ctx)
        return None if value is None else self.as_items(value, node, ctx)

    def _maybe_container(self, node: ast.expr, ctx) -> Any:
        """``node``'s value when reading it cannot fail or emit work twice: a name, an
        attribute or item of a container; else None."""
        if isinstance(node, ast.Name):
            if node.id in ctx.env:
                return ctx.env[node.id]
            from .resolve import DataRef

            got = ctx.pf.resolver.lookup(node.id)  # data of the environment (`SHAPES`)
            return self.constant_data(got.value, None) if isinstance(got, DataRef) else None
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            base = self._maybe_container(node.value, ctx)
            if isinstance(base, (Container, tuple)):
                return self.expr(node, ctx)
        return None
