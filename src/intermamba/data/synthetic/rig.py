"""The puppet: local joint rotations of our 22-joint skeleton from a few high-level cues, in numpy.

A `Cues` object says, per frame, where a person's root goes and which way it faces, how the spine bends,
where each foot is planted (from `gait.py`) and where each hand should be; `pose(cues)` turns it into local
rotations (T, 22, 3, 3) with analytic two-bone inverse kinematics for the arms and legs, so the wrists and
ankles land exactly on their targets (when reachable) and positions, rotations and foot contacts all agree.

Conventions (skeleton.py): metres, Y up, 30 fps; a person with yaw 0 faces +Z and has their left side at +X.
Yaw is a rotation about +Y, so facing direction = (sin yaw, 0, cos yaw).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from ... import skeleton

J = skeleton.JOINT_INDEX
OFFSETS = skeleton.REST_OFFSETS.double().numpy()  # (22, 3)
PARENTS = skeleton.PARENTS
SIDES = ("left", "right")  # index 0 = left (+X in the body frame), 1 = right
SIDE_SIGN = (1.0, -1.0)    # x sign of each side in the body frame

# Limb chains per side: (root joint, middle joint, end joint, parent of the root joint).
ARM = {0: (J["l_shoulder"], J["l_elbow"], J["l_wrist"], J["l_collar"]),
       1: (J["r_shoulder"], J["r_elbow"], J["r_wrist"], J["r_collar"])}
LEG = {0: (J["l_hip"], J["l_knee"], J["l_ankle"], J["pelvis"]),
       1: (J["r_hip"], J["r_knee"], J["r_ankle"], J["pelvis"])}
SPINE = (J["spine1"], J["spine2"], J["spine3"])


def _rest_positions() -> np.ndarray:
    pos = np.zeros((skeleton.NUM_JOINTS, 3))
    for j in range(1, skeleton.NUM_JOINTS):
        pos[j] = pos[PARENTS[j]] + OFFSETS[j]
    return pos


REST = _rest_positions()  # rest joints with the pelvis at the origin
UPPER_ARM = float(np.linalg.norm(OFFSETS[J["l_elbow"]]))
FOREARM = float(np.linalg.norm(OFFSETS[J["l_wrist"]]))
THIGH = float(np.linalg.norm(OFFSETS[J["l_knee"]]))
SHIN = float(np.linalg.norm(OFFSETS[J["l_ankle"]]))
ARM_REACH = UPPER_ARM + FOREARM
LEG_REACH = THIGH + SHIN
# Foot flat on the floor: the toe joint rests at skeleton's sole height, the ankle this far above the floor.
ANKLE_HEIGHT = skeleton.REST_PELVIS_HEIGHT + REST[J["l_ankle"], 1]
STAND_HEIGHT = skeleton.REST_PELVIS_HEIGHT - 0.015  # pelvis height when standing, knees just unlocked
# Rest ankle under the hip, in the body frame (x: left, z: forward); the gait planner's default stance.
FOOT_SPREAD = float(REST[J["l_ankle"], 0])
FOOT_BACK = float(REST[J["l_ankle"], 2])
SHOULDER_WIDTH = float(REST[J["l_shoulder"], 0])
# Elbow and knee hinge axes in the rest (T-) pose: flexion turns the lower bone about them, forearm towards
# +Z and shin towards -Z. The IK below keeps these hinges in the bend plane, so limbs never twist oddly.
ARM_HINGE = {0: np.array([0.0, -1.0, 0.0]), 1: np.array([0.0, 1.0, 0.0])}
LEG_HINGE = np.array([1.0, 0.0, 0.0])


# --------------------------------------------------------------------------------------- rotations
def unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-9)


def axis_rot(axis: int, angle) -> np.ndarray:
    """Rotation matrices (..., 3, 3) about a coordinate axis (0 = X, 1 = Y, 2 = Z) by `angle` (radians)."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    R = np.zeros(angle.shape + (3, 3))
    a, b = [(1, 2), (2, 0), (0, 1)][axis]
    R[..., axis, axis] = 1.0
    R[..., a, a], R[..., a, b], R[..., b, a], R[..., b, b] = c, -s, s, c
    return R


