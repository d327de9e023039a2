"""Compiled CPU kernels: built ahead of time into a folder per machine, loaded without building.

A kernel is C++ source compiled with torch's cpp_extension into its own cache folder:

    ~/.cache/intermamba/kernels/<name>-<key>/     (or $INTERMAMBA_CACHE/kernels/...)
        <name>.so     the finished library; it appears atomically, so present means complete
        build/        torch's build tree (ninja file, objects)
        build.lock    held (flock) by the one process building here; the OS drops it when that process exits
        build.log     the compiler's output of the last failed build
        key.json      what the key hashes, for people

`<key>` hashes what the binary depends on: the Python (venv and interpreter), the PyTorch build, the compiler
flags, the CPU (code built with -march=native must never run on another CPU) and the source. Two venvs, or two
machines sharing a home folder, therefore never rebuild each other's kernel or load one built for another CPU.

Why requests only load and never build: compiling takes about a minute of every core; a first `generate` that
stalls that long for a few seconds of sampling is a bad surprise, a server's first request would time out, and
a build killed half-way used to leave torch's lock file behind so that every later process waited for it forever.
So building is an explicit step (`intermamba build-kernels`, or `CpuKernel.build`), and until it has run callers
use their pure-PyTorch path (same results, slower) and say so in one line. The lock is taken only by builders,
and it cannot go stale: it is an flock, which dies with its holder.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch

from ..fileio import atomic_path, atomic_write_text, cache_dir

try:
    import fcntl
except ImportError:  # Windows: no flock, so builds there are not serialised
    fcntl = None

LIB_SUFFIX = ".so"        # the name torch's cpp_extension gives the library on Linux and macOS
BUILD_WAIT_S = 900.0      # how long a builder waits for another live build of the same folder


class KernelBuildError(RuntimeError):
    """A kernel could not be built: no compiler, a compile error, or another build holding the folder too long."""


def say(message: str) -> None:
    """One line on stderr, the way the library reports what it is doing."""
    print(f"intermamba: {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------- the key
def kernel_key(*, python: str, torch_version: str, cpu: str, flags: Sequence[str], source: str) -> str:
    """16 hex digits naming one build; equal exactly when the binaries would be interchangeable."""
    blob = json.dumps([python, torch_version, cpu, list(flags), source])
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def python_identity() -> str:
    """The environment a kernel is built against: the venv (its include path is on the build line), the
    interpreter binary and its version."""
    return f"{sys.prefix}|{os.path.realpath(sys.executable)}|{sys.version}"


def torch_identity() -> str:
    """The PyTorch build: its version (with the +cpu / +cu128 tag) and where it is installed."""
    return f"{torch.__version__}|{os.path.dirname(torch.__file__)}"


_CPU_FIELDS = ("vendor_id", "cpu family", "model", "model name", "flags",                  # x86
               "CPU implementer", "CPU architecture", "CPU variant", "CPU part", "Features")  # Arm


@functools.cache
def cpu_identity() -> str:
    """The CPU's model and instruction-set flags (from /proc/cpuinfo on Linux, sysctl on macOS)."""
    fields = {"machine": platform.machine()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                name, _, value = line.partition(":")
                if name.strip() in _CPU_FIELDS:
                    fields.setdefault(name.strip(), value.strip())   # the first CPU's
    except OSError:
        pass
    if sys.platform == "darwin":
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            fields["brand"] = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True,
                                             text=True, timeout=10).stdout.strip()
    return json.dumps(fields, sort_keys=True)


def compiler() -> str | None:
    """The C++ compiler torch's build calls ($CXX, else c++) as a full path; None when it is not there."""
    words = (os.environ.get("CXX") or "c++").split()
    return shutil.which(words[0]) if words else None


# ----------------------------------------------------------------------------------------- the kernel
@dataclass(frozen=True)
class BuildResult:
    path: Path          # the library
    seconds: float      # time spent compiling (0 when it was already built)
    built: bool         # False: it was already there


