"""The IR's data structures: structured SSA.

A :class:`Function` has parameters, a body :class:`Block` and the values it
returns.  A block is an ordered list of :class:`Op` plus block arguments (the
φ-nodes of structured control flow) and the values it yields.  An op applies
one primitive (see :mod:`s2sad.primitives`) to operand values and defines new
result values; structured control flow (``cond``, loops) keeps its bodies as
nested regions, in the manner of MLIR's ``scf`` dialect.

Every value is defined exactly once.  Values are compared by identity; their
``hint`` (a name from the source such as ``x`` or ``loss``) only guides
printing and code generation.  Values and ops are never mutated after they are
built: passes build new IR.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from ..errors import Loc


class Kind(enum.Enum):
    """What a value holds. FLOAT, LIST and ARRAY values are differentiable."""

    FLOAT = "float"
    ARRAY = "array"  # a NumPy float ndarray of a shape known only at run time
    INT = "int"
    BOOL = "bool"
    LIST = "list"  # a Python list (or tuple, or 1-D array) of floats
    TAPE = "tape"  # a stack that reverse mode pushes to and pops from

    @property
    def differentiable(self) -> bool:
        return self in (Kind.FLOAT, Kind.LIST, Kind.ARRAY)


def join_kinds(a: Kind, b: Kind) -> Kind:
    """The kind of a value that is ``a`` on one path and ``b`` on another."""
    if a is b:
        return a
    numeric = (Kind.BOOL, Kind.INT, Kind.FLOAT, Kind.ARRAY)
    if a in numeric and b in numeric:
        return max(a, b, key=numeric.index)
    raise ValueError(f"cannot join kinds {a.value} and {b.value}")


@dataclass(eq=False, frozen=True)
class Value:
    """An SSA value. Identity is the value: two Values are equal only if they are one."""

    id: int
    kind: Kind
    hint: str | None = None

    def __repr__(self) -> str:
        return f"%{self.id}" + (f"<{self.hint}>" if self.hint else "")


Attrs = tuple[tuple[str, Any], ...]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_DEFAULT: Any = _Marker("NO_DEFAULT")


@dataclass(frozen=True, eq=False)
class FunctionDefault:
    """The default of a parameter that is a function (``act=np.tanh``), a bool, a string
    or ``None`` (``keepdims=False``): a compile-time choice.  ``value`` is the object
    (the generated code checks it is what it gets), ``spelled`` how the command line
    writes it (``np.tanh``), if it can."""

    value: Any
    spelled: str | None = None
@dataclass(frozen=True, eq=False)
class ArrayDefault:
    """The default of a parameter that is a NumPy array (``alpha=np.asarray([...])``): an
    ordinary parameter, whose default the generated module holds by name (the same
    array object the ``def`` made)."""

    value: Any
    spelled: None = None  # never written out: the API puts it in the module's namespace


KEYWORD_ONLY: Any = _Marker("KEYWORD_ONLY")  # a parameter passed by keyword only


@dataclass(frozen=True)
class Static:
    """A leaf of a container that is not a number (a string, ``None``, a bool, a
    function): a compile-time value, part of the structure the function was compiled
    for.  In a derivative's result it is ``None`` (it has no derivative)."""

    value: Any


@dataclass(frozen=True, eq=False)
class Pack:
    """A container laid out over flat values (see :mod:`s2sad.frontend.containers`).

    ``kind`` is ``"list"``, ``"tuple"``, ``"dict"``, ``"namedtuple"`` or
    ``"dataclass"``; ``cls`` the class of the last two; ``keys`` the dict's keys or the
    fields' names (empty for a list or tuple).  Each of ``items`` is an int (the index
    of a parameter, in a signature, or of a result, in a result structure), a nested
    Pack, or a :class:`Static`.  ``like`` (results only) names the argument whose
    class a namedtuple or dataclass result is rebuilt from (``params._replace(...)``);
    ``sources`` gives, for each int item, the parameter it is the derivative of, and
    ``suffix`` how to name it (``W``'s ``W_bar``), so that the generated code names
    each part.
    """

    kind: str
    cls: Any
    keys: tuple
    items: tuple
    like: str | None = None
    sources: tuple = ()
    suffix: str = "bar"

    def leaves(self):
        """The ints of ``items``, depth first."""
        for item in self.items:
            if isinstance(item, Pack):
                yield from item.leaves()
            elif isinstance(item, int):
                yield item


