"""`--threads` for generate, eval, train and bench, and the default thread count on small or busy machines."""

import os

import pytest
import torch

from intermamba.cli import main
from intermamba.cli.errors import CLIError
from intermamba.cli.threads import apply_threads, default_threads


@pytest.fixture(autouse=True)
def restore_threads(monkeypatch):
    """Each test may change torch's thread count and OMP_NUM_THREADS; put both back."""
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("cores, expected", [(1, 1), (2, 1), (3, 1), (4, 2), (8, 4), (64, 4)])
def test_default_is_half_the_cores_at_most_four(monkeypatch, cores, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert default_threads() == expected


def test_apply_threads(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    torch.set_num_threads(2)
    assert apply_threads(None) == 1 == torch.get_num_threads()        # 2 cores: 1 thread by default
    torch.set_num_threads(2)
    assert apply_threads(None, pick_default=False) == 2               # bench: torch's choice
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert apply_threads(None) == 2                                   # the user's OMP_NUM_THREADS is honoured
    assert apply_threads(3) == 3 == torch.get_num_threads()           # --threads overrides it
    assert os.environ["OMP_NUM_THREADS"] == "3"                       # and reaches child processes
    for bad in (0, -1):
        with pytest.raises(CLIError, match=f"--threads must be a positive integer, got {bad}"):
            apply_threads(bad)


@pytest.mark.parametrize("verb", [["generate", "two people hug", "--out"], ["eval", "--quick", "--out"],
                                  ["train", "--config", "tiny", "--run-dir"], ["bench", "--configs", "tiny", "--json"]])
def test_every_verb_that_runs_the_network_takes_threads(verb, capsys, tmp_path):
    # The option exists on each verb, and a bad value gets one line before any work.
    assert main([*verb, str(tmp_path / "x"), "--threads", "-1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("--threads must be a positive integer, got -1") and len(err.splitlines()) == 1
    assert not (tmp_path / "x").exists()


def test_generate_runs_with_the_threads_asked_for(tmp_path):
    import intermamba
    from intermamba.checkpoint import save_pretrained
    from intermamba.motion import Normalizer
    from intermamba.skeleton import FEATURE_DIM

    cfg = intermamba.load_config("tiny")
    folder = save_pretrained(tmp_path / "m", intermamba.build_model(cfg), cfg,
                             Normalizer(torch.zeros(FEATURE_DIM), torch.ones(FEATURE_DIM)))
    torch.set_num_threads(2)
    assert main(["generate", "two people hug", "--frames", "8", "--steps", "2", "--checkpoint", str(folder),
                 "--out", str(tmp_path / "out"), "--formats", "npy", "--threads", "1"]) == 0
    assert torch.get_num_threads() == 1
