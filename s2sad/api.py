"""The Python API: ``grad``, ``value_and_grad``, ``jvp``, ``vjp``, the higher-order
``hvp``, ``hessian``, ``jacobian``, ``derivative``, and ``@differentiable``.

Each call compiles the derivative once — source → IR → AD → optimisation →
Python source — and returns an ordinary Python function built from that
source, with the source attached as ``.source``.  Results are cached in
memory per (function, kind, wrt, mode).

>>> import math, s2sad
>>> def f(x):
...     return x ** 3 + 2 * x
>>> s2sad.grad(f)(2.0)
14.0
"""

from __future__ import annotations

import functools
import gc
import hashlib
import importlib.util
import inspect
import linecache
import os
import sys
import tempfile
import threading
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import __version__, cache
from .ad.reverse import CHECKPOINTS
from .codegen import load
from .codegen.guard import AGAIN, LIVE, add_guard
from .codegen.xp import TARGETS
from .errors import DifferentiationError, S2SADError
from .frontend import environment, from_function, lower
from .frontend.containers import NeedsStructure, structure_key
from .ir.core import Function
from .pipeline import derive, generate
from .pipeline import environment as environment_arrays

_cache: dict[tuple, Callable[..., Any]] = {}
_ir_cache: dict[Any, tuple[Function, environment.Snapshot]] = {}
_lock = threading.RLock()


def lift(f: Callable[..., Any]) -> Function:
    """The IR of a live function (cached)."""
    return _lift(f)[0]


def _lift(f: Callable[..., Any]) -> tuple[Function, environment.Snapshot]:
    """The IR of a live function and the environment it was lifted against (cached)."""
    with _lock:
        got = _ir_cache.get(f)
        if got is None:
            structures = None
            if isinstance(f, _Structured):
                structures, f_inner = f.structures, f.inner
            else:
                f_inner = f
            func, bound = (f_inner.func, f_inner.obj) if isinstance(f_inner, _Bound) else (
                f_inner, None)
            with environment.recording(func) as reads:
                fn = lower(from_function(func, bound), structures)
            got = _ir_cache[f] = (fn, reads.snapshot())
        return got


class _Bound:
    """A method's function with its first parameter bound to one object: how a bound
    method is compiled (``self.N``, ``self.W`` are read from that object)."""

    __slots__ = ("func", "obj", "__qualname__")

    def __init__(self, func: Callable[..., Any], obj: Any) -> None:
        self.func, self.obj, self.__qualname__ = func, obj, func.__qualname__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Bound) and other.func is self.func and other.obj is self.obj

    def __hash__(self) -> int:
        return hash((self.func, id(self.obj)))


class _Structured:
    """A function (or :class:`_Bound` method) with the structures of its container
    arguments (:func:`~s2sad.frontend.containers.structure_key`, by parameter name):
    how one specialisation of a :class:`_Specialising` derivative is compiled."""

    __slots__ = ("inner", "structures", "_key", "__qualname__")

    def __init__(self, inner: Any, structures: dict[str, Any]) -> None:
        self.inner, self.structures = inner, structures
        self._key = (inner, tuple(structures.items()))
        self.__qualname__ = inner.__qualname__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Structured) and other._key == self._key

    def __hash__(self) -> int:
        return hash(self._key)


