# ruff: noqa: E501
"""Writes the corpus files from local git mirrors (run after fetching the mirrors: see README.md)."""
from _gather import gather

SCIPY = "/work/.mirror/scipy+scipy/repo"
SCIPY_HEAD = "3dbf660a919b1479cdf30d533176053b428d08d3"
SCIPY_112 = "4edfcaa3ce8a387450b6efce968572def71be089"
AG = "/work/.mirror/HIPS+autograd/repo"
AG_HEAD = "bff107b8d71a444a1160deade3e1cbd0b92f4fa6"

SCIPY_LIC = ("# License: BSD-3-Clause (SciPy's LICENSE.txt).\n"
             "# Copyright (c) 2001-2002 Enthought, Inc. 2003, SciPy Developers. All rights reserved.\n")
AG_LIC = ("# License: MIT (autograd's license.txt).\n"
          "# Copyright (c) 2025 by the President and Fellows of Harvard University\n")


def head(project, url, path, commit, lic, changes):
    return (f"# ruff: noqa\n"
            f"# Corpus of real public code for benchmarks/bench_corpus.py (s2sad issue 14): test input only.\n"
            f"# Project: {project} ({url})\n"
            f"# Original path: {path} at commit {commit}\n"
            f"{lic}"
            f"# Trimmed to the top-level functions/classes used by cases.py and what they need;\n"
            f"# their code is as its authors wrote it. Changes: {changes}\n")


