"""How many of autograd's differentiable NumPy/SciPy functions s2sad supports (issue 15).

    python benchmarks/coverage_autograd.py      # needs autograd (the `bench` extra)

The list: the public functions of ``autograd.numpy``, ``autograd.numpy.linalg``,
``autograd.scipy.special`` and the eight ``autograd.scipy.stats`` modules that are
registered in ``autograd.core.primitive_vjps`` (they have a reverse-mode rule), without
autograd's own helpers (``array_from_args``, ``concatenate_args``, ``make_diagonal``: not
NumPy functions) and the ``scipy.special`` functions a stats module re-exports
(``scipy.stats.gamma.psi`` is ``scipy.special.psi``).  A function is supported when s2sad
resolves it to a primitive, an array function or a library-layer entry that
differentiates it (:func:`s2sad.library.supported_names`).  Prints the count and the
names still missing.
"""

from __future__ import annotations

import importlib
import pkgutil

AUTOGRAD_HELPERS = {"numpy.array_from_args", "numpy.concatenate_args", "numpy.make_diagonal"}


def autograd_names() -> set[str]:
    import autograd.numpy
    import autograd.numpy.linalg
    import autograd.scipy.special
    import autograd.scipy.stats
    from autograd.core import primitive_vjps

    modules = {"numpy": autograd.numpy, "numpy.linalg": autograd.numpy.linalg,
               "scipy.special": autograd.scipy.special}
    for found in pkgutil.iter_modules(autograd.scipy.stats.__path__):
        modules[f"scipy.stats.{found.name}"] = importlib.import_module(
            f"autograd.scipy.stats.{found.name}")
    special = {id(getattr(autograd.scipy.special, a)) for a in dir(autograd.scipy.special)}
    rules = {id(p) for p in primitive_vjps}
    names = set()
    for qualified, module in modules.items():
        for attr in dir(module):
            obj = getattr(module, attr)
            if attr.startswith("_") or id(obj) not in rules:
                continue
            if qualified.startswith("scipy.stats.") and id(obj) in special:
                continue  # a scipy.special function the stats module imported
            names.add(f"{qualified}.{attr}")
    return names - AUTOGRAD_HELPERS


def main() -> None:
    from s2sad.library import supported_names

    names = autograd_names()
    supported = supported_names()
    missing = sorted(n for n in names if n not in supported)
    print(f"s2sad supports {len(names) - len(missing)} of autograd's {len(names)} "
          "differentiable NumPy/SciPy functions")
    print("missing:", ", ".join(missing))


if __name__ == "__main__":
    main()
