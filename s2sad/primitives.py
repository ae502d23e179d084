"""The primitive table: everything s2sad knows about each operation, in one place.

One :class:`Primitive` entry per operation says how many operands it takes,
what kind of value it returns, how to evaluate it (for constant folding and
the reference interpreter), how to spell it in Python (an operator, or a
function of ``math``, ``numpy`` or the builtins), its SymPy form, and how it
is differentiated:

* ``derivative="partials"``: the local partial derivatives are *derived from
  the SymPy form* (``sympy.diff``), simplified with ``powsimp`` and, where it
  saves work, rewritten in terms of the primal output (``exp' = exp``,
  ``tanh' = 1 - tanh²``, ``sqrt' = 1 / (2·sqrt)``).  They are never written
  by hand.  Both AD modes use the same partials.
* ``derivative="zero"``: piecewise constant (``floor``, ``sign``, ``//``).
* ``derivative="none"``: the result is not a float (comparisons).
* ``derivative="structured"``: ``cond``, ``for_range``, ``while_loop`` hold
  regions; the AD passes differentiate them structurally.
* ``derivative="linear"``: the list operations (``getitem``, ``append``,
  ``setitem``, list literals and copies), linear in their list and value
  operands; their tangent and adjoint rules are written in the AD passes.
* ``partials_rule``: a hand-written rule, for primitives that are not
  elementwise functions of floats (``select``).
* ``derivative="zero"`` also describes ``stop_gradient``: the identity, through
  which no derivative flows (:mod:`s2sad.custom`).
* ``imported``: a custom primitive (``@s2sad.primitive``), whose partials are a
  ``partials_rule`` that inlines the user's lifted partials function, and
  which generated code calls after importing it from the user's module.
* ``rule_missing=True``: the ops the AD passes emit (tapes, list adjoints, the array
  adjoint helpers) are linear or smooth in truth but have no derivative rule in
  the table; differentiating through one again is refused (:mod:`s2sad.ad.activity`)
  unless the sweep handles it itself (forward mode: the tapes and list adjoints).
* ``derivative="rule"``: hand-written forward and reverse rules (``jvp_rule``,
  ``vjp_rule``), for the array primitives of :mod:`s2sad.primitives_numpy`
  (reductions, matrix products, reshaping, indexing).

Constant exponents are attributes: ``powc`` is ``x ** n`` for a compile-time
``n``, whose partial ``n·x**(n-1)`` never involves ``log(x)``.

New primitives (including user-defined ones) enter through :func:`register`.
"""

from __future__ import annotations

import builtins
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from .errors import InternalError
from .ir.core import Kind

# The libraries a primitive can be spelled with in generated code.  SCIPY is
# ``scipy.special`` (spelt only where the user's source called SciPy: scipy is not a
# dependency of s2sad); HELPER is a function of :mod:`s2sad.runtime` that the generated
# module defines (``_polygamma``: the digamma of ``math.lgamma``'s derivative, without SciPy).
OP, MATH, NUMPY, BUILTIN = "op", "math", "numpy", "builtin"
SCIPY, HELPER = "scipy", "helper"


def _arith_kind(kinds: tuple[Kind, ...], attrs: dict) -> Kind:
    if Kind.ARRAY in kinds:
        return Kind.ARRAY
    return Kind.FLOAT if any(k is Kind.FLOAT for k in kinds) else Kind.INT


def _float_kind(kinds: tuple[Kind, ...], attrs: dict) -> Kind:
    """Elementwise functions: an array in, an array out (NumPy broadcasting)."""
    return Kind.ARRAY if Kind.ARRAY in kinds else Kind.FLOAT


def _bool_kind(kinds: tuple[Kind, ...], attrs: dict) -> Kind:
    return Kind.BOOL


def _rounding_kind(kinds: tuple[Kind, ...], attrs: dict) -> Kind:
    # math.floor / round / int return int; numpy's floor returns a float.
    if Kind.ARRAY in kinds:
        return Kind.ARRAY
    return Kind.FLOAT if attrs.get("lib") == NUMPY else Kind.INT


def _select_kind(kinds: tuple[Kind, ...], attrs: dict) -> Kind:
    return _arith_kind(kinds[1:], attrs)


def _const_kind(kinds: tuple[Kind, ...], attrs: dict) -> Kind:
    value = attrs["value"]
    if isinstance(value, bool):
        return Kind.BOOL
    if isinstance(value, int):
        return Kind.INT
    return Kind.FLOAT


def _powc_kind(kinds: tuple[Kind, ...], attrs: dict) -> Kind:
    n = attrs["exponent"]
    if kinds[0] is Kind.ARRAY:
        return Kind.ARRAY
    if kinds[0] is Kind.FLOAT or not isinstance(n, int) or n < 0:
        return Kind.FLOAT
    return Kind.INT


