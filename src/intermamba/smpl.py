"""SMPL / AMASS-style parameter files (.npz): one person's motion as SMPL body-joint rotations, no mesh.

Our 22 joints are SMPL's first 22 body joints in SMPL's order, so a generated pose is an SMPL pose with the
two hand joints (22, 23) at rest. A file holds, as AMASS's files do:

    poses            (T, 72) float32  axis-angle (radians) of SMPL's 24 joints: [0:3] the pelvis's world
                                      orientation, [3:66] joints 1..21 relative to their parents, [66:72] zero
    trans            (T, 3)  float32  the pelvis's world position, metres
    betas            (10,)   float32  zeros: the shape is not generated
    gender           str              'neutral'
    mocap_framerate  float            frames per second (30)

Coordinates: AMASS's world is Z up, ours (and InterHuman's) is Y up, so the world is turned +90 degrees about
X on the way out, (x, y, z) -> (x, -z, y): `poses[:, :3]` and `trans` are in a Z-up world whose floor is
Z = 0, and what faced +Z in ours faces -Y there. Joint rotations are relative to the rest pose of our
skeleton, a T-pose with SMPL's proportions, so they are SMPL's within the small differences of the two rest
poses.

`trans` is where our pelvis is. An SMPL model places its pelvis at trans + J_pelvis, where J_pelvis is the
model's own rest pelvis (it depends on the model file and the betas, about 0.2-0.35 m in the model's frame);
tools that take `trans` as AMASS's therefore show both people shifted by that same constant, together.
"""

from __future__ import annotations

from pathlib import Path
from typing import Union

import numpy as np
import torch

from . import rotations
from .fileio import atomic_path
from .skeleton import FPS, NUM_JOINTS, ROOT

SMPL_JOINTS = 24                 # SMPL's body model: our 22 joints, then the left and right hands
NUM_BETAS = 10
GENDER = "neutral"
# Y up -> Z up: a rotation of +90 degrees about X, (x, y, z) -> (x, -z, y)
Y_UP_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


def pose_to_smpl(local, root, fps: float = FPS) -> dict:
    """SMPL parameters (the module docstring's keys) of one person.

    local (T, 22, 3, 3) parent-relative rotations, row 0 the root's world orientation (Y-up world); root
    (T, 3) the pelvis position, metres, Y-up world.
    """
    L = torch.as_tensor(np.asarray(local), dtype=torch.float64)
    x = np.asarray(root, dtype=np.float64)
    T = L.shape[0]
    if L.shape != (T, NUM_JOINTS, 3, 3) or x.shape != (T, 3):
        raise ValueError(f"local must be (T, {NUM_JOINTS}, 3, 3) and root (T, 3), got {tuple(L.shape)}, {x.shape}")
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    L = L.clone()
    L[:, ROOT] = torch.from_numpy(Y_UP_TO_Z_UP) @ L[:, ROOT]
    poses = np.zeros((T, SMPL_JOINTS, 3))
    poses[:, :NUM_JOINTS] = rotations.matrix_to_axis_angle(L).numpy()
    return {"poses": poses.reshape(T, SMPL_JOINTS * 3).astype(np.float32),
            "trans": (x @ Y_UP_TO_Z_UP.T).astype(np.float32),
            "betas": np.zeros(NUM_BETAS, dtype=np.float32),
            "gender": np.array(GENDER),
            "mocap_framerate": np.array(float(fps))}


def smpl_to_pose(params) -> tuple[np.ndarray, np.ndarray]:
    """The inverse of `pose_to_smpl`: (local (T, 22, 3, 3), root (T, 3)) in our Y-up world."""
    poses = np.asarray(params["poses"], dtype=np.float64)
    T = poses.shape[0]
    aa = torch.from_numpy(poses.reshape(T, -1, 3)[:, :NUM_JOINTS].copy())
    L = rotations.axis_angle_to_matrix(aa)
    L[:, ROOT] = torch.from_numpy(Y_UP_TO_Z_UP.T) @ L[:, ROOT]
    root = np.asarray(params["trans"], dtype=np.float64) @ Y_UP_TO_Z_UP
    return L.numpy(), root


def write_smpl_npz(path: Union[str, Path], local, root, fps: float = FPS) -> Path:
    """Write one person's `pose_to_smpl` parameters as an uncompressed .npz, atomically."""
    params = pose_to_smpl(local, root, fps)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:      # a file object: np.savez would append .npz to a temp name
            np.savez(f, **params)
    return Path(path)
