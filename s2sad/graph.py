"""The computation graph of a function — the DAG the AD textbooks draw — as DOT or Mermaid.

Nodes are the function's inputs (its parameters), one node per op (labelled
with the operation and, when the source named the result, that name:
``r1 = -``), constants, and the outputs.  An edge runs from each operand to
the op that uses it; the operands of a non-commutative op are labelled in
order.  The graph is drawn from the IR, so it works at every stage: the lifted
function, or its (unoptimised or optimised) derivative.

Ops with nested regions (structured control flow) are drawn as one node, with
each region as a cluster (DOT) or subgraph (Mermaid) holding its block
arguments, its ops and a ``yield`` node, whose edge back to the op is
labelled with the region's number.

>>> from s2sad import lift
>>> def f(x, y):
...     return x * y + y
>>> print(to_mermaid(lift(f)).splitlines()[0])
flowchart LR
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import primitives as P
from .ir.core import Block, Function, Op, Value, walk_ops

_SYMBOLS = {
    "add": "+", "sub": "-", "mul": "*", "div": "/", "neg": "neg", "pow": "**",
    "floordiv": "//", "mod": "%", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "eq": "==",
    "ne": "!=", "not": "not", "max2": "max", "min2": "min",
}
_OPERAND_NAMES = {"select": ("cond", "then", "else")}


def op_label(op: Op) -> str:
    """``sin``, ``+``, ``** 3``, with the source name of the result in front: ``r1 = -``."""
    if op.prim == "const":
        return _const_text(op.attr("value"))
    if op.prim == "powc":
        text = f"** {_const_text(op.attr('exponent'))}"
    else:
        text = _SYMBOLS.get(op.prim, op.prim)
    names = [r.hint for r in op.results if r.hint]
    if names:
        text = f"{', '.join(names)} = {text}"
    return text


def _const_text(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e16:
        return repr(value)
    return repr(value) if not isinstance(value, float) else f"{value:.6g}"


def _edge_labels(op: Op) -> list[str | None]:
    n = len(op.operands)
    if op.prim in _OPERAND_NAMES:
        names = _OPERAND_NAMES[op.prim]
        return [names[i] if i < len(names) else None for i in range(n)]
    prim = P.PRIMITIVES.get(op.prim)
    if n >= 2 and not (prim is not None and prim.commutative):
        return [str(i + 1) for i in range(n)]
    return [None] * n


@dataclass
class _Node:
    id: str
    label: str
    kind: str  # "input" | "op" | "const" | "output" | "arg" | "yield"
    tooltip: str | None = None


@dataclass
class _Cluster:
    id: str
    label: str
    nodes: list[_Node] = field(default_factory=list)
    clusters: list[_Cluster] = field(default_factory=list)


@dataclass
class _Graph:
    root: _Cluster
    edges: list[tuple[str, str, str | None]] = field(default_factory=list)


def _output_labels(fn: Function) -> list[str]:
    labels: dict[int, str] = {}

    def walk(s, path: str) -> None:
        if isinstance(s, tuple):
            for k, sub in enumerate(s):
                walk(sub, f"{path}[{k}]")
        else:
            labels[s] = path

    walk(fn.structure, fn.name)
    return [labels.get(i, f"{fn.name}[{i}]") for i in range(len(fn.results))]


def build(fn: Function) -> _Graph:
    """The graph as nodes, clusters and edges (shared by both renderers)."""
    root = _Cluster("root", fn.name)
    graph = _Graph(root)
    where: dict[Value, str] = {}
    counter = [0]

    def new_id(prefix: str) -> str:
        counter[0] += 1
        return f"{prefix}{counter[0]}"

    for p in fn.params:
        nid = f"in{p.id}"
        root.nodes.append(_Node(nid, p.hint or f"%{p.id}", "input"))
        where[p] = nid

    used = {v for op in walk_ops(fn.body) for v in op.operands}
    used |= {v for op in walk_ops(fn.body) for region in op.regions for v in region.yields}
    used |= set(fn.results)

    def add_block(block: Block, cluster: _Cluster) -> None:
        for op in block.ops:
            if op.prim == "const" and not any(r in used for r in op.results):
                continue  # e.g. the `3` of `x ** 3`, now an attribute of the op
            kind = "const" if op.prim == "const" else "op"
            nid = new_id("c" if kind == "const" else "n")
            tip = f"{op.loc.filename.rsplit('/', 1)[-1]}:{op.loc.lineno}" if op.loc else None
            cluster.nodes.append(_Node(nid, op_label(op), kind, tip))
            for v, label in zip(op.operands, _edge_labels(op), strict=True):
                if v in where:
                    graph.edges.append((where[v], nid, label))
            for r in op.results:
                where[r] = nid
            for k, region in enumerate(op.regions):
                name = _SYMBOLS.get(op.prim, op.prim)
                sub = _Cluster(new_id("cluster"), f"{name}: region {k}")
                cluster.clusters.append(sub)
                for a in region.args:
                    aid = new_id("a")
                    sub.nodes.append(_Node(aid, a.hint or f"%{a.id}", "arg"))
                    where[a] = aid
                add_block(region, sub)
                if region.yields:
                    yid = new_id("y")
                    sub.nodes.append(_Node(yid, "yield", "yield"))
                    for y in region.yields:
                        if y in where:
                            graph.edges.append((where[y], yid, None))
                    graph.edges.append((yid, nid, f"region {k}"))

    add_block(fn.body, root)
    for i, (v, label) in enumerate(zip(fn.results, _output_labels(fn), strict=True)):
        oid = f"out{i}"
        root.nodes.append(_Node(oid, label, "output"))
        if v in where:
            graph.edges.append((where[v], oid, None))
    return graph


# -- DOT -------------------------------------------------------------------------------------

_DOT_STYLE = {
    "input": 'shape=ellipse, style=filled, fillcolor="#dbeafe"',
    "arg": 'shape=ellipse, style=dashed',
    "yield": 'shape=cds, fontsize=9',
    "op": 'shape=box, style="rounded,filled", fillcolor="#f3f4f6"',
    "const": 'shape=plaintext, fontcolor="#6b7280"',
    "output": 'shape=doublecircle, style=filled, fillcolor="#dcfce7"',
}


def _dot_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(fn: Function) -> str:
    """Graphviz DOT text of ``fn``'s computation graph (render with ``dot -Tsvg``)."""
    g = build(fn)
    lines = [f"digraph {_dot_str(fn.name)} {{",
             "  rankdir=LR;",
             '  graph [fontname="Helvetica", fontsize=10];',
             '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9, color="#4b5563"];']

    def emit(cluster: _Cluster, indent: str) -> None:
        for n in cluster.nodes:
            attrs = f"label={_dot_str(n.label)}, {_DOT_STYLE[n.kind]}"
            if n.tooltip:
                attrs += f", tooltip={_dot_str(n.tooltip)}"
            lines.append(f"{indent}{n.id} [{attrs}];")
        for sub in cluster.clusters:
            lines.append(f"{indent}subgraph {sub.id} {{")
            lines.append(f"{indent}  label={_dot_str(sub.label)}; style=dashed;")
            emit(sub, indent + "  ")
            lines.append(f"{indent}}}")

    emit(g.root, "  ")
    for src, dst, label in g.edges:
        lines.append(f"  {src} -> {dst}" + (f" [label={_dot_str(label)}]" if label else "") + ";")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- Mermaid ---------------------------------------------------------------------------------

