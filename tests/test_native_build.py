"""dimple.native_build: a source is built once per compiler and cache, and a failed build is remembered rather
than rerun for every weight shape the kernel timing asks about."""

from __future__ import annotations

import pytest

from dimple import native_build


def _fake_compiler(tmp_path, fails: bool):
    """A `cc` that answers --version and logs each compile; it fails them or delegates to the real compiler."""
    log = tmp_path / "calls.log"
    real = native_build.compiler()
    script = tmp_path / "cc"
    action = "exit 1" if fails else f'exec {real} "$@"'
    script.write_text(f'#!/bin/sh\nif [ "$1" = "--version" ]; then echo fake 1.0; exit 0; fi\n'
                      f'echo compile >> {log}\n{action}\n')
    script.chmod(0o755)
    return str(script), log


def test_a_failed_build_is_remembered_and_not_rerun(tmp_path, monkeypatch):
    cc, log = _fake_compiler(tmp_path, fails=True)
    monkeypatch.setenv("CC", cc)
    monkeypatch.setenv("DIMPLE_NATIVE_CACHE", str(tmp_path / "cache"))
    for _ in range(3):
        with pytest.raises(RuntimeError, match="failed to build"):
            native_build.build("fails", "int f(void) { return 1; }")
    assert log.read_text().splitlines() == ["compile"]


def test_a_source_is_compiled_once_and_found_in_its_cache(tmp_path, monkeypatch):
    cc, log = _fake_compiler(tmp_path, fails=False)
    monkeypatch.setenv("CC", cc)
    monkeypatch.setenv("DIMPLE_NATIVE_CACHE", str(tmp_path / "cache"))
    first = native_build.build("ok", "int f(void) { return 2; }")
    assert native_build.build("ok", "int f(void) { return 2; }") == first and first.exists()
    other = native_build.build("ok", "int f(void) { return 3; }")  # another source: another library
    assert other != first and log.read_text().splitlines() == ["compile", "compile"]
