"""The body as capsules, for contact and overlap: one capsule per bone (a segment from the parent joint to the
child joint, with a radius) and the distance between segments.

The radii describe a slim adult (joints sit inside the body, so a body that overlaps these capsules truly
intersects); `evaluation.physical` scores interpenetration and hand contact with them and `cleanup` steps people
apart with them. The glTF / render body (`body.py`) is a picture with its own, rounder radii.
"""

from __future__ import annotations

import numpy as np

from . import skeleton as sk

# Bones: one per non-root joint, from its parent to it, named by the child joint (21 bones).
BONE_CHILD = np.arange(1, sk.NUM_JOINTS)
BONE_PARENT = np.array([sk.PARENTS[j] for j in BONE_CHILD])
# Capsule radii (metres) per bone, from typical adult proportions (half the depth/width of the body part: a
# torso is 20-25 cm deep, a thigh about 55 cm round, a forearm 25 cm). Joints of a skeleton sit inside the
# body, not on its surface, so these describe a slim adult: a body that overlaps them truly intersects.
BONE_RADII_BY_NAME = {
    "l_hip": 0.09, "r_hip": 0.09,              # pelvis -> hip: the hips and buttocks
    "spine1": 0.11, "spine2": 0.11,            # belly and waist
    "spine3": 0.11, "neck": 0.10,              # chest; spine3 -> neck runs up through the upper chest
    "l_collar": 0.06, "r_collar": 0.06,        # shoulder girdle
    "head": 0.09,                              # neck -> head: the head joint sits low in the skull
    "l_shoulder": 0.05, "r_shoulder": 0.05,    # collar -> shoulder
    "l_elbow": 0.045, "r_elbow": 0.045,        # upper arm
    "l_wrist": 0.035, "r_wrist": 0.035,        # forearm
    "l_knee": 0.07, "r_knee": 0.07,            # thigh
    "l_ankle": 0.05, "r_ankle": 0.05,          # shin
    "l_foot": 0.04, "r_foot": 0.04,            # foot
}
BONE_RADII = np.array([BONE_RADII_BY_NAME[sk.JOINT_NAMES[j]] for j in BONE_CHILD])   # (21,)
_EPS = 1e-12


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...k,...k->...", a, b)


def segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Shortest distances between segments p1-q1 and p2-q2 (..., 3), broadcast -> (...).

    Ericson, Real-Time Collision Detection, sec. 5.1.9 (closest points of two segments), with every branch
    evaluated for all pairs and chosen by np.where; degenerate segments (points) are handled.
    """
    d1, d2, r = q1 - p1, q2 - p2, p1 - p2
    a, e, f = _dot(d1, d1), _dot(d2, d2), _dot(d2, r)
    b, c = _dot(d1, d2), _dot(d1, r)
    a_, e_ = np.maximum(a, _EPS), np.maximum(e, _EPS)
    denom = a * e - b * b                       # >= 0; ~0 for parallel segments, where any s is closest
    # s for the infinite lines, clamped to segment 1; t closest to that point; where t leaves [0, 1], clamp t
    # and move s to the point of segment 1 closest to that end. Ericson's proof: this is the closest pair.
    s = np.where(denom > 1e-9 * a * e, np.clip((b * f - c * e) / np.maximum(denom, _EPS), 0, 1), 0.0)
    t = (b * s + f) / e_
    s = np.where(t < 0, np.clip(-c / a_, 0, 1), np.where(t > 1, np.clip((b - c) / a_, 0, 1), s))
    t = np.clip(t, 0, 1)
    # Degenerate segments: segment 2 a point (t = 0), segment 1 a point (s = 0), or both.
    s, t = np.where(e > _EPS, s, np.clip(-c / a_, 0, 1)), np.where(e > _EPS, t, 0.0)
    s, t = np.where(a > _EPS, s, 0.0), np.where(a > _EPS, t, np.where(e > _EPS, np.clip(f / e_, 0, 1), 0.0))
    gap = r + d1 * s[..., None] - d2 * t[..., None]
    return np.sqrt(_dot(gap, gap))


def bone_segments(joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parent and child ends (..., 21, 3) of every bone of poses (..., 22, 3)."""
    return joints[..., BONE_PARENT, :], joints[..., BONE_CHILD, :]