@dataclass(frozen=True)
class Packed:
    """A parameter of the source signature that is a container: its name, and how its
    leaves are laid out over the function's flat parameters."""

    name: str
    pack: Pack
    star: bool = False  # ``*args``: the extra positional arguments, as a tuple


@dataclass(eq=False, frozen=True)
class Op:
    """One application of a primitive.

    ``attrs`` are static (a constant, an exponent known at compile time, the
    library a call was spelled with); they are part of an op's identity for CSE.
    """

    prim: str
    operands: tuple[Value, ...]
    results: tuple[Value, ...]
    attrs: Attrs = ()
    loc: Loc | None = None
    regions: tuple[Block, ...] = ()

    def attr(self, name: str, default: Any = None) -> Any:
        for key, val in self.attrs:
            if key == name:
                return val
        return default

    @property
    def result(self) -> Value:
        (res,) = self.results
        return res


@dataclass(eq=False)
class Block:
    """A region: block arguments, ops in order, and the values it yields."""

    args: tuple[Value, ...] = ()
    ops: list[Op] = field(default_factory=list)
    yields: tuple[Value, ...] = ()


@dataclass(frozen=True)
class SourceInfo:
    """Where a function came from, for headers and error messages."""

    filename: str
    qualname: str
    firstlineno: int = 1


@dataclass(eq=False)
class Function:
    """A function in IR form.

    ``results`` are the returned values; ``structure`` says how they are
    returned: an int ``i`` returns ``results[i]`` alone, a (nested) tuple of
    ints returns a (nested) tuple, e.g. ``(0, (1, 2))`` for
    ``(value, (x_bar, y_bar))``; a :class:`Pack` returns a container.  ``defaults``
    holds the default of each parameter (or :data:`NO_DEFAULT`; :data:`KEYWORD_ONLY`
    for a parameter, without a default, that follows the positional ones and is
    passed by keyword).
    ``names_used`` is every identifier of the user's source, so that code
    generation can pick names that never clash with them.
    """

    name: str
    params: tuple[Value, ...]
    body: Block
    structure: Any = 0
    defaults: tuple[Any, ...] = ()
    # names of ``*args`` / ``**kwargs`` the signature accepts and the body never reads
    # (SciPy's ``fun(self, x, *args)``): the generated signature keeps them
    star: tuple[str | None, str | None] = (None, None)
    source: SourceInfo | None = None
    names_used: frozenset[str] = frozenset()
    docstring: str | None = None
    # the source signature when some parameters are containers: for each, the index of
    # its (one) parameter, or a Packed laying its leaves out over ``params``
    arguments: tuple[int | Packed, ...] | None = None

    @property
    def results(self) -> tuple[Value, ...]:
        return self.body.yields

    @property
    def returns_tuple(self) -> bool:
        return isinstance(self.structure, tuple)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.hint or f"arg{i}" for i, p in enumerate(self.params))


def walk_ops(block: Block):
    """Every op of a block and of its nested regions, in program order."""
    for op in block.ops:
        yield op
        for region in op.regions:
            yield from walk_ops(region)


def values_read(block: Block) -> set[Value]:
    """Every value a block's ops and yields read, at any depth of nesting."""
    read = set(block.yields)
    for op in block.ops:
        read.update(op.operands)
        for region in op.regions:
            read |= values_read(region)
    return read


def count_ops(fn: Function, *, ignore_consts: bool = True) -> int:
    """Number of ops in ``fn`` (constants excluded by default): the size measure of tests."""
    return sum(1 for op in walk_ops(fn.body) if not (ignore_consts and op.prim == "const"))
