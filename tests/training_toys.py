"""Tiny procedural two-person clips for the training tests (made with our skeleton's FK, so positions,
rotations and contacts agree): three kinds of interaction, each with its own caption. And the reader of a
run's logged training rows."""

from __future__ import annotations

import csv
import math

import numpy as np
import torch

from intermamba.data import MotionDataset, RawItem
from intermamba.rotations import axis_angle_to_matrix, matrix_to_rot6d
from intermamba.skeleton import JOINT_INDEX, NUM_JOINTS, REST_PELVIS_HEIGHT, forward_kinematics

KINDS = {
    "one person raises the right arm": ("r_shoulder", (0.0, 0.0, 1.0), 0),
    "the other person raises the left arm": ("l_shoulder", (0.0, 0.0, -1.0), 1),
    "both people bow to each other": ("spine1", (1.0, 0.0, 0.0), None),
}


def _person(frames: int, yaw: float, root_xz, joint: str, axis, amount: torch.Tensor):
    """FK of one person: a root yaw and position, and one joint rotated by amount(t) about axis."""
    aa = torch.zeros(frames, NUM_JOINTS, 3)
    aa[:, 0, 1] = yaw
    aa[:, JOINT_INDEX[joint]] = torch.tensor(axis) * amount[:, None]
    local = axis_angle_to_matrix(aa)                                        # (T, 22, 3, 3)
    root = torch.tensor([root_xz[0], REST_PELVIS_HEIGHT, root_xz[1]]).expand(frames, 3)
    return forward_kinematics(local, root), matrix_to_rot6d(local[:, 1:])


def toy_items(count: int, *, frames: int = 40, seed: int = 0) -> list[RawItem]:
    g = torch.Generator().manual_seed(seed)
    items = []
    kinds = list(KINDS.items())
    for n in range(count):
        caption, (joint, axis, who) = kinds[n % len(kinds)]
        speed = 0.5 + torch.rand((), generator=g).item()
        t = torch.arange(frames, dtype=torch.float32) / frames
        amount = 1.2 * torch.clamp(t * 2 * speed, max=1.0)
        still = torch.zeros(frames)
        dist = 1.2 + 0.3 * torch.rand((), generator=g).item()
        a = _person(frames, 0.0, (0.0, 0.0), joint, axis, amount if who in (0, None) else still)
        b = _person(frames, math.pi, (0.0, dist), joint, axis, amount if who in (1, None) else still)
        positions = torch.stack([a[0], b[0]]).numpy().astype(np.float32)   # (2, T, 22, 3)
        rotations = torch.stack([a[1], b[1]]).numpy().astype(np.float32)   # (2, T, 21, 6)
        items.append(RawItem(name=f"toy_{n:03d}", texts=[caption], positions=positions, rotations=rotations))
    return items


def toy_dataset(count: int = 12, *, frames: int = 40, max_frames: int = 64, seed: int = 0) -> MotionDataset:
    return MotionDataset(toy_items(count, frames=frames, seed=seed), max_frames=max_frames, min_frames=8,
                         mirror=False, swap=True, source="toy")


def logged_rows(run_dir) -> list[dict]:
    """The training rows (those with a train/loss) of every metrics.csv of a run, in order."""
    rows = []
    for path in sorted((run_dir / "logs").glob("version_*/metrics.csv")):
        with open(path) as f:
            rows += [r for r in csv.DictReader(f) if r.get("train/loss")]
    return rows
