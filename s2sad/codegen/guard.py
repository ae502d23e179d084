"""The staleness guard of a derivative compiled in this process (the Python API).

A derivative is compiled against the globals, closure values, code and defaults its
function had then (:mod:`s2sad.frontend.environment`).  The API's generated function
opens with two lines that test, on every call, that they are still the same, and hand
the call to the API to compile again when they are not::

    if not _s2sad_fresh():
        return _s2sad_again(x, y)

The guard is added to the tree of the generated module when the API loads it
(:func:`s2sad.codegen.render.load`), which also gives the module's namespace the two
names.  It is not part of the text: ``.source`` and the modules the command line
writes are standalone (the command line bakes the module constants it reads).
"""

from __future__ import annotations

import ast

FRESH = "_s2sad_fresh"
AGAIN = "_s2sad_again"


def add_guard(tree: ast.Module, name: str) -> ast.Module:
    """``tree`` with the guard opening function ``name`` (after its docstring)."""
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
            test = ast.UnaryOp(ast.Not(), ast.Call(ast.Name(FRESH, ast.Load()), [], []))
            docstring = (node.body and isinstance(node.body[0], ast.Expr)
                         and isinstance(node.body[0].value, ast.Constant)
                         and isinstance(node.body[0].value.value, str))
            at = 1 if docstring else 0
            node.body.insert(at, ast.If(test=test, body=[again], orelse=[]))
            return ast.fix_missing_locations(tree)
    raise ValueError(f"no function {name!r} to guard")
