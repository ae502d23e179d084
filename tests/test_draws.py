"""Random draws inside a differentiated function (``rng.standard_normal(n)``,
``np.random.randn``): each runs once per call of the derivative, in the primal sweep,
and the reverse sweep reuses its value.  Reparameterised objectives are checked against
finite differences taken with the same random numbers (the generator re-seeded for each
evaluation)."""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from tests.oracles import derivative

RNG = np.random.default_rng(0)


def elbo(mu, log_sigma):
    eps = RNG.standard_normal(4)
    z = mu + np.exp(log_sigma) * eps
    return np.sum(np.tanh(z) ** 2) - np.sum(log_sigma)


def seeded(f, seed):
    def run(*args):
        global RNG
        RNG = np.random.default_rng(seed)
        return f(*args)
    return run


@pytest.mark.parametrize("seed", [1, 7])
def test_a_reparameterised_objective_against_the_same_draws(seed):
    global RNG
    mu, ls = np.array([0.1, -0.2, 0.3, 0.0]), np.array([0.2, -0.5, 0.0, 0.1])
    g = s2sad.grad(elbo, wrt=(0, 1))
    RNG = np.random.default_rng(seed)
    got_mu, got_ls = g(mu, ls)
    f = seeded(elbo, seed)
    for k in range(4):
        e = np.eye(4)[k]
        assert got_mu[k] == pytest.approx(derivative(lambda t, e=e: f(mu + t * e, ls), 0.0),
                                          rel=1e-7)
        assert got_ls[k] == pytest.approx(derivative(lambda t, e=e: f(mu, ls + t * e), 0.0),
                                          rel=1e-7)
    # one draw of 4 numbers per call: the generator is where a fresh one is after 4
    reference = np.random.default_rng(seed)
    reference.standard_normal(4)
    assert RNG.standard_normal() == reference.standard_normal()
    assert "eps = RNG.standard_normal(4)" in g.source


def test_the_module_functions_and_what_is_refused():
    def noisy(x):
        return np.sum(x * np.random.randn(3))

    np.random.seed(3)
    got = s2sad.grad(noisy)(np.ones(3))
    np.random.seed(3)
    np.testing.assert_allclose(got, np.random.randn(3))

    def not_reparameterised(mu):
        return np.sum(RNG.normal(mu, 1.0, size=3))

    with pytest.raises(s2sad.S2SADError, match="reparameterise"):
        s2sad.grad(not_reparameterised)(0.5)

    with pytest.raises(s2sad.S2SADError, match="draws random numbers"):
        s2sad.hessian(elbo)


# -- draws in loops and branches: taped by the primal sweep, never drawn again ------------------
class Counting(np.random.Generator):
    """A seeded generator that counts its draws (calls and numbers drawn)."""

    def __init__(self, seed):
        super().__init__(np.random.PCG64(seed))
        self.calls = self.numbers = 0

    def _count(self, got):
        self.calls += 1
        self.numbers += np.size(got)
        return got

    def standard_normal(self, *args, **kwargs):
        return self._count(super().standard_normal(*args, **kwargs))

    def uniform(self, *args, **kwargs):
        return self._count(super().uniform(*args, **kwargs))


def noisy_steps(x, rng, T):
    s = 0.0
    for _ in range(T):
        eps = rng.standard_normal(3)
        s = s + np.sum(np.tanh(x * eps + s) ** 2)
    return s


def noisy_while(x, rng, tol):
    s, k = 0.0, 0
    while s < tol:
        u = rng.uniform(0.5, 1.5, size=3)
        s = s + np.sum((x * u) ** 2)
        k += 1
    return s * k


def noisy_branch(x, rng, flag):
    if flag > 0:
        eps = rng.standard_normal(3)
        y = np.sum(np.sin(x * eps))
    else:
        y = np.sum(x ** 3)
    return y


def noisy_nested_branch(x, rng, flag):
    if flag > 0:
        if flag > 1:
            eps = rng.standard_normal(3)
            y = np.sum(np.sin(x * eps))
        else:
            y = np.sum(x * rng.standard_normal(3))
    else:
        y = np.sum(x ** 3)
    return y


def noisy_branch_in_loop(x, rng, T):
    s = 0.0
    for t in range(T):
        if t % 2 == 0:
            a = rng.standard_normal(3)
            b = rng.standard_normal(3)  # the same call again: a draw of its own, never shared
            s = s + np.sum(np.cos(x * a) * b)
        else:
            s = s + np.sum(x * s)
    return s


