"""``s2sad``: the command line of the s2sad compiler (also ``python -m s2sad``).

Commands::

    s2sad grad           SRC.py [-f NAME]... [--wrt x,y] [--mode reverse|forward] [-o OUT.py]
                         [--checkpoints K|auto [--tape-budget 64MB]]
    s2sad value-and-grad SRC.py ...        # like grad, returning (value, gradient)
    s2sad jvp            SRC.py [-f NAME]... [--wrt x,y] [-o OUT.py]
    s2sad vjp            SRC.py [-f NAME]... [--wrt x,y] [-o OUT.py]
    s2sad hessian        SRC.py [-f NAME]... [--wrt x,y] [-o OUT.py]
    s2sad jacobian       SRC.py [-f NAME]... [--wrt x,y] [--mode reverse|forward] [-o OUT.py]
    s2sad check          SRC.py [-f NAME]... [--points N] [--seed S] [--module OUT.py]
                         [--fix n=100]... [--shape X=3x4]...
    s2sad ir             SRC.py [-f NAME]... [--stage lifted|ad|opt|all] [--kind grad|...]
    s2sad graph          SRC.py -f NAME [--format dot|mermaid] [-o FILE]

The source file is parsed, never imported or executed.  Exit codes: 0
success; 1 a check failed; 2 bad usage or unsupported input (a compiler-style
message on stderr, no traceback unless ``--debug``); 3 an internal error (a bug
in s2sad).
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from s2sad import __version__
from s2sad.errors import S2SADError

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process killed by SIGPIPE

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# -- plumbing --------------------------------------------------------------------------------


def _debug_enabled() -> bool:
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("debug"):
            return True
        ctx = ctx.parent
    return os.environ.get("S2SAD_DEBUG", "") not in ("", "0")


def _guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn s2sad errors into exit codes and compiler-style messages on stderr."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("debug", None)
        try:
            return fn(*args, **kwargs)
        except S2SADError as err:
            if _debug_enabled():
                traceback.print_exc()
            click.echo(str(err), err=True)
            sys.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except BrokenPipeError:  # `s2sad grad big.py | head`: stop quietly, as `cat` does
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except Exception as err:  # noqa: BLE001 - anything else is a bug in s2sad
            if _debug_enabled():
                traceback.print_exc()
            text = str(err)
            if not text.startswith("internal error"):
                text = (f"internal error in s2sad (this is a bug, please report it): "
                        f"{type(err).__name__}: {text}")
            click.echo(f"error: {text}", err=True)
            if not _debug_enabled():
                click.echo("  run again with --debug to see the Python traceback", err=True)
            sys.exit(EXIT_INTERNAL)

    return wrapper


def _command(name: str, example: str, **kwargs: Any) -> Callable[..., Any]:
    """A subcommand with an example in its --help, a --debug flag and error handling."""

    def decorate(fn: Callable[..., Any]) -> Any:
        fn = _guarded(fn)
        fn = click.option("--debug", is_flag=True,
                          help="Show the Python traceback of an error.")(fn)
        params = fn.__click_params__  # list --debug last in --help
        params.insert(0, params.pop())
        epilog = "\b\nExample:\n" + "\n".join(f"  {line}" for line in example.splitlines())
        return cli.command(name, epilog=epilog, context_settings=CONTEXT, **kwargs)(fn)

    return decorate


def src_argument(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("src", metavar="SRC.py", type=click.Path(dir_okay=True))(fn)


def functions_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-f", "--function", "functions", metavar="NAME", multiple=True,
                        help="A top-level function of SRC.py (repeatable). Default: all of "
                             "them; those that cannot be handled are listed on stderr.")(fn)


def wrt_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--wrt", metavar="x,y",
                        help="Parameters to differentiate with respect to, by name or index, "
                             "comma-separated. Default: all parameters.")(fn)


def mode_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse",
                        show_default=True, help="AD mode.")(fn)


def target_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--target", type=click.Choice(["python", "numba", "array-api"]),
                        default="python",
                        show_default=True,
                        help="python: plain Python; numba: every function "
                             "@numba.njit(cache=True), lists as 1-D float64 arrays; "
                             "array-api: the array API standard's functions, in the "
                             "namespace of the arguments (NumPy, Dask, JAX, PyTorch...).")(fn)


def checkpoints_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--checkpoints K|auto`` and ``--tape-budget SIZE``, passed to ``fn`` as one
    ``checkpoints`` setting (:func:`s2sad.checkpointing.setting`)."""

    @functools.wraps(fn)
    def command(*args: Any, checkpoints: str | None, tape_budget: str | None,
                **kwargs: Any) -> Any:
        from s2sad.checkpointing import setting

        if checkpoints is not None and checkpoints != "auto":
            if not checkpoints.isdigit() or int(checkpoints) < 1:
                raise click.BadParameter(f"{checkpoints!r} is neither a number of snapshots "
                                         ">= 1 nor 'auto'", param_hint="'--checkpoints'")
            checkpoints = int(checkpoints)  # type: ignore[assignment]
        if tape_budget is not None and checkpoints != "auto":
            raise click.BadParameter("it is read only with --checkpoints auto (add that)",
                                     param_hint="'--tape-budget'")
        try:
            chosen = setting(checkpoints, tape_budget)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--tape-budget'") from None
        return fn(*args, checkpoints=chosen, **kwargs)

    command = click.option(
        "--tape-budget", metavar="SIZE", default=None,
        help="With --checkpoints auto: the bytes each loop's snapshots may take, such as "
             "64MB (the default), 1GB, 500kB or a number of bytes.")(command)
    return click.option(
        "--checkpoints", metavar="K|auto", default=None,
        help="Reverse mode: keep at most K snapshots of each loop's carried values "
             "(binomial checkpointing) instead of a tape of every pass; the same numbers, "
             "for more recomputation. auto: as many as --tape-budget holds, picked when "
             "the loop starts.")(command)


