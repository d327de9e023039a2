"""User constraints as known feature values: what the sampler holds fixed while it generates the rest.

The sampler (diffusion.Constraint) knows only values and a mask; this module turns motion inputs into them,
in InterGen's canonical 262-d features (motion.py), and maps results back to the input's world frame:

    person = read_bvh_joints("18_01.bvh")                   # (T, 22, 3) metres, Y up (data/bvh.py)
    c = reaction(person, slot=0)                            # FeatureConstraint: values, mask (T-1, 2, 262)
    samples = pipe.generate(text, frames=c.frames, constraint=c)   # joints come back in the input's world

Reaction: the given person's positions, velocities and local rotations are known (rotations recomputed from
the joints by inverse kinematics, as the BVH dataset does); their foot contacts and the whole other person are free. The canonical
frame is the GIVEN person's own (floor at y = 0, frame-0 pelvis at the origin, facing +Z), whichever slot they
take: training swaps the persons after canonicalising (data/dataset.py), so either person at the origin is a
layout the model has seen, and the given person's features are exactly those the training data would hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from . import skeleton as sk
from .motion import UP, facing_yaw, pair_to_features
from .rotations import matrix_to_rot6d, positions_to_local_rotations, quat_to_matrix, yaw_quat

# A person's standing height spans roughly this many metres; outside it the file is in other units.
HEIGHT_RANGE_M = (0.8, 2.6)


class ConstraintError(ValueError):
    """A constraint input that cannot be used (wrong shape, units, length, NaN)."""


@dataclass
class WorldFrame:
    """The canonical frame of one person (their floor, frame-0 pelvis and heading) within the input's world."""

    floor: float              # lowest joint height over the clip (m)
    origin: np.ndarray        # (3,) frame-0 pelvis on the floor, (x, 0, z)
    yaw: float                # heading at frame 0 (radians about +Y, 0 = +Z)

    @classmethod
    def of(cls, person: np.ndarray) -> "WorldFrame":
        """The frame pair_to_features puts `person` (T, 22, 3) in when they are person 1."""
        p = torch.as_tensor(person, dtype=torch.float64)
        floor = float(p[..., 1].min())
        origin = p[0, sk.ROOT].numpy() * np.array([1.0, 0.0, 1.0])
        return cls(floor, origin, float(facing_yaw(p[0])))

    def _turn(self) -> np.ndarray:
        return quat_to_matrix(yaw_quat(torch.tensor(-self.yaw, dtype=torch.float64))).numpy()   # world -> canonical

    def to_world(self, joints: np.ndarray) -> np.ndarray:
        """Canonical positions (..., 3) -> the input's world frame."""
        return (joints @ self._turn() + self.origin + self.floor * np.asarray(UP)).astype(np.float32)

    def to_canonical(self, joints: np.ndarray) -> np.ndarray:
        """World positions (..., 3) -> canonical."""
        return ((joints - self.origin - self.floor * np.asarray(UP)) @ self._turn().T).astype(np.float32)


@dataclass
class FeatureConstraint:
    """Known denormalised features: `values` where `mask` is True, (T, 2, 262) each; `frame` maps results back."""

    values: np.ndarray        # (T, 2, 262) float32
    mask: np.ndarray          # (T, 2, 262) bool
    frame: WorldFrame

    @property
    def frames(self) -> int:
        return self.values.shape[0]

    def crop(self, frames: int) -> "FeatureConstraint":
        """The first `frames` frames (a shorter request); longer than the constraint is an error."""
        if frames > self.frames:
            raise ConstraintError(f"the constraint covers {self.frames} frames; ask for at most that many "
                                  f"(got {frames})")
        return FeatureConstraint(self.values[:frames], self.mask[:frames], self.frame)


# ------------------------------------------------------------------------------------------------ inputs
def check_person(joints, name: str) -> np.ndarray:
    """One person's joints (T, 22, 3) in metres, finite, at least 2 frames."""
    joints = np.asarray(joints, dtype=np.float32)
    if joints.ndim != 3 or joints.shape[1:] != (sk.NUM_JOINTS, 3):
        raise ConstraintError(f"{name}: expected one person's joints (T, {sk.NUM_JOINTS}, 3), got shape "
                              f"{joints.shape}")
    if joints.shape[0] < 2:
        raise ConstraintError(f"{name}: a motion needs at least 2 frames, got {joints.shape[0]}")
    if not np.isfinite(joints).all():
        raise ConstraintError(f"{name}: holds NaN or infinite values; give finite joint positions")
    height = float(np.median(joints[..., 1].max(-1) - joints[..., 1].min(-1)))
    if not HEIGHT_RANGE_M[0] <= height <= HEIGHT_RANGE_M[1]:
        raise ConstraintError(f"{name}: the person is {height:.3g} units tall; joints must be in metres with Y up "
                              f"(a person stands {HEIGHT_RANGE_M[0]}-{HEIGHT_RANGE_M[1]} m)")
    return joints


# ------------------------------------------------------------------------------------------- constraints
def reaction(person: np.ndarray, slot: int = 0, frames: Optional[int] = None) -> FeatureConstraint:
    """Hold `person` (T, 22, 3) world joints as person `slot` (0 or 1); the other person is free.

    The result covers T - 1 feature frames (the representation drops the last frame), or the first `frames`.
    """
    if slot not in (0, 1):
        raise ConstraintError(f"the given person's slot must be 0 or 1, got {slot}")
    person = check_person(person, "the given person")
    if frames is not None and frames > person.shape[0] - 1:
        raise ConstraintError(f"the given motion has {person.shape[0]} frames, enough for {person.shape[0] - 1}; "
                              f"ask for at most {person.shape[0] - 1} frames (got {frames})")
    pos = torch.from_numpy(np.stack([person, person]))                                  # (2, T, 22, 3)
    # local rotations recomputed from the joints (inverse kinematics), as the BVH dataset does
    rot = matrix_to_rot6d(positions_to_local_rotations(pos)[..., 1:, :, :])             # (2, T, 21, 6)
    own = pair_to_features(pos, rot)[:, 0].numpy()                                      # (T-1, 262) canonical
    values = np.zeros((own.shape[0], 2, sk.FEATURE_DIM), np.float32)
    mask = np.zeros(values.shape, bool)
    values[:, slot] = own
    known = np.zeros(sk.FEATURE_DIM, bool)
    known[sk.POS] = known[sk.VEL] = known[sk.ROT] = True                                 # contacts stay free
    mask[:, slot] = known
    c = FeatureConstraint(values, mask, WorldFrame.of(person))
    return c if frames is None else c.crop(frames)


def joint_error(joints: np.ndarray, target: np.ndarray) -> float:
    """Largest per-joint distance (m) between (..., 22, 3) arrays."""
    return float(np.linalg.norm(np.asarray(joints) - np.asarray(target), axis=-1).max())