@dataclass(frozen=True)
class CpuKernel:
    """A C++ torch extension: its module name, source, the functions it exports, and its compiler flags."""
    name: str
    source: str
    functions: tuple[str, ...]
    cflags: tuple[str, ...]
    ldflags: tuple[str, ...] = ()

    def identity(self) -> dict:
        return {"python": python_identity(), "torch_version": torch_identity(), "cpu": cpu_identity(),
                "flags": [*self.cflags, *self.ldflags], "source": self.source}

    @property
    def folder(self) -> Path:
        """This machine's folder for the kernel (read each time: $INTERMAMBA_CACHE may change)."""
        return cache_dir("kernels", f"{self.name}-{kernel_key(**self.identity())}")

    @property
    def library(self) -> Path:
        return self.folder / f"{self.name}{LIB_SUFFIX}"

    def load(self):
        """The built module, or None when it is not built. Never builds and takes no lock, so it cannot hang;
        raises ImportError / OSError when a library is there but does not load."""
        path = self.library
        if not path.is_file():
            return None
        spec = importlib.util.spec_from_file_location(self.name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    def build(self, *, force: bool = False, wait_s: float = BUILD_WAIT_S,
              log: Callable[[str], None] = say) -> BuildResult:
        """Compile into this machine's folder unless it is built already (`force`: rebuild from scratch).

        Says in one line when a build starts and how long it takes, and in one when it is done. Concurrent
        builders of the same folder queue on its lock; raises KernelBuildError with a one-line message."""
        from torch.utils.cpp_extension import load_inline

        cxx = compiler()
        if cxx is None:
            where = f"CXX={os.environ['CXX']} is not an executable" if os.environ.get("CXX") else "c++ is not on PATH"
            raise KernelBuildError(f"no C++ compiler found ({where}): install one (e.g. g++) or point CXX at it, "
                                   "then run this again")
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        with build_lock(folder / "build.lock", wait_s=wait_s, log=log):
            if self.library.is_file() and not force:   # built already, or by the build we waited for
                return BuildResult(self.library, 0.0, built=False)
            build_dir = folder / "build"
            if force:
                shutil.rmtree(build_dir, ignore_errors=True)
            build_dir.mkdir(exist_ok=True)
            # torch's own lock file: with ours held nobody else builds here, so one found now is a killed build's
            (build_dir / "lock").unlink(missing_ok=True)
            log(f"building the compiled {self.name} kernel with {cxx} (about a minute, once per Python, PyTorch "
                f"and CPU) into {folder}")
            start = time.monotonic()
            try:
                load_inline(name=self.name, cpp_sources=[self.source], functions=list(self.functions),
                            extra_cflags=list(self.cflags), extra_ldflags=list(self.ldflags),
                            build_directory=str(build_dir), verbose=False)
            except Exception as err:  # compile errors, missing headers or ninja: all say why in their text
                atomic_write_text(folder / "build.log", str(err))
                raise KernelBuildError(f"building {self.name} failed ({_first_error(str(err))}); the full output "
                                       f"is in {folder / 'build.log'}") from None
            with atomic_path(self.library) as tmp:
                shutil.copyfile(build_dir / f"{self.name}{LIB_SUFFIX}", tmp)
            try:   # what runs will load must load (a compiler orphaned by a killed build could have raced us)
                self.load()
            except Exception as err:
                self.library.unlink(missing_ok=True)
                raise KernelBuildError(f"the library built in {folder} does not load ({type(err).__name__}: "
                                       f"{str(err)[:150]}); run this again with --force") from None
            about = {"python": python_identity(), "torch": torch_identity(), "cpu": json.loads(cpu_identity()),
                     "cflags": self.cflags, "ldflags": self.ldflags, "compiler": cxx}
            atomic_write_text(folder / "key.json", json.dumps(about, indent=1) + "\n")
            (folder / "build.log").unlink(missing_ok=True)
            seconds = time.monotonic() - start
            log(f"built {self.name} in {seconds:.0f} s: {self.library}")
            return BuildResult(self.library, seconds, built=True)


def _first_error(output: str) -> str:
    """The line of a compiler's output that says what went wrong, shortened."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    hits = [line for line in lines if "error" in line.lower()] or lines or ["no output"]
    return hits[0][:200]


@contextlib.contextmanager
def build_lock(path: Path, *, wait_s: float, log: Callable[[str], None] = say) -> Iterator[None]:
    """Hold an exclusive flock on `path`: one builder per folder. The OS releases it when its holder exits or is
    killed, so it never goes stale; a live holder is waited for (one line says so) for at most `wait_s`."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            deadline, waiting = time.monotonic() + wait_s, False
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = path.read_text().strip() or "?"
                    if time.monotonic() >= deadline:
                        raise KernelBuildError(f"another process (pid {holder}) has been building in {path.parent} "
                                               f"for over {wait_s:.0f} s; let it finish or stop it, then try again")
                    if not waiting:
                        log(f"waiting for another build in {path.parent} (pid {holder}) to finish")
                        waiting = True
                    time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())   # for the message of whoever waits
        yield
    finally:
        os.close(fd)   # drops the flock
