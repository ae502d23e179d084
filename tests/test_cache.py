"""The disk cache of generated code (s2sad/cache.py).

Each test turns the cache on in its own temporary directory, compiles functions of
a module written to disk, forgets the in-memory caches (as a new process would) and
checks what the second compile reads: a hit must not lift the function again, and
every change the generated code depends on must be a miss. Derivatives are checked
against finite differences (tests/oracles.py), never against s2sad itself.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import s2sad
from s2sad import api, cache
from tests.oracles import assert_close, derivative

SOURCE = '''
import math

SCALE = {scale}


def helper(x):
    return math.sin(x) * SCALE


def f(x):
    return helper(x) * x + x ** 3


def pair(x):
    return x, x * x
'''


@pytest.fixture
def on(tmp_path, monkeypatch):
    """The cache on, in a fresh directory; the in-memory caches empty before and after."""
    monkeypatch.delenv("S2SAD_NO_CACHE", raising=False)
    monkeypatch.setenv("S2SAD_CACHE_DIR", str(tmp_path / "cache"))
    forget()
    yield tmp_path / "cache"
    forget()


def forget() -> None:
    api._cache.clear()
    api._ir_cache.clear()


def module(tmp_path: Path, scale: float = 2.0, name: str = "cached_mod"):
    path = tmp_path / f"{name}.py"
    path.write_text(SOURCE.format(scale=scale))
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def no_lifting(monkeypatch) -> None:
    def fail(f):
        raise AssertionError(f"{f.__name__} was lifted: the cache missed")

    monkeypatch.setattr(api, "_lift", fail)


def check_grad(mod, x: float) -> None:
    got = s2sad.grad(mod.f)(x)
    assert_close(got, derivative(mod.f, x))


def entries(where: Path) -> list[Path]:
    return sorted(where.glob("*.py")) if where.exists() else []


def test_a_second_compile_reads_the_disk(on, tmp_path, monkeypatch):
    mod = module(tmp_path)
    check_grad(mod, 0.7)
    assert len(entries(on)) == 1
    forget()
    no_lifting(monkeypatch)
    for x in (0.7, -1.3, 2.5):
        check_grad(mod, x)
    assert "def grad_f(x):" in s2sad.grad(mod.f).source


def test_every_kind_and_option_is_an_entry(on, tmp_path, monkeypatch):
    mod = module(tmp_path)
    fns = [s2sad.grad(mod.f), s2sad.grad(mod.f, mode="forward"),
           s2sad.value_and_grad(mod.f), s2sad.jvp(mod.f), s2sad.vjp(mod.f)]
    assert len(entries(on)) == len(fns)
    forget()
    no_lifting(monkeypatch)
    value, tangent = s2sad.jvp(mod.f)(0.4, 2.0)
    assert_close(tangent, 2.0 * derivative(mod.f, 0.4))
    assert_close(value, mod.f(0.4))


def test_another_compiler_is_a_miss(on, tmp_path, monkeypatch):
    """An entry written by an s2sad whose own source differs (an edited checkout, an
    upgrade that kept the version number) is never read: its code may be wrong now."""
    mod = module(tmp_path)
    check_grad(mod, 0.7)
    forget()
    monkeypatch.setattr(cache, "_compiler_hash", lambda: "another-compiler")
    check_grad(mod, 0.7)
    assert len(entries(on)) == 2


def test_a_changed_constant_is_a_miss(on, tmp_path):
    check_grad(module(tmp_path, scale=2.0), 0.9)
    forget()
    mod = module(tmp_path, scale=-3.0)  # same file name, another constant
    check_grad(mod, 0.9)
    assert len(entries(on)) == 2


def test_a_constant_computed_at_import_is_part_of_the_key(on, tmp_path):
    mod = module(tmp_path)
    check_grad(mod, 1.1)
    forget()
    mod.SCALE = 5.0  # the file is the same, the value the function reads is not
    check_grad(mod, 1.1)
    assert len(entries(on)) == 2


def test_a_damaged_entry_is_compiled_again(on, tmp_path):
    mod = module(tmp_path)
    check_grad(mod, 0.3)
    (entry,) = entries(on)
    text = entry.read_text()
    for damaged in (text[: len(text) // 2], "garbage", text.replace("+", "-", 1), ""):
        entry.write_text(damaged)
        forget()
        check_grad(mod, 0.3)
        assert entry.read_text() == text  # written again, whole


def test_an_entry_that_does_not_define_the_function_is_compiled_again(on, tmp_path):
    mod = module(tmp_path)
    check_grad(mod, 0.3)
    (entry,) = entries(on)
    body = "x = 1\n"
    import hashlib

    entry.write_text(f"# s2sad-cache-1 grad_f sha256={hashlib.sha256(body.encode()).hexdigest()}"
                     f"\n{body}")
    forget()
    check_grad(mod, 0.3)


def test_a_missing_derivative_is_remembered(on, tmp_path, monkeypatch):
    mod = module(tmp_path)
    with pytest.raises(s2sad.DifferentiationError) as first:
        s2sad.grad(mod.pair)
    forget()
    no_lifting(monkeypatch)
    with pytest.raises(s2sad.DifferentiationError) as second:
        s2sad.grad(mod.pair)
    assert str(second.value) == str(first.value)


def test_off(tmp_path, monkeypatch):
    monkeypatch.setenv("S2SAD_NO_CACHE", "1")
    monkeypatch.setenv("S2SAD_CACHE_DIR", str(tmp_path / "cache"))
    forget()
    check_grad(module(tmp_path), 0.5)
    forget()
    assert not (tmp_path / "cache").exists()


def test_an_unwritable_directory_is_no_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.delenv("S2SAD_NO_CACHE", raising=False)
    monkeypatch.setenv("S2SAD_CACHE_DIR", str(blocker / "cache"))
    forget()
    check_grad(module(tmp_path), 0.5)
    forget()


def test_concurrent_writers_and_readers_never_see_a_torn_entry(on):
    sources = [f"def grad_f(x):\n    return {k} * x  # {'padding ' * 2000}\n" for k in range(8)]
    key = "k" * 64
    seen: list = []
    errors: list = []

    def write(k: int) -> None:
        for _ in range(30):
            cache.store(key, "grad_f", sources[k])

    def read() -> None:
        for _ in range(200):
            got = cache.load(key)
            if got is not None:
                if got[1] not in sources:
                    errors.append(got)
                seen.append(got)

    threads = [threading.Thread(target=write, args=(k,)) for k in range(4)]
    threads += [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert seen
    assert not list(on.glob("*.tmp"))  # no temporary file left behind


@pytest.mark.slow
def test_processes_share_the_cache(on, tmp_path):
    """Eight processes import one module of decorated functions at once, from a cold cache
    in one directory; then a ninth imports it without lifting a function. Everyone gets
    the right derivatives, and no entry is torn."""
    path = tmp_path / "shared_mod.py"
    path.write_text(SOURCE.format(scale=1.5).replace("\ndef f(", "\n@s2sad.differentiable\ndef f(")
                    .replace("import math\n", "import math\n\nimport s2sad\n"))
    script = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}, {str(Path(__file__).resolve().parents[1])!r}]
        from s2sad import api
        if sys.argv[1] == "check":
            def fail(f): raise SystemExit("lifted " + f.__name__)
            api._lift = fail
        import shared_mod
        print(repr(shared_mod.f.grad(0.8)), repr(shared_mod.f.jvp(0.8, 1.0)[1]))
    """)
    env = {**__import__("os").environ}
    procs = [subprocess.Popen([sys.executable, "-c", script, "write"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(8)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({o[0] for o in outs}) == 1  # every process computed the same numbers
    assert len(entries(on)) == 4  # grad, value_and_grad, jvp, vjp
    assert all(cache._split(e.read_text()) is not None for e in entries(on))
    check = subprocess.run([sys.executable, "-c", script, "check"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    mod = module(tmp_path, scale=1.5, name="plain_twin")
    want = derivative(mod.f, 0.8)
    for number in check.stdout.split():
        assert_close(float(number), want)
