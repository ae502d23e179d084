"""Code generation: IR → Python ``ast`` (pyast) → source text → function (render)."""

from .pyast import function_def, module
from .render import load, render

__all__ = ["function_def", "load", "module", "render"]
