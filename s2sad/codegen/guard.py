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


def add_guard(source: str, name: str, test: str) -> str:
    """``source`` with the guard of expression ``test`` opening function ``name``, after
    its docstring, every other line where it was.

    Text in, text out: a generated module's function is one ``def`` line, a docstring
    and a body indented by four spaces.  The docstring is written on one line (the same
    string) to make room for the guard's two, so line numbers — tracebacks,
    ``inspect.getsource`` of the function, which reads ``.source`` — stay those of the
    standalone module.  (Parsing and compiling the module's tree instead cost five times
    a plain compile.)"""
    lines = source.split("\n")
    at = next((k for k, line in enumerate(lines) if line.startswith(f"def {name}(")), None)
    if at is None or not lines[at].endswith(":"):
        raise ValueError(f"no one-line `def {name}(...)` to guard")
    a = ast.parse(lines[at] + "\n    pass").body[0].args  # type: ignore[attr-defined]
    args = [p.arg for p in a.posonlyargs + a.args] + ([f"*{a.vararg.arg}"] if a.vararg else [])
    args += [f"{p.arg}={p.arg}" for p in a.kwonlyargs] + (
        [f"**{a.kwarg.arg}"] if a.kwarg else [])
    guard = [f"    if not ({LIVE} and ({test})):",
             f"        return {AGAIN}({', '.join(args)})"]
    first = end = at + 1
    if lines[first].lstrip().startswith('"""'):  # the docstring: up to its closing quotes
        if lines[first].count('"""') == 1:
            end = next(k for k in range(first + 1, len(lines)) if '"""' in lines[k])
        end += 1
        doc = ast.literal_eval("\n".join(lines[first:end]).strip())
        room = end - first - 1  # the lines a one-line docstring frees
        if room >= len(guard):
            pad = [""] * (room - len(guard))
            return "\n".join(lines[:first] + [f"    {doc!r}"] + guard + pad + lines[end:])
    return "\n".join(lines[:end] + guard + lines[end:])  # (lines after it move down)
