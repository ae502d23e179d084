"""Optimisation passes, IR → IR: CSE and folding (by rebuilding), dead-code elimination."""

from .passes import cse_fold, dce, optimize, prune_tapes

__all__ = ["cse_fold", "dce", "optimize", "prune_tapes"]