@dataclass(frozen=True)
class Primitive:
    """One entry of the table. See the module docstring."""

    name: str
    nin: int
    sympy_form: Callable[..., Any] | None = None
    names: dict[str, str] = field(default_factory=dict)  # lib -> function name
    operator: Any = None  # an ast operator/cmpop class name, e.g. "Add", "Lt"
    kind_rule: Callable[[tuple[Kind, ...], dict], Kind] = _float_kind
    commutative: bool = False
    derivative: str = "partials"  # "partials" | "zero" | "none"
    reuse_output: bool = True  # may partials refer to the primal output?
    partials_rule: Callable[..., Any] | None = None
    evaluator: Callable[..., Any] | None = None  # (lib, *args, **attrs) -> value
    cse: bool = True  # may identical ops be shared? (not for tapes and regions)
    # operand index -> condition (on the SymPy operands) where that partial is taken as 0:
    # a convention at a point where the derived formula is undefined (DESIGN §10).
    zero_partial_where: dict[int, Callable[..., Any]] = field(default_factory=dict)
    # the partials as SymPy expressions in (a0, a1, ..., out), where sympy.diff of the form
    # would be numerically unstable (logaddexp: exp(a - out), not exp(a) / (exp(a) + exp(b)))
    partials_form: Callable[..., Any] | None = None
    # derivative="rule": hand-written rules (the array primitives of primitives_numpy)
    jvp_rule: Callable[..., Any] | None = None  # (b, op, operands, out, tangents) -> tangent
    vjp_rule: Callable[..., Any] | None = None  # (b, op, operands, out, ybar) -> adjoints
    fold: bool = True  # may an op on constants be folded at compile time?
    # a custom primitive (s2sad.primitive): (module, name) the generated code imports and calls
    imported: tuple[str, str] | None = None
    # differentiable in truth, but s2sad has no derivative rule for it yet: the tapes and
    # the adjoint helpers that the AD passes themselves emit.  Activity analysis refuses
    # to differentiate through one (derivative="none" would silently give a zero).
    rule_missing: bool = False
    # a side effect (``self.nfev += 1``): run where it stands, never shared or removed;
    # its one result (an int nobody reads) only gives it a place in the IR
    effect: bool = False

    def result_kind(self, kinds: tuple[Kind, ...], attrs: dict) -> Kind:
        return self.kind_rule(kinds, attrs)

    def evaluate(self, lib: str | None, *args: Any, **attrs: Any) -> Any:
        if self.evaluator is not None:
            return self.evaluator(lib, *args, **attrs)
        lib = lib or MATH
        if lib == NUMPY:
            return getattr(np, self.names[NUMPY])(*args)
        if lib == BUILTIN:
            return getattr(builtins, self.names[BUILTIN])(*args)
        return getattr(math, self.names[MATH])(*args)


PRIMITIVES: dict[str, Primitive] = {}
VARIADIC = -1  # nin of primitives that take any number of operands


def register(prim: Primitive) -> Primitive:
    """Add a primitive to the table (the one place a new operation is described)."""
    PRIMITIVES[prim.name] = prim
    return prim


def get(name: str) -> Primitive:
    return PRIMITIVES[name]


# --------------------------------------------------------------------------------------
# SymPy forms. Imported lazily: `import s2sad` should not pay for SymPy until a partial
# derivative is first needed.


def _sp():
    import sympy

    return sympy


def _fn(name: str) -> Callable[..., Any]:
    return lambda *a, **_: getattr(_sp(), name)(*a)


def _op_eval(fn: Callable[..., Any]) -> Callable[..., Any]:
    return lambda lib, *args, **attrs: fn(*args)


def _sign_eval(lib: str | None, x: Any, **attrs: Any) -> Any:
    if lib == NUMPY:
        return np.sign(x)
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0 * x


def _log_base_eval(lib: str | None, x: Any, b: Any, **attrs: Any) -> Any:
    if lib == NUMPY:
        return np.log(x) / np.log(b)
    return math.log(x, b)


def _max_eval(lib: str | None, a: Any, b: Any, **attrs: Any) -> Any:
    if lib == NUMPY:
        return np.maximum(a, b)
    return a if a >= b else b


def _min_eval(lib: str | None, a: Any, b: Any, **attrs: Any) -> Any:
    if lib == NUMPY:
        return np.minimum(a, b)
    return a if a <= b else b


def _setitem(lib: str | None, xs: Any, i: int, v: Any, **attrs: Any) -> Any:
    out = list(xs)
    out[i] = v
    return out


ATTR_UPDATE_OPS = {"set": None, "add": operator.add, "sub": operator.sub,
                   "mul": operator.mul, "div": operator.truediv}


def _attr_update(lib: str | None, obj: Any, value: Any, *, attr: str, op: str) -> int:
    fn = ATTR_UPDATE_OPS[op]
    setattr(obj, attr, value if fn is None else fn(getattr(obj, attr), value))
    return 0


def _raise_if(lib: str | None, test: Any, *, exc: str, message: str) -> int:
    if test:
        raise getattr(builtins, exc)(message)
    return 0


def _print(lib: str | None, *values: Any, parts: tuple, sep: str, end: str) -> int:
    print(*[values[p] if isinstance(p, int) else p[0] for p in parts], sep=sep, end=end)
    return 0


def _unpack_check(lib: str | None, xs: Any, *, n: int) -> int:
    if len(xs) != n:
        raise ValueError(f"cannot unpack {len(xs)} values into {n} names")
    return 0


