"""The cases of the real-code corpus (benchmarks/bench_corpus.py, issue 14).

Each case names a function of a corpus file (``benchmarks/corpus/<project>_<file>.py``,
public code as its authors wrote it, see the header of each file), how to get it from
the imported module (``get``: a module-level function, a bound method of an object
built by its class, or a function returned by the project's own factory), how to
build its arguments at one random point (``args``: fixed-seed ``numpy.random.Generator``
in, a tuple out; floats and arrays include negative values where the domain allows,
ints are held), and which arguments to differentiate (``wrt``, as for ``s2sad.grad``;
for a bound method, indices count after ``self``).

Nothing here runs s2sad: the harness does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str  # unique, "<file>:<function>"
    file: str  # corpus module stem
    get: Callable[[Any], Callable[..., Any]]  # module -> the function to differentiate
    args: Callable[[Any, Callable[..., Any], np.random.Generator], tuple]  # (module, fn, rng)
    wrt: Any = 0
    quick: bool = False  # part of the --quick smoke run


def _attr(name: str) -> Callable[[Any], Callable[..., Any]]:
    def get(mod: Any) -> Callable[..., Any]:
        return getattr(mod, name)
    return get


def _method(cls: str, method: str = "fun", *init: Any) -> Callable[[Any], Callable[..., Any]]:
    def get(mod: Any) -> Callable[..., Any]:
        return getattr(getattr(mod, cls)(*init), method)
    return get


def _near_optimum(mod: Any, fn: Callable[..., Any], rng: np.random.Generator) -> tuple:
    """A point of a SciPy global-optimisation benchmark within one unit (a tenth of the
    box, if smaller) of its first global optimum, inside its bounds: far out in a box of
    ±500 a term like sin(7(x - 0.9)²) oscillates too fast for finite differences."""
    obj = fn.__self__
    lo, hi = np.asarray(obj.bounds, dtype=float).T
    centre = np.asarray(obj.global_optimum[0], dtype=float)
    step = np.minimum(1.0, 0.1 * (hi - lo))
    return (np.clip(centre + step * rng.uniform(-1, 1, size=lo.shape), lo, hi),)


def _normal(*shape: int, scale: float = 1.0) -> Callable[..., tuple]:
    def args(mod: Any, fn: Any, rng: np.random.Generator) -> tuple:
        return (scale * rng.standard_normal(shape),)
    return args


def _scalar(lo: float, hi: float, *rest: Any) -> Callable[..., tuple]:
    def args(mod: Any, fn: Any, rng: np.random.Generator) -> tuple:
        return (float(rng.uniform(lo, hi)), *rest)
    return args


# -- SciPy: global-optimisation benchmark functions (classes with `fun(self, x, *args)`) -------

_GO = {
    "A": ["Ackley01", "Ackley03", "Adjiman", "Alpine01", "Alpine02"],
    "B": ["Beale", "BiggsExp02", "Bird", "Bohachevsky1", "BoxBetts", "Branin01", "Brown"],
    "C": ["Cigar", "Colville", "CosineMixture", "Cube"],
    "D": ["DeflectedCorrugatedSpring", "DixonPrice", "DropWave"],
    "E": ["Easom", "EggCrate", "Exp2", "Exponential"],
    "G": ["GoldsteinPrice", "Griewank"],
    "H": ["Hartmann3", "HelicalValley", "HimmelBlau", "Hosaki"],
    "L": ["Leon", "Levy03"],
    "M": ["Matyas", "McCormick", "Michalewicz", "MieleCantrell"],
    "P": ["Powell", "Price02"],
    "Q": ["Qing"],
    "R": ["Rastrigin", "Rosenbrock", "RotatedEllipse01"],
    "S": ["Salomon", "Schwefel01", "Shekel05", "SixHumpCamel", "Sphere", "StyblinskiTang"],
    "T": ["ThreeHumpCamel", "Trid", "Trigonometric02"],
    "W": ["Wavy", "Wolfe"],
    "Z": ["Zacharov", "Zettl", "Zirilli"],
}

CASES: list[Case] = [
    Case(f"scipy_go_funcs_{letter}:{cls}.fun", f"scipy_go_funcs_{letter}", _method(cls),
         _near_optimum, quick=cls in ("Ackley01", "Rosenbrock"))
    for letter, classes in _GO.items() for cls in classes
]

# -- SciPy: benchmarks/benchmarks/test_functions.py (classes with `fun(self, x)`) -----------

CASES += [
    Case("scipy_test_functions:SimpleQuadratic.fun", "scipy_test_functions",
         _method("SimpleQuadratic"), _normal(4), quick=True),
    Case("scipy_test_functions:AsymmetricQuadratic.fun", "scipy_test_functions",
         _method("AsymmetricQuadratic"), _normal(4)),
    Case("scipy_test_functions:LJ.fun", "scipy_test_functions", _method("LJ"),
         lambda m, f, rng: (np.array([0., 0., 0., 1.1, 0., 0., 0., 1.2, 0., 0.3, 0.4, 1.])
                            + 0.1 * rng.standard_normal(12),)),
    Case("scipy_test_functions:Booth.fun", "scipy_test_functions", _method("Booth"), _normal(2)),
    Case("scipy_test_functions:Beale.fun", "scipy_test_functions", _method("Beale"), _normal(2)),
    Case("scipy_test_functions:Ackley.fun", "scipy_test_functions", _method("Ackley"), _normal(2)),
    Case("scipy_test_functions:Levi.fun", "scipy_test_functions", _method("Levi"), _normal(2)),
    Case("scipy_test_functions:EggHolder.fun", "scipy_test_functions", _method("EggHolder"),
         _normal(2, scale=100.0)),
    Case("scipy_test_functions:CrossInTray.fun", "scipy_test_functions", _method("CrossInTray"),
         _normal(2, scale=3.0)),
    Case("scipy_test_functions:Schaffer2.fun", "scipy_test_functions", _method("Schaffer2"),
         _normal(2, scale=3.0)),
]

# -- SciPy: scipy/optimize -----------------------------------------------------------------

CASES += [
    Case("scipy_optimize:rosen", "scipy_optimize", _attr("rosen"), _normal(5), quick=True),
    Case("scipy_tstutils:f1", "scipy_tstutils", _attr("f1"), _scalar(-3, 3), quick=True),
    Case("scipy_tstutils:f2", "scipy_tstutils", _attr("f2"), _scalar(-3, 3)),
    Case("scipy_tstutils:f3", "scipy_tstutils", _attr("f3"), _scalar(-3, 3)),
    Case("scipy_tstutils:f5", "scipy_tstutils", _attr("f5"), _scalar(-3, 0.5)),
    Case("scipy_tstutils:aps01_f", "scipy_tstutils", _attr("aps01_f"), _scalar(-3, 3)),
    Case("scipy_tstutils:aps02_f", "scipy_tstutils", _attr("aps02_f"), _scalar(1.5, 3.5)),
    Case("scipy_tstutils:aps03_f", "scipy_tstutils", _attr("aps03_f"), _scalar(-1, 1, -40.0, -1.0)),
    Case("scipy_tstutils:aps04_f", "scipy_tstutils", _attr("aps04_f"), _scalar(-2, 2, 4, 0.2)),
    Case("scipy_tstutils:aps05_f", "scipy_tstutils", _attr("aps05_f"), _scalar(-3, 3)),
    Case("scipy_tstutils:aps06_f", "scipy_tstutils", _attr("aps06_f"), _scalar(-1, 1, 5)),
    Case("scipy_tstutils:aps07_f", "scipy_tstutils", _attr("aps07_f"), _scalar(-1, 1, 5)),
    Case("scipy_tstutils:aps08_f", "scipy_tstutils", _attr("aps08_f"), _scalar(-1, 1, 3)),
    Case("scipy_tstutils:aps09_f", "scipy_tstutils", _attr("aps09_f"), _scalar(-1, 1, 4)),
    Case("scipy_tstutils:aps10_f", "scipy_tstutils", _attr("aps10_f"), _scalar(-1, 1, 5)),
    Case("scipy_tstutils:aps11_f", "scipy_tstutils", _attr("aps11_f"), _scalar(0.2, 2, 3)),
    Case("scipy_tstutils:aps12_f", "scipy_tstutils", _attr("aps12_f"), _scalar(0.2, 4, 3)),
    Case("scipy_tstutils:aps14_f", "scipy_tstutils", _attr("aps14_f"), _scalar(0.2, 4, 2)),
]


# -- autograd: examples/*.py (NumPy code; autograd's wrappers replaced by NumPy/SciPy) -------

def _one_hot(rng: np.random.Generator, *shape: int) -> np.ndarray:
    """Rows of one-hot vectors (the last axis is the class)."""
    *lead, k = shape
    return np.eye(k)[rng.integers(0, k, size=lead)]


def _rs(rng: np.random.Generator) -> np.random.RandomState:
    return np.random.RandomState(int(rng.integers(0, 2**31)))


def _nn_args(m: Any, f: Any, rng: np.random.Generator) -> tuple:
    params = m.init_random_params(0.5, [3, 4, 2], rs=_rs(rng))
    return params, rng.standard_normal((5, 3)), _one_hot(rng, 5, 2), 0.1


def _nn_regression_args(m: Any, f: Any, rng: np.random.Generator) -> tuple:
    inputs, targets = m.build_toy_dataset(n_data=8)
    return m.init_random_params(0.5, [1, 4, 4, 1], rs=_rs(rng)), inputs, targets


def _gmm_args(m: Any, f: Any, rng: np.random.Generator) -> tuple:
    return m.init_gmm_params(3, 2, 0.5, rs=_rs(rng)), rng.standard_normal((6, 2))


def _seq_args(init: str) -> Callable[..., tuple]:
    def args(m: Any, f: Any, rng: np.random.Generator) -> tuple:
        params = getattr(m, init)(3, 4, 3, param_scale=0.5, rs=_rs(rng))
        return params, _one_hot(rng, 4, 2, 3), _one_hot(rng, 4, 2, 3)
    return args


def _gp_args(m: Any, f: Any, rng: np.random.Generator) -> tuple:
    x, y = m.build_toy_dataset(D=1, n_data=8)
    return 0.3 * rng.standard_normal(4), x, y


def _bnn_args(m: Any, f: Any, rng: np.random.Generator) -> tuple:
    inputs, targets = m.build_toy_dataset(n_data=8)
    return 0.5 * rng.standard_normal((1, 16)), inputs, targets


def _ica_args(m: Any, f: Any, rng: np.random.Generator) -> tuple:
    return (rng.standard_normal((3, 2)), rng.standard_normal((2, 5)), 0.5,
            rng.standard_normal((5, 3)))


CASES += [
    Case("autograd_rosenbrock:rosenbrock", "autograd_rosenbrock", _attr("rosenbrock"),
         _normal(2), quick=True),
    Case("autograd_sinusoid:fun", "autograd_sinusoid", _attr("fun"), _scalar(-3, 3)),
    Case("autograd_tanh:tanh", "autograd_tanh", _attr("tanh"), _scalar(-3, 3), quick=True),
    Case("autograd_logistic_regression:training_loss", "autograd_logistic_regression",
         _attr("training_loss"), _normal(3), quick=True),
    Case("autograd_neural_net:log_posterior", "autograd_neural_net", _attr("log_posterior"),
         _nn_args, quick=True),
    Case("autograd_neural_net_regression:logprob", "autograd_neural_net_regression",
         _attr("logprob"), _nn_regression_args),
    Case("autograd_gmm:gmm_log_likelihood", "autograd_gmm", _attr("gmm_log_likelihood"),
         _gmm_args),
    Case("autograd_negative_binomial_maxlike:negbin_loglike", "autograd_negative_binomial_maxlike",
         _attr("negbin_loglike"),
         lambda m, f, rng: (float(rng.uniform(0.5, 5)), float(rng.uniform(0.1, 0.9)), 3),
         wrt=(0, 1)),
    Case("autograd_variational_autoencoder:diag_gaussian_log_density",
         "autograd_variational_autoencoder", _attr("diag_gaussian_log_density"),
         lambda m, f, rng: tuple(rng.standard_normal((3, 4))), wrt=(0, 1, 2)),
    Case("autograd_variational_autoencoder:bernoulli_log_density",
         "autograd_variational_autoencoder", _attr("bernoulli_log_density"),
         lambda m, f, rng: (rng.integers(0, 2, size=5).astype(float),
                            2 * rng.standard_normal(5)), wrt=1),
    Case("autograd_mixture_variational_inference:variational_log_density_gaussian",
         "autograd_mixture_variational_inference", _attr("variational_log_density_gaussian"),
         lambda m, f, rng: (rng.standard_normal(6), rng.standard_normal(3)), wrt=(0, 1)),
    Case("autograd_rnn:rnn_log_likelihood", "autograd_rnn", _attr("rnn_log_likelihood"),
         _seq_args("create_rnn_params")),
    Case("autograd_lstm:lstm_log_likelihood", "autograd_lstm", _attr("lstm_log_likelihood"),
         _seq_args("init_lstm_params")),
    Case("autograd_gaussian_process:make_gp_funs().log_marginal_likelihood",
         "autograd_gaussian_process",
         lambda m: m.make_gp_funs(m.rbf_covariance, num_cov_params=2)[2], _gp_args),
    Case("autograd_bayesian_neural_net:make_nn_funs().logprob", "autograd_bayesian_neural_net",
         lambda m: m.make_nn_funs(layer_sizes=[1, 5, 1], L2_reg=0.1, noise_variance=0.01)[2],
         _bnn_args),
    Case("autograd_ica:make_ica_funs().logprob", "autograd_ica",
         lambda m: m.make_ica_funs(3, 2)[2], _ica_args),
    Case("autograd_ode_net:L1_loss", "autograd_ode_net", _attr("L1_loss"),
         lambda m, f, rng: (rng.standard_normal(6), rng.standard_normal(6))),
    Case("autograd_convnet:logsumexp", "autograd_convnet", _attr("logsumexp"),
         lambda m, f, rng: (rng.standard_normal(5), 0)),
]


# -- PySwarms: pyswarms/utils/functions/single_obj.py (one particle: x of shape (1, d)) -----

def _box(lo: Any, hi: Any, d: int = 2) -> Callable[..., tuple]:
    """Points in the middle 60 % of the function's domain: PySwarms checks the domain and
    raises, and the finite differences' first steps reach 10 % of |x| around each point."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    margin = 0.2 * (hi - lo)

    def args(mod: Any, fn: Any, rng: np.random.Generator) -> tuple:
        return (rng.uniform(lo + margin, hi - margin, size=(1, d)),)
    return args


