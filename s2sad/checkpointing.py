"""What ``checkpoints=`` and ``tape_budget=`` ask for, checked once for the API and the
command line: a number of snapshots K, a byte budget (``checkpoints="auto"``), or None.

Reverse mode reads the result from :data:`s2sad.ad.reverse.CHECKPOINTS`; the generated
code's ``_Checkpoints`` (:mod:`s2sad.runtime`) turns a budget into K when a loop starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# decimal units as disk and memory vendors write them, and the binary ones by their own name
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*")
DEFAULT_BUDGET = "64MB"


@dataclass(frozen=True)
class TapeBudget:
    """``checkpoints="auto"``: each loop keeps as many snapshots as ``nbytes`` holds,
    K = max(1, nbytes // the size of one snapshot), measured when the loop starts."""

    nbytes: int

    def __str__(self) -> str:  # as the command line takes it back: 64MB, 1500kB, 1000001
        for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
            if self.nbytes % scale == 0:
                return f"{self.nbytes // scale}{unit}"
        return str(self.nbytes)


def parse_size(size: Any) -> int:
    """A number of bytes: an int, or text such as ``"64MB"``, ``"1.5GB"``, ``"500kB"``,
    ``"512MiB"``, ``"1000000"`` (units of 1000, or 1024 with an *i*; case ignored).
    Raises ValueError for anything else, or a size under one byte."""
    if isinstance(size, int) and not isinstance(size, bool):
        nbytes = size
    elif isinstance(size, str) and (m := _SIZE.fullmatch(size)) and m[2].lower() in _UNITS:
        nbytes = int(float(m[1]) * _UNITS[m[2].lower()])
    else:
        raise ValueError(f"the tape budget must be a number of bytes or a size such as "
                         f"'64MB', '1GB', '500kB' (units B, kB, MB, GB, TB, KiB, MiB, GiB), "
                         f"not {size!r}")
    if nbytes < 1:
        raise ValueError(f"the tape budget must be at least one byte, not {size!r}")
    return nbytes


def setting(checkpoints: Any, tape_budget: Any = None) -> int | TapeBudget | None:
    """``checkpoints=`` and ``tape_budget=`` checked: None (a tape of every pass), a
    number of snapshots K >= 1, or ``"auto"``: a :class:`TapeBudget` of ``tape_budget``
    (default :data:`DEFAULT_BUDGET`).  Raises ValueError, saying what to write."""
    if checkpoints == "auto":
        return TapeBudget(parse_size(DEFAULT_BUDGET if tape_budget is None else tape_budget))
    if tape_budget is not None:
        raise ValueError(f"tape_budget={tape_budget!r} is read only with checkpoints='auto' "
                         f"(not with checkpoints={checkpoints!r}): pass checkpoints='auto', "
                         "tape_budget=... to size the snapshots by bytes")
    if checkpoints is None:
        return None
    if isinstance(checkpoints, bool) or not isinstance(checkpoints, int) or checkpoints < 1:
        raise ValueError(f"checkpoints must be a number of snapshots >= 1 or 'auto', "
                         f"not {checkpoints!r}")
    return checkpoints
