"""Test setup: the CLI under test is this checkout's ``cli/``.

``s2sad_cli`` is the installed name of ``cli/`` (pyproject's package-dir).  An
editable install made from another checkout (git worktrees share one
environment) would map it there while ``s2sad`` comes from this checkout; load
this checkout's ``cli/`` as ``s2sad_cli`` instead, so the two always match.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _use_local_cli() -> None:
    found = importlib.util.find_spec("s2sad_cli")
    local = ROOT / "cli"
    if found is not None and found.origin and Path(found.origin).parent == local:
        return
    spec = importlib.util.spec_from_file_location(
        "s2sad_cli", local / "__init__.py", submodule_search_locations=[str(local)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["s2sad_cli"] = module
    spec.loader.exec_module(module)


_use_local_cli()

# The disk cache of generated code is off, so that every test compiles what it checks
# (tests/test_cache.py turns it on, in a temporary directory).
os.environ["S2SAD_NO_CACHE"] = "1"
