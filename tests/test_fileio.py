"""Atomic writes: results appear whole or not at all, with the usual permissions, and a killed writer's temp
files are cleaned up by the next process that writes into the folder."""

import os
import subprocess
import sys
import time

import pytest
import torch

from intermamba import fileio
from intermamba.fileio import atomic_path, atomic_write_text, clean_stale_temps


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_results_get_the_usual_mode_even_from_writers_that_reset_it(tmp_path):
    from safetensors.torch import save_file

    with atomic_path(tmp_path / "w.safetensors") as tmp:
        save_file({"w": torch.zeros(2)}, str(tmp))     # safetensors recreates the file as 0600
    atomic_write_text(tmp_path / "t.json", "{}")
    for name in ("w.safetensors", "t.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~_umask(), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json", "w.safetensors"]


def test_a_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "x.npy") as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_stale_temp_files_are_removed_and_live_ones_kept(tmp_path):
    host = fileio._HOST
    dead, alive = _dead_pid(), os.getpid()
    old = time.time() - 2 * fileio.STALE_SECONDS
    files = {
        f".step=0000004.{host}-{dead}-ab_cd123.tmp.ckpt": ("gone", None),          # this machine, writer dead
        f".last.{host}-{dead}-x1y2z3w4.tmp.ckpt": ("gone", None),
        f".video.{host}-{dead}-aaaaaaaa.tmp.mp4": ("gone", None),                 # an output folder's video
        f".config.{host}-{alive}-bbbbbbbb.tmp.json": ("kept", None),              # a live writer
        ".step=0000008.k2j3h4g5.tmp.ckpt": ("gone", old),                         # the older naming, a day old
        ".step=0000012.k2j3h4g6.tmp.ckpt": ("kept", None),                        # ... and a fresh one
        f".model.0000beef-{dead}-cccccccc.tmp.safetensors": ("kept", None),       # another machine's, fresh
        f".model.0000beef-{dead}-dddddddd.tmp.safetensors": ("gone", old),        # ... and abandoned
        ".hidden_notes.txt": ("kept", old),                                       # not ours
        "result.tmp.ckpt": ("kept", old),
        "step=0000004.ckpt": ("kept", old),
    }
    for name, (_, mtime) in files.items():
        (tmp_path / name).write_bytes(b"x")
        if mtime is not None:
            os.utime(tmp_path / name, (mtime, mtime))
    removed = {p.name for p in clean_stale_temps(tmp_path)}
    assert removed == {n for n, (fate, _) in files.items() if fate == "gone"}
    assert {p.name for p in tmp_path.iterdir()} == {n for n, (fate, _) in files.items() if fate == "kept"}


def test_the_first_write_into_a_folder_sweeps_it(tmp_path, monkeypatch):
    monkeypatch.setattr(fileio, "_swept", set())
    orphan = tmp_path / f".clip.{fileio._HOST}-{_dead_pid()}-abcdefgh.tmp.mp4"
    orphan.write_bytes(b"half a video")
    atomic_write_text(tmp_path / "clip.json", "{}")
    assert not orphan.exists() and (tmp_path / "clip.json").is_file()
