"""A stable textual form of the IR, for tests, `s2sad ir` and error dumps.

    func f(%0 x: float, %1 y: float) {
      %2: float = sin[lib=math](%0)          # f.py:3
      %3 z: float = mul(%2, %1)
      return %3
    }
"""

from __future__ import annotations

from .core import Block, Function, Op, Value


def _v(v: Value) -> str:
    return f"%{v.id}" + (f" {v.hint}" if v.hint else "")


def format_op(op: Op, indent: str = "  ") -> str:
    results = ", ".join(f"{_v(r)}: {r.kind.value}" for r in op.results)
    if op.prim == "const":
        rhs = repr(op.attr("value"))
    else:
        attrs = ", ".join(f"{k}={v!r}" if k != "lib" else f"lib={v}" for k, v in op.attrs)
        operands = ", ".join(f"%{v.id}" for v in op.operands)
        rhs = f"{op.prim}{f'[{attrs}]' if attrs else ''}({operands})"
    text = f"{indent}{results} = {rhs}"
    if op.loc is not None:
        text = f"{text:<48} # {op.loc.filename.rsplit('/', 1)[-1]}:{op.loc.lineno}"
    return text


def _block_lines(block: Block, indent: str) -> list[str]:
    lines = []
    for op in block.ops:
        lines.append(format_op(op, indent))
        for i, region in enumerate(op.regions):
            args = ", ".join(_v(a) for a in region.args)
            lines.append(f"{indent}  region {i}({args}) {{")
            lines.extend(_block_lines(region, indent + "    "))
            lines.append(f"{indent}  }}")
    if block.yields and indent.strip() == "" and len(indent) > 2:
        lines.append(f"{indent}yield " + ", ".join(f"%{v.id}" for v in block.yields))
    return lines


def format_function(fn: Function) -> str:
    params = ", ".join(f"{_v(p)}: {p.kind.value}" for p in fn.params)
    lines = [f"func {fn.name}({params}) {{"]
    lines.extend(_block_lines(fn.body, "  "))
    lines.append("  return " + ", ".join(f"%{v.id}" for v in fn.results)
                 + (f"  # structure {fn.structure!r}" if fn.structure != 0 else ""))
    lines.append("}")
    return "\n".join(lines)