GO = {
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

GOP = "benchmarks/benchmarks/go_benchmark_functions/"


def main():
    gather(SCIPY, SCIPY_HEAD, GOP + "go_benchmark.py", ["Benchmark"], "scipy_go_benchmark.py",
           head("SciPy", "https://github.com/scipy/scipy", GOP + "go_benchmark.py", SCIPY_HEAD,
                SCIPY_LIC, "the unused relative import `from ..common import safe_import` dropped."))
    for letter, names in GO.items():
        p = f"{GOP}go_funcs_{letter}.py"
        gather(SCIPY, SCIPY_HEAD, p, names, f"scipy_go_funcs_{letter}.py",
               head("SciPy", "https://github.com/scipy/scipy", p, SCIPY_HEAD, SCIPY_LIC,
                    "`from .go_benchmark import Benchmark` made absolute "
                    "(`from scipy_go_benchmark import Benchmark`)."),
               rewrite=[("from .go_benchmark import", "from scipy_go_benchmark import")])
    p = "scipy/optimize/_optimize.py"
    gather(SCIPY, SCIPY_112, p, ["rosen"], "scipy_optimize.py",
           head("SciPy", "https://github.com/scipy/scipy", p, SCIPY_112 + " (v1.12.0)", SCIPY_LIC,
                "none."))
    p = "scipy/optimize/_tstutils.py"
    gather(SCIPY, SCIPY_HEAD, p, ["f1", "f2", "f3", "f5"] +
           [f"aps{i:02d}_f" for i in range(1, 13)] + ["aps14_f"], "scipy_tstutils.py",
           head("SciPy", "https://github.com/scipy/scipy", p, SCIPY_HEAD, SCIPY_LIC, "none."))
    p = "benchmarks/benchmarks/test_functions.py"
    gather(SCIPY, SCIPY_HEAD, p, ["SimpleQuadratic", "AsymmetricQuadratic", "LJ", "Booth", "Beale",
                                  "Ackley", "Levi", "EggHolder", "CrossInTray", "Schaffer2"],
           "scipy_test_functions.py",
           head("SciPy", "https://github.com/scipy/scipy", p, SCIPY_HEAD, SCIPY_LIC, "none."))
    ag_changes = ("imports of autograd's NumPy/SciPy wrappers point at NumPy/SciPy "
                  "(`autograd.numpy` -> `numpy`, `autograd.scipy.X` -> `scipy.X`, "
                  "`autograd.scipy.stats.multivariate_normal` -> `scipy.stats.multivariate_normal`).")
    rw = [("import autograd.scipy.stats.multivariate_normal as mvn",
           "from scipy.stats import multivariate_normal as mvn"),
          ("autograd.numpy", "numpy"), ("autograd.scipy", "scipy")]
    ex = {
        "rosenbrock": ["rosenbrock"],
        "sinusoid": ["fun"],
        "tanh": ["tanh"],
        "logistic_regression": ["training_loss"],
        "neural_net": ["init_random_params", "log_posterior"],
        "neural_net_regression": ["init_random_params", "nn_predict", "logprob", "build_toy_dataset"],
        "gmm": ["init_gmm_params", "gmm_log_likelihood"],
        "negative_binomial_maxlike": ["negbin_loglike"],
        "variational_autoencoder": ["diag_gaussian_log_density", "bernoulli_log_density",
                                    ],
        "mixture_variational_inference": ["diag_gaussian_log_density",
                                          "variational_log_density_gaussian"],
        "rnn": ["create_rnn_params", "rnn_log_likelihood", "sigmoid"],
        "lstm": ["init_lstm_params", "lstm_log_likelihood"],
        "gaussian_process": ["make_gp_funs", "rbf_covariance", "build_toy_dataset"],
        "bayesian_neural_net": ["make_nn_funs", "build_toy_dataset"],
        "ica": ["make_ica_funs"],
        "ode_net": ["init_nn_params", "nn_predict", "L1_loss", "func"],
        "convnet": ["logsumexp"],
    }
    for name, keep in ex.items():
        p = f"examples/{name}.py"
        extra = []
        if name == "lstm":
            ch = ag_changes + " `from rnn import ...` -> `from autograd_rnn import ...`."
            rwx = rw + [("from rnn import", "from autograd_rnn import")]
        else:
            ch, rwx = ag_changes, rw
        gather(AG, AG_HEAD, p, keep, f"autograd_{name.split('/')[-1]}.py",
               head("autograd", "https://github.com/HIPS/autograd", p, AG_HEAD, AG_LIC, ch),
               rewrite=rwx, extra_imports=extra)

    PS = "/work/.mirror/ljvmiranda921+pyswarms/repo"
    PS_HEAD = "70c969d929bb2dab6211765def0431680fc5cb01"
    p = "pyswarms/utils/functions/single_obj.py"
    gather(PS, PS_HEAD, p, PYSWARMS, "pyswarms_single_obj.py",
           head("PySwarms", "https://github.com/ljvmiranda921/pyswarms", p, PS_HEAD,
                "# License: MIT (PySwarms' LICENSE).\n"
                "# Copyright (c) 2017, Lester James V. Miranda\n", "none."))
    SK = "/work/.mirror/scikit-optimize+scikit-optimize/repo"
    SK_HEAD = "a2369ddbc332d16d8ff173b12404b03fea472492"
    p = "skopt/benchmarks.py"
    gather(SK, SK_HEAD, p, ["bench1", "bench2", "bench3", "branin", "hart6"], "skopt_benchmarks.py",
           head("scikit-optimize", "https://github.com/scikit-optimize/scikit-optimize", p, SK_HEAD,
                "# License: BSD-3-Clause (scikit-optimize's LICENSE).\n"
                "# Copyright (c) 2016-2020 The scikit-optimize developers. All rights reserved.\n",
                "none."))

    DE = "/work/.mirror/DEAP+deap/repo"
    DE_HEAD = "8a96fd3"
    p = "deap/benchmarks/__init__.py"
    gather(DE, DE_HEAD, p, DEAP, "deap_benchmarks.py",
           head("DEAP", "https://github.com/DEAP/deap", p, DE_HEAD,
                "# License: LGPL-3.0-or-later (DEAP's LICENSE.txt).\n"
                "# Copyright: the DEAP authors.\n", "none."))
    NG = "/work/.mirror/facebookresearch+nevergrad/repo"
    NG_HEAD = "617a3b0bc"
    p = "nevergrad/functions/corefuncs.py"
    registry = ("import typing as tp\n\n\nclass Registry(dict):\n"
                "    def __class_getitem__(cls, item):\n        return cls\n\n"
                "    def register(self, obj):\n"
                "        self[getattr(obj, '__name__', type(obj).__name__)] = obj\n"
                "        return obj\n\n"
                "    def register_with_info(self, **info):\n        return self.register\n")
    gather(NG, NG_HEAD, p, NEVERGRAD, "nevergrad_corefuncs.py",
           head("nevergrad", "https://github.com/facebookresearch/nevergrad", p, NG_HEAD,
                "# License: MIT (nevergrad's LICENSE).\n"
                "# Copyright (c) Meta Platforms, Inc. and affiliates.\n",
                "`nevergrad.common.typing` and `nevergrad.common.decorators.Registry` replaced by "
                "`typing` and a minimal dict-based `Registry` (the decorators' registering "
                "only); `tp.ArrayLike` -> `tp.Any`."),
           rewrite=[("import nevergrad.common.typing as tp\n"
                     "from nevergrad.common.decorators import Registry\n", registry),
                    ("tp.ArrayLike", "tp.Any")])


DEAP = ["plane", "sphere", "cigar", "rosenbrock", "h1", "ackley", "bohachevsky", "griewank",
        "rastrigin", "rastrigin_scaled", "rastrigin_skew", "schaffer", "schwefel", "himmelblau"]
NEVERGRAD = ["BonnansFunction", "sphere", "sphere1", "sphere2", "sphere4", "maxdeceptive",
             "sumdeceptive", "altcigar", "discus", "cigar", "bentcigar", "multipeak",
             "altellipsoid", "stepellipsoid", "ellipsoid", "rastrigin", "bucherastrigin",
             "doublelinearslope", "stepdoublelinearslope", "hm", "rosenbrock", "ackley",
             "schwefel_1_2", "griewank", "deceptiveillcond", "deceptivepath",
             "deceptivemultimodal", "lunacek", "genzcornerpeak", "minusgenzcornerpeak",
             "genzgaussianpeakintegral", "minusgenzgaussianpeakintegral", "slope", "linear",
             "st0", "st1", "st10", "st100", "registry"]

PYSWARMS = ["ackley", "beale", "booth", "bukin6", "crossintray", "easom", "eggholder", "goldstein",
            "himmelblau", "holdertable", "levi", "matyas", "rastrigin", "rosenbrock", "schaffer2",
            "sphere", "threehump"]

main()
