"""Bad input: every unsupported construct gives a located S2SADError (DESIGN §9).

The cases live in ``fixtures/unsupported.py``: each offending line carries a
``# error: <text> msg=<words>`` marker saying where the caret must point and
what the message must say.  Both the live path (``s2sad.grad`` on a function
object) and the static path (the file parsed without running it) are checked.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import s2sad
from s2sad.frontend import lower, parse_file
from tests.fixtures import unsupported

FIXTURE = Path(unsupported.__file__)
LINES = FIXTURE.read_text().splitlines()
MARK = re.compile(r"# error: (?P<text>.+?)(?: msg=(?P<msg>.+))?$")


def _cases():
    cases = []
    for name, fn in inspect.getmembers(unsupported, inspect.isfunction):
        if fn.__module__ != unsupported.__name__ or name == "helper":
            continue
        src, first = inspect.getsourcelines(fn)
        for offset, line in enumerate(src):
            m = MARK.search(line)
            if m:
                lineno = first + offset
                code = LINES[lineno - 1]
                col = code.index(m.group("text"))
                cases.append(pytest.param(name, lineno, col, m.group("msg"), id=name))
                break
        else:
            raise AssertionError(f"{name} has no error marker")
    return cases


CASES = _cases()
# A live function sees the *current* value of a global; only the static reader can tell
# that a module-level name is assigned twice.
STATIC_ONLY = {"uses_reassigned_global"}


def _check(err: s2sad.S2SADError, lineno: int, col: int, msg: str | None) -> None:
    assert Path(err.filename).resolve() == FIXTURE.resolve()
    assert (err.lineno, err.col_offset) == (lineno, col), str(err)
    if msg:
        assert msg.lower() in err.what.lower(), str(err)
    text = str(err)
    # Compiler form: location, the source line, a caret under the construct.
    assert text.startswith(f"{err.filename}:{lineno}:{col + 1}: error: ")
    source_line, caret_line = text.splitlines()[1:3]
    assert source_line == "    " + LINES[lineno - 1]
    assert caret_line.index("^") == 4 + col


@pytest.mark.parametrize("name, lineno, col, msg", CASES)
def test_live_function_error_is_located(name, lineno, col, msg):
    if name in STATIC_ONLY:
        pytest.skip("only the static reader sees this")
    fn = getattr(unsupported, name)
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(fn)
    _check(info.value, lineno, col, msg)


@pytest.mark.parametrize("name, lineno, col, msg", CASES)
def test_static_file_error_is_located(name, lineno, col, msg):
    module = parse_file(FIXTURE)
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.pipeline.derive(lower(module.functions[name]), "grad")
    _check(info.value, lineno, col, msg)


def test_every_error_says_what_to_do_instead():
    for param in CASES:
        name = param.values[0]
        if name in STATIC_ONLY:
            continue
        with pytest.raises(s2sad.S2SADError) as info:
            s2sad.grad(getattr(unsupported, name))
        assert info.value.hint or info.value.why, name


def test_there_are_many_cases():
    assert len(CASES) >= 40


TABLE = Path(__file__).resolve().parents[1] / "docs" / "unsupported.md"


def unsupported_table() -> str:
    """docs/unsupported.md: every case of the fixture, its line and the message s2sad gives
    (the static path, so that no case depends on run-time values)."""
    module = parse_file(FIXTURE)

    def cell(text: str | None) -> str:
        return (text or "").replace("|", "\\|").replace("\n", " ")

    rows = ["# What s2sad rejects, and what it says", "",
            "Generated from `tests/fixtures/unsupported.py` by `tests/test_errors.py` "
            "(`S2SAD_REGEN_GOLDEN=1 pytest tests/test_errors.py` rewrites it; the test fails "
            "when it is stale). Every error is an `S2SADError` located at the construct: "
            "file, line, column and a caret.", "",
            "| case | the offending line | error | why | instead |", "|---|---|---|---|---|"]
    for param in CASES:
        name, lineno = param.values[:2]
        with pytest.raises(s2sad.S2SADError) as info:
            s2sad.pipeline.derive(lower(module.functions[name]), "grad")
        err = info.value
        code = LINES[lineno - 1].split("#")[0].strip()
        rows.append(f"| `{name}` | `{cell(code)}` | {cell(err.what)} | {cell(err.why)} | "
                    f"{cell(err.hint)} |")
    return "\n".join(rows) + "\n"


def test_the_table_of_unsupported_constructs_is_current():
    import os

    want = unsupported_table()
    if os.environ.get("S2SAD_REGEN_GOLDEN") == "1" or not TABLE.exists():
        TABLE.write_text(want, encoding="utf-8")
    assert TABLE.read_text(encoding="utf-8") == want, (
        "docs/unsupported.md is stale: S2SAD_REGEN_GOLDEN=1 pytest tests/test_errors.py")


def test_grad_of_tuple_output_points_to_jacobian_or_vjp():
    from tests.fixtures.good import two_outputs

    with pytest.raises(s2sad.DifferentiationError) as info:
        s2sad.grad(two_outputs)
    assert "vjp" in str(info.value)
    # jvp and vjp do work for it.
    value, tangent = s2sad.jvp(two_outputs)(2.0, 1.0, 1.0)  # x = 2, y = 1, x_dot = 1
    assert value == (4.0, 3.0) and tangent == (4.0, 1.0)
    value, cotangent = s2sad.vjp(two_outputs, wrt=(0, 1))(2.0, 1.0, 1.0, 1.0)
    assert value == (4.0, 3.0) and cotangent == (2 * 2.0 + 1.0, 2.0 + 1.0)


def test_lambda_is_rejected():
    with pytest.raises(s2sad.UnsupportedError, match="lambda"):
        s2sad.grad(lambda x: x)  # noqa: E731


def test_builtin_function_is_rejected():
    import math

    with pytest.raises(s2sad.UnsupportedError):
        s2sad.grad(math.sin)


@pytest.mark.parametrize("wrt, message", [
    (5, "out of range"), ("z", "no parameter named"), ((0, 0), "twice"), (1.5, "index or name"),
    ((), "no parameter"),
])
def test_bad_wrt(wrt, message):
    from tests.fixtures.good import two_args

    with pytest.raises(s2sad.S2SADError, match=message):
        s2sad.grad(two_args, wrt=wrt)


def test_internal_error_says_it_is_a_bug():
    err = s2sad.InternalError("x")
    assert "bug" in str(err) and not isinstance(err, s2sad.S2SADError)


def test_internal_error_says_where_the_ir_was_written(monkeypatch):
    from s2sad import pipeline
    from tests.fixtures.good import two_args

    def broken(*args, **kwargs):
        raise s2sad.InternalError("an invariant broke")

    monkeypatch.setattr(pipeline, "grad_function", broken)
    with pytest.raises(s2sad.InternalError) as info:
        pipeline.derive(s2sad.lift(two_args), "grad")
    err = info.value
    assert "this is a bug" in str(err) and "an invariant broke" in str(err)
    assert err.dump_path and err.dump_path in str(err)
    dump = Path(err.dump_path).read_text()
    Path(err.dump_path).unlink()
    assert "two_args" in dump  # the IR of the function being compiled