def _parse_wrt(text: str | None) -> list[int | str] | None:
    if text is None:
        return None
    items: list[int | str] = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            raise click.BadParameter(f"empty name in {text!r}", param_hint="'--wrt'")
        items.append(int(item) if item.lstrip("-").isdigit() else item)
    return items


def _wrt_for(fn: Any, wrt: list[int | str] | None) -> Any:
    """The ``wrt`` argument of :func:`s2sad.pipeline.derive` for one function."""
    if wrt is None:  # every parameter but those whose default is a function (act=np.tanh)
        from s2sad.ir.core import FunctionDefault

        marks = fn.defaults + (None,) * (len(fn.params) - len(fn.defaults))
        every = [i for i, d in enumerate(marks) if not isinstance(d, FunctionDefault)]
        if not every:
            raise S2SADError(f"`{fn.name}` has no parameters to differentiate with respect to")
        return every[0] if len(every) == 1 else tuple(every)
    return wrt[0] if len(wrt) == 1 else tuple(wrt)


def _parse(src: str) -> Any:
    """Read and parse ``src``; nothing in it runs."""
    from s2sad.frontend import parse_file

    if Path(src).is_dir():
        raise S2SADError(f"{src} is a directory, not a Python source file")
    return parse_file(src)


def _load(src: str, names: tuple[str, ...]) -> tuple[Any, list[tuple[str, Any]]]:
    """Parse ``src`` (without running it) and lift the requested functions.

    Returns the parsed module and ``(name, Function-or-S2SADError)`` pairs.  With
    explicit ``names``, an unknown name is an error; with none, every top-level
    function is lifted and failures are returned, to be listed.
    """
    from s2sad.frontend import lower

    module = _parse(src)
    if names:
        for name in names:
            if name not in module.functions:
                close = difflib.get_close_matches(name, list(module.functions), n=1)
                known = ", ".join(module.functions) or "(none)"
                raise S2SADError(
                    f"{src} has no top-level function `{name}`"
                    + (f"; did you mean `{close[0]}`?" if close else ""),
                    hint=f"its top-level functions are: {known}")
        wanted = list(dict.fromkeys(names))
    else:
        wanted = list(module.functions)
        if not wanted:
            raise S2SADError(f"{src} defines no top-level function",
                             hint="s2sad differentiates functions defined with `def` at the top "
                                  "level of the file")
    lifted: list[tuple[str, Any]] = []
    for name in wanted:
        try:
            lifted.append((name, lower(module.functions[name])))
        except S2SADError as err:
            if names:
                raise
            lifted.append((name, err))
    return module, lifted