class _Specialising:
    """The derivative of a function that uses a parameter as a container (``for W, b in
    params``, ``params["W"]``, ``params.W``): compiled at each call for the structure of
    the arguments (JAX traces pytrees the same way), once per structure.

    ``.source`` is the source of the specialisation compiled last; ``.specialize(*args)``
    compiles (or finds) the one for ``args`` without calling it."""

    def __init__(self, f: Any, kind: str, wrt: Any, mode: str, n: int,
                 checkpoints: int | None = None) -> None:
        self.f, self.kind, self.wrt, self.mode, self.n = f, kind, wrt, mode, n
        self.checkpoints = checkpoints
        func = f.func if isinstance(f, _Bound) else f
        code = func.__code__
        self.names = code.co_varnames[:code.co_argcount]
        # *args: the extra positional arguments, one tuple of them
        self.star = (code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
                     if code.co_flags & inspect.CO_VARARGS else None)
        self.skip = 1 if isinstance(f, _Bound) else 0  # self: bound, not a container
        self.table: dict[Any, Callable[..., Any]] = {}
        self.last: Callable[..., Any] | None = None
        self.guard = self  # what _compile asks whether a cached derivative is still valid
        functools.update_wrapper(self, func, updated=())
        self.__name__ = f"{kind}_{func.__name__}"

    def valid(self) -> bool:
        return True  # each specialisation has its own guard

    def _key(self, args: tuple, kwargs: dict) -> tuple:
        key = tuple(map(structure_key, args[self.skip:]))
        if kwargs:
            key += tuple(sorted((k, structure_key(v)) for k, v in kwargs.items()))
        return key

    def specialize(self, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        """The derivative compiled for the structure of ``args`` (compiled now if new)."""
        key = self._key(args, kwargs)
        got = self.table.get(key)
        if got is None:
            named = self.names[self.skip:]
            given = dict(zip(named, key, strict=False))
            if self.star is not None:
                given[self.star] = ("tuple", *key[len(named):len(args) - self.skip])
            given.update((k, v) for k, v in key[len(args) - self.skip:] if k in self.names)
            got = self.table[key] = _compile(_Structured(self.f, given), self.kind, self.wrt,
                                             self.mode, self.n, None, self.checkpoints)
        self.last = got
        return got

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # (the key inlined: this runs on every call)
        key = tuple([structure_key(a) for a in args[self.skip:]]) if not kwargs else (
            self._key(args, kwargs))
        got = self.table.get(key)
        if got is None:
            got = self.specialize(*args, **kwargs)
        return got(*args, **kwargs)

    @property
    def source(self) -> str:
        if self.last is None:
            raise AttributeError(
                f"{self.__name__} is compiled for the structure of its container arguments "
                "at its first call: call it (or .specialize(*args)) before reading .source")
        return self.last.source

    @property
    def ir(self) -> Any:
        return None if self.last is None else self.last.ir


def _forget(f: Callable[..., Any]) -> None:
    """Drop everything compiled from ``f``: its environment changed."""
    _ir_cache.pop(f, None)
    for key in [k for k in _cache if k[0] == f]:
        del _cache[key]


def _key_wrt(wrt: Any) -> Any:
    return tuple(wrt) if isinstance(wrt, list) else wrt


def _is_njit(f: Any) -> bool:
    """Is ``f`` a Numba dispatcher (``@numba.njit``)?  (Without importing Numba.)"""
    return type(f).__module__.startswith("numba.") and isinstance(
        getattr(f, "py_func", None), types.FunctionType)


def _callable_object(f: Any) -> bool:
    """Is ``f`` an object of the user's class with a ``__call__`` written in Python (a
    loss, a model)?  Then its derivatives are those of the bound ``__call__``."""
    call = inspect.getattr_static(type(f), "__call__", None)
    return (isinstance(call, types.FunctionType) and not isinstance(f, type)
            and not type(f).__module__.startswith(("s2sad", "functools")))


def _compile(f: Callable[..., Any], kind: str, wrt: Any, mode: str,
             n: int = 1, target: str | None = None, checkpoints: int | None = None
             ) -> Callable[..., Any]:
    if isinstance(f, _BoundMethod):  # model.loss of a @differentiable method
        f = types.MethodType(f.__func__, f.__self__)
    if _is_njit(f):  # differentiate its Python function; by default for Numba too
        f, target = f.py_func, target or "numba"
    target = target or "python"
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    if _callable_object(f):  # loss(x) of an object whose class defines __call__
        f = f.__call__
    if inspect.ismethod(f):  # a bound method: compiled for its object, self bound
        if target == "numba":
            raise S2SADError(f"the method `{f.__qualname__}` cannot be compiled for the Numba "
                             "target", why="a Numba function cannot read a Python object",
                             hint="differentiate a function of the object's arrays and numbers")
        return _bind(_compile(_Bound(f.__func__, f.__self__), kind, _after_self(wrt), mode, n,
                              None if target == "python" else target, checkpoints),
                     f.__self__)
    if isinstance(f, _DifferentiableMethod):
        f = f.func
    if isinstance(f, functools.partial):  # partial(loss, X=X, y=y): the function, called so
        return _partial(f, kind, wrt, mode, n, target, checkpoints)
    key = (f, kind, _key_wrt(wrt), mode, n, target)
    if checkpoints is not None:  # (so that the default's keys are what they were)
        key += (checkpoints,)
    with _lock:
        got = _cache.get(key)
        if got is not None and got.guard.valid():
            return got
        disk_key = cache.key(f, *key[1:])
        stored = cache.load(disk_key) if disk_key else None
        if stored is not None and stored[0] == "!error":
            raise cache.stored_error(stored[1])
        compiled = None
        if stored is not None:
            snapshot = environment.snapshot_from_texts(f, stored[2])
            if snapshot is not None:  # the entry was compiled against what f reads now
                compiled = _from_source(stored[0], stored[1], None, _Guard(key, snapshot),
                                        target)
        if compiled is None:  # not cached, stale, or a damaged entry: compile
            try:
                fn, snapshot = _derive(f, kind, wrt, mode, n, checkpoints)
            except NeedsStructure:  # a container parameter: compiled at each new structure
                if isinstance(f, _Structured):
                    raise
                if target != "python":
                    raise S2SADError(
                        f"`{f.__qualname__}` uses a parameter as a container (a list of "
                        "arrays, a dict, fields): it cannot be compiled for the "
                        f"{'Numba' if target == 'numba' else 'array API'} target",
                        why="its derivative is compiled for each structure of the arguments "
                            "when called, in Python; a Numba function takes arrays and numbers",
                        hint="pass the arrays as separate parameters, or use target='python'"
                    ) from None
                _cache[key] = specialising = _Specialising(f, kind, wrt, mode, n, checkpoints)
                return specialising
            except DifferentiationError as exc:
                if disk_key:
                    cache.store_error(disk_key, exc)
                raise
            try:
                source = generate(
                    [fn], header=f"{kind} of {f.__qualname__}, generated by s2sad {__version__}.",
                    target=target)
            except DifferentiationError as exc:  # refused by the target
                if disk_key:
                    cache.store_error(disk_key, exc)
                raise
            guard = _Guard(key, snapshot)
            held = environment_arrays([fn])  # objects the module reads by name
            guard.names.update(held)
            compiled = _from_source(fn.name, source, fn, guard, target)
            rows = snapshot.texts()
            if disk_key and rows is not None and not held:
                cache.store(disk_key, fn.name, source, rows)
        _cache[key] = compiled
        return compiled


def _partial(f: functools.partial, kind: str, wrt: Any, mode: str, n: int,
             target: str = "python", checkpoints: int | None = None) -> Callable[..., Any]:
    """The derivative of ``partial(func, *args, **keywords)``: ``func``'s, with those
    arguments passed as ``partial`` passes them (an index in ``wrt`` counts the
    parameters ``partial`` leaves)."""
    if f.keywords and kind in ("jvp", "vjp", "hvp"):
        raise DifferentiationError(
            f"{kind} of a functools.partial with keyword arguments is not supported",
            why=f"the extra arguments of {kind} follow the function's own, where the "
                "keywords of partial would collide with them",
            hint=f"use a lambda (`s2sad.{kind}(lambda w: loss(w, X, y))`) or bind the "
                 "arguments by position")

    def shift(w: Any) -> Any:
        if isinstance(w, (tuple, list)):
            return tuple(shift(v) for v in w)
        if isinstance(w, int) and not isinstance(w, bool):
            return w + len(f.args) if w >= 0 else w
        return w

    inner = _compile(f.func, kind, shift(wrt), mode, n, target, checkpoints)
    bound = functools.partial(inner, *f.args, **f.keywords)
    for attr in ("source", "ir", "guard"):
        if hasattr(inner, attr):
            setattr(bound, attr, getattr(inner, attr))
    return bound


def _derive(f: Callable[..., Any], kind: str, wrt: Any, mode: str, n: int,
            checkpoints: int | None = None) -> Any:
    collecting = gc.isenabled()
    gc.disable()  # compilation builds many small objects that all stay alive
    token = CHECKPOINTS.set(checkpoints)  # read by reverse mode's loops
    try:
        fn, snapshot = _lift(f)
        return derive(fn, kind, wrt, mode, n), snapshot.copy()
    finally:
        CHECKPOINTS.reset(token)
        if collecting:
            gc.enable()


class _Guard:
    """The staleness guard of one compiled function (:mod:`s2sad.codegen.guard`): the
    snapshot of what its function read, and what to do when that changed."""

    def __init__(self, key: tuple, snapshot: environment.Snapshot) -> None:
        self.key = key
        self.snapshot = snapshot
        self.compiled: Any = None  # set by _from_source
        self.test = snapshot.test  # the expression the compiled function tests
        self.names: dict[str, Any] = {**snapshot.names, LIVE: True, AGAIN: self.again}

    def valid(self) -> bool:
        """Is the compiled function still right?  If not, retire it: its later calls go
        to the function compiled for what its function reads now."""
        with _lock:
            if self.names[LIVE] and self.snapshot.fresh():
                return True
            if self.names[LIVE] and self.snapshot.holds() and self.snapshot.test == self.test:
                self.names.update(self.snapshot.names)  # rebound to equal values: still right
                return True
            self.names[LIVE] = False
            self.names[AGAIN] = self.forward
            if _cache.get(self.key) is self.compiled:
                _forget(self.key[0])
            return False

    def again(self, *args: Any, **kwargs: Any) -> Any:
        """Called by the compiled function when an identity it checks differs."""
        if self.valid():
            return self.compiled(*args, **kwargs)
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """A call of the retired function, answered by the one compiled now."""
        f, kind = self.key[:2]
        target = _compile(*self.key)
        self.compiled.source, self.compiled.ir = target.source, target.ir
        if target.__defaults__ != self.compiled.__defaults__:
            # the arguments arrive with the old defaults filled in: which of them the
            # caller gave is lost, so no answer is safe
            raise DifferentiationError(
                f"the defaults of `{f.__qualname__}` changed after this {kind} was compiled",
                why="this function fills in its old defaults before it can tell which "
                    "arguments the caller gave, so its answer could be wrong",
                hint=f"get the derivative again: s2sad.{kind}({f.__qualname__})")
        return target(*args, **kwargs)


def _from_source(name: str, source: str, fn: Any, guard: _Guard,
                 target: str = "python") -> Callable[..., Any] | None:
    """The function ``name`` of generated module ``source``, with ``.source``, ``.ir``
    (when it was compiled in this process, not read from the disk cache) and ``.guard``;
    it checks ``guard``'s snapshot on every call.  ``None`` if a cached source does not
    define it.  On the Numba target it is the ``numba.njit`` dispatcher itself (callable
    from other njit code), which checks nothing per call: the guard is checked when the
    API is asked for the derivative again, as Numba itself freezes globals."""
    if target == "numba":
        try:
            compiled = _load_numba(name, source)
        except Exception:
            if fn is not None:
                raise
            return None
        guard.compiled = compiled
        compiled.source, compiled.ir, compiled.guard = source, fn, guard
        return compiled
    filename = f"<s2sad: {name}>"
    try:
        guarded = add_guard(source, name, guard.test)
        compiled = load(guarded, name, filename, guard.names)
    except Exception:
        if fn is not None:
            raise
        return None  # a damaged cache entry: compile again
    guard.names = compiled.__globals__  # the guard's names live there now
    guard.compiled = compiled
    # the guarded code keeps .source's line numbers (see add_guard): tracebacks and
    # inspect.getsource read the standalone text
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    compiled.source = source
    compiled.ir = fn
    compiled.guard = guard
    return compiled


def _load_numba(name: str, source: str) -> Any:
    """Function ``name`` of Numba module ``source``, imported from a file named by the
    source's hash (in the disk cache's folder, else a temporary one): Numba caches what
    ``cache=True`` compiles only for a function with a file, and reloads it from there
    in a later process without compiling again."""
    try:
        import numba  # noqa: F401
    except ImportError:
        raise S2SADError("target='numba' needs Numba, which is not installed",
                         hint="pip install 's2sad[numba]' (or pip install numba)") from None
    digest = hashlib.sha256(source.encode()).hexdigest()[:24]
    where = cache.directory()
    folder = (where / "numba") if where is not None else (
        Path(tempfile.gettempdir()) / f"s2sad-numba-{getattr(os, 'getuid', lambda: 0)()}")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"s2sad_numba_{digest}.py"  # its module name: Numba's cache imports it
    if not path.is_file() or path.read_text() != source:
        partial = folder / f".{path.name}.{os.getpid()}.tmp"
        partial.write_text(source)
        os.replace(partial, path)  # atomic: another process may be importing it
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Numba's cache finds the module by name on reload
    spec.loader.exec_module(module)
    return getattr(module, name)


def grad(f: Callable[..., Any], wrt: Any = 0, *, mode: str = "auto",
         target: str | None = None, checkpoints: int | None = None) -> Callable[..., Any]:
    """The gradient of scalar-valued ``f`` with respect to ``wrt``.

    ``wrt`` is a parameter index, a parameter name, or a tuple of them (then
    the gradient is a tuple in the same order).  ``mode`` is ``"reverse"``
    (one sweep for all inputs), ``"forward"`` (one tangent sweep per input) or
    ``"auto"``: reverse, except forward for one float input through a loop, where
    forward mode needs no tape (the generated docstring says which).
    ``target``: ``"python"`` (plain Python, the default), ``"numba"`` (a ``numba.njit``
    function; the default when ``f`` is one) or ``"array_api"`` (code of the array API
    standard, run with the namespace of its arguments: NumPy, Dask, JAX, PyTorch,
    ``array_api_strict``...; needs ``pip install 's2sad[array-api]'``).
    ``checkpoints=K``: reverse mode keeps at most K snapshots of each loop's
    carried values (binomial checkpointing) instead of a tape of every pass, and
    recomputes the passes between them; the same numbers, bit for bit.
    """
    return _compile(f, "grad", wrt, mode, target=target,
                    checkpoints=_checkpoints(checkpoints))


def value_and_grad(f: Callable[..., Any], wrt: Any = 0, *, mode: str = "auto",
                   target: str | None = None, checkpoints: int | None = None
                   ) -> Callable[..., Any]:
    """Like :func:`grad`, returning ``(f(*args), gradient)``."""
    return _compile(f, "value_and_grad", wrt, mode, target=target,
                    checkpoints=_checkpoints(checkpoints))


def jvp(f: Callable[..., Any], wrt: Any = 0, *, target: str | None = None
        ) -> Callable[..., Any]:
    """Forward mode: ``jvp_f(*args, *tangents) -> (f(*args), tangent of the output)``.

    One tangent argument per parameter in ``wrt``, in order.  For a function
    returning a tuple, the output tangent is a tuple.
    """
    return _compile(f, "jvp", wrt, "forward", target=target)


def vjp(f: Callable[..., Any], wrt: Any = 0, *, target: str | None = None,
        checkpoints: int | None = None) -> Callable[..., Any]:
    """Reverse mode: ``vjp_f(*args, *cotangents) -> (f(*args), cotangent(s) of wrt)``.

    One cotangent argument per output of ``f`` (one for a scalar function).
    ``checkpoints=K``: as for :func:`grad`.
    """
    return _compile(f, "vjp", wrt, "reverse", target=target,
                    checkpoints=_checkpoints(checkpoints))


def _checkpoints(k: Any) -> int | None:
    """``checkpoints=`` checked: None, or a number of snapshots >= 1."""
    if k is None:
        return None
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"checkpoints must be a number of snapshots >= 1, not {k!r}")
    return k


