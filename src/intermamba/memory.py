"""How much memory a request may still take, and whether an error is an out-of-memory.

    available_bytes(torch.device("cpu"))   # the tightest of the machine's, the cgroup's and ulimit's headroom
    is_out_of_memory(err)                  # MemoryError, torch.OutOfMemoryError, "DefaultCPUAllocator: can't allocate"

Used to size batches before they are allocated and to turn a real out-of-memory into one line of advice.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Optional

import torch

OOM_MESSAGES = ("out of memory", "can't allocate memory", "cannot allocate memory")


def available_bytes(device: torch.device) -> Optional[int]:
    """Bytes that can still be allocated on `device`, or None when it cannot be told."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type != "cpu":
        return None
    known = [b for b in (_meminfo_available(), _cgroup_headroom(), _rlimit_headroom()) if b is not None]
    return min(known) if known else None


def is_out_of_memory(err: BaseException) -> bool:
    """True for the ways torch and Python report an allocation that did not fit (CPU and CUDA)."""
    if isinstance(err, MemoryError) or isinstance(err, getattr(torch, "OutOfMemoryError", ())):
        return True
    return isinstance(err, RuntimeError) and any(m in str(err) for m in OOM_MESSAGES)


def _read(path: str) -> Optional[str]:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _meminfo_available() -> Optional[int]:
    """Linux's estimate of memory available without swapping (free + reclaimable caches)."""
    text = _read("/proc/meminfo")
    for line in (text or "").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_headroom() -> Optional[int]:
    """limit - usage of this process's memory cgroup (v2, else v1), or None without a limit."""
    for line in (_read("/proc/self/cgroup") or "").splitlines():
        if line.startswith("0::"):                                       # cgroup v2
            folder = "/sys/fs/cgroup" + line[3:].rstrip("/")
            limit, usage = _read(f"{folder}/memory.max"), _read(f"{folder}/memory.current")
            break
    else:
        limit = _read("/sys/fs/cgroup/memory/memory.limit_in_bytes")
        usage = _read("/sys/fs/cgroup/memory/memory.usage_in_bytes")
    try:
        limit_b, usage_b = int(limit), int(usage)                        # "max" (no limit) fails here
    except (TypeError, ValueError):
        return None
    return max(limit_b - usage_b, 0) if limit_b < 2 ** 60 else None     # v1 writes "no limit" as ~2**63


def _rlimit_headroom() -> Optional[int]:
    """RLIMIT_AS (`ulimit -v`) minus the address space already mapped."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    for line in (_read("/proc/self/status") or "").splitlines():
        if line.startswith("VmSize:"):
            return max(soft - int(line.split()[1]) * 1024, 0)
    return None
