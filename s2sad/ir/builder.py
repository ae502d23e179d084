"""Building IR: fresh values, ops, and CSE by construction.

:class:`Builder` appends ops to the current block.  Building an op that
already exists in a visible scope (same primitive, same operands, same
attributes) returns the existing value instead — common-subexpression
elimination by construction, as in tinygrad's hash-consed graphs.  Operands of
commutative primitives are put in a canonical order first (constants first
for ``mul``, last for ``add``; otherwise by definition order), as SymPy's
``cse`` does, so that ``x*y`` and ``y*x`` meet.

With ``simplify=True`` every op first goes through :func:`s2sad.opt.simplify.rewrite`
(constant folding and the algebraic identities that are exact in floating
point), so the AD passes can emit naive formulas and get tidy IR.
"""

from __future__ import annotations

import itertools
from typing import Any

from .. import primitives as P
from ..errors import InternalError, Loc
from .core import Attrs, Block, Function, Kind, Op, Value

_FLOAT_ARITH = frozenset({"add", "sub", "mul", "div", "max2", "min2"})


def const_key(value: Any) -> tuple[str, str]:
    return (type(value).__name__, repr(value))


class _Scope:
    __slots__ = ("block", "table")

    def __init__(self, block: Block) -> None:
        self.block = block
        self.table: dict[tuple, tuple[Value, ...]] = {}


