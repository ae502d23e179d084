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

    def in_a_loop(x):
        total = 0.0
        for _ in range(3):
            total = total + x * RNG.standard_normal()
        return total

    with pytest.raises(s2sad.S2SADError, match="inside a loop"):
        s2sad.grad(in_a_loop)

    with pytest.raises(s2sad.S2SADError, match="draws random numbers"):
        s2sad.hessian(elbo)