def _report_skipped(skipped: list[tuple[str, S2SADError]], what: str) -> None:
    for name, err in skipped:
        click.echo(f"note: skipped `{name}`: it cannot be {what}:", err=True)
        click.echo(str(err), err=True)


def _write_atomic(path: str, data: str | bytes) -> None:
    """Write ``path`` through a temporary file in the same directory and ``os.replace``."""
    target = Path(path)
    directory = target.parent
    if not directory.is_dir():
        raise S2SADError(f"cannot write {path}: directory {str(directory)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise S2SADError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


def _refuse_overwriting_source(src: str, output: str | None) -> None:
    if output and Path(src).exists() and Path(output).exists() and \
            os.path.samefile(src, output):
        raise S2SADError(f"refusing to overwrite the source file {src} with generated code",
                         hint="pass a different -o path")


# -- the group -------------------------------------------------------------------------------


class _OrderedGroup(click.Group):
    """Lists commands in the order they are defined (emit, check, inspect)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@click.group(cls=_OrderedGroup, context_settings=CONTEXT,
             epilog="\b\nExamples:\n"
                    "  s2sad grad examples/textbook.py -o textbook_grad.py\n"
                    "  s2sad check examples/textbook.py -f chain5\n"
                    "  s2sad ir examples/textbook.py -f sigmoid --stage opt\n"
                    "  s2sad graph examples/textbook.py -f sin_quad --format mermaid\n"
                    "\b\n"
                    "Exit codes: 0 success, 1 a check failed, 2 bad usage or unsupported input,\n"
                    "3 internal error (a bug in s2sad).")
@click.version_option(__version__, "-V", "--version", prog_name="s2sad",
                      message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show Python tracebacks of errors.")
def cli(debug: bool) -> None:
    """s2sad: source-to-source automatic differentiation for Python.

    Reads ordinary Python functions from a file (without importing or running
    it) and writes their derivatives as plain, standalone Python that imports
    only math and numpy.
    """


# -- grad, value-and-grad, jvp, vjp, hessian -------------------------------------------------

_KIND_DOC = {
    "grad": "grad_<name>(*args) -> gradient (a tuple for several inputs)",
    "value_and_grad": "value_and_grad_<name>(*args) -> (value, gradient)",
    "jvp": "jvp_<name>(*args, *tangents) -> (value, tangent of the output)",
    "vjp": "vjp_<name>(*args, *cotangents) -> (value, cotangent(s) of the inputs)",
    "hessian": "hessian_<name>(*args) -> Hessian (H[i][j], or an array for an array input)",
    "jacobian": "jacobian_<name>(*args) -> Jacobian (J[i][j] = d out_i / d in_j)",
}


def _header(kind: str, src: str, names: list[str], explicit: tuple[str, ...], wrt: str | None,
            mode: str) -> str:
    command = ["s2sad", kind.replace("_", "-"), src]
    command += [f"-f {n}" for n in dict.fromkeys(explicit)]
    if wrt is not None:
        command.append(f"--wrt {wrt}")
    if kind in ("grad", "value_and_grad", "jacobian"):
        command.append(f"--mode {mode}")
    return (
        f"Derivatives of {src}, generated by s2sad {__version__}.\n"
        "\n"
        f"Functions: {', '.join(names)}\n"
        f"Kind:      {_KIND_DOC[kind]}\n"
        f"Mode:      {mode}\n"
        f"Command:   {' '.join(command)}\n"
        "\n"
        "This module needs only math and numpy, never s2sad.  Regenerate it rather\n"
        "than editing it; `s2sad check SRC.py --module THIS.py` verifies it.\n"
    )


def _emit(kind: str, src: str, functions: tuple[str, ...], wrt_text: str | None, mode: str,
          output: str | None, target: str = "python", checkpoints: Any = None) -> None:
    from s2sad.ad.reverse import CHECKPOINTS
    from s2sad.checkpointing import TapeBudget
    from s2sad.pipeline import derive, generate

    wrt = _parse_wrt(wrt_text)
    _refuse_overwriting_source(src, output)
    _, lifted = _load(src, functions)
    derived, names, skipped = [], [], []
    for name, fn in lifted:
        if isinstance(fn, S2SADError):
            skipped.append((name, fn))
            continue
        token = CHECKPOINTS.set(checkpoints)
        try:
            derived.append(derive(fn, kind, _wrt_for(fn, wrt), mode))
            names.append(name)
        except S2SADError as err:
            if functions:
                raise
            skipped.append((name, err))
        finally:
            CHECKPOINTS.reset(token)
    _report_skipped(skipped, "differentiated")
    if not derived:
        raise S2SADError(f"no function of {src} can be differentiated; nothing to write",
                         hint="see the notes above for each function")
    header = _header(kind, src, names, functions, wrt_text, mode)
    if target != "python":  # the command line that regenerates it
        header = header.replace("\n\nThis module", f" --target {target}\n\nThis module", 1)
    if checkpoints is not None:  # K, or auto with its budget
        option = (f"auto --tape-budget {checkpoints}" if isinstance(checkpoints, TapeBudget)
                  else checkpoints)
        header = header.replace("\n\nThis module", f" --checkpoints {option}\n\n"
                                "This module", 1)
    text = generate(derived, header=header, target=target.replace("-", "_"))
    if output:
        _write_atomic(output, text)
    else:
        click.echo(text, nl=False)


def _output_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-o", "--output", metavar="OUT.py", type=click.Path(dir_okay=False),
                        help="Write the module here (atomically). Default: standard output.")(fn)


@_command("grad", "s2sad grad examples/textbook.py -o textbook_grad.py\n"
                  "s2sad grad examples/textbook.py -f poly2 --wrt x2 --mode forward")
@src_argument
@functions_option
@wrt_option
@mode_option
@_output_option
@target_option
@checkpoints_option
def grad_command(src: str, functions: tuple[str, ...], wrt: str | None, mode: str,
                 output: str | None, target: str, checkpoints: Any) -> None:
    """Emit grad_<name>: the gradient of each function.

    grad_<name> takes the function's arguments and returns the gradient with
    respect to --wrt (default: every parameter): a number for one input, a
    tuple for several.  Only grad_<name> is emitted; value-and-grad emits
    value_and_grad_<name>.  Functions that return a tuple have no gradient;
    use jvp or vjp for them.
    """
    _emit("grad", src, functions, wrt, mode, output, target, checkpoints)


@_command("value-and-grad", "s2sad value-and-grad examples/textbook.py -f mse")
@src_argument
@functions_option
@wrt_option
@mode_option
@_output_option
@target_option
@checkpoints_option
def value_and_grad_command(src: str, functions: tuple[str, ...], wrt: str | None, mode: str,
                           output: str | None, target: str, checkpoints: Any) -> None:
    """Emit value_and_grad_<name>: (value, gradient)."""
    _emit("value_and_grad", src, functions, wrt, mode, output, target, checkpoints)


@_command("jvp", "s2sad jvp examples/textbook.py -f poly2 -o poly2_jvp.py")
@src_argument
@functions_option
@wrt_option
@_output_option
@target_option
def jvp_command(src: str, functions: tuple[str, ...], wrt: str | None,
                output: str | None, target: str) -> None:
    """Emit jvp_<name>: forward-mode Jacobian-vector products.

    jvp_<name>(*args, *tangents) returns (value, tangent of the output).  One
    tangent argument per input in --wrt (named <input>_dot), in order.
    """
    _emit("jvp", src, functions, wrt, "forward", output, target)


@_command("vjp", "s2sad vjp examples/textbook.py -f poly2 -o poly2_vjp.py")
@src_argument
@functions_option
@wrt_option
@_output_option
@target_option
@checkpoints_option
def vjp_command(src: str, functions: tuple[str, ...], wrt: str | None,
                output: str | None, target: str, checkpoints: Any) -> None:
    """Emit vjp_<name>: reverse-mode vector-Jacobian products.

    vjp_<name>(*args, *cotangents) returns (value, cotangents of the inputs in
    --wrt).  One cotangent argument per output of the function.
    """
    _emit("vjp", src, functions, wrt, "reverse", output, target, checkpoints)


@_command("hessian", "s2sad hessian examples/textbook.py -f poly2 -o poly2_hessian.py")
@src_argument
@functions_option
@wrt_option
@_output_option
@target_option
def hessian_command(src: str, functions: tuple[str, ...], wrt: str | None,
                    output: str | None, target: str) -> None:
    """Emit hessian_<name>: the Hessian of each scalar function.

    For scalar inputs hessian_<name> returns H[i][j] in --wrt order (a number
    for one input), computed symbolically.  For an array or list input it
    returns an array of shape x.shape + x.shape, built from one Hessian-vector
    product (hvp_<name>, also emitted) per element; for several such inputs, a
    tuple of blocks H[k][l].
    """
    _emit("hessian", src, functions, wrt, "reverse-over-forward", output, target)


@_command("jacobian", "s2sad jacobian examples/textbook.py -f poly2 --mode forward")
@src_argument
@functions_option
@wrt_option
@mode_option
@_output_option
@target_option
def jacobian_command(src: str, functions: tuple[str, ...], wrt: str | None, mode: str,
                     output: str | None, target: str) -> None:
    """Emit jacobian_<name>: the Jacobian of each function.

    J[i][j] = d output_i / d input_j for scalar outputs and inputs (no index for
    a single output or input); blocks of shape y.shape + x.shape for arrays
    and lists.  --mode forward: one tangent sweep per input element; reverse:
    one adjoint sweep per output element.
    """
    _emit("jacobian", src, functions, wrt, mode, output, target)


# -- check -----------------------------------------------------------------------------------


def _import_module_file(path: str) -> Any:
    """Import an emitted module (generated code, so importing it is fine)."""
    file = Path(path)
    if not file.is_file():
        raise S2SADError(f"no such module file: {path}")
    name = f"_s2sad_checked_{abs(hash(str(file.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise S2SADError(f"cannot import {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        from s2sad.errors import Loc

        loc = Loc(path, exc.lineno or 1, max(0, (exc.offset or 1) - 1), None,
                  (exc.text or "").rstrip("\n") or None)
        raise S2SADError(f"syntax error in {path}: {exc.msg}", loc) from None
    except Exception as exc:  # noqa: BLE001 - the module's own top level failed
        raise S2SADError(f"importing {path} failed: {type(exc).__name__}: {exc}") from None
    return module


def _module_ir_reader(path: str) -> Callable[[str], Any]:
    """Lift a function of the emitted module to IR, when the frontend can (else None)."""
    from s2sad.frontend import lower, parse_file

    try:
        parsed = parse_file(path)
    except S2SADError:
        return lambda name: None

    def read(name: str) -> Any:
        pf = parsed.functions.get(name)
        if pf is None:
            return None
        try:
            return lower(pf)
        except S2SADError:
            return None

    return read


@_command("check", "s2sad check examples/textbook.py -f chain5\n"
                   "s2sad check examples/mlp.py -f loss --shape X=8x2 --shape W1=2x5 "
                   "--shape W2=5\n"
                   "s2sad grad examples/textbook.py -o tb_grad.py && "
                   "s2sad check examples/textbook.py --module tb_grad.py")
@src_argument
@functions_option
@wrt_option
@mode_option
@click.option("--points", "-n", type=click.IntRange(min=1), default=20, show_default=True,
              metavar="N",
              help="Random points of the domain to compare at.")
@click.option("--seed", type=int, default=0, show_default=True, metavar="S",
              help="Random seed of the points.")
@click.option("--budget", type=click.FloatRange(min=0), default=2.0, show_default=True,
              metavar="SECONDS", help="Time for sympy.simplify per derivative (0: skip).")
@click.option("--rtol", type=click.FloatRange(min=0), default=1e-6, show_default=True,
              metavar="X",
              help="Relative tolerance of the numeric comparison.")
@click.option("--atol", type=click.FloatRange(min=0), default=1e-9, show_default=True,
              metavar="X",
              help="Absolute tolerance of the numeric comparison.")
@click.option("--module", "module_path", metavar="OUT.py", type=click.Path(dir_okay=False),
              help="Check the derivatives in this emitted (possibly edited) module instead of "
                   "compiling them afresh.")
@click.option("--fix", "fixes", metavar="NAME=VALUE", multiple=True,
              help="Hold parameter NAME at VALUE, not differentiated (repeatable). An int "
                   "parameter (annotated int, or a range bound, index or size) is always "
                   "held: at this value, else its default, else 3.")
@click.option("--shape", "shape_items", metavar="NAME=DIMS", multiple=True,
              help="The shape of array parameter NAME, e.g. X=3x4, w=5 (repeatable); for a "
                   "list parameter, its length. Default: lists of 3; for arrays the first of "
                   "3x4, 4x3, 4, 3, 3x3 (per array) under which the function runs.")
def check_command(src: str, functions: tuple[str, ...], wrt: str | None, mode: str, points: int,
                  seed: int, budget: float, rtol: float, atol: float,
                  module_path: str | None, fixes: tuple[str, ...],
                  shape_items: tuple[str, ...]) -> None:
    """Compare the derivatives with SymPy's or finite differences, and their sizes.

    For each function of numbers and lists, SymPy differentiates the same IR;
    each (output, input) pair is compared symbolically (simplify of the
    difference, within --budget) and numerically at --points random points of
    the domain.  The table shows the errors and the expression-swell
    comparison: the size of SymPy's derivative (count_ops, raw and after cse)
    against the op count of s2sad's.

    Int parameters are held at one value (--fix, else the default, else 3) and
    not differentiated; lists have length 3 unless --shape says otherwise.
    Functions of NumPy arrays are checked numerically only: reverse and forward
    mode against Richardson-extrapolated central differences, at --points
    random points of the --shape shapes (or default shapes); the report says
    which values were held and which shapes were used.  Exit status 1 when a
    derivative disagrees or cannot be verified, 2 for bad usage.
    """
    from s2sad.check import CheckReport, check_function, int_annotations, module_derivative
    from s2sad.pipeline import normalize_wrt

    wanted = _parse_wrt(wrt)
    fix = _parse_assignments(fixes, "--fix", _number)
    shapes = _parse_assignments(shape_items, "--shape", str)
    parsed, lifted = _load(src, functions)
    names = {n for _, fn in lifted if not isinstance(fn, S2SADError) for n in fn.param_names}
    for option, given in (("--fix", fix), ("--shape", shapes)):
        for name in given:
            if name not in names:
                raise S2SADError(f"{option} {name}: no function checked has a parameter "
                                 f"`{name}`", hint="their parameters are: "
                                 + (", ".join(sorted(names)) or "(none)"))
    module = reader = None
    if module_path is not None:
        module = _import_module_file(module_path)
        reader = _module_ir_reader(module_path)
    report = CheckReport()
    skipped: list[tuple[str, S2SADError]] = []
    for name, fn in lifted:
        if isinstance(fn, S2SADError):
            skipped.append((name, fn))
            continue
        try:
            _refuse_custom_primitives(fn, src)
            indices = None if wanted is None else normalize_wrt(fn, _wrt_for(fn, wanted))[0]
            derivative = None
            if module is not None:
                derivative, indices = module_derivative(module, module_path, fn, reader, indices)
            report.functions.append(check_function(
                fn, indices, mode=mode, points=points, seed=seed, budget=budget, rtol=rtol,
                atol=atol, derivative=derivative, fix=fix, shapes=shapes,
                annotated_ints=int_annotations(parsed.functions[name].node), strict=False))
        except S2SADError as err:
            if functions:
                raise
            skipped.append((name, err))
    _report_skipped(skipped, "checked")
    if not report.functions:
        raise S2SADError(f"no function of {src} can be checked",
                         hint="see the notes above for each function")
    click.echo(report.text())
    if not report.ok:
        failed = [f.name for f in report.functions if not f.ok]
        click.echo(f"check failed: {', '.join(failed)}", err=True)
        sys.exit(EXIT_CHECK_FAILED)


def _refuse_custom_primitives(fn: Any, src: str) -> None:
    """The check runs the function; a custom primitive's Python body is in SRC.py, which the
    command line never runs: refuse, pointing to the Python API, which can."""
    from s2sad.ir.core import walk_ops

    op = next((op for op in walk_ops(fn.body) if op.prim.startswith("custom:")), None)
    if op is not None:
        name = op.prim.split(":", 1)[1].split("#")[0].rsplit(".", 1)[-1]
        stem = Path(src).stem
        raise S2SADError(
            f"`{fn.name}` calls the custom primitive `{name}`, which s2sad check cannot run "
            "from the command line", op.loc,
            why=f"the check evaluates {name} itself, and the command line reads {src} without "
                "running it",
            hint=f"check it from Python, which runs the primitive: "
                 f"`import s2sad, {stem}; print(s2sad.check({stem}.{fn.name}).text())`")


def _number(text: str) -> int | float:
    """An int if ``text`` is one, else a float; ``ValueError`` otherwise."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def _parse_assignments(items: tuple[str, ...], option: str,
                       convert: Callable[[str], Any]) -> dict[str, Any]:
    """``("n=100", "x=3x4")`` as ``{"n": convert("100"), ...}``; a bad item is a usage error."""
    out: dict[str, Any] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.isidentifier() or not value:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint=f"'{option}'")
        try:
            out[name] = convert(value)
        except ValueError:
            raise click.BadParameter(f"{item!r}: {value!r} is not a number",
                                     param_hint=f"'{option}'") from None
    return out


