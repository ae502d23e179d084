"""Turn generated source text into a real, importable module.

s2sad reads a function's source with ``inspect``, so test functions built as
text (long chains, random programs) must live in a real ``.py`` file.  Each
call writes a new uniquely named file into one temporary directory (removed
at interpreter exit) and imports it.
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import os
import sys
import tempfile
import types
from pathlib import Path

_counter = itertools.count()
_tmp = tempfile.TemporaryDirectory(prefix="s2sad_tests_")
atexit.register(_tmp.cleanup)


def load_source(source: str, stem: str = "gen") -> types.ModuleType:
    """Write ``source`` to a fresh ``.py`` file, import it and return the module."""
    name = f"_s2sad_{stem}_{os.getpid()}_{next(_counter)}"
    path = Path(_tmp.name) / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load_benchmark(name: str) -> types.ModuleType:
    """Import ``benchmarks/<name>.py`` as its script run would: with ``benchmarks/`` on
    ``sys.path`` (the scripts import their siblings ``benchtools`` and ``cases``)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.append(str(BENCHMARKS))
    return importlib.import_module(name)


EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> types.ModuleType:
    """Import ``examples/<name>.py`` from its path, registered in ``sys.modules`` (s2sad
    reads the functions' source through ``inspect``), as ``python examples/<name>.py``
    would run it."""
    modname = f"_s2sad_example_{name}"
    if modname in sys.modules:
        return sys.modules[modname]
    spec = importlib.util.spec_from_file_location(modname, EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module
