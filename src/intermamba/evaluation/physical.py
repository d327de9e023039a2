"""Interaction-quality metrics that the field's embedding metrics miss, as pure functions on joints.

Every function takes one sample's joints (2, T, 22, 3): metres, Y up, the floor at y = 0, FPS frames per second,
SMPL joint order (`intermamba.skeleton`), valid frames only; `per_sample` computes them all and `summarise`
averages samples. What each one measures:

- interpenetration: each bone is a capsule (a segment with a radius from `BONE_RADII`); a frame overlaps when
  some capsule of one person intersects some capsule of the other, forearms and feet excluded (they are what
  people touch with: `BODY_BONES`). Depth of a frame = the largest overlap r_a + r_b - |segment a, segment b|
  over bone pairs (0 when none). `penetration_rate` is the fraction of overlapping frames, `penetration_depth`
  the mean depth over ALL frames (so it needs no overlapping frame to be defined; depth over overlapping frames
  only = depth / rate).
- merge: a sample is merged when the mean distance between corresponding joints of the two people is below
  MERGE_DISTANCE in at least MERGE_FRAME_FRACTION of its frames (two people collapsed onto one skeleton);
  `min_pelvis_gap` is the smallest horizontal (x, z) distance between the two pelvises over the sample
  (horizontal, because bodies pass through each other sideways, whatever each one's height).
- hand contact: a sample touches when, at some frame, a wrist of either person comes within CONTACT_DISTANCE of
  the other's body surface (the capsules; the threshold leaves room for the hand beyond the wrist). Contact
  accuracy = the fraction of samples whose caption or kind says that hands touch (`touch_expected`) that do.
- foot skating: a foot joint (ankles, toes) is in contact at frame t when it is below its height threshold
  (`skeleton.CONTACT_HEIGHTS`) at frames t and t+1; skating = its mean horizontal speed (m/s) over contact.
  Height only: InterGen's contact rule also asks for a slow foot, which would exclude exactly the sliding
  feet this metric looks for (its speed cap is 0.95 m/s).
- foot-floor penetration: depth of the lowest foot joint below y = 0 per frame and person; mean (all frames)
  and max, and the fraction of frames in which it is more than FLOOR_TOLERANCE below.
- jitter: mean magnitude of the joints' acceleration, second differences x FPS^2 (m/s^2).
- bone drift: standard deviation over time of each bone's length, averaged over bones and people (metres).

Distances are metres and speeds m/s everywhere; the tables print some of them in cm.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Optional

import numpy as np

from .. import skeleton as sk
from ..capsules import BONE_CHILD, BONE_PARENT, BONE_RADII, bone_segments, segment_distance

# Interpenetration ignores the forearms and feet: they are what people touch each other with, and a capsule
# body has no hands or soles to tell a touch from a pass-through (in the procedural world nearly every overlap
# of two real bodies is a forearm meeting a hand or a back). Touches are scored by hand contact instead.
EFFECTORS = ("l_wrist", "r_wrist", "l_foot", "r_foot")
BODY_BONES = np.array([b for b, j in enumerate(BONE_CHILD) if sk.JOINT_NAMES[j] not in EFFECTORS])   # (17,)

WRISTS = (sk.JOINT_INDEX["l_wrist"], sk.JOINT_INDEX["r_wrist"])
FOOT_JOINTS = sk.FOOT_JOINTS                   # l_ankle, l_foot (toe), r_ankle, r_foot
FOOT_CONTACT_HEIGHTS = np.array(sk.CONTACT_HEIGHTS)

MERGE_DISTANCE = 0.10         # m: mean joint-to-joint distance below which the two people are "one skeleton"
MERGE_FRAME_FRACTION = 0.5    # ... in at least this fraction of a sample's frames
# m: wrist to the partner's body surface. A hand is ~0.19 m from wrist to fingertip, so a fingertip touch leaves
# the wrist up to ~0.15 m away (in the procedural world every push and pat is within 0.15, 5-10% beyond 0.10).
CONTACT_DISTANCE = 0.15
FLOOR_TOLERANCE = 0.01        # m: a foot joint deeper than this below the floor counts as sinking

# Captions that say hands touch, for datasets without kinds: regular expressions matched as whole words in
# the lower-cased caption. Kicks touch with a foot and are not listed.
_OBJECT = r"(?:the other|each other|another|the (?:first|second)(?: person| one)?|him|her|them)"
TOUCH_WORDS = (
    r"shak\w* (?:[\w']+ ){0,2}hands?", r"hands? and shake", r"handshakes?", r"hug(?:s|ged|ging)?", r"embrac\w*",
    r"high[- ]?fiv\w*", r"push\w*", r"shov\w*", r"pats?", r"patt\w*", r"pull\w*", r"grab\w*", r"grasp\w*",
    r"drag\w*", r"hands (?:[\w']+ ){0,3}to " + _OBJECT, r"hands " + _OBJECT,
    r"pass(?:es|ing)? (?:the other|him|her|them) (?!by)\w+", r"punch\w*", r"slap\w*", r"strik\w*", r"hits?",
    r"hitting", r"pok\w*", r"tags?", r"tagg\w*", r"taps?", r"tapp\w*", r"touch\w*",
    r"hold\w* (?:[\w']+ ){0,2}hands?", r"hand in hand", r"carr(?:y|ies|ying)", r"massag\w*",
    r"lift\w* (?:up )?" + _OBJECT,
)
_TOUCH_RE = re.compile(r"\b(?:" + "|".join(TOUCH_WORDS) + r")\b")


def _check(joints: np.ndarray, min_frames: int = 1) -> np.ndarray:
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 4 or joints.shape[0] != 2 or joints.shape[2:] != (sk.NUM_JOINTS, 3):
        raise ValueError(f"joints must be (2, T, {sk.NUM_JOINTS}, 3), got {joints.shape}")
    if joints.shape[1] < min_frames:
        raise ValueError(f"this metric needs at least {min_frames} frames, got {joints.shape[1]}")
    return joints


def overlap_depth(joints: np.ndarray) -> np.ndarray:
    """(T,) largest capsule overlap between the two people's BODY_BONES per frame (metres, 0 where none)."""
    joints = _check(joints)
    (p1, q1), (p2, q2) = [[end[:, BODY_BONES] for end in bone_segments(joints[i])] for i in (0, 1)]  # (T, 17, 3)
    dist = segment_distance(p1[:, :, None], q1[:, :, None], p2[:, None], q2[:, None])  # (T, 17, 17)
    radii = BONE_RADII[BODY_BONES]
    overlap = radii[:, None] + radii[None, :] - dist
    return np.maximum(overlap.max(axis=(1, 2)), 0.0)


