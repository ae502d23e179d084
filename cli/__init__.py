"""The ``s2sad`` command line (installed as the package ``s2sad_cli``; see :mod:`.main`)."""

from .main import cli, main

__all__ = ["cli", "main"]
