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
* Only ``math`` and ``numpy as np`` are ever referenced, and the small helpers
  of :mod:`s2sad.runtime` that array derivatives call, which the module defines.
  An array is never updated in place (``a += b``): it may be shared.  The one
  exception is an assignment into an array (``index_set``): ``h[t] = v`` is
  written in place when nothing can see the old array any more (see
  :meth:`_FunctionWriter._in_place`), and on a copy (``h = h.copy()``) otherwise.
"""

from __future__ import annotations

import ast
import keyword
import math
from typing import Any

from .. import primitives as P
from .. import runtime
from ..errors import InternalError, S2SADError
from ..ir.core import (
    KEYWORD_ONLY,
    NO_DEFAULT,
    ArrayDefault,
    Block,
    Function,
    FunctionDefault,
    Kind,
    Op,
    Pack,
    Static,
    Value,
    values_read,
    walk_ops,
)
from . import arrays, njit, xp

MAX_OPS = 6
MODULE_NAMES = {P.MATH: "math", P.NUMPY: "np", P.SCIPY: "scipy.special"}
# Names generated code refers to: never given to a value.
RESERVED = frozenset({"math", "np", "numpy", "scipy", "abs", "max", "min", "pow", "round", "int",
                      "float", "range", "reversed", "len", "list", "zip", "hasattr",
                      "slice"}) | frozenset(keyword.kwlist) | arrays.HELPER_NAMES | (
    njit.RESERVED) | frozenset(njit.HELPERS) | xp.RESERVED | frozenset(xp.HELPERS)

_BINOPS = {"Add": ast.Add, "Sub": ast.Sub, "Mult": ast.Mult, "Div": ast.Div, "Pow": ast.Pow,
           "FloorDiv": ast.FloorDiv, "Mod": ast.Mod}
_CMPOPS = {"Lt": ast.Lt, "LtE": ast.LtE, "Gt": ast.Gt, "GtE": ast.GtE, "Eq": ast.Eq,
           "NotEq": ast.NotEq}
_AUG = {"add", "sub", "mul", "div"}


def _name(n: str) -> ast.Name:
    return ast.Name(id=n, ctx=ast.Load())


def _needs_named_operand(op: Op) -> bool:
    """Ops that spell their operand twice (``x * x``, the scalar ``sign``) or update it."""
    return (op.prim == "powc" and op.attr("exponent") == 2) or (
        op.prim == "sign" and op.attr("lib") != P.NUMPY
    ) or op.prim in ("add_at", "append", "setitem", "list_pop", "index_set", "index_add")


class _Namer:
    def __init__(self, user_names: frozenset[str]) -> None:
        self.user_names = user_names
        self.bound: set[str] = set()
        self.temps = 0
        self.suffix: dict[str, int] = {}  # the next suffix to try for each base name
        self.imported: set[str] = set()  # custom primitives the module imports by name

    def _free(self, name: str, derived: bool) -> bool:
        if name in self.bound or name in RESERVED or name in self.imported:
            return False
        return not (derived and name in self.user_names)

    def fresh(self, hint: str | None) -> str:
        if hint == "_":  # a loop variable nobody reads: `_` may be bound any number of times
            return "_"
        if hint is None:
            while True:
                name = f"_t{self.temps}"
                self.temps += 1
                if self._free(name, True):
                    break
        else:
            derived = "." in hint
            base = hint.replace(".", "_")
            name, k = base, self.suffix.get(base, 0)
            if k:
                name = f"{base}_{k}"
            while not self._free(name, derived):
                k += 1
                name = f"{base}_{k}"
            self.suffix[base] = k + 1
        self.bound.add(name)
        return name


_LOOPS = ("for_range", "while_loop")
_AUG = {"add": ast.Add(), "sub": ast.Sub(), "mul": ast.Mult(), "div": ast.Div()}
# array ops whose result may be (a view of) their first operand, or of any operand
_VIEWS = ("np_index", "transpose", "reshape", "ravel", "reshape_like", "swapaxes",
          "expand_dims", "squeeze", "unbroadcast", "sum_to", "broadcast_like",
          "stop_gradient", "one_array", "same_value", "logsumexp_shift")
# ops whose array result is not a new array (or is not known to be one)
_NOT_NEW = frozenset(_VIEWS) | {"select", "tape_read", "list_pop", "getitem", "const",
                                "env_array", "ckpt_restore"}


def _loop_slots(op: Op):
    """(initial values, the block args of each region for each slot, yields, results)."""
    if op.prim == "for_range":
        body = op.regions[0]
        return op.operands[3:], [body.args[1:]], body.yields, op.results
    cond, body = op.regions
    return op.operands, [cond.args, body.args], body.yields, op.results
_FLOAT_ARITH = ("add", "sub", "mul", "div", "select", "max2", "min2")
# IR ops the Numba target refuses: (the construct, why)
_NUMBA_REFUSED = {
    "append": ("`append` on a list",
               "on the Numba target a list is a 1-D float64 array, whose length is fixed"),
    "list_pop": ("`pop` on a list",
                 "on the Numba target a list is a 1-D float64 array, whose length is fixed"),
    "attr_update": ("updating an attribute of `self`",
                    "nopython code cannot change a Python object"),
}

# IR ops the array API target refuses: (the construct, why)
_ARRAY_API_REFUSED = {
    "env_array": ("reading an array of the function's environment",
                  "its value is a NumPy array, of no namespace the arguments choose"),
    "like_argument": ("reading an argument item by item (`x[0]`, `x[i]`)",
                      "its adjoint is built as a Python list, written item by item"),
}

_ARRAY_API_HINTS: dict[str, str] = {}


class _FunctionWriter:
    def __init__(self, fn: Function, target: str = "python") -> None:
        self.fn = fn
        self.numba = target == "numba"  # the Numba target (see njit.py)
        self.array_api = target == xp.TARGET  # the array API target (see xp.py)
        self.producer = {r: op for op in walk_ops(fn.body) for r in op.results} if (
            self.array_api) else {}
        self.loc = None  # where the op being written was written (for located errors)
        # Numba tapes: tag -> (columns, kinds); tag -> counter name; tapes whose allocation
        # waits for the loop that fills them (value -> (name, tag)); preallocated tags
        self.tape_columns: dict[Any, list[Kind]] = {}
        self.tape_count: dict[Any, str] = {}
        self.tape_later: dict[Value, tuple[str, Any]] = {}
        self.tape_sized: set[Any] = set()
        self.tape_of: dict[Value, Any] = {}  # tape_new's value -> its pushes' tag
        self.namer = _Namer(fn.names_used)
        # module-level names: custom primitives imported by name, environment arrays
        self.namer.imported = {P.PRIMITIVES[op.prim].imported[1] for op in walk_ops(fn.body)
                               if P.PRIMITIVES[op.prim].imported is not None} | {
            op.attr("name") for op in walk_ops(fn.body) if op.prim == "env_array"}
        self.modules: set[str] = set()
        self.helpers: set[str] = set()  # helpers of s2sad.runtime the function calls
        self.names: dict[Value, str] = {}  # values bound to a Python name
        self.target: dict[Value, str] = {}  # names decided before the value is built
        self.consts: dict[Value, Any] = {}
        self.defs: dict[Value, Op] | None = None  # (built when a loop asks)
        self.skipped: set[Op] = set()  # ops a loop header computes (`for v in xs:`)
        self.pending: dict[Value, tuple[ast.expr, int, frozenset[str]]] = {}
        self.body: list[ast.stmt] = []
        self.uses: dict[Value, list[float]] = {}  # positions of each use (loops extended)
        self.use_block: dict[Value, Block] = {}
        self.users: dict[Value, Op | None] = {}
        self.pos: dict[Op, int] = {}
        self.end: dict[Op, int] = {}
        self.def_pos: dict[Value, float] = {}
        self.def_block: dict[Value, Block] = {}
        self.region_end: dict[Block, float] = {}
        self.region_span: dict[Block, tuple[float, float]] = {}
        self.branches: list[tuple[tuple[float, float], ...]] = []  # each cond's two spans
        self.holder: dict[str, Value] = {}  # which value each name holds now
        # arrays: which values are new arrays, what else may share each one's memory,
        # which were recorded on a tape (see _in_place)
        self.new_arrays: set[Value] = set()
        self.upstream: dict[Value, tuple[Op, list[Value]]] = {}
        self.aliases: dict[Value, list[Value]] = {}
        self.carried: dict[Value, list[tuple[Op, list[Value]]]] = {}
        self.taped: set[Value] = set()
        # (a yield, the if's result) -> the span of the branch that yields it
        self.alias_span: dict[tuple[Value, Value], tuple[float, float]] = {}

    # -- analysis ----------------------------------------------------------------------------
    def _analyse(self) -> None:
        """Number the ops in program order; record every use, and where each value lives.

        A use inside a loop of a value defined outside it counts at the end of
        the loop: the loop reads the value again on every iteration.
        """
        counter = 0

        def number(block: Block) -> None:
            nonlocal counter
            for op in block.ops:
                counter += 1
                self.pos[op] = counter
                for region in op.regions:
                    number(region)
                    counter += 1  # the region's yields
                self.end[op] = counter

        number(self.fn.body)
        for p in self.fn.params:
            self.def_pos[p] = 0
            self.def_block[p] = self.fn.body

        def use(v: Value, at: int, loops: list[Op], block: Block, user: Op | None) -> None:
            for loop in loops:  # outermost first
                if not self.pos[loop] < self.def_pos.get(v, 0) <= self.end[loop]:
                    at = max(at, self.end[loop])
                    break
            self.uses.setdefault(v, []).append(at)
            self.use_block[v] = block
            self.users[v] = user

        def walk(block: Block, loops: list[Op]) -> None:
            for op in block.ops:
                for v in op.operands:
                    use(v, self.pos[op], loops, block, op)
                inner = loops + [op] if op.prim in _LOOPS else loops
                for region in op.regions:
                    for a in region.args:
                        self.def_pos[a] = self.pos[op] + 0.5
                        self.def_block[a] = region
                    walk(region, inner)
                    # the yields are read after the region's last op
                    at = max((self.end[o] for o in region.ops), default=self.pos[op]) + 0.5
                    self.region_end[region] = at
                    first = min((self.pos[o] for o in region.ops), default=at)
                    self.region_span[region] = (first, at)
                    for v in region.yields:
                        use(v, at, inner, region, None)
                if op.prim == "cond":
                    self.branches.append(tuple(self.region_span[r] for r in op.regions))
                for r in op.results:
                    self.def_pos[r] = self.pos[op]
                    self.def_block[r] = block

        walk(self.fn.body, [])
        if self.numba:
            self._analyse_tapes()
        end = max(self.end.values(), default=0) + 1
        for v in self.fn.results:
            self.uses.setdefault(v, []).append(end)
            self.users[v] = None
            self.use_block[v] = self.fn.body
        self._analyse_arrays(self.fn.body)

    def _analyse_tapes(self) -> None:
        """Numba tapes: the columns of each tape (what one push records), and the tapes a
        ``for`` loop of the same block fills, allocated before it with its trip count."""
        for op in walk_ops(self.fn.body):
            if op.prim == "tape_push":
                kinds = [v.kind for v in op.operands[1:]]
                if Kind.LIST in kinds:
                    raise njit.refuse("a loop that changes a list its reverse sweep reads",
                                      op.loc, why="its tape would record a copy of the list "
                                      "on every iteration; a Numba tape is a float64 array "
                                      "with one row of numbers per iteration")
                self.tape_columns[op.attr("tape")] = kinds

        def blocks(block: Block) -> None:
            new = {op.result for op in block.ops if op.prim == "tape_new"}
            for op in block.ops:
                if op.prim in _LOOPS:
                    inits, arg_lists, _, _ = _loop_slots(op)
                    for v, arg in zip(inits, arg_lists[-1], strict=True):
                        push = next((o for o in walk_ops(op.regions[-1])
                                     if o.prim == "tape_push" and o.operands[0] is arg), None)
                        if v in new and push is not None:
                            self.tape_of[v] = push.attr("tape")
                            if op.prim == "for_range":  # allocated with the trip count
                                self.tape_later[v] = ("", push.attr("tape"))
                for region in op.regions:
                    blocks(region)

        blocks(self.fn.body)

    def _analyse_arrays(self, block: Block) -> None:
        """Which arrays are new, and which values may share an array's memory."""
        for op in block.ops:
            if op.prim in _LOOPS:
                self._analyse_loop_body(op)
            else:
                for region in op.regions:
                    self._analyse_arrays(region)
            if op.prim in ("tape_push", "ckpt_take"):  # (a snapshot is a record too)
                self.taped.update(op.operands[1:])
            elif op.prim in _VIEWS or (self.array_api and op.prim == "np_copy"):
                # (the array API target writes no copy: `y = x.copy()` is x itself)
                self.aliases.setdefault(op.operands[0], []).append(op.results[0])
            elif op.prim == "select":
                for v in op.operands[1:]:
                    self.aliases.setdefault(v, []).append(op.results[0])
            elif op.prim == "cond":
                for region in op.regions:
                    for y, r in zip(region.yields, op.results, strict=True):
                        self.aliases.setdefault(y, []).append(r)
                        self.alias_span[(y, r)] = self.region_span[region]
                # a result is a new array when every branch yields a new array that
                # nothing reads after the branch: what it came from is its upstream
                for j, r in enumerate(op.results):
                    ys = [region.yields[j] for region in op.regions]
                    if r.kind is Kind.ARRAY and all(
                            y in self.new_arrays and y not in self.fn.results
                            and self._last_use(y) <= self.end[op] for y in ys):
                        self.new_arrays.add(r)
                        self.upstream[r] = (op, ys)
            elif op.prim in _LOOPS:
                inits, arg_lists, yields, results = _loop_slots(op)
                for j, (init, y, r) in enumerate(zip(inits, yields, results, strict=True)):
                    same = [args[j] for args in arg_lists] + [r]
                    self.carried.setdefault(init, []).append((op, same))
                    self.carried.setdefault(y, []).append((op, same))
                    for a in same:
                        self.upstream[a] = (op, [init, y] if a is r else [init])
                    # a new array that only this loop still reads, and new in every
                    # iteration: the loop's value is a new array too
                    if (init in self.new_arrays and init not in self.fn.results
                            and self._last_use(init) == self.pos[op] and y in self.new_arrays):
                        self.new_arrays.update(same)
            elif (not op.regions and len(op.results) == 1 and op.prim not in _NOT_NEW
                  and op.results[0].kind is Kind.ARRAY
                  and not (self.array_api and op.prim == "np_copy")):
                self.new_arrays.add(op.results[0])

    def _analyse_loop_body(self, op: Op) -> None:
        """Analyse a loop's body, its carried slots taken as new arrays where they may be
        (a new array that only the loop reads comes in): an array threaded through nested
        loops (an adjoint that items are added into) is then updated in place at every
        level.  A slot whose yield turns out not to be new is given up, and the body
        analysed again without it."""
        inits, arg_lists, _, _ = _loop_slots(op)
        _, _, yields, _ = _loop_slots(op)
        hope = [j for j, init in enumerate(inits)
                if init in self.new_arrays and init not in self.fn.results
                and self._last_use(init) == self.pos[op]]
        before = set(self.new_arrays)
        while True:
            for j in hope:
                self.new_arrays.update(args[j] for args in arg_lists)
            for region in op.regions:
                self._analyse_arrays(region)
            kept = [j for j in hope if yields[j] in self.new_arrays]
            if kept == hope:
                return
            hope = kept
            self.new_arrays = set(before)

    def _sharing(self, v: Value, skip: set[Op], at: float | None = None) -> list[Value]:
        """Values that may hold ``v``'s array (or a view of it), except through loops
        in ``skip`` and, when an op at position ``at`` runs, through the branches that
        do not contain it (an ``if``'s result is the yield of the branch that ran)."""
        def holds(u: Value) -> bool:
            span = self.alias_span.get((v, u))
            if span is None or at is None:
                return True
            cond_span = next((s for s in self.branches if span in s), None)
            inside = cond_span is not None and any(lo <= at <= hi for lo, hi in cond_span)
            return not inside or span[0] <= at <= span[1]

        return [u for u in self.aliases.get(v, []) if holds(u)] + [
            u for loop, same in self.carried.get(v, ()) if loop not in skip for u in same]

    def _in_place(self, op: Op) -> bool:
        """May ``index_set`` change its array operand in place?  Only if that is a new
        array (not an argument, nor a view, nor recorded on a tape), and neither it nor
        the arrays it came from nor any view of them is read after ``op``."""
        old = op.operands[0]
        if old not in self.new_arrays or old not in self.names:
            return False
        chain, loops, todo = [], set(), [old]
        while todo:  # old and the arrays it came from (a loop's value: what came in)
            v = todo.pop()
            if v not in chain:
                chain.append(v)
                if v in self.upstream and v in self.new_arrays:
                    loop, sources = self.upstream[v]
                    loops.add(loop)
                    todo.extend(sources)
        at = self.pos[op]
        todo = [u for c in chain for u in self._sharing(c, loops, at) if u not in chain]
        seen: set[Value] = set()
        while todo:  # the views of those, and where the views flow
            v = todo.pop()
            if v not in seen:
                seen.add(v)
                todo.extend(self._sharing(v, set()))
        return all(v not in self.fn.params and v not in self.fn.results and v not in self.taped
                   and self._dead_after(v, op) for v in [*chain, *seen])

    def _last_use(self, v: Value) -> int:
        return max(self.uses.get(v, [0]))

    def _dead_after(self, v: Value, op: Op) -> bool:
        """Is ``v`` read by nothing that can run after ``op`` (the other branch of an
        ``if`` around ``op`` cannot)?"""
        at = self.pos[op]

        def exclusive(p: float) -> bool:
            for spans in self.branches:
                inside = [lo <= at <= hi for lo, hi in spans]
                other = [lo <= p <= hi for lo, hi in spans]
                if any(inside) and any(other) and inside != other:
                    return True
            return False

        return all(p <= at or exclusive(p) for p in self.uses.get(v, ()))

    def _inlinable(self, op: Op, block: Block) -> bool:
        """Fold a single-use temporary, or a partial sum of an adjoint into the next one."""
        v = op.result
        if len(self.uses.get(v, ())) != 1 or self.use_block.get(v) is not block:
            return False
        if P.PRIMITIVES[op.prim].effect:  # a draw runs where it stands, in its order
            return False
        if v in self.target:
            return False
        user = self.users.get(v)
        if user is not None and _needs_named_operand(user) and user.operands[0] is v:
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

    def _small_int_const(self, v: Value) -> bool:
        c = self.consts.get(v)
        return type(c) is int and abs(c) <= 2 ** 53

    def _expr(self, v: Value) -> ast.expr:
        return self._operand(v)[0]

    def _call(self, lib: str, fname: str, args: list[ast.expr]) -> ast.expr:
        if lib == P.BUILTIN:
            func: ast.expr = _name(fname)
        elif lib == P.HELPER:  # a helper of s2sad.runtime, defined in the module
            self._use_helper(fname)
            func = _name(fname)
        elif lib == P.NUMPY and self.array_api:  # xp.<the standard's name>
            if fname in xp.AS_HELPER:
                self._use_helper(xp.AS_HELPER[fname])
                func = _name(xp.AS_HELPER[fname])
            elif fname in xp.NAMES:
                self.modules.add(xp.TARGET)
                func = ast.Attribute(_name("xp"), xp.NAMES[fname], ast.Load())
            else:
                raise xp.function_refused(fname, self.loc)
        elif lib == P.SCIPY and self.array_api:
            raise xp.refuse(f"`scipy.special.{fname}`", self.loc,
                            why="SciPy's functions take NumPy arrays only")
        elif lib == P.SCIPY and self.numba:
            raise njit.refuse(f"`scipy.special.{fname}`", self.loc,
                              why="Numba's nopython mode does not type scipy.special's "
                                  "functions")
        else:
            self.modules.add(lib)
            func = ast.Attribute(_name(MODULE_NAMES[lib]), fname, ast.Load())
        return ast.Call(func=func, args=args, keywords=[])

    def _unstacked(self, op: Op, args: list[ast.expr]) -> ast.expr:
        """Array API target: the adjoint of ``np.stack(rows, axis=k)`` of a list built at
        run time, ``list(xp.unstack(g, axis=k))`` (the standard's arrays are not
        iterated; ``np.concatenate``'s adjoint slices, in the helper ``_unjoin``)."""
        self.modules.add(xp.TARGET)
        unstack = ast.Call(func=ast.Attribute(_name("xp"), "unstack", ast.Load()),
                           args=[args[0]], keywords=[ast.keyword(
                               arg="axis", value=ast.Constant(op.attr("axis") or 0))])
        return self._call(P.BUILTIN, "list", [unstack])

    def _array_api_refused(self, op: Op) -> S2SADError:
        """The located error for an op the array API target refuses."""
        what, why = _ARRAY_API_REFUSED[op.prim]
        loc = op.loc or self.loc
        if op.prim == "like_argument":  # synthetic: located at the first read of an item
            loc = next((o.loc for o in walk_ops(self.fn.body) if o.prim == "getitem"
                        and o.operands[0] is op.operands[1] and o.loc), loc)
        return xp.refuse(what, loc, why=why, hint=_ARRAY_API_HINTS.get(op.prim, xp.HINT))

    def _python_number(self, v: Value) -> bool:
        """Array API target: is ``v`` surely a Python number (a constant, a float parameter,
        arithmetic and ``math`` of those), not a 0-d array (a reduction's result, which
        ``xp`` functions take and ``math`` would compute: a Dask value, a JAX tracer)?"""
        if v in self.consts:
            return True
        if v in self.fn.params:
            return v.kind is Kind.FLOAT
        op = self.producer.get(v)
        if op is None or not (op.prim in _FLOAT_ARITH or op.prim in ("neg", "powc")
                              or op.attr("lib") == P.MATH):
            return False
        return all(self._python_number(o) for o in op.operands)

    def _use_helper(self, name: str) -> None:
        if self.array_api:
            if name not in xp.HELPERS and name not in runtime.NUMPY_FREE:
                raise xp.helper_refused(name, self.loc)
            self.helpers.update(xp.needs(name) | {name})
            self.modules.add(xp.TARGET)
            return
        if self.numba and name not in njit.HELPERS:
            raise njit.helper_refused(name, self.loc)
        if self.numba and name in njit.HELPERS:
            self.helpers.update(njit.needs(name))
        self.helpers.add(name)
        if name not in runtime.NUMPY_FREE:
            self.modules.add(P.NUMPY)

    def _no_gather_on_numba(self) -> None:
        if self.numba:
            raise njit.refuse("indexing with a value computed from the arguments", self.loc,
                              why="it may be an int array that reads an element twice, "
                                  "whose adjoint the Numba target does not accumulate yet",
                              hint="use target='python' for this function (its adjoint "
                                   "adds every read: np.bincount, np.add.at)")

    def _op_expr(self, op: Op) -> tuple[ast.expr, int, frozenset[str]]:
        if op.prim in ("index_bar", "index_like") and op.attr("gather"):
            self._no_gather_on_numba()
        parts = [self._operand(v) for v in op.operands]
        if op.prim == "random_draw":  # rng.normal(size=n), np.random.randn(n, d)
            from ..frontend.draws import draw_arguments

            args = [p[0] for p in parts]
            module = op.attr("module")
            if module:
                self.modules.add(P.NUMPY)
            source = (ast.Attribute(_name("np"), "random", ast.Load()) if module
                      else args.pop(0))
            positional, named = draw_arguments(
                [ast.Tuple(list(a), ast.Load()) if isinstance(a, tuple) else a
                 for a in args], dict(op.attrs))
            positional = [ast.Tuple(list(a), ast.Load()) if isinstance(a, tuple) else a
                          for a in positional]
            call = ast.Call(func=ast.Attribute(source, op.attr("method"), ast.Load()),
                            args=positional, keywords=[
                                ast.keyword(arg=k, value=ast.Tuple(list(v), ast.Load())
                                            if isinstance(v, tuple) else v)
                                for k, v in named])
            return call, 1, frozenset()
        if op.prim in _FLOAT_ARITH and op.results[0].kind in (Kind.FLOAT, Kind.ARRAY):
            # `2.0 * x`, not `2 * x`: CPython's float fast path takes float operands only.
            # The value is the same (integers up to 2**53 are exact floats).
            parts = [(self._const_expr(float(self.consts[v])), 0, frozenset())
                     if self._small_int_const(v) else p for v, p in zip(op.operands, parts,
                                                                          strict=True)]
        args = [p[0] for p in parts]
        size = 1 + sum(p[1] for p in parts)
        reads = frozenset().union(*(p[2] for p in parts)) if parts else frozenset()
        prim = P.PRIMITIVES[op.prim]
        lib = op.attr("lib")
        name = op.prim
        array = op.results[0].kind is Kind.ARRAY
        if array and lib in (P.MATH, None) and P.NUMPY in prim.names:
            lib = P.NUMPY  # an elementwise function of an array
        elif self.array_api and lib == P.NUMPY and P.MATH in prim.names and all(
                self._python_number(v) for v in op.operands):
            lib = P.MATH  # np.exp of a number: the standard's functions take arrays only
        if self.array_api and name in _ARRAY_API_REFUSED:
            raise self._array_api_refused(op)
        if self.array_api and name == "list_unjoin" and op.attr("how") == "stack":
            return self._unstacked(op, args), size, reads  # no iteration over an array here
        if self.array_api and name == "np_copy":  # arrays are never written: no copy needed
            return args[0], size - 1, reads
        if self.numba and name in ("sum_bar", "mean_bar", "extreme_mask") and (
                op.attr("axis") is not None or op.attr("keepdims")):
            raise njit.helper_refused(arrays.HELPER_OF[name], self.loc,
                                      "with an axis or keepdims")
        if self.numba and len(args) > njit.MAX_OPERANDS.get(
                arrays.HELPER_OF.get(name, "_broadcast_size" if name == "size" else ""), 99):
            raise njit.helper_refused(arrays.HELPER_OF.get(name, "_broadcast_size"), self.loc,
                                      f"of {len(args)} operands")
        if self.array_api and (name == "np_where" or (name == "select" and array)) and (
                op.operands[0].kind is not Kind.ARRAY):
            # a Python bool: a library's where (PyTorch's) takes an array condition
            args = [self._call(P.NUMPY, "asarray", [args[0]]), *args[1:]]
        if self.array_api and name == "product_like":  # the function's own refusal
            how = op.attr("how")
            raise xp.function_refused("take_along_axis" if how == "take_along" else how,
                                      self.loc)
        spelled = None if self.numba and name == "like_argument" else arrays.spell(
            op, args, self._call, self._use_helper)
        if self.numba and name == "like_argument":  # a list is a 1-D array already
            expr, size = args[0], size - 1
        elif self.numba and name in ("np_copy", "np_zeros_like"):  # of an item: a number
            expr = ast.Call(_name("_copy" if name == "np_copy" else "_zero_like"), args[:1], [])
            self._use_helper(expr.func.id)
        elif self.numba and name == "scalar_seed" and len(args) > 1:  # no *args in Numba
            expr = ast.Call(_name("_scalar_seed"), [args[0]], [])
            for a in args[1:]:
                expr = ast.BinOp(expr, ast.Mult(), ast.Call(_name("_scalar_seed"), [a], []))
            self._use_helper("_scalar_seed")
        elif spelled is not None:
            expr: ast.expr = spelled
            if self.numba and name in ("np_stack", "np_concatenate"):  # Numba: a tuple
                spelled.args[0] = ast.Tuple(elts=spelled.args[0].elts, ctx=ast.Load())
            for kw in getattr(spelled, "keywords", ()) if self.numba or self.array_api else ():
                if kw.arg == "dtype" and isinstance(kw.value, ast.Name):  # Numba: np.float64
                    kw.value = ast.Attribute(_name("xp" if self.array_api else "np"),
                                             "float64", ast.Load())
            if self.array_api and (name in ("np_zeros", "np_ones", "eye") or (
                    name == "arange" and any(isinstance(a, ast.Constant)
                                             and type(a.value) is float for a in args))):
                # NumPy's float64, not the library's default float (PyTorch's is float32)
                spelled.keywords.append(ast.keyword("dtype", ast.Attribute(
                    _name("xp"), "float64", ast.Load())))
            if name == "like_argument" and all(isinstance(a, ast.Name) for a in args) and (
                    not self.numba):
                # `g if type(x) is list else _like_argument(g, x)`: a list costs no call
                test = ast.Compare(self._call(P.BUILTIN, "type", [args[1]]), [ast.Is()],
                                   [_name("list")])
                expr = ast.IfExp(test=test, body=args[0], orelse=spelled)
        elif array and name == "select":
            expr = self._call(P.NUMPY, "where", args)
        elif name in ("stop_gradient", "same_value", "logsumexp_shift"):
            # the identity at run time: the value itself
            expr, size = args[0], size - 1
        elif prim.imported is not None and self.numba:
            raise njit.refuse(f"the custom primitive `{prim.imported[1]}`", self.loc,
                              why="a generated Numba module imports only math, numpy and "
                                  "numba, and a custom primitive is an ordinary Python "
                                  "function, which nopython code cannot call")
        elif prim.imported is not None:  # a custom primitive: `from module import name`
            module_name, fname = prim.imported
            self.modules.add(("import", module_name, fname))
            expr = ast.Call(func=_name(fname), args=args, keywords=[])
        elif name == "sigmoid":  # as the user wrote it: 1.0 / (1.0 + exp(-x))
            exp = self._call(lib or P.MATH, "exp", [ast.UnaryOp(ast.USub(), args[0])])
            expr = ast.BinOp(ast.Constant(1.0), ast.Div(),
                             ast.BinOp(ast.Constant(1.0), ast.Add(), exp))
        elif name == "powc":
            n = op.attr("exponent")
            if n == 2 and isinstance(args[0], ast.Name):
                expr = ast.BinOp(args[0], ast.Mult(), args[0])
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
        elif name == "getitem":
            expr = ast.Subscript(value=args[0], slice=args[1], ctx=ast.Load())
        elif name == "len":
            expr = self._call(P.BUILTIN, "len", args)
        elif name in ("list_argmax", "list_argmin"):
            helper = "_arg" + name[-3:]
            self._use_helper(helper)
            expr = ast.Call(func=_name(helper), args=args, keywords=[])
        elif name == "list_lit" and self.numba:  # a list is a 1-D float64 array
            expr = (self._call(P.NUMPY, "array", [ast.List(elts=args, ctx=ast.Load())]) if args
                    else self._call(P.NUMPY, "zeros", [ast.Constant(0)]))
        elif name == "list_lit":
            expr = ast.List(elts=args, ctx=ast.Load())
        elif name == "list_copy" and self.numba:
            expr = ast.Call(func=ast.Attribute(args[0], "copy", ast.Load()), args=[], keywords=[])
        elif name == "list_copy":
            expr = self._call(P.BUILTIN, "list", args)
        elif name == "list_add" and self.numba:  # adjoints of one list: elementwise
            expr = ast.BinOp(args[0], ast.Add(), args[1])
        elif name == "list_add":
            expr = ast.ListComp(
                elt=ast.BinOp(_name("p"), ast.Add(), _name("q")),
                generators=[ast.comprehension(
                    target=ast.Tuple(elts=[ast.Name("p", ast.Store()), ast.Name("q", ast.Store())],
                                     ctx=ast.Store()),
                    iter=ast.Call(func=_name("zip"), args=args, keywords=[]), ifs=[],
                    is_async=0)])
        elif name == "zeros_like" and self.numba:
            expr = self._call(P.NUMPY, "zeros", [self._call(P.BUILTIN, "len", args)])
        elif name == "zeros_like":
            expr = ast.BinOp(ast.List(elts=[ast.Constant(0.0)], ctx=ast.Load()), ast.Mult(),
                             self._call(P.BUILTIN, "len", args))
        elif name in ("and", "or"):
            expr = ast.BoolOp(ast.And() if name == "and" else ast.Or(), args)
        elif prim.operator in _BINOPS:
            expr = ast.BinOp(args[0], _BINOPS[prim.operator](), args[1])
        elif prim.operator in _CMPOPS:
            expr = ast.Compare(args[0], [_CMPOPS[prim.operator]()], [args[1]])
        elif prim.operator == "USub":
            x = args[0]
            if (isinstance(x, ast.BinOp) and isinstance(x.op, ast.Mult)
                    and isinstance(x.left, ast.Constant) and type(x.left.value) in (int, float)
                    and math.isfinite(x.left.value)):
                # -(2.0 * y) as -2.0 * y: one operation fewer, the same number (IEEE
                # multiplication is symmetric in sign)
                expr = ast.BinOp(self._const_expr(-x.left.value), ast.Mult(), x.right)
            else:
                expr = ast.UnaryOp(ast.USub(), x)
        elif prim.operator == "Not":
            expr = ast.UnaryOp(ast.Not(), args[0])
        elif lib in prim.names:
            expr = self._call(lib, prim.names[lib], args)
        else:
            raise InternalError(f"codegen: no Python spelling for {name} with lib={lib}")
        return expr, size, reads

    # -- statements --------------------------------------------------------------------------
    def _flush_readers(self, name: str | None) -> None:
        """Write out pending folded expressions that read ``name`` (all, for ``None``)."""
        for v in [v for v, (_, _, reads) in self.pending.items() if name is None or name in reads]:
            self._bind(v, self.pending.pop(v)[0], self.namer.fresh(None))

    def _assign(self, name: str, expr: ast.expr) -> None:
        self.body.append(ast.Assign(targets=[ast.Name(id=name, ctx=ast.Store())], value=expr))

    def _bind(self, v: Value, expr: ast.expr, name: str, aug: ast.operator | None = None,
              rhs: ast.expr | None = None) -> None:
        if aug is not None:
            self.body.append(ast.AugAssign(target=ast.Name(id=name, ctx=ast.Store()), op=aug,
                                           value=rhs))
        else:
            self._assign(name, expr)
        self._name_of(v, name)

    def _name_of(self, v: Value, name: str) -> None:
        self.names[v] = name
        self.holder[name] = v

    def _dead_name(self, hint: str | None, after: int, taken: list[str]) -> str | None:
        """A name whose value has the same hint and is not read after position ``after``."""
        if hint is None:
            return None
        for name, u in self.holder.items():
            if (u.hint == hint and name not in taken and u not in self.fn.results
                    and self._last_use(u) <= after and self.names.get(u) == name):
                return name
        return None

    def _safe_target(self, v: Value, op: Op) -> str | None:
        """The name decided for ``v`` in advance, if what that name holds now is not read
        after ``op`` (a name can change hands between the decision and now)."""
        name = self.target.get(v)
        if name is None:
            return None
        held = self.holder.get(name)
        if held is not None and held is not v and not self._dead_after(held, op):
            return None
        return name

    def _reusable_name(self, op: Op) -> str | None:
        """An operand's name to reuse for the result: same hint, and dead after this op."""
        v = op.result
        if v.hint is None:
            return None
        for u in op.operands:
            if (u.hint == v.hint and u in self.names and self._last_use(u) == self.pos[op]
                    and u not in self.fn.results):
                return self.names[u]
        return None

    def _statement(self, op: Op, block: Block) -> None:
        v = op.result
        reuse = self._safe_target(v, op) or self._reusable_name(op)
        expr, size, reads = self._op_expr(op)  # takes its own operands out of `pending`
        if reuse is not None:
            self._flush_readers(reuse)  # what else reads the name must be written first
        if reuse is None and self._inlinable(op, block) and size <= MAX_OPS:
            self.pending[v] = (expr, size, reads)
            return
        if reuse is not None:
            aug = self._augmented(op, reuse, expr)
            if aug is not None and isinstance(aug[0], ast.Add) and isinstance(
                    aug[1], ast.UnaryOp) and isinstance(aug[1].op, ast.USub):
                aug = (ast.Sub(), aug[1].operand)  # x += -e → x -= e
            if aug is not None:
                self._bind(v, expr, reuse, aug[0], aug[1])
                return
        self._bind(v, expr, reuse or self.namer.fresh(v.hint))

    def _augmented(self, op: Op, name: str, expr: ast.expr):
        """``x = x + e`` → ``x += e`` (also for ``e + x``: float addition is commutative)."""
        if op.prim not in _AUG or not isinstance(expr, ast.BinOp) or (
                op.results[0].kind is Kind.ARRAY):  # `a += b` would change a shared array
            return None
        left, right = expr.left, expr.right
        if isinstance(left, ast.Name) and left.id == name:
            return expr.op, right
        if op.prim in ("add", "mul") and isinstance(right, ast.Name) and right.id == name:
            return expr.op, left
        return None

    def _block(self, block: Block, tail=None) -> list[ast.stmt]:
        """The statements of a block; ``tail()`` adds the statements that end it."""
        outer, self.body = self.body, []
        for op in block.ops:
            self._op(op, block)
        if tail is not None:
            tail()
        stmts, self.body = self.body, outer
        return stmts

    def _op(self, op: Op, block: Block) -> None:
        if op in self.skipped:  # an item a `for v in xs:` loop binds
            return
        self.loc = op.loc or self.loc
        if self.array_api and op.prim in _ARRAY_API_REFUSED:
            raise self._array_api_refused(op)
        if self.numba and op.prim in _NUMBA_REFUSED:
            what, why = _NUMBA_REFUSED[op.prim]
            raise njit.refuse(what, op.loc, why=why)
        if self.numba and op.prim == "env_array" and not op.attr("ref").static:
            raise njit.refuse(f"reading the array `{op.attr('name')}` of the function's "
                              "environment", op.loc,
                              why="Numba freezes a global array into the machine code it "
                                  "compiles (and caches it on disk), so a change to the "
                                  "array would not be seen",
                              hint="pass the array as an argument of the function")
        if op.prim == "const":
            self.consts[op.result] = op.attr("value")
        elif op.prim == "attr_update":  # self.nfev += 1: a statement, where it stands
            kind = op.attr("op")
            target = ast.Attribute(self._expr(op.operands[0]), op.attr("attr"), ast.Store())
            value = self._expr(op.operands[1])
            self.body.append(ast.Assign(targets=[target], value=value) if kind == "set" else
                             ast.AugAssign(target=target, op=_AUG[kind], value=value))
        elif op.prim == "print":  # print(...) of the primal, where it stands
            args = [self._expr(op.operands[p]) if isinstance(p, int) else ast.Constant(p[0])
                    for p in op.attr("parts")]
            keywords = [ast.keyword(arg=k, value=ast.Constant(op.attr(k)))
                        for k, default in (("sep", " "), ("end", "\n"))
                        if op.attr(k) != default]
            self.body.append(ast.Expr(ast.Call(func=_name("print"), args=args,
                                               keywords=keywords)))
        elif op.prim == "raise_if":  # if <test>: raise ValueError("..."), where it stands
            exc = self._call(P.BUILTIN, op.attr("exc"), [ast.Constant(op.attr("message"))])
            self.body.append(ast.If(test=self._expr(op.operands[0]),
                                    body=[ast.Raise(exc=exc, cause=None)], orelse=[]))
        elif op.prim == "unpack_check":  # x, y = xs: Python's check that xs has two items
            n = op.attr("n")
            test = ast.Compare(self._call(P.BUILTIN, "len", [self._expr(op.operands[0])]),
                               [ast.NotEq()], [ast.Constant(n)])
            message = ast.Constant(f"the function unpacks {n} values from a sequence of "
                                   "another length")
            self.body.append(ast.If(test=test, body=[ast.Raise(
                exc=self._call(P.BUILTIN, "ValueError", [message]), cause=None)], orelse=[]))
        elif op.prim == "env_array":  # a name of the module (see module())
            self._name_of(op.result, op.attr("name"))
            self.modules.add(("env", op.attr("name"), op.attr("ref")))
        elif op.prim == "cond":
            self._cond(op, block)
        elif op.prim in _LOOPS:
            self._loop(op)
        elif op.prim == "add_at":  # xs[i] += v, in place: the old list is dead after
            name = self.names[op.operands[0]]
            self._flush_readers(name)
            index, value = self._expr(op.operands[1]), self._expr(op.operands[2])
            aug: ast.operator = ast.Add()
            if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
                aug, value = ast.Sub(), value.operand  # xs[i] += -v → xs[i] -= v
            self.body.append(ast.AugAssign(
                target=ast.Subscript(value=_name(name), slice=index, ctx=ast.Store()),
                op=aug, value=value))
            self._name_of(op.result, name)
        elif op.prim in ("append", "setitem", "list_pop"):
            self._list_update(op)
        elif op.prim in ("index_set", "index_add"):
            self._array_update(op)
        elif op.prim in ("zeros_like", "zero_like"):
            expr = self._op_expr(op)[0]
            self._bind(op.result, expr, self.namer.fresh(op.result.hint))
        elif op.prim in ("tape_new", "tape_push", "tape_read") and self.numba:
            self._numba_tape(op)
        elif op.prim.startswith("ckpt_"):
            self._checkpoints(op)
        elif op.prim == "tape_new":
            self._bind(op.result, ast.List(elts=[], ctx=ast.Load()),
                       self.namer.fresh(op.result.hint or "tape"))
        elif op.prim == "tape_push":
            tape = self.names[op.operands[0]]
            # a list is recorded as a copy: the loop may go on to change it in place
            items = [self._call(P.BUILTIN, "list", [self._expr(v)]) if v.kind is Kind.LIST
                     else self._expr(v) for v in op.operands[1:]]
            item = items[0] if len(items) == 1 else ast.Tuple(elts=items, ctx=ast.Load())
            self.body.append(ast.Expr(ast.Call(
                func=ast.Attribute(_name(tape), "append", ast.Load()), args=[item],
                keywords=[])))
            self.names[op.result] = tape
        elif op.prim == "tape_read":
            tape = self.names[op.operands[0]]
            self.names[op.results[0]] = tape
            self._flush_readers(None)
            targets = [self.namer.fresh(r.hint) for r in op.results[1:]]
            for r, n in zip(op.results[1:], targets, strict=True):
                self._name_of(r, n)
            popped = ast.Subscript(value=_name(tape), slice=self._expr(op.operands[1]),
                                   ctx=ast.Load())
            self._assign_many(targets, [popped], packed=len(targets) > 1)
        else:
            self._statement(op, block)

    def _checkpoints(self, op: Op) -> None:
        """Binomial checkpointing: ``checkpoints = _Checkpoints(range(n), k)`` (or
        ``budget=nbytes`` for ``checkpoints="auto"``), then
        ``checkpoints.take(i, (x, y))`` and ``j, (x, y) = checkpoints.restore(i)``."""
        if self.numba:
            self._numba_checkpoints(op)
            return
        self._use_helper("_Checkpoints")
        if op.prim == "ckpt_new":  # a for loop's range; None: a while loop's passes
            start, stop, step = op.operands or (None, None, None)
            bounds = [self._expr(stop)] if (self.consts.get(start) == 0 and self.consts.get(
                step) == 1) else [self._expr(v) for v in op.operands]
            passes = ast.Call(func=_name("range"), args=bounds, keywords=[]) if (
                op.operands) else ast.Constant(None)
            size = ([ast.Constant(op.attr("k"))], []) if op.attr("budget") is None else (
                [], [ast.keyword("budget", ast.Constant(op.attr("budget")))])
            self._bind(op.result, ast.Call(func=_name("_Checkpoints"), args=[passes, *size[0]],
                                           keywords=size[1]),
                       self.namer.fresh(op.result.hint or "checkpoints"))
            return
        store = self.names[op.operands[0]]
        self.names[op.results[0]] = store
        if op.prim == "ckpt_take":
            values = ast.Tuple(elts=[self._expr(v) for v in op.operands[2:]], ctx=ast.Load())
            self.body.append(ast.Expr(ast.Call(
                func=ast.Attribute(_name(store), "take", ast.Load()),
                args=[self._expr(op.operands[1]), values], keywords=[])))
            return
        self._flush_readers(None)
        names = [self.namer.fresh(r.hint) for r in op.results[1:]]
        for r, n in zip(op.results[1:], names, strict=True):
            self._name_of(r, n)
        target = ast.Tuple(elts=[ast.Name(names[0], ast.Store()), ast.Tuple(
            elts=[ast.Name(n, ast.Store()) for n in names[1:]], ctx=ast.Store())],
            ctx=ast.Store())
        self.body.append(ast.Assign(targets=[target], value=ast.Call(
            func=ast.Attribute(_name(store), "restore", ast.Load()),
            args=[self._expr(op.operands[1])], keywords=[])))

    def _numba_checkpoints(self, op: Op) -> None:
        """Numba's checkpoint store: one float64 array (``_ckpt_new(0, n, 1, columns=2,
        k=10)``; a while loop's: step 0), a snapshot a row: ``row = _ckpt_take(checkpoints,
        i)``, then ``if row: checkpoints[row, 3] = x``; ``j, row = _ckpt_restore(
        checkpoints, i)``, then ``x = checkpoints[row, 3]``.  Numbers only (ints and bools
        as floats, exact), as Numba's tapes."""
        if op.prim == "ckpt_new":
            start, stop, step = ([self._expr(v) for v in op.operands] if op.operands
                                 else [ast.Constant(0), ast.Constant(0), ast.Constant(0)])
            call = self._call(P.HELPER, "_ckpt_new", [start, stop, step])
            assert isinstance(call, ast.Call)
            call.keywords = [ast.keyword(key, ast.Constant(op.attr(key)))
                             for key in ("columns", "k", "budget") if op.attr(key) is not None]
            self._bind(op.result, call, self.namer.fresh(op.result.hint or "checkpoints"))
            return
        store = self.names[op.operands[0]]
        self.names[op.results[0]] = store
        first = 3  # a row: its pass, the end of its passes, its snapshots, then the values
        if op.prim == "ckpt_take":
            for v in op.operands[2:]:
                if v.kind not in (Kind.FLOAT, Kind.INT, Kind.BOOL):
                    raise njit.refuse(
                        "checkpointing a loop that carries an array or a list", op.loc,
                        why="the Numba target keeps a snapshot as a row of numbers in a "
                            "float64 array, as its tapes",
                        hint="use target='python' with checkpoints for this function, or "
                             "the Numba target without checkpoints")
            row = self.namer.fresh("row")
            self._assign(row, self._call(P.HELPER, "_ckpt_take", [
                _name(store), self._expr(op.operands[1])]))
            writes: list[ast.stmt] = [ast.Assign(
                targets=[ast.Subscript(_name(store), ast.Tuple(
                    [_name(row), ast.Constant(first + j)], ast.Load()), ast.Store())],
                value=self._expr(v)) for j, v in enumerate(op.operands[2:])]
            self.body.append(ast.If(test=_name(row), body=writes, orelse=[]))
            return
        self._flush_readers(None)
        index = self.namer.fresh(op.results[1].hint)
        row = self.namer.fresh("row")
        self._name_of(op.results[1], index)
        self.body.append(ast.Assign(
            targets=[ast.Tuple([ast.Name(index, ast.Store()), ast.Name(row, ast.Store())],
                               ast.Store())],
            value=self._call(P.HELPER, "_ckpt_restore",
                             [_name(store), self._expr(op.operands[1])])))
        for j, r in enumerate(op.results[2:]):
            value: ast.expr = ast.Subscript(_name(store), ast.Tuple(
                [_name(row), ast.Constant(first + j)], ast.Load()), ast.Load())
            if r.kind is Kind.INT:  # ints and bools are kept as floats (exact)
                value = self._call(P.BUILTIN, "int", [value])
            elif r.kind is Kind.BOOL:
                value = ast.Compare(value, [ast.NotEq()], [ast.Constant(0.0)])
            name = self.namer.fresh(r.hint)
            self._assign(name, value)
            self._name_of(r, name)

    # -- Numba tapes (see njit.py) ------------------------------------------------------------
    def _numba_tape(self, op: Op) -> None:
        """A tape as a float64 array: ``tape[tape_n, j] = v`` then ``tape_n += 1`` records
        a row; ``v = tape[k, j]`` reads column ``j`` of record ``k``."""
        if op.prim == "tape_new":
            tag = self.tape_of.get(op.result)
            if tag is None:  # filled by no loop: no tape at all
                self._bind(op.result, self._call(P.NUMPY, "zeros", [ast.Tuple(
                    elts=[ast.Constant(0), ast.Constant(0)], ctx=ast.Load())]),
                    self.namer.fresh(op.result.hint or "tape"))
                return
            name = self.namer.fresh(op.result.hint or "tape")
            self._name_of(op.result, name)
            if op.result in self.tape_later:  # a for loop's: allocated before that loop
                self.tape_later[op.result] = (name, tag)
            else:  # a while loop's: grown as it fills
                self._allocate_tape(name, tag, ast.Constant(16))
            return
        tape = self.names[op.operands[0]]
        self.names[op.results[0]] = tape
        if op.prim == "tape_push":
            tag = op.attr("tape")
            count = self.tape_count[tag]
            items = [self._expr(v) for v in op.operands[1:]]
            self._flush_readers(tape)
            if tag not in self.tape_sized:  # full: twice the rows (Numba compiles this
                # spelling in a fraction of the time a helper call reassigning `tape` takes)
                full = ast.Compare(_name(count), [ast.Eq()], [ast.Subscript(
                    ast.Attribute(_name(tape), "shape", ast.Load()), ast.Constant(0),
                    ast.Load())])
                more = self._call(P.NUMPY, "empty_like", [_name(tape)])
                grow = ast.Assign(targets=[ast.Name(tape, ast.Store())], value=self._call(
                    P.NUMPY, "concatenate", [ast.Tuple([_name(tape), more], ast.Load())]))
                self.body.append(ast.If(test=full, body=[grow], orelse=[]))
            for j, item in enumerate(items):
                cell = ast.Subscript(_name(tape), ast.Tuple(
                    [_name(count), ast.Constant(j)], ast.Load()), ast.Store())
                self.body.append(ast.Assign(targets=[cell], value=item))
            self.body.append(ast.AugAssign(ast.Name(count, ast.Store()), ast.Add(),
                                           ast.Constant(1)))
            return
        self._flush_readers(None)
        index = self._expr(op.operands[1])
        if len(op.results) > 2 and not isinstance(index, (ast.Name, ast.Constant)):
            k = self.namer.fresh(None)
            self._assign(k, index)
            index = _name(k)
        for j, r in enumerate(op.results[1:]):
            name = self.namer.fresh(r.hint)
            value: ast.expr = ast.Subscript(_name(tape), ast.Tuple([index, ast.Constant(j)],
                                                                   ast.Load()), ast.Load())
            if r.kind is Kind.INT:  # ints and bools are recorded as floats (exact)
                value = self._call(P.BUILTIN, "int", [value])
            elif r.kind is Kind.BOOL:
                value = ast.Compare(value, [ast.NotEq()], [ast.Constant(0.0)])
            self._assign(name, value)
            self._name_of(r, name)

    def _allocate_tape(self, name: str, tag: Any, rows: ast.expr) -> None:
        """``tape = np.empty((rows, columns))`` and its row counter ``tape_n = 0``."""
        columns = len(self.tape_columns.get(tag, ()))
        self._assign(name, self._call(P.NUMPY, "empty", [ast.Tuple(
            [rows, ast.Constant(columns)], ast.Load())]))
        count = self.namer.fresh(f"{name}_n")
        self.tape_count[tag] = count
        self._assign(count, ast.Constant(0))

    def _simple(self, e: ast.expr) -> ast.expr:
        """``e``, or a temporary bound to it: an expression about to be written twice."""
        if isinstance(e, (ast.Name, ast.Constant)) or (
                isinstance(e, ast.UnaryOp) and isinstance(e.operand, ast.Constant)):
            return e
        name = self.namer.fresh(None)
        self._assign(name, e)
        return _name(name)

    def _list_update(self, op: Op) -> None:
        """``ys.append(v)``, ``ys[i] = v``, ``v = ys.pop()``: in place when the old list
        is dead after this op, on a copy otherwise (the IR's lists are values)."""
        old = op.operands[0]
        in_place = (self._dead_after(old, op) and old not in self.fn.params
                    and old not in self.fn.results)
        if in_place:
            name = self.names[old]
            self._flush_readers(name)
        else:
            name = self.namer.fresh(op.results[0].hint)
            copy = (ast.Call(ast.Attribute(self._expr(old), "copy", ast.Load()), [], [])
                    if self.numba else self._call(P.BUILTIN, "list", [self._expr(old)]))
            self._assign(name, copy)
        target = _name(name)
        if op.prim == "append":
            self.body.append(ast.Expr(ast.Call(
                func=ast.Attribute(target, "append", ast.Load()),
                args=[self._expr(op.operands[1])], keywords=[])))
        elif op.prim == "setitem":
            index, value = self._expr(op.operands[1]), self._expr(op.operands[2])
            self.body.append(ast.Assign(
                targets=[ast.Subscript(value=_name(name), slice=index, ctx=ast.Store())],
                value=value))
        else:
            popped = self.namer.fresh(op.results[1].hint)
            self._assign(popped, ast.Call(func=ast.Attribute(target, "pop", ast.Load()),
                                          args=[], keywords=[]))
            self._name_of(op.results[1], popped)
        self._name_of(op.results[0], name)

    def _array_update(self, op: Op) -> None:
        """``h[t] = v`` (``x_bar[i] += g``): in place when nothing can see the old array
        any more, on a copy (``h_1 = h.copy()``) otherwise (the IR's arrays are values)."""
        old = op.operands[0]
        in_place = self._in_place(op)
        old_expr = None if in_place else self._expr(old)
        value = self._expr(op.operands[1])
        dynamic = [self._expr(v) for v in op.operands[2:]]
        if self.array_api:
            self._functional_update(op, in_place, old_expr, value, dynamic)
            return
        if in_place:
            name = self.names[old]
            self._flush_readers(name)
        else:
            name = self._safe_target(op.result, op) or self.namer.fresh(op.result.hint)
            self._flush_readers(name)
            self._assign(name, ast.Call(func=ast.Attribute(old_expr, "copy", ast.Load()),
                                        args=[], keywords=[]))
        target = arrays.index_target(name, op, dynamic)
        if op.prim == "index_add" and op.attr("gather"):
            # an index from the arguments may be an int array that repeats an element:
            # np.add.at adds each read (x_bar[idx] += g would add a repeated one once)
            self._no_gather_on_numba()
            self.modules.add(P.NUMPY)
            self.body.append(ast.Expr(ast.Call(
                func=ast.Attribute(ast.Attribute(_name("np"), "add", ast.Load()), "at",
                                   ast.Load()),
                args=[_name(name), arrays.index_value(op, dynamic), value], keywords=[])))
            self._name_of(op.result, name)
            return
        if op.prim == "index_add":  # x_bar[i] += g
            if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub):
                self.body.append(ast.AugAssign(target=target, op=ast.Sub(), value=value.operand))
            else:
                self.body.append(ast.AugAssign(target=target, op=ast.Add(), value=value))
            self._name_of(op.result, name)
            return
        read = ast.dump(ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load()))
        if (isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Sub, ast.Mult,
                                                                   ast.Div))
                and ast.dump(value.left) == read):  # h[i] = h[i] + v → h[i] += v
            self.body.append(ast.AugAssign(target=target, op=value.op, value=value.right))
        elif (isinstance(value, ast.BinOp) and isinstance(value.op, (ast.Add, ast.Mult))
                and ast.dump(value.right) == read):  # h[i] = v + h[i] → h[i] += v
            self.body.append(ast.AugAssign(target=target, op=value.op, value=value.left))
        else:
            self.body.append(ast.Assign(targets=[target], value=value))
        self._name_of(op.result, name)

    def _functional_update(self, op: Op, in_place: bool, old_expr: ast.expr | None,
                           value: ast.expr, dynamic: list[ast.expr]) -> None:
        """Array API target: ``h = _at(h)[t].set(v)`` (``.add(v)`` for ``h[t] += v``),
        JAX's spelling of a functional update, which ``_at`` (xp.py) performs in place
        on the libraries whose arrays can be written (``_at(h, copy=True)`` when the old
        array is still read: it writes into a copy)."""
        if op.attr("gather"):
            raise xp.refuse("adding into an array at an index array", op.loc or self.loc,
                            why="its adjoint adds each repeated read, which only NumPy's "
                                "np.add.at (not part of the standard) does in place")
        self._use_helper("_at")
        if in_place:
            name = self.names[op.operands[0]]
            old_expr = _name(name)
        else:
            name = self._safe_target(op.result, op) or self.namer.fresh(op.result.hint)
        self._flush_readers(name)
        at = ast.Call(_name("_at"), [old_expr], [] if in_place else [
            ast.keyword("copy", ast.Constant(True))])
        index = arrays.index_target("_", op, dynamic).slice
        method = "add" if op.prim == "index_add" else "set"
        update = ast.Call(ast.Attribute(ast.Subscript(at, index, ast.Load()), method,
                                        ast.Load()), [value], [])
        self._assign(name, update)
        self._name_of(op.result, name)

    def _assign_many(self, names: list[str], exprs: list[ast.expr], packed: bool = False):
        """``a, b = e1, e2`` (parallel assignment); ``packed``: one tuple-valued expr."""
        if not names:
            return
        for n in names:
            self._flush_readers(n)
        targets = [ast.Name(id=n, ctx=ast.Store()) for n in names]
        target = targets[0] if len(targets) == 1 else ast.Tuple(elts=targets, ctx=ast.Store())
        value = exprs[0] if len(exprs) == 1 else ast.Tuple(elts=exprs, ctx=ast.Load())
        self.body.append(ast.Assign(targets=[target], value=value))

    def _target_yields(self, region: Block, names: list[str], args=()) -> None:
        """Let values a region yields be computed straight into the names they flow to."""
        for j, (v, name) in enumerate(zip(region.yields, names, strict=True)):
            if v in self.target or v in self.consts or v in self.names:
                continue
            if self.def_block.get(v) is not region:
                continue
            if v.hint is not None and name.split("_")[0] != v.hint.replace(".", "_").split(
                    "_")[0]:
                continue
            # Whatever the name holds now must not be read in this region after v is built.
            old = args[j] if args else self.holder.get(name)
            end = self.region_end.get(region, 0)
            if old is not None and any(self.def_pos[v] < p <= end
                                       for p in self.uses.get(old, ())):
                continue
            self.target[v] = name

    def _yield_into(self, region: Block, names: list[str]) -> None:
        """At the end of a region: assign what it yields to the names its results use."""
        pairs = [(n, v) for n, v in zip(names, region.yields, strict=True)
                 if self.names.get(v) != n]
        exprs = [self._expr(v) for _, v in pairs]
        self._assign_many([n for n, _ in pairs], exprs)

    def _cond(self, op: Op, block: Block) -> None:
        test, size, reads = self._operand(op.operands[0])
        if self._ifexp(op, block, test, size, reads):
            return
        self._flush_readers(None)
        names: list[str] = []
        for r in op.results:
            names.append(self._safe_target(r, op) or self._dead_name(r.hint, self.end[op], names)
                         or self.namer.fresh(r.hint))
        branches = []
        before = dict(self.holder)
        for region in op.regions:
            self.holder = dict(before)  # what each name holds when this branch starts
            self._target_yields(region, names)
            branches.append(self._block(region, lambda r=region: self._yield_into(r, names)))
        for r, n in zip(op.results, names, strict=True):
            self._name_of(r, n)
        then, orelse = branches
        if (len(names) == 1 and len(then) == 1 and len(orelse) == 1
                and all(isinstance(b[0], ast.Assign) and isinstance(b[0].targets[0], ast.Name)
                        and b[0].targets[0].id == names[0] for b in branches)):
            self._assign(names[0], ast.IfExp(test=test, body=then[0].value,
                                             orelse=orelse[0].value))
            return
        if not then and orelse:
            test, then, orelse = _negate(test), orelse, []
        self.body.append(ast.If(test=test, body=then or [ast.Pass()], orelse=orelse))

    def _ifexp(self, op: Op, block: Block, test: ast.expr, size: int, reads) -> bool:
        """A one-value ``cond`` whose regions are expressions becomes ``a if c else b``."""
        if len(op.results) != 1 or any(len(_real_ops(r)) > 0 and not self._all_inlinable(r)
                                       for r in op.regions):
            return False
        saved = dict(self.pending)
        parts = []
        for region in op.regions:
            stmts = self._block(region, lambda r=region: parts.append(
                self._operand(r.yields[0])))
            if stmts:
                self.pending = saved
                return False
        (body, s1, r1), (orelse, s2, r2) = parts
        expr = ast.IfExp(test=test, body=body, orelse=orelse)
        if op.result.kind is Kind.BOOL:  # `a and b` / `a or b`, short-circuit
            if isinstance(orelse, ast.Constant) and orelse.value is False:
                expr = ast.BoolOp(ast.And(), [test, body])
            elif isinstance(body, ast.Constant) and body.value is True:
                expr = ast.BoolOp(ast.Or(), [test, orelse])
        v = op.result
        total = size + s1 + s2 + 1
        if (v.hint is None and len(self.uses.get(v, ())) == 1
                and self.use_block.get(v) is block and total <= MAX_OPS):
            self.pending[v] = (expr, total, reads | r1 | r2)
        else:
            name = (self._safe_target(v, op) or self._dead_name(v.hint, self.end[op], [])
                    or self.namer.fresh(v.hint))
            self._flush_readers(name)
            self._bind(v, expr, name)
        return True

    def _all_inlinable(self, region: Block) -> bool:
        return all(op.prim == "const" or (not op.regions and len(op.results) == 1
                                          and self._inlinable(op, region))
                   for op in region.ops)

    def _carried_names(self, op: Op, inits: tuple[Value, ...], region: Block) -> list[str]:
        names = []
        for init, arg in zip(inits, region.args[-len(inits):] if inits else (), strict=True):
            name = self.names.get(init)
            if (name is not None and init not in self.fn.results and init not in names
                    and self._last_use(init) == self.pos[op]
                    and (arg.hint is None or init.hint == arg.hint)):
                names.append(name)
            else:
                names.append(self.namer.fresh(arg.hint))
        return names

    def _loop(self, op: Op) -> None:
        if op.prim == "for_range":
            bounds = [self._expr(v) for v in op.operands[:3]]
            inits = op.operands[3:]
            body = op.regions[0]
            carried_args = body.args[1:]
        else:
            inits = op.operands
            cond, body = op.regions
            carried_args = body.args
        init_exprs = [self._expr(v) for v in inits]
        self._flush_readers(None)
        tapes = [v for v in inits if v in self.tape_later]
        if self.numba and op.prim == "for_range" and (tapes or op.attr("reverse", False)):
            bounds = [self._simple(e) for e in bounds]  # written twice below
        for v in tapes:  # the tapes this loop fills: one row per iteration
            self.tape_sized.add(self.tape_later[v][1])
            self._allocate_tape(*self.tape_later[v], _trip_count(*bounds))
        names = self._carried_names(op, inits, body)
        moves = [(n, e) for n, e, v in zip(names, init_exprs, inits, strict=True)
                 if self.names.get(v) != n]
        self._assign_many([n for n, _ in moves], [e for _, e in moves])

        def enter_body() -> None:  # the names hold the body's arguments when it starts
            for a, n in zip(carried_args, names, strict=True):
                self._name_of(a, n)
            self._target_yields(body, names, carried_args)

        item = self._item_loop(op) if op.prim == "for_range" else None
        if item is not None:  # for v in xs: no index, no subscript per pass
            enter_body()
            get, items = item
            target = self.namer.fresh(get.result.hint)
            self._name_of(get.result, target)
            self.skipped.add(get)
            stmts = self._block(body, lambda: self._yield_into(body, names))
            self.body.append(ast.For(target=ast.Name(id=target, ctx=ast.Store()),
                                     iter=self._expr(items), body=stmts or [ast.Pass()],
                                     orelse=[]))
        elif op.prim == "for_range":
            enter_body()
            hint = body.args[0].hint or "i"
            if op.attr("reverse", False) and body.args[0] not in values_read(body):
                hint = "_"  # a reverse sweep that reads no record by number
            index = self.namer.fresh(hint)
            self._name_of(body.args[0], index)
            stmts = self._block(body, lambda: self._yield_into(body, names))
            self.body.append(ast.For(target=ast.Name(id=index, ctx=ast.Store()),
                                     iter=self._range(bounds, op.attr("reverse", False)),
                                     body=stmts or [ast.Pass()], orelse=[]))
        else:
            for a, n in zip(cond.args, names, strict=True):
                self._name_of(a, n)
            tests: list[ast.expr] = []
            check = self._block(cond, lambda: tests.append(self._expr(cond.yields[0])))
            enter_body()
            stmts = self._block(body, lambda: self._yield_into(body, names))
            if check:
                stop = ast.If(test=ast.UnaryOp(ast.Not(), tests[0]), body=[ast.Break()],
                              orelse=[])
                loop = ast.While(test=ast.Constant(True), body=[*check, stop, *stmts],
                                 orelse=[])
            else:
                loop = ast.While(test=tests[0], body=stmts or [ast.Pass()], orelse=[])
            self.body.append(loop)
        for r, n in zip(op.results, names, strict=True):
            self._name_of(r, n)

    def _item_loop(self, op: Op) -> tuple[Op, Value] | None:
        """``(get, xs)`` when loop ``op`` is ``for i in range(len(xs))`` whose index is
        read only by one ``get = xs[i]`` at the top of its body: then it is written
        ``for v in xs:``, as a person would (the same items, in order, without indexing;
        CPython iterates a list faster than it indexes it)."""
        if self.numba or self.array_api or op.attr("reverse", False):
            return None
        start, stop, step = op.operands[:3]
        if not (self.consts.get(start) == 0 and type(self.consts.get(start)) is int
                and self.consts.get(step) == 1 and type(self.consts.get(step)) is int):
            return None
        if self.defs is None:
            self.defs = {r: o for o in walk_ops(self.fn.body) for r in o.results}
        length = self.defs.get(stop)
        if length is None or length.prim != "len":
            return None
        items = length.operands[0]
        body = op.regions[0]
        index = body.args[0]
        gets = [o for o in body.ops if index in o.operands]
        if (len(gets) != 1 or gets[0].prim != "getitem" or gets[0].operands != (items, index)
                or items.kind is not Kind.LIST or index in body.yields
                or any(index in values_read(r) for o in body.ops for r in o.regions)):
            return None
        return gets[0], items

    def _range(self, bounds: list[ast.expr], reverse: bool) -> ast.expr:
        start, stop, step = bounds
        is_const = lambda e, c: isinstance(e, ast.Constant) and e.value == c  # noqa: E731
        if is_const(step, 1):
            args = [stop] if is_const(start, 0) else [start, stop]
        else:
            args = [start, stop, step]
        rng = ast.Call(func=_name("range"), args=args, keywords=[])
        if reverse and self.numba:  # Numba has no reversed(range): count down
            if is_const(step, 1):
                return ast.Call(_name("range"), [_plus(stop, -1), _plus(start, -1),
                                                 ast.Constant(-1)], [])
            last = ast.BinOp(start, ast.Add(), ast.BinOp(
                _plus(ast.Call(_name("len"), [rng], []), -1), ast.Mult(), step))
            return ast.Call(_name("range"), [last, ast.BinOp(start, ast.Sub(), step),
                                             ast.UnaryOp(ast.USub(), step)], [])
        return ast.Call(func=_name("reversed"), args=[rng], keywords=[]) if reverse else rng

    def _structure(self, s, like: ast.expr | None = None) -> ast.expr:
        if isinstance(s, tuple):
            return ast.Tuple(elts=[self._structure(x) for x in s], ctx=ast.Load())
        if isinstance(s, Static):
            return ast.Constant(s.value)
        if isinstance(s, Pack):
            return self._pack(s, like if like is not None else (
                _name(self.argument_names[s.like]) if s.like else None))
        return self.results[s]

    def _pack(self, pack: Pack, like: ast.expr | None) -> ast.expr:
        """A container result: ``[(W_bar, b_bar), ...]``, ``{"W": W_bar}``, or the
        argument it mirrors with its fields replaced (``params._replace(W=W_bar)``)."""
        items = []
        for k, (key, item) in enumerate(zip(pack.keys or range(len(pack.items)), pack.items,
                                             strict=True)):
            got = self._structure(item, _item_of(like, pack, key) if like is not None else None)
            source = pack.sources[k] if k < len(pack.sources) else None
            if source is not None and not isinstance(got, (ast.Name, ast.Constant)):
                # a part of a container result: named after its leaf (`W_bar`), not inlined
                name = self.namer.fresh(f"{self.names[self.fn.params[source]]}.{pack.suffix}")
                self._assign(name, got)
                got = _name(name)
            items.append(got)
        if pack.kind == "list":
            return ast.List(elts=items, ctx=ast.Load())
        if pack.kind == "tuple":
            return ast.Tuple(elts=items, ctx=ast.Load())
        if pack.kind == "dict":
            return ast.Dict(keys=[ast.Constant(k) for k in pack.keys], values=items)
        keywords = [ast.keyword(arg=k, value=v) for k, v in zip(pack.keys, items, strict=True)
                    if not (isinstance(v, ast.Constant) and v.value is None)]
        if pack.kind == "namedtuple":
            return ast.Call(func=ast.Attribute(value=like, attr="_replace", ctx=ast.Load()),
                            args=[], keywords=keywords)
        self._use_helper("_replace_fields")
        return ast.Call(func=_name("_replace_fields"), args=[like], keywords=keywords)

    def _unpack(self, pack: Pack, source: ast.expr) -> list[ast.stmt]:
        """Statements binding the leaves of container argument ``source`` to their
        names: ``(W, b), (W_1, b_1) = params``, ``W = params["W"]``, ``W = params.W``."""
        if pack.kind in ("list", "tuple") and _unpackable(pack):
            target = self._unpack_target(pack)
            return [ast.Assign(targets=[target], value=source)] if target is not None else []
        out: list[ast.stmt] = []
        for key, item in zip(pack.keys or range(len(pack.items)), pack.items, strict=True):
            sub = _item_of(source, pack, key)
            if isinstance(item, Pack):
                out.extend(self._unpack(item, sub))
            elif isinstance(item, int) and self.fn.params[item] in self.uses:
                out.append(ast.Assign(targets=[ast.Name(self.names[self.fn.params[item]],
                                                        ast.Store())], value=sub))
        return out

    def _unpack_target(self, pack: Pack) -> ast.expr | None:
        """The target of ``... = params`` (``_`` for what the function does not read), or
        None if it reads nothing."""
        elts = []
        for item in pack.items:
            if isinstance(item, Pack):
                elts.append(self._unpack_target(item))
            elif isinstance(item, int) and self.fn.params[item] in self.uses:
                elts.append(ast.Name(self.names[self.fn.params[item]], ast.Store()))
            else:
                elts.append(None)
        if all(e is None for e in elts):
            return None
        return ast.Tuple(elts=[e if e is not None else ast.Name("_", ast.Store())
                               for e in elts], ctx=ast.Store())

    def write(self) -> ast.FunctionDef:
        fn = self.fn
        if self.numba and fn.star != (None, None):
            raise njit.refuse(f"the `*{fn.star[0] or ''}`/`**{fn.star[1] or ''}` parameters of "
                              f"`{fn.name}`", fn.body.ops[0].loc if fn.body.ops else None,
                              why="a Numba function takes a fixed list of typed arguments",
                              hint="name the parameters the function uses")
        if self.array_api and (refused := xp.control_refused(fn)) is not None:
            raise refused
        self._analyse()
        args, kwonly = [], []
        marks = fn.defaults + (NO_DEFAULT,) * (len(fn.params) - len(fn.defaults))
        prologue: list[ast.stmt] = []
        vararg: ast.arg | None = None
        self.argument_names: dict[str, str] = {}
        entries = []  # (parameter or None for a container, its mark, its ast.arg)
        for a in fn.arguments if fn.arguments is not None else range(len(fn.params)):
            if isinstance(a, int):
                p = fn.params[a]
                name = self.namer.fresh(p.hint if p.hint else "arg")
                self._name_of(p, name)
                entries.append((p, marks[a], ast.arg(arg=name)))
                continue
            # a container: its name, then its leaves' names, bound in the first lines
            name = self.argument_names[a.name] = self.namer.fresh(a.name)
            leaves = list(a.pack.leaves()) if isinstance(a.pack, Pack) else []
            for i in leaves:
                self._name_of(fn.params[i], self.namer.fresh(fn.params[i].hint))
            if isinstance(a.pack, Pack):
                prologue.extend(self._unpack(a.pack, _name(name)))
            if a.star:  # f(x, *xs): the tuple of the extra positional arguments
                vararg = ast.arg(arg=name)
                continue
            entries.append((None, marks[leaves[0]] if leaves else NO_DEFAULT,
                            ast.arg(arg=name)))
        for _, mark, arg in entries:
            (kwonly if mark is KEYWORD_ONLY else args).append(arg)
        self.body.extend(prologue)
        for op in fn.body.ops:
            self._op(op, fn.body)
        self.results = [self._expr(v) for v in fn.results]
        ret = ast.Return(value=self._structure(fn.structure))
        doc = [ast.Expr(ast.Constant(fn.docstring))] if fn.docstring else []
        defaults, checks = [], []
        for p, mark, arg in entries:
            if p is None or mark is NO_DEFAULT or mark is KEYWORD_ONLY:
                continue
            if isinstance(mark, FunctionDefault) and (
                    mark.value is None or isinstance(mark.value, (bool, str))):
                # keepdims=False: a compile-time choice the body was lowered for
                defaults.append(ast.Constant(mark.value))
                test = "!=" if isinstance(mark.value, str) else "is not"
                message = (f"{fn.name} was compiled for {arg.arg}={mark.value!r}; for another "
                           "value, differentiate a function that passes it")
                checks.append(ast.parse(f"if {arg.arg} {test} {mark.value!r}:\n"
                                        f"    raise TypeError({message!r})").body[0])
            elif isinstance(mark, (FunctionDefault, ArrayDefault)) and self.numba:
                kind = "an array" if isinstance(mark, ArrayDefault) else "a function"
                raise njit.refuse(f"the default `{arg.arg}=...` ({kind})", self.loc,
                                  why="the generated module holds it by name, and Numba "
                                      "freezes a global into the code it compiles (a "
                                      "function it cannot even compare)",
                                  hint=f"pass `{arg.arg}` as an argument, or use it inside "
                                       f"`{fn.name}` instead of a default")
            elif isinstance(mark, ArrayDefault):  # alpha=np.asarray([...]), held by name
                default = function_default_name(p)
                self.modules.add(("default", default, mark))
                defaults.append(_name(default))
            elif isinstance(mark, FunctionDefault):  # act=np.tanh: a compile-time choice
                default = function_default_name(p)
                self.modules.add(("default", default, mark))
                defaults.append(_name(default))
                what = mark.spelled or getattr(mark.value, "__qualname__", "its default")
                message = (f"{fn.name} was compiled for {arg.arg}={what}; for another "
                           "function, differentiate a function that passes it")
                checks.append(ast.parse(f"if {arg.arg} is not {default}:\n"
                                        f"    raise TypeError({message!r})").body[0])
            else:
                defaults.append(self._const_expr(mark))
        star = [ast.arg(arg=self.namer.fresh(n)) if n else None for n in fn.star]
        if vararg is not None:
            star[0] = vararg
        return ast.FunctionDef(
            name=fn.name,
            args=ast.arguments(posonlyargs=[], args=args, vararg=star[0],
                               kwonlyargs=kwonly, kw_defaults=[None] * len(kwonly),
                               kwarg=star[1], defaults=defaults),
            body=doc + checks + self._namespace_line(args, kwonly, [ret]) + self.body + [ret],
            decorator_list=[],
            returns=None,
            type_comment=None,
            **({"type_params": []} if hasattr(ast, "TypeAlias") else {}),
        )

    def _namespace_line(self, args: list[ast.arg], kwonly: list[ast.arg],
                        tail: list[ast.stmt]) -> list[ast.stmt]:
        """Array API target: ``xp = _namespace(x, y)`` when the body (``self.body`` and
        ``tail``) calls ``xp.<name>`` (helpers ask for the namespace themselves)."""
        if not self.array_api or not any(isinstance(n, ast.Name) and n.id == "xp"
                                         for stmt in self.body + tail for n in ast.walk(stmt)):
            return []
        self.helpers.add("_namespace")
        return [xp.namespace_line([a.arg for a in args + kwonly])]


