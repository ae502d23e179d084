"""What s2sad differentiates in a corpus of real public code (issue 14).

Usage::

    python benchmarks/bench_corpus.py            # every case of benchmarks/corpus/cases.py
    python benchmarks/bench_corpus.py --quick    # the few cases marked quick (smoke run)

For each case (a function of a corpus file ``benchmarks/corpus/<project>_<file>.py``:
public code as its authors wrote it), ``s2sad.grad(f, wrt=...)`` is compiled and
compared, at three random points, with central finite differences refined by
Richardson extrapolation (Ridders' method, copied from tests/oracles.py).  Each case
is classified as

* ``ok``: the gradient agrees at every point (relative error < 1e-6, relative to
  ``max(1, ‖fd‖∞)``);
* ``refused``: s2sad raised an ``S2SADError`` (its first line is recorded, and the
  refusals are grouped by a short reason key: the error's *what* with names blanked);
* ``WRONG``: s2sad returned a gradient that disagrees with finite differences, or
  whose structure differs from the arguments' (a silent wrong derivative: a bug);
* ``crash``: any other exception inside s2sad or inside the generated code, or a
  compile that takes longer than the time limit (``timeout``);
* ``unavailable``: the corpus file is missing or cannot be imported (a package it
  needs is not installed); ``bad-case``: the primal function itself fails on the
  case's arguments, or finite differences are unreliable at every point tried (a
  defect of the case, not of s2sad).

The corpus files are looked up in ``benchmarks/corpus/`` (or ``$S2SAD_CORPUS``).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.util
import io
import keyword
import math
import os
import re
import signal
import sys
import threading
import time
import warnings
import zlib
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import benchtools
import numpy as np

import s2sad
from s2sad.errors import S2SADError

CORPUS = Path(os.environ.get("S2SAD_CORPUS", benchtools.HERE / "corpus"))
RTOL = 1e-6
POINTS = 3
TIME_LIMIT = 60  # seconds per case (compile and calls)

OUTCOMES = ("ok", "refused", "WRONG", "crash", "unavailable", "bad-case")


def corpus_present() -> bool:
    """Are the corpus files there?  They are not committed (benchmarks/corpus/README.md)."""
    return any(p.name != "cases.py" and not p.name.startswith("_")  # _build.py: tools
               for p in CORPUS.glob("*_*.py"))


def _cases_module() -> Any:
    """``benchmarks/corpus/cases.py`` (the corpus folder also goes on ``sys.path``, last:
    its files import each other by their plain names, and its ``cases.py`` must not
    shadow ``benchmarks/cases.py``)."""
    if str(CORPUS) not in sys.path:
        sys.path.append(str(CORPUS))
    here = benchtools.HERE / "corpus"
    spec = importlib.util.spec_from_file_location("_s2sad_corpus_cases", here / "cases.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


# -- finite differences (copied from tests/oracles.py: benchmarks do not import tests/) -----

_CON = 1.4
_CON2 = _CON * _CON
_NTAB = 12
_SAFE = 2.0


def _derivative_with_error(g: Any, x: float, h: float) -> tuple[float, float]:
    """``g'(x)`` and an estimate of its error, by Ridders' extrapolation."""
    def central(step: float) -> float:
        return (g(x + step) - g(x - step)) / (2.0 * step)

    table = [[0.0] * _NTAB for _ in range(_NTAB)]
    table[0][0] = central(h)
    best, err = table[0][0], math.inf
    for i in range(1, _NTAB):
        h /= _CON
        table[0][i] = central(h)
        fac = _CON2
        for j in range(1, i + 1):
            table[j][i] = (table[j - 1][i] * fac - table[j - 1][i - 1]) / (fac - 1.0)
            fac *= _CON2
            errt = max(abs(table[j][i] - table[j - 1][i]),
                       abs(table[j][i] - table[j - 1][i - 1]))
            if errt <= err:
                err, best = errt, table[j][i]
        if abs(table[i][i] - table[i - 1][i - 1]) >= _SAFE * err:
            break
    return best, err


def _derivative(g: Any, x: float) -> tuple[float, float]:
    """The best of three extrapolations from shrinking first steps: (value, error)."""
    h = 0.1 * max(1.0, abs(x))
    best, err = _derivative_with_error(g, x, h)
    for shrink in (3.7, 13.0):
        if err <= 1e-9 * max(1.0, abs(best)):
            break
        b, e = _derivative_with_error(g, x, h / shrink)
        if e < err:
            best, err = b, e
    return best, err


# -- argument structures: floats and float arrays are leaves; ints and bools are held -------

def _leaves(v: Any) -> list[tuple[Any, ...]]:
    """Paths to the differentiable scalars of ``v`` (a float, a float array, or a list,
    tuple or dict of them), in a fixed order."""
    if isinstance(v, (bool, int, np.integer)) or v is None:
        return []
    if isinstance(v, (float, np.floating)):
        return [()]
    if isinstance(v, np.ndarray):
        if not np.issubdtype(v.dtype, np.floating):
            return []
        return [(i,) for i in np.ndindex(v.shape)]
    if isinstance(v, (list, tuple)):
        return [(k, *p) for k, item in enumerate(v) for p in _leaves(item)]
    if isinstance(v, dict):
        return [(k, *p) for k in v for p in _leaves(v[k])]
    raise TypeError(f"argument of unsupported type {type(v).__name__}")


def _read(v: Any, path: tuple) -> float:
    node = v
    for k in path:
        if isinstance(k, tuple):  # an index into an array (or an array-like gradient)
            return float(np.asarray(node, dtype=float)[k])
        node = node[k]
    return float(node)


def _write(v: Any, path: tuple, x: float) -> Any:
    """``v`` with the scalar at ``path`` replaced by ``x`` (a copy along the path)."""
    if not path:
        return x
    k, rest = path[0], path[1:]
    if isinstance(v, np.ndarray):
        out = v.copy()
        out[k] = x
        return out
    if isinstance(v, tuple):
        return tuple(_write(item, rest, x) if i == k else item for i, item in enumerate(v))
    if isinstance(v, list):
        return [_write(item, rest, x) if i == k else item for i, item in enumerate(v)]
    return {key: (_write(item, rest, x) if key == k else item) for key, item in v.items()}


def _same_structure(got: Any, like: Any) -> bool:
    """Is s2sad's gradient ``got`` shaped like the argument ``like``?"""
    if isinstance(like, (float, np.floating)):
        return np.ndim(got) == 0 and not isinstance(got, (list, tuple, dict))
    if isinstance(like, np.ndarray):
        return np.shape(got) == like.shape
    if isinstance(like, (list, tuple)):
        if isinstance(got, np.ndarray) and all(isinstance(v, float) for v in like):
            # a function that uses its argument as an array (np.asarray(x), x.copy()):
            # its gradient is an array of the list's shape (README, "Arrays")
            return got.shape == (len(like),)
        return (isinstance(got, (list, tuple)) and len(got) == len(like)
                and all(_same_structure(a, b) for a, b in zip(got, like, strict=True)))
    if isinstance(like, dict):
        return (isinstance(got, dict) and set(got) == set(like)
                and all(_same_structure(got[k], like[k]) for k in like))
    return False