_PYSWARMS = {
    "ackley": _box(-5, 5, 3), "beale": _box(-4.5, 4.5), "booth": _box(-10, 10),
    "bukin6": _box([-15, -3], [-5, 3]), "crossintray": _box(-10, 10), "easom": _box(1, 5),
    "eggholder": _box(-200, 200), "goldstein": _box(-2, 2), "himmelblau": _box(-5, 5),
    "holdertable": _box(-10, 10), "levi": _box(-10, 10), "matyas": _box(-10, 10),
    "rastrigin": _box(-5.12, 5.12, 3), "rosenbrock": _box(-2, 2, 3), "schaffer2": _box(-3, 3),
    "sphere": _box(-5, 5, 3), "threehump": _box(-5, 5),
}

CASES += [Case(f"pyswarms_single_obj:{name}", "pyswarms_single_obj", _attr(name), args,
               quick=name == "sphere")
          for name, args in _PYSWARMS.items()]


# -- scikit-optimize: skopt/benchmarks.py (x is a list of floats, as skopt's optimisers pass) -

def _floats(lo: Any, hi: Any, d: int) -> Callable[..., tuple]:
    def args(mod: Any, fn: Any, rng: np.random.Generator) -> tuple:
        return ([float(v) for v in rng.uniform(lo, hi, size=d)],)
    return args


