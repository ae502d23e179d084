"""Lifting random draws: ``rng.standard_normal(n)``, ``rs.randn(n, d)``,
``np.random.normal(size=k)`` inside the differentiated function.

A mixin of :class:`~s2sad.frontend.lower.Lowerer`.  A draw is impure: it is a
``random_draw`` op, an *effect* (like ``print``), so it runs exactly once per call of
the generated function, where it stands in the primal sweep; it is never shared with
another draw (no CSE), never removed, and a reverse sweep that recomputes values never
replays it (:func:`s2sad.ad.reverse._without_effects`).  Its value is then an ordinary
value of the primal, which the reverse sweep reads.  Reparameterised objectives
(``mu + sigma * rng.standard_normal(n)``, as in VAEs and black-box variational
inference) differentiate as written.  A draw whose own parameters depend on the
differentiated arguments (``rng.normal(mu, sigma)``) has no derivative s2sad takes:
the rule says to reparameterise.  A draw may stand in branches and loops: reverse mode
yields a branch's draws out of it and keeps a loop's on its tape (see
:mod:`s2sad.ad.reverse`, which refuses the nestings it cannot tape).  The generator is an
object of the environment, ``self.rng``, or an argument (a leaf of the call's
structure).  Hessians and Jacobians, whose drivers run several sweeps, refuse functions
that draw.
"""

from __future__ import annotations

import ast
from typing import Any

import numpy as np

from .. import primitives as P
from ..ir.core import Value
from . import environment
from .resolve import ArrayRef, ModuleRef

# methods of numpy.random.Generator, numpy.random.RandomState and the numpy.random
# module that draw floats (their arguments are passed through as written)
DRAWS = frozenset({
    "standard_normal", "normal", "uniform", "random", "exponential", "standard_exponential",
    "gamma", "standard_gamma", "beta", "laplace", "logistic", "lognormal", "gumbel",
    "standard_t", "standard_cauchy", "chisquare", "rayleigh", "weibull", "vonmises",
    "randn", "rand", "random_sample", "ranf", "sample",
})
_GENERATORS = (np.random.Generator, np.random.RandomState)


class DrawMixin:
    """Random draws, in the primal sweep."""

    def random_source(self, func: ast.expr, ctx) -> Any:
        """What ``func`` (``rng.normal``, ``np.random.randn``) draws from: a generator
        object, ``np.random`` (``"module"``), or None if it is no draw."""
        if not isinstance(func, ast.Attribute):
            return None
        base = func.value
        if isinstance(base, ast.Attribute) and base.attr == "random" and isinstance(
                base.value, ast.Name) and base.value.id not in ctx.env:
            mod = ctx.pf.resolver.lookup(base.value.id)
            if isinstance(mod, ModuleRef) and mod.lib == P.NUMPY and not mod.sub:
                return "module"
        if isinstance(base, ast.Name):
            got = ctx.env.get(base.id) if base.id in ctx.env else self._raw(ctx, base.id)
            if isinstance(got, _GENERATORS) or (isinstance(got, Value)
                                                and got in self.generators):
                return got  # an object of the environment, or an argument's leaf
        if isinstance(base, ast.Attribute) and self._bound_self(base.value, ctx):
            got = getattr(ctx.pf.bound, base.attr, None)
            if isinstance(got, _GENERATORS):  # self.rng: guarded as attributes are
                reads = environment.current()
                if reads is not None:
                    reads.attribute(ctx.pf.bound, base.attr, got)
                return got
        return None

    def _raw(self, ctx, name: str) -> Any:
        """The live object a global or closure name holds (None from a file)."""
        scope = getattr(ctx.pf.resolver, "scope", None)
        if scope is None or name not in scope:
            return None
        ctx.pf.resolver.lookup(name)  # recorded for the staleness guard
        return scope[name]

    def random_draw(self, source: Any, node: ast.Call, ctx, hint: str | None) -> Value:
        method = node.func.attr
        spelled = ast.unparse(node.func)
        if method not in DRAWS:
            raise self.unsupported(
                ctx.pf, node.func, f"the draw `{spelled}` is not supported",
                why="s2sad draws floats (normal, uniform, exponential, gamma, ...) where they "
                    "stand; other draws (integers, choice, permutation, shuffle) are not "
                    "supported yet", hint="draw outside the function and pass the values in")
        operands: list[Value] = []
        if isinstance(source, Value):  # a generator passed as an argument
            operands.append(source)
        elif source != "module":
            name = node.func.value.attr if isinstance(node.func.value, ast.Attribute) \
                else node.func.value.id
            operands.append(self.environment_array(ArrayRef(source), name, ctx.pf.loc(node)))
        layout = []  # per argument: how many operands it is (a tuple: size=(n, d))
        for a in [*node.args, *(kw.value for kw in node.keywords)]:
            got = self.expr(a, ctx)
            items = got if isinstance(got, tuple) else (self.value(a, ctx),)
            if not all(isinstance(v, Value) for v in items):
                raise self.unsupported(ctx.pf, a, "an argument of a draw that is not a number, "
                                       "an array or a tuple of them")
            operands.extend(items)
            layout.append(len(items) if isinstance(got, tuple) else 0)
        if any(kw.arg is None for kw in node.keywords):
            raise self._reject(ctx.pf, node)
        return self.b.emit("random_draw", tuple(operands), attrs=(
            ("method", method), ("module", source == "module"), ("layout", tuple(layout)),
            ("keywords", tuple(kw.arg for kw in node.keywords))),
            loc=ctx.pf.loc(node), hint=hint)


def draw_arguments(args: list, attrs: dict) -> tuple[list, list[tuple[str, Any]]]:
    """The positional and keyword arguments of a draw's call, from its operands (after
    the generator's) and its ``layout`` (0: one operand; k: a tuple of k);
    ``tuple_of(items)`` is made by the caller's representation (a Python tuple or an AST
    tuple)."""
    values, k = [], 0
    for n in attrs["layout"]:
        values.append(args[k] if n == 0 else tuple(args[k:k + n]))
        k += n or 1
    n_pos = len(values) - len(attrs["keywords"])
    return values[:n_pos], list(zip(attrs["keywords"], values[n_pos:], strict=True))


