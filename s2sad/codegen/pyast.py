"""IR → Python ``ast``: readable, standalone functions.

Rules (DESIGN §6):

* Names come from the source: a value the user named keeps its name, a
  tangent of ``x`` is ``x_dot``, an adjoint ``x_bar``, a temporary ``_t0``.
  Names s2sad makes never clash with any identifier of the user's source nor
  with ``math``/``np``; a name whose old value is dead is reused, so an
  accumulation reads ``x_bar += ...``.
* Single-use temporaries are folded back into the expression that uses them,
  as long as a statement holds at most :data:`MAX_OPS` operations; longer
  chains are split into statements, so lines stay short and 10,000 chained
  operations never hit a ``RecursionError``.  Before a name is
  rebound, every pending folded expression that reads it is written out.
* Constants print as literals (a negative one as ``-2.0``, which the
  renderer parenthesises as a base of ``**``); ``x ** 2`` is spelt ``x * x``.
* Only ``math`` and ``numpy as np`` are ever referenced.
"""

from __future__ import annotations

import ast
import keyword
import math
from typing import Any

from .. import primitives as P
from ..errors import InternalError
from ..ir.core import NO_DEFAULT, Function, Op, Value

MAX_OPS = 6
MODULE_NAMES = {P.MATH: "math", P.NUMPY: "np"}
# Names generated code refers to: never given to a value.
RESERVED = frozenset({"math", "np", "numpy", "abs", "max", "min", "pow", "round", "int",
                      "float"}) | frozenset(keyword.kwlist)

_BINOPS = {"Add": ast.Add, "Sub": ast.Sub, "Mult": ast.Mult, "Div": ast.Div, "Pow": ast.Pow,
           "FloorDiv": ast.FloorDiv, "Mod": ast.Mod}
_CMPOPS = {"Lt": ast.Lt, "LtE": ast.LtE, "Gt": ast.Gt, "GtE": ast.GtE, "Eq": ast.Eq,
           "NotEq": ast.NotEq}
_AUG = {"add", "sub", "mul", "div"}


def _name(n: str) -> ast.Name:
    return ast.Name(id=n, ctx=ast.Load())


def _needs_named_operand(op: Op) -> bool:
    """Ops that spell their operand twice (``x * x``, the scalar ``sign``)."""
    return (op.prim == "powc" and op.attr("exponent") == 2) or (
        op.prim == "sign" and op.attr("lib") != P.NUMPY
    )


class _Namer:
    def __init__(self, user_names: frozenset[str]) -> None:
        self.user_names = user_names
        self.bound: set[str] = set()
        self.temps = 0

    def _free(self, name: str, derived: bool) -> bool:
        if name in self.bound or name in RESERVED:
            return False
        return not (derived and name in self.user_names)

    def fresh(self, hint: str | None) -> str:
        if hint is None:
            while True:
                name = f"_t{self.temps}"
                self.temps += 1
                if self._free(name, True):
                    break
        else:
            derived = "." in hint
            base = hint.replace(".", "_")
            name, k = base, 0
            while not self._free(name, derived):
                k += 1
                name = f"{base}_{k}"
        self.bound.add(name)
        return name


