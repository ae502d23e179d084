"""A long fuzz campaign: the property tests' random programs, many more of them.

    python benchmarks/fuzz_campaign.py                    # 10,000 programs (about 30 min)
    python benchmarks/fuzz_campaign.py --programs 300     # a short run

The strategies and checks are those of ``tests/test_properties.py`` (straight-line
code over ``math`` and NumPy scalars: forward = reverse = Richardson finite
differences, = SymPy's exact gradient, and the jvp/vjp inner-product identity),
``tests/test_properties_ints.py`` (int arithmetic in ``range`` bounds and indices),
``tests/test_properties_control.py`` (branches, loops, ``while``, lists: the same
oracles away from branch switches, on the derivative IR and on the generated Python)
and ``tests/test_properties_numpy.py`` (straight-line NumPy code with broadcasting:
reverse = finite differences, jvp, inner product). The suite runs a few dozen of
each, deterministically; this runs them with fresh randomness (``--seed`` to repeat a
run) and counts the programs that passed every check. A failure stops the run and
prints the program: it becomes a regression test. ``--only TEXT`` runs the families
whose name contains TEXT.
The report goes to ``benchmarks/results/fuzz.md``.
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchtools import RESULTS, ROOT

sys.path.insert(0, str(ROOT))
os.environ.setdefault("S2SAD_NO_CACHE", "1")

from hypothesis import HealthCheck, Phase, given, seed, settings  # noqa: E402

from tests import test_properties as straight  # noqa: E402
from tests import test_properties_control as control  # noqa: E402
from tests import test_properties_ints as ints  # noqa: E402
from tests import test_properties_numpy as arrays  # noqa: E402


def _control_check(program, pts, where: str) -> None:
    control._check_program(program, pts, where)


# family -> (share of the programs, strategies, check)
FAMILIES: dict[str, tuple[float, dict, Callable[..., None]]] = {
    "straight-line: forward = reverse = finite differences": (
        0.25, {"program": straight.programs(), "point": straight.points},
        straight.test_forward_equals_reverse_equals_finite_differences.hypothesis.inner_test),
    "straight-line: = SymPy": (
        0.1, {"program": straight.programs(), "point": straight.points},
        straight.test_gradient_equals_sympy.hypothesis.inner_test),
    "straight-line: jvp/vjp inner product": (
        0.1, {"program": straight.programs(), "point": straight.points,
              "xdot": straight.st.tuples(straight.st.floats(-1, 1), straight.st.floats(-1, 1)),
              "ybar": straight.st.floats(-2, 2)},
        straight.test_jvp_vjp_inner_product.hypothesis.inner_test),
    "int arithmetic in range bounds and indices: both modes, jvp/vjp": (
        0.1, {"program": ints.programs(), "pts": ints._points}, ints._check),
    "NumPy arrays, broadcasting: reverse = finite differences, jvp, inner product": (
        0.1, {"program": arrays.programs(), "seed": arrays.seeds}, arrays.check_program),
    **{f"control flow, {'lists' if with_list else 'numbers'}: {what}": (
        share, {"program": control.programs(with_list=with_list), "pts": control._points},
        functools.partial(_control_check, where=where))
       for where, what, share in (("ir", "derivative IR", 0.1), ("code", "generated code", 0.125))
       for with_list in (False, True)},
}


def run_family(check: Callable[..., None], strategies: dict, n: int, rng_seed: int) -> int:
    """Run ``n`` programs through ``check``; the number that passed (reject()s excluded)."""
    passed = 0

    def counted(**kwargs):
        nonlocal passed
        check(**kwargs)
        passed += 1

    test = settings(max_examples=n, deadline=None, database=None, derandomize=False,
                    phases=[Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck))(given(**strategies)(counted))
    seed(rng_seed)(test)()
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--only", default="", help="run the families whose name contains this")
    args = parser.parse_args()
    rows = []
    start = time.perf_counter()
    families = {k: v for k, v in FAMILIES.items() if args.only in k}
    total_share = sum(share for share, _, _ in families.values())
    for k, (name, (share, strategies, check)) in enumerate(families.items()):
        n = max(1, round(args.programs * share / total_share))
        t = time.perf_counter()
        print(f"{name}: {n} programs …", file=sys.stderr, flush=True)
        passed = run_family(check, strategies, n, args.seed + k)
        rows.append((name, n, passed, time.perf_counter() - t))
        print(f"  {passed} passed in {rows[-1][3]:.0f} s", file=sys.stderr, flush=True)
    total = sum(r[2] for r in rows)
    lines = ["# s2sad fuzz campaign", "",
             f"Python {platform.python_version()}, seed {args.seed}, "
             f"{time.strftime('%Y-%m-%d')}: {total} programs passed every check, no failure, "
             f"in {time.perf_counter() - start:.0f} s.", "",
             "| family | programs asked | passed every check | seconds |",
             "|---|---:|---:|---:|"]
    lines += [f"| {name} | {n} | {passed} | {secs:.0f} |" for name, n, passed, secs in rows]
    RESULTS.mkdir(exist_ok=True)
    out = Path(RESULTS) / "fuzz.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
