"""Lifting control flow: ``if``/``elif``/``else``, loops, ``break``/``continue``, conditions.

A mixin of :class:`~s2sad.frontend.lower.Lowerer`.  Python's control flow
becomes the IR's structured ops (DESIGN §2):

* ``if`` → ``cond`` with two regions that yield the variables either branch
  changes.  A branch that ends in ``return`` (or, in a loop, ``continue``/
  ``break``) takes the rest of the statement list with it, so an early
  return is a ``cond`` whose other region holds the rest of the function.
* ``for i in range(...)`` → ``for_range``; ``while`` → ``while_loop``.  The
  loop-carried values are the variables the body assigns that exist before
  the loop; their kinds are found by iterating to a fixed point (``s = 0``
  then ``s += x`` carries a float).  A loop with ``break`` carries a flag
  and becomes a ``while_loop``.
* ``a if c else b`` → a ``cond`` (only one side runs, as in Python).
* Comparisons (chained too), ``and``, ``or``, ``not`` build boolean values.
"""

from __future__ import annotations

import ast
import os
import sys
from typing import Any

from ..ir.core import Kind, Value, join_kinds

_CMP = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge", ast.Eq: "eq",
        ast.NotEq: "ne"}


# `for`/`while ... else`: the else body runs when the loop ends without `break`
_ELSE_HINT = ("move the `else` body after the loop; if the loop has a `break`, set a flag "
              "before it (`found = 1.0`, with `found = 0.0` before the loop) and test the flag "
              "after the loop")

class LoopEnd:
    """The end of one path through a loop body; ``broke`` is a bool value (or None)."""

    __slots__ = ("broke",)

    def __init__(self, broke: Value | None) -> None:
        self.broke = broke


class Undefined:
    """A name that is not defined on every path reaching here."""

    __slots__ = ("why",)

    def __init__(self, why: str) -> None:
        self.why = why


def _walk_no_nested_scopes(nodes: list[ast.AST], *, into_loops: bool = True):
    stack = list(nodes)
    while stack:
        n = stack.pop()
        yield n
        for child in ast.iter_child_nodes(n):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                                  ast.ClassDef)):
                continue
            if not into_loops and isinstance(child, (ast.For, ast.While)):
                continue
            stack.append(child)


def has_exit(stmts: list[ast.stmt]) -> bool:
    """Does a path through ``stmts`` leave early (return, or break/continue of this loop)?"""
    for n in _walk_no_nested_scopes(stmts):
        if isinstance(n, ast.Return):
            return True
    return any(isinstance(n, (ast.Break, ast.Continue))
               for n in _walk_no_nested_scopes(stmts, into_loops=False))


def has_break(stmts: list[ast.stmt]) -> bool:
    return any(isinstance(n, ast.Break) for n in _walk_no_nested_scopes(stmts, into_loops=False))


def assigned_names(stmts: list[ast.stmt]) -> list[str]:
    """Names a statement list gives a new value, in order of first appearance.

    That includes the lists it changes: ``ys[i] = v`` and ``ys.append(v)``
    give ``ys`` a new value (lists are values in the IR).
    """
    seen: dict[str, None] = {}
    for stmt in stmts:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                seen.setdefault(n.id, None)
            elif (isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store)
                  and isinstance(n.value, ast.Name)):
                seen.setdefault(n.value.id, None)
            elif (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                  and n.func.attr == "append" and isinstance(n.func.value, ast.Name)):
                seen.setdefault(n.func.value.id, None)
    return list(seen)