def surface_distance(points: np.ndarray, joints: np.ndarray) -> np.ndarray:
    """Distance of points (T, P, 3) to the body surface of poses (T, 22, 3), per frame and point (T, P);
    negative inside a capsule."""
    p, q = bone_segments(joints)                                                      # (T, 21, 3)
    dist = segment_distance(points[:, :, None], points[:, :, None], p[:, None], q[:, None])  # (T, P, 21)
    return (dist - BONE_RADII).min(-1)


# ------------------------------------------------------------------------------------------ metrics
def interpenetration(joints: np.ndarray) -> dict:
    """{"penetration_rate": fraction of frames whose bodies overlap, "penetration_depth": mean per-frame
    depth over all frames (m), "penetration_max": the deepest frame (m)}."""
    depth = overlap_depth(joints)
    return {"penetration_rate": float((depth > 0).mean()), "penetration_depth": float(depth.mean()),
            "penetration_max": float(depth.max())}


def person_gap(joints: np.ndarray) -> dict:
    """{"merged": 1.0 if the people are one skeleton (see MERGE_*), else 0.0, "mean_joint_distance": mean
    distance between corresponding joints over the sample (m), "min_pelvis_gap": smallest horizontal pelvis
    distance (m)}."""
    joints = _check(joints)
    per_frame = np.linalg.norm(joints[0] - joints[1], axis=-1).mean(-1)                # (T,)
    merged = (per_frame < MERGE_DISTANCE).mean() >= MERGE_FRAME_FRACTION
    pelvis = joints[:, :, sk.ROOT][..., [0, 2]]                                       # (2, T, 2) x, z
    return {"merged": float(merged), "mean_joint_distance": float(per_frame.mean()),
            "min_pelvis_gap": float(np.linalg.norm(pelvis[0] - pelvis[1], axis=-1).min())}


def hand_contact(joints: np.ndarray) -> dict:
    """{"hand_contact": 1.0 if a wrist of either person comes within CONTACT_DISTANCE of the other's body
    surface at some frame, else 0.0, "hand_gap": the closest such distance over the sample (m)}."""
    joints = _check(joints)
    gaps = [surface_distance(joints[me][:, list(WRISTS)], joints[1 - me]).min() for me in (0, 1)]
    gap = float(min(gaps))
    return {"hand_contact": float(gap < CONTACT_DISTANCE), "hand_gap": gap}