def hvp(f: Callable[..., Any], wrt: Any = 0, *, mode: str = "reverse-over-forward",
        target: str | None = None) -> Callable[..., Any]:
    """Hessian-vector product: ``hvp_f(*args, *v) -> H·v``, without forming H.

    One vector part ``v`` per parameter in ``wrt`` (of its kind: a number, list or
    array); the result has the same parts.  ``mode``: ``"reverse-over-forward"``
    (the default: the gradient of a directional derivative) or
    ``"forward-over-reverse"`` (the directional derivative of the gradient); the
    same numbers at the same order of cost.  Forward over reverse cannot yet go
    through the array helpers of reverse mode (a located error says so).
    """
    if mode not in ("reverse-over-forward", "forward-over-reverse"):
        raise ValueError("mode must be 'reverse-over-forward' or 'forward-over-reverse', "
                         f"not {mode!r}")
    return _compile(f, "hvp", wrt, mode, target=target)


def hessian(f: Callable[..., Any], wrt: Any = 0, *, target: str | None = None
            ) -> Callable[..., Any]:
    """The Hessian of scalar-valued ``f`` with respect to ``wrt``.

    Scalar parameters: a float for one, else a nested tuple ``H[i][j]`` in ``wrt``
    order, symmetric by construction, as one symbolic function.  One array (or
    list) parameter ``x``: an array of shape ``x.shape + x.shape``; several: a
    nested tuple of blocks ``H[k][l]`` of shape ``shape_k + shape_l``, computed
    with one Hessian-vector product per element.
    """
    return _compile(f, "hessian", wrt, "reverse-over-forward", target=target)


