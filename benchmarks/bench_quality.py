"""Generated gradients against careful hand-written ones, per case (issue 19).

    python benchmarks/bench_quality.py                     # this checkout, against hand
    python benchmarks/bench_quality.py --quick             # a smoke run
    python benchmarks/bench_quality.py --generate DIR      # write the generated modules
    python benchmarks/bench_quality.py --against DIR       # also time modules from DIR
    python benchmarks/bench_quality.py --repeat 31         # more interleaved repeats

``--generate`` writes each case's gradient module, as the s2sad that runs it generates
it, into DIR; running it under an older checkout (``PYTHONPATH=old/ python
benchmarks/bench_quality.py --generate old-gen``) and then ``--against old-gen`` here
times the old and the new generated code side by side in one run, with the plain
function and the hand-written gradient, as the minimum of interleaved repeats.

Cases: linear regression (mean squared residual ``r @ r / N``); logistic regression
written with log σ (N = 1000, D = 20) and with
``logaddexp``; softmax cross-entropy in NumPy and as loops (n = 100); the 2-layer tanh
MLP; Rosenbrock in NumPy and as loops (n = 100); 20 steps of RK4; the chain
x ← sin(x)·x + cos(x), k = 20.  Per case it reports time ratios to the hand-written
gradient and static operation counts (arithmetic, calls and subscripts in the function's
text: a loop's body counts once) of the generated and the hand-written gradient, with
the cheap-gradient ratio (gradient operations / primal operations).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import math
import statistics
import sys
import textwrap
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_control  # noqa: E402
import bench_numpy  # noqa: E402
import benchtools  # noqa: E402
import cases  # noqa: E402
import suite  # noqa: E402

import s2sad  # noqa: E402

# -- the cases the other benchmarks do not have (s2sad reads their source from here) ------


def logreg_sigmoid(w, X, y):
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p))


def logreg_sigmoid_hand(w, X, y):
    """Xᵀ(σ(Xw) − y)/N."""
    p = 1.0 / (1.0 + np.exp(-(X @ w)))
    return ((p - y) * (1.0 / y.shape[0])) @ X


def linreg(w, X, y):
    r = X @ w - y
    return r @ r / X.shape[0]


def linreg_hand(w, X, y):
    """2 Xᵀ(Xw − y)/N."""
    return (X @ w - y) @ X * (2.0 / X.shape[0])


def rk4(x, h, n):
    for _ in range(n):
        k1 = -x * (1.0 + x * x) / 4.0
        x2 = x + 0.5 * h * k1
        k2 = -x2 * (1.0 + x2 * x2) / 4.0
        x3 = x + 0.5 * h * k2
        k3 = -x3 * (1.0 + x3 * x3) / 4.0
        x4 = x + h * k3
        k4 = -x4 * (1.0 + x4 * x4) / 4.0
        x = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    return x


def rk4_hand(x, h, n):
    """Keep each step's stages, then the adjoint step by step backwards; f' = −(1 + 3x²)/4."""
    half, sixth = 0.5 * h, h / 6.0
    steps = []
    for _ in range(n):
        k1 = -x * (1.0 + x * x) / 4.0
        x2 = x + half * k1
        k2 = -x2 * (1.0 + x2 * x2) / 4.0
        x3 = x + half * k2
        k3 = -x3 * (1.0 + x3 * x3) / 4.0
        x4 = x + h * k3
        k4 = -x4 * (1.0 + x4 * x4) / 4.0
        steps.append((x, x2, x3, x4, k1, k2, k3, k4))
        x = x + sixth * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
    xb, hb = 1.0, 0.0
    for x, x2, x3, x4, k1, k2, k3, k4 in reversed(steps):
        c = sixth * xb
        hb += xb * (k1 + 2.0 * k2 + 2.0 * k3 + k4) / 6.0
        x4b = c * -(1.0 + 3.0 * x4 * x4) / 4.0
        hb += x4b * k3
        x3b = (2.0 * c + h * x4b) * -(1.0 + 3.0 * x3 * x3) / 4.0
        hb += 0.5 * x3b * k2
        x2b = (2.0 * c + half * x3b) * -(1.0 + 3.0 * x2 * x2) / 4.0
        hb += 0.5 * x2b * k1
        xb = xb + x4b + x3b + x2b + (c + half * x2b) * -(1.0 + 3.0 * x * x) / 4.0
    return xb, hb


# -- the cases --------------------------------------------------------------------------------


def all_cases() -> list[tuple[str, object, object, object, tuple]]:
    """(name, f, hand, wrt, timed point)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((1000, 20))
    y = (rng.uniform(size=1000) < 0.5).astype(float)
    w = 0.3 * rng.standard_normal(20)
    z = list(rng.uniform(-3.0, 3.0, 100))
    x100 = list(rng.uniform(-2.0, 2.0, 100))
    chain = cases.load_chain(20)
    return [
        ("linear regression", linreg, linreg_hand, 0, (w, X, y)),
        ("logistic regression, log σ", logreg_sigmoid, logreg_sigmoid_hand, 0, (w, X, y)),
        ("logistic regression, logaddexp", bench_numpy.logreg_loss, bench_numpy.logreg_hand,
         (0, 1), bench_numpy.logreg_point(1)),
        ("softmax cross-entropy, NumPy", suite.softmax_np, suite.softmax_np_hand, 0,
         (np.array(z), 7)),
        ("softmax cross-entropy, loops", bench_control.softmax_xent,
         bench_control.softmax_xent_hand, 0, (z, 7)),
        ("MLP", bench_numpy.mlp_loss, bench_numpy.mlp_hand, (0, 1, 2, 3),
         bench_numpy.mlp_point(4)),
        ("Rosenbrock, NumPy", suite.rosenbrock_np, suite.rosenbrock_np_hand, 0,
         (np.array(x100),)),
        ("Rosenbrock, loops", bench_control.rosenbrock, bench_control.rosenbrock_hand, 0,
         (x100,)),
        ("RK4, 20 steps", rk4, rk4_hand, (0, 1), (0.7, 0.1, 20)),
        ("chain, k = 20", chain.chain, chain.grad_chain, 0, (0.7,)),
    ]


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name).strip("_")


