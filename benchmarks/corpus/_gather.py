# ruff: noqa: E501
"""Trim a public source file to the named top-level functions/classes plus what they need.
(The tool that rebuilds the corpus from local mirrors: see README.md.)"""
import ast
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent


def names_in(node):
    out = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
    return out


def bound(stmt):
    if isinstance(stmt, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        s = set()
        for t in targets:
            s |= names_in(t)
        return s
    return set()


def gather(repo, commit, path, keep, out_name, header, rewrite=(), extra_imports=()):
    src = subprocess.run(["git", "-C", repo, "show", f"{commit}:{path}"], capture_output=True,
                         text=True, check=True).stdout
    lines = src.splitlines()
    tree = ast.parse(src)
    stmts = tree.body
    by_name = {}
    for i, s in enumerate(stmts):
        for n in bound(s):
            by_name.setdefault(n, []).append(i)
    want = set(keep)
    chosen = set()
    todo = list(keep)
    while todo:
        n = todo.pop()
        for i in by_name.get(n, []):
            if i in chosen:
                continue
            s = stmts[i]
            if isinstance(s, (ast.Import, ast.ImportFrom)):
                chosen.add(i)
                continue
            chosen.add(i)
            for m in names_in(s) - want:
                want.add(m)
                todo.append(m)
    parts = []
    for i in sorted(chosen):
        s = stmts[i]
        if isinstance(s, (ast.Import, ast.ImportFrom)):
            # keep only the aliases used
            used = [a for a in s.names if (a.asname or a.name).split(".")[0] in want]
            if not used:
                continue
            if len(used) != len(s.names):
                names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in used)
                text = f"from {'.' * s.level}{s.module} import {names}" if isinstance(s, ast.ImportFrom) \
                    else f"import {names}"
            else:
                text = "\n".join(lines[s.lineno - 1:s.end_lineno])
        else:
            first = min([s.lineno] + [d.lineno for d in getattr(s, "decorator_list", [])])
            text = "\n".join(lines[first - 1:s.end_lineno])
        for a, b in rewrite:
            if isinstance(s, (ast.Import, ast.ImportFrom)):
                text = text.replace(a, b)
        parts.append((s, text))
    imports = [t for s, t in parts if isinstance(s, (ast.Import, ast.ImportFrom))]
    body = [t for s, t in parts if not isinstance(s, (ast.Import, ast.ImportFrom))]
    missing = set(keep) - set(by_name)
    if missing:
        print("MISSING", out_name, missing, file=sys.stderr)
    text = header.rstrip() + "\n" + "\n".join(list(extra_imports) + imports) + "\n\n\n" + "\n\n\n".join(body) + "\n"
    (OUT / out_name).write_text(text)
    ast.parse(text)
    return text