def _runtime(name: str) -> Callable[..., Any]:
    """A helper of :mod:`s2sad.runtime`, as a function (the generated code's own text)."""
    from . import runtime

    return runtime.function(name)


def _like_argument_jvp(b, op, operands, out, tangents):
    t = tangents[0]
    return None if t is None else b.emit("like_argument", (t, operands[1]), loc=op.loc)


def _like_argument_vjp(b, op, operands, out, ybar):
    return [ybar, None]


def _list_join(lib: str | None, xs: Any, *, how: str, axis: int | None = None) -> Any:
    import numpy as np

    if how in ("stack", "concatenate"):
        return getattr(np, how)(xs, axis=axis)
    return getattr(np, how)(xs)


def _list_unjoin(lib: str | None, g: Any, xs: Any, *, how: str, axis: int | None = None
                 ) -> list:
    import numpy as np

    if how in ("array", "asarray", "stack"):  # (codegen: list(g), list(np.moveaxis(...)))
        return list(np.moveaxis(g, axis or 0, 0))
    return _runtime("_unjoin")(g, xs, how=how, axis=axis)


def _list_join_jvp(b, op, operands, out, tangents):
    """The same join of the tangents (a list of the items' tangents, zeros included)."""
    t = tangents[0]
    return None if t is None else b.emit("list_join", (t,), attrs=op.attrs, loc=op.loc)


def _list_join_vjp(b, op, operands, out, ybar):
    """The adjoint split back into a list of pieces shaped as the items."""
    return [b.emit("list_unjoin", (ybar, operands[0]), attrs=op.attrs, loc=op.loc)]


def _list_unjoin_jvp(b, op, operands, out, tangents):
    t = tangents[0]  # linear in the adjoint; the pieces' shapes come from the list
    return None if t is None else b.emit("list_unjoin", (t, operands[1]), attrs=op.attrs,
                                         loc=op.loc)


def _runtime_zero_like(x: Any) -> Any:
    return _runtime("_zero_like")(x)


def _add_at(lib: str | None, xs: Any, i: int, v: Any, **attrs: Any) -> Any:
    xs[i] += v
    return xs


def _select_partials(builder, operands, out, attrs, loc):
    """d select(c, a, b) / da = (1 if c else 0), / db = (0 if c else 1)."""
    c = operands[0]
    one, zero = builder.const(1.0, loc), builder.const(0.0, loc)
    return [
        None,
        builder.emit("select", (c, one, zero), loc=loc),
        builder.emit("select", (c, zero, one), loc=loc),
    ]


def _same_value_partials(builder, operands, out, attrs, loc):
    """The partials of ``same_value(v, *args)`` by its identity (:mod:`s2sad.opt.identities`,
    where each is proved): none through ``v``, which only carries the value."""
    identity = attrs["identity"]
    one = builder.const(1.0, loc)
    if identity == "log_sigmoid":  # log σ(z), args (z, p = σ(z)): d/dz = 1 - σ(z)
        return [None, builder.emit("sub", (one, operands[2]), loc=loc), None]
    if identity == "log1m_sigmoid":  # log(1 - σ(z)), args (z, p): d/dz = -σ(z)
        return [None, builder.emit("neg", (operands[2],), loc=loc), None]
    if identity == "binary_cross_entropy":
        # y·log σ(z) + (1 - y)·log(1 - σ(z)), args (y, z, p): d/dy = z, d/dz = y - σ(z)
        _, y, z, p = operands
        return [None, z, builder.emit("sub", (y, p), loc=loc), None]
    raise InternalError(f"unknown identity {identity!r}")