class ControlFlowMixin:
    """``visit_If``/``For``/``While``/``Break``/``Continue`` and condition expressions."""

    # -- conditions --------------------------------------------------------------------------
    def condition(self, node: ast.expr, ctx) -> Value:
        if isinstance(node, ast.BoolOp):  # `x > 0 and i % 2`: each operand's truth
            return self.expr_BoolOp(node, ctx, None, truth=True)
        v = self.value(node, ctx)
        if v.kind is Kind.BOOL:
            return v
        if v.kind in (Kind.INT, Kind.FLOAT):
            return self.emit("ne", [v, self.b.const(0)], ctx, node)
        raise self.unsupported(ctx.pf, node, f"a {v.kind.value} used as a condition",
                               hint="compare it explicitly, e.g. `len(xs) > 0`")

    def expr_Compare(self, node: ast.Compare, ctx, hint: str | None) -> Value:
        static = self.static_compare(node, ctx)  # `act == "tanh"` of a string in a container
        if static is not None:
            return static
        left = self.value(node.left, ctx)
        acc = None
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            prim = _CMP.get(type(op))
            if prim is None:
                raise self.unsupported(ctx.pf, node, f"the comparison `{_cmp_symbol(op)}` is "
                                       "not supported", why="only numbers are compared",
                                       hint="use < <= > >= == != on numbers; check for None "
                                            "or other objects outside the differentiated "
                                            "function")
            right = self.value(comparator, ctx)
            test = self.emit(prim, [left, right], ctx, node)
            acc = test if acc is None else self.emit("and", [acc, test], ctx, node)
            left = right
        return acc

    def expr_BoolOp(self, node: ast.BoolOp, ctx, hint: str | None, truth: bool = False
                    ) -> Value:
        """``a and b`` / ``a or b``, short-circuit as in Python: ``b`` is a lazy branch.
        As a value its operands must be bools; as a condition (``truth``: only the result's
        truth matters, as under ``if``) numbers are taken by their truth, as Python does."""
        word = "and" if isinstance(node.op, ast.And) else "or"

        def operand(e: ast.expr) -> Value:
            if truth:
                return self.condition(e, ctx)
            v = self.value(e, ctx)
            if v.kind is not Kind.BOOL:
                raise self.unsupported(
                    ctx.pf, e, f"`{word}` on a number is not supported",
                    why="s2sad gives `and`/`or` their boolean meaning only",
                    hint="compare explicitly, or write `a if cond else b` for a value")
            return v

        acc = operand(node.values[0])
        for e in node.values[1:]:
            blocks = []
            for side in ("then", "else"):
                self.b.push_block()
                evaluate = (side == "then") == (word == "and")
                v = operand(e) if evaluate else self.b.const(word == "or")
                blocks.append(self.b.pop_block((v,)))
            (acc,) = self.b.emit_multi("cond", (acc,), [Kind.BOOL], loc=ctx.pf.loc(node),
                                       regions=tuple(blocks))
        return acc

    def expr_IfExp(self, node: ast.IfExp, ctx, hint: str | None) -> Value:
        pred = self.condition(node.test, ctx)
        blocks, values = [], []
        for branch in (node.body, node.orelse):
            self.b.push_block()
            v = self.value(branch, ctx)
            values.append(v)
            blocks.append(self.b.pop_block((v,)))
        kind = self._join_kind(ctx, node, values[0].kind, values[1].kind)
        (out,) = self.b.emit_multi("cond", (pred,), [kind], hints=[hint], loc=ctx.pf.loc(node),
                                   regions=tuple(blocks))
        return out

    # -- if ----------------------------------------------------------------------------------
    def visit_Assert(self, node: ast.Assert, ctx) -> None:
        """``assert test, message``: ``if not test: raise AssertionError(message)``, a check
        of the primal that runs where it stands (and, as in Python, not under ``-O``)."""
        args = [] if node.msg is None else [node.msg]
        check = ast.If(test=ast.UnaryOp(op=ast.Not(), operand=node.test), body=[ast.Raise(
            exc=ast.Call(func=ast.Name(id="AssertionError", ctx=ast.Load()), args=args,
                         keywords=[]), cause=None)], orelse=[])
        ast.copy_location(check, node)
        for sub in ast.walk(check):
            if not hasattr(sub, "lineno"):
                ast.copy_location(sub, node)
        if sys.flags.optimize:
            return None
        if isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str):
            message = node.msg.value
        else:  # Python's own text would be empty (or the message's value): say which check
            loc = ctx.pf.loc(node)
            message = (f"`{ast.unparse(node)}` failed (line {loc.lineno} of "
                       f"{os.path.basename(loc.filename)})")
        failed = self.condition(check.test, ctx)
        if not (self.b.is_const(failed) and not self.b.const_value(failed)):  # else it holds
            self.raise_if(failed, check.body[0], ctx, message)
        return None

    def visit_If(self, node: ast.If, ctx, rest: list[ast.stmt]):
        pred = self.condition(node.test, ctx)
        if len(node.body) == 1 and isinstance(node.body[0], ast.Raise):
            # `if <test>: raise ValueError("...")`: the check runs where it stands, and the
            # function goes on (with the `else` branch, if any)
            self.raise_if(pred, node.body[0], ctx)
            return self.stmts(node.orelse, ctx) if node.orelse else None
        if self.b.is_const(pred):  # known when s2sad compiles (`cfg["act"] == "tanh"`)
            return self.stmts(node.body if self.b.const_value(pred) else node.orelse, ctx)
        if not has_exit([node]):
            envs, blocks = [], []
            for branch in (node.body, node.orelse):
                sub = ctx.branch()
                self.b.push_block()
                self.stmts(branch, sub)
                envs.append(sub.env)
                blocks.append(self.b.pop_block(()))
            self._join(node, ctx, pred, blocks, envs, new_names_too=True)
            return None
        # A branch may leave early: each branch takes the rest of the statements with it.
        outcomes, envs, blocks = [], [], []
        for branch in (node.body, node.orelse):
            sub = ctx.branch()
            self.b.push_block()
            out = self.stmts(list(branch) + list(rest), sub)
            if out is None and ctx.in_loop:
                out = LoopEnd(None)  # the end of the loop body
            outcomes.append(out)
            envs.append(sub.env)
            blocks.append(self.b.pop_block(()))
        if ctx.in_loop:
            return self._join_loop_ends(node, ctx, pred, blocks, envs, outcomes)
        return self._join_returns(node, ctx, pred, blocks, outcomes)

    def raise_if(self, pred: Value, node: ast.Raise, ctx, message: str | None = None) -> None:
        """A ``raise`` of a builtin exception under a test: an effect of the primal
        (``message``: the exception's text, if not the constant the source gives)."""
        import builtins

        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        name = exc.id if isinstance(exc, ast.Name) else None
        cls = getattr(builtins, name, None) if name else None
        if not (isinstance(cls, type) and issubclass(cls, Exception)) or node.cause is not None:
            raise self.unsupported(ctx.pf, node, "only `raise` of a builtin exception "
                                   "(`raise ValueError(\"...\")`) under an `if` is supported",
                                   hint="raise ValueError, TypeError, IndexError, ... with a "
                                        "message")
        args = node.exc.args if isinstance(node.exc, ast.Call) else []
        message = message or (args[0].value if len(args) == 1 and isinstance(args[0], ast.Constant)
                   and isinstance(args[0].value, str) else
                   f"raised as `{ast.unparse(node)}` at line {ctx.pf.loc(node).lineno}")
        self.b.emit("raise_if", (pred,), attrs=(("exc", name), ("message", message)),
                    loc=ctx.pf.loc(node))

    def _join_kind(self, ctx, node: ast.AST, a: Kind, b: Kind) -> Kind:
        try:
            return join_kinds(a, b)
        except ValueError:
            raise self.unsupported(ctx.pf, node, f"the branches give a {a.value} and a "
                                   f"{b.value}", hint="make both branches compute the same "
                                   "kind of value") from None

    def _join(self, node: ast.AST, ctx, pred: Value, blocks, envs, *, new_names_too: bool,
              extra: list[tuple[Value, Value]] | None = None) -> list[Value]:
        """Make ``cond`` yield every variable that differs between the branches."""
        pre = ctx.env
        names = []
        for name in dict.fromkeys([*envs[0], *envs[1]]):
            values = [e.get(name) for e in envs]
            if any(v is None or isinstance(v, Undefined) for v in values):
                if name in pre or new_names_too:
                    if not (name in pre and all(v is pre[name] for v in values if v)):
                        pre[name] = Undefined(f"it is assigned in only one branch of the `if` "
                                              f"at line {ctx.pf.loc(node).lineno}")
                continue
            if name in pre and all(v is pre[name] for v in values):
                continue
            if name not in pre and not new_names_too:
                continue
            if any(isinstance(v, tuple) for v in values):
                raise self.unsupported(ctx.pf, node, f"`{name}` holds a tuple that differs "
                                       "between the branches",
                                       hint="assign its elements to separate names")
            if not all(isinstance(v, Value) for v in values):
                raise self.unsupported(ctx.pf, node, f"`{name}` is a different function (or "
                                       "shape) on each branch of the `if`",
                                       why="s2sad calls functions it knows when it compiles",
                                       hint="call each function in its own branch")
            names.append(name)
        pairs = [(envs[0][n], envs[1][n]) for n in names] + list(extra or [])
        for block, side in zip(blocks, (0, 1), strict=True):
            block.yields = tuple(p[side] for p in pairs)
        kinds = [self._join_kind(ctx, node, a.kind, b.kind) for a, b in pairs]
        hints = [*map(self.hint_of, names), *["broke"] * len(extra or [])]
        results = self.b.emit_multi("cond", (pred,), kinds, hints=hints,
                                    loc=ctx.pf.loc(node), regions=tuple(blocks))
        for (a, b), value in zip(pairs, results, strict=False):
            if value.kind is Kind.ARRAY:  # an array may come from anywhere; owned if both are
                if self.owns(a) and self.owns(b):
                    self.owned.add(value)
                continue
            if a in self.owned or b in self.owned:
                if not (a in self.owned and b in self.owned):
                    raise self.unsupported(ctx.pf, node, "a list is created in one branch and "
                                           "taken from an argument in the other",
                                           hint="copy the argument: `list(xs)`")
                self.owned.add(value)
        for name, value in zip(names, results, strict=False):
            pre[name] = value
        return list(results[len(names):])

    def _join_returns(self, node: ast.AST, ctx, pred: Value, blocks, outcomes):
        from .lower import Returned

        if not all(isinstance(o, Returned) for o in outcomes):
            raise self.unsupported(
                ctx.pf, node, "this `if` returns on one path and falls off the end of the "
                "function on another", why="every path of the function must return a value",
                hint="add a `return` at the end of the function")
        flat: list[list[Value]] = [[], []]
        structures = [_flatten(o.value, flat[i]) for i, o in enumerate(outcomes)]
        if structures[0] != structures[1]:
            raise self.unsupported(ctx.pf, node, "the branches return different numbers of "
                                   "values", hint="return the same tuple shape on every path")
        pairs = list(zip(flat[0], flat[1], strict=True))
        for block, side in zip(blocks, (0, 1), strict=True):
            block.yields = tuple(p[side] for p in pairs)
        kinds = [self._join_kind(ctx, node, a.kind, b.kind) for a, b in pairs]
        results = self.b.emit_multi("cond", (pred,), kinds, loc=ctx.pf.loc(node),
                                    regions=tuple(blocks))
        return Returned(_unflatten(structures[0], list(results)))

    def _join_loop_ends(self, node: ast.AST, ctx, pred: Value, blocks, envs, outcomes):
        broke = [o.broke if o.broke is not None else self._false for o in outcomes]
        if all(self.b.is_const(v) and not self.b.const_value(v) for v in broke):
            self._join(node, ctx, pred, blocks, envs, new_names_too=False)
            return LoopEnd(None)
        (flag,) = self._join(node, ctx, pred, blocks, envs, new_names_too=False,
                             extra=[(broke[0], broke[1])])
        return LoopEnd(flag)

    # -- loops -------------------------------------------------------------------------------
    def visit_Break(self, node: ast.Break, ctx):
        return LoopEnd(self._true)

    def visit_Continue(self, node: ast.Continue, ctx):
        return LoopEnd(None)

    def _carried(self, node: ast.AST, ctx, body: list[ast.stmt], loop_vars: list[str]):
        names = []
        for name in assigned_names(body):
            if name in loop_vars:
                continue
            if name in ctx.env and not isinstance(ctx.env[name], Undefined):
                if not isinstance(ctx.env[name], Value):
                    raise self.unsupported(ctx.pf, node, f"the loop changes `{name}`, which "
                                           "holds a tuple, a shape or a function",
                                           hint="keep loop variables as separate numbers")
                names.append(name)
        return names

    def _after_loop(self, node: ast.AST, ctx, body: list[ast.stmt], carried: list[str],
                    loop_vars: list[str]) -> None:
        line = ctx.pf.loc(node).lineno
        for name in assigned_names(body):
            if name not in carried:
                ctx.env[name] = Undefined(f"it is assigned only inside the loop at line {line}; "
                                          "assign it before the loop")
        for var in loop_vars:
            ctx.env[var] = Undefined(f"it is a variable of the loop at line {line}, "
                                     "which s2sad does not keep after the loop")

    def _loop_body(self, ctx, body: list[ast.stmt], bind: dict[str, Any], carried: list[str],
                   arg_kinds: list[Kind], extra_args: list[tuple[Kind, str | None]]):
        """Lower one loop body with fresh block arguments; returns (block, args, env, end)."""
        extra = [self.b.fresh(k, h) for k, h in extra_args]
        args = [self.b.fresh(k, self.hint_of(n)) for k, n in zip(arg_kinds, carried, strict=True)]
        block = self.b.push_block(tuple(extra + args))
        for n, a in zip(carried, args, strict=True):
            if self.owns(ctx.env[n]):
                self.owned.add(a)
            self.arg_sources[a] = [ctx.env[n]]  # what flows in (see ArrayMixin.params_behind)
        sub = ctx.loop_body()
        sub.env.update(zip(carried, args, strict=True))
        if extra:
            sub.env.update(bind(extra[0]))
        end = self.stmts(body, sub)
        if end is None:
            end = LoopEnd(None)
        return block, extra, args, sub.env, end

    def _fixed_point(self, node, ctx, body, carried, bind, extra_args, inits,
                     finish) -> tuple:
        """Lower the body until the carried kinds are stable; ``finish`` closes the block."""
        kinds = [v.kind for v in inits]
        for _ in range(4):
            block, extra, args, env, end = self._loop_body(ctx, body, bind, carried, kinds,
                                                           extra_args)
            yields = [env[n] for n in carried]
            for n, y, a in zip(carried, yields, args, strict=True):
                if not isinstance(y, Value):
                    raise self.unsupported(ctx.pf, node, f"`{n}` is not a number at the end "
                                           "of the loop body")
                self.arg_sources[a].append(y)
            new = [self._join_kind(ctx, node, k, y.kind) for k, y in zip(kinds, yields,
                                                                         strict=True)]
            result = finish(block, extra, args, env, end, yields)
            if new == kinds:
                return result, kinds
            kinds = new
        raise self.unsupported(ctx.pf, node, "the kinds of the loop variables do not settle")

    def visit_For(self, node: ast.For, ctx):
        if isinstance(node.iter, ast.Call):  # zip(*groups): its items, when known
            node = ast.copy_location(ast.For(node.target, self.expand_starred(node.iter, ctx),
                                             node.body, node.orelse), node)
        if self.unrolled_for(node, ctx):  # over a container: once per item
            return None
        if node.orelse:
            raise self.unsupported(ctx.pf, node, "`for ... else` is not supported",
                                   hint=_ELSE_HINT)
        start, stop, step, bind = self.iteration(node.iter, node.target, ctx)
        targets = [n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)]
        index = targets[0] if isinstance(node.target, ast.Name) and _is_range(node.iter) else "i"
        return self._for_range(node, ctx, targets, index, bind, start, stop, step)

    def _range_bounds(self, it: ast.Call, ctx):
        if it.keywords or not 1 <= len(it.args) <= 3:
            raise self.unsupported(ctx.pf, it, "`range` takes 1 to 3 positional arguments")
        args = [self.need_int(self.value(a, ctx)) for a in it.args]
        for a, v in zip(it.args, args, strict=True):
            if v.kind is Kind.FLOAT and self.b.is_const(v):
                raise self.unsupported(ctx.pf, a, "`range` of a float", hint="use an int")
        one, zero = self.b.const(1), self.b.const(0)
        if len(args) == 1:
            return zero, args[0], one
        if len(args) == 2:
            return args[0], args[1], one
        if self.b.is_const(args[2], 0):
            raise self.unsupported(ctx.pf, it.args[2], "`range` with a zero step")
        return tuple(args)

    def _for_range(self, node: ast.For, ctx, targets: list[str], index: str, bind,
                   start, stop, step):
        carried = self._carried(node, ctx, node.body, targets)
        inits = [ctx.env[n] for n in carried]
        loc = ctx.pf.loc(node)
        if has_break(node.body):
            return self._for_as_while(node, ctx, targets, index, bind, start, stop, step,
                                      carried, inits)
        (block, yields), kinds = self._fixed_point(
            node, ctx, node.body, carried, bind, [(Kind.INT, self.hint_of(index))], inits,
            self._closing(carried))
        results = self.b.emit_multi("for_range", (start, stop, step, *inits), kinds,
                                    hints=[self.hint_of(n) for n in carried], loc=loc,
                                    regions=(block,))
        self.owned.update(r for r, i in zip(results, inits, strict=True) if self.owns(i))
        ctx.env.update(zip(carried, results, strict=True))
        self._after_loop(node, ctx, node.body, carried, targets)
        return None

    def _closing(self, carried):
        def finish(block, extra, args, env, end, yields):
            self.b.pop_block(tuple(yields))
            return block, yields
        return finish

    def _for_as_while(self, node, ctx, targets, index, bind, start, stop, step, carried, inits):
        """``for`` with ``break``: a while loop over (i, carried..., broke)."""
        loc = ctx.pf.loc(node)
        names = [self.hint_of(index), *[self.hint_of(n) for n in carried], "broke"]
        init_vals = [start, *inits, self._false]
        flag_carried = carried + ["broke"]

        def finish(block, extra, args, env, end, yields):
            i = extra[0]
            flag = end.broke if end.broke is not None else self._false
            nxt = self.b.emit("add", (i, step), loc=loc)
            self.b.pop_block((nxt, *yields, flag))
            return block, yields

        (body, _), kinds = self._fixed_point(
            node, ctx, node.body, carried, bind, [(Kind.INT, self.hint_of(index))], inits,
            finish)
        all_kinds = [join_kinds(Kind.INT, start.kind), *kinds, Kind.BOOL]
        cond_args = [self.b.fresh(k, n) for k, n in zip(all_kinds, names, strict=True)]
        cond = self.b.push_block(tuple(cond_args))
        i, flag = cond_args[0], cond_args[-1]
        if self.b.is_const(step) and self.b.const_value(step) < 0:
            more = self.b.emit("gt", (i, stop), loc=loc)
        elif self.b.is_const(step):
            more = self.b.emit("lt", (i, stop), loc=loc)
        else:
            up = self.b.emit("gt", (step, self.b.const(0)), loc=loc)
            more = self.b.emit("or", (self.b.emit("and", (up, self.b.emit("lt", (i, stop))),
                                                   loc=loc),
                                      self.b.emit("and", (self.b.emit("not", (up,)),
                                                          self.b.emit("gt", (i, stop))))),
                               loc=loc)
        go = self.b.emit("and", (self.b.emit("not", (flag,), loc=loc), more), loc=loc)
        self.b.pop_block((go,))
        # The body's block args were (i, carried...); add the flag argument.
        body_flag = self.b.fresh(Kind.BOOL, "broke")
        body.args = (*body.args, body_flag)
        results = self.b.emit_multi("while_loop", tuple(init_vals), all_kinds,
                                    hints=names, loc=loc, regions=(cond, body))
        self.owned.update(r for r, i in zip(results, init_vals, strict=True) if self.owns(i))
        ctx.env.update(zip(carried, results[1:-1], strict=True))
        self._after_loop(node, ctx, node.body, flag_carried[:-1], targets)
        return None

    def visit_While(self, node: ast.While, ctx):
        if node.orelse:
            raise self.unsupported(ctx.pf, node, "`while ... else` is not supported",
                                   hint=_ELSE_HINT)
        carried = self._carried(node, ctx, node.body, [])
        if not carried:
            raise self.unsupported(ctx.pf, node, "this `while` loop changes no variable that "
                                   "exists before it", why="its condition could never change",
                                   hint="update the variables of the condition in the body "
                                        "(`y = y / 2`); a variable the body assigns carries "
                                        "its value out of the loop only if it exists before "
                                        "it")
        inits = [ctx.env[n] for n in carried]
        loc = ctx.pf.loc(node)
        breaks = has_break(node.body)

        def finish(block, extra, args, env, end, yields):
            tail = (end.broke if end.broke is not None else self._false,) if breaks else ()
            self.b.pop_block((*yields, *tail))
            return block, yields

        (body, _), kinds = self._fixed_point(node, ctx, node.body, carried, None, [], inits,
                                             finish)
        all_kinds = kinds + ([Kind.BOOL] if breaks else [])
        names = [self.hint_of(n) for n in carried] + (["broke"] if breaks else [])
        cond_args = [self.b.fresh(k, n) for k, n in zip(all_kinds, names, strict=True)]
        cond = self.b.push_block(tuple(cond_args))
        sub = ctx.branch()
        sub.env.update(zip(carried, cond_args, strict=False))
        test = self.condition(node.test, sub)
        if breaks:
            test = self.emit("and", [self.emit("not", [cond_args[-1]], ctx, node), test], ctx,
                             node)
        self.b.pop_block((test,))
        if breaks:
            body.args = (*body.args, self.b.fresh(Kind.BOOL, "broke"))
            inits = [*inits, self._false]
        results = self.b.emit_multi("while_loop", tuple(inits), all_kinds, hints=names,
                                    loc=loc, regions=(cond, body))
        self.owned.update(r for r, i in zip(results, inits, strict=False) if self.owns(i))
        ctx.env.update(zip(carried, results, strict=False))
        self._after_loop(node, ctx, node.body, carried, [])
        return None

    @property
    def _true(self) -> Value:
        return self.b.const(True)

    @property
    def _false(self) -> Value:
        return self.b.const(False)


def _is_range(it: ast.expr) -> bool:
    return isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"


def _flatten(value: Any, flat: list[Value]):
    if isinstance(value, tuple):
        return tuple(_flatten(v, flat) for v in value)
    flat.append(value)
    return len(flat) - 1


def _unflatten(structure: Any, flat: list[Value]):
    if isinstance(structure, tuple):
        return tuple(_unflatten(s, flat) for s in structure)
    return flat[structure]


def _cmp_symbol(op: ast.cmpop) -> str:
    return {ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}.get(
        type(op), type(op).__name__)

