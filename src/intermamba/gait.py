"""Feet that walk a path: stepping legs for a body carried along its pelvis path faster than its legs step.

A trajectory control (constraints.trajectory) holds each pelvis on its path and carries the whole body with it.
Where the model's own legs do not step at the path's pace (the demo model's barely step at all), the feet slide
over the floor with the body. `walk_path` lays a gait along the pelvis path for such a person and puts the legs
on it, the pelvis and upper body untouched:

    steps       a phase advances with the distance the pelvis covers, one step per STEP_BASE + STEP_PER_SPEED x
                speed metres (0.65 m at 1.2 m/s, about 1.8 steps a second: people's own relation, roughly);
                each foot swings for SWING of its two-step stride and stands for the rest
    plants      a standing foot is where its hip is, on the ground, when the pelvis passes over it (mid-stance)
    swings      plant to plant along the ground (smoothstep), lifted CLEARANCE at most, fast at lift-off and
                set down late (the root of a sine arc), as a heel rises before the foot moves on
    legs        two-bone IK from the hip (thigh and shin keep their lengths), the knee bending forward (the way
                the hips face), the foot keeping its own shape and pointing that way
    blend       by the pelvis speed, WALK_SLOW to WALK_FAST m/s: a standing person keeps the model's legs

Only a person whose feet slide (mean contact-foot speed over SLIDING m/s while the pelvis moves) is changed: a
model whose legs walk the path keeps them. Joints (2, T, 22, 3), metres, Y up, 30 fps, as in cleanup.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

from . import skeleton as sk
from .cleanup import LEGS, UP, _check, _smoothstep, _two_bone_ik, lift_to_floor, rigid_bones, smooth

STEP_BASE = 0.35           # m: step length at a standstill ...
STEP_PER_SPEED = 0.25      # ... plus this much per m/s of pelvis speed
KNEE_LEAN = 0.5            # the forward lean (per unit down) of the knee a walking leg's bend is taken from
SWING = 0.4                # of a stride (two steps) each foot spends in the air
CLEARANCE = 0.12           # m: how high a swinging ankle is lifted, mid-swing (up fast, down late: a sine's root)
WALK_SLOW, WALK_FAST = 0.15, 0.45   # m/s: pelvis speeds between which the gait takes over from the model's legs
SPEED_SIGMA = 3.0          # frames: smoothing of the pelvis speed and heading
SLIDING = 0.25             # m/s: contact feet sliding faster than this (while the pelvis moves) get the gait


def sliding(joints: np.ndarray, person: int) -> float:
    """Mean horizontal speed (m/s) of a person's low foot joints over the frames their pelvis moves faster than
    WALK_FAST (0 when it never does)."""
    joints = _check(joints)
    ground = joints[person][..., [0, 2]]                                               # (T, 22, 2)
    pelvis = np.linalg.norm(np.diff(ground[:, sk.ROOT], axis=0), axis=-1) * sk.FPS     # (T-1,)
    feet = list(sk.FOOT_JOINTS)
    speed = np.linalg.norm(np.diff(ground[:, feet], axis=0), axis=-1) * sk.FPS         # (T-1, 4)
    low = joints[person][:, feet, 1] < np.array(sk.CONTACT_HEIGHTS)                   # (T, 4) on the floor
    use = (low[1:] & low[:-1]) & (pelvis > WALK_FAST)[:, None]
    return float(speed[use].mean()) if use.any() else 0.0


def _phase(pelvis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(steps (T,), speed (T,)): the step count reached at each frame and the smoothed pelvis ground speed."""
    velocity = gaussian_filter1d(np.gradient(pelvis, axis=0) * sk.FPS, SPEED_SIGMA, axis=0, mode="nearest")
    speed = np.linalg.norm(velocity, axis=-1)                                          # (T,) m/s
    per_frame = speed / sk.FPS / (STEP_BASE + STEP_PER_SPEED * speed)                  # steps per frame
    return np.concatenate([[0.0], np.cumsum(per_frame[:-1])]), speed


def _at(steps: np.ndarray, values: np.ndarray, track: np.ndarray) -> np.ndarray:
    """(N, C): `track` (T, C) at the (fractional) frames where the step count reaches each of `values` (N,),
    clamped to the clip."""
    frames = np.arange(len(steps), dtype=np.float64)
    t = np.interp(values, steps + 1e-9 * frames, frames)                               # (N,) steps never decrease
    lo = np.floor(t).astype(int)
    hi = np.minimum(lo + 1, len(track) - 1)
    w = (t - lo)[:, None]
    return (1 - w) * track[lo] + w * track[hi]


