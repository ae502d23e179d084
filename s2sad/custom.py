"""User-defined differentiation: ``stop_gradient`` and custom primitives.

Two things a user can say about a function s2sad differentiates:

* :func:`stop_gradient` — at run time the identity; to s2sad a primitive whose
  value passes through and through which no derivative flows, in both modes.
  Generated code spells it as the plain value.
* :func:`primitive` — a decorator that registers a function together with the
  partial derivatives of its result.  A function s2sad differentiates that
  calls it gets one op of a primitive registered for it (its body is not
  inlined, so it may be numerically careful code, or a call into compiled
  code s2sad cannot see into); the partials are ordinary Python that s2sad
  lifts and inlines where they are needed, so both modes use them and a
  second derivative differentiates them in turn.  The generated module
  imports the function from the module that defines it.

>>> import math, s2sad
>>> def log1pexp_partials(x):
...     return 0.5 + 0.5 * math.tanh(0.5 * x)
>>> @s2sad.primitive(partials=log1pexp_partials)
... def log1pexp(x):
...     return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))

Custom primitives take and return numbers (floats), or apply elementwise to NumPy
arrays (with broadcasting, as a ufunc): the partials function is lifted on numbers,
so it is elementwise too, and is applied elementwise to the arrays.  Lists are a
located error.

This module is imported by ``import s2sad``: it stays light (the lowering is
imported lazily).
"""

from __future__ import annotations

import ast
import inspect
import keyword
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import Loc, S2SADError, UnsupportedError

MARK = "__s2sad_primitive__"  # the attribute @primitive sets on the function


def stop_gradient(x: Any) -> Any:
    """``x`` itself; to s2sad, a value through which no derivative flows.

    ``s2sad.grad(lambda-free f)`` of ``def f(x): return x * stop_gradient(x)``
    is ``x``: the second factor counts as a constant.  Works on floats and
    arrays, in forward and reverse mode; generated code spells it as the
    plain value.
    """
    return x


RULES = ("partials", "jvp", "vjp")


@dataclass(frozen=True)
class PrimitiveSpec:
    """What :func:`primitive` attaches to the function it decorates: its rule functions."""

    partials: Callable[..., Any] | None = None
    jvp: Callable[..., Any] | None = None
    vjp: Callable[..., Any] | None = None

    def rules(self) -> dict[str, Callable[..., Any]]:
        return {k: getattr(self, k) for k in RULES if getattr(self, k) is not None}


def primitive(fn: Callable[..., Any] | None = None, *,
              partials: Callable[..., Any] | None = None,
              jvp: Callable[..., Any] | None = None,
              vjp: Callable[..., Any] | None = None) -> Any:
    """Decorator: register ``fn`` as a primitive of s2sad with its derivative rule.

    ``partials(*args)`` returns ``∂fn/∂args[0]`` for a function of one
    argument, or a tuple ``(∂fn/∂args[0], ∂fn/∂args[1], ...)`` — one per
    parameter — for several.  Instead of ``partials``, ``jvp(*args,
    *tangents)`` may return the tangent of the result (forward mode) and
    ``vjp(*args, cotangent)`` the cotangent of each argument (one value, or a
    tuple for several; reverse mode); a mode whose rule is missing is a located
    error.  The rules are ordinary Python that s2sad can read (math, branches,
    loops, other functions of their module), so second derivatives work.

    ``fn`` is returned itself, marked, and runs unchanged; a function s2sad
    differentiates that calls it calls it in the generated code too (``from
    <fn's module> import <fn>``), so ``fn`` must be defined at the top level of
    an importable module.  Its arguments are numbers, or (with ``partials``)
    arrays on which ``fn`` acts elementwise (broadcasting them, as a NumPy
    ufunc): the partials are then applied elementwise too.
    """

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        if not inspect.isfunction(f):
            raise S2SADError(f"@s2sad.primitive decorates a function defined with `def`, not "
                             f"{type(f).__name__} {getattr(f, '__name__', f)!r}")
        spec = PrimitiveSpec(partials, jvp, vjp)
        if not spec.rules():
            raise S2SADError(
                f"custom primitive `{f.__name__}` has no derivative rule", code_loc(f),
                why="s2sad does not look into a primitive's body: it needs its partials",
                hint=f"write @s2sad.primitive(partials={f.__name__}_partials), where "
                     f"{f.__name__}_partials(...) returns the partial derivative(s)")
        if partials is not None and (jvp is not None or vjp is not None):
            raise S2SADError(
                f"custom primitive `{f.__name__}` has both partials= and jvp=/vjp=",
                code_loc(f), hint="give partials= alone, or jvp= and vjp=")
        for kind, rule in spec.rules().items():
            if not inspect.isfunction(rule) or rule.__name__ == "<lambda>":
                raise S2SADError(
                    f"the {kind} of custom primitive `{f.__name__}` must be a function "
                    f"defined with `def`, not {type(rule).__name__} "
                    f"{getattr(rule, '__name__', rule)!r}", code_loc(f),
                    why=f"s2sad reads the {kind} function's source to differentiate it again",
                    hint=f"define the {kind} with `def` at module level")
        setattr(f, MARK, spec)
        return f

    return mark if fn is None else mark(fn)