def yaw_dir(yaw) -> np.ndarray:
    """Facing direction (..., 3) on the floor for a heading `yaw`."""
    yaw = np.asarray(yaw, dtype=np.float64)
    return np.stack([np.sin(yaw), np.zeros_like(yaw), np.cos(yaw)], axis=-1)


def heading_to(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Yaw (...,) that faces from floor point `src` (..., 2 or 3) towards `dst`; xz of 3-vectors."""
    d = np.asarray(dst, dtype=np.float64) - np.asarray(src, dtype=np.float64)
    dx, dz = (d[..., 0], d[..., -1])
    return np.arctan2(dx, dz)


def body_to_world(yaw: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Rotate body-frame vectors (..., 3) (x left, y up, z forward) by the heading `yaw` (...,)."""
    return np.einsum("...ij,...j->...i", axis_rot(1, yaw), local)


def _frame(d: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Orthonormal frame (..., 3, 3) whose columns are d, n (orthogonalised against d) and d x n."""
    d = unit(d)
    n = unit(n - np.sum(n * d, -1, keepdims=True) * d)
    return np.stack([d, n, np.cross(d, n)], axis=-1)


def align(rest_dir: np.ndarray, rest_hinge: np.ndarray, dir: np.ndarray, hinge: np.ndarray) -> np.ndarray:
    """The rotation taking the rest bone direction onto `dir` and the rest hinge axis onto `hinge`."""
    rest = _frame(np.broadcast_to(rest_dir, dir.shape), np.broadcast_to(rest_hinge, dir.shape))
    return _frame(dir, hinge) @ np.swapaxes(rest, -1, -2)


# ----------------------------------------------------------------------------------- two-bone IK
def two_bone_ik(root: np.ndarray, target: np.ndarray, pole: np.ndarray, l1: float, l2: float):
    """Middle joint position, reached end and bend-plane normal for a limb from `root` towards `target`.

    root, target (T, 3) world; pole (T, 3) a direction the middle joint (elbow/knee) should point to.
    A target out of reach is pulled back onto the reachable shell, so the limb straightens towards it.
    Returns (middle (T, 3), end (T, 3), hinge (T, 3)): hinge = unit(upper x lower) for a bent limb.
    """
    to = target - root
    dist = np.linalg.norm(to, axis=-1, keepdims=True)
    u = to / np.maximum(dist, 1e-9)
    d = np.clip(dist, abs(l1 - l2) + 1e-4, (l1 + l2) * (1.0 - 1e-4))
    v = unit(pole - np.sum(pole * u, -1, keepdims=True) * u)  # pole projected off the root->target line
    a = (l1 * l1 - l2 * l2 + d * d) / (2.0 * d)  # law of cosines: distance along u to the middle joint
    h = np.sqrt(np.maximum(l1 * l1 - a * a, 0.0))
    middle = root + a * u + h * v
    end = root + d * u
    return middle, end, np.cross(v, u)  # upper x lower is parallel to v x u for any bend


# ------------------------------------------------------------------------------------------ cues
@dataclass
class HandCue:
    """Where one wrist should be: `target` (T, 3) world, blended with the rest pose by `weight` (T,)."""
    target: np.ndarray
    weight: np.ndarray
    pole: Optional[np.ndarray] = None  # (T, 3) elbow direction in the body frame; None: down and out


@dataclass
class Cues:
    root_xz: np.ndarray                   # (T, 2) pelvis on the floor (x, z)
    yaw: np.ndarray                       # (T,) heading of the pelvis
    feet: np.ndarray                      # (2, T, 3) ankle targets (left, right), from gait.plan_steps
    feet_yaw: np.ndarray                  # (2, T) foot headings
    feet_pitch: Optional[np.ndarray] = None   # (2, T) toe-down pitch of each foot (kicks)
    height: Optional[np.ndarray] = None   # (T,) pelvis height; default STAND_HEIGHT, lowered to reach feet
    pitch: Optional[np.ndarray] = None    # (T,) forward tilt of the pelvis (bows from the hips)
    bend: Optional[np.ndarray] = None     # (T,) forward bend of the spine (spread over spine1-3)
    lean: Optional[np.ndarray] = None     # (T,) sideways lean of the spine towards the left
    twist: Optional[np.ndarray] = None    # (T,) spine twist towards the left
    look: Optional[np.ndarray] = None     # (T, 3) point the head turns to (e.g. the partner's head)
    nod: Optional[np.ndarray] = None      # (T,) extra head pitch (forward)
    hands: dict = field(default_factory=dict)  # side index -> HandCue
    arm_swing: float = 0.35               # how strongly the arms swing against the legs
    rest_hand: Optional[np.ndarray] = None  # (2, T, 3) rest wrist in the chest frame; default: hanging


def _zeros_or(x: Optional[np.ndarray], T: int) -> np.ndarray:
    return np.zeros(T) if x is None else np.asarray(x, dtype=np.float64)


EYE_ABOVE_NECK = float(OFFSETS[J["head"], 1])  # looking level at a partner's head of the same height
# Hanging wrists in the chest (spine3) frame: beside the thighs, elbows relaxed (about 25 degrees of bend).
REST_HAND = np.array([[SHOULDER_WIDTH + 0.03, -0.34, 0.05], [-(SHOULDER_WIDTH + 0.03), -0.34, 0.05]])
# Default elbow directions (body frame): hanging arms point the elbows back and a little out.
REST_POLE = np.array([[0.35, -0.2, -1.0], [-0.35, -0.2, -1.0]])


def pose(c: Cues, *, legs: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Local rotations (T, 22, 3, 3) (joint 0: world), root positions (T, 3) and reached joints (T, 22, 3).

    legs=False skips the leg IK (leg joints are then left at zero): a cheaper pass for reading the torso and
    arms of a partner, which the legs never move.
    """
    T = len(c.yaw)
    L = np.broadcast_to(np.eye(3), (T, skeleton.NUM_JOINTS, 3, 3)).copy()  # local rotations
    G = np.empty_like(L)                                                      # world rotations
    P = np.zeros((T, skeleton.NUM_JOINTS, 3))                                 # world positions

    def fk(j):  # place joint j from its parent: x_j = x_p + G_p o_j, G_j = G_p L_j
        p = PARENTS[j]
        P[:, j] = P[:, p] + G[:, p] @ OFFSETS[j]
        G[:, j] = G[:, p] @ L[:, j]

    # Root: heading, then the pelvis tilt of a bow.
    L[:, 0] = axis_rot(1, c.yaw) @ axis_rot(0, _zeros_or(c.pitch, T))
    G[:, 0] = L[:, 0]
    feet, toe_pitch = _toe_off(c, G[:, 0])
    height = _pelvis_height(c, G[:, 0], feet)
    P[:, 0] = np.stack([c.root_xz[:, 0], height, c.root_xz[:, 1]], -1)

    # Spine: bend forward (about +X), lean left (about -Z), twist left (about +Y), a third per vertebra.
    bend, lean, twist = (_zeros_or(x, T) / len(SPINE) for x in (c.bend, c.lean, c.twist))
    spine_local = axis_rot(1, twist) @ axis_rot(0, bend) @ axis_rot(2, -lean)
    for j in SPINE:
        L[:, j] = spine_local
    for j in (J["spine1"], J["spine2"], J["spine3"], J["neck"], J["l_collar"], J["r_collar"]):
        fk(j)
    chest = G[:, J["spine3"]]  # (T, 3, 3): the frame hands and elbows are described in

    # Head: turn towards the look-at point (limited like a neck), split between neck and head.
    yaw_h = np.zeros(T)
    pitch_h = _zeros_or(c.nod, T)
    if c.look is not None:
        to = np.einsum("tji,tj->ti", G[:, J["neck"]], c.look - P[:, J["neck"]])  # in the neck frame
        yaw_h = np.clip(np.arctan2(to[:, 0], to[:, 2]), -1.2, 1.2)
        pitch_h = pitch_h + np.clip(np.arctan2(EYE_ABOVE_NECK - to[:, 1], np.hypot(to[:, 0], to[:, 2])), -0.4, 0.5)
    for j, share in ((J["neck"], 0.4), (J["head"], 0.6)):
        L[:, j] = axis_rot(1, share * yaw_h) @ axis_rot(0, share * pitch_h)
    G[:, J["neck"]] = G[:, J["spine3"]] @ L[:, J["neck"]]
    fk(J["head"])

    # Legs: the ankles go to the planted / swinging foot targets, knees point where the foot points.
    feet_pitch = toe_pitch + (0.0 if c.feet_pitch is None else c.feet_pitch)
    for side in (0, 1) if legs else ():
        hip, knee, ankle, parent = LEG[side]
        fk(hip)
        knee_dir = yaw_dir(c.feet_yaw[side]) + 0.15 * SIDE_SIGN[side] * yaw_dir(c.feet_yaw[side] + np.pi / 2)
        _solve_limb(L, G, P, (hip, knee, ankle, parent), feet[side], knee_dir, LEG_HINGE, THIGH, SHIN)
        foot_rot = axis_rot(1, c.feet_yaw[side]) @ axis_rot(0, feet_pitch[side])  # flat foot, toes down when pitched
        L[:, ankle] = np.swapaxes(G[:, knee], -1, -2) @ foot_rot
        G[:, ankle] = foot_rot
        fk(J["l_foot"] if side == 0 else J["r_foot"])

    # Arms: rest wrist (swinging against the legs while walking) blended with the cue's target.
    feet_fwd = np.einsum("stk,tk->st", feet - P[None, :, 0], yaw_dir(c.yaw))  # (2, T) foot ahead of pelvis
    for side in (0, 1):
        shoulder, elbow, wrist, collar = ARM[side]
        fk(shoulder)
        rest_local = np.broadcast_to(REST_HAND[side], (T, 3)).copy() if c.rest_hand is None else c.rest_hand[side]
        rest_local = rest_local + np.array([0.0, 0.0, -1.0]) * (c.arm_swing * feet_fwd[side])[:, None]
        target = P[:, J["spine3"]] + np.einsum("tij,tj->ti", chest, rest_local)
        pole_local = np.broadcast_to(REST_POLE[side], (T, 3))
        cue = c.hands.get(side)
        if cue is not None:
            w = cue.weight[:, None]
            target = (1.0 - w) * target + w * cue.target
            if cue.pole is not None:
                pole_local = (1.0 - w) * pole_local + w * cue.pole
        pole = np.einsum("tij,tj->ti", chest, pole_local)
        _solve_limb(L, G, P, (shoulder, elbow, wrist, collar), target, pole, ARM_HINGE[side], UPPER_ARM, FOREARM)
        G[:, wrist] = G[:, elbow]
    return L, P[:, 0].copy(), P


def _solve_limb(L, G, P, chain, target, pole, rest_hinge, l1, l2) -> None:
    """Two-bone IK on (root, middle, end) of `chain`, writing local/world rotations and positions."""
    a, b, e, parent = chain
    middle, end, hinge = two_bone_ik(P[:, a], target, pole, l1, l2)
    G[:, a] = align(unit(OFFSETS[b]), rest_hinge, middle - P[:, a], hinge)
    G[:, b] = align(unit(OFFSETS[e]), rest_hinge, end - middle, hinge)
    L[:, a] = np.swapaxes(G[:, parent], -1, -2) @ G[:, a]
    L[:, b] = np.swapaxes(G[:, a], -1, -2) @ G[:, b]
    P[:, b] = P[:, a] + G[:, a] @ OFFSETS[b]
    P[:, e] = P[:, b] + G[:, b] @ OFFSETS[e]


def _pelvis_height(c: Cues, root_rot: np.ndarray, feet: np.ndarray) -> np.ndarray:
    """The requested pelvis height, lowered (smoothly) wherever a foot target would be out of the leg's reach."""
    T = len(c.yaw)
    height = np.full(T, STAND_HEIGHT) if c.height is None else np.asarray(c.height, dtype=np.float64)
    need = np.zeros(T)
    for side in (0, 1):
        hip = _hip_positions(c, root_rot, height, side)
        horiz = np.hypot(hip[:, 0] - feet[side, :, 0], hip[:, 2] - feet[side, :, 2])
        vertical = np.sqrt(np.maximum(LEG_SLACK ** 2 - horiz * horiz, 0.0))
        need = np.maximum(need, hip[:, 1] - feet[side, :, 1] - vertical)  # hip height above what the leg reaches
    return height - _smooth_upper(need)


LEG_SLACK = 0.985 * LEG_REACH  # the longest hip-ankle distance the legs are asked to span
TOE_OFF_ANGLES = np.linspace(0.0, 0.7, 15)  # heel-rise angles tried for a trailing foot (radians)


def _hip_positions(c: Cues, root_rot: np.ndarray, height: np.ndarray, side: int) -> np.ndarray:
    base = np.stack([c.root_xz[:, 0], height, c.root_xz[:, 1]], -1)
    return base + root_rot @ OFFSETS[LEG[side][0]]


def _toe_off(c: Cues, root_rot: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heel rise of a trailing foot that the leg cannot reach flat: the foot pivots about its planted toe.

    Returns the new ankle targets (2, T, 3) and the extra toe-down pitch (2, T). The toe joint stays where the
    flat foot would put it, so a planted toe never slides; walking needs far less pelvis dip this way.
    """
    T = len(c.yaw)
    height = np.full(T, STAND_HEIGHT) if c.height is None else np.asarray(c.height, dtype=np.float64)
    toe_off = OFFSETS[J["l_foot"]]  # the same for both feet up to the x mirror, which pitch does not touch
    feet, pitch = c.feet.copy(), np.zeros((2, T))
    for side in (0, 1):
        hip = _hip_positions(c, root_rot, height, side)
        yaw_R = axis_rot(1, c.feet_yaw[side])                                           # (T, 3, 3)
        off = toe_off * np.array([SIDE_SIGN[side], 1.0, 1.0])
        toe = c.feet[side] + yaw_R @ off                                                 # flat-foot toe (T, 3)
        pitched = np.einsum("tij,kjl,l->kti", yaw_R, axis_rot(0, TOE_OFF_ANGLES), off)  # (K, T, 3)
        dist = np.linalg.norm(hip[None] - (toe[None] - pitched), axis=-1)               # (K, T)
        ok = dist <= LEG_SLACK
        first = np.where(ok.any(0), ok.argmax(0), len(TOE_OFF_ANGLES) - 1)
        behind = np.sum((c.feet[side] - hip) * yaw_dir(c.yaw), -1) < 0.0
        angle = _smooth_upper(np.where(behind, TOE_OFF_ANGLES[first], 0.0))
        pitch[side] = angle
        feet[side] = toe - np.einsum("tij,tjk,k->ti", yaw_R, axis_rot(0, angle), off)
    return feet, pitch


def _smooth_upper(x: np.ndarray, win: int = 6) -> np.ndarray:
    """A smooth curve never below `x`: a running max, then a moving average of the same width."""
    padded = np.pad(x, win, mode="edge")
    run_max = np.lib.stride_tricks.sliding_window_view(padded, 2 * win + 1).max(-1)
    padded = np.pad(run_max, win, mode="edge")
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * win + 1).mean(-1)
