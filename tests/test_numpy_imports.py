"""NumPy functions are resolved by what they are, not how they were imported.

``from numpy import sum`` (shadowing the builtin), ``from numpy import sum as npsum``,
``from numpy.linalg import solve`` and ``import numpy.linalg as la`` all mean the same as
``np.sum`` / ``np.linalg.solve``: both for a live function (``s2sad.grad``) and for a file
read without running it (the CLI's static reader).  Checked against finite differences.
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from s2sad.codegen import load
from s2sad.frontend import lower, parse_file
from s2sad.pipeline import derive, generate
from tests.fixtures import numpy_imports as M
from tests.test_numpy import fd_grad


def _args(name: str, seed: int) -> tuple:
    rng = np.random.default_rng(seed)
    if name in ("solve_imported", "linalg_alias"):
        A = rng.uniform(-1.0, 1.0, (3, 3)) + 3.0 * np.eye(3)
        return A, rng.uniform(-2.0, 2.0, 3)
    if name == "sum_of_matrix":
        return (rng.uniform(-2.0, 2.0, (3, 2)),)
    return (rng.uniform(-2.0, 2.0, 4),)


NAMES = ["builtin_sum_shadowed", "sum_renamed", "solve_imported", "linalg_alias",
         "numpy_spelled_out", "sum_of_matrix"]


def _static_grad(name: str, mode: str, wrt: int):
    fn = lower(parse_file(M.__file__).functions[name])
    grad = derive(fn, "grad", wrt, mode)
    return load(generate([grad]), grad.name)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", NAMES)
def test_imported_numpy_functions_differentiate_like_np_spelled_ones(name, seed):
    f = getattr(M, name)
    args = _args(name, seed)
    for wrt in range(len(args)):
        want = fd_grad(f, args, wrt)
        live = s2sad.grad(f, wrt=wrt)(*args)
        static = _static_grad(name, "reverse", wrt)(*args)
        np.testing.assert_allclose(live, want, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(static, want, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", NAMES)
def test_imported_numpy_functions_in_forward_mode(name):
    f = getattr(M, name)
    args = _args(name, 3)
    direction = np.random.default_rng(4).uniform(-1.0, 1.0, np.shape(args[0]))
    _, tangent = s2sad.jvp(f)(*args, direction)
    want = np.sum(fd_grad(f, args, 0) * direction)
    np.testing.assert_allclose(tangent, want, rtol=1e-6, atol=1e-8)