_MERMAID_SHAPE = {
    "input": ('(["', '"])'),
    "arg": ('(["', '"])'),
    "yield": ('>"', '"]'),
    "op": ('["', '"]'),
    "const": ('{{"', '"}}'),
    "output": ('((("', '")))'),
}


def _mermaid_text(text: str) -> str:
    return (text.replace("&", "#38;").replace('"', "#34;").replace("<", "#60;")
            .replace(">", "#62;").replace("\n", "<br/>"))


def to_mermaid(fn: Function) -> str:
    """Mermaid flowchart text of ``fn``'s computation graph (GitHub renders it in Markdown)."""
    g = build(fn)
    lines = ["flowchart LR"]

    def emit(cluster: _Cluster, indent: str) -> None:
        for n in cluster.nodes:
            left, right = _MERMAID_SHAPE[n.kind]
            lines.append(f"{indent}{n.id}{left}{_mermaid_text(n.label)}{right}")
        for sub in cluster.clusters:
            lines.append(f'{indent}subgraph {sub.id} ["{_mermaid_text(sub.label)}"]')
            emit(sub, indent + "  ")
            lines.append(f"{indent}end")

    emit(g.root, "  ")
    for src, dst, label in g.edges:
        arrow = f'-->|"{_mermaid_text(label)}"|' if label else "-->"
        lines.append(f"  {src} {arrow} {dst}")
    lines.append("  classDef input fill:#dbeafe,stroke:#1d4ed8")
    lines.append("  classDef output fill:#dcfce7,stroke:#15803d")
    lines.append("  classDef const fill:#ffffff,stroke:#9ca3af,color:#6b7280")
    for kind in ("input", "output", "const"):
        ids = [n.id for n in _all_nodes(g.root) if n.kind == kind]
        if ids:
            lines.append(f"  class {','.join(ids)} {kind}")
    return "\n".join(lines) + "\n"


def _all_nodes(cluster: _Cluster) -> list[_Node]:
    out = list(cluster.nodes)
    for sub in cluster.clusters:
        out.extend(_all_nodes(sub))
    return out
