"""The staleness guard of a derivative compiled in this process (the Python API).

A derivative is compiled against the globals, closure values, code and defaults its
function had then (:mod:`s2sad.frontend.environment`).  The API's generated function
opens with a test, on every call, that they are still the same objects, and hands the
call to the API to compile again when they are not::

    if not (_s2sad_live and _s2sad_o0.__code__ is _s2sad_e0 and ...
            and _s2sad_g1['SCALE'] is _s2sad_e3):
        return _s2sad_again(x, y)

The test is the snapshot's (``Snapshot.test``): identity tests against objects the API
puts in the module's namespace, inline, so that a call pays no extra function call
(about 40 ns for a function that reads a module or two).  The guard is added to the
tree of the generated module when the API loads it (:func:`s2sad.codegen.render.load`).
It is not part of the text: ``.source`` and the modules the command line writes are
standalone (the command line bakes the module constants it reads).
"""

from __future__ import annotations

import ast

LIVE = "_s2sad_live"
AGAIN = "_s2sad_again"


def add_guard(tree: ast.Module, name: str, test: str) -> ast.Module:
    """``tree`` with the guard of expression ``test`` opening function ``name`` (after
    its docstring)."""
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            a = node.args
            args: list[ast.expr] = [ast.Name(p.arg, ast.Load())
                                    for p in a.posonlyargs + a.args]
            if a.vararg:
                args.append(ast.Starred(ast.Name(a.vararg.arg, ast.Load()), ast.Load()))
            keywords = [ast.keyword(p.arg, ast.Name(p.arg, ast.Load())) for p in a.kwonlyargs]
            if a.kwarg:
                keywords.append(ast.keyword(None, ast.Name(a.kwarg.arg, ast.Load())))
            again = ast.Return(ast.Call(ast.Name(AGAIN, ast.Load()), args, keywords))
            check = ast.parse(f"{LIVE} and ({test})", mode="eval").body
            test_node = ast.UnaryOp(ast.Not(), check)
            docstring = (node.body and isinstance(node.body[0], ast.Expr)
                         and isinstance(node.body[0].value, ast.Constant)
                         and isinstance(node.body[0].value.value, str))
            at = 1 if docstring else 0
            node.body.insert(at, ast.If(test=test_node, body=[again], orelse=[]))
            return ast.fix_missing_locations(tree)
    raise ValueError(f"no function {name!r} to guard")
