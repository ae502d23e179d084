"""s2sad's peers for ``suite.py``: SymPy, autograd, JAX and PyTorch, each optional.

Every peer differentiates the *same* Python source as s2sad.  :func:`rebind`
makes a twin of the benchmark function whose globals ``math`` and ``np`` name
the peer's functions (``jax.numpy``, ``autograd.numpy``, ``torch``, or SymPy's
``sin``/``exp``/… on symbols); the functions of the same module that it calls
(``chain5`` calls ``step``) are rebound alike.  So ``math.sin(x) * x`` runs on
tracers, boxes, tensors or symbols without a second copy of the code.

A peer family (``"sympy"``, ``"autograd"``, ``"jax"``, ``"torch"``) gives one or
two methods (``sympy`` and ``sympy_cse``, ``jax`` and ``jax_jit``).  Each method
is a :class:`Method`: the gradient function, a ``convert`` from the benchmark
point to what it takes (tensors for PyTorch, ``jnp`` arrays for JAX), and the
seconds it spent preparing (SymPy's ``diff``).  What a peer cannot do raises
:class:`Unavailable` with the reason.  Nothing here imports a peer at module
level: the suite runs (with those columns "not installed") without any of them.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent

FAMILIES = ("sympy", "autograd", "jax", "torch")
METHODS = {"sympy": ("sympy", "sympy_cse"), "autograd": ("autograd",),
           "jax": ("jax", "jax_jit"), "torch": ("torch",)}
LABELS = {"sympy": "SymPy", "sympy_cse": "SymPy cse", "autograd": "autograd",
          "jax": "JAX eager", "jax_jit": "jax.jit", "torch": "PyTorch"}
_MODULES = {"sympy": "sympy", "autograd": "autograd", "jax": "jax", "torch": "torch"}


class Unavailable(Exception):
    """The peer cannot differentiate this case; the message says why."""


@dataclass
class Method:
    call: Callable[..., Any]
    convert: Callable[..., tuple]  # benchmark point -> the arguments ``call`` takes
    prep: float = 0.0  # seconds spent before the first call (SymPy: diff)


def version(family: str) -> str | None:
    """The installed version of the peer, or None if it does not import."""
    try:
        importlib.import_module(_MODULES[family])
    except Exception:  # ImportError, or a broken install: the peer is absent either way
        return None
    return metadata.version(_MODULES[family])


def rebind(f: Callable[..., Any], names: dict[str, Any]) -> Callable[..., Any]:
    """``f`` with its module's globals overridden by ``names`` (e.g. ``math`` → ``jnp``);
    the other functions of that module are rebound alike, so that ``f``'s calls to them
    see the same names."""
    ns = dict(f.__globals__)  # type: ignore[attr-defined]
    ns.update(names)
    for key, value in list(ns.items()):
        if isinstance(value, types.FunctionType) and value.__globals__ is f.__globals__:  # type: ignore[attr-defined]
            ns[key] = types.FunctionType(value.__code__, ns, value.__name__,
                                         value.__defaults__, value.__closure__)
    return ns[f.__name__]


def _wrt_count(wrt: Any) -> int:
    """How many leading parameters are differentiated (the suite's wrt are 0 or 0..n-1)."""
    idx = (wrt,) if isinstance(wrt, int) else tuple(wrt)
    if idx != tuple(range(len(idx))):
        raise ValueError(f"the suite differentiates leading parameters only, not {wrt!r}")
    return len(idx)


def _is_array(a: Any) -> bool:
    return isinstance(a, np.ndarray)


# -- SymPy ------------------------------------------------------------------------------------


def _sympy(f: Callable[..., Any], wrt: Any, point: tuple) -> dict[str, Method]:
    import sympy

    n = _wrt_count(wrt)
    if any(_is_array(a) for a in point):
        raise Unavailable("NumPy array code: SymPy differentiates scalar expressions")
    params = [[sympy.Symbol(f"a{i}_{j}") for j in range(len(a))] if isinstance(a, list)
              else sympy.Symbol(f"a{i}") for i, a in enumerate(point[:n])]
    try:
        expr = rebind(f, {"math": sympy})(*params, *point[n:])
    except TypeError as exc:  # "cannot determine truth value of Relational"
        raise Unavailable("the code branches on the value (`if`/`while` on a symbol: "
                          f"{str(exc).split(':')[0]})") from None
    if len(point) > n:
        raise Unavailable("arguments that are not differentiated (SymPy would bake them in)")
    t0 = time.perf_counter()
    grads = [[sympy.diff(expr, s) for s in p] if isinstance(p, list) else sympy.diff(expr, p)
             for p in params]
    diff_s = time.perf_counter() - t0
    out = grads[0] if isinstance(wrt, int) else grads
    methods = {}
    for name, cse in (("sympy", False), ("sympy_cse", True)):
        t0 = time.perf_counter()
        fn = sympy.lambdify(params, out, modules="math", cse=cse)
        methods[name] = Method(fn, lambda *a: a, diff_s + time.perf_counter() - t0)
    return methods


def sympy_diff_seconds(methods: dict[str, Method]) -> float:
    """SymPy's differentiation time (the part of ``prep`` shared by both methods)."""
    return min(m.prep for m in methods.values())


# -- autograd ---------------------------------------------------------------------------------


def _autograd(f: Callable[..., Any], wrt: Any, point: tuple) -> dict[str, Method]:
    import autograd
    import autograd.numpy as anp

    del point
    fn = rebind(f, {"math": anp, "np": anp})
    if isinstance(wrt, int):
        return {"autograd": Method(autograd.grad(fn, wrt), lambda *a: a)}
    n = _wrt_count(wrt)
    packed = autograd.grad(lambda params, *rest: fn(*params, *rest))

    def call(*args: Any) -> Any:
        return packed(args[:n], *args[n:])

    return {"autograd": Method(call, lambda *a: a)}


# -- JAX --------------------------------------------------------------------------------------


def _jax(f: Callable[..., Any], wrt: Any, point: tuple) -> dict[str, Method]:
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    _wrt_count(wrt)
    fn = rebind(f, {"math": jnp, "np": jnp})
    # an int that indexes a list (z[k]) must be static; an array takes a traced index
    lists = any(isinstance(a, list) for a in point)
    static = tuple(i for i, a in enumerate(point) if lists and isinstance(a, int))
    eager = jax.grad(fn, argnums=wrt)
    jitted = jax.jit(jax.grad(fn, argnums=wrt), static_argnums=static)

    def ready(g: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            return jax.block_until_ready(g(*args))
        return call

    def convert(*args: Any) -> tuple:
        return tuple(jnp.asarray(a) if _is_array(a) else a for a in args)

    return {"jax": Method(ready(eager), convert), "jax_jit": Method(ready(jitted), convert)}


# -- PyTorch ----------------------------------------------------------------------------------


class _TorchNumPy:
    """``np`` for PyTorch: torch's functions, with ``logaddexp`` taking a number too."""

    def __init__(self, torch: Any) -> None:
        self._torch = torch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._torch, name)

    def logaddexp(self, a: Any, b: Any) -> Any:
        t = self._torch
        return t.logaddexp(t.as_tensor(a, dtype=t.float64), t.as_tensor(b, dtype=t.float64))


def _torch(f: Callable[..., Any], wrt: Any, point: tuple) -> dict[str, Method]:
    import torch

    del point
    # One thread, like every other method here: with its default two threads on the
    # 2-core VM, the MLP's backward took 39 ms instead of 0.18 ms (threads spinning).
    torch.set_num_threads(1)
    n = _wrt_count(wrt)
    fn = rebind(f, {"math": torch, "np": _TorchNumPy(torch)})

    def call(*args: Any) -> Any:
        params = [a.detach().requires_grad_(True) for a in args[:n]]
        fn(*params, *args[n:]).backward()
        return params[0].grad if isinstance(wrt, int) else tuple(p.grad for p in params)

    def convert(*args: Any) -> tuple:
        return tuple(a if isinstance(a, int) else torch.tensor(a, dtype=torch.float64)
                     for a in args)

    return {"torch": Method(call, convert)}


_MAKERS = {"sympy": _sympy, "autograd": _autograd, "jax": _jax, "torch": _torch}


def prepare(family: str, f: Callable[..., Any], wrt: Any, point: tuple) -> dict[str, Method]:
    """The peer's gradient methods for ``f`` (raises :class:`Unavailable`)."""
    return _MAKERS[family](f, wrt, point)


def reason(exc: BaseException) -> str:
    """A one-line footnote for a peer's failure."""
    name = type(exc).__name__
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = re.sub(r"shape \([0-9, ]*\)", "shape (…)", text)  # one note for every size
    if name in ("TracerBoolConversionError", "ConcretizationTypeError"):
        return ("cannot trace a Python `if`/`while` on a traced value, and JAX has no "
                f"reverse mode through `lax.while_loop` ({name})")
    if isinstance(exc, Unavailable):
        return text
    return f"{name}: {text[:160]}"


# -- SymPy on the deep-nesting chain, in a child process (its time explodes with k) ----------


_CHILD = """
import json, sys, time
sys.path.insert(0, {here!r})
import cases, peers, sympy
f = peers.rebind(cases.load_chain({k}).chain, {{"math": sympy}})
x = sympy.Symbol("x")
expr = f(x)
t0 = time.perf_counter(); d = sympy.diff(expr, x); t1 = time.perf_counter()
print(json.dumps({{"diff_s": t1 - t0}}), flush=True)
print(json.dumps({{"raw_ops": int(sympy.count_ops(d))}}), flush=True)
t0 = time.perf_counter(); subs, (reduced,) = sympy.cse([d]); t1 = time.perf_counter()
ops = sum(int(sympy.count_ops(v)) for _, v in subs) + int(sympy.count_ops(reduced))
print(json.dumps({{"cse_s": t1 - t0, "cse_ops": ops}}), flush=True)
"""


def sympy_chain(k: int, timeout: float) -> dict[str, Any]:
    """SymPy's ``diff`` time and ``count_ops`` (raw and after ``cse``) for the k-level chain,
    measured in a child process that is killed after ``timeout`` seconds.  The result has
    the keys that finished (``diff_s``, ``raw_ops``, ``cse_s``, ``cse_ops``) and ``wall``;
    ``timed_out`` is set when the child was stopped."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    cmd = [sys.executable, "-c", _CHILD.format(here=str(HERE), k=k)]
    try:
        text = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=True).stdout
    except subprocess.TimeoutExpired as exc:
        text = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        out["timed_out"] = True
    except subprocess.CalledProcessError as exc:
        text = exc.stdout or ""
        out["error"] = (exc.stderr or "").strip().splitlines()[-1:] or ["failed"]
    for line in text.splitlines():
        out.update(json.loads(line))
    out["wall"] = time.perf_counter() - t0
    return out


def available(families: Sequence[str]) -> dict[str, str | None]:
    """Version of each requested peer family (None: not installed)."""
    return {fam: version(fam) for fam in families}