CASES += [
    Case("skopt_benchmarks:bench1", "skopt_benchmarks", _attr("bench1"), _floats(-3, 3, 1)),
    Case("skopt_benchmarks:bench2", "skopt_benchmarks", _attr("bench2"), _floats(-3, 8, 1)),
    Case("skopt_benchmarks:bench3", "skopt_benchmarks", _attr("bench3"), _floats(-3, 3, 1)),
    Case("skopt_benchmarks:branin", "skopt_benchmarks", _attr("branin"),
         _floats([-5, 0], [10, 15], 2), quick=True),
    Case("skopt_benchmarks:hart6", "skopt_benchmarks", _attr("hart6"), _floats(0, 1, 6)),
]


# -- DEAP: deap/benchmarks/__init__.py (an individual is a list of floats; the fitness is a
# 1-tuple, as DEAP's evolutionary algorithms read it: its one value is differentiated) --------

def _first(name: str) -> Callable[[Any], Callable[..., Any]]:
    def get(mod: Any) -> Callable[..., Any]:
        fitness = getattr(mod, name)

        def first(individual):
            return fitness(individual)[0]
        return first
    return get


_DEAP = {"plane": 4, "sphere": 4, "cigar": 4, "rosenbrock": 4, "h1": 2, "ackley": 4,
         "bohachevsky": 4, "griewank": 4, "rastrigin": 4, "rastrigin_scaled": 4,
         "rastrigin_skew": 4, "schaffer": 4, "schwefel": 4, "himmelblau": 2}

