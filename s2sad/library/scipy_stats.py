"""``scipy.stats``: the log-densities, densities and distribution functions of the
distributions models call, written out with NumPy and ``scipy.special`` (the generated
code never builds a ``scipy.stats`` distribution object).  Each is exact: the same
formula SciPy evaluates, in the log domain where SciPy is (``logcdf`` is
``log_ndtr``, accurate in the far tail)."""

from __future__ import annotations

import math

from .. import primitives as P
from . import Call, entry, is_array
from .scipy_special import betaln_of, xlog

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _z(c: Call):
    """(x - loc) / scale, as few ops as the defaults allow."""
    z = c.arg("x")
    if c.given("loc"):
        z = c.emit("sub", [z, c.arg("loc")])
    if c.given("scale"):
        z = c.emit("div", [z, c.arg("scale")])
    return z


def _minus_log_scale(c: Call, value):
    if not c.given("scale"):
        return value
    return c.emit("sub", [value, c.emit("log", [c.arg("scale")], lib=P.NUMPY)])


def _norm_logpdf(c: Call):
    z = _z(c)
    half = c.emit("mul", [c.const(-0.5), c.emit("mul", [z, z])])
    return _minus_log_scale(c, c.emit("sub", [half, c.const(_HALF_LOG_2PI)]))


_NORM = dict(loc=0.0, scale=1.0)


@entry("scipy.stats.norm.logpdf", "x, loc, scale", **_NORM)
def norm_logpdf(c: Call):
    """``-z²/2 - log(scale) - log(2π)/2``."""
    return _norm_logpdf(c)


@entry("scipy.stats.norm.pdf", "x, loc, scale", **_NORM)
def norm_pdf(c: Call):
    return c.emit("exp", [_norm_logpdf(c)], out=True, lib=P.NUMPY)


@entry("scipy.stats.norm.cdf", "x, loc, scale", **_NORM)
def norm_cdf(c: Call):
    return c.emit("ndtr", [_z(c)], out=True, lib=P.SCIPY)


@entry("scipy.stats.norm.logcdf", "x, loc, scale", **_NORM)
def norm_logcdf(c: Call):
    return c.emit("log_ndtr", [_z(c)], out=True, lib=P.SCIPY)


@entry("scipy.stats.norm.sf", "x, loc, scale", **_NORM)
def norm_sf(c: Call):
    return c.emit("ndtr", [c.emit("neg", [_z(c)])], out=True, lib=P.SCIPY)


@entry("scipy.stats.norm.logsf", "x, loc, scale", **_NORM)
def norm_logsf(c: Call):
    return c.emit("log_ndtr", [c.emit("neg", [_z(c)])], out=True, lib=P.SCIPY)


def _t_logpdf(c: Call):
    """``gammaln((ν+1)/2) - gammaln(ν/2) - log(νπ)/2 - log(scale)
    - (ν+1)/2 · log1p(z²/ν)``."""
    df = c.arg("df")
    z = _z(c)
    half_up = c.emit("mul", [c.const(0.5), c.emit("add", [df, c.const(1.0)])])
    norm = c.emit("sub", [c.emit("gammaln", [half_up], lib=P.SCIPY),
                          c.emit("gammaln", [c.emit("mul", [c.const(0.5), df])], lib=P.SCIPY)])
    norm = c.emit("sub", [norm, c.emit("mul", [c.const(0.5), c.emit(
        "log", [c.emit("mul", [df, c.const(math.pi)])], lib=P.NUMPY)])])
    tail = c.emit("log1p", [c.emit("div", [c.emit("mul", [z, z]), df])], lib=P.NUMPY)
    value = c.emit("sub", [norm, c.emit("mul", [half_up, tail])])
    return _minus_log_scale(c, value)


@entry("scipy.stats.t.logpdf", "x, df, loc, scale", **_NORM)
def t_logpdf(c: Call):
    return _t_logpdf(c)


@entry("scipy.stats.t.pdf", "x, df, loc, scale", **_NORM)
def t_pdf(c: Call):
    return c.emit("exp", [_t_logpdf(c)], out=True, lib=P.NUMPY)