def _define_table() -> None:
    # -- constants and arithmetic --------------------------------------------------------
    register(Primitive("const", 0, kind_rule=_const_kind, derivative="none"))
    register(Primitive("add", 2, lambda a, b, **_: a + b, operator="Add",
                       kind_rule=_arith_kind, commutative=True, evaluator=_op_eval(operator.add)))
    register(Primitive("sub", 2, lambda a, b, **_: a - b, operator="Sub",
                       kind_rule=_arith_kind, evaluator=_op_eval(operator.sub)))
    register(Primitive("mul", 2, lambda a, b, **_: a * b, operator="Mult",
                       kind_rule=_arith_kind, commutative=True, evaluator=_op_eval(operator.mul)))
    register(Primitive("div", 2, lambda a, b, **_: a / b, operator="Div",
                       evaluator=_op_eval(operator.truediv)))
    register(Primitive("neg", 1, lambda a, **_: -a, operator="USub",
                       kind_rule=_arith_kind, evaluator=_op_eval(operator.neg)))
    register(Primitive("pow", 2, lambda a, b, **_: a**b, operator="Pow",
                       names={MATH: "pow", NUMPY: "power", BUILTIN: "pow"},
                       kind_rule=_arith_kind, reuse_output=False,
                       # x ** 0 is constant 1: d/dx is 0 there, not 0 · x ** -1 (nan or a
                       # ZeroDivisionError at x = 0); 0 ** y is constant 0 for y > 0: d/dy
                       # is 0 there, not 0 · log(0)
                       zero_partial_where={0: lambda a, b: _sp().Eq(b, 0),
                                           1: lambda a, b: _sp().Eq(a, 0)},
                       evaluator=lambda lib, a, b, **_: (
                           np.power(a, b) if lib == NUMPY else
                           math.pow(a, b) if lib == MATH else a**b)))
    register(Primitive("powc", 1, lambda a, exponent, **_: a**exponent, operator="Pow",
                       kind_rule=_powc_kind, reuse_output=False,
                       evaluator=lambda lib, a, exponent, **_: a**exponent))
    register(Primitive("floordiv", 2, operator="FloorDiv", kind_rule=_arith_kind,
                       derivative="zero", evaluator=_op_eval(operator.floordiv)))
    register(Primitive("mod", 2, lambda a, b, **_: a - b * _sp().floor(a / b), operator="Mod",
                       kind_rule=_arith_kind, reuse_output=False,
                       evaluator=_op_eval(operator.mod)))

    # -- elementwise functions -----------------------------------------------------------
    def unary(name, sympy_name=None, math_name=None, numpy_name=None, scipy_name=None, **kw):
        names = {MATH: math_name or name}
        if numpy_name is not False:
            names[NUMPY] = numpy_name or name
        if scipy_name:  # scipy.special's, on arrays too
            names[SCIPY] = scipy_name
        register(Primitive(name, 1, kw.pop("form", None) or _fn(sympy_name or name),
                           names=names, **kw))

    unary("sin")
    unary("cos")
    unary("tan")
    unary("asin", numpy_name="arcsin")
    unary("acos", numpy_name="arccos")
    unary("atan", numpy_name="arctan")
    unary("sinh")
    unary("cosh")
    unary("tanh")
    unary("asinh", numpy_name="arcsinh")
    unary("acosh", numpy_name="arccosh")
    unary("atanh", numpy_name="arctanh")
    unary("exp")
    unary("expm1", form=lambda x, **_: _sp().exp(x) - 1)
    unary("log")
    unary("log1p", form=lambda x, **_: _sp().log(1 + x))
    unary("log2", form=lambda x, **_: _sp().log(x) / _sp().log(2))
    unary("exp2", form=lambda x, **_: _sp().Integer(2) ** x)  # (math.exp2: Python 3.11+)
    unary("log10", form=lambda x, **_: _sp().log(x) / _sp().log(10))
    unary("sqrt")
    unary("erf", numpy_name=False, scipy_name="erf",  # NumPy has no erf
          evaluator=_special_eval("erf", "erf"))
    unary("erfc", numpy_name=False, scipy_name="erfc", evaluator=_special_eval("erfc", "erfc"))
    register(Primitive("abs", 1, lambda x, **_: _sp().Abs(x),
                       names={MATH: "fabs", NUMPY: "abs", BUILTIN: "abs"},
                       kind_rule=lambda kinds, attrs: (
                           kinds[0] if attrs.get("lib") == BUILTIN or kinds[0] is Kind.ARRAY
                           else Kind.FLOAT)))
    register(Primitive("sign", 1, lambda x, **_: _sp().sign(x), names={NUMPY: "sign"},
                       derivative="zero", evaluator=_sign_eval))
    register(Primitive("atan2", 2, _fn("atan2"), names={MATH: "atan2", NUMPY: "arctan2"}))
    register(Primitive("hypot", 2, lambda a, b, **_: _sp().sqrt(a**2 + b**2),
                       names={MATH: "hypot", NUMPY: "hypot"}, commutative=True))
    register(Primitive("log_base", 2, lambda x, b, **_: _sp().log(x) / _sp().log(b),
                       names={MATH: "log"}, reuse_output=False, evaluator=_log_base_eval))
    for name in ("floor", "ceil", "trunc"):
        register(Primitive(name, 1, names={MATH: name, NUMPY: name, BUILTIN: "int"},
                           kind_rule=_rounding_kind, derivative="zero"))
    register(Primitive("round", 1, names={BUILTIN: "round", NUMPY: "round"},
                       kind_rule=_rounding_kind, derivative="zero"))
    register(Primitive("max2", 2,
                       lambda a, b, **_: _sp().Piecewise((a, a >= b), (b, True)),
                       names={BUILTIN: "max", NUMPY: "maximum"}, kind_rule=_arith_kind,
                       evaluator=_max_eval))
    register(Primitive("min2", 2,
                       lambda a, b, **_: _sp().Piecewise((a, a <= b), (b, True)),
                       names={BUILTIN: "min", NUMPY: "minimum"}, kind_rule=_arith_kind,
                       evaluator=_min_eval))

    # s2sad.stop_gradient(x): the value passes through, no derivative does (floats, arrays)
    register(Primitive("stop_gradient", 1, kind_rule=lambda kinds, attrs: kinds[0],
                       derivative="zero", evaluator=lambda lib, x, **_: x))

    # -- comparisons and selection ----------------------------------------------------------
    for name, opname, fn in (("lt", "Lt", operator.lt), ("le", "LtE", operator.le),
                             ("gt", "Gt", operator.gt), ("ge", "GtE", operator.ge),
                             ("eq", "Eq", operator.eq), ("ne", "NotEq", operator.ne)):
        register(Primitive(name, 2, operator=opname, kind_rule=_bool_kind, derivative="none",
                           evaluator=_op_eval(fn)))
    register(Primitive("not", 1, operator="Not", kind_rule=_bool_kind, derivative="none",
                       evaluator=_op_eval(operator.not_)))
    register(Primitive("select", 3, kind_rule=_select_kind, partials_rule=_select_partials,
                       evaluator=lambda lib, c, a, b, **_: a if c else b))
    register(Primitive("and", 2, operator="And", kind_rule=_bool_kind, derivative="none",
                       evaluator=lambda lib, a, b, **_: bool(a and b)))
    register(Primitive("or", 2, operator="Or", kind_rule=_bool_kind, derivative="none",
                       evaluator=lambda lib, a, b, **_: bool(a or b)))
    # elementwise on masks (`np.logical_and(x > 0, x < 1)`, `(x > 0) & (x < 1)`), and
    # their reductions (`np.all(m)`, `m.any()`)
    for name, nin in (("logical_and", 2), ("logical_or", 2), ("logical_not", 1),
                      ("np_all", 1), ("np_any", 1)):
        register(Primitive(name, nin, names={NUMPY: name.removeprefix("np_")},
                           kind_rule=_bool_kind, derivative="none"))
    # `if <test>: raise ValueError("...")`: the primal's check, run where it stands
    # (attrs: exc, a builtin exception's name; message)
    register(Primitive("raise_if", 1, kind_rule=lambda k, a: Kind.INT, derivative="none",
                       cse=False, fold=False, effect=True, evaluator=_raise_if))
    # `print(...)`: output of the primal, run once per call where it stands (attrs:
    # parts, each an operand's index or a 1-tuple holding a constant; sep; end)
    register(Primitive("print", VARIADIC, kind_rule=lambda k, a: Kind.INT,
                       derivative="none", cse=False, fold=False, effect=True,
                       evaluator=_print))

    # -- sequences (a list, tuple or 1-D array of floats) -------------------------------------
    # `self.<attr> <op>= value` on the method's object (attrs: attr, op: "set" or an
    # operator name): a side effect of the primal, run once per call of the derivative
    register(Primitive("attr_update", 2, kind_rule=lambda k, a: Kind.INT, derivative="none",
                       cse=False, fold=False, effect=True, evaluator=_attr_update))
    # `x, y = xs` of a list or array: Python checks that it has exactly n items (the
    # items themselves are getitem / np_index ops)
    register(Primitive("unpack_check", 1, kind_rule=lambda k, a: Kind.INT, derivative="none",
                       cse=False, fold=False, effect=True, evaluator=_unpack_check))
    register(Primitive("len", 1, names={BUILTIN: "len"}, kind_rule=lambda k, a: Kind.INT,
                       derivative="none", evaluator=lambda lib, xs, **_: len(xs)))
    # the index of the first largest (smallest) item: max(xs) is xs[list_argmax(xs)]
    for name, helper in (("list_argmax", "_argmax"), ("list_argmin", "_argmin")):
        register(Primitive(name, 1, kind_rule=lambda k, a: Kind.INT, derivative="none",
                           evaluator=lambda lib, xs, _h=helper, **_: _runtime(_h)(xs)))
    register(Primitive("getitem", 2, derivative="linear",
                       evaluator=lambda lib, xs, i, **_: xs[i]))
    # reverse mode's list adjoints: updated in place by the generated code, so never shared
    register(Primitive("zeros_like", 1, kind_rule=lambda k, a: Kind.LIST, derivative="none",
                       cse=False, evaluator=lambda lib, xs, **_: [0.0] * len(xs)))
    # the gradient with respect to a parameter the body never reads: its kind is unknown
    # in the source, so the generated code decides from the argument (0.0, or zeros)
    register(Primitive("zero_like", 1, kind_rule=lambda k, a: Kind.FLOAT, derivative="none",
                       cse=False, evaluator=lambda lib, x, **_: _runtime_zero_like(x)))
    # a list parameter's gradient, returned as the argument's type: an array for a NumPy
    # array (code that indexes items treats a 1-D array as a list); linear in the gradient
    register(Primitive("like_argument", 2, kind_rule=lambda k, a: k[0], derivative="rule",
                       jvp_rule=_like_argument_jvp, vjp_rule=_like_argument_vjp,
                       evaluator=lambda lib, g, x, **_: _runtime("_like_argument")(g, x)))
    register(Primitive("add_at", 3, kind_rule=lambda k, a: Kind.LIST, derivative="none",
                       cse=False, evaluator=_add_at, rule_missing=True))

    # local lists: functional in the IR; code generation updates a list in place when
    # its old version is dead, and copies it otherwise
    register(Primitive("list_lit", VARIADIC, kind_rule=lambda k, a: Kind.LIST,
                       derivative="linear", cse=False,
                       evaluator=lambda lib, *items, **_: list(items)))
    register(Primitive("list_copy", 1, names={BUILTIN: "list"},
                       kind_rule=lambda k, a: Kind.LIST, derivative="linear", cse=False,
                       evaluator=lambda lib, xs, **_: list(xs)))
    register(Primitive("append", 2, kind_rule=lambda k, a: Kind.LIST, derivative="linear",
                       cse=False, evaluator=lambda lib, xs, v, **_: [*xs, v]))
    register(Primitive("setitem", 3, kind_rule=lambda k, a: Kind.LIST, derivative="linear",
                       cse=False, evaluator=_setitem))
    register(Primitive("list_add", 2, kind_rule=lambda k, a: Kind.LIST, derivative="none",
                       cse=False, rule_missing=True,
                       evaluator=lambda lib, a, b, **_: [p + q for p, q in zip(a, b,
                                                                               strict=True)]))
    register(Primitive("list_pop", 1, derivative="none", cse=False, rule_missing=True))
    # np.stack / np.concatenate (attr axis) / np.vstack / np.hstack / np.column_stack /
    # np.array of a list built at run time (attr how: the function's name); list_unjoin(g,
    # xs) is its adjoint: g split back into a list of pieces shaped as the items of xs
    register(Primitive("list_join", 1, kind_rule=lambda k, a: Kind.ARRAY, derivative="rule",
                       jvp_rule=_list_join_jvp, vjp_rule=_list_join_vjp, cse=False,
                       evaluator=_list_join))
    register(Primitive("list_unjoin", 2, kind_rule=lambda k, a: Kind.LIST, derivative="rule",
                       jvp_rule=_list_unjoin_jvp, vjp_rule=None, cse=False, rule_missing=True,
                       evaluator=_list_unjoin))

    # -- structured control flow (regions; differentiated by the AD passes themselves) -----
    for name in ("cond", "for_range", "while_loop"):
        register(Primitive(name, VARIADIC, derivative="structured", cse=False))

    # -- reverse mode's tapes: never shared by CSE, always kept in order ----------------------
    register(Primitive("tape_new", 0, kind_rule=lambda kinds, attrs: Kind.TAPE,
                       derivative="none", cse=False))
    register(Primitive("tape_push", VARIADIC, kind_rule=lambda kinds, attrs: Kind.TAPE,
                       derivative="none", cse=False, rule_missing=True))
    # tape_read(tape, k): the tape (unchanged) and record k, pushed by pass k of its loop
    register(Primitive("tape_read", 2, derivative="none", cse=False, rule_missing=True))
    # binomial checkpointing (reverse mode's ``checkpoints=K``): a store of snapshots of a
    # loop's carried values (ckpt_new(start, stop, step), attributes k or budget, and columns:
    # the number of values; no operands: a while
    # loop's, whose passes are counted from 0), a snapshot offered at
    # the start of pass i (ckpt_take(store, i, *values)), and ckpt_restore(store, i): the
    # store, the index j of the latest snapshot before pass i, and its values
    register(Primitive("ckpt_new", VARIADIC, kind_rule=lambda kinds, attrs: Kind.TAPE,
                       derivative="none", cse=False, rule_missing=True))
    register(Primitive("ckpt_take", VARIADIC, kind_rule=lambda kinds, attrs: Kind.TAPE,
                       derivative="none", cse=False, rule_missing=True))
    register(Primitive("ckpt_restore", 2, derivative="none", cse=False, rule_missing=True))

    # -- NumPy: logaddexp (elementwise, with stable partials) and the array primitives ------
    register(Primitive("logaddexp", 2, lambda a, b, **_: _sp().log(_sp().exp(a) + _sp().exp(b)),
                       names={NUMPY: "logaddexp"}, commutative=True,
                       # exp(a - out) = sigmoid(a - b): one tanh, finite everywhere, and
                       # no need of the output (a gradient alone never computes it)
                       partials_form=lambda a, b, out: (
                           (1 + _sp().tanh((a - b) / 2)) / 2, (1 - _sp().tanh((a - b) / 2)) / 2)))
    # 1 / (1 + exp(-x)), recognised when it is built (opt/simplify.py): σ' = σ(1 - σ) is
    # finite where sympy.diff's exp(-x) / (1 + exp(-x))² is inf / inf (x = -1000)
    register(Primitive("sigmoid", 1, lambda x, **_: 1 / (1 + _sp().exp(-x)),
                       names={MATH: "exp", NUMPY: "exp"},
                       partials_form=lambda x, out: (out * (1 - out),),
                       evaluator=lambda lib, x, **_: 1.0 / (1.0 + (
                           np.exp(-x) if lib == NUMPY else math.exp(-x)))))
    # same_value(v, *args): v, computed as the user wrote it, whose derivative is that of an
    # exactly equal expression of args (opt/identities.py): log σ(z) → 1 - σ(z), no p̄ / p
    register(Primitive("same_value", VARIADIC, lambda v, *args, **_: v,
                       kind_rule=lambda kinds, attrs: kinds[0], partials_rule=_same_value_partials,
                       evaluator=lambda lib, v, *args, **_: v, fold=False))
    _define_special()
    from . import primitives_numpy

    primitives_numpy.define(register, Primitive)