# -- ir and graph ----------------------------------------------------------------------------

STAGES = ("lifted", "ad", "opt")
KINDS = ("grad", "value_and_grad", "jvp", "vjp")


def _stage_ir(fn: Any, stage: str, kind: str, wrt: list[int | str] | None, mode: str) -> Any:
    """The IR of ``fn`` at ``stage``: as lifted, its derivative ``kind`` before or after opt."""
    if stage == "lifted":
        return fn
    from s2sad.pipeline import derive, normalize_wrt

    spec = _wrt_for(fn, wrt)
    if kind in ("jvp",):
        mode = "forward"
    elif kind == "vjp":
        mode = "reverse"
    if stage == "opt":
        return derive(fn, kind, spec, mode)
    from s2sad.ad.transforms import grad_function, jvp_function, vjp_function

    indices, single = normalize_wrt(fn, spec)
    if kind in ("grad", "value_and_grad"):
        return grad_function(fn, indices, single, mode=mode, with_value=kind == "value_and_grad")
    if kind == "jvp":
        return jvp_function(fn, indices)
    return vjp_function(fn, indices, single)


def _kind_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--kind", type=click.Choice(KINDS), default="grad", show_default=True,
                        help="Which derivative the ad/opt stages show.")(fn)


@_command("ir", "s2sad ir examples/textbook.py -f sigmoid\n"
                "s2sad ir examples/textbook.py -f sigmoid --stage all --kind vjp")
