"""The IR: structured SSA (core), building with CSE (builder), printing, verifying, interpreting."""

from .builder import Builder
from .core import Block, Function, Kind, Op, Value, count_ops
from .interpret import interpret
from .printer import format_function
from .verify import verify

__all__ = ["Block", "Builder", "Function", "Kind", "Op", "Value", "count_ops", "format_function",
           "interpret", "verify"]
