"""The compiled CPU scan's build: a folder per machine, locks that cannot hang a run, `build-kernels` and `info`."""

import fcntl
import os
import subprocess
import sys
import time

import pytest

from intermamba.cli import main
from intermamba.ops import KernelBuildError, scan_native
from intermamba.ops.kernels import build_lock, compiler, kernel_key
from intermamba.ops.scan_native import SCAN_KERNEL

FALLBACK = "using the slower pure-PyTorch selective scan: the compiled kernel is not built"


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty kernel cache, and a process that looks the compiled scan up again (and again after the test)."""
    monkeypatch.setenv("INTERMAMBA_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("INTERMAMBA_NO_NATIVE_SCAN", raising=False)
    monkeypatch.setattr(scan_native, "_STATUS", None)
    return tmp_path / "cache"


def test_cache_key_separates_pythons_torches_cpus_flags_and_sources():
    base = dict(python="/home/a/.venv|/usr/bin/python3.11|3.11.7", torch_version="2.13.0+cpu|/home/a/.venv/torch",
                cpu='{"flags": "avx2 avx512f"}', flags=["-O3", "-march=native"], source="int f();")
    key = kernel_key(**base)
    assert key == kernel_key(**base) and len(key) == 16
    changes = {"python": "/home/b/.venv|/usr/bin/python3.11|3.11.7",          # another venv, same interpreter
               "torch_version": "2.12.0+cpu|/home/a/.venv/torch",
               "cpu": '{"flags": "avx2"}',                                     # another machine sharing ~/.cache
               "flags": ["-O2", "-march=native"],
               "source": "int g();"}
    keys = {kernel_key(**{**base, name: value}) for name, value in changes.items()}
    assert len(keys) == len(changes) and key not in keys


def test_the_kernel_folder_is_per_python_under_the_cache(fresh_cache, monkeypatch):
    from intermamba.ops import kernels

    folder = SCAN_KERNEL.folder
    assert folder.parent == fresh_cache / "kernels" and folder.name.startswith("intermamba_scan_cpu-")
    assert SCAN_KERNEL.library.parent == folder
    monkeypatch.setattr(kernels, "python_identity", lambda: "/elsewhere/.venv|/usr/bin/python3.12|3.12.1")
    assert SCAN_KERNEL.folder != folder and SCAN_KERNEL.folder.parent == folder.parent


def test_stale_locks_never_hang_a_run(fresh_cache, tmp_path):
    """A build killed half-way leaves lock files behind (torch's, in the old shared folder and in ours): the next
    run must not wait for them. It uses the PyTorch scan and says so in one line, naming the fix."""
    env = {**os.environ, "TORCH_EXTENSIONS_DIR": str(tmp_path / "ext")}
    py = f"py{sys.version_info.major}{sys.version_info.minor}{getattr(sys, 'abiflags', '')}"
    old_lock = tmp_path / "ext" / f"{py}_cpu" / "intermamba_scan_cpu_v4" / "lock"   # where torch's build once waited
    folder = SCAN_KERNEL.folder
    for lock in (old_lock, folder / "build" / "lock", folder / "build.lock"):
        lock.parent.mkdir(parents=True, exist_ok=True)
        lock.write_text("12345\n")
    args = [sys.executable, "-m", "intermamba.cli", "generate", "two people hug", "--frames", "30", "--steps", "2",
            "--out", str(tmp_path / "out"), "--formats", "npy"]
    try:
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        pytest.fail("generate hung on a stale build lock")
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if line.startswith("intermamba:")]
    assert len(notes) == 1 and FALLBACK in notes[0] and "intermamba build-kernels" in notes[0], proc.stderr
    assert list((tmp_path / "out").glob("*.npy"))


def test_a_killed_builder_leaves_no_lock_behind(tmp_path):
    """The build lock is an flock: the OS drops it when its holder dies, even by kill -9."""
    lock = tmp_path / "build.lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from intermamba.ops.kernels import build_lock\n"
        f"with build_lock(Path({str(lock)!r}), wait_s=1):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(600)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        said = []
        with pytest.raises(KernelBuildError, match=rf"another process \(pid {holder.pid}\) has been building"):
            with build_lock(lock, wait_s=0.3, log=said.append):
                pass
        assert len(said) == 1 and f"pid {holder.pid}" in said[0]     # one line while it waits
    finally:
        holder.kill()
        holder.wait()
    start = time.monotonic()
    with build_lock(lock, wait_s=30, log=said.append):
        assert time.monotonic() - start < 5
    assert len(said) == 1


@pytest.mark.skipif(compiler() is None, reason="needs a C++ compiler to get as far as the lock")
def test_build_gives_up_on_a_live_builder_with_one_line(fresh_cache):
    lock = SCAN_KERNEL.folder / "build.lock"
    lock.parent.mkdir(parents=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)   # another open file: conflicts as another process's lock would
        said = []
        with pytest.raises(KernelBuildError, match="has been building in .* for over .*; let it finish or stop it"):
            SCAN_KERNEL.build(wait_s=0.2, log=said.append)
        assert len(said) == 1 and said[0].startswith("waiting for another build")
    finally:
        os.close(fd)


@pytest.mark.parametrize("how", ["CXX names a missing binary", "no c++ on PATH"])
def test_build_kernels_without_a_compiler_is_one_line_exit_2(fresh_cache, tmp_path, monkeypatch, capsys, how):
    if how == "no c++ on PATH":
        monkeypatch.delenv("CXX", raising=False)
        monkeypatch.setenv("PATH", str(tmp_path))
        where = "c++ is not on PATH"
    else:
        monkeypatch.setenv("CXX", str(tmp_path / "missing" / "g++"))
        where = f"CXX={tmp_path / 'missing' / 'g++'} is not an executable"
    assert main(["build-kernels"]) == 2
    err = capsys.readouterr().err
    assert err == f"intermamba build-kernels: error: no C++ compiler found ({where}): install one (e.g. g++) or " \
                  "point CXX at it, then run this again\n"
    assert not SCAN_KERNEL.library.exists()
    assert main(["info", "tiny"]) == 0
    assert "selective scan on CPU: fused - the compiled kernel is not built and no C++ compiler was found" in \
        capsys.readouterr().out


def test_a_failed_build_is_one_line_exit_2_with_the_log_kept(fresh_cache, tmp_path, monkeypatch, capsys):
    cxx = tmp_path / "broken-c++"
    cxx.write_text("#!/bin/sh\necho 'main.cpp:1:1: error: this compiler is broken' >&2\nexit 1\n")
    cxx.chmod(0o755)
    monkeypatch.setenv("CXX", str(cxx))
    assert main(["build-kernels"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0].startswith("intermamba: building the compiled intermamba_scan_cpu kernel")
    assert err[1].startswith("intermamba build-kernels: error: building intermamba_scan_cpu failed (")
    assert err[1].endswith(f"the full output is in {SCAN_KERNEL.folder / 'build.log'}")
    assert (SCAN_KERNEL.folder / "build.log").is_file() and not SCAN_KERNEL.library.exists()


def test_info_names_the_scan_backend_and_why(fresh_cache, monkeypatch, capsys):
    monkeypatch.setenv("CXX", sys.executable)   # "a compiler is there" without depending on the machine's
    assert main(["info", "tiny"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == ("selective scan on CPU: fused - the compiled kernel is not built for this Python, PyTorch "
                         "and CPU; run `intermamba build-kernels` once (about a minute)")

    monkeypatch.setenv("INTERMAMBA_NO_NATIVE_SCAN", "1")
    monkeypatch.setattr(scan_native, "_STATUS", None)
    assert main(["info", "tiny"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == \
        "selective scan on CPU: fused - the compiled kernel is disabled by INTERMAMBA_NO_NATIVE_SCAN=1"


def test_a_library_that_does_not_load_is_reported_and_not_used(fresh_cache, monkeypatch, capsys):
    monkeypatch.setenv("CXX", sys.executable)
    SCAN_KERNEL.folder.mkdir(parents=True)
    SCAN_KERNEL.library.write_bytes(b"not a shared library")
    assert main(["info", "tiny"]) == 0
    line = capsys.readouterr().out.splitlines()[-1]
    assert line.startswith(f"selective scan on CPU: fused - the compiled kernel at {SCAN_KERNEL.library} does not "
                           "load (ImportError") and line.endswith("rebuild it with `intermamba build-kernels --force`")
    assert main(["build-kernels"]) == 0        # there already: no build, says how to force one
    assert "the compiled scan is already built" in capsys.readouterr().err


@pytest.mark.slow
def test_build_kernels_builds_past_a_killed_builds_lock(fresh_cache, capsys):
    """A real build (about a minute) into an empty cache holding a killed build's torch lock file."""
    (SCAN_KERNEL.folder / "build").mkdir(parents=True)
    (SCAN_KERNEL.folder / "build" / "lock").touch()
    assert main(["build-kernels"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("intermamba: building the compiled intermamba_scan_cpu kernel") and \
        "about a minute" in err[0]
    assert err[1].startswith("intermamba: built intermamba_scan_cpu in ") and str(SCAN_KERNEL.library) in err[1]
    assert len(err) == 2 and SCAN_KERNEL.library.is_file()
    assert main(["info", "tiny"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == \
        f"selective scan on CPU: native - compiled kernel loaded from {SCAN_KERNEL.library}"