class _FunctionWriter:
    def __init__(self, fn: Function) -> None:
        self.fn = fn
        self.namer = _Namer(fn.names_used)
        self.modules: set[str] = set()
        self.names: dict[Value, str] = {}  # values bound to a Python name
        self.consts: dict[Value, Any] = {}
        self.pending: dict[Value, tuple[ast.expr, int, frozenset[str]]] = {}
        self.body: list[ast.stmt] = []
        self.uses: dict[Value, int] = {}
        self.last_use: dict[Value, int] = {}
        self.users: dict[Value, Op] = {}

    # -- analysis ----------------------------------------------------------------------------
    def _count_uses(self) -> None:
        for i, op in enumerate(self.fn.body.ops):
            for v in op.operands:
                self.uses[v] = self.uses.get(v, 0) + 1
                self.last_use[v] = i
                self.users[v] = op
        end = len(self.fn.body.ops)
        for v in self.fn.results:
            self.uses[v] = self.uses.get(v, 0) + 1
            self.last_use[v] = end

    def _inlinable(self, op: Op) -> bool:
        """Fold a single-use temporary, or a partial sum of an adjoint into the next one."""
        v = op.result
        if self.uses.get(v, 0) != 1:
            return False
        user = self.users.get(v)
        if user is not None and _needs_named_operand(user):
            return False
        if v.hint is None:
            return True
        return "." in v.hint and user is not None and user.results[0].hint == v.hint

    # -- expressions -------------------------------------------------------------------------
    def _const_expr(self, value: Any) -> ast.expr:
        if isinstance(value, float) and not math.isfinite(value):
            self.modules.add(P.MATH)
            if math.isnan(value):
                return ast.Attribute(_name("math"), "nan", ast.Load())
            inf = ast.Attribute(_name("math"), "inf", ast.Load())
            return inf if value > 0 else ast.UnaryOp(ast.USub(), inf)
        if not isinstance(value, bool) and value < 0 or (
            isinstance(value, float) and math.copysign(1.0, value) < 0
        ):
            return ast.UnaryOp(ast.USub(), ast.Constant(-value))
        return ast.Constant(value)

    def _operand(self, v: Value) -> tuple[ast.expr, int, frozenset[str]]:
        """The expression for an operand (a name, a literal, or a folded expression),
        the number of operations it holds, and the names it reads."""
        if v in self.consts:
            return self._const_expr(self.consts[v]), 0, frozenset()
        if v in self.pending:
            return self.pending.pop(v)
        name = self.names.get(v)
        if name is None:
            raise InternalError(f"codegen: {v} used before it is defined")
        return _name(name), 0, frozenset({name})

    def _call(self, lib: str, fname: str, args: list[ast.expr]) -> ast.expr:
        if lib == P.BUILTIN:
            func: ast.expr = _name(fname)
        else:
            self.modules.add(lib)
            func = ast.Attribute(_name(MODULE_NAMES[lib]), fname, ast.Load())
        return ast.Call(func=func, args=args, keywords=[])

    def _op_expr(self, op: Op) -> tuple[ast.expr, int, frozenset[str]]:
        parts = [self._operand(v) for v in op.operands]
        args = [p[0] for p in parts]
        size = 1 + sum(p[1] for p in parts)
        reads = frozenset().union(*(p[2] for p in parts)) if parts else frozenset()
        prim = P.PRIMITIVES[op.prim]
        lib = op.attr("lib")
        name = op.prim
        if name == "powc":
            n = op.attr("exponent")
            if n == 2 and isinstance(args[0], ast.Name):
                expr: ast.expr = ast.BinOp(args[0], ast.Mult(), args[0])
            else:
                expr = ast.BinOp(args[0], ast.Pow(), self._const_expr(n))
        elif name == "pow" and lib in (P.MATH, P.NUMPY, P.BUILTIN):
            expr = self._call(lib, prim.names[lib], args)
        elif name == "select":
            expr = ast.IfExp(test=args[0], body=args[1], orelse=args[2])
        elif name == "sign" and lib != P.NUMPY:
            x = args[0]
            expr = ast.IfExp(
                test=ast.Compare(x, [ast.Gt()], [ast.Constant(0)]), body=ast.Constant(1.0),
                orelse=ast.IfExp(test=ast.Compare(x, [ast.Lt()], [ast.Constant(0)]),
                                 body=ast.UnaryOp(ast.USub(), ast.Constant(1.0)),
                                 orelse=ast.Constant(0.0)))
        elif prim.operator in _BINOPS:
            expr = ast.BinOp(args[0], _BINOPS[prim.operator](), args[1])
        elif prim.operator in _CMPOPS:
            expr = ast.Compare(args[0], [_CMPOPS[prim.operator]()], [args[1]])
        elif prim.operator == "USub":
            expr = ast.UnaryOp(ast.USub(), args[0])
        elif prim.operator == "Not":
            expr = ast.UnaryOp(ast.Not(), args[0])
        elif lib in prim.names:
            expr = self._call(lib, prim.names[lib], args)
        else:
            raise InternalError(f"codegen: no Python spelling for {name} with lib={lib}")
        return expr, size, reads

    # -- statements --------------------------------------------------------------------------
    def _flush_readers(self, name: str) -> None:
        """Write out pending folded expressions that read ``name`` before it is rebound."""
        for v in [v for v, (_, _, reads) in self.pending.items() if name in reads]:
            self._bind(v, self.pending.pop(v)[0], self.namer.fresh(None))

    def _bind(self, v: Value, expr: ast.expr, name: str, aug: ast.operator | None = None,
              rhs: ast.expr | None = None) -> None:
        target = ast.Name(id=name, ctx=ast.Store())
        if aug is not None:
            self.body.append(ast.AugAssign(target=target, op=aug, value=rhs))
        else:
            self.body.append(ast.Assign(targets=[target], value=expr))
        self.names[v] = name

    def _reusable_name(self, op: Op, index: int) -> str | None:
        """An operand's name to reuse for the result: same hint, and dead after this op."""
        v = op.result
        if v.hint is None:
            return None
        for u in op.operands:
            if (u.hint == v.hint and u in self.names and self.last_use.get(u) == index
                    and u not in self.fn.results):
                return self.names[u]
        return None

    def _statement(self, op: Op, index: int) -> None:
        v = op.result
        reuse = self._reusable_name(op, index)
        if reuse is not None:
            self._flush_readers(reuse)
        expr, size, reads = self._op_expr(op)
        if reuse is None and self._inlinable(op) and size <= MAX_OPS:
            self.pending[v] = (expr, size, reads)
            return
        if reuse is not None:
            aug = self._augmented(op, reuse, expr)
            if aug is not None:
                self._bind(v, expr, reuse, aug[0], aug[1])
                return
        self._bind(v, expr, reuse or self.namer.fresh(v.hint))

    def _augmented(self, op: Op, name: str, expr: ast.expr):
        """``x = x + e`` → ``x += e`` (also for ``e + x``: float addition is commutative)."""
        if op.prim not in _AUG or not isinstance(expr, ast.BinOp):
            return None
        left, right = expr.left, expr.right
        if isinstance(left, ast.Name) and left.id == name:
            return expr.op, right
        if op.prim in ("add", "mul") and isinstance(right, ast.Name) and right.id == name:
            return expr.op, left
        return None

    def _structure(self, s) -> ast.expr:
        if isinstance(s, tuple):
            return ast.Tuple(elts=[self._structure(x) for x in s], ctx=ast.Load())
        return self.results[s]

    def write(self) -> ast.FunctionDef:
        fn = self.fn
        self._count_uses()
        args = []
        for p in fn.params:
            name = self.namer.fresh(p.hint if p.hint else "arg")
            self.names[p] = name
            args.append(ast.arg(arg=name))
        for i, op in enumerate(fn.body.ops):
            if op.prim == "const":
                self.consts[op.result] = op.attr("value")
                continue
            if op.regions:
                raise InternalError("codegen: structured ops are not supported yet")
            self._statement(op, i)
        self.results = [self._operand(v)[0] for v in fn.results]
        ret = ast.Return(value=self._structure(fn.structure))
        doc = [ast.Expr(ast.Constant(fn.docstring))] if fn.docstring else []
        defaults = [self._const_expr(d) for d in fn.defaults if d is not NO_DEFAULT]
        return ast.FunctionDef(
            name=fn.name,
            args=ast.arguments(posonlyargs=[], args=args, vararg=None, kwonlyargs=[],
                               kw_defaults=[], kwarg=None, defaults=defaults),
            body=doc + self.body + [ret],
            decorator_list=[],
            returns=None,
            type_comment=None,
            **({"type_params": []} if hasattr(ast, "TypeAlias") else {}),
        )


def function_def(fn: Function) -> tuple[ast.FunctionDef, set[str]]:
    """The ``def`` for ``fn`` and the modules (``"math"``, ``"numpy"``) it uses."""
    writer = _FunctionWriter(fn)
    node = writer.write()
    return node, writer.modules


def module(fns: list[Function], header: str | None = None) -> ast.Module:
    """A module defining ``fns``, with its imports and an optional header docstring."""
    defs, modules = [], set()
    for fn in fns:
        node, used = function_def(fn)
        defs.append(node)
        modules |= used
    body: list[ast.stmt] = []
    if header:
        body.append(ast.Expr(ast.Constant(header)))
    if P.MATH in modules:
        body.append(ast.Import(names=[ast.alias(name="math")]))
    if P.NUMPY in modules:
        body.append(ast.Import(names=[ast.alias(name="numpy", asname="np")]))
    body.extend(defs)
    mod = ast.Module(body=body, type_ignores=[])
    return ast.fix_missing_locations(mod)
