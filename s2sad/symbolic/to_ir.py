"""SymPy expression → IR: how the partial derivatives of the primitive table become ops.

:func:`build_partial` instantiates one of the SymPy partials of
:func:`s2sad.primitives.symbolic_partials` for concrete operand values, the
primal output and the op's attributes.  The translation keeps the shape a
person would write: a sum with negative terms becomes a subtraction, a
product with negative powers becomes a division, ``x**(1/2)`` becomes
``sqrt``, a ``Piecewise`` becomes a ``select``.
"""

from __future__ import annotations

from typing import Any

from .. import primitives as P
from ..errors import InternalError, Loc
from ..ir.core import Kind, Value
from ..primitives_numpy import ShapeFacts

_RELATIONS = {
    "GreaterThan": "ge", "StrictGreaterThan": "gt", "LessThan": "le",
    "StrictLessThan": "lt", "Equality": "eq", "Unequality": "ne",
}


class _Translator:
    def __init__(self, builder, env: dict, lib: str | None, loc: Loc | None,
                 hint: str | None = None) -> None:
        import sympy

        self.sp = sympy
        self.b = builder
        self.env = env
        self.lib = lib
        self.source_lib = lib  # the library of the op differentiated (before arrays: NumPy)
        self.loc = loc
        self.hint = hint  # given to the ops of the outermost expression
        self.depth = 0
        # On arrays, functions are NumPy's and a Piecewise is np.where (both sides are
        # computed, elementwise; a lazy `if` cannot choose per element).
        self.array = any(isinstance(v, Value) and v.kind is Kind.ARRAY for v in env.values())
        if self.array:
            self.lib = P.NUMPY

    def emit(self, prim: str, *operands: Value, **attrs: Any) -> Value:
        hint = self.hint if self.depth == 1 else None
        return self.b.emit(prim, operands, attrs=attrs, loc=self.loc, hint=hint)

    def __call__(self, e) -> Value:
        self.depth += 1
        try:
            return self.translate(e)
        finally:
            self.depth -= 1

    def number(self, e) -> Value:
        if e.is_Integer:
            return self.b.const(int(e), self.loc)
        return self.b.const(float(e), self.loc)

    def func_lib(self, prim: str) -> str | None:
        names = P.PRIMITIVES[prim].names
        if self.source_lib == P.SCIPY and P.SCIPY in names:
            return P.SCIPY  # the source used SciPy: its special functions may be spelt so
        if self.array and P.NUMPY not in names:
            if P.HELPER in names:
                return P.HELPER
            raise InternalError(f"no NumPy spelling of {prim} for a partial on arrays")
        if self.lib in names:
            return self.lib
        if self.source_lib == P.SCIPY and P.NUMPY in names:
            return P.NUMPY  # scipy.special's functions take arrays: so must the partial
        if P.MATH not in names and P.HELPER in names:
            return P.HELPER
        return P.MATH if P.MATH in names or not names else None

    def translate(self, e) -> Value:
        sp = self.sp
        if e.is_Symbol:
            got = self.env[e]
            return got if isinstance(got, Value) else self.b.const(got, self.loc)
        if e.is_number and not e.has(sp.zoo, sp.nan):
            return self.number(e)
        if e.is_Add:
            pos = [t for t in e.args if not t.could_extract_minus_sign()]
            neg = [-t for t in e.args if t.could_extract_minus_sign()]
            acc = None
            for t in pos:
                v = self(t)
                acc = v if acc is None else self.emit("add", acc, v)
            for t in neg:
                v = self(t)
                acc = self.emit("neg", v) if acc is None else self.emit("sub", acc, v)
            return acc
        if e.is_Mul or (e.is_Pow and e.exp.is_number and e.exp.is_negative):
            if e.could_extract_minus_sign():
                return self.emit("neg", self(-e))
            num, den = sp.fraction(e)
            if den != 1:
                return self.emit("div", self(num), self(den))
            factors = [self(t) for t in e.args]  # sympy puts the numeric coefficient first
            if any(v.kind is Kind.ARRAY for v in factors):
                # the scalars first: one product of numbers, then one pass over the array
                scalar = ShapeFacts.of(self.b).surely_scalar
                factors.sort(key=lambda v: not scalar(v))
            acc = factors[0]
            for v in factors[1:]:
                acc = self.emit("mul", acc, v)
            return acc
        if e.is_Pow:
            base, exp = e.args
            if exp.is_number:
                if exp == sp.Rational(1, 2):
                    return self.emit("sqrt", self(base), lib=self.func_lib("sqrt"))
                n = int(exp) if exp.is_Integer else float(exp)
                return self.emit("powc", self(base), exponent=n)
            return self.emit("pow", self(base), self(exp))
        if isinstance(e, sp.Piecewise):
            (first_val, first_cond), *rest = e.args
            if not rest:
                return self(first_val)
            other = sp.Piecewise(*rest) if len(rest) > 1 or rest[0][1] is not sp.true \
                else rest[0][0]
            pred = self(first_cond)
            if self.array:
                return self.emit("np_where", pred, self.branch(first_val), self.branch(other))
            if all(v.is_Atom for v in (first_val, other)):
                return self.emit("select", pred, self.branch(first_val), self.branch(other))
            return self._lazy_branches(pred, first_val, other)
        name = type(e).__name__
        if name in ("And", "Or", "Not"):
            args = [self(a) for a in e.args]
            acc = args[0]
            for a in args[1:]:
                acc = self.emit(name.lower(), acc, a)
            return self.emit("not", acc) if name == "Not" else acc
        if name in _RELATIONS:
            return self.emit(_RELATIONS[name], self(e.lhs), self(e.rhs))
        prim = P.SYMPY_FUNCTION_PRIMS.get(name)
        if prim is not None:
            args = [self(a) for a in e.args]
            attrs = {}
            lib = self.func_lib(prim)
            if lib is not None:
                attrs["lib"] = lib
            return self.emit(prim, *args, **attrs)
        raise InternalError(f"cannot translate SymPy expression {e!r} to IR")

    def branch(self, e) -> Value:
        """One side of a Piecewise: a derivative, so a float even where SymPy says 0."""
        if e.is_number:
            return self.b.const(float(e), self.loc)
        return self(e)

    def _lazy_branches(self, pred: Value, then, orelse) -> Value:
        """A ``cond`` op: only the branch that applies is evaluated (``log(0)`` never runs)."""
        values, blocks = [], []
        for branch in (then, orelse):
            self.b.push_block()
            v = self.branch(branch)
            values.append(v)
            blocks.append(self.b.pop_block((v,)))
        hint = self.hint if self.depth == 1 else None
        (out,) = self.b.emit_multi("cond", (pred,), [_join(values[0].kind, values[1].kind)],
                                   hints=[hint], loc=self.loc, regions=tuple(blocks))
        return out