def _plus(e: ast.expr, k: int) -> ast.expr:
    """``e + k`` (``k`` an int), folded when ``e`` is an int literal."""
    if isinstance(e, ast.Constant) and type(e.value) is int:
        return ast.Constant(e.value + k) if e.value + k >= 0 else ast.UnaryOp(
            ast.USub(), ast.Constant(-(e.value + k)))
    return ast.BinOp(e, ast.Add() if k > 0 else ast.Sub(), ast.Constant(abs(k)))


def _trip_count(start: ast.expr, stop: ast.expr, step: ast.expr) -> ast.expr:
    """The number of iterations of ``range(start, stop, step)``, as an expression."""
    if isinstance(step, ast.Constant) and step.value == 1:
        n = stop if isinstance(start, ast.Constant) and start.value == 0 else ast.BinOp(
            stop, ast.Sub(), start)
        return ast.Call(_name("max"), [n, ast.Constant(0)], [])
    return ast.Call(_name("len"), [ast.Call(_name("range"), [start, stop, step], [])], [])


def _item_of(source: ast.expr, pack: Pack, key: Any) -> ast.expr:
    """``source[key]`` or ``source.key``: item ``key`` of container ``source``."""
    if pack.kind in ("list", "tuple", "dict"):
        return ast.Subscript(value=source, slice=ast.Constant(key), ctx=ast.Load())
    return ast.Attribute(value=source, attr=key, ctx=ast.Load())


