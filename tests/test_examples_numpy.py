"""The NumPy examples in ``examples/`` run and do what they say.

Each example is imported from its path (as ``python examples/<file>.py`` would run
it) and its ``main()`` is called: the losses must go down to the optimum that an
independent method finds (least squares, a converged classifier, the known
minimum of Rosenbrock).  The loss gradients themselves are checked against
finite differences in ``tests/test_numpy.py`` (``test_model_*``).
"""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from tests.srcmod import load_example


def _decreasing(losses, what: str) -> None:
    assert all(np.isfinite(losses)), f"{what}: non-finite loss"
    assert losses[-1] < 0.5 * losses[0], f"{what}: {losses[0]} -> {losses[-1]}"
    # gradient descent with a small enough step never goes up by more than rounding
    assert np.all(np.diff(losses) <= 1e-12 * losses[0]), f"{what}: the loss went up"


def test_every_example_has_a_docstring_and_main():
    for name in ("linear_regression", "logistic_regression", "mlp", "rosenbrock_scipy"):
        ex = load_example(name)
        assert ex.__doc__ and ex.__doc__.strip(), name
        assert callable(ex.main), name


def test_linear_regression_reaches_least_squares():
    out = load_example("linear_regression").main()
    _decreasing(out["losses"], "linear regression")
    np.testing.assert_allclose(out["losses"][-1], out["loss_lstsq"], rtol=1e-6)
    np.testing.assert_allclose(out["w"], out["w_lstsq"], atol=1e-4)
    np.testing.assert_allclose(out["w"], out["w_true"], atol=0.05)


def test_logistic_regression_learns():
    ex = load_example("logistic_regression")
    out = ex.main()
    _decreasing(out["losses"], "logistic regression")
    assert out["losses"][0] == pytest.approx(np.log(2.0))  # w = 0, b = 0: σ = 1/2
    assert out["accuracy"] > 0.9
    # near the optimum the gradient (by finite differences, independent of s2sad) is small
    X, y = ex.make_data()
    h = 1e-6
    fd = [(ex.loss(out["w"] + h * e, out["b"], X, y) - ex.loss(out["w"] - h * e, out["b"], X, y))
          / (2 * h) for e in np.eye(len(out["w"]))]
    assert np.max(np.abs(fd)) < 1e-2


def test_mlp_all_optimizers_decrease_the_loss(tmp_path):
    out = load_example("mlp").main(tmp_path)  # a plot, if any, goes to tmp_path
    assert set(out) == {"gradient descent", "momentum", "rmsprop", "adam"}
    for name, losses in out.items():
        assert np.all(np.isfinite(losses)), name
        assert losses[-1] < 0.1 * losses[0], (name, losses[0], losses[-1])
    # plain gradient descent with a small step goes down monotonically
    _decreasing(out["gradient descent"], "mlp, gradient descent")


def test_mlp_plot_is_optional(tmp_path):
    ex = load_example("mlp")
    curves = {"a": [1.0, 0.5, 0.25]}
    path = ex.plot(curves, tmp_path)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert path is None
    else:
        assert path is not None and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rosenbrock_bfgs_reaches_the_minimum():
    pytest.importorskip("scipy")
    from scipy.optimize import rosen_der

    ex = load_example("rosenbrock_scipy")
    x = np.linspace(-1.5, 1.5, 7)
    # s2sad's gradient is SciPy's closed-form one
    np.testing.assert_allclose(s2sad.grad(ex.rosenbrock)(x), rosen_der(x), rtol=1e-12,
                               atol=1e-12)
    res = ex.main()
    assert res.success, res.message
    assert res.fun < 1e-12
    np.testing.assert_allclose(res.x, np.ones_like(res.x), atol=1e-6)


def test_newton_cg_with_generated_gradient_and_hvp_converges_to_ones():
    pytest.importorskip("scipy")
    from scipy.optimize import rosen_der, rosen_hess_prod

    ex = load_example("newton_cg")
    assert ex.__doc__ and callable(ex.main)
    x = np.linspace(-1.5, 1.5, 7)
    p = np.cos(np.arange(7.0))
    # s2sad's hvp is SciPy's closed-form Hessian-vector product
    np.testing.assert_allclose(s2sad.hvp(ex.rosenbrock)(x, p), rosen_hess_prod(x, p),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(s2sad.grad(ex.rosenbrock)(x), rosen_der(x), rtol=1e-12,
                               atol=1e-12)
    res = ex.main()
    assert res.success, res.message
    assert res.fun < 1e-12
    np.testing.assert_allclose(res.x, np.ones_like(res.x), atol=1e-6)
