"""Test-suite settings: the disk cache of generated code is off, so that every test
compiles what it checks (tests/test_cache.py turns it on, in a temporary directory)."""

import os

os.environ["S2SAD_NO_CACHE"] = "1"