def _scalar(y: Any) -> float:
    a = np.asarray(y, dtype=float)
    if a.size != 1:
        raise TypeError(f"the function returns shape {a.shape}, not a scalar")
    return float(a.reshape(()))


@contextlib.contextmanager
def _quiet():
    """The corpus prints (the primal's own side effects) and warns: keep the report clean."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int):
    if not hasattr(signal, "SIGALRM") or threading.current_thread() is not threading.main_thread():
        yield  # no alarm signal here: no limit
        return

    def alarm(signum: int, frame: Any) -> None:
        raise _Timeout(f"more than {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# -- one case ------------------------------------------------------------------------------

def _reason(exc: BaseException) -> tuple[str, list[str]]:
    """A short key grouping refusals: the error's *what* with the names it quotes blanked
    (keywords and constructs such as `raise` and `*args` stay), and the names blanked."""
    what = getattr(exc, "what", None) or str(exc).splitlines()[0]
    names: list[str] = []

    def blank(m: re.Match) -> str:
        q, name = m.group(1), m.group(2)
        if keyword.iskeyword(name):
            return m.group(0)
        names.append(name)
        return f"{q}…{q}"

    what = re.sub(r"([`'])([A-Za-z_][\w.]*)\1", blank, what)
    what = re.sub(r"\b\d+\b", "N", what)
    return what.strip(), names


def _runtime_refusal(exc: BaseException) -> bool:
    """Was ``exc`` raised on purpose by a check of the generated code (s2sad's runtime
    helpers ``_scalar_seed``/``_scalar_input``: "grad needs a scalar output")?"""
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code
        tb = tb.tb_next
    return (isinstance(exc, ValueError) and last is not None
            and last.co_name.startswith("_scalar_"))


def _first_line(exc: BaseException) -> str:
    """``Type: first line``, with paths relative to the corpus (the report is portable)."""
    text = str(exc).strip().splitlines()
    line = text[0] if text else ""
    line = line.replace(str(CORPUS) + os.sep, "").replace(str(benchtools.ROOT) + os.sep, "")
    line = re.sub(r"\S*site-packages" + re.escape(os.sep), "site-packages/", line)
    return f"{type(exc).__name__}: {line}"


def _wrt_tuple(wrt: Any) -> tuple[int, ...]:
    return tuple(wrt) if isinstance(wrt, (tuple, list)) else (wrt,)


def _fd_gradient(fn: Any, args: tuple, wrt: tuple[int, ...]) -> tuple[list[float], float]:
    """Finite-difference gradient of ``fn`` at ``args`` w.r.t. the arguments ``wrt``,
    flattened in :func:`_leaves` order, and the largest error estimate."""
    out, worst = [], 0.0
    for i in wrt:
        for path in _leaves(args[i]):
            x0 = _read(args[i], path)

            def g(t: float, i: int = i, path: tuple = path) -> float:
                moved = list(copy.deepcopy(args))
                moved[i] = _write(moved[i], path, t)
                return _scalar(fn(*moved))

            d, e = _derivative(g, x0)
            out.append(d)
            worst = max(worst, e / max(1.0, abs(d)))
    return out, worst


def _flat_grad(got: Any, args: tuple, wrt: tuple[int, ...], many: bool) -> list[float] | None:
    """s2sad's gradient flattened like :func:`_fd_gradient`, or None if its structure
    differs from the arguments'."""
    parts = got if many else (got,)
    if not isinstance(parts, (tuple, list)) or len(parts) != len(wrt):
        return None
    flat = []
    for part, i in zip(parts, wrt, strict=True):
        if not _same_structure(part, args[i]):
            return None
        flat += [_read(part, p) for p in _leaves(args[i])]
    return flat


