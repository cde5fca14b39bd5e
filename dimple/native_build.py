"""Compiling this project's small C kernels: once per source, compiler and CPU, cached, loaded with ctypes.

Owns: finding a C compiler (`CC`, else `cc` or `gcc`), the flags (`-O3 -march=native`, so the loops use this
CPU's vector units; `-fopenmp`, so they run on the OpenMP team torch already loaded: the library names
libgomp.so.1, the soname of the copy torch's wheel carries, and the dynamic loader reuses that copy rather than
loading a second runtime whose threads would spin against torch's), the cache (`DIMPLE_NATIVE_CACHE`, default
`~/.cache/dimple/native`; a library is keyed by its source, the compiler's version, the flags and the CPU's flags,
so a cache shared between machines never hands one CPU another's build) and `library()`. Nothing is compiled at
import: the first `library()` call of a source builds it (about a second). It does not know what the kernels
compute (`dimple.int4_native`, `dimple.fused_matmul`).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

FLAGS = ("-O3", "-march=native", "-fPIC", "-shared", "-std=gnu11", "-fopenmp")
FAILURES = (RuntimeError, OSError, subprocess.SubprocessError)  # what a missing compiler or failed build raises


def _cpu_flags() -> str:
    try:
        return next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        return platform.processor()


def cache_dir() -> Path:
    return Path(os.environ.get("DIMPLE_NATIVE_CACHE", Path.home() / ".cache" / "dimple" / "native"))


def compiler() -> str:
    found = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if found is None:
        raise RuntimeError("no C compiler (cc or gcc) to build this project's CPU kernels")
    return found


def build(name: str, source: str) -> Path:
    """The compiled library's path, built if this source, compiler and CPU have none yet (written under a
    temporary name and renamed, so concurrent builds never load a half-written file). Raises RuntimeError with
    the compiler's message when the build fails, OSError when the compiler cannot run. A failure is remembered
    for the process: the kernel timing asks once per weight shape, and must not run the compiler each time."""
    outcome = _attempt(name, source, compiler(), str(cache_dir()))
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


@functools.lru_cache(maxsize=None)
def _attempt(name: str, source: str, cc: str, cache: str) -> Path | BaseException:
    try:
        version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=True).stdout
        key = hashlib.sha256("\0".join((source, version, " ".join(FLAGS), _cpu_flags())).encode()).hexdigest()[:16]
        target = Path(cache) / f"{name}-{key}.so"
        if not target.exists():
            _compile(cc, name, source, target)
        return target
    except FAILURES as exc:
        return exc


def _compile(cc: str, name: str, source: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        src, lib = Path(tmp) / f"{name}.c", Path(tmp) / "lib.so"
        src.write_text(source)
        done = subprocess.run([cc, *FLAGS, str(src), "-o", str(lib)], capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"{cc} failed to build {name}: {done.stderr.strip()[:300]}")
        os.replace(lib, target)


def library(name: str, source: str, functions: dict) -> ctypes.CDLL:
    """The built library with each function's ctypes signature set: functions {name: (argtypes, restype)}."""
    lib = ctypes.CDLL(str(build(name, source)))
    for fn, (argtypes, restype) in functions.items():
        getattr(lib, fn).argtypes = argtypes
        getattr(lib, fn).restype = restype
    return lib