def _foot_path(steps: np.ndarray, hip: np.ndarray, offset: float, height: float) -> np.ndarray:
    """(T, 3) where one ankle is: planted under its hip at mid-stance, swinging between plants. `offset` 0 for
    the left foot, 1 for the right (half a stride later); `height` the ankle's height when standing."""
    ground = hip * np.array([1.0, 0.0, 1.0])                                           # (T, 3) hip on the floor
    stride = steps - offset                                                            # in steps, this foot's
    cycle = np.floor(stride / 2)
    u = stride - 2 * cycle                                                             # (T,) in [0, 2)
    swing = 2 * SWING
    mid = offset + 2 * cycle + swing + (2 - swing) / 2                                 # (T,) this stance's middle
    plant = _at(steps, mid, ground)                                                    # (T, 3)
    before = _at(steps, mid - 2, ground)                                               # (T, 3) the last plant
    s = np.minimum(u / swing, 1.0)                                                     # (T,) swing progress
    out = np.where((u < swing)[:, None], before + _smoothstep(s)[:, None] * (plant - before), plant)
    out[:, 1] = np.where(u < swing, CLEARANCE * np.sqrt(np.sin(np.pi * s)), plant[:, 1])   # lifted in the air
    out[:, 1] += height
    return out


def walk_path(joints: np.ndarray) -> np.ndarray:
    """Stepping legs for each person whose feet slide along their pelvis path (`sliding` > SLIDING); see the
    module notes. The pelvis and every joint above the hips are returned as they were."""
    out = _check(joints).copy()
    name = sk.JOINT_NAMES.index
    for i in (0, 1):
        if sliding(out, i) <= SLIDING:
            continue
        steps, speed = _phase(out[i, :, sk.ROOT][:, [0, 2]])
        blend = _smoothstep(np.clip((speed - WALK_SLOW) / (WALK_FAST - WALK_SLOW), 0.0, 1.0))[:, None]   # (T, 1)
        left = out[i, :, name("l_hip")] - out[i, :, name("r_hip")]
        ahead = np.cross(left, UP)
        ahead = gaussian_filter1d(ahead, SPEED_SIGMA, axis=0, mode="nearest") * np.array([1.0, 0.0, 1.0])
        ahead /= np.maximum(np.linalg.norm(ahead, axis=-1, keepdims=True), 1e-9)                     # (T, 3)
        for side, (hip, knee, ankle, toe) in enumerate(LEGS):
            foot = out[i, :, toe] - out[i, :, ankle]                                   # (T, 3) the foot bone
            drop = np.median(out[i, :, ankle, 1] - out[i, :, toe, 1])                  # ankle above toe, standing
            length = np.median(np.linalg.norm(foot, axis=-1))
            flat = np.sqrt(max(length ** 2 - drop ** 2, 0.0))
            standing = flat * ahead - np.array([0.0, drop, 0.0])                       # (T, 3) toe from ankle
            height = float(np.clip(np.percentile(out[i, :, ankle, 1], 5), drop, drop + 0.1))
            target = _foot_path(steps, out[i, :, hip], float(side), height)
            goal = blend * target + (1 - blend) * out[i, :, ankle]
            # a walking knee bends forward: the IK's bend is taken from a knee leaning the way the hips face
            thigh = np.linalg.norm(out[i, :, knee] - out[i, :, hip], axis=-1, keepdims=True)     # (T, 1)
            shin = np.linalg.norm(out[i, :, ankle] - out[i, :, knee], axis=-1, keepdims=True)
            own = (out[i, :, knee] - out[i, :, hip]) / np.maximum(thigh, 1e-9)
            lean = (KNEE_LEAN * ahead - UP) / np.sqrt(1 + KNEE_LEAN ** 2)
            bend = blend * lean + (1 - blend) * own
            bend /= np.maximum(np.linalg.norm(bend, axis=-1, keepdims=True), 1e-9)
            knee_hint = out[i, :, hip] + thigh * bend
            new_knee, new_ankle = _two_bone_ik(out[i, :, hip], knee_hint, knee_hint - shin * UP, goal, ahead[0])
            toe_offset = blend * standing + (1 - blend) * foot
            toe_offset *= length / np.maximum(np.linalg.norm(toe_offset, axis=-1, keepdims=True), 1e-9)
            out[i, :, knee], out[i, :, ankle] = new_knee, new_ankle
            out[i, :, toe] = new_ankle + toe_offset
    return out


def clean_path(joints: np.ndarray) -> np.ndarray:
    """The clean-up a trajectory control allows (its pelvis ground paths must come back exactly): each body
    smoothed (cleanup.smooth) and put back on its pelvis path, rigid bones (rebuilt from the pelvis),
    `walk_path`, and no foot under the floor (vertical lifts only)."""
    joints = _check(joints)
    smoothed = smooth(joints)
    drift = (joints[:, :, sk.ROOT] - smoothed[:, :, sk.ROOT]) * np.array([1.0, 0.0, 1.0])   # (2, T, 3)
    return lift_to_floor(walk_path(rigid_bones(smoothed + drift[:, :, None])))