def jacobian(f: Callable[..., Any], wrt: Any = 0, *, mode: str = "reverse",
             target: str | None = None) -> Callable[..., Any]:
    """The Jacobian of ``f`` (a number, tuple, list or array output).

    ``J[i][j] = ∂y_i/∂x_j`` for scalar outputs and inputs (no index for a single
    output or input); blocks of shape ``y.shape + x.shape`` for arrays and lists
    (JAX's layout).  ``mode="forward"``: one tangent sweep per input element;
    ``"reverse"``: one adjoint sweep per output element.
    """
    if mode not in ("forward", "reverse"):
        raise ValueError(f"mode must be 'reverse' or 'forward', not {mode!r}")
    return _compile(f, "jacobian", wrt, mode, target=target)


def derivative(f: Callable[..., Any], n: int = 1, wrt: Any = 0, *,
               target: str | None = None) -> Callable[..., Any]:
    """The ``n``-th derivative of ``f`` with respect to one scalar parameter (forward
    mode ``n`` times): ``d<n>_f(*args)``.  Every kind takes ``target="python"`` (the
    default) or ``"numba"`` (see :func:`grad`)."""
    return _compile(f, "derivative", wrt, "forward", n, target)


def differentiable(f: Callable[..., Any] | None = None, *, wrt: Any = 0,
                   mode: str = "auto") -> Any:
    """Decorator: compile ``f``'s derivatives now and attach them to ``f``.

    ``f.grad``, ``f.value_and_grad``, ``f.jvp`` and ``f.vjp`` are the
    functions :func:`grad` & co. return for the same ``wrt``.  ``f`` itself is
    returned unchanged, so it can still be called (and inlined by other
    differentiated functions).  For a function that returns a tuple, ``grad``
    and ``value_and_grad`` raise :class:`~s2sad.errors.DifferentiationError`
    when called; use ``jvp``/``vjp``.

    On a method (a function of a class body whose first parameter is ``self``), an
    index in ``wrt`` counts the parameters after ``self``, and the derivatives bind
    like the method: ``Model().loss.grad(w)`` and ``Model.loss.grad(model, w)``.  They
    are compiled for each object when first used (they read its attributes).
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        if _is_method(func):  # compiled per object, when first used through one
            return _DifferentiableMethod(func, wrt, mode)
        for kind in ("grad", "value_and_grad"):
            try:
                setattr(func, kind, _compile(func, kind, wrt, mode))
            except DifferentiationError as exc:
                setattr(func, kind, _raiser(exc))
        func.jvp = _compile(func, "jvp", wrt, "forward")
        func.vjp = _compile(func, "vjp", wrt, "reverse")
        return func

    return decorate if f is None else decorate(f)


_DERIVATIVES = ("grad", "value_and_grad", "jvp", "vjp")


def _is_method(func: Callable[..., Any]) -> bool:
    """Is ``func`` defined in a class body, with ``self`` first?"""
    code = getattr(func, "__code__", None)
    outer = getattr(func, "__qualname__", "").split(".")[:-1]
    return (code is not None and bool(outer) and outer[-1] != "<locals>"
            and code.co_varnames[:code.co_argcount][:1] == ("self",))


def _after_self(wrt: Any) -> Any:
    """``wrt`` of a method's parameters after ``self``, as ``wrt`` of its function."""
    if isinstance(wrt, (tuple, list)):
        return tuple(_after_self(w) for w in wrt)
    if isinstance(wrt, int) and not isinstance(wrt, bool) and wrt >= 0:
        return wrt + 1
    return wrt