_MVN_WHY = ("s2sad writes the density with np.linalg.solve and det of a full covariance|"
            "leave it out (the default, False)")


@entry("scipy.stats.multivariate_normal.logpdf", "x, mean, cov, allow_singular", mean=None,
       cov=1.0, allow_singular=False, refused={"allow_singular": _MVN_WHY})
def mvn_logpdf(c: Call):
    """``-(d log 2π + log det Σ + (x-μ)ᵀ Σ⁻¹ (x-μ)) / 2`` over the last axis of ``x``
    (one point, or one per row), with ``Σ⁻¹ (x-μ)`` by ``np.linalg.solve``.  A number
    ``cov`` is ``cov · I``; an array is a full covariance matrix (SciPy's 1-D diagonal
    form is not: pass ``np.diag(v)``)."""
    x = c.array("x")
    diff = c.emit("sub", [x, c.arg("mean")]) if c.arg("mean") is not None else x
    d = c.emit("dim", [x], axis=-1)
    cov = c.arg("cov")
    if is_array(cov):
        sol = c.emit("transpose", [c.emit("solve", [cov, c.emit("transpose", [diff])])])
        logdet = c.emit("log", [c.emit("det", [cov])], lib=P.NUMPY)
    else:
        sol = c.emit("div", [diff, cov])
        logdet = c.emit("mul", [d, c.emit("log", [cov], lib=P.NUMPY)])
    quad = c.emit("np_sum", [c.emit("mul", [diff, sol])], axis=-1)
    const = c.emit("mul", [d, c.const(2.0 * _HALF_LOG_2PI)])
    total = c.emit("add", [c.emit("add", [quad, logdet]), const])
    return c.emit("mul", [c.const(-0.5), total], out=True)


@entry("scipy.stats.multivariate_normal.pdf", "x, mean, cov, allow_singular", mean=None,
       cov=1.0, allow_singular=False, refused={"allow_singular": _MVN_WHY})
def mvn_pdf(c: Call):
    return c.emit("exp", [mvn_logpdf(c)], out=True, lib=P.NUMPY)


# -- more distributions: log-densities within their support (SciPy's -inf outside it is
# not reproduced: a model evaluates them where they are finite) ---------------------------

def _log(c: Call, v):
    return c.emit("log", [v], lib=P.NUMPY)


def _density(name: str, params: str, logpdf, kind: str = "pdf", **defaults) -> None:
    """Register ``name.log<kind>`` and ``name.<kind>`` (its exp) for one formula."""
    entry(f"scipy.stats.{name}.log{kind}", params, **defaults)(logpdf)

    def density(c: Call):
        return c.emit("exp", [logpdf(c)], out=True, lib=P.NUMPY)
    entry(f"scipy.stats.{name}.{kind}", params, **defaults)(density)


def _gamma_logpdf(c: Call):
    """``(a-1) log z - z - gammaln(a) - log(scale)``, z = (x - loc) / scale > 0."""
    a, z = c.arg("a"), _z(c)
    value = c.emit("sub", [c.emit("mul", [c.emit("sub", [a, c.const(1.0)]), _log(c, z)]), z])
    value = c.emit("sub", [value, c.emit("gammaln", [a], lib=P.SCIPY)])
    return _minus_log_scale(c, value)


def _beta_logpdf(c: Call):
    """``(a-1) log z + (b-1) log1p(-z) - betaln(a, b) - log(scale)``, 0 < z < 1."""
    a, b, z = c.arg("a"), c.arg("b"), _z(c)
    left = c.emit("mul", [c.emit("sub", [a, c.const(1.0)]), _log(c, z)])
    right = c.emit("mul", [c.emit("sub", [b, c.const(1.0)]),
                           c.emit("log1p", [c.emit("neg", [z])], lib=P.NUMPY)])
    value = c.emit("sub", [c.emit("add", [left, right]), betaln_of(c, a, b)])
    return _minus_log_scale(c, value)


