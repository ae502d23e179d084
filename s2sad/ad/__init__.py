"""Automatic differentiation: IR → IR transformations (forward and reverse mode)."""