def foot_skating(joints: np.ndarray) -> dict:
    """{"foot_skating": mean horizontal speed (m/s) of foot joints over their contact frames (NaN when no foot
    touches), "contact_fraction": fraction of (foot joint, frame) pairs in contact}."""
    joints = _check(joints, min_frames=2)
    feet = joints[:, :, list(FOOT_JOINTS)]                                            # (2, T, 4, 3)
    low = feet[..., 1] < FOOT_CONTACT_HEIGHTS                                         # (2, T, 4)
    contact = low[:, 1:] & low[:, :-1]                                                # (2, T-1, 4)
    speed = np.linalg.norm(np.diff(feet[..., [0, 2]], axis=1), axis=-1) * sk.FPS      # (2, T-1, 4) m/s
    skate = float(speed[contact].mean()) if contact.any() else float("nan")
    return {"foot_skating": skate, "contact_fraction": float(contact.mean())}


def floor_penetration(joints: np.ndarray) -> dict:
    """{"floor_depth": mean depth of the lowest foot joint below y = 0 over frames and people (m),
    "floor_depth_max": the deepest (m), "floor_rate": fraction of (person, frame) deeper than FLOOR_TOLERANCE}."""
    joints = _check(joints)
    lowest = joints[:, :, list(FOOT_JOINTS), 1].min(-1)                               # (2, T)
    depth = np.maximum(-lowest, 0.0)
    return {"floor_depth": float(depth.mean()), "floor_depth_max": float(depth.max()),
            "floor_rate": float((lowest < -FLOOR_TOLERANCE).mean())}


def jitter(joints: np.ndarray) -> dict:
    """{"jitter": mean acceleration magnitude of all joints of both people (m/s^2); NaN under 3 frames}."""
    joints = _check(joints)
    if joints.shape[1] < 3:
        return {"jitter": float("nan")}
    acc = (joints[:, 2:] - 2.0 * joints[:, 1:-1] + joints[:, :-2]) * sk.FPS ** 2       # (2, T-2, 22, 3)
    return {"jitter": float(np.linalg.norm(acc, axis=-1).mean())}


def bone_drift(joints: np.ndarray) -> dict:
    """{"bone_drift": std over time of each bone's length, averaged over bones and people (m)}."""
    joints = _check(joints)
    p, q = bone_segments(joints)                                                      # (2, T, 21, 3)
    return {"bone_drift": float(np.linalg.norm(q - p, axis=-1).std(axis=1).mean())}


def touch_expected(text: str, kind: Optional[str] = None) -> bool:
    """Whether the hands of the two people should touch: from the item's kind where the data knows it (the
    procedural world, `data.synthetic.HAND_CONTACT_KINDS`), from the caption's words (TOUCH_WORDS) otherwise."""
    if kind is not None:
        from ..data.synthetic import HAND_CONTACT_KINDS, KIND_NAMES
        if kind in KIND_NAMES:
            return kind in HAND_CONTACT_KINDS
    return _TOUCH_RE.search(text.lower()) is not None


def per_sample(joints: np.ndarray, *, touch: Optional[bool] = None) -> dict:
    """All metrics of one sample (2, T, 22, 3) in one flat dict; `touch` (does the caption say hands touch?)
    adds "touch_expected" so that `summarise` can score contact accuracy on those samples only."""
    out = {}
    for metric in (interpenetration, person_gap, hand_contact, foot_skating, floor_penetration, jitter, bone_drift):
        out.update(metric(joints))
    if touch is not None:
        out["touch_expected"] = float(touch)
    return out


# Per-sample values -> the table's numbers. Each is the mean over samples (NaN samples skipped); contact
# accuracy counts only the samples expected to touch.
SUMMARY = ("penetration_rate", "penetration_depth", "merged", "min_pelvis_gap", "contact_accuracy", "foot_skating",
           "floor_depth", "floor_rate", "jitter", "bone_drift")


def summarise(samples: Iterable[Mapping[str, float]]) -> dict:
    """Mean over samples of each SUMMARY metric; "contact_accuracy" is the mean "hand_contact" of the samples
    with touch_expected. A metric no sample defines is left out."""
    samples = list(samples)
    out = {}
    for name in SUMMARY:
        if name == "contact_accuracy":
            values = [s["hand_contact"] for s in samples if s.get("touch_expected")]
        else:
            values = [s[name] for s in samples if name in s]
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if len(values):
            out[name] = float(values.mean())
    return out