def _expon_logpdf(c: Call):
    return _minus_log_scale(c, c.emit("neg", [_z(c)]))


def _laplace_logpdf(c: Call):
    value = c.emit("sub", [c.emit("neg", [c.emit("abs", [_z(c)], lib=P.NUMPY)]),
                           c.const(math.log(2.0))])
    return _minus_log_scale(c, value)


def _poisson_logpmf(c: Call):
    """``xlogy(k, mu) - gammaln(k + 1) - mu``."""
    k, mu = c.arg("k"), c.arg("mu")
    value = c.emit("sub", [xlog(c, k, mu, "log"),
                           c.emit("gammaln", [c.emit("add", [k, c.const(1.0)])], lib=P.SCIPY)])
    return c.emit("sub", [value, mu])


def _bernoulli_logpmf(c: Call):
    """``xlogy(k, p) + xlog1py(1 - k, -p)``."""
    k, p = c.arg("k"), c.arg("p")
    return c.emit("add", [xlog(c, k, p, "log"),
                          xlog(c, c.emit("sub", [c.const(1.0), k]), c.emit("neg", [p]),
                               "log1p")])


_density("gamma", "x, a, loc, scale", _gamma_logpdf, **_NORM)
_density("beta", "x, a, b, loc, scale", _beta_logpdf, **_NORM)
_density("expon", "x, loc, scale", _expon_logpdf, **_NORM)
_density("laplace", "x, loc, scale", _laplace_logpdf, **_NORM)
_density("poisson", "k, mu", _poisson_logpmf, kind="pmf")
_density("bernoulli", "k, p", _bernoulli_logpmf, kind="pmf")


@entry("scipy.stats.dirichlet.logpdf", "x, alpha")
def dirichlet_logpdf(c: Call):
    """``Σ (α-1) log x + gammaln(Σ α) - Σ gammaln(α)`` over the last axis (x on the
    simplex; one point)."""
    x, alpha = c.array("x"), c.array("alpha")
    terms = c.emit("np_sum", [c.emit("mul", [c.emit("sub", [alpha, c.const(1.0)]),
                                             _log(c, x)])], axis=-1)
    norm = c.emit("sub", [c.emit("gammaln", [c.emit("np_sum", [alpha])], lib=P.SCIPY),
                          c.emit("np_sum", [c.emit("gammaln", [alpha], lib=P.SCIPY)])])
    return c.emit("add", [terms, norm], out=True)


def _chi2_logpdf(c: Call):
    """``(k/2 - 1) log z - z/2 - (k/2) log 2 - gammaln(k/2) - log(scale)``."""
    half = c.emit("mul", [c.const(0.5), c.arg("df")])
    z = _z(c)
    value = c.emit("sub", [c.emit("mul", [c.emit("sub", [half, c.const(1.0)]), _log(c, z)]),
                           c.emit("mul", [c.const(0.5), z])])
    value = c.emit("sub", [value, c.emit("mul", [half, c.const(math.log(2.0))])])
    value = c.emit("sub", [value, c.emit("gammaln", [half], lib=P.SCIPY)])
    return _minus_log_scale(c, value)


_density("chi2", "x, df, loc, scale", _chi2_logpdf, **_NORM)


@entry("scipy.stats.dirichlet.pdf", "x, alpha")
def dirichlet_pdf(c: Call):
    return c.emit("exp", [dirichlet_logpdf(c)], out=True, lib=P.NUMPY)


@entry("scipy.stats.multivariate_normal.entropy", "mean, cov", mean=None, cov=1.0)
def mvn_entropy(c: Call):
    """``(d (1 + log 2π) + log det Σ) / 2``."""
    cov = c.arg("cov")
    if is_array(cov):
        d = c.emit("dim", [cov], axis=0)
        logdet = c.emit("logabsdet", [cov])
    else:
        d, logdet = c.const(1), _log(c, cov)
    value = c.emit("add", [c.emit("mul", [d, c.const(1.0 + 2.0 * _HALF_LOG_2PI)]), logdet])
    return c.emit("mul", [c.const(0.5), value], out=True)