def wrap_hint(spelled: str) -> str:
    """How to make a function s2sad cannot see into (``scipy.special.digamma``) callable from
    differentiated code: a custom primitive of its own, with its derivative."""
    name = spelled.rsplit(".", 1)[-1]
    return (f"wrap it in a custom primitive of its own that gives its derivative, and call "
            f"that: `def {name}_partials(x): return <d{name}/dx>`, then "
            f"`@s2sad.primitive(partials={name}_partials)` on `def {name}_primitive(x): "
            f"return {spelled}(x)`")


def code_loc(fn: Any) -> Loc | None:
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    return Loc(code.co_filename, code.co_firstlineno, 0)


# -- what the frontend knows about a custom primitive ------------------------------------------


@dataclass(frozen=True)
class CustomRef:
    """A call target that is a custom primitive (resolved by name resolution)."""

    key: object  # identifies the primal function
    name: str  # its Python name: what the generated module imports
    module: str | None  # where it imports it from (None: nowhere, an error at use)
    params: tuple[str, ...]  # positional parameters
    token: object  # compared to tell a changed definition from the same one
    loc: Loc | None = field(compare=False, default=None)  # where the primal is defined
    # rule kind ("partials", "jvp", "vjp") -> () -> ParsedFunction of the rule function
    rules: dict = field(compare=False, default_factory=dict)
    call: Callable[..., Any] | None = field(compare=False, default=None)  # live primal
    problem: S2SADError | None = field(compare=False, default=None)  # raised at use


def live_ref(obj: Any, spec: PrimitiveSpec) -> CustomRef:
    """The :class:`CustomRef` of a live function decorated with :func:`primitive`."""
    problem = None
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):  # pragma: no cover - a def always has one
        sig = None
    params: list[str] = []
    if sig is not None:
        for p in sig.parameters.values():
            if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) or (
                    p.default is not p.empty):
                problem = UnsupportedError(
                    f"custom primitive `{obj.__name__}` must take a fixed number of positional "
                    f"parameters (`{p.name}` is not one)", code_loc(obj),
                    hint="give it plain positional parameters, without defaults")
            params.append(p.name)
    module = obj.__module__
    home = sys.modules.get(module)
    if problem is None and ("<locals>" in obj.__qualname__ or home is None
                            or getattr(home, obj.__name__, None) is not obj):
        problem = UnsupportedError(
            f"custom primitive `{obj.__name__}` is not defined at the top level of module "
            f"`{module}`", code_loc(obj),
            why=f"the generated code calls it through `from {module} import {obj.__name__}`",
            hint="define it (and its partials) with `def` at the top level of a module")

    def getter(rule: Callable[..., Any]) -> Callable[[], Any]:
        def get() -> Any:
            from .frontend.source import from_function

            return from_function(rule)

        return get

    rules = spec.rules()
    return CustomRef(key=obj, name=obj.__name__, module=module, params=tuple(params),
                     token=(obj, *rules.values()), loc=code_loc(obj),
                     rules={k: getter(r) for k, r in rules.items()}, call=obj, problem=problem)


def _decorator_call(node: ast.FunctionDef, is_primitive: Callable[[ast.expr], bool]):
    """The ``@s2sad.primitive(...)`` decorator of ``node``: the decorator node, or None."""
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        if is_primitive(target):
            return d
    return None