@src_argument
@functions_option
@click.option("--stage", type=click.Choice([*STAGES, "all"]), default="lifted",
              show_default=True,
              help="lifted: the function as lifted; ad: its derivative straight out of AD; "
                   "opt: the derivative after optimisation (what is emitted); all: each.")
@_kind_option
@wrt_option
@mode_option
def ir_command(src: str, functions: tuple[str, ...], stage: str, kind: str, wrt: str | None,
               mode: str) -> None:
    """Print the IR at a stage of the pipeline."""
    from s2sad.ir import count_ops, format_function

    wanted = _parse_wrt(wrt)
    _, lifted = _load(src, functions)
    stages = STAGES if stage == "all" else (stage,)
    chunks, skipped = [], []
    for name, fn in lifted:
        if isinstance(fn, S2SADError):
            skipped.append((name, fn))
            continue
        try:
            for st in stages:
                ir = _stage_ir(fn, st, kind, wanted, mode)
                chunks.append(f"# {name}: stage {st}, {count_ops(ir)} ops\n"
                              + format_function(ir))
        except S2SADError as err:
            if functions:
                raise
            skipped.append((name, err))
    _report_skipped(skipped, "lifted")
    if not chunks:
        raise S2SADError(f"no function of {src} can be lifted",
                         hint="see the notes above for each function")
    click.echo("\n\n".join(chunks))


