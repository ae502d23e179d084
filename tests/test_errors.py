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
STATIC_ONLY = {"uses_reassigned_global",
               "star_args"}  # the API compiles *xs for the arguments of the call


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
    with pytest.raises(s2sad.S2SADError) as info:
        _grad_of_numbers(getattr(unsupported, name))
    _check(info.value, lineno, col, msg)


def _grad_of_numbers(fn):
    """``s2sad.grad(fn)``, and a call with numbers when it compiles at its first call (a
    function that may take a container): the error the user meets either way."""
    g = s2sad.grad(fn)
    return g(*[1.5] * fn.__code__.co_argcount)


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
            _grad_of_numbers(getattr(unsupported, name))
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


def test_a_lambda_without_source_is_rejected():
    f = eval("lambda x: x * x")  # noqa: S307 - a lambda whose source no file holds
    with pytest.raises(s2sad.UnsupportedError, match="lambda"):
        s2sad.grad(f)


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


# -- every "instead" works: the fixtures rewritten as their hints say ------------------------

FIXED_EXTRA = ["for_else_with_break"]  # second spellings
POSITIVE = {"uses_unknown_math"}  # Γ and ψ of x > 0
FLOATS = (-1.37, 0.61, 2.43)  # away from the kinks of the branchy cases (integers)


def _fixed_args(fn, k: int) -> tuple:
    """Arguments for a rewritten fixture: floats, lists of floats (``xs``, ``values``), or
    arrays of a shape that fits the parameter's name; ``k`` picks one point of several."""
    import numpy as np

    rng = np.random.default_rng(k)
    args = []
    for name, p in inspect.signature(fn).parameters.items():
        if p.annotation is np.ndarray:
            shape = {"A": (3, 3), "b": (3,), "Ws": (3, 2, 2), "bs": (3, 2), "M": (2, 2)}.get(
                name, (2,) if "Ws" in inspect.signature(fn).parameters else (4,))
            a = rng.uniform(-1.5, 1.5, shape)
            args.append(a + 3.0 * np.eye(3) if name == "A" else a)
        elif name in ("xs", "values"):
            args.append([float(v) for v in rng.uniform(-2.0, 2.0, 4)])
        else:
            x = FLOATS[k] + 0.11 * len(args)
            args.append(abs(x) + 0.2 if fn.__name__ in POSITIVE else x)
    return tuple(args)


def _fd(fn, args: tuple, i: int):
    import numpy as np

    from tests.test_numpy import fd_grad

    if isinstance(args[i], list):  # a list argument: one item at a time
        def g(*a):
            return fn(*a[:i], list(a[i]), *a[i + 1:])
        return fd_grad(g, (*args[:i], np.array(args[i]), *args[i + 1:]), i)
    return fd_grad(fn, args, i)


@pytest.mark.parametrize("name", [p.values[0] for p in CASES] + FIXED_EXTRA)
def test_every_hint_gives_code_that_compiles_and_differentiates_correctly(name):
    import numpy as np

    from tests.fixtures import unsupported_fixed as fixed

    fn = getattr(fixed, name)
    for k in range(3):
        args = _fixed_args(fn, k)
        for i in range(len(args)):
            got = s2sad.grad(fn, wrt=i)(*args)
            np.testing.assert_allclose(np.asarray(got, dtype=float), _fd(fn, args, i),
                                       rtol=1e-6, atol=1e-8, err_msg=f"{name} at {args}, ∂/∂{i}")


def _quoted_hint(fn) -> list[str]:
    """The pieces of the hint a rewritten fixture quotes in its comment (``# "..."``)."""
    src = inspect.getsource(fn)
    m = re.search(r'# (?:.*?)"(.+)"', src)
    assert m, f"{fn.__name__} quotes no hint"
    return [p.strip(" .") for p in re.split(r"\.\.\.|…", m.group(1)) if p.strip(" .")]


