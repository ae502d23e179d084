"""Count the pure subexpressions a generated module computes twice (issue 19).

:func:`repeated_subexpressions` reads a module's source and returns, per function,
each pure expression that is evaluated again while every name it reads still holds
the value it held the first time: work a careful person would have shared.

What counts as pure: arithmetic (``a * b``, ``-(a * b)``; not ``-a`` of a name alone,
which costs what a name for it would), calls of ``math.``/``np.``
functions and of the module's own ``_helpers``, ``x.T``, ``x.shape``, and subscripts
of names.  A name is *changed* by an assignment, an augmented assignment, a ``for``
target, or a store into one of its items (``g[i] += t``).  Loops: an expression
computed before a loop is not available inside it if the loop changes a name it
reads; an expression computed inside a loop body is a repeat only within one pass.
Each branch of an ``if`` (and each side of ``a if p else b``, each operand of ``and``/
``or`` after the first) starts from what was available before it; afterwards only
what was available before, and not changed in either branch, stays.
"""

from __future__ import annotations

import ast
from collections import Counter

_PURE_LIBS = ("math", "np", "numpy")


def _names(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name))


def _is_constant_like(node: ast.AST) -> bool:
    """``-1.0``, ``2.0 * 3.0``: no work at run time worth sharing."""
    return not _names(node)


def _pure(node: ast.AST, helpers: frozenset[str]) -> bool:
    if isinstance(node, ast.UnaryOp):  # `-z` of a name: as cheap as a new name for it
        return not isinstance(node.operand, ast.Name | ast.Constant)
    if isinstance(node, ast.BinOp):
        return True
    if isinstance(node, ast.Attribute):
        return node.attr in ("T", "shape") and isinstance(node.value, ast.Name) \
            and node.value.id not in _PURE_LIBS
    if isinstance(node, ast.Subscript):
        return isinstance(node.value, ast.Name) and not isinstance(node.ctx, ast.Store) \
            and node.value.id not in ("tape",) and not node.value.id.startswith("tape")
    if isinstance(node, ast.Call):
        f = node.func
        if isinstance(f, ast.Attribute):
            root = f.value
            while isinstance(root, ast.Attribute):
                root = root.value
            return isinstance(root, ast.Name) and root.id in _PURE_LIBS \
                and f.attr not in ("zeros", "empty", "zeros_like", "ones", "copy")
        return isinstance(f, ast.Name) and f.id in helpers
    return False


def _changed(stmts: list[ast.stmt]) -> set[str]:
    """The names the statements (and their nested blocks) change."""
    out: set[str] = set()
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                out.add(node.id)
            elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                base = node.value
                while isinstance(base, ast.Subscript):
                    base = base.value
                if isinstance(base, ast.Name):
                    out.add(base.id)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("append", "extend", "pop") \
                    and isinstance(node.func.value, ast.Name):
                out.add(node.func.value.id)
    return out


class _Scan:
    def __init__(self, helpers: frozenset[str]) -> None:
        self.helpers = helpers
        self.repeats: Counter[str] = Counter()

    def expr(self, node: ast.AST, avail: dict[str, frozenset[str]]) -> None:
        """Record the pure subexpressions of ``node``, outermost first; a repeated one's
        own subexpressions are not counted again."""
        if isinstance(node, ast.Lambda):
            return
        if isinstance(node, ast.IfExp):  # each side is computed only when chosen
            self.expr(node.test, avail)
            self.expr(node.body, dict(avail))
            self.expr(node.orelse, dict(avail))
            return
        if isinstance(node, ast.BoolOp):  # the operands after the first may not run
            self.expr(node.values[0], avail)
            for v in node.values[1:]:
                self.expr(v, dict(avail))
            return
        if _pure(node, self.helpers) and not _is_constant_like(node):
            key = ast.dump(node)
            if key in avail:
                self.repeats[ast.unparse(node)] += 1
                return
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child, avail)
        if _pure(node, self.helpers) and not _is_constant_like(node):
            avail[ast.dump(node)] = _names(node)

    def block(self, stmts: list[ast.stmt], avail: dict[str, frozenset[str]]) -> None:
        for stmt in stmts:
            self.stmt(stmt, avail)

    @staticmethod
    def kill(avail: dict[str, frozenset[str]], names: set[str]) -> None:
        for key in [k for k, reads in avail.items() if reads & names]:
            del avail[key]

    def stmt(self, stmt: ast.stmt, avail: dict[str, frozenset[str]]) -> None:
        if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
            return
        if isinstance(stmt, ast.If):
            self.expr(stmt.test, avail)
            before = dict(avail)
            for branch in (stmt.body, stmt.orelse):
                self.block(branch, dict(before))
            self.kill(avail, _changed(stmt.body) | _changed(stmt.orelse))
            return
        if isinstance(stmt, ast.For | ast.While):
            head = stmt.iter if isinstance(stmt, ast.For) else stmt.test
            self.expr(head, avail)
            self.kill(avail, _changed([stmt]))
            self.block(stmt.body, dict(avail))
            self.block(stmt.orelse, dict(avail))
            return
        value_parts: list[ast.AST] = []
        if isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign):
            if stmt.value is not None:
                value_parts.append(stmt.value)
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            for t in targets:  # the subscripts of a store are read
                for node in ast.walk(t):
                    if isinstance(node, ast.Subscript):
                        value_parts.append(node.slice)
        elif isinstance(stmt, ast.Return | ast.Expr):
            if stmt.value is not None:
                value_parts.append(stmt.value)
        else:
            value_parts.extend(n for n in ast.iter_child_nodes(stmt) if isinstance(n, ast.expr))
        for part in value_parts:
            self.expr(part, avail)
        self.kill(avail, _changed([stmt]))


def repeated_subexpressions(source: str) -> dict[str, Counter[str]]:
    """Per function of the module: each repeated pure expression and how often it is
    computed again.  The module's helpers (``_unbroadcast`` and the like) are skipped:
    they are written once, in s2sad.runtime, for any shape."""
    tree = ast.parse(source)
    helpers = frozenset(f.name for f in tree.body
                        if isinstance(f, ast.FunctionDef) and f.name.startswith("_"))
    out: dict[str, Counter[str]] = {}
    for f in tree.body:
        if isinstance(f, ast.FunctionDef) and not f.name.startswith("_"):
            scan = _Scan(helpers)
            scan.block(f.body, {})
            if scan.repeats:
                out[f.name] = scan.repeats
    return out
