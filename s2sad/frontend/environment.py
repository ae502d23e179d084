"""What a derivative read from the user's environment, and a cheap test that it still holds.

s2sad reads a live function's globals, closure cells, code and defaults when it
compiles the derivative (module constants are folded into the generated code, helper
functions are inlined).  Python reads them when the function *runs*.  So that a
compiled derivative is never stale, lifting records every such read in a
:class:`Reads` (one per compilation, current while :func:`recording` is active), and
the result is a :class:`Snapshot`:

* :attr:`Snapshot.test` is the per-call test: identity checks only (``SCALE is <the
  float seen>``, ``f.__code__ is <the code seen>``), one expression that the API's
  guard evaluates inline (tens of nanoseconds in all; :meth:`Snapshot.fresh` is the
  same test as a function).  A name bound to a module (``np``, ``math``) is checked
  when the cache is consulted and on any other change, not per call: rebinding
  ``np`` is not how a number changes, and it costs every call.
* :meth:`Snapshot.holds` is the slow test, run when an identity differs: the value
  of every read, compared as text (``SCALE = 2.0`` executed again gives a new float
  object with the same value: still valid, and no recompilation).
* :meth:`Snapshot.texts` / :func:`snapshot_from_texts` carry the reads to the disk
  cache: each read is a *path* from the root function (``g:helper``, then ``g:K``
  in the helper's module) and the text of the value found there, so a cached entry
  is checked against what the function reads now before it is used.

A function reached without a path (the rule functions of a custom primitive) is
checked in memory, by identity; on disk its module file is part of the cache key.
"""

from __future__ import annotations

import copy
import hashlib
import threading
import types
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

ABSENT = object()  # a name that was looked up and not found
_local = threading.local()

# ("g", name): a global of the function; ("c", name): a closure cell; ("a", name): an
# attribute of the object a method is bound to (no path: checked in memory only)
Step = tuple[str, str]


# -- values as text ---------------------------------------------------------------------------


def code_hash(code: types.CodeType) -> str:
    """A hash of what a code object does, stable across processes (nested code objects by
    their own hashes, never by address)."""
    h = hashlib.sha256()

    def feed(c: types.CodeType) -> None:
        h.update(c.co_code)
        h.update(repr((c.co_names, c.co_varnames, c.co_freevars, c.co_cellvars,
                       c.co_argcount, c.co_kwonlyargcount, c.co_flags, c.co_firstlineno,
                       c.co_filename)).encode())
        for const in c.co_consts:
            if isinstance(const, types.CodeType):
                h.update(b"<code>")
                feed(const)
            else:
                h.update(repr(const).encode())

    feed(code)
    return h.hexdigest()


