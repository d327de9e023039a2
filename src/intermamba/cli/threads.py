"""`--threads N` for the verbs that run the network (generate, eval, train, bench), and the default thread count.

torch starts one CPU thread per core. On a busy machine that is often the slowest choice: OpenMP threads wait
for each other at every operation, so one thread descheduled by other work stalls all of them. Measured on a
shared 2-core machine (other jobs running), the demo's 300-frame 50-step sample took 74-98 s with torch's 2
threads and 13-17 s with 1; `intermamba generate --frames 150 --steps 10` took 23-75 s with 2 and 8-12 s with 1
(wall time, start-up included). The networks' per-step matrix products are small, so the gain from more threads
flattens after a few. The default is therefore half the usable cores, at most 4, at least 1 (1 on a 2-core
machine); OMP_NUM_THREADS, when set, is honoured (torch reads it), and `--threads` overrides both.
"""

from __future__ import annotations

import os
from typing import Optional

from .errors import CLIError

MAX_DEFAULT_THREADS = 4


def add_threads_argument(parser, *, default_help: str = "half the cores, at most 4; OMP_NUM_THREADS if set") -> None:
    parser.add_argument("--threads", type=int, metavar="N", help=f"CPU threads for torch (default: {default_help})")


def default_threads() -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores // 2, MAX_DEFAULT_THREADS))


def apply_threads(value: Optional[int], *, pick_default: bool = True) -> int:
    """Validate `--threads` and set torch's thread count; returns the count in use.

    None keeps OMP_NUM_THREADS's count when the variable is set, else picks `default_threads()` (or leaves
    torch's choice when pick_default is False). An explicit count is also exported as OMP_NUM_THREADS, so that
    processes started by this one (Lightning's DDP workers) use it too.
    """
    import torch

    if value is not None:
        if value < 1:
            raise CLIError(f"--threads must be a positive integer, got {value}")
        os.environ["OMP_NUM_THREADS"] = str(value)
        torch.set_num_threads(value)
    elif pick_default and not os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(default_threads())
    return torch.get_num_threads()
