"""Lifting sequences: list and tuple arguments, indexing, iteration, reductions.

A mixin of :class:`~s2sad.frontend.lower.Lowerer`.  A parameter that the
function indexes, measures with ``len`` or iterates over is a *list* (a
Python list, a tuple or a 1-D array of floats); the gradient with respect to
it is a list of the same length.

* ``xs[i]`` → ``getitem``; ``len(xs)`` → ``len``.
* ``for v in xs``, ``for i, v in enumerate(xs)``, ``for a, b in zip(xs, ys)``
  → a ``for_range`` over indices that reads the items.
* ``sum(xs)``, ``sum(f(v) for v in xs if c)`` → the same loops, accumulating.
  They are desugared into Python statements over hidden variables and lowered
  like the user's own loops.
* ``max(xs)``, ``min(xs)`` → ``xs[list_argmax(xs)]``: the first largest item,
  the one Python's ``max`` returns, found at C speed; its index carries the
  derivative (ties: the first one, as in ``max(a, b)``).
"""

from __future__ import annotations

import ast
import itertools
from typing import Any

from ..ir.core import Kind, Static, Value
from .arrays import RetryWithArray, Shape
from .containers import Container

# Hidden variables of desugared reductions: names no Python source can contain
# (the dot), spelt in generated code with the hint on the right.
_HIDDEN = itertools.count()