def generate(out: Path) -> None:
    """Each case's gradient module, as the API runs it at the case's point: a gradient
    of arrays is compiled for their shapes at its first call (README, "Shapes")."""
    out.mkdir(parents=True, exist_ok=True)
    for name, f, _, wrt, point in all_cases():
        g = s2sad.grad(f, wrt=wrt)
        g(*point)
        (out / f"{_slug(name)}.py").write_text(g.source, encoding="utf-8")


def _load(path: Path, fname: str):
    spec = importlib.util.spec_from_file_location(f"q_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, fname)


def op_count(source: str, name: str) -> int:
    """Operations in function ``name`` of ``source``: arithmetic, calls, subscripts, ``.T``."""
    tree = ast.parse(textwrap.dedent(source))
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == name)
    count = 0
    for node in ast.walk(fn):
        if isinstance(node, ast.BinOp | ast.UnaryOp | ast.Call | ast.Subscript | ast.AugAssign):
            count += not (isinstance(node, ast.UnaryOp) and isinstance(node.operand,
                                                                        ast.Constant))
        elif isinstance(node, ast.Attribute) and node.attr == "T":
            count += 1
    return count


def _close(a, b) -> float:
    fa, fb = benchtools._flat(a), benchtools._flat(b)
    return max(abs(u - v) / max(1.0, abs(v)) for u, v in zip(fa, fb, strict=True))


def run(against: Path | None, quick: bool, repeat: int = 11, target: float = 0.04) -> str:
    """The table.  Both generated gradients are loaded from their modules' text, as
    ``s2sad grad`` writes them: without the API's staleness guard (README), whose cost
    per call is not the generated code's."""
    import tempfile

    rows = []
    here = Path(tempfile.mkdtemp(prefix="s2sad-quality-"))
    generate(here)
    for name, f, hand, _wrt, point in all_cases():
        src_new = (here / f"{_slug(name)}.py").read_text(encoding="utf-8")
        new = _load(here / f"{_slug(name)}.py", f"grad_{f.__name__}")
        funcs = {"plain": f, "hand": hand, "new": new}
        if against is not None:
            funcs["old"] = _load(against / f"{_slug(name)}.py", f"grad_{f.__name__}")
        for k in ("new", "old"):
            if k in funcs:
                assert _close(funcs[k](*point), hand(*point)) < 1e-9, (name, k)
        samples = benchtools.sample_interleaved(funcs, point, repeat=3 if quick else repeat,
                                                target=0.005 if quick else target)
        # the fastest of the interleaved repeats: the machine is shared, and load only
        # ever adds time
        t = {k: min(v) for k, v in samples.items()}
        fname = f"grad_{f.__name__}"
        ops = {"plain": op_count(inspect.getsource(f), f.__name__),
               "hand": op_count(inspect.getsource(hand), hand.__name__),
               "new": op_count(src_new, fname)}
        if against is not None:
            ops["old"] = op_count((against / f"{_slug(name)}.py").read_text(), fname)
        rows.append((name, t, ops))
    has_old = against is not None
    head = ["case", "plain µs", "hand µs"]
    head += ["old / hand", "new / hand", "new / old"] if has_old else ["s2sad / hand"]
    head += ["ops: plain", "hand", "old", "new"] if has_old else ["ops: plain", "hand", "s2sad"]
    head += ["gradient ops / primal ops (new)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join([":--"] + ["--:"] * (len(head) - 1))
             + "|"]
    ratios = {"old": [], "new": []}
    for name, t, ops in rows:
        cells = [name, f"{t['plain'] * 1e6:.2f}", f"{t['hand'] * 1e6:.2f}"]
        for k in ("old", "new") if has_old else ("new",):
            ratios[k].append(t[k] / t["hand"])
            cells.append(f"{t[k] / t['hand']:.2f}")
        if has_old:
            cells.append(f"{t['new'] / t['old']:.2f}")
        cells += [str(ops["plain"]), str(ops["hand"])]
        cells += [str(ops["old"])] if has_old else []
        cells += [str(ops["new"]), f"{ops['new'] / ops['plain']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    for k, v in ratios.items():
        if v:
            gm = math.exp(statistics.fmean(math.log(r) for r in v))
            lines.append(f"\n{k} / hand: geometric mean {gm:.2f}, largest {max(v):.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--generate", type=Path)
    parser.add_argument("--against", type=Path)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=11, help="interleaved repeats")
    parser.add_argument("--target", type=float, default=0.04,
                        help="seconds per timed sample (shorter samples, more repeats: "
                             "fewer of them hit by other processes on a loaded machine)")
    args = parser.parse_args(argv)
    if args.generate is not None:
        generate(args.generate)
        return 0
    print(run(args.against, args.quick, args.repeat, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