def static_ref(pf: Any, decorator: ast.expr, functions: dict[str, Any]) -> CustomRef:
    """The :class:`CustomRef` of a function of a source file (read, not run) decorated
    with ``@s2sad.primitive(partials=NAME)``; ``NAME`` must be a function of the file."""
    from pathlib import Path

    node = pf.node
    a = node.args
    problem: S2SADError | None = None
    if a.vararg or a.kwarg or a.kwonlyargs or a.defaults:
        problem = UnsupportedError(
            f"custom primitive `{node.name}` must take a fixed number of positional "
            "parameters", pf.loc(node),
            hint="give it plain positional parameters, without defaults")
    params = tuple(x.arg for x in a.posonlyargs + a.args)
    module = Path(pf.filename).stem
    if problem is None and (not module.isidentifier() or keyword.iskeyword(module)):
        problem = UnsupportedError(
            f"custom primitive `{node.name}` is defined in {pf.filename}, whose name is not a "
            "Python module name", pf.loc(node),
            why=f"the generated code imports `{node.name}` from the module named by the file",
            hint="rename the file to a valid module name")
    given: dict[str, ast.expr] = {}
    if isinstance(decorator, ast.Call):
        for kw in decorator.keywords:
            if kw.arg in RULES:
                given[kw.arg] = kw.value
            elif problem is None:
                problem = UnsupportedError(
                    "@s2sad.primitive takes only `partials=`, `jvp=` and `vjp=`",
                    pf.loc(kw.value), hint=f"@s2sad.primitive(partials={node.name}_partials)")
        if decorator.args and problem is None:
            problem = UnsupportedError(
                "@s2sad.primitive takes its rules by keyword", pf.loc(decorator.args[0]),
                hint=f"@s2sad.primitive(partials={node.name}_partials)")
    if not given:
        problem = problem or S2SADError(
            f"custom primitive `{node.name}` has no derivative rule", pf.loc(decorator),
            why="s2sad does not look into a primitive's body: it needs its partials",
            hint=f"write @s2sad.primitive(partials={node.name}_partials), where "
                 f"{node.name}_partials(...) returns the partial derivative(s)")
    if "partials" in given and len(given) > 1:
        problem = problem or S2SADError(
            f"custom primitive `{node.name}` has both partials= and jvp=/vjp=",
            pf.loc(decorator), hint="give partials= alone, or jvp= and vjp=")
    found: dict[str, Any] = {}
    for kind, rule in given.items():
        if isinstance(rule, ast.Name) and rule.id in functions:
            found[kind] = functions[rule.id]
        else:
            problem = problem or S2SADError(
                f"the {kind} of custom primitive `{node.name}` must name a function defined "
                f"with `def` in {pf.filename}", pf.loc(rule),
                why=f"s2sad reads the {kind} function's source to differentiate it again",
                hint=f"define the {kind} with `def` at the top level of the same file")

    return CustomRef(key=(pf.filename, node.name), name=node.name, module=module,
                     params=params, token=(pf, *found.values()), loc=pf.loc(node),
                     rules={k: (lambda v=v: v) for k, v in found.items()}, call=None,
                     problem=problem)


# -- the primitives registered for custom functions -------------------------------------------


