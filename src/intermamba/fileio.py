"""Atomic file output: a result is either complete on disk or absent, never half-written.

A result is written to a hidden temp file beside it, `.<stem>.<host>-<pid>-<random>.tmp<suffix>`, then renamed
over the target. A process killed mid-write (kill -9, power loss) leaves its temp file behind; the next process
that writes into the same folder removes the temp files whose writer is gone (this machine, a pid no longer
running) or that nobody has touched for a day (another machine's, or the older naming without a pid). Only names
of this pattern are ever removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import socket
import tempfile
import time
from pathlib import Path
from typing import Iterator, Union

CACHE_ENV = "INTERMAMBA_CACHE"   # where derived, rebuildable files go (default ~/.cache/intermamba)


def cache_dir(*parts: str) -> Path:
    """A folder under ~/.cache/intermamba (or $INTERMAMBA_CACHE): derived files that can always be rebuilt."""
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "intermamba")
    return Path(root, *parts)

STALE_SECONDS = 24 * 3600     # an untouched temp file this old has no live writer, whoever made it
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
# .<stem>.[<host>-<pid>-]<mkstemp's 8 random characters>.tmp[<suffix>]; the bracketed part is absent in the
# names written before the host and pid were added
_TEMP_NAME = re.compile(r"^\..+\.(?:(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-)?[a-z0-9_]{8}\.tmp(?:\.[^.]+)?$")
_swept: set[Path] = set()     # folders this process has already cleaned


@contextlib.contextmanager
def atomic_path(path: Union[str, os.PathLike]) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` (os.replace), on error it is removed.

        with atomic_path("out/video.mp4") as tmp:
            writer.write(tmp)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent.resolve() not in _swept:
        clean_stale_temps(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.{_HOST}-{os.getpid()}-",
                               suffix=f".tmp{path.suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        # mkstemp makes 0600 files, and some writers (safetensors) recreate the file with that mode: results get
        # the usual permissions once written
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def clean_stale_temps(folder: Union[str, os.PathLike]) -> list[Path]:
    """Remove the temp files of `atomic_path` in `folder` that no live writer owns; returns what was removed."""
    folder = Path(folder)
    _swept.add(folder.resolve())
    removed = []
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.is_file(follow_symlinks=False)]
    except OSError:
        return removed
    for name in names:
        match = _TEMP_NAME.match(name)
        if match is None:
            continue
        path = folder / name
        try:
            age = time.time() - path.stat().st_mtime
        except OSError:
            continue      # gone already (its writer finished, or another cleaner was first)
        orphan = match["host"] == _HOST and not _pid_alive(int(match["pid"]))
        if orphan or age > STALE_SECONDS:
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)       # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True           # it exists, under another user
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: Union[str, os.PathLike], text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def atomic_write_bytes(path: Union[str, os.PathLike], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