def run_case(case: Any, points: int = POINTS) -> dict[str, Any]:
    """The outcome of one case: ``{"name", "outcome", "detail", "reason", "err"}``."""
    row: dict[str, Any] = {"name": case.name, "outcome": "", "detail": "", "reason": "",
                           "err": None, "seconds": 0.0}
    start = time.perf_counter()
    try:
        with _time_limit(TIME_LIMIT):
            _run_case(case, points, row)
    except _Timeout as exc:
        row.update(outcome="crash", detail=f"timeout: {exc}")
        row.setdefault("forward", {"outcome": "", "detail": ""})
    row["seconds"] = time.perf_counter() - start
    return row


def _refused(row: dict[str, Any], exc: BaseException, prefix: str = "") -> None:
    reason, names = _reason(exc)
    row.update(outcome="refused", detail=prefix + _first_line(exc), reason=reason, names=names)


def _compile(fn: Any, wrt: Any, mode: str, row: dict[str, Any]) -> Any:
    """``s2sad.grad(fn, wrt, mode=mode)``, or None with ``row`` classified."""
    try:
        with _quiet():
            return s2sad.grad(fn, wrt=wrt, mode=mode)
    except S2SADError as exc:
        _refused(row, exc)
    except Exception as exc:
        row.update(outcome="crash", detail="compile: " + _first_line(exc))
    return None