def _gradient_vs_same_draws(f, x, extra, seed, mode):
    """The gradient with a Counting generator of ``seed`` against finite differences of
    ``f`` re-seeded for each evaluation; and as many draws per gradient call as per call
    of ``f``."""
    primal = Counting(seed)
    f(x, primal, *extra)
    next_draw = primal.standard_normal()  # what the generator gives after the primal
    primal.calls, primal.numbers = primal.calls - 1, primal.numbers - 1
    for k in range(len(x)):
        e = np.eye(len(x))[k]
        rng = Counting(seed)
        if mode == "reverse":
            got = s2sad.grad(f, mode=mode)(x, rng, *extra)[k]
        else:  # one tangent sweep per direction
            got = s2sad.jvp(f)(x, rng, *extra, e)[1]
        assert (rng.calls, rng.numbers) == (primal.calls, primal.numbers)
        # the generators are where they are after the same draws
        assert rng.standard_normal() == next_draw
        want = derivative(lambda t, e=e: f(x + t * e, Counting(seed), *extra), 0.0)
        assert got == pytest.approx(want, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("mode", ["reverse", "forward"])
@pytest.mark.parametrize("seed", [0, 5])
@pytest.mark.parametrize("f, x, extra", [
    (noisy_steps, np.array([0.3, -0.7, 1.1]), (4,)),
    (noisy_steps, np.array([-1.2, 0.4, -0.1]), (1,)),
    (noisy_while, np.array([0.3, -0.7, 1.1]), (6.0,)),
    (noisy_while, np.array([-0.9, 0.2, -0.4]), (2.0,)),
    (noisy_branch, np.array([0.3, -0.7, 1.1]), (1,)),
    (noisy_branch, np.array([-0.3, 0.8, -1.5]), (-1,)),
    (noisy_nested_branch, np.array([0.3, -0.7, 1.1]), (2,)),
    (noisy_nested_branch, np.array([-0.3, 0.8, -1.5]), (1,)),
    (noisy_branch_in_loop, np.array([0.3, -0.7, 1.1]), (5,)),
    (noisy_branch_in_loop, np.array([-0.6, 0.1, -0.2]), (2,)),
], ids=["for", "for-once", "while", "while-short", "if", "else", "if-if", "if-else",
     "if-in-for", "if-in-for-2"])
def test_draws_in_loops_and_branches_against_the_same_draws(f, x, extra, seed, mode):
    _gradient_vs_same_draws(f, x, extra, seed, mode)


def test_a_draw_in_a_loop_is_taped_and_not_drawn_again():
    g = s2sad.grad(noisy_steps, mode="reverse")
    src = g.source
    # drawn once, in the primal loop; the reverse loop reads the tape
    assert src.count("rng.standard_normal(3)") == 1
    primal, reverse = src.split("reversed(range(")
    assert "standard_normal" in primal and "standard_normal" not in reverse
    assert "tape.append(" in primal and "tape[" in reverse
    # the value_and_grad and vjp faces draw once a call as well
    rng, primal_rng = Counting(3), Counting(3)
    x = np.array([0.2, -0.1, 0.5])
    value, _ = s2sad.value_and_grad(noisy_steps)(x, rng, 5)
    assert value == noisy_steps(x, primal_rng, 5) and rng.calls == primal_rng.calls == 5
    rng = Counting(3)
    s2sad.vjp(noisy_steps)(x, rng, 5, 1.0)
    assert rng.calls == 5


def test_two_draws_of_one_call_in_a_branch_are_two_values():
    g = s2sad.grad(noisy_branch_in_loop)
    g(np.ones(3), np.random.default_rng(0), 3)
    assert g.source.count("rng.standard_normal(3)") == 2


def test_a_draw_in_a_nested_loop_is_refused_where_it_stands():
    def nested(x, rng):
        s = 0.0
        for _ in range(2):
            for _ in range(3):
                s = s + np.sum(x * rng.standard_normal(3))
        return s

    with pytest.raises(s2sad.S2SADError, match="inside a loop that is itself inside a loop") as e:
        s2sad.grad(nested)(np.ones(3), np.random.default_rng(0))
    assert e.value.lineno == nested.__code__.co_firstlineno + 4
    assert "rng.standard_normal((m, n))" in e.value.hint

    def as_the_hint_says(x, rng):
        s = 0.0
        for _ in range(2):
            eps = rng.standard_normal((3, 3))
            for j in range(3):
                s = s + np.sum(x * eps[j])
        return s

    x = np.array([0.5, -1.0, 2.0])
    got = s2sad.grad(as_the_hint_says)(x, np.random.default_rng(4))
    reference = np.random.default_rng(4)
    want = sum(reference.standard_normal((3, 3)).sum(axis=0) for _ in range(2))
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_checkpoints_refuse_a_draw_in_the_loop_they_recompute():
    with pytest.raises(s2sad.S2SADError, match="checkpoints") as e:
        s2sad.grad(noisy_steps, checkpoints=2)(np.ones(3), np.random.default_rng(0), 4)
    assert e.value.lineno == noisy_steps.__code__.co_firstlineno + 3
    assert "eps[t]" in e.value.hint

    def as_the_hint_says(x, rng, T):
        s = 0.0
        eps = rng.standard_normal((T, 3))
        for t in range(T):
            s = s + np.sum(np.tanh(x * eps[t] + s) ** 2)
        return s

    x = np.array([0.3, -0.7, 1.1])
    taped = s2sad.grad(as_the_hint_says)(x, np.random.default_rng(2), 6)
    rng = Counting(2)
    checkpointed = s2sad.grad(as_the_hint_says, checkpoints=2)(x, rng, 6)
    np.testing.assert_allclose(checkpointed, taped, rtol=1e-12)
    assert rng.calls == 1
