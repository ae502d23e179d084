"""Generated code contains only names from the user's source or from s2sad's naming scheme,
and no string but docstrings: nothing of the input is ever pasted into code as text.

Every function of the example and fixture files is compiled in every kind that applies
(grad in both modes, value_and_grad, jvp, vjp, hessian, jacobian), as the command line
does (the file is parsed, never run), and the generated module is read back with
``ast``:

* each identifier (names, attributes' bases, function and parameter names, keyword
  names) is an identifier of the source file, a derived name built from one
  (``x_bar``, ``x_dot``, ``x_bar_dot_1``, ``d2f_dx_dy``), an s2sad temporary (``_t3``),
  one of s2sad's fixed names (``tape``, the Hessian/Jacobian drivers' loop names),
  a builtin that s2sad emits, or a helper that s2sad pastes (``_unbroadcast`` …);
* each string constant is a docstring.
"""

from __future__ import annotations

import ast
import builtins
import re
from pathlib import Path

import pytest

from s2sad import runtime
from s2sad.drivers import DRIVER_HELPERS
from s2sad.errors import S2SADError
from s2sad.frontend import lower, parse_file
from s2sad.pipeline import derive, generate

ROOT = Path(__file__).resolve().parents[1]
FILES = [ROOT / "examples" / "textbook.py", ROOT / "examples" / "rosenbrock.py",
         ROOT / "examples" / "polar.py", ROOT / "tests" / "fixtures" / "control.py",
         ROOT / "tests" / "fixtures" / "sequences.py", ROOT / "tests" / "fixtures" / "good.py"]
KINDS = [("grad", "reverse"), ("grad", "forward"), ("value_and_grad", "reverse"),
         ("jvp", "forward"), ("vjp", "reverse"), ("hessian", "reverse"),
         ("jacobian", "reverse"), ("jacobian", "forward")]
# names s2sad itself introduces: the tape and trip count of a loop's reverse sweep, the
# loop variables and accumulators of the Hessian and Jacobian drivers
FIXED = {"tape", "n", "wrt", "H", "J", "k", "p", "q", "i", "e", "v", "l", "column", "row",
         "h", "t", "ys", "y_dots", "o", "y", "y_dot", "c", "bars", "bar", "u", "math", "np",
         "numpy", "_", "broke", "argmax", "argmin", "out"}
HELPERS = set(runtime.HELPERS) | set(DRIVER_HELPERS)
DERIVED = re.compile(r"^_?(?P<base>[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*?_*)"
                     r"(?:_(?:bar|dot|\d+))*$")
SECOND = re.compile(r"^d\d*(?P<out>[A-Za-z0-9_]+?)_d(?P<a>[A-Za-z0-9_]+?)"
                    r"(?:_d(?P<b>[A-Za-z0-9_]+))?(?:_\d+)?$")


def _identifiers(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            out.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, ast.arg):
            out.add(node.arg)
        elif isinstance(node, ast.keyword) and node.arg:
            out.add(node.arg)
        elif isinstance(node, ast.alias):
            out.add(node.asname or node.name.split(".")[0])
    return out


def _strings(tree: ast.Module) -> list[str]:
    """The string constants that are not docstrings."""
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef)) and node.body and isinstance(
                node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            docstrings.add(id(node.body[0].value))
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings]


FUNCTION = re.compile(r"^_?(?:grad|value_and_grad|jvp|vjp|hessian|hvp|jacobian|values)_"
                      r"(?P<base>\w+)$")


def _allowed(name: str, source_names: set[str]) -> bool:
    m = FUNCTION.match(name)  # the generated functions: grad_f, hvp_f, _jvp_f …
    if m and m.group("base") in source_names:
        return True
    if name in source_names or name in FIXED or name in HELPERS or hasattr(builtins, name):
        return True
    if re.fullmatch(r"_t\d+", name):
        return True
    m = DERIVED.match(name)
    bases = {m.group("base"), m.group("base").rstrip("_")} if m else set()  # `math_` too
    if any(b in source_names or b in FIXED or re.fullmatch(r"out\d+", b) for b in bases):
        return True
    m = SECOND.match(name)
    return bool(m) and all(g is None or g in source_names or g == "f"
                           for g in (m.group("a"), m.group("b")))


def _cases():
    k = 0
    for path in FILES:
        module = parse_file(path)
        for name in module.functions:  # every other function in the slow layer
            k += 1
            yield pytest.param(path, name, id=f"{path.stem}.{name}",
                               marks=() if k % 2 else pytest.mark.slow)


@pytest.mark.parametrize("path, name", list(_cases()))
def test_generated_code_uses_only_source_names_and_no_pasted_strings(path, name):
    module = parse_file(path)
    source_names = _identifiers(module.tree)
    try:
        fn = lower(module.functions[name])
    except S2SADError:
        pytest.skip("not differentiable (its errors are tested in test_errors.py)")
    helper_defs = {h: ast.parse(runtime.HELPERS[h]) for h in runtime.HELPERS}
    compiled = 0
    for kind, mode in KINDS:
        try:
            derived = derive(fn, kind, 0, mode)
        except S2SADError:
            continue  # this kind does not apply (a tuple output's grad, …)
        tree = ast.parse(generate([derived]))
        own = [n for n in tree.body if not (isinstance(n, ast.FunctionDef) and n.name in HELPERS)]
        body = ast.Module(body=own, type_ignores=[])
        bad = sorted(n for n in _identifiers(body) if not _allowed(n, source_names))
        assert not bad, (kind, mode, bad)
        assert not _strings(body), (kind, mode, _strings(body))
        for node in tree.body:  # pasted helpers are s2sad's own text, unchanged
            if isinstance(node, ast.FunctionDef) and node.name in runtime.HELPERS:
                assert ast.dump(node) == ast.dump(helper_defs[node.name].body[0])
        compiled += 1
    assert compiled, f"no kind compiled {name}"