@pytest.mark.parametrize("name", [p.values[0] for p in CASES] + FIXED_EXTRA)
def test_each_rewrite_follows_its_errors_hint(name):
    from tests.fixtures import unsupported_fixed as fixed

    case = name if name not in FIXED_EXTRA else {"for_else_with_break": "for_else"}[name]
    module = parse_file(FIXTURE)
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.pipeline.derive(lower(module.functions[case]), "grad")
    for piece in _quoted_hint(getattr(fixed, name)):
        assert piece in str(info.value), (piece, str(info.value))


# -- the messages that used to send users the wrong way --------------------------------------

MISLEADING = [  # (case, text its error used to give, which was wrong for it)
    ("unpacks_list_items", "iterating over an array"),
    ("joins_lists", "pass the values as a list argument"),
    ("indexes_nested_list", "pass the values as a list argument"),
    ("indexes_a_dict", "use numeric values only"),
    ("assigns_through_another_name", "item assignment into the argument `x` (an array"),
    ("pops_a_list", "use a NumPy function on the value"),
    ("calls_the_standard_library", "use math or numpy functions"),
    ("uses_builtin_sorted", "use math or numpy functions"),
    ("uses_solve_keyword", "pass the arguments by position |"),
    ("while_changes_nothing", "assign the loop's variables before the loop"),
    ("recursive", "in a later version"),
]


@pytest.mark.parametrize("case, old", MISLEADING)
def test_misleading_advice_is_gone(case, old):
    with pytest.raises(s2sad.S2SADError) as info:
        _grad_of_numbers(getattr(unsupported, case))
    text = str(info.value) + " |"
    assert old not in text, text


def test_a_library_call_is_refused_at_the_users_call_site():
    # statistics.fmean is Python source in the standard library: s2sad used to inline it and
    # report an error inside statistics.py
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(unsupported.calls_the_standard_library)
    err = info.value
    assert Path(err.filename).resolve() == FIXTURE.resolve()
    assert "statistics.fmean" in err.what and "np.mean" in err.hint


RULE_CALLS_A_LIBRARY = '''
import numpy as np
import s2sad
from scipy.special import exp10  # (a function s2sad has no rule for)


def myexp10_partials(x):
    return np.log(10.0) * exp10(x)


@s2sad.primitive(partials=myexp10_partials)
def myexp2(x):
    return 10.0 ** x


def f(x):
    return myexp2(x) * x
'''


def test_a_rule_calling_a_library_function_says_to_wrap_it_in_a_primitive():
    from tests.srcmod import load_source

    module = load_source(RULE_CALLS_A_LIBRARY, "rule_library")
    with pytest.raises(s2sad.S2SADError) as info:
        s2sad.grad(module.f)
    err = info.value
    assert err.lineno == 8 and "exp10" in err.what  # the rule's line
    assert "@s2sad.primitive(partials=exp10_partials)" in err.hint
    assert "def exp10_primitive(x): return exp10(x)" in err.hint


def test_the_wrapper_the_rule_hint_shows_works():
    # The fix of the test above, as its hint says: the rule calls a primitive of its own
    # (whose partials a first derivative does not need, but which are right here too).
    from tests.oracles import derivative
    from tests.srcmod import load_source

    fixed = RULE_CALLS_A_LIBRARY.replace("* exp10(x)", "* exp10_primitive(x)")
    fixed += '''

def exp10_partials(x):
    return np.log(10.0) * exp10_primitive(x)


@s2sad.primitive(partials=exp10_partials)
def exp10_primitive(x):
    return exp10(x)
'''
    module = load_source(fixed, "rule_library_fixed")
    for mode in ("reverse", "forward"):
        g = s2sad.grad(module.f, mode=mode)
        for x in (-1.7, 0.3, 2.2):
            assert g(x) == pytest.approx(derivative(module.f, x), rel=1e-9)
    # the second derivative uses exp2_primitive's partials, read when needed
    g2 = s2sad.grad(s2sad.grad(module.f))
    for x in (-1.7, 0.3, 2.2):
        assert g2(x) == pytest.approx(derivative(s2sad.grad(module.f), x), rel=1e-7)