class _Custom:
    """The state of one registered custom primitive: its reference and lifted rules."""

    def __init__(self, prim: str, ref: CustomRef) -> None:
        self.prim = prim
        self.ref = ref
        self.ir: dict[str, Any] = {}  # rule kind -> the lifted rule function
        self.lifting: set[str] = set()

    def evaluate(self, lib: Any, *args: Any, **attrs: Any) -> Any:
        if self.ref.call is None:
            raise TypeError(f"custom primitive {self.ref.name} read from a file cannot run "
                            "inside s2sad")
        return self.ref.call(*args)

    def _rule(self, kind: str, op) -> Any:
        if kind not in self.ref.rules:
            mode = "forward" if kind == "jvp" else "reverse"
            raise S2SADError(
                f"custom primitive `{self.ref.name}` has no {kind} rule, which {mode} mode "
                "needs", op.loc,
                hint=f"give @s2sad.primitive a {kind}= function (or partials=), or use the "
                     f"{'reverse' if mode == 'forward' else 'forward'} mode")
        return self.lifted(kind)

    def partials_rule(self, b, operands, out, attrs, loc) -> list:
        from .ir.clone import inline

        return list(inline(b, self.lifted("partials"), tuple(operands)))

    def jvp_rule(self, b, op, operands, out, tangents) -> Any:
        from .ir.clone import inline

        fn = self._rule("jvp", op)
        tangents = [t if t is not None else b.const(0.0) for t in tangents]
        return inline(b, fn, (*operands, *tangents))[0]

    def vjp_rule(self, b, op, operands, out, ybar) -> list:
        from .ir.clone import inline

        return list(inline(b, self._rule("vjp", op), (*operands, ybar)))

    def lifted(self, kind: str):
        """A rule function as IR: lifted once, checked against the primitive."""
        if kind in self.ir:
            return self.ir[kind]
        if kind in self.lifting:  # the rule calls the primitive itself: checked when done
            return None
        from .frontend import lower
        from .ir.core import Kind

        ref = self.ref
        self.lifting.add(kind)
        _LIFTING.append(ref.name)
        try:
            pf = ref.rules[kind]()
            try:
                fn = lower(pf)
            except S2SADError as err:
                callee = getattr(err, "callee", None)  # a function s2sad cannot call
                raise type(err)(
                    f"the {kind} function `{pf.name}` of custom primitive `{ref.name}` cannot "
                    f"be read by s2sad: {err.what}", err.loc, why=err.why,
                    hint=f"{wrap_hint(callee)}; the {kind} function may call that (a "
                         f"derivative of `{ref.name}` of higher order uses its derivative)"
                         if callee else err.hint
                ) from None
        finally:
            _LIFTING.pop()
            self.lifting.discard(kind)
        n = len(ref.params)
        what = f"the {kind} function `{pf.name}` of custom primitive `{ref.name}`"
        n_params = {"partials": n, "jvp": 2 * n, "vjp": n + 1}[kind]
        n_results = 1 if kind == "jvp" else n
        if len(fn.params) != n_params:
            names = list(ref.params) + (
                [f"{p}_dot" for p in ref.params] if kind == "jvp" else
                ["out_bar"] if kind == "vjp" else [])
            raise S2SADError(
                f"{what} takes {len(fn.params)} parameter(s), but it must take {n_params}",
                pf.loc(pf.node), hint=f"{pf.name}({', '.join(names)})")
        wanted = fn.structure == 0 if n_results == 1 else False
        if isinstance(fn.structure, tuple):
            wanted = fn.structure == tuple(range(n_results))
        if not wanted:
            got = (f"a tuple of {len(fn.structure)}" if isinstance(fn.structure, tuple)
                   else "1 value")
            rets = [r for r in ast.walk(pf.node) if isinstance(r, ast.Return)]
            why = {"partials": "it must return one partial derivative per parameter",
                   "jvp": "it must return the tangent of the result",
                   "vjp": "it must return one cotangent per parameter"}[kind]
            raise S2SADError(
                f"{what} returns {got}, but `{ref.name}` has {n} parameter(s)",
                pf.loc(rets[0].value if rets and rets[0].value else pf.node), why=why,
                hint="return one value for a primitive of one parameter, or a tuple with one "
                     "item per parameter" if kind != "jvp" else "return one value")
        odd = [v for v in (*fn.params, *fn.results) if v.kind not in (Kind.FLOAT, Kind.INT)]
        if odd:
            noun = odd[0].kind.name.lower()
            raise UnsupportedError(
                f"{what} works on {'an' if noun[0] in 'aeiou' else 'a'} {noun}; the rules of "
                "custom primitives take and return numbers", pf.loc(pf.node),
                hint="write the rule for numbers; with partials=, it applies elementwise to "
                     "arrays")
        self.ir[kind] = fn
        return fn


_BY_KEY: dict[object, _Custom] = {}
# the custom primitives whose rules are being lifted now (innermost last)
_LIFTING: list[str] = []


def register_custom(ref: CustomRef) -> str:
    """The name of the primitive registered for ``ref`` (registered now if new, or again
    if its definition changed); its partials are lifted and checked here when they can be
    (at compile time, not when the derivative runs), unless it is called by another
    primitive's rule: then when a derivative needs them."""
    from . import primitives as P
    from .ir.core import Kind

    if ref.problem is not None:
        raise ref.problem
    state = _BY_KEY.get(ref.key)
    if state is None or state.ref != ref:
        if state is not None:
            name = state.prim
        else:
            base = name = f"custom:{ref.module}.{ref.name}"
            k = 1
            while name in P.PRIMITIVES:
                k += 1
                name = f"{base}#{k}"
        state = _BY_KEY[ref.key] = _Custom(name, ref)
        common = dict(evaluator=state.evaluate, fold=False, imported=(ref.module, ref.name))
        if "partials" in ref.rules:
            prim = P.Primitive(
                name, len(ref.params),
                # elementwise on arrays, as NumPy's ufuncs: an array in, an array out
                kind_rule=lambda kinds, attrs: Kind.ARRAY if Kind.ARRAY in kinds else Kind.FLOAT,
                derivative="partials", partials_rule=state.partials_rule, **common)
        else:
            prim = P.Primitive(name, len(ref.params), kind_rule=lambda kinds, attrs: Kind.FLOAT,
                               derivative="rule", jvp_rule=state.jvp_rule,
                               vjp_rule=state.vjp_rule, **common)
        P.register(prim)
    if not _LIFTING:
        # A primitive called by another one's rule (digamma in the partials of lgamma) is
        # checked when its own rules are needed, by a derivative of higher order: a chain
        # of wrapped library functions (digamma, whose derivative needs polygamma, ...)
        # then ends where the user's derivatives do.
        for kind in state.ref.rules:
            state.lifted(kind)
    return state.prim


def elementwise(prim_name: str) -> bool:
    """May custom primitive ``prim_name`` be applied to arrays (a partials rule)?"""
    from . import primitives as P

    return P.PRIMITIVES[prim_name].derivative == "partials"