def plain_data(value: Any, depth: int = 0) -> bool:
    """Is ``value`` a list, tuple or dict (nested) of numbers, strings and ``None`` only?
    Such data of the environment is read when s2sad compiles, and compared by value on
    every call (a list changed in place keeps its identity)."""
    if depth > 8:
        return False
    if isinstance(value, (list, tuple)):
        return len(value) <= 256 and all(
            _plain_leaf(v) or plain_data(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return len(value) <= 256 and all(
            isinstance(k, (str, int)) and (_plain_leaf(v) or plain_data(v, depth + 1))
            for k, v in value.items())
    return False


def _plain_leaf(v: Any) -> bool:
    return v is None or type(v) in (bool, int, float, str)


def value_text(value: Any) -> str | None:
    """A text that equals another's exactly when the two values mean the same to s2sad
    (``None``: a value compared by identity only)."""
    if value is ABSENT:
        return "absent"
    if plain_data(value):
        return f"data:{value!r}"
    if type(value) in (bool, int, float, complex) or isinstance(value, np.generic):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, np.ndarray):
        data = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()
        return f"ndarray:{value.dtype}:{value.shape}:{data}"
    if type(value).__module__.startswith("numba.") and isinstance(
            getattr(value, "py_func", None), types.FunctionType):
        value = value.py_func  # an @numba.njit function: what s2sad reads is its code
    if isinstance(value, types.FunctionType):
        return f"function:{value.__module__}.{value.__qualname__}:{code_hash(value.__code__)}"
    if isinstance(value, types.ModuleType):
        return f"module:{value.__name__}"
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    module = getattr(value, "__module__", None)
    if isinstance(name, str) and isinstance(module, str) and callable(value):
        return f"object:{type(value).__qualname__}:{module}.{name}"  # np.sum, builtins.max
    return None


# -- recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Read:
    """One read: of a global or closure cell (``step``), or of a function's code and
    defaults (``step is None``), in function ``owner`` (reached from the root by ``path``,
    or ``None`` when it has no path); ``seen`` is what it gave (for code: the code object
    and the defaults tuple)."""

    owner: types.FunctionType
    path: tuple[Step, ...] | None
    step: Step | None
    seen: Any


class Reads:
    """The environment reads of one compilation, in the order they happened."""

    def __init__(self, root: types.FunctionType) -> None:
        self.root = root
        self.paths: dict[int, tuple[Step, ...]] = {id(root): ()}
        self.items: dict[tuple, _Read] = {}
        self.keep: list[Any] = [root]  # so that ids in ``paths`` stay unique

    def function(self, fn: types.FunctionType) -> None:
        """``fn``'s source is being read: its code and defaults matter."""
        self.items.setdefault((id(fn), None), _Read(fn, self.paths.get(id(fn)), None,
                                                    (fn.__code__, fn.__defaults__)))

    def name(self, fn: types.FunctionType, step: Step, value: Any) -> None:
        """Name ``step`` of ``fn`` (a global or a closure cell) was read and is ``value``."""
        path = self.paths.get(id(fn))
        self.items.setdefault((id(fn), step), _Read(fn, path, step, value))
        if isinstance(value, types.FunctionType) and path is not None:
            self.paths.setdefault(id(value), (*path, step))
            self.keep.append(value)

    def attribute(self, obj: Any, name: str, value: Any) -> None:
        """Attribute ``name`` of ``obj`` (the object a method is bound to) was read."""
        self.items.setdefault((id(obj), ("a", name)), _Read(obj, None, ("a", name), value))
        self.keep.append(obj)

    def snapshot(self) -> Snapshot:
        return Snapshot(self.root, tuple(self.items.values()))


@contextmanager
def recording(root: types.FunctionType) -> Iterator[Reads]:
    """Record the environment reads made while lifting ``root`` (nests per thread)."""
    stack = _local.__dict__.setdefault("stack", [])
    reads = Reads(root)
    stack.append(reads)
    try:
        yield reads
    finally:
        stack.pop()


def current() -> Reads | None:
    """The innermost active :class:`Reads` of this thread, if any."""
    stack = getattr(_local, "stack", None)
    return stack[-1] if stack else None


# -- snapshots --------------------------------------------------------------------------------


def _cell(fn: types.FunctionType, name: str) -> Any:
    return fn.__closure__[fn.__code__.co_freevars.index(name)]  # type: ignore[index]


def look_up(fn: types.FunctionType, step: Step) -> Any:
    """The value of a global (as Python's name lookup finds it: globals, then builtins)
    or of a closure cell of ``fn``, or of an attribute of ``fn`` (an object, for "a")."""
    kind, name = step
    if kind == "a":
        return getattr(fn, name, ABSENT)
    if kind == "c":
        try:
            return _cell(fn, name).cell_contents
        except (ValueError, IndexError):
            return ABSENT
    got = fn.__globals__.get(name, ABSENT)
    if got is ABSENT:
        builtins = fn.__globals__.get("__builtins__", __builtins__)
        space = builtins if isinstance(builtins, dict) else vars(builtins)
        got = space.get(name, ABSENT)
    return got


def _walk(root: types.FunctionType, path: tuple[Step, ...]) -> types.FunctionType | None:
    fn: Any = root
    for step in path:
        fn = look_up(fn, step)
        if not isinstance(fn, types.FunctionType):
            return None
    return fn


def _seen_now(read: _Read, owner: types.FunctionType) -> Any:
    """What ``read`` gives now, in ``owner``."""
    if read.step is None:
        return (owner.__code__, owner.__defaults__)
    return look_up(owner, read.step)


def _text(read: _Read, seen: Any) -> str | None:
    """The text of what a read gave (``None``: comparable by identity only).  Arrays are
    compared by identity: the generated code reads the object itself, so the same object
    (changed in place or not) is right, and another one needs the code compiled again."""
    if isinstance(seen, np.ndarray):
        return None
    if read.step is None:
        code, defaults = seen
        parts = [value_text(d) for d in defaults or ()]
        if None in parts:
            return None
        return f"code:{code_hash(code)}:defaults:" + "|".join(parts)  # type: ignore[arg-type]
    return value_text(seen)


class Snapshot:
    """The environment a derivative was compiled against (see the module docstring)."""

    def __init__(self, root: types.FunctionType, reads: tuple[_Read, ...],
                 texts: tuple[str | None, ...] | None = None) -> None:
        self.root = root
        self.reads = reads
        self.expected = texts if texts is not None else tuple(
            _text(r, r.seen) for r in reads)
        self.fresh = self._compile_check()

    def copy(self) -> Snapshot:
        """A snapshot of the same reads, with a guard of its own."""
        return Snapshot(self.root, self.reads, self.expected)

    def texts(self) -> list[list] | None:
        """The reads as JSON-ready ``[path, step, text]`` rows for the disk cache
        (``None``: a read that cannot be written down; then the entry is not stored)."""
        rows = []
        for read, text in zip(self.reads, self.expected, strict=True):
            if read.step is not None and read.step[0] == "a":
                return None  # an object's attributes: no path leads there from a file
            if read.path is None:
                continue  # checked in memory; on disk its module file is in the key
            if text is None:
                return None
            rows.append([[list(s) for s in read.path], list(read.step or ()), text])
        return rows

    def holds(self) -> bool:
        """Does every read give the same value now (compared as text; by identity for a
        value that has no text)?  Then the snapshot takes the objects found now, so
        :meth:`fresh` is true again."""
        now_reads = []
        for read, text in zip(self.reads, self.expected, strict=True):
            owner = read.owner if read.path is None else _walk(self.root, read.path)
            if owner is None:
                return False
            seen = _seen_now(read, owner)
            if text is None:
                same = owner is read.owner and (
                    seen is read.seen if read.step is not None
                    else seen[0] is read.seen[0] and seen[1] is read.seen[1])
            else:
                same = _text(read, seen) == text
            if not same:
                return False
            now_reads.append(_Read(owner, read.path, read.step, seen))
        self.reads = tuple(now_reads)
        self.fresh = self._compile_check()
        return True

    def _compile_check(self):
        """The identity tests against what the reads saw, as one expression (``test``)
        over the objects it names (``names``: they go into the generated module's
        namespace, where the API's guard evaluates ``test`` inline), and as a function
        (``fresh``, for the caches)."""
        terms: list[str] = []
        modules: list[str] = []
        names: dict[str, Any] = {}
        spaces: dict[int, str] = {}
        for k, read in enumerate(self.reads):
            owner, o, e = read.owner, f"_s2sad_o{k}", f"_s2sad_e{k}"
            if read.step is None:
                names[o], names[e], names[f"_s2sad_d{k}"] = owner, read.seen[0], read.seen[1]
                terms.append(f"{o}.__code__ is {e} and {o}.__defaults__ is _s2sad_d{k}")
                continue
            kind, name = read.step
            compare = "is"
            if plain_data(read.seen):  # a list of shapes: by value (it may change in place)
                compare, names[e] = "==", copy.deepcopy(read.seen)
            if kind == "a":
                names[o] = owner
                names.setdefault(e, read.seen)
                terms.append(f"getattr({o}, {name!r}, {e}) is {e}" if read.seen is ABSENT
                             else f"{o}.{name} {compare} {e}")
            elif kind == "c":
                names[o] = _cell(owner, name)
                names.setdefault(e, read.seen)
                terms.append(f"{o}.cell_contents {compare} {e}")
            else:
                space = owner.__globals__
                g = spaces.setdefault(id(space), f"_s2sad_g{len(spaces)}")
                names[g] = space
                if read.seen is not ABSENT and space.get(name, ABSENT) is read.seen:
                    names.setdefault(e, read.seen)
                    term = f"{g}[{name!r}] {compare} {e}"
                    if isinstance(read.seen, types.ModuleType):
                        # `np`, `math`: rebinding a module name is not how a value
                        # changes; checked when the cache is consulted, not per call
                        modules.append(term)
                        continue
                    terms.append(term)
                else:  # absent, or found among the builtins: no global may shadow it
                    terms.append(f"{name!r} not in {g}")
        self.test = " and ".join(terms) or "True"
        self.names = names
        return _closure(
            "try:\n"
            f"    return {' and '.join(terms + modules) or 'True'}\n"
            "except (KeyError, ValueError):  # a global deleted, a cell emptied\n"
            "    return False", names)


def _closure(body: str, env: dict[str, Any]):
    """A function of no arguments running ``body``, whose free names are ``env``'s."""
    free = sorted(env)
    lines = "\n".join("        " + line for line in body.split("\n"))
    source = f"def _make({', '.join(free)}):\n    def fresh():\n{lines}\n    return fresh\n"
    scope: dict[str, Any] = {}
    exec(compile(source, "<s2sad environment check>", "exec"), scope)  # noqa: S102
    return scope["_make"](**env)


def snapshot_from_texts(root: types.FunctionType, rows: list) -> Snapshot | None:
    """The snapshot of a disk-cache entry's reads, if ``root`` reads the same values now
    (``None``: something differs, so the entry is stale)."""
    reads, texts = [], []
    try:
        for path_rows, step_row, text in rows:
            path = tuple((str(a), str(b)) for a, b in path_rows)
            owner = _walk(root, path)
            if owner is None:
                return None
            step = (str(step_row[0]), str(step_row[1])) if step_row else None
            read = _Read(owner, path, step, None)
            seen = _seen_now(read, owner)
            if _text(read, seen) != text:
                return None
            reads.append(_Read(owner, path, step, seen))
            texts.append(text)
    except (TypeError, ValueError):  # a damaged entry
        return None
    return Snapshot(root, tuple(reads), tuple(texts))