def _points(case: Any, mod: Any, fn: Any, points: int) -> list[tuple[tuple, list[float]]] | str:
    """Up to ``points`` (arguments, finite-difference gradient) pairs at which the
    extrapolation is reliable, or a message saying why the case is bad."""
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    wrt = _wrt_tuple(case.wrt)
    out: list[tuple[tuple, list[float]]] = []
    for _ in range(3 * points):
        if len(out) == points:
            break
        args = case.args(mod, fn, rng)
        try:
            with _quiet():
                fd, fd_err = _fd_gradient(fn, args, wrt)
        except Exception as exc:
            return "primal: " + _first_line(exc)
        if all(math.isfinite(v) for v in fd) and fd_err <= 1e-8:
            out.append((args, fd))  # else finite differences cannot be trusted here
    return out or "finite differences unreliable at every point"


def _check(case: Any, g: Any, pts: list[tuple[tuple, list[float]]], row: dict[str, Any]) -> None:
    """Classify compiled gradient ``g`` against the finite differences at ``pts``."""
    wrt = _wrt_tuple(case.wrt)
    worst = 0.0
    for args, fd in pts:
        try:
            with _quiet():
                got = g(*copy.deepcopy(args))
        except S2SADError as exc:
            _refused(row, exc, "at call time: ")
            return
        except Exception as exc:
            if _runtime_refusal(exc):
                _refused(row, exc, "at call time: ")
            else:
                row.update(outcome="crash", detail="call: " + _first_line(exc))
            return
        flat = _flat_grad(got, args, wrt, isinstance(case.wrt, (tuple, list)))
        if flat is None:
            row.update(outcome="WRONG", detail=f"structure: got {got!r:.200}")
            return
        scale = max([1.0, *(abs(v) for v in fd)])
        err = max([0.0, *(abs(a - b) for a, b in zip(flat, fd, strict=True))]) / scale
        if not err < RTOL:  # NaN counts as wrong
            row.update(outcome="WRONG", err=err,
                       detail=f"rel err {err:.2e} at {_short(args)}: got {_short(flat)}, "
                              f"finite differences {_short(fd)}")
            return
        worst = max(worst, err)
    row.update(outcome="ok", err=worst, detail=f"{len(pts)} points, max rel err {worst:.1e}")


def _run_case(case: Any, points: int, row: dict[str, Any]) -> None:
    """Classify reverse mode into ``row`` and forward mode into ``row["forward"]``."""
    fwd: dict[str, Any] = {"outcome": "", "detail": "", "reason": "", "err": None}
    row["forward"] = fwd
    try:
        with _quiet():
            mod = importlib.import_module(case.file)
            fn = case.get(mod)
    except Exception as exc:  # a missing corpus file or package
        row.update(outcome="unavailable", detail=_first_line(exc))
        fwd.update(outcome="unavailable")
        return
    compiled = [(r, _compile(fn, case.wrt, mode, r))
                for r, mode in ((row, "reverse"), (fwd, "forward"))]
    if all(g is None for _, g in compiled):
        return
    pts = _points(case, mod, fn, points)
    for r, g in compiled:
        if g is None:
            continue
        if isinstance(pts, str):
            r.update(outcome="bad-case", detail=pts)
        else:
            _check(case, g, pts, r)


def _short(v: Any) -> str:
    text = np.array2string(np.asarray(v, dtype=object), precision=6, threshold=8) \
        if isinstance(v, list) else repr(v)
    return text if len(text) < 160 else text[:157] + "..."


# -- the report ----------------------------------------------------------------------------

