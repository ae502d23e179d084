"""``print(...)`` in a differentiated function: output of the primal, printed once per
call of the derivative where it stands (never again by a reverse sweep), with the
derivative checked against finite differences."""

from __future__ import annotations

import math

import pytest

import s2sad
from tests.oracles import assert_close, derivative


def traced(x, n):
    s = 0.0
    print("start", x)
    for i in range(n):
        s = s + math.sin(x * i) * s + x
        if i % 2 == 0:
            print("step", i, s, sep=":", end=";")
    print()
    return s


@pytest.mark.parametrize("x", [-0.7, 0.5, 1.3])
@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_the_derivative_prints_what_the_function_prints(capsys, x, mode):
    traced(x, 5)
    want = capsys.readouterr().out
    got = s2sad.grad(traced, mode=mode)(x, 5)
    assert capsys.readouterr().out == want  # once, in order, with sep and end
    assert_close(got, derivative(lambda t: _quiet(traced, t, 5), x), rtol=1e-7)
    value, tangent = s2sad.jvp(traced)(x, 5, 1.0)
    assert capsys.readouterr().out == want
    assert_close(tangent, got, rtol=1e-12)


def _quiet(f, *args):
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        return f(*args)


def test_print_to_a_file_is_refused():
    def f(x):
        print(x, file=None)
        return x * x

    with pytest.raises(s2sad.S2SADError, match="sep=.*end="):
        s2sad.grad(f)


def test_a_print_beside_an_inner_loop_keeps_its_reverse_sweep():
    # the recomputed pass drops the print; the inner loop must stay the op the reverse
    # sweep taped (it was copied, and its reverse silently dropped: a zero gradient)
    def f(x):
        s = 0.0
        for i in range(2):
            print("pass", i)
            for j in range(3):
                s = s + x * x * j
        return s

    for x in (1.5, -0.7):
        got = _quiet(s2sad.grad(f, mode="reverse"), x)
        assert got == pytest.approx(derivative(lambda t: _quiet(f, t), x), rel=1e-8)
