"""Generated modules pass ``ruff check`` (README: the emitted module "passes ruff").

The rules: pyflakes and pycodestyle, ``--select E,F,W``, without E501 (line
length: one expression of the user's may be long, and the generated code does
not re-wrap it) and E741 (names such as ``l`` come from the user's source).  The
project's own extra selections (I, B, UP) are style choices for s2sad's source,
not for emitted code: they ask for a blank line between ``import math`` and
``import numpy``, ``zip(..., strict=...)`` and f-strings in the runtime helpers.
F841 (an unused local) and F401 (an unused import) are the findings that mean
wasted work, e.g. a primal sweep recorded on a tape that nothing reads.

Checked: every golden file under ``tests/golden``, and the module the command line
emits for every example (``examples/*.py``) and for the control-flow and
sequence fixtures, with every derivative command (``grad``, ``value-and-grad``
in both modes, ``jvp``, ``vjp``, ``hessian``, ``jacobian``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from s2sad_cli.main import cli

ROOT = Path(__file__).resolve().parent.parent
RUFF_RULES = ["--select", "E,F,W", "--ignore", "E501,E741"]
GOLDEN = sorted((ROOT / "tests" / "golden").rglob("*.py"))
SOURCES = sorted((ROOT / "examples").glob("*.py")) + [
    ROOT / "tests" / "fixtures" / "control.py", ROOT / "tests" / "fixtures" / "sequences.py"]
COMMANDS = [["grad"], ["grad", "--mode", "forward"], ["value-and-grad"],
            ["value-and-grad", "--mode", "forward"], ["jvp"], ["vjp"], ["hessian"],
            ["jacobian"]]


def ruff(paths: list[Path]) -> str:
    """ruff's findings on ``paths`` with the rules above, ignoring any configuration
    (pyproject.toml excludes tests/golden from the project's own run)."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--quiet",
         "--output-format", "concise", *RUFF_RULES, *map(str, paths)],
        capture_output=True, text=True, check=False)
    assert done.returncode in (0, 1), done.stderr  # 2: ruff itself failed
    return done.stdout + done.stderr


def test_the_rules_find_an_unused_variable(tmp_path):
    """The check can fail: the dead tape read of issue 13 is a finding."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f(tape, i):\n    s_1 = tape[i]\n    return 0.0\n", encoding="utf-8")
    assert "F841" in ruff([bad])


def test_golden_files_are_ruff_clean():
    assert GOLDEN, "no golden files found"
    assert ruff(GOLDEN) == ""


@pytest.mark.slow
def test_emitted_modules_are_ruff_clean(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    written = []
    for src in SOURCES:
        for command in COMMANDS:
            result = CliRunner().invoke(cli, [*command, str(src.relative_to(ROOT))])
            # 2: nothing to emit (e.g. forward-mode gradients of lists): no module
            assert result.exit_code in (0, 2), result.output
            if result.exit_code == 0:
                out = tmp_path / f"{src.parent.name}_{src.stem}_{'_'.join(command)}.py"
                out.write_text(result.stdout, encoding="utf-8")
                written.append(out)
    assert len(written) >= len(SOURCES) * 6
    assert ruff(written) == ""