CASES += [Case(f"deap_benchmarks:{name}", "deap_benchmarks", _first(name), _floats(-1.5, 1.5, d),
               quick=name == "griewank")
          for name, d in _DEAP.items()]


# -- nevergrad: nevergrad/functions/corefuncs.py (x: a NumPy vector of 5) ----------------------

_NEVERGRAD = ["sphere", "sphere1", "sphere2", "sphere4", "maxdeceptive", "sumdeceptive",
              "altcigar", "discus", "cigar", "bentcigar", "multipeak", "altellipsoid",
              "stepellipsoid", "ellipsoid", "rastrigin", "bucherastrigin", "doublelinearslope",
              "stepdoublelinearslope", "rosenbrock", "ackley", "schwefel_1_2", "griewank",
              "deceptiveillcond", "deceptivepath", "deceptivemultimodal", "lunacek",
              "genzcornerpeak", "minusgenzcornerpeak", "genzgaussianpeakintegral",
              "minusgenzgaussianpeakintegral", "slope", "linear", "st0"]


def _object(cls: str, *init: Any) -> Callable[[Any], Callable[..., Any]]:
    def get(mod: Any) -> Callable[..., Any]:
        return getattr(mod, cls)(*init)  # an object with __call__: differentiated as it
    return get


CASES += [Case(f"nevergrad_corefuncs:{name}", "nevergrad_corefuncs", _attr(name),
               _normal(5, scale=0.8), quick=name == "cigar")
          for name in _NEVERGRAD]
CASES += [Case("nevergrad_corefuncs:BonnansFunction", "nevergrad_corefuncs",
               _object("BonnansFunction", 3, 6, 5), _normal(5))]