def _unpackable(pack: Pack) -> bool:
    """Can ``... = source`` unpack ``pack`` (lists and tuples all the way down)?"""
    return pack.kind in ("list", "tuple") and all(
        _unpackable(i) if isinstance(i, Pack) else True for i in pack.items)


def _negate(test: ast.expr) -> ast.expr:
    """``not test``.  A comparison keeps its ``not``: ``not (a > b)`` is not
    ``a <= b`` when either side is NaN."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return test.operand
    return ast.UnaryOp(ast.Not(), test)


def _real_ops(block: Block) -> list[Op]:
    return [op for op in block.ops if op.prim != "const"]


def function_def(fn: Function, target: str = "python") -> tuple[ast.FunctionDef, set[str]]:
    """The ``def`` for ``fn`` and what it uses: modules (``"math"``, ``"numpy"``) and
    helpers of :mod:`s2sad.runtime` (``"_unbroadcast"``).  ``target="numba"``: code for
    ``numba.njit`` (see :mod:`s2sad.codegen.njit`)."""
    writer = _FunctionWriter(fn, target)
    node = writer.write()
    return node, writer.modules | writer.helpers


def module(fns: list[Function | tuple[list[ast.stmt], set[str]]],
           header: str | None = None, target: str = "python") -> ast.Module:
    """A module defining ``fns``, with its imports, the helpers they call, and an
    optional header docstring.  An item of ``fns`` may also be ready-made statements
    with the modules they use (the drivers of :mod:`s2sad.pipeline`).  ``target="numba"``:
    every function ``@numba.njit(cache=True)``, the module imports ``numba`` too."""
    if target not in xp.TARGETS:
        raise ValueError(f"target must be one of {xp.TARGETS}, not {target!r}")
    defs, modules = [], set()
    for fn in fns:
        if isinstance(fn, tuple):
            statements, used = fn
            defs.extend(statements)
        else:
            node, used = function_def(fn, target)
            defs.append(node)
        modules |= used
    helpers = {m for m in modules if m in arrays.HELPER_NAMES or m in njit.HELPERS
               or m in xp.HELPERS}
    if target == xp.TARGET and helpers:  # the standard's versions, and NumPy-free ones
        defs = xp.helper_definitions(helpers - runtime.NUMPY_FREE) + arrays.helper_definitions(
            helpers & runtime.NUMPY_FREE) + defs
    else:
        defs = (njit.helper_definitions(helpers) if target == "numba"
                else arrays.helper_definitions(helpers)) + defs
    imports = sorted(m[1:] for m in modules if isinstance(m, tuple) and m[0] == "import")
    environment = environment_arrays(modules)
    static = {n: ref.value for n, ref in environment.items() if ref.static}
    if static:  # literals of the source file: written out, the module stays standalone
        modules.add(P.NUMPY)
        defs = [ast.Assign(targets=[ast.Name(n, ast.Store())],
                           value=ast.parse(_array_literal(v), mode="eval").body)
                for n, v in sorted(static.items())] + defs
    for default_name, d in sorted(_function_defaults(modules).items()):
        if d.spelled is not None:  # np.tanh: the module spells it, and stays standalone
            modules.add(P.MATH if d.spelled.startswith("math.") else P.NUMPY)
            defs.insert(0, ast.Assign(targets=[ast.Name(default_name, ast.Store())],
                                      value=ast.parse(d.spelled, mode="eval").body))
    read = sorted(n for n, ref in environment.items() if not ref.static)
    if read and header:
        header += ("\n\nReads the array" + ("s " if len(read) > 1 else " ") + ", ".join(read)
                   + " of the function's environment (a global or closure value) when it "
                   "runs.")
    seen: dict[str, str] = {}
    for module_name, fname in imports:
        if seen.setdefault(fname, module_name) != module_name:
            raise S2SADError(
                f"two custom primitives named `{fname}` (from modules `{seen[fname]}` and "
                f"`{module_name}`) in one generated module",
                hint="rename one of them, or generate the functions into separate modules")
    body: list[ast.stmt] = []
    if header:
        if imports:
            header = _import_note(header, imports)
        body.append(ast.Expr(ast.Constant(header)))
    if P.MATH in modules:
        body.append(ast.Import(names=[ast.alias(name="math")]))
    if P.NUMPY in modules:
        body.append(ast.Import(names=[ast.alias(name="numpy", asname="np")]))
    if xp.TARGET in modules:
        body.append(ast.Import(names=[ast.alias(name="array_api_compat")]))
    if P.SCIPY in modules:  # only where the user's source called SciPy itself
        body.append(ast.Import(names=[ast.alias(name="scipy.special")]))
    for module_name, fname in imports:
        body.append(ast.ImportFrom(module=module_name, names=[ast.alias(name=fname)], level=0))
    body.extend(defs)
    mod = ast.Module(body=body, type_ignores=[])
    return njit.decorate(mod) if target == "numba" else ast.fix_missing_locations(mod)


def environment_arrays(modules: set) -> dict[str, Any]:
    """The environment arrays a module reads (name -> :class:`ArrayRef`), from the
    ``("env", name, ref)`` entries of the modules its functions use."""
    out: dict[str, Any] = {}
    for m in modules:
        if isinstance(m, tuple) and m[0] == "env":
            if out.setdefault(m[1], m[2]) is not m[2]:
                raise InternalError(f"two environment arrays named {m[1]!r} in one module")
    return out


def _function_defaults(modules: set) -> dict[str, Any]:
    """The function defaults a module's functions check (name -> :class:`FunctionDefault`)."""
    return {m[1]: m[2] for m in modules if isinstance(m, tuple) and m[0] == "default"}


def function_default_name(param: Value) -> str:
    """The module-level name of the function default of ``param`` (``_default_act``)."""
    return f"_default_{param.hint}"


def _array_literal(value: Any) -> str:
    kind = value.dtype.kind
    dtype = ", dtype=bool" if kind == "b" else ", dtype=int" if kind in "iu" else ""
    return f"np.array({value.tolist()!r}{dtype})"


def _import_note(header: str, imports: list[tuple[str, str]]) -> str:
    """The header, saying which custom primitives the module imports, and from where."""
    header = header.replace("This module needs only math and numpy, never s2sad.",
                            "This module imports math, numpy and your primitives below.")
    lines = ["It calls custom primitives (@s2sad.primitive) of your code, imported by name",
             "(their module, not this one, imports s2sad for the decorator):"]
    lines += [f"    from {m} import {f}" for m, f in imports]
    for m in sorted({m for m, _ in imports}):
        if "." in m:
            lines.append(f"It must run where module `{m}` can be imported.")
        else:
            lines.append(f"It must run where module `{m}` can be imported: next to {m}.py,")
            lines.append(f"or with the folder of {m}.py on sys.path.")
    return header.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
