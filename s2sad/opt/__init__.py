"""Optimisation passes, IR → IR: CSE and folding (by rebuilding), dead-code elimination."""

from .passes import cse_fold, dce, optimize

__all__ = ["cse_fold", "dce", "optimize"]