_RENDERED = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
_TEXT_FORMATS = {".dot": "dot", ".gv": "dot", ".mmd": "mermaid", ".mermaid": "mermaid"}


@_command("graph", "s2sad graph examples/textbook.py -f sin_quad -o sin_quad.svg\n"
                   "s2sad graph examples/textbook.py -f mse --format mermaid > mse.mmd")
@src_argument
@click.option("-f", "--function", "function", metavar="NAME",
              help="The function to draw (needed when SRC.py defines several).")
@click.option("--format", "fmt", type=click.Choice(["dot", "mermaid"]), default=None,
              help="Text format. Default: from the -o extension, else dot.")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False),
              help="FILE.dot/.gv or .mmd: the text; FILE.svg/.png/.pdf: a picture rendered by "
                   "Graphviz's `dot`. Default: text on standard output.")
@click.option("--stage", type=click.Choice(STAGES), default="lifted", show_default=True,
              help="Draw the function as lifted, or its derivative (--kind) before/after opt.")
@_kind_option
@wrt_option
@mode_option
def graph_command(src: str, function: str | None, fmt: str | None, output: str | None,
                  stage: str, kind: str, wrt: str | None, mode: str) -> None:
    """Draw the computation graph, as DOT or Mermaid.

    The DAG of the AD textbooks.  Nodes are the inputs, one node per operation
    (with the source name of its result), constants and the outputs; edges run
    from operands to their uses.
    """
    from s2sad.graph import to_dot, to_mermaid

    suffix = Path(output).suffix.lower() if output else ""
    render_as = _RENDERED.get(suffix)
    if fmt is None:
        fmt = _TEXT_FORMATS.get(suffix, "dot")
    elif suffix in _TEXT_FORMATS and _TEXT_FORMATS[suffix] != fmt:
        raise click.UsageError(f"--format {fmt} conflicts with the extension of {output}")
    if render_as and fmt != "dot":
        raise click.UsageError(f"{output} is rendered by Graphviz from DOT; drop --format {fmt} "
                               "or write a .mmd file")
    dot_program = shutil.which("dot") if render_as else None
    if render_as and dot_program is None:
        raise S2SADError(
            f"rendering {output} needs the `dot` program of Graphviz, which is not installed",
            hint="install Graphviz (Debian/Ubuntu: `sudo apt-get install graphviz`; macOS: "
                 "`brew install graphviz`; conda: `conda install graphviz`), or write the "
                 f"graph as text: -o {Path(output).with_suffix('.dot')}")
    _refuse_overwriting_source(src, output)
    if function is None:
        names = list(_parse(src).functions)
        if len(names) != 1:
            raise click.UsageError(f"{src} defines {len(names)} functions "
                                   f"({', '.join(names)}); choose one with -f NAME")
        function = names[0]
    _, lifted = _load(src, (function,))
    ((_, fn),) = lifted
    ir = _stage_ir(fn, stage, kind, _parse_wrt(wrt), mode)
    text = to_dot(ir) if fmt == "dot" else to_mermaid(ir)
    if render_as:
        _render_graphviz(dot_program, text, render_as, output)
    elif output:
        _write_atomic(output, text)
    else:
        click.echo(text, nl=False)


def _render_graphviz(program: str, dot_text: str, fmt: str, output: str) -> None:
    target = Path(output)
    if not target.parent.is_dir():
        raise S2SADError(f"cannot write {output}: directory {str(target.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        done = subprocess.run([program, f"-T{fmt}", "-o", tmp], input=dot_text.encode(),
                              capture_output=True, timeout=120, check=False)
        if done.returncode != 0:
            raise S2SADError(f"Graphviz `dot` failed to render {output} "
                             f"(exit status {done.returncode})",
                             why=done.stderr.decode(errors="replace").strip() or None)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


# -- entry point -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """The console script ``s2sad`` (and ``python -m s2sad``)."""
    cli.main(args=argv, prog_name="s2sad")


if __name__ == "__main__":  # pragma: no cover
    main()
