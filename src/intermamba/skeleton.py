"""The 22-joint SMPL body, its rest pose, forward kinematics and the per-person feature layout.

One home for every skeleton fact: other modules import these names, never bare numbers.

World convention (InterGen's): metres, Y up, a person in the rest pose faces +Z, so their left side is +X.
The rest pose is a T-pose with SMPL-like proportions for an adult of about 1.72 m (pelvis 0.95 m above the
floor when standing). The left and right halves are exact mirror images across the X = 0 plane, which keeps
mirroring an exact symmetry of the data.
"""

from __future__ import annotations

from typing import Optional

import torch

# ------------------------------------------------------------------------------------------ the body
JOINT_NAMES = (
    "pelvis", "l_hip", "r_hip", "spine1", "l_knee", "r_knee", "spine2", "l_ankle", "r_ankle", "spine3",
    "l_foot", "r_foot", "neck", "l_collar", "r_collar", "head", "l_shoulder", "r_shoulder", "l_elbow",
    "r_elbow", "l_wrist", "r_wrist",
)
NUM_JOINTS = len(JOINT_NAMES)  # 22
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
ROOT = 0
# PARENTS[j] < j for every joint but the root, so a single pass in index order visits parents first.
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
CHILDREN = tuple(tuple(c for c in range(NUM_JOINTS) if PARENTS[c] == j) for j in range(NUM_JOINTS))
# InterGen's t2m chains (right leg, left leg, spine+head, right arm, left arm): used to draw and for bone losses.
KINEMATIC_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21),
                    (9, 13, 16, 18, 20))
LEFT_JOINTS = (1, 4, 7, 10, 13, 16, 18, 20)
RIGHT_JOINTS = (2, 5, 8, 11, 14, 17, 19, 21)


def _mirror_permutation() -> tuple[int, ...]:
    perm = list(range(NUM_JOINTS))
    for left, right in zip(LEFT_JOINTS, RIGHT_JOINTS):
        perm[left], perm[right] = right, left
    return tuple(perm)


MIRROR_PERM = _mirror_permutation()  # joints[..., MIRROR_PERM, :] swaps every left joint with its right twin

# Joints that define a person's facing (InterGen's face_joint_indx uses the hips only).
FACE_HIP_RIGHT, FACE_HIP_LEFT = JOINT_INDEX["r_hip"], JOINT_INDEX["l_hip"]

# Rest offsets of each joint from its parent (metres). Left-side values; the right side mirrors them.
_LEFT_OFFSETS = {
    "l_hip": (0.060, -0.090, -0.010),
    "l_knee": (0.040, -0.380, 0.005),
    "l_ankle": (-0.010, -0.400, -0.040),
    "l_foot": (0.030, -0.055, 0.125),
    "l_collar": (0.075, 0.115, -0.020),
    "l_shoulder": (0.120, 0.045, -0.015),
    "l_elbow": (0.255, -0.010, -0.020),
    "l_wrist": (0.265, 0.005, -0.005),
}
_CENTRE_OFFSETS = {
    "pelvis": (0.0, 0.0, 0.0),
    "spine1": (0.0, 0.110, -0.025),
    "spine2": (0.0, 0.135, 0.005),
    "spine3": (0.0, 0.055, 0.025),
    "neck": (0.0, 0.215, -0.035),
    "head": (0.0, 0.090, 0.050),
}


def _rest_offsets() -> torch.Tensor:
    table = dict(_CENTRE_OFFSETS)
    for name, (x, y, z) in _LEFT_OFFSETS.items():
        table[name] = (x, y, z)
        table["r" + name[1:]] = (-x, y, z)
    return torch.tensor([table[name] for name in JOINT_NAMES], dtype=torch.float32)


REST_OFFSETS = _rest_offsets()  # (22, 3); REST_OFFSETS[0] is zero, the root position is given separately
# Height of the lowest rest joint (the toes) under the pelvis; standing pelvis height is this plus a sole.
_SOLE = 0.03
REST_PELVIS_HEIGHT = float(-(REST_OFFSETS[1, 1] + REST_OFFSETS[4, 1] + REST_OFFSETS[7, 1] + REST_OFFSETS[10, 1])) + _SOLE

# ------------------------------------------------------------------------------ the 262-d feature
FPS = 30                 # InterHuman and our world run at 30 frames per second
MAX_FRAMES = 300         # InterGen's crop window (10 s); a crop yields MAX_FRAMES - 1 feature frames
NUM_ROT_JOINTS = NUM_JOINTS - 1   # the root rotation is not stored (canonicalisation removes it)
ROT6D_DIM = 6
FOOT_JOINTS = (7, 10, 8, 11)      # contact order: l_ankle, l_foot (toe), r_ankle, r_foot
POS = slice(0, NUM_JOINTS * 3)                                            # 0:66 joint positions
VEL = slice(POS.stop, POS.stop + NUM_JOINTS * 3)                           # 66:132 next-frame displacement
ROT = slice(VEL.stop, VEL.stop + NUM_ROT_JOINTS * ROT6D_DIM)               # 132:258 local 6D of joints 1..21
CONTACT = slice(ROT.stop, ROT.stop + len(FOOT_JOINTS))                    # 258:262 foot contacts
FEATURE_DIM = CONTACT.stop                                                 # 262
# Foot contact rule (InterGen process_motion_np): squared displacement per frame below the velocity
# threshold AND height below the per-joint threshold (ankles 0.12 m, toes 0.05 m), in FOOT_JOINTS order.
CONTACT_VEL_THRESHOLD = 0.001
CONTACT_HEIGHTS = (0.12, 0.05, 0.12, 0.05)


# --------------------------------------------------------------------------- forward kinematics
def forward_kinematics(local_rotmats: torch.Tensor, root_pos: torch.Tensor, offsets: Optional[torch.Tensor] = None,
                       *, return_global: bool = False):
    """Joint positions from parent-relative rotations.

    local_rotmats (..., 22, 3, 3): joint j's rotation relative to its parent (joint 0: the root's world
    orientation); root_pos (..., 3); offsets (22, 3) or (..., 22, 3), default REST_OFFSETS.
    Returns joints (..., 22, 3), and the world rotations (..., 22, 3, 3) too when `return_global`.
    """
    if local_rotmats.shape[-3:] != (NUM_JOINTS, 3, 3):
        raise ValueError(f"local_rotmats must end in ({NUM_JOINTS}, 3, 3), got {tuple(local_rotmats.shape)}")
    if offsets is None:
        offsets = REST_OFFSETS
    offsets = offsets.to(local_rotmats)
    global_rots = [local_rotmats[..., ROOT, :, :]]
    joints = [root_pos.to(local_rotmats)]
    for j in range(1, NUM_JOINTS):
        p = PARENTS[j]
        # x_j = x_parent + G_parent @ offset_j ;  G_j = G_parent @ L_j
        joints.append(joints[p] + (global_rots[p] @ offsets[..., j, :, None])[..., 0])
        global_rots.append(global_rots[p] @ local_rotmats[..., j, :, :])
    positions = torch.stack(joints, dim=-2)  # (..., 22, 3)
    if return_global:
        return positions, torch.stack(global_rots, dim=-3)
    return positions


def rest_pose(root_height: float = REST_PELVIS_HEIGHT) -> torch.Tensor:
    """Joint positions (22, 3) of the rest pose standing on the floor (pelvis at x = z = 0)."""
    eye = torch.eye(3).expand(NUM_JOINTS, 3, 3)
    return forward_kinematics(eye, torch.tensor([0.0, root_height, 0.0]))
