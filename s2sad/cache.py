"""The disk cache of generated code: compile a function's derivative once per source.

A cache entry is the generated module's source text, stored under a key that
covers everything the generated code depends on:

* the s2sad version and the Python version (code generation differs by version);
* the derivative asked for: kind, ``wrt``, mode;
* the function's module file, whole (its text: helper functions it inlines and
  constants it reads live there), its qualified name and its code (a function
  whose ``__code__`` was replaced reads another entry);
* the values of the module's numeric and array globals and of the function's
  closure (they are read when the function is compiled, and may be computed at
  import time), and the source file of every function of another module the
  module's globals name (a custom rule's partials may live there).

An entry also carries what the function read from its environment when it was
compiled (:mod:`s2sad.frontend.environment`: each global, closure value, helper's
code and defaults, as a path from the function and the text of the value); it is
used only if the function reads the same values now, and its generated code checks
them on every call, as code compiled in this process does.

A function whose source file cannot be read (typed at a prompt, built with
``exec``) or whose closure holds something else is never cached.

Entries are written atomically (a temporary file in the same directory, then
``os.replace``), so a concurrent reader sees the old entry, the new one, or
none — never a torn file. Each entry carries the SHA-256 of its body; an entry
that does not match it, or does not compile, is a miss and is written again.
Any error of the file system makes the cache step aside silently: it is an
optimisation, never a reason for a compile to fail.

Environment variables: ``S2SAD_CACHE_DIR`` (where; default
``$XDG_CACHE_HOME/s2sad`` or ``~/.cache/s2sad``) and ``S2SAD_NO_CACHE=1``
(off).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

from . import __version__
from .errors import DifferentiationError, Loc
from .frontend.environment import code_hash, value_text

_FORMAT = "s2sad-cache-2"
_file_hashes: dict[tuple[str, int, int], str] = {}  # (path, mtime_ns, size) -> sha256


def directory() -> Path | None:
    """Where entries live, or ``None`` when the cache is off."""
    if os.environ.get("S2SAD_NO_CACHE", "") not in ("", "0"):
        return None
    where = os.environ.get("S2SAD_CACHE_DIR")
    if where:
        return Path(where)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "s2sad"


@functools.cache
def _compiler_hash() -> str:
    """A hash of s2sad's own source: an entry written by another s2sad (an edited
    checkout, an upgrade that kept the version number) is a miss, never its code."""
    h = hashlib.sha256()
    root = Path(__file__).resolve().parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _file_hash(path: str) -> str | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    memo = (path, st.st_mtime_ns, st.st_size)
    got = _file_hashes.get(memo)
    if got is None:
        try:
            got = _file_hashes[memo] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        except OSError:
            return None
    return got


def _value_key(value: Any) -> str | None:
    """A stable text for a constant s2sad may read (``None``: not a constant)."""
    if isinstance(value, (types.FunctionType, types.ModuleType)) or callable(value):
        return None
    return value_text(value)


def key(f: Any, kind: str, *options: Any) -> str | None:
    """The cache key of derivative ``kind`` of live function ``f`` with ``options``
    (``wrt``, mode, order …; their ``repr``s); ``None``: not cacheable."""
    code = getattr(f, "__code__", None)
    if code is None:
        return None
    module_hash = _file_hash(code.co_filename)
    if module_hash is None:
        return None
    parts = [_FORMAT, __version__, _compiler_hash(), "{}.{}".format(*sys.version_info[:2]),
             kind, repr(options),
             getattr(f, "__module__", "") or "", f.__qualname__, module_hash,
             code_hash(code)]
    for name, value in sorted(getattr(f, "__globals__", {}).items()):
        text = _value_key(value)
        if text is not None:
            parts.append(f"g {name} {text}")
        elif isinstance(value, types.FunctionType) and value.__code__.co_filename != (
                code.co_filename):
            other = _file_hash(value.__code__.co_filename)
            if other is None:
                return None
            parts.append(f"f {name} {value.__module__}.{value.__qualname__} {other}")
    for cell in f.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            return None
        text = _value_key(value)
        if text is None and not (isinstance(value, types.FunctionType)
                                 and value.__code__.co_filename == code.co_filename):
            return None
        parts.append(f"c {text or value.__qualname__}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _split(text: str) -> tuple[str, str, list] | None:
    """(function name, module source, environment reads) of an entry's text, if the entry
    is whole."""
    header, _, rest = text.partition("\n")
    fields = header.split()
    if len(fields) != 4 or fields[:2] != ["#", _FORMAT] or not fields[3].startswith("sha256="):
        return None
    if hashlib.sha256(rest.encode()).hexdigest() != fields[3][len("sha256="):]:
        return None
    reads_line, _, body = rest.partition("\n")
    try:
        reads = json.loads(reads_line[len("# reads: "):])
    except ValueError:
        return None
    return fields[2], body, reads if isinstance(reads, list) else []


def load(entry_key: str) -> tuple[str, str, list] | None:
    """The (function name, module source, environment reads) stored under ``entry_key``,
    or ``None``."""
    where = directory()
    if where is None:
        return None
    try:
        text = (where / f"{entry_key}.py").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return _split(text)


def store(entry_key: str, name: str, source: str, reads: list | None = None) -> None:
    """Write an entry atomically; give up quietly if the file system says no."""
    where = directory()
    if where is None:
        return
    rest = f"# reads: {json.dumps(reads or [])}\n{source}"
    text = f"# {_FORMAT} {name} sha256={hashlib.sha256(rest.encode()).hexdigest()}\n{rest}"
    try:
        where.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=where, prefix=f".{entry_key[:16]}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, where / f"{entry_key}.py")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return


def store_error(entry_key: str, error: DifferentiationError) -> None:
    """Remember that this derivative does not exist (``grad`` of a tuple-valued function),
    so that a cached import does not compile the function to learn it again."""
    fields = {"what": error.what, "why": error.why, "hint": error.hint,
              "loc": dataclasses.asdict(error.loc) if error.loc else None}
    store(entry_key, "!error", json.dumps(fields))


def stored_error(body: str) -> DifferentiationError:
    fields = json.loads(body)
    loc = Loc(**fields["loc"]) if fields["loc"] else None
    return DifferentiationError(fields["what"], loc, why=fields["why"], hint=fields["hint"])


def clear() -> int:
    """Delete every entry; return how many there were."""
    where = directory()
    if where is None or not where.is_dir():
        return 0
    n = 0
    for path in where.glob("*.py"):
        try:
            path.unlink()
            n += 1
        except OSError:
            pass
    return n