def _special_eval(scipy_name: str, math_name: str | None = None,
                  helper: str | None = None) -> Callable[..., Any]:
    """Evaluate a special function as the generated code will: with scipy.special when the
    op is spelt with SciPy, else math (scalars) or the runtime helper."""
    def evaluate(lib, *args, **attrs):
        if lib == SCIPY or (lib is None and math_name is None and helper is None):
            import scipy.special

            return getattr(scipy.special, scipy_name)(*args)
        if helper is not None and (lib == HELPER or math_name is None
                                   or isinstance(args[-1], np.ndarray)):
            return _runtime(helper)(*args)
        return getattr(math, math_name)(*args)
    return evaluate


def _define_special() -> None:
    """Special functions (``math.lgamma``, ``scipy.special.gammaln``, ``norm.cdf``'s
    ``ndtr`` …) and NumPy's other elementwise functions: partials derived by SymPy, or
    given where the derived formula is unstable (``log_ndtr``)."""
    sp = _sp
    # log|Γ(x)|: math.lgamma, scipy.special.gammaln; its derivative is digamma = ψ(x)
    register(Primitive("gammaln", 1, lambda x, **_: sp().loggamma(x),
                       names={MATH: "lgamma", SCIPY: "gammaln"},
                       partials_form=lambda x, out: (sp().polygamma(0, x),),
                       evaluator=_special_eval("gammaln", "lgamma")))
    register(Primitive("gamma", 1, lambda x, **_: sp().gamma(x),
                       names={MATH: "gamma", SCIPY: "gamma"},
                       partials_form=lambda x, out: (out * sp().polygamma(0, x),),
                       evaluator=_special_eval("gamma", "gamma")))
    # ψ⁽ⁿ⁾(x), n a (constant) int: scipy.special.polygamma where the source used SciPy,
    # else the runtime helper _polygamma (math.lgamma's derivative must not need SciPy)
    register(Primitive("polygamma", 2, lambda n, x, **_: sp().polygamma(n, x),
                       names={SCIPY: "polygamma", HELPER: "_polygamma"},
                       partials_form=lambda n, x, out: (sp().S.Zero, sp().polygamma(n + 1, x)),
                       evaluator=_special_eval("polygamma", None, "_polygamma")))
    # erf⁻¹: d/dx = √π/2 · exp(erfinv(x)²)
    register(Primitive("erfinv", 1, lambda x, **_: sp().erfinv(x), names={SCIPY: "erfinv"},
                       partials_form=lambda x, out: (sp().sqrt(sp().pi) / 2 * sp().exp(out * out),),
                       evaluator=_special_eval("erfinv")))
    register(Primitive("erfcinv", 1, lambda x, **_: sp().erfcinv(x), names={SCIPY: "erfcinv"},
                       partials_form=lambda x, out: (
                           -sp().sqrt(sp().pi) / 2 * sp().exp(out * out),),
                       evaluator=_special_eval("erfcinv")))
    # Bessel functions of real order v (a constant) and real x: J_v, Y_v, I_v; their
    # derivatives in x are again Bessel functions (SymPy's rules)
    for name, spname, scipy_name in (("besselj", "besselj", "jv"), ("bessely", "bessely", "yv"),
                                     ("besseli", "besseli", "iv")):
        register(Primitive(name, 2, lambda v, x, _f=spname, **_: getattr(sp(), _f)(v, x),
                           names={SCIPY: scipy_name},
                           partials_form=lambda v, x, out, _f=spname: (
                               sp().S.Zero, sp().diff(getattr(sp(), _f)(v, x), x)),
                           evaluator=_special_eval(scipy_name)))
    # Φ(x) and log Φ(x) (norm.cdf / logcdf): the derivative of log Φ is φ / Φ, written
    # exp(-x²/2 - log Φ(x)) / √(2π), finite in both tails (≈ -x as x → -∞)
    root2pi = lambda: sp().sqrt(2 * sp().pi)  # noqa: E731
    register(Primitive("ndtr", 1, lambda x, **_: sp().erfc(-x / sp().sqrt(2)) / 2,
                       names={SCIPY: "ndtr"},
                       partials_form=lambda x, out: (sp().exp(-x * x / 2) / root2pi(),),
                       evaluator=_special_eval("ndtr")))
    register(Primitive("log_ndtr", 1, lambda x, **_: sp().log(sp().erfc(-x / sp().sqrt(2)) / 2),
                       names={SCIPY: "log_ndtr"},
                       partials_form=lambda x, out: (sp().exp(-x * x / 2 - out) / root2pi(),),
                       evaluator=_special_eval("log_ndtr")))
    # the real cube root (negative for negative x); d/dx = 1 / (3 cbrt(x)²)
    register(Primitive("cbrt", 1, lambda x, **_: sp().sign(x) * sp().Abs(x) ** sp().Rational(1, 3),
                       names={NUMPY: "cbrt", MATH: "cbrt"},
                       partials_form=lambda x, out: (1 / (3 * out * out),),
                       evaluator=lambda lib, x, **_: np.cbrt(x)))
    # sin(πx) / (πx), 1 at 0; d/dx = (cos(πx) - sinc(x)) / x, 0 at 0
    register(Primitive("sinc", 1, lambda x, **_: sp().sin(sp().pi * x) / (sp().pi * x),
                       names={NUMPY: "sinc"},
                       partials_form=lambda x, out: (sp().Piecewise(
                           (0, sp().Eq(x, 0)), ((sp().cos(sp().pi * x) - out) / x, True)),),
                       evaluator=lambda lib, x, **_: np.sinc(x)))
    # C's fmod: a - b·trunc(a/b), the sign of a (Python's % has the sign of b: `mod`)
    register(Primitive("fmod", 2, lambda a, b, **_: a - b * sp().sign(a / b) * sp().floor(
                           sp().Abs(a / b)),
                       names={MATH: "fmod", NUMPY: "fmod"}, reuse_output=False,
                       partials_form=lambda a, b, out: (
                           sp().S.One, -sp().sign(a / b) * sp().floor(sp().Abs(a / b))),
                       evaluator=lambda lib, a, b, **_: (
                           np.fmod(a, b) if lib == NUMPY else math.fmod(a, b))))
    # |a| with the sign of b (b's sign bit: -0.0 counts as negative). ∂/∂a is the sign of
    # a times the sign of the result, so 0 at a = 0 (the convention of abs); ∂/∂b = 0
    register(Primitive("copysign", 2, lambda a, b, **_: sp().Abs(a) * sp().sign(b),
                       names={MATH: "copysign", NUMPY: "copysign"},
                       partials_form=lambda a, b, out: (sp().sign(a) * sp().sign(out),
                                                        sp().S.Zero),
                       evaluator=lambda lib, a, b, **_: (
                           np.copysign(a, b) if lib == NUMPY else math.copysign(a, b))))
    # IEEE 754's remainder a - n·b, n = a/b rounded to the nearest int (ties to even):
    # ∂/∂a = 1, ∂/∂b = -n = (out - a) / b (n jumps where a/b is half an odd int)
    register(Primitive("ieee_remainder", 2, lambda a, b, **_: a - b * sp().floor(
                           a / b + sp().Rational(1, 2)),
                       names={MATH: "remainder"}, reuse_output=False,
                       partials_form=lambda a, b, out: (sp().S.One, (out - a) / b),
                       evaluator=lambda lib, a, b, **_: math.remainder(a, b)))
    # masks of the values that are nan / finite / ±inf
    for name in ("isnan", "isfinite", "isinf"):
        register(Primitive(name, 1, names={NUMPY: name, MATH: name}, kind_rule=_bool_kind,
                           derivative="none"))
    # np.isscalar(x): asked of the value when the derivative runs (a float, or a NumPy
    # scalar, but not a 0-d array: not known from a kind), as the function asks it
    register(Primitive("isscalar", 1, names={NUMPY: "isscalar"}, kind_rule=_bool_kind,
                       derivative="none", fold=False,
                       evaluator=lambda lib, x, **_: bool(np.isscalar(x))))


