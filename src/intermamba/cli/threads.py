"""`--threads N` for the verbs that run the network (generate, eval, train, bench), and the default thread count.

torch starts one CPU thread per core. On a busy machine that is often the slowest choice: OpenMP threads wait
for each other at every operation, so one thread descheduled by other work stalls all of them. Measured on a
shared 2-core machine (load average 5), `intermamba generate --frames 150 --steps 10` on the demo model, three
runs each: sampling 0.76-1.08 s with `--threads 1` and 5.1-56 s with `--threads 2` (wall time, start-up
included, 7.5-9.6 s against 15-68 s); issue 11 saw a 300-frame 50-step sample take 13-17 s with 1 thread and
74-98 s with 2. On an idle machine 2 threads are about twice as fast as 1 (README, Performance), so a single
thread costs at most 2x where it is not needed and saves 5x or more where the machine is shared. The default is
therefore half the usable cores, at most 4, at least 1 (1 on a 2-core machine): it leaves room for other work;
the cap of 4 is a conservative guess, not measured (no machine with more cores was at hand). OMP_NUM_THREADS,
when set, is honoured (torch reads it), and `--threads` overrides both.
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