class RetryWithList(Exception):
    """A parameter turned out to be used as a list: lower again with it as one."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class SequenceMixin:
    hidden_hints: dict[str, str]
    owned: set[Value]  # lists this function created (and so may change)

    def hidden(self, hint: str) -> str:
        name = f".{hint}{next(_HIDDEN)}"
        self.hidden_hints[name] = hint
        return name

    def hint_of(self, name: str) -> str:
        return self.hidden_hints.get(name, name)

    # -- list values -------------------------------------------------------------------------
    def as_list(self, value: Any, node: ast.AST, ctx) -> Value:
        if isinstance(value, Value) and value.kind is Kind.LIST:
            return value
        if isinstance(value, Value) and value.kind is Kind.ARRAY:
            raise self.container_use(value, self.unsupported(
                                   ctx.pf, node, "iterating over an array is not supported",
                                   why="s2sad iterates over lists; arrays are used whole",
                                   hint="use array operations (np.sum(f(x))), or loop over "
                                        "indices: `for i in range(len(x)): ... x[i] ...`"))
        if isinstance(value, Value) and value in self.params and value.hint:
            raise RetryWithList(value.hint)
        if isinstance(value, Value) and value.kind is Kind.FLOAT:
            # `sum(x ** 2)`: arithmetic on a parameter, then used as a sequence: only an
            # array does both, so the parameter is one (lower again)
            names = {p.hint for p in self.params_behind(value)
                     if p.kind is Kind.FLOAT and p.hint not in self.pinned}
            if names:
                raise RetryWithArray(names)
        raise self.not_a_list(value, node, ctx)

    def not_a_list(self, value: Any, node: ast.AST, ctx):
        """The error for indexing or iterating ``value``, a number to s2sad: say why it is
        one (an item of a list, or computed from a parameter taken for a number)."""
        spelled = ast.unparse(node)
        op = self.b.defs.get(value) if isinstance(value, Value) else None
        if op is not None and op.prim == "getitem":
            base = ast.unparse(node.value) if isinstance(node, ast.Subscript) else "the list"
            return self.container_use(value, self.unsupported(
                ctx.pf, node, f"`{spelled}` is a number: an item of the list `{base}`, which "
                "holds numbers", why="s2sad's lists hold numbers; lists of lists are not "
                "supported", hint=f"make `{base}` an array (annotate the parameter "
                "`: np.ndarray`) and index it as `M[i, j]` (or `M[i][j]`)"))
        params = sorted(p.hint for p in self.params_behind(value)) if isinstance(
            value, Value) else []
        if params:
            names = ", ".join(f"`{p}`" for p in params)
            return self.unsupported(
                ctx.pf, node, f"`{spelled}` is a number to s2sad, so it cannot be indexed or "
                "iterated", why=f"it is computed from {names}, which s2sad took for a "
                "number: an unannotated parameter used in arithmetic is a number unless the "
                "function uses it as an array (`@`, `np.sum`, slicing, ...)",
                hint=f"annotate the parameter if it is an array: `{params[0]}: np.ndarray`")
        return self.unsupported(
            ctx.pf, node, f"`{spelled}` is a number, so it cannot be indexed or iterated",
            why="only lists, tuples and arrays can be indexed or iterated",
            hint="index a list or array parameter, a list the function built (`[...]`, "
                 "`append`), or an array")

    def expr_Subscript(self, node: ast.Subscript, ctx, hint: str | None) -> Any:
        base = self.expr(node.value, ctx)
        if isinstance(base, (Container, tuple)):  # items known when s2sad compiles
            return self.container_item(base, node, ctx)
        if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            raise self.container_use(base, self.unsupported(
                ctx.pf, node.slice, f"indexing with the string key {node.slice.value!r} is "
                "not supported here", why="only a dict has string keys",
                hint=f"pass the arrays as separate parameters: `def f({node.slice.value}, "
                     "...)`"))
        if isinstance(base, Shape):
            return self.shape_item(base, self.value(node.slice, ctx), node.slice, ctx, hint)
        if isinstance(base, Value) and base.kind is Kind.ARRAY:
            return self.array_index(base, node, ctx, hint)
        if isinstance(node.slice, (ast.Slice, ast.Tuple)):
            if isinstance(base, Value) and (base.kind is not Kind.LIST or (
                    base in self.params and base.hint not in self.pinned)):
                if base.kind is Kind.LIST:  # indexed as a list so far: an array after all
                    raise RetryWithArray({base.hint})
                return self.array_index(self.as_array(base, node.value, ctx), node, ctx, hint)
            raise self.unsupported(ctx.pf, node.slice, "slicing a list is not supported",
                                   hint="index one item at a time: `xs[i]`, or use an array")
        xs = self.as_list(base, node.value, ctx)
        index = self.need_int(self.value(node.slice, ctx))
        if index.kind not in (Kind.INT, Kind.BOOL):
            if index not in self.params:
                raise self.unsupported(ctx.pf, node.slice, "a list index must be an integer",
                                       hint="index with an int, e.g. a `range` loop variable")
        return self.emit("getitem", [xs, index], ctx, node, hint)

    def length(self, node: ast.expr, ctx) -> Value:
        value = self.expr(node, ctx)
        if isinstance(value, (tuple, Container)):
            return self.b.const(len(value.keys if isinstance(value, Container) else value))
        if isinstance(value, Static) and isinstance(value.value, str):
            return self.b.const(len(value.value))
        if isinstance(value, Shape):
            return self.emit("ndim", [value.array], ctx, node)
        if value.kind is Kind.ARRAY:
            return self.emit("dim", [value], ctx, node, axis=0)
        return self.emit("len", [self.as_list(value, node, ctx)], ctx, node)

    # -- local lists -------------------------------------------------------------------------
    def owned_list(self, value: Any, node: ast.AST, ctx, what: str) -> Value:
        """A list this function created, which it may change (never an argument)."""
        base = node.value if isinstance(node, ast.Subscript) else node  # h of h[i] = v
        xs = self.as_list(value, base, ctx) if not isinstance(value, tuple) else value
        if isinstance(xs, Value) and xs in self.owned:
            return xs
        raise self.unsupported(
            ctx.pf, node, f"{what} changes a list the function did not create",
            why="mutating an argument (or a list shared with one) would change the caller's "
                "data, which a derivative function must not do",
            hint="work on a copy: `ys = list(xs)`, then change `ys`")

    def own(self, v: Value) -> Value:
        self.owned.add(v)
        return v

    def expr_List(self, node: ast.List, ctx, hint: str | None) -> Value:
        items = [self.value(e, ctx) for e in node.elts]
        return self.own(self.emit("list_lit", items, ctx, node, hint))

    def expr_ListComp(self, node: ast.ListComp, ctx, hint: str | None) -> Value:
        if len(node.generators) != 1 or node.generators[0].is_async:
            raise self.unsupported(ctx.pf, node, "only one `for` per comprehension is supported")
        gen = node.generators[0]
        acc = self.hidden(hint or "items")
        update: ast.stmt = ast.Expr(ast.Call(
            func=ast.Attribute(value=_load(acc), attr="append", ctx=ast.Load()),
            args=[node.elt], keywords=[]))
        for cond in reversed(gen.ifs):
            update = ast.If(test=cond, body=[update], orelse=[])
        stmts = [ast.Assign(targets=[_store(acc)], value=ast.List(elts=[], ctx=ast.Load())),
                 ast.For(target=gen.target, iter=gen.iter, body=[update], orelse=[])]
        self._run_desugared(stmts, node, ctx)
        return ctx.env[acc]

    def append_statement(self, call: ast.Call, ctx) -> bool:
        """``ys.append(v)`` (or ``ys.extend(vs)``: a loop of appends) as a statement;
        False if the call is something else."""
        func = call.func
        if not (isinstance(func, ast.Attribute) and func.attr in ("append", "extend")
                and isinstance(func.value, ast.Name) and func.value.id in ctx.env):
            return False
        if func.attr == "extend":
            if len(call.args) != 1 or call.keywords:
                raise self.unsupported(ctx.pf, call, "`extend` takes one argument")
            self.owned_list(self._name(func.value, ctx), func.value, ctx, "`extend`")
            item = self.hidden("item")
            self._run_desugared([ast.For(
                target=_store(item), iter=call.args[0], orelse=[],
                body=[ast.Expr(ast.Call(func=ast.Attribute(value=_load(func.value.id),
                                                           attr="append", ctx=ast.Load()),
                                        args=[_load(item)], keywords=[]))])], call, ctx)
            return True
        if len(call.args) != 1 or call.keywords:
            raise self.unsupported(ctx.pf, call, "`append` takes one argument")
        xs = self.owned_list(self._name(func.value, ctx), func.value, ctx, "`append`")
        v = self.value(call.args[0], ctx)
        ctx.env[func.value.id] = self.own(self.emit("append", [xs, v], ctx, call, xs.hint))
        return True

    def item_assignment(self, target: ast.Subscript, value: Any, ctx, aug: ast.operator = None,
                        node: ast.AST | None = None) -> None:
        """``ys[i] = v`` (or ``ys[i] += v``) on a list the function created; on an array,
        see :meth:`~s2sad.frontend.arrays.ArrayMixin.array_assignment`."""
        if not isinstance(target.value, ast.Name):
            raise self.unsupported(ctx.pf, target, "this item assignment is not supported",
                                   hint="assign to `name[i]`")
        base = self._name(target.value, ctx)
        if isinstance(base, Value) and base.kind is Kind.FLOAT and base in self.params:
            raise self.argument_assignment(base, target.value.id, target, ctx)
        if isinstance(base, Value) and base.kind is Kind.ARRAY:
            self.array_assignment(target, base, value, ctx, aug, node)
            return
        if isinstance(target.slice, (ast.Slice, ast.Tuple)):
            raise self.unsupported(ctx.pf, target.slice, "slice assignment is not supported",
                                   hint="assign one item at a time")
        xs = self.owned_list(self._name(target.value, ctx), target, ctx, "item assignment")
        index = self.value(target.slice, ctx)
        if aug is not None:
            old = self.emit("getitem", [xs, index], ctx, target)
            value = self._binop(aug, old, value, node or target, ctx)
        if isinstance(value, tuple):
            raise self.unsupported(ctx.pf, target, "a list item must be a number")
        ctx.env[target.value.id] = self.own(
            self.emit("setitem", [xs, index, value], ctx, target, xs.hint))

    # -- iteration ---------------------------------------------------------------------------
    def iteration(self, it: ast.expr, target: ast.expr, ctx):
        """(start, stop, step, bind) for a ``for`` loop: ``bind(i)`` gives the targets' values."""
        if (isinstance(it, ast.Call) and isinstance(it.func, ast.Name)
                and it.func.id not in ctx.env and all(
                    k.arg == "strict" and it.func.id == "zip" for k in it.keywords)):
            name = it.func.id
            if name == "range":
                var = self._target_names(target, 1, ctx)[0]
                start, stop, step = self._range_bounds(it, ctx)
                return start, stop, step, lambda i: {var: i}
            if name == "reversed" and len(it.args) == 1:
                return self._reversed_loop(it.args[0], target, ctx)
            if name == "enumerate" and len(it.args) == 1:
                idx, item = self._target_names(target, 2, ctx)
                stop, read = self.sequence(self.expr(it.args[0], ctx), it.args[0], ctx)
                return self.b.const(0), stop, self.b.const(1), lambda i: {
                    idx: i, item: read(i, item)}
            if name == "zip" and it.args:
                names = self._target_names(target, len(it.args), ctx)
                seqs = [self.sequence(self.expr(a, ctx), a, ctx) for a in it.args]
                stop = seqs[0][0]
                strict = it.keywords and self.b.const_value(self.value(it.keywords[0].value,
                                                                       ctx))
                for n, _ in seqs[1:]:
                    if strict:  # zip(..., strict=True): Python's check, where it stands
                        self.raise_if(self.emit("ne", [stop, n], ctx, it), ast.copy_location(
                            ast.Raise(exc=ast.Call(func=ast.Name("ValueError", ast.Load()),
                                                   args=[ast.Constant(
                                                       "zip() arguments have different "
                                                       "lengths")], keywords=[]),
                                      cause=None), it), ctx)
                    stop = self.emit("min2", [stop, n], ctx, it, lib="builtin")
                return self.b.const(0), stop, self.b.const(1), lambda i: {
                    n: read(i, n) for n, (_, read) in zip(names, seqs, strict=True)}
        if isinstance(it, ast.Subscript) and isinstance(it.slice, ast.Slice):
            got = self._list_slice_loop(it, target, ctx)
            if got is not None:
                return got
        # (tuples and containers are unrolled: see containers.py)
        stop, read = self.sequence(self.expr(it, ctx), it, ctx)
        (var,) = self._target_names(target, 1, ctx)
        return self.b.const(0), stop, self.b.const(1), lambda i: {var: read(i, var)}

    def sequence(self, value: Any, node: ast.expr, ctx):
        """``(length, read)`` of what a ``for`` loop iterates: a list's items, or an
        array's rows (``for row in X``: ``X[i]``, as NumPy iterates an array).  An
        unannotated parameter iterated as an array may be a list of arrays: that is
        for the structure of the argument to tell (see containers.py)."""
        if isinstance(value, Value) and value.kind is Kind.ARRAY and not (
                self.structures is None and self.root_param(value) is not None
                and self.root_param(value).hint not in self.pinned):
            stop = self.emit("dim", [value], ctx, node, axis=0)
            return stop, lambda i, hint=None: self.emit(
                "np_index", [value, i], ctx, node, hint, index=(("int", 0),))
        xs = self.as_list(value, node, ctx)
        return self.emit("len", [xs], ctx, node), lambda i, hint=None: self.emit(
            "getitem", [xs, i], ctx, node, hint)

    def _reversed_loop(self, arg: ast.expr, target: ast.expr, ctx):
        """``for v in reversed(xs)`` over a list, ``for i in reversed(range(a, b))``: the
        loop over the indices backwards."""
        (var,) = self._target_names(target, 1, ctx)
        one, minus_one = self.b.const(1), self.b.const(-1)
        if isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and (
                arg.func.id == "range" and arg.func.id not in ctx.env):
            start, stop, step = self._range_bounds(arg, ctx)
            if self.b.const_value(step) != 1:
                raise self.unsupported(ctx.pf, arg, "`reversed(range(...))` with a step is not "
                                       "supported", hint="write the range backwards: "
                                       "`range(last, first - 1, -step)`")
            last = self.emit("sub", [stop, one], ctx, arg)
            before = self.emit("sub", [start, one], ctx, arg)
            return last, before, minus_one, lambda i: {var: i}
        xs = self.as_list(self.expr(arg, ctx), arg, ctx)
        last = self.emit("sub", [self.emit("len", [xs], ctx, arg), one], ctx, arg)
        return last, minus_one, minus_one, lambda i: {
            var: self.emit("getitem", [xs, i], ctx, arg, var)}

    def _list_slice_loop(self, it: ast.Subscript, target: ast.expr, ctx):
        """``for v in xs[a:b]`` over a list: the loop over ``range`` of the slice's indices,
        with Python's clamping (``xs[1:]``, ``xs[:-1]``, ``xs[::2]``; constant bounds and a
        positive constant step); None if ``xs`` is an array (a loop s2sad refuses)."""
        base = self.expr(it.value, ctx)
        if not isinstance(base, Value) or base.kind is Kind.ARRAY:
            return None
        xs = self.as_list(base, it.value, ctx)
        sl = it.slice
        bounds = []
        for part in (sl.lower, sl.upper, sl.step):
            k = None if part is None else self._constant_int(part)
            if part is not None and k is None:
                raise self.unsupported(
                    ctx.pf, part, "the bounds of a list slice looped over must be constant "
                    "ints here", hint=f"loop over the indices: `for i in range(a, b): v = "
                    f"{ast.unparse(it.value)}[i]`")
            bounds.append(k)
        lower, upper, step = bounds
        if step is not None and step <= 0:
            raise self.unsupported(ctx.pf, sl.step, "only a positive step is supported here",
                                   hint=f"loop over the indices: `for i in range(len("
                                        f"{ast.unparse(it.value)}) - 1, -1, -1)`")
        n = self.emit("len", [xs], ctx, it)

        def clamp(k: int | None, default: Value) -> Value:
            """Python's slice bound ``k`` of a list of length ``n``, in [0, n]."""
            if k is None:
                return default
            if k >= 0:
                return self.emit("min2", [self.b.const(k), n], ctx, it, lib="builtin")
            shifted = self.emit("add", [n, self.b.const(k)], ctx, it)
            return self.emit("max2", [shifted, self.b.const(0)], ctx, it, lib="builtin")

        start, stop = clamp(lower, self.b.const(0)), clamp(upper, n)
        (var,) = self._target_names(target, 1, ctx)
        return start, stop, self.b.const(step or 1), lambda i: {
            var: self.emit("getitem", [xs, i], ctx, it, self.hint_of(var))}

    def _constant_int(self, node: ast.expr) -> int | None:
        """``node`` if it is an int written as a constant (``1``, ``-1``), else None."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            k = self._constant_int(node.operand)
            return None if k is None else -k
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        return None

    def _target_names(self, target: ast.expr, n: int, ctx) -> list[str]:
        elts = target.elts if isinstance(target, ast.Tuple) else [target]
        if n == 1 and len(elts) > 1:  # for W, b in layers: a list of tuples
            raise self.unsupported(
                ctx.pf, target, f"unpacking each item into {len(elts)} names is not supported",
                why="s2sad's lists hold numbers, not tuples or arrays",
                hint="pass the arrays as separate parameters (W1, b1, W2, b2, ...), or stack "
                     "layers of one shape into arrays `Ws`, `bs` (annotated `np.ndarray`) "
                     "and loop over indices: `for k in range(Ws.shape[0]): W, b = Ws[k], "
                     "bs[k]`")
        if len(elts) != n or not all(isinstance(e, ast.Name) for e in elts):
            raise self.unsupported(ctx.pf, target, f"this loop needs {n} plain name(s) as its "
                                   "target", hint="for i, v in enumerate(xs): ...")
        return [e.id for e in elts]

    # -- reductions --------------------------------------------------------------------------
    def reduction(self, name: str, node: ast.Call, ctx, hint: str | None) -> Value:
        """``sum`` of one list or generator: desugared into a loop; ``max``/``min`` of a
        list: its first largest (smallest) item, by index."""
        arg = node.args[0]
        generator = isinstance(arg, (ast.GeneratorExp, ast.ListComp))
        if name != "sum":  # the first largest (smallest) item: it alone has a derivative
            if generator:
                raise self.unsupported(ctx.pf, arg, f"`{name}` of a generator is not supported "
                                       "yet", hint=f"build the values first, or use `{name}(a, b)`")
            value = self.expr(arg, ctx)
            if isinstance(value, Value) and value.kind is Kind.ARRAY:  # max(np.abs(x))
                return self._reduce(f"np_{name}", value, ast.Constant(0), None, node, ctx,
                                    hint)
            xs = self.as_list(value, arg, ctx)
            where = self.emit(f"list_arg{name}", [xs], ctx, node, f"arg{name}")
            return self.emit("getitem", [xs, where], ctx, node, hint)
        acc = self.hidden(hint or "total")
        if generator:
            if len(arg.generators) != 1 or arg.generators[0].is_async:
                raise self.unsupported(ctx.pf, arg, "only one `for` per generator is supported")
            gen = arg.generators[0]
            target, items, update = gen.target, gen.iter, _add_to(acc, arg.elt)
            for cond in reversed(gen.ifs):
                update = ast.If(test=cond, body=[update], orelse=[])
        else:  # for k in range(len(xs)): total += xs[k]
            seq, k = self.hidden("xs"), self.hidden("k")
            value = self.expr(arg, ctx)
            if isinstance(value, Value) and value.kind is Kind.ARRAY:
                # Python's sum of an array adds its rows: np.sum(x, axis=0) (+ start)
                total = self._reduce("np_sum", value, ast.Constant(0), None, node, ctx,
                                     None if len(node.args) > 1 else hint)
                if len(node.args) > 1:
                    total = self.emit("add", [self.value(node.args[1], ctx), total], ctx,
                                      node, hint)
                return total
            ctx.env[seq] = self.as_list(value, arg, ctx)
            target = _store(k)
            items = ast.Call(func=_load("range"), args=[_load(seq, "len")], keywords=[])
            update = _add_to(acc, ast.Subscript(value=_load(seq), slice=_load(k),
                                                ctx=ast.Load()))
        start = node.args[1] if len(node.args) > 1 else ast.Constant(0)
        stmts = [ast.Assign(targets=[_store(acc)], value=start),
                 ast.For(target=target, iter=items, body=[update], orelse=[])]
        self._run_desugared(stmts, node, ctx)
        return ctx.env[acc]

    def fold(self, node: ast.Call, ctx, hint: str | None) -> Value:
        """``functools.reduce(f, items, start)``: ``acc = start`` then ``acc = f(acc, item)``
        for each item, desugared into that loop (``f`` is called as written: ``operator.mul``,
        a function, a lambda).  Without ``start`` the first item starts, for a list or an
        array (a generator needs ``start``: its first item is not an index away)."""
        if node.keywords or len(node.args) not in (2, 3):
            raise self.unsupported(ctx.pf, node, "`reduce` takes a function, the items and "
                                   "a start value, by position",
                                   hint="reduce(operator.mul, xs, 1.0)")
        func, arg = node.args[0], node.args[1]
        acc = self.hidden(hint or "acc")
        item = self.hidden("item")
        generator = isinstance(arg, (ast.GeneratorExp, ast.ListComp))
        if generator:
            if len(node.args) == 2:
                raise self.unsupported(ctx.pf, node, "`reduce` of a generator without a "
                                       "start value is not supported",
                                       hint="give the start value: reduce(f, (...), start)")
            if len(arg.generators) != 1 or arg.generators[0].is_async:
                raise self.unsupported(ctx.pf, arg, "only one `for` per generator is supported")
            gen = arg.generators[0]
            target, items, elt = gen.target, gen.iter, arg.elt
            conds = gen.ifs
        else:
            seq = self.hidden("items")
            ctx.env[seq] = self.expr(arg, ctx)
            target, items, elt, conds = _store(item), _load(seq), _load(item), []
            if len(node.args) == 2:  # the first item starts; the loop takes the rest
                items = ast.Subscript(value=_load(seq), slice=ast.Slice(
                    lower=ast.Constant(1), upper=None, step=None), ctx=ast.Load())
        start = node.args[2] if len(node.args) == 3 else ast.Subscript(
            value=_load(seq), slice=ast.Constant(0), ctx=ast.Load())
        stmts: list[ast.stmt] = []
        if isinstance(func, ast.Lambda):  # named first: a local function, inlined per call
            name = self.hidden("f")
            stmts.append(ast.Assign(targets=[_store(name)], value=func))
            func = _load(name)
        update: ast.stmt = ast.Assign(targets=[_store(acc)], value=ast.Call(
            func=func, args=[_load(acc), elt], keywords=[]))
        for cond in reversed(conds):
            update = ast.If(test=cond, body=[update], orelse=[])
        stmts += [ast.Assign(targets=[_store(acc)], value=start),
                 ast.For(target=target, iter=items, body=[update], orelse=[])]
        self._run_desugared(stmts, node, ctx)
        return ctx.env[acc]

    def _run_desugared(self, stmts: list[ast.stmt], node: ast.AST, ctx) -> None:
        """Lower statements s2sad wrote for a construct, located at the construct."""
        for stmt in stmts:
            for sub in ast.walk(stmt):
                if not hasattr(sub, "lineno"):
                    ast.copy_location(sub, node)
        done = self.stmts(stmts, ctx)
        if done is not None:
            raise self.unsupported(ctx.pf, node, "`break`, `continue` or `return` inside a "
                                   "comprehension's expression")


def _load(name: str, call: str | None = None) -> ast.expr:
    value = ast.Name(id=name, ctx=ast.Load())
    if call is not None:
        return ast.Call(func=ast.Name(id=call, ctx=ast.Load()), args=[value], keywords=[])
    return value


def _add_to(name: str, value: ast.expr) -> ast.stmt:
    return ast.AugAssign(target=_store(name), op=ast.Add(), value=value)


def _store(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())
