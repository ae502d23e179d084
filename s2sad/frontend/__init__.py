"""The frontend: Python source → IR (source.py gets it, resolve.py names it, lower.py lifts it)."""

from .lower import lower
from .source import ParsedFunction, ParsedModule, from_function, parse_file

__all__ = ["ParsedFunction", "ParsedModule", "from_function", "lower", "parse_file"]