def _bind(compiled: Callable[..., Any], obj: Any) -> Callable[..., Any]:
    """``compiled`` with its first argument (``self``) bound to ``obj``."""
    bound = functools.partial(compiled, obj)
    for attr in ("source", "ir", "guard"):
        if hasattr(compiled, attr):
            setattr(bound, attr, getattr(compiled, attr))
    return bound


class _DifferentiableMethod:
    """A method decorated with :func:`differentiable`.  Through an instance it is a bound
    method whose derivatives are bound too (``model.loss.grad(w)``); through the class,
    the derivatives take the object first (``Model.loss.grad(model, w)``).  Either way
    the derivative is the one :func:`grad` & co. compile for the bound method."""

    def __init__(self, func: Callable[..., Any], wrt: Any, mode: str) -> None:
        self.func, self.wrt, self.mode = func, wrt, mode
        functools.update_wrapper(self, func)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return self if obj is None else _BoundMethod(self, obj)

    def derivative(self, kind: str, obj: Any) -> Callable[..., Any]:
        mode = self.mode if kind in ("grad", "value_and_grad") else (
            "forward" if kind == "jvp" else "reverse")
        return _compile(types.MethodType(self.func, obj), kind, self.wrt, mode)

    def __getattr__(self, name: str) -> Any:
        if name in _DERIVATIVES:
            return lambda obj, *args, **kwargs: self.derivative(name, obj)(*args, **kwargs)
        raise AttributeError(name)


class _BoundMethod:
    """``model.loss`` of a differentiable method: call it, or take ``.grad`` & co."""

    def __init__(self, method: _DifferentiableMethod, obj: Any) -> None:
        self.__func__ = method.func
        self.__self__ = obj
        self._method = method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.__func__(self.__self__, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in _DERIVATIVES:
            return self._method.derivative(name, self.__self__)
        return getattr(self.__func__, name)

    def __repr__(self) -> str:
        return f"<differentiable method {self.__func__.__qualname__} of {self.__self__!r}>"


def _raiser(exc: Exception) -> Callable[..., Any]:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise exc

    return unavailable