def _join(a: Kind, b: Kind) -> Kind:
    return Kind.FLOAT if Kind.FLOAT in (a, b) else a


def build_partial(
    builder,
    expr,
    operands: tuple[Value, ...],
    out: Value,
    attrs: dict,
    loc: Loc | None,
    factor: Value,
    hint: str | None = None,
) -> Value | None:
    """Build ``expr · factor`` (``expr`` a partial from the table) for these operands.

    Returns ``None`` when the partial is zero.
    """
    import sympy

    if expr == 0:
        return None
    env: dict = {sympy.Symbol(f"a{i}", real=True): v for i, v in enumerate(operands)}
    env[sympy.Symbol("out", real=True)] = out
    scale = sympy.Symbol("factor", real=True)
    env[scale] = factor
    expr = sympy.piecewise_fold(expr * scale)
    numbers = {}
    for sym, v in env.items():  # constants fold symbolically: 2·(1/3)·x → 0.666…·x
        c = builder.const_value(v)
        if c is not None and not isinstance(c, bool):
            numbers[sym] = sympy.Integer(c) if isinstance(c, int) else sympy.Float(c)
    if "exponent" in attrs:
        n = attrs["exponent"]
        numbers[sympy.Symbol("exponent", real=True)] = (
            sympy.Integer(n) if isinstance(n, int) else sympy.Float(n)
        )
    if numbers:
        expr = expr.subs(numbers)
        if expr == 0:
            return None
    return _Translator(builder, env, attrs.get("lib"), loc, hint)(expr)