def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def report(rows: list[dict[str, Any]], quick: bool) -> str:
    """The Markdown report: totals, the bugs, the refusals ranked, per file, per function."""
    fwd_rows = [r.get("forward") or {"outcome": ""} for r in rows]
    counts = Counter(r["outcome"] for r in rows)
    fwd_counts = Counter(r["outcome"] for r in fwd_rows)
    measured = [r for r in rows if r["outcome"] in ("ok", "refused", "WRONG", "crash")]
    lines = [
        "# What s2sad differentiates in a corpus of real public code" + (" (quick)" if quick
                                                                        else ""),
        "",
        f"s2sad {s2sad.__version__}, NumPy {np.__version__}; {len(rows)} cases from "
        f"`benchmarks/corpus/` (public code as its authors wrote it); `s2sad.grad` against "
        f"Richardson-extrapolated central differences at {2 if quick else POINTS} random "
        f"points, ok when the relative error is < {RTOL:g} (relative to max(1, ‖fd‖∞)).",
        "",
        "| mode | " + " | ".join(OUTCOMES) + " | total |",
        "|---|" + "---:|" * (len(OUTCOMES) + 1),
        "| reverse | " + " | ".join(str(counts.get(k, 0)) for k in OUTCOMES)
        + f" | {len(rows)} |",
        "| forward | " + " | ".join(str(fwd_counts.get(k, 0)) for k in OUTCOMES)
        + f" | {len(rows)} |",
        "",
        f"**{counts.get('ok', 0)} of {len(measured)} measured functions are differentiated "
        "correctly** (reverse mode; the refusal ranking below is reverse mode's).",
        "",
    ]
    if not corpus_present():
        lines += [f"**The corpus files are missing from `{CORPUS}`**: every case is "
                  "unavailable (see benchmarks/corpus/README.md).", ""]
    bad = [(r["name"], mode, x) for r, f in zip(rows, fwd_rows, strict=True)
           for mode, x in (("reverse", r), ("forward", f)) if x["outcome"] in ("WRONG", "crash")]
    if bad:
        lines += ["## WRONG and crash (bugs)", ""]
        lines += [f"- **{x['outcome']}** ({mode}) `{name}`: {x['detail']}" for name, mode, x in bad]
        lines.append("")
    by_reason: dict[str, list[str]] = defaultdict(list)
    blanked: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        if r["outcome"] == "refused":
            by_reason[r["reason"]].append(r["name"])
            blanked[r["reason"]].update(r.get("names", []))
    if by_reason:
        lines += ["## Refusal reasons, by how many functions they block", "",
                  "(The first refusal of each function: a function may hold more.)", "",
                  "| functions | reason | names (`…`) | e.g. |", "|---:|---|---|---|"]
        for reason, names in sorted(by_reason.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            eg = ", ".join(f"`{n}`" for n in names[:3]) + (" …" if len(names) > 3 else "")
            which = ", ".join(f"`{k}`" + (f" ×{v}" if v > 1 else "")
                              for k, v in blanked[reason].most_common(6))
            lines.append(f"| {len(names)} | {_cell(reason)} | {_cell(which)} | {eg} |")
        lines.append("")
    by_file: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        by_file[r["name"].split(":")[0]][r["outcome"]] += 1
    lines += ["## Per corpus file (reverse mode)", "",
              "| file | " + " | ".join(OUTCOMES) + " |", "|---|" + "---:|" * len(OUTCOMES)]
    for name, c in by_file.items():
        lines.append(f"| `{name}` | " + " | ".join(str(c.get(k, 0)) for k in OUTCOMES) + " |")
    lines += ["", "## Per function", "",
              "| function | reverse | forward | detail (reverse; forward when it differs) | s |",
              "|---|---|---|---|---:|"]
    for r, f in zip(rows, fwd_rows, strict=True):
        detail = r["detail"]
        if f["outcome"] != r["outcome"] and f.get("detail"):
            detail += f"; forward: {f['detail']}"
        lines.append(f"| `{r['name']}` | {r['outcome']} | {f['outcome']} | {_cell(detail)} | "
                     f"{r['seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def run(quick: bool = False, log=print, names: list[str] | None = None) -> dict[str, Any]:
    """Classify every case (the ``quick`` ones, or those ``names``); the report and rows."""
    cases = _cases_module().CASES
    if names is not None:
        cases = [c for c in cases if c.name in names]
    elif quick:
        cases = [c for c in cases if c.quick]
    rows = []
    for case in cases:
        row = run_case(case, points=2 if quick else POINTS)
        log(f"{row['outcome']:>11} {row['forward']['outcome']:>11}  {case.name}  "
            f"{row['detail'][:100]}")
        rows.append(row)
    return {"markdown": report(rows, quick), "rows": rows}


if __name__ == "__main__":
    raise SystemExit(benchtools.main(run, "corpus", __doc__))