class Builder:
    """Appends ops to blocks, numbering values and sharing identical ops."""

    def __init__(self, *, simplify: bool = True) -> None:
        self._ids = itertools.count()
        self.last_id = -1  # the id of the newest value
        self._scopes: list[_Scope] = [_Scope(Block())]
        self.simplify = simplify
        self.consts: dict[Value, Any] = {}  # value -> python constant, for folding
        self.defs: dict[Value, Op] = {}  # value -> the op that defines it
        self.blocks: dict[Value, Block] = {}  # value -> the block its op is in

    # -- values ----------------------------------------------------------------------------
    def fresh(self, kind: Kind, hint: str | None = None) -> Value:
        self.last_id = next(self._ids)
        return Value(self.last_id, kind, hint)

    def const(self, value: Any, loc: Loc | None = None) -> Value:
        if type(value) not in (bool, int, float):  # e.g. numpy scalars
            value = float(value)
        return self.emit("const", (), attrs=(("value", value),), loc=loc)

    def const_value(self, v: Value) -> Any:
        """The Python constant behind ``v``, or ``None`` if it is not a constant."""
        return self.consts.get(v)

    def is_const(self, v: Value, value: Any = None) -> bool:
        if v not in self.consts:
            return False
        return value is None or (
            self.consts[v] == value and type(self.consts[v]) is not bool
        )

    # -- ops -------------------------------------------------------------------------------
    def emit(
        self,
        prim: str,
        operands: tuple[Value, ...] | list[Value],
        *,
        attrs: Attrs | dict = (),
        loc: Loc | None = None,
        hint: str | None = None,
    ) -> Value:
        """Build one single-result op (or find the identical one) and return its value."""
        p = P.PRIMITIVES.get(prim)
        if p is None:
            raise InternalError(f"unknown primitive {prim!r}")
        operands = tuple(operands)
        if p.nin != P.VARIADIC and len(operands) != p.nin:
            raise InternalError(f"{prim} takes {p.nin} operands, got {len(operands)}")
        attrs = tuple(sorted(attrs.items() if isinstance(attrs, dict) else attrs))
        if p.commutative:
            operands = self._canonical_order(prim, operands)
        if self.simplify and prim != "const" and p.cse:
            from ..opt.simplify import rewrite

            mark = self.last_id
            got = rewrite(self, prim, operands, dict(attrs), loc)
            if got is not None:
                if hint and got.hint is None and got.id > mark:
                    self.rename(got, hint)  # the rewrite just made it: name it
                return got
        key = self._key(prim, operands, attrs) if p.cse else None
        found = self._lookup(key) if key is not None else None
        if found is not None:
            return found[0]
        kind = p.result_kind(tuple(v.kind for v in operands), dict(attrs))
        result = self.fresh(kind, hint)
        op = Op(prim, operands, (result,), attrs, loc)
        self._append(op, key)
        if prim == "const":
            self.consts[result] = dict(attrs)["value"]
        return result

    def known(self, prim: str, operands: tuple[Value, ...], attrs: Attrs | dict,
              value: Value) -> None:
        """Record that op ``prim(operands)`` has the value ``value`` in the block being
        built: emitting that op there returns ``value`` (a value kept on a tape stands
        for the op that computed it, which is then not computed again)."""
        p = P.PRIMITIVES[prim]
        attrs = tuple(sorted(attrs.items() if isinstance(attrs, dict) else attrs))
        if p.commutative:
            operands = self._canonical_order(prim, tuple(operands))
        self._scopes[-1].table[self._key(prim, tuple(operands), attrs)] = (value,)

    def rename(self, v: Value, hint: str) -> None:
        """Give ``v`` a name hint. Only for a value this builder has just made, which no
        one else holds yet: values are otherwise immutable."""
        object.__setattr__(v, "hint", hint)

    def emit_multi(
        self,
        prim: str,
        operands: tuple[Value, ...] | list[Value],
        kinds: list[Kind],
        *,
        hints: list[str | None] | None = None,
        attrs: Attrs | dict = (),
        loc: Loc | None = None,
        regions: tuple[Block, ...] = (),
    ) -> tuple[Value, ...]:
        """Build an op with several results (or regions); never shared by CSE."""
        hints = hints or [None] * len(kinds)
        results = tuple(self.fresh(k, h) for k, h in zip(kinds, hints, strict=True))
        attrs = tuple(sorted(attrs.items() if isinstance(attrs, dict) else attrs))
        self._append(Op(prim, tuple(operands), results, attrs, loc, tuple(regions)), None)
        return results

    def _append(self, op: Op, key: tuple | None) -> None:
        scope = self._scopes[-1]
        scope.block.ops.append(op)
        if key is not None:
            scope.table[key] = op.results
        for r in op.results:
            self.defs[r] = op
            self.blocks[r] = scope.block

    def _key(self, prim: str, operands: tuple[Value, ...], attrs: Attrs) -> tuple:
        if prim == "const":
            return (prim, const_key(dict(attrs)["value"]))
        if prim in _FLOAT_ARITH and any(v.kind in (Kind.FLOAT, Kind.ARRAY) for v in operands):
            # `1 - s` and `1.0 - s` are one value (code generation spells both `1.0 - s`):
            # a constant is numbered by the float it stands for.
            return (prim, tuple(self._number(v) for v in operands), attrs)
        return (prim, tuple(v.id for v in operands), attrs)

    def _number(self, v: Value) -> int | str:
        c = self.consts.get(v)
        if type(c) is float or (type(c) is int and abs(c) <= 2 ** 53):
            return repr(float(c))
        return v.id

    def _lookup(self, key: tuple) -> tuple[Value, ...] | None:
        for scope in reversed(self._scopes):
            found = scope.table.get(key)
            if found is not None:
                return found
        return None

    def _canonical_order(self, prim: str, operands: tuple[Value, ...]) -> tuple[Value, ...]:
        consts_first = prim != "add"

        def rank(v: Value) -> tuple[int, int]:
            c = v in self.consts
            return (0 if c == consts_first else 1, v.id)

        return tuple(sorted(operands, key=rank))

    # -- blocks ----------------------------------------------------------------------------
    def push_block(self, args: tuple[Value, ...] = ()) -> Block:
        block = Block(args=args)
        self._scopes.append(_Scope(block))
        return block

    def pop_block(self, yields: tuple[Value, ...]) -> Block:
        scope = self._scopes.pop()
        scope.block.yields = tuple(yields)
        return scope.block

    @property
    def block(self) -> Block:
        return self._scopes[-1].block

    @property
    def open_blocks(self) -> list[Block]:
        """The blocks being built, outermost (the function's body) first."""
        return [s.block for s in self._scopes]

    def finish(
        self,
        name: str,
        params: tuple[Value, ...],
        results: tuple[Value, ...],
        **meta: Any,
    ) -> Function:
        """Close the top-level block and return the function built."""
        if len(self._scopes) != 1:
            raise InternalError("finish() with open nested blocks")
        body = self._scopes[0].block
        body.yields = tuple(results)
        return Function(name=name, params=params, body=body, **meta)