_define_table()

SYMPY_FUNCTION_PRIMS = {
    # sympy function name -> primitive used when a partial derivative mentions it
    "sin": "sin", "cos": "cos", "tan": "tan", "asin": "asin", "acos": "acos",
    "atan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh", "asinh": "asinh",
    "acosh": "acosh", "atanh": "atanh", "exp": "exp", "log": "log", "erf": "erf",
    "erfc": "erfc", "sign": "sign", "Abs": "abs", "floor": "floor", "ceiling": "ceil",
    "atan2": "atan2", "polygamma": "polygamma", "loggamma": "gammaln", "gamma": "gamma",
    "besselj": "besselj", "bessely": "bessely", "besseli": "besseli",
}


@cache
def symbolic_partials(name: str) -> tuple[Any, ...] | None:
    """The partial derivatives of primitive ``name`` as SymPy expressions.

    They are written in the symbols ``a0, a1, ...`` (the operands), ``out``
    (the primal output) and ``exponent`` (for ``powc``).  Derived once per
    primitive from its SymPy form, and cached.
    """
    sympy = _sp()
    prim = PRIMITIVES[name]
    if prim.sympy_form is None:
        return None
    args = sympy.symbols(f"a0:{prim.nin}", real=True)
    out = sympy.Symbol("out", real=True)
    exponent = sympy.Symbol("exponent", real=True)
    form = prim.sympy_form(*args, exponent=exponent)
    if prim.partials_form is not None:
        return tuple(prim.partials_form(*args, out))
    partials = []
    for a in args:
        d = sympy.diff(form, a)
        # Piecewise-constant pieces (floor inside `mod`, sign) have zero derivative
        # almost everywhere; that is the convention at their jumps too (DESIGN §10).
        d = d.replace(lambda e: isinstance(e, (sympy.Subs, sympy.Derivative, sympy.DiracDelta)),
                      lambda e: sympy.S.Zero)
        d = sympy.powsimp(d)
        if prim.reuse_output:
            d = d.subs(form, out)
        where = prim.zero_partial_where.get(len(partials))
        if where is not None:
            d = sympy.Piecewise((0, where(*args)), (d, True))
        partials.append(d)
    return tuple(partials)
